#!/usr/bin/env bash
# Load benchmark of `ivrc serve` (issue 5): wrk, from Debian's packages, POSTs Twilio voice
# webhooks to a release build on 127.0.0.1 — bounded: DURATION seconds (default 10) per run,
# CONNECTIONS connections (default 32). Two runs: the first webhook of a call (a new engine,
# the first prompt, a sealed state), and a Gather action (the state opened and checked, keys
# fed, the next prompt and a new state). Prints wrk's figures; BENCHMARKS.md records them.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
PORT="${PORT:-18090}"

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
  else
    sudo apt-get install -y -qq wrk >/dev/null || { sudo apt-get update -qq && sudo apt-get install -y -qq wrk; }
  fi
fi

cargo build --release --quiet
out="$(mktemp)"
target/release/ivrc serve examples/sum.ivr --listen "127.0.0.1:$PORT" >"$out" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 50); do
  grep -q "listening on" "$out" && break
  sleep 0.1
done
grep -q "listening on" "$out" || { cat "$out"; exit 1; }

base="http://127.0.0.1:$PORT"
start_body='CallSid=CA00000000000000000000000000000001&AccountSid=AC1&From=%2B79001234567&To=%2B74950000000&CallStatus=ringing'
action="$(curl -s -X POST --data "$start_body" "$base/voice/sum" | sed -n 's/.*<Gather[^>]* action="\([^"]*\)".*/\1/p' | sed 's/&amp;/\&/g')"
[ -n "$action" ] || { echo "no Gather action in the first answer" >&2; exit 1; }

echo "== first webhook of a call: POST /voice/sum"
BODY="$start_body" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s scripts/load-serve.lua "$base/voice/sum"
echo "== gather action: POST /voice/sum?s=… with Digits"
BODY='CallSid=CA00000000000000000000000000000001&AccountSid=AC1&Digits=12' \
  wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s scripts/load-serve.lua "$base$action"
