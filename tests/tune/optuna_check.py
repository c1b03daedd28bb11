"""Optuna's side of the tuning tests: read, continue and serve studies strider wrote.

usage: optuna_check.py summary URL STUDY
       optuna_check.py continue URL STUDY N        (Optuna's TPE optimises N more trials)
       optuna_check.py dashboard URL STUDY PORT    (optuna-dashboard's /api/studies)
URL: sqlite:///PATH, postgresql://... or journal:PATH. Prints JSON.
"""
import json
import math
import os
import subprocess
import sys
import time
import urllib.request

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

optuna.logging.set_verbosity(optuna.logging.WARNING)


def storage(url):
    if url.startswith("journal:"):
        return JournalStorage(JournalFileBackend(url[len("journal:"):]))
    return url


def mixed(trial):
    x = trial.suggest_float("x", -5.0, 5.0)
    lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
    n = trial.suggest_int("n", 1, 20)
    cat = trial.suggest_categorical("cat", ["a", "b", "c", "d"])
    shift = {"a": 0.0, "b": 1.0, "c": -1.0, "d": 2.0}[cat]
    bias = {"a": 0.5, "b": 0.0, "c": 1.0, "d": 2.0}[cat]
    return (x - shift) ** 2 + (math.log10(lr) + 1) ** 2 + 0.1 * (n - 7) ** 2 + bias


def summary(url, name):
    s = optuna.load_study(study_name=name, storage=storage(url))
    out = {
        "n": len(s.trials),
        "numbers": [t.number for t in s.trials],
        "ids": [t._trial_id for t in s.trials],
        "states": [t.state.name for t in s.trials],
        "values": [t.values for t in s.trials],
        "params": [t.params for t in s.trials],
        "user_attrs": [t.user_attrs for t in s.trials],
        "intermediate": [{str(k): v for k, v in t.intermediate_values.items()} for t in s.trials],
        "directions": [d.name for d in s.directions],
    }
    if len(s.directions) == 1:
        out["best_value"] = s.best_value if any(t.state.name == "COMPLETE" for t in s.trials) else None
    else:
        out["best_trials"] = sorted(t.number for t in s.best_trials)
    return out


def main():
    cmd, url, name = sys.argv[1:4]
    if cmd == "summary":
        print(json.dumps(summary(url, name)))
    elif cmd == "continue":
        s = optuna.load_study(study_name=name, storage=storage(url), sampler=optuna.samplers.TPESampler(seed=1))
        s.optimize(mixed, n_trials=int(sys.argv[4]))
        print(json.dumps({"n": len(s.trials)}))
    elif cmd == "dashboard":
        port = sys.argv[4]
        target = url[len("journal:"):] if url.startswith("journal:") else url
        dashboard = os.path.join(os.path.dirname(sys.executable), "optuna-dashboard")
        p = subprocess.Popen(
            [dashboard, target, "--host", "127.0.0.1", "--port", port],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2) as r:
                        studies = json.load(r)
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                raise SystemExit("optuna-dashboard did not answer")
            sid = next(s["study_id"] for s in studies["study_summaries"] if s["study_name"] == name)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies/{sid}?after=0", timeout=5) as r:
                detail = json.load(r)
            print(json.dumps({"studies": [s["study_name"] for s in studies["study_summaries"]],
                              "n_trials": len(detail["trials"]),
                              "best_trials": [t["number"] for t in detail.get("best_trials", [])]}))
        finally:
            p.terminate()
            p.wait()


if __name__ == "__main__":
    main()
