//! Convolution as an implicit GEMM with AVX-512: the output is computed in register tiles of
//! `MR` output channels × `NV` vectors of 16 output pixels, reading each receptive-field row
//! straight from the image's padded stride phases instead of an im2col copy. Edge vectors (a
//! row's last, partial 16 pixels) use masked loads and stores, so nothing is copied, packed or
//! padded per block: the im2col copy and the GEMM's repacking of it were a third of a step.
//!
//! Where rows are 14, 28 or 56 pixels wide, those pixel vectors leave 2 of every 16 lanes idle;
//! there a second kernel vectorises over output channels instead (tiles of a row's consecutive
//! pixels × 32 channels, each input value broadcast) and transposes each finished tile in
//! registers into the output planes. A cost estimate per convolution picks the kernel and tile.
//!
//! Used for the forward pass and for the input gradient (a convolution of the output gradient
//! with the flipped, transposed kernel; at larger strides one per stride phase of the input, see
//! [`InputGrad`]). Selected at run time on CPUs with AVX-512F; elsewhere the im2col path in
//! `conv.rs` runs.

use super::conv::{phase_range, ConvGeometry};

/// Register tiles of the forward kernel: output channels × 16-pixel vectors (16 to 24
/// accumulators of the 32 vector registers). Chosen per convolution by [`tile_cost`].
const TILES: [(usize, usize); 4] = [(8, 3), (8, 2), (4, 5), (16, 1)];

/// Estimated cycles per kernel element of one image's tiles `(mr, nv)` over `vectors` pixel
/// vectors: tiles × the larger of the FMA time (two per cycle) and the load time (two per cycle;
/// an unaligned vector load spans two cache lines and costs about one and a half). Idle lanes
/// and channels of partial tiles count as work. `16 × 1` needs 17 loads per 16 FMAs and is
/// load-bound: measured 15% slower than `8 × 2` on the faces net's 14×14 layers.
fn tile_cost(cout: usize, vectors: usize, (mr, nv): (usize, usize)) -> f64 {
    let tiles = (cout.div_ceil(mr) * vectors.div_ceil(nv)) as f64;
    tiles * ((mr * nv) as f64 / 2.0).max((mr as f64 + 1.5 * nv as f64) / 2.0)
}

/// Register tiles of the channel-vector forward kernel: `R` consecutive output pixels of a row ×
/// `C` vectors of 16 output channels (28 or 24 accumulators). Each input value is broadcast and
/// multiplied with the kernel's channel vectors, so no lanes idle at row ends (the pixel-vector
/// tiles waste 2 of 16 lanes on 14-, 28- and 56-wide rows); a row's last run may be partial.
const CHANNEL_TILES: [(usize, usize); 2] = [(14, 2), (12, 2)];

/// [`tile_cost`] of the channel-vector tile `(r, c)`: runs of `r` pixels per row, `16 · c`
/// channels per tile; per kernel element `r` broadcasts and `c` vector loads.
fn channel_tile_cost(g: &ConvGeometry, (r, c): (usize, usize)) -> f64 {
    let tiles = (g.cout.div_ceil(16 * c) * g.oh * g.ow.div_ceil(r)) as f64;
    tiles * ((r * c) as f64 / 2.0).max((r as f64 + 1.5 * c as f64) / 2.0)
}
/// Kernel elements × 16-channel vectors per register tile of the kernel gradient: 6 × 4 (24
/// accumulators) when there are more than 32 output channels, else 8 × 2.
const WIDE: (usize, usize) = (6, 4);
const NARROW: (usize, usize) = (8, 2);

fn weight_grad_tile_shape(cout: usize) -> (usize, usize) {
    if cout > 32 {
        WIDE
    } else {
        NARROW
    }
}

