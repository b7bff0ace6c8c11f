#!/usr/bin/env python3
"""Mutation run: `loadplan report` on randomly damaged copies of real saved results.

Makes N mutated copies of a real summary.json and N of a real shard results file (numbers swapped
for extremes such as 0, -1, 1e308, 2^63, 2^64-1, NaN-like strings, strings for numbers, empty
lists, dropped keys, truncated or altered histograms), runs `loadplan report` on each (a shard
together with its real sibling, as a merge) with a time limit, and fails on any panic (exit 101 or
"panicked" on stderr), hang, exit code outside {0, 1, 2} (130 only for a saved run marked
interrupted), or a refusal (exit 2) that still wrote files. Prints the count of each exit code.

    scripts/mutate_saved.py [-n 10000] [--loadplan target/debug/loadplan] [--jobs 2] [--keep DIR]

Python 3.11, standard library only. Inputs default to the committed fixtures in
tests/fixtures/saved (made from tests/fixtures/saved/plan.yaml); failing copies are kept in
--keep (default: a temporary folder, printed).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import copy
import json
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "saved"

EXTREMES = [0, -1, 1e308, -1e308, 2**63, 2**64 - 1, 2**64, -(2**63) - 1, 5e-324, 1]
NAN_LIKE = ["NaN", "Infinity", "-Infinity", "nan", ""]


def nodes(doc, path=()):
    """Every (path, value) of the document, containers included."""
    yield path, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from nodes(v, path + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from nodes(v, path + (i,))


def parent_of(doc, path):
    for step in path[:-1]:
        doc = doc[step]
    return doc


def damage(value, rng: random.Random):
    """A replacement for `value`: an extreme, a wrong type, an emptied or cut-short value."""
    if isinstance(value, str) and value and rng.random() < 0.5:
        chars = list(value)
        if rng.random() < 0.5:
            return value[: rng.randrange(len(value))]  # a truncated histogram or name
        chars[rng.randrange(len(chars))] = rng.choice("AZaz09+/=!")
        return "".join(chars)
    if isinstance(value, bool):
        return rng.choice([not value, 0, "true", None])
    if isinstance(value, (int, float)) and rng.random() < 0.3:
        return rng.choice([value + 1, value - 1, value * 10, -value, str(value)])
    return rng.choice(
        EXTREMES
        + NAN_LIKE
        + [[], {}, None, True, str(value), float("nan"), float("inf")]
    )


def mutate(doc, rng: random.Random) -> str:
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        every = list(nodes(doc))
        numbers = [(p, v) for p, v in every if p and isinstance(v, (int, float))]
        pool = numbers if numbers and rng.random() < 0.5 else [(p, v) for p, v in every if p]
        path, value = rng.choice(pool)
        parent = parent_of(doc, path)
        if isinstance(parent, dict) and rng.random() < 0.15:
            del parent[path[-1]]  # a dropped key
        elif isinstance(parent, list) and rng.random() < 0.1:
            del parent[path[-1]]  # a dropped element
        else:
            parent[path[-1]] = damage(value, rng)
    # allow_nan: a bare NaN or Infinity token is one of the damages (not JSON at all).
    return json.dumps(doc, indent=2, allow_nan=True, ensure_ascii=False)


def interrupted(text: str) -> bool:
    try:
        doc = json.loads(text)
    except ValueError:
        return False
    return isinstance(doc, dict) and (
        doc.get("verdict") == "interrupted" or doc.get("interrupted") is True
    )


def run_one(args, work: Path, kind: str, i: int, text: str, sibling: Path):
    case = work / f"{kind}-{i}"
    case.mkdir()
    file = case / "saved.json"
    file.write_text(text)
    out = case / "out"
    cmd = [str(args.loadplan), "report", str(file)]
    if kind == "shard":
        cmd.append(str(sibling))
    cmd += ["--out", str(out)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, cwd=case)
        code, stderr = p.returncode, p.stderr
    except subprocess.TimeoutExpired:
        code, stderr = "hang", ""
    wrote = out.exists() and any(out.rglob("*"))
    problem = None
    if code == "hang":
        problem = f"no exit within {args.timeout} s"
    elif code == 101 or "panicked" in stderr:
        problem = "panic: " + next(
            (l for l in stderr.splitlines() if "panicked" in l), stderr.strip()[:300]
        )
    elif code == 130 and not interrupted(text):
        problem = "exit 130 for a run not marked interrupted"
    elif code not in (0, 1, 2, 130):
        problem = f"exit {code}: {stderr.strip()[:300]}"
    elif code == 2 and wrote:
        problem = "refused (exit 2) but wrote files"
    if problem:
        keep = args.keep / f"{kind}-{i}.json"
        keep.write_text(text)
        problem = f"{keep}: {problem}"
    shutil.rmtree(case, ignore_errors=True)
    return kind, code, problem


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=200, help="mutated copies of each kind")
    ap.add_argument("--loadplan", type=Path, default=ROOT / "target" / "debug" / "loadplan")
    ap.add_argument("--summary", type=Path, default=FIXTURES / "summary.json")
    ap.add_argument("--shard", type=Path, default=FIXTURES / "shard-1-of-2.json")
    ap.add_argument("--sibling", type=Path, default=FIXTURES / "shard-2-of-2.json")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per run")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--keep", type=Path, help="folder for the copies that failed")
    args = ap.parse_args()
    if not args.loadplan.is_file():
        print(f"error: {args.loadplan}: no such binary (cargo build first)", file=sys.stderr)
        return 2
    args.keep = args.keep or Path(tempfile.mkdtemp(prefix="loadplan-mutated-"))
    args.keep.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    templates = {
        "summary": json.loads(args.summary.read_text()),
        "shard": json.loads(args.shard.read_text()),
    }
    counts = collections.Counter()
    problems = []
    with tempfile.TemporaryDirectory(prefix="loadplan-mutate-") as tmp:
        work = Path(tmp)
        tasks = ((kind, i) for kind in templates for i in range(args.n))
        total, done = args.n * len(templates), 0
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            # Copies are made as runs finish, a few ahead: memory stays flat for any -n.
            running = set()
            while True:
                for kind, i in tasks:
                    text = mutate(templates[kind], rng)
                    running.add(pool.submit(run_one, args, work, kind, i, text, args.sibling))
                    if len(running) >= args.jobs * 4:
                        break
                if not running:
                    break
                finished, running = concurrent.futures.wait(
                    running, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for job in finished:
                    kind, code, problem = job.result()
                    counts[(kind, code)] += 1
                    done += 1
                    if problem:
                        problems.append(problem)
                    if done % 1000 == 0:
                        print(f"  {done}/{total} runs", file=sys.stderr, flush=True)
    for kind in templates:
        per = {c: n for (k, c), n in sorted(counts.items(), key=str) if k == kind}
        print(f"{kind}: {args.n} mutated copies, exit codes {per}")
    for p in problems[:50]:
        print(f"FAIL {p}")
    if problems:
        print(f"{len(problems)} failures; copies kept in {args.keep}")
        return 1
    print("no panic, no hang, no unexpected exit code")
    return 0


if __name__ == "__main__":
    sys.exit(main())
