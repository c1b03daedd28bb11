//! Data with planted signals: two instruments of daily bars with a feature column `sig` and
//! twelve pure-noise columns `noise_1..12`.

use std::fmt::Write as _;
use std::path::Path;

pub const BARS: usize = 1500;
pub const NOISE: usize = 12;

/// A small deterministic generator (xorshift + Box-Muller): the test needs no RNG crate.
struct Gauss(u64);

impl Gauss {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn next(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// Two instruments of daily bars with columns `sig` and `noise_1..12`. With `skill`, `sig` on
/// bar t is the return of bar t+1 plus three times as much noise (correlation about 0.3);
/// without, it is noise like the rest.
pub fn write_data(dir: &Path, skill: bool, seed: u64) {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let mut g = Gauss(seed);
    for name in ["aaa", "bbb"] {
        let r: Vec<f64> = (0..=BARS).map(|_| 0.0002 + 0.01 * g.next()).collect();
        let mut text = String::from("date,open,high,low,close,volume,sig");
        for k in 1..=NOISE {
            write!(text, ",noise_{k}").unwrap();
        }
        text.push('\n');
        let mut close = 100.0;
        let mut date = chrono::NaiveDate::from_ymd_opt(2010, 1, 4).unwrap();
        for t in 0..BARS {
            close *= 1.0 + r[t];
            let noise = 0.03 * g.next();
            let sig = if skill { r[t + 1] + noise } else { noise };
            write!(text, "{date},{close},{close},{close},{close},1000,{sig}").unwrap();
            for _ in 0..NOISE {
                write!(text, ",{}", g.next()).unwrap();
            }
            text.push('\n');
            date = date.succ_opt().unwrap();
        }
        std::fs::write(dir.join(format!("data/{name}.csv")), text).unwrap();
    }
}
