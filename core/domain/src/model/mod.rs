//! One model shape for every family, after linfa's `Fit`: hyper-parameters are a plain struct;
//! `fit(data, rows, ctx)` returns a fitted model; the fitted model predicts.
//!
//! Models receive the whole [`Dataset`] plus the row indices they may use, not a copied matrix:
//! sequence models (LSTM) need the rows before a sample as its input window, and the row indices
//! keep the rule "fit on training rows only" explicit at every call.

mod editable;
pub mod ensemble;
mod gbdt;
mod logistic;
pub mod lstm;
mod ridge;
mod scaler;

pub use editable::EditableParam;
pub use gbdt::FittedGbdt;
pub use logistic::{Logistic, LogisticParams};
pub use lstm::{FittedLstm, LstmParams};
pub use ridge::{Ridge, RidgeParams};
pub use scaler::StandardScaler;

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::labels::Task;
use crate::{Error, Result};

/// Events a model reports while it trains (per-epoch losses, per-iteration metrics). The CLI turns
/// them into progress bars and tracking calls; the browser into live charts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainEvent {
    pub step: usize,
    pub name: String,
    pub value: f64,
}

/// What a fit may use besides the data: the derived seed, a sink for training events, and
/// optional native engines the caller provides (the CLI's LightGBM).
pub struct FitContext<'a> {
    pub seed: u64,
    pub on_event: &'a mut dyn FnMut(TrainEvent),
    pub native_gbdt: Option<&'a dyn crate::gbdt::NativeTrainer>,
}

impl FitContext<'_> {
    pub fn emit(&mut self, step: usize, name: &str, value: f64) {
        (self.on_event)(TrainEvent {
            step,
            name: name.to_string(),
            value,
        });
    }
}

/// Hyper-parameters that can be fitted.
pub trait Fit {
    type Fitted: Predict;
    fn fit(&self, data: &Dataset, rows: &[usize], ctx: &mut FitContext) -> Result<Self::Fitted>;
}

/// A fitted model. `predict` returns the regression value, or the probability of the positive
/// class for classification.
pub trait Predict: Send + Sync {
    fn predict(&self, data: &Dataset, rows: &[usize]) -> Result<Vec<f64>>;
    /// A JSON description of the fitted parameters (coefficients, trees, ...) for the run directory.
    fn describe(&self) -> serde_json::Value;
    /// Extra files for the run directory, as (file name, bytes): e.g. a tree model's model.txt.
    fn artifacts(&self) -> Vec<(String, Vec<u8>)> {
        Vec::new()
    }
    /// Everything [`load`] needs to rebuild this model, as (file name, bytes): the weights of a
    /// deployment bundle, kept in the model's own format (model.txt, burn record, JSON).
    fn save(&self) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(self.artifacts())
    }
    /// A per-feature explanation on `rows` (e.g. mean |SHAP|), merged into the fold's record.
    fn explain(&self, _data: &Dataset, _rows: &[usize]) -> Option<serde_json::Value> {
        None
    }
    /// An ensemble's members' predictions of `rows` (`[member][row]`); `None` for other models.
    fn member_predictions(
        &self,
        _data: &Dataset,
        _rows: &[usize],
    ) -> Option<Result<Vec<Vec<f64>>>> {
        None
    }
}

/// A fitted model of any family.
pub type BoxedModel = Box<dyn Predict>;

/// A `[[models]]` entry: a name and the family's hyper-parameters, e.g.
/// `{ name = "ridge", kind = "ridge", alpha = 10.0 }`. The name defaults to the kind.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    pub name: String,
    /// The features this model reads, by the names the run reports (`None`: all of them).
    pub features: Option<Vec<String>>,
    pub params: ModelParams,
}

impl Serialize for ModelSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut v = serde_json::to_value(&self.params).map_err(serde::ser::Error::custom)?;
        if let Some(m) = v.as_object_mut() {
            m.insert("name".into(), self.name.clone().into());
            if let Some(f) = &self.features {
                m.insert("features".into(), f.clone().into());
            }
        }
        v.serialize(s)
    }
}

