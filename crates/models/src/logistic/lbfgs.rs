//! Unconstrained L-BFGS with the stopping rules of scipy's L-BFGS-B (what sklearn's
//! `LogisticRegression(solver="lbfgs")` runs): projected-gradient test `max|g_i| <= gtol`, relative
//! reduction test `(f_old - f) <= ftol * max(|f_old|, |f|, 1)`, an iteration limit checked before
//! either test on each new iterate, the first step `1/||d||` along steepest descent, later steps
//! starting at 1, a Moré–Thuente line search (`ftol=1e-3, gtol=0.9, xtol=0.1`, at most `max_ls`
//! evaluations), curvature pairs skipped when `s·y <= eps * (-g_old·s)`, and a restart from steepest
//! descent when a line search fails (abnormal termination when it fails with an empty memory).
//!
//! Without bounds, L-BFGS-B's compact representation with `theta = y·y / s·y` gives the same search
//! direction as the two-loop recursion with `H0 = s·y / y·y`, which is what this file computes.

use std::collections::VecDeque;

use super::line_search::{MoreThuente, Search};
use crate::error::{ModelError, Result};

/// Options, named after scipy's `minimize(method="L-BFGS-B")` options.
#[derive(Debug, Clone)]
pub(crate) struct LbfgsOptions {
    pub max_iter: usize,
    pub gtol: f64,
    pub ftol: f64,
    pub max_ls: usize,
    pub memory: usize,
    pub max_fun: usize,
}

/// Why the minimiser stopped; `status()` matches scipy's `OptimizeResult.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LbfgsStop {
    /// `max|g_i| <= gtol`.
    GradientNorm,
    /// The objective stopped decreasing (relative reduction below `ftol`).
    RelativeReduction,
    /// `max_iter` iterations were done.
    MaxIter,
    /// Too many function evaluations.
    MaxFun,
    /// The line search failed with no curvature pairs left to drop.
    Abnormal,
}

impl LbfgsStop {
    /// scipy's status code: 0 converged, 1 iteration/evaluation limit, 2 other.
    pub fn status(self) -> u8 {
        match self {
            LbfgsStop::GradientNorm | LbfgsStop::RelativeReduction => 0,
            LbfgsStop::MaxIter | LbfgsStop::MaxFun => 1,
            LbfgsStop::Abnormal => 2,
        }
    }

