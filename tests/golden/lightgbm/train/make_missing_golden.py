"""Golden LightGBM 4.7.0 models for Strider's trainer: missing values, zeros, zero_as_missing,
use_missing=false, categorical features, binary and multiclass, the huber, fair and quantile
losses, lambdarank and rank_xendcg on query groups (`group` in params.json), to be reproduced tree for tree
(tests/gbdt_train_golden.rs and the bin-layout test in core/gbdt/src/binning.rs).

Writes into this script's own folder, per case:
  <case>.csv          features f0..f5 then label y; NaN written as an empty cell
  <case>.model.txt    booster.model_to_string()
  <case>.params.json  the exact parameters passed to lgb.train (plus categorical columns)
  <case>.bins.json    each feature's bin layout from lgb_findbin.py (a port of BinMapper::FindBin),
                      checked here against the thresholds LightGBM actually used

Run (the LightGBM version is pinned and asserted below):
  python3 -m venv /tmp/lgb47 && /tmp/lgb47/bin/pip install lightgbm==4.7.0 numpy
  /tmp/lgb47/bin/python tests/golden/lightgbm/train/make_missing_golden.py
"""
import json
import math
import os
import re
import sys

import numpy as np
import lightgbm as lgb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lgb_findbin  # noqa: E402

assert lgb.__version__ == "4.7.0", lgb.__version__
OUT = os.path.dirname(os.path.abspath(__file__))
N, F = 2000, 6
NAMES = [f"f{i}" for i in range(F)]

BASE = dict(
    objective="regression",
    num_iterations=20,
    learning_rate=0.1,
    num_leaves=15,
    min_data_in_leaf=20,
    min_sum_hessian_in_leaf=1e-3,
    max_bin=255,
    deterministic=True,
    num_threads=1,
    force_col_wise=True,
    seed=0,
    verbose=-1,
)


def q(a, digits=5):
    """Round to `digits` decimals and round-trip through the CSV text, so that the floats
    LightGBM trains on are exactly the ones a CSV reader parses."""
    a = np.round(a, digits)
    return np.array([float(repr(float(v))) for v in a.ravel()]).reshape(a.shape)


def base_x(rng):
    x = np.empty((N, F))
    x[:, 0] = rng.uniform(0, 1, N)
    x[:, 1] = rng.normal(0, 1, N)
    x[:, 2] = rng.uniform(-1, 2, N)
    x[:, 3] = rng.exponential(1.0, N)
    x[:, 4] = rng.integers(0, 20, N).astype(float)  # few distinct values
    x[:, 5] = rng.normal(0, 1, N)
    return q(x)


def target(x, rng, extra=0.0):
    z = np.nan_to_num(x, nan=0.0)
    y = (10 * np.sin(np.pi * z[:, 0] * z[:, 1]) + 5 * z[:, 2] ** 2 + 3 * z[:, 3]
         + 0.5 * z[:, 4] + z[:, 5] + rng.normal(0, 0.5, N) + extra)
    return q(y)


def add_nan(x, rng, frac):
    x = x.copy()
    for j, fr in enumerate(frac):
        m = rng.uniform(size=N) < fr
        x[m, j] = np.nan
    return x


def case_plain():
    rng = np.random.default_rng(101)
    x = base_x(rng)
    return x, target(x, rng), {}, []


def case_nan():
    rng = np.random.default_rng(202)
    x = add_nan(base_x(rng), rng, [0.02, 0.02, 0.02, 0.02, 0.02, 0.06])
    # NaN in f5 carries signal, so "NaN alone vs everything" is a strong split.
    y = target(x, rng, extra=np.where(np.isnan(x[:, 5]), 4.0, 0.0))
    return x, y, {}, []


def case_nan_alone():
    """NaN in f1 (which has negatives, so bin 0 is not empty) is the strongest signal: the best
    root split is "NaN alone on the right", which LightGBM finds only in its forward pass, at
    the last value bin, and writes as threshold=inf, decision_type=8."""
    rng = np.random.default_rng(212)
    x = add_nan(base_x(rng), rng, [0.02, 0.05, 0.02, 0.02, 0.02, 0.02])
    y = target(x, rng, extra=np.where(np.isnan(x[:, 1]), 40.0, 0.0))
    return x, y, {}, []


def zeros_x(rng):
    x = base_x(rng)
    for j, fr in [(0, 0.3), (1, 0.4), (2, 0.4), (5, 0.5)]:
        m = rng.uniform(size=N) < fr
        x[m, j] = 0.0
    return x


