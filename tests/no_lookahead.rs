//! No look-ahead, as properties:
//! 1. changing any bar after `t` never changes a feature at or before `t`;
//! 2. a scaler fit on rows up to `t` is unchanged by any change after `t`;
//! 3. in every walk-forward / purged split of a real run, no training label ends inside or after
//!    the test window it is evaluated on (purging holds with the labels' own end indices).

use chrono::{Duration, NaiveDate};
use proptest::prelude::*;
use strider_core::data::{Column, Instrument};
use strider_core::dataset::Dataset;
use strider_core::features::{FeatureSpec, Source, compute_all};
use strider_core::labels::LabelSpec;
use strider_core::model::StandardScaler;
use strider_core::splits::SplitSpec;

fn all_features() -> Vec<FeatureSpec> {
    vec![
        FeatureSpec::Returns {
            periods: vec![1, 3],
        },
        FeatureSpec::LaggedReturns { lags: vec![1, 2] },
        FeatureSpec::RollingMean {
            window: 5,
            of: Source::Return,
        },
        FeatureSpec::RollingStd {
            window: 5,
            of: Source::Price,
        },
        FeatureSpec::Zscore {
            window: 6,
            of: Source::Volume,
        },
        FeatureSpec::Rsi { window: 4 },
        FeatureSpec::Macd {
            fast: 3,
            slow: 6,
            signal: 2,
        },
        FeatureSpec::Atr { window: 4 },
        FeatureSpec::VolumeZscore { window: 5 },
        FeatureSpec::DayOfWeek { onehot: true },
        FeatureSpec::Column {
            name: "extra".into(),
            lag: 1,
        },
    ]
}

/// A random instrument: positive OHLC around a random walk, volume, adj_close, an extra column.
fn instrument(steps: &[(f64, f64, f64, f64)]) -> Instrument {
    let mut price = 100.0;
    let mut out = Instrument {
        name: "x".into(),
        dates: Vec::new(),
        open: Some(Vec::new()),
        high: Some(Vec::new()),
        low: Some(Vec::new()),
        close: Vec::new(),
        volume: Some(Vec::new()),
        adj_close: Some(Vec::new()),
        extra: vec![Column {
            name: "extra".into(),
            values: Vec::new(),
        }],
    };
    let start = NaiveDate::from_ymd_opt(2020, 1, 6).unwrap();
    for (i, &(r, spread, vol, extra)) in steps.iter().enumerate() {
        price *= 1.0 + r;
        out.dates
            .push(start + Duration::days(i as i64 + (i as i64 / 5) * 2));
        out.open
            .as_mut()
            .unwrap()
            .push(price * (1.0 - spread / 2.0));
        out.high.as_mut().unwrap().push(price * (1.0 + spread));
        out.low.as_mut().unwrap().push(price * (1.0 - spread));
        out.close.push(price);
        out.volume.as_mut().unwrap().push(vol);
        out.adj_close.as_mut().unwrap().push(price * 0.5);
        out.extra[0].values.push(extra);
    }
    out
}

fn step() -> impl Strategy<Value = (f64, f64, f64, f64)> {
    (-0.05f64..0.05, 0.0f64..0.03, 1e3f64..1e6, -1.0f64..1.0)
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn future_bars_never_change_past_features_or_scalers(
        base in prop::collection::vec(step(), 60..90),
        future in prop::collection::vec(step(), 60),
        cut_frac in 0.4f64..0.95,
    ) {
        let n = base.len();
        let cut = ((n as f64) * cut_frac) as usize; // bars 0..=cut stay, later ones change
        let mut changed = base.clone();
        changed[cut + 1..].copy_from_slice(&future[..n - cut - 1]);
        let a = instrument(&base);
        let b = instrument(&changed);
        prop_assert_eq!(&a.dates, &b.dates);
        let specs = all_features();
        let fa = compute_all(&specs, &a).unwrap();
        let fb = compute_all(&specs, &b).unwrap();
        for (name, (ca, cb)) in fa.names.iter().zip(fa.columns.iter().zip(&fb.columns)) {
            for t in 0..=cut {
                prop_assert!(same(ca[t], cb[t]), "feature {} changed at row {} (cut {})", name, t, cut);
            }
        }
        // Scaler fit on the dataset rows dated up to the cut.
        let label = LabelSpec::default();
        let da = Dataset::build(std::slice::from_ref(&a), &specs, &label).unwrap();
        let db = Dataset::build(std::slice::from_ref(&b), &specs, &label).unwrap();
        let rows = |d: &Dataset| -> Vec<usize> {
            (0..d.rows.len()).filter(|&i| d.rows[i].bar <= cut).collect()
        };
        let (ra, rb) = (rows(&da), rows(&db));
        prop_assert_eq!(&ra, &rb);
        if !ra.is_empty() {
            let sa = StandardScaler::fit(&da, &ra);
            let sb = StandardScaler::fit(&db, &rb);
            prop_assert_eq!(sa, sb);
        }
    }
}

fn bundled() -> Vec<Instrument> {
    ["AAPL", "MSFT", "IBM"]
        .iter()
        .map(|t| {
            let path = format!("{}/../../examples/data/{t}.csv", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap();
            strider_core::data::parse_bars(t, &path, &text).unwrap()
        })
        .collect()
}

#[test]
fn training_labels_end_before_the_test_window() {
    let inst = bundled();
    for horizon in [1usize, 5] {
        let label = LabelSpec {
            horizon,
            ..Default::default()
        };
        let data =
            Dataset::build(&inst, &[FeatureSpec::Returns { periods: vec![1] }], &label).unwrap();
        let n = data.calendar.len();
        let ends = data.label_end_by_time();
        let specs = [
            SplitSpec::Tss {
                n_splits: 5,
                max_train_size: None,
                test_size: None,
                gap: None,
            },
            SplitSpec::WalkForward {
                train_size: 500,
                test_size: 100,
                step: None,
                gap: None,
                window: Default::default(),
                reduce_test: true,
            },
        ];
        for spec in specs {
            let plan = spec.plan(n, Some(&ends), horizon).unwrap();
            for s in &plan.splits {
                let test_start = s.test[0];
                for &t in &s.train {
                    assert!(
                        ends[t] < test_start,
                        "{spec:?}: train time {t} label ends at {} >= test start {test_start}",
                        ends[t]
                    );
                }
            }
        }
        // Purged k-fold (AFML 7.3): labels of earlier training samples end at or before the
        // test start; later training samples start after the test labels end plus the embargo.
        let embargo = 10;
        let plan = SplitSpec::PurgedKfold {
            n_splits: 6,
            purge: None,
            embargo,
        }
        .plan(n, Some(&ends), horizon)
        .unwrap();
        for s in &plan.splits {
            let (a, b) = (s.test[0], *s.test.last().unwrap());
            let test_end = s.test.iter().map(|&t| ends[t]).max().unwrap();
            for &t in &s.train {
                assert!(
                    t < a || t > b,
                    "purged k-fold: train {t} inside test [{a}, {b}]"
                );
                if t < a {
                    assert!(
                        ends[t] <= a,
                        "train {t} label ends at {} after test start {a}",
                        ends[t]
                    );
                } else {
                    assert!(
                        t >= test_end + embargo,
                        "train {t} within the embargo after {test_end}"
                    );
                }
            }
        }
    }
}