/// True when this CPU runs the AVX-512 kernels (checked once). `CANDLEBOOK_CPU_KERNELS=portable`
/// in the environment selects the portable kernels instead (the test script runs the kernel tests
/// both ways).
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static YES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *YES.get_or_init(|| std::arch::is_x86_feature_detected!("avx512f") && std::env::var("CANDLEBOOK_CPU_KERNELS").map_or(true, |v| v != "portable"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Where one 16-pixel output vector reads and writes.
#[derive(Clone, Copy, Default)]
struct PixelVector {
    /// Offset in the padded phases of kernel position (0, 0) for the vector's first pixel.
    input: isize,
    /// Offset of the first pixel in one output channel (`oy * ow + ox`).
    output: isize,
    /// Valid lanes (a row's last vector may be partial; 0 for tile padding).
    mask: u16,
}

/// Up to `R` consecutive output pixels of one row, for the channel-vector kernel.
#[derive(Clone, Copy)]
struct PixelRun {
    /// Offset in the padded phases of kernel position (0, 0) for the run's first pixel.
    input: isize,
    /// The first pixel's index in the image's output plane (`oy * ow + ox`).
    output: usize,
    /// Pixels in the run (a row's last run may be shorter than `R`).
    len: usize,
}

/// Rows of the padded phases: every input row any output row reads, including the zero rows of
/// the vertical padding.
fn padded_rows(g: &ConvGeometry) -> usize {
    (g.oh - 1) * g.sy + g.kh
}

/// Rewrites one image into `[c][row][phase][j]`, zero-padded on all sides: padded column
/// `j * sx + phase` of padded row `row` (input row `row - pad_top`, column
/// `j * sx + phase - pad_left`; `sx` the horizontal stride, the vertical one only picks rows). Every receptive-field row of an output row is then one
/// contiguous run.
fn padded_phases(g: &ConvGeometry, img: &[f32], out: &mut [f32]) {
    let (s, jw, hp) = (g.sx, g.phase_width(), padded_rows(g));
    // the cells `lo..hi` of phase `ph` that hold input columns
    let ranges: Vec<(usize, usize)> = (0..s).map(|ph| phase_range(g, ph)).collect();
    for (c, plane) in out.chunks_exact_mut(hp * s * jw).enumerate().take(g.cin) {
        for (r, dst) in plane.chunks_exact_mut(s * jw).enumerate() {
            let Some(row) = r.checked_sub(g.pad_top).filter(|&iy| iy < g.h).map(|iy| &img[(c * g.h + iy) * g.w..][..g.w]) else {
                dst.fill(0.0);
                continue;
            };
            for (ph, cells) in dst.chunks_exact_mut(jw).enumerate() {
                let (lo, hi) = ranges[ph];
                cells[..lo].fill(0.0);
                cells[hi..].fill(0.0);
                if lo < hi {
                    let start = lo * s + ph - g.pad_left;
                    if s == 1 {
                        cells[lo..hi].copy_from_slice(&row[start..start + hi - lo]);
                    } else {
                        copy_strided(&row[start..], s, &mut cells[lo..hi]);
                    }
                }
            }
        }
    }
}

/// `dst[i] = src[i * s]` for every `i < dst.len()` (`src` must hold `(dst.len() - 1) * s + 1`
/// values). Strides 2 and 4 run as AVX-512 permutes: the scalar strided copy of the faces net's
/// stride-4 first layer was 3% of its step.
fn copy_strided(src: &[f32], s: usize, dst: &mut [f32]) {
    let n = dst.len();
    if n == 0 {
        return;
    }
    assert!(src.len() > (n - 1) * s, "copy_strided: {} values cannot give {n} at stride {s}", src.len());
    #[cfg(target_arch = "x86_64")]
    if (s == 2 || s == 4) && available() {
        // SAFETY: AVX-512F is present; the lengths were checked above.
        return unsafe { avx512::copy_strided(src, s, dst) };
    }
    dst.iter_mut().zip(src.iter().step_by(s)).for_each(|(v, x)| *v = *x);
}

/// The convolution plan shared by all images: kernel offsets, pixel vectors, packed kernel.
struct Plan {
    /// Offset in the padded phases of kernel element `k = (c, ky, kx)` relative to position (0, 0).
    taps: Vec<isize>,
    /// The output pixels in vectors, grouped `nv` to a tile (the last group padded with empty
    /// vectors); empty when the channel-vector kernel runs.
    vectors: Vec<PixelVector>,
    /// The output pixels in runs of up to `nv` per row when the channel-vector kernel runs (see
    /// [`CHANNEL_TILES`]); empty otherwise.
    runs: Vec<PixelRun>,
    /// The kernel as `[tile][k][mr]` (channels past `cout` zero).
    packed: Vec<f32>,
    /// The bias as `[tile][mr]`.
    bias: Vec<f32>,
    /// Whether the output is computed on the wide grid (see [`wide_vectors`]).
    wide: bool,
    /// The register tile, one of [`TILES`]: `mr` channels × `nv` vectors; for the channel-vector
    /// kernel `mr` channels (16 per vector) × `nv` pixels, one of [`CHANNEL_TILES`].
    mr: usize,
    nv: usize,
}

/// Offset in the padded phases of each kernel element `k = (c, ky, kx)`, relative to kernel position (0, 0).
fn taps(g: &ConvGeometry) -> Vec<isize> {
    let (s, jw, hp) = (g.sx as isize, g.phase_width() as isize, padded_rows(g) as isize);
    let mut taps = Vec::with_capacity(g.cin * g.kh * g.kw);
    for c in 0..g.cin as isize {
        for ky in 0..g.kh as isize {
            for kx in 0..g.kw as isize {
                taps.push(((c * hp + ky) * s + kx % s) * jw + kx / s);
            }
        }
    }
    taps
}

/// The output pixels of one image in runs of up to `r` along each output row.
fn pixel_runs(g: &ConvGeometry, r: usize) -> Vec<PixelRun> {
    let (sy, sx, jw) = (g.sy as isize, g.sx as isize, g.phase_width() as isize);
    let mut runs = Vec::with_capacity(g.oh * g.ow.div_ceil(r));
    for oy in 0..g.oh {
        for ox in (0..g.ow).step_by(r) {
            runs.push(PixelRun { input: (oy as isize * sy * sx) * jw + ox as isize, output: oy * g.ow + ox, len: (g.ow - ox).min(r) });
        }
    }
    runs
}

/// The output pixels of one image in vectors of up to 16 along each output row.
fn pixel_vectors(g: &ConvGeometry) -> Vec<PixelVector> {
    let (sy, sx, jw) = (g.sy as isize, g.sx as isize, g.phase_width() as isize);
    let mut vectors = Vec::new();
    for oy in 0..g.oh {
        for ox in (0..g.ow).step_by(16) {
            let lanes = (g.ow - ox).min(16);
            vectors.push(PixelVector { input: (oy as isize * sy * sx) * jw + ox as isize, output: (oy * g.ow + ox) as isize, mask: if lanes == 16 { u16::MAX } else { (1u16 << lanes) - 1 } });
        }
    }
    vectors
}

/// At stride 1, output pixel `(oy, ox)` reads the phases at `oy * jw + ox` plus its tap, so on
/// the wide grid of `oh × jw` lanes (lane `oy * jw + ox`, lanes with `ox ≥ ow` computed and
/// dropped) every 16 consecutive lanes read 16 consecutive inputs, across row ends. Narrow outputs
/// waste fewer lanes that way than with a vector per row (8 wide: 8 of 16 lanes per row vector,
/// 8 of 10 on the wide grid).
fn use_wide_grid(g: &ConvGeometry) -> bool {
    let per_row = g.ow as f64 / (16 * g.ow.div_ceil(16)) as f64;
    let wide = g.ow as f64 / g.phase_width() as f64;
    g.unit_strides() && wide > per_row
}

/// The wide grid's lanes (see [`use_wide_grid`]) in vectors of 16; outputs go to a wide buffer.
fn wide_vectors(g: &ConvGeometry) -> Vec<PixelVector> {
    let lanes = g.oh * g.phase_width();
    (0..lanes)
        .step_by(16)
        .map(|l| {
            let n = (lanes - l).min(16);
            PixelVector { input: l as isize, output: l as isize, mask: if n == 16 { u16::MAX } else { (1u16 << n) - 1 } }
        })
        .collect()
}

impl Plan {
    /// `kernel(co, c, ky, kx)` gives the weight; `bias(co)` the bias.
    fn new(g: &ConvGeometry, kernel: impl Fn(usize, usize, usize, usize) -> f32, bias: impl Fn(usize) -> f32) -> Plan {
        let taps = taps(g);
        let wide = use_wide_grid(g);
        let mut vectors = if wide { wide_vectors(g) } else { pixel_vectors(g) };
        // the cheapest tile; on a tie the earlier (more accumulators)
        let cost = |t| tile_cost(g.cout, vectors.len(), t);
        let (mut mr, mut nv) = TILES.into_iter().fold(TILES[0], |best, t| if cost(t) < cost(best) { t } else { best });
        let channel_cost = |t| channel_tile_cost(g, t);
        let (r, c) = CHANNEL_TILES.into_iter().fold(CHANNEL_TILES[0], |best, t| if channel_cost(t) < channel_cost(best) { t } else { best });
        let mut runs = Vec::new();
        let wide = if channel_cost((r, c)) < cost((mr, nv)) {
            (mr, nv) = (16 * c, r);
            runs = pixel_runs(g, r);
            vectors.clear();
            false
        } else {
            vectors.resize(vectors.len().next_multiple_of(nv), PixelVector::default());
            wide
        };
        let k = taps.len();
        let tiles = g.cout.div_ceil(mr);
        let mut packed = vec![0f32; tiles * k * mr];
        let mut packed_bias = vec![0f32; tiles * mr];
        for co in 0..g.cout {
            let (t, i) = (co / mr, co % mr);
            packed_bias[t * mr + i] = bias(co);
            let mut kk = 0;
            for c in 0..g.cin {
                for ky in 0..g.kh {
                    for kx in 0..g.kw {
                        packed[(t * k + kk) * mr + i] = kernel(co, c, ky, kx);
                        kk += 1;
                    }
                }
            }
        }
        Plan { taps, vectors, runs, packed, bias: packed_bias, wide, mr, nv }
    }
}

/// `act(conv(x, w) + b)` for contiguous NCHW `x`, OIHW `w`: the whole batch, images spread over
/// the rayon pool. Only call when [`available`].
pub(crate) fn conv_forward(g: &ConvGeometry, x: &[f32], w: &[f32], b: &[f32], relu: bool) -> Vec<f32> {
    Forward::new(g, w, b, relu).batch(x)
}

/// A convolution's forward pass planned once (kernel packed, tiles chosen) and run image by image.
pub(crate) struct Forward {
    g: ConvGeometry,
    plan: Plan,
    relu: bool,
}

impl Forward {
    /// For OIHW kernel `w` and bias `b`. Only call when [`available`].
    pub(crate) fn new(g: &ConvGeometry, w: &[f32], b: &[f32], relu: bool) -> Forward {
        let k = g.cin * g.kh * g.kw;
        let plan = Plan::new(g, |co, c, ky, kx| w[co * k + (c * g.kh + ky) * g.kw + kx], |co| b[co]);
        Forward { g: *g, plan, relu }
    }

    /// Every image of contiguous NCHW `x`, spread over the rayon pool.
    fn batch(&self, x: &[f32]) -> Vec<f32> {
        let (g, image) = (&self.g, self.g.cin * self.g.h * self.g.w);
        // every output value is written by `image` (see there), so the buffer is not zeroed
        // first: that memset was 3% of the faces net's step
        // SAFETY: `image` writes all of `yi`.
        unsafe { super::par_build_written(g.n * g.cout * g.oh * g.ow, g.cout * g.oh * g.ow, |i, yi| self.image(&x[i * image..(i + 1) * image], yi)) }
    }

    /// [`Forward::batch`] also returning each image's per-channel output sums
    /// ([`super::channel_sums`]), taken while the image's output is in cache.
    pub(crate) fn batch_with_sums(&self, x: &[f32]) -> (Vec<f32>, super::ImageSums) {
        use rayon::prelude::*;
        let (g, image) = (&self.g, self.g.cin * self.g.h * self.g.w);
        let (per, p) = (g.cout * g.oh * g.ow, g.oh * g.ow);
        let mut y: Vec<f32> = Vec::with_capacity(g.n * per);
        let sums = y
            .spare_capacity_mut()
            .par_chunks_mut(per)
            .enumerate()
            .map(|(i, yi)| {
                self.image(&x[i * image..(i + 1) * image], yi);
                // SAFETY: `image` wrote every value of `yi`; MaybeUninit<f32> has f32's layout.
                super::channel_sums(unsafe { &*(yi as *const [std::mem::MaybeUninit<f32>] as *const [f32]) }, p)
            })
            .collect();
        // SAFETY: every chunk was written in full above, and the chunks cover the capacity.
        unsafe { y.set_len(g.n * per) };
        (y, sums)
    }

    /// One image (`cin × h × w`) into `yi` (`cout × oh × ow`), every value of which is written.
    pub(crate) fn image(&self, img: &[f32], yi: &mut [std::mem::MaybeUninit<f32>]) {
        image_into(&self.g, &self.plan, img, yi, self.relu)
    }
}

/// The input gradient `dx` of a convolution: `None` where [`input_grad_supported`] is false (the
/// caller falls back to col2im).
pub(crate) fn conv_input_grad(g: &ConvGeometry, dy: &[f32], w: &[f32]) -> Option<Vec<f32>> {
    Some(InputGrad::new(g, w)?.batch(dy))
}

/// Whether [`InputGrad`] computes this geometry's input gradient: always at stride 1 with less
/// padding than the kernel, and at larger strides unless a stride phase's first input pixel
/// lies further from the output grid than its share of the kernel reaches (its convolution would
/// need a negative padding). `valid` padding never does that; `same` padding rarely (a 3×3
/// kernel at stride 3 on 4 rows pads one row on top, which phase 0's single tap cannot reach
/// past): such geometries keep the col2im path.
pub(crate) fn input_grad_supported(g: &ConvGeometry) -> bool {
    (0..g.sy).all(|ry| phase_axis(ry, g.sy, g.pad_top, g.h, g.kh).is_some()) && (0..g.sx).all(|rx| phase_axis(rx, g.sx, g.pad_left, g.w, g.kw).is_some())
}

/// One axis of stride phase `r` (stride `s`, padding `pad`, `len` input pixels, kernel `k`):
/// the first phase index `q0` and the count `nq` of the input pixels `i` with
/// `(i + pad) % s == r` (`i = q·s + r − pad`), and the kernel taps on the phase, `k·s + r` for
/// `k < taps`. `None` when the phase convolution would need a negative padding (`q0 ≥ taps`
/// with taps on the phase).
fn phase_axis(r: usize, s: usize, pad: usize, len: usize, k: usize) -> Option<(usize, usize, usize)> {
    let q0 = if pad > r { (pad - r).div_ceil(s) } else { 0 };
    let nq = if len + pad > r { ((len - 1 + pad - r) / s + 1).saturating_sub(q0) } else { 0 };
    let taps = if r < k { (k - r).div_ceil(s) } else { 0 };
    (nq == 0 || taps == 0 || q0 < taps).then_some((q0, nq, taps))
}

/// The input gradient of a convolution, planned once per kernel. At stride 1 it is one
/// convolution of the output gradient with the flipped, transposed kernel and the complementary
/// padding. At stride `(sy, sx)` the input splits into `sy · sx` phases (input pixels
/// `(q_y·sy + r_y − pad_top, q_x·sx + r_x − pad_left)` for each residue `(r_y, r_x)`), and each
/// phase's gradient is a stride-1 convolution of the output gradient with the kernel taps that
/// land on it (`k_y·sy + r_y`, `k_x·sx + r_x`), flipped: `dx[q] = Σ_t dy[q − t] · w[t·s + r]`.
/// So no zeroed buffer, no col2im scatter-add and no GEMM repacking: each phase runs on the
/// direct kernel and is interleaved into `dx` once.
pub(crate) struct InputGrad {
    g: ConvGeometry,
    parts: Vec<InputPhase>,
}

/// One stride phase of an [`InputGrad`].
struct InputPhase {
    ry: usize,
    rx: usize,
    /// First phase row and column (`q0` of [`phase_axis`]) and their counts.
    qy0: usize,
    qx0: usize,
    nqy: usize,
    nqx: usize,
    /// The phase's convolution (output `cin × nqy × nqx`); `None` where no kernel tap lands on
    /// the phase (a stride larger than the kernel), whose gradient is zero.
    conv: Option<Forward>,
}

impl InputGrad {
    /// For OIHW kernel `w`; `None` unless [`input_grad_supported`]. Only call when [`available`].
    pub(crate) fn new(g: &ConvGeometry, w: &[f32]) -> Option<InputGrad> {
        let k = g.cin * g.kh * g.kw;
        let mut parts = Vec::with_capacity(g.sy * g.sx);
        for ry in 0..g.sy {
            let (qy0, nqy, khr) = phase_axis(ry, g.sy, g.pad_top, g.h, g.kh)?;
            for rx in 0..g.sx {
                let (qx0, nqx, kwr) = phase_axis(rx, g.sx, g.pad_left, g.w, g.kw)?;
                if nqy == 0 || nqx == 0 {
                    continue;
                }
                let conv = (khr > 0 && kwr > 0).then(|| {
                    // output row r (phase row qy0 + r) reads gradient rows qy0 + r − t, t < khr: a
                    // stride-1 convolution with padding khr − 1 − qy0 and the taps reversed
                    let t = ConvGeometry { n: g.n, cin: g.cout, h: g.oh, w: g.ow, cout: g.cin, kh: khr, kw: kwr, sy: 1, sx: 1, pad_top: khr - 1 - qy0, pad_left: kwr - 1 - qx0, oh: nqy, ow: nqx };
                    let plan = Plan::new(&t, |ci, co, a, b| w[co * k + (ci * g.kh + (khr - 1 - a) * g.sy + ry) * g.kw + (kwr - 1 - b) * g.sx + rx], |_| 0.0);
                    Forward { g: t, plan, relu: false }
                });
                parts.push(InputPhase { ry, rx, qy0, qx0, nqy, nqx, conv });
            }
        }
        Some(InputGrad { g: *g, parts })
    }

    /// At stride 1 the one phase is the whole input gradient, written in place.
    fn in_place(&self) -> bool {
        self.g.unit_strides()
    }

    /// Floats of scratch [`InputGrad::image`] needs: every phase's gradient (none at stride 1).
    pub(crate) fn scratch_len(&self) -> usize {
        if self.in_place() {
            0
        } else {
            self.parts.iter().map(|p| self.g.cin * p.nqy * p.nqx).sum()
        }
    }

    /// Every image of the batch's output gradient `dy`, spread over the rayon pool.
    fn batch(&self, dy: &[f32]) -> Vec<f32> {
        let g = &self.g;
        let (per_dy, per_dx) = (g.cout * g.oh * g.ow, g.cin * g.h * g.w);
        // SAFETY: `image` writes all of each image's input gradient.
        unsafe { super::par_build_written(g.n * per_dx, per_dx, |i, dxi| super::with_outer_scratch(self.scratch_len(), 0, |scratch, _| self.image(&dy[i * per_dy..(i + 1) * per_dy], dxi, scratch))) }
    }

    /// One image's input gradient (`cin × h × w`, every value written) from its output gradient
    /// `dyi` (`cout × oh × ow`); `scratch` holds [`InputGrad::scratch_len`] floats.
    pub(crate) fn image(&self, dyi: &[f32], dxi: &mut [std::mem::MaybeUninit<f32>], scratch: &mut [f32]) {
        let g = &self.g;
        assert!(dxi.len() == g.cin * g.h * g.w && scratch.len() >= self.scratch_len(), "input gradient: {} values, {} scratch, for {g:?}", dxi.len(), scratch.len());
        if self.in_place() {
            // stride 1: one phase, q = i (qy0 = pad_top, nqy = h), and the kernel reaches it
            let conv = self.parts[0].conv.as_ref().expect("a stride-1 convolution has taps on its one phase");
            return conv.image(dyi, dxi);
        }
        let mut rest = &mut scratch[..];
        let mut outs = Vec::with_capacity(self.parts.len());
        for part in &self.parts {
            let (out, tail) = std::mem::take(&mut rest).split_at_mut(g.cin * part.nqy * part.nqx);
            rest = tail;
            match &part.conv {
                // SAFETY: f32 and MaybeUninit<f32> share a layout; `image` only writes.
                Some(conv) => conv.image(dyi, unsafe { &mut *(out as *mut [f32] as *mut [std::mem::MaybeUninit<f32>]) }),
                None => out.fill(0.0),
            }
            outs.push(&*out);
        }
        // interleave: input row iy = qy·sy + ry − pad_top takes its columns from the phases of
        // residue ry, column q·sx + rx − pad_left from phase (ry, rx)
        fn row_of<'a>(g: &ConvGeometry, part: &InputPhase, out: &'a [f32], c: usize, iy: usize) -> Option<(&'a [f32], usize)> {
            let r = ((iy + g.pad_top) / g.sy).checked_sub(part.qy0).filter(|&r| r < part.nqy)?;
            Some((&out[(c * part.nqy + r) * part.nqx..][..part.nqx], part.qx0))
        }
        // the phases of each residue ry, in rx order
        let by_residue: Vec<Vec<(&InputPhase, &[f32])>> = (0..g.sy).map(|ry| self.parts.iter().zip(&outs).filter(|(p, _)| p.ry == ry).map(|(p, o)| (p, *o)).collect()).collect();
        // channel by channel, row by row: `dx` is written in order (taking all channels of one
        // row before the next row, a plane apart each, this was 11% of the fingers net's step
        // instead of 5%)
        for c in 0..g.cin {
            for iy in 0..g.h {
                let row = &by_residue[(iy + g.pad_top) % g.sy];
                let dst = &mut dxi[(c * g.h + iy) * g.w..][..g.w];
                #[cfg(target_arch = "x86_64")]
                if let [(p0, o0), (p1, o1)] = row[..] {
                    if g.sx == 2 {
                        let ((s0, q0), (s1, q1)) = (row_of(g, p0, o0, c, iy).expect("phase row"), row_of(g, p1, o1, c, iy).expect("phase row"));
                        // SAFETY: AVX-512F is present (callers check `available()`); the two
                        // phase rows cover every column of the row (see `avx512::interleave2`).
                        unsafe { avx512::interleave2(s0, q0, s1, q1, g.pad_left, dst) };
                        continue;
                    }
                }
                for &(part, out) in row {
                    let (src, q0) = row_of(g, part, out, c, iy).expect("phase row");
                    let first = q0 * g.sx + part.rx - g.pad_left;
                    for (d, &v) in dst[first..].iter_mut().step_by(g.sx).zip(src) {
                        d.write(v);
                    }
                }
            }
        }
    }
}

/// A convolution's output gradient, one image at a time.
pub(crate) trait OutputGrad: Sync {
    /// Image `i`'s output gradient (`cout × oh × ow`): borrowed, or written into `scratch` (that
    /// long, contents left over from earlier calls).
    fn image<'a>(&'a self, i: usize, scratch: &'a mut [f32]) -> &'a [f32];
}

/// A whole batch's output gradient in memory, `per_image` values per image; with the ReLU's
/// output `relu_output`, passed back through that ReLU (masked where the output is 0) as each
/// image is taken, instead of in a pass of its own over the batch.
pub(crate) struct BatchGrad<'a> {
    pub dy: &'a [f32],
    pub relu_output: Option<&'a [f32]>,
    pub per_image: usize,
}

