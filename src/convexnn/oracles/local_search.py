"""Heuristic oracle for general data: multi-start local ascent plus a sound (loose) bound.

Maximizes ``g(u) = max_b v^T (X u + b 1)_+`` over unit ``u`` (and ``-v`` for the minimum;
``||V^T (Xu + b1)_+||`` for vector outputs). For a fixed ``u`` the best ``b`` is the kink
``-x_j^T u`` found exactly by sorting (``_common.kink_values``). Around ``u``, with the kink
sample ``j`` and the active set ``A = {i : (x_i - x_j)^T u > 0}`` fixed, ``g`` is linear:
``a^T u`` with ``a = sum_{i in A} v_i (x_i - x_j)``, maximized over the ball by ``a / ||a||``.
The ascent iterates that step (a fixed-point / power-type iteration that keeps the best
point seen) from many starts at once, all vectorized: data directions ``X^T v``,
``X^T (v)_+``, ``X^T (v)_-``, principal directions, differences of samples with large
``|v_i|``, random directions and the caller's ``seeds=(U, b)`` (e.g. the current network).

The bound is :func:`.bounds.general_upper_bound` (sound for any data, often loose), so a
certificate from this oracle is always valid, and ``exact`` only when a neuron attains it.
"""

from __future__ import annotations

import time

import numpy as np

from .._validation import check_option, check_positive_int, check_random_state
from ..problem import Problem
from ._common import check_dual_vector, finalize, scale_invariant
from .base import Oracle, OracleResult
from .bounds import general_upper_bound


class LocalSearch(Oracle):
    """Multi-start local ascent (candidates) + a sound general upper bound."""

    name = "local_search"
    sound = True  # the bound is always valid, though possibly loose

    def __init__(self, n_starts: int = 16, n_iter: int = 30) -> None:
        self.n_starts = check_positive_int(n_starts, "n_starts")
        self.n_iter = check_positive_int(n_iter, "n_iter")

    def __repr__(self) -> str:
        return f"LocalSearch(n_starts={self.n_starts}, n_iter={self.n_iter})"

    @scale_invariant
    def __call__(
        self,
        problem: Problem,
        v: np.ndarray,
        *,
        seeds: tuple | None = None,
        n_candidates: int = 8,
        random_state: int | np.random.Generator | None = 0,
        time_limit: float | None = None,
        bound: str | bool = "fast",
        **options,
    ) -> OracleResult:
        """Best neurons found by local ascent, and (``bound=True``) a sound upper bound.

        Parameters
        ----------
        seeds : (U, b) or None
            Extra starting neurons, e.g. the current network's (columns of U need not be
            unit; b may be None).
        n_candidates : int
            Neurons kept per sign.
        random_state : int, Generator or None
            Seed of the random starts.
        time_limit : float or None
            Seconds after which the ascent stops (the bound is still computed).
        bound : {'fast', 'tight', 'none'} (or True = 'tight', False = 'none')
            The sound upper bound: ``'fast'`` (Cauchy-Schwarz and triangle, milliseconds),
            ``'tight'`` (also the quadratic bound, several times tighter on real data but
            O(n^2 d^2); :func:`convexnn.certify` asks for it), ``'none'`` (``inf``).
        """
        v = check_dual_vector(problem, v)
        rng = check_random_state(random_state)
        U, b = ascent(
            problem,
            v,
            starts(problem, v, seeds, self.n_starts, rng),
            n_iter=self.n_iter,
            time_limit=time_limit,
        )
        upper = bound_for(problem, v, bound)
        return finalize(problem, v, U, b, upper, False, n_candidates)


def bound_for(problem: Problem, v: np.ndarray, bound: str | bool) -> float:
    """The sound upper bound of the requested kind (see :class:`LocalSearch`)."""
    kind = {True: "tight", False: "none"}.get(bound, bound) if isinstance(bound, bool) else bound
    kind = check_option(kind, "bound", ("fast", "tight", "none"))
    if kind == "none":
        return np.inf
    return general_upper_bound(problem, v, quadratic=kind == "tight")


