//! `filter2d`: correlation of every channel with a small kernel, with OpenCV `filter2D` semantics.

use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;

use crate::border::{pad_hw, Border};
use crate::error::{KernelError, Result};
use crate::layout::{with_host_slice, pixel_kind, saturate_u8_half_even, Batch, Pixel};

/// A 2-D filter kernel (row-major weights), checked once when it is made: non-empty, rectangular,
/// finite. The anchor is the centre, `(rows / 2, cols / 2)`, as OpenCV's default `(-1, -1)`.
///
/// ```
/// use candlebook_kernels::Kernel2d;
/// let k = Kernel2d::new(&[[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]]).unwrap();
/// assert_eq!((k.rows(), k.cols()), (3, 3));
/// assert_eq!(k, Kernel2d::sharpen());
/// assert!(Kernel2d::from_rows(Vec::<Vec<f32>>::new()).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Kernel2d {
    rows: usize,
    cols: usize,
    weights: Vec<f32>,
}

impl Kernel2d {
    /// A kernel from fixed-size rows, e.g. `&[[0., -1., 0.], [-1., 5., -1.], [0., -1., 0.]]`.
    pub fn new<const C: usize>(rows: &[[f32; C]]) -> Result<Self> {
        Self::from_rows(rows.iter().map(|r| r.to_vec()).collect::<Vec<_>>())
    }

    /// A kernel from rows of any length (all rows must have the same length).
    pub fn from_rows<R: AsRef<[f32]>>(rows: impl IntoIterator<Item = R>) -> Result<Self> {
        let rows: Vec<Vec<f32>> = rows.into_iter().map(|r| r.as_ref().to_vec()).collect();
        let cols = rows.first().map_or(0, |r| r.len());
        if rows.is_empty() || cols == 0 {
            return Err(KernelError::EmptyKernel { rows: rows.len(), cols });
        }
        for (i, r) in rows.iter().enumerate() {
            if r.len() != cols {
                return Err(KernelError::RaggedKernel { row: i, expected: cols, got: r.len() });
            }
            for (j, &v) in r.iter().enumerate() {
                if !v.is_finite() {
                    return Err(KernelError::NonFiniteKernel { row: i, col: j, value: v });
                }
            }
        }
        Ok(Self { rows: rows.len(), cols, weights: rows.concat() })
    }

    /// The sharpening kernel of the tutorials: `[[0, -1, 0], [-1, 5, -1], [0, -1, 0]]`.
    pub fn sharpen() -> Self {
        Self { rows: 3, cols: 3, weights: vec![0., -1., 0., -1., 5., -1., 0., -1., 0.] }
    }

    /// A normalised box (mean) kernel of the given size.
    pub fn mean(rows: usize, cols: usize) -> Result<Self> {
        if rows == 0 || cols == 0 {
            return Err(KernelError::EmptyKernel { rows, cols });
        }
        let v = 1.0 / (rows * cols) as f32;
        Ok(Self { rows, cols, weights: vec![v; rows * cols] })
    }

    /// Number of rows (kernel height).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (kernel width).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Weight at `(row, col)`, if inside the kernel.
    pub fn get(&self, row: usize, col: usize) -> Option<f32> {
        (row < self.rows && col < self.cols).then(|| self.weights[row * self.cols + col])
    }

    /// The non-zero taps `(dy, dx, weight)` in row-major order: the order OpenCV sums them in.
    pub(crate) fn taps(&self) -> Vec<(usize, usize, f32)> {
        (0..self.rows)
            .flat_map(|r| (0..self.cols).map(move |c| (r, c)))
            .filter_map(|(r, c)| {
                let w = self.weights[r * self.cols + c];
                (w != 0.0).then_some((r, c, w))
            })
            .collect()
    }

    /// Padding `(top, bottom, left, right)` for an anchor at the centre.
    pub(crate) fn padding(&self) -> (usize, usize, usize, usize) {
        let (ay, ax) = (self.rows / 2, self.cols / 2);
        (ay, self.rows - 1 - ay, ax, self.cols - 1 - ax)
    }
}

/// Correlates every channel of an image (`(C, H, W)`) or batch (`(N, C, H, W)`) with `kernel`, as
/// OpenCV's `cv2.filter2D(src, ddepth=-1, kernel, borderType=BORDER_REFLECT_101)`:
/// anchor at the kernel centre, no kernel flip, sums in f32, and for u8 images the result rounded
/// (half to even) and saturated to 0..=255. f32 images stay f32 with no rounding.
///
/// The work runs on the tensor's device: a multi-threaded loop on the CPU, tensor ops elsewhere;
/// both sum the taps in the same order, so they agree.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_kernels::{filter2d, Border, Kernel2d};
/// let img = Tensor::new(&[[[10u8, 10, 10], [10, 50, 10], [10, 10, 10]]], &Device::Cpu).unwrap();
/// let sharp = filter2d(&img, &Kernel2d::sharpen(), Border::default()).unwrap();
/// // centre: 5*50 - 4*10 = 210; the neighbours: 5*10 - 50 - 3*10 = -30, saturated to 0
/// assert_eq!(sharp.to_vec3::<u8>().unwrap()[0][1], vec![0, 210, 0]);
/// ```
pub fn filter2d(image: &Tensor, kernel: &Kernel2d, border: Border) -> Result<Tensor> {
    let batch = Batch::new(image)?;
    let kind = pixel_kind(&batch.x, "filter2d")?;
    let y = if batch.x.device().is_cpu() {
        correlate_cpu(&batch.x, kernel, border, kind)?
    } else {
        correlate_tensor(&batch.x, kernel, border, kind)?
    };
    batch.finish(y)
}

