#!/usr/bin/env bash
# The `listen` accuracy benchmark (issue 17): every utterance of the speech corpus
# (scripts/speech-corpus.sh) is spoken into a real call to a release `ivrc run` — sipp streams
# it as G.711 μ-law RTP over 127.0.0.1 (tests/sip/uac_speak.xml) to the flows of
# tests/fixtures/runtime/speech.ivr, whose arms keep the arm taken in the call record — and the
# records are compared with the manifest. Per condition (clean, 20 dB and 10 dB SNR) it prints
# keywords accepted / falsely rejected, distractors (other speech, negations, non-speech)
# falsely accepted, and the runtime's CPU time per second of one `listen` (process CPU from
# /proc over the summed listening time of the calls). BENCHMARKS.md records the figures.
#
#   bench/speech.sh [CONDITION...]       (default: clean snr20 snr10)
#
# Bounded: CONCURRENCY calls at once (default 4), the first LIMIT calls of each condition in
# manifest order (default: all 264), every sipp by -m 1 and -timeout 30s, and each condition
# by MAX_SECONDS (default 900). Results land in bench/results/speech/CONDITION/ (summary.txt;
# misses.txt, every utterance that took a wrong arm; the records; the runtime's log). CORPUS
# names the corpus directory (default target/speech-corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then conditions=("$@"); else conditions=(clean snr20 snr10); fi
concurrency=${CONCURRENCY:-4}
limit=${LIMIT:-100000}
max_seconds=${MAX_SECONDS:-900}
corpus=${CORPUS:-target/speech-corpus}
port=${PORT:-17990}
repo=$(pwd)

scripts/setup.sh >/dev/null
cargo build --release -q
scripts/speech-corpus.sh "$corpus"
corpus=$(cd "$corpus" && pwd)
tck=$(getconf CLK_TCK)

work=$(mktemp -d)
# On any exit (INT and TERM too) the calls still being placed and the runtime are stopped.
trap 'kill "${calls_pid:-}" "${ivrc_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

# One call: ROW FILE FLOW — its own directory, the utterance as speech.ulaw, a Call-ID naming
# the manifest row. Ports come from the row number, so calls running together never share.
call() {
  local row=$1 file=$2 flow=$3 dir="$work/calls/$1"
  mkdir -p "$dir"
  ln -s "$corpus/$file" "$dir/speech.ulaw"
  cd "$dir"
  sipp -sf "$repo/tests/sip/uac_speak.xml" -i 127.0.0.1 -p $((30000 + 2 * (row % 500))) \
    -mi 127.0.0.1 -mp $((32000 + 4 * (row % 500))) -cid_str "speech-$row-%u@%s" \
    -m 1 -nostdin -timeout 30s -timeout_error -s "$flow" "127.0.0.1:$port" >sipp.log 2>&1 ||
    echo "row $row: sipp failed ($(tail -n 3 sipp.log | tr '\n' ' '))" >&2
}
export -f call
export work corpus repo port

# Whether process $1 (a child of this script) still runs: a child that ended stays a zombie
# until it is waited for, and `kill -0` still finds it.
running() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ "$state" != Z ]
}

# Starts the runtime on the condition's store (again after a crash) and waits until it
# listens; its CPU ticks so far in `first`.
start_runtime() {
  local before
  touch "$out/ivrc.log"
  before=$(grep -c listening "$out/ivrc.log" || true)
  target/release/ivrc run tests/fixtures/runtime/speech.ivr --listen "127.0.0.1:$port" \
    --rtp-ports 28000-28999 --max-calls 100 --grace 5 --store "$out/calls.db" \
    --cache-dir "$work/cache" >>"$out/ivrc.log" 2>&1 &
  ivrc_pid=$!
  for _ in $(seq 50); do
    [ "$(grep -c listening "$out/ivrc.log")" -gt "${before:-0}" ] && break
    sleep 0.2
  done
  [ "$(grep -c listening "$out/ivrc.log")" -gt "${before:-0}" ] || { cat "$out/ivrc.log" >&2; exit 1; }
  first=$(awk '{print $14 + $15}' "/proc/$ivrc_pid/stat")
  last=$first
}

