//! Ensembles as models, through the binary: every method runs, is saved as a bundle that scores
//! like the final model, combines the members' own predictions, and learns its weights or
//! meta-model only from what was known before each fold (leakage tests).

mod support;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;
use support::planted::{NOISE, write_data};
use support::{ok_json, project, strider};

const MEMBERS: &str = r#"
[[models]]
name = "ridge"
kind = "ridge"
alpha = 10.0

[[models]]
name = "trees"
kind = "gbdt"
num_iterations = 20

[[models]]
name = "momentum"
kind = "ridge"
features = ["ret_1", "ret_5", "ret_20"]
"#;

const ENSEMBLES: [(&str, &str); 5] = [
    ("avg", ""),
    ("wmse", "method = \"weighted\"\n"),
    ("wsharpe", "method = \"weighted\"\nobjective = \"sharpe\"\n"),
    ("stack", "method = \"stacking\"\n"),
    (
        "blend",
        "method = \"blending\"\nmeta = { kind = \"gbdt\", num_iterations = 10 }\n",
    ),
];

/// The bundled data with three members and one ensemble of each method.
fn ensemble_project(dir: &Path) {
    project(dir, |c| {
        let mut out = c[..c.find("[[models]]").unwrap()].to_string() + MEMBERS;
        for (name, extra) in ENSEMBLES {
            write!(
                out,
                "\n[[models]]\nname = \"{name}\"\nkind = \"ensemble\"\nmembers = [\"ridge\", \"trees\", \"momentum\"]\n{extra}"
            )
            .unwrap();
        }
        out
    });
}

fn run(dir: &Path, out: &str) -> Value {
    ok_json(&strider(
        &[
            "run",
            "config.toml",
            "--out",
            out,
            "--no-track",
            "--no-report",
            "--json",
        ],
        dir,
    ))
}

/// `(split, date, instrument) -> prediction` of one model in a run's predictions.csv.
fn predictions(
    run: &Path,
    model_col: Option<&str>,
) -> HashMap<String, HashMap<(String, String), f64>> {
    let text = std::fs::read_to_string(run.join("predictions.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (m, d, i, p) = (
        col("model"),
        col("date"),
        col("instrument"),
        col("prediction"),
    );
    let mut out: HashMap<String, HashMap<(String, String), f64>> = HashMap::new();
    for l in lines {
        let c: Vec<&str> = l.split(',').collect();
        if model_col.is_some_and(|want| want != c[m]) {
            continue;
        }
        out.entry(c[m].to_string())
            .or_default()
            .insert((c[d].to_string(), c[i].to_string()), c[p].parse().unwrap());
    }
    out
}

#[test]
fn every_method_runs_saves_a_bundle_and_the_mean_is_the_members_mean() {
    let tmp = tempfile::tempdir().unwrap();
    ensemble_project(tmp.path());
    let v = run(tmp.path(), "run");
    let dir = tmp.path().join("run");
    let ranked: Vec<&str> = v["selection"]["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["model"].as_str().unwrap())
        .collect();
    assert_eq!(ranked.len(), 3 + ENSEMBLES.len());
    let preds = predictions(&dir, None);
    // The mean ensemble combines the members' very predictions (same fits, same seeds).
    for (key, avg) in &preds["avg"] {
        let want = (preds["ridge"][key] + preds["trees"][key] + preds["momentum"][key]) / 3.0;
        assert_eq!(avg.to_bits(), want.to_bits(), "{key:?}");
    }
    let data: Vec<String> = ["AAPL", "MSFT", "IBM"]
        .iter()
        .flat_map(|t| ["--data".to_string(), format!("data/{t}.csv")])
        .collect();
    for (name, _) in ENSEMBLES {
        let bundle = dir.join("bundles").join(name);
        assert!(bundle.join("ensemble.json").exists(), "{name}");
        let mut args = vec![
            "predict",
            "--model",
            bundle.to_str().unwrap(),
            "--since",
            "2000-01-01",
            "--json",
        ];
        args.extend(data.iter().map(String::as_str));
        let out = ok_json(&strider(&args, tmp.path()));
        let got: HashMap<(String, String), f64> = out["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let key = (
                    p["date"].as_str().unwrap().to_string(),
                    p["instrument"].as_str().unwrap().to_string(),
                );
                (key, p["score"].as_f64().unwrap())
            })
            .collect();
        let in_sample =
            std::fs::read_to_string(dir.join(format!("models/{name}/final-in-sample.csv")))
                .unwrap();
        let mut n = 0;
        for l in in_sample.lines().skip(1) {
            let c: Vec<&str> = l.split(',').collect();
            let want: f64 = c[2].parse().unwrap();
            assert_eq!(
                got[&(c[0].to_string(), c[1].to_string())].to_bits(),
                want.to_bits(),
                "{name} {l}"
            );
            n += 1;
        }
        assert!(n > 9000, "{name}: {n} rows");
    }
    // Registered like any model, and served from the registry with the same scores.
    let stack = dir.join("bundles/stack");
    let reg = ok_json(&strider(
        &[
            "models",
            "register",
            "--bundle",
            stack.to_str().unwrap(),
            "--name",
            "stacked",
            "--tracking-uri",
            "mlruns",
            "--json",
        ],
        tmp.path(),
    ));
    assert_eq!(reg["version"], 1);
    let latest = |model: &str| {
        let mut args = vec![
            "predict",
            "--model",
            model,
            "--tracking-uri",
            "mlruns",
            "--json",
        ];
        args.extend(data.iter().map(String::as_str));
        ok_json(&strider(&args, tmp.path()))["predictions"].clone()
    };
    assert_eq!(latest("models:/stacked/1"), latest(stack.to_str().unwrap()));
    // Weights are non-negative and sum to one; after the first folds they are learned.
    let fitted: Value =
        serde_json::from_slice(&std::fs::read(dir.join("models/wmse/split-5.json")).unwrap())
            .unwrap();
    assert_eq!(fitted["combiner"], "weights");
    assert_eq!(
        fitted["learned_from_folds"],
        serde_json::json!([0, 1, 2, 3, 4])
    );
    let w: Vec<f64> = fitted["weights"]
        .as_object()
        .unwrap()
        .values()
        .map(|w| w.as_f64().unwrap())
        .collect();
    assert!(
        w.iter().all(|w| *w >= 0.0) && (w.iter().sum::<f64>() - 1.0).abs() < 1e-12,
        "{w:?}"
    );
    let first: Value =
        serde_json::from_slice(&std::fs::read(dir.join("models/stack/split-0.json")).unwrap())
            .unwrap();
    assert_eq!(
        first["combiner"], "mean",
        "fold 0 has no earlier folds to learn from"
    );
}

