#!/usr/bin/env python3
"""Measures loadplan's cost as a load generator, side by side with wrk, oha and h2load.

Input: the tools found on this machine (bench/setup.sh installs them) and a `dist` build of
loadplan. Output: a table on stdout and, in the output folder, every run's raw log plus
`results.json`. It starts its own nginx on 127.0.0.1 (one worker pinned to core 0; HTTPS with
certificates made by openssl at bench time), runs every tool pinned to core 1, interleaved
A B C A B C, and counts requests and connections on the server (stub_status), so no tool's own
bookkeeping is trusted. It stops every process it started, by pid.

It asserts nothing about speed: it reports. Only the standard library is used; the machinery is
in harness.py, the suites in suites.py and instructions.py.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from harness import REPO, SERVER_CORE, TOOL_CORE, Bench, Nginx, find_oha, log, on_signal, require, stop_all
from instructions import suite_instructions
from suites import (suite_cpu, suite_h2, suite_handshake, suite_http, suite_https, suite_memory,
                    suite_scale)

SUITES = "http,models,https,h2,handshake,scale,memory,cpu,instructions"
# What --smoke runs (CI): every suite that needs no long runs, 1 round of 2 s.
SMOKE_SUITES = {"http", "https", "h2", "handshake", "cpu"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true",
                    help="1 round of 2 s per tool of the short suites, short CPU plan (for CI)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--suites", default=SUITES,
                    help="comma list of: http (loadplan/wrk/oha), models (add async-2w, threads-64, "
                         "processes-2 to each http round), https (keep-alive over TLS, also h2load), "
                         "h2 (HTTP/2, 4 connections x 16 streams), handshake (a new TLS connection per "
                         "request, ECDSA and RSA), scale (1,000 and 4,000 connections or threads), "
                         "memory (10 s vs 6x longer), cpu, instructions (callgrind)")
    ap.add_argument("--memory-rounds", type=int, default=2)
    ap.add_argument("--scale-seconds", type=float, default=5.0)
    ap.add_argument("--scale-counts", default="1000,4000")
    ap.add_argument("--handshake-seconds", type=float, default=5.0)
    ap.add_argument("--serve", action="store_true",
                    help="only start nginx, print its URLs and wait for Ctrl-C (for profiling)")
    ap.add_argument("--loadplan", default=str(REPO / "target" / "dist" / "loadplan"))
    ap.add_argument("--also", action="append", default=[], metavar="NAME=PATH",
                    help="another loadplan binary to run in every round of the http (with models: "
                         "its models too), https, h2 and handshake suites, the scale suite's async "
                         "and threads (and under callgrind), e.g. an older build for a before/after "
                         "comparison")
    ap.add_argument("--keep-callgrind", action="store_true",
                    help="keep the instructions suite's callgrind files in the output folder, for "
                         "callgrind_annotate")
    ap.add_argument("--no-build", action="store_true", help="use --loadplan as it is")
    ap.add_argument("--out", help="folder for raw logs and results.json (default: a new folder "
                                  "under target/bench/)")
    args = ap.parse_args()
    try:
        args.also = [tuple(a.split("=", 1)) for a in args.also]
        if any(len(a) != 2 or not Path(a[1]).exists() for a in args.also):
            raise ValueError
    except ValueError:
        sys.exit("bench: --also takes NAME=PATH with an existing PATH")
    suites = set(args.suites.split(","))
    if args.smoke:
        args.rounds, args.seconds, args.memory_rounds = 1, 2.0, 0
        args.handshake_seconds = 2.0
        suites &= SMOKE_SUITES
    unknown = suites - set(SUITES.split(","))
    if unknown:
        sys.exit(f"bench: unknown suite(s): {', '.join(sorted(unknown))}")

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    atexit.register(stop_all)
    # Thousands of connections need thousands of descriptors, in every tool we start.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 20000)), hard))

    tls = bool(suites & {"https", "h2", "handshake", "memory", "instructions"}) or args.serve
    if args.serve:
        nginx = Nginx(require("nginx"), tls=True)
        print(nginx.base, flush=True)
        for name, url in nginx.tls.items():
            print(f"{name} {url}", flush=True)
        print(f"ca {nginx.ca}", flush=True)
        try:
            while nginx.proc.poll() is None:
                time.sleep(1)
        finally:
            nginx.stop()
        return 0
    if (os.cpu_count() or 1) < 2:
        log("bench: fewer than 2 cores: server and tool will share one")
    require("taskset")
    if not Path("/usr/bin/time").exists():
        sys.exit("bench: /usr/bin/time not found; run bench/setup.sh first")
    needs_nginx = suites - {"cpu"}
    nginx_bin = require("nginx") if needs_nginx else None
    if tls:
        require("openssl")
    args.wrk = require("wrk") if needs_nginx else None
    args.oha = find_oha() if needs_nginx else None
    if needs_nginx and not args.oha:
        if args.smoke:
            log("bench: oha not found; the smoke run goes on without it (bench/setup.sh installs it)")
        else:
            sys.exit("bench: oha not found; run bench/setup.sh first")
    args.h2load = require("h2load") if suites & {"https", "h2", "handshake"} else None
    if "instructions" in suites:
        require("valgrind")

    if not args.no_build:
        # The `dist` profile (fat LTO, one codegen unit): what ships, so what is measured.
        log("building loadplan (the dist profile; about 8 minutes on 2 cores from clean)…")
        subprocess.run(["cargo", "build", "--profile", "dist", "--quiet"], cwd=REPO, check=True)
    if not Path(args.loadplan).exists():
        sys.exit(f"bench: no loadplan binary at {args.loadplan}")

    stamp = time.strftime("%Y%m%dT%H%M%S")
    outdir = Path(args.out) if args.out else REPO / "target" / "bench" / stamp
    outdir.mkdir(parents=True, exist_ok=True)
    log(f"raw logs: {outdir}")
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]

    nginx = Nginx(nginx_bin, tls=tls) if nginx_bin else None
    b = Bench(args, nginx, outdir)
    lines = [f"# loadplan bench {stamp}", "",
             f"load average before: {' '.join(load_before)}; cores: {os.cpu_count()}; "
             f"server core {SERVER_CORE}, tool core {TOOL_CORE}"]
    try:
        if nginx:
            log(f"nginx {nginx.base} {' '.join(nginx.tls.values())} (pid {nginx.proc.pid})")
        if "http" in suites:
            lines += suite_http(b, args.rounds, args.seconds, "models" in suites)
        if "https" in suites:
            lines += suite_https(b, args.rounds, args.seconds)
        if "h2" in suites:
            lines += suite_h2(b, args.rounds, args.seconds)
        if "handshake" in suites:
            certs = ["ecdsa"] if args.smoke else ["ecdsa", "rsa"]
            lines += suite_handshake(b, args.rounds, args.handshake_seconds, certs)
        if "scale" in suites:
            counts = [int(c) for c in args.scale_counts.split(",")]
            lines += suite_scale(b, args.rounds, args.scale_seconds, counts)
        if "memory" in suites and args.memory_rounds > 0:
            lines += suite_memory(b, args.memory_rounds, args.seconds, 6)
        if "instructions" in suites:
            lines += suite_instructions(b)
        if "cpu" in suites:
            lines += suite_cpu(b, args.rounds, args.smoke)
    finally:
        if nginx:
            nginx.stop()
    with open("/proc/loadavg") as f:
        lines.append(f"\nload average after: {' '.join(f.read().split()[:3])}")
    lines.append("\ncommands (each prefixed by `taskset -c 1 /usr/bin/time -v`):")
    for cmd in dict.fromkeys(r.command for r in b.runs):
        lines.append(f"    {cmd}")
    report = "\n".join(lines)
    print(report)
    (outdir / "report.md").write_text(report + "\n")
    (outdir / "results.json").write_text(json.dumps({
        "runs": [dict(asdict(r), cpu_us_per_req=r.cpu_us_per_req, cpu_us_per_conn=r.cpu_us_per_conn,
                      steady_cpu_us_per_req=r.steady_cpu_us_per_req,
                      steady_cpu_us_per_conn=r.steady_cpu_us_per_conn, rps=r.rps) for r in b.runs],
        "cpu": b.cpu_rows,
    }, indent=1))
    failed = [r for r in b.runs if not r.ok]
    if failed:
        log(f"bench: {len(failed)} run(s) failed: " + "; ".join(f"{r.tool} r{r.round}: {r.note}" for r in failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
