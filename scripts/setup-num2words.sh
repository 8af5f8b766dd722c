#!/usr/bin/env bash
# The oracle of the speech helpers' number words (issue 19, item 4): num2words from PyPI, pinned,
# in a virtual environment under target/py (never committed: target/ is ignored). The test
# tests/speech_oracle.rs runs target/py/bin/python with it. Idempotent: the venv is made again
# only when the pinned version is not the one installed.
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.5.14
venv=target/py
if "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('num2words') != '$version')" 2>/dev/null; then
  exit 0
fi
command -v python3 >/dev/null 2>&1 || { echo "setup-num2words: python3 is missing" >&2; exit 1; }
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "num2words==$version"
