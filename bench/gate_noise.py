#!/usr/bin/env python3
"""Does the baseline gate tell a regression from noise? Measured against a server loadplan did not
write: a small JSON API on Python's http.server (log in, list the items, fetch one), on loopback.

Experiments (each run is one cell, `async` with 4 users, a few seconds):
  history   5 quiet runs start a history; 20 identical reruns against it, single round, busy
            loops on both cores during every other one; each rerun that passes joins the history
            (as in docs/ci), so the reference is always the 5 newest passing runs: how many say
            `regressed` (want 0).
  rounds    1 baseline run with rounds 3; 10 identical reruns with rounds 3 against it (want 0).
  slow150   the target made 1.5x slower (server-side delay); 10 runs against the history as
            the reruns left it (these runs do not join it), single round: how many exit 1
            (want 10).
  slow125   the target made 1.25x slower; runs with rounds 5 against a baseline with rounds 5
            (want all exit 1).

    python3 bench/gate_noise.py --loadplan target/release/loadplan            # every experiment
    python3 bench/gate_noise.py --only history,slow150 --reruns 6

Prints one line per run (exit code, outcomes) and a table at the end. Everything goes to
127.0.0.1; every process started here is stopped by its pid.
"""

import argparse
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ITEMS = [{"id": i, "name": f"item {i}", "price": 10 + i} for i in range(1, 21)]


class Api(http.server.BaseHTTPRequestHandler):
    """POST /login, GET /items, GET /items/<id>; POST /_factor?f=1.5 multiplies the server-side
    delay of every response by that factor (the whole response, its small JSON work included,
    slows by a little less)."""

    protocol_version = "HTTP/1.1"
    # Buffered: head and body leave in one write. Unbuffered (http.server's default), the body
    # waits for the ACK of the head, which the client delays by 40 ms (Nagle + delayed ACK).
    wbufsize = 65536
    base_delay = 0.004
    factor = 1.0

    def log_message(self, *args):
        pass

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _serve(self, work):
        # One sleep, the delay times the factor: a second sleep would add a second wake-up,
        # which on a busy machine overshoots and slows the target by more than the factor.
        time.sleep(Api.base_delay * Api.factor)
        code, body = work()
        self._send(code, body)

    def do_POST(self):
        length = int(self.headers.get("content-length", "0") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.startswith("/_factor"):
            Api.factor = float(self.path.split("f=", 1)[1])
            return self._send(200, {"factor": Api.factor})
        if self.path == "/login":
            def work():
                user = json.loads(raw or b"{}").get("user", "anon")
                return 200, {"token": f"t-{user}-{len(ITEMS)}"}
            return self._serve(work)
        self._send(404, {"error": "no such path"})

    def do_GET(self):
        if not self.headers.get("authorization", "").startswith("Bearer t-"):
            return self._send(401, {"error": "no token"})
        if self.path == "/items":
            return self._serve(lambda: (200, ITEMS))
        if self.path.startswith("/items/"):
            try:
                i = int(self.path.rsplit("/", 1)[1])
            except ValueError:
                return self._send(404, {"error": "no such item"})
            return self._serve(lambda: (200, ITEMS[(i - 1) % len(ITEMS)]))
        self._send(404, {"error": "no such path"})


PLAN = """version: 1
name: gate-noise
base: http://127.0.0.1:{port}
defaults: {{ timeout: 5s }}
scenarios:
  - name: api
    flow:
      - name: login
        request: {{ url: /login, method: POST, json: {{ user: u1, password: p }} }}
        expect: {{ status: 200 }}
        capture: {{ token: {{ json: "$.token" }} }}
      - name: list
        request: {{ url: /items, headers: {{ authorization: "Bearer ${{token}}" }} }}
        expect: {{ status: 200 }}
      - name: item
        request: {{ url: /items/3, headers: {{ authorization: "Bearer ${{token}}" }} }}
        expect: {{ status: 200 }}
    duration: {duration}
    models: [async]
    concurrency: 4
"""


def serve_in_child(port_file):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    server.daemon_threads = True
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


def start_server(tmp):
    port_file = Path(tmp) / "port"
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file)])
    for _ in range(100):
        if port_file.exists() and port_file.read_text():
            return proc, int(port_file.read_text())
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("the API server did not start")


def set_factor(port, f):
    import urllib.request
    req = urllib.request.Request(f"http://127.0.0.1:{port}/_factor?f={f}", data=b"", method="POST")
    urllib.request.urlopen(req, timeout=5).read()


class Busy:
    """Busy loops on both cores, started and stopped by pid."""

    def __init__(self, on):
        self.on = on
        self.procs = []

    def __enter__(self):
        if self.on:
            self.procs = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(2)]
            time.sleep(0.3)
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
            p.wait()


