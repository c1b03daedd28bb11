//! Fitting an ensemble for one training window. The members are fit exactly as in their own walk
//! (same rows, same seeds), so the ensemble combines the very predictions the run reports for
//! them. The combiner learns only from what was known before the window's first test date:
//! earlier folds' out-of-fold predictions whose fits, tests and labels ended by then (`weighted`,
//! `stacking`), or the newest part of the training window itself (`blending`).

use super::fitted::{Combiner, FittedEnsemble, stacked_dataset};
use super::weights::{least_squares, max_sharpe};
use super::{EnsembleMethod, EnsembleParams, WeightObjective};
use crate::backtest::{SignalRule, StrategySpec, rank_signals};
use crate::dataset::Dataset;
use crate::model::{BoxedModel, FitContext, ModelSpec};
use crate::{Result, seed};

/// Out-of-fold member predictions collected fold by fold.
#[derive(Debug, Default, Clone)]
pub struct OofHistory {
    rows: Vec<usize>,
    /// `[member][i]`.
    preds: Vec<Vec<f64>>,
    split: Vec<usize>,
    /// Per entry: the last calendar position its split's fit or test touched.
    seen_until: Vec<usize>,
}

impl OofHistory {
    /// Adds one split's test rows and its members' predictions of them.
    pub fn push(&mut self, split: usize, seen_until: usize, rows: &[usize], preds: Vec<Vec<f64>>) {
        if self.preds.is_empty() {
            self.preds = vec![Vec::new(); preds.len()];
        }
        for (mine, theirs) in self.preds.iter_mut().zip(preds) {
            mine.extend(theirs);
        }
        self.rows.extend_from_slice(rows);
        self.split.extend(std::iter::repeat_n(split, rows.len()));
        self.seen_until
            .extend(std::iter::repeat_n(seen_until, rows.len()));
    }

    /// Entries a combiner predicting from calendar position `first_test` on may learn from.
    fn eligible(&self, data: &Dataset, first_test: usize) -> Vec<usize> {
        (0..self.rows.len())
            .filter(|&i| {
                self.seen_until[i] < first_test && data.rows[self.rows[i]].label_end <= first_test
            })
            .collect()
    }
}

/// One ensemble fit's setting.
pub struct EnsembleFit<'a> {
    pub params: &'a EnsembleParams,
    /// Each member's index among the config's models and its spec.
    pub members: Vec<(usize, &'a ModelSpec)>,
    /// The run's root seed and the split index: member `m` gets `derive(root, [m, split])`, as
    /// in its own walk.
    pub root_seed: u64,
    pub split: usize,
    pub strategy: &'a StrategySpec,
    pub history: &'a OofHistory,
    /// The first calendar position the fitted ensemble will predict.
    pub first_test: usize,
}

/// Fewer out-of-fold rows than this per member, and the combiner is the plain mean.
const MIN_ROWS_PER_MEMBER: usize = 20;

