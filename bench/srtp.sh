#!/usr/bin/env bash
# CPU of `ivrc run` with CALLS calls up, plain RTP against SRTP, side by side: baresip (a real
# softphone, libre's own SRTP; 15 calls per process, its `-e` takes 16 commands; its TLS
# listener takes the SIP port + 1) places CALLS calls to the `hold` flow, first in the clear
# against `--srtp off`, then with `mediaenc=srtp-mand` against `--srtp required`; once the
# calls are up, the runtime's user+system CPU over SECS seconds is read from /proc. Both
# ends send G.711 at 50 packets/s, so each call is 50 packets/s each way through the runtime.
#
#   bench/srtp.sh [CALLS [SECS]]        (defaults 100 and 20; 127.0.0.1 only, bounded by -t)
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-100}
secs=${2:-20}
scripts/setup.sh >/dev/null
cargo build --release -q
bin=${CARGO_TARGET_DIR:-target}/release/ivrc
work=$(mktemp -d); echo "work: $work" >&2
trap 'kill "${ivrc_pid:-}" ${phone_pids[@]:-} 2>/dev/null || true; [ -n "${BENCH_KEEP:-}" ] || rm -rf "$work"' EXIT
sox -n -r 8000 -c 1 -b 16 "$work/silence.wav" trim 0 120
ticks=$(getconf CLK_TCK)
cpu() { awk -v t="$ticks" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }
# The calls the runtime has up, from its OPTIONS answer (X-Ivrc-Calls).
up() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); s.bind(("127.0.0.1", 0))
p = s.getsockname()[1]
s.sendto((f"OPTIONS sip:hold@127.0.0.1:{sys.argv[1]} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bK-bench{p}\r\n"
          f"From: <sip:bench@127.0.0.1>;tag=b\r\nTo: <sip:hold@127.0.0.1>\r\nCall-ID: bench-{p}\r\nCSeq: 1 OPTIONS\r\n"
          "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode(), ("127.0.0.1", int(sys.argv[1])))
for line in s.recv(65535).decode().split("\r\n"):
    if line.lower().startswith("x-ivrc-calls:"):
        print(line.split(":", 1)[1].strip())
PY
}
for mode in off required; do
  port=$((15100 + 40 * ${#mode}))
  "$bin" run tests/fixtures/runtime/hold.ivr --listen "127.0.0.1:$port" --rtp-ports 30000-31998 \
    --max-calls $((calls + 10)) --srtp "$mode" --grace 1 --store "$work/calls-$mode.db" \
    --cache-dir "$work/cache" >"$work/ivrc-$mode.log" 2>&1 &
  ivrc_pid=$!
  for _ in $(seq 50); do grep -q listening "$work/ivrc-$mode.log" && break; sleep 0.2; done
  enc=; [ "$mode" = required ] && enc=";mediaenc=srtp-mand"
  phone_pids=()
  for ((first = 0, p = 0; first < calls; first += 15, p++)); do
    phone="$work/phone-$mode-$p"; mkdir -p "$phone"
    sip=$((port + 2 + 2 * p)); rtp=$((16000 + 100 * p))
    printf '%s\n' "sip_listen 127.0.0.1:$sip" "call_max_calls 20" "audio_player aubridge,nil" \
      "audio_source aufile,$work/silence.wav" "ausrc_srate 8000" "ausrc_channels 1" \
      "rtp_ports $rtp-$((rtp + 99))" "module_path /usr/lib/baresip/modules" "module g711.so" \
      "module aufile.so" "module aubridge.so" "module srtp.so" "module_app account.so" \
      "module_app menu.so" >"$phone/config"
    echo "<sip:bench@127.0.0.1:$sip;transport=udp>;regint=0;audio_codecs=PCMU$enc" >"$phone/accounts"
    dials=()
    for ((i = first; i < calls && i < first + 15; i++)); do
      dials+=(-e "/dial sip:hold@127.0.0.1:$port")
    done
    baresip -n 127.0.0.1 -t $((secs + 40)) -f "$phone" "${dials[@]}" >"$phone/log" 2>&1 &
    phone_pids+=($!)
  done
  for _ in $(seq 60); do [ "$(up "$port")" = "$calls" ] && break; sleep 0.5; done
  sleep 2
  before=$(cpu "$ivrc_pid"); t0=$(date +%s.%N)
  sleep "$secs"
  after=$(cpu "$ivrc_pid"); t1=$(date +%s.%N); still=$(up "$port")
  kill "${phone_pids[@]}" 2>/dev/null || true; wait "${phone_pids[@]}" 2>/dev/null || true
  kill -INT "$ivrc_pid"; wait "$ivrc_pid" || true
  awk -v m="$mode" -v b="$before" -v a="$after" -v t0="$t0" -v t1="$t1" -v n="$still" \
    'BEGIN { printf "srtp %-8s %3d calls up: %.2f s CPU in %.1f s = %.1f %% of one core\n", m, n, a - b, t1 - t0, 100 * (a - b) / (t1 - t0) }'
done
