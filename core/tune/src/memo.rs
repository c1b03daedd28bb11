//! What TPE reads from finished trials, kept between asks.
//!
//! A finished trial never changes its parameters or its state. So once trials 0..k are all
//! finished, what a sampler reads from them (their part of the intersection search space, their
//! internal values in a space) can be read once and kept; later asks only read the newer trials.
//! Optuna's `IntersectionSearchSpace` keeps the same kind of cursor. Without it, every ask walks
//! every trial's parameter map twice, which was most of the tuner's overhead at 1,000 trials.
//!
//! The memo is pure: a sampler with it samples exactly what a fresh one does (tested), so workers,
//! resumed studies and a sampler shared by threads all agree. It checks on every use that the
//! trials it sees extend the ones it folded (same study, same ids, still finished): it starts
//! over for another study, and reads an older snapshot (a worker that read the trials before
//! another one moved on) without it.

use std::sync::{Arc, Mutex, MutexGuard};

use super::distribution::Distribution;
use super::parzen::{Observations, ordered_bits};
use super::sampler::{SearchSpace, StudyView, fold_intersection};
use super::tpe::values_into;
use super::trial::{FrozenTrial, TrialState};

/// The spaces kept at once: the relative space plus each independently sampled parameter.
const MAX_SPACES: usize = 64;

#[derive(Default)]
pub(crate) struct FinishedMemo(Mutex<State>);

#[derive(Default)]
pub(crate) struct State {
    study: String,
    /// The folded prefix, trials 0..prefix.len() of the study, all finished. Held, so that a
    /// pointer match proves the storage handed over the very same trial (the usual case in
    /// memory) without reading it.
    prefix: Vec<Arc<FrozenTrial>>,
    /// What the split reads of each prefix trial, stored contiguously.
    summary: Vec<Summary>,
    /// The parameters every COMPLETE or PRUNED trial of the prefix has (None: there is none).
    intersection: Option<Vec<(String, Distribution)>>,
    columns: Vec<Columns>,
}

/// The fields of a trial that TPE's split reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Summary {
    pub(crate) state: TrialState,
    pub(crate) number: usize,
    pub(crate) has_values: bool,
    /// The first objective value (NaN when there is none).
    pub(crate) value: f64,
}

impl Summary {
    pub(crate) fn of(t: &FrozenTrial) -> Self {
        Self {
            state: t.state,
            number: t.number,
            has_values: t.values.is_some(),
            value: t.value().unwrap_or(f64::NAN),
        }
    }
}

/// The prefix's internal values in one space, `space.len()` per trial that has them all, and
/// per dimension the prefix's rows sorted by value (the Parzen bandwidth needs that order; kept
/// sorted as trials arrive, it costs an ask O(n) instead of a sort).
struct Columns {
    space: SearchSpace,
    values: Vec<f64>,
    /// Where each prefix trial's values start, if it has them.
    row: Vec<Option<u32>>,
    /// Per dimension: (`ordered_bits(value)`, position), sorted.
    sorted: Vec<Vec<(u64, u32)>>,
}

impl Columns {
    fn new(space: &SearchSpace, prefix: &[Arc<FrozenTrial>]) -> Self {
        let mut c = Self {
            space: space.clone(),
            values: Vec::new(),
            row: Vec::new(),
            sorted: vec![Vec::new(); space.len()],
        };
        for t in prefix {
            c.push(t, false);
        }
        c.sorted.iter_mut().for_each(|s| s.sort_unstable());
        c
    }

    /// Fold in the next prefix trial; `keep_sorted` inserts it in order (else the caller sorts).
    fn push(&mut self, t: &FrozenTrial, keep_sorted: bool) {
        let position = self.row.len();
        let start = self.values.len();
        let has = values_into(t, &self.space, &mut self.values);
        self.row.push(has.then_some(start as u32));
        if has {
            for (d, sorted) in self.sorted.iter_mut().enumerate() {
                let key = (ordered_bits(self.values[start + d]), position as u32);
                if keep_sorted {
                    let at = sorted.partition_point(|k| *k < key);
                    sorted.insert(at, key);
                } else {
                    sorted.push(key);
                }
            }
        }
    }
}

/// The memo as one ask sees it: the shared one, or, for a snapshot older than the memo, a
/// private one built for that snapshot alone.
pub(crate) enum Synced<'a> {
    Shared(MutexGuard<'a, State>),
    Alone(Box<State>),
}

impl std::ops::Deref for Synced<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        match self {
            Synced::Shared(s) => s,
            Synced::Alone(s) => s,
        }
    }
}

