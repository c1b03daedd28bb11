//! Deployment bundles end to end: `strider run` writes one bundle per model, `strider predict`
//! scores raw bars with it equal to the pipeline bit for bit and free of look-ahead, refuses data
//! that does not fit, and takes registry references.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use serde_json::Value;
use support::{ok_json, project, strider};

const MODELS: [&str; 4] = ["ridge", "ridge-shrunk", "trees", "lstm"];

/// One run of the bundled example (untracked), shared by the tests of this file.
struct Run {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    run: PathBuf,
}

fn example() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        project(&dir, |c| c);
        let o = strider(
            &[
                "run",
                "config.toml",
                "--out",
                "run",
                "--no-track",
                "--no-report",
                "--json",
            ],
            &dir,
        );
        ok_json(&o);
        Run {
            run: dir.join("run"),
            dir,
            _tmp: tmp,
        }
    })
}

fn data_args(dir: &Path) -> Vec<String> {
    ["AAPL", "MSFT", "IBM"]
        .iter()
        .flat_map(|t| {
            [
                "--data".to_string(),
                dir.join(format!("data/{t}.csv")).display().to_string(),
            ]
        })
        .collect()
}

fn predict(model: &str, data: &[String], extra: &[&str], cwd: &Path) -> Output {
    let mut args = vec!["predict", "--model", model, "--json"];
    args.extend(data.iter().map(String::as_str));
    args.extend(extra);
    strider(&args, cwd)
}

