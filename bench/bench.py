#!/usr/bin/env python3
"""Measures loadplan's cost as a load generator, side by side with wrk and oha.

Input: the tools found on this machine (bench/setup.sh installs them) and a release build of
loadplan. Output: a table on stdout and, in the output folder, every run's raw log plus
`results.json`. It starts its own nginx on 127.0.0.1 (one worker pinned to core 0), runs every
tool pinned to core 1, interleaved A B C A B C, and counts requests on the server (stub_status),
so no tool's own bookkeeping is trusted. It stops every process it started, by pid.

It asserts nothing about speed: it reports. Only the standard library is used.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
CONNECTIONS = 64
SERVER_CORE = "0"
TOOL_CORE = "1"
# The 12-byte body every tool fetches.
FILE_BODY = b"hello world\n"
# Extra seconds a run may take beyond its nominal length before it is killed.
GRACE_S = 30

# Processes this script started and has not reaped yet: stopped on any exit.
LIVE: list[subprocess.Popen] = []


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def stop(p: subprocess.Popen, sig: int = signal.SIGTERM, wait_s: float = 5.0) -> None:
    """Stops one process we started (and its process group, which it leads), then reaps it."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    if p in LIVE:
        LIVE.remove(p)


def stop_all() -> None:
    for p in list(LIVE):
        stop(p)


def on_signal(signum, _frame) -> None:
    stop_all()
    sys.exit(128 + signum)


# --------------------------------------------------------------------------------------------
# Tools


def find_oha() -> str | None:
    found = shutil.which("oha")
    if found:
        return found
    cand = Path.home() / ".cargo" / "bin" / "oha"
    return str(cand) if cand.exists() else None


def require(name: str) -> str:
    found = shutil.which(name)
    if not found:
        sys.exit(f"bench: `{name}` not found; run bench/setup.sh first")
    return found


def free_port() -> int:
    # A small race (the port could be taken before nginx binds it) is acceptable here: nginx
    # then fails to start and we say so.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# nginx


NGINX_CONF = """\
worker_processes 1;
worker_cpu_affinity 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {dir}/www;
        location = /file {{ }}
        location = /nginx_status {{ stub_status; }}
    }}
}}
"""


class Nginx:
    def __init__(self, nginx: str):
        self.dir = Path(tempfile.mkdtemp(prefix="loadplan-bench-nginx-"))
        # The worker runs as an unprivileged user when we are root: it must read the file.
        self.dir.chmod(0o755)
        (self.dir / "www").mkdir()
        (self.dir / "www" / "file").write_bytes(FILE_BODY)
        (self.dir / "www").chmod(0o755)
        (self.dir / "www" / "file").chmod(0o644)
        self.port = free_port()
        conf = self.dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=self.dir, port=self.port))
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, nginx, "-p", str(self.dir), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        LIVE.append(self.proc)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                sys.exit(f"bench: nginx exited at start: {err.strip()}")
            try:
                self.requests()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    sys.exit("bench: nginx did not answer within 10 s")
                time.sleep(0.05)
        with urllib.request.urlopen(self.base + "/file", timeout=5) as r:
            if r.read() != FILE_BODY:
                self.stop()
                sys.exit("bench: nginx served the wrong body")

    def requests(self) -> int:
        """The server's request counter (this status request included)."""
        with urllib.request.urlopen(self.base + "/nginx_status", timeout=5) as r:
            text = r.read().decode()
        # "Active connections: 1 \nserver accepts handled requests\n 1 1 1 \n..."
        return int(text.splitlines()[2].split()[2])

    def stop(self) -> None:
        # SIGQUIT: graceful stop of master and worker; stop() escalates to SIGKILL if needed.
        stop(self.proc, signal.SIGQUIT)
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# One measured run


