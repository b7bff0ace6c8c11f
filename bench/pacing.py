#!/usr/bin/env python3
"""How closely loadplan keeps an open model's schedule (issue 14, what it must show 1).

Starts the bench harness's nginx on 127.0.0.1 (one worker, pinned to core 0, a free port), then runs
`rate: 200/s` for 5 s under each model, pinned to core 1, `--rounds` times interleaved, and prints
per model the median over rounds of: send lag p50 and p99 (intended start to actual send),
corrected p50 minus uncorrected p50 (what waiting for the schedule added to latency), and the
runner's CPU as a share of one core. Every run is bounded (5 s each); nginx is stopped by its pid.

First it measures what any pacer here is up against: how late this machine's timer wakes a thread
sleeping 4.8 ms on core 1 (1,000 sleeps, timer slack 1 µs, as loadplan's pacer asks for). A
pacer can hide a wake-up's lateness only by spinning through it, and spinning costs CPU.

    python3 bench/pacing.py --loadplan target/release/loadplan [--rounds 3] [--rate 200]
"""

import argparse
import ctypes
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import TOOL_CORE, Nginx, on_signal, require, stop_all  # noqa: E402

MODELS = ["sequential", "threads", "async", "processes"]

PLAN = """version: 1
name: pacing-{model}
base: {base}
scenarios:
  - name: paced
    targets: [/file]
    rate: {rate}/s
    duration: 5s
    concurrency: {concurrency}
    models: [{model}]
{workers}"""


def wakeup_lateness() -> list[float]:
    """Lateness (µs) of 1,000 sleeps of 4.8 ms on core 1, timer slack 1 µs, sorted."""
    libc = ctypes.CDLL(None)
    pr_set_timerslack = 29
    libc.prctl(pr_set_timerslack, ctypes.c_ulong(1), 0, 0, 0)
    os.sched_setaffinity(0, {int(TOOL_CORE)})
    late = []
    try:
        for _ in range(1000):
            t0 = time.perf_counter()
            time.sleep(0.0048)
            late.append((time.perf_counter() - t0 - 0.0048) * 1e6)
    finally:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    return sorted(late)


def one_run(loadplan: str, work: Path, base: str, model: str, rate: int) -> dict:
    concurrency = 1 if model == "sequential" else 4
    workers = "    workers: 2\n" if model == "processes" else ""
    plan = work / f"{model}.yaml"
    plan.write_text(
        PLAN.format(model=model, base=base, rate=rate, concurrency=concurrency, workers=workers)
    )
    out = Path(tempfile.mkdtemp(dir=work))
    r = subprocess.run(
        ["taskset", "-c", TOOL_CORE, loadplan, "run", str(plan), "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if r.returncode != 0:
        sys.exit(f"pacing: {model} exited {r.returncode}: {r.stderr.strip()}")
    summary = json.loads(next(out.glob("*/*/summary.json")).read_text())
    c = summary["scenarios"][0]["cells"][0]
    o = c["open"]
    return {
        "lag_p50": o["send_lag_us"]["p50"],
        "lag_p99": o["send_lag_us"]["p99"],
        "corrected_minus_uncorrected_p50": c["latency_us"]["p50"]
        - o["latency_uncorrected_us"]["p50"],
        "core_percent": 100.0 * c["cpu_seconds"] / c["wall_seconds"],
        "operations": c["operations"],
        "scheduled": o["scheduled"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--loadplan", default="target/release/loadplan")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rate", type=int, default=200)
    args = ap.parse_args()
    late = wakeup_lateness()
    q = lambda p: late[int(p * (len(late) - 1))]  # noqa: E731
    print(
        "timer wake-ups on core 1, µs late: p50 %.0f, p90 %.0f, p99 %.0f, max %.0f"
        % (q(0.5), q(0.9), q(0.99), late[-1])
    )
    # Stopped early, it still stops its nginx.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    nginx = Nginx(require("nginx"), tls=False)
    work = Path(tempfile.mkdtemp(prefix="loadplan-pacing-"))
    results: dict[str, list[dict]] = {m: [] for m in MODELS}
    try:
        for _ in range(args.rounds):
            for model in MODELS:
                results[model].append(one_run(args.loadplan, work, nginx.base, model, args.rate))
    finally:
        nginx.stop()
        stop_all()
    print(f"rate {args.rate}/s for 5 s, median of {args.rounds} interleaved rounds (lowest-highest)")
    print(f"{'model':<11} {'lag p50 µs':>16} {'lag p99 µs':>18} {'corr-uncorr p50 µs':>20} {'% of a core':>16}")

    def cell(model: str, key: str, fmt: str) -> str:
        values = [r[key] for r in results[model]]
        med = statistics.median(values)
        return f"{med:{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"

    for model in MODELS:
        print(
            f"{model:<11} {cell(model, 'lag_p50', '.0f'):>16} {cell(model, 'lag_p99', '.0f'):>18}"
            f" {cell(model, 'corrected_minus_uncorrected_p50', '.0f'):>20}"
            f" {cell(model, 'core_percent', '.1f'):>16}"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
