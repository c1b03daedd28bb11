//! The distribution of the one-sample two-sided Kolmogorov-Smirnov statistic (scipy's `kstwo`).
//!
//! [`kstwo_sf`] is scipy 1.17's `scipy.stats.kstwo.sf(x, n)`, i.e. `_ksstats._kolmogn(n, x,
//! cdf=False)`. Like scipy it picks a method per (n, x) after Simard & L'Ecuyer (2011): the
//! Ruben-Gambino closed forms near both ends, Durbin's matrix method as Marsaglia, Tsang & Wang
//! (2003) evaluate it, Pomeranz's (1974) recursion, twice the one-sided Smirnov probability, and
//! the Pelz-Good (1976) expansion. The one-sided probability is `scipy.special.smirnov` (xsf's
//! cephes `kolmogorov.h`): the Smirnov / Birnbaum-Tingey sum, with the same cut-offs.
//!
//! Every branch runs in O(n) time or better and O(1) memory except Durbin's (O(k^2), k = ceil(nx),
//! which scipy only uses while k is at most about 140) and Pomeranz's (O(nx), n <= 140).

use std::f64::consts::PI;

/// `ln(2 pi)`, as `np.log(2 * np.pi)`.
const LN_2PI: f64 = 1.837_877_066_409_345_3;
/// 2^128 and 2^-128: the rescaling step scipy uses to keep intermediate products in range.
const TWO_POW_128: f64 = 340_282_366_920_938_463_463_374_607_431_768_211_456.0;
const TWO_POW_M128: f64 = 1.0 / TWO_POW_128;

/// Survival function `P(D_n > x)` of the two-sided one-sample Kolmogorov-Smirnov statistic
/// `D_n`, equal to scipy 1.17's `scipy.stats.kstwo.sf(x, n)`.
///
/// `x <= 0` gives 1, `x >= 1` gives 0, NaN `x` or `n == 0` gives NaN. Runs in at most O(n) time
/// (n above 10^6 costs O(1)) and never panics.
pub fn kstwo_sf(n: u64, x: f64) -> f64 {
    if x.is_nan() || n == 0 {
        return f64::NAN;
    }
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        return clip_prob(1.0 - ruben_gambino_low_cdf(n, t));
    }
    if t >= nf - 1.0 {
        // Ruben-Gambino: for x >= 1 - 1/n the sf is exactly 2 (1 - x)^n.
        return clip_prob(2.0 * (1.0 - x).powf(nf));
    }
    if x >= 0.5 {
        // D_n^+ > x and D_n^- > x cannot both hold once x >= 1/2, so the sf is twice the one-sided.
        return clip_prob(2.0 * smirnov_sf(n, x));
    }
    let nx2 = t * x;
    if n <= 140 {
        return small_n_sf(n, x, nx2);
    }
    // scipy's sf-only cut-offs: from n x^2 = 2.2 on, Miller's doubled one-sided probability.
    if nx2 >= 370.0 {
        return 0.0;
    }
    if nx2 >= 2.2 {
        return clip_prob(2.0 * smirnov_sf(n, x));
    }
    let cdf = if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        durbin_cdf(n, x)
    } else {
        pelz_good_cdf(n, x)
    };
    clip_prob(1.0 - cdf)
}

/// The sf for n <= 140 and 1/n < x < 1/2: exact methods, or (Miller's approximation) the
/// one-sided probability doubled once the overlap of the two tails is negligible (n x^2 > 4).
fn small_n_sf(n: u64, x: f64, nx2: f64) -> f64 {
    if nx2 <= 0.754_693 {
        clip_prob(1.0 - durbin_cdf(n, x))
    } else if nx2 <= 4.0 {
        clip_prob(1.0 - pomeranz_cdf(n, x))
    } else {
        clip_prob(2.0 * smirnov_sf(n, x))
    }
}

/// Clamp to [0, 1], letting NaN through as numpy's `clip` does.
fn clip_prob(p: f64) -> f64 {
    p.clamp(0.0, 1.0)
}

// ---------------------------------------------------------------------------------------------
// Ruben-Gambino, x <= 1/n
// ---------------------------------------------------------------------------------------------

/// `P(D_n <= x)` for `t = n x <= 1`: zero up to t = 1/2, then `n!/n^n (2t - 1)^n`.
fn ruben_gambino_low_cdf(n: u64, t: f64) -> f64 {
    if t <= 0.5 {
        return 0.0;
    }
    let base = 2.0 * t - 1.0;
    if n <= 140 {
        // Small enough to multiply out; pairing each i/n with a base keeps the product in range.
        let inv_n = 1.0 / n as f64;
        (1..=n).map(|i| i as f64 * inv_n * base).product()
    } else {
        (log_factorial_over_power(n) + n as f64 * base.ln()).exp()
    }
}

/// Bernoulli-number coefficients B_2j / (2j (2j - 1)) of Stirling's series, j = 8 down to 1.
const STIRLING: [f64; 8] = [
    -0.029_550_653_594_771_242,
    0.006_410_256_410_256_41,
    -0.001_917_526_917_526_917_6,
    0.000_841_750_841_750_841_7,
    -0.000_595_238_095_238_095_3,
    0.000_793_650_793_650_793_7,
    -0.002_777_777_777_777_778,
    0.083_333_333_333_333_33,
];

/// `ln(n! / n^n)` by Stirling's series with the `n ln n` terms cancelled analytically, so no
/// large logarithms are subtracted.
fn log_factorial_over_power(n: u64) -> f64 {
    let nf = n as f64;
    let rn = 1.0 / nf;
    let series = STIRLING.iter().fold(0.0, |acc, &c| acc * (rn / nf) + c);
    nf.ln() / 2.0 - nf + LN_2PI / 2.0 + rn * series
}