// `#[serde(flatten)]` cannot be combined with `deny_unknown_fields`, so the name and the kind are
// split off by hand and the rest goes to the family's strict parameter struct. Dispatching by hand
// (instead of through the internally tagged `ModelParams`) keeps the failing key: an error reads
// "`alpha`: invalid type ...", which `Config::from_toml` turns into `models[1].alpha` and a line.
impl<'de> Deserialize<'de> for ModelSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut v = serde_json::Value::deserialize(d)?;
        let obj = v
            .as_object_mut()
            .ok_or_else(|| D::Error::custom("a model must be a table"))?;
        let name = match obj.remove("name") {
            Some(serde_json::Value::String(s)) => Some(s),
            Some(_) => return Err(D::Error::custom("`name`: must be a string")),
            None => None,
        };
        let features = match obj.remove("features") {
            Some(v) => Some(
                serde_json::from_value::<Vec<String>>(v)
                    .map_err(|_| D::Error::custom("`features`: must be a list of feature names"))?,
            ),
            None => None,
        };
        let kind = match obj.remove("kind") {
            Some(serde_json::Value::String(s)) => s,
            Some(_) => return Err(D::Error::custom("`kind`: must be a string")),
            None => return Err(D::Error::custom("missing field `kind`")),
        };
        let params = match kind.as_str() {
            "ridge" => ModelParams::Ridge(keyed(v)?),
            "logistic" => ModelParams::Logistic(keyed(v)?),
            "gbdt" => ModelParams::Gbdt(keyed(v)?),
            "lstm" => ModelParams::Lstm(keyed(v)?),
            "ensemble" => ModelParams::Ensemble(keyed(v)?),
            other => {
                return Err(D::Error::custom(format!(
                    "`kind`: unknown model kind `{other}`, expected one of ridge, logistic, gbdt, lstm, ensemble"
                )));
            }
        };
        let name = name.unwrap_or_else(|| params.kind().to_string());
        Ok(ModelSpec {
            name,
            features,
            params,
        })
    }
}

/// A family's parameters from the model's table; an error names the key that failed.
fn keyed<T: serde::de::DeserializeOwned, E: serde::de::Error>(
    v: serde_json::Value,
) -> std::result::Result<T, E> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            E::custom(inner)
        } else {
            E::custom(format!("`{path}`: {inner}"))
        }
    })
}

/// The families. New ones (gbdt, lstm, ensembles) are new variants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelParams {
    Ridge(RidgeParams),
    Logistic(LogisticParams),
    /// Gradient-boosted trees with LightGBM's parameter names.
    Gbdt(crate::gbdt::GbdtParams),
    /// Stacked LSTM on windows of each instrument's rows (burn).
    Lstm(LstmParams),
    /// Other models of the config combined (fit by the pipeline, which knows the folds).
    Ensemble(ensemble::EnsembleParams),
}

impl ModelParams {
    pub fn kind(&self) -> &'static str {
        match self {
            ModelParams::Ridge(_) => "ridge",
            ModelParams::Logistic(_) => "logistic",
            ModelParams::Gbdt(_) => "gbdt",
            ModelParams::Lstm(_) => "lstm",
            ModelParams::Ensemble(_) => "ensemble",
        }
    }
}

impl ModelSpec {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn validate(&self, task: Task) -> Result<()> {
        let bad = |message: &str| {
            Err(Error::Model {
                model: self.name.clone(),
                message: message.into(),
            })
        };
        if let Some(f) = &self.features {
            let mut sorted: Vec<&String> = f.iter().collect();
            sorted.sort_unstable();
            if f.is_empty() {
                return bad("`features` is empty (leave it out to use every feature)");
            }
            if let Some(w) = sorted.windows(2).find(|w| w.first() == w.last()) {
                return bad(&format!("`features` lists `{}` twice", w[0]));
            }
        }
        match (&self.params, task) {
            (ModelParams::Ridge(p), Task::Regression) if p.alpha >= 0.0 => Ok(()),
            (ModelParams::Ridge(_), Task::Regression) => bad("alpha must be >= 0"),
            (ModelParams::Ridge(_), Task::Classification) => bad(
                "ridge is a regression model; use kind = \"logistic\" for label.kind = \"direction\"",
            ),
            (ModelParams::Logistic(p), Task::Classification) if p.c > 0.0 => Ok(()),
            (ModelParams::Logistic(_), Task::Classification) => bad("c must be > 0"),
            (ModelParams::Logistic(_), Task::Regression) => {
                bad("logistic is a classifier; use label.kind = \"direction\"")
            }
            (ModelParams::Gbdt(p), task) => {
                use crate::gbdt::GbdtObjective;
                p.validate().map_err(|e| Error::Model {
                    model: self.name.clone(),
                    message: e.to_string(),
                })?;
                match (p.objective, task) {
                    (GbdtObjective::Binary, Task::Classification) => {}
                    (GbdtObjective::Binary | GbdtObjective::Multiclass, _)
                    | (_, Task::Classification) => {
                        return bad(
                            "objective must be \"binary\" for label.kind = \"direction\"; for \"forward_return\" one of \"regression\", \"huber\", \"fair\", \"quantile\", \"lambdarank\", \"rank_xendcg\"",
                        );
                    }
                    _ => {}
                }
                Ok(())
            }
            // One network serves both tasks: the task picks the loss (MSE or cross-entropy).
            (ModelParams::Lstm(p), _) => p.validate().or_else(|e| bad(&e)),
            (ModelParams::Ensemble(_), _) if self.features.is_some() => {
                bad("an ensemble has no `features` of its own (set them on its members)")
            }
            (ModelParams::Ensemble(p), task) => p.validate(task).or_else(|e| bad(&e)),
        }
    }