/// Multiplies every price of the bars after `after` by a wobble, in each data file
/// (`date,open,high,low,close,volume,adj_close`).
fn perturb_after(dir: &Path, after: &str) {
    for t in ["AAPL", "MSFT", "IBM"] {
        let path = dir.join(format!("data/{t}.csv"));
        let text = std::fs::read_to_string(&path).unwrap();
        let mut out = String::new();
        for (i, l) in text.lines().enumerate() {
            let c: Vec<&str> = l.split(',').collect();
            if i > 0 && c[0] > after {
                let f = 1.0 + 0.05 * (i as f64).sin();
                // Every column but the date and the volume is a price (adj_close included).
                let cells: Vec<String> = c
                    .iter()
                    .enumerate()
                    .map(|(j, x)| match j {
                        0 | 5 => x.to_string(),
                        _ => format!("{}", x.parse::<f64>().unwrap() * f),
                    })
                    .collect();
                writeln!(out, "{}", cells.join(",")).unwrap();
            } else {
                writeln!(out, "{l}").unwrap();
            }
        }
        std::fs::write(&path, out).unwrap();
    }
}

#[test]
fn a_fold_s_weights_and_meta_model_do_not_depend_on_its_own_or_later_labels() {
    let tmp = tempfile::tempdir().unwrap();
    ensemble_project(tmp.path());
    run(tmp.path(), "before");
    let folds = std::fs::read_to_string(tmp.path().join("before/folds.csv")).unwrap();
    let k = 12;
    let test_start = folds
        .lines()
        .find(|l| l.starts_with(&format!("wmse,{k},")))
        .unwrap()
        .split(',')
        .nth(4)
        .unwrap()
        .to_string();
    // Every label of fold k and later changes (and every price they are made of).
    perturb_after(tmp.path(), &test_start);
    run(tmp.path(), "after");
    let fit = |run: &str, m: &str, j: usize| {
        std::fs::read(tmp.path().join(format!("{run}/models/{m}/split-{j}.json"))).unwrap()
    };
    for (m, _) in &ENSEMBLES[1..] {
        for j in 0..=k {
            assert_eq!(
                fit("before", m, j),
                fit("after", m, j),
                "{m}: fold {j} learned from fold {k} or later"
            );
        }
    }
    // The test can fail: later folds do learn from the changed labels (the Sharpe-optimal
    // weights sit on a vertex of the simplex here, which small changes do not move).
    for m in ["wmse", "stack", "blend"] {
        assert!(
            (k + 1..k + 6).any(|j| fit("before", m, j) != fit("after", m, j)),
            "{m}: later folds ignore the changed labels"
        );
    }
}

