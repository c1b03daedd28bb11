#![no_main]
//! Any input: parsing must return a model or an error, never panic; a parsed model must
//! evaluate (row path, batch path and TreeSHAP) without panicking.
use libfuzzer_sys::fuzz_target;
use strider_gbdt::GbdtModel;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = GbdtModel::parse(&String::from_utf8_lossy(data)) {
        let row: Vec<f64> = (0..m.num_features()).map(|i| [0.5, f64::NAN, -1.0, 3.0, 1e9][i % 5]).collect();
        let _ = m.predict(&row);
        let _ = m.predict_batch(&row, 1);
        let _ = m.contributions(&row);
        let _ = m.write();
    }
});
