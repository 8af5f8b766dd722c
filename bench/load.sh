#!/usr/bin/env bash
# One bounded load run of `ivrc run` with the sipp scenarios and harness Asterisk was measured
# with (../shared/bench/sipp, see ../shared/bench/asterisk-baseline.md), on 127.0.0.1 only.
#
#   bench/load.sh setup RATE              call-setup rate: short calls held 1 s, 20 s at RATE/s
#   bench/load.sh media CALLS             CALLS concurrent two-way RTP calls of 20 s
#   bench/load.sh dtmf RATE               the add flow (12# + 34# → 46) at RATE new calls/s, 30 s
#   bench/load.sh bridge CALLS            CALLS concurrent callers of 20 s, each bridged to an agent
#                                         dialled through the trunk (sipp echoing RTP): 2 legs each
#
# Every sipp run is bounded by -m (calls), -l (concurrent) and -timeout. Results land in
# bench/results/TEST-LEVEL/ (summary.txt, samples.txt, sipp stats); for `dtmf` the call records
# are checked for a=12 b=34 sum=46. BENCH_SIPP_DIR points at the harness when it is elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
test=${1:?usage: bench/load.sh setup|media|dtmf|bridge LEVEL}
level=${2:?usage: bench/load.sh setup|media|dtmf|bridge LEVEL}
sipp_dir=${BENCH_SIPP_DIR:-$(pwd)/../shared/bench/sipp}
[ -x "$sipp_dir/loadrun.sh" ] || { echo "no loadrun.sh in $sipp_dir (set BENCH_SIPP_DIR)" >&2; exit 2; }
scripts/setup.sh >/dev/null
command -v tcpdump >/dev/null || { sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo; $sudo apt-get install -y -qq tcpdump >/dev/null; }
cargo build --release -q

out=$(pwd)/bench/results/$test-$level
work=$(mktemp -d)
trap 'kill "${ivrc_pid:-}" "${agent_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
cp "$sipp_dir"/*.xml "$work/"
python3 "$sipp_dir/make_dtmf_pcap.py" "$work/flow.pcap" 9 3.0:12# 6.0:34# >/dev/null
long="This is a long announcement used for load testing. It keeps the media path busy with real speech for a while. $(printf 'One two three four five six seven eight nine ten. %.0s' 1 2 3 4 5 6)"
espeak-ng -v en-us -s 170 -w "$work/long.wav" "$long"
sox "$work/long.wav" -r 8000 -c 1 -t ul "$work/caller.ulaw"

ulimit -n "$(ulimit -Hn)"
if [ "$test" = bridge ]; then
  # The agents: one sipp UAS answering every call, echoing RTP, bounded in calls and time.
  sipp -sf bench/agent_uas.xml -i 127.0.0.1 -p 5090 -mi 127.0.0.1 -mp 7000 -rtp_echo \
    -m "$((2 * level))" -timeout 200s -nostdin -trace_err >"$work/agent.log" 2>&1 &
  agent_pid=$!
fi
target/release/ivrc run bench/flows.ivr --listen 127.0.0.1:5070 --rtp-ports 20000-39998 \
  --max-calls 5000 --grace 5 --store "$work/calls.db" --cache-dir "$work/cache" \
  --trunk sip:127.0.0.1:5090 >"$work/ivrc.log" 2>&1 &
ivrc_pid=$!
for _ in $(seq 50); do grep -q listening "$work/ivrc.log" 2>/dev/null && break; sleep 0.2; done
grep -q listening "$work/ivrc.log" || { cat "$work/ivrc.log" >&2; exit 1; }
base_fds=$(ls /proc/$ivrc_pid/fd | wc -l)
export SUT_PID=$ivrc_pid SUT_ADDR=127.0.0.1:5070 OUT_DIR=$out CAPTURE=1
# Each live call holds its RTP socket twice (the call reads, the media clock sends): half the
# open descriptors above the idle count are live calls.
export SUT_CHANNELS="echo \$(( (\$(ls /proc/$ivrc_pid/fd | wc -l) - $base_fds) / 2 )) active channels"
rm -rf "$out"; mkdir -p "$out"
cd "$work"
case $test in
  setup) "$sipp_dir/loadrun.sh" "$test-$level" short_call_uac.xml short "$level" $((4 * level)) $((20 * level)) 1000 60 ;;
  media) "$sipp_dir/loadrun.sh" "$test-$level" rtp_load_uac.xml media $((level / 10)) "$level" $((2 * level)) 20000 90 ;;
  dtmf) "$sipp_dir/loadrun.sh" "$test-$level" ivr_dtmf_uac.xml add "$level" $((12 * level)) $((30 * level)) 0 90 ;;
  bridge) "$sipp_dir/loadrun.sh" "$test-$level" rtp_load_uac.xml bridged $((level / 10)) "$level" "$level" 20000 90 ;;
  *) echo "unknown test $test" >&2; exit 2 ;;
esac
rss_idle_after=$(awk '/VmRSS/{print $2}' /proc/$ivrc_pid/status)
# Ended dialogs are kept for timer J (32 s) to absorb retransmitted BYEs; look after that.
sleep 40
rss_after=$(awk '/VmRSS/{print $2}' /proc/$ivrc_pid/status)
kill -TERM "$ivrc_pid"; wait "$ivrc_pid" || true; ivrc_pid=
echo "rss_kb right after the run: $rss_idle_after, 40 s later: $rss_after" | tee -a "$out/summary.txt"
if [ "$test" = dtmf ]; then
  cd - >/dev/null
  target/release/ivrc calls --store "$work/calls.db" --format json | python3 -c '
import json, sys
calls = [c for c in json.load(sys.stdin) if c["flow"] == "add"]
right = sum(1 for c in calls if dict(c["values"]).get("sum") == "46" and dict(c["values"]).get("a") == "12")
print(f"correct sums: {right}/{len(calls)}")' | tee -a "$out/summary.txt"
fi
