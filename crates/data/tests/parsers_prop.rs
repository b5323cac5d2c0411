//! Property tests of the parsers that take untrusted text: the CSV row parser, the run-length
//! decoder and the file-name label parser. They must never panic, and must round-trip what they
//! accept. `PROPTEST_CASES=200000 cargo test -p candlebook-data --release --test parsers_prop`
//! runs them longer.

use std::path::Path;

use candlebook_data::sign_mnist::parse_row;
use candlebook_data::{parse_finger_name, rle_decode, rle_encode, rle_runs};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn csv_row_parser_never_panics(line in ".{0,300}") {
        let _ = parse_row(&line, 1, Path::new("x.csv"));
    }

    #[test]
    fn csv_row_parser_on_near_valid_rows(label in -3i64..30, px in proptest::collection::vec(0u16..300, 780..790), sep in prop_oneof![Just(","), Just(", "), Just(",,")]) {
        let line = std::iter::once(label.to_string()).chain(px.iter().map(|p| p.to_string())).collect::<Vec<_>>().join(sep);
        let ok = sep == "," && px.len() == 784 && px.iter().all(|&p| p < 256) && (0..=24).contains(&label) && label != 9;
        let r = parse_row(&line, 1, Path::new("x.csv"));
        if sep == ", " && px.len() == 784 && px.iter().all(|&p| p < 256) && (0..=24).contains(&label) && label != 9 {
            prop_assert!(r.is_ok()); // spaces around cells are trimmed
        } else {
            prop_assert_eq!(r.is_ok(), ok);
        }
        if let Ok((l, p)) = r {
            prop_assert_eq!(l as i64, label);
            prop_assert_eq!(p.len(), 784);
        }
    }

    #[test]
    fn rle_decoder_never_panics(s in "[0-9 ]{0,60}", h in 0usize..40, w in 0usize..40) {
        let _ = rle_decode(&s, h, w);
        let _ = rle_runs(&s, h, w);
    }

    #[test]
    fn rle_decoder_on_arbitrary_text(s in ".{0,80}", h in 0usize..2000, w in 0usize..2000) {
        if let Ok(runs) = rle_runs(&s, h, w) {
            for (start, len) in runs {
                prop_assert!(start + len <= h * w);
            }
        }
    }

    #[test]
    fn rle_round_trips(h in 1usize..20, w in 1usize..20, bits in proptest::collection::vec(any::<bool>(), 400)) {
        let mask: Vec<u8> = bits[..h * w].iter().map(|&b| b as u8).collect();
        let enc = rle_encode(&mask, h, w).unwrap();
        prop_assert_eq!(rle_decode(&enc, h, w).unwrap(), mask);
    }

    #[test]
    fn file_name_parser_never_panics(name in ".{0,60}") {
        if let Ok((d, _)) = parse_finger_name(&name) {
            prop_assert!(d <= 5);
        }
    }

    #[test]
    fn file_name_parser_reads_valid_names(id in "[a-f0-9-]{0,36}", d in 0u8..6, right in any::<bool>()) {
        let name = format!("{id}_{d}{}.png", if right { 'R' } else { 'L' });
        let (got, hand) = parse_finger_name(&name).unwrap();
        prop_assert_eq!(got, d);
        prop_assert_eq!(hand == candlebook_data::Hand::Right, right);
    }
}