impl std::ops::DerefMut for Synced<'_> {
    fn deref_mut(&mut self) -> &mut State {
        match self {
            Synced::Shared(s) => s,
            Synced::Alone(s) => s,
        }
    }
}

/// How a snapshot of the trials relates to the memo's prefix.
enum Fit {
    /// The prefix is a prefix of the snapshot: extend it.
    Extends,
    /// The snapshot is older than the prefix (shorter, or a prefix trial still running in it):
    /// a worker that read the trials before another one moved the memo on.
    Older,
    /// Another study or storage.
    Stale,
}

impl FinishedMemo {
    /// The memo brought up to date with `study`.
    pub(crate) fn synced(&self, study: &StudyView) -> Synced<'_> {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let trials = study.trials;
        match s.fit(study) {
            Fit::Extends => {}
            Fit::Older => {
                // Workers sharing a sampler read at different times: an older snapshot gets a
                // memo of its own rather than throwing away the shared one.
                let mut own = State::new(study.name);
                own.extend(trials);
                return Synced::Alone(Box::new(own));
            }
            Fit::Stale => *s = State::new(study.name),
        }
        s.extend(trials);
        Synced::Shared(s)
    }
}

impl State {
    fn new(study: &str) -> Self {
        Self {
            study: study.to_string(),
            ..Self::default()
        }
    }

    fn fit(&mut self, study: &StudyView) -> Fit {
        if self.study != study.name {
            return Fit::Stale;
        }
        let mut older = self.prefix.len() > study.trials.len();
        for (held, t) in self.prefix.iter_mut().zip(study.trials) {
            if Arc::ptr_eq(held, t) {
                continue;
            }
            // Another copy (a storage that reads trials anew): the same trial if it has the
            // same id, and an older reading of it if it is not finished there yet.
            if held.id != t.id {
                return Fit::Stale;
            }
            if t.state.is_finished() {
                *held = t.clone();
            } else {
                older = true;
            }
        }
        if older { Fit::Older } else { Fit::Extends }
    }

    /// Fold in the finished trials that follow the prefix.
    fn extend(&mut self, trials: &[Arc<FrozenTrial>]) {
        while let Some(t) = trials.get(self.prefix.len()) {
            if !t.state.is_finished() {
                break;
            }
            if counts_for_intersection(t) {
                fold_intersection(&mut self.intersection, t);
            }
            for c in &mut self.columns {
                c.push(t, true);
            }
            self.summary.push(Summary::of(t));
            self.prefix.push(t.clone());
        }
    }
}

impl State {
    /// Every trial's summary: the prefix's from the memo, the others read now.
    pub(crate) fn summaries(&self, study: &StudyView) -> Vec<Summary> {
        let mut out = Vec::with_capacity(study.trials.len());
        out.extend_from_slice(&self.summary);
        out.extend(
            study.trials[self.summary.len()..]
                .iter()
                .map(|t| Summary::of(t)),
        );
        out
    }

    /// Optuna's intersection search space over COMPLETE and PRUNED trials (single-valued
    /// distributions left out).
    pub(crate) fn intersection(&self, study: &StudyView) -> SearchSpace {
        let mut keep = self.intersection.clone();
        let prefix = self.prefix.len();
        for t in study.trials[prefix..]
            .iter()
            .filter(|t| counts_for_intersection(t))
        {
            fold_intersection(&mut keep, t);
        }
        keep.unwrap_or_default()
            .into_iter()
            .filter(|(_, d)| !d.single())
            .collect()
    }

