#!/usr/bin/env bash
# The one command that sets up and passes all tests (CI runs exactly this via .ci/run):
# formatting, clippy with warnings denied, and every test (unit, snapshot, property,
# bad-input and CLI tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
# The VS Code / TextMate grammar over hand-written cases and every example and fixture.
editors/vscode/test/run.sh
