"""The bench's machinery: processes it starts and stops, its own nginx (plain HTTP, and HTTPS with
certificates made by `openssl` at bench time), one measured run of a tool, and each tool's
command line. Standard library only.

Every process is started in a session of its own and stopped by its pid (its process group),
never by name. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
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
worker_rlimit_nofile 20000;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 10000; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    http2_max_requests 100000000;
    default_type application/octet-stream;
    root {dir}/www;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /file {{ }}
        location = /nginx_status {{ stub_status; }}
    }}
{tls_servers}}}
"""

# One HTTPS server: `listen … ssl http2` serves HTTP/1.1 and HTTP/2 (ALPN) on one port.
TLS_SERVER = """\
    server {{
        listen 127.0.0.1:{port} ssl http2 backlog=4096;
        ssl_certificate {dir}/{cert}.crt;
        ssl_certificate_key {dir}/{cert}.key;
        ssl_session_tickets {tickets};
        location = /file {{ }}
    }}
"""

# HTTPS servers: name → (certificate, session tickets). `tls` serves the keep-alive and HTTP/2
# loads; the `full-*` ones refuse resumption, so that every new connection is a full handshake.
TLS_SERVERS = {"tls": ("ecdsa", "on"), "full-ecdsa": ("ecdsa", "off"), "full-rsa": ("rsa", "off")}


def make_certificates(d: Path) -> None:
    """A CA (ECDSA P-256) and two server certificates it signs, ECDSA P-256 and RSA 2048, for
    127.0.0.1 and localhost. Made fresh for every bench, with openssl."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=loadplan bench CA")
    (d / "ext.cnf").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "extendedKeyUsage=serverAuth\n"
    )
    for kind, key in (("ecdsa", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
                      ("rsa", ["-newkey", "rsa:2048"])):
        run("req", *key, "-nodes", "-keyout", f"{kind}.key", "-out", f"{kind}.csr",
            "-subj", "/CN=localhost")
        run("x509", "-req", "-in", f"{kind}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", f"{kind}.crt", "-extfile", "ext.cnf")
    for f in d.glob("*.key"):
        f.chmod(0o644)


class Nginx:
    """Our own nginx: one worker pinned to the server core; `base` is plain HTTP, `tls[name]`
    the HTTPS servers of TLS_SERVERS when `tls` is asked for."""

    def __init__(self, nginx: str, tls: bool):
        self.dir = Path(tempfile.mkdtemp(prefix="loadplan-bench-nginx-"))
        # The worker runs as an unprivileged user when we are root: it must read the files.
        self.dir.chmod(0o755)
        (self.dir / "www").mkdir()
        (self.dir / "www" / "file").write_bytes(FILE_BODY)
        (self.dir / "www").chmod(0o755)
        (self.dir / "www" / "file").chmod(0o644)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.tls: dict[str, str] = {}
        servers = ""
        if tls:
            make_certificates(self.dir)
            self.ca = self.dir / "ca.pem"
            for name, (cert, tickets) in TLS_SERVERS.items():
                port = free_port()
                self.tls[name] = f"https://127.0.0.1:{port}"
                servers += TLS_SERVER.format(port=port, dir=self.dir, cert=cert, tickets=tickets)
        conf = self.dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=self.dir, port=self.port, tls_servers=servers))
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
                self.counters()
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

    def counters(self) -> tuple[int, int]:
        """The server's (connections accepted, requests) counters, this status request included."""
        with urllib.request.urlopen(self.base + "/nginx_status", timeout=5) as r:
            text = r.read().decode()
        # "Active connections: 1 \nserver accepts handled requests\n 1 1 1 \n..."
        accepts, _handled, requests = text.splitlines()[2].split()[:3]
        return int(accepts), int(requests)

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
    connections: int = 0
    cpu_s: float = 0.0
    rss_kb: int = 0
    wall_s: float = 0.0
    p50_us: float | None = None
    p99_us: float | None = None
    ok: bool = True
    note: str = ""
    command: str = ""
    extra: dict = field(default_factory=dict)
    # The steady state: CPU and requests between STEADY_FROM and STEADY_TO of the run's nominal
    # length, sampled while it runs (start-up, warm-up, the last requests and the report left
    # out); the fields above are the whole process, what a user's run costs.
    steady_cpu_s: float = 0.0
    steady_requests: int = 0
    steady_connections: int = 0

    @property
    def cpu_us_per_req(self) -> float | None:
        return self.cpu_s * 1e6 / self.requests if self.requests else None

    @property
    def steady_cpu_us_per_req(self) -> float | None:
        return self.steady_cpu_s * 1e6 / self.steady_requests if self.steady_requests else None

    @property
    def steady_cpu_us_per_conn(self) -> float | None:
        return self.steady_cpu_s * 1e6 / self.steady_connections if self.steady_connections else None

    @property
    def cpu_us_per_conn(self) -> float | None:
        return self.cpu_s * 1e6 / self.connections if self.connections else None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# The steady-state window, as shares of a run's nominal length from its launch.
