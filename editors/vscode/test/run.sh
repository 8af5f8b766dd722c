#!/usr/bin/env bash
# Tests the TextMate grammar syntaxes/ivr.tmLanguage.json: its keyword table against
# grammar/ivr.pest, the hand-written assertions of test/cases/, and token snapshots
# (test/snap/) of every example and valid fixture. After a deliberate grammar change or a new
# or changed .ivr file, `test/run.sh --update` rewrites the snapshots: review them with git diff.
set -euo pipefail
cd "$(dirname "$0")/.."
ext=$PWD
repo=$(cd ../.. && pwd)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ "${CI:-}" = true ]; then
    echo "editors/vscode: node and npm are needed for the grammar tests" >&2
    exit 1
  fi
  echo "editors/vscode: no node or npm, grammar tests skipped (scripts/setup.sh installs them)" >&2
  exit 0
fi
./setup.sh

node test/keywords.js
node_modules/.bin/vscode-tmgrammar-test --compact 'test/cases/*.ivr'

# The snapshot tool keeps each snapshot beside its source, so sources and snapshots are
# copied into one scratch tree that mirrors the repository. Left out: the error fixtures, and
# cr_line_endings.ivr, whose last lone CR the snapshot format reads back as part of a line
# break (test/cases/line_endings.ivr covers lone CRs).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sources=$(cd "$repo" && find examples tests/fixtures -name '*.ivr' -not -path 'tests/fixtures/err/*' \
  -not -name cr_line_endings.ivr | sort)
problems=()
for src in $sources; do
  mkdir -p "$work/$(dirname "$src")"
  cp "$repo/$src" "$work/$src"
  if [ -f "test/snap/$src.snap" ]; then
    cp "test/snap/$src.snap" "$work/$src.snap"
  else
    problems+=("no snapshot for $src")
  fi
done
for snap in $(cd test/snap && find . -name '*.snap' | sed 's|^\./||' | sort); do
  [ -f "$repo/${snap%.snap}" ] || problems+=("snapshot of a removed file: test/snap/$snap")
done

if [ "${1:-}" = --update ]; then
  (cd "$work" && "$ext/node_modules/.bin/vscode-tmgrammar-snap" --config "$ext/package.json" --updateSnapshot '**/*.ivr' >/dev/null)
  rm -rf test/snap
  mkdir test/snap
  (cd "$work" && find . -name '*.snap' -exec cp --parents {} "$ext/test/snap/" \;)
  echo "✓ wrote $(echo "$sources" | wc -l) snapshots to editors/vscode/test/snap/"
  exit 0
fi
if [ ${#problems[@]} -gt 0 ]; then
  printf 'editors/vscode: %s\n' "${problems[@]}" >&2
  echo "editors/vscode: run editors/vscode/test/run.sh --update and review the snapshots" >&2
  exit 1
fi
if ! out=$(cd "$work" && "$ext/node_modules/.bin/vscode-tmgrammar-snap" --config "$ext/package.json" '**/*.ivr'); then
  echo "$out" | grep -v 'run successfully' >&2
  echo "editors/vscode: tokens differ from test/snap/; if the change is intended, run editors/vscode/test/run.sh --update" >&2
  exit 1
fi
echo "✓ $(echo "$sources" | wc -l) .ivr files of examples/ and tests/fixtures/ match their token snapshots"
