#!/usr/bin/env python3
"""One LightGBM model served two ways on the same machine, loaded by the same client, one server
at a time: `mlflow models serve` (MLflow's scoring server, `mlflow.lightgbm` flavour) and
`strider serve`; prints requests/s and p50/p99 latency side by side and the ratios (issue: at
least 10x the throughput and a tenth of the p99).

    python3 -m venv ~/.cache/strider/mlflow-venv-3.17.2
    ~/.cache/strider/mlflow-venv-3.17.2/bin/pip install mlflow==3.17.2 lightgbm
    cargo build --release -p strider-cli
    python3 benches/reference/serve_vs_mlflow.py --strider target/release/strider \\
        [--seconds 10] [--clients 4] [--history 100] [--out /tmp/serve_vs_mlflow.json]

The model: `strider run serve_vs_mlflow.toml` (examples/default.toml's gradient-boosted trees
only) writes RUN_DIR/bundles/trees; `strider serve` serves that bundle, and its model.txt, loaded
by `lightgbm.Booster` and saved with `mlflow.lightgbm.save_model`, is what MLflow serves
(`--env-manager local`). Both servers get --workers workers (default 1, MLflow's default):
uvicorn worker processes for MLflow, request threads (`strider serve --workers`) for Strider.

The requests: each asks for the latest bar of the three bundled instruments. Strider gets the
raw bars (the last --history of each) and computes the features itself; MLflow gets the three
feature rows, computed here from the same bars (a plain-Python copy of Strider's feature kernels),
and its answers are checked against Strider's scores before the load starts.

The client: --clients processes, one keep-alive HTTP/1.1 connection each, a --warmup then
--seconds of closed-loop requests; only 200s count, anything else is a failure. Client and
server share the machine's CPUs. Only the Python standard library is needed here; the MLflow
venv (--mlflow-venv) saves and serves the model.
"""
import argparse
import csv
import datetime
import http.client
import json
import math
import multiprocessing
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
INSTRUMENTS = ["AAPL", "MSFT", "IBM"]
SAVE_MODEL = """
import json, sys, warnings
warnings.filterwarnings("ignore")
import lightgbm, mlflow, mlflow.lightgbm
mlflow.lightgbm.save_model(lightgbm.Booster(model_file=sys.argv[1]), sys.argv[2])
print(json.dumps({"mlflow": mlflow.__version__, "lightgbm": lightgbm.__version__}))
"""


# ---- the bars and the features MLflow is sent ---------------------------------------------------

def read_bars(path, history):
    """The last `history` bars of a CSV: `date` kept as a string, every other column a float."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))[-history:]
    return [{k: (v if k == "date" else float(v)) for k, v in r.items()} for r in rows]


def mean(w):
    return sum(w) / len(w)


def std(w):  # ddof = 1, summed as Strider sums
    m = mean(w)
    return math.sqrt(sum((v - m) * (v - m) for v in w) / (len(w) - 1))


def zscore_last(w):
    s = std(w)
    return (w[-1] - mean(w)) / s if s > 0.0 else 0.0


def wilder_last(x, n):
    """Wilder's average of x[1:] (x[0] is undefined), seeded with the mean of its first n values."""
    a = mean(x[1:n + 1])
    for v in x[n + 1:]:
        a = (a * (n - 1) + v) / n
    return a


def ema(x, span):
    alpha, out = 2.0 / (span + 1.0), []
    for v in x:
        out.append(v if not out else alpha * v + (1.0 - alpha) * out[-1])
    return out


