//! Feature binning for histogram training: LightGBM 4.7's `BinMapper::FindBin` (`bin.cpp`) for
//! numerical features, bound for bound. The bounds decide which thresholds a tree can have, and
//! `missing`, `default_bin` and `most_freq_bin` decide how the trainer sums histograms and where
//! missing values go, so anything short of LightGBM's exact floats grows other trees.
//!
//! All rows are the bin-construction sample (LightGBM samples `bin_construct_sample_cnt` =
//! 200,000 rows; on more rows its bounds can differ from these).

use std::collections::BTreeMap;

use crate::tree::ZERO_THRESHOLD as KZERO;

/// LightGBM's `min_data_in_bin` default: a bin closes only once it holds this many rows.
const MIN_DATA_IN_BIN: usize = 3;
/// LightGBM's `kSparseThreshold`: a most frequent bin other than the zero bin is used only when
/// it holds at least this share of the rows.
const SPARSE_THRESHOLD: f64 = 0.7;

/// What counts as missing for a feature (LightGBM's `MissingType`, with its codes in
/// `decision_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingType {
    /// Nothing: NaN is binned as 0.0.
    None,
    /// Zero (and NaN, binned as 0.0): the zero bin goes to the learned default side.
    Zero,
    /// NaN, in its own last bin, which goes to the learned default side.
    NaN,
}

impl MissingType {
    /// The two bits of `decision_type` (`missing_type << 2`).
    pub fn code(self) -> u8 {
        match self {
            MissingType::None => 0,
            MissingType::Zero => 1,
            MissingType::NaN => 2,
        }
    }
}

/// The parameters of `FindBin` that Strider exposes.
#[derive(Debug, Clone, Copy)]
pub struct BinOptions {
    pub max_bin: usize,
    /// `min_data_in_leaf`: a feature no threshold can split with this many rows on each side is
    /// trivial (LightGBM's `feature_pre_filter`).
    pub min_data_in_leaf: usize,
    pub use_missing: bool,
    pub zero_as_missing: bool,
}

/// Bin layout of one feature, as LightGBM's `BinMapper`.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureBins {
    /// `bin_upper_bound_`: value `v` falls in the first bin `i` with `v <= upper[i]`. The last
    /// value bin's bound is +inf; with `MissingType::NaN` one more bin (bound NaN) holds NaN.
    pub upper: Vec<f64>,
    pub missing: MissingType,
    /// The bin of 0.0.
    pub default_bin: usize,
    /// The bin whose histogram cell is rebuilt from the leaf's sums (`FixHistogram`), or left
    /// at zero when it is bin 0.
    pub most_freq_bin: usize,
    /// Smallest and largest distinct value (0.0 included when the data has zeros): the
    /// model's `feature_infos`.
    pub min_val: f64,
    pub max_val: f64,
    /// No split can use the feature (one bin, or filtered): LightGBM drops it.
    pub trivial: bool,
    /// Categorical features only (else empty): each bin's category (`bin_2_categorical_`;
    /// bin 0, -1, holds NaN, negative, rare and unseen categories) and each category's bin.
    pub categories: Vec<i32>,
    pub category_bins: BTreeMap<i32, usize>,
}

impl FeatureBins {
    pub fn n_bins(&self) -> usize {
        if self.is_categorical() {
            self.categories.len()
        } else {
            self.upper.len()
        }
    }

    pub fn is_categorical(&self) -> bool {
        !self.categories.is_empty()
    }

    /// The first bin of the histogram LightGBM stores: bin 0 is not stored when it is the most
    /// frequent bin (`offset` in `feature_histogram.hpp`).
    pub fn offset(&self) -> usize {
        usize::from(self.most_freq_bin == 0)
    }

