#![no_main]
//! Any text: a SPACE.toml (`strider tune --space`) parses to a search space or an error, never a
//! panic. Every distribution of a space that loads survives Optuna's JSON (how storages keep it
//! and other workers read it back) unchanged, and a short study on the space (as `strider tune`
//! runs one, with each sampler) asks, suggests and tells without panicking, every suggested
//! value inside its distribution.
use libfuzzer_sys::fuzz_target;
use strider_tune::{
    Direction, Distribution, InMemoryStorage, Outcome, PrunerSpec, SearchSpace, SpaceFile, Study,
    sampler_by_name,
};

/// Grids beyond this many cells are legal (up to MAX_GRID_CELLS) but too slow to build per input.
const GRID_CELLS: f64 = 10_000.0;

fn grid_cells(space: &SearchSpace) -> f64 {
    space
        .values()
        .map(|d| match d {
            Distribution::Categorical { choices } => choices.len() as f64,
            Distribution::Int {
                low, high, step, ..
            } => ((*high as f64 - *low as f64) / (*step).max(1) as f64).max(0.0) + 1.0,
            Distribution::Float {
                low,
                high,
                step: Some(s),
                ..
            } => ((high - low) / s).max(0.0) + 1.0,
            Distribution::Float { .. } => 1.0,
        })
        .product()
}

/// `d.contains(x)`, except that a stepped float only has to lie within its bounds: `contains`
/// checks the grid to 1e-8 steps, which a grid of more than about 1e7 points cannot meet in f64
/// even for values exactly on it (a known limit, not a crash).
fn inside(d: &Distribution, x: f64) -> bool {
    match d {
        Distribution::Float {
            low,
            high,
            step: Some(_),
            ..
        } => x >= *low && x <= *high,
        _ => d.contains(x),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(space) = SpaceFile::from_toml(text).and_then(|f| f.space()) else {
        return;
    };
    for (name, d) in &space {
        d.validate(name)
            .expect("a loaded space's distribution is valid");
        let json = d.to_optuna_json();
        match Distribution::from_optuna_json(&json) {
            Ok(back) => assert_eq!(&back, d, "{json}"),
            Err(e) => panic!("{json}: {e}"),
        }
    }
    for sampler in ["random", "qmc", "tpe", "cmaes", "grid"] {
        if sampler == "grid" && grid_cells(&space) > GRID_CELLS {
            continue;
        }
        let Ok(sampler) = sampler_by_name(sampler, 7, Some(&space)) else {
            continue;
        };
        let mut storage = InMemoryStorage::default();
        let mut study = Study::open(
            &mut storage,
            "fuzz",
            &[Direction::Minimize],
            sampler.as_ref(),
            PrunerSpec::None,
        )
        .expect("a study opens in memory");
        for k in 0..3 {
            let Ok(trial) = study.ask(Some(&space)) else {
                break;
            };
            for (name, (d, x)) in &trial.frozen().params {
                assert!(inside(d, *x), "{name}: {x} is outside {d:?}");
            }
            study
                .tell(trial, Outcome::Complete(vec![k as f64]))
                .expect("a trial of an in-memory study finishes");
        }
    }
});
