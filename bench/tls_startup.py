#!/usr/bin/env python3
"""Is client start-up booked as server time? The first cell of each model against a loopback nginx
over HTTPS, each model in a run of its own (so its first connections are the first its process,
or each worker process, opens): connect and tls p50, p99 and max from summary.json.

    python3 bench/tls_startup.py --loadplan target/release/loadplan [--runs 3] [--key ec|rsa]

Everything goes to 127.0.0.1; nginx is started here and stopped by its pid.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loadplan", default="target/release/loadplan")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--key", choices=["ec", "rsa"], default="ec")
    ap.add_argument("--connection", choices=["keep-alive", "per-request"], default="keep-alive")
    ap.add_argument("--full", action="store_true",
                    help="nginx issues no session tickets: every handshake is a full one")
    ap.add_argument("--models", default=",".join(MODELS))
    args = ap.parse_args()
    loadplan = str(Path(args.loadplan).resolve())
    d = Path(tempfile.mkdtemp(prefix="tls-startup-"))
    nginx = None
    try:
        certificates(d, args.key)
        port = free_port()
        nginx = start_nginx(d, port, args.full)
        print("| model | run | connections | connect p50 / p99 / max | tls p50 / p99 / max |")
        print("|---|---|---|---|---|")
        for run in range(args.runs):
            for model in args.models.split(","):
                plan = d / f"{model}.yaml"
                plan.write_text(
                    f"version: 1\nname: first-{model}\nbase: https://127.0.0.1:{port}\n"
                    f"defaults: {{ timeout: 5s, tls: {{ ca: ca.pem }}, connection: {args.connection} }}\n"
                    f"scenarios:\n  - name: first\n    targets: [/]\n    repeat: 200\n"
                    f"    models: [{model}]\n    concurrency: 4\n")
                out = d / "out"
                subprocess.run([loadplan, "run", str(plan), "--out", str(out), "--quiet"],
                               cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                summary = next(out.glob(f"first-{model}/*/summary.json"))
                cell = json.loads(summary.read_text())["scenarios"][0]["cells"][0]
                c = cell["connections"]
                fmt = lambda p: f"{p['p50']} / {p['p99']} / {p['max']} µs"
                print(f"| {model} | {run + 1} | {c['opened']} | {fmt(c['connect_us'])} | {fmt(c['tls_us'])} |")
                shutil.rmtree(out)
    finally:
        if nginx is not None:
            nginx.send_signal(signal.SIGTERM)
            nginx.wait(timeout=10)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
