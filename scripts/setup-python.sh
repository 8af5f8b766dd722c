#!/usr/bin/env bash
# The Python tools the tests run as independent checkers, pinned, in a virtual environment under
# target/py (never committed: target/ is ignored):
# - num2words from PyPI, the oracle of the speech helpers' number words (tests/speech_oracle.rs,
#   issue 19);
# - pymongo, whose bson.json_util reads MongoDB Extended JSON as mongoimport does: the check of
#   `ivrc entries --export talkdesk` (tests/console, issue 20).
# Idempotent: the venv is made again only when a pinned version is not the one installed.
set -euo pipefail
cd "$(dirname "$0")/.."
pins=("num2words==0.5.14" "pymongo==4.10.1")
venv=target/py
check='import importlib.metadata as m, sys
pins = sys.argv[1:]
sys.exit(any(m.version(p.split("==")[0]) != p.split("==")[1] for p in pins))'
if "$venv/bin/python" -c "$check" "${pins[@]}" 2>/dev/null; then
  exit 0
fi
command -v python3 >/dev/null 2>&1 || { echo "setup-python: python3 is missing" >&2; exit 1; }
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}"
