//! Dataset splits: the named train/test halves of a dataset on disk, and scikit-learn's
//! `train_test_split`.

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::rng::XorShift;
use candle_core::Tensor;

/// The train or test half of a dataset as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// `train`
    Train,
    /// `test`
    Test,
}

impl Split {
    /// `"train"` or `"test"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

/// How big the test part is: a fraction of the samples in (0, 1) or a count (scikit-learn's
/// float or int `test_size`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TestSize {
    /// A fraction in (0, 1); the test part gets `ceil(fraction * n)` samples.
    Fraction(f64),
    /// An exact count.
    Count(usize),
}

impl From<f64> for TestSize {
    fn from(f: f64) -> Self {
        TestSize::Fraction(f)
    }
}

impl From<usize> for TestSize {
    fn from(n: usize) -> Self {
        TestSize::Count(n)
    }
}

/// Options of [`train_test_split`] (builder style): scikit-learn's `test_size`, `random_state`,
/// `shuffle` and `stratify` (by the dataset's labels).
///
/// ```
/// use candlebook_data::TrainTestSplit;
/// let s = TrainTestSplit::new(0.2).seed(42).stratify(true);
/// assert_eq!(s.test_count(100)?, 20);
/// assert_eq!(TrainTestSplit::new(0.25).test_count(10)?, 3); // ceil, as scikit-learn
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainTestSplit {
    /// Size of the test part.
    pub test_size: TestSize,
    /// Seed of the shuffle.
    pub seed: u64,
    /// Shuffle before splitting (default true); without it the test part is the last samples.
    pub shuffle: bool,
    /// Keep each class's share the same in both parts (needs `shuffle`).
    pub stratify: bool,
    /// When stratifying is impossible (a class with one member, or a part smaller than the
    /// number of classes), split without it and say so, instead of failing as scikit-learn does.
    pub stratify_fallback: bool,
}

impl Default for TrainTestSplit {
    /// scikit-learn's defaults: 25 % test, shuffled, not stratified (seed 0).
    fn default() -> Self {
        Self { test_size: TestSize::Fraction(0.25), seed: 0, shuffle: true, stratify: false, stratify_fallback: false }
    }
}

impl TrainTestSplit {
    /// A split with this test size and the other options at their defaults.
    pub fn new(test_size: impl Into<TestSize>) -> Self {
        Self { test_size: test_size.into(), ..Self::default() }
    }
    /// The shuffle's seed (`random_state`).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Shuffle or not.
    pub fn shuffle(mut self, on: bool) -> Self {
        self.shuffle = on;
        self
    }
    /// Stratify by label or not.
    pub fn stratify(mut self, on: bool) -> Self {
        self.stratify = on;
        self
    }
    /// Stratify when the classes allow it; otherwise (a class with a single member, or a part
    /// too small to hold every class — a tiny sample) print why and split without stratifying,
    /// where scikit-learn raises an error.
    ///
    /// ```
    /// use candlebook_data::TrainTestSplit;
    /// let labels = [0, 0, 0, 1, 1, 1, 2, 2, 2, 0];
    /// assert!(TrainTestSplit::new(0.2).stratify(true).indices(&labels).is_err()); // 2 test samples, 3 classes
    /// let (train, test) = TrainTestSplit::new(0.2).stratify_when_possible().indices(&labels)?;
    /// assert_eq!((train.len(), test.len()), (8, 2));
    /// # Ok::<(), candlebook_data::DataError>(())
    /// ```
    pub fn stratify_when_possible(mut self) -> Self {
        self.stratify = true;
        self.stratify_fallback = true;
        self
    }

    /// The number of test samples out of `n`, as scikit-learn computes it.
    pub fn test_count(&self, n: usize) -> Result<usize> {
        let t = match self.test_size {
            TestSize::Fraction(f) if f > 0.0 && f < 1.0 => (f * n as f64).ceil() as usize,
            TestSize::Fraction(f) => return Err(DataError::BadArgument(format!("test_size={f} should be in (0, 1) or a count"))),
            TestSize::Count(c) => c,
        };
        if t == 0 || t >= n {
            return Err(DataError::BadArgument(format!(
                "with n_samples={n} and test_size={:?} the train or test part would be empty",
                self.test_size
            )));
        }
        Ok(t)
    }

