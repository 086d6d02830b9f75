"""Active-set polishing of a nearly optimal solution of the ReLU program (float64, numpy).

An interior-point iterate identifies, long before it reaches full accuracy, which blocks are
nonzero and which cone constraints ``(S_j A u_j)_i >= 0`` are tight (as OSQP's polishing
does for QPs). With that guess the program becomes smooth and unconstrained: each nonzero
block lives in the null space of its tight rows, ``u_j = N_j theta_j``, and::

    min_theta  1/2 ||C (sum_j sigma_j D_j A N_j theta_j - y)||^2 + beta sum_j ||(N_j theta_j)[:d]||

is solved by Newton's method with backtracking (the norms stay away from 0 near the guess).
Constraints the result violates are added to the guess and the solve repeated; the result
is kept only if it satisfies every cone constraint (to 1e-12 relative) and has a lower
objective than the iterate it started from. Several thresholds for "tight" are tried.
"""

from __future__ import annotations

import numpy as np


def program_value(
    A: np.ndarray,
    D: np.ndarray,
    y: np.ndarray,
    beta: float,
    d: int,
    center: bool,
    pos: np.ndarray,
    neg: np.ndarray,
) -> float:
    """The ReLU program's objective (best offset when ``center``) of blocks (d', P) each."""
    r = np.sum(D * (A @ (pos - neg)), axis=1) - y
    if center:
        r = r - r.mean()
    pen = np.linalg.norm(pos[:d], axis=0).sum() + np.linalg.norm(neg[:d], axis=0).sum()
    return 0.5 * float(r @ r) + beta * float(pen)


def cone_violation(A: np.ndarray, D: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float:
    """``max_j max_i -(S_j A u_j)_i`` (0 when feasible)."""
    S = 2.0 * D - 1.0
    return max(float(np.max(-(S * (A @ B)), initial=0.0)) for B in (pos, neg))


def polish(
    A: np.ndarray,
    D: np.ndarray,
    y: np.ndarray,
    beta: float,
    d: int,
    center: bool,
    pos: np.ndarray,
    neg: np.ndarray,
    *,
    tight: np.ndarray | None = None,
    thresholds: tuple[float, ...] = (1e-5, 1e-6, 1e-4),
    rounds: int = 2,
    max_newton: int = 20,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Polished ``(pos, neg, improved)``; the input is returned when no guess helps.

    ``tight`` (n, 2P) is the guess of tight constraints (an interior-point method's
    ``slack < multiplier``); without it, constraints whose relative margin is below each of
    ``thresholds`` are tried. Constraints the polished point violates are added and the solve
    repeated (``rounds``).
    """
    start = program_value(A, D, y, beta, d, center, pos, neg)
    S = 2.0 * np.hstack([D, D]) - 1.0
    blocks = np.hstack([pos, neg])
    if tight is not None:
        guesses = [tight]
    else:
        row_norms = np.linalg.norm(A, axis=1)
        norms = np.maximum(np.linalg.norm(blocks, axis=0), 1e-300)
        margins = S * (A @ blocks) / (row_norms[:, None] * norms)
        guesses = [margins <= tau for tau in thresholds]
    for guess_tight in guesses:
        current = guess_tight
        for _ in range(rounds):
            guess = _polish_once(A, D, y, beta, d, center, blocks, current, max_newton)
            if guess is None:
                break
            values = S * (A @ guess)
            scale = max(float(np.abs(values).max(initial=0.0)), 1e-300)
            violated = values < -1e-12 * scale
            if not violated.any():
                p2, n2 = guess[:, : D.shape[1]], guess[:, D.shape[1] :]
                if program_value(A, D, y, beta, d, center, p2, n2) <= start:
                    return p2, n2, True
                break
            current = current | violated
    return pos, neg, False


def _polish_once(A, D, y, beta, d, center, blocks, tight, max_newton, live_tol=1e-3):
    """Newton on the smooth problem for one guess; blocks (d', 2P), tight (n, 2P) bool."""
    n, dp = A.shape
    P = D.shape[1]
    sign = np.concatenate([np.ones(P), -np.ones(P)])
    wnorm = np.linalg.norm(blocks[:d], axis=0)
    live = np.flatnonzero(wnorm > live_tol * wnorm.max(initial=0.0))
    if live.size == 0:
        return None
    cols, bases, slices, kept, start = [], [], [], [], 0
    for j in live:
        Dj = D[:, j % P]
        u = blocks[:, j]
        rows = tight[:, j]
        if rows.any():
            _, s, Vt = np.linalg.svd(A[rows], full_matrices=True)
            rank = int(np.sum(s > 1e-10 * s.max()))
            N = Vt[rank:].T
        else:
            N = np.eye(dp)
        if N.shape[1] == 0 or np.linalg.norm(N[:d].T @ u[:d]) == 0:
            continue
        bases.append(N)
        kept.append(j)
        cols.append(sign[j] * (Dj[:, None] * (A @ N)))
        slices.append(slice(start, start + N.shape[1]))
        start += N.shape[1]
    if not bases:
        return None
    M = np.hstack(cols)
    if center:
        M = M - M.mean(axis=0)
    yc = y - y.mean() if center else y
    Q, q = M.T @ M, M.T @ yc
    theta = np.concatenate([N.T @ blocks[:, j] for N, j in zip(bases, kept)])
    T = [N[:d] for N in bases]

    def value_grad_hess(th, need_hess=True):
        r = M @ th - yc
        val = 0.5 * float(r @ r)
        g = Q @ th - q
        H = Q.copy() if need_hess else None
        for Tj, sl in zip(T, slices):
            w = Tj @ th[sl]
            nw = np.linalg.norm(w)
            if nw == 0:
                return np.inf, None, None
            val += beta * nw
            g[sl] += beta * (Tj.T @ w) / nw
            if need_hess:
                Tw = Tj.T @ w
                H[sl, sl] += beta * (Tj.T @ Tj / nw - np.outer(Tw, Tw) / nw**3)
        return val, g, H

    val, g, H = value_grad_hess(theta)
    if not np.isfinite(val):
        return None
    for _ in range(max_newton):
        ridge = 1e-14 * max(np.abs(np.diag(H)).max(initial=0.0), 1.0)
        try:
            step = -np.linalg.solve(H + ridge * np.eye(H.shape[0]), g)
        except np.linalg.LinAlgError:
            return None
        decrease = float(g @ step)
        if -decrease <= 1e-15 * max(abs(val), 1.0):
            break
        t = 1.0
        while t > 1e-10:
            v_new = value_grad_hess(theta + t * step, need_hess=False)[0]
            if v_new <= val + 1e-4 * t * decrease:
                break
            t *= 0.5
        else:
            break
        theta = theta + t * step
        val, g, H = value_grad_hess(theta)
    new = np.zeros_like(blocks)
    for N, j, sl in zip(bases, kept, slices):
        new[:, j] = N @ theta[sl]
    return new
