#!/usr/bin/env python3
"""Where the CPU per request goes as connections grow, when the instructions do not: cache misses.

Runs loadplan (`async` with one runtime thread, or `--model threads`) against the harness's nginx at each connection count,
under `valgrind --tool=cachegrind --cache-sim=yes`, twice per count with a short and a long repeat count, and prints per request (long minus
short, so that start-up and the report cancel): instructions, first-level data misses and
last-level misses. A last-level miss costs about a hundred cycles against an instruction's one,
so a count of them that grows with connections is where a per-request cost that grows with them
while the instructions stay put goes. The last level simulated is one core's L2 (`--ll`, 2 MiB by
default): this VM reports a 480 MiB L3 shared with whatever else runs on the host, which
cachegrind would otherwise take at its word.

    python3 bench/cachesim.py --loadplan target/dist/loadplan [--connections 64,1000]

With `--functions N` it also attributes them: both runs keep their cachegrind files, `cg_diff`
subtracts the short from the long, and the N functions with the most last-level misses per
request are printed with their instructions and first-level misses per request (a build with
line tables or symbols names them; `dist` keeps line tables, `release` only symbols).
"""

import argparse
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Nginx, on_signal, require, stop_all  # noqa: E402

PLAN = """version: 1
name: cachesim
base: {base}
scenarios:
  - name: scale
    targets: [/file]
    repeat: {repeat}
    concurrency: {connections}
    models: [{model}]
    thresholds: ["error_rate < 100%"]
"""

EVENTS = {"I": r"I\s+refs:\s+([\d,]+)", "D1": r"D1\s+misses:\s+([\d,]+)", "LL": r"LL misses:\s+([\d,]+)"}


def cachegrind(
    loadplan: str, ll: str, model: str, work: Path, base: str, connections: int, repeat: int,
    out: str = "/dev/null",
) -> dict:
    plan = work / f"c{connections}-r{repeat}.yaml"
    plan.write_text(PLAN.format(base=base, repeat=repeat, connections=connections, model=model))
    p = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=yes", f"--LL={ll}",
         f"--cachegrind-out-file={out}",
         loadplan, "run", str(plan), "--out", str(work / "out"), "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=900,
    )
    found = {}
    for name, pattern in EVENTS.items():
        m = re.search(pattern, p.stderr)
        if not m:
            sys.exit(f"cachesim: no {name} total (exit {p.returncode}): {p.stderr[-400:]}")
        found[name] = int(m.group(1).replace(",", ""))
    return found


ROW = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?([\d,]+)\s+(?:\([^)]*\)\s+)?([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*)$")


def functions(short: Path, long: Path, n_requests: int, top: int) -> list:
    """The `top` functions by last-level data misses per request, long run minus short run:
    (function, instructions, D1 misses, LL misses), each per request."""
    diff = short.with_suffix(".diff")
    subprocess.run(["cg_diff", str(short), str(long)], stdout=diff.open("w"), check=True)
    p = subprocess.run(
        ["cg_annotate", "--show=Ir,D1mr,DLmr", "--sort=DLmr", "--threshold=0", "--auto=no",
         "--show-percs=no", str(diff)],
        capture_output=True, text=True, check=True,
    )
    rows = []
    for line in p.stdout.splitlines():
        m = ROW.match(line)
        if not m or "PROGRAM TOTALS" in line or ":" not in m.group(4):
            continue
        ir, d1, ll = (int(m.group(i).replace(",", "")) for i in (1, 2, 3))
        rows.append((m.group(4).strip(), ir / n_requests, d1 / n_requests, ll / n_requests))
    rows.sort(key=lambda r: -r[3])
    return rows[:top]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--loadplan", default="target/dist/loadplan")
    ap.add_argument("--connections", default="64,1000")
    ap.add_argument("--model", default="async", help="async (one runtime thread) or threads")
    ap.add_argument("--ll", default="2097152,16,64", help="last-level cache: size,ways,line")
    ap.add_argument("--short", type=int, default=20_000, help="requests of the short run")
    ap.add_argument("--long", type=int, default=60_000, help="requests of the long run")
    ap.add_argument("--functions", type=int, default=0,
                    help="also list this many functions with the most last-level misses")
    args = ap.parse_args()
    require("valgrind")
    # Stopped early, it still stops its nginx.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    nginx = Nginx(require("nginx"), tls=False)
    work = Path(tempfile.mkdtemp(prefix="loadplan-cachesim-"))
    try:
        print(f"per request, ({args.long:,} − {args.short:,} requests), {args.model}, cachegrind, LL {args.ll}")
        print(f"{'connections':>11} {'instructions':>13} {'D1 misses':>10} {'LL misses':>10}")
        for c in (int(x) for x in args.connections.split(",")):
            files = [work / f"c{c}-{r}.cg" for r in ("short", "long")]
            outs = [str(f) if args.functions else "/dev/null" for f in files]
            short = cachegrind(args.loadplan, args.ll, args.model, work, nginx.base, c, args.short, outs[0])
            long = cachegrind(args.loadplan, args.ll, args.model, work, nginx.base, c, args.long, outs[1])
            n = args.long - args.short
            per = {k: (long[k] - short[k]) / n for k in EVENTS}
            print(f"{c:>11} {per['I']:>13,.0f} {per['D1']:>10.1f} {per['LL']:>10.2f}")
            if args.functions:
                for name, ir, d1, ll in functions(files[0], files[1], n, args.functions):
                    print(f"{'':>11} {ir:>13,.0f} {d1:>10.1f} {ll:>10.2f}  {name}")
    finally:
        nginx.stop()
        stop_all()


if __name__ == "__main__":
    main()
