#!/usr/bin/env python3
"""Strider's tuner against Optuna 5.0 on the five problems of the anchor benchmark
(shared/anchors/optuna_bench.py, copied here): best value after 25 / 50 / 100 trials over N seeds,
mean and median, with a bootstrap 95% interval of the difference of means (is a gap beyond seed
noise?), then the ask+tell overhead per trial at 100 / 500 / 1000 trials.

    python3 -m venv /tmp/optuna && /tmp/optuna/bin/pip install optuna==5.0.0 cmaes scipy
    cargo build --release -p strider-tune --example tune_bench
    /tmp/optuna/bin/python benches/reference/tune_vs_optuna.py [--seeds 20] [--sampler tpe|cmaes|random]

Both sides run in one process each, single-threaded, ask/tell on in-memory storage, minimising.
"""
import argparse
import json
import math
import os
import random
import subprocess
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

optuna.logging.set_verbosity(optuna.logging.ERROR)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def branin(p):
    x1, x2 = p["x0"], p["x1"]
    a, b, c, r, s, t = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
    return a * (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]], dtype=float)
H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991], [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]], dtype=float)


def hartmann6(p):
    x = np.array([p[f"x{i}"] for i in range(6)])
    return float(-np.sum(H6_ALPHA * np.exp(-np.sum(H6_A * (x - H6_P) ** 2, axis=1))))


def rosenbrock(p):
    x = np.array([p[f"x{i}"] for i in range(10)])
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def ackley(p):
    x = np.array([p[f"x{i}"] for i in range(5)])
    d = len(x)
    return float(-20 * math.exp(-0.2 * math.sqrt(np.sum(x**2) / d)) - math.exp(np.sum(np.cos(2 * math.pi * x)) / d) + 20 + math.e)


SHIFT = {"a": 0.0, "b": 1.0, "c": -1.0, "d": 2.0}
BIAS = {"a": 0.5, "b": 0.0, "c": 1.0, "d": 2.0}


def mixed(p):
    c = p["cat"]
    return (p["x"] - SHIFT[c]) ** 2 + (math.log10(p["lr"]) + 1.0) ** 2 + 0.1 * (p["n"] - 7) ** 2 + BIAS[c]


PROBLEMS = {
    "branin_2d": ({"x0": FloatDistribution(-5.0, 10.0), "x1": FloatDistribution(0.0, 15.0)}, branin),
    "hartmann6_6d": ({f"x{i}": FloatDistribution(0.0, 1.0) for i in range(6)}, hartmann6),
    "rosenbrock_10d": ({f"x{i}": FloatDistribution(-5.0, 10.0) for i in range(10)}, rosenbrock),
    "ackley_5d": ({f"x{i}": FloatDistribution(-32.768, 32.768) for i in range(5)}, ackley),
    "mixed_4d": ({"x": FloatDistribution(-5.0, 5.0), "lr": FloatDistribution(1e-4, 1.0, log=True),
                  "n": IntDistribution(1, 20), "cat": CategoricalDistribution(["a", "b", "c", "d"])}, mixed),
}


def sampler(name, seed):
    return {"tpe": lambda: optuna.samplers.TPESampler(seed=seed),
            "cmaes": lambda: optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False),
            "random": lambda: optuna.samplers.RandomSampler(seed=seed)}[name]()


def optuna_curve(name, problem, seed, n):
    space, f = PROBLEMS[problem]
    study = optuna.create_study(sampler=sampler(name, seed), direction="minimize")
    best, curve, secs = math.inf, [], []
    for _ in range(n):
        t0 = time.process_time()
        trial = study.ask(space)
        dt = time.process_time() - t0
        v = f(trial.params)
        t1 = time.process_time()
        study.tell(trial, v)
        secs.append(dt + time.process_time() - t1)
        best = min(best, v)
        curve.append(best)
    return curve, secs


def strider(mode, seeds, name):
    exe = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release/examples/tune_bench")
    out = subprocess.run([exe, mode, str(seeds), name], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["results"]


def boot_ci(a, b, reps=4000, rng=random.Random(0)):
    """95% bootstrap interval of mean(a) - mean(b)."""
    d = []
    for _ in range(reps):
        ra = [rng.choice(a) for _ in a]
        rb = [rng.choice(b) for _ in b]
        d.append(sum(ra) / len(ra) - sum(rb) / len(rb))
    d.sort()
    return d[int(0.025 * reps)], d[int(0.975 * reps)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--sampler", default="tpe")
    args = ap.parse_args()
    ours = strider("quality", args.seeds, args.sampler)
    print(f"## quality: {args.sampler}, {args.seeds} seeds, best-so-far (mean / median), minimising\n")
    print("| problem | @ | Optuna 5.0 | Strider | Strider - Optuna (95% CI of means) | verdict |")
    print("|---|---|---|---|---|---|")
    for problem in PROBLEMS:
        curves = [optuna_curve(args.sampler, problem, s, 100)[0] for s in range(args.seeds)]
        for at in (25, 50, 100):
            o = [c[at - 1] for c in curves]
            s = ours[problem][str(at)]
            per_seed = ours[problem]["per_seed_100"] if at == 100 else None
            cell = f"{np.mean(o):.4g} / {np.median(o):.4g}"
            mine = f"{s['mean']:.4g} / {s['median']:.4g}"
            if per_seed is not None:
                lo, hi = boot_ci(per_seed, o)
                verdict = "better" if hi < 0 else ("worse" if lo > 0 else "same within seed noise")
                ci = f"[{lo:.3g}, {hi:.3g}]"
            else:
                ci, verdict = "", ""
            print(f"| {problem} | {at} | {cell} | {mine} | {ci} | {verdict} |")
    print("\nThe verdict is a 95% bootstrap interval on each of five problems: at 20 seeds one of them")
    print("can land outside by chance. Rerun with --seeds 100 before reading a gap as real.")
    print(f"\n## ask+tell overhead per trial ({args.sampler}), CPU ms, mean of the 10 trials ending at n\n")
    print("| problem | n | Optuna 5.0 | Strider | ratio |")
    print("|---|---|---|---|---|")
    mine = strider("overhead", 1, args.sampler)
    for problem in ("hartmann6_6d", "mixed_4d"):
        _, secs = optuna_curve(args.sampler, problem, 0, 1000)
        for n in (100, 500, 1000):
            o = sum(secs[n - 10:n]) / 10 * 1e3
            m = mine[problem][str(n)]
            print(f"| {problem} | {n} | {o:.3f} | {m:.3f} | {o / m:.1f}x faster |")


if __name__ == "__main__":
    main()