for cond in "${conditions[@]}"; do
  out=bench/results/speech/$cond
  rm -rf "$out" "$work/calls"
  mkdir -p "$out" "$work/calls"
  crashes=0 cpu=0
  start_runtime
  started=$(date +%s)
  # ROW FILE FLOW for each manifest row of this condition (row = line number in the manifest).
  awk -F, -v c="$cond" 'NR > 1 && $2 == c { print NR, $1, $(NF - 4) }' "$corpus/manifest.csv" |
    head -n "$limit" >"$out/calls.txt"
  xargs -P "$concurrency" -L 1 bash -c 'call "$@"' _ <"$out/calls.txt" &
  calls_pid=$!
  # The watchdog: today's spotter can crash the runtime (a segfault in a recognizer thread
  # when concurrent listens end together); a crash is counted, its CPU time kept, and the
  # runtime restarted on the same store, so the calls after it still count.
  while running "$calls_pid"; do
    if ! running "$ivrc_pid"; then
      wait "$ivrc_pid" || true
      crashes=$((crashes + 1))
      cpu=$((cpu + last - first))
      echo "$cond: the runtime died (crash $crashes); restarted" >&2
      start_runtime
    else
      last=$(awk '{print $14 + $15}' "/proc/$ivrc_pid/stat")
    fi
    if [ $(($(date +%s) - started)) -gt "$max_seconds" ]; then
      echo "$cond: stopped after $max_seconds s" >&2
      kill "$calls_pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  wait "$calls_pid" 2>/dev/null || true
  wall=$(($(date +%s) - started))
  last=$(awk '{print $14 + $15}' "/proc/$ivrc_pid/stat")
  cpu=$((cpu + last - first))
  kill -TERM "$ivrc_pid"
  wait "$ivrc_pid" || true
  ivrc_pid=
  target/release/ivrc calls --store "$out/calls.db" --format json >"$out/records.json"
  python3 - "$corpus/manifest.csv" "$out/records.json" "$out/calls.txt" "$cond" \
    "$(awk -v c="$cpu" -v t="$tck" 'BEGIN { print c / t }')" "$wall" "$concurrency" "$crashes" \
    <<'EOF' | tee "$out/summary.txt"
import csv, json, sys
manifest, records, placed, cond, cpu, wall, conc, crashes = sys.argv[1:9]
placed = {int(line.split()[0]) for line in open(placed)}
rows = list(csv.DictReader(open(manifest, encoding="utf-8")))
by_row = {}
for r in json.load(open(records, encoding="utf-8")):
    parts = r["call_id"].split("-")
    if parts[0] == "speech":
        by_row[int(parts[1])] = r
arm_of = lambda r: dict(r["values"]).get("arm", "none")
NEG = ("ne_gotov", "net_ne_gotov", "ya_ne_gotov", "eshche_ne")
NOISE = ("silence", "breath", "noise")
kw = [0, 0, 0, 0]  # calls, accepted, rejected (nomatch/timeout), another phrase
dis = [0, 0]       # other speech: calls, a phrase taken
neg = [0, 0]       # negations of «готов»
noise = [0, 0]     # silence, breathing, noise
missing, listening, wrong = 0, 0.0, []
for i, m in enumerate(rows, start=2):
    if i not in placed:
        continue
    r = by_row.get(i)
    if r is None:
        missing += 1
        continue
    if r["answered_ms"] and r["ended_ms"]:
        listening += (r["ended_ms"] - r["answered_ms"]) / 1000
    arm = arm_of(r)
    phrase_taken = arm not in ("nomatch", "timeout", "none")
    if m["expected"] != "none":
        kw[0] += 1
        if arm == m["expected"]:
            kw[1] += 1
        elif phrase_taken:
            kw[3] += 1
            wrong.append(f'{m["file"]}({m["flow"]})→{arm}')
        else:
            kw[2] += 1
            wrong.append(f'{m["file"]}({m["flow"]})→{arm}')
    else:
        bucket = neg if m["id"] in NEG else noise if m["id"] in NOISE else dis
        bucket[0] += 1
        if phrase_taken:
            bucket[1] += 1
            wrong.append(f'{m["file"]}({m["flow"]})→{arm}')
pct = lambda a, b: f"{100 * a / b:.1f} %" if b else "–"
cpu, wall = float(cpu), float(wall)
print(f"condition {cond}: {kw[0] + dis[0] + neg[0] + noise[0]} calls ({missing} without a record), "
      f"{wall:.0f} s wall, up to {conc} at once, mean {listening / wall:.1f} listening, "
      f"runtime crashes {crashes}")
print(f"  keywords: {kw[1]}/{kw[0]} accepted ({pct(kw[1], kw[0])}), "
      f"false reject {kw[2]} ({pct(kw[2], kw[0])}), another phrase {kw[3]} ({pct(kw[3], kw[0])})")
print(f"  other speech: false accept {dis[1]}/{dis[0]} ({pct(dis[1], dis[0])})")
print(f"  negations: false accept {neg[1]}/{neg[0]} ({pct(neg[1], neg[0])})")
print(f"  silence, breathing, noise: false accept {noise[1]}/{noise[0]} ({pct(noise[1], noise[0])})")
fa = dis[1] + neg[1] + noise[1]
fa_n = dis[0] + neg[0] + noise[0]
print(f"  all distractors: false accept {fa}/{fa_n} ({pct(fa, fa_n)})")
print(f"  runtime CPU {cpu:.1f} s over {listening:.0f} listening s: "
      f"{100 * cpu / listening if listening else 0:.1f} % of a core per concurrent listen")
print("| " + " | ".join([cond, pct(kw[1], kw[0]), pct(kw[2], kw[0]), pct(kw[3], kw[0]),
      pct(fa, fa_n), pct(dis[1], dis[0]), pct(neg[1], neg[0]), pct(noise[1], noise[0]),
      f"{100 * cpu / listening if listening else 0:.1f} %"]) + " |")
print("  misses: " + " ".join(wrong), file=open(records.replace("records.json", "misses.txt"), "w"))
EOF
done
