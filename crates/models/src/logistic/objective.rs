//! sklearn's logistic-regression objective on candle tensors:
//! `mean_i CE(softmax(x_i W^T + b), y_i) + 0.5 / (C * n) * ||W||^2` (intercept not penalised), with
//! its gradient. The two GEMMs (`X W^T` and `R X` with `R = (P - Y)^T / n`) run in candle in the
//! dtype and on the device of `x`; the small `(n, k)` logits, the softmax and the parameter vector
//! stay on the host in f64, as sklearn computes in float64.
//!
//! Two classes use one row of weights (sklearn's binomial loss): the logits are `[0, x w + b]`, which
//! gives exactly `log(1 + e^z) - y z`.

use candle_core::{DType, Tensor};
use rayon::prelude::*;

use crate::error::Result;

/// Row blocks `(start, len)` of `x` for one GEMM per rayon thread on the CPU: candle's GEMM keeps
/// these skinny products (6 columns) on one core, so splitting the rows uses them all. Other devices
/// and small inputs get one block.
fn row_blocks(x: &Tensor) -> Result<Vec<(usize, usize)>> {
    let (n, f) = x.dims2()?;
    let threads = rayon::current_num_threads();
    if !x.device().is_cpu() || threads < 2 || n * f < (1 << 20) {
        return Ok(vec![(0, n)]);
    }
    let per = n.div_ceil(threads);
    Ok((0..n).step_by(per).map(|s| (s, per.min(n - s))).collect())
}

/// One fitting problem: the data, the encoded labels and the penalty.
pub(crate) struct Objective<'a> {
    pub x: &'a Tensor,
    /// Labels encoded as class indices `0..n_classes`.
    pub labels: &'a [usize],
    pub n_classes: usize,
    pub fit_intercept: bool,
    /// `1 / (C * n)`.
    pub l2: f64,
}

/// Rows of weights the model stores: 1 for two classes (binomial), else one per class.
pub(crate) fn weight_rows(n_classes: usize) -> usize {
    if n_classes == 2 {
        1
    } else {
        n_classes
    }
}

/// `x W^T + b` for `rows` weight rows `coef` (row-major `rows x f`), as host f64 `(n, rows)`.
pub(crate) fn raw_scores(x: &Tensor, coef: &[f64], intercept: &[f64], rows: usize) -> Result<Vec<f64>> {
    let f = x.dim(1)?;
    let w = Tensor::from_slice(coef, (rows, f), x.device())?.to_dtype(x.dtype())?;
    let wt = w.t()?;
    let blocks = row_blocks(x)?;
    let parts = if blocks.len() == 1 {
        vec![x.matmul(&wt)?]
    } else {
        blocks
            .par_iter()
            .map(|&(start, len)| x.narrow(0, start, len)?.matmul(&wt))
            .collect::<candle_core::Result<Vec<_>>>()?
    };
    let z = Tensor::cat(&parts, 0)?.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    Ok(z.chunks_exact(rows).flat_map(|r| r.iter().zip(intercept).map(|(v, b)| v + b)).collect())
}

/// Class probabilities `(n, n_classes)` row-major from raw scores `(n, rows)`, in place of a
/// softmax over `[0, z]` for two classes.
pub(crate) fn probabilities(z: &[f64], n_classes: usize) -> Vec<f64> {
    let rows = weight_rows(n_classes);
    let mut p = Vec::with_capacity(z.len() / rows * n_classes);
    let mut logits = vec![0.0; n_classes];
    for r in z.chunks_exact(rows) {
        if rows == 1 {
            logits[0] = 0.0;
            logits[1] = r[0];
        } else {
            logits.copy_from_slice(r);
        }
        let m = logits.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        let s: f64 = logits.iter().map(|v| (v - m).exp()).sum();
        p.extend(logits.iter().map(|v| (v - m).exp() / s));
    }
    p
}

impl Objective<'_> {
    /// Loss and gradient at `w = [coef (rows x f, row-major), intercept (rows)]`.
    pub(crate) fn loss_grad(&self, w: &[f64]) -> Result<(f64, Vec<f64>)> {
        let (n, f) = self.x.dims2()?;
        let k = self.n_classes;
        let rows = weight_rows(k);
        let (coef, intercept) = w.split_at(rows * f);
        let zero = vec![0.0; rows];
        let intercept = if self.fit_intercept { intercept } else { &zero[..] };
        let z = raw_scores(self.x, coef, intercept, rows)?;

        let inv_n = 1.0 / n as f64;
        let mut loss = 0.0;
        // Residuals transposed, (rows, n): (p - onehot) / n for the modelled columns.
        let mut rt = vec![0.0f64; rows * n];
        let mut logits = vec![0.0; k];
        for (i, (zr, &y)) in z.chunks_exact(rows).zip(self.labels).enumerate() {
            if rows == 1 {
                logits[0] = 0.0;
                logits[1] = zr[0];
            } else {
                logits.copy_from_slice(zr);
            }
            let m = logits.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            let s: f64 = logits.iter().map(|v| (v - m).exp()).sum();
            let lse = m + s.ln();
            loss += lse - logits[y];
            let first = k - rows; // 1 for binomial (class 0 is the fixed zero logit), else 0
            for (j, c) in (first..k).enumerate() {
                let p = (logits[c] - lse).exp();
                rt[j * n + i] = (p - if c == y { 1.0 } else { 0.0 }) * inv_n;
            }
        }
        loss *= inv_n;
        let penalty: f64 = coef.iter().map(|v| v * v).sum();
        loss += 0.5 * self.l2 * penalty;

        let intercept_grad: Vec<f64> = if self.fit_intercept {
            rt.chunks_exact(n).map(|row| row.iter().sum::<f64>()).collect()
        } else {
            vec![0.0; rows]
        };
        let r = Tensor::from_vec(rt, (rows, n), self.x.device())?.to_dtype(self.x.dtype())?;
        let blocks = row_blocks(self.x)?;
        let gw = if blocks.len() == 1 {
            r.matmul(self.x)?
        } else {
            let parts = blocks
                .par_iter()
                .map(|&(start, len)| r.narrow(1, start, len)?.matmul(&self.x.narrow(0, start, len)?))
                .collect::<candle_core::Result<Vec<_>>>()?;
            Tensor::stack(&parts, 0)?.sum(0)?
        };
        let gw = gw.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
        let mut grad: Vec<f64> = gw.iter().zip(coef).map(|(g, c)| g + self.l2 * c).collect();
        grad.extend(intercept_grad);
        Ok((loss, grad))
    }
}