// ---------------------------------------------------------------------------------------------
// Durbin's matrix (Marsaglia, Tsang & Wang 2003)
// ---------------------------------------------------------------------------------------------

/// A square matrix `cells * 2^exp`, row-major: powers of the Durbin matrix overflow f64 long
/// before n = 10^5, so the binary exponent is carried separately (scaling by 2^k is exact).
struct ScaledMatrix {
    dim: usize,
    cells: Vec<f64>,
    exp: i64,
}

impl ScaledMatrix {
    fn identity(dim: usize) -> Self {
        let mut cells = vec![0.0; dim * dim];
        cells.iter_mut().step_by(dim + 1).for_each(|c| *c = 1.0);
        Self { dim, cells, exp: 0 }
    }

    fn product(&self, other: &Self) -> Self {
        let dim = self.dim;
        let mut cells = vec![0.0; dim * dim];
        let rows = cells
            .chunks_exact_mut(dim)
            .zip(self.cells.chunks_exact(dim));
        for (out_row, a_row) in rows {
            for (&a, b_row) in a_row.iter().zip(other.cells.chunks_exact(dim)) {
                if a != 0.0 {
                    out_row
                        .iter_mut()
                        .zip(b_row)
                        .for_each(|(o, &b)| *o += a * b);
                }
            }
        }
        let mut out = Self {
            dim,
            cells,
            exp: self.exp.saturating_add(other.exp),
        };
        out.rebalance();
        out
    }

    /// Move the largest entry back near 1 once it leaves [2^-128, 2^128]; exact, as scipy's
    /// rescaling is, but applied to every product so no power can overflow.
    fn rebalance(&mut self) {
        let max = self.cells.iter().fold(0.0_f64, |m, c| m.max(c.abs()));
        if max > TWO_POW_128 || (max > 0.0 && max < TWO_POW_M128) {
            let (_, e) = frexp(max);
            self.cells.iter_mut().for_each(|c| *c = ldexp(*c, -e));
            self.exp = self.exp.saturating_add(e);
        }
    }

    fn power(self, mut e: u64) -> Self {
        let mut acc = Self::identity(self.dim);
        let mut base = self;
        while e > 0 {
            if e & 1 == 1 {
                acc = acc.product(&base);
            }
            e >>= 1;
            if e > 0 {
                base = base.product(&base);
            }
        }
        acc
    }
}

/// Largest k = ceil(n d) [`durbin_cdf`] accepts: a (2k-1)^2 matrix of 8 MB.
const DURBIN_MAX_K: f64 = 512.0;

/// `P(D_n < d)` by Durbin's matrix method. With `d = (k - h)/n`, k a positive integer and
/// 0 <= h < 1, it is `n!/n^n` times the centre entry of `H^n` for a (2k-1) x (2k-1) matrix H.
/// Memory is O(k^2); scipy only takes this path with k <= 140 or n x^1.5 <= 1.4 (k <= ~60).
fn durbin_cdf(n: u64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let nd = n as f64 * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k_real = nd.ceil();
    if k_real > DURBIN_MAX_K {
        // Unreachable from kstwo_sf (k <= 140 there); refuse rather than allocate O(k^2).
        return f64::NAN;
    }
    let h = k_real - nd;
    let k = k_real as usize;
    let dim = 2 * k - 1;
    let power = durbin_matrix(dim, h).power(n);
    let centre = power
        .cells
        .get((k - 1) * dim + (k - 1))
        .copied()
        .unwrap_or(0.0);
    let (p, e) = times_factorial_over_power(centre, n);
    clip_prob(ldexp(p, power.exp.saturating_add(e)))
}

/// Durbin's H: ones-over-factorials below the superdiagonal, first column and last row the
/// boundary terms `(1 - h^j)/j!` (the corner corrected for overlap when h > 1/2).
fn durbin_matrix(dim: usize, h: f64) -> ScaledMatrix {
    let mut edge = vec![0.0; dim];
    let mut inv_fact = vec![0.0; dim];
    let mut fac = 1.0;
    for (j, (e, w)) in edge.iter_mut().zip(inv_fact.iter_mut()).enumerate() {
        *w = fac; // 1/j!
        let j1 = (j + 1) as f64;
        fac /= j1; // 1/(j+1)!, may underflow for large j: those entries are negligible
        *e = (1.0 - h.powf(j1)) * fac;
    }
    let dim_f = dim as f64;
    let overlap = (2.0 * h - 1.0).max(0.0).powf(dim_f) - 2.0 * h.powf(dim_f);
    if let Some(corner) = edge.last_mut() {
        *corner = (1.0 + overlap) * fac;
    }
    let mut cells = vec![0.0; dim * dim];
    for (r, row) in cells.chunks_exact_mut(dim).enumerate() {
        for (c, cell) in row.iter_mut().enumerate() {
            *cell = if r + 1 == dim {
                edge.get(dim - 1 - c).copied().unwrap_or(0.0)
            } else if c == 0 {
                edge.get(r).copied().unwrap_or(0.0)
            } else if r + 1 >= c {
                inv_fact.get(r + 1 - c).copied().unwrap_or(0.0)
            } else {
                0.0
            };
        }
    }
    ScaledMatrix { dim, cells, exp: 0 }
}

/// `p n!/n^n` as (mantissa, binary exponent): the factor underflows for n > ~700, so the running
/// product is pushed back up by 2^128 whenever it gets small, as scipy does.
fn times_factorial_over_power(mut p: f64, n: u64) -> (f64, i64) {
    if p == 0.0 || !p.is_finite() {
        return (p, 0);
    }
    let nf = n as f64;
    let mut exp = 0_i64;
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < TWO_POW_M128 {
            p *= TWO_POW_128;
            exp -= 128;
        }
    }
    (p, exp)
}

