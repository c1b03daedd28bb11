//! The best threshold of one numerical feature in one leaf, as LightGBM 4.7 finds it
//! (`FeatureHistogram::FuncForNumricalL3` and `FindBestThresholdSequentially` in
//! `feature_histogram.hpp`): the same passes, in the same order, with the same starting sums
//! (kEpsilon), the same row counts estimated from hessians and the same comparisons. Near-ties
//! between thresholds and between the default directions are settled by rounding, so only the
//! same floating-point operations give LightGBM's trees.

use crate::binning::{FeatureBins, MissingType};

/// LightGBM's `kEpsilon` (`1e-15f`): the hessian sums start from it, so a leaf's hessian sum is
/// never zero.
pub(crate) const K_EPSILON: f64 = 1e-15_f32 as f64;

/// One histogram cell: sums of gradients and hessians (in f64, LightGBM's `hist_t`).
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Bin {
    pub g: f64,
    pub h: f64,
}

/// Regularisation and leaf limits of the search, and the categorical parameters.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    pub l1: f64,
    pub l2: f64,
    pub min_data_in_leaf: i64,
    pub min_sum_hessian: f64,
    pub min_gain_to_split: f64,
    pub max_cat_to_onehot: usize,
    pub cat_smooth: f64,
    pub cat_l2: f64,
    pub max_cat_threshold: usize,
    pub min_data_per_group: i64,
}

/// A set of bins: the left side of a categorical split (bins are < 256: `max_bin` <= 255).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct BinSet([u64; 4]);

impl BinSet {
    pub fn insert(&mut self, bin: usize) {
        self.0[bin / 64] |= 1 << (bin % 64);
    }

    pub fn contains(&self, bin: usize) -> bool {
        bin < 256 && self.0[bin / 64] >> (bin % 64) & 1 == 1
    }

    /// The bins in the set, ascending.
    pub fn bins(&self) -> impl Iterator<Item = usize> + '_ {
        (0..256).filter(|b| self.contains(*b))
    }
}

/// A leaf's sums as LightGBM's `LeafSplits` holds them: gradient and hessian sums, rows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LeafSums {
    pub g: f64,
    pub h: f64,
    pub n: usize,
}

/// A split as LightGBM's `SplitInfo` records it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Split {
    /// Gain over the leaf, less `min_gain_to_split` (LightGBM's `gain`).
    pub gain: f64,
    pub feature: usize,
    /// Rows in bins `<= threshold` go left (missing ones: see `default_left`).
    pub threshold: usize,
    /// Where the missing bin (NaN bin, or zero bin for `MissingType::Zero`) goes.
    pub default_left: bool,
    /// Left and right gradient and hessian sums (the hessians without kEpsilon).
    pub left_g: f64,
    pub left_h: f64,
    pub right_g: f64,
    pub right_h: f64,
    pub left_output: f64,
    pub right_output: f64,
    /// A categorical split: the bins that go left (everything else goes right).
    pub categories: Option<BinSet>,
}

impl Split {
    /// The split of a leaf with sums `g`, `h` (+ 2 kEpsilon, as searched) whose best left side
    /// has sums `lg`, `lh` (+ kEpsilon) and raw gain `gain` over `min_gain_shift`, as
    /// LightGBM's searches record it (outputs from the sums with kEpsilon, stored hessians
    /// without); numerical, threshold and default side still to set.
    pub fn from_left(
        lim: &Limits,
        (g, h): (f64, f64),
        (lg, lh): (f64, f64),
        gain: f64,
        feature: usize,
    ) -> Split {
        Split {
            gain,
            feature,
            threshold: 0,
            default_left: false,
            left_g: lg,
            left_h: lh - K_EPSILON,
            right_g: g - lg,
            right_h: h - lh - K_EPSILON,
            left_output: lim.leaf_output(lg, lh),
            right_output: lim.leaf_output(g - lg, h - lh),
            categories: None,
        }
    }

