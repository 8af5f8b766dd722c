#!/usr/bin/env bash
# Page times of the agent console (issue 20) over a large store: CONTACTS contacts (default
# 10000) with TEXTS texts each (default 10), written straight into a version-1 store file so
# that opening it runs the upgrade to version 2 (which fills `contact_last`) as a user's old
# file would; then a release `ivrc serve --console-listen` on 127.0.0.1 and curl, RUNS times
# (default 5) per page, bounded by curl's --max-time. Prints the page, its status and seconds;
# BENCHMARKS.md records them.
set -euo pipefail
cd "$(dirname "$0")/.."
CONTACTS="${CONTACTS:-10000}"
TEXTS="${TEXTS:-10}"
RUNS="${RUNS:-5}"
PORT="${PORT:-18090}"
export IVRC_CONSOLE_TOKEN=console-token-for-the-load-run-0123456789

cargo build --release --quiet
dir="$(mktemp -d)"
store="$dir/entries.db"
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$dir"' EXIT
python3 - "$store" "$CONTACTS" "$TEXTS" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
contacts, texts = int(sys.argv[2]), int(sys.argv[3])
db.executescript("""
CREATE TABLE entries (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, kind TEXT NOT NULL,
  contact TEXT NOT NULL, our_number TEXT NOT NULL, flow TEXT NOT NULL, sid TEXT NOT NULL,
  body TEXT, url TEXT);
CREATE INDEX entries_by_contact ON entries (contact, at_ms);
""")
at = 1_790_000_000_000
rows = []
for i in range(texts):
    for c in range(contacts):
        at += 1
        kind = "sms_in" if i % 2 == 0 else "sms_out"
        rows.append((at, kind, f"+1555{c:07d}", "+16502907793", "support", f"SM{i}x{c}", f"message {i} from {c}"))
db.executemany("INSERT INTO entries (at_ms, kind, contact, our_number, flow, sid, body) VALUES (?,?,?,?,?,?,?)", rows)
db.execute("PRAGMA user_version = 1")
db.commit()
PY
start=$(date +%s.%N)
target/release/ivrc serve examples/sum.ivr --store "$store" --listen "127.0.0.1:$PORT" \
  --console-listen "127.0.0.1:$((PORT + 1))" >"$dir/out" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q "^console on" "$dir/out" 2>/dev/null && break; sleep 0.1; done
echo "start with the upgrade of $((CONTACTS * TEXTS)) entries: $(echo "$(date +%s.%N) - $start" | bc) s"
base="http://127.0.0.1:$((PORT + 1))"
cookie=$(curl -s --max-time 10 -i -X POST -d "token=$IVRC_CONSOLE_TOKEN" "$base/console/login" \
  | grep -i '^set-cookie' | sed 's/^[^:]*: //; s/;.*//' | tr -d '\r')
for page in /console/contacts /console/contacts/+15550000042 "/console/contacts?q=%2B1555000" \
            "/console/contacts?q=message%209%20from%209999"; do
  for _ in $(seq "$RUNS"); do
    curl -s --max-time 30 -o /dev/null -w "$page %{http_code} %{time_total}s\n" -H "Cookie: $cookie" "$base$page"
  done
done
