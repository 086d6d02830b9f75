"""Cutting plane (the default solver) against Adam on the nonconvex network; 1-D scaling.

Issue 8, "Done when": on standardized diabetes (beta = 1, 10) and breast cancer (labels +-1 as
regression targets, beta = 1), squared loss, bias, the cutting-plane objective must be <= the
best of 12 Adam runs (width 100, full batch, 10,000 steps, lr in {1e-3, 3e-3, 1e-2, 3e-2} x 3
seeds, float64) and reached in less wall time than ONE Adam run. Every objective is evaluated
here by ``Problem.objective`` on the returned network, never taken from a solver's report.

The cutting plane runs with ``time_limit`` = the fastest single Adam run, and the time at which
its objective first went below the best Adam objective is read from its history. Both
methods use the same thread count (torch threads as set by ``python -m benchmarks``; numpy's
BLAS limited to the same number here).

1-D scaling: n points on a line with bias, certified to rel. gap 1e-6 by the exact 1-D
oracle, against the time numpy takes to sort them (the O(n log n) floor); target <= 40x.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

import convexnn as cnn
from convexnn import ConvergenceWarning
from convexnn.datasets import load_breast_cancer, load_diabetes

LRS = (1e-3, 3e-3, 1e-2, 3e-2)


def instances() -> list[tuple[str, cnn.Problem]]:
    Xd, yd = load_diabetes(standardize=True)
    Xb, yb = load_breast_cancer(standardize=True)
    return [
        ("diabetes, beta=1", cnn.Problem(Xd, yd, beta=1.0)),
        ("diabetes, beta=10", cnn.Problem(Xd, yd, beta=10.0)),
        ("breast cancer, beta=1", cnn.Problem(Xb, yb, beta=1.0)),
    ]


def adam_runs(prob: cnn.Problem, lrs, seeds, n_steps: int) -> list[tuple[float, int, float, float]]:
    """(lr, seed, objective, seconds) of each Adam run."""
    runs = []
    for lr in lrs:
        for seed in seeds:
            start = time.perf_counter()
            res = cnn.solve(
                prob,
                method="nonconvex",
                width=100,
                optimizer="adam",
                lr=lr,
                n_steps=n_steps,
                random_state=seed,
                log_every=100,
            )
            seconds = time.perf_counter() - start
            runs.append((lr, seed, prob.objective(res.network), seconds))
    return runs


def time_to_reach(res: cnn.Result, target: float) -> float:
    """Seconds at which the cutting plane's history first reached ``target`` (nan if never)."""
    for obj, t in zip(res.history["objective"], res.history["time"]):
        if obj <= target:
            return float(t)
    return float("nan")


def real_data_section(quick: bool) -> str:
    lrs, seeds, n_steps = ((1e-2, 3e-2), (0,), 10_000) if quick else (LRS, (0, 1, 2), 10_000)
    rows = [
        "| instance | Adam best objective (of runs) | Adam s/run (min / median) | "
        "cutting-plane objective | CP / Adam objective | CP time to beat Adam (s) | "
        "CP time / fastest Adam run | CP lower bound (rel. gap) | CP width |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, prob in instances():
        runs = adam_runs(prob, lrs, seeds, n_steps)
        best = min(r[2] for r in runs)
        times = [r[3] for r in runs]
        fastest = min(times)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            res = cnn.solve(prob, method="cutting_plane", time_limit=fastest, max_iter=10_000)
            wall = time.perf_counter() - start
        obj = prob.objective(res.network)
        reach = time_to_reach(res, best)
        rel = (obj - res.lower_bound) / obj
        rows.append(
            f"| {name} | {best:.6g} ({len(runs)}) | {fastest:.2f} / {np.median(times):.2f} | "
            f"{obj:.6g} | {obj / best:.4f} | {reach:.2f} | {reach / fastest:.3f} | "
            f"{res.lower_bound:.4g} ({rel:.3g}) | {res.network.width} |"
        )
        del wall
    note = (
        f"Adam: width 100, full batch, {n_steps} steps, float64, lr in {list(lrs)}, seeds "
        f"{list(seeds)}. Cutting plane: default options (oracle 'auto' = local search on "
        "these data, polishing on), time limit = the fastest Adam run. The lower bound is "
        "sound but loose here: no exact oracle exists for d = 10 or 30 (checking the dual "
        "constraint is NP-hard, Remark 3), so the gap is not closed."
    )
    return "\n".join(rows) + "\n\n" + note


def one_d_problem(n: int, seed: int = 0) -> cnn.Problem:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, n)
    y = np.sin(2 * x) + 0.3 * rng.standard_normal(n)
    return cnn.Problem(x[:, None], y, beta=0.01 * n)


