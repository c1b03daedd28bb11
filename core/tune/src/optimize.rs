//! Optuna's `study.optimize`: workers that ask, evaluate and tell until the budget of trials is
//! spent, each on its own connection to a shared storage (other processes or machines may work on
//! the same study at the same time).

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::TrialState;
use crate::error::{Error, Result};
use crate::{Direction, Outcome, PrunerSpec, Sampler, SearchSpace, Storage, Study, Trial};

/// What a trial evaluates. An error fails the trial (its text is recorded) without stopping the
/// study.
pub trait Objective: Sync {
    fn run(&self, study: &mut Study, trial: &mut Trial) -> std::result::Result<Outcome, String>;
}

/// Opens a fresh connection to the study's storage, one per worker.
pub type OpenStorage<'a> = dyn Fn() -> Result<Box<dyn Storage + Send>> + Sync + 'a;

/// The study a run of workers works on.
pub struct StudySpec<'a> {
    pub name: &'a str,
    pub directions: &'a [Direction],
    pub sampler: &'a dyn Sampler,
    pub pruner: PrunerSpec,
    /// Suggest every parameter of this space when a trial starts (define-and-run).
    pub space: Option<&'a SearchSpace>,
}

/// How long to run.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Trials this call runs, over all its workers.
    pub n_trials: usize,
    /// Worker threads (1 runs on the calling thread, as in wasm).
    pub workers: usize,
    /// A RUNNING trial whose worker was silent this long (seconds) is failed and retried with
    /// the same parameters.
    pub stale_after: f64,
}

/// What a worker reports as it goes.
pub enum Progress {
    /// Trials of a lost worker were failed and queued again.
    StaleRetried(usize),
    /// A trial finished.
    Told { number: usize, state: TrialState },
}

/// Runs `budget.n_trials` trials of `objective` on the study, in `budget.workers` threads.
/// Stops early when the sampler has nothing left (an exhausted grid).
pub fn optimize(
    open: &OpenStorage,
    study: &StudySpec,
    objective: &dyn Objective,
    budget: Budget,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<()> {
    if budget.workers == 0 {
        return Err(Error::Study("optimize needs at least one worker".into()));
    }
    let remaining = AtomicUsize::new(budget.n_trials);
    let work = || {
        worker(
            open,
            study,
            objective,
            budget.stale_after,
            &remaining,
            progress,
        )
    };
    let panicked = || Error::Study("a worker panicked".into());
    if budget.workers == 1 {
        // On the calling thread (wasm has no threads); a panicking objective is still an error.
        return std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
            .unwrap_or_else(|_| Err(panicked()));
    }
    // Every worker is joined before the first error is returned.
    let results: Vec<Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..budget.workers).map(|_| scope.spawn(work)).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(panicked())))
            .collect()
    });
    results.into_iter().collect()
}

