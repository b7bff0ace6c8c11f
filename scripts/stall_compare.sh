#!/usr/bin/env bash
# Issue 5's comparison: the same 1 s stall of the target (SIGSTOP/SIGCONT, 2 s into a 5 s run at
# 200 requests/s over 4 connections), measured by oha with --latency-correction and by loadplan's
# open model. Prints each tool's p50/p99/max. Loopback only; every process is stopped by pid.
# Usage: scripts/stall_compare.sh [path/to/loadplan]   (oha from `cargo install oha --locked`)
set -euo pipefail
lp=${1:-target/release/loadplan}
oha=${OHA:-$(command -v oha || echo "$HOME/.cargo/bin/oha")}
work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && { kill -CONT "$server" 2>/dev/null || true; kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }; rm -rf "$work"; }
trap cleanup EXIT

"$lp" serve --addr 127.0.0.1:0 > "$work/serve.out" 2>/dev/null &
server=$!
for _ in $(seq 50); do grep -q listening "$work/serve.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/serve.out")

stall() { sleep 2; kill -STOP "$server"; sleep 1; kill -CONT "$server"; }

echo "== oha --latency-correction, 200/s, 4 connections, 5 s, 1 s stall at 2 s"
stall & st=$!
"$oha" -z 5s -c 4 -q 200 --latency-correction --no-tui --output-format json "$url/hello" > "$work/oha.json"
wait "$st"
python3 - "$work/oha.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["latencyPercentiles"]
ms = lambda s: f"{s * 1000:.1f} ms"
print(f"oha: {d['summary']['requestsPerSec']:.0f} requests/s, p50 {ms(p['p50'])}, p99 {ms(p['p99'])}, max {ms(d['summary']['slowest'])}")
PY

echo "== loadplan open model, same load"
cat > "$work/stall.yaml" <<YAML
version: 1
name: stall-compare
base: $url
scenarios:
  - name: steady
    targets: [/hello]
    rate: 200/s
    duration: 5s
    concurrency: 4
    timeout: 5s
    models: [async]
YAML
stall & st=$!
"$lp" run "$work/stall.yaml" --out "$work/out" > /dev/null 2>&1
wait "$st"
python3 - "$work"/out/stall-compare/*/summary.json <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["scenarios"][0]["cells"][0]
ms = lambda us: f"{us / 1000:.1f} ms"
l, u = c["latency_us"], c["open"]["latency_uncorrected_us"]
print(f"loadplan corrected:   {c['operations']} operations, p50 {ms(l['p50'])}, p99 {ms(l['p99'])}, max {ms(l['max'])}")
print(f"loadplan uncorrected: p50 {ms(u['p50'])}, p99 {ms(u['p99'])}, max {ms(u['max'])}; dropped {c['open']['dropped']}")
PY
