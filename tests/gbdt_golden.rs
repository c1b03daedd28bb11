//! LightGBM model.txt evaluation against LightGBM 4.7.0 itself, on edge-case models (NaN and
//! zero missing values, categorical bitsets wider than 32 bits with unseen / negative / NaN /
//! fractional / huge categories, binary, multiclass, poisson, random forest). Goldens and the
//! scripts that made them: tests/golden/lightgbm/.

use proptest::prelude::*;
use strider_gbdt::GbdtModel;

const MODELS: [&str; 6] = [
    "reg_nan_cat",
    "reg_zero_missing",
    "binary",
    "multiclass",
    "poisson",
    "rf",
];

fn dir() -> String {
    format!("{}/../../tests/golden/lightgbm", env!("CARGO_MANIFEST_DIR"))
}

fn model(name: &str) -> GbdtModel {
    GbdtModel::parse(&std::fs::read_to_string(format!("{}/{name}.txt", dir())).unwrap()).unwrap()
}

fn rows() -> Vec<Vec<f64>> {
    std::fs::read_to_string(format!("{}/data.csv", dir()))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .skip(1)
                .map(|v| {
                    if v == "nan" {
                        f64::NAN
                    } else {
                        v.parse().unwrap()
                    }
                })
                .collect()
        })
        .collect()
}

fn numbers(file: &str) -> Vec<f64> {
    std::fs::read_to_string(format!("{}/{file}", dir()))
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect()
}

#[test]
fn predictions_are_bit_identical_to_lightgbm() {
    let x = rows();
    for name in MODELS {
        let m = model(name);
        let (want_pred, want_raw) = (
            numbers(&format!("{name}.pred")),
            numbers(&format!("{name}.raw")),
        );
        let k = m.num_outputs();
        assert_eq!(want_pred.len(), x.len() * k, "{name}");
        for (i, row) in x.iter().enumerate() {
            let raw = m.predict_raw(row);
            let pred = m.predict(row);
            for j in 0..k {
                assert_eq!(
                    raw[j].to_bits(),
                    want_raw[i * k + j].to_bits(),
                    "{name} row {i} output {j} raw: {} vs {}",
                    raw[j],
                    want_raw[i * k + j]
                );
                assert_eq!(
                    pred[j].to_bits(),
                    want_pred[i * k + j].to_bits(),
                    "{name} row {i} output {j}: {} vs {}",
                    pred[j],
                    want_pred[i * k + j]
                );
            }
        }
    }
}

#[test]
fn tree_shap_equals_lightgbm_pred_contrib() {
    let x = rows();
    for name in MODELS {
        let m = model(name);
        let want = numbers(&format!("{name}.contrib"));
        let width = m.num_outputs() * (m.num_features() + 1);
        assert_eq!(want.len(), 300 * width, "{name}");
        for (i, row) in x.iter().take(300).enumerate() {
            let got = m.contributions(row).unwrap();
            for (j, g) in got.iter().enumerate() {
                let w = want[i * width + j];
                assert!(
                    (g - w).abs() <= 1e-9 * w.abs().max(1.0),
                    "{name} row {i} column {j}: {g} vs {w}"
                );
            }
            // Local accuracy: each output's contributions add up to its raw score.
            {
                let raw = m.predict_raw(row);
                for (o, r) in raw.iter().enumerate() {
                    let s: f64 = got[o * (m.num_features() + 1)..(o + 1) * (m.num_features() + 1)]
                        .iter()
                        .sum();
                    assert!(
                        (s - r).abs() < 1e-9 * r.abs().max(1.0),
                        "{name} row {i}: {s} vs {r}"
                    );
                }
            }
        }
    }
}

#[test]
fn written_models_parse_back_to_the_same_predictions() {
    let x = rows();
    for name in MODELS {
        let m = model(name);
        let text = m.write();
        // Kept for inspection (and for loading into Python LightGBM by hand).
        let _ = std::fs::write(
            format!("{}/{name}.rewritten.txt", env!("CARGO_TARGET_TMPDIR")),
            &text,
        );
        // LightGBM's own file, byte for byte (its number formats and header order).
        let original = std::fs::read_to_string(format!("{}/{name}.txt", dir())).unwrap();
        assert!(text == original, "{name}: rewritten text differs");
        let again = GbdtModel::parse(&text).unwrap();
        assert_eq!(again.trees, m.trees, "{name}");
        for row in x.iter().take(500) {
            assert_eq!(m.predict(row), again.predict(row));
        }
    }
}

