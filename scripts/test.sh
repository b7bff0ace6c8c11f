#!/usr/bin/env bash
# The whole test suite in one command, on a fresh Debian machine of the kind CI uses: installs
# what the tests need where it is missing, then runs `cargo test` with the arguments given
# (`scripts/test.sh --test e2e cli::`). `scripts/test.sh --install-only` installs and stops.
#
# Installs with apt-get, as root or through sudo. The network-namespace test (tests/e2e/netns.rs)
# needs root to run at all; CI runs as root.
set -euo pipefail
cd "$(dirname "$0")/.."

# A command may live in sbin, which is not on every user's PATH.
have() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

need=()
[ -n "${CHROMIUM:-}" ] || have chromium || need+=(chromium) # report, trend: headless Chromium
have nginx || need+=(nginx)                                  # tls, netns: a server we did not write
have ip || need+=(iproute2)                                  # netns: namespaces and a veth pair
have iptables || need+=(iptables)                            # netns: the NFQUEUE delay
have openssl || need+=(openssl)                              # tls: certificates made by the tests
have python3 || need+=(python3)                              # flows, capacity, streams: servers written in Python
# grpc: a grpcio server with descriptors built in Python (Debian's python3, where apt puts them)
py_has() { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import $1" >/dev/null 2>&1; }
py_has grpc || need+=(python3-grpcio)
py_has google.protobuf || need+=(python3-protobuf)
py_has websockets || need+=(python3-websockets)
have xmllint || need+=(libxml2-utils)                        # .ci/run: junit.xml against its schema
have prometheus || need+=(prometheus)                        # export: remote write into a real Prometheus

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "scripts/test.sh: the tests need ${need[*]}; install them as root (apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "scripts/test.sh: installing ${need[*]}" >&2
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ "${1:-}" = "--install-only" ]; then
  exit 0
fi
exec cargo test "$@"
