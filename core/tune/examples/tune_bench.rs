//! The tuning benchmark of shared/anchors/optuna_bench.py in Rust: five problems, N seeds, 100
//! trials, ask/tell on in-memory storage; then the ask+tell overhead at 100 / 500 / 1000 trials.
//! `benches/reference/tune_vs_optuna.py` runs it next to Optuna 5.0 and prints the ratios.
//!
//! cargo run --release -p strider-tune --example tune_bench -- [quality|overhead] [SEEDS] [SAMPLER]
//! Prints JSON.

use std::collections::BTreeMap;
use std::f64::consts::{E, PI};
use std::time::Instant;

use serde_json::{Value, json};
use strider_tune::{
    Direction, Distribution, InMemoryStorage, Outcome, PrunerSpec, SearchSpace, Study,
    sampler_by_name,
};

type Objective = fn(&BTreeMap<String, Value>) -> f64;

fn x(p: &BTreeMap<String, Value>, i: usize) -> f64 {
    p[&format!("x{i}")].as_f64().unwrap()
}

fn branin(p: &BTreeMap<String, Value>) -> f64 {
    let (x1, x2) = (x(p, 0), x(p, 1));
    let (a, b, c, r, s, t) = (
        1.0,
        5.1 / (4.0 * PI * PI),
        5.0 / PI,
        6.0,
        10.0,
        1.0 / (8.0 * PI),
    );
    a * (x2 - b * x1 * x1 + c * x1 - r).powi(2) + s * (1.0 - t) * x1.cos() + s
}

const H6_ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
const H6_A: [[f64; 6]; 4] = [
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
];
const H6_P: [[f64; 6]; 4] = [
    [1312.0, 1696.0, 5569.0, 124.0, 8283.0, 5886.0],
    [2329.0, 4135.0, 8307.0, 3736.0, 1004.0, 9991.0],
    [2348.0, 1451.0, 3522.0, 2883.0, 3047.0, 6650.0],
    [4047.0, 8828.0, 8732.0, 5743.0, 1091.0, 381.0],
];

fn hartmann6(p: &BTreeMap<String, Value>) -> f64 {
    -(0..4)
        .map(|i| {
            let inner: f64 = (0..6)
                .map(|j| H6_A[i][j] * (x(p, j) - 1e-4 * H6_P[i][j]).powi(2))
                .sum();
            H6_ALPHA[i] * (-inner).exp()
        })
        .sum::<f64>()
}

fn rosenbrock(p: &BTreeMap<String, Value>) -> f64 {
    (0..9)
        .map(|i| 100.0 * (x(p, i + 1) - x(p, i).powi(2)).powi(2) + (1.0 - x(p, i)).powi(2))
        .sum()
}

fn ackley(p: &BTreeMap<String, Value>) -> f64 {
    let d = 5.0;
    let s2: f64 = (0..5).map(|i| x(p, i).powi(2)).sum();
    let sc: f64 = (0..5).map(|i| (2.0 * PI * x(p, i)).cos()).sum();
    -20.0 * (-0.2 * (s2 / d).sqrt()).exp() - (sc / d).exp() + 20.0 + E
}

fn mixed(p: &BTreeMap<String, Value>) -> f64 {
    let c = p["cat"].as_str().unwrap();
    let (shift, bias) = match c {
        "a" => (0.0, 0.5),
        "b" => (1.0, 0.0),
        "c" => (-1.0, 1.0),
        _ => (2.0, 2.0),
    };
    (p["x"].as_f64().unwrap() - shift).powi(2)
        + (p["lr"].as_f64().unwrap().log10() + 1.0).powi(2)
        + 0.1 * (p["n"].as_f64().unwrap() - 7.0).powi(2)
        + bias
}

fn floats(n: usize, lo: f64, hi: f64) -> SearchSpace {
    (0..n)
        .map(|i| (format!("x{i}"), Distribution::float(lo, hi)))
        .collect()
}

