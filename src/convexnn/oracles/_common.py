"""Pieces shared by the oracles: data reduction, best biases at kinks, packaging results.

Every oracle maximizes ``g(u, b) = v^T (X u + b 1)_+`` (and minimizes it; the norm
``||V^T (X u + b 1)_+||`` for vector outputs) over ``||u|| <= 1`` and ``b`` (``b = 0``
without bias). Two facts do most of the work:

- **Kinks.** For fixed ``u`` with ``z = X u``, ``b -> v^T (z + b 1)_+`` is piecewise linear
  with kinks at ``b = -z_j``; it is 0 for ``b <= -max z`` and constant (``v^T z``, because
  ``1^T v = 0``) for ``b >= -min z``. So its maximum (and minimum) sits at a kink (Lemma 6 of
  the paper for 1-D data). For vector outputs the norm is convex on each linear piece, so the
  same holds. Sorting ``z`` once gives every kink value by prefix sums.
- **Reduction.** ``g`` depends on ``u`` only through ``X u``; with bias only through the
  centered data. When the (affine) rank ``r`` of the data is small, the data are written as
  ``X = 1 m^T + T B^T + R`` with orthonormal ``B`` (d, r) and a residual ``R``; the oracle
  works with ``T`` and adds ``sum_i ||v_i|| ||R_i||`` to its bound (sound for any ``R``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..problem import Problem
from .base import OracleResult

EPS = np.finfo(float).eps


@dataclass(frozen=True)
class Reduction:
    """``X = 1 m^T + T B^T + R`` (``m = 0`` without bias); ``resid`` = row norms of ``R``."""

    T: np.ndarray
    B: np.ndarray
    m: np.ndarray
    resid: np.ndarray

    @property
    def rank(self) -> int:
        return self.T.shape[1]

    @property
    def faithful(self) -> bool:
        """True when the residual is at the rounding level of the data (the reduction is
        then exact up to rounding, and so is an oracle's maximum computed on it)."""
        scale = float(np.max(np.linalg.norm(self.T, axis=1), initial=0.0)) + float(
            np.linalg.norm(self.m)
        )
        return bool(np.all(self.resid <= 256 * EPS * max(scale, 1e-300)))


def reduce_data(problem: Problem, rel_tol: float = 1e-10) -> Reduction:
    """Coordinates of the (centered when ``bias``) data in its numerical row space."""
    X = problem.X
    m = X.mean(axis=0) if problem.bias else np.zeros(X.shape[1])
    Xc = X - m
    if X.shape[1] == 1:
        scale = float(np.max(np.abs(Xc), initial=0.0))
        if scale == 0.0:
            return Reduction(np.zeros((X.shape[0], 0)), np.zeros((1, 0)), m, np.zeros(len(X)))
        return Reduction(Xc.copy(), np.ones((1, 1)), m, np.zeros(len(X)))
    _, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    r = int(np.sum(s > rel_tol * max(s.max(initial=0.0), np.finfo(float).tiny)))
    if r == X.shape[1]:  # full rank: keep the coordinates, no residual at all
        return Reduction(Xc.copy(), np.eye(r), m, np.zeros(len(X)))
    B = Vt[:r].T
    T = Xc @ B
    resid = np.linalg.norm(Xc - T @ B.T, axis=1)
    return Reduction(T, B, m, resid)


def residual_slack(red: Reduction, v: np.ndarray) -> float:
    """``sum_i ||v_i|| ||R_i||``: how much ``R`` can change ``g`` for any unit ``u``."""
    if not np.any(red.resid):
        return 0.0
    return float(row_norms(v) @ red.resid) * (1.0 + 8 * EPS)


def row_norms(v: np.ndarray) -> np.ndarray:
    """``|v_i|`` for scalar dual vectors, ``||V_i||_2`` for matrix ones."""
    return np.abs(v) if v.ndim == 1 else np.linalg.norm(v, axis=1)


def kink_values(Z: np.ndarray, v: np.ndarray, bias: bool) -> tuple[np.ndarray, np.ndarray]:
    """Values of ``v^T (z + b 1)_+`` at every kink ``b = -z_k`` of every column z of Z.

    Returns ``(values, biases)`` of shape (n, S): column s lists the value at each of the n
    kinks of ``Z[:, s]`` (the first kink, ``b = -max z``, has value 0: the limit
    ``b -> -inf``; the last one is the all-active value ``v^T z``). Values are signed for
    scalar ``v`` and norms for matrix ``v`` (n, k). Without bias only ``b = 0`` exists and
    the arrays have one row. O(n log n) per column.
    """
    if not bias:
        H = np.maximum(Z, 0.0)
        vals = v @ H if v.ndim == 1 else np.linalg.norm(H.T @ v, axis=1)
        return vals[None, :], np.zeros((1, Z.shape[1]))
    ZT = np.ascontiguousarray(Z.T)  # sort along contiguous rows
    order = np.argsort(-ZT, axis=1)
    vals, Zs = sorted_kink_values(np.take_along_axis(ZT, order, axis=1), v[order])
    return vals.T, -Zs.T


def sorted_kink_values(Zs: np.ndarray, Vs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kink values for rows of Zs sorted in decreasing order, Vs the matching dual entries
    (S, n) or (S, n, k): ``sum_{i <= k} v_i (z_i - z_k)`` by prefix sums. Returns (vals, Zs)."""
    if Vs.ndim == 2:
        vals = prefix_sum(Vs * Zs)
        vals -= Zs * prefix_sum(Vs)
    else:
        P = prefix_sum(Vs * Zs[:, :, None])
        P -= Zs[:, :, None] * prefix_sum(Vs)
        vals = np.linalg.norm(P, axis=2)
    return vals, Zs


def prefix_sum(A: np.ndarray) -> np.ndarray:
    """Cumulative sums along axis 1 in blocks of ~sqrt(n): rounding error ~ 2 sqrt(n) eps
    times the sum of magnitudes (plain sequential ``cumsum`` has n eps)."""
    n = A.shape[1]
    B = _block(n)
    if n <= B:
        return np.cumsum(A, axis=1)
    m = -(-n // B)
    pad = [(0, 0)] * A.ndim
    pad[1] = (0, m * B - n)
    blocks = np.pad(A, pad).reshape(A.shape[0], m, B, *A.shape[2:])
    inner = np.cumsum(blocks, axis=2)
    totals = np.cumsum(inner[:, :, -1], axis=1)
    inner[:, 1:] += totals[:, :-1, None]
    return inner.reshape(A.shape[0], m * B, *A.shape[2:])[:, :n]


def _block(n: int) -> int:
    return max(int(np.sqrt(n)), 64)


def prefix_error_terms(n: int) -> int:
    """Number of roundings along one prefix sum of :func:`prefix_sum` (its error is at most
    this times eps times the sum of magnitudes, to first order)."""
    B = _block(n)
    return n if n <= B else B + -(-n // B) + 2


def kink_margin(Z: np.ndarray, v: np.ndarray) -> float:
    """A bound on the rounding error of :func:`kink_values` (prefix sums of n terms)."""
    terms = prefix_error_terms(Z.shape[0])
    zmax = float(np.max(np.abs(Z), initial=0.0))
    return 4.0 * (terms + 4) * EPS * float(np.sum(row_norms(v))) * 2.0 * zmax


def best_kinks(Z: np.ndarray, v: np.ndarray, bias: bool) -> dict[str, np.ndarray]:
    """Per column of Z: the maximizing (and, for scalar v, minimizing) kink and its value."""
    vals, biases = kink_values(Z, v, bias)
    cols = np.arange(Z.shape[1])
    i_max = np.argmax(vals, axis=0)
    out = {"max": vals[i_max, cols], "b_max": biases[i_max, cols]}
    if v.ndim == 1:
        i_min = np.argmin(vals, axis=0)
        out["min"] = vals[i_min, cols]
        out["b_min"] = biases[i_min, cols]
    return out


def top_indices(values: np.ndarray, q: int) -> np.ndarray:
    """Indices of the q largest entries of a 1-D array (any order), in O(n)."""
    if q >= values.size:
        return np.arange(values.size)
    return np.argpartition(-values, q - 1)[:q]


def scale_invariant(call):
    """Run an oracle's ``__call__`` on ``v / max|v|`` and scale the result back.

    Every quantity an oracle computes is positively homogeneous in v, but squares of tiny
    entries underflow (confident logistic networks have ``|v| ~ 1e-200``) and would silently
    lose the bound. The rescaled bound is rounded up.
    """

    @functools.wraps(call)
    def wrapper(self, problem: Problem, v: np.ndarray, **options) -> OracleResult:
        v = check_dual_vector(problem, v)
        scale = float(np.max(np.abs(v), initial=0.0))
        x_scale = float(np.max(np.abs(problem.X), initial=0.0))
        extreme_x = x_scale > 0 and not 1e-100 <= x_scale <= 1e100
        if extreme_x:  # rare: a rescaled copy (per-problem caches are not shared with it)
            problem = Problem(
                problem.X / x_scale, problem.y, problem.beta, problem.loss, problem.bias
            )
        else:
            x_scale = 1.0
        if scale == 0.0 or (scale == 1.0 and x_scale == 1.0):
            return call(self, problem, v, **options)
        res = call(self, problem, v / scale, **options)
        upper = res.upper_bound
        if np.isfinite(upper):
            upper = upper * scale * x_scale * (1.0 + 8 * EPS) + 5e-324
        b = None if res.b is None else res.b * x_scale
        return OracleResult(res.U, b, res.values * scale * x_scale, float(upper), res.exact)

    return wrapper


def check_dual_vector(problem: Problem, v: np.ndarray) -> np.ndarray:
    """``v`` as a float array of the targets' shape, finite, with ``1^T v ~ 0`` under bias.

    With bias the constraint is unbounded (``b -> inf``) unless ``1^T v = 0``; a sum larger
    than rounding is an error of the caller (project with ``Loss.dual_domain_project``).
    """
    v = np.asarray(v, dtype=float)
    if v.shape != problem.y.shape:
        raise ValueError(f"The 'v' parameter must have shape {problem.y.shape}, got {v.shape}.")
    if not np.all(np.isfinite(v)):
        raise ValueError("The 'v' parameter contains NaN or infinite values.")
    if problem.bias:
        total = np.abs(v.sum(axis=0))
        scale = np.sum(np.abs(v), axis=0)
        if np.any(total > 1e-9 * scale + 1e-300):
            raise ValueError(
                "With bias=True the dual vector must satisfy 1^T v = 0 (the constraint is "
                f"unbounded otherwise); got 1^T v = {np.max(total):.3g}. Project it first "
                "(Loss.dual_domain_project)."
            )
    return v


def finalize(
    problem: Problem,
    v: np.ndarray,
    U: np.ndarray,
    b: np.ndarray | None,
    upper_bound: float,
    exact: bool,
    n_candidates: int,
    values: np.ndarray | None = None,
) -> OracleResult:
    """Normalize, evaluate (independently, by ``Problem.constraint_values``), deduplicate and
    keep the best ``n_candidates`` neurons of each sign; package an :class:`OracleResult`.

    ``values`` (optional) are the candidates' values already computed by the oracle on the
    original data (e.g. the exact 1-D sweep, within its rounding margin, which
    ``upper_bound`` includes); they are then not recomputed (an O(n) pass per candidate).

    ``upper_bound`` is raised to the best value found if rounding put it below (it must
    bound every neuron). ``exact`` also becomes true when a candidate attains the bound.
    """
    d = problem.n_features
    U = np.asarray(U, dtype=float).reshape(d, -1)
    b = np.zeros(U.shape[1]) if b is None else np.asarray(b, dtype=float).ravel()
    norms = np.linalg.norm(U, axis=0)
    ok = (norms > 0) & np.isfinite(norms) & np.isfinite(b)
    U, b, norms = U[:, ok], b[ok], norms[ok]
    if values is not None:
        values = np.asarray(values, dtype=float)[ok] / norms  # homogeneous of degree 1
    if U.shape[1] == 0:  # nothing found: any unit neuron, value computed below
        U, b, norms, values = np.eye(d, 1), np.zeros(1), np.ones(1), None
    U = U / norms
    b = b / norms if problem.bias else np.zeros_like(b)
    key = np.round(np.vstack([U, b]), 9)
    _, first = np.unique(key.T, axis=0, return_index=True)
    U, b = U[:, first], b[first]
    if values is None:
        values = problem.constraint_values(v, U, b if problem.bias else None)
    else:
        values = values[first]
    q = max(int(n_candidates), 1)
    if v.ndim == 1:
        pos = np.flatnonzero(values > 0)
        neg = np.flatnonzero(values < 0)
        keep = np.concatenate(
            [
                pos[np.argsort(-values[pos], kind="stable")[:q]],
                neg[np.argsort(values[neg], kind="stable")[:q]],
            ]
        )
        if keep.size == 0:
            keep = np.array([0])
    else:
        keep = np.argsort(-values, kind="stable")[:q]
    keep = keep[np.argsort(-np.abs(values[keep]), kind="stable")]
    U, b, values = U[:, keep], b[keep], values[keep]
    best = float(np.max(np.abs(values), initial=0.0))
    # evaluating v^T (X u + b 1)_+ rounds at the scale of the data: bound computed values too
    reach = float(np.max(np.linalg.norm(problem.X, axis=1), initial=0.0))
    upper = float(upper_bound) + 8 * (d + 2) * EPS * float(np.sum(row_norms(v))) * reach
    if upper < best:
        upper = best * (1.0 + 4 * EPS)
    if np.isfinite(upper) and best >= upper * (1.0 - 1e-9):
        exact = True
    return OracleResult(
        U=U,
        b=b if problem.bias else None,
        values=values,
        upper_bound=upper,
        exact=bool(exact and np.isfinite(upper)),
    )
