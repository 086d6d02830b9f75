"""The squared-loss master's Gram cache for 1-D inputs, from the sorted data (no features).

The Lasso and group-Lasso masters (:mod:`convexnn.solvers.master`) need, for the features
``h_j = (x u_j + b_j)_+`` of a neuron dictionary, the centered Gram matrix ``G = Hc^T Hc``, the
correlations ``q = Hc^T yc``, the means of the features, the predictions ``H W`` and the
correlations ``H^T v`` of a dual vector. :class:`~convexnn.solvers.master.GramCache` forms the
dense ``(n, p)`` features for them: O(n p) time and memory per iteration.

With one input dimension a neuron is ``h = (alpha t + gamma)_+`` in the centered coordinate
``t = x - m`` of the exact 1-D oracle (:func:`convexnn.oracles._line.sorted_line`), with
``alpha = u`` and ``gamma = b + u m``; it is active on a contiguous run of the sorted ``t``.
The runs' ends cut the sorted data into *segments* on each of which every neuron is either
zero or linear. With the moments ``T0, T1, T2`` of ``d = t - tau`` on each segment (``tau`` its
first point) and ``beta_j = alpha_j tau + gamma_j`` (neuron j's value at ``tau``)::

    sum_segment h_j h_k = a_j a_k T2 + (a_j beta_k + beta_j a_k) T1 + beta_j beta_k T0
                                                                     (a = alpha),

so each entry is a short sum over segments of terms no larger than the features themselves
(segment sums are pairwise sums of the data: as accurate as a dense dot product). One O(n)
pass computes the segment moments when neurons are added, and ``H W`` (a piecewise-linear
spline) and ``H^T v`` cost O(n) each, in the samples' own order (no permutation): no
``(n, p)`` array at any point.

With bias, a neuron active on every sample is linear there and its *centered* feature does not
depend on ``gamma``, so ``G`` and ``q`` use ``gamma`` clipped to the data's range (no
cancellation of huge ``gamma^2 n`` terms); means and predictions use the true ``gamma``. These
quantities only steer the master problem: the cutting plane's lower bound comes from the
oracle alone, and results are evaluated on the network itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..oracles._line import SortedLine, reduction, sorted_line
from ..problem import Problem


@dataclass(frozen=True, eq=False)
class _Segments:
    """The sorted data cut at the ends of the neurons' runs: segment i is the positions
    ``[start_i, start_i + length_i)``; ``d = t - tau`` along the sorted data, with ``tau_i``
    the first ``t`` of segment i; ``T1``, ``T2`` the sums of ``d`` and ``d^2`` on each.
    ``ids`` and ``d_samples`` are each sample's segment and ``d`` in the samples' own order
    (so that products with vectors of the samples need no permutation)."""

    start: np.ndarray
    length: np.ndarray
    tau: np.ndarray
    d: np.ndarray
    T1: np.ndarray
    T2: np.ndarray
    ids: np.ndarray
    d_samples: np.ndarray

    @classmethod
    def cut(cls, line: SortedLine, ends: np.ndarray) -> _Segments:
        n = line.size
        edges = np.unique(np.concatenate([[0, n], ends]))
        start, length = edges[:-1], np.diff(edges)
        tau = line.t[start]
        d = line.t - np.repeat(tau, length)
        ids = line.scatter(np.repeat(np.arange(start.size, dtype=np.intp), length))
        T1, T2 = _sums(d, start), _sums(d * d, start)
        return cls(start, length, tau, d, T1, T2, ids, line.scatter(d))

    def members(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """(p, S) 0/1 matrix: neuron j is active on segment i (runs are unions of segments)."""
        return ((lo[:, None] <= self.start) & (self.start < hi[:, None])).astype(float)

    def totals(self, a: np.ndarray) -> np.ndarray:
        """Sums of the samples' ``a`` (n, k) over each segment: (S, k)."""
        S = self.start.size
        return np.column_stack([np.bincount(self.ids, col, minlength=S) for col in a.T])


