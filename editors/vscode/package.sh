#!/usr/bin/env bash
# Packages the VS Code extension into ivrc-VERSION.vsix here, for "Install from VSIX…".
# vsce needs Node.js 20 or later.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
npx @vscode/vsce package --allow-missing-repository --skip-license "$@"
