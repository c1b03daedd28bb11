//! Strider in the browser: a thin wasm-bindgen facade over `strider-core` (after ruff's
//! `ruff_wasm`). No logic lives here: each export parses its input, calls the core, and returns
//! JSON produced by serde.
// No panics by construction in library code (tests may unwrap): see docs/configuration.md, "Limits and hostile input".
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strider_core::config::Config;
use strider_core::splits::SplitSpec;
use wasm_bindgen::prelude::*;

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

fn to_json(v: &impl Serialize) -> Result<String, JsError> {
    serde_json::to_string(v).map_err(js_err)
}

/// The core's version.
#[wasm_bindgen]
pub fn version() -> String {
    strider_core::VERSION.to_string()
}

/// Split `n_samples` positions. `spec_json` is a `[split]` table as JSON, e.g.
/// `{"scheme": "tss", "n_splits": 5}`. Returns the same JSON as `strider splits --json`.
#[wasm_bindgen]
pub fn splits(spec_json: &str, n_samples: usize) -> Result<String, JsError> {
    let spec: SplitSpec = serde_json::from_str(spec_json).map_err(js_err)?;
    let plan = spec.plan(n_samples, None, 0).map_err(js_err)?;
    to_json(&plan.to_json(matches!(spec, SplitSpec::Cpcv { .. })))
}

/// The data paths a config reads, so the page knows what to fetch.
#[wasm_bindgen]
pub fn config_inputs(config_toml: &str) -> Result<String, JsError> {
    let cfg = Config::from_toml(config_toml).map_err(js_err)?;
    to_json(&[cfg.data.files, cfg.data.panels].concat())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RunOptions {
    seed: Option<u64>,
}

#[derive(Serialize)]
struct EquityPoint {
    date: String,
    strategy: f64,
    benchmark: f64,
}

#[derive(Serialize)]
struct BrowserRun<'a> {
    summary: &'a strider_core::pipeline::RunSummary,
    /// Daily net strategy and benchmark returns of each model (path 0).
    returns: BTreeMap<&'a str, Vec<EquityPoint>>,
}

/// Run a whole config in memory. `files_json` maps each data path of the config to its CSV text;
/// `options_json` may set `{"seed": 7}`. Returns `{summary, returns}`; `summary` is the same
/// object `strider run` writes to `summary.json`.
#[wasm_bindgen]
pub fn run(config_toml: &str, files_json: &str, options_json: &str) -> Result<String, JsError> {
    let mut cfg = Config::from_toml(config_toml).map_err(js_err)?;
    let files: BTreeMap<String, String> = serde_json::from_str(files_json).map_err(js_err)?;
    let opts: RunOptions = if options_json.trim().is_empty() {
        RunOptions::default()
    } else {
        serde_json::from_str(options_json).map_err(js_err)?
    };
    let seed = opts.seed.unwrap_or(cfg.seed_or_default());
    cfg.seed = Some(seed);
    let instruments = strider_core::data::load(&cfg.data, &mut |path| {
        files
            .get(path)
            .cloned()
            .ok_or_else(|| "not provided to the browser run".to_string())
    })
    .map_err(js_err)?;
    // As natively: validation never reads the holdout's bars.
    let (instruments, _) =
        strider_core::pipeline::validation_data(&cfg, instruments).map_err(js_err)?;
    let out = strider_core::pipeline::run(&cfg, &instruments, seed, &mut |_| {}).map_err(js_err)?;
    let returns = out
        .models
        .iter()
        .map(|m| {
            let pts = m
                .backtest
                .portfolio
                .iter()
                .map(|d| EquityPoint {
                    date: d.date.to_string(),
                    strategy: d.strategy,
                    benchmark: d.benchmark,
                })
                .collect();
            (m.name.as_str(), pts)
        })
        .collect();
    to_json(&BrowserRun {
        summary: &out.summary,
        returns,
    })
}