/// The device-generic path: a sum of shifted, weighted copies of the padded image.
pub(crate) fn correlate_tensor(x: &Tensor, kernel: &Kernel2d, border: Border, kind: Pixel) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let xf = x.to_dtype(DType::F32)?;
    let (t, b, l, r) = kernel.padding();
    let padded = pad_hw(&xf, t, b, l, r, border)?;
    let mut acc: Option<Tensor> = None;
    for (dy, dx, wgt) in kernel.taps() {
        let term = padded.narrow(2, dy, h)?.narrow(3, dx, w)?.affine(wgt as f64, 0.0)?;
        acc = Some(match acc {
            None => term,
            Some(a) => (a + term)?,
        });
    }
    let acc = match acc {
        Some(a) => a,
        None => xf.zeros_like()?,
    };
    Ok(match kind {
        Pixel::U8 => saturate_u8_half_even(&acc)?,
        Pixel::F32 => acc,
    })
}

/// Row and column source maps of a padded plane (`None`: the constant border value).
struct PadMap {
    rows: Vec<Option<usize>>,
    cols: Vec<Option<usize>>,
    left: usize,
}

impl PadMap {
    fn new(kernel: &Kernel2d, border: Border, (h, w): (usize, usize)) -> Self {
        let (top, bottom, left, right) = kernel.padding();
        let rows = (0..h + top + bottom).map(|i| border.source_index(i as isize - top as isize, h)).collect();
        let cols = (0..w + left + right).map(|i| border.source_index(i as isize - left as isize, w)).collect();
        Self { rows, cols, left }
    }

    /// Fills `pad` (rows × cols of the padded plane) from `plane` (h × w).
    fn fill<T: Copy, A: Copy>(&self, plane: &[T], w: usize, conv: impl Fn(T) -> A, fill: A, pad: &mut [A]) {
        let pw = self.cols.len();
        for (py, rs) in self.rows.iter().enumerate() {
            let prow = &mut pad[py * pw..(py + 1) * pw];
            match rs {
                None => prow.fill(fill),
                Some(sy) => {
                    let srow = &plane[sy * w..(sy + 1) * w];
                    prow[self.left..self.left + w].iter_mut().zip(srow).for_each(|(p, &s)| *p = conv(s));
                    let edges = (0..self.left).chain(self.left + w..pw);
                    for px in edges {
                        prow[px] = self.cols[px].map_or(fill, |sx| conv(srow[sx]));
                    }
                }
            }
        }
    }
}

/// Per-plane correlation on the host in f32, parallel over planes. `finish` turns each f32 sum into
/// the output element. Taps are accumulated with fused multiply-add in row-major order, as
/// OpenCV's vector loop does (a separate multiply and add rounds twice and can differ in the last
/// bit, which now and then moves a u8 result across a .5 boundary).
pub(crate) fn correlate_planes<T, O>(
    src: &[T],
    (h, w): (usize, usize),
    kernel: &Kernel2d,
    border: Border,
    finish: impl Fn(f32) -> O + Sync,
) -> Vec<O>
where
    T: Copy + Into<f32> + Sync,
    O: Copy + Default + Send,
{
    let map = PadMap::new(kernel, border, (h, w));
    let (ph, pw) = (map.rows.len(), map.cols.len());
    let taps = kernel.taps();
    let fill = match border {
        Border::Constant(v) => v,
        _ => 0.0,
    };
    let fma = has_fma();
    let mut out = vec![O::default(); src.len()];
    out.par_chunks_mut(h * w).zip(src.par_chunks(h * w)).for_each_init(
        || (vec![0f32; ph * pw], vec![0f32; h * w]),
        |(pad, acc), (dst, plane)| {
            map.fill(plane, w, |v: T| v.into(), fill, pad);
            accumulate_f32(pad, pw, (h, w), &taps, acc, fma);
            dst.iter_mut().zip(acc.iter()).for_each(|(d, &a)| *d = finish(a));
        },
    );
    out
}

