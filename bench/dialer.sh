#!/usr/bin/env bash
# The campaign dialer's pacing (issue 8): a campaign of TOTAL leads at `rate RATE/s` with
# RATE*3 lines, each call answered by sipp behind the trunk, held 2 s by the flow, reported
# ok. Prints the call rate the dialer held (from the attempts it stored: starts per second
# over the run, and the worst one-second window), ivrc's CPU and peak RSS.
#
#   bench/dialer.sh RATE TOTAL        e.g. bench/dialer.sh 50 1000
#
# Loopback only; sipp is bounded by -m TOTAL and -timeout, ivrc exits when the campaign ends.
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:?usage: bench/dialer.sh RATE TOTAL}
total=${2:?usage: bench/dialer.sh RATE TOTAL}
scripts/setup.sh >/dev/null
cargo build --release -q
work=$(mktemp -d)
trap 'kill "${sipp_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
python3 - "$work" "$rate" "$total" <<'PY'
import sys
work, rate, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(f"{work}/leads.csv", "w") as f:
    f.write("phone\n")
    for i in range(1, total + 1):
        f.write(f"+7901{i:07d}\n")
with open(f"{work}/dialer.ivr", "w") as f:
    f.write(f"""campaign pace for hold {{
  leads "leads.csv"
  dial phone
  attempts 1
  retry_after 1m
  lines {rate * 3}
  rate {rate}/s
}}

flow hold(phone: phone) {{
  pause 2s
  report ok
}}
""")
PY
ulimit -n "$(ulimit -Hn)"
sipp -sf tests/sip/uas_lead.xml -i 127.0.0.1 -p 5092 -mi 127.0.0.1 -mp 7100 \
  -key rtp_sink 9 -m "$total" -timeout $((total / rate + 120))s -nostdin -trace_err \
  >"$work/sipp.log" 2>&1 &
sipp_pid=$!
start=$(date +%s.%N)
/usr/bin/time -v target/release/ivrc run "$work/dialer.ivr" --campaign pace \
  --listen 127.0.0.1:5093 --rtp-ports 30000-39998 --trunk sip:127.0.0.1:5092 \
  --store "$work/state.db" --cache-dir "$work/cache" >"$work/ivrc.log" 2>"$work/time.log"
end=$(date +%s.%N)
tail -1 "$work/ivrc.log"
python3 - "$work/state.db" "$rate" <<'PY'
import sqlite3, sys
db, rate = sys.argv[1], int(sys.argv[2])
starts = sorted(r[0] for r in sqlite3.connect(db).execute("SELECT started_ms FROM campaign_attempts"))
n = len(starts)
span = (starts[-1] - starts[0]) / 1000
held = (n - 1) / span if span else 0
# Calls started in each whole second of the run (the last, partial one left out).
per_second = {}
for s in starts:
    per_second[(s - starts[0]) // 1000] = per_second.get((s - starts[0]) // 1000, 0) + 1
inner = [per_second.get(k, 0) for k in range(0, int(span))]
print(f"calls={n} span_s={span:.2f} rate_held={held:.2f}/s (configured {rate}/s, {100 * (held - rate) / rate:+.2f} %)"
      f" per_second_min={min(inner) if inner else 0} per_second_max={max(inner) if inner else 0}")
PY
awk -F': ' '/Maximum resident/{print "ivrc peak RSS kB:", $2} /User time/{u=$2} /System time/{s=$2} END{print "ivrc CPU s:", u+s}' "$work/time.log"
echo "wall s: $(echo "$end - $start" | bc)"