@dataclass
class Run:
    tool: str
    round: int
    seconds: float
    requests: int = 0
    cpu_s: float = 0.0
    rss_kb: int = 0
    wall_s: float = 0.0
    p50_us: float | None = None
    p99_us: float | None = None
    ok: bool = True
    note: str = ""
    command: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def cpu_us_per_req(self) -> float | None:
        return self.cpu_s * 1e6 / self.requests if self.requests else None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def parse_time_v(path: Path) -> tuple[float, int]:
    """(user + sys seconds, peak RSS in kB) from `/usr/bin/time -v`."""
    text = path.read_text(errors="replace")
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", text).group(1))
    sys_ = float(re.search(r"System time \(seconds\): ([\d.]+)", text).group(1))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return user + sys_, rss


def wrk_latency_us(text: str, pct: str) -> float | None:
    m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not m:
        return None
    scale = {"us": 1.0, "ms": 1e3, "s": 1e6}[m.group(2)]
    return float(m.group(1)) * scale


def oha_latency_us(text: str, key: str) -> float | None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    v = (data.get("latencyPercentiles") or {}).get(key)
    return v * 1e6 if isinstance(v, (int, float)) else None


def loadplan_summary(out: Path) -> dict | None:
    found = sorted(out.glob("*/*/summary.json"))
    if not found:
        return None
    return json.loads(found[-1].read_text())


class Bench:
    def __init__(self, args, nginx: Nginx | None, outdir: Path):
        self.args = args
        self.nginx = nginx
        self.outdir = outdir
        self.seq = 0
        self.runs: list[Run] = []
        self.plan_cache: dict[tuple[str, str], Path] = {}

    def plan(self, name: str, duration: str) -> Path:
        """The plan in bench/, with its `duration:` lines set to this run's length."""
        key = (name, duration)
        if key not in self.plan_cache:
            text = (BENCH / name).read_text()
            text = re.sub(r"(?m)^(\s+duration:) \S+$", rf"\1 {duration}", text)
            path = self.outdir / f"{Path(name).stem}-{duration}.yaml"
            path.write_text(text)
            self.plan_cache[key] = path
        return self.plan_cache[key]

    def measure(self, tool: str, rnd: int, seconds: float, cmd: list[str], env=None) -> Run:
        """Runs `cmd` pinned to the tool core under /usr/bin/time, counting requests on nginx."""
        self.seq += 1
        stem = self.outdir / f"{self.seq:03d}-r{rnd}-{tool}"
        timef = stem.with_suffix(".time")
        outf = stem.with_suffix(".out")
        full = ["taskset", "-c", TOOL_CORE, "/usr/bin/time", "-v", "-o", str(timef)] + cmd
        run = Run(tool=tool, round=rnd, seconds=seconds, command=" ".join(cmd))
        before = self.nginx.requests() if self.nginx else 0
        t0 = time.monotonic()
        with open(outf, "wb") as out:
            p = subprocess.Popen(
                full, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
            LIVE.append(p)
            try:
                p.wait(timeout=seconds + GRACE_S)
            except subprocess.TimeoutExpired:
                run.ok = False
                run.note = f"killed after {seconds + GRACE_S:.0f} s"
            stop(p)
        run.wall_s = time.monotonic() - t0
        if self.nginx:
            # Minus one: the second status request counts itself.
            run.requests = self.nginx.requests() - before - 1
        if p.returncode not in (0, None) and run.ok:
            run.ok = False
            run.note = f"exit code {p.returncode}"
        try:
            run.cpu_s, run.rss_kb = parse_time_v(timef)
        except (OSError, AttributeError) as e:
            run.ok = False
            run.note = f"no /usr/bin/time report: {e}"
        run.extra["log"] = str(outf)
        self.runs.append(run)
        cpr = run.cpu_us_per_req
        log(
            f"  r{rnd} {tool:<22} {run.requests:>9} req  {run.rps:>9.0f}/s  "
            f"cpu {run.cpu_s:6.2f} s  {cpr if cpr is not None else float('nan'):6.2f} µs/req  "
            f"rss {run.rss_kb / 1024:6.1f} MB  {'' if run.ok else 'FAILED: ' + run.note}"
        )
        return run

    # ---- the tools -------------------------------------------------------------------------

    def loadplan(
        self, rnd: int, scenario: str, seconds: float, tag: str | None = None, binary: str | None = None
    ) -> Run:
        plan = self.plan("http.yaml", f"{seconds:g}s")
        out = Path(tempfile.mkdtemp(prefix="lp-", dir=self.outdir))
        env = dict(os.environ, LOADPLAN_BENCH_BASE=self.nginx.base)
        cmd = [binary or self.args.loadplan, "run", str(plan), "--only", scenario, "--out", str(out)]
        run = self.measure(tag or f"loadplan {scenario}", rnd, seconds, cmd, env)
        summary = loadplan_summary(out)
        if summary:
            cell = summary["scenarios"][0]["cells"][0]
            run.p50_us = cell["latency_us"]["p50"]
            run.p99_us = cell["latency_us"]["p99"]
            run.extra["operations"] = cell["operations"]
            run.extra["errors"] = cell["errors"]
            run.extra["summary_peak_rss_bytes"] = cell.get("peak_rss_bytes")
            if sum(cell["errors"].values()):
                run.note += f" errors {cell['errors']}"
        elif run.ok:
            run.ok = False
            run.note = "no summary.json"
        return run

    def wrk(self, rnd: int, seconds: float) -> Run:
        # One thread: the tool has one core, like the others.
        cmd = [
            self.args.wrk, "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--latency",
            self.nginx.base + "/file",
        ]
        run = self.measure("wrk", rnd, seconds, cmd)
        text = Path(run.extra["log"]).read_text(errors="replace")
        run.p50_us = wrk_latency_us(text, "50")
        run.p99_us = wrk_latency_us(text, "99")
        return run

    def oha(self, rnd: int, seconds: float) -> Run:
        cmd = [
            self.args.oha, "-z", f"{seconds:g}s", "-c", str(CONNECTIONS), "--no-tui",
            "--output-format", "json", self.nginx.base + "/file",
        ]
        run = self.measure("oha", rnd, seconds, cmd)
        text = Path(run.extra["log"]).read_text(errors="replace")
        run.p50_us = oha_latency_us(text, "p50")
        run.p99_us = oha_latency_us(text, "p99")
        return run


# --------------------------------------------------------------------------------------------
# Reporting


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec=".2f"):
    return "—" if x is None else format(x, spec)


