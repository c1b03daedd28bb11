#!/usr/bin/env bash
# Regenerate core/tune/src/storage/optuna_schema_pg.sql: let Optuna create its schema in an empty
# PostgreSQL database, then dump it. Needs a Python with optuna and psycopg, and a database URL
# whose user may create tables: make-optuna-pg-schema.sh PYTHON postgresql://USER:PW@HOST/DB
set -euo pipefail
python=$1 url=$2
"$python" -c "import optuna, sys; optuna.create_study(study_name='schema', storage=sys.argv[1])" "$url"
out=$(dirname "$0")/../core/tune/src/storage/optuna_schema_pg.sql
{
  echo "-- Optuna's RDB schema on PostgreSQL (pg_dump -s of a database Optuna created; see"
  echo "-- scripts/make-optuna-pg-schema.sh), plus its version rows."
  pg_dump -s --no-owner --no-privileges "$url" | grep -v '^SET \|^SELECT pg_catalog.set_config\|^--\|^\\' | cat -s
  echo "INSERT INTO public.version_info (version_info_id, schema_version, library_version) VALUES (1, 12, '5.0.0');"
  echo "INSERT INTO public.alembic_version (version_num) VALUES ('v3.2.0.a');"
} > "$out"
