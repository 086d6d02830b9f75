"""A sound (possibly loose) upper bound on ``max |v^T (X u + b 1)_+|`` for any data.

Checking the dual constraint is NP-hard in general (Remark 3), but bounding it is easy. The
maximum over ``b`` sits at a kink ``b = -x_j^T u`` (see ``_common``), so with
``P = {i : v_i > 0}``::

    max_{u,b} v^T (Xu + b1)_+ = max_j max_u sum_i v_i ((x_i - x_j)^T u)_+
                              <= max_j min( ||v_P|| ||X_P - 1 x_j^T||_2 ,
                                            sum_{i in P} v_i ||x_i - x_j|| )

(Cauchy-Schwarz on the positive terms, and the triangle inequality), and the same for the
minimum with ``N = {i : v_i < 0}``. Without bias only ``x_j = 0`` occurs. For vector outputs
``||sum_i V_i h_i|| <= sum_i ||V_i|| h_i`` reduces to the scalar case with weights
``||V_i||``. On whitened data without bias (``X X^T = I``) the first bound is exact
(``||v_+||``, Thm 9's dual). All spectral norms are computed with a rounding allowance, so
the result errs upward.
"""

from __future__ import annotations

import numpy as np

from ..problem import Problem
from ._common import EPS, row_norms

_GRAM_MAX_D = 64
_QUAD_BUDGET = 5e8  # anchors * n * d^2 above which the quadratic bound is skipped
_QUAD_BLOCK = 20_000_000  # floats per block of weighted Gram matrices
_PAIRWISE_MAX = 4_000_000  # entries of the n x n distance matrix computed per block
_QUAD_SECONDS = 2.5e-8  # s per anchors * n * (d^2 + d): diabetes 3.1e-8, breast cancer 2e-8


def general_upper_bound(problem: Problem, v: np.ndarray, *, quadratic: bool = True) -> float:
    """``max_{||u|| <= 1, b} |v^T (X u + b 1)_+|`` is at most this (any data, any v).

    The per-kink minimum of the Cauchy-Schwarz, triangle and (scalar outputs, when
    ``quadratic`` and affordable) quadratic bounds, maximized over kinks and signs.
    """
    # homogeneous in X and in v: work at unit scale so that squares never under/overflow
    x_scale = float(np.max(np.abs(problem.X), initial=0.0))
    v_scale = float(np.max(np.abs(v), initial=0.0))
    if x_scale == 0.0 or v_scale == 0.0:
        return 1e-300
    X = problem.X / x_scale
    v = v / v_scale
    bound = _unit_bound(X, v, problem.bias, quadratic)
    return bound * x_scale * v_scale * (1.0 + 8 * EPS) + 1e-300


def tight_bound_seconds(problem: Problem) -> float:
    """A rough estimate (seconds) of the extra cost of the quadratic ('tight') bound over the
    fast one: O(anchors * n * d^2) flops, 0 when it would be skipped anyway (vector outputs,
    or above the size budget). Used to decide whether a time limit leaves room for it."""
    n, d = problem.X.shape
    anchors = n if problem.bias else 1
    if problem.n_outputs is not None or anchors * n * d**2 > _QUAD_BUDGET:
        return 0.0
    return _QUAD_SECONDS * anchors * n * (d * d + d)


def _unit_bound(X: np.ndarray, v: np.ndarray, bias: bool, quadratic: bool) -> float:
    anchors = X if bias else np.zeros((1, X.shape[1]))
    signed = [v, -v] if v.ndim == 1 else [row_norms(v)]
    use_quad = (
        quadratic and v.ndim == 1 and len(anchors) * X.shape[0] * X.shape[1] ** 2 <= _QUAD_BUDGET
    )
    best = 0.0
    for w in signed:
        keep = w > 0
        if not np.any(keep):
            continue
        per_anchor = _one_sign_bound(X[keep], w[keep], anchors)
        if use_quad:
            per_anchor = np.minimum(per_anchor, quadratic_bound(X, w, anchors))
        best = max(best, float(np.max(per_anchor)))
    # evaluating (x_i^T u + b) itself rounds at the scale of the data: allow for it
    evaluation = 8 * (X.shape[1] + 2) * EPS * float(np.sum(row_norms(v))) * _data_scale(X)
    return best * (1.0 + 1e-12) + evaluation


