"""Hyperplane arrangements: the sign patterns ``D = diag(1[X u + b >= 0])``.

The convex reformulation (Pilanci & Ergen, ICML 2020; NOTES §5) has one block of variables
per sign pattern of the arrangement of the hyperplanes ``{w : x_i^T w = 0}`` of the
augmented data ``[X, 1]`` (``bias=True``) or ``X``. Patterns are returned as boolean
matrices of shape (n, P), one column per pattern.

Cover's bound: a central arrangement of n hyperplanes in R^r has at most
``2 sum_{k<r} C(n-1, k)`` cells, with equality in general position.
"""

from __future__ import annotations

import builtins
from math import comb
from typing import Any

import numpy as np

from ._validation import as_float_array, check_positive_int, check_random_state

DEFAULT_MAX_PATTERNS = 200_000


def _augment(X: Any, bias: bool) -> np.ndarray:
    X = as_float_array(X, "X", ndim=2)
    if not isinstance(bias, (bool, np.bool_)):
        raise TypeError(f"The 'bias' parameter must be a bool, got {bias!r}.")
    return np.hstack([X, np.ones((X.shape[0], 1))]) if bias else X


def _unique_columns(D: np.ndarray) -> np.ndarray:
    """Distinct columns of a boolean matrix, in order of first appearance."""
    if D.shape[1] == 0:
        return D
    packed = np.packbits(D, axis=0)
    _, first = np.unique(packed.T, axis=0, return_index=True)
    return D[:, np.sort(first)]


def count_bound(n: int, r: int) -> int:
    """Cover's bound ``2 sum_{k<r} C(n-1, k)`` on the number of cells (patterns)."""
    n = check_positive_int(n, "n")
    r = check_positive_int(r, "r")
    return 2 * sum(comb(n - 1, k) for k in range(r))


def sample(
    X: Any,
    n_patterns: int,
    bias: bool = True,
    seed: Any = 0,
    *,
    max_tries: int | None = None,
) -> np.ndarray:
    """Sample distinct nonzero sign patterns ``1[X u + b >= 0]`` with Gaussian ``(u, b)``.

    Draws Gaussian directions of the augmented data ``[X, 1]`` (the bias of each gate is on
    the scale of the data: ``b ~ N(0, 1)`` after centering on the data mean) until
    ``n_patterns`` distinct nonzero patterns are found or ``max_tries`` draws were made
    (default ``20 * n_patterns``). Returns a boolean array of shape (n, P), P <= n_patterns.
    """
    A = _augment(X, bias)
    n_patterns = check_positive_int(n_patterns, "n_patterns")
    rng = check_random_state(seed, "seed")
    max_tries = 20 * n_patterns if max_tries is None else check_positive_int(max_tries, "max_tries")
    if bias:  # gates through the data cloud: center and scale the features
        mu = A[:, :-1].mean(axis=0)
        scale = A[:, :-1].std(axis=0)
        scale[scale == 0] = 1.0
        A = np.hstack([(A[:, :-1] - mu) / scale, np.ones((A.shape[0], 1))])
    found = np.zeros((A.shape[0], 0), dtype=bool)
    tries = 0
    batch = max(n_patterns, 16)
    while found.shape[1] < n_patterns and tries < max_tries:
        G = rng.standard_normal((A.shape[1], batch))
        D = A @ G >= 0
        D = D[:, D.any(axis=0)]
        found = _unique_columns(np.hstack([found, D]))
        tries += batch
    return found[:, :n_patterns]


def enumerate(  # noqa: A001 - the public name is promised in ARCHITECTURE.md
    X: Any,
    bias: bool = True,
    *,
    max_patterns: int = DEFAULT_MAX_PATTERNS,
    tol: float = 1e-10,
) -> np.ndarray:
    """Every sign pattern of the arrangement (one per full-dimensional cell).

    Works for any rank r of the augmented data, exactly: the cells of a central arrangement
    in R^r are found around its rays (intersections of r - 1 independent hyperplanes); around
    each ray the local arrangement is one of rank r - 1, enumerated recursively. Ties (points
    on a common hyperplane) are handled by that local recursion. The all-zero pattern is
    included when it is a cell (it always is with ``bias=True``). Raises ``ValueError`` when
    Cover's bound for the data's rank exceeds ``max_patterns``.

    Returns a boolean array of shape (n, P) with ``D[i, p] = 1[x_i^T w_p > 0]`` for a point
    ``w_p`` inside cell p.
    """
    A = _normalize(_augment(X, bias))
    n = A.shape[0]
    Z, _ = _reduce(A, tol)
    r = Z.shape[1]
    bound = count_bound(n, r) if r > 0 else 1
    if bound > max_patterns:
        raise ValueError(
            f"enumerate: the arrangement of {n} points of augmented rank {r} may have up to "
            f"{bound} patterns, more than max_patterns={max_patterns}; use "
            "arrangements.sample or method='cutting_plane'."
        )
    if r == 0:
        return np.zeros((n, 1), dtype=bool)
    W = _cell_points(Z, tol)
    return _unique_columns(Z @ W > 0)


