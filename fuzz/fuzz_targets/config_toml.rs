#![no_main]
//! Any text: `Config::from_toml` (TOML, then the validation every front end runs at load) returns
//! a config or an error, never panics. A config that loads is written back as the run directory's
//! `config.toml`, which `strider report` and the report page parse again: that text must load and
//! write back to itself. Its data section is then loaded as a run loads it (one small file for
//! every path it names), and `strider tune`'s config objective derives each model's search space
//! and applies the space's corner values (an error or a valid config, never a panic).
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use strider_app::tune::config_space::{ConfigObjective, Metric};
use strider_core::config::Config;
use strider_tune::Distribution;

const BARS: &str = "date,open,high,low,close,volume\n2020-01-02,1,2,0.5,1.5,10\n";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cfg) = Config::from_toml(text) else {
        return;
    };
    // A config that cannot be written is an error of the run, not a crash.
    if let Ok(written) = cfg.to_toml() {
        let again = match Config::from_toml(&written) {
            Ok(c) => c,
            Err(e) => panic!("config.toml as written does not load: {e}\n--- written\n{written}"),
        };
        match again.to_toml() {
            Ok(twice) => assert_eq!(twice, written, "config.toml does not write back to itself"),
            Err(e) => panic!("config.toml as read back cannot be written: {e}\n{written}"),
        }
    }
    let _ = cfg.seed_or_default();
    let panel = "date,A\n2020-01-02,1\n";
    let _ = strider_core::data::load(&cfg.data, &mut |path| {
        Ok(if cfg.data.panels.iter().any(|p| p == path) {
            panel
        } else {
            BARS
        }
        .to_string())
    });
    for model in 0..cfg.models.len() {
        let objective = ConfigObjective {
            config: cfg.clone(),
            instruments: Vec::new(),
            model,
            seed: cfg.seed_or_default(),
            objective: Metric::Sharpe,
            tune_features: true,
            sink: None,
        };
        let space = objective.space();
        for corner in [0, 1] {
            let params = space
                .iter()
                .map(|(k, d)| {
                    let v = match d {
                        Distribution::Float { low, high, .. } => Value::from(*[low, high][corner]),
                        Distribution::Int { low, high, .. } => Value::from(*[low, high][corner]),
                        Distribution::Categorical { choices } => {
                            choices[corner % choices.len()].clone()
                        }
                    };
                    (k.clone(), v)
                })
                .collect();
            if let Ok(applied) = objective.apply(&params) {
                applied.validate().expect("an applied config is valid");
            }
        }
    }
});