fn planted_stack(dir: &Path, skill: bool) {
    write_data(dir, skill, 0x5eed_1234_abcd_0001);
    let mut c = String::from(
        "name = \"stack\"\nseed = 3\n\n[data]\nfiles = [\"data/aaa.csv\", \"data/bbb.csv\"]\n",
    );
    for f in std::iter::once("sig".to_string()).chain((1..=NOISE).map(|k| format!("noise_{k}"))) {
        write!(c, "\n[[features]]\nkind = \"column\"\nname = \"{f}\"\n").unwrap();
    }
    c += "\n[label]\nkind = \"forward_return\"\nhorizon = 1\n\n[split]\nscheme = \"walk-forward\"\n\
          train_size = 250\ntest_size = 125\nwindow = \"expanding\"\nreduce_test = true\n";
    let mut members = Vec::new();
    for (i, f) in ["sig", "noise_1", "noise_2", "noise_3"].iter().enumerate() {
        write!(
            c,
            "\n[[models]]\nname = \"m{i}\"\nkind = \"ridge\"\nfeatures = [\"{f}\"]\n"
        )
        .unwrap();
        members.push(format!("\"m{i}\""));
    }
    write!(c, "\n[[models]]\nname = \"stack\"\nkind = \"ensemble\"\nmethod = \"stacking\"\nmembers = [{}]\n", members.join(", ")).unwrap();
    std::fs::write(dir.join("config.toml"), c).unwrap();
}

/// The t-statistic of the out-of-sample correlation between a model's predictions and the
/// realised forward returns.
fn ic_t(run: &Path, model: &str) -> f64 {
    let text = std::fs::read_to_string(run.join("predictions.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (m, p, f) = (col("model"), col("prediction"), col("forward_return"));
    let (x, y): (Vec<f64>, Vec<f64>) = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|c| c[m] == model)
        .map(|c| (c[p].parse::<f64>().unwrap(), c[f].parse::<f64>().unwrap()))
        .unzip();
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    let r = cov / (vx * vy).sqrt();
    r * ((n - 2.0) / (1.0 - r * r)).sqrt()
}

#[test]
fn a_stacked_ensemble_on_labels_unrelated_to_its_features_has_no_out_of_sample_ic() {
    let null = tempfile::tempdir().unwrap();
    planted_stack(null.path(), false);
    run(null.path(), "run");
    let t = ic_t(&null.path().join("run"), "stack");
    assert!(
        t.abs() < 3.0,
        "IC t-statistic {t} on labels its features do not predict"
    );
    // With one member that has skill, the same ensemble finds it out of sample.
    let skilled = tempfile::tempdir().unwrap();
    planted_stack(skilled.path(), true);
    run(skilled.path(), "run");
    let t = ic_t(&skilled.path().join("run"), "stack");
    assert!(t > 5.0, "IC t-statistic {t} with a skilled member");
}

#[test]
fn a_wrong_ensemble_is_a_one_line_error_naming_the_model() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            "members = [\"ridge\", \"nope\"]\n",
            "member `nope` is not a [[models]] entry",
        ),
        ("members = [\"ridge\"]\n", "at least two models"),
        ("members = [\"ridge\", \"ridge\"]\n", "lists `ridge` twice"),
        (
            "members = [\"ridge\", \"trees\"]\nmeta = { kind = \"ridge\" }\n",
            "`meta` applies to method",
        ),
        (
            "members = [\"ridge\", \"trees\"]\nmethod = \"stacking\"\nmeta = { kind = \"lstm\" }\n",
            "ridge, logistic or gbdt",
        ),
        (
            "members = [\"ridge\", \"trees\"]\nmethod = \"blending\"\nblend_fraction = 0.9\n",
            "blend_fraction",
        ),
        (
            "members = [\"ridge\", \"other\"]\n",
            "ensembles do not nest",
        ),
    ];
    for (i, (body, want)) in cases.iter().enumerate() {
        let dir = tmp.path().join(format!("case{i}"));
        project(&dir, |c| {
            c[..c.find("[[models]]").unwrap()].to_string()
                + MEMBERS
                + "\n[[models]]\nname = \"other\"\nkind = \"ensemble\"\nmembers = [\"ridge\", \"trees\"]\n"
                + "\n[[models]]\nname = \"bad\"\nkind = \"ensemble\"\n"
                + body
        });
        let o = strider(&["run", "config.toml", "--out", "x", "--no-track"], &dir);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "case {i}");
        assert!(err.contains("bad") && err.contains(want), "case {i}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "case {i}: {err}");
        assert!(!dir.join("x").exists());
    }
}