impl EnsembleFit<'_> {
    pub fn fit(
        &self,
        data: &Dataset,
        rows: &[usize],
        ctx: &mut FitContext,
    ) -> Result<FittedEnsemble> {
        let members = self.fit_members(data, rows, ctx, &[])?;
        let k = members.len();
        let mut out = FittedEnsemble {
            name: String::new(),
            method: self.params.method,
            members,
            combiner: Combiner::Mean,
            learned_from: Vec::new(),
            learned_rows: 0,
        };
        match self.params.method {
            EnsembleMethod::Mean => {}
            EnsembleMethod::Weighted | EnsembleMethod::Stacking => {
                let idx = self.history.eligible(data, self.first_test);
                if idx.len() >= MIN_ROWS_PER_MEMBER * k {
                    let hist_rows: Vec<usize> = idx.iter().map(|&i| self.history.rows[i]).collect();
                    let p: Vec<Vec<f64>> = self
                        .history
                        .preds
                        .iter()
                        .map(|m| idx.iter().map(|&i| m[i]).collect())
                        .collect();
                    out.combiner = self.learn(data, &hist_rows, &p, &out.members, ctx)?;
                    let mut folds: Vec<usize> =
                        idx.iter().map(|&i| self.history.split[i]).collect();
                    folds.dedup();
                    out.learned_from = folds;
                    out.learned_rows = hist_rows.len();
                }
            }
            EnsembleMethod::Blending => {
                if let Some((older, newest)) = self.blend_parts(data, rows)
                    && older.len() >= MIN_ROWS_PER_MEMBER * k
                    && newest.len() >= MIN_ROWS_PER_MEMBER * k
                {
                    let inner = self.fit_members(data, &older, ctx, &[2])?;
                    let p = inner
                        .iter()
                        .map(|(spec, m)| m.predict(spec.view(data)?.as_ref(), &newest))
                        .collect::<Result<Vec<_>>>()?;
                    out.combiner = self.fit_meta(data, &newest, &p, &out.members, ctx)?;
                    out.learned_rows = newest.len();
                }
            }
        }
        Ok(out)
    }

    /// The members fit on `rows`, each on its own feature view, with its walk's seed (`extra`
    /// path elements give the blending's inner fits seeds of their own).
    fn fit_members(
        &self,
        data: &Dataset,
        rows: &[usize],
        ctx: &mut FitContext,
        extra: &[u64],
    ) -> Result<Vec<(ModelSpec, BoxedModel)>> {
        let mut out = Vec::new();
        for &(mi, spec) in &self.members {
            let mut path = vec![mi as u64, self.split as u64];
            path.extend_from_slice(extra);
            let mut member_ctx = FitContext {
                seed: seed::derive(self.root_seed, &path),
                on_event: &mut *ctx.on_event,
                native_gbdt: ctx.native_gbdt,
            };
            let view = spec.view(data)?;
            out.push((
                spec.clone(),
                spec.fit(view.as_ref(), rows, &mut member_ctx)?,
            ));
        }
        Ok(out)
    }

    /// Weights or a meta-learner from out-of-fold predictions `p[member][i]` of `rows`.
    fn learn(
        &self,
        data: &Dataset,
        rows: &[usize],
        p: &[Vec<f64>],
        members: &[(ModelSpec, BoxedModel)],
        ctx: &mut FitContext,
    ) -> Result<Combiner> {
        Ok(match (self.params.method, self.params.objective) {
            (EnsembleMethod::Weighted, WeightObjective::Mse) => {
                let y: Vec<f64> = rows.iter().map(|&r| data.y[r]).collect();
                Combiner::Weights(least_squares(p, &y))
            }
            (EnsembleMethod::Weighted, WeightObjective::Sharpe) => {
                let s: Vec<Vec<f64>> = p
                    .iter()
                    .map(|m| {
                        let signals = self.signals(data, rows, m);
                        rows.iter()
                            .zip(signals)
                            .map(|(&r, x)| self.strategy.position(x) * data.forward_return[r])
                            .collect()
                    })
                    .collect();
                Combiner::Weights(max_sharpe(&s))
            }
            _ => self.fit_meta(data, rows, p, members, ctx)?,
        })
    }

    /// A member's signals on `rows`: its scores, or for `signal = "rank"` their ranks within
    /// each date. A row seen again (another CPCV path) joins that path's cross-section: the key
    /// is (how many times the row came before, date).
    fn signals(&self, data: &Dataset, rows: &[usize], p: &[f64]) -> Vec<f64> {
        let scores = p.iter().map(|&x| data.task.score(x));
        if self.strategy.signal != SignalRule::Rank {
            return scores.collect();
        }
        let mut seen: std::collections::HashMap<usize, usize> = Default::default();
        let keyed: Vec<_> = (rows.iter().zip(scores))
            .map(|(&r, s)| {
                let n = seen.entry(r).or_insert(0);
                *n += 1;
                let name = data.instruments[data.rows[r].instrument].as_str();
                ((*n, data.rows[r].time), s, name)
            })
            .collect();
        rank_signals(&keyed, self.strategy.top_k)
    }

    fn fit_meta(
        &self,
        data: &Dataset,
        rows: &[usize],
        p: &[Vec<f64>],
        members: &[(ModelSpec, BoxedModel)],
        ctx: &mut FitContext,
    ) -> Result<Combiner> {
        let names: Vec<String> = members.iter().map(|(s, _)| s.name.clone()).collect();
        let stacked = stacked_dataset(data, rows, &names, p);
        let spec = self.params.meta_spec(data.task);
        let mut meta_ctx = FitContext {
            seed: seed::derive(ctx.seed, &[1]),
            on_event: &mut *ctx.on_event,
            native_gbdt: ctx.native_gbdt,
        };
        let all: Vec<usize> = (0..rows.len()).collect();
        let model = spec.fit(&stacked, &all, &mut meta_ctx)?;
        Ok(Combiner::Meta {
            spec: Box::new(spec),
            model,
        })
    }

    /// The training window split by date: the older part (purged of rows whose labels reach the
    /// newest part) and the newest `blend_fraction` of its dates.
    fn blend_parts(&self, data: &Dataset, rows: &[usize]) -> Option<(Vec<usize>, Vec<usize>)> {
        let mut times: Vec<usize> = rows.iter().map(|&r| data.rows[r].time).collect();
        times.sort_unstable();
        times.dedup();
        let keep = ((times.len() as f64) * (1.0 - self.params.blend_fraction)).floor() as usize;
        let cut = *times.get(keep)?;
        let older = rows
            .iter()
            .copied()
            .filter(|&r| data.rows[r].time < cut && data.rows[r].label_end <= cut)
            .collect();
        let newest = rows
            .iter()
            .copied()
            .filter(|&r| data.rows[r].time >= cut)
            .collect();
        Some((older, newest))
    }
}
