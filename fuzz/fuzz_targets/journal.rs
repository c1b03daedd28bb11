#![no_main]
//! Any bytes as an Optuna journal file (`strider tune --storage journal:…`, written by Optuna,
//! optuna-dashboard, other workers, or torn by a killed one): the reader replays it into studies
//! and trials or stops at an unreadable line with an error, never a panic. The replayed history
//! is then used as a study resuming it uses it, without panicking: external parameter values,
//! losses, the intersection search space, each sampler asked for a new trial (relative and
//! independent sampling) and the pruners asked about every running trial.
//!
//! journal.rs has no public function that parses bytes (its `JournalOp::parse` and `Replay` are
//! private), so this target compiles that file's source itself (build.rs copies it) inside a
//! module that provides what it imports from strider-tune, and replays the bytes as
//! `JournalStorage::sync` does, without the file.
use std::collections::BTreeMap;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
#[allow(unused_imports)]
use strider_tune::{
    Direction, Distribution, FrozenTrial, Storage, StudyInfo, TrialState, check_directions,
};
use strider_tune::{PrunerSpec, Sampler, StudyView, intersection_search_space, sampler_by_name};

mod error {
    pub use strider_tune::Result;
}

#[allow(dead_code)]
mod storage {
    pub use strider_tune::storage::{Enqueue, fail_and_retry};

    pub(crate) fn storage_err(m: impl Into<String>) -> strider_tune::Error {
        strider_tune::Error::storage(m)
    }
    // Used only by the journal's writers, which this target does not run.
    pub(crate) fn fnum(_: f64) -> String {
        unreachable!("writers are not fuzzed")
    }
    pub(crate) fn now_iso() -> String {
        unreachable!("writers are not fuzzed")
    }

    pub mod journal {
        include!(concat!(env!("OUT_DIR"), "/journal.rs"));

        /// The studies and their trials in a journal's bytes, replayed as `JournalStorage::sync`
        /// replays a file (whole lines only; the first unreadable line is an error).
        pub fn replay(
            data: &[u8],
        ) -> std::result::Result<Vec<(StudyInfo, bool, Vec<Arc<FrozenTrial>>)>, String> {
            let mut state = Replay::default();
            if let Some(end) = data.iter().rposition(|b| *b == b'\n') {
                for line in data[..end].split(|b| *b == b'\n') {
                    if let Some(op) = JournalOp::parse(&String::from_utf8_lossy(line))? {
                        state.apply(op);
                    }
                    state.offset += line.len() as u64 + 1;
                }
            }
            Ok(state
                .studies
                .iter()
                .map(|s| {
                    let trials = state
                        .trials
                        .iter()
                        .filter(|t| t.study == s.info.id)
                        .map(|t| t.trial.clone())
                        .collect();
                    (s.info.clone(), s.deleted, trials)
                })
                .collect())
        }
    }
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

const PRUNERS: [PrunerSpec; 3] = [
    PrunerSpec::Median {
        n_startup_trials: 2,
        n_warmup_steps: 0,
        interval_steps: 1,
        n_min_trials: 1,
    },
    PrunerSpec::SuccessiveHalving {
        min_resource: None,
        reduction_factor: 4,
        min_early_stopping_rate: 0,
        bootstrap_count: 0,
    },
    PrunerSpec::Hyperband {
        min_resource: 1,
        max_resource: None,
        reduction_factor: 3,
        bootstrap_count: 0,
    },
];

/// What `Study::ask` and `Study::suggest` do for a new trial of this history.
fn ask(sampler: &dyn Sampler, info: &StudyInfo, trials: &[Arc<FrozenTrial>]) {
    let attrs = BTreeMap::new();
    let mut history = trials.to_vec();
    let next = FrozenTrial::new(i64::MAX, trials.len());
    history.push(Arc::new(next.clone()));
    let view = StudyView {
        name: &info.name,
        directions: &info.directions,
        trials: &history,
        system_attrs: &attrs,
        declared: None,
    };
    let space = sampler.relative_search_space(&view, &next);
    let _ = sampler.sample_relative(&view, &next, &space);
    for (name, d) in intersection_search_space(trials, false) {
        let x = sampler.sample_independent(&view, &next, &name, &d);
        assert!(inside(&d, x), "{name}: {x} is outside {d:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(studies) = storage::journal::replay(data) else {
        return;
    };
    for (info, deleted, trials) in &studies {
        for (number, t) in trials.iter().enumerate() {
            assert_eq!(t.number, number);
            let _ = t.external_params();
            let _ = t.value();
            let _ = t.last_step();
            let _ = t.losses(&info.directions);
        }
        let _ = intersection_search_space(trials, true);
        // Only a live study with one or two objectives is resumed (Study::open).
        if *deleted || info.directions.is_empty() || info.directions.len() > 2 {
            continue;
        }
        for name in ["tpe", "cmaes", "qmc", "random"] {
            if let Ok(sampler) = sampler_by_name(name, 7, None) {
                ask(sampler.as_ref(), info, trials);
            }
        }
        if info.directions.len() == 1 {
            for t in trials.iter().filter(|t| t.state == TrialState::Running) {
                for pruner in &PRUNERS {
                    let _ = pruner.should_prune(&info.name, info.directions[0], trials, t);
                }
            }
        }
    }
});
