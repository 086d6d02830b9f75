"""Run every ``benchmarks/bench_*.py`` and write one markdown report."""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover() -> list[str]:
    """Module names of the benchmark files, in alphabetical order."""
    return sorted(f"benchmarks.{p.stem}" for p in HERE.glob("bench_*.py"))


def header(quick: bool, threads: int | None, only: str | None = None) -> str:
    import numpy as np
    import torch

    import convexnn

    lines = [
        "# convexnn benchmarks",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- command: `python -m benchmarks{' --quick' if quick else ''}"
        f"{'' if threads is None else f' --threads {threads}'}"
        f"{'' if only is None else f' --only {only}'}`",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"load average {os.getloadavg()[0]:.1f} at start; torch threads "
        f"{torch.get_num_threads()}",
        f"- versions: convexnn {convexnn.__version__}, numpy {np.__version__}, "
        f"torch {torch.__version__}, python {platform.python_version()}",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small instances only (< 2 min)")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"), help="markdown file to write")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch and BLAS threads for every solver (default 1: Clarabel is single-threaded)",
    )
    parser.add_argument("--only", default=None, help="run only modules whose name contains this")
    args = parser.parse_args(argv)
    if args.threads is not None:  # this process only: BLAS pools read these at first use
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    sys.path.insert(0, str(HERE.parent))
    sections = [header(args.quick, args.threads, args.only)]
    for name in discover():
        if args.only and args.only not in name:
            continue
        start = time.perf_counter()
        module = importlib.import_module(name)
        try:
            text = module.run(args.quick)
        except Exception as exc:  # one broken benchmark must not hide the others
            text = f"## {name}\n\nFAILED: {type(exc).__name__}: {exc}\n"
        sections.append(text.rstrip() + f"\n\n_{name}: {time.perf_counter() - start:.0f} s_\n")
        print(sections[-1], flush=True)
    report = "\n".join(sections)
    Path(args.out).write_text(report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