def span(xs, spec=".2f"):
    xs = [x for x in xs if x is not None]
    return "—" if not xs else f"{min(xs):{spec}}–{max(xs):{spec}}"


def table_by_tool(runs: list[Run], title: str) -> list[str]:
    lines = [f"\n## {title}", ""]
    lines.append(
        "| tool | runs | req/s median (min–max) | CPU µs/req median (min–max) "
        "| peak RSS MB median (min–max) | p50 µs | p99 µs |"
    )
    lines.append("|---|---|---|---|---|---|---|")
    tools = list(dict.fromkeys(r.tool for r in runs))
    for t in tools:
        rs = [r for r in runs if r.tool == t and r.ok]
        if not rs:
            lines.append(f"| {t} | 0 | failed | | | | |")
            continue
        rps = [r.rps for r in rs]
        cpr = [r.cpu_us_per_req for r in rs]
        rss = [r.rss_kb / 1024 for r in rs]
        lines.append(
            f"| {t} | {len(rs)} | {fmt(med(rps), '.0f')} ({span(rps, '.0f')}) "
            f"| {fmt(med(cpr))} ({span(cpr)}) | {fmt(med(rss), '.1f')} ({span(rss, '.1f')}) "
            f"| {fmt(med([r.p50_us for r in rs]), '.0f')} | {fmt(med([r.p99_us for r in rs]), '.0f')} |"
        )
    return lines


def ratios(runs: list[Run], num: str, den: str) -> list[float]:
    """CPU µs/request of `num` ÷ `den`, pair by pair within each round."""
    out = []
    for rnd in sorted({r.round for r in runs}):
        a = [r for r in runs if r.round == rnd and r.tool == num and r.ok]
        b = [r for r in runs if r.round == rnd and r.tool == den and r.ok]
        if a and b and a[0].cpu_us_per_req and b[0].cpu_us_per_req:
            out.append(a[0].cpu_us_per_req / b[0].cpu_us_per_req)
    return out


