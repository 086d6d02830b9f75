"""The squared-loss master's Gram cache for 1-D inputs, from prefix moments of the sorted data.

The Lasso and group-Lasso masters (:mod:`convexnn.solvers.master`) need, for the features
``h_j = (x u_j + b_j)_+`` of a neuron dictionary, the centered Gram matrix ``G = Hc^T Hc``, the
correlations ``q = Hc^T yc``, the means of the features, the predictions ``H W`` and the
correlations ``H^T v`` of a dual vector. :class:`~convexnn.solvers.master.GramCache` forms the
dense ``(n, p)`` features for them: O(n p) time and memory per iteration.

With one input dimension a neuron is ``h = a (s t + b')_+`` with ``t = x - m`` (the centered
coordinate of the exact 1-D oracle, :func:`convexnn.oracles._line.sorted_line`), ``a = |u|``,
``s = sign(u)`` and ``b' = (b + u m) / a``. It is active on a contiguous run of the sorted
``t``, so every entry above is a sum over a run (the overlap of two runs for ``G``)::

    sum_run h_j h_k = a_j a_k (s_j s_k T2 + (s_j b'_k + s_k b'_j) T1 + b'_j b'_k T0),

with ``T0, T1, T2`` the run's sums of ``1, t, t^2``, read from prefix sums computed once per
problem. Adding ``q`` neurons to ``p`` then costs O((p + q) q) after an O(q log n) search; the
predictions ``H W`` are a piecewise-linear spline evaluated along the sorted order and
``H^T v`` comes from two prefix sums of ``v``: O(n) each, with no ``(n, p)`` array.

Rounding: run sums are differences of blocked prefix sums (error ~ sqrt(n) eps times the sum
of magnitudes, :func:`convexnn.oracles._common.prefix_sum`). With bias, a neuron active on
every sample is linear there and its *centered* feature does not depend on ``b'``, so ``G``
and ``q`` use ``b'`` clipped to the data's range (no cancellation of huge ``b'^2 n`` terms);
the means and the predictions use the true ``b'``. These quantities only steer the master
problem: the cutting plane's lower bound comes from the oracle alone, and results are
evaluated on the network itself.
"""

from __future__ import annotations

import numpy as np

from ..oracles._common import prefix_sum, reduce_data
from ..oracles._line import sorted_line
from ..problem import Problem


