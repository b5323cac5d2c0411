//! `filter2d`: correlation of every channel with a small kernel, with OpenCV `filter2D` semantics.

use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;

use crate::border::{pad_hw, Border};
use crate::error::{KernelError, Result};
use crate::layout::{pixel_kind, saturate_u8_half_even, Batch, Pixel};

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

/// Per-plane correlation on the host, parallel over planes. `finish` turns each f32 sum into the
/// output element.
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
    let (top, bottom, left, right) = kernel.padding();
    let (ph, pw) = (h + top + bottom, w + left + right);
    let taps = kernel.taps();
    let col_src: Vec<Option<usize>> =
        (0..pw).map(|i| border.source_index(i as isize - left as isize, w)).collect();
    let row_src: Vec<Option<usize>> =
        (0..ph).map(|i| border.source_index(i as isize - top as isize, h)).collect();
    let fill = match border {
        Border::Constant(v) => v,
        _ => 0.0,
    };
    let fma = has_fma();
    let mut out = vec![O::default(); src.len()];
    out.par_chunks_mut(h * w).zip(src.par_chunks(h * w)).for_each_init(
        || (vec![0f32; ph * pw], vec![0f32; w]),
        |(pad, acc), (dst, plane)| {
            for (py, rs) in row_src.iter().enumerate() {
                let prow = &mut pad[py * pw..(py + 1) * pw];
                match rs {
                    None => prow.fill(fill),
                    Some(sy) => {
                        let srow = &plane[sy * w..(sy + 1) * w];
                        prow[left..left + w].iter_mut().zip(srow).for_each(|(p, &s)| *p = s.into());
                        for (px, cs) in col_src.iter().enumerate() {
                            if px < left || px >= left + w {
                                prow[px] = cs.map_or(fill, |sx| srow[sx].into());
                            }
                        }
                    }
                }
            }
            for y in 0..h {
                acc.fill(0.0);
                for &(dy, dx, k) in &taps {
                    let row = &pad[(y + dy) * pw + dx..(y + dy) * pw + dx + w];
                    fused_row(acc, row, k, fma);
                }
                dst[y * w..(y + 1) * w].iter_mut().zip(acc.iter()).for_each(|(d, &a)| *d = finish(a));
            }
        },
    );
    out
}

/// True when the CPU has fused multiply-add instructions (checked once per call).
fn has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        true
    }
}

/// `acc[i] = fma(k, row[i], acc[i])`. OpenCV's vector loop accumulates with fused multiply-add, so
/// we do too (a separate multiply and add rounds twice and can differ in the last bit, which moves
/// a u8 result across a .5 boundary now and then). With FMA hardware this is a vector loop; without
/// it `mul_add` is computed exactly in software (same results, slower).
#[inline]
fn fused_row(acc: &mut [f32], row: &[f32], k: f32, fma: bool) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "fma")]
        fn with_fma(acc: &mut [f32], row: &[f32], k: f32) {
            acc.iter_mut().zip(row).for_each(|(a, &v)| *a = k.mul_add(v, *a));
        }
        if fma {
            // SAFETY: only called after the CPU reported the `fma` feature.
            unsafe { with_fma(acc, row, k) };
            return;
        }
    }
    let _ = fma;
    acc.iter_mut().zip(row).for_each(|(a, &v)| *a = k.mul_add(v, *a));
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
            let src = x.flatten_all()?.to_vec1::<u8>()?;
            let out = correlate_planes(&src, (h, w), kernel, border, saturate_u8);
            Tensor::from_vec(out, shape, &Device::Cpu)?
        }
        Pixel::F32 => {
            let src = x.flatten_all()?.to_vec1::<f32>()?;
            let out = correlate_planes(&src, (h, w), kernel, border, |v| v);
            Tensor::from_vec(out, shape, &Device::Cpu)?
        }
    })
}
