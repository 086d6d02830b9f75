"""Exact oracle for data of low (augmented) rank, by the cells of hyperplane arrangements.

With bias the best ``b`` is a kink ``-x_j^T u`` (see ``_common``), so::

    max_{||u|| <= 1, b} v^T (Xu + b1)_+ = max_j max_{||u|| <= 1} g_j(u),
    g_j(u) = sum_i v_i ((x_i - x_j)^T u)_+

(without bias only ``g(u) = sum_i v_i (x_i^T u)_+``). On each cell ``C`` of the central
arrangement of ``{w : (x_i - x_j)^T w = 0}``, ``g_j`` is linear, ``a_C^T u``, and by Moreau's
decomposition ``max_{u in C, ||u|| <= 1} a_C^T u = ||Pi_C(a_C)|| = min_{lam >= 0}
||a_C + G_C^T lam||`` where ``C = {u : G_C u >= 0}``; *any* ``lam >= 0`` gives an upper
bound (weak duality), so an approximate NNLS solution is still sound.

- Rank 2 (2-D data, or points on a plane): an exact angular sweep over the circle for every
  ``j`` at once, O(n^2 log n): on each sector the maximum is at an end or at the direction
  of ``a_C`` (vector outputs: of the top eigenvector of ``A_C A_C^T``) — exact for scalar
  and vector outputs.
- Rank r >= 3: :func:`convexnn.arrangements.enumerate` lists the cells for each ``j``; the
  NNLS bound above runs on the cells not already dominated by a neuron found (scalar outputs:
  exact; vector outputs: a sound bound per cell from the rows of ``A_C``, ``exact=False``
  unless a neuron attains it).

The data are first written in their row-space coordinates (``_common.reduce_data``); any
residual is added to the bound, and every rounding allowance errs upward.
"""

from __future__ import annotations

import weakref
from math import comb

import numpy as np
from scipy.optimize import nnls

from .. import arrangements
from ..problem import Problem
from ._common import (
    EPS,
    Reduction,
    check_dual_vector,
    finalize,
    prefix_error_terms,
    prefix_sum,
    reduce_data,
    residual_slack,
    scale_invariant,
    top_indices,
)
from .base import Oracle, OracleResult
from .exact_1d import line_oracle
from .local_search import ascent, starts

_cells_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

#: largest total number of cells (over all kinks j) enumerated for rank >= 3
DEFAULT_MAX_CELLS = 50_000
#: largest rank enumerated (arrangements.enumerate slows down sharply above 3)
DEFAULT_MAX_RANK = 3
#: largest n for the rank-2 sweep (memory ~ n^2)
DEFAULT_MAX_SWEEP = 1_500


class Enumeration(Oracle):
    """Exact dual-constraint check for low augmented rank (arrangement cells)."""

    name = "enumeration"
    sound = True

    def __init__(
        self,
        max_cells: int = DEFAULT_MAX_CELLS,
        max_sweep: int = DEFAULT_MAX_SWEEP,
        max_rank: int = DEFAULT_MAX_RANK,
    ) -> None:
        self.max_cells = int(max_cells)
        self.max_sweep = int(max_sweep)
        self.max_rank = int(max_rank)

    def __repr__(self) -> str:
        return (
            f"Enumeration(max_cells={self.max_cells}, max_sweep={self.max_sweep}, "
            f"max_rank={self.max_rank})"
        )

    def supports(self, problem: Problem) -> str | None:
        return self._reason(problem, reduce_data(problem).rank)

    def _reason(self, problem: Problem, r: int) -> str | None:
        n = problem.n_samples
        if r <= 1:
            return None
        if r == 2:
            if n > self.max_sweep:
                return f"the rank-2 sweep is limited to n <= {self.max_sweep}, got n = {n}"
            return None
        kind = "affine" if problem.bias else "linear"
        if r > self.max_rank:
            return (
                f"enumeration needs {kind} rank <= {self.max_rank}, got {kind} rank {r} "
                "(the cell enumeration cost grows like n^(rank-1) per kink); use "
                "oracle='local_search'"
            )
        cells = cell_count_bound(n, r, problem.bias)
        if cells > self.max_cells:
            return (
                f"enumeration at {kind} rank {r} with n = {n} may visit up to {cells} cells, "
                f"more than max_cells = {self.max_cells}; use oracle='local_search'"
            )
        return None

    @scale_invariant
    def __call__(
        self, problem: Problem, v: np.ndarray, *, n_candidates: int = 8, **options
    ) -> OracleResult:
        """Exact maximizers and minimizers of ``v^T (Xu + b1)_+`` (norm for vector outputs).

        Options other than ``n_candidates`` (``seeds``, ``time_limit``) are ignored.
        """
        v = check_dual_vector(problem, v)
        red = reduce_data(problem)
        reason = self._reason(problem, red.rank)
        if reason is not None:
            raise ValueError(f"Oracle 'enumeration' does not apply to {problem}: {reason}.")
        if red.rank <= 1:
            return line_oracle(problem, v, red, n_candidates)
        if red.rank == 2:
            return _sweep_oracle(problem, v, red, n_candidates)
        return _cells_oracle(problem, v, red, n_candidates)


