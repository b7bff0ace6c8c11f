#!/usr/bin/env python3
"""Where a `threads` user's memory goes: `/proc/PID/smaps` of a loadplan run sampled in the
middle of its cell, resident memory summed by kind (thread stacks, malloc's arenas, the main heap,
the binary and libraries), per user.

    python3 bench/thread_memory.py --loadplan target/dist/loadplan [--users 1000,4000] [--seconds 8]

Runs bench/http.yaml's `threads-64` scenario with its concurrency set to each count against the
bench's own nginx on 127.0.0.1 (stopped by its pid at the end). Thread stacks are recognised by
their size (loadplan's user threads ask for 256 KiB), malloc's arenas as the anonymous mappings of
1 to 70 MiB (each arena's heap is a 64 MiB reservation whose used part is a mapping of its own).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Nginx, plan_text, require  # noqa: E402

STACK_KB = 256


def kinds(pid: int) -> tuple[str, dict[str, int]]:
    text = Path(f"/proc/{pid}/smaps").read_text()
    threads = next(l.split()[1] for l in Path(f"/proc/{pid}/status").read_text().splitlines()
                   if l.startswith("Threads:"))
    out, kind = defaultdict(int), None
    for line in text.splitlines():
        m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$", line)
        if m:
            size_kb = (int(m.group(2), 16) - int(m.group(1), 16)) // 1024
            name = m.group(3)
            if name == "[heap]":
                kind = "main heap"
            elif name:
                kind = "files and the rest"
            elif size_kb == STACK_KB:
                kind = "thread stacks"
            elif 1024 <= size_kb < 70 * 1024:
                kind = "malloc arenas"
            else:
                kind = "other anonymous"
        elif line.startswith("Rss:") and kind:
            out[kind] += int(line.split()[1])
    return threads, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loadplan", default="target/dist/loadplan")
    ap.add_argument("--users", default="1000,4000")
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args()
    nginx = Nginx(require("nginx"), tls=False)
    d = Path(tempfile.mkdtemp(prefix="thread-memory-"))
    try:
        print("| users | threads when sampled | kind | resident KB | KB per user |")
        print("|---|---|---|---|---|")
        for n in [int(x) for x in args.users.split(",")]:
            plan = d / f"threads-{n}.yaml"
            plan.write_text(plan_text("http.yaml", f"{args.seconds:g}s", n))
            p = subprocess.Popen([args.loadplan, "run", str(plan), "--only", "threads-64", "--out",
                                  str(d / f"out-{n}"), "--quiet"],
                                 env=dict(os.environ, LOADPLAN_BENCH_BASE=nginx.base),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                time.sleep(args.seconds / 2)
                threads, rss = kinds(p.pid)
            finally:
                p.wait(timeout=args.seconds + 60)
            for kind, kb in sorted(rss.items(), key=lambda kv: -kv[1]):
                print(f"| {n} | {threads} | {kind} | {kb} | {kb / n:.1f} |")
    finally:
        nginx.stop()


if __name__ == "__main__":
    main()