/// `(date, instrument) -> score` of a `predict --json` answer.
fn scores(v: &Value) -> Vec<((String, String), f64)> {
    v["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                (
                    p["date"].as_str().unwrap().to_string(),
                    p["instrument"].as_str().unwrap().to_string(),
                ),
                p["score"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_model_has_a_bundle_that_scores_the_pipeline_s_rows_bit_for_bit() {
    let r = example();
    let data = data_args(&r.dir);
    for m in MODELS {
        let bundle = r.run.join("bundles").join(m);
        for f in ["MLmodel", "bundle.json"] {
            assert!(bundle.join(f).exists(), "{m}: no {f}");
        }
        let v = ok_json(&predict(
            bundle.to_str().unwrap(),
            &data,
            &["--since", "2000-01-01"],
            &r.dir,
        ));
        assert_eq!(v["model"], m);
        assert_eq!(v["bundle_sha256"].as_str().unwrap().len(), 64);
        let got: std::collections::HashMap<_, _> = scores(&v).into_iter().collect();
        let csv =
            std::fs::read_to_string(r.run.join(format!("models/{m}/final-in-sample.csv"))).unwrap();
        let mut n = 0;
        for line in csv.lines().skip(1) {
            let c: Vec<&str> = line.split(',').collect();
            let want: f64 = c[2].parse().unwrap();
            let key = (c[0].to_string(), c[1].to_string());
            let g = got
                .get(&key)
                .unwrap_or_else(|| panic!("{m}: no score for {key:?}"));
            assert_eq!(g.to_bits(), want.to_bits(), "{m} {key:?}: {g} vs {want}");
            n += 1;
        }
        assert!(n > 9000, "{m}: {n} rows");
        // The last bar of each instrument has no label yet, and still gets a score.
        assert_eq!(got.len(), n + 3, "{m}");
        assert!(got.contains_key(&("2013-03-01".to_string(), "AAPL".to_string())));
    }
}

#[test]
fn the_latest_bar_and_asof_pick_one_bar_per_instrument_with_a_position() {
    let r = example();
    let data = data_args(&r.dir);
    let bundle = r.run.join("bundles/trees");
    let latest = ok_json(&predict(bundle.to_str().unwrap(), &data, &[], &r.dir));
    let p = latest["predictions"].as_array().unwrap();
    assert_eq!(p.len(), 3);
    assert!(p.iter().all(|x| x["date"] == "2013-03-01"));
    // The bundled strategy is `sign`: the position is the score's sign.
    for x in p {
        let (s, pos) = (
            x["score"].as_f64().unwrap(),
            x["position"].as_f64().unwrap(),
        );
        assert_eq!(pos, s.signum());
    }
    // 2012-12-25 is a holiday: each instrument's bar before it.
    let asof = ok_json(&predict(
        bundle.to_str().unwrap(),
        &data,
        &["--asof", "2012-12-25"],
        &r.dir,
    ));
    let p = asof["predictions"].as_array().unwrap();
    assert_eq!(p.len(), 3);
    assert!(p.iter().all(|x| x["date"] == "2012-12-24"), "{asof}");
}

/// The first `n` data lines of a bar file (after the header).
fn head(src: &Path, dst: &Path, n: usize) {
    let text = std::fs::read_to_string(src).unwrap();
    let lines: Vec<&str> = text.lines().take(n + 1).collect();
    std::fs::write(dst, lines.join("\n") + "\n").unwrap();
}

#[test]
fn appending_later_bars_never_changes_an_earlier_score() {
    let r = example();
    let cut = r.dir.join("cut");
    std::fs::create_dir_all(cut.join("data")).unwrap();
    for t in ["AAPL", "MSFT", "IBM"] {
        let f = format!("data/{t}.csv");
        head(&r.dir.join(&f), &cut.join(&f), 2500);
    }
    for m in ["trees", "lstm", "ridge"] {
        let bundle = r.run.join("bundles").join(m);
        let since = ["--since", "2009-06-01"];
        let short = ok_json(&predict(
            bundle.to_str().unwrap(),
            &data_args(&cut),
            &since,
            &r.dir,
        ));
        let full = ok_json(&predict(
            bundle.to_str().unwrap(),
            &data_args(&r.dir),
            &since,
            &r.dir,
        ));
        let full: std::collections::HashMap<_, _> = scores(&full).into_iter().collect();
        let short = scores(&short);
        assert!(short.len() > 300, "{m}: {}", short.len());
        for (k, s) in short {
            assert_eq!(s.to_bits(), full[&k].to_bits(), "{m} {k:?}");
        }
    }
}

#[test]
fn data_that_does_not_fit_the_bundle_is_refused_with_what_is_missing() {
    let r = example();
    let bundle = r.run.join("bundles/ridge");
    let bad = r.dir.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let src = std::fs::read_to_string(r.dir.join("data/AAPL.csv")).unwrap();
    let header: Vec<&str> = src.lines().next().unwrap().split(',').collect();
    let adj = header.iter().position(|h| *h == "adj_close").unwrap();
    // No adjusted close, which the model was trained on (returns would silently change).
    let no_adj: Vec<String> = src
        .lines()
        .map(|l| {
            let mut c: Vec<&str> = l.split(',').collect();
            c.remove(adj);
            c.join(",")
        })
        .collect();
    std::fs::write(bad.join("noadj.csv"), no_adj.join("\n") + "\n").unwrap();
    // Ten bars: shorter than the features' warm-up.
    head(&r.dir.join("data/AAPL.csv"), &bad.join("short.csv"), 10);
    // Every fifth bar: weekly bars.
    let weekly: Vec<&str> = src
        .lines()
        .enumerate()
        .filter(|(i, _)| *i == 0 || i % 5 == 1)
        .map(|(_, l)| l)
        .collect();
    std::fs::write(bad.join("weekly.csv"), weekly.join("\n") + "\n").unwrap();
    for (file, needle) in [
        ("noadj.csv", "no `adj_close` column"),
        ("short.csv", "bars of history"),
        ("weekly.csv", "weekly bars"),
    ] {
        let path = bad.join(file);
        let o = predict(
            bundle.to_str().unwrap(),
            &["--data".into(), path.display().to_string()],
            &[],
            &r.dir,
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{file} was accepted");
        assert!(err.contains(needle), "{file}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    // A bundle whose weights changed after it was written is refused.
    let tampered = r.dir.join("tampered");
    std::fs::create_dir_all(&tampered).unwrap();
    for e in std::fs::read_dir(&bundle).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, tampered.join(p.file_name().unwrap())).unwrap();
    }
    let w = tampered.join("ridge.json");
    let text =
        std::fs::read_to_string(&w)
            .unwrap()
            .replacen("\"intercept\": ", "\"intercept\": 1", 1);
    std::fs::write(&w, text).unwrap();
    let o = predict(tampered.to_str().unwrap(), &data_args(&r.dir), &[], &r.dir);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("ridge.json") && err.contains("SHA-256"),
        "{err}"
    );
    // The manifest carries no hash of its own: its settings are checked as a config's are.
    std::fs::copy(bundle.join("ridge.json"), &w).unwrap();
    let manifest = tampered.join("bundle.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(text.contains("\"leverage\": 1.0"), "{text}");
    std::fs::write(
        &manifest,
        text.replacen("\"leverage\": 1.0", "\"leverage\": -1.0", 1),
    )
    .unwrap();
    let o = predict(tampered.to_str().unwrap(), &data_args(&r.dir), &[], &r.dir);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("`bundle.json`") && err.contains("leverage"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn a_registered_bundle_is_served_by_version_and_alias() {
    let r = example();
    let store = r.dir.join("registry-mlruns");
    let uri = store.display().to_string();
    let bundle = r.run.join("bundles/trees");
    let reg = ok_json(&strider(
        &[
            "models",
            "register",
            "--bundle",
            bundle.to_str().unwrap(),
            "--name",
            "spy-trees",
            "--tracking-uri",
            &uri,
            "--json",
        ],
        &r.dir,
    ));
    assert_eq!(reg["version"], 1);
    assert!(reg["tags"]["strider.bundle_sha256"].as_str().unwrap().len() == 64);
    ok_json(&strider(
        &[
            "models",
            "alias",
            "spy-trees",
            "champion",
            "1",
            "--reason",
            "first deploy",
            "--tracking-uri",
            &uri,
            "--json",
        ],
        &r.dir,
    ));
    let data = data_args(&r.dir);
    let direct = ok_json(&predict(bundle.to_str().unwrap(), &data, &[], &r.dir));
    for reference in ["models:/spy-trees/1", "models:/spy-trees@champion"] {
        let v = ok_json(&predict(
            reference,
            &data,
            &["--tracking-uri", &uri],
            &r.dir,
        ));
        assert_eq!(v["version"], 1, "{reference}");
        assert_eq!(v["predictions"], direct["predictions"], "{reference}");
        assert_eq!(v["bundle_sha256"], direct["bundle_sha256"]);
    }
    let o = predict(
        "models:/spy-trees@nope",
        &data,
        &["--tracking-uri", &uri],
        &r.dir,
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("no alias `nope`"));
}

/// `(date, instrument) -> prediction` of a run's `final-in-sample.csv`.
fn in_sample(run: &Path, model: &str) -> Vec<((String, String), f64)> {
    std::fs::read_to_string(run.join(format!("models/{model}/final-in-sample.csv")))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            ((c[0].to_string(), c[1].to_string()), c[2].parse().unwrap())
        })
        .collect()
}

/// A run of the bundled data with other models and label, in a directory of its own.
fn small_run(dir: &Path, label_and_models: &str) -> PathBuf {
    let cfg = project(dir, |c| {
        let head = c.split("[label]").next().unwrap().to_string();
        let split = &c[c.find("[split]").unwrap()..c.find("[[models]]").unwrap()];
        head + label_and_models.split("[[models]]").next().unwrap()
            + &split.replace("test_size = 63", "test_size = 756")
            + &label_and_models[label_and_models.find("[[models]]").unwrap()..]
    });
    ok_json(&strider(
        &[
            "run",
            cfg.to_str().unwrap(),
            "--out",
            "run",
            "--no-track",
            "--no-report",
            "--json",
        ],
        dir,
    ));
    dir.join("run")
}

#[test]
fn a_classifier_s_bundle_scores_the_probability_minus_a_half() {
    let tmp = tempfile::tempdir().unwrap();
    let run = small_run(
        tmp.path(),
        "[label]\nkind = \"direction\"\nhorizon = 5\n\n[[models]]\nname = \"logit\"\nkind = \"logistic\"\nc = 0.5\n\n\
         [[models]]\nname = \"binary-trees\"\nkind = \"gbdt\"\nobjective = \"binary\"\nnum_iterations = 20\n",
    );
    let data = data_args(tmp.path());
    for m in ["logit", "binary-trees"] {
        let bundle = run.join("bundles").join(m);
        let v = ok_json(&predict(
            bundle.to_str().unwrap(),
            &data,
            &["--since", "2000-01-01"],
            tmp.path(),
        ));
        let got: std::collections::HashMap<_, _> = scores(&v).into_iter().collect();
        let want = in_sample(&run, m);
        // Five unlabelled bars per instrument at the end (horizon 5).
        assert_eq!(got.len(), want.len() + 15, "{m}");
        for (k, p) in want {
            assert!((0.0..=1.0).contains(&p), "{m}: probability {p}");
            assert_eq!(got[&k].to_bits(), (p - 0.5).to_bits(), "{m} {k:?}");
        }
        for p in v["predictions"].as_array().unwrap() {
            assert_eq!(
                p["position"].as_f64().unwrap(),
                p["score"].as_f64().unwrap().signum()
            );
        }
    }
}

#[test]
fn a_model_on_a_subset_of_the_features_reads_only_those_and_its_bundle_scores_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let run = small_run(
        tmp.path(),
        "[label]\nkind = \"forward_return\"\nhorizon = 1\n\n[[models]]\nname = \"two\"\nkind = \"ridge\"\n\
         features = [\"rsi_14\", \"ret_1\"]\n\n[[models]]\nname = \"trees-two\"\nkind = \"gbdt\"\n\
         num_iterations = 10\nfeatures = [\"z_price_20\", \"dow\"]\n",
    );
    let fitted: Value =
        serde_json::from_slice(&std::fs::read(run.join("models/two/split-0.json")).unwrap())
            .unwrap();
    assert_eq!(
        fitted["feature_names"],
        serde_json::json!(["rsi_14", "ret_1"])
    );
    assert_eq!(fitted["coef"].as_array().unwrap().len(), 2);
    let data = data_args(tmp.path());
    for m in ["two", "trees-two"] {
        let bundle = run.join("bundles").join(m);
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(bundle.join("bundle.json")).unwrap()).unwrap();
        assert_eq!(
            manifest["feature_names"].as_array().unwrap().len(),
            2,
            "{m}"
        );
        let v = ok_json(&predict(
            bundle.to_str().unwrap(),
            &data,
            &["--since", "2000-01-01"],
            tmp.path(),
        ));
        let got: std::collections::HashMap<_, _> = scores(&v).into_iter().collect();
        for (k, p) in in_sample(&run, m) {
            assert_eq!(got[&k].to_bits(), p.to_bits(), "{m} {k:?}");
        }
    }
    // An unknown name is a one-line error naming the model and the features there are.
    let cfg = std::fs::read_to_string(run.join("config.toml"))
        .unwrap()
        .replace("\"ret_1\"", "\"ret_2\"");
    std::fs::write(tmp.path().join("bad.toml"), cfg).unwrap();
    let o = strider(
        &[
            "run",
            "bad.toml",
            "--out",
            "bad",
            "--no-track",
            "--no-report",
        ],
        tmp.path(),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("two") && err.contains("no feature `ret_2`") && err.contains("rsi_14"),
        "{err}"
    );
}

#[cfg(feature = "lightgbm")]
#[test]
fn a_native_lightgbm_model_s_bundle_scores_the_pipeline_s_rows_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let run = small_run(
        tmp.path(),
        "[label]\nkind = \"forward_return\"\nhorizon = 1\n\n[[models]]\nname = \"native\"\nkind = \"gbdt\"\nengine = \"lightgbm\"\nnum_iterations = 15\n",
    );
    let model = std::fs::read_to_string(run.join("bundles/native/model.txt")).unwrap();
    assert!(
        model.contains("[boosting: gbdt]"),
        "LightGBM's own model file travels as it is"
    );
    let bundle = run.join("bundles/native");
    let v = ok_json(&predict(
        bundle.to_str().unwrap(),
        &data_args(tmp.path()),
        &["--since", "2000-01-01"],
        tmp.path(),
    ));
    let got: std::collections::HashMap<_, _> = scores(&v).into_iter().collect();
    for (k, p) in in_sample(&run, "native") {
        assert_eq!(got[&k].to_bits(), p.to_bits(), "{k:?}");
    }
}
