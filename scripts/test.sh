#!/usr/bin/env bash
# The test command (README): make .venv, install provreg with its dev extra, run the checks
# and the test suite against a real PostgreSQL (127.0.0.1:5432, or an embedded one).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip setuptools wheel
# constraints.txt pins torch to the CPU build; without it pip pulls a multi-GB CUDA build.
.venv/bin/python -m pip install -q -c constraints.txt -e '.[dev]'
.venv/bin/python -m ruff check .
.venv/bin/python -m ruff format --check .
.venv/bin/python -m mypy
.venv/bin/python -m registry.devtools check-migrations
exec .venv/bin/python -m pytest "$@"
