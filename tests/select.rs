//! Model selection and the holdout, end to end through the binary, on data with planted signals:
//! one feature that really predicts the next bar's return among a dozen that do not, and the same
//! data with the signal removed.

mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{ok_json, strider};

use support::planted::{NOISE, write_data};

/// One ridge per feature column: `skilled` reads `sig`, `noise-k` reads `noise_k`.
fn config(extra: &str) -> String {
    let mut c = String::from(
        "name = \"planted\"\nseed = 7\n\n[data]\nfiles = [\"data/aaa.csv\", \"data/bbb.csv\"]\n\n\
         [[features]]\nkind = \"column\"\nname = \"sig\"\n",
    );
    for k in 1..=NOISE {
        write!(
            c,
            "\n[[features]]\nkind = \"column\"\nname = \"noise_{k}\"\n"
        )
        .unwrap();
    }
    c += "\n[label]\nkind = \"forward_return\"\nhorizon = 1\n\n[split]\nscheme = \"walk-forward\"\n\
          train_size = 250\ntest_size = 125\nwindow = \"expanding\"\nreduce_test = true\n\n\
          [strategy]\nexecution_lag = 0\ncost_bps = 1.0\n";
    c += "\n[[models]]\nname = \"skilled\"\nkind = \"ridge\"\nalpha = 1.0\nfeatures = [\"sig\"]\n";
    for k in 1..=NOISE {
        write!(
            c,
            "\n[[models]]\nname = \"noise-{k}\"\nkind = \"ridge\"\nalpha = 1.0\nfeatures = [\"noise_{k}\"]\n"
        )
        .unwrap();
    }
    c + extra
}

fn run(dir: &Path, out: &str) -> (Value, PathBuf) {
    let v = ok_json(&strider(
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
    ));
    (v, dir.join(out))
}

fn project(skill: bool, extra: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    write_data(tmp.path(), skill, 0x5eed_1234_abcd_0001);
    std::fs::write(tmp.path().join("config.toml"), config(extra)).unwrap();
    tmp
}