    /// LightGBM's `ValueToBin`: NaN to the NaN bin, or as 0.0 without one; a category (the
    /// value truncated to an integer) to its bin, NaN and negative values to bin 0.
    #[inline]
    pub fn bin(&self, v: f64) -> usize {
        if self.is_categorical() {
            let c = v as i32;
            return if v.is_nan() || c < 0 {
                0
            } else {
                self.category_bins.get(&c).copied().unwrap_or(0)
            };
        }
        let last = self.n_bins().saturating_sub(1);
        if v.is_nan() && self.missing == MissingType::NaN {
            return last;
        }
        let v = if v.is_nan() { 0.0 } else { v };
        let last_value = last - usize::from(self.missing == MissingType::NaN);
        self.upper[..last_value]
            .partition_point(|u| *u < v)
            .min(last_value)
    }

    /// LightGBM's `FindBin` over all of `column`, numerical or categorical.
    pub fn fit(column: &[f64], opt: &BinOptions, categorical: bool) -> Self {
        let total = column.len();
        let (missing, na_cnt, mut values) = sample(column, opt);
        values.sort_by(f64::total_cmp);
        let zero_cnt = total - values.len() - na_cnt;
        let distinct = distinct_values(&values, zero_cnt);
        let (min_val, max_val) = match (distinct.first(), distinct.last()) {
            (Some(a), Some(b)) => (a.0, b.0),
            _ => (0.0, 0.0),
        };
        let mut bins = FeatureBins {
            upper: Vec::new(),
            missing,
            default_bin: 0,
            most_freq_bin: 0,
            min_val,
            max_val,
            trivial: true,
            categories: Vec::new(),
            category_bins: BTreeMap::new(),
        };
        let cnt_in_bin = if categorical {
            bins.fit_categorical(&distinct, total, na_cnt, opt.max_bin)
        } else {
            bins.fit_numerical(&distinct, total, na_cnt, opt.max_bin)
        };
        bins.trivial = cnt_in_bin.len() <= 1
            || need_filter(&cnt_in_bin, total, opt.min_data_in_leaf, categorical);
        if !bins.trivial {
            bins.default_bin = bins.bin(0.0);
            bins.most_freq_bin = most_freq_bin(&cnt_in_bin, bins.default_bin, total);
        }
        bins
    }

    /// The numerical bounds (`FindBinWithZeroAsOneBin` with one bin kept for NaN) and the rows
    /// per bin.
    fn fit_numerical(
        &mut self,
        distinct: &[(f64, usize)],
        total: usize,
        na_cnt: usize,
        max_bin: usize,
    ) -> Vec<usize> {
        let max_bin = max_bin.max(2);
        self.upper = match self.missing {
            MissingType::NaN => find_bin_zero_as_one_bin(distinct, max_bin - 1, total - na_cnt),
            _ => find_bin_zero_as_one_bin(distinct, max_bin, total),
        };
        if self.missing == MissingType::Zero && self.upper.len() == 2 {
            self.missing = MissingType::None;
        }
        if self.missing == MissingType::NaN {
            self.upper.push(f64::NAN);
        }
        counts_in_bins(distinct, &self.upper, self.missing, na_cnt)
    }

    /// The categorical bins (`bin.cpp`): categories by falling count (the smaller first on
    /// ties) until 99% of the non-missing rows are covered and there are `max_bin` bins or no
    /// more categories, stopping at a rare one (under `min_data_in_bin` rows) after the second;
    /// bin 0 holds NaN, negative and left-out categories. Returns the rows per bin.
    fn fit_categorical(
        &mut self,
        distinct: &[(f64, usize)],
        total: usize,
        mut na_cnt: usize,
        max_bin: usize,
    ) -> Vec<usize> {
        let mut cats: Vec<(i32, usize)> = Vec::new();
        for &(v, c) in distinct {
            let iv = v as i32;
            match cats.last_mut() {
                _ if iv < 0 => na_cnt += c,
                Some(last) if last.0 == iv => last.1 += c,
                _ => cats.push((iv, c)),
            }
        }
        self.categories = vec![-1];
        let mut cnt_in_bin = vec![0];
        if total == na_cnt {
            return cnt_in_bin;
        }
        cats.sort_by_key(|c| std::cmp::Reverse(c.1));
        let cut_cnt = (f64::from((total - na_cnt) as f32 * 0.99f32) + 0.5) as usize;
        let max_bin = max_bin.min(cats.len() + usize::from(na_cnt > 0));
        let mut used = 0;
        let mut taken = 0;
        while taken < cats.len() && (used < cut_cnt || self.categories.len() < max_bin) {
            let (cat, c) = cats[taken];
            if c < MIN_DATA_IN_BIN && taken > 1 {
                break;
            }
            self.category_bins.insert(cat, self.categories.len());
            self.categories.push(cat);
            cnt_in_bin.push(c);
            used += c;
            taken += 1;
        }
        self.missing = if taken == cats.len() && na_cnt == 0 {
            MissingType::None
        } else {
            MissingType::NaN
        };
        cnt_in_bin[0] = total - used;
        cnt_in_bin
    }
}

