#![no_main]
//! Any text as a `strider drift` table: `parse_table` returns columns or an error, never panics;
//! the table is then compared with itself (PSI, KS) and fed to both stream detectors.
use libfuzzer_sys::fuzz_target;
use strider_app::drift::parse_table;
use strider_core::drift::{DetectorSpec, DriftThresholds, detections, table_drift};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(table) = parse_table("fuzz.csv", &text) else {
        return;
    };
    assert!(!table.columns.is_empty());
    if let Ok(drift) = table_drift(&table.columns, &table.columns, &DriftThresholds::default()) {
        // A table never drifts from itself.
        assert!(!drift.drift);
        for c in drift.columns.values() {
            assert!(c.psi == 0.0 && c.ks_statistic == 0.0, "{c:?}");
        }
    }
    for (_, values) in &table.columns {
        for name in ["adwin", "page-hinkley"] {
            let Ok(spec) = DetectorSpec::parse(name, &[]) else {
                panic!("default {name}");
            };
            let found = detections(&spec, values);
            assert!(found.iter().all(|&i| i < values.len()));
        }
    }
});
