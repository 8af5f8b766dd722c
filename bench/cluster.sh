#!/usr/bin/env bash
# Call-setup rate of 1, 2 and 3 `ivrc run` instances behind Kamailio (deploy/kamailio), and the
# ceiling of the same rig with sipp answering in place of ivrc, measured in one run. Everything
# runs in network namespaces this script makes (a hub bridging 198.18.0.0/24: Kamailio .3,
# instances .4–.6, the caller .7) and deletes on exit; every sipp run is bounded in calls and
# time.
#
#   bench/cluster.sh [RATES]    RATES: calls/s to try, ascending (default "50 100 150 200 250 300")
#
# For each backend (sipp ×3, then ivrc ×1, ×2, ×3) and each rate: short calls (held 1 s) for
# 15 s through Kamailio; the highest rate with zero failed calls is that backend's setup rate.
# Results: bench/results/cluster/summary.txt (one line per run) and each run's sipp statistics.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench/cluster.sh makes network namespaces: run it as root" >&2; exit 2; }
rates=${1:-50 100 150 200 250 300}
seconds=15
scripts/setup.sh >/dev/null
cargo build --release -q
ivrc=$(pwd)/target/release/ivrc
out=$(pwd)/bench/results/cluster
rm -rf "$out"; mkdir -p "$out"
work=$(mktemp -d)
chmod 755 "$work"
hosts="kam caller a b c"
cleanup() {
  for pid in $(jobs -p); do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for h in $hosts hub; do ip netns del "ivb-$h" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cleanup_namespaces() { for h in $hosts hub; do ip netns del "ivb-$h" 2>/dev/null || true; done; }
cleanup_namespaces
ip netns add ivb-hub
ip -n ivb-hub link add br0 type bridge
ip -n ivb-hub link set br0 up
i=3
for h in kam a b c caller; do
  [ "$h" = caller ] && i=7
  ip netns add "ivb-$h"
  ip -n ivb-hub link add "p-$h" type veth peer name eth0 netns "ivb-$h"
  ip -n ivb-hub link set "p-$h" master br0 up
  ip -n "ivb-$h" link set lo up
  ip -n "ivb-$h" addr add "198.18.0.$i/24" dev eth0
  ip -n "ivb-$h" link set eth0 up
  i=$((i + 1))
done
addr() { case $1 in a) echo 198.18.0.4 ;; b) echo 198.18.0.5 ;; c) echo 198.18.0.6 ;; esac; }

# Kamailio with the repository's file; its instance list is rewritten per backend.
start_kamailio() { # instances…
  : > "$work/dispatcher.list"
  local n=1
  for h in "$@"; do echo "1 sip:$(addr "$h"):5060 0 0 duid=ivrc-$n;maxload=5000" >> "$work/dispatcher.list"; n=$((n + 1)); done
  ip netns exec ivb-kam kamailio -f deploy/kamailio/kamailio.cfg -DD -E -n 2 -m 256 -M 16 \
    -A PROXY_IP=198.18.0.3 -A "DISPATCHER_LIST=\"$work/dispatcher.list\"" \
    -A "CTL_SOCKET=\"unix:$work/kamailio_ctl\"" -Y "$work" -w "$work" >"$work/kamailio.log" 2>&1 &
  kam_pid=$!
  for _ in $(seq 100); do
    [ "$(kamcmd -s "unix:$work/kamailio_ctl" dispatcher.list 2>/dev/null | grep -c 'FLAGS: AP')" -eq $# ] && return
    sleep 0.2
  done
  echo "the dispatcher did not see $* up" >&2; kamcmd -s "unix:$work/kamailio_ctl" dispatcher.list >&2; exit 1
}
stop_kamailio() { kill "$kam_pid"; wait "$kam_pid" 2>/dev/null || true; }

# One backend: `sipp` answers in each of a, b, c; or `ivrc N` runs N instances.
backend_pids=()
start_backend() { # kind count
  local kind=$1 count=$2 hs
  hs=$(echo a b c | cut -d' ' -f1-"$count")
  for h in $hs; do
    if [ "$kind" = sipp ]; then
      ip netns exec "ivb-$h" sipp -sf tests/kamailio/answer.xml -i "$(addr "$h")" -p 5060 -mi "$(addr "$h")" \
        -mp 7000 -m 100000 -timeout 600s -nostdin -aa -bg >/dev/null 2>&1 || true  # -aa: 200 to the probes; -bg exits 99
    else
      ip netns exec "ivb-$h" "$ivrc" run tests/fixtures/runtime/hold.ivr --listen "$(addr "$h"):5060" \
        --rtp-ports 20000-39998 --max-calls 5000 --grace 2 --store "$work/$h.db" \
        --cache-dir "$work/cache-$h" >"$work/ivrc-$h.log" 2>&1 &
      backend_pids+=($!)
    fi
  done
  # shellcheck disable=SC2086
  start_kamailio $hs
}
stop_backend() {
  stop_kamailio
  for pid in "${backend_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  backend_pids=()
  for h in a b c; do ip netns pids "ivb-$h" | xargs -r kill 2>/dev/null || true; done
  sleep 1
}

# One run: RATE calls/s for $seconds s of 1 s calls; prints "ok FAILED" counts.
run() { # label rate
  local label=$1 rate=$2 total=$(( $2 * seconds )) dir="$out/$1-$2"
  mkdir -p "$dir"
  (cd "$dir" && ip netns exec ivb-caller sipp -sf "$OLDPWD/tests/kamailio/call_hold.xml" -s hold \
    -i 198.18.0.7 -p 5060 -mi 198.18.0.7 -mp 6000 -r "$rate" -m "$total" -l $(( rate * 10 )) -d 1000 \
    -timeout $(( seconds + 60 ))s -timeout_error -nostdin -trace_stat -fd 1 -trace_err \
    -max_recv_loops 10000 198.18.0.3:5060 >/dev/null 2>&1) || true
  local stat ok failed
  stat=$(ls "$dir"/*_.csv 2>/dev/null | head -1)
  ok=$(tail -1 "$stat" | awk -F';' '{print $16}')
  failed=$(tail -1 "$stat" | awk -F';' '{print $18}')
  echo "$ok $failed"
}

summary="$out/summary.txt"
{
  echo "bench/cluster.sh ($(date -u +%F)), $(nproc) cores, calls held 1 s, ${seconds} s per rate"
  echo "backend            rate/s  ok     failed"
} | tee "$summary"
for backend in "sipp 3" "ivrc 1" "ivrc 2" "ivrc 3"; do
  # shellcheck disable=SC2086
  set -- $backend
  label="$1-x$2"
  best=0
  for rate in $rates; do
    start_backend "$1" "$2"
    read -r ok failed < <(run "$label" "$rate")
    stop_backend
    printf '%-18s %6s  %-6s %s\n' "$label" "$rate" "$ok" "$failed" | tee -a "$summary"
    [ "${failed:-1}" = 0 ] && [ "${ok:-0}" -gt 0 ] && best=$rate
    [ "${failed:-1}" = 0 ] || break
  done
  echo "$label: setup rate with zero failures: $best calls/s" | tee -a "$summary"
done