/// The values `FindBin` sees, LightGBM's way: zeros (|v| <= 1e-35) are not sampled but counted,
/// NaN is missing only for the NaN type (otherwise it counts as a zero). Returns the missing
/// type, the NaN count and the sampled non-NaN values.
fn sample(column: &[f64], opt: &BinOptions) -> (MissingType, usize, Vec<f64>) {
    let values: Vec<f64> = column
        .iter()
        .copied()
        .filter(|v| !v.is_nan() && v.abs() > KZERO)
        .collect();
    let nan = column.iter().filter(|v| v.is_nan()).count();
    let (missing, na_cnt) = if !opt.use_missing {
        (MissingType::None, 0)
    } else if opt.zero_as_missing {
        (MissingType::Zero, 0)
    } else if nan == 0 {
        (MissingType::None, 0)
    } else {
        (MissingType::NaN, nan)
    };
    (missing, na_cnt, values)
}

/// `next_up(a) >= b` for ordered `a <= b`: LightGBM merges values within one ulp.
fn within_ulp(a: f64, b: f64) -> bool {
    b <= a.next_up()
}

/// Sorted distinct values with their counts (values within one ulp merged into the larger),
/// with 0.0 (holding the zeros) inserted between the negatives and the positives as `bin.cpp`
/// does: always when both signs occur, at an end only when there are zeros.
fn distinct_values(values: &[f64], zero_cnt: usize) -> Vec<(f64, usize)> {
    let mut out: Vec<(f64, usize)> = Vec::new();
    if values.first().is_none_or(|&v| v > 0.0 && zero_cnt > 0) {
        out.push((0.0, zero_cnt));
    }
    for (i, &v) in values.iter().enumerate() {
        match out.last_mut() {
            Some(last) if i > 0 && within_ulp(values[i - 1], v) => *last = (v, last.1 + 1),
            _ => {
                if i > 0 && values[i - 1] < 0.0 && v > 0.0 {
                    out.push((0.0, zero_cnt));
                }
                out.push((v, 1));
            }
        }
    }
    if values.last().is_some_and(|&v| v < 0.0 && zero_cnt > 0) {
        out.push((0.0, zero_cnt));
    }
    out
}

/// Push `next_up(mid)` unless it is within one ulp of the last bound; whether it was pushed.
fn push_bound(bounds: &mut Vec<f64>, mid: f64) -> bool {
    let v = mid.next_up();
    if bounds.last().is_none_or(|&l| !within_ulp(l, v)) {
        bounds.push(v);
        true
    } else {
        false
    }
}

