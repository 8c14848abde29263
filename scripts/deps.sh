#!/usr/bin/env bash
# Installs the Debian packages the suite needs; does nothing when every one is present.
set -euo pipefail

packages=(
  g++ make pkg-config
  libgtest-dev libgmock-dev        # the test suites
  node-llhttp                      # the HTTP/1.x parser, built from its C sources
  libcxxopts-dev nlohmann-json3-dev
  libevent-dev libuv1-dev liburing-dev libasio-dev
  wrk apache2-utils curl netcat-openbsd   # third-party clients the smoke tests and README use
  gnuplot-nox                      # the comparison's charts
  procps
  linux-perf                       # system calls per message in the comparison (perf stat, perf trace)
  clang-16 libfuzzer-16-dev libclang-rt-16-dev   # the fuzz harnesses (make fuzz)
  slowhttptest                     # slow-peer (slowloris) tests
  iproute2 pdsh openssh-client     # network-namespace lab and multi-host load
  zlib1g-dev                       # DEFLATE for the load generator's HdrHistogram logs
  python3 python3-gevent           # the Python originals as comparison rows
  nodejs                           # hdr-histogram-js reads the load generator's .hlog files in the tests
)

# The independent HdrHistogram decoder the tests check our logs with, pinned by tests/js/package-lock.json and
# installed into tests/js/node_modules (nothing global). npm ships with Node.js from nodesource; Debian's nodejs
# has it as a separate package.
install_js() {
  local here
  here=$(cd "$(dirname "$0")/.." && pwd)
  [[ -f $here/tests/js/node_modules/hdr-histogram-js/package.json ]] && return 0
  command -v npm >/dev/null || { "${sudo[@]}" apt-get install -y -qq --no-install-recommends npm; }
  (cd "$here/tests/js" && npm ci --no-audit --no-fund --loglevel=error)
}

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
if [[ ${#missing[@]} -eq 0 ]]; then
  install_js
  exit 0
fi

echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_js
