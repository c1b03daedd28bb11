"""Read tracking data back through MLflow's own Python client, for Strider's tests.

  inspect_mlflow.py compare LOCAL_MLRUNS SERVER_URI   every local run is on the server, complete
  inspect_mlflow.py runs URI EXPERIMENT                runs of an experiment as MLflow sees them
  inspect_mlflow.py alias URI NAME ALIAS               the version an alias points at, with tags
  inspect_mlflow.py migrate LOCAL_MLRUNS SQLITE_PATH   `mlflow migrate-filestore`, then count runs
  inspect_mlflow.py model URI NAME VERSION             a version's files and MLmodel as MLflow reads them

Prints one JSON object. Local stores are read with MLFLOW_ALLOW_FILE_STORE=true (MLflow 3.17's
FileStore is in maintenance mode and needs the opt-in).
"""
import json
import os
import subprocess
import sys
import warnings

warnings.filterwarnings("ignore")
os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402


def uri_of(u):
    return u if "://" in u else "file://" + os.path.abspath(u)


def all_artifacts(client, run_id, path=None):
    out = []
    for a in client.list_artifacts(run_id, path):
        out.extend(all_artifacts(client, run_id, a.path) if a.is_dir else [a.path])
    return out


def num(v):
    """JSON-safe metric value. MLflow's SQL stores keep +-inf as +-1.7976931348623157e308."""
    if v != v:
        return "nan"
    if abs(v) >= 1.7976931348623157e308:
        return "inf" if v > 0 else "-inf"
    return v


def describe(client, run, deep=True):
    d = {
        "run_id": run.info.run_id, "name": run.info.run_name, "status": run.info.status,
        "params": dict(run.data.params), "tags": dict(run.data.tags),
        "metrics": {k: num(v) for k, v in run.data.metrics.items()},
        "inputs": sorted(x.dataset.digest for x in run.inputs.dataset_inputs),
    }
    if deep:
        d["history"] = {k: sorted((m.timestamp, m.step, str(num(m.value))) for m in client.get_metric_history(run.info.run_id, k))
                        for k in run.data.metrics}
        d["artifacts"] = sorted(all_artifacts(client, run.info.run_id))
    return d


def runs_of(uri, experiment, deep=True):
    client = MlflowClient(tracking_uri=uri_of(uri))
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return []
    runs = client.search_runs([exp.experiment_id], max_results=5000)
    return [describe(client, r, deep) for r in runs]


def compare(local, server):
    problems, points = [], 0
    lc = MlflowClient(tracking_uri=uri_of(local))
    sc = MlflowClient(tracking_uri=server)
    n = 0
    for exp in lc.search_experiments():
        if exp.name == "Default":
            continue
        sexp = sc.get_experiment_by_name(exp.name)
        if sexp is None:
            problems.append(f"experiment {exp.name} missing on server")
            continue
        server_runs = {r.data.tags.get("strider.source_run_id"): r for r in sc.search_runs([sexp.experiment_id], max_results=5000)}
        for lr in lc.search_runs([exp.experiment_id], max_results=5000):
            n += 1
            sr = server_runs.get(lr.info.run_id)
            if sr is None:
                problems.append(f"run {lr.info.run_id} ({lr.info.run_name}) missing on server")
                continue
            a, b = describe(lc, lr), describe(sc, sr)
            if a["params"] != b["params"]:
                problems.append(f"{lr.info.run_name}: params differ")
            for k, v in a["tags"].items():
                if k == "mlflow.parentRunId":
                    parent = sc.get_run(b["tags"].get(k, "")) if b["tags"].get(k) else None
                    if parent is None or parent.data.tags.get("strider.source_run_id") != v:
                        problems.append(f"{lr.info.run_name}: parent not mapped")
                elif b["tags"].get(k) != v:
                    problems.append(f"{lr.info.run_name}: tag {k} differs")
            for k, hist in a["history"].items():
                points += len(hist)
                got = b["history"].get(k, [])
                if hist != got:
                    problems.append(f"{lr.info.run_name}: metric {k} has {len(got)} of {len(hist)} points")
            if a["inputs"] != b["inputs"]:
                problems.append(f"{lr.info.run_name}: inputs differ {a['inputs']} vs {b['inputs']}")
            if a["artifacts"] != b["artifacts"]:
                problems.append(f"{lr.info.run_name}: artifacts differ")
            if a["status"] != b["status"]:
                problems.append(f"{lr.info.run_name}: status {b['status']} vs {a['status']}")
    return {"ok": not problems and n > 0, "runs": n, "metric_points": points, "problems": problems[:20]}


def main():
    cmd = sys.argv[1]
    if cmd == "compare":
        out = compare(sys.argv[2], sys.argv[3])
    elif cmd == "runs":
        out = runs_of(sys.argv[2], sys.argv[3])
    elif cmd == "alias":
        client = MlflowClient(tracking_uri=uri_of(sys.argv[2]), registry_uri=uri_of(sys.argv[2]))
        v = client.get_model_version_by_alias(sys.argv[3], sys.argv[4])
        m = client.get_registered_model(sys.argv[3])
        out = {"version": str(v.version), "run_id": v.run_id, "source": v.source, "tags": dict(v.tags),
               "model_tags": dict(m.tags), "aliases": dict(m.aliases)}
    elif cmd == "model":
        uri = uri_of(sys.argv[2])
        mlflow.set_tracking_uri(uri)
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        v = client.get_model_version(sys.argv[3], sys.argv[4])
        path = mlflow.artifacts.download_artifacts(artifact_uri=v.source)
        model = mlflow.models.Model.load(path)
        out = {"source": v.source, "run_id": v.run_id, "files": sorted(os.listdir(path)),
               "flavors": sorted(model.flavors), "strider": model.flavors.get("strider"),
               "inputs": model.signature.inputs.input_names(),
               "outputs": model.signature.outputs.input_names(), "model_uuid": model.model_uuid,
               "mlmodel_run_id": model.run_id,
               "model_id": v.source[len("models:/"):] if v.source.startswith("models:/m-") else None}
        if out["model_id"]:
            logged = client.get_logged_model(out["model_id"])
            out["logged_model"] = {"status": str(logged.status), "name": logged.name,
                                   "artifact_location": logged.artifact_location,
                                   "tags": dict(logged.tags)}
    elif cmd == "migrate":
        target = "sqlite:///" + os.path.abspath(sys.argv[3])
        subprocess.run([os.path.join(os.path.dirname(sys.executable), "mlflow"), "migrate-filestore",
                        "--source", os.path.abspath(sys.argv[2]), "--target", target],
                       check=True, capture_output=True)
        client = MlflowClient(tracking_uri=target)
        out = {"runs": sum(len(client.search_runs([e.experiment_id], max_results=5000))
                           for e in client.search_experiments())}
    else:
        raise SystemExit(f"unknown command {cmd}")
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