/// LightGBM `GreedyFindBin`: upper bounds ending with +inf, at most `max_bin` of them.
fn greedy_find_bin(distinct: &[(f64, usize)], max_bin: usize, total: usize) -> Vec<f64> {
    let n = distinct.len();
    let mut bounds = Vec::new();
    if n <= max_bin {
        let mut cur = 0;
        for i in 0..n.saturating_sub(1) {
            cur += distinct[i].1;
            if cur >= MIN_DATA_IN_BIN
                && push_bound(&mut bounds, (distinct[i].0 + distinct[i + 1].0) / 2.0)
            {
                cur = 0;
            }
        }
        bounds.push(f64::INFINITY);
        return bounds;
    }
    let max_bin = max_bin.min(total / MIN_DATA_IN_BIN).max(1);
    let (uppers, lowers) = greedy_cuts(distinct, max_bin, total);
    for (u, l) in uppers.iter().zip(&lowers[1..]) {
        push_bound(&mut bounds, (u + l) / 2.0);
    }
    bounds.push(f64::INFINITY);
    bounds
}

/// The cut points of `GreedyFindBin` when there are more distinct values than bins: values
/// frequent enough to fill a bin get their own, the rest share bins of the remaining mean size.
/// Returns each closed bin's largest value and each bin's smallest value.
fn greedy_cuts(distinct: &[(f64, usize)], max_bin: usize, total: usize) -> (Vec<f64>, Vec<f64>) {
    let mut mean_bin_size = total as f64 / max_bin as f64;
    let big: Vec<bool> = distinct
        .iter()
        .map(|(_, c)| *c as f64 >= mean_bin_size)
        .collect();
    let mut rest_bin_cnt = max_bin as i64;
    let mut rest_sample_cnt = total as i64;
    for (&(_, c), _) in distinct.iter().zip(&big).filter(|(_, b)| **b) {
        rest_bin_cnt -= 1;
        rest_sample_cnt -= c as i64;
    }
    mean_bin_size = rest_sample_cnt as f64 / rest_bin_cnt as f64;
    let mut uppers = Vec::new();
    let mut lowers = vec![distinct[0].0];
    let mut cur = 0i64;
    for i in 0..distinct.len() - 1 {
        let c = distinct[i].1 as i64;
        if !big[i] {
            rest_sample_cnt -= c;
        }
        cur += c;
        let cur_f = cur as f64;
        if big[i]
            || cur_f >= mean_bin_size
            || (big[i + 1] && cur_f >= (mean_bin_size * 0.5).max(1.0))
        {
            uppers.push(distinct[i].0);
            lowers.push(distinct[i + 1].0);
            if uppers.len() >= max_bin - 1 {
                break;
            }
            cur = 0;
            if !big[i] {
                rest_bin_cnt -= 1;
                mean_bin_size = rest_sample_cnt as f64 / rest_bin_cnt as f64;
            }
        }
    }
    (uppers, lowers)
}

/// LightGBM `FindBinWithZeroAsOneBin`: negatives and positives get bins in proportion to their
/// rows, and zero (|v| <= 1e-35) a bin of its own, `(-1e-35, 1e-35]`.
fn find_bin_zero_as_one_bin(distinct: &[(f64, usize)], max_bin: usize, total: usize) -> Vec<f64> {
    let rows = |f: &dyn Fn(f64) -> bool| -> usize {
        distinct.iter().filter(|(v, _)| f(*v)).map(|(_, c)| c).sum()
    };
    let left_cnt_data = rows(&|v| v <= -KZERO);
    let right_cnt_data = rows(&|v| v > KZERO);
    let cnt_zero = rows(&|v| v > -KZERO && v <= KZERO);
    let left_cnt = distinct
        .iter()
        .position(|(v, _)| *v > -KZERO)
        .unwrap_or(distinct.len());
    let mut bounds = Vec::new();
    if left_cnt > 0 && max_bin > 1 {
        let share = left_cnt_data as f64 / (total - cnt_zero) as f64;
        let left_max_bin = ((share * (max_bin - 1) as f64) as usize).max(1);
        bounds = greedy_find_bin(&distinct[..left_cnt], left_max_bin, left_cnt_data);
        if let Some(last) = bounds.last_mut() {
            *last = -KZERO;
        }
    }
    let right_start = distinct[left_cnt..].iter().position(|(v, _)| *v > KZERO);
    let right_max_bin = (max_bin as i64) - 1 - bounds.len() as i64;
    match right_start {
        Some(s) if right_max_bin > 0 => {
            let right = greedy_find_bin(
                &distinct[left_cnt + s..],
                right_max_bin as usize,
                right_cnt_data,
            );
            bounds.push(KZERO);
            bounds.extend(right);
        }
        _ => bounds.push(f64::INFINITY),
    }
    bounds
}

