#![no_main]
//! Any text: `parse_returns` returns a table or an error, never panics. A parsed table has one
//! value per date in every column (NaN or finite and above -100%), and `strider metrics` runs on
//! it (every metric and statistic, a few bootstrap repetitions) without panicking.
use libfuzzer_sys::fuzz_target;
use strider_core::data::parse_returns;
use strider_core::metrics_report::{MetricsOptions, metrics_report};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(table) = parse_returns("fuzz.csv", &text) else {
        return;
    };
    assert!(!table.columns.is_empty());
    assert!(table.dates.windows(2).all(|w| w[0] < w[1]));
    for (_, col) in &table.columns {
        assert_eq!(col.len(), table.dates.len());
        assert!(
            col.iter()
                .all(|v| v.is_nan() || (v.is_finite() && *v > -1.0))
        );
    }
    // As `strider metrics` does, with and without a benchmark column (the last one).
    let benchmark = (table.columns.len() > 1).then(|| table.columns.last().unwrap().0.clone());
    for benchmark in [None, benchmark] {
        let opts = MetricsOptions {
            benchmark,
            reps: 8,
            ..Default::default()
        };
        let _ = metrics_report(&table, &opts);
    }
});