fn json_file(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn the_skilled_model_is_recommended_among_a_dozen_without_skill() {
    let tmp = project(true, "");
    let (v, dir) = run(tmp.path(), "run");
    let sel = &v["selection"];
    assert_eq!(sel["recommended"], "skilled", "{sel:#}");
    let ranking = sel["ranking"].as_array().unwrap();
    assert_eq!(ranking.len(), 1 + NOISE);
    assert_eq!(ranking[0]["model"], "skilled");
    assert_eq!(ranking[0]["rank"], 1);
    let passing: Vec<&str> = ranking
        .iter()
        .filter(|r| r["passes"] == true)
        .map(|r| r["model"].as_str().unwrap())
        .collect();
    assert_eq!(passing, ["skilled"], "only the skilled model passes");
    assert_eq!(ranking[0]["metrics"]["n_trials"], 1 + NOISE as u64);
    assert!(ranking[0]["metrics"]["dsr"].as_f64().unwrap() > 0.95);
    // The written file is the run's answer, and `strider select` re-derives it from the files.
    assert_eq!(&json_file(&dir.join("selection.json")), sel);
    let again = ok_json(&strider(&["select", "run", "--json"], tmp.path()));
    assert_eq!(&again, sel);
    // Other criteria: ranking by Sharpe against cash keeps the skilled model first; an
    // impossible drawdown bound leaves nothing recommended, with the reason.
    let strict = ok_json(&strider(
        &["select", "run", "--json", "--max-drawdown", "-0.0001"],
        tmp.path(),
    ));
    assert_eq!(strict["recommended"], Value::Null);
    let reasons = strict["reasons"].to_string();
    assert!(reasons.contains("max drawdown"), "{reasons}");
}

#[test]
fn without_skill_nothing_is_recommended_and_the_reason_says_why() {
    let tmp = project(false, "");
    let (v, _) = run(tmp.path(), "run");
    let sel = &v["selection"];
    assert_eq!(sel["recommended"], Value::Null, "{sel:#}");
    let reasons = sel["reasons"][0].as_str().unwrap();
    assert!(
        reasons.contains("no model beats buy-and-hold after deflation"),
        "{reasons}"
    );
    // Without deflation the luckiest noise model would look good: its plain PSR is what the
    // DSR deflates.
    assert!(
        sel["ranking"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["passes"] == false)
    );
}

/// The validation outputs of a run, which no holdout bar may change.
const VALIDATION_FILES: [&str; 4] = [
    "folds.csv",
    "predictions.csv",
    "returns.csv",
    "summary.json",
];

fn without_holdout(mut selection: Value) -> Value {
    for r in selection["ranking"].as_array_mut().unwrap() {
        r["metrics"].as_object_mut().unwrap().remove("holdout");
    }
    selection
}

#[test]
fn the_holdout_is_read_only_by_the_final_evaluation_of_the_chosen_model() {
    let tmp = project(true, "\n[holdout]\nfraction = 0.2\n");
    let (v, dir) = run(tmp.path(), "run");
    let manifest = json_file(&dir.join("manifest.json"));
    assert_eq!(manifest["holdout"]["evaluations"], 1, "{manifest:#}");
    assert_eq!(
        manifest["holdout"]["models"],
        serde_json::json!(["skilled"])
    );
    let start: chrono::NaiveDate = manifest["holdout"]["start"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // Validation ends before the holdout; the skilled model keeps its edge on it.
    let last = v["summary"]["dataset"]["last_date"].as_str().unwrap();
    assert!(last.parse::<chrono::NaiveDate>().unwrap() < start);
    let skilled = &v["selection"]["ranking"][0]["metrics"];
    assert_eq!(skilled["holdout"]["start"], start.to_string());
    assert!(skilled["holdout"]["strategy"]["sharpe"].as_f64().unwrap() > 1.0);
    assert!(
        v["selection"]["ranking"][1]["metrics"]
            .get("holdout")
            .is_none()
    );

    // Rewrite every holdout bar (prices and features): no validation output changes by a byte.
    for name in ["aaa", "bbb"] {
        let path = tmp.path().join(format!("data/{name}.csv"));
        let text = std::fs::read_to_string(&path).unwrap();
        let changed: String = text
            .lines()
            .map(|l| {
                let date = l.split(',').next().unwrap();
                if date.parse::<chrono::NaiveDate>().is_ok_and(|d| d >= start) {
                    l.split(',')
                        .enumerate()
                        .map(|(i, c)| {
                            if i == 0 {
                                c.to_string()
                            } else {
                                format!("{}", c.parse::<f64>().unwrap() * 1.5 + 0.25)
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                } else {
                    l.to_string()
                }
            })
            .map(|l| l + "\n")
            .collect();
        assert_ne!(changed, text);
        std::fs::write(&path, changed).unwrap();
    }
    let (_, other) = run(tmp.path(), "other");
    for f in VALIDATION_FILES {
        assert_eq!(
            std::fs::read(dir.join(f)).unwrap(),
            std::fs::read(other.join(f)).unwrap(),
            "{f} changed with the holdout bars"
        );
    }
    assert_eq!(
        without_holdout(json_file(&dir.join("selection.json"))),
        without_holdout(json_file(&other.join("selection.json")))
    );
    for m in ["skilled", "noise-1"] {
        let weights = |d: &Path| std::fs::read(d.join(format!("bundles/{m}/bundle.json"))).unwrap();
        assert_eq!(weights(&dir), weights(&other), "{m}'s bundle");
    }
    // Only the holdout figures differ.
    assert_ne!(
        json_file(&dir.join("selection.json")),
        json_file(&other.join("selection.json"))
    );
}

#[test]
fn robustness_stresses_find_a_signal_that_only_works_without_delay() {
    let tmp = project(
        true,
        "\n[robustness]\ncost_multipliers = [2.0, 10.0]\nextra_delays = [1]\nfeature_noise = [2.0]\nseeds = 2\ndrop_years = [1]\n",
    );
    let (v, dir) = run(tmp.path(), "run");
    let report = &v["robustness"];
    assert_eq!(&json_file(&dir.join("validation.json")), report);
    let check = |model: &str, check: &str, variant: &str| -> Value {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| {
                c["model"] == model
                    && c["check"] == check
                    && c["variant"].as_str().unwrap().starts_with(variant)
            })
            .unwrap_or_else(|| panic!("{model} {check} {variant}"))
            .clone()
    };
    let num = |c: &Value, k: &str| c[k].as_f64().unwrap();
    // The planted signal predicts the next bar only: one bar of delay destroys it.
    let delayed = check("skilled", "delay", "+1");
    assert!(
        num(&delayed, "value") < 0.5 * num(&delayed, "base"),
        "{delayed}"
    );
    assert_eq!(delayed["passes"], false);
    // Costs only cost; 2x keeps most of a strong signal, 10x less.
    let (c2, c10) = (
        check("skilled", "costs", "2x"),
        check("skilled", "costs", "10x"),
    );
    assert!(num(&c10, "value") < num(&c2, "value") && num(&c2, "value") < num(&c2, "base"));
    assert_eq!(c2["passes"], true);
    // Noise of two standard deviations on the one informative feature weakens it.
    let noisy = check("skilled", "feature_noise", "2 sd");
    assert!(num(&noisy, "value") < num(&noisy, "base"), "{noisy}");
    // Ridge draws no random numbers: no seed checks; every regime is measured.
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["check"] != "seed")
    );
    for r in [
        "high volatility",
        "low volatility",
        "up trend",
        "down trend",
    ] {
        check("skilled", "regime", r);
    }
    check("skilled", "start_date", "from");
    // `strider validate` re-runs the directory and gets the same stresses.
    let again = ok_json(&strider(&["validate", "run", "--json"], tmp.path()));
    assert_eq!(&again, report);
}

/// Exit code 1 and one `error:` line containing `needle`.
fn refused(o: &std::process::Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(needle),
        "`{needle}` in {err}"
    );
}

#[test]
fn select_and_validate_refuse_what_is_not_a_sound_run_directory() {
    let tmp = project(false, "");
    refused(
        &strider(&["select", "nowhere"], tmp.path()),
        "is this a run directory?",
    );
    refused(
        &strider(&["validate", "nowhere"], tmp.path()),
        "is it a run directory?",
    );
    let (_, dir) = run(tmp.path(), "run");
    let before = std::fs::read(dir.join("selection.json")).unwrap();
    let returns = std::fs::read_to_string(dir.join("returns.csv")).unwrap();
    let mut lines: Vec<String> = returns.lines().map(String::from).collect();
    lines[5] = lines[5].replacen(",", ",not-a-date,", 1);
    std::fs::write(dir.join("returns.csv"), lines.join("\n")).unwrap();
    refused(
        &strider(&["select", "run"], tmp.path()),
        "returns.csv line 6",
    );
    refused(
        &strider(&["select", "run", "--min-dsr", "1.5"], tmp.path()),
        "selection.min_dsr",
    );
    assert_eq!(
        std::fs::read(dir.join("selection.json")).unwrap(),
        before,
        "nothing half-written"
    );
    // A changed input file is refused by its recorded hash.
    let data = tmp.path().join("data/aaa.csv");
    let text = std::fs::read_to_string(&data).unwrap();
    std::fs::write(&data, text.replacen("2010-01-04,", "2010-01-04,1", 1)).unwrap();
    let o = strider(&["validate", "run"], tmp.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(!dir.join("validation.json").exists());
}