class LineGram:
    """Drop-in for :class:`~convexnn.solvers.master.GramCache` when X has one column.

    Neurons are added by their weights, :meth:`add` ``(U, b)``, not by feature columns.
    Attributes read by the masters: ``p``, ``G``, ``q``, ``yy``, ``y_mean``, ``mean``; methods
    :meth:`matvec` (``H W``), :meth:`rmatvec` (``H^T v``), :meth:`keep`, and ``H`` (the dense
    features, for the other losses and for tests).
    """

    def __init__(self, problem: Problem) -> None:
        if problem.n_features != 1:
            raise ValueError(
                f"LineGram needs one input dimension, got X with {problem.n_features} columns."
            )
        red = reduce_data(problem)
        if red.rank != 1:
            raise ValueError("LineGram needs data with at least two distinct points.")
        self.problem = problem
        self.bias = problem.bias
        self.line = sorted_line(problem, red.T[:, 0])
        self.shift = float(red.m[0])  # x = t + shift
        y = problem.y
        self.y_mean = y.mean(axis=0) if self.bias else np.zeros(y.shape[1:])
        yc = y - self.y_mean
        self.yy = float(np.sum(yc**2))
        self._k = 1 if y.ndim == 1 else y.shape[1]
        ts = self.line.t
        ycs = self.line.gather(yc).reshape(ts.size, self._k)
        rows = np.vstack([ts, ts * ts, ycs.T, (ts[:, None] * ycs).T])
        self._moments = _runs(prefix_sum(rows))  # (2 + 2k, n + 1): T1, T2, Y, TY
        self._reach = (-float(ts[-1]), float(ts[0]))  # max of -s t for s = +1, -1
        self.U = np.zeros((1, 0))
        self.b = np.zeros(0)
        self._a = np.zeros(0)
        self._s = np.zeros(0)
        self._off = np.zeros(0)  # b'
        self._lo = np.zeros(0, dtype=np.intp)
        self._hi = np.zeros(0, dtype=np.intp)
        self.mean = np.zeros(0)
        self.G = np.zeros((0, 0))
        self.q = np.zeros((0,) + y.shape[1:])

    @staticmethod
    def applies(problem: Problem) -> bool:
        """True for one input dimension with at least two distinct points."""
        return problem.n_features == 1 and bool(np.ptp(problem.X) > 0)

    @property
    def p(self) -> int:
        return self._s.size

    @property
    def H(self) -> np.ndarray:
        """The dense features ``(x u_j + b_j)_+`` (n, p): O(n p), not used by the masters."""
        from .master import features

        return features(self.problem.X, self.U, self.b if self.bias else None)

    # ------------------------------------------------------------------ dictionary
    def add(self, U: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        """Add the neurons ``(x u_j + b_j)_+`` (columns of U (1, q), nonzero) that are positive
        on some sample; returns the mask of those added (the others are dead everywhere)."""
        u = np.asarray(U, dtype=float).reshape(-1)
        if np.any(u == 0) or not np.all(np.isfinite(u)):
            raise ValueError("LineGram neurons need a finite nonzero weight u.")
        b = np.zeros(u.size) if b is None or not self.bias else np.asarray(b, float).ravel()
        a, s = np.abs(u), np.sign(u)
        off = (b + u * self.shift) / a
        lo, hi = self.line.active_run(s, off)
        live = hi > lo
        if not live.any():
            return live
        a, s, off, lo, hi = a[live], s[live], off[live], lo[live], hi[live]
        n = self.line.size
        mean = a * (s * self._sum(1, lo, hi) + off * (hi - lo)) / n if self.bias else 0 * a
        # centered quantities: an everywhere-active neuron may take the clipped offset
        clip = np.minimum(off, np.where(s > 0, self._reach[0], self._reach[1]))
        eff_old, eff_new = (self._eff(), clip) if self.bias else (self._off, off)
        S = np.concatenate([self._s, s])
        A = np.concatenate([self._a, a])
        B = np.concatenate([eff_old, eff_new])
        LO = np.concatenate([self._lo, lo])
        HI = np.concatenate([self._hi, hi])
        # raw cross moments of every neuron (rows) with the new ones (columns)
        rlo = np.maximum(LO[:, None], lo[None, :])
        rhi = np.maximum(np.minimum(HI[:, None], hi[None, :]), rlo)
        T0 = (rhi - rlo).astype(float)
        T1 = self._sum(1, rlo, rhi)
        T2 = self._sum(2, rlo, rhi)
        raw = (S[:, None] * s) * T2 + (S[:, None] * B[-s.size :] + s * B[:, None]) * T1
        raw += (B[:, None] * B[-s.size :]) * T0
        raw *= A[:, None] * a
        if self.bias:
            mu = A * (S * self._sum(1, LO, HI) + B * (HI - LO)) / n  # means with these offsets
            raw -= n * mu[:, None] * mu[-s.size :]
        p = self.p
        self.G = np.block([[self.G, raw[:p]], [raw[:p].T, raw[p:]]])
        qnew = (s * self._sum_y(True, lo, hi) + B[p:] * self._sum_y(False, lo, hi)) * a
        qnew = qnew.T  # (q, k)
        self.q = np.concatenate([self.q, qnew[:, 0] if self.q.ndim == 1 else qnew], axis=0)
        self.mean = np.concatenate([self.mean, mean])
        self._a, self._s, self._off = A, S, np.concatenate([self._off, off])
        self._lo, self._hi = LO, HI
        self.U = np.hstack([self.U, np.asarray(U, dtype=float).reshape(1, -1)[:, live]])
        self.b = np.concatenate([self.b, b[live]])
        return live

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the neurons where ``mask`` is true."""
        self._a, self._s, self._off = self._a[mask], self._s[mask], self._off[mask]
        self._lo, self._hi = self._lo[mask], self._hi[mask]
        self.U, self.b, self.mean = self.U[:, mask], self.b[mask], self.mean[mask]
        self.G = self.G[np.ix_(mask, mask)]
        self.q = self.q[mask]

    # ------------------------------------------------------------------ products
    def matvec(self, W: np.ndarray) -> np.ndarray:
        """``H W`` (n,) or (n, k): the spline ``sum_j w_j a_j (s_j t + b'_j)_+`` evaluated
        along the sorted order by accumulating slopes and intercepts over the runs."""
        W = np.asarray(W, dtype=float)
        n = self.line.size
        Wk = W.reshape(self.p, self._k)
        coef = self._a[:, None] * Wk
        slope = _run_totals(self._lo, self._hi, self._s[:, None] * coef, n)
        slope *= self.line.t[:, None]
        slope += _run_totals(self._lo, self._hi, self._off[:, None] * coef, n)
        f = self.line.scatter(slope)
        return f[:, 0] if W.ndim == 1 else f

    def rmatvec(self, v: np.ndarray) -> np.ndarray:
        """``H^T v`` (p,) or (p, k), from prefix sums of ``v`` and ``t v`` in sorted order."""
        v = np.asarray(v, dtype=float)
        vs = self.line.gather(v).reshape(self.line.size, -1)
        k = vs.shape[1]
        M = _runs(prefix_sum(np.vstack([vs.T, (self.line.t[:, None] * vs).T])))
        lo, hi = self._lo, self._hi
        V = M[:k, hi] - M[:k, lo]
        TV = M[k:, hi] - M[k:, lo]
        out = ((self._s * TV + self._off * V) * self._a).T
        return out[:, 0] if v.ndim == 1 else out

    # ------------------------------------------------------------------ helpers
    def _eff(self) -> np.ndarray:
        return np.minimum(self._off, np.where(self._s > 0, self._reach[0], self._reach[1]))

    def _sum(self, power: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Sums of ``t**power`` (power 1 or 2) over the runs ``[lo, hi)``."""
        M = self._moments[power - 1]
        return M[hi] - M[lo]

    def _sum_y(self, with_t: bool, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Sums of ``yc`` (or ``t yc``) over the runs: shape (k, len(lo))."""
        start = 2 + (self._k if with_t else 0)
        M = self._moments[start : start + self._k]
        return M[:, hi] - M[:, lo]


def _runs(P: np.ndarray) -> np.ndarray:
    """Prefix sums (r, n) with a leading zero column: the sum over ``[lo, hi)`` is
    ``P[:, hi] - P[:, lo]``."""
    return np.hstack([np.zeros((P.shape[0], 1)), P])


def _run_totals(lo: np.ndarray, hi: np.ndarray, coef: np.ndarray, n: int) -> np.ndarray:
    """``out[i] = sum_j coef_j [lo_j <= i < hi_j]`` (n, k), by a difference array."""
    k = coef.shape[1]
    diff = np.zeros((n + 1, k))
    for col in range(k):
        diff[:, col] = np.bincount(lo, coef[:, col], minlength=n + 1)[: n + 1]
        diff[:, col] -= np.bincount(hi, coef[:, col], minlength=n + 1)[: n + 1]
    return np.cumsum(diff[:n], axis=0)


__all__ = ["LineGram"]
