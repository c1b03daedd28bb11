#![no_main]
//! Any text: `parse_bars` returns an instrument or an error, never panics. A parsed instrument
//! keeps its promises (dates strictly increasing, every column one value per date, finite values,
//! positive prices) and is fingerprinted and turned into returns as a run does next.
use libfuzzer_sys::fuzz_target;
use strider_core::data::{fingerprint, parse_bars};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(inst) = parse_bars("fuzz", "fuzz.csv", &text) else {
        return;
    };
    let n = inst.len();
    assert!(n > 0);
    assert!(inst.dates.windows(2).all(|w| w[0] < w[1]));
    let prices = [&inst.open, &inst.high, &inst.low, &inst.adj_close];
    for col in prices.into_iter().flatten().chain([&inst.close]) {
        assert_eq!(col.len(), n);
        assert!(col.iter().all(|v| v.is_finite() && *v > 0.0));
    }
    let volume = inst.volume.as_ref().unwrap();
    assert!(volume.len() == n && volume.iter().all(|v| v.is_finite() && *v >= 0.0));
    for c in &inst.extra {
        assert!(c.values.len() == n && c.values.iter().all(|v| v.is_finite()));
    }
    let _ = inst.returns();
    if let Some(high) = &inst.high {
        let _ = inst.adjusted(high);
    }
    let _ = fingerprint(std::slice::from_ref(&inst));
});
