#!/usr/bin/env python3
"""Strider's LSTM epoch against PyTorch's on the CPU, same workload, same threads, and the browser
(wasm) epoch against the native one:

  2,000 sequences x 32 steps x 8 features (the sine + AR(1) task, same generator) -> LSTM(32) ->
  Linear(1) on the last hidden state, batch 64, Adam lr 1e-2, MSE.

    python3 benches/reference/lstm_vs_torch.py [--epochs 10] [--threads 1] [--no-wasm]

It installs torch==2.15.0 into ~/.cache/strider/torch-venv on first use (about 3 GB: the PyPI wheel
needs the CUDA wheels even on a CPU), builds the `lstm_epoch` example, runs the wasm engine in headless Chromium (target/www) or Node
from headless Chromium (or Node), and prints median seconds per epoch and the ratios. Targets:
the default (deterministic) native engine at most 1.0x PyTorch, `deterministic = false` at most
0.7x, wasm at most 2.5x native.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV = os.path.expanduser("~/.cache/strider/torch-venv")
TORCH = "2.15.0"

TORCH_SCRIPT = r'''
import json, math, statistics, sys, time
import torch
from torch import nn
epochs, threads = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)
M64 = (1 << 64) - 1
class Lcg:
    def __init__(self, s): self.s = s
    def f(self):
        self.s = (self.s * 6364136223846793005 + 1442695040888963407) & M64
        return (self.s >> 40) / float(1 << 24)
    def normal(self):
        u1 = max(self.f(), 1e-7); u2 = self.f()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
def make(n, T, seed):
    r = Lcg(seed); xs, ys = [], []
    for _ in range(n):
        freq = 0.1 + 0.3 * r.f(); phase = 6.28 * r.f(); ar = 0.0; series = []
        for t in range(T + 1):
            ar = 0.8 * ar + 0.1 * r.normal(); s = math.sin(freq * t + phase)
            series.append((s + ar + 0.05 * r.normal(), s, ar))
        for t in range(T):
            v, s, a = series[t]; prev = series[t - 1][0] if t > 0 else 0.0
            xs.append([v, s, math.cos(freq * t + phase), a, v - prev, freq, 0.1 * r.normal(), t / T])
        ys.append(series[T][0])
    return torch.tensor(xs, dtype=torch.float32).reshape(n, T, 8), torch.tensor(ys, dtype=torch.float32).reshape(n, 1)
x, y = make(2000, 32, 42)
class M(nn.Module):
    def __init__(self):
        super().__init__(); self.lstm = nn.LSTM(8, 32, batch_first=True); self.head = nn.Linear(32, 1)
    def forward(self, x):
        _, (h, _) = self.lstm(x); return self.head(h[-1])
model = M()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
times, loss_val = [], float("nan")
for e in range(epochs + 1):  # the first epoch warms up and is not timed
    t0 = time.perf_counter(); perm = torch.randperm(2000); total = None
    for i in range(0, 2000, 64):
        idx = perm[i:i + 64]; xb, yb = x[idx], y[idx]
        opt.zero_grad(set_to_none=True)
        loss = ((model(xb) - yb) ** 2).mean(); loss.backward(); opt.step()
        total = loss.detach() * len(idx) if total is None else total + loss.detach() * len(idx)
    loss_val = (total / 2000).item()
    if e > 0: times.append(time.perf_counter() - t0)
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                  "mkldnn": torch.backends.mkldnn.is_available(),
                  "s_per_epoch": statistics.median(times), "final_loss": loss_val}))
'''

WASM_SCRIPT = r'''
const fs = require("fs"), zlib = require("zlib"), vm = require("vm");
const [dir, epochs] = [process.argv.at(-2), Number(process.argv.at(-1))];
vm.runInThisContext(fs.readFileSync(dir + "/strider_wasm.js", "utf8") + "\nglobalThis.wasm_bindgen = wasm_bindgen;");
const bytes = zlib.gunzipSync(fs.readFileSync(dir + "/strider_wasm_bg.wasm.gz"));
globalThis.wasm_bindgen({ module_or_path: bytes }).then(() => {
  console.log(globalThis.wasm_bindgen.lstm_synthetic(JSON.stringify({ anchor: true, epochs, n_test: 0 })));
});
'''


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-wasm", action="store_true")
    args = ap.parse_args()
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py) or subprocess.run([py, "-c", f"import torch; assert torch.__version__.startswith('{TORCH}')"]).returncode:
        print(f"installing torch=={TORCH} into {VENV} (about 3 GB, once)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", f"torch=={TORCH}"], check=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               RAYON_NUM_THREADS=str(args.threads))
    torch = json.loads(sh([py, "-c", TORCH_SCRIPT, str(args.epochs), str(args.threads)], env=env).strip().splitlines()[-1])
    sh(["cargo", "build", "--release", "-q", "-p", "strider-core", "--example", "lstm_epoch"], cwd=ROOT)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ours = json.loads(sh([os.path.join(target, "release/examples/lstm_epoch"), str(args.epochs)], env=env))
    rows = [("PyTorch %s CPU (oneDNN fused LSTM), %d thread(s)" % (torch["torch"], torch["threads"]), torch["s_per_epoch"], torch["final_loss"]),
            ("Strider fused CPU engine (native), default: deterministic", ours["fused_cpu_s_per_epoch"], ours["fused_cpu_final_loss"]),
            ("Strider fused CPU engine (native), deterministic = false (FMA)", ours["fused_fast_s_per_epoch"], ours["fused_fast_final_loss"]),
            ("Strider on burn autodiff (flex CPU)", ours["burn_flex_s_per_epoch"], ours["burn_flex_final_loss"])]
    wasm = None
    if not args.no_wasm:
        # In headless Chromium when the page is built (scripts/build-www.sh) and playwright-core is
        # installed (tests/browser), else in Node on the report's wasm.
        www = os.path.join(target, "www")
        if os.path.isdir(os.path.join(www, "pkg")) and os.path.isdir(os.path.join(ROOT, "tests/browser/node_modules/playwright-core")):
            out = sh(["node", os.path.join(ROOT, "benches/reference/lstm_wasm_epoch.mjs"), str(args.epochs), www], cwd=ROOT)
            where = "headless Chromium"
        else:
            out = sh(["node", "-e", WASM_SCRIPT, os.path.join(ROOT, "native-cli/app/assets/report"), str(args.epochs)])
            where = "Node %s" % sh(["node", "--version"]).strip()
        wasm = json.loads(out.strip().splitlines()[-1])
        rows.append(("Strider fused engine in wasm (%s)" % where, wasm["s_per_epoch"], wasm["final_loss"]))
    print(f"## LSTM epoch: 2000 x 32 x 8 -> 32, batch 64, Adam; median of {args.epochs} epochs\n")
    print("| engine | s / epoch | loss after the epochs |")
    print("|---|---|---|")
    for name, s, loss in rows:
        print(f"| {name} | {s:.4f} | {loss:.5f} |")
    ratio = ours["fused_cpu_s_per_epoch"] / torch["s_per_epoch"]
    fast = ours["fused_fast_s_per_epoch"] / torch["s_per_epoch"]
    print(f"\nnative fused, deterministic / PyTorch = {ratio:.2f}x (target <= 1.0x): {'met' if ratio <= 1.0 else 'NOT met'}")
    print(f"native fused, deterministic = false / PyTorch = {fast:.2f}x (target <= 0.7x): {'met' if fast <= 0.7 else 'NOT met'}")
    print(f"burn autodiff / PyTorch = {ours['burn_flex_s_per_epoch'] / torch['s_per_epoch']:.2f}x")
    if wasm:
        w = wasm["s_per_epoch"] / ours["fused_cpu_s_per_epoch"]
        print(f"wasm / native fused = {w:.2f}x (target <= 2.5x): {'met' if w <= 2.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
