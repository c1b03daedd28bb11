//! The fused engine's arithmetic: a register-tiled matrix product and the gate activations.
//!
//! Two products share one loop nest. The exact one ([`Kernel::Exact`], the default) sums every
//! element in the same order (k = 0, 1, ...) with separate multiplies and adds (Rust never fuses
//! them), whatever the CPU or wasm's SIMD width, so training gives the same bits natively and in
//! the browser; the tile shape only decides which elements are computed together, never an
//! element's order. The fast one ([`Kernel::Fused`], `deterministic = false`) contracts each
//! multiply-add into one FMA instruction: about twice the throughput, one rounding instead of two,
//! so its bits differ from the exact kernel's (and from the browser's).

/// How the fused engine multiplies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Separate multiplies and adds in a fixed order: the same bits on every CPU and in wasm.
    Exact,
    /// Fused multiply-adds (native CPUs with FMA only; see [`Kernel::for_training`]).
    Fused,
}

impl Kernel {
    /// The kernel a training asks for: [`Kernel::Fused`] only when `deterministic` is off and
    /// this CPU has FMA (x86-64 with AVX2 + FMA, any aarch64); wasm always multiplies exactly.
    pub fn for_training(deterministic: bool) -> Self {
        if !deterministic && fma_available() {
            Kernel::Fused
        } else {
            Kernel::Exact
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn fma_available() -> bool {
    // `cpu::avx2` means AVX2 *and* FMA, and its dispatch runs the kernels compiled for them.
    strider_base::cpu::avx2()
}

#[cfg(target_arch = "aarch64")]
fn fma_available() -> bool {
    true
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn fma_available() -> bool {
    false
}

/// Rows of `c` computed together: 4 natively; 2 in wasm, whose engines map its SIMD registers
/// onto the host's 16, so a 4 × 16 tile (16 accumulators) would spill.
#[cfg(not(target_family = "wasm"))]
const MR: usize = 4;
#[cfg(target_family = "wasm")]
const MR: usize = 2;
/// Columns computed together by the narrow tile (4 wasm or NEON registers, 2 AVX2 registers, 1
/// AVX-512 register).
const NR: usize = 16;
/// Columns computed together by the wide tile, on CPUs with AVX-512 only: 4 × 64 floats keep 16
/// of its 32 registers of accumulators busy (AVX2 or NEON would spill at that width).
#[cfg(not(target_family = "wasm"))]
const WIDE: usize = 64;

/// Whether this CPU takes the wide tile.
fn wide_tiles() -> bool {
    #[cfg(target_arch = "x86_64")]
    return strider_base::cpu::avx512();
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[inline(always)]
fn madd<const FMA: bool>(acc: f32, a: f32, b: f32) -> f32 {
    if FMA { a.mul_add(b, acc) } else { acc + a * b }
}

/// A left operand: data, row stride and column stride (so a transposed view costs nothing).
pub type Lhs<'a> = (&'a [f32], usize, usize);

/// `c (m×n, row-major) = [c +] a·b`, with `b` row-major, `n` wide.
#[inline(always)]
#[expect(
    clippy::too_many_arguments,
    reason = "a GEMM's shape, operands and kernel"
)]
pub(crate) fn matmul(
    kernel: Kernel,
    m: usize,
    n: usize,
    kd: usize,
    c: &mut [f32],
    accumulate: bool,
    a: Lhs<'_>,
    b: &[f32],
) {
    // wasm never trains with FMA (`Kernel::for_training`) nor takes the wide tile: no code for
    // either there.
    match (kernel, wide_tiles()) {
        #[cfg(not(target_family = "wasm"))]
        (Kernel::Fused, true) => matmul_with::<true, WIDE>(m, n, kd, c, accumulate, a, b),
        #[cfg(not(target_family = "wasm"))]
        (Kernel::Fused, false) => matmul_with::<true, NR>(m, n, kd, c, accumulate, a, b),
        #[cfg(not(target_family = "wasm"))]
        (Kernel::Exact, true) => matmul_with::<false, WIDE>(m, n, kd, c, accumulate, a, b),
        _ => matmul_with::<false, NR>(m, n, kd, c, accumulate, a, b),
    }
}

#[inline(always)]
fn matmul_with<const FMA: bool, const W: usize>(
    m: usize,
    n: usize,
    kd: usize,
    c: &mut [f32],
    accumulate: bool,
    a: Lhs<'_>,
    b: &[f32],
) {
    let (ad, ars, acs) = a;
    assert!(c.len() >= m * n && b.len() >= kd * n);
    if m == 0 || n == 0 {
        return;
    }
    if !accumulate {
        c[..m * n].fill(0.0);
    }
    if kd == 0 {
        return;
    }
    assert!(ad.len() > (m - 1) * ars + (kd - 1) * acs);
    // SAFETY: callers pass i < m and k < kd, so i·ars + k·acs <= (m-1)·ars + (kd-1)·acs < ad.len()
    // (asserted above).
    let at = |i: usize, k: usize| unsafe { *ad.get_unchecked(i * ars + k * acs) };
    let mut i = 0;
    while i + MR <= m {
        let mut j = 0;
        while j + W <= n {
            tile::<W, FMA>((i, j), n, kd, c, &at, b);
            j += W;
        }
        while j + NR <= n {
            tile::<NR, FMA>((i, j), n, kd, c, &at, b);
            j += NR;
        }
        for ii in i..i + MR {
            for jj in j..n {
                let mut s = c[ii * n + jj];
                for k in 0..kd {
                    // SAFETY: k < kd and jj < n, so k·n + jj < kd·n <= b.len() (asserted above).
                    s = madd::<FMA>(s, at(ii, k), unsafe { *b.get_unchecked(k * n + jj) });
                }
                c[ii * n + jj] = s;
            }
        }
        i += MR;
    }
    for ii in i..m {
        let crow = &mut c[ii * n..(ii + 1) * n];
        for k in 0..kd {
            let av = at(ii, k);
            for (x, bv) in crow.iter_mut().zip(&b[k * n..(k + 1) * n]) {
                *x = madd::<FMA>(*x, av, *bv);
            }
        }
    }
}

/// [`madd`] on each of the 16 lanes (`acc[l] + av · b[l]`, or its FMA), written out rather than
/// looped or called: in CI's coverage build every loop iteration and call in this crate bumps an
/// atomic counter, which made the per-element loop a hundred times slower; straight-line code
/// vectorises just the same.
macro_rules! madd16 {
    ($fma:expr, $acc:ident, $av:ident, $b:ident) => {
        if $fma {
            madd16! { @fused $acc $av $b; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 }
        } else {
            madd16! { @exact $acc $av $b; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 }
        }
    };
    (@fused $acc:ident $av:ident $b:ident; $($l:literal)*) => {
        { $( $acc[$l] = $av.mul_add($b[$l], $acc[$l]); )* }
    };
    (@exact $acc:ident $av:ident $b:ident; $($l:literal)*) => {
        { $( $acc[$l] += $av * $b[$l]; )* }
    };
}

/// Rows `i..i+MR`, columns `j..j+W` of `c`, accumulated in registers over every k.
#[inline(always)]
fn tile<const W: usize, const FMA: bool>(
    (i, j): (usize, usize),
    n: usize,
    kd: usize,
    c: &mut [f32],
    at: &impl Fn(usize, usize) -> f32,
    b: &[f32],
) {
    const { assert!(W.is_multiple_of(NR) && NR == 16) };
    debug_assert!(j + W <= n && b.len() >= kd * n && c.len() >= (i + MR) * n);
    let mut acc = [[0f32; W]; MR];
    for (ii, row) in acc.iter_mut().enumerate() {
        row.copy_from_slice(&c[(i + ii) * n + j..(i + ii) * n + j + W]);
    }
    for k in 0..kd {
        // SAFETY: k < kd and j + W <= n, so the W floats from k·n + j lie inside b[..kd·n]
        // (asserted by the caller); read_unaligned needs no alignment.
        let brow: [f32; W] =
            unsafe { std::ptr::read_unaligned(b.as_ptr().add(k * n + j).cast::<[f32; W]>()) };
        for (ii, row) in acc.iter_mut().enumerate() {
            let av = at(i + ii, k);
            for (lanes, bl) in row
                .as_chunks_mut::<NR>()
                .0
                .iter_mut()
                .zip(brow.as_chunks::<NR>().0)
            {
                madd16!(FMA, lanes, av, bl);
            }
        }
    }
    for (ii, row) in acc.iter().enumerate() {
        c[(i + ii) * n + j..(i + ii) * n + j + W].copy_from_slice(row);
    }
}

/// `w` (`rows × cols`, row-major) transposed into `t`.
pub fn transpose_into(w: &[f32], rows: usize, cols: usize, t: &mut Vec<f32>) {
    t.clear();
    t.resize(w.len(), 0.0);
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
}

/// `exp(x)` to about 2e-7 relative error, branch-free so the compiler vectorises the loops that
/// call it (Cephes' polynomial for 2^f on [-0.5, 0.5]).
#[inline(always)]
pub fn fast_exp(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5·2^23: adding it rounds to an integer in the low bits
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    // Integer part from the bits, not an `as` cast: the saturating cast does not vectorise.
    let n_int = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let n = t - MAGIC;
    let f = (x - n * 0.693_359_4) + n * 2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * f + 1.398_199_9e-3) * f + 8.333_452e-3) * f + 4.166_579_6e-2) * f
        + 1.666_666_5e-1)
        * f
        + 5e-1;
    let e = p * f * f + f + 1.0;
    e * f32::from_bits(((n_int + 127) as u32) << 23)
}

