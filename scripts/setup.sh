#!/usr/bin/env bash
# Installs what building (and optionally testing/benchmarking) Cairn needs on
# Debian 12. Idempotent: does nothing when everything is already present.
#
#   scripts/setup.sh build   # compiler, CMake, Ninja, libraries
#   scripts/setup.sh test    # + etcd and the Node.js test peers (npm) for the conformance suite
#   scripts/setup.sh bench   # + wrk, PostgreSQL/pgbench
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-build}"

build_pkgs=(build-essential cmake ninja-build ccache pkg-config git ca-certificates
  libboost-dev libboost-context-dev libsimdjson-dev rapidjson-dev libcli11-dev
  libspdlog-dev libfmt-dev libssl-dev libcurl4-openssl-dev libzstd-dev libxxhash-dev libpugixml-dev
  libreadline-dev libgtest-dev libgmock-dev libbenchmark-dev nodejs npm)
# Test peers from Debian: etcd for cluster mode's election (started by the tests themselves),
# iproute2 for the network partitions the fault tests make between namespaces of their own.
test_pkgs=(etcd-server iproute2)
bench_pkgs=(wrk postgresql postgresql-contrib hyperfine etcd-server)

want=("${build_pkgs[@]}")
[ "$mode" = test ] && want+=("${test_pkgs[@]}")
[ "$mode" = bench ] && want+=("${bench_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A Node.js that did not come from Debian is fine as long as node and npm work.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]}")
fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$mode" = test ] || [ "$mode" = bench ]; then
  if [ ! -d tests/node/node_modules ] || [ tests/node/package.json -nt tests/node/node_modules ]; then
    echo "setup: installing Node.js test peers"
    (cd tests/node && npm install --no-audit --no-fund --loglevel=error)
    touch tests/node/node_modules
  fi
fi
