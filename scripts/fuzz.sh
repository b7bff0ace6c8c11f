#!/usr/bin/env bash
# Fuzzes the plan parser for a bounded time: scripts/fuzz.sh [SECONDS] (default 60).
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On a stable toolchain, RUSTC_BOOTSTRAP=1 lets
# cargo-fuzz use the sanitizer flags it needs. The corpus grows in fuzz/corpus/plan_parse (not
# committed), seeded from the example plans and the plan fixtures; a crash is saved in
# fuzz/artifacts/plan_parse and makes this script exit non-zero.
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"
mkdir -p corpus/plan_parse
for seed in "$root"/plans/*.yaml "$root"/tests/fixtures/plans/*/*.yaml; do
    cp -n "$seed" corpus/plan_parse/ 2>/dev/null || true
done

export RUSTC_BOOTSTRAP="${RUSTC_BOOTSTRAP:-1}"
# -timeout: one input taking 10 s is a hang; -rss_limit_mb: an alias bomb that got through.
exec cargo fuzz run plan_parse corpus/plan_parse -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1