// ---------------------------------------------------------------------------------------------
// Pomeranz's recursion (1974)
// ---------------------------------------------------------------------------------------------

/// The integer shape of Pomeranz's band: `ll = floor(nx)` and indicators of the fractional part.
struct PomeranzBand {
    n: i64,
    ll: i64,
    ceil_f: i64,
    round_f: i64,
}

impl PomeranzBand {
    /// The live column range `[j1, j2]` of row i (rows alternate between two kinds of step).
    fn columns(&self, i: i64) -> (i64, i64) {
        let (n, ll, cf, rf) = (self.n, self.ll, self.ceil_f, self.round_f);
        let half = (i + 1) / 2;
        let (j1, j2) = if i == 0 {
            (-ll - cf - 1, ll + cf - 1)
        } else if (i + 1) % 2 == 0 && half == n + 1 {
            (n - ll - cf - 1, n + ll + cf - 1)
        } else if (i + 1) % 2 == 0 {
            (half - ll - rf - 2, half + ll + cf - 2)
        } else {
            (half - ll - 2, half + ll + rf - 1)
        };
        ((j1 + 2).max(0), j2.min(n))
    }
}

/// `(r^m / m!)` for m = 0..len: Poisson probabilities without their `e^-r` factor.
fn poisson_weights(r: f64, len: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(len);
    let mut w = 1.0;
    for m in 0..len {
        if m > 0 {
            w = w * r / m as f64;
        }
        out.push(w);
    }
    out
}

/// Entries `[from, from + len)` of the full convolution of `a` and `b` (zero outside it).
fn convolution_window(a: &[f64], b: &[f64], from: i64, len: usize, out: &mut [f64]) {
    for (o, slot) in out.iter_mut().take(len).enumerate() {
        let Ok(q) = usize::try_from(from + o as i64) else {
            *slot = 0.0;
            continue;
        };
        let lo = (q + 1).saturating_sub(b.len());
        let hi = q.min(a.len().saturating_sub(1));
        *slot = (lo..=hi)
            .filter_map(|i| Some(a.get(i)? * b.get(q - i)?))
            .sum();
    }
}

/// `P(D_n <= x)` by Pomeranz's recursion: 2n+1 rows, each the convolution of the previous row
/// with one of three Poisson-like weight vectors; only a band of 2(floor(nx)+1) columns is live,
/// so memory is O(nx). The answer is n! times the last entry.
fn pomeranz_cdf(n: u64, x: f64) -> f64 {
    let nf = n as f64;
    let t = nf * x;
    let ll = t.floor();
    let f = t - ll;
    let g = f.min(1.0 - f);
    let band = PomeranzBand {
        n: n as i64,
        ll: ll as i64,
        ceil_f: i64::from(f > 0.0),
        round_f: i64::from(f > 0.5),
    };
    let width = 2 * (ll as usize + 1);
    let edge_w = poisson_weights(g / nf, width);
    let odd_w = poisson_weights(2.0 * g / nf, width);
    let even_w = poisson_weights((1.0 - 2.0 * g) / nf, width);

    let mut prev = vec![0.0; width];
    let mut cur = vec![0.0; width];
    if let Some(first) = cur.first_mut() {
        *first = 1.0;
    }
    let mut j1 = band.columns(0).0;
    let mut exp = 0_i64;
    let last = 2 * band.n + 1;
    for i in 1..=last {
        let k1 = j1; // first live column of the previous row, held at its index 0
        std::mem::swap(&mut prev, &mut cur);
        cur.iter_mut().for_each(|c| *c = 0.0);
        let j2;
        (j1, j2) = band.columns(i);
        let weights = if i == 1 || i == last {
            &edge_w
        } else if i % 2 == 1 {
            &odd_w
        } else {
            &even_w
        };
        let Ok(used) = usize::try_from(j2 - k1 + 1) else {
            continue;
        };
        if used == 0 {
            continue;
        }
        let a = prev.get(..used.min(width)).unwrap_or(&[]);
        let b = weights.get(..used.min(width)).unwrap_or(&[]);
        let live = usize::try_from(j2 - j1 + 1).unwrap_or(0);
        convolution_window(a, b, j1 - k1, live, &mut cur);
        // Rows shrink like (1/n)^i / i!: lift them before they underflow.
        let max = cur.iter().fold(0.0_f64, |m, &c| m.max(c));
        if max > 0.0 && max < TWO_POW_M128 {
            cur.iter_mut().for_each(|c| *c *= TWO_POW_128);
            exp -= 128;
        }
    }
    let at = usize::try_from(band.n - j1).unwrap_or(usize::MAX);
    let mut ans = cur.get(at).copied().unwrap_or(0.0);
    for m in 1..=n {
        if ans.abs() > TWO_POW_128 {
            ans *= TWO_POW_M128;
            exp += 128;
        }
        ans *= m as f64;
    }
    clip_prob(ldexp(ans, exp))
}

// ---------------------------------------------------------------------------------------------
// Pelz-Good expansion (1976)
// ---------------------------------------------------------------------------------------------

/// `P(D_n <= x)` by the Pelz-Good approximation: Li-Chien and Korolyuk's expansion
/// `K0(z) + K1(z)/sqrt(n) + K2(z)/n + K3(z)/n^1.5`, z = x sqrt(n), with each term rewritten
/// through Jacobi's theta identity into a series that converges fast for small z.
fn pelz_good_cdf(n: u64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let z = nf.sqrt() * x;
    let z2 = z.powf(2.0);
    let log_q = -(PI * PI) / 8.0 / z2;
    if log_q < -708.0 {
        // q^1 already underflows: every term is 0 (z below ~0.0417).
        return 0.0;
    }
    let max_k = (16.0 * z / PI).ceil() as u64;
    let mut k = odd_series(z, log_q.exp(), max_k);
    let (k2_extra, k3_extra) = integer_series(z, max_k);
    k[2] += k2_extra;
    k[3] += k3_extra;
    let mut cdf = 0.0;
    for (i, term) in k.iter().enumerate() {
        cdf += term / nf.powf(i as f64 / 2.0);
    }
    cdf
}

