//! MLflow 3's LoggedModel on a server: a model with its own artifact location, created, filled
//! with the model's files through the artifact proxy, then finalized READY. A model version
//! registered from it shows in MLflow's UI as that logged model.

use std::collections::BTreeMap;

use serde_json::json;

use crate::rest::{RestClient, field_str};
use crate::{Error, Result};

/// A finalized logged model.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedModel {
    pub model_id: String,
    /// `mlflow-artifacts:/...`: the version's source.
    pub artifact_uri: String,
}

/// Creates a logged model in `experiment` and uploads `files` into it. `Ok(None)` when the server
/// has no LoggedModel API (MLflow 2): the caller registers another way.
pub fn log_model(
    rest: &RestClient,
    experiment: &str,
    name: &str,
    source_run_id: Option<&str>,
    files: &[(String, Vec<u8>)],
    tags: &BTreeMap<String, String>,
) -> Result<Option<LoggedModel>> {
    let experiment_id = rest.get_or_create_experiment(experiment)?;
    let tags: Vec<_> = tags
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    let mut body = json!({
        "experiment_id": experiment_id,
        "name": name,
        "model_type": "strider",
        "tags": tags,
    });
    if let Some(run) = source_run_id {
        body["source_run_id"] = run.into();
    }
    let created = match rest.post("logged-models", body) {
        Ok(v) => v,
        Err(e) if e.status == Some(404) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let info = &created["model"]["info"];
    let model = LoggedModel {
        model_id: field_str(&info["model_id"], "logged-models", "model.info.model_id")?,
        artifact_uri: field_str(
            &info["artifact_uri"],
            "logged-models",
            "model.info.artifact_uri",
        )?,
    };
    for (file, bytes) in files {
        rest.upload_artifact(&model.artifact_uri, file, bytes)?;
    }
    rest.call(
        "PATCH",
        &format!("logged-models/{}", model.model_id),
        Some(json!({"model_id": model.model_id, "status": "LOGGED_MODEL_READY"})),
    )
    .map_err(Error::from)?;
    Ok(Some(model))
}