STEADY_FROM = 0.2
STEADY_TO = 0.8
CLOCK_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, the reaped children's included) of `pid` and every process
    below it, from /proc: a child that exits between two samples moves into its parent's
    children's time and is still counted once."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
            # Fields after the command's closing parenthesis: utime is the 12th, then stime,
            # cutime, cstime.
            fields = stat[stat.rindex(")") + 2:].split()
            total += sum(int(x) for x in fields[11:15]) * CLOCK_TICK_S
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def plan_text(name: str, duration: str, concurrency: int | None = None) -> str:
    """The text of the plan `name` in bench/ with its `duration:` lines set to `duration` (and
    its `concurrency:` lines to `concurrency`, when given)."""
    text = (BENCH / name).read_text()
    text = re.sub(r"(?m)^(\s+duration:) \S+$", rf"\1 {duration}", text)
    if concurrency is not None:
        text = re.sub(r"(?m)^(\s+concurrency:) \S+$", rf"\1 {concurrency}", text)
    return text


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
    """Runs tools one at a time, pinned to the tool core, each measured the same way."""

    def __init__(self, args, nginx: Nginx | None, outdir: Path):
        self.args = args
        self.nginx = nginx
        self.outdir = outdir
        self.seq = 0
        self.runs: list[Run] = []
        self.cpu_rows: list[dict] = []
        self.plan_cache: dict[tuple, Path] = {}

    def plan(self, name: str, duration: str, concurrency: int | None = None) -> Path:
        """The plan in bench/, with its `duration:` lines set to this run's length (and its
        `concurrency:` lines to `concurrency`, when given)."""
        key = (name, duration, concurrency)
        if key not in self.plan_cache:
            text = plan_text(name, duration, concurrency)
            suffix = f"-c{concurrency}" if concurrency is not None else ""
            path = self.outdir / f"{Path(name).stem}-{duration}{suffix}.yaml"
            path.write_text(text)
            if self.nginx and self.nginx.tls:
                # The plan's `tls.ca: bench-ca.pem` is read beside it.
                shutil.copy(self.nginx.ca, self.outdir / "bench-ca.pem")
            self.plan_cache[key] = path
        return self.plan_cache[key]

    def measure(self, tool: str, rnd: int, seconds: float, cmd: list[str], env=None) -> Run:
        """Runs `cmd` pinned to the tool core under /usr/bin/time, counting requests and
        connections on nginx."""
        self.seq += 1
        stem = self.outdir / f"{self.seq:03d}-r{rnd}-{re.sub(r'[^A-Za-z0-9.-]+', '_', tool)}"
        timef = stem.with_suffix(".time")
        outf = stem.with_suffix(".out")
        full = ["taskset", "-c", TOOL_CORE, "/usr/bin/time", "-v", "-o", str(timef)] + cmd
        run = Run(tool=tool, round=rnd, seconds=seconds, command=" ".join(cmd))
        before = self.nginx.counters() if self.nginx else (0, 0)
        t0 = time.monotonic()
        with open(outf, "wb") as out:
            p = subprocess.Popen(
                full, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
            LIVE.append(p)
            samples = []
            for share in (STEADY_FROM, STEADY_TO):
                left = t0 + seconds * share - time.monotonic()
                try:
                    p.wait(timeout=max(left, 0.0))
                    break
                except subprocess.TimeoutExpired:
                    counters = self.nginx.counters() if self.nginx else (0, 0)
                    samples.append((tree_cpu_s(p.pid), counters))
            if len(samples) == 2:
                (c1, (a1, q1)), (c2, (a2, q2)) = samples
                # Minus one each: the later status request counts itself.
                run.steady_cpu_s = c2 - c1
                run.steady_connections = max(a2 - a1 - 1, 0)
                run.steady_requests = max(q2 - q1 - 1, 0)
            try:
                p.wait(timeout=max(t0 + seconds + GRACE_S - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                run.ok = False
                run.note = f"killed after {seconds + GRACE_S:.0f} s"
            stop(p)
        run.wall_s = time.monotonic() - t0
        if self.nginx:
            after = self.nginx.counters()
            # Minus one each: the second status request counts itself, and so does each of the
            # steady window's two.
            run.connections = after[0] - before[0] - 1 - len(samples)
            run.requests = after[1] - before[1] - 1 - len(samples)
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
            f"  r{rnd} {tool:<28} {run.requests:>9} req {run.connections:>7} conn "
            f"{run.rps:>8.0f}/s  cpu {run.cpu_s:6.2f} s  "
            f"{cpr if cpr is not None else float('nan'):7.2f} µs/req  "
            f"rss {run.rss_kb / 1024:7.1f} MB  {'' if run.ok else 'FAILED: ' + run.note}"
        )
        return run

    # ---- the tools -------------------------------------------------------------------------

    def loadplan(
        self, rnd: int, scenario: str, seconds: float, tag: str | None = None,
        binary: str | None = None, plan: str = "http.yaml", base: str | None = None,
        concurrency: int | None = None,
    ) -> Run:
        path = self.plan(plan, f"{seconds:g}s", concurrency)
        out = Path(tempfile.mkdtemp(prefix="lp-", dir=self.outdir))
        env = dict(os.environ, LOADPLAN_BENCH_BASE=self.nginx.base,
                   LOADPLAN_BENCH_TLS=base or self.nginx.tls.get("tls", ""))
        cmd = [binary or self.args.loadplan, "run", str(path), "--only", scenario, "--out", str(out)]
        run = self.measure(tag or f"loadplan {scenario}", rnd, seconds, cmd, env)
        summary = loadplan_summary(out)
        if summary:
            cell = summary["scenarios"][0]["cells"][0]
            run.p50_us = cell["latency_us"]["p50"]
            run.p99_us = cell["latency_us"]["p99"]
            run.extra["operations"] = cell["operations"]
            run.extra["errors"] = cell["errors"]
            run.extra["summary_peak_rss_bytes"] = cell.get("peak_rss_bytes")
            run.extra["connections"] = cell.get("connections")
            if sum(cell["errors"].values()):
                run.note += f" errors {cell['errors']}"
        elif run.ok:
            run.ok = False
            run.note = "no summary.json"
        return run

    def wrk(self, rnd: int, seconds: float, url: str | None = None, connections: int = CONNECTIONS,
            tag: str = "wrk", close: bool = False) -> Run:
        # One thread: the tool has one core, like the others.
        cmd = [self.args.wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
        if close:
            # The server closes each connection after its response: wrk opens a new one.
            cmd += ["-H", "Connection: close"]
        run = self.measure(tag, rnd, seconds, cmd + [url or self.nginx.base + "/file"])
        text = Path(run.extra["log"]).read_text(errors="replace")
        run.p50_us = wrk_latency_us(text, "50")
        run.p99_us = wrk_latency_us(text, "99")
        return run

    def oha(self, rnd: int, seconds: float, url: str | None = None, connections: int = CONNECTIONS,
            tag: str = "oha", extra: list[str] | None = None) -> Run:
        cmd = [
            self.args.oha, "-z", f"{seconds:g}s", "-c", str(connections), "--no-tui",
            "--output-format", "json", *(extra or []), url or self.nginx.base + "/file",
        ]
        run = self.measure(tag, rnd, seconds, cmd)
        text = Path(run.extra["log"]).read_text(errors="replace")
        run.p50_us = oha_latency_us(text, "p50")
        run.p99_us = oha_latency_us(text, "p99")
        return run

    def h2load(self, rnd: int, seconds: float, url: str, args: list[str], tag: str) -> Run:
        """h2load (nghttp2) on one thread; `args` pick the protocol, clients and streams. It
        reports no percentiles, only its mean."""
        run = self.measure(tag, rnd, seconds, [self.args.h2load, "-t1", *args, url])
        text = Path(run.extra["log"]).read_text(errors="replace")
        m = re.search(r"requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed, "
                      r"(\d+) errored", text)
        if not m:
            run.ok = False
            run.note += " no h2load summary"
        elif int(m.group(1)) or int(m.group(2)):
            run.note += f" failed {m.group(1)} errored {m.group(2)}"
        return run
