//! The Page-Hinkley test as River 0.26 runs it: the running mean includes the new value, the
//! cumulative sums decay by `alpha`, and from `min_instances` values on a change is an increase
//! `S⁺ − min S⁺ > threshold` or a decrease `max S⁻ − S⁻ > threshold` (per `mode`). River starts
//! `max S⁻` at −1, not −∞; kept, because it changes detection indices. The first update after a
//! detection starts again from scratch.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhMode {
    Up,
    Down,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PageHinkleyParams {
    pub min_instances: u32,
    pub delta: f64,
    pub threshold: f64,
    pub alpha: f64,
    pub mode: PhMode,
}

impl Default for PageHinkleyParams {
    /// River's defaults.
    fn default() -> Self {
        Self {
            min_instances: 30,
            delta: 0.005,
            threshold: 50.0,
            alpha: 1.0 - 0.0001,
            mode: PhMode::Both,
        }
    }
}

impl PageHinkleyParams {
    pub fn validate(&self) -> Result<(), String> {
        if !(self.threshold.is_finite() && self.delta.is_finite()) {
            return Err("threshold and delta must be finite".into());
        }
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            return Err(format!("alpha must be in (0, 1], got {}", self.alpha));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageHinkley {
    params: PageHinkleyParams,
    n: f64,
    mean: f64,
    sum_increase: f64,
    sum_decrease: f64,
    min_increase: f64,
    max_decrease: f64,
    detected: bool,
}

impl PageHinkley {
    pub fn new(params: PageHinkleyParams) -> Self {
        Self {
            params,
            n: 0.0,
            mean: 0.0,
            sum_increase: 0.0,
            sum_decrease: 0.0,
            // River starts at +∞; the largest finite value behaves the same for finite sums and
            // survives JSON, which has no infinity.
            min_increase: f64::MAX,
            max_decrease: -1.0,
            detected: false,
        }
    }

    /// Adds one value; true when this update detects a change.
    pub fn update(&mut self, x: f64) -> bool {
        if self.detected {
            *self = Self::new(self.params);
        }
        self.n += 1.0;
        self.mean += (1.0 / self.n) * (x - self.mean);
        let dev = x - self.mean;
        let p = self.params;
        self.sum_increase = p.alpha * self.sum_increase + dev - p.delta;
        self.sum_decrease = p.alpha * self.sum_decrease + dev + p.delta;
        if self.sum_increase < self.min_increase {
            self.min_increase = self.sum_increase;
        }
        if self.sum_decrease > self.max_decrease {
            self.max_decrease = self.sum_decrease;
        }
        if self.n >= f64::from(p.min_instances) {
            let up = self.sum_increase - self.min_increase > p.threshold;
            let down = self.max_decrease - self.sum_decrease > p.threshold;
            self.detected = match p.mode {
                PhMode::Up => up,
                PhMode::Down => down,
                PhMode::Both => up || down,
            };
        }
        self.detected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_shift_up_is_found_after_min_instances() {
        let mut d = PageHinkley::new(PageHinkleyParams::default());
        let hits: Vec<usize> = (0..400)
            .filter(|&i| d.update(if i < 200 { 0.0 } else { 10.0 }))
            .collect();
        assert!(
            !hits.is_empty() && hits[0] > 200 && hits[0] < 230,
            "{hits:?}"
        );
    }

    #[test]
    fn up_mode_ignores_a_fall() {
        let params = PageHinkleyParams {
            mode: PhMode::Up,
            ..Default::default()
        };
        let mut d = PageHinkley::new(params);
        assert!((0..400).all(|i| !d.update(if i < 200 { 0.0 } else { -10.0 })));
    }
}