/// The four Pelz-Good terms' sums over odd m = 2k-1 of polynomial(m) q^(m^2), by Horner in
/// q^(8k) (since m^2 steps by 8k between consecutive odd m), then their common prefactors.
fn odd_series(z: f64, q: f64, max_k: u64) -> [f64; 4] {
    let (pi2, pi4, pi6) = (PI.powf(2.0), PI.powf(4.0), PI.powf(6.0));
    let (z2, z4, z6) = (z.powf(2.0), z.powf(4.0), z.powf(6.0));
    let k1 = [-z2, pi2 / 4.0];
    let k2 = [
        6.0 * z6 + 2.0 * z4,
        (2.0 * z4 - 5.0 * z2) * pi2 / 4.0,
        pi4 * (1.0 - 2.0 * z2) / 16.0,
    ];
    let k3 = [
        -30.0 * z6 - 90.0 * z.powf(8.0),
        pi2 * (135.0 * z4 - 96.0 * z6) / 4.0,
        pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0,
        pi6 * (5.0 - 30.0 * z2) / 64.0,
    ];
    let mut acc = [0.0; 4];
    for k in (1..=max_k).rev() {
        let m = (2 * k - 1) as f64;
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let q_step = q.powf((8 * k) as f64);
        let coeffs = [
            1.0,
            k1[0] + k1[1] * m2,
            k2[0] + k2[1] * m2 + k2[2] * m4,
            k3[0] + k3[1] * m2 + k3[2] * m4 + k3[3] * m6,
        ];
        for (a, c) in acc.iter_mut().zip(coeffs) {
            *a = *a * q_step + c;
        }
    }
    let sqrt_2pi = (2.0 * PI).sqrt();
    let denominators = [z, 6.0 * z4, 72.0 * z.powf(7.0), 6480.0 * z.powf(10.0)];
    let mut out = [0.0; 4];
    for ((o, a), den) in out.iter_mut().zip(acc).zip(denominators) {
        *o = a * q * sqrt_2pi / den;
    }
    out
}

/// The extra sums over all integers k >= 1 that K2 and K3 carry: `k^2 q^(k^2)` and
/// `(3 z^2 - pi^2 k^2) k^2 q^(k^2)`, q = e^(-pi^2 / 2z^2). No cancellation, so summed directly.
fn integer_series(z: f64, max_k: u64) -> (f64, f64) {
    let pi2 = PI.powf(2.0);
    let q = (-pi2 / 2.0 / z.powf(2.0)).exp();
    let sqrt3z = 3.0_f64.sqrt() * z;
    let (mut s2, mut s3) = (0.0, 0.0);
    for k in (1..=max_k).rev() {
        let kf = k as f64;
        let k2 = kf * kf;
        let qk = q.powf(k2);
        let k_pi = PI * kf;
        s2 += k2 * qk;
        s3 += (sqrt3z + k_pi) * (sqrt3z - k_pi) * k2 * qk;
    }
    let sqrt_2pi = (2.0 * PI).sqrt();
    let k2_extra = s2 * (pi2 * sqrt_2pi / (-36.0 * z.powf(3.0)));
    let k3_extra = s3 * (pi2 * sqrt_2pi / (216.0 * z.powf(6.0)));
    (k2_extra, k3_extra)
}

// ---------------------------------------------------------------------------------------------
// One-sided Smirnov probability (scipy.special.smirnov)
// ---------------------------------------------------------------------------------------------

/// Cephes' `MINLOG`, ln(2^-1075): `exp` of anything below it is zero.
const MIN_LOG: f64 = -745.133_219_101_941_2;
/// Above this n cephes replaces the exact sum by an asymptotic formula.
const SMIRNOV_MAX_EXACT_N: u64 = 1_000_000;

/// `P(D_n^+ > x)`, the one-sided Smirnov survival probability, as `scipy.special.smirnov(n, x)`:
///
/// `x * sum_{v=0}^{floor(n(1-x))} C(n,v) (x + v/n)^(v-1) (1 - x - v/n)^(n-v)`
///
/// (Smirnov 1944; Birnbaum & Tingey 1951). All terms are positive, so the sum is stable; each is
/// formed as mantissa times a power of two because C(n,v) and the powers overflow and underflow.
/// Cephes computes the sf through its alternating "upper" sum when x is tiny (x <= 0.5/sqrt(n));
/// the lower sum used here gives the same sf to rounding there, and kstwo never asks for it.
fn smirnov_sf(n: u64, x: f64) -> f64 {
    if n == 0 || !(0.0..=1.0).contains(&x) {
        return f64::NAN;
    }
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    let (nx_floor, alpha) = floor_and_fraction(nf, x);
    if nx_floor == 0 || (nx_floor == 1 && alpha == 0.0) {
        // x <= 1/n: only the v = 0 term of the upper sum, cdf = x (1 + x)^(n-1).
        let (m, e) = pow_scaled(two_sum(1.0, x), n - 1);
        return clip_prob(1.0 - x * ldexp(m, e));
    }
    if (-2.0 * nf) * x * x < MIN_LOG {
        return 0.0;
    }
    if nx_floor >= n - 1 {
        // x >= 1 - 1/n: only the v = 0 term remains, (1 - x)^n.
        let (m, e) = pow_scaled(two_sum(1.0, -x), n);
        return clip_prob(ldexp(m, e));
    }
    if n > SMIRNOV_MAX_EXACT_N {
        return smirnov_asymptotic_sf(nf, x);
    }
    clip_prob(smirnov_lower_sum(n, x, n - nx_floor))
}