    /// scipy's message for this outcome.
    pub fn message(self) -> &'static str {
        match self {
            LbfgsStop::GradientNorm => "CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL",
            LbfgsStop::RelativeReduction => "CONVERGENCE: RELATIVE REDUCTION OF F <= FACTR*EPSMCH",
            LbfgsStop::MaxIter => "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT",
            LbfgsStop::MaxFun => "STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS LIMIT",
            LbfgsStop::Abnormal => "ABNORMAL: ",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct LbfgsResult {
    pub x: Vec<f64>,
    pub f: f64,
    pub nit: usize,
    pub nfev: usize,
    pub stop: LbfgsStop,
}

struct Pair {
    s: Vec<f64>,
    y: Vec<f64>,
    rho: f64,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn inf_norm(a: &[f64]) -> f64 {
    a.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

/// `-H g` by the two-loop recursion over the stored pairs (oldest first in `mem`).
fn direction(g: &[f64], mem: &VecDeque<Pair>) -> Vec<f64> {
    let mut q = g.to_vec();
    let Some(newest) = mem.back() else {
        return q.iter().map(|v| -v).collect();
    };
    let mut alpha = vec![0.0; mem.len()];
    for (i, p) in mem.iter().enumerate().rev() {
        let a = p.rho * dot(&p.s, &q);
        alpha[i] = a;
        q.iter_mut().zip(&p.y).for_each(|(qv, yv)| *qv -= a * yv);
    }
    let gamma = dot(&newest.s, &newest.y) / dot(&newest.y, &newest.y);
    q.iter_mut().for_each(|v| *v *= gamma);
    for (i, p) in mem.iter().enumerate() {
        let b = p.rho * dot(&p.y, &q);
        let c = alpha[i] - b;
        q.iter_mut().zip(&p.s).for_each(|(qv, sv)| *qv += c * sv);
    }
    q.iter_mut().for_each(|v| *v = -*v);
    q
}

fn finite(f: f64, g: &[f64], nfev: usize) -> Result<()> {
    if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Err(ModelError::NonFinite(format!(
            "the L-BFGS objective or its gradient is {f} (not finite) at evaluation {nfev}"
        )));
    }
    Ok(())
}

/// Minimises `fg` (returning the value and gradient) from `x0`.
pub(crate) fn minimize<F>(mut fg: F, x0: Vec<f64>, o: &LbfgsOptions) -> Result<LbfgsResult>
where
    F: FnMut(&[f64]) -> Result<(f64, Vec<f64>)>,
{
    const STPMAX: f64 = 1e10;
    let mut x = x0;
    let (mut f, mut g) = fg(&x)?;
    let mut nfev = 1;
    finite(f, &g, nfev)?;
    let mut nit = 0usize;
    let done = |x, f, nit, nfev, stop| Ok(LbfgsResult { x, f, nit, nfev, stop });
    if inf_norm(&g) <= o.gtol {
        return done(x, f, nit, nfev, LbfgsStop::GradientNorm);
    }
    let mut mem: VecDeque<Pair> = VecDeque::with_capacity(o.memory);
    loop {
        let d = direction(&g, &mem);
        let gd = dot(&g, &d);
        let stp0 = if nit == 0 { (1.0 / dot(&d, &d).sqrt()).min(STPMAX) } else { 1.0 };
        let (x_old, f_old, g_old) = (x.clone(), f, g.clone());
        let (mut ls, mut req) = MoreThuente::start(f_old, gd, stp0, (1e-3, 0.9, 0.1), (0.0, STPMAX));
        let mut evals = 0usize;
        let mut stp = 0.0;
        let failed = loop {
            match req {
                Search::Evaluate(s) => {
                    if evals >= o.max_ls {
                        break true;
                    }
                    stp = s;
                    x.iter_mut().zip(x_old.iter().zip(&d)).for_each(|(xv, (x0v, dv))| *xv = x0v + s * dv);
                    let (fv, gv) = fg(&x)?;
                    nfev += 1;
                    evals += 1;
                    finite(fv, &gv, nfev)?;
                    f = fv;
                    g = gv;
                    req = ls.next(f, dot(&g, &d));
                }
                Search::Converged | Search::Warning(_) => break false,
                Search::Error(_) => break true,
            }
        };
        if failed {
            // Restore the previous iterate; drop the memory and retry, or give up.
            x = x_old;
            f = f_old;
            g = g_old;
            if mem.is_empty() {
                return done(x, f, nit, nfev, LbfgsStop::Abnormal);
            }
            mem.clear();
            continue;
        }
        nit += 1;
        if nit >= o.max_iter {
            return done(x, f, nit, nfev, LbfgsStop::MaxIter);
        }
        if nfev > o.max_fun {
            return done(x, f, nit, nfev, LbfgsStop::MaxFun);
        }
        if inf_norm(&g) <= o.gtol {
            return done(x, f, nit, nfev, LbfgsStop::GradientNorm);
        }
        if f_old - f <= o.ftol * f_old.abs().max(f.abs()).max(1.0) {
            return done(x, f, nit, nfev, LbfgsStop::RelativeReduction);
        }
        let s: Vec<f64> = d.iter().map(|v| v * stp).collect();
        let y: Vec<f64> = g.iter().zip(&g_old).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > f64::EPSILON * (-gd * stp) {
            if mem.len() == o.memory {
                mem.pop_front();
            }
            mem.push_back(Pair { s, y, rho: 1.0 / sy });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> LbfgsOptions {
        LbfgsOptions { max_iter: 200, gtol: 1e-8, ftol: 64.0 * f64::EPSILON, max_ls: 50, memory: 10, max_fun: 15000 }
    }

    #[test]
    fn minimises_rosenbrock() {
        let rosen = |x: &[f64]| -> Result<(f64, Vec<f64>)> {
            let (a, b) = (x[0], x[1]);
            let f = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
            let g = vec![-2.0 * (1.0 - a) - 400.0 * a * (b - a * a), 200.0 * (b - a * a)];
            Ok((f, g))
        };
        let r = minimize(rosen, vec![-1.2, 1.0], &opts()).unwrap();
        assert_eq!(r.stop.status(), 0, "{:?}", r.stop);
        assert!((r.x[0] - 1.0).abs() < 1e-5 && (r.x[1] - 1.0).abs() < 1e-5, "{:?} after {} iterations", r.x, r.nit);
    }

    #[test]
    fn stops_at_max_iter() {
        let quad = |x: &[f64]| -> Result<(f64, Vec<f64>)> {
            let w = [1.0, 10.0, 100.0, 1000.0];
            let f = x.iter().zip(w).map(|(v, w)| 0.5 * w * v * v).sum();
            Ok((f, x.iter().zip(w).map(|(v, w)| w * v).collect()))
        };
        let mut o = opts();
        o.max_iter = 2;
        let r = minimize(quad, vec![1.0; 4], &o).unwrap();
        assert_eq!((r.nit, r.stop), (2, LbfgsStop::MaxIter));
    }
}
