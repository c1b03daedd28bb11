"""The mixed_4d problem of shared/anchors/optuna_bench.py as a `strider tune -- CMD` objective
(stdlib only). Env MODE: `report` adds strider:report lines; `fail_positive_x` exits 1 when x > 0;
`slow` sleeps SLEEP seconds first; `pareto` prints two objectives. With HANG_FROM=K, trial K and
later write their number to the file MARKER and hang (so a test can kill -9 its worker mid-trial
without racing the trial's end)."""
import json
import math
import os
import sys
import time

p = json.loads(os.environ["STRIDER_TRIAL_PARAMS"])
mode = os.environ.get("MODE", "")
if "HANG_FROM" in os.environ and int(os.environ["STRIDER_TRIAL_NUMBER"]) >= int(os.environ["HANG_FROM"]):
    open(os.environ["MARKER"], "w").write(os.environ["STRIDER_TRIAL_NUMBER"])
    time.sleep(60)
if mode == "slow":
    time.sleep(float(os.environ.get("SLEEP", "0.5")))
shift = {"a": 0.0, "b": 1.0, "c": -1.0, "d": 2.0}[p["cat"]]
bias = {"a": 0.5, "b": 0.0, "c": 1.0, "d": 2.0}[p["cat"]]
v = (p["x"] - shift) ** 2 + (math.log10(p["lr"]) + 1) ** 2 + 0.1 * (p["n"] - 7) ** 2 + bias
if mode == "fail_positive_x" and p["x"] > 0:
    print("boom: x is positive", file=sys.stderr)
    sys.exit(1)
if mode == "prune_late":
    number = int(os.environ["STRIDER_TRIAL_NUMBER"])
    if number >= 6:
        print("strider:report 0 100.0", flush=True)
        time.sleep(6)
        open(os.environ["MARKER"], "w").write("not terminated")
        print(100.0)
        sys.exit(0)
    print("strider:report 0 0.0", flush=True)
if mode == "pareto":
    print(f"progress line first\n{v} {p['x']}")
    sys.exit(0)
print("some log output")
print(v)