#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + fast_exp(-x))
}

#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    2.0 * sigmoid(2.0 * x) - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, kd: usize, a: &[f32], b: &[f32]) -> Vec<f32> {
        let mut c = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                for k in 0..kd {
                    c[i * n + j] += a[i * kd + k] * b[k * n + j];
                }
            }
        }
        c
    }

    #[test]
    fn every_tile_shape_sums_in_k_order_exactly() {
        // Shapes that hit the wide tile, the narrow tile, the column remainder and the row
        // remainder: each element must equal the naive k-ordered sum bit for bit.
        for (m, n, kd) in [
            (4, 64, 3),
            (9, 128, 32),
            (5, 33, 7),
            (3, 80, 5),
            (5, 80, 5),
            (64, 32, 128),
        ] {
            let a: Vec<f32> = (0..m * kd)
                .map(|i| ((i * 7919) % 97) as f32 * 0.013 - 0.6)
                .collect();
            let b: Vec<f32> = (0..kd * n)
                .map(|i| ((i * 104_729) % 89) as f32 * 0.021 - 0.9)
                .collect();
            let want = naive(m, n, kd, &a, &b);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let mut c = vec![0.0f32; m * n];
            matmul(Kernel::Exact, m, n, kd, &mut c, false, (&a, kd, 1), &b);
            assert_eq!(bits(&c), bits(&want), "m={m} n={n} k={kd}");
            // Both tile widths, whichever this CPU takes.
            let mut c = vec![0.0f32; m * n];
            matmul_with::<false, NR>(m, n, kd, &mut c, false, (&a, kd, 1), &b);
            assert_eq!(bits(&c), bits(&want), "narrow m={m} n={n} k={kd}");
            #[cfg(not(target_family = "wasm"))]
            {
                let mut c = vec![0.0f32; m * n];
                matmul_with::<false, WIDE>(m, n, kd, &mut c, false, (&a, kd, 1), &b);
                assert_eq!(bits(&c), bits(&want), "wide m={m} n={n} k={kd}");
            }
            let mut f = vec![0.0f32; m * n];
            matmul(Kernel::Fused, m, n, kd, &mut f, false, (&a, kd, 1), &b);
            for (x, y) in f.iter().zip(&want) {
                assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "fused {x} vs {y}");
            }
        }
    }
}
