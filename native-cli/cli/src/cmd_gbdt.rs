//! `strider gbdt predict`: evaluate a LightGBM model.txt (bit-identical to LightGBM).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use strider_core::gbdt::GbdtModel;

#[derive(Args)]
pub struct GbdtArgs {
    #[command(subcommand)]
    command: GbdtCommand,
}

#[derive(Subcommand)]
enum GbdtCommand {
    /// Train a model with LightGBM's parameter names; every other numeric column of TRAIN.csv is
    /// a feature, in file order. Writes LightGBM's model.txt.
    Train(TrainArgs),
    /// Predict with a LightGBM model.txt. FEATURES.csv holds the model's features in order (a
    /// header row, then numbers; empty or `nan` is missing); extra columns named in
    /// `--ignore` are skipped.
    Predict {
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
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
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args)]
struct TrainArgs {
    #[arg(long)]
    data: PathBuf,
    #[arg(long)]
    target: String,
    /// Validation rows for early stopping (`--param early_stopping_round=N`).
    #[arg(long)]
    valid: Option<PathBuf>,
    /// Categorical feature columns (native LightGBM only; not supported yet).
    #[arg(long, value_delimiter = ',')]
    categorical: Vec<String>,
    /// A LightGBM parameter, KEY=VALUE (repeatable), e.g. num_leaves=31.
    #[arg(long = "param")]
    params: Vec<String>,
    #[arg(long, value_enum, default_value = "strider")]
    engine: EngineArg,
    #[arg(long)]
    out: PathBuf,
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum EngineArg {
    Strider,
    Lightgbm,
}

/// A CSV with a header: (column names, rows of numbers; empty or `nan` is missing).
fn read_table(path: &Path) -> Result<(Vec<String>, Vec<Vec<f64>>)> {
    let file = path.display().to_string();
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("reading {file}"))?;
    let headers: Vec<String> = rdr.headers()?.iter().map(String::from).collect();
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.with_context(|| file.clone())?;
        let line = rec.position().map_or(0, |p| p.line());
        rows.push(
            rec.iter()
                .enumerate()
                .map(|(i, v)| {
                    if v.is_empty() || v.eq_ignore_ascii_case("nan") {
                        Ok(f64::NAN)
                    } else {
                        v.parse::<f64>().with_context(|| {
                            format!(
                                "{file}: line {line}, column `{}`: `{v}` is not a number",
                                headers[i]
                            )
                        })
                    }
                })
                .collect::<Result<Vec<f64>>>()?,
        );
    }
    if rows.is_empty() {
        bail!("{file}: no data rows");
    }
    Ok((headers, rows))
}

/// Features and labels of a table; the label column must be finite.
fn split_target(
    path: &Path,
    headers: &[String],
    rows: &[Vec<f64>],
    target: &str,
) -> Result<(Vec<String>, Vec<f64>, Vec<f64>)> {
    let t = headers
        .iter()
        .position(|h| h == target)
        .with_context(|| format!("{}: no column `{target}`", path.display()))?;
    let names: Vec<String> = headers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != t)
        .map(|(_, h)| h.clone())
        .collect();
    let mut x = Vec::with_capacity(rows.len() * names.len());
    let mut y = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        if !r[t].is_finite() {
            bail!("{}: row {} has no finite `{target}`", path.display(), i + 2);
        }
        y.push(r[t]);
        x.extend(
            r.iter()
                .enumerate()
                .filter(|(j, _)| *j != t)
                .map(|(_, v)| *v),
        );
    }
    Ok((names, x, y))
}

