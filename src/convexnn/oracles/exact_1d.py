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
    prefix_sum,
    reduce_data,
    residual_slack,
    scale_invariant,
    sorted_kink_values,
)
from ._line import sorted_line
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
    margin = kink_margin(t[:, None], v)
    if problem.bias and v.ndim == 1:
        vals, biases = _both_orientations(problem, t, v)
        margin *= 2  # the s = -1 values add one more prefix sum's rounding
    elif problem.bias:  # one sort serves both orientations (decreasing -t = increasing t)
        order = sorted_line(problem, t).order
        orders = np.stack([order, order[::-1]])
        Zs = np.stack([t[order], -t[order[::-1]]])
        vals, Zs = sorted_kink_values(Zs, v[orders])
        vals, biases = vals.T, -Zs.T
    else:
        vals, biases = kink_values(np.column_stack([t, -t]), v, False)  # s = +1, s = -1
    upper = float(np.max(np.abs(vals))) + margin + residual_slack(red, v)
    q = max(int(n_candidates), 1)
    signs = (1.0, -1.0) if v.ndim == 1 else (1.0,)
    picks = [
        (row, col)
        for col in range(vals.shape[1])
        for sign in signs
        for row in peak_rows(sign * vals[:, col], q)
    ]
    rows, cols = np.array(picks, dtype=int).reshape(-1, 2).T
    s = np.where(cols == 0, 1.0, -1.0)
    U = a[:, None] * s
    b = biases[rows, cols] - red.m @ U if problem.bias else None
    exact = red.faithful
    # the sweep's values are those of the data themselves when there is no residual
    swept = vals[rows, cols] if not np.any(red.resid) else None
    return finalize(problem, v, U, b, upper, exact, n_candidates, values=swept)


def _both_orientations(
    problem: Problem, t: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Kink values (n, 2) and biases for ``s = +1`` (column 0) and ``s = -1`` (column 1) at
    every data point, from ONE pass of prefix sums over the decreasing order.

    With ``t`` sorted decreasingly, ``P_k = sum_{i <= k} v_i (t_i - t_k)`` is the ``s = +1``
    value at the kink ``b' = -t_k``; since ``(z)_+ - (-z)_+ = z``, the ``s = -1`` value at
    ``b' = t_k`` is ``sum_i v_i (t_k - t_i) + P_k = P_k - v^T t + t_k 1^T v``.
    """
    line = sorted_line(problem, t)  # once per problem: later calls are O(n)
    ts, vs = line.t, line.gather(v)
    P = prefix_sum((vs * ts)[None])[0]
    C = prefix_sum(vs[None])[0]
    vals = np.empty((ts.size, 2))
    np.subtract(P, ts * C, out=vals[:, 0])
    np.add(vals[:, 0] - P[-1], ts * C[-1], out=vals[:, 1])
    biases = np.empty((ts.size, 2))
    np.negative(ts, out=biases[:, 0])
    biases[:, 1] = ts
    return vals, biases


def peak_rows(profile: np.ndarray, q: int) -> np.ndarray:
    """Up to ``q`` kinks of the 1-D value profile (kinks in order along the line), one per
    positive excursion (maximal run of kinks with a positive value): the argmax of each run,
    highest first. O(n). Without bias the profile has one entry.

    The top-q kinks of the profile sit side by side on one peak (neighbouring kinks of one
    violation); one kink per excursion gives the cutting plane one neuron per violated region.
    """
    top = int(np.argmax(profile))
    if profile.size < 3 or q == 1 or profile[top] <= 0:
        return np.array([top])
    positive = profile > 0
    edges = np.flatnonzero(np.diff(positive.astype(np.int8)))
    starts = np.concatenate([[0], edges + 1])
    starts = starts[positive[starts]]  # first kink of each positive run
    if starts.size <= 1:
        return np.array([top])
    peak_values = np.maximum.reduceat(np.where(positive, profile, -np.inf), starts)
    chosen = np.argsort(-peak_values, kind="stable")[:q]
    ends = np.append(starts[1:], profile.size)
    return np.array(
        [starts[r] + int(np.argmax(profile[starts[r] : ends[r]])) for r in chosen], dtype=int
    )
