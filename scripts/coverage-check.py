#!/usr/bin/env python3
"""Line coverage per crate from `cargo llvm-cov report --json --summary-only`, and the 90% rule.

Usage: cargo llvm-cov report --json --summary-only [...] | scripts/coverage-check.py [MIN]

Prints one line per crate (lines covered / lines, percent). Exits 1 when a library crate is under
MIN percent (default 90), or under its floor below while it is still being raised to MIN. The
binary (`native-cli/cli`) and the wasm facade (`wasm/`, exercised in headless Chromium, where
LLVM's counters do not run) are reported but not held to the minimum.
"""
import json
import os
import sys

LIBRARIES = [
    "core/base",
    "core/gbdt",
    "core/tune",
    "core/domain",
    "native-cli/mlflow",
    "native-cli/app",
    "native-cli/serve",
]
REPORTED = LIBRARIES + ["native-cli/cli", "wasm"]

# Crates not yet at MIN when last measured, each with the floor it must keep (a ratchet: raise it
# as tests land, remove it at MIN). Every library crate is at MIN now.
FLOORS = {}


def crate_of(path, root):
    rel = os.path.relpath(path, root)
    for c in sorted(REPORTED, key=len, reverse=True):
        if rel.startswith(c + "/src/"):
            return c
    return None


def main():
    minimum = float(sys.argv[1]) if len(sys.argv) > 1 else 90.0
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
    report = json.load(sys.stdin)
    totals = {c: [0, 0] for c in REPORTED}
    for f in report["data"][0]["files"]:
        c = crate_of(f["filename"], root)
        if c is None:
            continue
        lines = f["summary"]["lines"]
        totals[c][0] += lines["covered"]
        totals[c][1] += lines["count"]
    failed = []
    print(f"{'crate':<22} {'covered':>8} {'lines':>8} {'%':>7}")
    for c in REPORTED:
        covered, count = totals[c]
        pct = 100.0 * covered / count if count else 0.0
        held = c in LIBRARIES
        need = min(minimum, FLOORS.get(c, minimum))
        if not held:
            mark = ""
        elif pct >= minimum:
            mark = "  ok"
        elif pct >= need:
            mark = f"  under {minimum:.0f}% (floor {need:.0f}%)"
        else:
            mark = f"  UNDER its floor {need:.0f}%"
        print(f"{c:<22} {covered:>8} {count:>8} {pct:>6.1f}%{mark}")
        if held and pct < need:
            failed.append(c)
    if failed:
        print(f"coverage: {', '.join(failed)} under the required share of lines", file=sys.stderr)
        sys.exit(1)


main()