def cell_count_bound(n: int, r: int, bias: bool) -> int:
    """Cells visited for rank r: Cover's bound for each kink (n kinks with bias, 1 without)."""
    per_kink = 2 * sum(comb(max(n - 2, 0), k) for k in range(r))
    return n * per_kink if bias else arrangements.count_bound(n, r)


def _kink_vectors(red: Reduction, bias: bool, rows: np.ndarray | None = None) -> np.ndarray:
    """``W[j, i] = t_i - t_j`` (J, n, r) for the kinks in ``rows`` (bias), else ``t_i``."""
    T = red.T
    if not bias:
        return T[None]
    rows = np.arange(len(T)) if rows is None else rows
    return T[None, :, :] - T[rows][:, None, :]


def _lift(problem: Problem, red: Reduction, Ur: np.ndarray, anchors: np.ndarray | None):
    """Neurons (U, b) in the original space from reduced directions (r, S) and kink rows."""
    U = red.B @ Ur
    if not problem.bias:
        return U, None
    b = -np.einsum("sr,rs->s", red.T[anchors], Ur) - red.m @ U
    return U, b


# ---------------------------------------------------------------------------- rank 2
def _sweep_oracle(problem: Problem, v: np.ndarray, red: Reduction, q: int) -> OracleResult:
    n = red.T.shape[0]
    J = n if problem.bias else 1
    block = max(1, 2_000_000 // (n * (1 if v.ndim == 1 else v.shape[1] + 1)))
    upper = 0.0
    cand_val, cand_ang, cand_row = [], [], []
    for start in range(0, J, block):
        rows = np.arange(start, min(J, start + block))
        W = _kink_vectors(red, problem.bias, rows)
        bound, vals, angles = _sweep(W, v)
        upper = max(upper, bound)
        # the best few directions of each sign in this block
        for sign in (1.0, -1.0) if v.ndim == 1 else (1.0,):
            flat = (sign * vals).ravel()
            top = top_indices(flat, 2 * q)
            jj, kk = np.unravel_index(top, vals.shape)
            cand_val.append(flat[top])
            cand_ang.append(angles[jj, kk])
            cand_row.append(rows[jj] if problem.bias else np.zeros_like(jj))
    ang = np.concatenate(cand_ang)
    Ur = np.vstack([np.cos(ang), np.sin(ang)])
    U, b = _lift(problem, red, Ur, np.concatenate(cand_row))
    upper += residual_slack(red, v)
    return finalize(problem, v, U, b, upper, red.faithful, q)


def _sweep(W: np.ndarray, v: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Exact extrema of ``g_j(u) = sum_i v_i (w_ji^T u)_+`` over the unit circle, all j.

    W has shape (J, n, 2). Returns (sound bound on ``max_j max_u |g_j|``, candidate values
    (J, L) and their angles (J, L)); values are signed for scalar v, norms for matrix v.
    """
    J, n, _ = W.shape
    norms = np.hypot(W[..., 0], W[..., 1])
    scale = np.max(norms, initial=0.0)
    live = norms > 64 * EPS * max(scale, 1e-300)
    alpha = np.arctan2(W[..., 1], W[..., 0])
    two_pi = 2 * np.pi
    enter = np.mod(alpha - np.pi / 2, two_pi)
    leave = np.mod(alpha + np.pi / 2, two_pi)
    leave = np.where(leave <= 0.0, two_pi, leave)
    active0 = (leave < enter) & live  # active just after angle 0
    vec = v.ndim == 2
    Vw = (W[..., :, None] * v[None, :, None, :]) if vec else W * v[None, :, None]
    Vw = np.where(live[..., None, None] if vec else live[..., None], Vw, 0.0)
    a0 = np.sum(np.where(active0[..., None, None] if vec else active0[..., None], Vw, 0.0), axis=1)
    angles = np.concatenate([enter, leave], axis=1)  # (J, 2n)
    deltas = np.concatenate([Vw, -Vw], axis=1)
    order = np.argsort(angles, axis=1)  # ties need no order: tied events are orthogonal to u
    angles = np.take_along_axis(angles, order, axis=1)
    idx = order[..., None, None] if vec else order[..., None]
    deltas = np.take_along_axis(deltas, idx, axis=1)
    A = np.concatenate([a0[:, None], a0[:, None] + prefix_sum(deltas)], axis=1)
    lo = np.concatenate([np.zeros((J, 1)), angles], axis=1)  # sector s = (lo[s], hi[s])
    hi = np.concatenate([angles, np.full((J, 1), two_pi)], axis=1)
    u_lo = np.stack([np.cos(lo), np.sin(lo)], axis=-1)
    if not vec:
        end_vals = np.einsum("jsc,jsc->js", A, u_lo)
        length = np.hypot(A[..., 0], A[..., 1])
        phi = np.mod(np.arctan2(A[..., 1], A[..., 0]), two_pi)
        psi = np.mod(phi + np.pi, two_pi)
        tol = 1e-12
        in_max = _inside(phi, lo, hi, tol) & (length > 0)
        in_min = _inside(psi, lo, hi, tol) & (length > 0)
        vals = np.concatenate(
            [end_vals, np.where(in_max, length, 0.0), np.where(in_min, -length, 0.0)], axis=1
        )
        angs = np.concatenate([lo, phi, psi], axis=1)
        mags = np.abs(vals)
    else:
        end_vals = np.linalg.norm(np.einsum("jsck,jsc->jsk", A, u_lo), axis=-1)
        p = np.sum(A[..., 0, :] ** 2, axis=-1)
        r = np.sum(A[..., 1, :] ** 2, axis=-1)
        c = np.sum(A[..., 0, :] * A[..., 1, :], axis=-1)
        lam = 0.5 * (p + r) + np.sqrt(0.25 * (p - r) ** 2 + c**2)
        psi1 = np.mod(0.5 * np.arctan2(2 * c, p - r), two_pi)
        psi2 = np.mod(psi1 + np.pi, two_pi)
        tol = 1e-12
        top = np.sqrt(np.maximum(lam, 0.0))
        in1 = _inside(psi1, lo, hi, tol)
        in2 = _inside(psi2, lo, hi, tol)
        vals = np.concatenate([end_vals, np.where(in1, top, 0.0), np.where(in2, top, 0.0)], axis=1)
        angs = np.concatenate([lo, psi1, psi2], axis=1)
        mags = vals
    vn = (np.linalg.norm(v, axis=1) if vec else np.abs(v))[None]
    weight = np.sum(norms * vn, axis=1)
    dropped = np.sum(np.where(live, 0.0, norms) * vn, axis=1)  # tiny vectors left out
    margin = 16.0 * (prefix_error_terms(2 * n) + n + 8) * EPS * float(np.max(weight, initial=0.0))
    margin += float(np.max(dropped, initial=0.0))
    return float(np.max(mags, initial=0.0)) + margin, vals, angs


def _inside(theta: np.ndarray, lo: np.ndarray, hi: np.ndarray, tol: float) -> np.ndarray:
    """Whether angle theta (in [0, 2 pi)) lies in [lo - tol, hi + tol] (with wrap-around)."""
    return ((theta >= lo - tol) & (theta <= hi + tol)) | (theta + 2 * np.pi <= hi + tol)


# ---------------------------------------------------------------------------- rank >= 3
def _cells_oracle(problem: Problem, v: np.ndarray, red: Reduction, q: int) -> OracleResult:
    n = red.T.shape[0]
    vec = v.ndim == 2
    signs = (1.0,) if vec else (1.0, -1.0)
    cells = []  # (j, sign, cheap bound, a or A, G rows)
    cand_U, cand_rows = [], []
    best = 0.0
    for j, live, Wl, D in _kink_cells(problem, red):
        vl = v[live]
        S = np.where(D, 1.0, -1.0)
        for sign in signs:
            if vec:
                As = np.einsum("ip,ik,ir->pkr", D.astype(float), vl, Wl)  # (P, k, r)
                cheap = np.linalg.norm(As, ord=2, axis=(1, 2))
                # candidate: top right singular vector of each A_C
                _, _, Vt = np.linalg.svd(As)
                Ur = Vt[:, 0, :].T
            else:
                As = sign * (D.T.astype(float) * vl[None, :]) @ Wl  # (P, r)
                cheap = np.linalg.norm(As, axis=1)
                Ur = (As / np.maximum(cheap, 1e-300)[:, None]).T
            vals = _g(Wl, vl, Ur, sign)
            best = max(best, float(np.max(vals, initial=0.0)))
            cand_U.append(Ur)
            cand_rows.append(np.full(Ur.shape[1], j))
            for p in range(D.shape[1]):
                cells.append((cheap[p], j, sign, As[p], S[:, p][:, None] * Wl, Wl, vl))
    cells.sort(key=lambda cell: -cell[0])
    upper = best
    for cheap, j, sign, a, G, Wl, vl in cells:
        if cheap <= best:
            break
        bound, Ur = _cell_bound(a, G, vec)
        upper = max(upper, bound)
        val = float(np.max(_g(Wl, vl, Ur[:, None], sign), initial=0.0))
        if val > best:
            best = val
        cand_U.append(Ur[:, None])
        cand_rows.append(np.array([j]))
    Ur = np.hstack(cand_U) if cand_U else np.eye(red.rank, 1)
    rows = np.concatenate(cand_rows) if cand_rows else np.zeros(1, dtype=int)
    U, b = _lift(problem, red, Ur, rows)
    if vec:  # the per-cell power iteration is local: polish with the multi-start ascent
        strength = problem.constraint_values(v, U, b)
        seeds = U[:, np.argsort(-strength)[:32]]
        rng = np.random.default_rng(0)
        U2, b2 = ascent(problem, v, starts(problem, v, (seeds, None), 16, rng), n_iter=30)
        U, b = np.hstack([U, U2]), (None if b is None else np.concatenate([b, b2]))
    scale = float(np.sum(np.abs(v))) * float(np.abs(red.T).max(initial=0.0))
    upper = upper * (1.0 + 1e-12) + 64 * (n + red.rank) * EPS * scale + residual_slack(red, v)
    exact = (not vec) and red.faithful
    return finalize(problem, v, U, b, upper, exact, q)


def _kink_cells(problem: Problem, red: Reduction) -> list:
    """For every kink j: (j, live rows, their vectors ``t_i - t_j``, the cells' patterns).

    The arrangements depend on X only, so they are computed once per problem and reused by
    every later call (the cutting plane calls the oracle once per iteration).
    """
    cached = _cells_cache.get(problem)
    if cached is not None:
        return cached
    J = red.T.shape[0] if problem.bias else 1
    scale = max(float(np.abs(red.T).max(initial=0.0)), 1e-300)
    out = []
    for j in range(J):
        Wj = _kink_vectors(red, problem.bias, np.array([j]))[0]
        live = np.linalg.norm(Wj, axis=1) > 64 * EPS * scale
        if not np.any(live):
            continue
        Wl = Wj[live]
        out.append((j, live, Wl, arrangements.enumerate(Wl, bias=False, max_patterns=10**9)))
    _cells_cache[problem] = out
    return out


def _g(W: np.ndarray, v: np.ndarray, Ur: np.ndarray, sign: float) -> np.ndarray:
    """``sign * sum_i v_i (w_i^T u)_+`` (norm for matrix v) for each column u of Ur."""
    H = np.maximum(W @ Ur, 0.0)
    if v.ndim == 1:
        return sign * (v @ H)
    return np.linalg.norm(H.T @ v, axis=1)


def _cell_bound(a: np.ndarray, G: np.ndarray, vec: bool) -> tuple[float, np.ndarray]:
    """Sound bound on ``max_{u in C, ||u|| <= 1} a^T u`` (``||A u||`` for matrix a), C = {Gu>=0},
    and a good direction in C."""
    if not vec:
        lam, _ = nnls(G.T, -a)
        p = a + G.T @ lam
        bound = float(np.linalg.norm(p))
        u = p / bound if bound > 0 else np.zeros_like(a)
        return bound, u
    rows = []
    for row in a:  # ||A u||^2 = sum_l (a_l^T u)^2 <= sum_l max(dist(a_l), dist(-a_l))^2
        hi = max(_cell_bound(row, G, False)[0], _cell_bound(-row, G, False)[0])
        rows.append(hi)
    bound = min(float(np.linalg.norm(rows)), float(np.linalg.norm(a, 2)))
    # projected power iteration: u <- Pi_C(A^T A u) / ||.|| is a monotone ascent of the
    # convex ||A u||^2 over C ∩ ball (conditional gradient), started at the top direction
    u = np.linalg.svd(a)[2][0]
    best_u, best_val = u, -1.0
    for _ in range(12):
        lam, _ = nnls(G.T, -u)
        p = u + G.T @ lam
        norm = np.linalg.norm(p)
        if norm == 0:
            break
        u = p / norm
        val = float(np.linalg.norm(a @ u))
        if val <= best_val * (1 + 1e-12):
            break
        best_u, best_val = u, val
        u = a.T @ (a @ u)
    return bound, best_u
