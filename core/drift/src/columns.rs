//! Drift between two tables, column by column: PSI and the KS test per column, a column drifted
//! when the shift is both large (PSI at or above `psi`) and significant (KS p-value below
//! `ks_pvalue`), and the table drifted when the share of drifted columns reaches `share`. Either
//! alone misleads: PSI on a short window of autocorrelated features is noisy, and KS on long
//! windows calls negligible shifts significant. Non-finite values are dropped per column
//! (and counted), as scipy's `nan_policy="omit"` would.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ks::ks_2samp;
use crate::psi::psi;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftThresholds {
    /// A drifted column's PSI is at least this (0.25: the common "major shift" band).
    pub psi: f64,
    /// A drifted column's KS p-value is below this.
    pub ks_pvalue: f64,
    /// The table drifts when at least this share of its columns do.
    pub share: f64,
}

impl Default for DriftThresholds {
    fn default() -> Self {
        Self {
            psi: 0.25,
            ks_pvalue: 0.01,
            share: 0.5,
        }
    }
}

impl DriftThresholds {
    pub fn validate(&self) -> Result<(), String> {
        let ok = self.psi > 0.0
            && self.psi.is_finite()
            && (0.0..=1.0).contains(&self.ks_pvalue)
            && self.share > 0.0
            && self.share <= 1.0;
        if ok {
            Ok(())
        } else {
            Err(format!(
                "drift thresholds need psi > 0, ks_pvalue in [0, 1] and share in (0, 1]; got {self:?}"
            ))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnDrift {
    pub psi: f64,
    pub ks_statistic: f64,
    pub ks_pvalue: f64,
    pub drifted: bool,
    pub n_reference: usize,
    pub n_current: usize,
    /// Non-finite values left out of either sample.
    pub dropped: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableDrift {
    pub columns: BTreeMap<String, ColumnDrift>,
    pub share_drifted: f64,
    pub drift: bool,
    pub thresholds: DriftThresholds,
}

fn finite(x: &[f64]) -> Vec<f64> {
    x.iter().copied().filter(|v| v.is_finite()).collect()
}

/// One column's drift; an error names what is missing.
pub fn column_drift(
    reference: &[f64],
    current: &[f64],
    thresholds: &DriftThresholds,
) -> Result<ColumnDrift, String> {
    let (r, c) = (finite(reference), finite(current));
    let dropped = reference.len() - r.len() + current.len() - c.len();
    let (Some(psi), Some(ks)) = (psi(&r, &c), ks_2samp(&r, &c)) else {
        return Err(format!(
            "needs at least one finite value on each side (reference {}, current {})",
            r.len(),
            c.len()
        ));
    };
    Ok(ColumnDrift {
        psi,
        ks_statistic: ks.statistic,
        ks_pvalue: ks.pvalue,
        drifted: psi >= thresholds.psi && ks.pvalue < thresholds.ks_pvalue,
        n_reference: r.len(),
        n_current: c.len(),
        dropped,
    })
}

/// Every named column of `reference` against the same column of `current`.
pub fn table_drift(
    reference: &[(String, Vec<f64>)],
    current: &[(String, Vec<f64>)],
    thresholds: &DriftThresholds,
) -> Result<TableDrift, String> {
    if reference.is_empty() {
        return Err("no columns to compare".into());
    }
    let mut columns = BTreeMap::new();
    for (name, r) in reference {
        let c = current
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| format!("column `{name}` is missing from the current data"))?;
        let drift =
            column_drift(r, &c.1, thresholds).map_err(|e| format!("column `{name}`: {e}"))?;
        columns.insert(name.clone(), drift);
    }
    let drifted = columns.values().filter(|c| c.drifted).count();
    let share_drifted = drifted as f64 / columns.len() as f64;
    Ok(TableDrift {
        columns,
        share_drifted,
        drift: share_drifted >= thresholds.share,
        thresholds: *thresholds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, v: Vec<f64>) -> (String, Vec<f64>) {
        (name.into(), v)
    }

    #[test]
    fn a_table_drifts_when_enough_columns_shift_large_and_significantly() {
        let base: Vec<f64> = (0..300).map(|i| ((i * 37) % 101) as f64).collect();
        let shifted: Vec<f64> = base[..100].iter().map(|x| x + 60.0).collect();
        let t = DriftThresholds::default();
        let reference = [col("a", base.clone()), col("b", base.clone())];
        let current = [col("a", shifted), col("b", base[..100].to_vec())];
        let d = table_drift(&reference, &current, &t).unwrap();
        assert!(d.columns["a"].drifted && !d.columns["b"].drifted);
        assert_eq!((d.share_drifted, d.drift), (0.5, true));
        let strict = DriftThresholds { share: 0.75, ..t };
        assert!(!table_drift(&reference, &current, &strict).unwrap().drift);
    }

    #[test]
    fn missing_values_are_dropped_and_errors_name_the_column() {
        let t = DriftThresholds::default();
        let c = column_drift(&[1.0, f64::NAN, 2.0], &[1.0, 2.0, f64::INFINITY], &t).unwrap();
        assert_eq!((c.n_reference, c.n_current, c.dropped), (2, 2, 2));
        let e = table_drift(&[col("a", vec![f64::NAN])], &[col("a", vec![1.0])], &t).unwrap_err();
        assert!(e.contains("column `a`") && e.contains("finite"), "{e}");
        let e = table_drift(&[col("a", vec![1.0])], &[col("b", vec![1.0])], &t).unwrap_err();
        assert!(e.contains("`a` is missing"), "{e}");
        assert!(table_drift(&[], &[], &t).is_err());
        for bad in [
            DriftThresholds { psi: 0.0, ..t },
            DriftThresholds {
                ks_pvalue: 1.5,
                ..t
            },
            DriftThresholds { share: 0.0, ..t },
        ] {
            assert!(bad.validate().is_err());
        }
    }
}
