#!/usr/bin/env bash
# Installs what building and testing ivrc needs on a fresh Debian machine, and nothing by
# hand: the Rust toolchain's rustfmt and clippy, the C toolchain some crates build with, and
# Node.js with the npm packages of tests/js (TypeScript for checking generated scenarios).
# Later issues add their tools here (sipp, espeak-ng, Node.js packages, …).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v curl >/dev/null 2>&1 || need_apt+=(curl ca-certificates)
# jq: the generated Zvonobot/Twin24 send scripts use it, and their tests run them.
command -v jq >/dev/null 2>&1 || need_apt+=(jq)
# The SIP runtime's tests: sipp places real calls over loopback, espeak-ng speaks prompts (and
# the callers' words), sox converts audio to 8 kHz G.711.
command -v sipp >/dev/null 2>&1 || need_apt+=(sip-tester)
command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)
command -v sox >/dev/null 2>&1 || need_apt+=(sox)
# lame encodes the MP3 that the test of `play` of a URL serves (tests/runtime/audio_url.rs).
command -v lame >/dev/null 2>&1 || need_apt+=(lame)
# A real softphone calls the runtime in tests/runtime/baresip.rs: baresip with its aufile
# (a WAV as the microphone) and ctrl_tcp (driven over a loopback socket) modules.
[ -f /usr/lib/baresip/modules/ctrl_tcp.so ] || need_apt+=(baresip-core)
# The SIP provider of the interop tests (tests/kamailio/, issue 21): Kamailio as a registrar
# with digest auth and a proxy. Debian's `kamailio` package itself ships every module they load
# (auth, registrar, usrloc, tm, sl, rr, …). The tests start their own kamailio on a free
# loopback port; the package's service is not used (see below).
fresh_kamailio=no
[ -x /usr/sbin/kamailio ] || { need_apt+=(kamailio); fresh_kamailio=yes; }
# Kamailio as a provider over TLS (tests/runtime/tls.rs, issue 25): its tls module.
[ -f "/usr/lib/$(uname -m)-linux-gnu/kamailio/modules/tls.so" ] \
  || need_apt+=(kamailio-tls-modules)
# The NAT test (tests/runtime/nat.rs) builds a private network, a masquerading router and the
# provider's network in network namespaces: iproute2's `ip netns` and veth, nftables' `nft`.
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v nft >/dev/null 2>&1 || need_apt+=(nftables)
# The store in PostgreSQL (issue 22): its tests start a throwaway PostgreSQL 15 of their own
# (initdb and pg_ctl from postgresql-15, as the postgres user, on a free loopback port) unless
# IVRC_PG_URL names one. The package's own cluster service is not used (see below).
fresh_postgresql=no
[ -x /usr/lib/postgresql/15/bin/initdb ] || { need_apt+=(postgresql-15); fresh_postgresql=yes; }
# Several `ivrc serve` sharing a PostgreSQL store are tested behind nginx (tests/twilio/nginx.rs
# starts its own on a free loopback port); the package's service is not used (see below).
fresh_nginx=no
[ -x /usr/sbin/nginx ] || { need_apt+=(nginx-light); fresh_nginx=yes; }
# The runtime's keyword spotter links libpocketsphinx and reads its en-us acoustic model.
[ -f /usr/include/pocketsphinx/pocketsphinx.h ] || need_apt+=(libpocketsphinx-dev libsphinxbase-dev)
[ -d /usr/share/pocketsphinx/model/en-us/en-us ] || need_apt+=(pocketsphinx-en-us)
# `ivrc graph --format svg` draws with Graphviz dot; its tests render every example.
command -v dot >/dev/null 2>&1 || need_apt+=(graphviz)
# The load scripts in bench/ read peak RSS and CPU time with GNU time.
[ -x /usr/bin/time ] || need_apt+=(time)
# The speech helpers' oracle test runs num2words from PyPI in a venv (scripts/setup-python.sh).
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
# Node.js runs the generated VoxEngine scenarios in the differential tests.
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
# The browser tests (tests/browser_smoke.rs and tests/browser/) drive headless Chromium
# through chromedriver: /usr/bin/chromium and /usr/bin/chromedriver.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
  else
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
  fi
fi
# Debian enables kamailio.service on install, and under systemd it starts the stock config on
# port 5060 of every interface. The tests need none of it: stop and disable what we installed.
if [ "$fresh_kamailio" = yes ] && [ -d /run/systemd/system ]; then
  if [ "$(id -u)" -eq 0 ]; then
    systemctl disable --now kamailio.service
  else
    sudo systemctl disable --now kamailio.service
  fi
fi
# Likewise Debian starts a `main` cluster on port 5432 when postgresql-15 is installed; the
# tests start their own server and need none of it.
if [ "$fresh_postgresql" = yes ] && [ -d /run/systemd/system ]; then
  if [ "$(id -u)" -eq 0 ]; then
    systemctl disable --now postgresql.service
  else
    sudo systemctl disable --now postgresql.service
  fi
fi
# And nginx's service listens on port 80 once installed.
if [ "$fresh_nginx" = yes ] && [ -d /run/systemd/system ]; then
  if [ "$(id -u)" -eq 0 ]; then
    systemctl disable --now nginx.service
  else
    sudo systemctl disable --now nginx.service
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  # rustup from its official installer; Debian's packaged Rust is too old for our crates.
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi

if command -v rustup >/dev/null 2>&1; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
for tool in rustfmt cargo-clippy; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "setup: $tool is missing and could not be installed" >&2
    exit 1
  fi
done

# TypeScript and the twilio package (pinned in tests/js/package-lock.json) check the generated
# VoxEngine scenarios and the TwiML `ivrc serve` answers with.
if [ ! -x tests/js/node_modules/.bin/tsc ] || [ ! -d tests/js/node_modules/twilio ]; then
  (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
fi
# num2words and pymongo, pinned, in target/py: the independent checkers of tests/speech_oracle.rs
# (issue 19) and of the Talkdesk export (tests/console, issue 20).
scripts/setup-python.sh
# The editor grammar's tests (vscode-tmgrammar-test) and the extension's packaging tools,
# pinned in editors/vscode/package-lock.json.
editors/vscode/setup.sh