def starts(
    problem: Problem,
    v: np.ndarray,
    seeds: tuple | None,
    n_random: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Starting directions (d, S), unit columns: data-driven, seeds, then random."""
    X = problem.X
    n, d = X.shape
    Xc = X - X.mean(axis=0) if problem.bias else X
    W = v[:, None] if v.ndim == 1 else v
    data = np.hstack([Xc.T @ W, Xc.T @ np.maximum(W, 0.0), Xc.T @ np.minimum(W, 0.0)])
    cols = [data, -data]
    _, _, Vt = np.linalg.svd(Xc, full_matrices=False)
    k = min(d, 4)
    cols += [Vt[:k].T, -Vt[:k].T]
    weight = np.abs(W).sum(axis=1)
    top = np.argsort(-weight, kind="stable")[: min(n, 8)]
    cols.append(Xc[top].T)
    if problem.bias and n > 1:
        pairs = rng.integers(0, n, size=(n_random, 2))
        cols.append((X[pairs[:, 0]] - X[pairs[:, 1]]).T)
    if seeds is not None:
        Us = np.asarray(seeds[0], dtype=float).reshape(d, -1)
        cols.append(Us)
    cols.append(rng.standard_normal((d, n_random)))
    S = np.hstack(cols)
    norms = np.linalg.norm(S, axis=0)
    S = S[:, norms > 1e-12 * max(norms.max(initial=0.0), 1e-300)]
    S = S / np.linalg.norm(S, axis=0)
    _, first = np.unique(np.round(S, 9).T, axis=0, return_index=True)
    return S[:, np.sort(first)]


def ascent(
    problem: Problem,
    v: np.ndarray,
    U0: np.ndarray,
    *,
    n_iter: int,
    time_limit: float | None = None,
    first_step: float = 1.0,
    last_step: float = 0.05,
    n_polish: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Run the kink / active-set ascent from every column of U0, for each sign.

    Step t moves ``u <- (u + s_t a / ||a||) / ||.||`` with ``s_t`` decreasing geometrically
    from ``first_step`` to ``last_step`` (damped steps find far better maxima than the full
    jump ``u <- a / ||a||``, which cycles between neighbouring cells); then ``n_polish`` full
    jumps from the best points reach the top of their linear pieces. Returns the best neuron
    of every start: (U (d, S'), b (S',)).
    """
    start = time.perf_counter()
    weights = [v, -v] if v.ndim == 1 else [v]
    steps = first_step * (last_step / first_step) ** (np.arange(n_iter) / max(n_iter - 1, 1))
    prune_at = {n_iter // 3, (2 * n_iter) // 3} - {0}
    found_U, found_b = [], []
    for w in weights:
        U = U0.copy()
        best_val = np.full(U.shape[1], -np.inf)
        best_U, best_b = U.copy(), np.zeros(U.shape[1])
        schedule = [*steps, *([None] * n_polish)]
        for t, step in enumerate(schedule):
            if step is None and t == n_iter:
                U = best_U.copy()
            if t in prune_at:  # drop duplicates and the weaker half; archive their best
                keep = _survivors(U, best_val)
                found_U.append(best_U[:, ~keep])
                found_b.append(best_b[~keep])
                U, best_val, best_U, best_b = (
                    U[:, keep],
                    best_val[keep],
                    best_U[:, keep],
                    best_b[keep],
                )
            val, b, a = _step(problem, w, U)
            better = val > best_val
            best_val[better] = val[better]
            best_U[:, better] = U[:, better]
            best_b[better] = b[better]
            if t == len(schedule) - 1:
                break
            norms = np.linalg.norm(a, axis=0)
            direction = a / np.where(norms > 0, norms, 1.0)
            U = direction if step is None else U + step * direction
            U = U / np.maximum(np.linalg.norm(U, axis=0), 1e-300)
            if time_limit is not None and time.perf_counter() - start > time_limit:
                break
        found_U.append(best_U)
        found_b.append(best_b)
    return np.hstack(found_U), np.concatenate(found_b)


def _survivors(U: np.ndarray, best_val: np.ndarray, min_keep: int = 8) -> np.ndarray:
    """Mask of the columns to keep iterating: distinct (to 1e-4) and in the better half."""
    S = U.shape[1]
    _, first = np.unique(np.round(U, 4).T, axis=0, return_index=True)
    distinct = np.zeros(S, dtype=bool)
    distinct[first] = True
    order = np.argsort(-np.where(distinct, best_val, -np.inf), kind="stable")
    keep = np.zeros(S, dtype=bool)
    keep[order[: max(min_keep, int(distinct.sum()) // 2)]] = True
    return keep & distinct


def _step(
    problem: Problem, w: np.ndarray, U: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each column u of U: ``max_b`` value, the best b, and the local linear coefficient.

    For matrix ``w`` (vector outputs) the value is ``||w^T (Xu + b1)_+||`` and the
    coefficient that of ``e^T w^T (Xu + b1)_+`` with ``e`` the current output direction.
    Works on ``Z^T = U^T X^T`` (S, n) so that sorting runs along contiguous rows.
    """
    X = problem.X
    Z = U.T @ X.T  # (S, n)
    S, n = Z.shape
    rows = np.arange(S)
    if not problem.bias:
        mask = Z > 0
        H = np.where(mask, Z, 0.0)
        if w.ndim == 1:
            vals = H @ w
            coef = mask * w
        else:
            out = H @ w  # (S, k)
            vals = np.linalg.norm(out, axis=1)
            e = out / np.maximum(vals, 1e-300)[:, None]
            coef = mask * (e @ w.T)
        return vals, np.zeros(S), X.T @ coef.T
    order = np.argsort(-Z, axis=1)
    Zs = np.take_along_axis(Z, order, axis=1)
    if w.ndim == 1:
        Ws = w[order]
        vals_all = np.cumsum(Ws * Zs, axis=1) - Zs * np.cumsum(Ws, axis=1)
        k = np.argmax(vals_all, axis=1)
        vals = vals_all[rows, k]
        weights = w[None, :]
    else:
        Ws = w[order]  # (S, n, k)
        P = np.cumsum(Ws * Zs[:, :, None], axis=1) - Zs[:, :, None] * np.cumsum(Ws, axis=1)
        norms = np.linalg.norm(P, axis=2)
        k = np.argmax(norms, axis=1)
        vals = norms[rows, k]
        e = P[rows, k] / np.maximum(vals, 1e-300)[:, None]  # (S, k)
        weights = e @ w.T  # (S, n)
    b = -Zs[rows, k]
    j = order[rows, k]
    coef = np.where(Z + b[:, None] > 0, weights, 0.0)  # (S, n)
    a = X.T @ coef.T - X[j].T * coef.sum(axis=1)
    return vals, b, a
