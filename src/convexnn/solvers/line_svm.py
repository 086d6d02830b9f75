"""The l1-SVM master problem on 1-D inputs, as a sparse LP over the segments of the sorted data.

The hinge master (:mod:`convexnn.solvers.master`) over a neuron dictionary is the l1-SVM::

    min_{w, c}  sum_i max(0, 1 - y_i (h_i^T w + c)) + beta ||w||_1      (c = 0 without bias)

whose LP dual (Thm 8 restricted to the dictionary; NOTES §4) is::

    max  sum_i alpha_i   s.t.  0 <= alpha <= 1,  |sum_i alpha_i y_i h_ij| <= beta  (each j),
                               sum_i alpha_i y_i = 0  (bias),

with ``v = y * alpha`` the dual vector the oracle needs. Dense, this LP has ``n p`` nonzeros
(and the primal form an ``n``-row basis): 6 s per solve at n = 20,000.

With one input dimension the features are piecewise linear along the sorted data: the
dictionary's kinks cut it into S segments (:meth:`LineGram.pieces`), on each of which neuron
j is ``A_js d + B_js`` (``d`` the offset from the segment's first point). So
``h_j^T (y alpha) = sum_s A_js Z1_s + B_js Z0_s`` with the segment sums
``Z0_s = sum_{i in s} y_i alpha_i`` and ``Z1_s = sum_{i in s} y_i d_i alpha_i``. Adding the
2S free variables ``Z`` and their 2S defining equations gives the same LP with two nonzeros
per sample and ``O(p S)`` more: ``2S + p + 1`` rows instead of ``p + 1`` dense ones.
The multipliers of the neuron rows are the weights ``w`` and that of the bias row the
offset ``c``; the solution is then evaluated on the network itself (objective, dual gap).
"""

from __future__ import annotations

import time

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from ..problem import Problem
from .line_gram import LineGram

_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}


def segment_lp(problem: Problem, lg: LineGram) -> dict:
    """The dual-form LP of the l1-SVM over ``lg``'s neurons, in the segment variables, as
    ``linprog`` arguments (minimizing ``-sum alpha``). Variables: ``alpha`` (n, in the
    sorted order), ``Z0`` (S), ``Z1`` (S); equality rows: the 2S segment sums, then the bias
    row; inequality rows: ``+-(B Z0 + A Z1) <= beta`` (2p)."""
    start, d, A, B = lg.pieces()
    n, S, p = d.size, start.size, A.shape[0]
    ys = lg.line.gather(problem.y)
    seg = np.repeat(np.arange(S), np.diff(np.append(start, n)))
    rows = np.concatenate([seg, S + seg, np.arange(2 * S)])
    cols = np.concatenate([np.arange(n), np.arange(n), n + np.arange(2 * S)])
    vals = np.concatenate([-ys, -ys * d, np.ones(2 * S)])
    if problem.bias:
        rows = np.concatenate([rows, np.full(S, 2 * S)])
        cols = np.concatenate([cols, n + np.arange(S)])
        vals = np.concatenate([vals, np.ones(S)])
    n_eq = 2 * S + int(problem.bias)
    A_eq = sparse.csc_matrix((vals, (rows, cols)), shape=(n_eq, n + 2 * S))
    neuron = sparse.hstack(
        [sparse.csr_matrix((p, n)), sparse.csr_matrix(B), sparse.csr_matrix(A)], format="csr"
    )
    cost = np.concatenate([-np.ones(n), np.zeros(2 * S)])
    return {
        "c": cost,
        "A_ub": sparse.vstack([neuron, -neuron], format="csc") if p else None,
        "b_ub": np.full(2 * p, problem.beta) if p else None,
        "A_eq": A_eq,
        "b_eq": np.zeros(n_eq),
        "bounds": np.column_stack(
            [
                np.concatenate([np.zeros(n), np.full(2 * S, -np.inf)]),
                np.concatenate([np.ones(n), np.full(2 * S, np.inf)]),
            ]
        ),
    }


def l1_svm_line(
    problem: Problem, lg: LineGram, deadline: float | None = None
) -> tuple[np.ndarray | None, float | None, np.ndarray | None, int, int]:
    """Solve the l1-SVM over ``lg``'s neurons by HiGHS on :func:`segment_lp`.

    Returns ``(W, c, alpha, n_iter, status)``: weights (p,), offset (None without bias),
    LP multipliers ``alpha`` (n,) in the samples' own order, HiGHS's iteration count and
    ``linprog``'s status (0 solved, 1 time limit: W and alpha are then None).
    """
    options = dict(_OPTIONS)
    if deadline is not None:
        options["time_limit"] = max(deadline - time.perf_counter(), 0.0)
    lp = segment_lp(problem, lg)
    res = linprog(method="highs", options=options, **lp)
    if res.status == 1:
        return None, None, None, int(getattr(res, "nit", 0)), 1
    if res.status != 0:
        raise RuntimeError(f"The 1-D l1-SVM master problem failed in HiGHS: {res.message}")
    p = lg.p
    marg = res.ineqlin.marginals if p else np.zeros(0)
    # d(optimum)/d(beta) of the two sides: the upper side binds for w_j > 0, the lower for < 0
    W = marg[p:] - marg[:p] if p else np.zeros(0)
    c = -float(res.eqlin.marginals[-1]) if problem.bias else None
    n = lg.line.size
    alpha = lg.line.scatter(np.clip(res.x[:n], 0.0, 1.0))
    return W, c, alpha, int(getattr(res, "nit", 0)), 0


__all__ = ["l1_svm_line", "segment_lp"]
