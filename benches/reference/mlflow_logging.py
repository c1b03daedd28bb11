"""10,000 metric points through Strider's MLflow client and MLflow's own Python client, against
the same server, and the ratios (issue: our rate at least 10x the Python one-call-per-point rate).

  python3 -m venv /tmp/mlv && /tmp/mlv/bin/pip install mlflow==3.17.2
  PATH=/tmp/mlv/bin:$PATH scripts/mlflow-server.sh start /tmp/mlbench 5099
  /tmp/mlv/bin/python benches/reference/mlflow_logging.py --uri http://127.0.0.1:5099 \\
      --strider target/release/strider [--points 10000] [--single 300]

One-call-per-point is measured on --single points (10,000 single calls take minutes at the
server's ~40 ms per request) and reported as a rate.
"""
import argparse
import json
import subprocess
import time
import warnings

warnings.filterwarnings("ignore")
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uri", required=True)
    ap.add_argument("--strider", default="target/release/strider")
    ap.add_argument("--points", type=int, default=10_000)
    ap.add_argument("--single", type=int, default=300)
    a = ap.parse_args()

    ours = json.loads(subprocess.check_output(
        [a.strider, "mlflow", "bench", "--to", a.uri, "--points", str(a.points), "--single", str(a.single), "--json"]))

    client = MlflowClient(tracking_uri=a.uri)
    exp = client.get_experiment_by_name("python-logging-bench") or client.get_experiment(
        client.create_experiment("python-logging-bench"))
    run = client.create_run(exp.experiment_id).info.run_id
    t0 = int(time.time() * 1000)
    start = time.perf_counter()
    for i in range(a.single):
        client.log_metric(run, "single", i * 0.5, timestamp=t0 + i, step=i)
    py_single = a.single / (time.perf_counter() - start)
    metrics = [Metric("batched", i * 0.5, t0 + i, i) for i in range(a.points)]
    start = time.perf_counter()
    for k in range(0, a.points, 1000):
        client.log_batch(run, metrics=metrics[k:k + 1000])
    py_batched = a.points / (time.perf_counter() - start)

    rows = [
        ("one call per point", py_single, ours["per_call_points_per_s"]),
        ("batched, 1000 per request", py_batched, ours["batched_points_per_s"]),
    ]
    print(f"{'points/s':28} {'python mlflow':>14} {'strider':>10} {'ratio':>7}")
    for name, py, rs in rows:
        print(f"{name:28} {py:14.1f} {rs:10.1f} {rs / py:6.1f}x")
    print(f"strider as it logs (batched) vs python one call per point: {ours['batched_points_per_s'] / py_single:.0f}x")


if __name__ == "__main__":
    main()
