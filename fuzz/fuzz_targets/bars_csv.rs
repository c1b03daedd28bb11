#![no_main]
//! Any text: `parse_bar_file` returns instruments (one, or one per ticker of a long file) or an
//! error, never panics. Each parsed instrument keeps its promises (dates strictly increasing,
//! every column one value per date, finite values, positive prices, high not below low) and is
//! fingerprinted and turned into returns as a run does next.
use libfuzzer_sys::fuzz_target;
use strider_core::data::{Instrument, fingerprint, parse_bar_file};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(file) = parse_bar_file("fuzz", "fuzz.csv", &text) else {
        return;
    };
    assert!(!file.instruments.is_empty());
    for inst in &file.instruments {
        check(inst);
    }
    let _ = fingerprint(&file.instruments);
});

fn check(inst: &Instrument) {
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
    if let (Some(high), Some(low)) = (&inst.high, &inst.low) {
        assert!(high.iter().zip(low).all(|(h, l)| h >= l));
    }
}
