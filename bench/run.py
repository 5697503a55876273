"""The benchmarks of issue 4 (``make bench``): time to divert and mass diversion.

    .venv/bin/python bench/run.py [--only ttd|mass] [--runs 20]
                                  [--sizes 1000,10000,50000] [--mass-runs 3]

Builds bench/containerlab.yml as namespaces (lab ``bench`` unless ``--lab``),
runs the benchmarks, prints their tables and the command that produced them, and
removes the lab again, also on failure or Ctrl-C. Needs root and FRR, like the lab.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ modules
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # the orchestrator package

import benchlab
import mass
import ttd


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list") from None
    if not sizes or any(not 0 < s <= mass.MAX_SIZE for s in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be between 1 and {mass.MAX_SIZE}")
    return sizes


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--only", choices=("ttd", "mass"), help="run one benchmark (default: both)")
    p.add_argument("--runs", type=int, default=20, help="time-to-divert runs (default 20)")
    p.add_argument(
        "--cli",
        choices=("script", "module"),
        default="script",
        help="CLI for time to divert: .venv/bin/scrubctl or python -m orchestrator",
    )
    p.add_argument(
        "--sizes",
        type=_sizes,
        default=[1000, 10000, 50000],
        help="mass diversion sizes (default 1000,10000,50000)",
    )
    p.add_argument(
        "--mass-runs",
        type=int,
        default=3,
        help="measurements per size and side, median reported (default 3)",
    )
    p.add_argument("--lab", default=benchlab.LAB_NAME, help="lab name (namespaces clab-LAB-*)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    command = shlex.join([sys.executable, *sys.argv] if argv is None else ["bench/run.py", *argv])
    began = time.monotonic()
    print(f"command: {command}")
    print(f"machine: {benchlab.machine_note()}")
    outputs: list[str] = []
    try:
        with benchlab.bench_lab(args.lab) as lab:
            if args.only in (None, "ttd"):
                outputs.append(ttd.run(lab, args.runs, args.cli))
                print("\n" + outputs[-1] + "\n", flush=True)
            if args.only in (None, "mass"):
                outputs.append(mass.run(lab, args.sizes, args.mass_runs))
                print("\n" + outputs[-1] + "\n", flush=True)
    except benchlab.BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    print("=" * 72)
    print(f"command: {command}")
    print(f"machine after: {benchlab.machine_note()}; {time.monotonic() - began:.0f} s in all")
    for text in outputs:
        print("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
