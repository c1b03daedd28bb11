//! `strider init`: a commented, runnable config for a user's bar files. The files are parsed as
//! a run would parse them (bar files, long files, or close-only panels), and the config is sized
//! to what they hold: the bar frequency, a walk-forward split of about two years' training and a
//! quarter's test (fewer on short histories, at least four test windows), features the columns
//! allow, and one model of each kind (ridge, gradient-boosted trees, LSTM). The text is parsed and
//! validated before it is returned, so what `init` writes, `run` accepts.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use strider_core::config::Config;
use strider_core::data::{Instrument, instrument_name, parse_bar_file, parse_panel};

use crate::error::{Context, Result};

/// What `init` found in the files and wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InitReport {
    pub config: String,
    pub instruments: Vec<String>,
    pub first_date: NaiveDate,
    pub last_date: NaiveDate,
    /// `daily`, `weekly` or `monthly`.
    pub frequency: &'static str,
    pub bars: usize,
    pub train_size: usize,
    pub test_size: usize,
    pub warnings: Vec<String>,
}

/// One input file as the config will name it.
struct Input {
    /// As written in the config: relative to the config's folder when under it, else absolute.
    path: String,
    panel: bool,
    instruments: Vec<Instrument>,
}

/// The fewest bars a config is written for: two years of weekly bars, or 100 days.
const MIN_BARS: usize = 100;

/// Writes the config for `files` to `out` (atomically; an existing file only with `force`).
/// `name` defaults to the file's stem.
pub fn init_file(
    files: &[PathBuf],
    out: &Path,
    name: Option<&str>,
    force: bool,
) -> Result<InitReport> {
    if out.exists() && !force {
        crate::bail!(
            "{} exists; choose another -o FILE or pass --force (nothing was written)",
            out.display()
        );
    }
    let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned());
    let name = name
        .map(str::to_string)
        .or(stem)
        .unwrap_or_else(|| "run".into());
    let report = init(files, out, &name)?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    crate::rundir::write_atomic(out, report.config.as_bytes())?;
    Ok(report)
}

/// Reads `files` and writes the config text for a config file at `config_path`.
pub fn init(files: &[PathBuf], config_path: &Path, name: &str) -> Result<InitReport> {
    if files.is_empty() {
        crate::bail!("give at least one data file (e.g. `strider init data/*.csv`)");
    }
    let base = absolute(config_path.parent().unwrap_or(Path::new(".")));
    let mut inputs = Vec::new();
    let mut warnings = Vec::new();
    for f in &csv_files(files)? {
        let (input, w) = read_input(f, &base)?;
        inputs.push(input);
        warnings.extend(w);
    }
    let all: Vec<&Instrument> = inputs.iter().flat_map(|i| &i.instruments).collect();
    let mut names: Vec<String> = all.iter().map(|i| i.name.clone()).collect();
    names.sort();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        crate::bail!("instrument `{}` appears in two files", w[0]);
    }
    let bars = all.iter().map(|i| i.len()).max().unwrap_or(0);
    if bars < MIN_BARS {
        crate::bail!(
            "the longest instrument has {bars} bars; a walk-forward needs at least {MIN_BARS}"
        );
    }
    let (frequency, per_year) = frequency(&all);
    let (train_size, test_size) = split_sizes(bars, per_year);
    let min_leaf = (train_size / 10).clamp(5, 50);
    let first_date = all.iter().filter_map(|i| i.dates.first()).min().copied();
    let last_date = all.iter().filter_map(|i| i.dates.last()).max().copied();
    let file_name = config_path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned());
    let layout = Layout {
        name,
        file_name: file_name.as_deref().unwrap_or("strider.toml"),
        inputs: &inputs,
        ohlcv: inputs.iter().all(|i| !i.panel),
        frequency,
        per_year,
        train_size,
        test_size,
        min_leaf,
    };
    let config = layout.text();
    Config::from_toml(&config).context("internal: the written config does not validate")?;
    Ok(InitReport {
        config,
        instruments: names,
        first_date: first_date.unwrap_or_default(),
        last_date: last_date.unwrap_or_default(),
        frequency,
        bars,
        train_size,
        test_size,
        warnings,
    })
}

