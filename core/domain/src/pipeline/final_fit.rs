//! The final fit: after validation, a model is fit once more on every labelled row, by the same
//! code path as a fold and with a seed derived the same way (the split index after the last), and
//! becomes a deployment bundle.

use super::{Event, FinalModel, FinalPrediction, RunRequest};
use crate::bundle::{self, BundleInput};
use crate::dataset::Dataset;
use crate::model::ensemble::OofHistory;
use crate::model::{FitContext, ModelSpec};
use crate::splits::SplitPlan;
use crate::{Error, Result, seed};

#[allow(clippy::too_many_arguments)]
pub(super) fn final_fit(
    req: &RunRequest,
    data: &Dataset,
    plan: &SplitPlan,
    mi: usize,
    spec: &ModelSpec,
    validation: serde_json::Value,
    history: &OofHistory,
    on_event: &mut dyn FnMut(Event),
) -> Result<FinalModel> {
    on_event(Event::Stage {
        name: format!("final fit {}", spec.name),
    });
    let split = plan.splits.len();
    let rows: Vec<usize> = (0..data.rows.len()).collect();
    let mut on_train = |e| {
        on_event(Event::Train {
            model: spec.name.clone(),
            split,
            train: e,
        })
    };
    let seed = seed::derive(req.seed, &[mi as u64, split as u64]);
    let mut ctx = FitContext {
        seed,
        on_event: &mut on_train,
        native_gbdt: req.native_gbdt,
    };
    // Everything validation produced is in the past of the final model: an ensemble learns its
    // combiner from every fold.
    let first_test = data.calendar.len();
    let fitted =
        super::walk::fit_model(req, data, spec, &rows, split, first_test, history, &mut ctx);
    let model = fitted.map_err(|e| Error::Model {
        model: spec.name.clone(),
        message: format!("final fit on all labelled rows: {e}"),
    })?;
    let bundle = bundle::build(&BundleInput {
        config: req.config,
        spec,
        instruments: req.instruments,
        data,
        model: model.as_ref(),
        seed,
        validation,
    })?;
    // Predicted by the model as the bundle holds it, which is what every reader of it loads.
    let predictions = bundle::Bundle::load_checked(&bundle)?
        .model
        .predict(data, &rows)?;
    let in_sample = rows
        .iter()
        .zip(predictions)
        .map(|(&r, prediction)| {
            let meta = data.rows[r];
            FinalPrediction {
                date: data.calendar[meta.time],
                instrument: data.instruments[meta.instrument].clone(),
                prediction,
            }
        })
        .collect();
    Ok(FinalModel { bundle, in_sample })
}
