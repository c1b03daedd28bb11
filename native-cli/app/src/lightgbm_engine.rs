//! Native LightGBM (the C++ library through `lightgbm3`), behind the `lightgbm` cargo feature.
//! It takes the same parameters as Strider's trainer and returns LightGBM's own model.txt, which
//! the core then evaluates (bit-identically to LightGBM).

use serde_json::{Value, json};
use strider_core::gbdt::{
    Error, GbdtModel, GbdtObjective, GbdtParams, NativeTrainer, Result, TrainData,
};

pub struct LightGbm {
    /// Column indices LightGBM should treat as categorical.
    pub categorical: Vec<usize>,
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::Native(format!("lightgbm: {e}"))
}

fn params_json(p: &GbdtParams, categorical: &[usize], has_valid: bool) -> Value {
    let mut v = json!({
        "objective": p.objective.lightgbm_name(),
        "alpha": p.alpha,
        "fair_c": p.fair_c,
        "num_iterations": p.num_iterations,
        "learning_rate": p.learning_rate,
        "num_leaves": p.num_leaves,
        "max_depth": p.max_depth,
        "min_data_in_leaf": p.min_data_in_leaf,
        "min_sum_hessian_in_leaf": p.min_sum_hessian_in_leaf,
        "lambda_l1": p.lambda_l1,
        "lambda_l2": p.lambda_l2,
        "min_gain_to_split": p.min_gain_to_split,
        "feature_fraction": p.feature_fraction,
        "bagging_fraction": p.bagging_fraction,
        "bagging_freq": p.bagging_freq,
        "max_bin": p.max_bin,
        "seed": p.seed,
        "num_threads": p.num_threads,
        "use_missing": p.use_missing,
        "zero_as_missing": p.zero_as_missing,
        "max_cat_to_onehot": p.max_cat_to_onehot,
        "cat_smooth": p.cat_smooth,
        "cat_l2": p.cat_l2,
        "max_cat_threshold": p.max_cat_threshold,
        "min_data_per_group": p.min_data_per_group,
        "deterministic": true,
        "verbosity": -1,
    });
    if p.objective == GbdtObjective::Multiclass {
        v["num_class"] = json!(p.num_class);
    }
    if has_valid && p.early_stopping_round > 0 {
        v["early_stopping_rounds"] = json!(p.early_stopping_round);
    }
    let mut categorical = categorical.to_vec();
    categorical.extend(&p.categorical_feature);
    categorical.sort_unstable();
    categorical.dedup();
    if !categorical.is_empty() {
        v["categorical_feature"] = json!(
            categorical
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    v
}

impl NativeTrainer for LightGbm {
    fn train(
        &self,
        params: &GbdtParams,
        data: &TrainData,
        valid: Option<&TrainData>,
    ) -> Result<GbdtModel> {
        params.validate()?;
        if params.objective.is_ranking() {
            // lightgbm3 1.0 has no way to set a Dataset's query groups.
            return Err(err(format!(
                "objective {} needs query groups, which the native engine cannot pass yet; \
                 use engine = \"strider\" (the same trees)",
                params.objective.lightgbm_name()
            )));
        }
        let f = data.n_features as i32;
        let labels: Vec<f32> = data.y.iter().map(|v| *v as f32).collect();
        let mut train = lightgbm3::Dataset::from_slice(data.x, &labels, f, true).map_err(err)?;
        if data.feature_names.len() == data.n_features {
            let names: Vec<String> = data
                .feature_names
                .iter()
                .map(|s| s.replace(char::is_whitespace, "_"))
                .collect();
            train.set_feature_names(&names).map_err(err)?;
        }
        let valid = match valid {
            Some(v) => {
                let vl: Vec<f32> = v.y.iter().map(|x| *x as f32).collect();
                Some(
                    lightgbm3::Dataset::from_slice_with_reference(v.x, &vl, f, true, Some(&train))
                        .map_err(err)?,
                )
            }
            None => None,
        };
        let json = params_json(params, &self.categorical, valid.is_some());
        let booster = lightgbm3::Booster::train_with_valid(train, valid, &json).map_err(err)?;
        GbdtModel::parse(&booster.save_string().map_err(err)?)
    }
}
