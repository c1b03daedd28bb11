//! Strider's trainer grows LightGBM 4.7.0's trees: for every golden case in
//! tests/golden/lightgbm/train/ (NaN, zeros, zero_as_missing, use_missing=false, categorical
//! features one-hot and many-vs-many, binary, multiclass, huber, fair, quantile, lambdarank and
//! rank_xendcg on query groups), train
//! on `<case>.csv` with `<case>.params.json` and compare every tree with LightGBM's own
//! `<case>.model.txt`: structure, thresholds and counts exactly, leaf values and weights bit for
//! bit, and the fields LightGBM prints with 6 digits (`split_gain` of a float, `internal_value`,
//! `internal_weight`) to those 6 digits; the written model text is LightGBM's byte for byte up to
//! `end of trees`. The models then predict every row identically.

use strider_gbdt::{GbdtModel, GbdtParams, TrainData, Tree, train};

const CASES: [&str; 14] = [
    "plain",
    "nan",
    "nan_alone",
    "zeros",
    "zero_as_missing",
    "use_missing_false",
    "categorical",
    "binary_nan",
    "multiclass_nan",
    "huber",
    "fair",
    "quantile",
    "lambdarank",
    "rank_xendcg",
];

fn dir() -> String {
    format!(
        "{}/../../tests/golden/lightgbm/train",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn read(case: &str, ext: &str) -> String {
    std::fs::read_to_string(format!("{}/{case}.{ext}", dir())).unwrap()
}

/// Features (row-major, empty cell = NaN), labels and column names of `<case>.csv`.
fn csv(case: &str) -> (Vec<f64>, Vec<f64>, Vec<String>) {
    let text = read(case, "csv");
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for line in lines {
        let cells: Vec<f64> = line
            .split(',')
            .map(|c| {
                if c.is_empty() {
                    f64::NAN
                } else {
                    c.parse().unwrap()
                }
            })
            .collect();
        let (label, features) = cells.split_last().unwrap();
        x.extend_from_slice(features);
        y.push(*label);
    }
    (x, y, header[..header.len() - 1].to_vec())
}

/// The query group sizes of a ranking case (`group` in params.json), else none.
fn groups(case: &str) -> Vec<u32> {
    let golden: serde_json::Value = serde_json::from_str(&read(case, "params.json")).unwrap();
    serde_json::from_value(golden["group"].clone()).unwrap_or_default()
}

/// The golden parameters as Strider's, with the categorical columns: LightGBM's run-time
/// switches that do not change these trees (`deterministic`, `force_col_wise`, `verbose`) left
/// out.
fn params(case: &str) -> GbdtParams {
    let golden: serde_json::Value = serde_json::from_str(&read(case, "params.json")).unwrap();
    let mut p = golden["params"].as_object().unwrap().clone();
    p.insert(
        "categorical_feature".into(),
        golden["categorical_feature"].clone(),
    );
    for key in ["deterministic", "force_col_wise", "verbose"] {
        p.remove(key);
    }
    serde_json::from_value(serde_json::Value::Object(p)).unwrap()
}

/// C's `%g`: 6 significant digits.
fn g6(v: f64) -> String {
    format!("{v:.5e}")
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// The first field where tree `ours` differs from LightGBM's `want`.
fn tree_difference(ours: &Tree, want: &Tree) -> Option<String> {
    let exact: [(&str, bool); 12] = [
        ("num_leaves", ours.num_leaves == want.num_leaves),
        ("num_cat", ours.num_cat == want.num_cat),
        ("cat_boundaries", ours.cat_boundaries == want.cat_boundaries),
        ("cat_threshold", ours.cat_threshold == want.cat_threshold),
        ("split_feature", ours.split_feature == want.split_feature),
        ("decision_type", ours.decision_type == want.decision_type),
        ("threshold", same_bits(&ours.threshold, &want.threshold)),
        ("left_child", ours.left_child == want.left_child),
        ("right_child", ours.right_child == want.right_child),
        ("leaf_count", ours.leaf_count == want.leaf_count),
        ("internal_count", ours.internal_count == want.internal_count),
        ("leaf_value", same_bits(&ours.leaf_value, &want.leaf_value)),
    ];
    let six =
        |a: &[f64], b: &[f64]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| g6(*x) == g6(*y));
    let printed: [(&str, bool); 4] = [
        (
            "leaf_weight",
            same_bits(&ours.leaf_weight, &want.leaf_weight),
        ),
        ("split_gain", six(&ours.split_gain, &want.split_gain)),
        (
            "internal_value",
            six(&ours.internal_value, &want.internal_value),
        ),
        (
            "internal_weight",
            six(&ours.internal_weight, &want.internal_weight),
        ),
    ];
    let (field, _) = exact.iter().chain(&printed).find(|(_, ok)| !ok)?;
    Some(format!("{field}: ours {ours:?}\nLightGBM {want:?}"))
}

/// The model text up to `end of trees` (header, tree sizes, trees) is LightGBM's, byte for byte;
/// else the first line that differs. (After it LightGBM writes importances and parameters.)
fn text_difference(ours: &str, want: &str) -> Result<(), String> {
    let head = |t: &str| t[..t.find("end of trees").unwrap()].to_string();
    let (a, b) = (head(ours), head(want));
    match a.lines().zip(b.lines()).position(|(x, y)| x != y) {
        Some(i) => Err(format!(
            "model text line {}: ours\n{}\nLightGBM\n{}",
            i + 1,
            a.lines().nth(i).unwrap_or_default(),
            b.lines().nth(i).unwrap_or_default()
        )),
        None if a != b => Err("model text: different length".into()),
        None => Ok(()),
    }
}

/// Train one case and compare it with LightGBM's model, tree by tree, then row by row.
fn check(case: &str) -> Result<(), String> {
    let (x, y, names) = csv(case);
    let n_features = names.len();
    let groups = groups(case);
    let data = TrainData {
        groups: &groups,
        x: &x,
        n_features,
        y: &y,
        feature_names: names,
    };
    let ours = train(&params(case), &data, None, &mut |_, _, _| {}).map_err(|e| e.to_string())?;
    let want = GbdtModel::parse(&read(case, "model.txt")).unwrap();
    if ours.trees.len() != want.trees.len() {
        return Err(format!(
            "{} trees, LightGBM {}",
            ours.trees.len(),
            want.trees.len()
        ));
    }
    for (i, (a, b)) in ours.trees.iter().zip(&want.trees).enumerate() {
        if let Some(d) = tree_difference(a, b) {
            return Err(format!("tree {i}: {d}"));
        }
    }
    text_difference(&ours.write(), &read(case, "model.txt"))?;
    for (r, row) in x.chunks(n_features).enumerate() {
        let (a, b) = (ours.predict(row), want.predict(row));
        if !same_bits(&a, &b) {
            return Err(format!("row {r}: predicts {a:?}, LightGBM {b:?}"));
        }
    }
    Ok(())
}

#[test]
fn trees_are_lightgbms_on_every_golden_case() {
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|case| check(case).err().map(|e| format!("{case}: {e}")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
