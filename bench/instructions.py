"""User-space instructions per request, counted by callgrind (valgrind), which counts the same on
a busy machine as on a quiet one. Each tool runs twice under callgrind, a short and a longer run
against the same nginx; the difference in instructions over the difference in requests (counted
by nginx) is the cost per request, start-up, handshakes of kept connections and loadplan's report
cancelling out. Not pinned, not timed: only instructions count here. Standard library only.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

from harness import Bench, log
from suites import fmt

# The two lengths of each tool's runs under callgrind (it runs tens of times slower).
SHORT_S, LONG_S = 2, 6


def callgrind(b: Bench, tag: str, cmd: list[str], env=None) -> tuple[int, int, int] | None:
    """(instructions, requests, connections) of one run of `cmd` under callgrind."""
    out = b.outdir / f"callgrind-{re.sub(r'[^A-Za-z0-9.-]+', '_', tag)}.out"
    before = b.nginx.counters()
    p = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *cmd],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, timeout=600,
    )
    after = b.nginx.counters()
    m = re.search(r"refs:\s+([\d,]+)", p.stderr)
    if b.args.keep_callgrind:
        log(f"  kept {out}")
    else:
        out.unlink(missing_ok=True)
    if not m:
        log(f"  {tag}: no callgrind total (exit {p.returncode})")
        return None
    return (int(m.group(1).replace(",", "")), after[1] - before[1] - 1, after[0] - before[0] - 1)


def suite_instructions(b: Bench) -> list[str]:
    nginx = b.nginx
    https = nginx.tls.get("tls")
    loads: list[tuple[str, str, object]] = []

    def lp(binary: str, scenario: str, plan: str, base: str | None):
        def cmd(s: int) -> tuple[list[str], dict]:
            path = b.plan(plan, f"{s}s")
            out = tempfile.mkdtemp(prefix="lp-cg-", dir=b.outdir)
            env = dict(os.environ, LOADPLAN_BENCH_BASE=nginx.base, LOADPLAN_BENCH_TLS=base or "")
            return [binary, "run", str(path), "--only", scenario, "--out", out, "--quiet"], env
        return cmd

    def peer(argv):
        return lambda s: (argv(s), None)

    binaries = [("loadplan", b.args.loadplan)] + list(b.args.also)
    for name, binary in binaries:
        loads.append(("HTTP/1.1, 64 connections", name, lp(binary, "async-1w", "http.yaml", None)))
        loads.append(("HTTP/1.1, threads, 64 users", name,
                      lp(binary, "threads-64", "http.yaml", None)))
    loads.append(("HTTP/1.1, 64 connections", "wrk",
                  peer(lambda s: [b.args.wrk, "-t1", "-c64", f"-d{s}s", nginx.base + "/file"])))
    if b.args.oha:
        loads.append(("HTTP/1.1, 64 connections", "oha", peer(
            lambda s: [b.args.oha, "-z", f"{s}s", "-c", "64", "--no-tui", nginx.base + "/file"])))
    if https:
        url = https + "/file"
        for name, binary in binaries:
            loads.append(("HTTPS keep-alive, 64 connections", name,
                          lp(binary, "https-1w", "https.yaml", https)))
            loads.append(("HTTP/2, 4 connections × 16 streams", name,
                          lp(binary, "h2-4x16", "https.yaml", https)))
            loads.append(("new TLS connection per request (ECDSA)", name,
                          lp(binary, "handshake", "https.yaml", nginx.tls["full-ecdsa"])))
        loads.append(("HTTPS keep-alive, 64 connections", "wrk",
                      peer(lambda s: [b.args.wrk, "-t1", "-c64", f"-d{s}s", url])))
        if b.args.h2load:
            loads.append(("HTTPS keep-alive, 64 connections", "h2load --h1",
                          peer(lambda s: [b.args.h2load, "-t1", "--h1", "-c64", f"-D{s}", url])))
            loads.append(("HTTP/2, 4 connections × 16 streams", "h2load",
                          peer(lambda s: [b.args.h2load, "-t1", "-c4", "-m16", f"-D{s}", url])))
        if b.args.oha:
            loads.append(("HTTPS keep-alive, 64 connections", "oha", peer(
                lambda s: [b.args.oha, "-z", f"{s}s", "-c", "64", "--no-tui", "--insecure", url])))
            loads.append(("HTTP/2, 4 connections × 16 streams", "oha", peer(
                lambda s: [b.args.oha, "-z", f"{s}s", "-c", "4", "-p", "16", "--http2", "--no-tui",
                           "--insecure", url])))
            full = nginx.tls["full-ecdsa"] + "/file"
            loads.append(("new TLS connection per request (ECDSA)", "oha", peer(
                lambda s: [b.args.oha, "-z", f"{s}s", "-c", "64", "--no-tui", "--insecure",
                           "--disable-keepalive", full])))

    log(f"instructions: {len(loads)} loads, each run {SHORT_S} s and {LONG_S} s under callgrind")
    lines = ["\n## User-space instructions per request (callgrind, difference of a "
             f"{SHORT_S} s and a {LONG_S} s run)", "",
             "| load | tool | instructions per request | per new connection | requests in the difference |",
             "|---|---|---|---|---|"]
    for load, tool, make in loads:
        got = []
        for s in (SHORT_S, LONG_S):
            cmd, env = make(s)
            r = callgrind(b, f"{tool}-{load}-{s}", cmd, env)
            if r is None:
                break
            got.append(r)
        if len(got) < 2 or got[1][1] <= got[0][1]:
            lines.append(f"| {load} | {tool} | failed | | |")
            continue
        (i1, q1, c1), (i2, q2, c2) = got
        per_req = (i2 - i1) / (q2 - q1)
        per_conn = (i2 - i1) / (c2 - c1) if c2 - c1 > (q2 - q1) // 2 else None
        log(f"  {load:<40} {tool:<14} {per_req:>10.0f} instructions/request")
        lines.append(f"| {load} | {tool} | {per_req:.0f} | {fmt(per_conn, '.0f')} | {q2 - q1} |")
    return lines
