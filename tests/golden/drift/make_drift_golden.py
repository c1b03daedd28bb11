"""Golden values for Strider's drift detectors from the reference tools:
scipy.stats.ks_2samp (method="auto"), the pinned PSI on numpy.quantile deciles, and River's
ADWIN and PageHinkley. Inputs are generated the same way by tests/drift_golden.rs: a 64-bit LCG
and plain IEEE arithmetic (no transcendental functions), so both sides see the very same bits,
plus daily returns of the bundled example's closes.

    python3 -m venv v && v/bin/pip install numpy==2.4.6 scipy==1.17.1 river==0.26.1
    v/bin/python tests/golden/drift/make_drift_golden.py   # from the repository root
"""
import csv
import json
import math
import sys

import numpy as np
import river
import scipy
from river import drift
from scipy import stats

M64 = 2**64


def uniforms(seed, n):
    state, out = seed, []
    for _ in range(n):
        state = (state * 6364136223846793005 + 1442695040888963407) % M64
        out.append((state >> 11) / 2.0**53)
    return out


def segment(s):
    n, seed = s["n"], s["seed"]
    gen = s["gen"]
    if gen == "uniform":
        base = uniforms(seed, n)
    elif gen == "irwin":  # sum of four uniforms, centred: nearly normal, variance 1/3
        u = uniforms(seed, 4 * n)
        base = [((u[4 * i] + u[4 * i + 1]) + u[4 * i + 2]) + u[4 * i + 3] - 2.0 for i in range(n)]
    elif gen == "bernoulli":
        base = [1.0 if u < s["p"] else 0.0 for u in uniforms(seed, n)]
    elif gen == "grid":  # k levels: heavy ties
        k = s["k"]
        base = [math.floor(u * k) / k for u in uniforms(seed, n)]
    elif gen == "returns":
        with open(s["file"]) as f:
            closes = [float(r["close"]) for r in csv.DictReader(f)]
        base = [closes[i] / closes[i - 1] - 1.0 for i in range(1, len(closes))][s.get("skip", 0):][:n]
    else:
        raise ValueError(gen)
    return [x * s.get("scale", 1.0) + s.get("shift", 0.0) for x in base]


def values(segments):
    return [x for s in segments for x in segment(s)]


def seg(gen, n, seed=1, **kw):
    return dict(gen=gen, n=n, seed=seed, **kw)


RET = "examples/data/AAPL.csv"

KS_CASES = [
    ("equal sizes, no shift", [seg("irwin", 5, 1)], [seg("irwin", 5, 2)]),
    ("equal sizes, shifted", [seg("irwin", 40, 3)], [seg("irwin", 40, 4, shift=0.5)]),
    ("7 vs 13", [seg("uniform", 7, 5)], [seg("uniform", 13, 6, shift=0.25)]),
    ("ties on a grid", [seg("grid", 20, 7, k=4)], [seg("grid", 30, 8, k=4, shift=0.25)]),
    ("bernoulli", [seg("bernoulli", 60, 9, p=0.3)], [seg("bernoulli", 90, 10, p=0.5)]),
    ("100 vs 100", [seg("irwin", 100, 11)], [seg("irwin", 100, 12, scale=1.5)]),
    ("300 vs 500", [seg("irwin", 300, 13)], [seg("irwin", 500, 14, shift=0.125)]),
    ("1000 vs 999", [seg("irwin", 1000, 15)], [seg("irwin", 999, 16)]),
    ("identical", [seg("irwin", 50, 17)], [seg("irwin", 50, 17)]),
    ("disjoint", [seg("uniform", 30, 18)], [seg("uniform", 45, 19, shift=2.0)]),
    ("3000 vs 10000, exact", [seg("irwin", 3000, 20)], [seg("irwin", 10000, 21, shift=0.03125)]),
    ("10001 vs 50, asymptotic", [seg("irwin", 10001, 22)], [seg("irwin", 50, 23, shift=0.25)]),
    ("12000 vs 11000, asymptotic", [seg("irwin", 12000, 24)], [seg("irwin", 11000, 25, shift=0.015625)]),
    ("20000 vs 150, asymptotic, no shift", [seg("irwin", 20000, 26)], [seg("irwin", 150, 27)]),
    ("returns, two halves", [seg("returns", 400, 0, file=RET)], [seg("returns", 400, 0, file=RET, skip=400)]),
]

