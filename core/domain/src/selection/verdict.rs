//! Pass or fail, with the reasons in words a user can act on.

use super::{Ranked, RankedMetrics, Rule, SelectionSpec};

/// Whether a model passes every criterion, and why (the failures, or the evidence it passed on).
pub(super) fn judge(m: &RankedMetrics, spec: &SelectionSpec) -> (bool, Vec<String>) {
    let bench = spec.benchmark.label();
    let mut fails = Vec::new();
    let mut passes = Vec::new();
    let dsr = format!(
        "DSR {:.3} against {bench} after {} trials",
        m.dsr, m.n_trials
    );
    if m.dsr >= spec.min_dsr {
        passes.push(format!("{dsr} >= {}", spec.min_dsr));
    } else {
        fails.push(format!(
            "{dsr} < {} (no better than the luckiest of {} unskilled trials)",
            spec.min_dsr, m.n_trials
        ));
    }
    if spec.require_mcs {
        let mcs = format!("model confidence set p-value {:.3}", m.mcs_p_value);
        if m.in_mcs {
            passes.push(format!(
                "in the {:.0}% model confidence set ({mcs})",
                100.0 * (1.0 - spec.mcs_size)
            ));
        } else {
            fails.push(format!(
                "outside the {:.0}% model confidence set ({mcs})",
                100.0 * (1.0 - spec.mcs_size)
            ));
        }
    }
    let pos = m.stability.positive_folds;
    if pos >= spec.min_positive_folds {
        passes.push(format!("positive Sharpe in {:.0}% of folds", 100.0 * pos));
    } else {
        fails.push(format!(
            "positive Sharpe in {:.0}% of folds < {:.0}%",
            100.0 * if pos.is_nan() { 0.0 } else { pos },
            100.0 * spec.min_positive_folds
        ));
    }
    if let Some(dd) = spec.max_drawdown
        && !at_least(m.max_drawdown, dd)
    {
        fails.push(format!(
            "max drawdown {:.1}% deeper than {:.1}%",
            100.0 * m.max_drawdown,
            100.0 * dd
        ));
    }
    if let Some(p) = spec.max_spa_p_value
        && !at_least(p, m.spa_p_value)
    {
        fails.push(format!(
            "SPA p-value {:.3} against {bench} > {p}",
            m.spa_p_value
        ));
    }
    if fails.is_empty() {
        (true, passes)
    } else {
        (false, fails)
    }
}

/// The best-ranked passing model with its reasons, or `None` with why.
pub(super) fn recommend(rows: &[Ranked], spec: &SelectionSpec) -> (Option<String>, Vec<String>) {
    let rule = match spec.rule {
        Rule::MaxDsr => "deflated Sharpe ratio",
        Rule::MaxSharpe => "Sharpe ratio",
        Rule::MaxSortino => "Sortino ratio",
    };
    let passing: Vec<&Ranked> = rows.iter().filter(|r| r.passes).collect();
    if let Some(best) = passing.first() {
        let mut reasons = vec![format!(
            "`{}` has the highest {rule} of the {} model(s) passing every criterion",
            best.model,
            passing.len()
        )];
        reasons.extend(best.reasons.iter().cloned());
        // Diebold-Mariano is against the top-ranked model: only then is it against this one.
        if best.rank == 1
            && let Some(other) = passing.get(1)
            && let Some(p) = other.metrics.dm_vs_best_p_value
            && p > 0.05
        {
            reasons.push(format!(
                "`{}` also passes and is not significantly worse (Diebold-Mariano p-value {p:.3})",
                other.model
            ));
        }
        return (Some(best.model.clone()), reasons);
    }
    let Some(top) = rows.first() else {
        return (None, vec!["the run has no models".into()]);
    };
    let bench = spec.benchmark.label();
    let best_dsr = rows.iter().map(|r| r.metrics.dsr).fold(f64::NAN, f64::max);
    let mut reasons = Vec::new();
    if rows.iter().all(|r| !at_least(r.metrics.dsr, spec.min_dsr)) {
        reasons.push(format!(
            "no model beats {bench} after deflation: the best DSR is {best_dsr:.3} < {} over {} trials",
            spec.min_dsr, top.metrics.n_trials
        ));
    } else {
        reasons.push("no model passes every criterion".to_string());
    }
    reasons.push(format!(
        "top-ranked `{}`: {}",
        top.model,
        top.reasons.join("; ")
    ));
    (None, reasons)
}

/// `v >= bound`; a NaN figure never meets a bound.
fn at_least(v: f64, bound: f64) -> bool {
    v >= bound
}
