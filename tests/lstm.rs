//! The LSTM (burn, CPU): it learns the synthetic sine + AR(1) task to its noise floor; its windows
//! never read a later row or another instrument; its predictions at or before a date do not move
//! when anything after that date changes (windows, scaler, target scaling); a seed gives the same
//! model; a saved model predicts exactly as the one that was trained.

use chrono::{Duration, NaiveDate};
use proptest::prelude::*;
use strider_core::dataset::{Dataset, RowMeta};
use strider_core::labels::Task;
use strider_core::model::lstm::sequences::{SequenceIndex, validation_tail};
use strider_core::model::lstm::synthetic::{NOISE_FLOOR_MSE, anchor_spec, sine_ar};
use strider_core::model::lstm::train::{
    Loss, Optimizer, Samples, Schedule, TrainSpec, block_on, predict_async, train_async,
};
use strider_core::model::lstm::{FittedLstm, LstmParams, net::NetShape};
use strider_core::model::{Fit, FitContext, Predict};

fn mse(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(p, y)| (f64::from(*p) - f64::from(*y)).powi(2))
        .sum::<f64>()
        / a.len() as f64
}

#[test]
fn learns_sine_ar_to_its_noise_floor() {
    let (x, y) = sine_ar(2000, 32, 42);
    let (xv, yv) = sine_ar(400, 32, 7);
    let (xt, yt) = sine_ar(1000, 32, 99);
    let spec = TrainSpec {
        shape: NetShape {
            inputs: 8,
            hidden: 32,
            layers: 1,
        },
        epochs: 30,
        batch_size: 64,
        learning_rate: 1e-2,
        optimizer: Optimizer::Adam,
        weight_decay: 0.0,
        schedule: Schedule::Cosine,
        warmup_epochs: 0,
        clip_norm: Some(1.0),
        patience: 0,
        dropout: 0.0,
        loss: Loss::Mse,
        seed: 1,
        deterministic: true,
    };
    let device = burn::tensor::Device::flex();
    let mut epochs = Vec::new();
    // The CPU default: the fused engine (the burn engine is checked against it below).
    let trained = strider_core::model::lstm::fused::train(
        &device,
        &spec,
        &Samples { x: &x, y: &y },
        Some(&Samples { x: &xv, y: &yv }),
        &mut |e| epochs.push(e.clone()),
    );
    assert!(!epochs.is_empty() && epochs.len() == trained.history.len());
    let first = epochs[0].train_loss;
    let last = epochs.last().unwrap().train_loss;
    assert!(last < first / 3.0, "train loss {first} -> {last}");
    let pred = block_on(predict_async(&trained.net, &xt, 256, &device));
    let test = mse(&pred, &yt);
    let baseline = {
        let m = yt.iter().map(|v| f64::from(*v)).sum::<f64>() / yt.len() as f64;
        yt.iter().map(|v| (f64::from(*v) - m).powi(2)).sum::<f64>() / yt.len() as f64
    };
    eprintln!(
        "held-out MSE {test:.5} (noise floor {NOISE_FLOOR_MSE}, predict-the-mean {baseline:.4}); epochs {}",
        epochs.len()
    );
    assert!(
        test < NOISE_FLOOR_MSE * 1.25,
        "held-out MSE {test} is not near the noise floor {NOISE_FLOOR_MSE}"
    );
    assert!(
        test > NOISE_FLOOR_MSE * 0.8,
        "held-out MSE {test} is below the noise floor: leak?"
    );
}

