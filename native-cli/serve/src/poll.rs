//! Loading the model and following its registry reference: each cycle asks which version the
//! reference names now; a new one is resolved, loaded and checked off the request path, then
//! swapped in. Failures are logged and counted, never fatal: the old model keeps serving.

use std::sync::Arc;

use serde_json::json;
use strider_app::deploy::{ModelRef, current_version, record_serving, resolve};
use strider_core::bundle::{Bundle, content_sha256};

use crate::log::event;
use crate::state::{Loaded, State};
use crate::{Error, Result};

pub async fn poll_loop(state: Arc<State>) {
    loop {
        if let Err(e) = cycle(&state).await {
            event(
                "poll_failed",
                json!({"model": state.opts.model.to_string(), "error": chain(&e)}),
            );
        }
        // A bundle folder is loaded once; a registry reference is followed.
        if matches!(state.opts.model, ModelRef::Path(_)) && state.current().is_some() {
            return;
        }
        tokio::time::sleep(state.opts.poll).await;
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out = format!("{out}: {text}");
        }
        source = s.source();
    }
    out
}

/// Runs blocking work (registry calls, file reads, model loading) off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Task(e.to_string()))?
}

/// One poll: which version the reference names now; if it is not the one served, its files,
/// then load, check and swap. A version (or a folder's content) that failed to load is not tried
/// again until the reference names something else; a lookup or download that failed is retried
/// at the next poll.
async fn cycle(state: &Arc<State>) -> Result<()> {
    let (model, uri) = (state.opts.model.clone(), state.opts.tracking_uri.clone());
    let wanted = {
        let (model, uri) = (model.clone(), uri.clone());
        blocking(move || Ok(current_version(&model, uri.as_deref())?)).await?
    };
    let served = state.current().map(|c| c.version);
    if wanted.is_some() && served == Some(wanted) {
        // Served already (the alias may have come back here): earlier failures are history.
        state.set_failed(None);
        return Ok(());
    }
    if wanted.is_some() && state.failed().is_some_and(|(v, _)| v == wanted) {
        return Ok(());
    }
    let target = match (&model, wanted) {
        (ModelRef::Alias { name, .. }, Some(version)) => ModelRef::Version {
            name: name.clone(),
            version,
        },
        (other, _) => other.clone(),
    };
    let resolved = blocking(move || Ok(resolve(&target, uri.as_deref())?)).await?;
    let sha = content_sha256(&resolved.files);
    if state.failed() == Some((wanted, sha.clone())) {
        return Ok(());
    }
    let files = resolved.files;
    match blocking(move || Ok(Bundle::load_checked(&files)?)).await {
        Ok(bundle) => {
            let (name, sha) = (bundle.name().to_string(), bundle.sha256.clone());
            let swapped = state.swap(Loaded {
                bundle,
                version: wanted,
            });
            state.set_failed(None);
            event(
                if swapped { "swapped" } else { "loaded" },
                json!({"model": name, "version": wanted, "bundle_sha256": sha}),
            );
            record(state, wanted).await;
        }
        Err(e) => {
            state.metrics.failed_loads.inc();
            state.set_failed(Some((wanted, sha)));
            event(
                "load_failed",
                json!({
                    "model": model.to_string(),
                    "version": wanted,
                    "error": chain(&e),
                    "serving": state.current().map(|c| c.version_header()),
                }),
            );
        }
    }
    Ok(())
}

/// Tells the registry which version this process serves (best effort: serving goes on).
async fn record(state: &Arc<State>, version: Option<u64>) {
    let (Some(name), Some(version)) = (state.opts.model.registered_name(), version) else {
        return;
    };
    let (name, uri, instance) = (
        name.to_string(),
        state.opts.tracking_uri.clone(),
        state.instance.clone(),
    );
    let recorded =
        blocking(move || Ok(record_serving(uri.as_deref(), &name, version, &instance)?)).await;
    if let Err(e) = recorded {
        event(
            "record_failed",
            json!({"version": version, "error": chain(&e)}),
        );
    }
}