def ratio_lines(runs: list[Run], pairs: list[tuple[str, str]]) -> list[str]:
    lines = ["", "| CPU µs/req ratio (pair by pair per round) | rounds | median | min–max | per round |",
             "|---|---|---|---|---|"]
    for num, den in pairs:
        rs = ratios(runs, num, den)
        lines.append(
            f"| {num} ÷ {den} | {len(rs)} | {fmt(med(rs), '.3f')} | {span(rs, '.3f')} "
            f"| {' '.join(f'{x:.3f}' for x in rs)} |"
        )
    return lines


# --------------------------------------------------------------------------------------------
# Suites


HEADLINE = "loadplan async-1w"


def suite_http(b: Bench, rounds: int, seconds: float, models: bool) -> list[str]:
    tools = ["loadplan", "wrk"] + (["oha"] if b.args.oha else [])
    extra = ["async-2w", "threads-64", "processes-2"] if models else []
    log(f"http: {rounds} round(s) of {seconds:g} s: {', '.join(tools + extra)}")
    for rnd in range(1, rounds + 1):
        b.loadplan(rnd, "async-1w", seconds, HEADLINE)
        b.wrk(rnd, seconds)
        if b.args.oha:
            b.oha(rnd, seconds)
        for sc in extra:
            b.loadplan(rnd, sc, seconds)
        for name, path in b.args.also:
            b.loadplan(rnd, "async-1w", seconds, f"{name} async-1w", binary=path)
    runs = [r for r in b.runs if r.seconds == seconds]
    lines = table_by_tool(runs, f"HTTP, {CONNECTIONS} connections, {seconds:g} s, {rounds} round(s)")
    pairs = [(HEADLINE, "wrk")] + ([(HEADLINE, "oha")] if b.args.oha else [])
    pairs += [(f"loadplan {sc}", "wrk") for sc in extra]
    pairs += [(f"{name} async-1w", "wrk") for name, _ in b.args.also]
    pairs += [(HEADLINE, f"{name} async-1w") for name, _ in b.args.also]
    lines += ratio_lines(runs, pairs)
    return lines


def suite_memory(b: Bench, rounds: int, seconds: float, factor: int) -> list[str]:
    long_s = seconds * factor
    log(f"memory: {rounds} round(s) of {seconds:g} s and {long_s:g} s (loadplan async-1w)")
    for rnd in range(1, rounds + 1):
        b.loadplan(rnd, "async-1w", seconds, f"loadplan async-1w {seconds:g}s")
        b.loadplan(rnd, "async-1w", long_s, f"loadplan async-1w {long_s:g}s")
    short = [r for r in b.runs if r.tool == f"loadplan async-1w {seconds:g}s" and r.ok]
    long_ = [r for r in b.runs if r.tool == f"loadplan async-1w {long_s:g}s" and r.ok]
    lines = [f"\n## Memory: {seconds:g} s against {long_s:g} s", "",
             "| run | round | requests | peak RSS MB (time -v) | CPU µs/req |", "|---|---|---|---|---|"]
    for r in short + long_:
        lines.append(
            f"| {r.tool} | {r.round} | {r.requests} | {r.rss_kb / 1024:.1f} | {fmt(r.cpu_us_per_req)} |"
        )
    growth = [
        lg.rss_kb / sh.rss_kb - 1 for sh, lg in zip(short, long_) if sh.round == lg.round
    ]
    lines.append("")
    lines.append(
        f"RSS growth {long_s:g} s vs {seconds:g} s, per round: "
        + (", ".join(f"{g * 100:+.1f}%" for g in growth) or "—")
    )
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
    keys = list(dict.fromkeys((r["scenario"], r["model"]) for r in rows))
    for sc, model in keys:
        rs = [r for r in rows if r["scenario"] == sc and r["model"] == model]
        sp = [r["speedup"] for r in rs]
        ov = [r.get("overhead_us_per_op") for r in rs]
        lines.append(
            f"| {sc} | {model} | {len(rs)} | {fmt(med(sp), '.3f')} ({span(sp, '.3f')}) "
            f"| {fmt(med([r['lane_us_per_op'] for r in rs]))} | {fmt(med([r['cpu_us_per_op'] for r in rs]))} "
            f"| {fmt(med(ov)) if any(x is not None for x in ov) else '—'} "
            f"{'(' + span(ov) + ')' if any(x is not None for x in ov) else ''} |"
        )
    return lines