impl OutputGrad for BatchGrad<'_> {
    fn image<'a>(&'a self, i: usize, scratch: &'a mut [f32]) -> &'a [f32] {
        let span = i * self.per_image..(i + 1) * self.per_image;
        match self.relu_output {
            None => &self.dy[span],
            Some(y) => {
                for ((d, &g), &v) in scratch.iter_mut().zip(&self.dy[span.clone()]).zip(&y[span]) {
                    // the mask as bits: a branch on the sign mispredicts
                    *d = f32::from_bits(g.to_bits() & ((v > 0.0) as u32).wrapping_neg());
                }
                &scratch[..self.per_image]
            }
        }
    }
}

/// Kernel gradient `dw[co][k] = Σ_pixels dy[co][p] · x[tap k of p]` over the batch, as a
/// `Cout × K` matrix, and bias gradient `db[co] = Σ dy[co]`: [`conv_backward`] without the
/// input gradient. Only call when [`available`].
pub(crate) fn conv_weight_grad(g: &ConvGeometry, x: &[f32], dy: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (_, dw, db) = conv_backward(g, x, &BatchGrad { dy, relu_output: None, per_image: g.cout * g.oh * g.ow }, None);
    (dw, db)
}

/// A raw output pointer shared by threads that write disjoint parts of it.
#[derive(Clone, Copy)]
struct SharedOut(*mut std::mem::MaybeUninit<f32>);
// SAFETY: only used to hand each thread its own, disjoint images of one buffer (see `conv_backward`).
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    /// `len` values from offset `at`.
    ///
    /// # Safety
    /// The range must lie in the buffer and no other live slice may overlap it.
    unsafe fn slice<'a>(self, at: usize, len: usize) -> &'a mut [std::mem::MaybeUninit<f32>] {
        std::slice::from_raw_parts_mut(self.0.add(at), len)
    }
}