def latest_features(bars):
    """The feature row of the latest bar, as Strider computes it for serve_vs_mlflow.toml's specs
    (core/domain/src/features, same operations in the same order): returns, lags, z-scores and std
    over trailing windows, Wilder's RSI, MACD / price, Wilder's ATR on OHLC put on the adjusted
    scale (x * adj_close / close) / adjusted close, day of week."""
    p = [b["adj_close"] for b in bars]
    h, lo, c = ([b[k] * b["adj_close"] / b["close"] for b in bars] for k in ("high", "low", "close"))
    r = [math.nan] + [p[t] / p[t - 1] - 1.0 for t in range(1, len(p))]
    gain = [0.0] + [max(p[t] - p[t - 1], 0.0) for t in range(1, len(p))]
    loss = [0.0] + [max(p[t - 1] - p[t], 0.0) for t in range(1, len(p))]
    g, l = wilder_last(gain, 14), wilder_last(loss, 14)
    rsi = (50.0 if g == 0.0 else 100.0) if l == 0.0 else 100.0 - 100.0 / (1.0 + g / l)
    tr = [0.0] + [max(h[t] - lo[t], abs(h[t] - c[t - 1]), abs(lo[t] - c[t - 1])) for t in range(1, len(c))]
    line = [f - s for f, s in zip(ema(p, 12), ema(p, 26))]
    sig = ema(line, 9)[-1]
    return {
        "ret_1": p[-1] / p[-2] - 1.0,
        "ret_5": p[-1] / p[-6] - 1.0,
        "ret_20": p[-1] / p[-21] - 1.0,
        "ret_1_lag_1": r[-2],
        "ret_1_lag_2": r[-3],
        "z_price_20": zscore_last(p[-20:]),
        "std_ret_20": std(r[-20:]),
        "rsi_14": rsi,
        "macd_12_26": line[-1] / p[-1],
        "macd_signal_12_26_9": sig / p[-1],
        "macd_hist_12_26_9": (line[-1] - sig) / p[-1],
        "atr_14": wilder_last(tr, 14) / c[-1],
        "volume_z_20": zscore_last([b["volume"] for b in bars[-20:]]),
        "dow": float(datetime.date.fromisoformat(bars[-1]["date"]).weekday()),
    }


def payloads(data_dir, history, feature_names):
    bars = {n: read_bars(os.path.join(data_dir, f"{n}.csv"), history) for n in INSTRUMENTS}
    rows = [latest_features(bars[n]) for n in INSTRUMENTS]
    if set(rows[0]) != set(feature_names):
        sys.exit(f"the bundle's features {feature_names} are not the ones this script computes {sorted(rows[0])}")
    strider = json.dumps({"instruments": bars}).encode()
    mlflow = json.dumps({"dataframe_split": {
        "columns": feature_names, "data": [[row[c] for c in feature_names] for row in rows]}}).encode()
    return strider, mlflow


# ---- the servers ---------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd, log_path, env=None):
    """Start a server in its own process group (MLflow's CLI forks uvicorn), logs to a file."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def stop(proc):
    """SIGTERM the server's process group, SIGKILL it if it has not gone in 10 s."""
    if proc is None or proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            pass


def tail(path, n=20):
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-n:])


def wait_until(proc, log_path, ready, timeout):
    """Poll `ready()` until it returns a value; fail with the log's tail if the server died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}:\n{tail(log_path)}")
        value = ready()
        if value:
            return value
        time.sleep(0.25)
    raise RuntimeError(f"{proc.args[0]} not ready after {timeout} s:\n{tail(log_path)}")


def listening_address(log_path):
    """The address of strider serve's `{"event":"listening","address":...}` log line, if written."""
    with open(log_path, errors="replace") as f:
        for line in f:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("event") == "listening":
                return event["address"]
    return None


def request(host, port, method, path, body=None, timeout=30):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    except OSError:
        return None, b""
    finally:
        conn.close()


def healthy(host, port):
    return request(host, port, "GET", "/health", timeout=2)[0] == 200


# ---- the client ----------------------------------------------------------------------------------

def client(host, port, path, body, warm_until, end_at):
    """One keep-alive connection, closed loop: latencies (s) of the 200s after warm-up, failures,
    the first error, the time of the last completion, the CPU seconds this client used meanwhile."""
    headers = {"Content-Type": "application/json"}
    conn, lat, failed, error, last, cpu0 = None, [], 0, None, warm_until, None
    while True:
        now = time.monotonic()
        if now >= end_at:
            break
        if cpu0 is None and now >= warm_until:
            cpu0 = time.process_time()
        if conn is None:
            conn = http.client.HTTPConnection(host, port, timeout=30)
        t0 = time.perf_counter()
        try:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException) as e:
            status = repr(e)
            conn.close()
            conn = None
        dt = time.perf_counter() - t0
        if now < warm_until:
            continue
        last = time.monotonic()
        if status == 200:
            lat.append(dt)
        else:
            failed += 1
            error = error or f"{status}"
    if conn is not None:
        conn.close()
    return lat, failed, error, last, time.process_time() - cpu0 if cpu0 is not None else 0.0


def percentile(sorted_x, q):
    return sorted_x[max(0, math.ceil(q * len(sorted_x)) - 1)] if sorted_x else math.nan


