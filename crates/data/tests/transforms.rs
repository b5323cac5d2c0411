//! Transforms and splits.

use candle_core::{DType, Device, Tensor};
use candlebook_data::transform::*;
use candlebook_data::*;

fn ds(n: usize, classes: usize) -> Dataset {
    let images = Tensor::arange(0u32, (n * 4) as u32, &Device::Cpu).unwrap().to_dtype(DType::U8).unwrap().reshape((n, 1, 2, 2)).unwrap();
    let labels = Tensor::from_vec((0..n as u32).map(|i| i % classes as u32).collect::<Vec<_>>(), n, &Device::Cpu).unwrap();
    Dataset::new(images, labels, (0..classes).map(|c| c.to_string()).collect(), DataSource::Generated("test".into())).unwrap()
}

#[test]
fn split_sizes_follow_sklearn_and_chain() {
    let d = ds(100, 4);
    // sklearn: test = ceil(0.15 * 100) = 15, train = 85
    let (train, test) = train_test_split(&d, &TrainTestSplit::new(0.15).seed(3)).unwrap();
    assert_eq!((train.len(), test.len()), (85, 15));
    let (tr2, val) = train_test_split(&train, &TrainTestSplit::new(0.2).seed(3)).unwrap();
    assert_eq!((tr2.len(), val.len()), (68, 17)); // ceil(0.2 * 85) = 17
    let (_, t) = train_test_split(&d, &TrainTestSplit::new(7usize)).unwrap();
    assert_eq!(t.len(), 7);
    // disjoint and complete: an id column follows the samples
    let ids = Tensor::arange(0u32, 100, &Device::Cpu).unwrap();
    let with_ids = d.clone().with_extra("id", ids).unwrap();
    let (a, b) = train_test_split(&with_ids, &TrainTestSplit::new(0.15).seed(3)).unwrap();
    let mut all = a.extra("id").unwrap().to_vec1::<u32>().unwrap();
    all.extend(b.extra("id").unwrap().to_vec1::<u32>().unwrap());
    all.sort();
    assert_eq!(all, (0..100).collect::<Vec<u32>>());
    // same seed, same split; other seed, other split
    let (_, again) = train_test_split(&d, &TrainTestSplit::new(0.15).seed(3)).unwrap();
    assert_eq!(again.labels_vec().unwrap(), test.labels_vec().unwrap());
    assert_eq!(again.images.flatten_all().unwrap().to_vec1::<u8>().unwrap(), test.images.flatten_all().unwrap().to_vec1::<u8>().unwrap());
    // stratified keeps proportions
    let (tr, te) = train_test_split(&d, &TrainTestSplit::new(0.2).seed(1).stratify(true)).unwrap();
    assert_eq!(te.class_counts().unwrap(), vec![5; 4]);
    assert_eq!(tr.class_counts().unwrap(), vec![20; 4]);
    // no shuffle: the tail is the test part
    let (tr, te) = train_test_split(&d, &TrainTestSplit::new(0.1).shuffle(false)).unwrap();
    assert_eq!(tr.labels_vec().unwrap()[..3], [0, 1, 2]);
    assert_eq!(te.len(), 10);
    // impossible sizes are errors
    assert!(train_test_split(&d, &TrainTestSplit::new(1.5)).is_err());
    assert!(train_test_split(&d, &TrainTestSplit::new(100usize)).is_err());
    assert!(train_test_split(&d, &TrainTestSplit::new(0.1).shuffle(false).stratify(true)).is_err());
}

