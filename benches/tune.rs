//! Ask + tell overhead of the tuner with 100 / 500 / 1000 finished trials in the study (TPE,
//! Optuna 5.0 defaults; in-memory storage; the objective's own time excluded). The target is
//! under 0.5 ms per trial at 1000; `benches/reference/tune_vs_optuna.py` prints Optuna's.

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use strider_tune::{
    Direction, Distribution, InMemoryStorage, Outcome, PrunerSpec, SearchSpace, Study, TpeSampler,
};

fn hartmann_space() -> SearchSpace {
    (0..6)
        .map(|i| (format!("x{i}"), Distribution::float(0.0, 1.0)))
        .collect()
}

fn objective(p: &std::collections::BTreeMap<String, serde_json::Value>) -> f64 {
    p.values()
        .map(|v| (v.as_f64().unwrap() - 0.3).powi(2))
        .sum()
}

fn bench(c: &mut Criterion) {
    let space = hartmann_space();
    let sampler = TpeSampler::new(1);
    let mut group = c.benchmark_group("tpe_ask_tell");
    group.sample_size(20);
    for n in [100usize, 500, 1000] {
        let mut storage = InMemoryStorage::default();
        {
            let mut study = Study::open(
                &mut storage,
                "b",
                &[Direction::Minimize],
                &sampler,
                PrunerSpec::None,
            )
            .unwrap();
            for _ in 0..n {
                let t = study.ask(Some(&space)).unwrap();
                let v = objective(&t.params());
                study.tell(t, Outcome::Complete(vec![v])).unwrap();
            }
        }
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            // Every iteration adds trial n+1 to a fresh copy of the n-trial study.
            b.iter_batched(
                || storage.clone(),
                |mut s| {
                    let mut study = Study::open(
                        &mut s,
                        "b",
                        &[Direction::Minimize],
                        &sampler,
                        PrunerSpec::None,
                    )
                    .unwrap();
                    let t = study.ask(Some(&space)).unwrap();
                    let v = objective(&t.params());
                    study.tell(t, Outcome::Complete(vec![v])).unwrap();
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