def one_d_section(quick: bool) -> str:
    sizes = (10_000, 100_000) if quick else (10_000, 100_000, 1_000_000)
    runs = [(loss, n) for loss in ("squared", "hinge") for n in sizes]
    rows = [
        "| loss | n | sort (s) | cutting plane (s) | ratio | iterations | width | rel. gap "
        "| certified |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for loss, n in runs:
        prob = one_d_problem(n)
        if loss == "hinge":  # labels: the sign of the same noisy targets
            prob = cnn.Problem(prob.X, np.where(prob.y > 0, 1.0, -1.0), prob.beta, loss="hinge")
        x = prob.X[:, 0].copy()
        sort = min(_timed(lambda x=x: np.sort(x)) for _ in range(7))  # noisy on a busy box
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            res = cnn.solve(prob, method="cutting_plane", tol=1e-6, max_iter=500)
            seconds = time.perf_counter() - start
        rows.append(
            f"| {loss} | {n:,} | {sort:.4f} | {seconds:.2f} | {seconds / sort:.0f}x | "
            f"{res.n_iter} | {res.network.width} | {res.relative_gap:.2g} | {res.certified} |"
        )
    note = (
        "1-D data x ~ U(-3, 3), y = sin(2x) + 0.3 noise, beta = 0.01 n, bias, squared loss, "
        "oracle 'exact_1d' (one kink per bump of the value profile, both orientations from "
        "one prefix-sum pass; sort and data reduction cached per problem), warm-started from "
        "the solution on a 10% subsample (recursively; coarse='auto' from n = 50,000). The "
        "Lasso master never forms the (n, p) features: its Gram matrix, correlations, H w "
        "and H^T v come from sums over the segments of the sorted data cut at the neurons' "
        "kinks (solvers/line_gram.py), O(n) per iteration; the final objective is evaluated "
        "on the network itself, in row blocks. Sort time: best of 7. Target (issue 8): "
        "n = 10^6 certified in <= 40x the sort time. History at n = 10^6 (quiet box): 169 s "
        "(1142x) at first; 1.3-2.0 s (~37x) with dense features and Gram updates; now "
        "0.6-0.8 s (12-15x). Each full-size iteration is a few O(n) passes: oracle ~40 ms "
        "(a random-access gather of v, two prefix sums, the candidates' packaging), master "
        "~25 ms, dual bound ~17 ms; plus one argsort (~1.7x the sort) per problem.\n\n"
        "Hinge rows: labels sign(y), same beta. The l1-SVM master is an LP, written in the "
        "segment sums of the sorted data (solvers/line_svm.py) with one dual variable per "
        "block of samples (inside a segment, one label, margins on one side of 1 at the warm "
        "start, cut by the binary magnitude of 1 - y f): exact once no block's margins "
        "straddle 1, else the straddling blocks are split and the LP re-solved; LPs of a few "
        "hundred columns and O(n) work per round, whatever n. Zero-weight neurons binding in "
        "its dual stay in the dictionary (pruning them made the dual vertex cycle). History: "
        "dense LP (n rows; 0.43 s per LP at n = 5,000, 6.4 s at 20,000) with pruning: "
        "n = 10^4 in 144 s (97 iterations, gap not closed); segment LP over all samples: "
        "0.8 s at 10^4, 43 s at 10^5 (HiGHS's simplex slows down superlinearly with the "
        "number of boxed columns: minutes per LP at 10^6); blocks: 0.2 s at 10^4, 0.7 s at "
        "10^5, ~2 s at 10^6 (~40x the sort)."
    )
    return "\n".join(rows) + "\n\n" + note


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(quick: bool) -> str:
    """The markdown section for ``python -m benchmarks``."""
    import torch
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=torch.get_num_threads(), user_api="blas"):
        parts = [
            "## Cutting plane vs Adam (issue 8)",
            "",
            real_data_section(quick),
            "",
            "### 1-D scaling: certified global optimum vs sorting",
            "",
            one_d_section(quick),
        ]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    print(run(quick=True))