/// A dataset of `n_inst` instruments whose bars start on different dates, with optional missing
/// bars (gaps), features `x = f(instrument, bar)` and a 1-step label.
fn toy(n_inst: usize, bars: usize, gaps: &[(usize, usize)], seed: u64) -> Dataset {
    let start = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
    let mut entries = Vec::new(); // (time, instrument, bar)
    for i in 0..n_inst {
        for b in 0..bars {
            if gaps.contains(&(i, b)) {
                continue;
            }
            entries.push((b + 3 * i, i, b));
        }
    }
    entries.sort_unstable();
    let max_time = entries.iter().map(|e| e.0).max().unwrap();
    let calendar: Vec<NaiveDate> = (0..=max_time)
        .map(|t| start + Duration::days(t as i64))
        .collect();
    let mut x = Vec::new();
    let mut y = Vec::new();
    let mut rows = Vec::new();
    for &(time, i, b) in &entries {
        let phase = (seed % 97) as f64 + i as f64;
        let v = |t: f64| (0.3 * t + phase).sin();
        x.extend([v(b as f64), v(b as f64 - 1.0), i as f64]);
        y.push(v(b as f64 + 1.0));
        rows.push(RowMeta {
            instrument: i,
            bar: b,
            time,
            label_end: time + 1,
        });
    }
    Dataset {
        feature_names: vec!["v".into(), "v_lag".into(), "inst".into()],
        x,
        forward_return: y.clone(),
        y,
        rows,
        instruments: (0..n_inst).map(|i| format!("i{i}")).collect(),
        calendar,
        task: Task::Regression,
        drops: Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn windows_never_read_a_later_row_or_another_instrument(
        n_inst in 1usize..4,
        bars in 5usize..60,
        window in 1usize..12,
        gaps in prop::collection::vec((0usize..4, 0usize..60), 0..6),
    ) {
        let data = toy(n_inst, bars, &gaps, 0);
        let index = SequenceIndex::new(&data);
        for r in 0..data.rows.len() {
            let me = data.rows[r];
            let w = index.window(&data, r, window);
            prop_assert_eq!(w.len(), window);
            prop_assert_eq!(w[window - 1], Some(r));
            let mut seen_pad = false;
            for (step, cell) in w.iter().enumerate().rev() {
                match cell {
                    Some(o) => {
                        prop_assert!(!seen_pad, "a row before a padding cell");
                        let other = data.rows[*o];
                        prop_assert_eq!(other.instrument, me.instrument);
                        prop_assert!(other.time <= me.time, "window of row {} reads a later date", r);
                        // Consecutive bars, ending at the sample's own bar.
                        prop_assert_eq!(other.bar + (window - 1 - step), me.bar);
                    }
                    None => seen_pad = true,
                }
            }
        }
    }
}

fn small_params() -> LstmParams {
    LstmParams {
        window: 6,
        hidden: 8,
        epochs: 4,
        batch_size: 32,
        learning_rate: 1e-2,
        ..LstmParams::default()
    }
}

fn fit(params: &LstmParams, data: &Dataset, rows: &[usize], seed: u64) -> FittedLstm {
    let mut events = Vec::new();
    let mut sink = |e| events.push(e);
    let mut ctx = FitContext {
        seed,
        on_event: &mut sink,
        native_gbdt: None,
    };
    let m = params.fit(data, rows, &mut ctx).unwrap();
    assert!(
        events
            .iter()
            .any(|e: &strider_core::model::TrainEvent| e.name == "validation_loss")
    );
    m
}

#[test]
fn predictions_up_to_a_date_ignore_everything_after_it() {
    let data = toy(2, 160, &[(1, 40)], 3);
    let cut = 120; // training rows and predicted rows are dated <= cut
    let train: Vec<usize> = (0..data.rows.len())
        .filter(|&r| data.rows[r].time < 100)
        .collect();
    let test: Vec<usize> = (0..data.rows.len())
        .filter(|&r| (100..=cut).contains(&data.rows[r].time))
        .collect();
    let mut later = data.clone();
    let k = later.n_features();
    for r in 0..later.rows.len() {
        if later.rows[r].time > cut {
            for j in 0..k {
                later.x[r * k + j] = 1e3 * (j as f64 + 1.0);
            }
            later.y[r] = -50.0;
        }
    }
    let params = small_params();
    let a = fit(&params, &data, &train, 11)
        .predict(&data, &test)
        .unwrap();
    let b = fit(&params, &later, &train, 11)
        .predict(&later, &test)
        .unwrap();
    assert_eq!(
        a, b,
        "a change after the cut moved a prediction at or before it"
    );
    // ... while a change inside the windows does move them (the check can fail).
    let mut inside = data.clone();
    for r in &test {
        inside.x[r * k] += 1.0;
    }
    let c = fit(&params, &inside, &train, 11)
        .predict(&inside, &test)
        .unwrap();
    assert_ne!(a, c);
}

#[test]
fn same_seed_same_model_and_a_saved_model_predicts_the_same() {
    let data = toy(3, 120, &[], 5);
    let rows: Vec<usize> = (0..data.rows.len())
        .filter(|&r| data.rows[r].time < 90)
        .collect();
    let test: Vec<usize> = (0..data.rows.len())
        .filter(|&r| data.rows[r].time >= 90)
        .collect();
    let params = LstmParams {
        layers: 2,
        dropout: 0.2,
        ..small_params()
    };
    let m1 = fit(&params, &data, &rows, 9);
    let m2 = fit(&params, &data, &rows, 9);
    let p1 = m1.predict(&data, &test).unwrap();
    assert_eq!(p1, m2.predict(&data, &test).unwrap());
    assert_eq!(m1.history, m2.history);
    let m3 = fit(&params, &data, &rows, 10);
    assert_ne!(
        p1,
        m3.predict(&data, &test).unwrap(),
        "the seed changes nothing"
    );

    let files = m1.artifacts();
    let meta: strider_core::model::lstm::LstmMeta =
        serde_json::from_slice(&files.iter().find(|f| f.0 == "lstm.json").unwrap().1).unwrap();
    let weights = &files.iter().find(|f| f.0 == "lstm.bpk").unwrap().1;
    let loaded = FittedLstm::load(&meta, weights, &burn::tensor::Device::flex()).unwrap();
    assert_eq!(p1, loaded.predict(&data, &test).unwrap());
    assert!(
        FittedLstm::load(
            &meta,
            &weights[..weights.len() / 2],
            &burn::tensor::Device::flex()
        )
        .is_err()
    );
}

#[test]
fn validation_tail_is_the_latest_dates_and_purged() {
    let mut data = toy(2, 100, &[], 1);
    // Labels that end 3 dates later: fit rows must end before the tail starts.
    for r in &mut data.rows {
        r.label_end = r.time + 3;
    }
    let rows: Vec<usize> = (0..data.rows.len()).collect();
    let (fit, val) = validation_tail(&data, &rows, 0.2);
    let t0 = val.iter().map(|&r| data.rows[r].time).min().unwrap();
    assert!(fit.iter().all(|&r| data.rows[r].label_end <= t0));
    assert!(fit.iter().all(|&r| data.rows[r].time < t0));
    assert!(val.iter().all(|&r| data.rows[r].time >= t0));
    let times: std::collections::BTreeSet<usize> = data.rows.iter().map(|r| r.time).collect();
    let n_val_times = times.iter().filter(|&&t| t >= t0).count();
    assert_eq!(n_val_times, (times.len() as f64 * 0.2).round() as usize);
    // Purged: the rows of the 2 dates before the tail (labels ending inside it) are in neither set.
    assert_eq!(rows.len() - fit.len() - val.len(), 2 * 2);
}

/// The fused CPU engine's hand-written back-propagation equals burn's autodiff on the same
/// network, batch and dropout masks (2 layers, dropout, both losses), with the exact kernel and
/// with the FMA kernel of `deterministic = false`.
#[test]
fn fused_gradients_equal_burn_autodiff() {
    use strider_core::model::lstm::kernels::Kernel;
    fused_gradients_equal_burn_autodiff_with(Kernel::Exact);
    fused_gradients_equal_burn_autodiff_with(Kernel::Fused);
}

fn fused_gradients_equal_burn_autodiff_with(kernel: strider_core::model::lstm::kernels::Kernel) {
    use rand::SeedableRng;
    use strider_core::model::lstm::bptt::{Batch, Workspace, loss_and_gradients_in};
    use strider_core::model::lstm::fused::{FlatMasks, FlatParams};
    use strider_core::model::lstm::net::DropoutMasks;
    use strider_core::model::lstm::train::loss_of;

    let shape = NetShape {
        inputs: 8,
        hidden: 12,
        layers: 2,
    };
    let (x, y) = sine_ar(24, 7, 3);
    for loss in [Loss::Mse, Loss::Bce] {
        let y: Vec<f32> = match loss {
            Loss::Mse => y.clone(),
            Loss::Bce => y.iter().map(|v| f32::from(*v > 0.0)).collect(),
        };
        let p = FlatParams::from_values(shape, 17);
        let mut g = p.zeros_like();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let masks = FlatMasks::draw(&mut rng, 0.3, shape, x.n, x.window);
        let batch = Batch {
            x: &x.x,
            y: &y,
            window: x.window,
        };
        let mut ws = Workspace::new(kernel);
        let fused_loss = loss_and_gradients_in(&p, batch, loss, Some(&masks), &mut g, &mut ws);

        let device = burn::tensor::Device::flex().autodiff();
        let net = p.to_net(&device);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let bm = DropoutMasks::draw(&mut rng, 0.3, shape, x.n, x.window, &device);
        let xt = burn::tensor::Tensor::<3>::from_data(
            burn::tensor::TensorData::new(x.x.clone(), [x.n, x.window, x.features]),
            &device,
        );
        let yt = burn::tensor::Tensor::<1>::from_data(
            burn::tensor::TensorData::new(y.clone(), [x.n]),
            &device,
        );
        let l = loss_of(loss, net.forward(xt, Some(&bm)), yt);
        let burn_loss = f64::from(l.clone().into_scalar::<f32>());
        let grads = l.backward();
        assert!(
            (fused_loss - burn_loss).abs() < 1e-5 * burn_loss.abs().max(1.0),
            "{loss:?}: loss {fused_loss} vs {burn_loss}"
        );
        let read = |t: Option<burn::tensor::Tensor<2>>| {
            t.unwrap().into_data().try_to_vec::<f32>().unwrap()
        };
        let read1 = |t: Option<burn::tensor::Tensor<1>>| {
            t.unwrap().into_data().try_to_vec::<f32>().unwrap()
        };
        let mut pairs: Vec<(String, Vec<f32>, Vec<f32>)> = Vec::new();
        for (li, layer) in net.layers.iter().enumerate() {
            pairs.push((
                format!("{li}.w_ih"),
                g.layers[li][0].clone(),
                read(layer.w_ih.val().grad(&grads)),
            ));
            pairs.push((
                format!("{li}.w_hh"),
                g.layers[li][1].clone(),
                read(layer.w_hh.val().grad(&grads)),
            ));
            pairs.push((
                format!("{li}.bias"),
                g.layers[li][2].clone(),
                read1(layer.bias.val().grad(&grads)),
            ));
        }
        pairs.push((
            "head_w".into(),
            g.head_w.clone(),
            read(net.head_w.val().grad(&grads)),
        ));
        pairs.push((
            "head_b".into(),
            vec![g.head_b],
            read1(net.head_b.val().grad(&grads)),
        ));
        for (name, a, b) in pairs {
            assert_eq!(a.len(), b.len(), "{name}");
            let scale = b.iter().map(|v| v.abs()).fold(1e-3f32, f32::max);
            let worst = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            assert!(
                worst < 2e-4 * scale,
                "{kernel:?} {loss:?} {name}: max |fused - burn| = {worst} (scale {scale})"
            );
        }
    }
}

/// Training keeps one workspace across batches of different sizes (the last batch of an epoch is
/// smaller): reusing it gives the same bits as a fresh one, for every batch, layer and mask.
#[test]
fn a_reused_workspace_gives_the_bits_of_a_fresh_one() {
    use rand::SeedableRng;
    use strider_core::model::lstm::bptt::{Batch, Workspace, loss_and_gradients_in};
    use strider_core::model::lstm::fused::{FlatMasks, FlatParams};
    use strider_core::model::lstm::kernels::Kernel;

    let shape = NetShape {
        inputs: 8,
        hidden: 12,
        layers: 3,
    };
    let (x, y) = sine_ar(24, 7, 3);
    let p = FlatParams::from_values(shape, 17);
    let per = x.window * x.features;
    let mut reused = Workspace::new(Kernel::Exact);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    for (n, loss) in [
        (24, Loss::Mse),
        (5, Loss::Bce),
        (24, Loss::Mse),
        (1, Loss::Mse),
    ] {
        let masks = FlatMasks::draw(&mut rng, 0.2, shape, n, x.window);
        let y: Vec<f32> = match loss {
            Loss::Mse => y[..n].to_vec(),
            Loss::Bce => y[..n].iter().map(|v| f32::from(*v > 0.0)).collect(),
        };
        let batch = Batch {
            x: &x.x[..n * per],
            y: &y,
            window: x.window,
        };
        let mut g_reused = p.zeros_like();
        let mut g_fresh = p.zeros_like();
        let l_reused =
            loss_and_gradients_in(&p, batch, loss, Some(&masks), &mut g_reused, &mut reused);
        let mut fresh = Workspace::new(Kernel::Exact);
        let l_fresh =
            loss_and_gradients_in(&p, batch, loss, Some(&masks), &mut g_fresh, &mut fresh);
        assert_eq!(l_reused.to_bits(), l_fresh.to_bits(), "batch of {n}");
        assert_eq!(g_reused, g_fresh, "batch of {n}");
    }
}

/// Both engines learn the task; the fused engine is the CPU default.
#[test]
fn burn_engine_also_learns_a_small_task() {
    let (x, y) = sine_ar(400, 16, 42);
    let (xt, yt) = sine_ar(300, 16, 99);
    // The benchmark's settings (Adam at 1e-2, MSE, nothing else), on a smaller net.
    let spec = TrainSpec {
        shape: NetShape {
            inputs: 8,
            hidden: 16,
            layers: 1,
        },
        batch_size: 32,
        seed: 4,
        ..anchor_spec(12)
    };
    let device = burn::tensor::Device::flex();
    let trained = block_on(train_async(
        &device,
        &spec,
        &Samples { x: &x, y: &y },
        None,
        &mut |_| {},
    ));
    let burn_mse = mse(
        &block_on(predict_async(&trained.net, &xt, 256, &device)),
        &yt,
    );
    let fused = strider_core::model::lstm::fused::train(
        &device,
        &spec,
        &Samples { x: &x, y: &y },
        None,
        &mut |_| {},
    );
    let fused_mse = mse(&block_on(predict_async(&fused.net, &xt, 256, &device)), &yt);
    eprintln!("12 epochs on 400 sequences: burn {burn_mse:.4}, fused {fused_mse:.4}");
    assert!(
        burn_mse < 0.05 && fused_mse < 0.05,
        "burn {burn_mse}, fused {fused_mse}"
    );
}

/// `deterministic = false` (the FMA kernel, where the CPU has FMA) trains the same network to
/// float precision: a few epochs end within 0.1% of the exact kernel's loss, and its predictions
/// (always the exact kernel) differ only by the weights' rounding.
#[test]
fn the_fma_path_trains_what_the_exact_path_trains() {
    use strider_core::model::lstm::kernels::Kernel;
    // Whether the FMA kernel runs depends on the dispatch cap another test lowers.
    let _cap = CPU_CAP.lock().unwrap_or_else(|e| e.into_inner());
    let (x, y) = sine_ar(300, 16, 42);
    let base = TrainSpec {
        shape: NetShape {
            inputs: 8,
            hidden: 16,
            layers: 2,
        },
        batch_size: 32,
        seed: 4,
        ..anchor_spec(4)
    };
    let fast = TrainSpec {
        deterministic: false,
        ..base.clone()
    };
    let device = burn::tensor::Device::flex();
    let samples = Samples { x: &x, y: &y };
    let train = |spec: &TrainSpec| {
        strider_core::model::lstm::fused::train(&device, spec, &samples, None, &mut |_| {})
    };
    let (exact, fused) = (train(&base), train(&fast));
    let (le, lf) = (
        exact.history.last().unwrap().train_loss,
        fused.history.last().unwrap().train_loss,
    );
    assert!((le - lf).abs() < 1e-3 * le, "exact {le} vs fma {lf}");
    #[cfg(target_arch = "x86_64")]
    if strider_base::cpu::avx2() {
        assert_eq!(Kernel::for_training(false), Kernel::Fused);
        // Different roundings, so not the same bits: the FMA path really ran.
        assert_ne!(le.to_bits(), lf.to_bits());
    }
    assert_eq!(Kernel::for_training(true), Kernel::Exact);
}

/// Held while a test lowers the CPU dispatch cap or depends on it.
static CPU_CAP: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The exact kernel's bits are pinned: two small trainings (the anchor network; and two layers
/// with dropout, AdamW, clipping and a hidden size no tile divides; both with a short last
/// batch, so a workspace sized for a full batch is reused for it) end on the losses the engine
/// gave before its workspace and tiling were reworked (and the browser's wasm gives), on every
/// CPU level the dispatch may pick. (Small, because CI's coverage build is about ten times
/// slower.)
#[test]
fn the_exact_kernel_trains_the_pinned_bits() {
    let device = burn::tensor::Device::flex();
    let last_loss = |n: usize, window: usize, seed: u64, spec: &TrainSpec| {
        let (x, y) = sine_ar(n, window, seed);
        let samples = Samples { x: &x, y: &y };
        let trained =
            strider_core::model::lstm::fused::train(&device, spec, &samples, None, &mut |_| {});
        trained.history.last().unwrap().train_loss
    };
    let two_layers = TrainSpec {
        shape: NetShape {
            inputs: 8,
            hidden: 24,
            layers: 2,
        },
        batch_size: 50,
        dropout: 0.2,
        optimizer: strider_core::model::lstm::train::Optimizer::Adamw,
        weight_decay: 1e-2,
        clip_norm: Some(1.0),
        seed: 3,
        ..anchor_spec(2)
    };
    let losses = || {
        [
            last_loss(250, 32, 42, &anchor_spec(3)),
            last_loss(310, 20, 7, &two_layers),
        ]
    };
    let pinned = [0.084_372_206_492_113_15_f64, 0.174_533_425_719_765_82];
    let bits = |v: [f64; 2]| v.map(f64::to_bits);
    #[cfg(target_arch = "x86_64")]
    {
        let _cap = CPU_CAP.lock().unwrap_or_else(|e| e.into_inner());
        use strider_base::cpu::{Level, cap};
        // Lowering the cap only changes which compiled copy runs, never a result, so the other
        // tests running meanwhile are unaffected.
        for level in [Level::Avx2, Level::Baseline] {
            let before = cap(level);
            let l = losses();
            cap(before);
            assert_eq!(bits(l), bits(pinned), "{level:?}: {l:?}");
        }
    }
    let l = losses();
    assert_eq!(bits(l), bits(pinned), "{l:?}");
}
