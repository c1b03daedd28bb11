#![no_main]
//! Any text: `parse_panel` returns instruments or an error, never panics. Each parsed
//! instrument has at least one bar, strictly increasing dates and positive finite closes; the
//! panel is fingerprinted and turned into returns as a run does next.
use libfuzzer_sys::fuzz_target;
use strider_core::data::{fingerprint, parse_panel};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(panel) = parse_panel("fuzz.csv", &text) else {
        return;
    };
    assert!(!panel.is_empty());
    for inst in &panel {
        assert!(!inst.is_empty());
        assert_eq!(inst.close.len(), inst.len());
        assert!(inst.dates.windows(2).all(|w| w[0] < w[1]));
        assert!(inst.close.iter().all(|v| v.is_finite() && *v > 0.0));
        let _ = inst.returns();
    }
    let _ = fingerprint(&panel);
});
