"""Exact oracle for 1-D and rank-one data (Lemma 6; Cor 5, 6 of the paper).

With data on a line, ``X = 1 m^T + t a^T`` (bias) or ``X = t a^T`` (no bias), ``a`` unit,
``g(u, b) = v^T (X u + b 1)_+ = v^T (s t + b' 1)_+`` with ``s = a^T u`` in [-1, 1] and
``b' = b + m^T u``. ``g`` is positively homogeneous in ``(s, b')`` and zero at ``s = 0``
(``1^T v = 0``), so its extrema are at ``s = +-1``, i.e. ``u = +-a``; for each sign the best
``b'`` is a kink ``-s t_j`` (Lemma 6: optimal kinks at data points). Sorting ``t`` and prefix
sums give all ``2n`` kink values exactly: O(n log n). Without bias only ``b = 0`` exists.
Data only approximately on a line get the residual added to the bound (still sound).
"""

from __future__ import annotations

import numpy as np

from ..problem import Problem
from ._common import (
    Reduction,
    check_dual_vector,
    finalize,
    kink_margin,
    kink_values,
    reduce_data,
    residual_slack,
    scale_invariant,
    sorted_kink_values,
    top_indices,
)
from .base import Oracle, OracleResult


class Exact1D(Oracle):
    """Exact dual-constraint check for data on a line (1-D inputs, rank-one X)."""

    name = "exact_1d"
    sound = True

    def supports(self, problem: Problem) -> str | None:
        r = reduce_data(problem).rank
        if r > 1:
            kind = "affine" if problem.bias else "linear"
            return f"exact_1d needs data on a line ({kind} rank <= 1), got {kind} rank {r}"
        return None

    @scale_invariant
    def __call__(
        self, problem: Problem, v: np.ndarray, *, n_candidates: int = 8, **options
    ) -> OracleResult:
        """Exact maximizers and minimizers of ``v^T (Xu + b1)_+`` over unit ``u`` and ``b``.

        Options other than ``n_candidates`` (e.g. ``seeds``, ``time_limit``) are accepted
        and ignored: the oracle is exact and O(n log n).
        """
        v = check_dual_vector(problem, v)
        red = reduce_data(problem)
        if red.rank > 1:
            raise ValueError(self.supports(problem))
        return line_oracle(problem, v, red, n_candidates)


def line_oracle(problem: Problem, v: np.ndarray, red: Reduction, n_candidates: int) -> OracleResult:
    """The exact kink sweep along the line of ``red`` (rank <= 1)."""
    d = problem.n_features
    if red.rank == 0:  # all points equal (bias) or X = 0: g = 0 up to the residual
        U = np.eye(d, 1)
        return finalize(problem, v, U, None, residual_slack(red, v), True, n_candidates)
    t = red.T[:, 0]
    a = red.B[:, 0]
    Z = np.column_stack([t, -t])  # s = +1, s = -1
    if problem.bias:  # one sort serves both orientations (decreasing -t = increasing t)
        order = np.argsort(t)[::-1]
        orders = np.stack([order, order[::-1]])
        Zs = np.stack([t[order], -t[order[::-1]]])
        vals, Zs = sorted_kink_values(Zs, v[orders])
        vals, biases = vals.T, -Zs.T
    else:
        vals, biases = kink_values(Z, v, False)
    upper = float(np.max(np.abs(vals))) + kink_margin(Z, v) + residual_slack(red, v)
    q = max(int(n_candidates), 1)
    flat = vals.ravel()
    picks = top_indices(flat, q)
    if v.ndim == 1:
        picks = np.concatenate([picks, top_indices(-flat, q)])
    rows, cols = np.unravel_index(picks, vals.shape)
    s = np.where(cols == 0, 1.0, -1.0)
    U = a[:, None] * s
    b = biases[rows, cols] - red.m @ U if problem.bias else None
    exact = red.faithful
    return finalize(problem, v, U, b, upper, exact, n_candidates)
