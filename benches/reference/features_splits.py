"""The workload of benches/features_splits.rs in the Python stack, side by side.

Features with pandas (the usual way quants write them), splits with scikit-learn / skfolio, on the
same 30 years of daily bars; prints the time of each and the ratio to criterion's last estimate
(run `cargo bench -p strider-core --bench features_splits` first).

  pip install pandas scikit-learn skfolio
  python3 benches/reference/features_splits.py [--criterion target/criterion]
"""
import argparse
import json
import pathlib
import timeit

import numpy as np
import pandas as pd
from sklearn.model_selection import TimeSeriesSplit
from skfolio.model_selection import CombinatorialPurgedCV, WalkForward

BARS = 30 * 252


def synthetic(seed):
    rng = np.random.default_rng(seed)
    p = 100 * np.cumprod(1 + 0.02 * (rng.random(BARS) - 0.5))
    idx = pd.date_range("1990-01-01", periods=BARS, freq="D")
    return pd.DataFrame({"open": p * (1 + 0.002 * (rng.random(BARS) - 0.5)), "high": p * 1.01,
                         "low": p * 0.99, "close": p, "volume": 1e6 * (1 + rng.random(BARS) - 0.5)},
                        index=idx)


def wilder(x, n):
    return x.ewm(alpha=1 / n, adjust=False, min_periods=n).mean()


def features(df):
    c, r = df["close"], df["close"].pct_change()
    out = {f"ret_{k}": c.pct_change(k) for k in (1, 5, 20)}
    out.update({f"lag_{k}": r.shift(k) for k in (1, 2, 3)})
    out["mean_20"] = r.rolling(20).mean()
    out["std_20"] = r.rolling(20).std()
    out["z_price_60"] = (c - c.rolling(60).mean()) / c.rolling(60).std()
    d = c.diff()
    g, l = wilder(d.clip(lower=0), 14), wilder((-d).clip(lower=0), 14)
    out["rsi_14"] = 100 - 100 / (1 + g / l)
    fast, slow = c.ewm(span=12, adjust=False).mean(), c.ewm(span=26, adjust=False).mean()
    line = fast - slow
    sig = line.ewm(span=9, adjust=False).mean()
    out.update({"macd": line / c, "macd_signal": sig / c, "macd_hist": (line - sig) / c})
    pc = c.shift(1)
    tr = pd.concat([df["high"] - df["low"], (df["high"] - pc).abs(), (df["low"] - pc).abs()], axis=1).max(axis=1)
    out["atr_14"] = wilder(tr, 14) / c
    v = df["volume"]
    out["volume_z_20"] = (v - v.rolling(20).mean()) / v.rolling(20).std()
    dow = pd.get_dummies(df.index.day_of_week).reindex(columns=range(7), fill_value=0)
    frame = pd.DataFrame(out)
    for k in range(7):
        frame[f"dow_{k}"] = dow[k].to_numpy()
    return frame


def dataset(frames):
    parts = []
    for i, df in enumerate(frames):
        f = features(df)
        f["y"] = df["close"].shift(-1) / df["close"] - 1
        f["instrument"] = i
        parts.append(f.dropna())
    return pd.concat(parts).sort_index(kind="stable")


def materialise(cv, x):
    return [(tr, te) for tr, te in cv.split(x)]


def best(fn, number):
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--criterion", default="target/criterion")
    args = ap.parse_args()
    one = synthetic(1)
    three = [synthetic(s) for s in (1, 2, 3)]
    x = np.zeros((BARS, 1))
    work = {
        "features_30y x 1 instrument (21 columns)": (lambda: features(one), 20),
        "dataset_30y x 3 instruments": (lambda: dataset(three), 5),
        "splits_tss on 30y": (lambda: materialise(TimeSeriesSplit(10, gap=5), x), 200),
        "splits_walk-forward on 30y": (lambda: materialise(WalkForward(63, 756, purged_size=5, reduce_test=True), x), 50),
        "splits_cpcv(10,2) on 30y": (lambda: materialise(CombinatorialPurgedCV(10, 2, purged_size=5, embargo_size=76), x), 5),
    }
    print(f"{'workload':44} {'python':>12} {'strider':>12} {'speed-up':>9}")
    for name, (fn, number) in work.items():
        py = best(fn, number)
        est = pathlib.Path(args.criterion) / name / "new" / "estimates.json"
        rs = json.loads(est.read_text())["mean"]["point_estimate"] / 1e9 if est.exists() else float("nan")
        print(f"{name:44} {py * 1e3:10.3f}ms {rs * 1e3:10.3f}ms {py / rs:8.1f}x")


if __name__ == "__main__":
    main()