/// Cephes' approximation for n > 10^6: `P ~ exp(-(6nx + 1)^2 / 18n)`.
fn smirnov_asymptotic_sf(nf: f64, x: f64) -> f64 {
    let log_p = -(6.0 * nf * x + 1.0).powf(2.0) / 18.0 / nf;
    if log_p < -std::f64::consts::LN_2 {
        log_p.exp()
    } else {
        1.0 - (-log_p.exp_m1())
    }
}

/// `floor(n x)` and the fractional part, from the exact product (n < 2^53 makes `n` exact), so
/// that a product just below an integer is not rounded onto it. A fraction rounding to 1 is
/// carried into the floor, as cephes does.
fn floor_and_fraction(nf: f64, x: f64) -> (u64, f64) {
    let nx = two_prod(nf, x);
    let mut fl = nx.hi.floor();
    let mut frac = (nx.hi - fl) + nx.lo;
    if frac < 0.0 {
        fl -= 1.0;
        frac += 1.0;
    }
    if frac >= 1.0 {
        fl += 1.0;
        frac = 0.0;
    }
    (fl as u64, frac)
}

/// The lower Smirnov sum, `x * sum_{v < terms} A_v`, stopping (as cephes does) once the remaining
/// terms, each no larger than the current one, cannot change the sum in double precision.
fn smirnov_lower_sum(n: u64, x: f64, terms: u64) -> f64 {
    let (x_man, x_exp) = frexp(x);
    // v = 0: x * x^-1 * (1 - x)^n.
    let (m0, e0) = pow_scaled(two_sum(1.0, -x), n);
    let mut sum = NeumaierSum::new(ldexp(m0, e0));
    let mut binom = ScaledBinomial::one();
    binom.advance(n, 0);
    for v in 1..terms {
        let (y_low, y_high) = smirnov_bases(n, x, v);
        let (p1, e1) = pow_scaled(y_low, n - v);
        let (p2, e2) = pow_scaled(y_high, v - 1);
        let man = binom.man.hi * p1 * p2 * x_man;
        let exp = binom
            .exp
            .saturating_add(e1)
            .saturating_add(e2)
            .saturating_add(x_exp);
        let term = ldexp(man, exp);
        sum.add(term);
        if term != 0.0 {
            let tail = 4.0 * (terms - v) as f64 * term;
            if tail < f64::EPSILON * sum.value() && v != terms - 1 {
                break;
            }
        } else if v > n / 2 {
            // Past the peak and underflowed: the rest underflow too.
            break;
        }
        binom.advance(n, v);
    }
    sum.value()
}

/// `1 - x - v/n` and `x + v/n` as double-doubles: raised to powers up to n, a rounding error of
/// half an ulp in the base would become n/2 ulps in the term.
fn smirnov_bases(n: u64, x: f64, v: u64) -> (Dd, Dd) {
    let q = exact_quotient(v as f64, n as f64);
    let one_minus_x = two_sum(1.0, -x);
    let low = two_sum(one_minus_x.hi, -q.hi);
    let low = two_sum(low.hi, low.lo + (one_minus_x.lo - q.lo));
    let high = two_sum(x, q.hi);
    let high = two_sum(high.hi, high.lo + q.lo);
    (low, high)
}

/// C(n, v) as a double-double mantissa in [0.5, 1) times 2^exp (it overflows f64 near n = 1030);
/// stepping it in double-double keeps a million steps' rounding below 1e-25.
struct ScaledBinomial {
    man: Dd,
    exp: i64,
}

impl ScaledBinomial {
    fn one() -> Self {
        Self {
            man: Dd { hi: 0.5, lo: 0.0 },
            exp: 1,
        }
    }

    /// C(n, j) -> C(n, j+1) = C(n, j) (n - j) / (j + 1).
    fn advance(&mut self, n: u64, j: u64) {
        let ratio = exact_quotient(n.saturating_sub(j) as f64, (j + 1) as f64);
        let prod = self.man.mul(ratio);
        let (hi, e) = frexp(prod.hi);
        self.man = Dd {
            hi,
            lo: ldexp(prod.lo, -e),
        };
        self.exp = self.exp.saturating_add(e);
    }
}

/// `y^m` as a mantissa in [0.5, 1) and a binary exponent, for y > 0 and any m: the low word of
/// y enters as the factor `exp(m lo/hi)` (exact to ~1e-20 since m lo/hi < 1e-9).
fn pow_scaled(y: Dd, m: u64) -> (f64, i64) {
    if m == 0 {
        return (0.5, 1);
    }
    let (man, e) = frexp(y.hi);
    let (p, pe) = pow_mantissa(man, m);
    let (p, ce) = frexp(p * (m as f64 * (y.lo / y.hi)).exp());
    let m_i = i64::try_from(m).unwrap_or(i64::MAX);
    (
        p,
        pe.saturating_add(ce).saturating_add(e.saturating_mul(m_i)),
    )
}

/// `man^m` for man in [0.5, 1), as a mantissa and binary exponent. `powf` is accurate to an ulp
/// whatever m is, so it is applied to the largest chunk of m whose result stays above 2^-960,
/// and the chunk's power raised again the same way (recursion depth log_960(m), at most 7).
fn pow_mantissa(man: f64, m: u64) -> (f64, i64) {
    let bits = -man.log2(); // in (0, 1]
    let chunk = if bits > 0.0 {
        ((960.0 / bits).floor() as u64).max(1)
    } else {
        u64::MAX
    };
    if m <= chunk {
        return frexp(man.powf(m as f64));
    }
    let (q, r) = (m / chunk, m % chunk);
    let (cm, ce) = frexp(man.powf(chunk as f64));
    let (qm, qe) = pow_mantissa(cm, q);
    let (rm, re) = frexp(man.powf(r as f64));
    let (p, pe) = frexp(qm * rm);
    let q_i = i64::try_from(q).unwrap_or(i64::MAX);
    let exp = pe
        .saturating_add(qe)
        .saturating_add(re)
        .saturating_add(ce.saturating_mul(q_i));
    (p, exp)
}