def load(address, path, body, a):
    host, port = address
    t0 = time.monotonic() + 0.5  # time for the processes to start
    warm_until, end_at = t0 + a.warmup, t0 + a.warmup + a.seconds
    # The workers must not inherit main()'s SIGTERM handler: Pool.terminate() stops them with SIGTERM.
    pool = multiprocessing.get_context("fork").Pool(
        a.clients, initializer=signal.signal, initargs=(signal.SIGTERM, signal.SIG_DFL))
    try:
        results = pool.starmap(client, [(host, port, path, body, warm_until, end_at)] * a.clients)
        pool.close()
    finally:
        pool.terminate()
        pool.join()
    lat = sorted(x for r in results for x in r[0])
    failed = sum(r[1] for r in results)
    elapsed = max(r[3] for r in results) - warm_until
    return {
        "requests_per_s": len(lat) / elapsed if elapsed > 0 else 0.0,
        "p50_ms": percentile(lat, 0.50) * 1e3,
        "p99_ms": percentile(lat, 0.99) * 1e3,
        "ok": len(lat),
        "failed": failed,
        "first_error": next((r[2] for r in results if r[2]), None),
        "seconds": elapsed,
        "client_cpu_share": sum(r[4] for r in results) / (elapsed * os.cpu_count()) if elapsed > 0 else 0.0,
    }


# ---- the two sides -------------------------------------------------------------------------------

def strider_side(a, bundle, body, tmp):
    """Start `strider serve`, check its answer, load it; returns (result, scores by instrument)."""
    log = os.path.join(tmp, "strider-serve.log")
    proc = start([a.strider, "serve", "--model", bundle, "--port", "0", "--workers", str(a.workers)], log)
    try:
        host, port = wait_until(proc, log, lambda: listening_address(log), a.startup_timeout).rsplit(":", 1)
        port = int(port)
        wait_until(proc, log, lambda: healthy(host, port), a.startup_timeout)
        status, resp = request(host, port, "POST", "/predict", body)
        if status != 200:
            raise RuntimeError(f"strider serve answered {status}: {resp[:500]!r}")
        scores = {p["instrument"]: p["score"] for p in json.loads(resp)["predictions"]}
        if sorted(scores) != sorted(INSTRUMENTS) or not all(isinstance(s, float) for s in scores.values()):
            raise RuntimeError(f"unexpected strider answer: {resp[:500]!r}")
        return load((host, port), "/predict", body, a), scores
    finally:
        stop(proc)


def mlflow_side(a, model_dir, body, tmp, strider_scores):
    """Start `mlflow models serve`, check its answer against Strider's scores, load it."""
    bin_dir = os.path.join(a.mlflow_venv, "bin")
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))  # it execs `uvicorn`
    port, log = free_port(), os.path.join(tmp, "mlflow-serve.log")
    cmd = [os.path.join(bin_dir, "mlflow"), "models", "serve", "-m", model_dir, "-p", str(port), "--env-manager", "local"]
    cmd += ["--workers", str(a.workers)]
    proc = start(cmd, log, env)
    try:
        wait_until(proc, log, lambda: healthy("127.0.0.1", port), a.startup_timeout)
        m = re.search(r"--workers (\d+)", open(log, errors="replace").read())
        workers = int(m.group(1)) if m else None
        status, resp = request("127.0.0.1", port, "POST", "/invocations", body)
        preds = json.loads(resp).get("predictions") if status == 200 else None
        if not (isinstance(preds, list) and len(preds) == len(INSTRUMENTS)
                and all(isinstance(x, (int, float)) and math.isfinite(x) for x in preds)):
            raise RuntimeError(f"mlflow answered {status}: {resp[:500]!r}")
        diff = max(abs(x - strider_scores[n]) for x, n in zip(preds, INSTRUMENTS))
        return load(("127.0.0.1", port), "/invocations", body, a), workers, diff
    finally:
        stop(proc)


# ---- the report ----------------------------------------------------------------------------------