/// One worker: claim a trial from the shared budget, evaluate it, tell the storage; repeat.
fn worker(
    open: &OpenStorage,
    spec: &StudySpec,
    objective: &dyn Objective,
    stale_after: f64,
    remaining: &AtomicUsize,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<()> {
    let mut storage = open()?;
    let mut study = Study::open(
        storage.as_mut(),
        spec.name,
        spec.directions,
        spec.sampler,
        spec.pruner.clone(),
    )?;
    while remaining
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        let id = study.info.id;
        let failed = study.storage().fail_stale_trials(id, stale_after)?;
        if !failed.is_empty() {
            progress(Progress::StaleRetried(failed.len()));
        }
        if study.exhausted()? {
            break;
        }
        let mut trial = study.ask(spec.space)?;
        let outcome = objective
            .run(&mut study, &mut trial)
            .unwrap_or_else(Outcome::Fail);
        let number = trial.number;
        let state = study.tell(trial, outcome)?;
        progress(Progress::Told { number, state });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::{Distribution, InMemoryStorage, RandomSampler};

    /// Storages handed to workers share one in-memory store behind a lock.
    struct Shared(Arc<Mutex<InMemoryStorage>>);

    macro_rules! delegate {
        ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
            $(fn $name(&mut self, $($arg: $ty),*) -> $ret {
                self.0.lock().map_err(|_| Error::storage("poisoned"))?.$name($($arg),*)
            })*
        };
    }

    impl Storage for Shared {
        delegate! {
            get_or_create_study(name: &str, directions: &[Direction]) -> Result<crate::StudyInfo>;
            create_trial(study: i64) -> Result<(i64, usize)>;
            set_param(trial: i64, name: &str, dist: &Distribution, internal: f64) -> Result<()>;
            set_intermediate(trial: i64, step: i64, value: f64) -> Result<()>;
            set_state(trial: i64, state: TrialState, values: Option<&[f64]>) -> Result<bool>;
            set_trial_system_attr(trial: i64, key: &str, value: &serde_json::Value) -> Result<()>;
            set_trial_user_attr(trial: i64, key: &str, value: &serde_json::Value) -> Result<()>;
            set_study_system_attr(study: i64, key: &str, value: &serde_json::Value) -> Result<()>;
            study_system_attrs(study: i64) -> Result<std::collections::BTreeMap<String, serde_json::Value>>;
            trials(study: i64) -> Result<Vec<Arc<crate::FrozenTrial>>>;
        }
    }

    /// A one-objective study named `s` with no pruner.
    fn study(sampler: &RandomSampler) -> StudySpec<'_> {
        StudySpec {
            name: "s",
            directions: &[Direction::Minimize],
            sampler,
            pruner: PrunerSpec::None,
            space: None,
        }
    }

    struct Square;

    impl Objective for Square {
        fn run(
            &self,
            study: &mut Study,
            trial: &mut Trial,
        ) -> std::result::Result<Outcome, String> {
            let d = Distribution::Float {
                low: -2.0,
                high: 2.0,
                log: false,
                step: None,
            };
            let x = study
                .suggest(trial, "x", &d)
                .map_err(|e| e.to_string())?
                .as_f64()
                .ok_or("x is a float")?;
            if x > 1.5 {
                return Err("too large".into());
            }
            Ok(Outcome::Complete(vec![x * x]))
        }
    }

    fn run(workers: usize, n_trials: usize) -> Vec<Arc<crate::FrozenTrial>> {
        let store = Arc::new(Mutex::new(InMemoryStorage::default()));
        let open = || -> Result<Box<dyn Storage + Send>> { Ok(Box::new(Shared(store.clone()))) };
        let sampler = RandomSampler { seed: 7 };
        let spec = study(&sampler);
        let told = AtomicUsize::new(0);
        let budget = Budget {
            n_trials,
            workers,
            stale_after: 10.0,
        };
        optimize(&open, &spec, &Square, budget, &|p| {
            if let Progress::Told { .. } = p {
                told.fetch_add(1, Ordering::SeqCst);
            }
        })
        .unwrap();
        assert_eq!(told.load(Ordering::SeqCst), n_trials);
        let mut s = store.lock().unwrap();
        s.trials(0).unwrap()
    }

    #[test]
    fn workers_share_the_budget_and_failures_do_not_stop_the_study() {
        for workers in [1, 3] {
            let trials = run(workers, 40);
            assert_eq!(trials.len(), 40, "{workers} workers");
            let numbers: Vec<usize> = trials.iter().map(|t| t.number).collect();
            assert_eq!(numbers, (0..40).collect::<Vec<_>>());
            let failed = trials
                .iter()
                .filter(|t| t.state == TrialState::Fail)
                .count();
            let complete = trials
                .iter()
                .filter(|t| t.state == TrialState::Complete)
                .count();
            assert_eq!(failed + complete, 40);
            assert!(failed > 0 && complete > 0, "x > 1.5 fails about 1 in 8");
            for t in &trials {
                if let (TrialState::Complete, Some(v)) = (t.state, t.value()) {
                    let x = t.external_params()["x"].as_f64().unwrap();
                    assert_eq!(v, x * x);
                }
            }
        }
    }

    struct Panics;

    impl Objective for Panics {
        fn run(&self, _: &mut Study, _: &mut Trial) -> std::result::Result<Outcome, String> {
            panic!("objective bug")
        }
    }

    #[test]
    fn a_panicking_objective_is_an_error_on_one_worker_or_many() {
        for workers in [1, 2] {
            let open =
                || -> Result<Box<dyn Storage + Send>> { Ok(Box::new(InMemoryStorage::default())) };
            let sampler = RandomSampler { seed: 1 };
            let spec = study(&sampler);
            let budget = Budget {
                n_trials: 4,
                workers,
                stale_after: 1.0,
            };
            let e = optimize(&open, &spec, &Panics, budget, &|_| {}).unwrap_err();
            assert!(e.to_string().contains("panicked"), "{e}");
        }
    }

    #[test]
    fn zero_workers_is_an_error() {
        let open =
            || -> Result<Box<dyn Storage + Send>> { Ok(Box::new(InMemoryStorage::default())) };
        let sampler = RandomSampler { seed: 1 };
        let spec = study(&sampler);
        let budget = Budget {
            n_trials: 1,
            workers: 0,
            stale_after: 1.0,
        };
        assert!(optimize(&open, &spec, &Square, budget, &|_| {}).is_err());
    }
}