// ---------------------------------------------------------------------------------------------
// Small floating-point toolkit
// ---------------------------------------------------------------------------------------------

/// An unevaluated sum `hi + lo` (double-double), used only where a large power or a million
/// sequential steps would magnify a single rounding error.
#[derive(Clone, Copy, Debug)]
struct Dd {
    hi: f64,
    lo: f64,
}

impl Dd {
    fn mul(self, other: Dd) -> Dd {
        let p = two_prod(self.hi, other.hi);
        let lo = p.lo + (self.hi * other.lo + self.lo * other.hi);
        two_sum(p.hi, lo)
    }
}

/// `a + b` exactly as a rounded sum and its error (Knuth's TwoSum).
fn two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    let bb = s - a;
    let err = (a - (s - bb)) + (b - bb);
    Dd { hi: s, lo: err }
}

/// `a * b` exactly as a rounded product and its error (Dekker's TwoProduct with Veltkamp
/// splitting; portable and deterministic, unlike relying on a hardware FMA). Needs |a|, |b| <
/// 2^996, which holds for every use here.
fn two_prod(a: f64, b: f64) -> Dd {
    let p = a * b;
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    let err = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
    Dd { hi: p, lo: err }
}

fn split(a: f64) -> (f64, f64) {
    let c = 134_217_729.0 * a; // 2^27 + 1
    let hi = c - (c - a);
    (hi, a - hi)
}

/// `a / b` as a double-double, for a and b exactly representable.
fn exact_quotient(a: f64, b: f64) -> Dd {
    let q = a / b;
    let p = two_prod(q, b);
    let rem = (a - p.hi) - p.lo;
    Dd { hi: q, lo: rem / b }
}

/// Neumaier's compensated sum: a million positive terms without the n-eps drift of plain
/// summation.
struct NeumaierSum {
    sum: f64,
    comp: f64,
}

impl NeumaierSum {
    fn new(first: f64) -> Self {
        Self {
            sum: first,
            comp: 0.0,
        }
    }

    fn add(&mut self, v: f64) {
        let t = self.sum + v;
        if self.sum.abs() >= v.abs() {
            self.comp += (self.sum - t) + v;
        } else {
            self.comp += (v - t) + self.sum;
        }
        self.sum = t;
    }

    fn value(&self) -> f64 {
        self.sum + self.comp
    }
}

/// `x = m 2^e` with m in [0.5, 1), as C's `frexp`; zero, infinities and NaN give e = 0.
fn frexp(x: f64) -> (f64, i64) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i64;
    if biased == 0 {
        // Subnormal: scale into the normal range first (2^64 is exact).
        let (m, e) = frexp(x * 18_446_744_073_709_551_616.0);
        return (m, e - 64);
    }
    let m = f64::from_bits((bits & !(0x7ff_u64 << 52)) | (1022_u64 << 52));
    (m, biased - 1022)
}