/// The files given, a folder standing for the `.csv` files in it (sorted by name).
fn csv_files(given: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in given {
        if !path.is_dir() {
            out.push(path.clone());
            continue;
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading folder {}", path.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .filter(|p| {
                p.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv"))
                    || crate::parquet_text::is_parquet(p)
            })
            .collect();
        if found.is_empty() {
            crate::bail!("folder {} holds no .csv or .parquet files", path.display());
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

/// `p` made absolute with symbolic links resolved, for as much of it as exists (the config's
/// folder may not exist yet).
fn absolute(p: &Path) -> PathBuf {
    let p = if p.as_os_str().is_empty() {
        Path::new(".")
    } else {
        p
    };
    if let Ok(full) = std::fs::canonicalize(p) {
        return full;
    }
    match (p.parent(), p.file_name()) {
        (Some(parent), Some(name)) => absolute(parent).join(name),
        _ => p.to_path_buf(),
    }
}

/// Parses a file as bars (one instrument, or a long file), else as a close-only panel.
fn read_input(file: &Path, base: &Path) -> Result<(Input, Vec<String>)> {
    let shown = file.display().to_string();
    let text = crate::parquet_text::read_data(file)?;
    let full = absolute(file);
    let path = match full.strip_prefix(base) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => full.display().to_string(),
    };
    match parse_bar_file(&instrument_name(&path), &shown, &text) {
        Ok(parsed) => Ok((
            Input {
                path,
                panel: false,
                instruments: parsed.instruments,
            },
            parsed.warnings,
        )),
        // Not bars: a close-only panel (`date` plus one column per ticker), if it parses as one
        // and no column is named like a bar's (a broken bar file stays a bar file's error).
        Err(bars_error) if names_a_bar_field(&text) => Err(bars_error.into()),
        Err(bars_error) => match parse_panel(&shown, &text) {
            Ok(instruments) => Ok((
                Input {
                    path,
                    panel: true,
                    instruments,
                },
                Vec::new(),
            )),
            Err(_) => Err(bars_error.into()),
        },
    }
}

/// Whether a header other than the date names a bar field (open, close, volume, ...).
fn names_a_bar_field(text: &str) -> bool {
    use strider_core::data::headers::{Field, field};
    let header = text.lines().next().unwrap_or_default();
    header
        .split(',')
        .filter_map(|h| field(h.trim().trim_matches('"')))
        .any(|f| f != Field::Date)
}

/// The bar frequency from the median gap between dates (in calendar days), and its bars per
/// year.
fn frequency(instruments: &[&Instrument]) -> (&'static str, usize) {
    let mut gaps: Vec<i64> = instruments
        .iter()
        .flat_map(|i| i.dates.windows(2).map(|w| (w[1] - w[0]).num_days()))
        .collect();
    gaps.sort_unstable();
    match gaps.get(gaps.len() / 2).copied().unwrap_or(1) {
        ..=3 => ("daily", 252),
        4..=10 => ("weekly", 52),
        11..=20 => ("fortnightly", 26),
        21..=45 => ("monthly", 12),
        46..=135 => ("quarterly", 4),
        _ => ("yearly", 1),
    }
}

/// The bars the features' warm-up (MACD's 34) and the label's horizon leave.
const WARM_UP: usize = 35;

/// About two years of training and a quarter of test, shrunk on short histories so that at least
/// four test windows follow the first training window (of the bars left after the warm-up).
fn split_sizes(bars: usize, per_year: usize) -> (usize, usize) {
    let bars = bars.saturating_sub(WARM_UP);
    let mut test = (per_year / 4).max(1);
    let mut train = (2 * per_year).min(bars / 2);
    while train + 4 * test > bars && test > 1 {
        test -= 1;
    }
    if train + 4 * test > bars {
        train = bars.saturating_sub(4 * test).max(1);
    }
    (train, test)
}

/// Everything the config text is made from.
struct Layout<'a> {
    name: &'a str,
    file_name: &'a str,
    inputs: &'a [Input],
    /// Every file has open, high, low, close and volume (range and volume features apply).
    ohlcv: bool,
    frequency: &'static str,
    per_year: usize,
    train_size: usize,
    test_size: usize,
    /// The trees' `min_data_in_leaf`: a tenth of the first training window, 5 to 50.
    min_leaf: usize,
}

fn quoted(items: &[&str]) -> String {
    let q: Vec<String> = items
        .iter()
        .map(|s| toml::Value::String(s.to_string()).to_string())
        .collect();
    format!("[{}]", q.join(", "))
}

