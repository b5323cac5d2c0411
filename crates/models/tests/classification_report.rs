//! `classification_report` against scikit-learn's own output
//! (`tests/fixtures/sklearn_classification_report.json`, made by `scripts/make-sklearn-fixtures`):
//! the printed text byte for byte, and the per-class numbers, for binary and 5-class cases, a
//! class never predicted, a class absent from the labels (predicted, and in neither list), a long
//! class name, digits 0, 1, 2, 3 and 4, and values that tie at the rounding digit.

use candle_core::{Device, Tensor};
use candlebook_models::{classification_report, ModelError};
use serde_json::Value;

fn fixture() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sklearn_classification_report.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (regenerate with scripts/make-sklearn-fixtures)", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn list(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

#[test]
fn text_and_numbers_match_sklearn() {
    let doc = fixture();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 10, "only {} cases", cases.len());
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let (y, p) = (list(&case["labels"]), list(&case["predictions"]));
        let k = case["n_classes"].as_u64().unwrap() as usize;
        let names: Option<Vec<String>> = case["class_names"].as_array().map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect());
        let digits = case["digits"].as_u64().unwrap() as usize;
        let r = classification_report(&y[..], &p[..], names.as_deref(), digits).unwrap();
        let want = case["text"].as_str().unwrap();
        assert_eq!(r.to_string(), want, "{name}:\nours:\n{r}\nsklearn:\n{want}");
        assert_eq!(r.n_classes(), k, "{name}");
        assert_eq!(r.accuracy(), case["accuracy"].as_f64().unwrap(), "{name}");
        for (c, ((&pr, &rc), (&f1, &s))) in floats(&case["precision"])
            .iter()
            .zip(&floats(&case["recall"]))
            .zip(floats(&case["f1"]).iter().zip(&list(&case["support"])))
            .enumerate()
        {
            assert!((r.precision(c).unwrap() - pr).abs() < 1e-12, "{name} class {c} precision");
            assert!((r.recall(c).unwrap() - rc).abs() < 1e-12, "{name} class {c} recall");
            assert!((r.f1(c).unwrap() - f1).abs() < 1e-12, "{name} class {c} f1");
            assert_eq!(r.support(c).unwrap(), s as u64, "{name} class {c} support");
        }
        assert_eq!(r.precision(k), None);
        // the same from label tensors and from one-hot "probabilities"
        let dev = Device::Cpu;
        let yt = Tensor::new(y.as_slice(), &dev).unwrap();
        let one_hot: Vec<f32> = p.iter().flat_map(|&c| (0..k).map(move |j| if j == c as usize { 1.0 } else { 0.0 })).collect();
        let probs = Tensor::from_vec(one_hot, (p.len(), k), &dev).unwrap();
        let from_tensors = classification_report(&yt, &probs, names.as_deref(), digits).unwrap();
        assert_eq!(from_tensors.to_string(), want, "{name} from tensors");
    }
}

#[test]
fn unnamed_classes_count_up_to_the_largest_index() {
    // classes 0..=3 although 2 appears nowhere: its row is zeros with support 0
    let r = classification_report(&[0u32, 1, 3, 3][..], &[0u32, 1, 3, 1][..], None, 2).unwrap();
    assert_eq!(r.class_names(), ["0", "1", "2", "3"]);
    assert_eq!((r.precision(2), r.recall(2), r.f1(2), r.support(2)), (Some(0.0), Some(0.0), Some(0.0), Some(0)));
    assert_eq!(r.macro_avg().1, (1.0 + 1.0 + 0.0 + 0.5) / 4.0);
    assert_eq!(r.weighted_avg().1, r.accuracy());
    assert!(r.to_string().contains("\n           2       0.00      0.00      0.00         0\n"), "{r}");
    assert_eq!(r.clone().with_digits(3).digits(), 3);
}

#[test]
fn length_mismatch_and_out_of_range_are_named() {
    let names: Vec<String> = vec!["no defect".into(), "defect".into()];
    assert!(matches!(
        classification_report(&[0u32, 1, 1][..], &[0u32, 1][..], Some(&names), 2),
        Err(ModelError::LengthMismatch { left: 3, right: 2, .. })
    ));
    assert!(matches!(
        classification_report(&vec![0usize, 1, 2], &vec![0usize, 1, 1], Some(&names), 2),
        Err(ModelError::LabelOutOfRange { what: "labels", label: 2, index: 2, n_classes: 2 })
    ));
}
