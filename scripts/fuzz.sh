#!/usr/bin/env bash
# Fuzzes loadplan's readers for a bounded time, one target after another (the machine is shared):
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   each target for SECONDS (default 60); all by default
#   scripts/fuzz.sh --smoke                 each target for about 20 s (CI)
#
# Targets (fuzz/fuzz_targets/): plan_parse (plan files), saved_render (a saved summary.json or shard
# file through the loader and every renderer), shard_merge (two shard files merged), threshold
# (threshold expressions, alone and gated through a plan), inflate (loadplan's bounded zlib
# inflater, flate2 with an output limit, against flate2's decoder without one).
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On a stable toolchain, RUSTC_BOOTSTRAP=1 lets
# cargo-fuzz use the sanitizer flags it needs. Corpora grow in fuzz/corpus/TARGET (not committed),
# seeded from real files: the example plans and plan fixtures, the committed saved-results
# fixtures (tests/fixtures/saved, reproductions included), and a fresh summary.json and shard
# results made here by running tests/fixtures/saved/plan.yaml on the built-in server. A crash is
# saved in fuzz/artifacts/TARGET; the script goes on with the next target and exits non-zero at the
# end. Keep a crash worth keeping under tests/fixtures/saved/.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
seconds=60
if [[ "${1:-}" == "--smoke" ]]; then
    seconds=20
    shift
elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then
    seconds="$1"
    shift
fi
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    targets=(plan_parse saved_render shard_merge threshold inflate)
fi

# Real saved files, fresh from this build: a summary.json and two shard results files.
cargo build --quiet --manifest-path "$root/Cargo.toml"
fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
plan="$root/tests/fixtures/saved/plan.yaml"
(
    cd "$fresh"
    "$root/target/debug/loadplan" run "$plan" --out out >/dev/null 2>&1
    "$root/target/debug/loadplan" run "$plan" --shard 1/2 --results shard-1.json >/dev/null 2>&1
    "$root/target/debug/loadplan" run "$plan" --shard 2/2 --results shard-2.json >/dev/null 2>&1
) || echo "warning: no fresh saved files (the committed fixtures still seed the corpora)" >&2

cd "$root/fuzz"
seed() { # seed TARGET FILE...
    mkdir -p "corpus/$1"
    local target="$1"
    shift
    for f in "$@"; do
        [[ -f "$f" ]] && cp "$f" "corpus/$target/seed-$(basename "$(dirname "$f")")-$(basename "$f")"
    done
    return 0
}
saved="$root/tests/fixtures/saved"
seed plan_parse "$root"/plans/*.yaml "$root"/tests/fixtures/plans/*/*.yaml "$plan"
seed saved_render "$saved"/*.json "$saved"/refused/*.json "$fresh"/out/*/*/summary.json \
    "$fresh"/shard-*.json
# Structure-aware inputs: a first byte that does not start JSON picks a real file, the rest are
# edits (fuzz/src/lib.rs).
printf '\000' >corpus/saved_render/seed-edit-summary
printf '\003' >corpus/saved_render/seed-edit-shard
mkdir -p corpus/shard_merge
for pair in "$saved/shard-1-of-2.json $saved/shard-2-of-2.json" \
    "$fresh/shard-1.json $fresh/shard-2.json" "$saved/refused/shard-index-u64-max.json $saved/shard-2-of-2.json"; do
    read -r a b <<<"$pair"
    if [[ -f "$a" && -f "$b" ]]; then
        { cat "$a"; printf '\000'; cat "$b"; } >"corpus/shard_merge/seed-$(basename "$(dirname "$a")")-$(basename "$a")"
    fi
done
printf '\000' >corpus/shard_merge/seed-edit-both
mkdir -p corpus/threshold
grep -rhoE '"(p[0-9]+|min|max|mean|median|error_rate|throughput|speedup)[^"]*[<>][^"]*"' \
    "$root/plans" "$root/tests/fixtures/plans" "$root/tests/e2e" 2>/dev/null | tr -d '"' | sort -u |
    while IFS= read -r t; do printf '%s' "$t" >"corpus/threshold/seed-$(printf '%s' "$t" | cksum | cut -d' ' -f1)"; done
# The compressed histograms of the saved fixtures, as zlib streams.
python3 - "$saved/summary.json" corpus/inflate <<'EOF'
import base64, json, os, sys
found = []
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k in ("histogram", "latency") and isinstance(x, str):
                found.append(base64.b64decode(x))
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
walk(json.load(open(sys.argv[1])))
os.makedirs(sys.argv[2], exist_ok=True)
for i, b in enumerate(found[:40]):
    if b[:4] == bytes.fromhex("1c849314"):
        open(os.path.join(sys.argv[2], f"seed-{i}"), "wb").write(b[8:])
EOF

export RUSTC_BOOTSTRAP="${RUSTC_BOOTSTRAP:-1}"
mkdir -p logs
failed=()
for t in "${targets[@]}"; do
    case "$t" in
    saved_render | shard_merge) max_len=262144 ;;
    threshold) max_len=4096 ;;
    *) max_len=65536 ;;
    esac
    echo "== $t: ${seconds}s" >&2
    started=$SECONDS
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb (and the malloc limit it implies):
    # an input that makes loadplan allocate gigabytes.
    if cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -max_len="$max_len" -print_final_stats=1 >"logs/$t.log" 2>&1; then
        status=clean
    else
        status=CRASH
        failed+=("$t")
    fi
    runs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' || echo '?')
    # libFuzzer's own count of seconds when it finished; after a crash, the wall time (build too).
    took=$(grep -aoE '^Done [0-9]+ runs in [0-9]+ second' "logs/$t.log" | grep -oE '[0-9]+ second' | grep -oE '[0-9]+' ||
        echo "$((SECONDS - started))")
    echo "$t: $status, ${took}s, $runs executions (log: fuzz/logs/$t.log)"
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