def _sums(a: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Sums of ``a`` (n, ...) over the segments beginning at ``start`` (pairwise sums)."""
    return np.add.reduceat(a, start, axis=0)


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
        red = reduction(problem)[0]
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
        self._yc = self.line.gather(yc).reshape(self.line.size, -1)  # (n, k), sorted
        # an everywhere-active neuron's gamma may be clipped to this (bias: same centering)
        self._reach = (-float(self.line.t[-1]), float(self.line.t[0]))
        self.U = np.zeros((1, 0))
        self.b = np.zeros(0)
        self._alpha = np.zeros(0)
        self._gamma = np.zeros(0)
        self._gamma_eff = np.zeros(0)
        self._lo = np.zeros(0, dtype=np.intp)
        self._hi = np.zeros(0, dtype=np.intp)
        self._seg: _Segments | None = None
        self._member = np.zeros((0, 0))
        self.mean = np.zeros(0)
        self.G = np.zeros((0, 0))
        self.q = np.zeros((0,) + y.shape[1:])

    @staticmethod
    def applies(problem: Problem) -> bool:
        """True for one input dimension with at least two distinct points."""
        return problem.n_features == 1 and bool(np.ptp(problem.X) > 0)

    @property
    def p(self) -> int:
        return self._alpha.size

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
        gamma = b + u * self.shift
        lo, hi = self.line.active_run(np.sign(u), gamma / np.abs(u))
        live = hi > lo
        if not live.any():
            return live
        u, gamma, lo, hi = u[live], gamma[live], lo[live], hi[live]
        p, n = self.p, self.line.size
        reach = np.where(u > 0, self._reach[0], self._reach[1]) * np.abs(u)
        self._alpha = np.concatenate([self._alpha, u])
        self._gamma = np.concatenate([self._gamma, gamma])
        eff = np.minimum(gamma, reach) if self.bias else gamma
        self._gamma_eff = np.concatenate([self._gamma_eff, eff])
        self._lo, self._hi = np.concatenate([self._lo, lo]), np.concatenate([self._hi, hi])
        self.U = np.hstack([self.U, u[None, :]])
        self.b = np.concatenate([self.b, b[live]])
        seg = self._seg = _Segments.cut(self.line, np.concatenate([self._lo, self._hi]))
        self._member = seg.members(self._lo, self._hi)
        A, B = self._slopes(), self._values(self._gamma_eff)
        An, Bn = A[p:], B[p:]
        T0 = seg.length.astype(float)
        raw = (A * seg.T2) @ An.T + (A * seg.T1) @ Bn.T + (B * seg.T1) @ An.T + (B * T0) @ Bn.T
        if self.bias:  # centered: minus n times the product of the means (of these features)
            mu = (A @ seg.T1 + B @ T0) / n
            raw -= n * np.outer(mu, mu[p:])
        new = 0.5 * (raw[p:] + raw[p:].T)  # exactly symmetric, as the masters assume
        self.G = np.block([[self.G, raw[:p]], [raw[:p].T, new]])
        Y = _sums(self._yc, seg.start)
        TY = _sums(seg.d[:, None] * self._yc, seg.start)
        qnew = An @ TY + Bn @ Y
        self.q = np.concatenate([self.q, qnew[:, 0] if self.q.ndim == 1 else qnew], axis=0)
        if self.bias:
            mean = (An @ seg.T1 + self._values(self._gamma)[p:] @ T0) / n
        else:
            mean = np.zeros(An.shape[0])
        self.mean = np.concatenate([self.mean, mean])
        return live

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the neurons where ``mask`` is true (the segments stay valid: finer
        than needed until the next :meth:`add` recuts them)."""
        self._alpha, self._gamma = self._alpha[mask], self._gamma[mask]
        self._gamma_eff = self._gamma_eff[mask]
        self._lo, self._hi, self._member = self._lo[mask], self._hi[mask], self._member[mask]
        self.U, self.b, self.mean = self.U[:, mask], self.b[mask], self.mean[mask]
        self.G = self.G[np.ix_(mask, mask)]
        self.q = self.q[mask]

    # ------------------------------------------------------------------ products
    def matvec(self, W: np.ndarray) -> np.ndarray:
        """``H W`` (n,) or (n, k): on each segment the spline is ``slope d + value``."""
        W = np.asarray(W, dtype=float)
        n, k = self.line.size, self._yc.shape[1]
        if self.p == 0:
            return np.zeros((n,) + W.shape[1:])
        Wk = W.reshape(self.p, k)
        seg = self._seg
        f = (self._slopes().T @ Wk)[seg.ids]
        f *= seg.d_samples[:, None]
        f += (self._values(self._gamma).T @ Wk)[seg.ids]
        return f[:, 0] if W.ndim == 1 else f

    def rmatvec(self, v: np.ndarray) -> np.ndarray:
        """``H^T v`` (p,) or (p, k), from the segment sums of ``v`` and ``d v``."""
        v = np.asarray(v, dtype=float)
        if self.p == 0:
            return np.zeros((0,) + v.shape[1:])
        seg = self._seg
        vk = v.reshape(self.line.size, -1)
        V = seg.totals(vk)
        TV = seg.totals(seg.d_samples[:, None] * vk)
        out = self._slopes() @ TV + self._values(self._gamma) @ V
        return out[:, 0] if v.ndim == 1 else out

    def pieces(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The dictionary on the segments of the sorted data, ``(start, d, slopes, values)``:
        segment i holds the sorted positions ``[start_i, start_(i+1))`` (the last one up to
        n), ``d = t - tau`` (n,) along the sorted data with ``tau`` each segment's first
        point, and neuron j equals ``slopes[j, i] d + values[j, i]`` on segment i (both
        (p, S), 0 where it is inactive). Without neurons: one segment."""
        if self._seg is None:
            t = self.line.t
            return np.zeros(1, dtype=np.intp), t - t[0], np.zeros((0, 1)), np.zeros((0, 1))
        return self._seg.start, self._seg.d, self._slopes(), self._values(self._gamma)

    # ------------------------------------------------------------------ helpers
    def _slopes(self) -> np.ndarray:
        """(p, S): each neuron's slope in ``t`` on the segments where it is active, else 0."""
        return self._member * self._alpha[:, None]

    def _values(self, gamma: np.ndarray) -> np.ndarray:
        """(p, S): each neuron's value ``alpha tau + gamma`` at the segments' first points
        where it is active, else 0."""
        return self._member * (self._alpha[:, None] * self._seg.tau + gamma[:, None])


__all__ = ["LineGram"]
