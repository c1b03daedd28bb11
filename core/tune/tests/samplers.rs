//! Every sampler by its CLI name on a mixed space (log float, stepped int, categorical), through
//! define-by-run and define-and-run studies: parameters stay inside their distributions, the same
//! seed gives the same trials, and each sampler improves on a quadratic over its start-up trials.

use std::collections::BTreeMap;

use serde_json::Value;
use strider_tune::{
    Direction, Distribution, InMemoryStorage, Outcome, PrunerSpec, SearchSpace, Study,
    sampler_by_name,
};

fn space() -> SearchSpace {
    let mut s = SearchSpace::new();
    s.insert("x".into(), Distribution::float(-3.0, 3.0));
    s.insert(
        "lr".into(),
        Distribution::Float {
            low: 1e-4,
            high: 1.0,
            log: true,
            step: None,
        },
    );
    s.insert(
        "n".into(),
        Distribution::Int {
            low: 1,
            high: 9,
            log: false,
            step: 2,
        },
    );
    s.insert(
        "kind".into(),
        Distribution::Categorical {
            choices: vec![Value::from("a"), Value::from("b")],
        },
    );
    s
}

fn loss(p: &BTreeMap<String, Value>) -> f64 {
    let x = p["x"].as_f64().unwrap();
    let lr = p["lr"].as_f64().unwrap();
    let n = p["n"].as_f64().unwrap();
    let kind = if p["kind"] == "b" { 0.0 } else { 1.0 };
    (x - 1.0).powi(2) + (lr.log10() + 2.0).powi(2) + (n - 5.0).abs() / 4.0 + kind
}

fn run(sampler: &str, seed: u64, n: usize) -> Vec<(BTreeMap<String, Value>, f64)> {
    let space = space();
    let mut storage = InMemoryStorage::default();
    let s = sampler_by_name(sampler, seed, Some(&space)).unwrap();
    let mut study = Study::open(
        &mut storage,
        "s",
        &[Direction::Minimize],
        s.as_ref(),
        PrunerSpec::None,
    )
    .unwrap();
    let mut out = Vec::new();
    for _ in 0..n {
        if study.exhausted().unwrap() {
            break;
        }
        let trial = study.ask(Some(&space)).unwrap();
        let params = trial.frozen().external_params();
        for (name, d) in &space {
            let v = &params[name];
            match d {
                Distribution::Float { low, high, .. } => {
                    let v = v.as_f64().unwrap();
                    assert!(*low <= v && v <= *high, "{sampler}: {name} = {v}");
                }
                Distribution::Int {
                    low, high, step, ..
                } => {
                    let v = v.as_i64().unwrap();
                    assert!(
                        *low <= v && v <= *high && (v - low) % step == 0,
                        "{sampler}: {name} = {v}"
                    );
                }
                Distribution::Categorical { choices } => assert!(choices.contains(v)),
            }
        }
        let l = loss(&params);
        study.tell(trial, Outcome::Complete(vec![l])).unwrap();
        out.push((params, l));
    }
    out
}

#[test]
fn every_sampler_stays_in_bounds_repeats_itself_and_learns() {
    for sampler in ["tpe", "tpe-univariate", "cmaes", "random", "qmc"] {
        let a = run(sampler, 11, 40);
        assert_eq!(a.len(), 40, "{sampler}");
        assert_eq!(a, run(sampler, 11, 40), "{sampler}: same seed, same trials");
        assert_ne!(
            a,
            run(sampler, 12, 40),
            "{sampler}: another seed, other trials"
        );
        let best = |r: &[(BTreeMap<String, Value>, f64)]| {
            r.iter().map(|t| t.1).fold(f64::INFINITY, f64::min)
        };
        assert!(best(&a) < 3.0, "{sampler}: best {}", best(&a));
    }
}

#[test]
fn the_grid_visits_each_cell_once_then_stops() {
    let mut space = SearchSpace::new();
    space.insert(
        "n".into(),
        Distribution::Int {
            low: 0,
            high: 4,
            log: false,
            step: 1,
        },
    );
    space.insert(
        "kind".into(),
        Distribution::Categorical {
            choices: vec![Value::from("a"), Value::from("b"), Value::from("c")],
        },
    );
    let mut storage = InMemoryStorage::default();
    let s = sampler_by_name("grid", 3, Some(&space)).unwrap();
    let mut study = Study::open(
        &mut storage,
        "g",
        &[Direction::Minimize],
        s.as_ref(),
        PrunerSpec::None,
    )
    .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    while !study.exhausted().unwrap() {
        let trial = study.ask(Some(&space)).unwrap();
        let p = trial.frozen().external_params();
        assert!(
            seen.insert(format!("{}-{}", p["n"], p["kind"])),
            "{p:?} twice"
        );
        study.tell(trial, Outcome::Complete(vec![0.0])).unwrap();
        assert!(seen.len() <= 15);
    }
    assert_eq!(seen.len(), 15);
    assert!(
        sampler_by_name("grid", 3, None).is_err(),
        "the grid needs a declared space"
    );
    assert!(sampler_by_name("nope", 3, Some(&space)).is_err());
}
