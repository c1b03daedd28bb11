//! Loading the model and following its registry reference: each cycle asks which version the
//! reference names now; a new one is resolved, loaded and checked off the request path, then
//! swapped in. Failures are logged and counted, never fatal: the old model keeps serving.

use std::sync::Arc;

use serde_json::json;
use strider_app::deploy::{ModelRef, current_version, record_serving, resolve};
use strider_core::bundle::Bundle;

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

async fn cycle(state: &Arc<State>) -> Result<()> {
    let (model, uri) = (state.opts.model.clone(), state.opts.tracking_uri.clone());
    let wanted = {
        let (model, uri) = (model.clone(), uri.clone());
        blocking(move || Ok(current_version(&model, uri.as_deref())?)).await?
    };
    if let Some(now) = state.current()
        && now.version == wanted
        && wanted.is_some()
    {
        return Ok(());
    }
    if state
        .failed
        .lock()
        .map(|f| *f == Some(wanted))
        .unwrap_or(false)
    {
        return Ok(());
    }
    let target = match (&model, wanted) {
        (ModelRef::Alias { name, .. }, Some(version)) => ModelRef::Version {
            name: name.clone(),
            version,
        },
        (other, _) => other.clone(),
    };
    let loaded = blocking(move || {
        let resolved = resolve(&target, uri.as_deref())?;
        let bundle = Bundle::load_checked(&resolved.files)?;
        Ok((bundle, resolved.version))
    })
    .await;
    match loaded {
        Ok((bundle, version)) => {
            let (name, sha) = (bundle.name().to_string(), bundle.sha256.clone());
            let swapped = state.swap(Loaded { bundle, version });
            if let Ok(mut f) = state.failed.lock() {
                *f = None;
            }
            event(
                if swapped { "swapped" } else { "loaded" },
                json!({"model": name, "version": version, "bundle_sha256": sha}),
            );
            record(state, version).await;
            Ok(())
        }
        Err(e) => {
            state.metrics.failed_loads.inc();
            if let Ok(mut f) = state.failed.lock() {
                *f = Some(wanted);
            }
            event(
                "load_failed",
                json!({
                    "model": model.to_string(),
                    "version": wanted,
                    "error": chain(&e),
                    "serving": state.current().map(|c| c.version_header()),
                }),
            );
            Ok(())
        }
    }
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