#[test]
fn malformed_files_are_errors_naming_the_line() {
    let text = std::fs::read_to_string(format!("{}/reg_nan_cat.txt", dir())).unwrap();
    let cases = [
        (
            text.replacen("left_child=1 5 6", "left_child=1 0 6", 1),
            "child 0 is invalid",
        ),
        (
            text.replacen("split_feature=0 4 4", "split_feature=0 9 4", 1),
            "split feature 9",
        ),
        (
            text.replacen("num_leaves=15", "num_leaves=abc", 1),
            "bad num_leaves",
        ),
        (
            text.replacen("threshold=0.30999714167012643", "threshold=zz", 1),
            "not a number",
        ),
        (text.replacen("version=v4", "", 1), "not a LightGBM model"),
        (
            text.replacen("cat_boundaries=0 2 4", "cat_boundaries=0 9 4", 1),
            "cat_boundaries",
        ),
    ];
    for (bad, want) in cases {
        let e = GbdtModel::parse(&bad).unwrap_err().to_string();
        assert!(e.contains(want) && e.contains("line "), "{e}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Fuzz: random byte-level edits of a real model never panic; a file that still parses
    /// evaluates without panicking.
    #[test]
    fn hostile_edits_never_panic(edits in prop::collection::vec((0usize..90_000, any::<u8>(), 0u8..3), 1..12)) {
        let text = std::fs::read_to_string(format!("{}/reg_nan_cat.txt", dir())).unwrap();
        let mut bytes = text.into_bytes();
        for (pos, b, op) in edits {
            let pos = pos % bytes.len();
            match op {
                0 => bytes[pos] = b,
                1 => { bytes.remove(pos); }
                _ => bytes.insert(pos, b" -=\n0123456789.e"[b as usize % 16]),
            }
        }
        if let Ok(m) = GbdtModel::parse(&String::from_utf8_lossy(&bytes)) {
            let _ = m.predict(&[0.5, f64::NAN, -1.0, 3.0, 7.0, 100.0]);
            let _ = m.contributions(&[0.5, f64::NAN, -1.0, 3.0, 7.0, 100.0]);
            let row = vec![0.5; m.num_features()];
            let _ = m.predict_batch(&row, 1);
        }
    }
}

#[test]
fn batch_prediction_is_bit_identical_to_row_prediction() {
    let x = rows();
    let flat: Vec<f64> = x.iter().flatten().copied().collect();
    for name in MODELS {
        let m = model(name);
        let batch = m.predict_batch(&flat, x.len());
        let want = numbers(&format!("{name}.pred"));
        assert!(
            batch
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{name}"
        );
    }
}

/// Every alias LightGBM 4.7.0 reports for a parameter Strider has (tests/golden/lightgbm/
/// aliases.json, written by make_aliases.py from LightGBM itself) sets that parameter, and
/// the parameters are written back under the canonical name.
#[test]
fn lightgbm_parameter_aliases_set_their_parameter() {
    let golden: std::collections::BTreeMap<String, Vec<String>> =
        serde_json::from_str(&std::fs::read_to_string(format!("{}/aliases.json", dir())).unwrap())
            .unwrap();
    // A value other than the default for each parameter.
    let values = serde_json::json!({
        "objective": "binary", "num_class": 3, "num_iterations": 7, "learning_rate": 0.2,
        "num_leaves": 9, "max_depth": 4, "min_data_in_leaf": 3, "min_sum_hessian_in_leaf": 0.5,
        "lambda_l1": 0.3, "lambda_l2": 0.4, "min_gain_to_split": 0.1, "feature_fraction": 0.6,
        "bagging_fraction": 0.7, "bagging_freq": 2, "max_bin": 63, "early_stopping_round": 4,
        "seed": 11, "num_threads": 3, "use_missing": false, "zero_as_missing": true,
        "categorical_feature": [1, 4], "max_cat_to_onehot": 8, "cat_smooth": 5.0, "cat_l2": 2.0,
        "max_cat_threshold": 16, "min_data_per_group": 50
    });
    let parse = |key: &str, value: &serde_json::Value| {
        serde_json::from_value::<strider_gbdt::GbdtParams>(serde_json::json!({ key: value }))
    };
    let defaults = serde_json::to_value(strider_gbdt::GbdtParams::default()).unwrap();
    for (canonical, aliases) in &golden {
        let value = &values[canonical.as_str()];
        let want = parse(canonical, value).unwrap();
        assert_ne!(
            serde_json::to_value(&want).unwrap(),
            defaults,
            "{canonical}"
        );
        for alias in aliases {
            let got = parse(alias, value).unwrap_or_else(|e| panic!("{alias}: {e}"));
            assert_eq!(got, want, "{alias} -> {canonical}");
            let written = serde_json::to_value(&got).unwrap();
            assert!(written.get(alias).is_none() && written.get(canonical).is_some());
        }
    }
    // categorical_feature also as LightGBM's comma-separated string.
    assert_eq!(
        parse("cat_feature", &serde_json::json!("1, 4"))
            .unwrap()
            .categorical_feature,
        vec![1, 4]
    );
    assert!(parse("categorical_feature", &serde_json::json!("1,x")).is_err());
    // Not an alias of anything: still refused.
    assert!(parse("num_leafs", &serde_json::json!(9)).is_err());
}