    /// The internal values in `space` of the trials at `positions` (in that order, skipping
    /// those that lack one), with each dimension's sorted order when `positions` ascend.
    pub(crate) fn observations(
        &mut self,
        study: &StudyView,
        space: &SearchSpace,
        positions: &[usize],
    ) -> Observations {
        let st = self;
        let prefix = st.prefix.len();
        let i = match st.columns.iter().position(|c| c.space == *space) {
            Some(i) => i,
            None => {
                if st.columns.len() == MAX_SPACES {
                    st.columns.remove(0);
                }
                st.columns
                    .push(Columns::new(space, &study.trials[..prefix]));
                st.columns.len() - 1
            }
        };
        let c = &st.columns[i];
        let d = space.len();
        let mut values = Vec::with_capacity(positions.len() * d);
        // Output row of each prefix position asked for; the rows of the others.
        let mut out_row = vec![u32::MAX; prefix];
        let mut tail: Vec<u32> = Vec::new();
        let mut n_rows = 0u32;
        for &p in positions {
            let added = match c.row.get(p) {
                Some(Some(r)) => {
                    values.extend_from_slice(&c.values[*r as usize..*r as usize + d]);
                    out_row[p] = n_rows;
                    true
                }
                Some(None) => false,
                None => {
                    let added = values_into(&study.trials[p], space, &mut values);
                    if added {
                        tail.push(n_rows);
                    }
                    added
                }
            };
            n_rows += u32::from(added);
        }
        // Equal values keep row order (a stable sort's), which is position order only when
        // the positions ascend.
        let orders = positions.is_sorted().then(|| {
            (0..d)
                .map(|dim| {
                    let mut extra: Vec<(u64, u32)> = tail
                        .iter()
                        .map(|&r| (ordered_bits(values[r as usize * d + dim]), r))
                        .collect();
                    extra.sort_unstable();
                    let mut order = Vec::with_capacity(n_rows as usize);
                    let rows = c.sorted[dim].iter().map(|(_, p)| out_row[*p as usize]);
                    if extra.is_empty() {
                        // The usual case: every row asked for is in the prefix.
                        order.extend(rows.filter(|r| *r != u32::MAX));
                        return order;
                    }
                    let mut e = 0;
                    for (bits, p) in &c.sorted[dim] {
                        let r = out_row[*p as usize];
                        if r == u32::MAX {
                            continue;
                        }
                        while e < extra.len() && extra[e] < (*bits, r) {
                            order.push(extra[e].1);
                            e += 1;
                        }
                        order.push(r);
                    }
                    order.extend(extra[e..].iter().map(|x| x.1));
                    order
                })
                .collect()
        });
        Observations { values, orders }
    }
}