def table(rows, ratios, setup, notes):
    out = ["| server | requests/s | p50 ms | p99 ms | failed |", "|---|---:|---:|---:|---:|"]
    for name, r in rows:
        out.append(f"| {name} | {r['requests_per_s']:.1f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['failed']} |")
    out += ["",
            f"- throughput, strider / mlflow: **{ratios['throughput_strider_over_mlflow']:.1f}x** (goal: at least 10x)",
            f"- p99 latency, mlflow / strider: **{ratios['p99_mlflow_over_strider']:.1f}x** (goal: at least 10x)",
            "", "Setup:", ""]
    out += [f"- {k}: {v}" for k, v in setup.items()]
    out += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--strider", default="target/release/strider")
    ap.add_argument("--config", default=os.path.join(HERE, "serve_vs_mlflow.toml"))
    ap.add_argument("--bundle", help="serve this bundle instead of training one from --config")
    ap.add_argument("--data-dir", default=os.path.join(ROOT, "examples", "data"))
    ap.add_argument("--mlflow-venv", default=os.path.expanduser("~/.cache/strider/mlflow-venv-3.17.2"))
    ap.add_argument("--workers", type=int, default=1,
                    help="workers of each server: uvicorn workers for MLflow (its default is 1), "
                         "request threads for strider (default 1: the same for both)")
    ap.add_argument("--history", type=int, default=100, help="bars per instrument in a Strider request")
    ap.add_argument("--clients", type=int, default=4, help="concurrent keep-alive connections")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured seconds per server")
    ap.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before that")
    ap.add_argument("--startup-timeout", type=float, default=120.0)
    ap.add_argument("--out", help="also write the results here as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (run, model, logs)")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the finally blocks run

    tmp = tempfile.mkdtemp(prefix="serve_vs_mlflow-")
    try:
        bundle = a.bundle
        if not bundle:
            run_dir = os.path.join(tmp, "run")
            subprocess.run([a.strider, "run", a.config, "--out", run_dir, "--no-track", "--no-report", "--json"],
                           check=True, stdout=subprocess.DEVNULL)
            bundle = os.path.join(run_dir, "bundles", "trees")
        with open(os.path.join(bundle, "bundle.json")) as f:
            manifest = json.load(f)
        warmup_bars = manifest.get("signature", {}).get("warmup_bars", 34)
        if a.history <= warmup_bars:
            sys.exit(f"--history must exceed the model's {warmup_bars} warm-up bars")
        strider_body, mlflow_body = payloads(a.data_dir, a.history, manifest["feature_names"])

        model_dir = os.path.join(tmp, "mlflow-model")
        versions = json.loads(subprocess.check_output(
            [os.path.join(a.mlflow_venv, "bin", "python"), "-c", SAVE_MODEL, os.path.join(bundle, "model.txt"), model_dir]))
        strider_version = subprocess.check_output([a.strider, "--version"], text=True).strip()

        ours, scores = strider_side(a, bundle, strider_body, tmp)
        theirs, workers, diff = mlflow_side(a, model_dir, mlflow_body, tmp, scores)
    finally:
        if a.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    cpus = os.cpu_count()
    rows = [(f"mlflow models serve (mlflow.lightgbm, {workers} uvicorn worker{'s' * (workers != 1)})", theirs),
            (f"strider serve (tokio, {a.workers} worker thread{'s' * (a.workers != 1)})", ours)]
    ratios = {
        "throughput_strider_over_mlflow": ours["requests_per_s"] / theirs["requests_per_s"] if theirs["requests_per_s"] else math.inf,
        "p99_mlflow_over_strider": theirs["p99_ms"] / ours["p99_ms"],
    }
    setup = {
        "bars per instrument in a strider request (--history)": a.history,
        "instruments per request": len(INSTRUMENTS),
        "client": f"{a.clients} processes, one keep-alive connection each, closed loop (--clients)",
        "measured seconds per server (--seconds)": a.seconds,
        "warm-up seconds (--warmup)": a.warmup,
        "CPUs": f"{cpus}, shared by the client and the server under test",
        "mlflow": versions["mlflow"],
        "lightgbm": versions["lightgbm"],
        "mlflow workers": workers,
        "strider": f"{strider_version} ({a.strider})",
        "python (client)": sys.version.split()[0],
    }
    notes = [
        "Each request scores the latest bar of three instruments. Strider is sent the raw bars and computes "
        "the features itself; MLflow is sent the three finished feature rows (computed by this script from the "
        "same bars), so it does strictly less work per request.",
        "Before the load, MLflow's three predictions matched Strider's scores "
        + ("exactly." if diff == 0 else f"to within {diff:.1e} (max |diff|)."),
        "The servers ran one at a time; only 200 responses count as successes.",
    ]
    notes.append("Share of all CPUs the client used: " + ", ".join(
        f"{r['client_cpu_share']:.0%} against {name.split(' (')[0]}" for name, r in rows)
        + " (what it takes away from the server, and a sign of how close the client is to its own ceiling).")
    for name, r in rows:
        if r["failed"]:
            notes.append(f"{name}: {r['failed']} failed requests, first: {r['first_error']}")
    print(table(rows, ratios, setup, notes))
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"servers": [dict(r, server=n) for n, r in rows], "ratios": ratios, "setup": setup,
                       "notes": notes, "max_abs_score_diff": diff}, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