/// Kernel and bias gradients (see [`conv_weight_grad`]) and, with the kernel `w` given, the input
/// gradient ([`InputGrad`]), image by image: each image's output gradient is
/// produced or read once (`dy`, e.g. a pooling's gradient scattered straight into cache) and
/// serves both. `None` for the input gradient when `w` is `None` or [`input_grad_supported`] is false.
///
/// Each thread accumulates `dwᵀ` (K × Cout) over its share of the images in register tiles of
/// kernel elements × 16-channel vectors: per pixel, input values are broadcast from the padded
/// phases and multiplied with that pixel's output-gradient channels (the image's `dy` transposed
/// once to pixel-major), so no lanes are wasted at row ends and nothing is reduced across lanes.
/// The bias gradient is summed per thread while each image's `dy` is at hand (a separate pass
/// was single-threaded). Only call when [`available`].
pub(crate) fn conv_backward(g: &ConvGeometry, x: &[f32], dy: &impl OutputGrad, w: Option<&[f32]>) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    use rayon::prelude::*;
    let mut taps = taps(g);
    let k = taps.len();
    // whole tiles: extra taps repeat tap 0 and their rows are dropped
    let kpad = k.next_multiple_of(weight_grad_tile_shape(g.cout).0);
    taps.resize(kpad, taps[0]);
    let (p, image) = (g.oh * g.ow, g.cin * g.h * g.w);
    let phases_len = g.cin * padded_rows(g) * g.sx * g.phase_width();
    // output rows per pixel block: the block's transposed gradient (at most 32 KiB) stays in L1,
    // and each tile call runs over enough pixels to pay for loading and storing its accumulators
    let rows = (8192 / (g.ow * g.cout).max(1)).clamp(1, g.oh);
    let threads = rayon::current_num_threads().max(1);
    let per = g.n.div_ceil(threads);
    let input_grad = w.and_then(|w| InputGrad::new(g, w));
    let phase_scratch = input_grad.as_ref().map_or(0, InputGrad::scratch_len);
    let mut dx: Vec<f32> = Vec::with_capacity(if input_grad.is_some() { g.n * image } else { 0 });
    let dx_out = SharedOut(dx.spare_capacity_mut().as_mut_ptr());
    let partials: Vec<(Vec<f32>, Vec<f32>)> = (0..g.n.div_ceil(per))
        .into_par_iter()
        .map(|t| {
            let (mut acc, mut bias) = (vec![0f32; kpad * g.cout], vec![0f32; g.cout]);
            super::with_outer_scratch(g.cout * p, phase_scratch, |dy_scratch, phase_out| {
                for i in t * per..((t + 1) * per).min(g.n) {
                    let dyi = dy.image(i, dy_scratch);
                    // a tile's channel-vector loads run up to 16 · WC values past its first channel
                    super::with_scratch(phases_len, p * g.cout + 16 * WIDE.1.max(NARROW.1), |phases, dyt| {
                        padded_phases(g, &x[i * image..(i + 1) * image], phases);
                        for (b, plane) in bias.iter_mut().zip(dyi.chunks_exact(p)) {
                            *b += super::sum_f32(plane);
                        }
                        #[cfg(target_arch = "x86_64")]
                        // SAFETY: AVX-512F is present (`available()`); `dyi` holds `cout` planes
                        // of `p` and `dyt` `p × cout` values.
                        unsafe {
                            avx512::transpose_planes(dyi, p, g.cout, dyt)
                        };
                        for oy0 in (0..g.oh).step_by(rows) {
                            let oy1 = (oy0 + rows).min(g.oh);
                            #[cfg(target_arch = "x86_64")]
                            // SAFETY: AVX-512F is present; the taps and row offsets come from the
                            // geometry that sized `phases`; `dyt` holds `p × cout` values and the
                            // slack of full channel-vector loads (see above), `acc` `kpad × cout`,
                            // and its loads and stores of channel vectors past `cout` are masked.
                            unsafe {
                                avx512::weight_grad_rows(g, &taps, oy0..oy1, phases, dyt, &mut acc)
                            }
                        }
                    });
                    if let Some(f) = &input_grad {
                        // SAFETY: image `i` of `dx` (capacity `n × image`) is written by this
                        // thread alone: the threads' image ranges are disjoint.
                        let dxi = unsafe { dx_out.slice(i * image, image) };
                        f.image(dyi, dxi, phase_out);
                    }
                }
            });
            (acc, bias)
        })
        .collect();
    let dx = input_grad.map(|_| {
        // SAFETY: every image's input gradient was written in full above (`Forward::image`).
        unsafe { dx.set_len(g.n * image) };
        dx
    });
    // summed in thread order, not in rayon's (work-stealing dependent) reduction tree: the same
    // seed gives the same gradients, run after run
    let (mut acc, mut db) = (vec![0f32; kpad * g.cout], vec![0f32; g.cout]);
    for (part, bias) in partials {
        acc.iter_mut().zip(part).for_each(|(a, b)| *a += b);
        db.iter_mut().zip(bias).for_each(|(a, b)| *a += b);
    }
    let mut dw = vec![0f32; g.cout * k];
    for (co, row) in dw.chunks_exact_mut(k).enumerate() {
        row.iter_mut().zip(acc[co..].iter().step_by(g.cout)).for_each(|(d, a)| *d = *a);
    }
    (dx, dw, db)
}