# --------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true",
                    help="1 round of 2 s per tool, short CPU plan, no long memory run (for CI)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--suites", default="http,models,memory,cpu",
                    help="comma list of: http (loadplan/wrk/oha), models (add async-2w, threads-64, "
                         "processes-2 to each http round), memory (10 s vs 6x longer), cpu")
    ap.add_argument("--memory-rounds", type=int, default=2)
    ap.add_argument("--serve", action="store_true",
                    help="only start nginx, print its base URL and wait for Ctrl-C (for profiling)")
    ap.add_argument("--loadplan", default=str(REPO / "target" / "release" / "loadplan"))
    ap.add_argument("--also", action="append", default=[], metavar="NAME=PATH",
                    help="another loadplan binary to run (async-1w) in every http round, e.g. an "
                         "older build for a before/after comparison")
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
    if args.smoke:
        args.rounds, args.seconds, args.memory_rounds = 1, 2.0, 0
    suites = set(args.suites.split(","))
    if args.smoke:
        suites.discard("memory")

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    atexit.register(stop_all)

    if args.serve:
        nginx = Nginx(require("nginx"))
        print(nginx.base, flush=True)
        try:
            while nginx.proc.poll() is None:
                time.sleep(1)
        finally:
            nginx.stop()
        return 0
    if (os.cpu_count() or 1) < 2:
        log("bench: fewer than 2 cores: server and tool will share one")
    for t in ("taskset",):
        require(t)
    if not Path("/usr/bin/time").exists():
        sys.exit("bench: /usr/bin/time not found; run bench/setup.sh first")
    nginx_bin = require("nginx") if suites & {"http", "models", "memory"} else None
    args.wrk = require("wrk") if "http" in suites else None
    args.oha = find_oha() if "http" in suites else None
    if "http" in suites and not args.oha:
        if args.smoke:
            log("bench: oha not found; the smoke run goes on without it (bench/setup.sh installs it)")
        else:
            sys.exit("bench: oha not found; run bench/setup.sh first")

    if not args.no_build:
        log("building loadplan (release)…")
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=REPO, check=True)
    if not Path(args.loadplan).exists():
        sys.exit(f"bench: no loadplan binary at {args.loadplan}")

    stamp = time.strftime("%Y%m%dT%H%M%S")
    outdir = Path(args.out) if args.out else REPO / "target" / "bench" / stamp
    outdir.mkdir(parents=True, exist_ok=True)
    log(f"raw logs: {outdir}")
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]

    nginx = Nginx(nginx_bin) if nginx_bin else None
    b = Bench(args, nginx, outdir)
    b.cpu_rows = []
    lines = [f"# loadplan bench {stamp}", "",
             f"load average before: {' '.join(load_before)}; cores: {os.cpu_count()}; "
             f"server core {SERVER_CORE}, tool core {TOOL_CORE}"]
    try:
        if nginx:
            log(f"nginx {nginx.base} (pid {nginx.proc.pid})")
        if "http" in suites:
            lines += suite_http(b, args.rounds, args.seconds, "models" in suites)
        if "memory" in suites and args.memory_rounds > 0:
            lines += suite_memory(b, args.memory_rounds, args.seconds, 6)
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
        "runs": [dict(asdict(r), cpu_us_per_req=r.cpu_us_per_req, rps=r.rps) for r in b.runs],
        "cpu": b.cpu_rows,
    }, indent=1))
    failed = [r for r in b.runs if not r.ok]
    if failed:
        log(f"bench: {len(failed)} run(s) failed: " + "; ".join(f"{r.tool} r{r.round}: {r.note}" for r in failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
