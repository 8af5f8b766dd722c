#!/usr/bin/env bash
# The main job on the examples: set up, build ivrc, check every example flow, and compile
# the Voximplant callback task (flow and campaign) to the IR.
# Also runs the examples' conversation tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --locked --release
./target/release/ivrc check examples/*.ivr
./target/release/ivrc test examples/*.ivr
./target/release/ivrc build examples/callback.ivr --target ir -o target/callback.ir.json
echo "IR of the callback task written to target/callback.ir.json ($(wc -c < target/callback.ir.json) bytes)"