    /// The modelling table as this model sees it: only its `features`, in the order listed.
    pub fn view<'d>(&self, data: &'d Dataset) -> Result<std::borrow::Cow<'d, Dataset>> {
        match &self.features {
            None => Ok(std::borrow::Cow::Borrowed(data)),
            Some(names) => data
                .select_features(names)
                .map(std::borrow::Cow::Owned)
                .map_err(|message| Error::Model {
                    model: self.name.clone(),
                    message: format!("`features`: {message}"),
                }),
        }
    }

    pub fn fit(&self, data: &Dataset, rows: &[usize], ctx: &mut FitContext) -> Result<BoxedModel> {
        if rows.is_empty() {
            return Err(Error::Model {
                model: self.name.clone(),
                message: "no training rows".into(),
            });
        }
        let fitted: BoxedModel = match &self.params {
            ModelParams::Ridge(p) => Box::new(p.fit(data, rows, ctx)?),
            ModelParams::Logistic(p) => Box::new(p.fit(data, rows, ctx)?),
            ModelParams::Gbdt(p) => Box::new(p.fit(data, rows, ctx)?),
            ModelParams::Lstm(p) => Box::new(p.fit(data, rows, ctx)?),
            ModelParams::Ensemble(_) => {
                return Err(Error::Model {
                    model: self.name.clone(),
                    message:
                        "an ensemble is fit by the pipeline, which knows its members and folds"
                            .into(),
                });
            }
        };
        Ok(fitted)
    }
}

/// A fitted model as one pretty JSON file (ridge, logistic).
pub(crate) fn save_json<T: Serialize>(file: &str, model: &T) -> Result<Vec<(String, Vec<u8>)>> {
    let bytes = serde_json::to_vec_pretty(model).map_err(|e| Error::Model {
        model: file.into(),
        message: format!("cannot be written as JSON: {e}"),
    })?;
    Ok(vec![(file.to_string(), bytes)])
}

/// Rebuild a fitted model of `kind` from the files its [`Predict::save`] wrote. `file` looks a
/// file up by name. LSTMs come back on the fused CPU engine, whose bits are the same natively
/// and in wasm.
/// `n_features` is the width of the rows it will predict: every vector of the saved model must
/// fit it (a file from elsewhere could otherwise index past a row).
pub fn load(
    kind: &str,
    n_features: usize,
    file: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<BoxedModel> {
    let bad = |message: String| Error::Model {
        model: kind.to_string(),
        message,
    };
    let need = |name: &str| file(name).ok_or_else(|| bad(format!("the bundle has no `{name}`")));
    let json = |name: &str| -> Result<serde_json::Value> {
        serde_json::from_slice(&need(name)?).map_err(|e| bad(format!("`{name}`: {e}")))
    };
    let fits = |file: &str, lens: &[usize]| {
        if lens.iter().all(|&l| l == n_features) {
            Ok(())
        } else {
            Err(bad(format!(
                "`{file}` holds vectors of lengths {lens:?} for {n_features} features"
            )))
        }
    };
    let model: BoxedModel = match kind {
        "ridge" => {
            let m = serde_json::from_value::<Ridge>(json("ridge.json")?)
                .map_err(|e| bad(format!("`ridge.json`: {e}")))?;
            fits(
                "ridge.json",
                &[m.coef.len(), m.scaler.mean.len(), m.scaler.scale.len()],
            )?;
            Box::new(m)
        }
        "logistic" => {
            let m = serde_json::from_value::<Logistic>(json("logistic.json")?)
                .map_err(|e| bad(format!("`logistic.json`: {e}")))?;
            fits(
                "logistic.json",
                &[m.coef.len(), m.scaler.mean.len(), m.scaler.scale.len()],
            )?;
            Box::new(m)
        }
        "gbdt" => {
            let text = String::from_utf8(need("model.txt")?)
                .map_err(|_| bad("`model.txt` is not UTF-8".into()))?;
            let model = crate::gbdt::GbdtModel::parse(&text)
                .map_err(|e| bad(format!("`model.txt`: {e}")))?;
            fits("model.txt", &[model.num_features()])?;
            Box::new(FittedGbdt { model })
        }
        "lstm" => {
            let meta: lstm::LstmMeta = serde_json::from_value(json("lstm.json")?)
                .map_err(|e| bad(format!("`lstm.json`: {e}")))?;
            fits(
                "lstm.json",
                &[meta.inputs, meta.scaler_mean.len(), meta.scaler_scale.len()],
            )?;
            meta.params
                .validate()
                .map_err(|e| bad(format!("`lstm.json`: {e}")))?;
            Box::new(FittedLstm::load_on_cpu(&meta, &need("lstm.bpk")?)?)
        }
        "ensemble" => Box::new(ensemble::load_ensemble(n_features, file)?),
        other => return Err(bad(format!("unknown model kind `{other}`"))),
    };
    Ok(model)
}

/// Gather the standardised design matrix of `rows` (scaler fit elsewhere, on training rows only).
pub(crate) fn design(
    data: &Dataset,
    rows: &[usize],
    scaler: &StandardScaler,
) -> nalgebra::DMatrix<f64> {
    let k = data.n_features();
    nalgebra::DMatrix::from_fn(rows.len(), k, |i, j| {
        scaler.transform_one(j, data.row(rows[i])[j])
    })
}
