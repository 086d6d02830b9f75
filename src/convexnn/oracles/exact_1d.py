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
    residual_slack,
    scale_invariant,
    sorted_kink_values,
)
from ._line import reduction, sorted_line
from .base import Oracle, OracleResult


class Exact1D(Oracle):
    """Exact dual-constraint check for data on a line (1-D inputs, rank-one X)."""

    name = "exact_1d"
    sound = True

    def supports(self, problem: Problem) -> str | None:
        r = reduction(problem)[0].rank
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
        red, faithful = reduction(problem)
        if red.rank > 1:
            raise ValueError(self.supports(problem))
        return line_oracle(problem, v, red, n_candidates, faithful=faithful)


def line_oracle(
    problem: Problem,
    v: np.ndarray,
    red: Reduction,
    n_candidates: int,
    faithful: bool | None = None,
) -> OracleResult:
    """The exact kink sweep along the line of ``red`` (rank <= 1); ``faithful`` is
    ``red.faithful`` when the caller knows it already."""
    d = problem.n_features
    if red.rank == 0:  # all points equal (bias) or X = 0: g = 0 up to the residual
        U = np.eye(d, 1)
        return finalize(problem, v, U, None, residual_slack(red, v), True, n_candidates)
    t = red.T[:, 0]
    a = red.B[:, 0]
    margin = kink_margin(t[:, None], v)
    # vals (2, K): values at the K kinks for s = +1 (row 0) and s = -1 (row 1); the kink of
    # entry (row, k) is b' = -Z[row][k]
    if problem.bias and v.ndim == 1:
        vals, ts = _both_orientations(problem, t, v)
        Z = (ts, -ts)
        margin *= 2  # the s = -1 values add one more prefix sum's rounding
    elif problem.bias:  # one sort serves both orientations (decreasing -t = increasing t)
        order = sorted_line(problem, t).order
        orders = np.stack([order, order[::-1]])
        vals, Z = sorted_kink_values(np.stack([t[order], -t[order[::-1]]]), v[orders])
    else:
        vals, biases = kink_values(np.column_stack([t, -t]), v, False)  # s = +1, s = -1
        vals, Z = vals.T, -biases.T
    upper = max(float(vals.max()), -float(vals.min())) + margin + residual_slack(red, v)
    q = max(int(n_candidates), 1)
    signs = (1.0, -1.0) if v.ndim == 1 else (1.0,)
    picks = [
        (k, row)
        for row in range(vals.shape[0])
        for sign in signs
        for k in peak_rows(vals[row], q, sign)
    ]
    ks, rows = np.array(picks, dtype=int).reshape(-1, 2).T
    s = np.where(rows == 0, 1.0, -1.0)
    U = a[:, None] * s
    kinks = -np.array([Z[row][k] for k, row in zip(ks, rows)], dtype=float)
    b = kinks - red.m @ U if problem.bias else None
    exact = red.faithful if faithful is None else faithful
    # the sweep's values are those of the data themselves when there is no residual
    swept = vals[rows, ks] if not np.any(red.resid) else None
    return finalize(problem, v, U, b, upper, exact, n_candidates, values=swept)


def _both_orientations(
    problem: Problem, t: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Kink values (2, n) for ``s = +1`` (row 0, kink ``b' = -t_k``) and ``s = -1`` (row 1,
    kink ``b' = t_k``) at every data point in the decreasing order, and that sorted ``t``,
    from ONE pass of prefix sums.

    With ``t`` sorted decreasingly, ``P_k = sum_{i <= k} v_i (t_i - t_k)`` is the ``s = +1``
    value at the kink ``b' = -t_k``; since ``(z)_+ - (-z)_+ = z``, the ``s = -1`` value at
    ``b' = t_k`` is ``sum_i v_i (t_k - t_i) + P_k = P_k - v^T t + t_k 1^T v``.
    """
    line = sorted_line(problem, t)  # once per problem: later calls are O(n)
    ts, vs = line.t, line.gather(v)
    C = prefix_sum(vs[None])[0]
    vs *= ts
    P = prefix_sum(vs[None])[0]
    vals = np.empty((2, ts.size))
    np.multiply(ts, C, out=vals[1])
    np.subtract(P, vals[1], out=vals[0])
    np.subtract(vals[0], P[-1], out=vals[1])
    np.multiply(ts, C[-1], out=P)  # P is no longer needed
    vals[1] += P
    return vals, ts


def peak_rows(profile: np.ndarray, q: int, sign: float = 1.0) -> np.ndarray:
    """Up to ``q`` kinks of the 1-D value profile ``sign * profile`` (``sign`` = +-1, the
    product is never formed; kinks in order along the line), one per positive excursion
    (maximal run of kinks with a positive value): the argmax of each run, highest first.
    O(n). Without bias the profile has one entry.

    The top-q kinks of the profile sit side by side on one peak (neighbouring kinks of one
    violation); one kink per excursion gives the cutting plane one neuron per violated region.
    """
    up = sign > 0
    best = np.argmax if up else np.argmin
    top = int(best(profile))
    if profile.size < 3 or q == 1 or sign * profile[top] <= 0:
        return np.array([top])
    positive = profile > 0 if up else profile < 0
    edges = np.flatnonzero(positive[1:] != positive[:-1])
    starts = np.concatenate([[0], edges + 1])
    starts = starts[positive[starts]]  # first kink of each positive run
    if starts.size <= 1:
        return np.array([top])
    # each stretch from one run's start to the next holds that run and then values of the
    # other sign, so its extreme is the run's
    if up:
        peak_values = np.maximum.reduceat(profile, starts)
    else:
        peak_values = -np.minimum.reduceat(profile, starts)
    chosen = np.argsort(-peak_values, kind="stable")[:q]
    ends = np.append(starts[1:], profile.size)
    return np.array(
        [starts[r] + int(best(profile[starts[r] : ends[r]])) for r in chosen], dtype=int
    )