fn train_cmd(args: TrainArgs) -> Result<()> {
    let TrainArgs {
        data,
        target,
        valid,
        categorical,
        params,
        engine,
        out,
        json,
    } = args;
    use strider_core::gbdt::{Engine, GbdtParams, TrainData, train};
    // Parameters go through the same strict parser as a config's [[models]] table.
    let mut table = toml::Table::new();
    for p in &params {
        let (k, v) = p
            .split_once('=')
            .with_context(|| format!("--param `{p}`: expected KEY=VALUE"))?;
        let value = v
            .parse::<i64>()
            .map(toml::Value::Integer)
            .or_else(|_| v.parse::<f64>().map(toml::Value::Float))
            .unwrap_or_else(|_| toml::Value::String(v.to_string()));
        table.insert(k.to_string(), value);
    }
    let mut gp: GbdtParams = toml::Value::Table(table)
        .try_into()
        .map_err(|e| anyhow::anyhow!("--param: {e}"))?;
    if matches!(engine, EngineArg::Lightgbm) {
        gp.engine = Engine::Lightgbm;
    }
    let (headers, rows) = read_table(&data)?;
    let (names, x, y) = split_target(&data, &headers, &rows, &target)?;
    let v = match &valid {
        Some(path) => {
            let (vh, vr) = read_table(path)?;
            let (vn, vx, vy) = split_target(path, &vh, &vr, &target)?;
            if vn != names {
                bail!("{}: columns differ from {}", path.display(), data.display());
            }
            Some((vx, vy))
        }
        None => None,
    };
    let td = TrainData {
        x: &x,
        n_features: names.len(),
        y: &y,
        feature_names: names.clone(),
    };
    let vd = v.as_ref().map(|(vx, vy)| TrainData {
        x: vx,
        n_features: names.len(),
        y: vy,
        feature_names: names.clone(),
    });
    let mut last = serde_json::Map::new();
    let model = if gp.engine == Engine::Lightgbm {
        let cat: Vec<usize> = categorical
            .iter()
            .map(|c| {
                names
                    .iter()
                    .position(|n| n == c)
                    .with_context(|| format!("--categorical: no feature column `{c}`"))
            })
            .collect::<Result<_>>()?;
        let Some(native) = strider_app::native_gbdt(cat) else {
            bail!(
                "--engine lightgbm: native LightGBM is not built into this strider (cargo feature `lightgbm`)"
            );
        };
        native.train(&gp, &td, vd.as_ref())?
    } else {
        if !categorical.is_empty() {
            bail!("--categorical: categorical splits need --engine lightgbm");
        }
        let bar = if json {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new(gp.num_iterations as u64)
        };
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
            let text = std::fs::read_to_string(&model)
                .with_context(|| format!("reading {}", model.display()))?;
            let m = GbdtModel::parse(&text).with_context(|| model.display().to_string())?;
            let file = data.display().to_string();
            let mut rdr = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_path(&data)
                .with_context(|| format!("reading {file}"))?;
            let headers: Vec<String> = rdr.headers()?.iter().map(String::from).collect();
            let keep: Vec<usize> = (0..headers.len())
                .filter(|i| !ignore.contains(&headers[*i]))
                .collect();
            if keep.len() != m.num_features() {
                bail!(
                    "{file}: {} feature columns, the model expects {} ({})",
                    keep.len(),
                    m.num_features(),
                    m.feature_names.join(", ")
                );
            }
            let k = m.num_outputs();
            let f = m.num_features();
            let names: Vec<String> = if contrib {
                (0..k)
                    .flat_map(|o| {
                        let fnames: Vec<String> = keep
                            .iter()
                            .map(|&i| headers[i].clone())
                            .chain(["bias".to_string()])
                            .collect();
                        fnames
                            .into_iter()
                            .map(move |n| if k > 1 { format!("class{o}_{n}") } else { n })
                    })
                    .collect()
            } else if k > 1 {
                (0..k).map(|o| format!("class{o}")).collect()
            } else {
                vec!["pred".into()]
            };
            let mut w = csv::Writer::from_path(&out)
                .with_context(|| format!("writing {}", out.display()))?;
            w.write_record(&names)?;
            let mut x: Vec<f64> = Vec::new();
            let mut n = 0usize;
            for rec in rdr.records() {
                let rec = rec.with_context(|| file.clone())?;
                let line = rec.position().map_or(0, |p| p.line());
                for &i in &keep {
                    let v = &rec[i];
                    x.push(if v.is_empty() || v.eq_ignore_ascii_case("nan") {
                        f64::NAN
                    } else {
                        v.parse::<f64>().with_context(|| {
                            format!(
                                "{file}: line {line}, column `{}`: `{v}` is not a number",
                                headers[i]
                            )
                        })?
                    });
                }
                n += 1;
            }
            let width = if contrib { k * (f + 1) } else { k };
            let values: Vec<f64> = if contrib {
                x.chunks(f).flat_map(|row| m.contributions(row)).collect()
            } else if raw {
                m.compile().predict_raw_batch(&x, n)
            } else {
                m.predict_batch(&x, n)
            };
            for row in values.chunks(width) {
                w.write_record(row.iter().map(|v| format!("{v:?}")))?;
            }
            w.flush()?;
            Ok(())
        }
    }
}
