"""Strider's GBDT trainer against Python LightGBM on the issue's benchmark: 200,000 x 30
(gbdt_gen_data.py, numpy seed 20240601), rows 0..160k train, 160k..200k holdout, 200 rounds,
31 leaves, learning rate 0.05, one thread; prints train time, holdout RMSE and the ratios.

  pip install numpy lightgbm
  cd /tmp && python /path/to/benches/reference/gbdt_gen_data.py          # writes data.csv (57 MB)
  cargo build --release -p strider-gbdt --example gbdt_bench --features parallel
  python benches/reference/gbdt_vs_lightgbm.py /tmp/data.csv target/release/examples/gbdt_bench

`--features parallel` predicts on all cores, as the CLI does; training is single-threaded either
way. Build without it for a one-thread prediction figure. LightGBM uses one thread throughout.
"""
import re
import subprocess
import sys
import time

import lightgbm as lgb
import numpy as np

data, ours_bin = sys.argv[1], sys.argv[2]
d = np.loadtxt(data, delimiter=",", skiprows=1)
y, X = d[:, 0], d[:, 1:]
p = dict(objective="regression", num_iterations=200, num_leaves=31, learning_rate=0.05, seed=42,
         deterministic=True, force_row_wise=True, num_threads=1, verbosity=-1)
t = time.process_time()
booster = lgb.train(p, lgb.Dataset(X[:160000], y[:160000]))
lgb_train = time.process_time() - t
lgb_pred = float("inf")
for _ in range(5):  # best of five, as the Rust side
    t = time.process_time()
    pred = booster.predict(X[160000:], num_threads=1)
    lgb_pred = min(lgb_pred, time.process_time() - t)
lgb_rmse = float(np.sqrt(np.mean((pred - y[160000:]) ** 2)))

out = subprocess.check_output([ours_bin, data], text=True)
m = re.search(r"train ([\d.]+)s\s+holdout RMSE ([\d.]+)\s+predict 40k rows ([\d.]+)s", out)
ours_train, ours_rmse, ours_pred = (float(x) for x in m.groups())
print(f"{'':18} {'lightgbm':>10} {'strider':>10} {'ratio':>7}")
print(f"{'train seconds':18} {lgb_train:10.2f} {ours_train:10.2f} {ours_train / lgb_train:6.2f}x")
print(f"{'holdout RMSE':18} {lgb_rmse:10.6f} {ours_rmse:10.6f} {ours_rmse / lgb_rmse:6.4f}x")
print(f"{'predict 40k rows':18} {lgb_pred:10.3f} {ours_pred:10.3f} {lgb_pred / ours_pred:6.2f}x faster")