def run(args, plan, out, baseline=None, rounds=1):
    cmd = [args.loadplan, "run", str(plan), "--out", str(out), "--quiet", "--rounds", str(rounds)]
    if baseline is not None:
        cmd += ["--baseline", str(baseline)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    summaries = sorted(Path(out).glob("*/*/summary.json"), key=lambda p: p.stat().st_mtime)
    outcomes = {}
    other = None
    if summaries:
        s = json.loads(summaries[-1].read_text())
        for c in (s.get("baseline") or {}).get("checks", []):
            outcomes[c["outcome"]] = outcomes.get(c["outcome"], 0) + 1
        cells = [c for sc in s["scenarios"] for c in sc["cells"]]
        if cells:
            other = (cells[0].get("machine") or {}).get("other_cores")
        regressed = [c["metric"] for c in (s.get("baseline") or {}).get("checks", [])
                     if c["outcome"] == "regressed"]
        p50 = [c for c in (s.get("baseline") or {}).get("checks", []) if c["metric"] == "p50"]
        if p50 and p50[0].get("change") is not None:
            detect = p50[0].get("detectable_change")
            detect = "-" if detect is None else f"{detect * 100:+.0f}%"
            outcomes["p50 " + f"{p50[0]['change'] * 100:+.1f}% (detects {detect})"] = 1
    else:
        regressed = []
    if r.returncode not in (0, 1):
        print(r.stderr.strip()[-400:], file=sys.stderr)
    return r.returncode, outcomes, other, regressed


def line(name, i, busy, res):
    code, outcomes, other, regressed = res
    shown = ", ".join(f"{v} {k}" if not k.startswith("p50 ") else k for k, v in sorted(outcomes.items()))
    other = "-" if other is None else f"{other:.2f}"
    extra = f" regressed: {', '.join(regressed)}" if regressed else ""
    print(f"{name:8} #{i:<2} busy={'yes' if busy else 'no ':3} other_cores={other:5} exit {code}  {shown}{extra}",
          flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--loadplan", default="target/release/loadplan")
    ap.add_argument("--only", default="history,rounds,slow150,slow125")
    ap.add_argument("--reruns", type=int, default=20)
    ap.add_argument("--duration", default="3s")
    ap.add_argument("--round-duration", default="2s")
    args = ap.parse_args()
    if args.serve:
        return serve_in_child(args.serve)
    args.loadplan = str(Path(args.loadplan).resolve())
    only = set(args.only.split(","))
    results = []
    with tempfile.TemporaryDirectory(prefix="gate-noise-") as tmp:
        tmp = Path(tmp)
        server, port = start_server(tmp)
        try:
            plan = tmp / "plan.yaml"
            plan.write_text(PLAN.format(port=port, duration=args.duration))
            plan_rounds = tmp / "plan-rounds.yaml"
            plan_rounds.write_text(PLAN.format(port=port, duration=args.round_duration))
            history = tmp / "history"
            if only & {"history", "slow150"}:
                for i in range(5):
                    res = run(args, plan, history)
                    line("baseline", i, False, res)
            if "history" in only:
                codes = []
                for i in range(args.reruns):
                    busy = i % 2 == 1
                    with Busy(busy):
                        # As in the CI examples: every run that passed joins the history, and
                        # the reference is always the plan's 5 newest passing runs.
                        res = run(args, plan, history, baseline=history)
                    line("history", i, busy, res)
                    codes.append((busy, res))
                results.append(("history: identical reruns, 5-run history, single round",
                                codes, lambda r: r[0] == 1 or r[1].get("regressed", 0) > 0, "false regressed"))
            if "rounds" in only:
                base = tmp / "base3"
                res = run(args, plan_rounds, base, rounds=3)
                line("base3", 0, False, res)
                summary = next(base.glob("*/*/summary.json"))
                codes = []
                for i in range(10):
                    res = run(args, plan_rounds, tmp / f"r{i}", baseline=summary, rounds=3)
                    line("rounds", i, False, res)
                    codes.append((False, res))
                results.append(("rounds: identical reruns, one baseline, rounds 3 both sides",
                                codes, lambda r: r[0] == 1 or r[1].get("regressed", 0) > 0, "false regressed"))
            if "slow150" in only:
                set_factor(port, 1.5)
                codes = []
                for i in range(10):
                    res = run(args, plan, tmp / f"s{i}", baseline=history)
                    line("slow150", i, False, res)
                    codes.append((False, res))
                set_factor(port, 1.0)
                results.append(("slow150: target 1.5x slower, 5-run history, single round",
                                codes, lambda r: r[0] == 1, "caught (exit 1)"))
            if "slow125" in only:
                base = tmp / "base5"
                res = run(args, plan_rounds, base, rounds=5)
                line("base5", 0, False, res)
                summary = next(base.glob("*/*/summary.json"))
                set_factor(port, 1.25)
                codes = []
                for i in range(5):
                    res = run(args, plan_rounds, tmp / f"q{i}", baseline=summary, rounds=5)
                    line("slow125", i, False, res)
                    codes.append((False, res))
                set_factor(port, 1.0)
                results.append(("slow125: target 1.25x slower, one baseline, rounds 5 both sides",
                                codes, lambda r: r[0] == 1, "caught (exit 1)"))
        finally:
            server.kill()
            server.wait()
    print()
    print("| experiment | runs | counted | result |")
    print("|---|---|---|---|")
    for name, codes, hit, what in results:
        n = sum(1 for _, r in codes if hit(r))
        busy = sum(1 for b, _ in codes if b)
        extra = f" ({busy} with busy loops on both cores)" if busy else ""
        print(f"| {name} | {len(codes)}{extra} | {what} | {n} of {len(codes)} |")


if __name__ == "__main__":
    main()