fn problems() -> Vec<(&'static str, SearchSpace, Objective)> {
    let mut branin_space = SearchSpace::new();
    branin_space.insert("x0".into(), Distribution::float(-5.0, 10.0));
    branin_space.insert("x1".into(), Distribution::float(0.0, 15.0));
    let mixed_space = SearchSpace::from([
        ("x".to_string(), Distribution::float(-5.0, 5.0)),
        (
            "lr".to_string(),
            Distribution::Float {
                low: 1e-4,
                high: 1.0,
                log: true,
                step: None,
            },
        ),
        (
            "n".to_string(),
            Distribution::Int {
                low: 1,
                high: 20,
                log: false,
                step: 1,
            },
        ),
        (
            "cat".to_string(),
            Distribution::Categorical {
                choices: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            },
        ),
    ]);
    vec![
        ("branin_2d", branin_space, branin as Objective),
        ("hartmann6_6d", floats(6, 0.0, 1.0), hartmann6),
        ("rosenbrock_10d", floats(10, -5.0, 10.0), rosenbrock),
        ("ackley_5d", floats(5, -32.768, 32.768), ackley),
        ("mixed_4d", mixed_space, mixed),
    ]
}

/// Best-so-far after each trial, and the ask+tell seconds of each trial.
fn run(
    sampler: &str,
    space: &SearchSpace,
    f: Objective,
    seed: u64,
    n: usize,
) -> (Vec<f64>, Vec<f64>) {
    let s = sampler_by_name(sampler, seed, Some(space)).unwrap();
    let mut storage = InMemoryStorage::default();
    let mut study = Study::open(
        &mut storage,
        "bench",
        &[Direction::Minimize],
        s.as_ref(),
        PrunerSpec::None,
    )
    .unwrap();
    let (mut best, mut curve, mut secs) = (f64::INFINITY, Vec::new(), Vec::new());
    for _ in 0..n {
        let t0 = Instant::now();
        let trial = study.ask(Some(space)).unwrap();
        let mut dt = t0.elapsed().as_secs_f64();
        let v = f(&trial.params());
        let t1 = Instant::now();
        study.tell(trial, Outcome::Complete(vec![v])).unwrap();
        dt += t1.elapsed().as_secs_f64();
        best = best.min(v);
        curve.push(best);
        secs.push(dt);
    }
    (curve, secs)
}

fn stats(xs: &mut [f64]) -> Value {
    xs.sort_by(f64::total_cmp);
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let n = xs.len();
    let median = if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    };
    json!({"mean": mean, "median": median})
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("quality", String::as_str);
    let seeds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let sampler = args.get(3).map_or("tpe", String::as_str);
    let mut out = serde_json::Map::new();
    if mode == "quality" {
        for (name, space, f) in problems() {
            let curves: Vec<Vec<f64>> = (0..seeds)
                .map(|s| run(sampler, &space, f, s, 100).0)
                .collect();
            let at = |k: usize| stats(&mut curves.iter().map(|c| c[k - 1]).collect::<Vec<_>>());
            let per_seed: Vec<f64> = curves.iter().map(|c| c[99]).collect();
            out.insert(
                name.into(),
                json!({"25": at(25), "50": at(50), "100": at(100), "per_seed_100": per_seed}),
            );
        }
    } else {
        for (name, space, f) in problems()
            .into_iter()
            .filter(|p| p.0 == "hartmann6_6d" || p.0 == "mixed_4d")
        {
            let (_, secs) = run(sampler, &space, f, 0, 1000);
            let ms = |n: usize| secs[n - 10..n].iter().sum::<f64>() / 10.0 * 1e3;
            out.insert(
                name.into(),
                json!({"100": ms(100), "500": ms(500), "1000": ms(1000), "total_s": secs.iter().sum::<f64>()}),
            );
        }
    }
    println!(
        "{}",
        json!({"sampler": sampler, "mode": mode, "results": out})
    );
}