    /// LightGBM's `SplitInfo::operator>`: the larger gain, then the smaller feature.
    pub fn better_than(&self, other: &Split) -> bool {
        if self.gain != other.gain {
            self.gain > other.gain
        } else {
            self.feature < other.feature
        }
    }
}

fn threshold_l1(g: f64, l1: f64) -> f64 {
    if l1 > 0.0 {
        let s = if g > 0.0 {
            1.0
        } else if g < 0.0 {
            -1.0
        } else {
            0.0
        };
        s * (g.abs() - l1).max(0.0)
    } else {
        g
    }
}

impl Limits {
    /// LightGBM `GetLeafGain` (no max_delta_step, no path smoothing).
    pub fn leaf_gain(&self, g: f64, h: f64) -> f64 {
        let g = threshold_l1(g, self.l1);
        (g * g) / (h + self.l2)
    }

    /// LightGBM `CalculateSplittedLeafOutput`.
    pub fn leaf_output(&self, g: f64, h: f64) -> f64 {
        -threshold_l1(g, self.l1) / (h + self.l2)
    }
}

/// `Common::RoundInt`: rows estimated from a hessian sum.
pub(crate) fn round_int(x: f64) -> i64 {
    (x + 0.5) as i64
}

/// The best candidate of one pass (left sums carry kEpsilon).
#[derive(Clone, Copy)]
struct Candidate {
    gain: f64,
    threshold: usize,
    left_g: f64,
    left_h: f64,
}

/// What every pass of one search shares.
struct Scan<'a> {
    lay: &'a FeatureBins,
    hist: &'a [Bin],
    lim: &'a Limits,
    /// Leaf gradient sum, hessian sum + 2 kEpsilon, rows.
    g: f64,
    h: f64,
    n: i64,
    cnt_factor: f64,
    min_gain_shift: f64,
    /// Whether any threshold beat `min_gain_shift` (LightGBM's `is_splittable_`).
    splittable: bool,
}