def _normalize(A: np.ndarray) -> np.ndarray:
    """Scale nonzero columns, then nonzero rows, to unit norm: the patterns do not change.

    ``1[A w > 0]`` is invariant under ``A -> R A S`` for positive diagonal R and invertible
    diagonal S, so features on wildly different scales (1e-6 ... 1e6) neither hide cells
    from the rank test nor drop rows as numerically zero.
    """
    col = np.linalg.norm(A, axis=0)
    A = A / np.where(col > 0, col, 1.0)
    row = np.linalg.norm(A, axis=1, keepdims=True)
    return A / np.where(row > 0, row, 1.0)


def _reduce(A: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of the rows of A in an orthonormal basis of its row space."""
    _, s, Vt = np.linalg.svd(A, full_matrices=False)
    r = int(np.sum(s > tol * max(s.max(initial=0.0), 1.0) * max(A.shape)))
    V = Vt[:r].T
    return A @ V, V


def _cell_points(Z: np.ndarray, tol: float) -> np.ndarray:
    """One interior point of every cell of the central arrangement {z_i^T w = 0} in R^r.

    Z has full column rank r. Rows equal to zero are ignored. Returns (r, P) points.
    """
    norms = np.linalg.norm(Z, axis=1)
    Z = Z[norms > tol * norms.max(initial=0.0)]
    Zn = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    r = Z.shape[1]
    if r == 1:
        return np.array([[1.0, -1.0]])
    if r == 2:
        # lines through the origin: cells are the sectors between consecutive boundary rays
        theta = np.arctan2(Zn[:, 1], Zn[:, 0])
        rays = np.concatenate([theta + np.pi / 2, theta - np.pi / 2]) % (2 * np.pi)
        rays = np.unique(np.round(rays, 12))
        nxt = np.append(rays[1:], rays[0] + 2 * np.pi)
        mid = (rays + nxt) / 2
        return np.vstack([np.cos(mid), np.sin(mid)])
    points = []
    for ray in _rays(Zn, tol):
        on = np.abs(Zn @ ray) <= 1e3 * tol
        # local arrangement around the ray: hyperplanes through it, in its orthogonal complement
        basis = np.linalg.svd(np.eye(r) - np.outer(ray, ray))[0][:, : r - 1]
        local = _cell_points(Zn[on] @ basis, tol)
        eps = _safe_step(Zn, ray, on)
        points.append(ray[:, None] + eps * (basis @ local))
    return np.hstack(points)


def _rays(Zn: np.ndarray, tol: float) -> builtins.list[np.ndarray]:
    """Both directions of every ray where r - 1 independent hyperplanes meet (deduplicated)."""
    from itertools import combinations

    r = Zn.shape[1]
    found = []
    for idx in combinations(range(Zn.shape[0]), r - 1):
        sub = Zn[list(idx)]
        _, s, Vt = np.linalg.svd(sub)
        if s[-1] <= 1e3 * tol:
            continue
        ray = Vt[-1]
        found.append(ray)
        found.append(-ray)
    if not found:
        return []
    R = np.round(np.array(found), 9)
    _, first = np.unique(R, axis=0, return_index=True)
    return [found[i] for i in np.sort(first)]


def _safe_step(Zn: np.ndarray, ray: np.ndarray, on: np.ndarray) -> float:
    """A step small enough that leaving the ray crosses no hyperplane not through it."""
    off = np.abs(Zn[~on] @ ray)
    return 0.25 * float(off.min()) if off.size else 1.0


def count(X: Any, bias: bool = True, **kwargs: Any) -> int:
    """Number of patterns of the arrangement (``enumerate(X, bias).shape[1]``)."""
    return enumerate(X, bias, **kwargs).shape[1]