impl Layout<'_> {
    fn text(&self) -> String {
        [
            self.header(),
            self.data(),
            self.features(),
            self.split(),
            self.models(),
            self.trading(),
        ]
        .concat()
    }

    fn header(&self) -> String {
        let name = toml::Value::String(self.name.to_string());
        format!(
            "# Written by `strider init`; run it with `strider run {}`, change anything.\n\
             # Every key is documented in docs/configuration.md and docs/data.md.\n\
             name = {name}\nseed = 42\n\n",
            self.file_name
        )
    }

    fn data(&self) -> String {
        let pick = |panel: bool| -> Vec<&str> {
            let i = self.inputs.iter().filter(|i| i.panel == panel);
            i.map(|i| i.path.as_str()).collect()
        };
        let (files, panels) = (pick(false), pick(true));
        let mut s = String::from(
            "# Paths are relative to this file. Returns use adj_close when a file has it.\n[data]\n",
        );
        if !files.is_empty() {
            s += &format!("files = {}\n", quoted(&files));
        }
        if !panels.is_empty() {
            s += &format!("panels = {}\n", quoted(&panels));
        }
        s + "\n"
    }

    fn features(&self) -> String {
        let mut s = String::from(
            "# Causal features (each row sees only its own and earlier bars).\n\
             [[features]]\nkind = \"returns\"\nperiods = [1, 5, 20]\n\n\
             [[features]]\nkind = \"rolling_std\"\nwindow = 20\n\n\
             [[features]]\nkind = \"rsi\"\nwindow = 14\n\n\
             [[features]]\nkind = \"macd\"\n\n",
        );
        if self.ohlcv {
            s += "[[features]]\nkind = \"atr\"\nwindow = 14\n\n\
                  [[features]]\nkind = \"volume_zscore\"\nwindow = 20\n\n";
        }
        if self.frequency == "daily" {
            s += "[[features]]\nkind = \"day_of_week\"\n\n";
        }
        s + "# What the models forecast: the next bar's return.\n\
               [label]\nkind = \"forward_return\"\nhorizon = 1\n\n"
    }

    fn split(&self) -> String {
        format!(
            "# Walk-forward: train on the first {} bars ({}), test the next {}, roll on and refit\n\
             # (the gap before each test window defaults to the label's horizon).\n\
             [split]\nscheme = \"walk-forward\"\ntrain_size = {}\ntest_size = {}\n\
             window = \"expanding\"\nreduce_test = true\n\n",
            self.train_size, self.frequency, self.test_size, self.train_size, self.test_size
        )
    }

    fn trading(&self) -> String {
        format!(
            "# Trade the sign of each forecast one bar late, paying 1 basis point per unit traded.\n\
             [strategy]\nsignal = \"sign\"\ncost_bps = 1.0\nexecution_lag = 1\n\n\
             [metrics]\nperiods_per_year = {}\nrisk_free = 0.0\n",
            self.per_year
        )
    }
}

impl Layout<'_> {
    /// One model of each kind, small enough for a first run in seconds.
    fn models(&self) -> String {
        format!(
            "# One model of each kind; with several, the run deflates the best one's Sharpe for all tried.\n\
             [[models]]\nname = \"ridge\"\nkind = \"ridge\"\nalpha = 10.0\n\n\
             # Gradient-boosted trees (LightGBM's parameters and model.txt).\n\
             [[models]]\nname = \"trees\"\nkind = \"gbdt\"\nnum_iterations = 60\nlearning_rate = 0.05\n\
             num_leaves = 7\nmin_data_in_leaf = {}\nfeature_fraction = 0.8\nlambda_l2 = 10.0\n\n\
             # An LSTM on each instrument's last 10 rows of features.\n\
             [[models]]\nname = \"lstm\"\nkind = \"lstm\"\nwindow = 10\nhidden = 8\nepochs = 10\n\
             patience = 2\nbatch_size = 128\n\n",
            self.min_leaf
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_leave_four_test_windows_on_short_histories() {
        assert_eq!(split_sizes(3000, 252), (504, 63));
        for bars in [100, 150, 200, 300] {
            let (train, test) = split_sizes(bars, 252);
            assert!(
                train + 4 * test <= bars - WARM_UP && test >= 1 && train >= 1,
                "{bars}"
            );
        }
        assert_eq!(split_sizes(600, 52), (104, 13));
    }
}
