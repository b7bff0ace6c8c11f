#!/usr/bin/env python3
"""Does pinning the tool to one core (as bench/ does) change loadplan's CPU per request against
wrk's? loadplan (`async-1w`) and wrk at 1,000 connections, 5 s each, pinned to core 1 and free,
interleaved for N rounds; nginx pinned to core 0 as in bench/. CPU per request from
/usr/bin/time -v, requests from nginx's counters. Every process started here is stopped by pid.

    python3 bench/pinning.py target/release/loadplan 4
"""
import os
import signal
import statistics as st
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Nginx, on_signal, parse_time_v, plan_text, require, stop_all  # noqa: E402
LP = sys.argv[1]
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
signal.signal(signal.SIGTERM, on_signal)
nginx = Nginx(require("nginx"), tls=False)
work = Path(tempfile.mkdtemp(prefix="pin-"))
plan = work / "http.yaml"
plan.write_text(plan_text("http.yaml", "5s", 1000))
env = dict(os.environ, LOADPLAN_BENCH_BASE=nginx.base)
def run(tool, pinned, rnd):
    t = work / f"{tool}-{pinned}-{rnd}.time"
    if tool == "loadplan":
        cmd = [LP, "run", str(plan), "--only", "async-1w", "--out", str(work / f"o{rnd}{pinned}"), "--quiet"]
    else:
        cmd = ["wrk", "-t1", "-c1000", "-d5s", nginx.base + "/file"]
    full = (["taskset", "-c", "1"] if pinned else []) + ["/usr/bin/time", "-v", "-o", str(t)] + cmd
    a = nginx.counters()
    subprocess.run(full, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    b = nginx.counters()
    req = b[1] - a[1] - 1
    cpu, rss = parse_time_v(t)
    return cpu * 1e6 / req, req
res = {}
try:
    for rnd in range(ROUNDS):
        for tool in ("loadplan", "wrk"):
            for pinned in (True, False):
                us, req = run(tool, pinned, rnd)
                res.setdefault((tool, pinned), []).append(us)
                print(f"r{rnd} {tool:8} {'pinned' if pinned else 'free  '} {req:>8} req {us:6.2f} µs/req", flush=True)
finally:
    nginx.stop()
    stop_all()
for pinned in (True, False):
    r = [l / w for l, w in zip(res[("loadplan", pinned)], res[("wrk", pinned)])]
    print(f"{'pinned' if pinned else 'free'}: loadplan ÷ wrk per round {' '.join(f'{x:.3f}' for x in r)}, median {st.median(r):.3f}")
for tool in ("loadplan", "wrk"):
    r = [f / p for f, p in zip(res[(tool, False)], res[(tool, True)])]
    print(f"{tool}: free ÷ pinned per round {' '.join(f'{x:.3f}' for x in r)}, median {st.median(r):.3f}")
