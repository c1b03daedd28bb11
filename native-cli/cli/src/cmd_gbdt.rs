//! `strider gbdt predict`: evaluate a LightGBM model.txt (bit-identical to LightGBM).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use strider_app::gbdt_files::{
    PredictKind, params_from_pairs, predict_file, query_groups, read_table, split_target,
};

#[derive(Args)]
pub struct GbdtArgs {
    #[command(subcommand)]
    command: GbdtCommand,
}

#[derive(Subcommand)]
enum GbdtCommand {
    /// Train a model with LightGBM's parameter names (and aliases); every other column of
    /// TRAIN.csv is a feature, in file order, except date columns and those in `--ignore`.
    /// Writes LightGBM's model.txt.
    Train(TrainArgs),
    /// Predict with a LightGBM model.txt. FEATURES.csv has a header row, then numbers (empty or
    /// `nan` is missing); the model's features are picked by name, in any order, and other
    /// columns are not read (a model with LightGBM's automatic names `Column_0`, ... takes the
    /// columns by position: skip the others with `--ignore`).
    #[command(after_help = "EXAMPLES:
  strider gbdt predict --model model.txt --data features.csv --out pred.csv
  strider gbdt predict --model model.txt --data features.csv --contrib --out shap.csv")]
    Predict {
        /// LightGBM's model.txt (from LightGBM or `strider gbdt train`).
        #[arg(long, short)]
        model: PathBuf,
        /// The rows to score: a CSV with a header.
        #[arg(long, short)]
        data: PathBuf,
        /// Raw scores (before the sigmoid / softmax / exp).
        #[arg(long)]
        raw: bool,
        /// TreeSHAP contributions: one column per feature and a bias per output.
        #[arg(long, conflicts_with = "raw")]
        contrib: bool,
        /// Columns of FEATURES.csv that are not features (e.g. a label).
        #[arg(long, value_delimiter = ',')]
        ignore: Vec<String>,
        /// Where to write the predictions (CSV).
        #[arg(long, short)]
        out: PathBuf,
    },
}

#[derive(Args)]
#[command(after_help = "EXAMPLES:
  strider gbdt train --data train.csv --target y --param num_leaves=15 --param n_estimators=200 --out model.txt
  strider gbdt train --data train.csv --target y --valid valid.csv --param early_stopping_round=20 --ignore id --out model.txt")]
struct TrainArgs {
    /// The training table: a header row, then numbers (empty or `nan` is missing).
    #[arg(long)]
    data: PathBuf,
    /// The label column.
    #[arg(long)]
    target: String,
    /// Columns that are not features (ids, other labels); date columns are skipped anyway.
    #[arg(long, value_delimiter = ',')]
    ignore: Vec<String>,
    /// Validation rows for early stopping (`--param early_stopping_round=N`).
    #[arg(long)]
    valid: Option<PathBuf>,
    /// Categorical feature columns, by name (values are category numbers, as in LightGBM;
    /// the same as `--param categorical_feature=INDICES`).
    #[arg(long, value_delimiter = ',')]
    categorical: Vec<String>,
    /// The query column for the ranking objectives (`lambdarank`, `rank_xendcg`), e.g. a date:
    /// each run of equal consecutive values is one query group (LightGBM's `group`); not a
    /// feature.
    #[arg(long)]
    group: Option<String>,
    /// A LightGBM parameter, KEY=VALUE (repeatable), e.g. num_leaves=31.
    #[arg(long = "param")]
    params: Vec<String>,
    /// Which trainer: Strider's own (also in the browser) or native LightGBM (needs the
    /// `lightgbm` build feature).
    #[arg(long, value_enum, default_value = "strider")]
    engine: EngineArg,
    /// Where to write the model (LightGBM's model.txt).
    #[arg(long, short)]
    out: PathBuf,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum EngineArg {
    Strider,
    Lightgbm,
}

fn train_cmd(args: TrainArgs) -> Result<()> {
    let TrainArgs {
        data,
        target,
        mut ignore,
        valid,
        categorical,
        group,
        params,
        engine,
        out,
        json,
    } = args;
    use strider_core::gbdt::{Engine, TrainData, train};
    let mut gp = params_from_pairs(&params)?;
    if matches!(engine, EngineArg::Lightgbm) {
        gp.engine = Engine::Lightgbm;
    }
    let groups_of = |path: &PathBuf| match &group {
        Some(g) => query_groups(path, g),
        None => Ok(Vec::new()),
    };
    let groups = groups_of(&data)?;
    let valid_groups = valid
        .as_ref()
        .map(groups_of)
        .transpose()?
        .unwrap_or_default();
    ignore.extend(group.clone());
    let (headers, rows) = read_table(&data, &ignore)?;
    let (names, x, y) = split_target(&data, &headers, &rows, &target)?;
    let v = match &valid {
        Some(path) => {
            let (vh, vr) = read_table(path, &ignore)?;
            let (vn, vx, vy) = split_target(path, &vh, &vr, &target)?;
            if vn != names {
                bail!("{}: columns differ from {}", path.display(), data.display());
            }
            Some((vx, vy))
        }
        None => None,
    };
    let td = TrainData {
        groups: &groups,
        x: &x,
        n_features: names.len(),
        y: &y,
        feature_names: names.clone(),
    };
    let vd = v.as_ref().map(|(vx, vy)| TrainData {
        groups: &valid_groups,
        x: vx,
        n_features: names.len(),
        y: vy,
        feature_names: names.clone(),
    });
    for c in &categorical {
        let i = names
            .iter()
            .position(|n| n == c)
            .with_context(|| format!("--categorical: no feature column `{c}`"))?;
        if !gp.categorical_feature.contains(&i) {
            gp.categorical_feature.push(i);
        }
    }
    gp.categorical_feature.sort_unstable();
    let mut last = serde_json::Map::new();
    let model = if gp.engine == Engine::Lightgbm {
        let Some(native) = strider_app::native_gbdt(gp.categorical_feature.clone()) else {
            bail!(
                "--engine lightgbm: native LightGBM is not built into this strider (cargo feature `lightgbm`)"
            );
        };
        native.train(&gp, &td, vd.as_ref())?
    } else {
        let bar = crate::output::progress_bar(gp.num_iterations as u64, json);
        let m = train(&gp, &td, vd.as_ref(), &mut |it, name, value| {
            bar.set_position(it as u64);
            last.insert(name.to_string(), serde_json::json!(value));
        })?;
        bar.finish_and_clear();
        m
    };
    std::fs::write(&out, model.write()).with_context(|| format!("writing {}", out.display()))?;
    let summary = serde_json::json!({"model": out, "trees": model.trees.len(), "iterations": model.num_iterations(), "features": names, "last": last});
    if json {
        println!("{summary}");
    } else {
        println!(
            "wrote {} ({} trees over {} features)",
            out.display(),
            model.trees.len(),
            names.len()
        );
    }
    Ok(())
}

pub fn run(args: GbdtArgs) -> Result<()> {
    match args.command {
        GbdtCommand::Train(a) => train_cmd(a),
        GbdtCommand::Predict {
            model,
            data,
            raw,
            contrib,
            ignore,
            out,
        } => {
            let kind = if contrib {
                PredictKind::Contributions
            } else if raw {
                PredictKind::Raw
            } else {
                PredictKind::Output
            };
            Ok(predict_file(&model, &data, kind, &ignore, &out)?)
        }
    }
}