PSI_CASES = [
    ("same distribution", [seg("irwin", 500, 31)], [seg("irwin", 500, 32)]),
    ("shifted", [seg("irwin", 500, 33)], [seg("irwin", 300, 34, shift=0.3)]),
    ("wider", [seg("irwin", 800, 35)], [seg("irwin", 200, 36, scale=2.0)]),
    ("ties on a grid", [seg("grid", 400, 37, k=8)], [seg("grid", 250, 38, k=8, shift=0.125)]),
    ("five reference values", [seg("uniform", 5, 39)], [seg("uniform", 60, 40)]),
    ("everything beyond the reference", [seg("uniform", 100, 41)], [seg("uniform", 100, 42, shift=3.0)]),
    ("returns, two halves", [seg("returns", 400, 0, file=RET)], [seg("returns", 400, 0, file=RET, skip=400)]),
]

ADWIN_CASES = [
    ("mean shift", {}, [seg("irwin", 1000, 51), seg("irwin", 1000, 52, shift=0.5)]),
    ("error rate rises", {}, [seg("bernoulli", 1500, 53, p=0.2), seg("bernoulli", 1500, 54, p=0.45)]),
    ("no change", {}, [seg("irwin", 3000, 55)]),
    ("two shifts, clock 1", {"clock": 1, "delta": 0.01},
     [seg("irwin", 600, 56), seg("irwin", 600, 57, shift=1.0), seg("irwin", 600, 58, shift=-0.5)]),
    ("long windows", {"min_window_length": 20, "grace_period": 100, "max_buckets": 3},
     [seg("irwin", 2500, 59), seg("irwin", 2500, 60, scale=1.0, shift=0.25)]),
    ("returns x100", {}, [seg("returns", 2000, 0, file=RET, scale=100.0)]),
    ("squared-error-like", {"delta": 0.05},
     [seg("uniform", 1200, 61, scale=2.0), seg("uniform", 1200, 62, scale=3.0)]),
]

PH_CASES = [
    ("jump up", {}, [seg("irwin", 500, 71), seg("irwin", 500, 72, shift=3.0)]),
    ("jump down", {}, [seg("irwin", 500, 73, scale=10.0), seg("irwin", 500, 74, scale=10.0, shift=-6.0)]),
    ("no change", {}, [seg("irwin", 2000, 75, scale=5.0)]),
    ("mode up ignores a fall", {"mode": "up"},
     [seg("irwin", 500, 76), seg("irwin", 500, 77, shift=-3.0), seg("irwin", 500, 78, shift=3.0)]),
    ("mode down, small threshold", {"mode": "down", "threshold": 5.0, "delta": 0.01},
     [seg("irwin", 800, 79), seg("irwin", 800, 80, shift=-0.5)]),
    ("fast forgetting", {"alpha": 0.99, "threshold": 8.0, "min_instances": 10},
     [seg("irwin", 700, 81), seg("irwin", 700, 82, shift=1.0)]),
    ("returns x100, threshold 20", {"threshold": 20.0}, [seg("returns", 2000, 0, file=RET, scale=100.0)]),
]


def ks_case(name, a, b):
    x, y = values(a), values(b)
    r = stats.ks_2samp(x, y)
    method = "exact" if max(len(x), len(y)) <= 10000 else "asymptotic"
    return dict(name=name, a=a, b=b, statistic=float(r.statistic), pvalue=float(r.pvalue), method=method)


def psi_reference(ref, cur):
    ref, cur = np.asarray(ref), np.asarray(cur)
    edges = np.quantile(ref, np.arange(1, 10) / 10)  # linear method
    def shares(x):
        counts = np.bincount(np.searchsorted(edges, x, side="right"), minlength=10)
        return [max(c / len(x), 1e-4) for c in counts]
    r, c = shares(ref), shares(cur)
    return sum((ci - ri) * math.log(ci / ri) for ri, ci in zip(r, c)), [float(e) for e in edges]


def psi_case(name, a, b):
    value, edges = psi_reference(values(a), values(b))
    return dict(name=name, a=a, b=b, psi=value, edges=edges)


def stream_case(name, params, segments, make):
    detector = make(**params)
    found = []
    for i, x in enumerate(values(segments)):
        detector.update(x)
        if detector.drift_detected:
            found.append(i)
    return dict(name=name, params=params, stream=segments, detections=found)


def main():
    golden = dict(
        versions=dict(numpy=np.__version__, scipy=scipy.__version__, river=river.__version__,
                      python=sys.version.split()[0]),
        ks=[ks_case(*c) for c in KS_CASES],
        psi=[psi_case(*c) for c in PSI_CASES],
        adwin=[stream_case(*c, drift.ADWIN) for c in ADWIN_CASES],
        page_hinkley=[stream_case(*c, drift.PageHinkley) for c in PH_CASES],
    )
    with open("tests/golden/drift/drift.json", "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    for kind in ("adwin", "page_hinkley"):
        for c in golden[kind]:
            print(kind, c["name"], c["detections"][:8], len(c["detections"]))
    for c in golden["ks"]:
        print("ks", c["name"], c["statistic"], c["pvalue"])


if __name__ == "__main__":
    main()