/// Predict with a LightGBM model.txt. `rows_json` is an array of feature rows (`null` = missing);
/// `kind` is `"pred"`, `"raw"` or `"contrib"`. Returns one array of outputs per row.
#[wasm_bindgen]
pub fn gbdt_predict(model_text: &str, rows_json: &str, kind: &str) -> Result<String, JsError> {
    let model = strider_core::gbdt::GbdtModel::parse(model_text).map_err(js_err)?;
    let rows: Vec<Vec<Option<f64>>> = serde_json::from_str(rows_json).map_err(js_err)?;
    let out: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| {
            let x: Vec<f64> = r.iter().map(|v| v.unwrap_or(f64::NAN)).collect();
            Ok(match kind {
                "raw" => model.predict_raw(&x),
                "contrib" => model.contributions(&x)?,
                _ => model.predict(&x),
            })
        })
        .collect::<Result<_, strider_core::gbdt::Error>>()
        .map_err(js_err)?;
    to_json(&out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainInput {
    /// Feature rows (`null` = missing).
    x: Vec<Vec<Option<f64>>>,
    y: Vec<f64>,
    #[serde(default)]
    feature_names: Vec<String>,
    /// Query group sizes for the ranking objectives (LightGBM's `group`).
    #[serde(default)]
    groups: Vec<u32>,
    /// LightGBM-named parameters, as `[[models]]` of kind gbdt takes them.
    #[serde(default)]
    params: serde_json::Value,
}

/// Train trees in the browser (single thread). Returns the LightGBM model.txt text.
#[wasm_bindgen]
pub fn gbdt_train(input_json: &str) -> Result<String, JsError> {
    let input: TrainInput = serde_json::from_str(input_json).map_err(js_err)?;
    let params: strider_core::gbdt::GbdtParams = if input.params.is_null() {
        Default::default()
    } else {
        serde_json::from_value(input.params).map_err(js_err)?
    };
    let f = input.x.first().map_or(0, Vec::len);
    let x: Vec<f64> = input
        .x
        .iter()
        .flat_map(|r| r.iter().map(|v| v.unwrap_or(f64::NAN)))
        .collect();
    let data = strider_core::gbdt::TrainData {
        groups: &input.groups,
        x: &x,
        n_features: f,
        y: &input.y,
        feature_names: input.feature_names,
    };
    let model =
        strider_core::gbdt::train(&params, &data, None, &mut |_, _, _| {}).map_err(js_err)?;
    Ok(model.write())
}

/// A report's live engine: the run's out-of-sample scores, re-traded on demand (what-if).
#[wasm_bindgen]
pub struct Report {
    what_if: strider_core::whatif::WhatIf,
    payload: strider_core::report::ReportPayload,
}

#[wasm_bindgen]
impl Report {
    /// `payload_json`: the payload `report.html` embeds (`strider_core::report::ReportPayload`).
    #[wasm_bindgen(constructor)]
    pub fn new(payload_json: &str) -> Result<Report, JsError> {
        let payload: strider_core::report::ReportPayload =
            serde_json::from_str(payload_json).map_err(js_err)?;
        let what_if = payload.what_if().map_err(js_err)?;
        Ok(Report { what_if, payload })
    }

    /// The run's strategy settings and models (`[[models]]` entries), and for each model the
    /// browser can retrain, its editable parameters (key, label, min, step, current value): the
    /// page builds its controls from this, never from names of its own.
    pub fn info(&self) -> Result<String, JsError> {
        let config = self.payload.config().map_err(js_err)?;
        let retrainable: serde_json::Map<String, serde_json::Value> = config
            .models
            .iter()
            .filter_map(|m| {
                Some((
                    m.name.clone(),
                    serde_json::to_value(m.editable_params()?).ok()?,
                ))
            })
            .collect();
        to_json(&serde_json::json!({
            "strategy": config.strategy,
            "models": config.models,
            "retrainable": retrainable,
        }))
    }

    /// Re-trade and re-evaluate; `settings_json` is a `WhatIfSettings`. Returns a `WhatIfView`.
    pub fn evaluate(&self, settings_json: &str) -> Result<String, JsError> {
        let settings: strider_core::whatif::WhatIfSettings =
            serde_json::from_str(settings_json).map_err(js_err)?;
        to_json(&self.what_if.evaluate(&settings).map_err(js_err)?)
    }

    /// Swap in a retrained model's path-0 predictions (`PathPredictions` JSON).
    pub fn set_predictions(&mut self, model: &str, predictions_json: &str) -> Result<(), JsError> {
        let p: strider_core::report::PathPredictions =
            serde_json::from_str(predictions_json).map_err(js_err)?;
        let config = self.payload.config().map_err(js_err)?;
        // The instruments the engine already holds: no second parse of the data.
        let scores = strider_core::report::scores(
            model,
            &p,
            config.label.task(),
            self.what_if.instruments(),
            &self.payload.instruments,
        )
        .map_err(js_err)?;
        self.what_if.set_scores(scores).map_err(js_err)
    }
}

/// Retrain one model of a report's run with edited hyper-parameters (`overrides_json`: an object
/// of `[[models]]` keys). `progress(done, total)` is called after each fold. Returns
/// `strider_core::report::Retrained` as JSON. Meant for a Web Worker: it blocks until done.
#[wasm_bindgen]
pub fn retrain(
    payload_json: &str,
    model: &str,
    overrides_json: &str,
    progress: &js_sys::Function,
) -> Result<String, JsError> {
    let payload: strider_core::report::ReportPayload =
        serde_json::from_str(payload_json).map_err(js_err)?;
    let overrides: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(overrides_json).map_err(js_err)?;
    let out = strider_core::report::retrain(&payload, model, &overrides, &mut |e| {
        if let strider_core::pipeline::Event::FoldDone {
            split, n_splits, ..
        } = e
        {
            let _ = progress.call2(
                &JsValue::NULL,
                &JsValue::from(split as u32 + 1),
                &JsValue::from(n_splits as u32),
            );
        }
    })
    .map_err(js_err)?;
    to_json(&out)
}

/// Train the LSTM on the synthetic sine + AR(1) task on the CPU (Strider's fused engine, or
/// `"backend": "burn-cpu"` for burn's autodiff) and report per-epoch losses, the held-out MSE
/// against the noise floor and the median epoch time. `options_json`: a `SyntheticRun`.
#[wasm_bindgen]
pub fn lstm_synthetic(options_json: &str) -> Result<String, JsError> {
    use strider_core::model::lstm::{Backend, synthetic, train::block_on};
    let run: synthetic::SyntheticRun = serde_json::from_str(options_json).map_err(js_err)?;
    if run.backend == Backend::Wgpu {
        return Err(js_err("use lstm_synthetic_webgpu for the GPU"));
    }
    let device = run.backend.device().map_err(js_err)?;
    let clock = || js_sys::Date::now() / 1000.0;
    to_json(&block_on(synthetic::run_synthetic(&run, &device, &clock)))
}

/// [`lstm_synthetic`] on WebGPU (`navigator.gpu`); rejects when the browser has no adapter.
#[cfg(feature = "webgpu")]
#[wasm_bindgen]
pub async fn lstm_synthetic_webgpu(options_json: String) -> Result<String, JsError> {
    use strider_core::model::lstm::{Backend, synthetic};
    let mut run: synthetic::SyntheticRun = serde_json::from_str(&options_json).map_err(js_err)?;
    run.backend = Backend::Wgpu;
    let device = Backend::Wgpu.device_async().await.map_err(js_err)?;
    let clock = || js_sys::Date::now() / 1000.0;
    to_json(&synthetic::run_synthetic(&run, &device, &clock).await)
}

/// A deployment bundle in the browser (embedded inference): add its files as bytes (the folder
/// `strider run` writes under `RUN_DIR/bundles/NAME`, weights as they are), `load` it, then score
/// CSV bars with the same bits as `strider predict`.
#[wasm_bindgen]
#[derive(Default)]
pub struct DeployedBundle {
    files: strider_core::bundle::BundleFiles,
    bundle: Option<strider_core::bundle::Bundle>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PredictOptions {
    asof: Option<chrono::NaiveDate>,
    since: Option<chrono::NaiveDate>,
}

#[wasm_bindgen]
impl DeployedBundle {
    #[wasm_bindgen(constructor)]
    pub fn new() -> DeployedBundle {
        DeployedBundle::default()
    }

    /// One file of the bundle folder, by its name (`bundle.json`, `model.txt`, `lstm.bpk`, ...).
    pub fn add_file(&mut self, name: &str, bytes: &[u8]) {
        self.bundle = None;
        self.files.insert(name.to_string(), bytes.to_vec());
    }

    /// Loads and checks the bundle; returns `{model, kind, sha256, features, signature,
    /// training}` from its manifest.
    pub fn load(&mut self) -> Result<String, JsError> {
        let bundle = strider_core::bundle::Bundle::load_checked(&self.files).map_err(js_err)?;
        let m = &bundle.manifest;
        let info = serde_json::json!({
            "model": bundle.name(),
            "kind": m.model.params.kind(),
            "sha256": bundle.sha256,
            "features": m.feature_names,
            "signature": m.signature,
            "training": m.training,
        });
        self.bundle = Some(bundle);
        to_json(&info)
    }

    /// Scores bars: `files_json` maps each bar file's name to its CSV text (the instrument is
    /// the file stem); `options_json` may set `{"asof": "YYYY-MM-DD"}` or `{"since": ...}`.
    /// Returns the JSON of `strider predict --json`.
    pub fn predict(&self, files_json: &str, options_json: &str) -> Result<String, JsError> {
        use strider_core::bundle::Selection;
        let bundle = self
            .bundle
            .as_ref()
            .ok_or_else(|| JsError::new("load the bundle first"))?;
        let files: BTreeMap<String, String> = serde_json::from_str(files_json).map_err(js_err)?;
        let opts: PredictOptions = if options_json.trim().is_empty() {
            PredictOptions::default()
        } else {
            serde_json::from_str(options_json).map_err(js_err)?
        };
        let mut instruments = Vec::new();
        for (path, text) in &files {
            let name = strider_core::data::instrument_name(path);
            let file = strider_core::data::parse_bar_file(&name, path, text).map_err(js_err)?;
            instruments.extend(file.instruments);
        }
        let selection = Selection::from_dates(opts.asof, opts.since);
        to_json(
            &bundle
                .predict(&instruments, selection, None)
                .map_err(js_err)?,
        )
    }
}

/// Drift between two tables, column by column (the same JSON as `strider drift --reference
/// --current --json`). Feature `drift`. `reference_json` and `current_json` map column names to arrays of numbers
/// (`null` for a missing value); `thresholds_json` may set `psi`, `ks_pvalue` and `share`.
#[cfg(feature = "drift")]
#[wasm_bindgen]
pub fn drift_tables(
    reference_json: &str,
    current_json: &str,
    thresholds_json: &str,
) -> Result<String, JsError> {
    let columns = |text: &str| -> Result<Vec<(String, Vec<f64>)>, JsError> {
        let map: BTreeMap<String, Vec<Option<f64>>> = serde_json::from_str(text).map_err(js_err)?;
        Ok(map
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect()))
            .collect())
    };
    let thresholds: strider_core::drift::DriftThresholds = if thresholds_json.trim().is_empty() {
        Default::default()
    } else {
        serde_json::from_str(thresholds_json).map_err(js_err)?
    };
    thresholds.validate().map_err(js_err)?;
    let drift = strider_core::drift::table_drift(
        &columns(reference_json)?,
        &columns(current_json)?,
        &thresholds,
    )
    .map_err(js_err)?;
    to_json(&drift)
}

/// The 0-based indices at which a stream detector (`adwin` or `page-hinkley`, River 0.26's
/// algorithms) reports a change in `values_json` (an array of numbers); `params_json` maps
/// parameter names to values, e.g. `{"delta": 0.01}`.
#[cfg(feature = "drift")]
#[wasm_bindgen]
pub fn drift_stream(
    values_json: &str,
    detector: &str,
    params_json: &str,
) -> Result<String, JsError> {
    let values: Vec<f64> = serde_json::from_str(values_json).map_err(js_err)?;
    let params: BTreeMap<String, serde_json::Value> = if params_json.trim().is_empty() {
        BTreeMap::new()
    } else {
        serde_json::from_str(params_json).map_err(js_err)?
    };
    let params: Vec<(String, String)> = params
        .into_iter()
        .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
        .collect();
    let spec = strider_core::drift::DetectorSpec::parse(detector, &params).map_err(js_err)?;
    to_json(&serde_json::json!({"detections": strider_core::drift::detections(&spec, &values)}))
}