/// `acc = Σ k · shifted(pad)` over the taps, with fused multiply-add.
fn accumulate_f32(pad: &[f32], pw: usize, (h, w): (usize, usize), taps: &[(usize, usize, f32)], acc: &mut [f32], fma: bool) {
    #[inline(always)]
    fn body(pad: &[f32], pw: usize, (h, w): (usize, usize), taps: &[(usize, usize, f32)], acc: &mut [f32]) {
        acc.fill(0.0);
        for &(dy, dx, k) in taps {
            for y in 0..h {
                let row = &pad[(y + dy) * pw + dx..][..w];
                let a = &mut acc[y * w..(y + 1) * w];
                a.iter_mut().zip(row).for_each(|(a, &v)| *a = k.mul_add(v, *a));
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        fn fast(pad: &[f32], pw: usize, hw: (usize, usize), taps: &[(usize, usize, f32)], acc: &mut [f32]) {
            body(pad, pw, hw, taps, acc)
        }
        if fma {
            // SAFETY: only called after the CPU reported the `avx2` and `fma` features.
            unsafe { fast(pad, pw, (h, w), taps, acc) };
            return;
        }
    }
    let _ = fma;
    // Without FMA hardware, `mul_add` is computed exactly in software: same results, slower.
    body(pad, pw, (h, w), taps, acc)
}

/// True when the CPU has AVX2 and fused multiply-add (checked once per call).
fn has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        true
    }
}

/// Integer weights of a kernel whose weights are all small integers, with the largest possible
/// |sum| for u8 input fitting i16; `None` otherwise.
fn integer_taps(kernel: &Kernel2d) -> Option<Vec<(usize, usize, i16)>> {
    let taps = kernel.taps();
    let mut abs_sum = 0f32;
    for &(_, _, k) in &taps {
        if k.fract() != 0.0 {
            return None;
        }
        abs_sum += k.abs();
    }
    (abs_sum * 255.0 <= i16::MAX as f32).then(|| taps.iter().map(|&(y, x, k)| (y, x, k as i16)).collect())
}

/// u8 correlation with an integer kernel, in exact i16 arithmetic: the same result as the f32 path
/// (every sum is a small integer, exact in f32), several times faster.
fn correlate_u8_integer(src: &[u8], (h, w): (usize, usize), kernel: &Kernel2d, taps: &[(usize, usize, i16)], border: Border) -> Vec<u8> {
    let map = PadMap::new(kernel, border, (h, w));
    let (ph, pw) = (map.rows.len(), map.cols.len());
    let fill = match border {
        Border::Constant(v) => v.round().clamp(i16::MIN as f32, i16::MAX as f32) as i16,
        _ => 0,
    };
    #[inline(always)]
    fn body(pad: &[i16], pw: usize, (h, w): (usize, usize), taps: &[(usize, usize, i16)], acc: &mut [i16], dst: &mut [u8]) {
        acc.fill(0);
        for &(dy, dx, k) in taps {
            for y in 0..h {
                let row = &pad[(y + dy) * pw + dx..][..w];
                let a = &mut acc[y * w..(y + 1) * w];
                a.iter_mut().zip(row).for_each(|(a, &v)| *a = a.wrapping_add(k.wrapping_mul(v)));
            }
        }
        dst.iter_mut().zip(acc.iter()).for_each(|(d, &a)| *d = a.clamp(0, 255) as u8);
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn fast(pad: &[i16], pw: usize, hw: (usize, usize), taps: &[(usize, usize, i16)], acc: &mut [i16], dst: &mut [u8]) {
        body(pad, pw, hw, taps, acc, dst)
    }
    #[cfg(target_arch = "x86_64")]
    let avx2 = std::arch::is_x86_feature_detected!("avx2");
    let mut out = vec![0u8; src.len()];
    out.par_chunks_mut(h * w).zip(src.par_chunks(h * w)).for_each_init(
        || (vec![0i16; ph * pw], vec![0i16; h * w]),
        |(pad, acc), (dst, plane)| {
            map.fill(plane, w, |v: u8| v as i16, fill, pad);
            #[cfg(target_arch = "x86_64")]
            if avx2 {
                // SAFETY: only called after the CPU reported the `avx2` feature.
                unsafe { fast(pad, pw, (h, w), taps, acc, dst) };
                return;
            }
            body(pad, pw, (h, w), taps, acc, dst)
        },
    );
    out
}

/// Rounds half to even and saturates, as OpenCV's `saturate_cast<uchar>(float)`.
pub(crate) fn saturate_u8(v: f32) -> u8 {
    v.round_ties_even().clamp(0.0, 255.0) as u8
}

fn correlate_cpu(x: &Tensor, kernel: &Kernel2d, border: Border, kind: Pixel) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let shape = (n, c, h, w);
    Ok(match kind {
        Pixel::U8 => {
            let integer = integer_taps(kernel).filter(|_| !matches!(border, Border::Constant(v) if v.fract() != 0.0));
            let out = with_host_slice::<u8, _>(x, |src| match integer {
                Some(taps) => correlate_u8_integer(src, (h, w), kernel, &taps, border),
                None => correlate_planes(src, (h, w), kernel, border, saturate_u8),
            })?;
            Tensor::from_vec(out, shape, &Device::Cpu)?
        }
        Pixel::F32 => {
            let out = with_host_slice::<f32, _>(x, |src| correlate_planes(src, (h, w), kernel, border, |v| v))?;
            Tensor::from_vec(out, shape, &Device::Cpu)?
        }
    })
}
