"""The bench's suites and their tables. Each suite runs its tools interleaved (round 1: A B C …,
round 2: A B C …), so that a slow minute of the machine hits every tool alike, and compares CPU
per request (or per connection) pair by pair within each round. Standard library only.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness import BENCH, CONNECTIONS, Bench, Run, log, loadplan_summary

HEADLINE = "loadplan async-1w"


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec=".2f"):
    return "—" if x is None else format(x, spec)


def span(xs, spec=".2f"):
    xs = [x for x in xs if x is not None]
    return "—" if not xs else f"{min(xs):{spec}}–{max(xs):{spec}}"


def table_by_tool(runs: list[Run], title: str, per_conn: bool = False) -> list[str]:
    """Per tool: medians and ranges of rate, CPU per request (or per connection) over the whole
    process and in the steady state, RSS, latency."""
    unit = "conn" if per_conn else "req"
    lines = [f"\n## {title}", ""]
    lines.append(
        f"| tool | runs | {unit}/s median (min–max) | CPU µs/{unit}, whole run, median (min–max) "
        f"| CPU µs/{unit}, steady state, median (min–max) "
        "| peak RSS MB median (min–max) | p50 µs | p99 µs |"
    )
    lines.append("|---|---|---|---|---|---|---|---|")
    for t in dict.fromkeys(r.tool for r in runs):
        rs = [r for r in runs if r.tool == t and r.ok]
        if not rs:
            lines.append(f"| {t} | 0 | failed | | | | | |")
            continue
        rate = [(r.connections if per_conn else r.requests) / r.seconds for r in rs]
        cpu = [cost(r, per_conn, False) for r in rs]
        steady = [cost(r, per_conn, True) for r in rs]
        rss = [r.rss_kb / 1024 for r in rs]
        lines.append(
            f"| {t} | {len(rs)} | {fmt(med(rate), '.0f')} ({span(rate, '.0f')}) "
            f"| {fmt(med(cpu))} ({span(cpu)}) | {fmt(med(steady))} ({span(steady)}) "
            f"| {fmt(med(rss), '.1f')} ({span(rss, '.1f')}) "
            f"| {fmt(med([r.p50_us for r in rs]), '.0f')} | {fmt(med([r.p99_us for r in rs]), '.0f')} |"
        )
    return lines


def cost(r: Run, per_conn: bool, steady: bool) -> float | None:
    """CPU µs per request (or per connection), over the whole process or its steady window."""
    if steady:
        return r.steady_cpu_us_per_conn if per_conn else r.steady_cpu_us_per_req
    return r.cpu_us_per_conn if per_conn else r.cpu_us_per_req


def ratios(runs: list[Run], num: str, den: str, per_conn: bool = False,
           steady: bool = False) -> list[float]:
    """CPU per request (or per connection) of `num` ÷ `den`, pair by pair within each round."""
    out = []
    for rnd in sorted({r.round for r in runs}):
        a = [r for r in runs if r.round == rnd and r.tool == num and r.ok]
        b = [r for r in runs if r.round == rnd and r.tool == den and r.ok]
        if a and b and cost(a[0], per_conn, steady) and cost(b[0], per_conn, steady):
            out.append(cost(a[0], per_conn, steady) / cost(b[0], per_conn, steady))
    return out


def ratio_lines(runs: list[Run], pairs: list[tuple[str, str]], per_conn: bool = False) -> list[str]:
    """Each pair's ratio over the whole run (what a user's run costs, start-up and report
    included) and in the steady state (the window from 20 % to 80 % of the nominal length)."""
    unit = "conn" if per_conn else "req"
    lines = ["", f"| CPU µs/{unit} ratio (pair by pair per round) | rounds | whole run: median "
             "| min–max | per round | steady state: median | min–max |",
             "|---|---|---|---|---|---|---|"]
    for num, den in pairs:
        rs = ratios(runs, num, den, per_conn)
        if not rs:
            continue
        st = ratios(runs, num, den, per_conn, steady=True)
        lines.append(
            f"| {num} ÷ {den} | {len(rs)} | {fmt(med(rs), '.3f')} | {span(rs, '.3f')} "
            f"| {' '.join(f'{x:.3f}' for x in rs)} | {fmt(med(st), '.3f')} | {span(st, '.3f')} |"
        )
    return lines


def since(b: Bench, first: int) -> list[Run]:
    return b.runs[first:]


# --------------------------------------------------------------------------------------------
# HTTP/1.1, HTTPS, HTTP/2, handshakes


def suite_http(b: Bench, rounds: int, seconds: float, models: bool) -> list[str]:
    tools = ["loadplan", "wrk"] + (["oha"] if b.args.oha else [])
    extra = ["async-2w", "threads-64", "processes-2"] if models else []
    log(f"http: {rounds} round(s) of {seconds:g} s: {', '.join(tools + extra)}")
    first = len(b.runs)
    for rnd in range(1, rounds + 1):
        b.loadplan(rnd, "async-1w", seconds, HEADLINE)
        b.wrk(rnd, seconds)
        if b.args.oha:
            b.oha(rnd, seconds)
        for sc in extra:
            b.loadplan(rnd, sc, seconds)
        for name, path in b.args.also:
            b.loadplan(rnd, "async-1w", seconds, f"{name} async-1w", binary=path)
            # The same models in the same round, for a before/after of each.
            for sc in extra:
                b.loadplan(rnd, sc, seconds, f"{name} {sc}", binary=path)
    runs = since(b, first)
    lines = table_by_tool(runs, f"HTTP/1.1, {CONNECTIONS} connections, {seconds:g} s, {rounds} round(s)")
    pairs = [(HEADLINE, "wrk")] + ([(HEADLINE, "oha")] if b.args.oha else [])
    pairs += [(f"loadplan {sc}", "wrk") for sc in extra]
    pairs += [(f"{name} async-1w", "wrk") for name, _ in b.args.also]
    pairs += [(HEADLINE, f"{name} async-1w") for name, _ in b.args.also]
    pairs += [(f"{name} {sc}", "wrk") for name, _ in b.args.also for sc in extra]
    pairs += [(f"loadplan {sc}", f"{name} {sc}") for name, _ in b.args.also for sc in extra]
    return lines + ratio_lines(runs, pairs)


def tls_rounds(b: Bench, name: str, scenario: str, rounds: int, seconds: float,
               peers: Callable[[int, str], None]) -> tuple[str, list[Run]]:
    """`rounds` rounds against nginx's HTTPS port, each of loadplan's `scenario` (https.yaml),
    then `peers(round, url)`, then each `--also` build's `scenario`; returns loadplan's tag and
    the runs."""
    url = b.nginx.tls["tls"] + "/file"
    log(f"{name}: {rounds} round(s) of {seconds:g} s")
    first = len(b.runs)
    lp = f"loadplan {scenario}"
    for rnd in range(1, rounds + 1):
        b.loadplan(rnd, scenario, seconds, lp, plan="https.yaml")
        peers(rnd, url)
        for also, path in b.args.also:
            b.loadplan(rnd, scenario, seconds, f"{also} {scenario}", binary=path, plan="https.yaml")
    return lp, since(b, first)


def suite_https(b: Bench, rounds: int, seconds: float) -> list[str]:
    """HTTPS keep-alive, HTTP/1.1, 64 connections (ECDSA certificate; no tool verifies it but
    loadplan's `https-verified` row, whose handshakes are all before the measured phase anyway)."""
    def peers(rnd: int, url: str) -> None:
        b.wrk(rnd, seconds, url, tag="wrk https")
        if b.args.oha:
            b.oha(rnd, seconds, url, tag="oha https", extra=["--insecure"])
        if b.args.h2load:
            b.h2load(rnd, seconds, url, ["--h1", f"-c{CONNECTIONS}", f"-D{seconds:g}"], "h2load --h1 https")

    lp, runs = tls_rounds(b, "https", "https-1w", rounds, seconds, peers)
    lines = table_by_tool(runs, f"HTTPS keep-alive, HTTP/1.1, {CONNECTIONS} connections, {seconds:g} s")
    pairs = [(lp, "wrk https"), (lp, "oha https"), (lp, "h2load --h1 https")]
    pairs += [(lp, f"{name} https-1w") for name, _ in b.args.also]
    return lines + ratio_lines(runs, pairs)


def suite_h2(b: Bench, rounds: int, seconds: float) -> list[str]:
    """HTTP/2 over TLS, 4 connections × 16 streams (64 requests in flight)."""
    def peers(rnd: int, url: str) -> None:
        if b.args.h2load:
            b.h2load(rnd, seconds, url, ["-c4", "-m16", f"-D{seconds:g}"], "h2load -c4 -m16")
        if b.args.oha:
            b.oha(rnd, seconds, url, connections=4, tag="oha --http2 -c4 -p16",
                  extra=["--http2", "-p", "16", "--insecure"])

    lp, runs = tls_rounds(b, "h2", "h2-4x16", rounds, seconds, peers)
    lines = table_by_tool(runs, f"HTTP/2 over TLS, 4 connections × 16 streams, {seconds:g} s")
    pairs = [(lp, "h2load -c4 -m16"), (lp, "oha --http2 -c4 -p16")]
    pairs += [(lp, f"{name} h2-4x16") for name, _ in b.args.also]
    return lines + ratio_lines(runs, pairs)


# h2load's new connections per second in the handshake suite (`-r` per 10 ms period): it opens
# connections at a fixed rate rather than as fast as it can, one request each (`-n` = `-c`).
H2LOAD_CONN_RATE = 500


def suite_handshake(b: Bench, rounds: int, seconds: float, certs: list[str]) -> list[str]:
    """A new TLS connection (a full handshake: the servers refuse resumption) per request, 64 at
    a time. Costs are per connection, counted by nginx."""
    log(f"handshake: {rounds} round(s) of {seconds:g} s, certificates {', '.join(certs)}")
    first = len(b.runs)
    for rnd in range(1, rounds + 1):
        for cert in certs:
            base = b.nginx.tls[f"full-{cert}"]
            url = base + "/file"
            b.loadplan(rnd, "handshake", seconds, f"loadplan per-request {cert}", plan="https.yaml",
                       base=base)
            if not b.args.smoke:
                b.loadplan(rnd, "handshake-verified", seconds, f"loadplan verified {cert}",
                           plan="https.yaml", base=base)
            if b.args.h2load:
                n = int(H2LOAD_CONN_RATE * seconds)
                b.h2load(rnd, seconds, url, ["--h1", f"-n{n}", f"-c{n}", f"-r{H2LOAD_CONN_RATE // 100}",
                                             "--rate-period=10ms"], f"h2load new conn {cert}")
            if b.args.oha:
                b.oha(rnd, seconds, url, tag=f"oha --disable-keepalive {cert}",
                      extra=["--disable-keepalive", "--insecure"])
            b.wrk(rnd, seconds, url, tag=f"wrk Connection: close {cert}", close=True)
            for name, path in b.args.also:
                b.loadplan(rnd, "handshake", seconds, f"{name} per-request {cert}", binary=path,
                           plan="https.yaml", base=base)
    runs = since(b, first)
    lines = table_by_tool(runs, f"A new TLS connection per request, {seconds:g} s (per connection)",
                          per_conn=True)
    pairs = []
    for cert in certs:
        lp = f"loadplan per-request {cert}"
        pairs += [(lp, f"h2load new conn {cert}"), (lp, f"oha --disable-keepalive {cert}"),
                  (lp, f"wrk Connection: close {cert}"), (f"loadplan verified {cert}", lp)]
        pairs += [(lp, f"{name} per-request {cert}") for name, _ in b.args.also]
    lines += ratio_lines(runs, pairs, per_conn=True)
    lines.append("")
    lines.append("Handshakes per CPU second (median): " + ", ".join(
        f"{t}: {fmt(med([1e6 / r.cpu_us_per_conn for r in runs if r.tool == t and r.ok and r.cpu_us_per_conn]), '.0f')}"
        for t in dict.fromkeys(r.tool for r in runs)))
    return lines


# --------------------------------------------------------------------------------------------
# Scale, memory, CPU-bound work


def suite_scale(b: Bench, rounds: int, seconds: float, counts: list[int]) -> list[str]:
    """HTTP/1.1 at many connections (async, wrk, oha) and many `threads` users: CPU per request
    and what each extra connection or user adds to peak RSS."""
    log(f"scale: {rounds} round(s) of {seconds:g} s at {counts} connections")
    first = len(b.runs)
    for rnd in range(1, rounds + 1):
        for n in counts:
            b.loadplan(rnd, "async-1w", seconds, f"loadplan async {n}", concurrency=n)
            b.wrk(rnd, seconds, connections=n, tag=f"wrk {n}")
            if b.args.oha:
                b.oha(rnd, seconds, connections=n, tag=f"oha {n}")
            b.loadplan(rnd, "threads-64", seconds, f"loadplan threads {n}", concurrency=n)
            for name, path in b.args.also:
                b.loadplan(rnd, "async-1w", seconds, f"{name} async {n}", binary=path, concurrency=n)
                b.loadplan(rnd, "threads-64", seconds, f"{name} threads {n}", concurrency=n, binary=path)
    runs = since(b, first)
    lines = table_by_tool(runs, f"HTTP/1.1 at {' and '.join(map(str, counts))} connections, {seconds:g} s")
    pairs = []
    for n in counts:
        pairs += [(f"loadplan async {n}", f"wrk {n}"), (f"loadplan async {n}", f"oha {n}")]
        for name, _ in b.args.also:
            pairs += [(f"{name} async {n}", f"oha {n}"), (f"loadplan async {n}", f"{name} async {n}")]
    lines += ratio_lines(runs, pairs)
    lo, hi = min(counts), max(counts)
    lines += ["", f"| tool | RSS per connection or user, KB: (RSS at {hi} − RSS at {lo}) ÷ {hi - lo}, "
                  "median (min–max) | RSS ÷ count at the larger, KB |", "|---|---|---|"]
    for tool in ("loadplan async", "wrk", "oha", "loadplan threads") + tuple(
        f"{name} {model}" for name, _ in b.args.also for model in ("async", "threads")
    ):
        per, whole = [], []
        for rnd in sorted({r.round for r in runs}):
            a = [r for r in runs if r.round == rnd and r.tool == f"{tool} {lo}" and r.ok]
            z = [r for r in runs if r.round == rnd and r.tool == f"{tool} {hi}" and r.ok]
            if a and z:
                per.append((z[0].rss_kb - a[0].rss_kb) / (hi - lo))
                whole.append(z[0].rss_kb / hi)
        if per:
            lines.append(f"| {tool} | {fmt(med(per), '.1f')} ({span(per, '.1f')}) | {fmt(med(whole), '.1f')} |")
    return lines


def suite_memory(b: Bench, rounds: int, seconds: float, factor: int) -> list[str]:
    """Peak RSS of a run against one `factor` times longer, for the keep-alive loads."""
    long_s = seconds * factor
    loads = [("async-1w", "http.yaml"), ("https-1w", "https.yaml"), ("h2-4x16", "https.yaml")]
    if not b.nginx.tls:
        loads = loads[:1]
    log(f"memory: {rounds} round(s) of {seconds:g} s and {long_s:g} s: {', '.join(s for s, _ in loads)}")
    first = len(b.runs)
    for rnd in range(1, rounds + 1):
        for sc, plan in loads:
            b.loadplan(rnd, sc, seconds, f"loadplan {sc} {seconds:g}s", plan=plan)
            b.loadplan(rnd, sc, long_s, f"loadplan {sc} {long_s:g}s", plan=plan)
    runs = since(b, first)
    lines = [f"\n## Memory: {seconds:g} s against {long_s:g} s", "",
             "| run | round | requests | peak RSS MB (time -v) | CPU µs/req | RSS growth |",
             "|---|---|---|---|---|---|"]
    for sc, _ in loads:
        for rnd in sorted({r.round for r in runs}):
            short = [r for r in runs if r.round == rnd and r.tool == f"loadplan {sc} {seconds:g}s" and r.ok]
            long_ = [r for r in runs if r.round == rnd and r.tool == f"loadplan {sc} {long_s:g}s" and r.ok]
            for r in short + long_:
                growth = (f"{(r.rss_kb / short[0].rss_kb - 1) * 100:+.1f}%"
                          if r in long_ and short else "")
                lines.append(f"| {r.tool} | {r.round} | {r.requests} | {r.rss_kb / 1024:.1f} "
                             f"| {fmt(r.cpu_us_per_req)} | {growth} |")
    return lines


def suite_cpu(b: Bench, rounds: int, smoke: bool) -> list[str]:
    """CPU-bound scaling: not pinned (both cores), and nginx is not needed."""
    text = (BENCH / "cpu.yaml").read_text()
    if smoke:
        text = re.sub(r"(?m)^(\s+repeat:) (\d+)$", lambda m: f"{m.group(1)} {max(2, int(m.group(2)) // 20)}", text)
    plan = b.outdir / "cpu.yaml"
    plan.write_text(text)
    log(f"cpu: {rounds} round(s) of {plan}")
    rows: list[dict] = []
    for rnd in range(1, rounds + 1):
        out = Path(tempfile.mkdtemp(prefix="lp-cpu-", dir=b.outdir))
        cmd = [b.args.loadplan, "run", str(plan), "--out", str(out)]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
        (b.outdir / f"cpu-r{rnd}.out").write_bytes(p.stdout)
        summary = loadplan_summary(out)
        if not summary:
            log(f"  r{rnd} cpu plan failed (exit {p.returncode})")
            continue
        for sc in summary["scenarios"]:
            spin_us = 10.0 if sc["name"].startswith("spin-10us") else None
            for c in sc["cells"]:
                ops = c["operations"]
                par = c["workers"] if c["model"] == "processes" else c["concurrency"]
                par = min(par, os.cpu_count() or 1)
                row = {
                    "round": rnd, "scenario": sc["name"], "model": c["model"],
                    "ops": ops, "wall_s": c["wall_seconds"], "cpu_s": c["cpu_seconds"],
                    "speedup": c.get("speedup"),
                    # Wall time one lane (core) spent per operation.
                    "lane_us_per_op": c["wall_seconds"] * 1e6 * par / ops if ops else None,
                    "cpu_us_per_op": c["cpu_seconds"] * 1e6 / ops if ops else None,
                }
                if spin_us is not None and row["lane_us_per_op"] is not None:
                    row["overhead_us_per_op"] = row["lane_us_per_op"] - spin_us
                rows.append(row)
                log(f"  r{rnd} {sc['name']:<12} {c['model']:<11} speedup {fmt(c.get('speedup'))}  "
                    f"lane {fmt(row['lane_us_per_op'])} µs/op  cpu {fmt(row['cpu_us_per_op'])} µs/op")
    b.cpu_rows = rows
    lines = ["\n## CPU-bound scaling (2 workers, both cores, no nginx)", "",
             "| scenario | model | rounds | speedup median (min–max) | wall µs/op per core median "
             "| CPU µs/op median | dispatch µs/op median (min–max) |",
             "|---|---|---|---|---|---|---|"]
    for sc, model in dict.fromkeys((r["scenario"], r["model"]) for r in rows):
        rs = [r for r in rows if r["scenario"] == sc and r["model"] == model]
        sp = [r["speedup"] for r in rs]
        ov = [r.get("overhead_us_per_op") for r in rs]
        has_ov = any(x is not None for x in ov)
        lines.append(
            f"| {sc} | {model} | {len(rs)} | {fmt(med(sp), '.3f')} ({span(sp, '.3f')}) "
            f"| {fmt(med([r['lane_us_per_op'] for r in rs]))} | {fmt(med([r['cpu_us_per_op'] for r in rs]))} "
            f"| {fmt(med(ov)) if has_ov else '—'} {'(' + span(ov) + ')' if has_ov else ''} |"
        )
    return lines