impl Scan<'_> {
    fn count(&self, b: Bin) -> i64 {
        round_int(b.h * self.cnt_factor)
    }

    /// The raw gain of a candidate split (left + right leaf gains), noting whether it beats
    /// the leaf.
    fn gain(&mut self, (lg, lh): (f64, f64), (rg, rh): (f64, f64)) -> f64 {
        let gain = self.lim.leaf_gain(lg, lh) + self.lim.leaf_gain(rg, rh);
        if gain > self.min_gain_shift {
            self.splittable = true;
        }
        gain
    }

    /// Right-to-left pass: the unscanned bins (bin 0, the missing bin) end up on the left.
    /// Among equal gains the highest threshold stays.
    fn reverse(&mut self, skip_default: bool, na_as_missing: bool) -> Option<Candidate> {
        let lim = *self.lim;
        let (mut rg, mut rh, mut rc) = (0.0, K_EPSILON, 0i64);
        let mut best: Option<Candidate> = None;
        let top = self.lay.n_bins() - 1 - usize::from(na_as_missing);
        for bin in (1..=top).rev() {
            if skip_default && bin == self.lay.default_bin {
                continue;
            }
            let cell = self.hist[bin];
            rg += cell.g;
            rh += cell.h;
            rc += self.count(cell);
            if rc < lim.min_data_in_leaf || rh < lim.min_sum_hessian {
                continue;
            }
            let lc = self.n - rc;
            let lh = self.h - rh;
            if lc < lim.min_data_in_leaf || lh < lim.min_sum_hessian {
                break;
            }
            let lg = self.g - rg;
            let gain = self.gain((lg, lh), (rg, rh));
            if gain > self.min_gain_shift && best.is_none_or(|b| gain > b.gain) {
                best = Some(Candidate {
                    gain,
                    threshold: bin - 1,
                    left_g: lg,
                    left_h: lh,
                });
            }
        }
        best
    }

    /// Left-to-right pass: the unscanned bins end up on the right; with `na_as_missing` and
    /// bin 0 not stored, bin 0 alone is the first candidate (its sums rebuilt from the total).
    /// Among equal gains the lowest threshold stays.
    fn forward(&mut self, skip_default: bool, na_as_missing: bool) -> Option<Candidate> {
        let lim = *self.lim;
        let off = self.lay.offset();
        let (mut lg, mut lh, mut lc) = (0.0, K_EPSILON, 0i64);
        let mut first = off;
        if na_as_missing && off == 1 {
            (lg, lh, lc) = (self.g, self.h - K_EPSILON, self.n);
            for &cell in &self.hist[1..self.lay.n_bins()] {
                lg -= cell.g;
                lh -= cell.h;
                lc -= self.count(cell);
            }
            first = 0;
        }
        let mut best: Option<Candidate> = None;
        for bin in first..self.lay.n_bins() - 1 {
            if skip_default && bin == self.lay.default_bin {
                continue;
            }
            if bin >= off {
                let cell = self.hist[bin];
                lg += cell.g;
                lh += cell.h;
                lc += self.count(cell);
            }
            if lc < lim.min_data_in_leaf || lh < lim.min_sum_hessian {
                continue;
            }
            let rc = self.n - lc;
            let rh = self.h - lh;
            if rc < lim.min_data_in_leaf || rh < lim.min_sum_hessian {
                break;
            }
            let rg = self.g - lg;
            let gain = self.gain((lg, lh), (rg, rh));
            if gain > self.min_gain_shift && best.is_none_or(|b| gain > b.gain) {
                best = Some(Candidate {
                    gain,
                    threshold: bin,
                    left_g: lg,
                    left_h: lh,
                });
            }
        }
        best
    }

    /// Keep `cand` over `out` as LightGBM does: only if it beats `out.gain + min_gain_shift`,
    /// so on a tie the earlier pass (REVERSE, default left) stays.
    fn keep(
        &self,
        out: &mut Option<Split>,
        cand: Option<Candidate>,
        feature: usize,
        default_left: bool,
    ) {
        let Some(c) = cand else { return };
        let current = out.map_or(f64::NEG_INFINITY, |o| o.gain);
        if c.gain <= current + self.min_gain_shift {
            return;
        }
        let gain = c.gain - self.min_gain_shift;
        let mut split = Split::from_left(
            self.lim,
            (self.g, self.h),
            (c.left_g, c.left_h),
            gain,
            feature,
        );
        split.threshold = c.threshold;
        split.default_left = default_left;
        *out = Some(split);
    }
}

/// The best split of a leaf (`sums`) on numerical feature `feature` from its histogram `hist`
/// (one cell per bin; the most frequent bin's cell rebuilt, bin 0's unused when not stored),
/// and whether any threshold beat the leaf at all (LightGBM's `is_splittable`: children skip a
/// feature their parent could not split on).
pub(crate) fn best_threshold(
    lay: &FeatureBins,
    hist: &[Bin],
    sums: LeafSums,
    lim: &Limits,
    feature: usize,
) -> (Option<Split>, bool) {
    let h = sums.h + 2.0 * K_EPSILON;
    let mut scan = Scan {
        lay,
        hist,
        lim,
        g: sums.g,
        h,
        n: sums.n as i64,
        cnt_factor: sums.n as f64 / h,
        min_gain_shift: lim.leaf_gain(sums.g, h) + lim.min_gain_to_split,
        splittable: false,
    };
    let mut out = None;
    match lay.missing {
        MissingType::Zero if lay.n_bins() > 2 => {
            let c = scan.reverse(true, false);
            scan.keep(&mut out, c, feature, true);
            let c = scan.forward(true, false);
            scan.keep(&mut out, c, feature, false);
        }
        MissingType::NaN if lay.n_bins() > 2 => {
            let c = scan.reverse(false, true);
            scan.keep(&mut out, c, feature, true);
            let c = scan.forward(false, true);
            scan.keep(&mut out, c, feature, false);
        }
        missing => {
            let c = scan.reverse(false, false);
            // A NaN feature with one value bin: the NaN bin is the right side.
            scan.keep(&mut out, c, feature, missing != MissingType::NaN);
        }
    }
    (out, scan.splittable)
}