/// Rows per bin from the distinct values (`cnt_in_bin` in `bin.cpp`); the NaN bin holds the
/// NaN count.
fn counts_in_bins(
    distinct: &[(f64, usize)],
    upper: &[f64],
    missing: MissingType,
    na_cnt: usize,
) -> Vec<usize> {
    let mut cnt = vec![0; upper.len()];
    let mut i_bin = 0;
    for &(v, c) in distinct {
        while v > upper[i_bin] && i_bin < upper.len() - 1 {
            i_bin += 1;
        }
        cnt[i_bin] += c;
    }
    if missing == MissingType::NaN
        && let Some(last) = cnt.last_mut()
    {
        *last = na_cnt;
    }
    cnt
}

/// LightGBM `NeedFilter`: no threshold (numerical) or, for a categorical feature with at most
/// two bins, no bin leaves `filter_cnt` rows on both sides.
fn need_filter(cnt_in_bin: &[usize], total: usize, filter_cnt: usize, categorical: bool) -> bool {
    if categorical && cnt_in_bin.len() > 2 {
        return false;
    }
    let mut left = 0;
    for c in &cnt_in_bin[..cnt_in_bin.len() - 1] {
        left = if categorical { *c } else { left + c };
        if left >= filter_cnt && total - left >= filter_cnt {
            return false;
        }
    }
    true
}

