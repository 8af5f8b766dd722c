#!/usr/bin/env bash
# Installs the npm packages of the VS Code extension (pinned in package-lock.json): the
# language client it ships, vsce that packages it, and vscode-tmgrammar-test that tests its
# grammar. Does nothing when node_modules already matches the lock file.
set -euo pipefail
cd "$(dirname "$0")"

stamp=node_modules/.ivrc-package-lock.json
if ! cmp -s package-lock.json "$stamp"; then
  # vsce's optional native parts (keytar, for publishing tokens; vsce-sign's signing
  # binaries) are not needed to package, and keytar would be built from source here.
  npm ci --omit=optional --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
