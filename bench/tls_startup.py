#!/usr/bin/env python3
"""Is client start-up booked as server time? The first cell of each model against a loopback nginx
over HTTPS, each model in a run of its own (so its first connections are the first its process,
or each worker process, opens): connect and tls p50, p99 and max from summary.json.

    python3 bench/tls_startup.py --loadplan target/release/loadplan [--runs 3] [--key ec|rsa]
    python3 bench/tls_startup.py --peer [--full]

With --peer, a client that is not loadplan and is warm: Python's `ssl` (OpenSSL), in one process,
after three handshakes of its own, times each handshake alone (one at a time, 200 of them) and four
at once from four threads (each of 12 rounds), against the same nginx. What it measures is the
server's and the machine's share of a handshake, with no client start-up in it.

Everything goes to 127.0.0.1; nginx is started here and stopped by its pid.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import tree_cpu_s  # noqa: E402

MODELS = ["sequential", "threads", "async", "processes"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sh(*args, cwd):
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def certificates(d, key):
    newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if key == "ec" else ["-newkey", "rsa:2048"]
    sh("openssl", "req", "-x509", *newkey, "-nodes", "-days", "2", "-subj", "/CN=bench CA",
       "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    sh("openssl", "req", *newkey, "-nodes", "-subj", "/CN=127.0.0.1",
       "-keyout", "server.key", "-out", "server.csr", cwd=d)
    (d / "ext").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    sh("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
       "-CAcreateserial", "-days", "2", "-extfile", "ext", "-out", "server.pem", cwd=d)


def start_nginx(d, port, full=False):
    conf = d / "nginx.conf"
    conf.write_text(f"""
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp;
    proxy_temp_path {d}/tmp;
    fastcgi_temp_path {d}/tmp;
    uwsgi_temp_path {d}/tmp;
    scgi_temp_path {d}/tmp;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {d}/server.pem;
        ssl_certificate_key {d}/server.key;
        ssl_session_tickets {"off" if full else "on"};
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{ return 200 "ok\n"; }}
    }}
}}
""")
    (d / "tmp").mkdir()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    p = subprocess.Popen([nginx, "-c", str(conf), "-e", str(d / "error.log")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return p
        except OSError:
            time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    sys.exit("nginx did not start")


def handshake_us(ctx: ssl.SSLContext, port: int) -> float:
    """One TCP connection, then the TLS handshake alone, timed; the connection is closed."""
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1", do_handshake_on_connect=False) as s:
            t0 = time.perf_counter()
            s.do_handshake()
            return (time.perf_counter() - t0) * 1e6


def peer(d: Path, port: int, nginx_pid: int) -> None:
    ctx = ssl.create_default_context(cafile=str(d / "ca.pem"))
    for _ in range(3):
        handshake_us(ctx, port)
    server0, client0 = tree_cpu_s(nginx_pid), time.process_time()
    alone = [handshake_us(ctx, port) for _ in range(200)]
    server = (tree_cpu_s(nginx_pid) - server0) / len(alone) * 1e6
    client = (time.process_time() - client0) / len(alone) * 1e6
    rounds = []
    for _ in range(12):
        out = [0.0] * 4
        def one(i):
            out[i] = handshake_us(ctx, port)
        ts = [threading.Thread(target=one, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        rounds.append(max(out))
    q = lambda v, p: sorted(v)[min(len(v) - 1, int(p * len(v)))]
    print("| python ssl, warm | handshakes | p50 | p90 | max |")
    print("|---|---|---|---|---|")
    print(f"| one at a time | {len(alone)} | {statistics.median(alone):.0f} µs | {q(alone, 0.9):.0f} µs "
          f"| {max(alone):.0f} µs |")
    print(f"| four at once: the slowest of each four | {len(rounds)} × 4 | {statistics.median(rounds):.0f} µs "
          f"| {q(rounds, 0.9):.0f} µs | {max(rounds):.0f} µs |")
    print(f"\nCPU per handshake, one at a time (each connection's TCP set-up and close included): "
          f"nginx {server:.0f} µs, the Python client {client:.0f} µs")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loadplan", default="target/release/loadplan")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--key", choices=["ec", "rsa"], default="ec")
    ap.add_argument("--connection", choices=["keep-alive", "per-request"], default="keep-alive")
    ap.add_argument("--full", action="store_true",
                    help="nginx issues no session tickets: every handshake is a full one")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--peer", action="store_true",
                    help="time a warm Python ssl client's handshakes instead of loadplan's cells")
    args = ap.parse_args()
    loadplan = str(Path(args.loadplan).resolve())
    d = Path(tempfile.mkdtemp(prefix="tls-startup-"))
    nginx = None
    try:
        certificates(d, args.key)
        port = free_port()
        nginx = start_nginx(d, port, args.full)
        if args.peer:
            peer(d, port, nginx.pid)
            return
        print("| model | run | connections | connect p50 / p99 / max | tls p50 / p99 / max "
              "| nginx CPU per connection |")
        print("|---|---|---|---|---|---|")
        for run in range(args.runs):
            for model in args.models.split(","):
                plan = d / f"{model}.yaml"
                plan.write_text(
                    f"version: 1\nname: first-{model}\nbase: https://127.0.0.1:{port}\n"
                    f"defaults: {{ timeout: 5s, tls: {{ ca: ca.pem }}, connection: {args.connection} }}\n"
                    f"scenarios:\n  - name: first\n    targets: [/]\n    repeat: 200\n"
                    f"    models: [{model}]\n    concurrency: 4\n")
                out = d / "out"
                server0 = tree_cpu_s(nginx.pid)
                subprocess.run([loadplan, "run", str(plan), "--out", str(out), "--quiet"],
                               cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                summary = next(out.glob(f"first-{model}/*/summary.json"))
                cell = json.loads(summary.read_text())["scenarios"][0]["cells"][0]
                c = cell["connections"]
                # Per connection, nginx's CPU is a handshake's only when each request has its own
                # (a kept connection's requests would be in it); /proc counts 10 ms ticks.
                server = (tree_cpu_s(nginx.pid) - server0) / max(c["opened"], 1) * 1e6
                server = f"{server:.0f} µs" if args.connection == "per-request" else "—"
                fmt = lambda p: f"{p['p50']} / {p['p99']} / {p['max']} µs"
                print(f"| {model} | {run + 1} | {c['opened']} | {fmt(c['connect_us'])} | {fmt(c['tls_us'])} "
                      f"| {server} |")
                shutil.rmtree(out)
    finally:
        if nginx is not None:
            nginx.send_signal(signal.SIGTERM)
            nginx.wait(timeout=10)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