    /// `(train, test)` sample indices for `n` samples with these labels (labels are only used
    /// when stratifying).
    pub fn indices(&self, labels: &[u32]) -> Result<(Vec<u32>, Vec<u32>)> {
        let n = labels.len();
        let n_test = self.test_count(n)?;
        let mut rng = XorShift::new(self.seed);
        if !self.shuffle {
            if self.stratify {
                return Err(DataError::BadArgument("stratified train/test split is not implemented for shuffle=false (as in scikit-learn)".into()));
            }
            let n_train = n - n_test;
            return Ok(((0..n_train as u32).collect(), (n_train as u32..n as u32).collect()));
        }
        if !self.stratify {
            let mut idx: Vec<u32> = (0..n as u32).collect();
            rng.shuffle(&mut idx);
            let test = idx[..n_test].to_vec();
            let train = idx[n_test..].to_vec();
            return Ok((train, test));
        }
        // Stratified: per class, floor of its share of the test part, then the leftover samples
        // to the classes with the largest remainders (scikit-learn's `_approximate_mode`).
        let k = labels.iter().copied().max().map(|m| m as usize + 1).unwrap_or(0);
        let mut by_class: Vec<Vec<u32>> = vec![Vec::new(); k];
        for (i, &l) in labels.iter().enumerate() {
            by_class[l as usize].push(i as u32);
        }
        let present = by_class.iter().filter(|c| !c.is_empty()).count();
        let impossible = if by_class.iter().any(|c| c.len() == 1) {
            Some("the least populated class has only 1 member, too few to stratify".to_string())
        } else if n_test < present || n - n_test < present {
            Some(format!("test_size {n_test} and train size {} must each be at least the number of classes {present}", n - n_test))
        } else {
            None
        };
        if let Some(why) = impossible {
            if !self.stratify_fallback {
                return Err(DataError::BadArgument(why));
            }
            println!("cannot stratify this split ({why}): splitting without stratification");
            let mut idx: Vec<u32> = (0..n as u32).collect();
            rng.shuffle(&mut idx);
            return Ok((idx[n_test..].to_vec(), idx[..n_test].to_vec()));
        }
        let share: Vec<f64> = by_class.iter().map(|c| c.len() as f64 * n_test as f64 / n as f64).collect();
        let mut take: Vec<usize> = share.iter().map(|s| s.floor() as usize).collect();
        let mut left = n_test - take.iter().sum::<usize>();
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| (share[b] - share[b].floor()).total_cmp(&(share[a] - share[a].floor())).then(a.cmp(&b)));
        for &c in order.iter().cycle().take(k * 2) {
            if left == 0 {
                break;
            }
            if take[c] < by_class[c].len() {
                take[c] += 1;
                left -= 1;
            }
        }
        let (mut train, mut test) = (Vec::with_capacity(n - n_test), Vec::with_capacity(n_test));
        for (c, members) in by_class.iter_mut().enumerate() {
            rng.shuffle(members);
            test.extend_from_slice(&members[..take[c]]);
            train.extend_from_slice(&members[take[c]..]);
        }
        rng.shuffle(&mut train);
        rng.shuffle(&mut test);
        Ok((train, test))
    }
}

/// Splits `ds` into `(train, test)` as scikit-learn's
/// `train_test_split(X, y, test_size=…, random_state=seed, shuffle=…, stratify=y or None)`: the
/// test part gets `ceil(test_size * n)` samples (or the count given). The shuffle is this crate's
/// own seeded generator, so the same seed gives the same split here, but not the same indices
/// as NumPy would. Can be applied again to the train part (train/holdout, then train/validation).
///
/// ```
/// use candlebook_data::{generated, train_test_split, Split, TrainTestSplit};
/// let ds = generated::fingers(Split::Test, 5, &candle_core::Device::Cpu)?; // 60 images
/// let (train, holdout) = train_test_split(&ds, &TrainTestSplit::new(0.2).seed(1).stratify(true))?;
/// let (train, val) = train_test_split(&train, &TrainTestSplit::new(0.25).seed(1))?;
/// assert_eq!((train.len(), val.len(), holdout.len()), (36, 12, 12));
/// assert_eq!(holdout.class_counts()?, vec![2; 6]);
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn train_test_split(ds: &Dataset, opts: &TrainTestSplit) -> Result<(Dataset, Dataset)> {
    let labels = ds.labels_vec()?;
    let (train, test) = opts.indices(&labels)?;
    Ok((ds.index_select(&train)?, ds.index_select(&test)?))
}

/// scikit-learn's `train_test_split(X, y, ...)` on two tensors: `(X_train, X_test, y_train,
/// y_test)`, split along the first axis with the same indices ([`TrainTestSplit::indices`]).
/// `y` holds class indices `(N,)` or one-hot rows `(N, K)`; stratifying uses those classes. A
/// length mismatch is a [`DataError::BadArgument`].
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_data::{split_arrays, TrainTestSplit};
/// let x = Tensor::arange(0f32, 20.0, &Device::Cpu)?.reshape((10, 2))?;
/// let y = Tensor::new(&[0u32, 1, 0, 1, 0, 1, 0, 1, 0, 1], &Device::Cpu)?;
/// let (x_train, x_test, y_train, y_test) = split_arrays(&x, &y, &TrainTestSplit::new(0.2).seed(6).stratify(true))?;
/// assert_eq!((x_train.dims(), x_test.dims()), (&[8, 2][..], &[2, 2][..]));
/// assert_eq!(y_test.to_vec1::<u32>()?.iter().sum::<u32>(), 1); // one of each class
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn split_arrays(x: &Tensor, y: &Tensor, opts: &TrainTestSplit) -> Result<(Tensor, Tensor, Tensor, Tensor)> {
    let n = x.dim(0)?;
    if y.dim(0)? != n {
        return Err(DataError::BadArgument(format!("split_arrays: {n} inputs but {} targets", y.dim(0)?)));
    }
    let labels: Vec<u32> = if !opts.stratify {
        vec![0; n]
    } else if y.rank() == 2 {
        y.to_dtype(candle_core::DType::F32)?.argmax(1)?.to_dtype(candle_core::DType::U32)?.to_vec1()?
    } else {
        y.to_dtype(candle_core::DType::U32)?.flatten_all()?.to_vec1()?
    };
    let (train, test) = opts.indices(&labels)?;
    let pick = |t: &Tensor, idx: &[u32]| -> Result<Tensor> {
        let idx = Tensor::new(idx, t.device())?;
        Ok(t.index_select(&idx, 0)?)
    };
    Ok((pick(x, &train)?, pick(x, &test)?, pick(y, &train)?, pick(y, &test)?))
}

impl Dataset {
    /// [`train_test_split`] with a test fraction or count and a seed, shuffled, not stratified.
    pub fn train_test_split(&self, test_size: impl Into<TestSize>, seed: u64) -> Result<(Dataset, Dataset)> {
        train_test_split(self, &TrainTestSplit::new(test_size).seed(seed))
    }
}