/// `act(conv(img, w) + b)` of one image into `yi`; writes every value of `yi` (`cout × oh × ow`).
fn image_into(g: &ConvGeometry, plan: &Plan, img: &[f32], yi: &mut [std::mem::MaybeUninit<f32>], relu: bool) {
    let (p, jw) = (g.oh * g.ow, g.phase_width());
    assert!(img.len() == g.cin * g.h * g.w && yi.len() == g.cout * p, "convolution: image of {} values, output of {}, for {g:?}", img.len(), yi.len());
    // wide-grid vectors read up to `kw - 1` cells past the last phase row, and every vector loads
    // all 16 lanes (lanes past a row's end are computed and not stored; a partial pixel run
    // broadcasts up to 15 cells past its row): slack for all
    let slack = g.kw + 16;
    let phases_len = g.cin * padded_rows(g) * g.sx * jw + slack;
    let wide_len = if plan.wide { g.cout * g.oh * jw } else { 0 };
    super::with_scratch(phases_len, wide_len, |phases, wide| {
        padded_phases(g, img, phases);
        phases[phases_len - slack..].fill(0.0);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `available()` was checked by the caller (AVX-512F present); every load the
        // kernel forms is 16 lanes from a tap plus a vector's input offset (or one cell at a
        // tap plus a run's offset plus a pixel below 16), all derived from the geometry that
        // sized `phases`, whose slack covers what a row's last vector or run reads past the
        // row (and the wide grid's overhang); output offsets lie within one image's output
        // (`yi`, checked above, or the wide buffer of `cout × oh × jw`). The tiles cover every
        // channel and every pixel vector, whose masks cover every pixel (or every run, whose
        // lengths cover every pixel): all of `yi` is written.
        unsafe {
            if !plan.runs.is_empty() {
                avx512::image_channels(g, plan, phases, yi.as_mut_ptr().cast(), relu);
            } else if plan.wide {
                avx512::image(g, plan, phases, wide.as_mut_ptr(), g.oh * jw, relu);
            } else {
                avx512::image(g, plan, phases, yi.as_mut_ptr().cast(), p, relu);
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        yi.iter_mut().for_each(|v| {
            v.write(0.0);
        });
        if plan.wide {
            for (dst, src) in yi.chunks_exact_mut(g.ow).zip(wide.chunks_exact(jw)) {
                dst.iter_mut().zip(&src[..g.ow]).for_each(|(d, &v)| {
                    d.write(v);
                });
            }
        }
    })
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{ConvGeometry, PixelRun, PixelVector, Plan, NARROW, WIDE};

    /// [`super::copy_strided`] for strides 2 and 4: each 16 outputs are one permute of two
    /// vectors (stride 2) or two permutes and a lane shuffle of four (stride 4); the last, partial
    /// group loads and stores under masks, reading nothing past `src`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn copy_strided(src: &[f32], s: usize, dst: &mut [f32]) {
        let (n, len) = (dst.len(), src.len());
        let lanes = |count: usize| -> __mmask16 {
            match count {
                0 => 0,
                1..=15 => (1u16 << count) - 1,
                _ => u16::MAX,
            }
        };
        let quarter = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
        let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let pick = |v: [__m512; 4]| {
            if s == 2 {
                _mm512_permutex2var_ps(v[0], even, v[1])
            } else {
                let lo = _mm512_permutex2var_ps(v[0], quarter, v[1]);
                let hi = _mm512_permutex2var_ps(v[2], quarter, v[3]);
                _mm512_shuffle_f32x4::<0x44>(lo, hi)
            }
        };
        let (base, out) = (src.as_ptr(), dst.as_mut_ptr());
        let mut i = 0;
        // whole groups: 16 outputs from `16 · s` values
        while i + 16 <= n && (i + 16) * s <= len {
            let v = std::array::from_fn(|j| if j < s { _mm512_loadu_ps(base.add(i * s + 16 * j)) } else { _mm512_setzero_ps() });
            _mm512_storeu_ps(out.add(i), pick(v));
            i += 16;
        }
        // the rest under masks (masked-off lanes are not read)
        while i < n {
            let avail = len - i * s;
            let v = std::array::from_fn(|j| if j < s { _mm512_maskz_loadu_ps(lanes(avail.saturating_sub(16 * j)), base.wrapping_add(i * s + 16 * j)) } else { _mm512_setzero_ps() });
            _mm512_mask_storeu_ps(out.add(i), lanes(n - i), pick(v));
            i += 16;
        }
    }

    /// All tiles of one image with the channel-vector kernel, into the image's output planes
    /// (`out`, `cout × p`).
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn image_channels(g: &ConvGeometry, plan: &Plan, phases: &[f32], out: *mut f32, relu: bool) {
        match (plan.nv, plan.mr / 16) {
            (12, 2) => image_channel_tiles::<12, 2>(g, plan, phases, out, relu),
            _ => image_channel_tiles::<14, 2>(g, plan, phases, out, relu),
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn image_channel_tiles<const R: usize, const C: usize>(g: &ConvGeometry, plan: &Plan, phases: &[f32], out: *mut f32, relu: bool) {
        let (k, mr, p) = (plan.taps.len(), 16 * C, g.oh * g.ow);
        for t in 0..g.cout.div_ceil(mr) {
            let channels = (g.cout - t * mr).min(mr);
            for run in &plan.runs {
                channel_tile::<R, C>(k, plan.packed.as_ptr().add(t * k * mr), plan.taps.as_ptr(), phases.as_ptr(), run, plan.bias.as_ptr().add(t * mr), out.add(t * mr * p + run.output), p, channels, relu);
            }
        }
    }

    /// `out[c][r] = act(bias[c] + Σ_k src[taps[k] + run.input + r] · a[k][c])` for the run's
    /// pixels `r` and the tile's first `channels` channels (`p` apart in `out`). The
    /// accumulators hold pixels × channel vectors; each channel vector's block is transposed in
    /// registers to rows of pixels for the stores (gathering them from a pixel-major buffer
    /// afterwards cost 3% of the faces net's step).
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    #[inline]
    unsafe fn channel_tile<const R: usize, const C: usize>(
        k: usize,
        a: *const f32,
        taps: *const isize,
        src: *const f32,
        run: &PixelRun,
        bias: *const f32,
        out: *mut f32,
        p: usize,
        channels: usize,
        relu: bool,
    ) {
        let mut acc = [[_mm512_setzero_ps(); C]; R];
        let first = src.wrapping_offset(run.input);
        for kk in 0..k {
            let at = first.wrapping_offset(*taps.add(kk));
            let ak = a.add(kk * 16 * C);
            let w: [__m512; C] = std::array::from_fn(|c| _mm512_loadu_ps(ak.add(16 * c)));
            for (r, row) in acc.iter_mut().enumerate() {
                // pixels past a partial run's end read neighbouring cells and are not stored
                let b = _mm512_set1_ps(*at.add(r));
                for c in 0..C {
                    row[c] = _mm512_fmadd_ps(b, w[c], row[c]);
                }
            }
        }
        let zero = _mm512_setzero_ps();
        let mask: __mmask16 = if run.len >= 16 { u16::MAX } else { (1u16 << run.len) - 1 };
        for c in 0..C {
            let bc = _mm512_loadu_ps(bias.add(16 * c));
            let block: [__m512; 16] = std::array::from_fn(|r| {
                if let Some(row) = acc.get(r) {
                    let v = _mm512_add_ps(row[c], bc);
                    if relu {
                        // operands in this order: `maxps` returns the second when either is NaN,
                        // so NaN propagates as in TensorFlow's ReLU (see `cpu::relu`)
                        _mm512_max_ps(zero, v)
                    } else {
                        v
                    }
                } else {
                    zero
                }
            });
            let planes = transpose16(block);
            for (i, v) in planes.iter().enumerate() {
                if 16 * c + i < channels {
                    _mm512_mask_storeu_ps(out.add((16 * c + i) * p), mask, *v);
                }
            }
        }
    }

    /// The transpose of a 16 × 16 block held as 16 rows: in-lane unpacks and shuffles, then two
    /// rounds of 128-bit lane shuffles (64 shuffles in all).
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(super) unsafe fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
        // pairs of rows interleaved: t[2i] = (r[2i][0], r[2i+1][0], r[2i][1], r[2i+1][1], ...) per 128-bit lane
        let t: [__m512; 16] = std::array::from_fn(|j| if j % 2 == 0 { _mm512_unpacklo_ps(r[j], r[j + 1]) } else { _mm512_unpackhi_ps(r[j - 1], r[j]) });
        // groups of four rows: u[4i + m] holds column m (of each 128-bit lane) of rows 4i..4i+4
        let u: [__m512; 16] = std::array::from_fn(|j| {
            let (base, m) = (j / 4 * 4, j % 4);
            let (a, b) = (t[base + m / 2], t[base + 2 + m / 2]);
            if m % 2 == 0 {
                _mm512_shuffle_ps::<0x44>(a, b)
            } else {
                _mm512_shuffle_ps::<0xEE>(a, b)
            }
        });
        // 128-bit lanes: v[j] takes lanes (0, 2) or (1, 3) of u[j % 4 + 8 * (j / 8)] and u[.. + 4]
        let v: [__m512; 16] = std::array::from_fn(|j| {
            let (base, m, hi) = (j / 8 * 8, j % 4, (j / 4) % 2);
            let (a, b) = (u[base + m], u[base + 4 + m]);
            if hi == 0 {
                _mm512_shuffle_f32x4::<0x88>(a, b)
            } else {
                _mm512_shuffle_f32x4::<0xDD>(a, b)
            }
        });
        std::array::from_fn(|j| {
            let (m, hi) = (j % 8, j / 8);
            if hi == 0 {
                _mm512_shuffle_f32x4::<0x88>(v[m], v[m + 8])
            } else {
                _mm512_shuffle_f32x4::<0xDD>(v[m], v[m + 8])
            }
        })
    }

    /// All tiles of one image: for each group of `NV` pixel vectors, every channel tile.
    #[target_feature(enable = "avx512f")]
    /// `p`: the distance between output channels in `out`.
    pub(super) unsafe fn image(g: &ConvGeometry, plan: &Plan, phases: &[f32], out: *mut f32, p: usize, relu: bool) {
        match (plan.mr, plan.nv) {
            (8, 2) => image_tiles::<8, 2>(g, plan, phases, out, p, relu),
            (4, 5) => image_tiles::<4, 5>(g, plan, phases, out, p, relu),
            (16, 1) => image_tiles::<16, 1>(g, plan, phases, out, p, relu),
            _ => image_tiles::<8, 3>(g, plan, phases, out, p, relu),
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn image_tiles<const MR: usize, const NV: usize>(g: &ConvGeometry, plan: &Plan, phases: &[f32], out: *mut f32, p: usize, relu: bool) {
        let k = plan.taps.len();
        for t in 0..g.cout.div_ceil(MR) {
            let rows = (g.cout - t * MR).min(MR);
            // the plan pads the vectors to whole groups of `NV`
            for group in plan.vectors.as_chunks::<NV>().0 {
                tile::<MR, NV>(k, plan.packed.as_ptr().add(t * k * MR), plan.taps.as_ptr(), phases.as_ptr(), group, plan.bias.as_ptr().add(t * MR), out.add(t * MR * p), p, rows, relu);
            }
        }
    }

    /// One input-gradient row at horizontal stride 2 from its two phase rows: column `X − pad`
    /// (`X` the padded column) is `even[X/2 − q_even]` for even `X`, `odd[X/2 − q_odd]` for odd,
    /// 16 pairs per step (one permute each for the low and high 16 columns); loads and stores
    /// outside the rows are masked off. Every column must fall on one of the two rows.
    ///
    /// # Safety
    /// AVX-512F must be present.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn interleave2(even: &[f32], q_even: usize, odd: &[f32], q_odd: usize, pad: usize, dst: &mut [std::mem::MaybeUninit<f32>]) {
        let w = dst.len() as isize;
        if w == 0 {
            return;
        }
        // lanes l with lo ≤ l < hi
        let lanes = |lo: isize, hi: isize| -> __mmask16 {
            let (lo, hi) = (lo.clamp(0, 16), hi.clamp(0, 16));
            if lo >= hi {
                0
            } else {
                (((1u32 << hi) - 1) & !((1u32 << lo) - 1)) as u16
            }
        };
        let lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        let hi_idx = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        let (pad, out) = (pad as isize, dst.as_mut_ptr().cast::<f32>());
        let (m_first, m_last) = (pad / 2, (pad + w - 1) / 2);
        let mut m = m_first;
        while m <= m_last {
            let (j0, j1) = (m - q_even as isize, m - q_odd as isize);
            let a = _mm512_maskz_loadu_ps(lanes(-j0, even.len() as isize - j0), even.as_ptr().wrapping_offset(j0));
            let b = _mm512_maskz_loadu_ps(lanes(-j1, odd.len() as isize - j1), odd.as_ptr().wrapping_offset(j1));
            let base = 2 * m - pad;
            _mm512_mask_storeu_ps(out.wrapping_offset(base), lanes(-base, w - base), _mm512_permutex2var_ps(a, lo_idx, b));
            _mm512_mask_storeu_ps(out.wrapping_offset(base + 16), lanes(-base - 16, w - base - 16), _mm512_permutex2var_ps(a, hi_idx, b));
            m += 16;
        }
    }

    /// `dyt[px][c] = dy[c][px]` for `cout` planes of `p` pixels, in blocks of 16 channels × 16
    /// pixels transposed in registers (gathering 16 channels per pixel was 1.5% of the faces net's
    /// step, a scalar transpose 3%).
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn transpose_planes(dy: &[f32], p: usize, cout: usize, dyt: &mut [f32]) {
        let lanes = |n: usize| -> __mmask16 { if n >= 16 { u16::MAX } else { (1u16 << n) - 1 } };
        let (src, dst) = (dy.as_ptr(), dyt.as_mut_ptr());
        for c0 in (0..cout).step_by(16) {
            let (channels, zero) = ((cout - c0).min(16), _mm512_setzero_ps());
            for p0 in (0..p).step_by(16) {
                let pixels = (p - p0).min(16);
                let rows: [__m512; 16] = std::array::from_fn(|i| match (i < channels, pixels == 16) {
                    (false, _) => zero,
                    (true, true) => _mm512_loadu_ps(src.add((c0 + i) * p + p0)),
                    (true, false) => _mm512_maskz_loadu_ps(lanes(pixels), src.add((c0 + i) * p + p0)),
                });
                for (j, v) in transpose16(rows).iter().enumerate().take(pixels) {
                    _mm512_mask_storeu_ps(dst.add((p0 + j) * cout + c0), lanes(channels), *v);
                }
            }
        }
    }

    /// Adds output rows `oys` of one image to `acc` (`kpad × cout`, dwᵀ).
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn weight_grad_rows(g: &ConvGeometry, taps: &[isize], oys: std::ops::Range<usize>, phases: &[f32], dyt: &[f32], acc: &mut [f32]) {
        if super::weight_grad_tile_shape(g.cout) == WIDE {
            weight_grad_tiles::<{ WIDE.0 }, { WIDE.1 }>(g, taps, oys, phases, dyt, acc)
        } else {
            weight_grad_tiles::<{ NARROW.0 }, { NARROW.1 }>(g, taps, oys, phases, dyt, acc)
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn weight_grad_tiles<const WK: usize, const WC: usize>(g: &ConvGeometry, taps: &[isize], oys: std::ops::Range<usize>, phases: &[f32], dyt: &[f32], acc: &mut [f32]) {
        for k0 in (0..taps.len()).step_by(WK) {
            let tk: [isize; WK] = std::array::from_fn(|j| taps[k0 + j]);
            for c0 in (0..g.cout).step_by(16 * WC) {
                weight_grad_tile::<WK, WC>(g, &tk, oys.clone(), phases.as_ptr(), dyt.as_ptr().add(c0), acc.as_mut_ptr().add(k0 * g.cout + c0), g.cout - c0);
            }
        }
    }

    /// One `WK × (16·WC)` tile of dwᵀ: `acc[j][c] += Σ_pixels x[tap j] · dyt[pixel][c]`, for the
    /// first `channels` channels.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn weight_grad_tile<const WK: usize, const WC: usize>(g: &ConvGeometry, taps: &[isize; WK], oys: std::ops::Range<usize>, src: *const f32, dyt: *const f32, acc: *mut f32, channels: usize) {
        let masks: [__mmask16; WC] = std::array::from_fn(|v| {
            let lanes = channels.saturating_sub(16 * v).min(16);
            if lanes == 16 {
                u16::MAX
            } else {
                (1u16 << lanes) - 1
            }
        });
        let mut sum: [[__m512; WC]; WK] = std::array::from_fn(|j| std::array::from_fn(|v| _mm512_maskz_loadu_ps(masks[v], acc.wrapping_add(j * g.cout + 16 * v))));
        let row_step = (g.sy * g.sx * (g.ow + (g.kw - 1) / g.sx)) as isize;
        for oy in oys {
            let input = src.wrapping_offset(oy as isize * row_step);
            let mut d_row = dyt.add(oy * g.ow * g.cout);
            for ox in 0..g.ow {
                // full loads, as in `tile`: lanes past `channels` accumulate into lanes that are
                // not stored (`dyt` has `16 · WC` values of slack)
                let d: [__m512; WC] = std::array::from_fn(|v| _mm512_loadu_ps(d_row.wrapping_add(16 * v)));
                let at = input.add(ox);
                for (j, row) in sum.iter_mut().enumerate() {
                    let b = _mm512_set1_ps(*at.wrapping_offset(taps[j]));
                    for v in 0..WC {
                        row[v] = _mm512_fmadd_ps(b, d[v], row[v]);
                    }
                }
                d_row = d_row.add(g.cout);
            }
        }
        for (j, row) in sum.iter().enumerate() {
            for v in 0..WC {
                _mm512_mask_storeu_ps(acc.wrapping_add(j * g.cout + 16 * v), masks[v], row[v]);
            }
        }
    }

    /// `out[i][v] = act(bias[i] + Σ_k a[k][i] · src[taps[k] + v.input])` for `i < rows`.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    #[inline]
    unsafe fn tile<const MR: usize, const NV: usize>(
        k: usize,
        a: *const f32,
        taps: *const isize,
        src: *const f32,
        vectors: &[PixelVector; NV],
        bias: *const f32,
        out: *mut f32,
        p: usize,
        rows: usize,
        relu: bool,
    ) {
        let mut acc = [[_mm512_setzero_ps(); NV]; MR];
        let inputs: [*const f32; NV] = std::array::from_fn(|v| src.wrapping_offset(vectors[v].input));
        let masks: [__mmask16; NV] = std::array::from_fn(|v| vectors[v].mask);
        for kk in 0..k {
            let tap = *taps.add(kk);
            // full loads: a masked load costs an extra uop on the FMA ports (forward passes 9%
            // slower); lanes past a row's end read neighbouring cells and are not stored
            let b: [__m512; NV] = std::array::from_fn(|v| _mm512_loadu_ps(inputs[v].wrapping_offset(tap)));
            let ak = a.add(kk * MR);
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = _mm512_set1_ps(*ak.add(i));
                for v in 0..NV {
                    row[v] = _mm512_fmadd_ps(ai, b[v], row[v]);
                }
            }
        }
        let zero = _mm512_setzero_ps();
        for (i, row) in acc.iter().enumerate().take(rows) {
            let bi = _mm512_set1_ps(*bias.add(i));
            for v in 0..NV {
                let mut r = _mm512_add_ps(row[v], bi);
                if relu {
                    // NaN propagates: `maxps` returns its second operand when either is NaN
                    r = _mm512_max_ps(zero, r);
                }
                _mm512_mask_storeu_ps(out.add(i * p).wrapping_offset(vectors[v].output), masks[v], r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calls `f(x index, w index, y index)` for every output pixel and kernel tap that reads a
    /// real (not padding) input: the definition of the convolution, for the f64 references.
    fn each_tap(g: &ConvGeometry, mut f: impl FnMut(usize, usize, usize)) {
        for n in 0..g.n {
            for co in 0..g.cout {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        for c in 0..g.cin {
                            for ky in 0..g.kh {
                                for kx in 0..g.kw {
                                    let (iy, ix) = ((oy * g.sy + ky) as isize - g.pad_top as isize, (ox * g.sx + kx) as isize - g.pad_left as isize);
                                    if iy >= 0 && ix >= 0 && (iy as usize) < g.h && (ix as usize) < g.w {
                                        let xi = ((n * g.cin + c) * g.h + iy as usize) * g.w + ix as usize;
                                        f(xi, ((co * g.cin + c) * g.kh + ky) * g.kw + kx, ((n * g.cout + co) * g.oh + oy) * g.ow + ox);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Direct convolution in f64, the reference.
    fn naive(g: &ConvGeometry, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f64> {
        let p = g.oh * g.ow;
        let mut y: Vec<f64> = (0..g.n * g.cout * p).map(|i| b[i / p % g.cout] as f64).collect();
        each_tap(g, |xi, wi, yi| y[yi] += x[xi] as f64 * w[wi] as f64);
        y
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2654435761).wrapping_add(12345);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    fn geometry(n: usize, cin: usize, h: usize, w: usize, cout: usize, kk: usize, stride: usize, same: bool) -> ConvGeometry {
        geometry2(n, cin, h, w, cout, (kk, kk), (stride, stride), same)
    }

    /// [`geometry`] with any kernel and strides.
    #[allow(clippy::too_many_arguments)]
    fn geometry2(n: usize, cin: usize, h: usize, w: usize, cout: usize, (kh, kw): (usize, usize), (sy, sx): (usize, usize), same: bool) -> ConvGeometry {
        let (oh, ow, pad_top, pad_left) = if same {
            let (oh, ow) = (h.div_ceil(sy), w.div_ceil(sx));
            let ph = ((oh - 1) * sy + kh).saturating_sub(h);
            let pw = ((ow - 1) * sx + kw).saturating_sub(w);
            (oh, ow, ph / 2, pw / 2)
        } else {
            ((h - kh) / sy + 1, (w - kw) / sx + 1, 0, 0)
        };
        ConvGeometry { n, cin, h, w, cout, kh, kw, sy, sx, pad_top, pad_left, oh, ow }
    }

    #[test]
    fn strided_copies_match_the_scalar_definition() {
        for s in 1..=5 {
            for n in [1, 5, 15, 16, 17, 31, 32, 33, 56, 57] {
                for extra in 0..s {
                    let src: Vec<f32> = (0..(n - 1) * s + 1 + extra).map(|i| i as f32).collect();
                    let mut dst = vec![-1f32; n];
                    copy_strided(&src, s, &mut dst);
                    let want: Vec<f32> = (0..n).map(|i| (i * s) as f32).collect();
                    assert_eq!(dst, want, "stride {s}, {n} values, {} source values", src.len());
                }
            }
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn transpose16_transposes() {
        use std::arch::x86_64::*;
        if !available() {
            return;
        }
        let m: Vec<f32> = (0..256).map(|i| i as f32).collect();
        let mut got = vec![0f32; 256];
        // SAFETY: AVX-512F is present; `m` and `got` hold 16 rows of 16.
        unsafe {
            let rows: [__m512; 16] = std::array::from_fn(|i| _mm512_loadu_ps(m.as_ptr().add(16 * i)));
            for (i, v) in avx512::transpose16(rows).iter().enumerate() {
                _mm512_storeu_ps(got.as_mut_ptr().add(16 * i), *v);
            }
        }
        for i in 0..16 {
            for j in 0..16 {
                assert_eq!(got[16 * i + j], m[16 * j + i], "row {i} column {j}");
            }
        }
    }

    #[test]
    fn forward_and_gradients_match_a_naive_convolution() {
        if !available() {
            return;
        }
        let (mut tiles_used, mut channel_tiles_used) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
        for (i, g) in [
            geometry(2, 3, 37, 41, 10, 11, 4, true),
            geometry(2, 5, 20, 21, 17, 5, 1, true),
            geometry(3, 4, 14, 14, 8, 3, 1, true),
            geometry(1, 2, 19, 33, 9, 3, 2, false),
            geometry(1, 2, 35, 35, 6, 4, 2, true),
            geometry(2, 3, 7, 12, 16, 3, 1, true),
            geometry(2, 3, 30, 18, 16, 3, 1, false),
            geometry(1, 3, 9, 10, 40, 3, 1, true),
            geometry(2, 6, 8, 8, 12, 3, 1, true),
            // channel-vector kernel: 14- and 28-wide rows, partial runs, a partial channel tile
            geometry(2, 5, 14, 14, 32, 3, 1, true),
            geometry(1, 3, 28, 28, 40, 5, 1, true),
            geometry(1, 3, 36, 36, 32, 3, 1, false),
            geometry(1, 3, 17, 17, 64, 3, 1, true),
            // unequal strides and kernels
            geometry2(2, 3, 13, 12, 10, (3, 3), (2, 1), true),
            geometry2(1, 2, 11, 17, 9, (2, 3), (1, 2), false),
            geometry2(2, 2, 14, 28, 32, (3, 3), (2, 1), true),
            geometry2(1, 3, 19, 15, 7, (5, 2), (3, 2), true),
            geometry2(1, 2, 9, 30, 12, (1, 4), (1, 4), false),
            // strided input gradients: the fingers net's second layer, a stride beyond the kernel
            // (phases no tap reaches), a 1×1 stride-2 `same` kernel, stride 3 with padding
            geometry(1, 64, 63, 63, 32, 3, 2, false),
            geometry(1, 2, 10, 10, 4, 3, 2, false),
            geometry(1, 3, 10, 11, 5, 1, 2, true),
            geometry2(1, 4, 9, 13, 6, (2, 1), (3, 2), false),
            geometry2(1, 3, 20, 17, 8, (5, 4), (3, 3), true),
        ]
        .into_iter()
        .enumerate()
        {
            let plan = Plan::new(&g, |_, _, _, _| 0.0, |_| 0.0);
            if plan.runs.is_empty() {
                tiles_used.insert((plan.mr, plan.nv));
            } else {
                channel_tiles_used.insert((plan.nv, plan.mr / 16));
            }
            let x = values(g.n * g.cin * g.h * g.w, i as u32);
            let w = values(g.cout * g.cin * g.kh * g.kw, 100 + i as u32);
            let b = values(g.cout, 200 + i as u32);
            let want = naive(&g, &x, &w, &b);
            for relu in [false, true] {
                let got = conv_forward(&g, &x, &w, &b, relu);
                for (j, (&y, &r)) in got.iter().zip(&want).enumerate() {
                    let r = if relu { r.max(0.0) } else { r };
                    assert!((y as f64 - r).abs() < 1e-4 * (1.0 + r.abs()), "case {i} relu {relu} at {j}: {y} vs {r}");
                }
            }
            // dw[co, c, ky, kx] = Σ dy[co, oy, ox] · x[c, tap]
            let dy = values(g.n * g.cout * g.oh * g.ow, 300 + i as u32);
            let (dw, db) = conv_weight_grad(&g, &x, &dy);
            let p = g.oh * g.ow;
            for (co, &d) in db.iter().enumerate() {
                let want: f64 = (0..g.n).flat_map(|i| &dy[(i * g.cout + co) * p..][..p]).map(|&v| v as f64).sum();
                assert!((d as f64 - want).abs() < 1e-3 * (1.0 + want.abs()), "case {i} db[{co}]: {d} vs {want}");
            }
            let mut want_dw = vec![0f64; w.len()];
            each_tap(&g, |xi, wi, yi| want_dw[wi] += dy[yi] as f64 * x[xi] as f64);
            for (j, (&d, &r)) in dw.iter().zip(&want_dw).enumerate() {
                assert!((d as f64 - r).abs() < 1e-3 * (1.0 + r.abs()), "case {i} dw at {j}: {d} vs {r}");
            }
            // dx[c, iy, ix] = Σ dy[co, oy, ox] · w[co, c, ky, kx] over the taps that read (iy, ix)
            let dx = conv_input_grad(&g, &dy, &w).unwrap_or_else(|| panic!("case {i}: no direct input gradient for {g:?}"));
            assert!(input_grad_supported(&g), "case {i}");
            let mut want_dx = vec![0f64; x.len()];
            each_tap(&g, |xi, wi, yi| want_dx[xi] += dy[yi] as f64 * w[wi] as f64);
            for (j, (&d, &r)) in dx.iter().zip(&want_dx).enumerate() {
                assert!((d as f64 - r).abs() < 1e-4 * (1.0 + r.abs()), "case {i} dx at {j}: {d} vs {r}");
            }
            // the fused backward (weight and input gradients image by image) gives the same
            let (fused_dx, _, _) = conv_backward(&g, &x, &BatchGrad { dy: &dy, relu_output: None, per_image: g.cout * g.oh * g.ow }, Some(&w));
            assert_eq!(fused_dx.as_deref(), Some(&dx[..]), "case {i}: fused input gradient");
        }
        assert_eq!(tiles_used, TILES.into_iter().collect(), "every register tile shape is tested");
        // a `same` geometry whose phase 0 would need a negative padding keeps the col2im path
        let unreachable = geometry(1, 2, 4, 7, 3, 3, 3, true);
        assert_eq!((unreachable.pad_top, input_grad_supported(&unreachable)), (1, false));
        assert!(conv_input_grad(&unreachable, &values(18, 1), &values(54, 2)).is_none());
        assert_eq!(channel_tiles_used, CHANNEL_TILES.into_iter().collect(), "every channel-vector tile shape is tested");
    }
}
