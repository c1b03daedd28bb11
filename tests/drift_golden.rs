//! The drift detectors against their references on the same input: scipy's `ks_2samp`, the
//! pinned PSI on numpy's deciles, River 0.26's ADWIN and Page-Hinkley. The inputs are rebuilt
//! here exactly as `tests/golden/drift/make_drift_golden.py` builds them (a 64-bit LCG and plain
//! IEEE arithmetic, plus the bundled example's daily returns), so both sides see the same bits.

use serde_json::Value;
use strider_drift::{DetectorSpec, KsMethod, detections, ks_2samp, psi};

const GOLDEN: &str = include_str!("golden/drift/drift.json");

fn golden() -> Value {
    serde_json::from_str(GOLDEN).unwrap()
}

fn uniforms(seed: u64, n: usize) -> Vec<f64> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / 2f64.powi(53)
        })
        .collect()
}

fn returns(file: &str) -> Vec<f64> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "close").unwrap();
    let closes: Vec<f64> = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
        .collect();
    closes.windows(2).map(|w| w[1] / w[0] - 1.0).collect()
}

fn segment(s: &Value) -> Vec<f64> {
    let n = s["n"].as_u64().unwrap() as usize;
    let seed = s["seed"].as_u64().unwrap();
    let f = |k: &str, d: f64| s.get(k).and_then(Value::as_f64).unwrap_or(d);
    let base: Vec<f64> = match s["gen"].as_str().unwrap() {
        "uniform" => uniforms(seed, n),
        "irwin" => uniforms(seed, 4 * n)
            .chunks(4)
            .map(|u| ((u[0] + u[1]) + u[2]) + u[3] - 2.0)
            .collect(),
        "bernoulli" => uniforms(seed, n)
            .into_iter()
            .map(|u| if u < f("p", 0.0) { 1.0 } else { 0.0 })
            .collect(),
        "grid" => uniforms(seed, n)
            .into_iter()
            .map(|u| (u * f("k", 1.0)).floor() / f("k", 1.0))
            .collect(),
        "returns" => returns(s["file"].as_str().unwrap())
            .into_iter()
            .skip(f("skip", 0.0) as usize)
            .take(n)
            .collect(),
        other => panic!("unknown generator {other}"),
    };
    let (scale, shift) = (f("scale", 1.0), f("shift", 0.0));
    base.into_iter().map(|x| x * scale + shift).collect()
}

fn values(segments: &Value) -> Vec<f64> {
    segments
        .as_array()
        .unwrap()
        .iter()
        .flat_map(segment)
        .collect()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1e-300) || (a - b).abs() <= 1e-15
}

#[test]
fn ks_equals_scipy_ks_2samp_on_both_branches() {
    let g = golden();
    for case in g["ks"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let r = ks_2samp(&values(&case["a"]), &values(&case["b"])).unwrap();
        let want = |k: &str| case[k].as_f64().unwrap();
        assert!(
            close(r.statistic, want("statistic"), 1e-12),
            "{name}: D {} vs scipy {}",
            r.statistic,
            want("statistic")
        );
        assert!(
            (r.pvalue - want("pvalue")).abs() <= 1e-9 * want("pvalue").max(1e-3),
            "{name}: p {} vs scipy {}",
            r.pvalue,
            want("pvalue")
        );
        let method = match case["method"].as_str().unwrap() {
            "exact" => KsMethod::Exact,
            _ => KsMethod::Asymptotic,
        };
        assert_eq!(r.method, method, "{name}");
    }
}

#[test]
fn psi_equals_the_pinned_numpy_binning() {
    let g = golden();
    for case in g["psi"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let reference = values(&case["a"]);
        let edges = strider_drift::psi::decile_edges(&reference).unwrap();
        let want_edges: Vec<f64> = case["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_f64().unwrap())
            .collect();
        assert_eq!(edges, want_edges, "{name}: numpy's deciles, bit for bit");
        let got = psi(&reference, &values(&case["b"])).unwrap();
        let want = case["psi"].as_f64().unwrap();
        assert!(close(got, want, 1e-12), "{name}: PSI {got} vs {want}");
    }
}

fn stream_cases(kind: &str, detector: &str) {
    let g = golden();
    for case in g[kind].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let params: Vec<(String, String)> = case["params"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let text = v.as_str().map(str::to_string).unwrap_or(v.to_string());
                (k.clone(), text)
            })
            .collect();
        let spec = DetectorSpec::parse(detector, &params).unwrap();
        let want: Vec<usize> = case["detections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(
            detections(&spec, &values(&case["stream"])),
            want,
            "{kind}: {name}"
        );
    }
}

#[test]
fn adwin_detects_where_river_does() {
    stream_cases("adwin", "adwin");
}

#[test]
fn page_hinkley_detects_where_river_does() {
    stream_cases("page_hinkley", "page-hinkley");
}

#[test]
fn a_detector_resumed_from_its_saved_state_continues_identically() {
    let g = golden();
    let case = &g["adwin"][3];
    let stream = values(&case["stream"]);
    let spec = DetectorSpec::parse("adwin", &[("clock".into(), "1".into())]).unwrap();
    let whole = detections(&spec, &stream);
    let mut d = spec.start();
    let mut found = Vec::new();
    for (i, &x) in stream.iter().enumerate() {
        // Save and reload the state before every value, as a service committing each step would.
        d = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        if d.update(x) {
            found.push(i);
        }
    }
    assert_eq!(found, whole);
    assert!(!whole.is_empty());
}
