//! `strider gbdt predict`: evaluate a LightGBM model.txt (bit-identical to LightGBM).

use std::path::PathBuf;

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

pub fn run(args: GbdtArgs) -> Result<()> {
    match args.command {
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
            for rec in rdr.records() {
                let rec = rec.with_context(|| file.clone())?;
                let line = rec.position().map_or(0, |p| p.line());
                let row: Vec<f64> = keep
                    .iter()
                    .map(|&i| {
                        let v = &rec[i];
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
                    .collect::<Result<_>>()?;
                let values = if contrib {
                    m.contributions(&row)
                } else if raw {
                    m.predict_raw(&row)
                } else {
                    m.predict(&row)
                };
                debug_assert!(!contrib || values.len() == k * (f + 1));
                w.write_record(values.iter().map(|v| format!("{v:?}")))?;
            }
            w.flush()?;
            Ok(())
        }
    }
}
