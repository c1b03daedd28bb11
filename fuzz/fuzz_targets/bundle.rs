#![no_main]
//! A deployment bundle from an untrusted disk or registry: one of its files replaced by the input
//! (the first byte picks which: the manifest or a weight file of a ridge, tree, LSTM or stacked
//! ensemble bundle from fuzz/bundles/). The manifest's SHA-256 of a replaced weight file is
//! updated, so the bytes reach the model loaders instead of stopping at the hash check. `Bundle::load`, its self-check
//! and scoring sixty bars return values or errors, never panic or allocate without bound.
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use strider_core::bundle::{Bundle, BundleFiles, Selection, sha256_hex};
use strider_core::data::parse_bars;

type Files = &'static [(&'static str, &'static [u8])];

const RIDGE: Files = &[
    ("bundle.json", include_bytes!("../bundles/ridge/bundle.json")),
    ("ridge.json", include_bytes!("../bundles/ridge/ridge.json")),
];
const TREES: Files = &[
    ("bundle.json", include_bytes!("../bundles/trees/bundle.json")),
    ("model.txt", include_bytes!("../bundles/trees/model.txt")),
];
const LSTM: Files = &[
    ("bundle.json", include_bytes!("../bundles/lstm/bundle.json")),
    ("lstm.json", include_bytes!("../bundles/lstm/lstm.json")),
    ("lstm.bpk", include_bytes!("../bundles/lstm/lstm.bpk")),
];
const ENSEMBLE: Files = &[
    ("bundle.json", include_bytes!("../bundles/ensemble/bundle.json")),
    ("ensemble.json", include_bytes!("../bundles/ensemble/ensemble.json")),
    ("member-0-ridge.json", include_bytes!("../bundles/ensemble/member-0-ridge.json")),
    ("member-1-ridge.json", include_bytes!("../bundles/ensemble/member-1-ridge.json")),
    ("meta-ridge.json", include_bytes!("../bundles/ensemble/meta-ridge.json")),
];
const BARS: &str = include_str!("../bundles/bars.csv");

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let (base, file) = match pick % 10 {
        0 => (RIDGE, "bundle.json"),
        1 => (RIDGE, "ridge.json"),
        2 => (TREES, "bundle.json"),
        3 => (TREES, "model.txt"),
        4 => (LSTM, "bundle.json"),
        5 => (LSTM, "lstm.json"),
        6 => (LSTM, "lstm.bpk"),
        7 => (ENSEMBLE, "bundle.json"),
        8 => (ENSEMBLE, "ensemble.json"),
        _ => (ENSEMBLE, "meta-ridge.json"),
    };
    let mut files: BundleFiles = base
        .iter()
        .map(|(n, b)| (n.to_string(), b.to_vec()))
        .collect();
    files.insert(file.to_string(), bytes.to_vec());
    if file != "bundle.json"
        && let Some(manifest) = files.get("bundle.json")
        && let Ok(mut m) = serde_json::from_slice::<Value>(manifest)
    {
        m["weights"][file] = Value::from(sha256_hex(bytes));
        if let Ok(json) = serde_json::to_vec(&m) {
            files.insert("bundle.json".into(), json);
        }
    }
    let Ok(bundle) = Bundle::load(&files) else {
        return;
    };
    let _ = bundle.check();
    let Ok(bars) = parse_bars("AAPL", "bars.csv", BARS) else {
        return;
    };
    for selection in [Selection::Latest, Selection::Since(chrono::NaiveDate::MIN)] {
        if let Ok(out) = bundle.predict(std::slice::from_ref(&bars), selection, None) {
            assert!(!out.predictions.is_empty());
        }
    }
});
