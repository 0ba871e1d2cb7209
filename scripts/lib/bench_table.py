#!/usr/bin/env python3
"""Rewrites the README's benchmark table from the output of `cargo bench` (scripts/bench).

Every output line that states a goal becomes a row, under the benchmark that printed it; the
table goes between the markers `<!-- bench-table:start -->` and `<!-- bench-table:end -->`.
Usage: bench_table.py BENCH_OUTPUT README
"""
import re
import subprocess
import sys


def rows(text):
    bench = None
    for line in text.splitlines():
        m = re.search(r"Running benches/(\w+)\.rs", line)
        if m:
            bench = m.group(1)
            continue
        if bench and "goal" in line:
            yield bench, " ".join(line.split()).replace("|", "/")


def machine():
    try:
        cpu = next(
            l.split(":", 1)[1].strip()
            for l in open("/proc/cpuinfo")
            if l.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = "unknown CPU"
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return f"{cpu}, {cores} cores"


def main():
    out, readme = sys.argv[1], sys.argv[2]
    found = list(rows(open(out, encoding="utf-8").read()))
    if not found:
        sys.exit(f"{out}: no benchmark line with a goal (did the benchmarks run?)")
    table = [
        f"Measured by `scripts/bench` (release) on {machine()}; generated, not written by hand.",
        "",
        "| benchmark | result (goal and ratio as printed) |",
        "| --- | --- |",
    ] + [f"| `{b}` | {r} |" for b, r in found]
    text = open(readme, encoding="utf-8").read()
    start, end = "<!-- bench-table:start -->", "<!-- bench-table:end -->"
    if start not in text or end not in text:
        sys.exit(f"{readme}: the markers {start} and {end} are missing")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    new = head + start + "\n" + "\n".join(table) + "\n" + end + tail
    open(readme, "w", encoding="utf-8").write(new)


if __name__ == "__main__":
    main()
