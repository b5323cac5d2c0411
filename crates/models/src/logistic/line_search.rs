//! The Moré–Thuente line search (MINPACK-2 `dcsrch`/`dcstep`), as scipy's L-BFGS-B runs it.
//!
//! It looks for a step `stp > 0` along a descent direction that satisfies the strong Wolfe
//! conditions `f(stp) <= f(0) + ftol * stp * f'(0)` and `|f'(stp)| <= gtol * |f'(0)|`, keeping an
//! interval of uncertainty and choosing trial steps by cubic and quadratic interpolation. The caller
//! evaluates `f` and `f'` at each step it is given; [`MoreThuente::next`] returns the next step or
//! says the search is over.

/// What the line search wants next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Search {
    /// Evaluate the function and its directional derivative at this step.
    Evaluate(f64),
    /// The strong Wolfe conditions hold at the last evaluated step.
    Converged,
    /// The search cannot make progress (rounding errors, interval too small, step at a bound);
    /// scipy accepts the last evaluated step all the same.
    Warning(&'static str),
    /// The inputs are unusable (e.g. not a descent direction).
    Error(&'static str),
}

const XTRAPL: f64 = 1.1;
const XTRAPU: f64 = 4.0;

/// State of one line search (`dcsrch`'s saved variables).
#[derive(Debug, Clone)]
pub(crate) struct MoreThuente {
    gtol: f64,
    xtol: f64,
    stpmin: f64,
    stpmax: f64,
    brackt: bool,
    stage: u8,
    ginit: f64,
    gtest: f64,
    gx: f64,
    gy: f64,
    finit: f64,
    fx: f64,
    fy: f64,
    stx: f64,
    sty: f64,
    stmin: f64,
    stmax: f64,
    width: f64,
    width1: f64,
    stp: f64,
}

impl MoreThuente {
    /// Starts a search from `f(0) = f0`, `f'(0) = g0` with first trial step `stp`. Returns the
    /// search and what it wants first.
    pub(crate) fn start(
        f0: f64,
        g0: f64,
        stp: f64,
        (ftol, gtol, xtol): (f64, f64, f64),
        (stpmin, stpmax): (f64, f64),
    ) -> (Self, Search) {
        let s = MoreThuente {
            gtol,
            xtol,
            stpmin,
            stpmax,
            brackt: false,
            stage: 1,
            ginit: g0,
            gtest: ftol * g0,
            gx: g0,
            gy: g0,
            finit: f0,
            fx: f0,
            fy: f0,
            stx: 0.0,
            sty: 0.0,
            stmin: 0.0,
            stmax: stp + XTRAPU * stp,
            width: stpmax - stpmin,
            width1: (stpmax - stpmin) / 0.5,
            stp,
        };
        let first = if stp < stpmin {
            Search::Error("STP < STPMIN")
        } else if stp > stpmax {
            Search::Error("STP > STPMAX")
        } else if g0 >= 0.0 {
            Search::Error("INITIAL G >= 0")
        } else if ftol < 0.0 || gtol < 0.0 || xtol < 0.0 || stpmin < 0.0 || stpmax < stpmin {
            Search::Error("bad line search tolerances")
        } else {
            Search::Evaluate(stp)
        };
        (s, first)
    }

    /// Takes `f(stp)` and `f'(stp)` at the step last asked for; returns the next request.
    pub(crate) fn next(&mut self, f: f64, g: f64) -> Search {
        let stp = self.stp;
        let ftest = self.finit + stp * self.gtest;
        if self.stage == 1 && f <= ftest && g >= 0.0 {
            self.stage = 2;
        }
        // Tests for warnings, then for convergence (convergence wins, as in dcsrch).
        let mut outcome = None;
        if self.brackt && (stp <= self.stmin || stp >= self.stmax) {
            outcome = Some(Search::Warning("ROUNDING ERRORS PREVENT PROGRESS"));
        }
        if self.brackt && self.stmax - self.stmin <= self.xtol * self.stmax {
            outcome = Some(Search::Warning("XTOL TEST SATISFIED"));
        }
        if stp == self.stpmax && f <= ftest && g <= self.gtest {
            outcome = Some(Search::Warning("STP = STPMAX"));
        }
        if stp == self.stpmin && (f > ftest || g >= self.gtest) {
            outcome = Some(Search::Warning("STP = STPMIN"));
        }
        if f <= ftest && g.abs() <= self.gtol * (-self.ginit) {
            outcome = Some(Search::Converged);
        }
        if let Some(o) = outcome {
            return o;
        }

        let mut new_stp = stp;
        if self.stage == 1 && f <= self.fx && f > ftest {
            // A modified function (f - stp * gtest) until the sufficient-decrease test holds.
            let gt = self.gtest;
            let mut fxm = self.fx - self.stx * gt;
            let mut fym = self.fy - self.sty * gt;
            let mut gxm = self.gx - gt;
            let mut gym = self.gy - gt;
            let fm = f - stp * gt;
            let gm = g - gt;
            dcstep(
                (&mut self.stx, &mut fxm, &mut gxm),
                (&mut self.sty, &mut fym, &mut gym),
                (&mut new_stp, fm, gm),
                &mut self.brackt,
                (self.stmin, self.stmax),
            );
            self.fx = fxm + self.stx * gt;
            self.fy = fym + self.sty * gt;
            self.gx = gxm + gt;
            self.gy = gym + gt;
        } else {
            dcstep(
                (&mut self.stx, &mut self.fx, &mut self.gx),
                (&mut self.sty, &mut self.fy, &mut self.gy),
                (&mut new_stp, f, g),
                &mut self.brackt,
                (self.stmin, self.stmax),
            );
        }

        // Force a sufficient decrease in the size of the interval of uncertainty.
        if self.brackt {
            if (self.sty - self.stx).abs() >= 0.66 * self.width1 {
                new_stp = self.stx + 0.5 * (self.sty - self.stx);
            }
            self.width1 = self.width;
            self.width = (self.sty - self.stx).abs();
        }
        if self.brackt {
            self.stmin = self.stx.min(self.sty);
            self.stmax = self.stx.max(self.sty);
        } else {
            self.stmin = new_stp + XTRAPL * (new_stp - self.stx);
            self.stmax = new_stp + XTRAPU * (new_stp - self.stx);
        }
        new_stp = new_stp.max(self.stpmin).min(self.stpmax);
        // If further progress is not possible, let stp be the best point obtained.
        if (self.brackt && (new_stp <= self.stmin || new_stp >= self.stmax))
            || (self.brackt && self.stmax - self.stmin <= self.xtol * self.stmax)
        {
            new_stp = self.stx;
        }
        self.stp = new_stp;
        Search::Evaluate(new_stp)
    }
}

/// One safeguarded step of the interval update (`dcstep`). `(stx, fx, dx)` is the best step so far,
/// `(sty, fy, dy)` the other end of the interval, `(stp, fp, dp)` the current trial.
fn dcstep(
    (stx, fx, dx): (&mut f64, &mut f64, &mut f64),
    (sty, fy, dy): (&mut f64, &mut f64, &mut f64),
    (stp, fp, dp): (&mut f64, f64, f64),
    brackt: &mut bool,
    (stpmin, stpmax): (f64, f64),
) {
    let sgnd = dp * (*dx / dx.abs());
    let stpf;
    if fp > *fx {
        // Case 1: higher function value; the minimum is bracketed.
        let theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        let s = theta.abs().max(dx.abs()).max(dp.abs());
        let mut gamma = s * ((theta / s).powi(2) - (*dx / s) * (dp / s)).sqrt();
        if *stp < *stx {
            gamma = -gamma;
        }
        let p = (gamma - *dx) + theta;
        let q = ((gamma - *dx) + gamma) + dp;
        let r = p / q;
        let stpc = *stx + r * (*stp - *stx);
        let stpq = *stx + ((*dx / ((*fx - fp) / (*stp - *stx) + *dx)) / 2.0) * (*stp - *stx);
        stpf = if (stpc - *stx).abs() < (stpq - *stx).abs() { stpc } else { stpc + (stpq - stpc) / 2.0 };
        *brackt = true;
    } else if sgnd < 0.0 {
        // Case 2: lower function value and derivatives of opposite sign; bracketed.
        let theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        let s = theta.abs().max(dx.abs()).max(dp.abs());
        let mut gamma = s * ((theta / s).powi(2) - (*dx / s) * (dp / s)).sqrt();
        if *stp > *stx {
            gamma = -gamma;
        }
        let p = (gamma - dp) + theta;
        let q = ((gamma - dp) + gamma) + *dx;
        let r = p / q;
        let stpc = *stp + r * (*stx - *stp);
        let stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        stpf = if (stpc - *stp).abs() > (stpq - *stp).abs() { stpc } else { stpq };
        *brackt = true;
    } else if dp.abs() < dx.abs() {
        // Case 3: lower function value, same-sign derivatives, derivative magnitude decreases.
        let theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        let s = theta.abs().max(dx.abs()).max(dp.abs());
        let mut gamma = s * ((theta / s).powi(2) - (*dx / s) * (dp / s)).max(0.0).sqrt();
        if *stp > *stx {
            gamma = -gamma;
        }
        let p = (gamma - dp) + theta;
        let q = (gamma + (*dx - dp)) + gamma;
        let r = p / q;
        let stpc = if r < 0.0 && gamma != 0.0 {
            *stp + r * (*stx - *stp)
        } else if *stp > *stx {
            stpmax
        } else {
            stpmin
        };
        let stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        if *brackt {
            let mut v = if (stpc - *stp).abs() < (stpq - *stp).abs() { stpc } else { stpq };
            if *stp > *stx {
                v = v.min(*stp + 0.66 * (*sty - *stp));
            } else {
                v = v.max(*stp + 0.66 * (*sty - *stp));
            }
            stpf = v;
        } else {
            let v = if (stpc - *stp).abs() > (stpq - *stp).abs() { stpc } else { stpq };
            stpf = v.min(stpmax).max(stpmin);
        }
    } else {
        // Case 4: lower function value, same-sign derivatives, derivative does not decrease.
        if *brackt {
            let theta = 3.0 * (fp - *fy) / (*sty - *stp) + *dy + dp;
            let s = theta.abs().max(dy.abs()).max(dp.abs());
            let mut gamma = s * ((theta / s).powi(2) - (*dy / s) * (dp / s)).sqrt();
            if *stp > *sty {
                gamma = -gamma;
            }
            let p = (gamma - dp) + theta;
            let q = ((gamma - dp) + gamma) + *dy;
            let r = p / q;
            stpf = *stp + r * (*sty - *stp);
        } else if *stp > *stx {
            stpf = stpmax;
        } else {
            stpf = stpmin;
        }
    }

    // Update the interval which contains a minimiser.
    if fp > *fx {
        *sty = *stp;
        *fy = fp;
        *dy = dp;
    } else {
        if sgnd < 0.0 {
            *sty = *stx;
            *fy = *fx;
            *dy = *dx;
        }
        *stx = *stp;
        *fx = fp;
        *dx = dp;
    }
    *stp = stpf;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minimising phi(a) = (a - 2)^2 from a = 0 along +1 converges at a step near 2.
    #[test]
    fn finds_wolfe_step_on_a_parabola() {
        let phi = |a: f64| ((a - 2.0) * (a - 2.0), 2.0 * (a - 2.0));
        let (f0, g0) = phi(0.0);
        let (mut ls, mut req) = MoreThuente::start(f0, g0, 0.1, (1e-3, 0.9, 0.1), (0.0, 1e10));
        let mut last = 0.0;
        for _ in 0..50 {
            match req {
                Search::Evaluate(a) => {
                    last = a;
                    let (f, g) = phi(a);
                    req = ls.next(f, g);
                }
                _ => break,
            }
        }
        assert_eq!(req, Search::Converged);
        let (f, g) = phi(last);
        assert!(f <= f0 + 1e-3 * last * g0 && g.abs() <= 0.9 * g0.abs(), "step {last}");
    }
}
