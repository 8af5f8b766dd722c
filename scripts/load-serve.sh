#!/usr/bin/env bash
# Load benchmark of `ivrc serve` (issue 5): wrk, from Debian's packages, POSTs Twilio voice
# webhooks to a release build on 127.0.0.1 — bounded: DURATION seconds (default 10) per run,
# CONNECTIONS connections (default 32). Three runs: the first webhook of a call (a new engine,
# the first prompt, a sealed state), a Gather action (the state opened and checked, keys
# fed, the next prompt and a new state), and a dialled party's `<Number url>` step answered
# (tests/fixtures/twilio/whisper.ivr: the state opened, the party's prompt and gather, and the
# call's latest state kept in the store before the answer). Prints wrk's figures;
# BENCHMARKS.md records them.
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
store="$(mktemp -d)"
target/release/ivrc serve examples/sum.ivr tests/fixtures/twilio/whisper.ivr --store "$store/entries.db" \
  --listen "127.0.0.1:$PORT" >"$out" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$out" "$store"' EXIT
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

whisper_body='CallSid=CA00000000000000000000000000000002&AccountSid=AC1&From=%2B15005550010&To=%2B15005550006&CallStatus=ringing'
step="$(curl -s -X POST --data "$whisper_body" "$base/voice/whisper" | sed -n 's/.*<Number url="\([^"]*\)".*/\1/p' | sed 's/&amp;/\&/g')"
[ -n "$step" ] || { echo "no <Number url> in the whisper flow's answer" >&2; exit 1; }
echo "== a dialled party's step answered: POST /voice/whisper?s=… with ParentCallSid (state kept)"
BODY='CallSid=CA00000000000000000000000000000003&ParentCallSid=CA00000000000000000000000000000002&AccountSid=AC1&To=%2B15005550001' \
  wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s scripts/load-serve.lua "$base$step"