def case_zeros():
    rng = np.random.default_rng(303)
    x = zeros_x(rng)
    y = target(x, rng, extra=np.where(x[:, 1] == 0.0, 2.0, 0.0))
    return x, y, {}, []


def case_zero_as_missing():
    rng = np.random.default_rng(404)
    x = add_nan(zeros_x(rng), rng, [0.02] * F)
    y = target(x, rng, extra=np.where((x[:, 1] == 0.0) | np.isnan(x[:, 1]), 2.0, 0.0))
    return x, y, {"zero_as_missing": True}, []


def case_use_missing_false():
    rng = np.random.default_rng(505)
    x = add_nan(base_x(rng), rng, [0.02, 0.02, 0.02, 0.02, 0.02, 0.06])
    y = target(x, rng, extra=np.where(np.isnan(x[:, 5]), 4.0, 0.0))
    return x, y, {"use_missing": False}, []


def case_categorical():
    rng = np.random.default_rng(606)
    x = base_x(rng)
    # f3: 3 levels (one-hot path: num_bin = 3 + NaN bin = 4 <= max_cat_to_onehot)
    x[:, 3] = rng.integers(0, 3, N).astype(float)
    # f4: 20 levels, skewed frequencies, one rare level (count < min_data_in_bin)
    p = np.array([2.0 ** (-k / 4) for k in range(20)])
    x[:, 4] = rng.choice(20, N, p=p / p.sum()).astype(float)
    x[:5, 4] = 37.0  # a rare category: 5 rows
    x = add_nan(x, rng, [0.02, 0.02, 0.0, 0.0, 0.03, 0.0])  # f3 without NaN: missing None
    eff4 = rng.normal(0, 3, 40)
    eff3 = np.array([-2.0, 0.0, 3.0])
    z = np.nan_to_num(x, nan=0.0)
    y = (10 * np.sin(np.pi * z[:, 0] * z[:, 1]) + 5 * z[:, 2] ** 2 + eff3[z[:, 3].astype(int)]
         + eff4[z[:, 4].astype(int)] + np.where(np.isnan(x[:, 4]), 5.0, 0.0) + z[:, 5]
         + rng.normal(0, 0.5, N))
    return x, q(y), {}, [3, 4]


def case_binary_nan():
    rng = np.random.default_rng(707)
    x = add_nan(base_x(rng), rng, [0.02, 0.02, 0.02, 0.02, 0.02, 0.06])
    y = target(x, rng, extra=np.where(np.isnan(x[:, 5]), 4.0, 0.0))
    return x, (y > np.median(y)).astype(float), {"objective": "binary"}, []


def case_multiclass_nan():
    rng = np.random.default_rng(808)
    x = add_nan(base_x(rng), rng, [0.02, 0.02, 0.02, 0.02, 0.02, 0.06])
    y = target(x, rng, extra=np.where(np.isnan(x[:, 5]), 4.0, 0.0))
    classes = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3])).astype(float)
    return x, classes, {"objective": "multiclass", "num_class": 3, "num_iterations": 10}, []


def case_huber():
    rng = np.random.default_rng(909)
    x = add_nan(base_x(rng), rng, [0.02] * F)
    y = target(x, rng) + q(rng.standard_t(2, N))  # fat tails
    return x, q(y), {"objective": "huber", "alpha": 2.0}, []


def case_fair():
    rng = np.random.default_rng(910)
    x = add_nan(base_x(rng), rng, [0.02] * F)
    y = target(x, rng) + q(rng.standard_t(2, N))
    return x, q(y), {"objective": "fair", "fair_c": 2.0}, []


def case_quantile():
    rng = np.random.default_rng(911)
    x = add_nan(base_x(rng), rng, [0.02] * F)
    y = target(x, rng) + q(rng.standard_t(3, N))
    return x, q(y), {"objective": "quantile", "alpha": 0.25}, []


def query_groups(rng):
    """Query sizes from 1 to 40 rows (a last one filling up to N): single-row queries and
    queries longer than the truncation level too."""
    sizes = []
    while sum(sizes) < N:
        sizes.append(int(min(rng.integers(1, 41), N - sum(sizes))))
    return sizes


def grades(y, sizes, levels=5):
    """Relevance grades 0..levels-1 by rank of y within each query."""
    out = np.empty(N)
    start = 0
    for s in sizes:
        part = y[start:start + s]
        ranks = part.argsort().argsort()
        out[start:start + s] = np.floor(ranks * levels / s)
        start += s
    return out


def case_ranking(seed, objective):
    rng = np.random.default_rng(seed)
    x = add_nan(base_x(rng), rng, [0.02] * F)
    sizes = query_groups(rng)
    return x, grades(target(x, rng), sizes), {"objective": objective}, [], sizes