/// The first fullest bin, or the zero bin when that holds under 70% of the rows.
fn most_freq_bin(cnt_in_bin: &[usize], default_bin: usize, total: usize) -> usize {
    let mut best = 0;
    for (i, &c) in cnt_in_bin.iter().enumerate() {
        if c > cnt_in_bin[best] {
            best = i;
        }
    }
    if best != default_bin && (cnt_in_bin[best] as f64 / total as f64) < SPARSE_THRESHOLD {
        default_bin
    } else {
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(max_bin: usize) -> BinOptions {
        BinOptions {
            max_bin,
            min_data_in_leaf: 1,
            use_missing: true,
            zero_as_missing: false,
        }
    }

    #[test]
    fn few_distinct_values_get_their_own_bins() {
        let v: Vec<f64> = [1.0, 2.0, 3.0]
            .iter()
            .flat_map(|x| [*x; 5])
            .chain([f64::NAN])
            .collect();
        let b = FeatureBins::fit(&v, &opts(255), false);
        // A zero bin below the positives, one bin per value (bounds one ulp above the
        // midpoints), then the NaN bin.
        assert_eq!(
            b.upper[..4],
            [KZERO, 1.5f64.next_up(), 2.5f64.next_up(), f64::INFINITY]
        );
        assert!(b.upper[4].is_nan());
        assert_eq!(b.missing, MissingType::NaN);
        assert_eq!(
            (
                b.bin(0.0),
                b.bin(1.0),
                b.bin(2.0),
                b.bin(9.0),
                b.bin(f64::NAN)
            ),
            (0, 1, 2, 3, 4)
        );
        // All values positive: the (empty) zero bin is bin 0, the default and most frequent.
        assert_eq!((b.default_bin, b.most_freq_bin, b.offset()), (0, 0, 1));
    }

    #[test]
    fn many_values_are_cut_into_at_most_max_bin_bins() {
        let v: Vec<f64> = (0..10_000).map(|i| (i as f64).sqrt()).collect();
        let b = FeatureBins::fit(&v, &opts(63), false);
        assert!(b.n_bins() <= 63 && b.n_bins() > 50, "{}", b.n_bins());
        assert!(b.upper.windows(2).all(|w| w[0] < w[1]));
    }

    /// A golden case's binning options (from its parameters), rows and bin layouts.
    fn golden_case(case: &str) -> (BinOptions, Vec<Vec<f64>>, Vec<serde_json::Value>) {
        let dir = format!(
            "{}/../../tests/golden/lightgbm/train",
            env!("CARGO_MANIFEST_DIR")
        );
        let read = |ext: &str| std::fs::read_to_string(format!("{dir}/{case}.{ext}")).unwrap();
        let params: serde_json::Value = serde_json::from_str(&read("params.json")).unwrap();
        let p = &params["params"];
        let opt = BinOptions {
            max_bin: p["max_bin"].as_u64().unwrap() as usize,
            min_data_in_leaf: p["min_data_in_leaf"].as_u64().unwrap() as usize,
            use_missing: p["use_missing"].as_bool().unwrap_or(true),
            zero_as_missing: p["zero_as_missing"].as_bool().unwrap_or(false),
        };
        let cell = |c: &str| {
            if c.is_empty() {
                f64::NAN
            } else {
                c.parse().unwrap()
            }
        };
        let rows = read("csv")
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(cell).collect())
            .collect();
        (opt, rows, serde_json::from_str(&read("bins.json")).unwrap())
    }

    /// `got` is LightGBM's layout `want` (a `lgb_findbin.py` record): bounds bit for bit or
    /// categories, missing type, trivial, default and most frequent bin, value range.
    fn assert_same_bins(got: &FeatureBins, want: &serde_json::Value, what: &str) {
        if got.is_categorical() {
            let cats: Vec<i64> = got.categories.iter().map(|c| i64::from(*c)).collect();
            let want_cats: Vec<i64> = want["bin_2_categorical"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_i64().unwrap())
                .collect();
            assert_eq!(cats, want_cats, "{what}");
        } else {
            let upper: Vec<f64> = want["upper"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().parse().unwrap())
                .collect();
            let same = |a: &f64, b: &f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
            assert!(
                got.upper.len() == upper.len()
                    && got.upper.iter().zip(&upper).all(|(a, b)| same(a, b)),
                "{what}: {:?} vs {upper:?}",
                got.upper
            );
            let val = |k: &str| want[k].as_str().unwrap().parse::<f64>().unwrap().to_bits();
            assert_eq!(
                (got.min_val.to_bits(), got.max_val.to_bits()),
                (val("min_val"), val("max_val")),
                "{what}"
            );
        }
        assert_eq!(
            got.n_bins() as u64,
            want["num_bin"].as_u64().unwrap(),
            "{what}"
        );
        let missing = format!("{:?}", got.missing);
        assert_eq!(missing, want["missing_type"].as_str().unwrap(), "{what}");
        assert_eq!(got.trivial, want["is_trivial"].as_bool().unwrap(), "{what}");
        let bin = |k: &str| want[k].as_u64().unwrap() as usize;
        assert_eq!(
            (got.default_bin, got.most_freq_bin),
            (bin("default_bin"), bin("most_freq_bin")),
            "{what}"
        );
    }

    /// Every feature of every golden case binned as LightGBM 4.7.0 bins it.
    #[test]
    fn bins_are_lightgbms_on_the_golden_data() {
        let mut checked = 0;
        for case in [
            "plain",
            "nan",
            "nan_alone",
            "zeros",
            "zero_as_missing",
            "use_missing_false",
            "categorical",
            "binary_nan",
            "multiclass_nan",
        ] {
            let (opt, rows, bins) = golden_case(case);
            for (j, want) in bins.iter().enumerate() {
                let column: Vec<f64> = rows.iter().map(|r| r[j]).collect();
                let got = FeatureBins::fit(&column, &opt, want["bin_type"] == "categorical");
                assert_same_bins(&got, want, &format!("{case} f{j}"));
                checked += 1;
            }
        }
        assert_eq!(checked, 54);
    }
}
