//! TPE with Optuna 5.0's semantics: multivariate by default (one shared kernel index across the
//! relative search space), constant liar (RUNNING trials count as bad), the per-dimension
//! neighbour-gap bandwidth, truncated (and, for stepped parameters, discretised) Gaussian kernels,
//! a prior component, older trials down-weighted past 25, 24 candidates scored by log l - log g.
//! Two objectives split by non-domination rank.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::Value;

use super::distribution::Distribution;
use super::memo::{FinishedMemo, Summary};
use super::pareto::nondomination_ranks;
use super::parzen::Parzen;
use super::sampler::{Sampler, SearchSpace, StudyView, cmp_name, has_exactly, rng_for};
use super::trial::{FrozenTrial, TrialState};

pub struct TpeSampler {
    pub seed: u64,
    pub n_startup_trials: usize,
    pub n_ei_candidates: usize,
    pub multivariate: bool,
    pub constant_liar: bool,
    pub prior_weight: f64,
    /// Sample categorical parameters with univariate TPE, outside the joint (multivariate)
    /// kernel of the numerical ones.
    pub categorical_independent: bool,
    /// What was read from finished trials (see `memo`); never changes a sample.
    pub(super) memo: FinishedMemo,
}

impl Clone for TpeSampler {
    fn clone(&self) -> Self {
        Self {
            memo: FinishedMemo::default(),
            ..*self
        }
    }
}

impl std::fmt::Debug for TpeSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TpeSampler")
            .field("seed", &self.seed)
            .field("n_startup_trials", &self.n_startup_trials)
            .field("n_ei_candidates", &self.n_ei_candidates)
            .field("multivariate", &self.multivariate)
            .field("constant_liar", &self.constant_liar)
            .field("prior_weight", &self.prior_weight)
            .field("categorical_independent", &self.categorical_independent)
            .finish()
    }
}

impl TpeSampler {
    /// Optuna 5.0's defaults.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            n_startup_trials: 10,
            n_ei_candidates: 24,
            multivariate: true,
            constant_liar: true,
            prior_weight: 1.0,
            categorical_independent: true,
            memo: FinishedMemo::default(),
        }
    }
}

pub const RELATIVE_PARAMS_ATTR: &str = "tpe:relative_params:0";

impl TpeSampler {
    fn sample(
        &self,
        study: &StudyView,
        trial: &FrozenTrial,
        space: &SearchSpace,
        purpose: &str,
    ) -> BTreeMap<String, f64> {
        let mut memo = self.memo.synced(study);
        let summaries = memo.summaries(study);
        let n_done = summaries
            .iter()
            .filter(|t| matches!(t.state, TrialState::Complete | TrialState::Pruned))
            .count();
        let mut rng = rng_for(self.seed, trial.number, purpose);
        if n_done < self.n_startup_trials {
            return space
                .iter()
                .map(|(k, d)| (k.clone(), super::sampler::sample_uniform(d, &mut rng)))
                .collect();
        }
        let (below, above) = self.split(study, trial, &summaries);
        let below = memo.observations(study, space, &below);
        let above = memo.observations(study, space, &above);
        drop(memo);
        let multi = study.directions.len() > 1;
        let l = Parzen::new(space, &below, multi, self.prior_weight);
        let g = Parzen::new(space, &above, false, self.prior_weight);
        let cands = l.sample(&mut rng, self.n_ei_candidates);
        let (ll, lg) = (l.log_pdf(&cands), g.log_pdf(&cands));
        let best = (0..cands.len())
            .max_by(|&a, &b| (ll[a] - lg[a]).total_cmp(&(ll[b] - lg[b])))
            .unwrap_or(0);
        space
            .keys()
            .cloned()
            .zip(cands[best].iter().copied())
            .collect()
    }