fn counts_for_intersection(t: &Arc<FrozenTrial>) -> bool {
    matches!(t.state, TrialState::Complete | TrialState::Pruned)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use serde_json::Value;

    use super::*;
    use crate::{
        Direction, InMemoryStorage, Outcome, PrunerSpec, Storage, Study, TpeSampler, Trial,
    };

    fn space() -> Vec<(&'static str, Distribution)> {
        vec![
            ("x", Distribution::float(-3.0, 3.0)),
            (
                "lr",
                Distribution::Float {
                    low: 1e-4,
                    high: 1.0,
                    log: true,
                    step: None,
                },
            ),
            (
                "q",
                Distribution::Float {
                    low: 0.0,
                    high: 1.0,
                    log: false,
                    step: Some(0.1),
                },
            ),
            (
                "n",
                Distribution::Int {
                    low: 1,
                    high: 64,
                    log: true,
                    step: 1,
                },
            ),
            (
                "cat",
                Distribution::Categorical {
                    choices: vec!["a".into(), "b".into(), "c".into()],
                },
            ),
        ]
    }

    /// Every trial's parameters after a scripted study: up to three trials running at once,
    /// trials completing, pruned (with intermediate values), failing, a conditional parameter,
    /// attributes set on finished trials (which gives the storage new copies of them), and a
    /// second study in the same storage. `fresh` gives every ask a new sampler (an empty memo).
    fn run(directions: &[Direction], fresh: bool) -> Vec<BTreeMap<String, Value>> {
        scripted(directions, fresh).0
    }

    /// The study's trials at the end, and the snapshots of them that each ask saw.
    #[allow(clippy::type_complexity)]
    fn scripted(
        directions: &[Direction],
        fresh: bool,
    ) -> (Vec<BTreeMap<String, Value>>, Vec<Vec<Arc<FrozenTrial>>>) {
        let mut snapshots = Vec::new();
        let mut script = ChaCha8Rng::seed_from_u64(11);
        let mut storage = InMemoryStorage::default();
        let shared = TpeSampler {
            n_startup_trials: 5,
            ..TpeSampler::new(3)
        };
        let mut running: Vec<Trial> = Vec::new();
        let mut finished = Vec::new();
        for step in 0..300 {
            let study_name = if step % 7 == 3 { "other" } else { "main" };
            let own = TpeSampler {
                n_startup_trials: 5,
                ..TpeSampler::new(3)
            };
            let sampler = if fresh { &own } else { &shared };
            let mut study = Study::open(
                &mut storage,
                study_name,
                directions,
                sampler,
                PrunerSpec::None,
            )
            .unwrap();
            if study_name == "other" {
                let mut t = study.ask(None).unwrap();
                let x = study.suggest(&mut t, "x", &space()[0].1).unwrap();
                let v = x.as_f64().unwrap();
                study
                    .tell(t, Outcome::Complete(vec![v; directions.len()]))
                    .unwrap();
                continue;
            }
            if running.len() < 3 && (running.is_empty() || script.random::<f64>() < 0.55) {
                snapshots.push(study.trials().unwrap());
                let mut t = study.ask(None).unwrap();
                for (name, d) in space() {
                    study.suggest(&mut t, name, &d).unwrap();
                }
                if t.params()["cat"] == "a" {
                    study
                        .suggest(&mut t, "only_a", &Distribution::float(0.0, 1.0))
                        .unwrap();
                }
                running.push(t);
                continue;
            }
            let mut t = running.remove(script.random_range(0..running.len()));
            let p = t.params();
            let loss = p["x"].as_f64().unwrap().powi(2)
                + p["lr"].as_f64().unwrap().ln().abs()
                + p["q"].as_f64().unwrap()
                + if p["cat"] == "b" { 0.0 } else { 1.0 };
            let outcome = match script.random_range(0..10) {
                0 => Outcome::Fail("scripted".into()),
                1 | 2 if directions.len() == 1 => {
                    study.report(&mut t, 0, loss).unwrap();
                    Outcome::Pruned
                }
                _ => Outcome::Complete(
                    (0..directions.len())
                        .map(|i| loss * (1.0 + i as f64) - i as f64 * p["n"].as_f64().unwrap())
                        .collect(),
                ),
            };
            let id = t.id;
            study.tell(t, outcome).unwrap();
            finished.push(id);
            if script.random::<f64>() < 0.2 {
                let k = finished[script.random_range(0..finished.len())];
                study
                    .storage()
                    .set_trial_user_attr(k, "note", &Value::from(step))
                    .unwrap();
            }
        }
        let trials = storage.trials(0).unwrap();
        let params = trials.iter().map(|t| t.external_params()).collect();
        (params, snapshots)
    }

    /// What the memo gives equals what reading every trial gives: the trials' summaries, the
    /// intersection search space, the values of the trials asked for and each dimension's
    /// stable sorted order of them.
    #[test]
    fn observations_equal_a_direct_reading() {
        let (_, snapshots) = scripted(&[Direction::Minimize], true);
        let memo = FinishedMemo::default();
        let mut pick = ChaCha8Rng::seed_from_u64(5);
        let spaces: Vec<SearchSpace> = vec![
            space()
                .into_iter()
                .map(|(k, d)| (k.to_string(), d))
                .collect(),
            space()[..4]
                .iter()
                .map(|(k, d)| (k.to_string(), d.clone()))
                .collect(),
            SearchSpace::from([("only_a".to_string(), Distribution::float(0.0, 1.0))]),
        ];
        let mut with_running = 0;
        // Forwards, then backwards: every snapshot is then older than the memo.
        for trials in snapshots.iter().chain(snapshots.iter().rev()) {
            let attrs = BTreeMap::new();
            let view = StudyView {
                name: "main",
                directions: &[Direction::Minimize],
                trials,
                system_attrs: &attrs,
                declared: None,
            };
            let summaries = memo.synced(&view).summaries(&view);
            let direct: Vec<Summary> = trials.iter().map(|t| Summary::of(t)).collect();
            assert_eq!(format!("{summaries:?}"), format!("{direct:?}"));
            assert_eq!(
                memo.synced(&view).intersection(&view),
                crate::intersection_search_space(trials, true)
            );
            for space in &spaces {
                let positions: Vec<usize> = (0..trials.len())
                    .filter(|_| pick.random::<f64>() < 0.7)
                    .collect();
                let got = memo.synced(&view).observations(&view, space, &positions);
                let mut want = Vec::new();
                for p in &positions {
                    values_into(&trials[*p], space, &mut want);
                }
                assert_eq!(got.values, want);
                let orders = got.orders.expect("positions ascend");
                let n_rows = want.len() / space.len();
                for (d, order) in orders.iter().enumerate() {
                    let column: Vec<f64> = (0..n_rows).map(|r| want[r * space.len() + d]).collect();
                    let mut direct: Vec<u32> = (0..n_rows as u32).collect();
                    direct.sort_by(|a, b| column[*a as usize].total_cmp(&column[*b as usize]));
                    assert_eq!(order, &direct);
                }
                with_running += usize::from(
                    positions
                        .iter()
                        .any(|p| trials[*p].state == TrialState::Running),
                );
            }
        }
        assert!(with_running > 50, "{with_running}");
    }

    #[test]
    fn the_memo_never_changes_a_sample() {
        for directions in [
            vec![Direction::Minimize],
            vec![Direction::Minimize, Direction::Maximize],
        ] {
            let (warm, cold) = (run(&directions, false), run(&directions, true));
            assert!(warm.len() > 100, "{}", warm.len());
            assert_eq!(warm, cold, "{directions:?}");
        }
    }
}
