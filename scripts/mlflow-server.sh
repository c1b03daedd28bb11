#!/usr/bin/env bash
# Start / stop a real MLflow tracking server on 127.0.0.1 for tests (after the measured recipe in
# shared/notes/mlflow.md): SQLite backend copied from a pre-migrated template (skips ~15 s of
# migrations), proxied artifacts, one worker, job execution off.
#   mlflow-server.sh start DIR PORT   (reuses DIR/mlflow.db if present: a restart keeps the data)
#   mlflow-server.sh stop DIR
# MLFLOW (default: mlflow on PATH) picks the executable.
set -euo pipefail
MLFLOW=${MLFLOW:-mlflow}
cmd=$1
DIR=$(realpath -m "$2")
case $cmd in
start)
  PORT=$3
  mkdir -p "$DIR"
  version=$("$MLFLOW" --version | awk '{print $NF}')
  template=${XDG_CACHE_HOME:-$HOME/.cache}/strider/mlflow-template-$version.db
  if [[ ! -f $template ]]; then
    mkdir -p "$(dirname "$template")"
    "$MLFLOW" db upgrade "sqlite:///$template.tmp" >/dev/null 2>&1
    mv "$template.tmp" "$template"
  fi
  [[ -f $DIR/mlflow.db ]] || cp "$template" "$DIR/mlflow.db"
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid "$MLFLOW" server --host 127.0.0.1 --port "$PORT" --workers 1 \
    --backend-store-uri "sqlite:///$DIR/mlflow.db" --artifacts-destination "$DIR/artifacts" \
    >>"$DIR/server.log" 2>&1 &
  echo $! >"$DIR/server.pid"
  for _ in $(seq 1 900); do
    if curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; then exit 0; fi
    kill -0 "$(cat "$DIR/server.pid")" 2>/dev/null || { tail -20 "$DIR/server.log"; exit 1; }
    sleep 0.1
  done
  echo "mlflow server on :$PORT did not become healthy" >&2
  exit 1
  ;;
stop)
  # The server forks workers: end the whole process group.
  if [[ -f $DIR/server.pid ]]; then
    pid=$(cat "$DIR/server.pid")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$DIR/server.pid"
  fi
  ;;
esac