#[test]
fn scaling_onehot_layouts() {
    let d = ds(3, 2);
    let f = d.to_f32().unwrap();
    assert_eq!(f.images.dtype(), DType::F32);
    let v = f.images.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(v[5], 5.0f32 / 255.0);
    assert_eq!(d.one_hot().unwrap().to_vec2::<f32>().unwrap(), vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 0.0]]);
    assert_eq!(d.flatten().unwrap().images.dims(), &[3, 4]);
    let rgb = Dataset::new(Tensor::arange(0u8, 24, &Device::Cpu).unwrap().reshape((2, 3, 2, 2)).unwrap(), Tensor::new(&[0u32, 1], &Device::Cpu).unwrap(), vec!["a".into(), "b".into()], DataSource::Generated("t".into())).unwrap();
    let nhwc = rgb.nhwc().unwrap();
    assert_eq!(nhwc.images.dims(), &[2, 2, 2, 3]);
    assert_eq!(nhwc.images.get(0).unwrap().get(0).unwrap().get(1).unwrap().to_vec1::<u8>().unwrap(), vec![1, 5, 9]);
    let b: Vec<usize> = rgb.batches(1).map(|b| b.unwrap().len()).collect();
    assert_eq!(b, vec![1, 1]);
    assert_eq!(rgb.index_select(&[1, 0]).unwrap().labels_vec().unwrap(), vec![1, 0]);
    assert!(rgb.index_select(&[2]).is_err());
    assert!(Dataset::new(Tensor::zeros((1, 1, 1, 1), DType::U8, &Device::Cpu).unwrap(), Tensor::new(&[5u32], &Device::Cpu).unwrap(), vec!["a".into()], DataSource::Generated("t".into())).is_err());
}

#[test]
fn grayscale_matches_opencv_weights() {
    // cv2.cvtColor(np.array([[[10, 200, 30]]], np.uint8), cv2.COLOR_RGB2GRAY) == 124
    let img = Tensor::new(&[[[10u8]], [[200]], [[30]]], &Device::Cpu).unwrap();
    assert_eq!(grayscale(&img).unwrap().to_vec3::<u8>().unwrap(), vec![vec![vec![124]]]);
}

#[test]
fn bilinear_and_resize_with_pad_follow_tensorflow() {
    // tf.image.resize([[0, 10], [20, 30]] as 2x2, (4, 4)) rows: [0, 2.5, 7.5, 10], ...
    let img = Tensor::new(&[[[0f32, 10.0], [20.0, 30.0]]], &Device::Cpu).unwrap();
    let up = resize_bilinear(&img, 4, 4).unwrap().to_vec3::<f32>().unwrap();
    assert_eq!(up[0][0], vec![0.0, 2.5, 7.5, 10.0]);
    assert_eq!(up[0][1], vec![5.0, 7.5, 12.5, 15.0]);
    assert_eq!(up[0][3], vec![20.0, 22.5, 27.5, 30.0]);
    // a 100x50 (w x h) image into 224x224: scale 2.24 -> 224 x 112, padded 56 top and bottom
    let wide = Tensor::full(200u8, (1, 3, 50, 100), &Device::Cpu).unwrap();
    let p = resize_with_pad(&wide, 224, 224).unwrap();
    assert_eq!(p.dims(), &[1, 3, 224, 224]);
    let col: Vec<f32> = p.get(0).unwrap().get(0).unwrap().get_on_dim(1, 100).unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(col[55], 0.0);
    assert_eq!(col[56], 200.0);
    assert_eq!(col[167], 200.0);
    assert_eq!(col[168], 0.0);
    // odd padding: 100x33 -> 224 x 73 (floor 73.92), pad floor((224-73.92)/2) = 75 on top
    let odd = Tensor::full(1f32, (1, 33, 100), &Device::Cpu).unwrap();
    let p = resize_with_pad(&odd, 224, 224).unwrap();
    let col: Vec<f32> = p.get(0).unwrap().get_on_dim(1, 10).unwrap().to_vec1::<f32>().unwrap();
    assert_eq!((col[74], col[75], col[147], col[148]), (0.0, 1.0, 1.0, 0.0));
}

#[test]
fn pooling_sharpen_and_area_on_datasets() {
    let g = generated::fingers(Split::Test, 1, &Device::Cpu).unwrap();
    let small = g.max_pool(4).unwrap();
    assert_eq!(small.images.dims(), &[12, 1, 32, 32]);
    let sharp = g.sharpen().unwrap();
    assert_eq!(sharp.images.dims(), g.images.dims());
    assert_eq!(sharp.images.dtype(), DType::U8);
    let area = g.resize_area(64, 32).unwrap();
    assert_eq!(area.images.dims(), &[12, 1, 32, 64]);
    let gray = generated::cifar10(Split::Test, 1, &Device::Cpu).unwrap().grayscale().unwrap();
    assert_eq!(gray.images.dims(), &[10, 1, 32, 32]);
}
