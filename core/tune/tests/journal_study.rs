//! A seeded study on Optuna's journal file, in plain `cargo test` (no Python): the same seed gives
//! the same trials, a second process's view of the file replays them exactly, and parallel
//! workers share the budget without losing or duplicating a trial.

use std::collections::BTreeMap;

use serde_json::Value;
use strider_tune::storage::StorageUrl;
use strider_tune::{
    Budget, Direction, Distribution, Objective, Outcome, PrunerSpec, Study, StudySpec, TpeSampler,
    Trial, TrialState, optimize,
};

/// Branin on [-5, 10] x [0, 15], with a categorical that shifts it.
struct Branin;

impl Objective for Branin {
    fn run(&self, study: &mut Study, trial: &mut Trial) -> Result<Outcome, String> {
        let mut f = |name: &str, d: Distribution| -> Result<Value, String> {
            study.suggest(trial, name, &d).map_err(|e| e.to_string())
        };
        let x = f("x", Distribution::float(-5.0, 10.0))?
            .as_f64()
            .ok_or("x")?;
        let y = f("y", Distribution::float(0.0, 15.0))?
            .as_f64()
            .ok_or("y")?;
        let shift = f(
            "shift",
            Distribution::Categorical {
                choices: vec![Value::from("none"), Value::from("up")],
            },
        )?;
        let pi = std::f64::consts::PI;
        let b = (y - 5.1 / (4.0 * pi * pi) * x * x + 5.0 / pi * x - 6.0).powi(2)
            + 10.0 * (1.0 - 1.0 / (8.0 * pi)) * x.cos()
            + 10.0;
        Ok(Outcome::Complete(vec![
            b + if shift == "up" { 1.0 } else { 0.0 },
        ]))
    }
}

fn run_study(
    path: &std::path::Path,
    workers: usize,
    n_trials: usize,
) -> Vec<(usize, BTreeMap<String, Value>, Option<f64>)> {
    let url = StorageUrl::Journal(path.to_path_buf());
    let sampler = TpeSampler::new(7);
    let spec = StudySpec {
        name: "branin",
        directions: &[Direction::Minimize],
        sampler: &sampler,
        pruner: PrunerSpec::None,
        space: None,
    };
    let budget = Budget {
        n_trials,
        workers,
        stale_after: 60.0,
    };
    optimize(&|| url.open(), &spec, &Branin, budget, &|_| {}).unwrap();
    // A fresh reader replays the file from its first line.
    let mut storage = url.open().unwrap();
    let info = storage
        .get_or_create_study("branin", &[Direction::Minimize])
        .unwrap();
    storage
        .trials(info.id)
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t.state, TrialState::Complete, "trial {}", t.number);
            (t.number, t.external_params(), t.value())
        })
        .collect()
}

#[test]
fn the_same_seed_gives_the_same_trials_on_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let a = run_study(&dir.path().join("a.log"), 1, 25);
    let b = run_study(&dir.path().join("b.log"), 1, 25);
    assert_eq!(a.len(), 25);
    assert_eq!(a, b, "same seed, same trials");
    // After its 10 random start-up trials TPE samples where the start-up went well: the median
    // of its trials beats the start-up's median.
    let median = |r: &[(usize, BTreeMap<String, Value>, Option<f64>)]| {
        let mut v: Vec<f64> = r.iter().filter_map(|t| t.2).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    assert!(
        median(&a[10..]) < median(&a[..10]),
        "TPE learned nothing: {a:?}"
    );
    let c = {
        let mut c = run_study(&dir.path().join("c.log"), 1, 25);
        c.truncate(10);
        c
    };
    assert_eq!(
        c,
        a[..10].to_vec(),
        "the start-up trials depend on the seed only"
    );
}

#[test]
fn parallel_workers_on_one_journal_neither_lose_nor_repeat_a_trial() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.log");
    let first = run_study(&path, 3, 18);
    assert_eq!(first.len(), 18);
    // A second session adds to the same study.
    let all = run_study(&path, 2, 6);
    let numbers: Vec<usize> = all.iter().map(|t| t.0).collect();
    assert_eq!(numbers, (0..24).collect::<Vec<_>>());
    assert_eq!(&all[..18], &first[..], "earlier trials never change");
}