/// `x 2^e`, as C's `ldexp`, stepping the scale so that no intermediate power of two overflows.
fn ldexp(mut x: f64, e: i64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let mut e = e.clamp(-2200, 2200); // beyond this the result is 0 or inf anyway
    while e > 1000 {
        x *= pow2(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= pow2(-1000);
        e += 1000;
    }
    x * pow2(e)
}

/// 2^e for -1022 <= e <= 1023, built from its bit pattern.
fn pow2(e: i64) -> f64 {
    f64::from_bits(((e + 1023) as u64) << 52)
}

#[cfg(test)]
mod tests {
    // Golden values from scipy 1.17.1 / numpy 2.4.6; regenerate with
    // /root/.cache/strider/drift-venv/bin/python on this script (run it outside the scipy tree):
    //
    // from scipy.stats import kstwo
    // from scipy.special import smirnov
    // from scipy.stats._ksstats import _kolmogn_DMTW, _kolmogn_Pomeranz, _kolmogn_PelzGood
    // SF = {
    //     1: [0.3, 0.5, 0.75],
    //     2: [0.2, 0.3, 0.6],
    //     5: [0.05, 0.15, 0.25, 0.45, 0.55, 0.85],
    //     8: [0.25],
    //     10: [0.07, 0.2, 0.27, 0.3, 0.45, 0.62, 0.95],
    //     20: [0.25],
    //     50: [0.015, 0.05, 0.12, 0.2, 0.28, 0.3, 0.45, 0.7],
    //     140: [0.005, 0.03, 0.07, 0.1, 0.16, 0.2, 0.4],
    //     141: [0.005, 0.02, 0.045, 0.06, 0.12, 0.125, 0.3, 0.6],
    //     500: [0.0015, 0.01, 0.015, 0.03, 0.06, 0.07, 0.2, 0.55, 0.8],
    //     5000: [0.00015, 0.003, 0.01, 0.02, 0.025, 0.1, 0.25],
    //     20000: [3e-05, 0.0017, 0.005, 0.01, 0.02, 0.13, 0.14],
    //     100000: [0.00058],
    //     200000: [4e-06, 0.0002, 0.002, 0.004, 0.03],
    //     1000000: [0.0015],
    //     3000000: [2e-07, 0.0001, 0.0008, 0.001, 0.01, 0.6],
    // }
    // print("SF")
    // for n, xs in SF.items():
    //     for x in xs:
    //         print(f"    ({n}, {x!r}, {float(kstwo.sf(x, n))!r}),")
    // print("SMIRNOV")
    // for n, x in [(1, 0.3), (5, 0.1), (5, 0.2), (10, 0.15), (20, 0.5), (50, 0.3),
    //              (100, 0.97), (140, 0.2), (500, 0.55), (1000, 0.05), (5000, 0.02),
    //              (200000, 0.004), (1000000, 0.0015), (1000001, 0.002), (3000000, 0.001)]:
    //     print(f"    ({n}, {x!r}, {float(smirnov(n, x))!r}),")
    // for name, f, pts in [("DURBIN", _kolmogn_DMTW, [(8, 0.25), (100, 0.08), (141, 0.045), (20000, 0.0017), (100000, 0.00058)]),
    //                      ("POMERANZ", _kolmogn_Pomeranz, [(10, 0.3), (20, 0.25), (50, 0.28), (140, 0.16)]),
    //                      ("PELZ_GOOD", _kolmogn_PelzGood, [(141, 0.06), (5000, 0.01), (200000, 0.0002), (3000000, 0.0008)])]:
    //     print(name)
    //     for n, x in pts:
    //         print(f"    ({n}, {x!r}, {float(f(n, x, cdf=True))!r}),")

    use super::*;

    /// (n, x, scipy.stats.kstwo.sf(x, n)).
    const SF: &[(u64, f64, f64)] = &[
        (1, 0.3, 1.0),
        (1, 0.5, 1.0),
        (1, 0.75, 0.5),
        (2, 0.2, 1.0),
        (2, 0.3, 0.98),
        (2, 0.6, 0.32000000000000006),
        (5, 0.05, 1.0),
        (5, 0.15, 0.9988),
        (5, 0.25, 0.8446),
        (5, 0.45, 0.19399374999999963),
        (5, 0.55, 0.059696249999999965),
        (5, 0.85, 0.0001518750000000001),
        (8, 0.25, 0.6134090423583984),
        (10, 0.07, 0.9999999619492741),
        (10, 0.2, 0.7487190399999999),
        (10, 0.27, 0.38905586707926754),
        (10, 0.3, 0.27053557479999946),
        (10, 0.45, 0.022891810311718164),
        (10, 0.62, 0.0003098012662193357),
        (10, 0.95, 1.9531250000000172e-13),
        (20, 0.25, 0.13762569836717486),
        (50, 0.015, 1.0),
        (50, 0.05, 0.9990238098461883),
        (50, 0.12, 0.4337679661310233),
        (50, 0.2, 0.03143877776953241),
        (50, 0.28, 0.0005850122324396745),
        (50, 0.3, 0.00017353260202718738),
        (50, 0.45, 9.261187857225947e-10),
        (50, 0.7, 4.405451055671056e-25),
        (140, 0.005, 1.0),
        (140, 0.03, 0.9992547123063266),
        (140, 0.07, 0.4776228287946577),
        (140, 0.1, 0.11353657290090946),
        (140, 0.16, 0.001344016324418744),
        (140, 0.2, 2.1981563302200222e-05),
        (140, 0.4, 9.968909167860116e-21),
        (141, 0.005, 1.0),
        (141, 0.02, 0.9999999744561288),
        (141, 0.045, 0.925251190599722),
        (141, 0.06, 0.6677160791348915),
        (141, 0.12, 0.03160060527758468),
        (141, 0.125, 0.022254729898737478),
        (141, 0.3, 9.46134771413843e-12),
        (141, 0.6, 4.550154415759682e-49),
        (500, 0.0015, 1.0),
        (500, 0.01, 0.9999999991073389),
        (500, 0.015, 0.9998021489360925),
        (500, 0.03, 0.7473166700457021),
        (500, 0.06, 0.05243463489026223),
        (500, 0.07, 0.01416832020019071),
        (500, 0.2, 5.256835361945869e-18),
        (500, 0.55, 1.4616283508892008e-142),
        (500, 0.8, 0.0),
        (5000, 0.00015, 1.0),
        (5000, 0.003, 0.9999999999740126),
        (5000, 0.01, 0.6954557253913853),
        (5000, 0.02, 0.03613941395325637),
        (5000, 0.025, 0.0037948405200437306),
        (5000, 0.1, 5.590495886396459e-44),
        (5000, 0.25, 8.022409757134907e-276),
        (20000, 3e-05, 1.0),
        (20000, 0.0017, 0.9999999931536838),
        (20000, 0.005, 0.6974088406327613),
        (20000, 0.01, 0.03638603905248727),
        (20000, 0.02, 2.2181270070049744e-07),
        (20000, 0.13, 3.722107425777757e-295),
        (20000, 0.14, 0.0),
        (100000, 0.00058, 0.999999999999998),
        (200000, 4e-06, 1.0),
        (200000, 0.0002, 1.0),
        (200000, 0.002, 0.39995085369038097),
        (200000, 0.004, 0.003314212822560255),
        (200000, 0.03, 8.226548921917665e-157),
        (1000000, 0.0015, 0.022195758430640866),
        (3000000, 2e-07, 1.0),
        (3000000, 0.0001, 1.0),
        (3000000, 0.0008, 0.04296384511872986),
        (3000000, 0.001, 0.0049542003601089),
        (3000000, 0.01, 5.265571921861598e-261),
        (3000000, 0.6, 0.0),
    ];

    /// (n, x, scipy.special.smirnov(n, x)).
    const SMIRNOV: &[(u64, f64, f64)] = &[
        (1, 0.3, 0.7),
        (5, 0.1, 0.85359),
        (5, 0.2, 0.58528),
        (10, 0.15, 0.5831277144961914),
        (20, 0.5, 1.893797620269516e-05),
        (50, 0.3, 8.676630101359369e-05),
        (100, 0.97, 5.153775207320632e-153),
        (140, 0.2, 1.0990781651100111e-05),
        (500, 0.55, 7.308141754446004e-143),
        (1000, 0.05, 0.006506037390545166),
        (5000, 0.02, 0.01806981293722266),
        (200000, 0.004, 0.0016571064112801276),
        (1000000, 0.0015, 0.011097879215320433),
        (1000001, 0.002, 0.0003350129437289286),
        (3000000, 0.001, 0.00247710018005445),
    ];

    /// (n, x, scipy.stats._ksstats._kolmogn_DMTW(n, x)): a cdf.
    const DURBIN: &[(u64, f64, f64)] = &[
        (8, 0.25, 0.3865909576416016),
        (100, 0.08, 0.48178063545193284),
        (141, 0.045, 0.07474880940027798),
        (20000, 0.0017, 6.846373505460413e-09),
        (100000, 0.00058, 1.98507540280984e-15),
    ];

    /// (n, x, scipy.stats._ksstats._kolmogn_Pomeranz(n, x)): a cdf.
    const POMERANZ: &[(u64, f64, f64)] = &[
        (10, 0.3, 0.7294644252000005),
        (20, 0.25, 0.8623743016328251),
        (50, 0.28, 0.9994149877675603),
        (140, 0.16, 0.9986559836755813),
    ];

    /// (n, x, scipy.stats._ksstats._kolmogn_PelzGood(n, x)): a cdf.
    const PELZ_GOOD: &[(u64, f64, f64)] = &[
        (141, 0.06, 0.33228392086510855),
        (5000, 0.01, 0.3045442746086146),
        (200000, 0.0002, 1.0134870190342282e-65),
        (3000000, 0.0008, 0.9570361548812701),
    ];

    /// Largest (absolute, relative) error over a table; relative only where the reference exceeds
    /// 1e-300, the range the contract covers.
    fn max_errors(table: &[(u64, f64, f64)], f: impl Fn(u64, f64) -> f64) -> (f64, f64) {
        let mut worst = (0.0_f64, 0.0_f64);
        for &(n, x, want) in table {
            let got = f(n, x);
            let abs = (got - want).abs();
            let rel = if want > 1e-300 { abs / want } else { 0.0 };
            eprintln!("n={n} x={x}: got {got:e} want {want:e} abs {abs:.2e} rel {rel:.2e}");
            assert!(abs.is_finite(), "n={n} x={x}: got {got}, want {want}");
            worst = (worst.0.max(abs), worst.1.max(rel));
        }
        worst
    }

    fn assert_matches(name: &str, table: &[(u64, f64, f64)], f: impl Fn(u64, f64) -> f64) {
        let (abs, rel) = max_errors(table, f);
        eprintln!("{name}: max abs {abs:.3e}, max rel {rel:.3e}");
        assert!(abs <= 1e-12, "{name}: max abs error {abs:e}");
        assert!(rel <= 1e-9, "{name}: max rel error {rel:e}");
    }

    #[test]
    fn kolmogorov_sf_matches_scipy() {
        assert_matches("kstwo.sf", SF, kstwo_sf);
    }

    #[test]
    fn kolmogorov_smirnov_matches_scipy() {
        assert_matches("smirnov", SMIRNOV, smirnov_sf);
    }

    #[test]
    fn kolmogorov_methods_match_scipy() {
        assert_matches("durbin", DURBIN, durbin_cdf);
        assert_matches("pomeranz", POMERANZ, pomeranz_cdf);
        assert_matches("pelz-good", PELZ_GOOD, pelz_good_cdf);
    }

    #[test]
    fn kolmogorov_edges() {
        assert!(kstwo_sf(10, f64::NAN).is_nan());
        assert!(kstwo_sf(0, 0.5).is_nan());
        assert_eq!(kstwo_sf(10, 0.0), 1.0);
        assert_eq!(kstwo_sf(10, -3.0), 1.0);
        assert_eq!(kstwo_sf(10, 1.0), 0.0);
        assert_eq!(kstwo_sf(10, 7.0), 0.0);
        assert_eq!(kstwo_sf(10, f64::INFINITY), 0.0);
        assert_eq!(kstwo_sf(10, f64::NEG_INFINITY), 1.0);
        assert!(smirnov_sf(10, f64::NAN).is_nan());
        assert_eq!(smirnov_sf(10, 0.0), 1.0);
        assert_eq!(smirnov_sf(10, 1.0), 0.0);
    }

    /// Every branch on a grid, including n far past anything scipy is asked for: a probability,
    /// non-increasing in x, and no panic.
    #[test]
    fn kolmogorov_sweep_is_monotone_probability() {
        let ns = [
            1,
            2,
            3,
            7,
            31,
            140,
            141,
            999,
            12_345,
            1_000_001,
            1 << 40,
            u64::MAX,
        ];
        for n in ns {
            let mut prev = 1.0;
            for i in 0..=400 {
                let x = f64::from(i) / 400.0;
                let p = kstwo_sf(n, x);
                assert!((0.0..=1.0).contains(&p), "n={n} x={x}: {p}");
                assert!(p <= prev + 1e-12, "n={n} x={x}: {p} > {prev}");
                prev = p;
            }
        }
    }

    #[test]
    fn kolmogorov_toolkit() {
        for x in [1.0, 0.75, 3.0e-310, 1.5e300, -6.0] {
            let (m, e) = frexp(x);
            assert!((0.5..1.0).contains(&m.abs()), "{x}: {m}");
            assert_eq!(ldexp(m, e), x);
        }
        let (m, e) = pow_scaled(Dd { hi: 0.5, lo: 0.0 }, 3000);
        assert_eq!((m, e), (0.5, -2999));
        let (m, e) = pow_scaled(Dd { hi: 0.9, lo: 0.0 }, 1_000_000);
        let log2 = e as f64 + m.log2();
        assert!((log2 - 1e6 * 0.9_f64.log2()).abs() < 1e-6, "{log2}");
    }
}