def case_lambdarank():
    return case_ranking(912, "lambdarank")


def case_rank_xendcg():
    return case_ranking(913, "rank_xendcg")


CASES = {
    "plain": case_plain,
    "nan": case_nan,
    "nan_alone": case_nan_alone,
    "zeros": case_zeros,
    "zero_as_missing": case_zero_as_missing,
    "use_missing_false": case_use_missing_false,
    "categorical": case_categorical,
    "binary_nan": case_binary_nan,
    "multiclass_nan": case_multiclass_nan,
    "huber": case_huber,
    "fair": case_fair,
    "quantile": case_quantile,
    "lambdarank": case_lambdarank,
    "rank_xendcg": case_rank_xendcg,
}


def g17(v):
    """C++ stringstream with setprecision(17) (BinMapper::bin_info_string)."""
    return "%.17g" % v


def fmt(v):
    return "" if math.isnan(v) else repr(float(v))


def write_csv(path, x, y):
    with open(path, "w") as f:
        f.write(",".join(NAMES + ["y"]) + "\n")
        for i in range(N):
            f.write(",".join([fmt(v) for v in x[i]] + [fmt(y[i])]) + "\n")


def jsonable_bins(m):
    out = {k: v for k, v in m.items() if k not in ("cat2bin",)}
    if "upper" in out:
        out["upper"] = [repr(v) for v in out["upper"]]  # keep exact doubles, inf and nan
    out["min_val"] = repr(out["min_val"])
    out["max_val"] = repr(out["max_val"])
    return out


def check_thresholds(model_txt, bins, cat):
    """Every numerical threshold LightGBM wrote must be one of the ported bin bounds."""
    bad = []
    feats, thrs, dts = [], [], []
    for line in model_txt.splitlines():
        if line.startswith("split_feature="):
            feats = [int(t) for t in line.split("=")[1].split()]
        elif line.startswith("threshold="):
            thrs = [float(t) for t in line.split("=")[1].split()]
        elif line.startswith("decision_type="):
            dts = [int(t) for t in line.split("=")[1].split()]
            for f, t, d in zip(feats, thrs, dts):
                if d & 1:
                    continue
                ub = bins[f]["upper"]
                if t not in ub and not (t > 1e300 and math.inf in ub):
                    bad.append((f, t))
    return bad


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, make in CASES.items():
        x, y, extra, cat, *group = make()
        params = dict(BASE, **extra)
        write_csv(os.path.join(OUT, f"{name}.csv"), x, y)
        ds = lgb.Dataset(x, label=y, feature_name=NAMES,
                         categorical_feature=cat if cat else "auto", free_raw_data=False,
                         group=group[0] if group else None,
                         params={k: params[k] for k in ("max_bin", "verbose")})
        booster = lgb.train(params, ds)
        txt = booster.model_to_string()
        with open(os.path.join(OUT, f"{name}.model.txt"), "w") as f:
            f.write(txt)
        with open(os.path.join(OUT, f"{name}.params.json"), "w") as f:
            golden = {"params": params, "categorical_feature": cat}
            if group:
                golden["group"] = group[0]
            json.dump(golden, f, indent=1)
        bins = [lgb_findbin.find_bin(x[:, j], max_bin=params["max_bin"],
                                     min_split_data=params["min_data_in_leaf"],
                                     categorical=j in cat,
                                     use_missing=params.get("use_missing", True),
                                     zero_as_missing=params.get("zero_as_missing", False))
                for j in range(F)]
        with open(os.path.join(OUT, f"{name}.bins.json"), "w") as f:
            json.dump([jsonable_bins(b) for b in bins], f)
        bad = check_thresholds(txt, bins, cat)
        infos = re.search(r"^feature_infos=(.*)$", txt, re.M).group(1).split()
        mine = []
        for b in bins:
            if b["is_trivial"]:
                mine.append("none")
            elif b["bin_type"] == "categorical":
                mine.append(":".join(str(c) for c in b["bin_2_categorical"]))
            else:
                mine.append("[%s:%s]" % (g17(b["min_val"]), g17(b["max_val"])))
        print(f"{name}: {len(txt)} bytes, trees={txt.count('Tree=')}, "
              f"thresholds not in ported bins={bad or 'none'}, "
              f"missing_types={[b['missing_type'] for b in bins]}, "
              f"feature_infos {'match' if infos == mine else 'DIFFER: ' + str(infos) + ' vs ' + str(mine)}")


if __name__ == "__main__":
    main()
