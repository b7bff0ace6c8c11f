#!/usr/bin/env python3
"""Checks that the standard Python HdrHistogram reader (`pip install hdrhistogram`, module `hdrh`)
decodes a run's histograms.hlog and agrees with its summary.json: for every cell, the intervals of
its tag add up to the same count, p50, p99 and max.

Usage: check_hlog.py RUN_DIR   (a folder holding summary.json and histograms.hlog)
"""
import json
import os
import sys

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader


def tag(scenario, cell):
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in scenario)
    return f"{safe}.{cell['model']}.c{cell['concurrency']}.w{cell['workers']}"


def main(run_dir):
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    reference = HdrHistogram(1, 3_600_000_000, 3)
    reader = HistogramLogReader(os.path.join(run_dir, "histograms.hlog"), reference)
    totals = {}
    intervals = 0
    while True:
        h = reader.get_next_interval_histogram()
        if h is None:
            break
        intervals += 1
        t = h.get_tag()
        if t not in totals:
            totals[t] = HdrHistogram(1, 3_600_000_000, 3)
        totals[t].add(h)
    reader.close()
    problems = []
    cells = 0
    for s in summary["scenarios"]:
        for c in s["cells"]:
            cells += 1
            name = tag(s["name"], c)
            h = totals.get(name)
            if h is None:
                problems.append(f"{name}: no intervals in histograms.hlog")
                continue
            lat = c["latency_us"]
            seen = {
                "count": h.get_total_count(),
                "p50": h.get_value_at_percentile(50),
                "p99": h.get_value_at_percentile(99),
                "max": h.get_max_value(),
            }
            for key, value in seen.items():
                if value != lat[key]:
                    problems.append(f"{name}: {key} is {value} in the hlog, {lat[key]} in summary.json")
            if seen["count"] != c["operations"]:
                problems.append(f"{name}: {seen['count']} values, {c['operations']} operations")
            print(f"{name}: count {seen['count']}, p50 {seen['p50']} us, p99 {seen['p99']} us, max {seen['max']} us")
    if cells == 0:
        problems.append("summary.json has no cells")
    for p in problems:
        print("MISMATCH", p)
    print(f"{intervals} intervals, {cells} cells, {len(problems)} mismatches")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
