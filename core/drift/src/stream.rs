//! One stream detector chosen by name, with parameters given as `key=value` text (the CLI's
//! `--param`) or as a config table.

use serde::{Deserialize, Serialize};

use crate::adwin::{Adwin, AdwinParams};
use crate::page_hinkley::{PageHinkley, PageHinkleyParams, PhMode};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "detector", rename_all = "kebab-case")]
pub enum DetectorSpec {
    Adwin(AdwinParams),
    PageHinkley(PageHinkleyParams),
}

impl DetectorSpec {
    /// The detector `name` (`adwin` or `page-hinkley`) with River's defaults overridden by
    /// `params` (`key=value`); errors name the parameter.
    pub fn parse(name: &str, params: &[(String, String)]) -> Result<Self, String> {
        let mut spec = match name {
            "adwin" => Self::Adwin(AdwinParams::default()),
            "page-hinkley" | "page_hinkley" | "ph" => {
                Self::PageHinkley(PageHinkleyParams::default())
            }
            other => {
                return Err(format!(
                    "unknown detector `{other}` (adwin or page-hinkley)"
                ));
            }
        };
        for (key, value) in params {
            spec.set(key, value)?;
        }
        spec.validate()?;
        Ok(spec)
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let num = || {
            value
                .parse::<f64>()
                .map_err(|_| format!("--param {key}: `{value}` is not a number"))
        };
        let int = || {
            value
                .parse::<u32>()
                .map_err(|_| format!("--param {key}: `{value}` is not a whole number ≥ 0"))
        };
        match (self, key) {
            (Self::Adwin(p), "delta") => p.delta = num()?,
            (Self::Adwin(p), "clock") => p.clock = int()?,
            (Self::Adwin(p), "max_buckets") => p.max_buckets = int()? as usize,
            (Self::Adwin(p), "min_window_length") => p.min_window_length = int()?,
            (Self::Adwin(p), "grace_period") => p.grace_period = int()?,
            (Self::PageHinkley(p), "min_instances") => p.min_instances = int()?,
            (Self::PageHinkley(p), "delta") => p.delta = num()?,
            (Self::PageHinkley(p), "threshold") => p.threshold = num()?,
            (Self::PageHinkley(p), "alpha") => p.alpha = num()?,
            (Self::PageHinkley(p), "mode") => {
                p.mode = match value {
                    "up" => PhMode::Up,
                    "down" => PhMode::Down,
                    "both" => PhMode::Both,
                    _ => return Err(format!("--param mode: `{value}` is not up, down or both")),
                }
            }
            (Self::Adwin(_), _) => {
                return Err(format!(
                    "adwin has no parameter `{key}` (delta, clock, max_buckets, min_window_length, grace_period)"
                ));
            }
            (Self::PageHinkley(_), _) => {
                return Err(format!(
                    "page-hinkley has no parameter `{key}` (min_instances, delta, threshold, alpha, mode)"
                ));
            }
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::Adwin(p) => p.validate(),
            Self::PageHinkley(p) => p.validate(),
        }
    }

    pub fn start(&self) -> StreamDetector {
        match *self {
            Self::Adwin(p) => StreamDetector::Adwin(Adwin::new(p)),
            Self::PageHinkley(p) => StreamDetector::PageHinkley(PageHinkley::new(p)),
        }
    }
}

/// A running detector; its state serialises so a service can commit and resume it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "detector", rename_all = "kebab-case")]
pub enum StreamDetector {
    Adwin(Adwin),
    PageHinkley(PageHinkley),
}

impl StreamDetector {
    /// Adds one value; true when this update detects a change. Non-finite values are skipped
    /// (they would poison every later statistic) and never detect.
    pub fn update(&mut self, x: f64) -> bool {
        if !x.is_finite() {
            return false;
        }
        match self {
            Self::Adwin(d) => d.update(x),
            Self::PageHinkley(d) => d.update(x),
        }
    }
}

/// The 0-based indices of `values` at which the detector reports a change.
pub fn detections(spec: &DetectorSpec, values: &[f64]) -> Vec<usize> {
    let mut detector = spec.start();
    values
        .iter()
        .enumerate()
        .filter_map(|(i, &x)| detector.update(x).then_some(i))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(k: &str, v: &str) -> (String, String) {
        (k.into(), v.into())
    }

    #[test]
    fn parameters_by_name_and_their_errors() {
        let ph = DetectorSpec::parse(
            "page-hinkley",
            &[
                kv("mode", "down"),
                kv("threshold", "5"),
                kv("min_instances", "3"),
                kv("alpha", "0.5"),
                kv("delta", "0"),
            ],
        )
        .unwrap();
        let DetectorSpec::PageHinkley(p) = ph else {
            panic!()
        };
        assert_eq!(
            (p.mode, p.threshold, p.min_instances),
            (PhMode::Down, 5.0, 3)
        );
        let ad = DetectorSpec::parse(
            "adwin",
            &[
                kv("clock", "1"),
                kv("max_buckets", "3"),
                kv("min_window_length", "2"),
                kv("grace_period", "4"),
                kv("delta", "0.1"),
            ],
        )
        .unwrap();
        assert!(matches!(
            ad,
            DetectorSpec::Adwin(AdwinParams {
                clock: 1,
                max_buckets: 3,
                ..
            })
        ));
        for (name, params, says) in [
            ("kswin", vec![], "unknown detector"),
            ("adwin", vec![kv("delta", "x")], "not a number"),
            ("adwin", vec![kv("clock", "-1")], "whole number"),
            ("adwin", vec![kv("delta", "1.5")], "delta must be"),
            ("adwin", vec![kv("clock", "0")], "clock"),
            ("adwin", vec![kv("mode", "up")], "adwin has no parameter"),
            (
                "page-hinkley",
                vec![kv("mode", "sideways")],
                "up, down or both",
            ),
            (
                "page-hinkley",
                vec![kv("clock", "1")],
                "page-hinkley has no parameter",
            ),
            ("page-hinkley", vec![kv("alpha", "0")], "alpha"),
            ("page-hinkley", vec![kv("threshold", "inf")], "finite"),
        ] {
            let e = DetectorSpec::parse(name, &params).unwrap_err();
            assert!(e.contains(says), "{name} {params:?}: {e}");
        }
    }

    #[test]
    fn non_finite_values_are_skipped() {
        let spec = DetectorSpec::parse("ph", &[kv("mode", "up")]).unwrap();
        let mut values = vec![0.0; 100];
        values.extend([f64::NAN, f64::INFINITY]);
        values.extend(vec![10.0; 100]);
        let found = detections(&spec, &values);
        assert!(
            !found.is_empty() && found[0] > 101 && found[0] < 140,
            "{found:?}"
        );
    }
}