def _data_scale(X: np.ndarray) -> float:
    return float(np.max(np.linalg.norm(X, axis=1), initial=0.0))


def quadratic_bound(X: np.ndarray, w: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Per anchor ``x_j``: a bound on ``max_{||u|| <= 1} sum_i w_i ((x_i - x_j)^T u)_+``.

    With ``w_i = x_i - x_j``, ``R_i >= ||w_i||``, ``(t)_+ = (t + |t|) / 2`` and, for any
    ``tau > 0``, ``|t| <= (tau R_i + t^2 / (tau R_i)) / 2`` (AM-GM; terms with ``w_i > 0``) and
    ``|t| >= t^2 / R_i`` (``|t| <= R_i``; terms with ``w_i < 0``)::

        g_j(u) <= ||a_j|| / 2 + tau L / 4 + lambda_max(B_P / (2 tau) - B_N)_+ / 2,

    ``a_j = sum_i w_i (x_i - x_j)``, ``L = sum_P w_i R_i``, ``B_P = sum_P (w_i / R_i) w_i w_i^T``,
    ``B_N = sum_N (|w_i| / R_i) w_i w_i^T``. The right side is convex in ``tau``; a golden
    section search on ``log tau`` picks ``tau`` (any value is valid). Unlike Cauchy-Schwarz
    this bound sees the cancellation of the negative weights.
    """
    n, d = X.shape
    out = np.empty(len(anchors))
    block = max(1, _QUAD_BLOCK // max(n * d * (d + 1), 1))
    for start in range(0, len(anchors), block):
        A = anchors[start : start + block]
        out[start : start + block] = _quadratic_block(X, w, A)
    return out


def _quadratic_block(X: np.ndarray, w: np.ndarray, A: np.ndarray) -> np.ndarray:
    n, d = X.shape
    J = len(A)
    R = np.linalg.norm(X[None, :, :] - A[:, None, :], axis=2) * (1.0 + 8 * (d + 2) * EPS)
    live = R > 0  # R_ij >= ||x_i - a_j|| despite rounding; zero rows contribute nothing
    R = np.where(live, R, 1.0)
    pos = np.where(live & (w > 0)[None, :], w[None, :] / R, 0.0)  # (J, n)
    neg = np.where(live & (w < 0)[None, :], -w[None, :] / R, 0.0)
    L = np.sum(np.where(live & (w > 0)[None, :], w[None, :] * R, 0.0), axis=1)
    BP, BN = _weighted_gram(X, A, pos), _weighted_gram(X, A, neg)
    a = (X.T @ w)[:, None] - A.T * w.sum()  # (d, J)
    half_a = 0.5 * np.linalg.norm(a, axis=0)
    # a_j may cancel to ~0: allow its absolute rounding error explicitly
    mass = float(np.abs(w) @ np.linalg.norm(X, axis=1))
    half_a += 4 * (n + d + 2) * EPS * (mass + float(np.sum(np.abs(w))) * np.linalg.norm(A, axis=1))
    lam_p = np.linalg.eigvalsh(BP)[:, -1]
    tau0 = np.sqrt(np.maximum(lam_p, 1e-300) / np.maximum(L, 1e-300))

    def f(log_tau: np.ndarray) -> np.ndarray:
        tau = tau0 * np.exp(log_tau)
        M = BP / (2 * tau)[:, None, None] - BN
        lam = np.linalg.eigvalsh(M)[:, -1]
        slack = 16 * d * EPS * (np.linalg.norm(BP, axis=(1, 2)) / (2 * tau) + _fro(BN))
        return 0.25 * tau * L + 0.5 * np.maximum(lam + slack, 0.0)

    lo, hi = np.full(J, np.log(1e-4)), np.full(J, np.log(10.0))
    g = (np.sqrt(5.0) - 1) / 2
    x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
    f1, f2 = f(x1), f(x2)
    for _ in range(24):  # golden section: every value evaluated is itself a valid bound
        left = f1 < f2  # the minimum lies in [lo, x2]
        hi = np.where(left, x2, hi)
        lo = np.where(left, lo, x1)
        x_new = np.where(left, hi - g * (hi - lo), lo + g * (hi - lo))
        f_new = f(x_new)
        x1, x2 = np.where(left, x_new, x2), np.where(left, x1, x_new)
        f1, f2 = np.where(left, f_new, f2), np.where(left, f1, f_new)
    return (half_a + np.minimum(f1, f2)) * (1.0 + 64 * (n + d) * EPS)


def _weighted_gram(X: np.ndarray, A: np.ndarray, C: np.ndarray) -> np.ndarray:
    """``sum_i C_ji (x_i - a_j)(x_i - a_j)^T`` for every row j: (J, d, d)."""
    n, d = X.shape
    outer = (X[:, :, None] * X[:, None, :]).reshape(n, d * d)
    G = (C @ outer).reshape(-1, d, d)
    s = C @ X  # (J, d)
    c = C.sum(axis=1)
    cross = s[:, :, None] * A[:, None, :]
    return G - cross - np.swapaxes(cross, 1, 2) + c[:, None, None] * A[:, :, None] * A[:, None, :]


def _fro(M: np.ndarray) -> np.ndarray:
    return np.linalg.norm(M, axis=(1, 2))


def _one_sign_bound(XP: np.ndarray, w: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """``min(||w|| ||XP - 1 a_j^T||_2, sum_i w_i ||x_i - a_j||)`` for every anchor a_j."""
    spectral = np.linalg.norm(w) * _spectral_norms(XP, anchors)
    triangle = _triangle(XP, w, anchors)
    return np.minimum(spectral, triangle)


def _spectral_norms(XP: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Upper bounds on ``||XP - 1 a_j^T||_2`` for every anchor row ``a_j``."""
    nP, d = XP.shape
    if d <= _GRAM_MAX_D:
        G0 = XP.T @ XP
        s = XP.sum(axis=0)
        out = np.empty(len(anchors))
        block = max(1, 2_000_000 // (d * d))
        for start in range(0, len(anchors), block):
            A = anchors[start : start + block]
            cross = A[:, :, None] * s[None, None, :]
            G = G0 - cross - np.swapaxes(cross, 1, 2) + nP * A[:, :, None] * A[:, None, :]
            lam = np.linalg.eigvalsh(G)[:, -1]
            slack = 16 * (d + nP) * EPS * np.linalg.norm(G, axis=(1, 2))
            out[start : start + block] = np.sqrt(np.maximum(lam, 0.0) + slack)
        return out * (1.0 + 8 * EPS)
    mu = XP.mean(axis=0)
    base = np.linalg.norm(XP - mu, 2) * (1.0 + 1e-10)
    return base + np.sqrt(nP) * np.linalg.norm(anchors - mu, axis=1) * (1.0 + 8 * EPS)


def _triangle(XP: np.ndarray, w: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """``sum_i w_i ||x_i - a_j||`` for every anchor (inf when too large to compute)."""
    nP = XP.shape[0]
    if nP * len(anchors) > 50 * _PAIRWISE_MAX:
        return np.full(len(anchors), np.inf)
    out = np.empty(len(anchors))
    block = max(1, _PAIRWISE_MAX // max(nP, 1))
    sq = np.sum(XP**2, axis=1)
    for start in range(0, len(anchors), block):
        A = anchors[start : start + block]
        D2 = sq[None, :] + np.sum(A**2, axis=1)[:, None] - 2.0 * A @ XP.T
        slack = 8 * (XP.shape[1] + 2) * EPS * (sq[None, :] + np.sum(A**2, axis=1)[:, None])
        out[start : start + block] = np.sqrt(np.maximum(D2, 0.0) + slack) @ w
    return out * (1.0 + 4 * (nP + 2) * EPS)
