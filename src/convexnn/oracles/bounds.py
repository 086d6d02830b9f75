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
_PAIRWISE_MAX = 4_000_000  # entries of the n x n distance matrix computed per block


def general_upper_bound(problem: Problem, v: np.ndarray) -> float:
    """``max_{||u|| <= 1, b} |v^T (X u + b 1)_+|`` is at most this (any data, any v)."""
    X = problem.X
    weights = [np.maximum(v, 0.0), np.maximum(-v, 0.0)] if v.ndim == 1 else [row_norms(v)]
    anchors = X if problem.bias else np.zeros((1, X.shape[1]))
    best = 0.0
    for w in weights:
        keep = w > 0
        if not np.any(keep):
            continue
        best = max(best, _one_sign_bound(X[keep], w[keep], anchors))
    return best * (1.0 + 1e-12) + 1e-300


def _one_sign_bound(XP: np.ndarray, w: np.ndarray, anchors: np.ndarray) -> float:
    """``max_j min(||w|| ||XP - 1 a_j^T||_2, sum_i w_i ||x_i - a_j||)`` over anchors a_j."""
    spectral = np.linalg.norm(w) * _spectral_norms(XP, anchors)
    triangle = _triangle(XP, w, anchors)
    return float(np.max(np.minimum(spectral, triangle)))


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
