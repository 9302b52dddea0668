#!/usr/bin/env python3
"""Usage: cargo bench --bench alloc && python3 benches/ratios.py

Reads criterion's saved results of benches/alloc.rs (every `new/estimates.json` below
`<target>/criterion`, i.e. `target/criterion/<group>/<allocator>/<case>/new/estimates.json`)
and prints a Markdown table with one row per benchmark (group/case): the goheap, mimalloc and
System time per iteration, and the goheap/mimalloc and goheap/System ratios (< 1.0 means
goheap is faster), followed by the geometric mean of each ratio column.

The criterion directory is, as criterion itself picks it: $CRITERION_HOME, else
$CARGO_TARGET_DIR/criterion, else target/criterion of this workspace; or the directory given
as the first argument. The time used is criterion's "typical" estimate (the one it prints):
the linear-regression slope when there is one, else the mean; `--estimate median` or
`--estimate mean` picks another. A time whose 95% confidence interval is wide is marked `~`.
Python 3 standard library only.
"""

import argparse
import json
import math
import os
import sys
from pathlib import Path

ALLOCATORS = ("goheap", "mimalloc", "system")


def criterion_dir():
    if os.environ.get("CRITERION_HOME"):
        return Path(os.environ["CRITERION_HOME"])
    if os.environ.get("CARGO_TARGET_DIR"):
        return Path(os.environ["CARGO_TARGET_DIR"]) / "criterion"
    return Path(__file__).resolve().parent.parent / "target" / "criterion"


NOISY = 0.10  # flag a time whose 95% confidence interval reaches more than 10% from it


def pick(estimates, which):
    """Returns (point estimate in ns, whether its confidence interval is wide)."""
    if which == "typical":
        est = estimates.get("slope") or estimates["mean"]
    else:
        est = estimates[which]
    point = float(est["point_estimate"])
    ci = est["confidence_interval"]
    spread = max(point - float(ci["lower_bound"]), float(ci["upper_bound"]) - point)
    return point, point > 0 and spread / point > NOISY


def fmt_time(ns, noisy=False):
    if ns is None:
        return "—"
    mark = " ~" if noisy else ""
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}{mark}"
    return f"{ns:.3g} ns{mark}"


def fmt_ratio(r):
    return "—" if r is None else f"{r:.2f}"


def geomean(values):
    values = [v for v in values if v is not None and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def load(root, which):
    """Returns {(group, case): {allocator: ((time_ns, noisy), mtime)}}."""
    rows = {}
    for est_path in sorted(root.glob("**/new/estimates.json")):
        bench_path = est_path.with_name("benchmark.json")
        try:
            bench = json.loads(bench_path.read_text())
            estimates = json.loads(est_path.read_text())
        except (OSError, ValueError) as e:
            print(f"warning: skipping {est_path}: {e}", file=sys.stderr)
            continue
        alloc = (bench.get("function_id") or "").lower()
        if alloc not in ALLOCATORS:
            continue  # not one of ours (e.g. another bench's results in the same target dir)
        key = (bench["group_id"], bench.get("value_str") or "")
        rows.setdefault(key, {})[alloc] = (pick(estimates, which), est_path.stat().st_mtime)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?", type=Path, help="criterion output directory")
    ap.add_argument("--estimate", choices=("typical", "mean", "median", "slope"),
                    default="typical", help="which criterion estimate to compare")
    args = ap.parse_args()

    root = args.dir or criterion_dir()
    if not root.is_dir():
        sys.exit(f"no criterion results in {root}: run `cargo bench --bench alloc` first")
    try:
        rows = load(root, args.estimate)
    except (KeyError, TypeError) as e:
        sys.exit(f"estimate {args.estimate!r} not available in every result: {e}")
    if not rows:
        sys.exit(f"no goheap/mimalloc/system results under {root}")

    # Keep the order in which the benchmarks ran (oldest result first).
    order = sorted(rows, key=lambda k: min(m for _, m in rows[k].values()))

    print(f"Criterion results from `{root}` (estimate: {args.estimate}; time per iteration, "
          "ratio < 1 means goheap is faster)\n")
    print("| benchmark | goheap | mimalloc | System | goheap/mimalloc | goheap/System |")
    print("|---|---:|---:|---:|---:|---:|")
    vs_mi, vs_sys = [], []
    for key in order:
        t = {a: rows[key][a][0] if a in rows[key] else (None, False) for a in ALLOCATORS}
        (g, g_n), (mi, mi_n), (sy, sy_n) = t["goheap"], t["mimalloc"], t["system"]
        r_mi = g / mi if g is not None and mi else None
        r_sys = g / sy if g is not None and sy else None
        vs_mi.append(r_mi)
        vs_sys.append(r_sys)
        name = "/".join(p for p in key if p)
        print(f"| {name} | {fmt_time(g, g_n)} | {fmt_time(mi, mi_n)} | {fmt_time(sy, sy_n)} "
              f"| {fmt_ratio(r_mi)} | {fmt_ratio(r_sys)} |")
    gm_mi, gm_sys = geomean(vs_mi), geomean(vs_sys)
    print(f"| **geometric mean** | | | | **{fmt_ratio(gm_mi)}** | **{fmt_ratio(gm_sys)}** |")
    print()
    print(f"`~` marks a time whose 95% confidence interval reaches more than {NOISY:.0%} "
          "away from it (noisy: rerun that group before trusting its ratio).\n")
    n_mi = sum(r is not None for r in vs_mi)
    n_sys = sum(r is not None for r in vs_sys)
    print(f"Geometric mean of goheap/mimalloc over {n_mi} benchmarks: {fmt_ratio(gm_mi)}")
    print(f"Geometric mean of goheap/System over {n_sys} benchmarks: {fmt_ratio(gm_sys)}")


if __name__ == "__main__":
    main()