    /// Optuna's `_split_trials`: the best `gamma(n)` finished trials ("below"), the rest and
    /// every other RUNNING trial ("above"), each in trial-number order, as positions in
    /// `study.trials`.
    fn split(
        &self,
        study: &StudyView,
        trial: &FrozenTrial,
        summaries: &[Summary],
    ) -> (Vec<usize>, Vec<usize>) {
        let multi = study.directions.len() > 1;
        let ts = study.trials;
        let positions = |keep: &dyn Fn(&Summary) -> bool| -> Vec<usize> {
            (0..summaries.len())
                .filter(|&p| keep(&summaries[p]))
                .collect()
        };
        let mut complete = positions(&|t| t.state == TrialState::Complete && t.has_values);
        let mut pruned = positions(&|t| t.state == TrialState::Pruned);
        let running = if self.constant_liar {
            positions(&|t| t.state == TrialState::Running && t.number != trial.number)
        } else {
            Vec::new()
        };
        let n = complete.len() + pruned.len();
        let n_below = if multi {
            (0.1 * n as f64).ceil() as usize
        } else {
            ((0.1 * n as f64).ceil() as usize).min(25)
        };
        let dir = study.directions[0];
        let by_loss = |a: &usize, b: &usize| {
            let (a, b) = (&summaries[*a], &summaries[*b]);
            dir.loss(a.value)
                .total_cmp(&dir.loss(b.value))
                .then(a.number.cmp(&b.number))
        };
        let by_number = |p: &usize| summaries[*p].number;
        if !multi && n_below <= complete.len() {
            // Only the best `n_below` complete trials matter: select them instead of sorting
            // every trial (the split runs on each ask).
            let mut best = complete.clone();
            if n_below > 0 && n_below < best.len() {
                best.select_nth_unstable_by(n_below - 1, by_loss);
            }
            best.truncate(n_below);
            let mut is_below = vec![false; ts.len()];
            best.iter().for_each(|p| is_below[*p] = true);
            // Filtering keeps trial order, so the sorts below find their input sorted.
            let mut above: Vec<usize> = (0..ts.len())
                .filter(|&p| {
                    let t = &summaries[p];
                    !is_below[p]
                        && match t.state {
                            TrialState::Complete => t.has_values,
                            TrialState::Pruned => true,
                            TrialState::Running => self.constant_liar && t.number != trial.number,
                            _ => false,
                        }
                })
                .collect();
            best.sort_unstable_by_key(by_number);
            above.sort_unstable_by_key(by_number);
            return (best, above);
        }
        if multi {
            let losses: Vec<Vec<f64>> = complete
                .iter()
                .map(|p| ts[*p].losses(study.directions))
                .collect();
            let ranks = nondomination_ranks(&losses);
            let mut idx: Vec<usize> = (0..complete.len()).collect();
            idx.sort_by_key(|&i| (ranks[i], ts[complete[i]].number));
            complete = idx.into_iter().map(|i| complete[i]).collect();
        } else {
            complete.sort_by(by_loss);
        }
        pruned.sort_by(|a, b| {
            let key = |t: &FrozenTrial| {
                let step = t.last_step().unwrap_or(i64::MIN);
                let v = t
                    .last_step()
                    .map(|s| dir.loss(t.intermediate[&s]))
                    .filter(|v| !v.is_nan())
                    .unwrap_or(f64::INFINITY);
                (-(step as i128), v)
            };
            let (ka, kb) = (key(&ts[*a]), key(&ts[*b]));
            ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
        });
        let ordered: Vec<usize> = complete.into_iter().chain(pruned).collect();
        let (b, a) = ordered.split_at(n_below.min(ordered.len()));
        let mut below = b.to_vec();
        let mut above: Vec<usize> = a.iter().copied().chain(running).collect();
        below.sort_by_key(by_number);
        above.sort_by_key(by_number);
        (below, above)
    }
}

/// Appends the internal values of `space` in `t` to `out` if it has them all (RUNNING trials
/// also through the relative sample they recorded), and says whether it did; leaves `out` as it
/// was otherwise.
pub(super) fn values_into(t: &FrozenTrial, space: &SearchSpace, out: &mut Vec<f64>) -> bool {
    let start = out.len();
    let ok = push_values(t, space, out);
    if !ok {
        out.truncate(start);
    }
    ok
}

fn push_values(t: &FrozenTrial, space: &SearchSpace, out: &mut Vec<f64>) -> bool {
    // The usual case: the trial has exactly the space's parameters.
    if has_exactly(t, space.iter()) {
        out.extend(t.params.values().map(|(_, x)| *x));
        return true;
    }
    // Both maps are sorted by name: walk them together, one comparison per step.
    let mut params = t.params.iter().peekable();
    let mut relative: Option<Option<BTreeMap<String, Value>>> = None;
    for (k, d) in space {
        let mut found = None;
        while let Some((pk, (td, x))) = params.peek() {
            match cmp_name(pk, k) {
                Ordering::Less => {
                    params.next();
                }
                Ordering::Equal => {
                    found = Some((td, *x));
                    break;
                }
                Ordering::Greater => break,
            }
        }
        match found {
            Some((td, x)) => {
                if td != d {
                    return false;
                }
                out.push(x);
            }
            None => {
                // A RUNNING trial's other parameters are in the relative sample it recorded.
                if t.state != TrialState::Running {
                    return false;
                }
                let r = relative.get_or_insert_with(|| {
                    t.system_attrs
                        .get(RELATIVE_PARAMS_ATTR)
                        .and_then(|v| v.as_str())
                        .and_then(|s| serde_json::from_str(s).ok())
                });
                match r
                    .as_ref()
                    .and_then(|r| r.get(k))
                    .and_then(|v| d.to_internal(v).ok())
                {
                    Some(x) => out.push(x),
                    None => return false,
                }
            }
        }
    }
    true
}

impl Sampler for TpeSampler {
    fn relative_search_space(&self, study: &StudyView, _: &FrozenTrial) -> SearchSpace {
        if self.multivariate {
            let mut space = self.memo.synced(study).intersection(study);
            if self.categorical_independent {
                space.retain(|_, d| !matches!(d, Distribution::Categorical { .. }));
            }
            space
        } else {
            SearchSpace::new()
        }
    }

    fn sample_relative(
        &self,
        study: &StudyView,
        trial: &FrozenTrial,
        space: &SearchSpace,
    ) -> (BTreeMap<String, f64>, BTreeMap<String, Value>) {
        if space.is_empty() {
            return Default::default();
        }
        let params = self.sample(study, trial, space, "tpe:relative");
        // Recorded so other workers' constant liar sees this trial's whole point at once.
        let external: serde_json::Map<String, Value> = params
            .iter()
            .map(|(k, x)| (k.clone(), space[k].to_external(*x)))
            .collect();
        let attrs = BTreeMap::from([(
            RELATIVE_PARAMS_ATTR.to_string(),
            Value::String(Value::Object(external).to_string()),
        )]);
        (params, attrs)
    }

    fn sample_independent(
        &self,
        study: &StudyView,
        trial: &FrozenTrial,
        name: &str,
        dist: &Distribution,
    ) -> f64 {
        let space = SearchSpace::from([(name.to_string(), dist.clone())]);
        self.sample(study, trial, &space, name)[name]
    }
}
