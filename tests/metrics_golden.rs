//! Metrics and statistics against the reference libraries on real series (quantstats 0.0.86,
//! empyrical-reloaded, arch 8.0, dieboldmariano 1.1). Golden values and the script that made
//! them: tests/golden/metrics.json, tests/golden/make_metrics_golden.py.

use serde_json::Value;
use strider_core::data::{ReturnsTable, parse_returns};
use strider_core::metrics::MetricsSpec;
use strider_core::metrics::{benchmark_metrics, series_metrics};
use strider_core::stats::{
    McsMethod, deflated_sharpe, diebold_mariano, model_confidence_set,
    probability_of_backtest_overfitting, superior_predictive_ability,
};

fn golden() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/golden/metrics.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn input(name: &str) -> ReturnsTable {
    let path = format!(
        "{}/../../tests/golden/metrics_input_{name}.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    parse_returns(&path, &std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn column<'a>(t: &'a ReturnsTable, name: &str) -> &'a [f64] {
    &t.columns.iter().find(|(n, _)| n == name).unwrap().1
}

/// Equal to 1e-9, relative for large values; `null` = NaN, "inf" = +inf.
fn check(what: &str, got: f64, want: &Value) {
    match want {
        Value::Null => assert!(got.is_nan(), "{what}: {got} vs null"),
        Value::String(s) if s == "inf" => assert!(got == f64::INFINITY, "{what}: {got} vs inf"),
        v => {
            let w = v.as_f64().unwrap();
            let tol = 1e-9 * w.abs().max(1.0);
            assert!(
                (got - w).abs() <= tol,
                "{what}: got {got}, reference {w} (diff {:e})",
                got - w
            );
        }
    }
}

fn check_fields(prefix: &str, got: &[(&str, f64)], want: &Value) -> usize {
    let mut n = 0;
    for (k, w) in want.as_object().unwrap() {
        let (_, g) = got
            .iter()
            .find(|(name, _)| name == k)
            .unwrap_or_else(|| panic!("{prefix}: no field {k}"));
        check(&format!("{prefix}.{k}"), *g, w);
        n += 1;
    }
    n
}

fn check_all(prefix: &str, got: &Value, want: &Value) -> usize {
    let mut n = 0;
    for (k, w) in want.as_object().unwrap() {
        let g = &got[k];
        let gv = match g {
            Value::Null => f64::NAN,
            v => v.as_f64().unwrap_or_else(|| panic!("{prefix}.{k}: {v}")),
        };
        check(&format!("{prefix}.{k}"), gv, w);
        n += 1;
    }
    n
}

#[test]
fn per_series_metrics_equal_quantstats_and_empyrical() {
    let g = golden();
    let spec = MetricsSpec::default();
    let (mut checked, mut series) = (0, 0);
    for (key, want) in g["series"].as_object().unwrap() {
        let (file, col) = key.split_once('/').unwrap();
        let t = input(file);
        let m = series_metrics(&t.dates, column(&t, col), None, &spec);
        checked += check_fields(key, &m.fields(), want);
        series += 1;
    }
    assert_eq!(series, 19, "series checked");
    assert!(checked > 400, "{checked}");
    let mut rf_cases = 0;
    for (key, want) in g["rf"].as_object().unwrap() {
        let (series, rf) = key.split_once('@').unwrap();
        let (file, col) = series.split_once('/').unwrap();
        let t = input(file);
        let spec = MetricsSpec {
            risk_free: rf.parse().unwrap(),
            ..Default::default()
        };
        let m = series_metrics(&t.dates, column(&t, col), None, &spec);
        check_fields(key, &m.fields(), want);
        rf_cases += 1;
    }
    assert_eq!(rf_cases, 2, "risk-free cases checked");
}

#[test]
fn benchmark_metrics_equal_quantstats_and_empyrical() {
    let g = golden();
    let mut cases = 0;
    for (key, want) in g["benchmark"].as_object().unwrap() {
        let (file, pair) = key.split_once('/').unwrap();
        let (a, b) = pair.split_once('~').unwrap();
        let t = input(file);
        let m = benchmark_metrics(column(&t, a), column(&t, b), &MetricsSpec::default());
        check_all(key, &serde_json::to_value(&m).unwrap(), want);
        cases += 1;
    }
    assert_eq!(cases, 4, "benchmark cases checked");
}

#[test]
fn deflated_sharpe_and_pbo_equal_the_papers_formulas() {
    let g = golden();
    let spec = MetricsSpec::default();
    let t = input("trials");
    let cols: Vec<Vec<f64>> = t.columns.iter().map(|(_, c)| c.clone()).collect();
    let sharpes: Vec<f64> = cols
        .iter()
        .map(|c| strider_core::metrics::sharpe_per_period(c, &spec))
        .collect();
    let want = &g["dsr"];
    let selected = column(&t, want["selected"].as_str().unwrap());
    let d = deflated_sharpe(selected, &sharpes, &spec);
    assert_eq!(d.n_trials, want["n_trials"].as_u64().unwrap() as usize);
    check(
        "dsr.sharpe_variance",
        d.sharpe_variance,
        &want["sharpe_variance"],
    );
    check(
        "dsr.expected_max_sharpe",
        d.expected_max_sharpe,
        &want["expected_max_sharpe"],
    );
    check("dsr.dsr", d.dsr, &want["dsr"]);

    for (name, blocks) in [("trials", 16), ("stocks", 10)] {
        let t = input(name);
        let cols: Vec<Vec<f64>> = t
            .columns
            .iter()
            .filter(|(n, _)| n != "INDEX")
            .map(|(_, c)| c.clone())
            .collect();
        let p = probability_of_backtest_overfitting(&cols, blocks).unwrap();
        let want = &g["pbo"][name];
        check(&format!("pbo.{name}"), p.pbo, &want["pbo"]);
        check(
            &format!("pbo.{name}.prob_oos_loss"),
            p.prob_oos_loss,
            &want["prob_oos_loss"],
        );
        assert_eq!(
            p.n_combinations as u64,
            want["n_combinations"].as_u64().unwrap()
        );
        for (i, l) in want["logits_head"].as_array().unwrap().iter().enumerate() {
            check(&format!("pbo.{name}.logit[{i}]"), p.logits[i], l);
        }
    }
}

#[test]
fn diebold_mariano_equals_the_dieboldmariano_package() {
    let g = golden();
    let t = input("losses");
    let mut cases = 0;
    for (key, want) in g["dm"].as_object().unwrap() {
        let mut parts = key.split('~');
        let (a, b, h) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let h: usize = h.trim_start_matches('h').parse().unwrap();
        let dm = diebold_mariano(column(&t, a), column(&t, b), h).unwrap();
        check(
            &format!("{key}.statistic"),
            dm.statistic,
            &want["statistic"],
        );
        check(&format!("{key}.p_value"), dm.p_value, &want["p_value"]);
        cases += 1;
    }
    assert_eq!(cases, 3, "Diebold-Mariano cases checked");
}

#[test]
fn spa_and_reality_check_p_values_are_within_0_03_of_arch() {
    let g = golden();
    let neg = |c: &[f64]| -> Vec<f64> {
        c.iter()
            .map(|r| if r.is_finite() { -r } else { 0.0 })
            .collect()
    };
    let indices = input("indices");
    let stocks = input("stocks");
    let losses = input("losses");
    // (name, benchmark losses, model losses)
    type Case<'a> = (&'a str, Vec<f64>, Vec<Vec<f64>>);
    let cases: Vec<Case> = vec![
        (
            "indices",
            neg(column(&indices, "NASDAQ")),
            vec![neg(column(&indices, "SP500"))],
        ),
        (
            "stocks",
            neg(column(&stocks, "INDEX")),
            stocks
                .columns
                .iter()
                .filter(|(n, _)| n != "INDEX")
                .map(|(_, c)| neg(c))
                .collect(),
        ),
        (
            "losses",
            column(&losses, "w5").to_vec(),
            losses
                .columns
                .iter()
                .filter(|(n, _)| n != "w5")
                .map(|(_, c)| c.clone())
                .collect(),
        ),
    ];
    for (name, bench, models) in cases {
        let want = &g["spa"][name];
        let spa = superior_predictive_ability(&bench, &models, 1000, None, 7).unwrap();
        assert_eq!(
            spa.block_size as u64,
            want["block_size"].as_u64().unwrap(),
            "{name}"
        );
        for (key, got) in [
            ("lower", spa.p_value_lower),
            ("consistent", spa.p_value_consistent),
            ("upper", spa.p_value_upper),
        ] {
            let w = want[key].as_f64().unwrap();
            assert!(
                (got - w).abs() <= 0.03,
                "spa {name} {key}: {got} vs arch {w}"
            );
        }
    }
}

#[test]
fn model_confidence_set_is_within_0_03_of_arch() {
    let g = golden();
    let t = input("losses");
    let losses: Vec<Vec<f64>> = t.columns.iter().map(|(_, c)| c.clone()).collect();
    for (method, key) in [(McsMethod::R, "R"), (McsMethod::Max, "max")] {
        let want = &g["mcs"][key];
        let m = model_confidence_set(&losses, 0.1, 1000, None, method, 7).unwrap();
        for (i, w) in want["pvalues"].as_array().unwrap().iter().enumerate() {
            let w = w.as_f64().unwrap();
            assert!(
                (m.p_values[i] - w).abs() <= 0.03,
                "mcs {key} model {i}: {} vs arch {w}",
                m.p_values[i]
            );
        }
        let ids = |v: &Value| -> Vec<usize> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect()
        };
        assert_eq!(m.included, ids(&want["included"]), "mcs {key} included");
        assert_eq!(m.excluded, ids(&want["excluded"]), "mcs {key} excluded");
    }
}
