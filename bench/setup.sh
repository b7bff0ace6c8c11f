#!/usr/bin/env bash
# Installs what bench/bench.py needs, only where it is missing: nginx, wrk, h2load, openssl, GNU
# time, taskset and valgrind (apt), and oha (cargo install; a long build on 2 cores, done once
# into ~/.cargo/bin).
set -euo pipefail

missing=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
[ -x /usr/bin/time ] || missing+=(time)
command -v taskset >/dev/null || missing+=(util-linux)
command -v h2load >/dev/null || missing+=(nghttp2-client)
command -v openssl >/dev/null || missing+=(openssl)
command -v valgrind >/dev/null || missing+=(valgrind)
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update
    $sudo apt-get install -y "${missing[@]}"
fi

if ! command -v oha >/dev/null && [ ! -x "$HOME/.cargo/bin/oha" ]; then
    if [ "${BENCH_SKIP_OHA:-0}" = 1 ]; then
        echo "setup: oha not installed (BENCH_SKIP_OHA=1)" >&2
    else
        cargo install oha --locked
    fi
fi
echo "setup: nginx $(nginx -v 2>&1 | sed 's/.*\///'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)," \
    "$(h2load --version 2>&1 | head -1)," \
    "oha $({ command -v oha || echo "$HOME/.cargo/bin/oha"; } | xargs -I{} sh -c '{} --version 2>/dev/null || echo missing')"
