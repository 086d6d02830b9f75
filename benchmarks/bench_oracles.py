"""Oracles: speed of the exact 1-D oracle against numpy's sort, and the heuristic oracle's
speed, quality and bound on real data.

1. ``exact_1d`` on n = 10^6 (10^5 with --quick) points: the O(n log n) kink sweep (both
   orientations, prefix sums, candidate evaluation) timed against ``np.sort`` of the same data,
   the floor for any exact method (issue 8 asks for at most 40x).
2. ``local_search`` on standardized diabetes (442 x 10) and breast cancer (569 x 30), squared
   loss with bias, at the dual vector of the least-squares fit (the residual that the cutting
   plane meets after its linear neuron): per-call time, best value found, the best value of a
   25x longer search (the reference), and the sound upper bounds ('fast' and 'tight') over the
   reference value (1 = exact; the certificate's lower bound degrades with this ratio).

Times are medians of 3 runs, wall clock, on one thread.
"""

from __future__ import annotations

import time

import numpy as np

import convexnn as cnn
from convexnn.datasets import load_breast_cancer, load_diabetes
from convexnn.oracles import Exact1D, LocalSearch


def _median_time(fn, repeats: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def exact_1d_rows(quick: bool) -> list[str]:
    rng = np.random.default_rng(0)
    rows = []
    for n in (10**5,) if quick else (10**5, 10**6):
        x = rng.standard_normal(n)
        y = np.sin(3 * x) + 0.1 * rng.standard_normal(n)
        prob = cnn.Problem(x[:, None], y, beta=1.0, bias=True)
        v = y - y.mean()
        t_sort, _ = _median_time(lambda x=x: np.sort(x))
        t_orc, res = _median_time(lambda prob=prob, v=v: Exact1D()(prob, v))
        rel = (res.upper_bound - res.best) / res.best
        rows.append(
            f"| {n:,} | {t_sort * 1e3:.1f} | {t_orc * 1e3:.1f} | {t_orc / t_sort:.1f} | "
            f"{res.exact} | {rel:.1e} |"
        )
    return rows


def local_search_rows(quick: bool) -> list[str]:
    rows = []
    for name, loader in (("diabetes", load_diabetes), ("breast cancer", load_breast_cancer)):
        X, y = loader()
        prob = cnn.Problem(X, y, beta=1.0, bias=True)
        A = np.hstack([X, np.ones((len(X), 1))])
        v = y - A @ np.linalg.lstsq(A, y, rcond=None)[0]
        v -= v.mean()
        oracle = LocalSearch()
        t_call, res = _median_time(lambda prob=prob, v=v, o=oracle: o(prob, v, bound="none"))
        t_fast, fast = _median_time(lambda prob=prob, v=v, o=oracle: o(prob, v, bound="fast"))
        t_tight, tight = _median_time(
            lambda prob=prob, v=v, o=oracle: o(prob, v, bound="tight"), repeats=1
        )
        heavy = LocalSearch(n_starts=50 if quick else 400, n_iter=60)(prob, v, bound="none")
        ref = max(heavy.best, res.best, tight.best)
        rows.append(
            f"| {name} | {t_call * 1e3:.0f} | {res.best:.4f} | {ref:.4f} | "
            f"{res.best / ref:.4f} | {fast.upper_bound / ref:.1f} ({(t_fast - t_call) * 1e3:.0f}"
            f" ms) | {tight.upper_bound / ref:.1f} ({(t_tight - t_call) * 1e3:.0f} ms) |"
        )
    return rows


def run(quick: bool) -> str:
    lines = [
        "## Oracles",
        "",
        __doc__.strip().split("\n\n", 1)[1],
        "",
        "### exact_1d against sorting",
        "",
        "| n | np.sort (ms) | exact_1d (ms) | ratio | exact | (bound - best) / best |",
        "|---:|---:|---:|---:|:---:|---:|",
        *exact_1d_rows(quick),
        "",
        "### local_search on real data (dual vector of the least-squares fit)",
        "",
        "| data | time/call (ms) | best found | reference | found / ref | fast bound / ref "
        "(extra time) | tight bound / ref (extra time) |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *local_search_rows(quick),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run(quick=True))
