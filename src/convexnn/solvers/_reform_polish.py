"""Active-set finisher of the ReLU program from a nearly optimal point (float64, numpy).

The program (one output; ``C`` centers when ``center``, else ``C = I``; blocks
``u_j in R^{d'}``, ``j < 2P``, sign ``sigma_j = +1`` for the first ``P`` and ``-1`` for the
rest, pattern ``D_j = diag(D[:, j mod P])``, ``S_j = 2 D_j - I``)::

    min_u  f(u) = 1/2 ||C (sum_j sigma_j D_j A u_j - y)||^2 + beta sum_j ||u_j[:d]||
    s.t.   S_j A u_j >= 0  for every j.

An interior-point iterate identifies, long before it is accurate, which blocks are nonzero
and which cone constraints are tight (as OSQP's polishing does for QPs). This module turns
that guess into the exact optimum by a primal active-set method (Nocedal & Wright, Numerical
Optimization, 2nd ed., Alg. 16.3, with Newton steps on the smooth group-norm objective in
place of the QP's equality-constrained steps):

* working set: live blocks ``j`` with working rows ``W_j`` (linearly independent, held at
  equality); on that face ``u_j = N_j theta_j`` with ``N_j`` an orthonormal basis of the null
  space of ``A[W_j]`` (batched SVDs, recomputed only for blocks whose rows change), and ``f``
  is smooth while every live ``u_j[:d] != 0``;
* each iteration takes a Newton step on the face (Hessian ``F^T F`` plus the block-diagonal
  Hessians ``beta (T_j^T T_j / ||w_j|| - T_j^T w_j w_j^T T_j / ||w_j||^3)``, ``T_j = N_j[:d]``,
  ``w_j = u_j[:d]``, assembled with batched numpy, one Cholesky factorization). Each block's
  step is cut at its first cone constraint outside the working set (the cones are separate
  per block) when that still passes Armijo's test, else one length for all by the ratio test
  and backtracking; the rows reached join the working set. A block whose step passes through
  zero is zeroed when that lowers ``f``, and one that shrinks to ``1e-12`` of the largest is
  zeroed. Every iterate is feasible and ``f`` decreases (to rounding, in the steps below);
* once the Newton decrement is at the rounding level of ``f``, up to three more full Newton
  steps are taken while the gradient halves (the multipliers and the dual test below need
  the gradient, not only ``f``, to be accurate). The multipliers of the working rows then
  solve ``grad_{u_j} f = (S_j A)[W_j]^T mu_j`` (least squares, from the SVD that gave ``N_j``;
  exact at stationarity), and each block's most negative one leaves its working set;
* when every multiplier is nonnegative, each zero block is tested against its optimality
  condition (the restriction to pattern ``D_j`` of the dual constraint
  ``|v^T (X u + b)_+| <= beta``, Thm 8 and eq. 33):
  ``min_{mu >= 0} ||E (g_j - (S_j A)^T mu)|| <= beta``, ``g_j = sigma_j A^T D_j C r`` the loss
  gradient, ``E`` the identity on the penalized coordinates and a large weight on the bias
  coordinate (an equality). NNLS on 3 (d' - 1) hinted rows certifies most blocks cheaply; the
  rest get NNLS on all rows, whose residual is the steepest feasible descent direction of a
  violated block; violated blocks re-enter along it at the exact line minimizer of ``f``.
  When none is violated (to ``_DUAL_TOL``) the point is a KKT point of the program, i.e. its
  global optimum.

The starting face: blocks with ``||u_j[:d]|| > live_tol * max_k ||u_k[:d]||`` and radial
ratio ``rho_j = -grad_{u_j} loss . u_j / (beta ||u_j[:d]||) >= 1 - rho_tol`` (``rho_j = 1`` on
live blocks at the optimum; the zero-block test corrects a wrong guess), working rows those
guessed tight (``tight``, or a relative margin ``(S_j A u_j)_i / (||a_i|| ||u_j||)`` below
``tau``; at most ``d' - 1`` of the smallest margins, linearly independent). The iterate is
projected onto that face; a block whose projection would cross a constraint gets the
crossing rows added (three rounds), or else keeps its iterate value with no working rows.
``improved`` is True only at a KKT point that satisfies every cone constraint (to 1e-12
relative) with an objective not above the iterate's; otherwise the iterate is returned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.linalg
import scipy.optimize

_RANK_TOL = 1e-10  # singular values below this fraction of the largest: dependent rows
_BIAS_WEIGHT = 1e6  # weight of the bias coordinate (an equality) in the zero-block test
_COLLAPSE = 1e-12  # live blocks whose ||u[:d]|| falls below this fraction of the largest: zeroed
_DUAL_TOL = 1e-7  # relative excess over beta at which a zero block counts as violated


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
    tau: float = 1e-4,
    live_tol: float = 1e-5,
    rho_tol: float = 0.02,
    max_iter: int = 300,
    newton_tol: float = 1e-13,
) -> Polished:
    """Polished ``(pos, neg, improved, gap)`` by the active-set method of the module docstring.

    ``tight`` (n, 2P) bool is the guess of tight constraints (an interior-point method's
    ``slack < multiplier``); otherwise rows with relative margin below ``tau`` are guessed.
    ``improved`` is False, ``gap`` inf and the input returned, unless the result satisfies
    every cone constraint (to 1e-12 relative) and its objective is not above the input's.
    """
    blocks = np.hstack([pos, neg]).astype(np.float64)
    start = program_value(A, D, y, beta, d, center, pos, neg)
    unchanged = Polished(pos, neg, False, math.inf)
    if not np.isfinite(start) or not np.all(np.isfinite(blocks)):
        return unchanged
    solver = _ActiveSet(A, D, y, beta, d, center)
    out = solver.run(blocks, tight, tau, live_tol, rho_tol, max_iter, newton_tol)
    if out is None:
        return unchanged
    P = D.shape[1]
    p2, n2 = out[:, :P], out[:, P:]
    values = solver.S * (A @ out)
    scale = max(float(np.abs(values).max(initial=0.0)), 1e-300)
    if np.any(values < -1e-12 * scale):
        return unchanged
    # not above the input's objective, to rounding (at an optimum the polished point may
    # differ from the input in the last bits)
    value = program_value(A, D, y, beta, d, center, p2, n2)
    if value > start + 8 * np.finfo(float).eps * abs(start):
        return unchanged
    return Polished(p2, n2, True, solver.duality_gap(out, value))


class Polished(NamedTuple):
    """The finisher's output: blocks, whether they replace the input, and the relative
    duality gap ``(f(u) - dual(r / t)) / max(1, |f(u)|)`` of the result (inf when not
    improved), with the residual ``r`` as dual point scaled by ``t >= 1`` into the dual
    feasible set (:meth:`_ActiveSet.duality_gap`)."""

    pos: np.ndarray
    neg: np.ndarray
    improved: bool
    gap: float


@dataclass
class _Face:
    """The smooth problem on one working set: ``u_j = N[l] theta`` for live block ``live[l]``."""

    live: np.ndarray  # (L,) block indices
    work: np.ndarray  # (n, L) bool working rows
    rows: np.ndarray  # (m, L) the working rows' indices, m = min(n, d'), valid where ``valid``
    valid: np.ndarray
    Ut: np.ndarray  # SVD of each block's signed working rows R_l = Ut diag(s) Vt (padded)
    s: np.ndarray
    Vt: np.ndarray
    rank: np.ndarray
    N: np.ndarray  # (L, d', d') null-space bases, columns >= k[l] zero
    k: np.ndarray  # (L,) face dimensions d' - rank
    cols: np.ndarray  # (L, d') bool, the first k[l] columns of each block
    F: np.ndarray  # (n, K) features C sigma_j D_j A N_j (compact columns)
    Q: np.ndarray  # (K, K) F^T F
    hess_rows: np.ndarray  # flat indices of the block-diagonal entries of the Hessian
    hess_cols: np.ndarray
    hess_mask: np.ndarray  # (L, d', d') bool, the entries of each block's Hessian
    TtT: np.ndarray  # (L, d', d') T^T T, T = N[:, :d] (the penalty Hessian's first term)


class _ActiveSet:
    """State of the active-set method: data, live blocks, working rows, current blocks."""

    def __init__(self, A, D, y, beta, d, center):
        self.A, self.beta, self.d, self.center = A, float(beta), d, bool(center)
        P = D.shape[1]
        self.P = P
        self.Dsig = np.hstack([D, -D])  # sigma_j D_j
        self.S = 2.0 * np.hstack([D, D]) - 1.0
        self.row_norms = np.maximum(np.linalg.norm(A, axis=1), 1e-300)
        self.yc = y - y.mean() if center else np.asarray(y, dtype=np.float64)

    def duality_gap(self, blocks: np.ndarray, value: float) -> float:
        """Relative duality gap of the KKT point ``blocks`` (d', 2P) with objective
        ``value``, after :meth:`run` converged.

        The dual of the program is ``max -||lam||^2 / 2 - lam^T C y`` over ``lam`` with
        ``min_{mu >= 0} ||E (sigma_j A^T D_j lam - R_j^T mu)|| <= beta`` for every block
        (bias coordinate an equality, weighted by ``E`` as in :meth:`_revive`). The residual
        ``r`` meets it up to the factor ``t = max(1, ratios)`` measured at convergence (the
        zero blocks' NNLS distances, the live blocks' residual with their multipliers), so
        ``r / t`` is dual feasible and ``value - dual(r / t) >= value - optimum >= 0``."""
        r = self._residual(blocks)
        t = max(1.0, self.zero_ratio, self.live_ratio)
        dual = -0.5 * float(r @ r) / t**2 - float(r @ self.yc) / t
        return max(value - dual, 0.0) / max(1.0, abs(value))

    # --- faces ------------------------------------------------------------------------

    def _svds(self, live, work):
        """Rows, validity and SVD of the signed working rows of blocks ``live`` (padded)."""
        A, (n, dp) = self.A, self.A.shape
        m = min(n, dp)
        order = np.argsort(~work, axis=0, kind="stable")[:m]  # working rows first
        valid = np.arange(m)[:, None] < work.sum(axis=0)[None, :]
        rows = np.where(valid, order, 0)
        R = (self.S[rows, live[None, :]] * valid)[:, :, None] * A[rows]  # (m, L, d')
        Ut, s, Vt = np.linalg.svd(R.transpose(1, 0, 2), full_matrices=True)
        rank = np.sum(s > _RANK_TOL * s[:, :1], axis=1)
        return rows, valid, Ut, s, Vt, rank

    def face(
        self, live: np.ndarray, work: np.ndarray, prev: _Face | None = None, svds=None
    ) -> _Face:
        """Null spaces, features and Hessian pattern of the working set ``work`` (n, L).

        Blocks whose working rows are those of ``prev`` reuse its SVDs (``prev``'s arrays are
        updated in place when the live blocks are the same: ``prev`` is spent); ``svds``:
        :meth:`_svds` of all of ``work``, when already computed.
        """
        A, (n, dp) = self.A, self.A.shape
        L = live.size
        m = min(n, dp)
        if prev is not None and np.array_equal(prev.live, live):  # update prev's arrays
            rows, valid, Ut, s, Vt = prev.rows, prev.valid, prev.Ut, prev.s, prev.Vt
            rank, N = prev.rank, prev.N
            todo = np.flatnonzero(np.any(work != prev.work, axis=0))
        else:
            rows, valid = np.zeros((m, L), dtype=int), np.zeros((m, L), dtype=bool)
            Ut, s, Vt = np.zeros((L, m, m)), np.zeros((L, m)), np.zeros((L, dp, dp))
            rank, N = np.zeros(L, dtype=int), np.zeros((L, dp, dp))
            todo = np.arange(L)
            if prev is not None:
                where = np.full(2 * self.P, -1)
                where[prev.live] = np.arange(prev.live.size)
                src = where[live]
                same = src >= 0
                same[same] = np.all(work[:, same] == prev.work[:, src[same]], axis=0)
                old = src[same]
                rows[:, same], valid[:, same] = prev.rows[:, old], prev.valid[:, old]
                Ut[same], s[same], Vt[same] = prev.Ut[old], prev.s[old], prev.Vt[old]
                rank[same], N[same] = prev.rank[old], prev.N[old]
                todo = np.flatnonzero(~same)
        if todo.size:
            out = (
                svds
                if svds is not None and todo.size == L
                else self._svds(live[todo], work[:, todo])
            )
            rows[:, todo], valid[:, todo], Ut[todo], s[todo], Vt[todo], rank[todo] = out
            kt = dp - rank[todo]
            pick = np.minimum(rank[todo, None] + np.arange(dp)[None, :], dp - 1)
            Nt = np.take_along_axis(Vt[todo], pick[:, :, None], axis=1).transpose(0, 2, 1)
            N[todo] = Nt * (np.arange(dp)[None, :] < kt[:, None])[:, None, :]
        k = dp - rank
        cols = np.arange(dp)[None, :] < k[:, None]
        owner = np.repeat(np.arange(L), k)
        Ft = (N.transpose(0, 2, 1)[cols] @ A.T) * self.Dsig[:, live[owner]].T  # (K, n)
        if self.center:
            Ft = Ft - Ft.mean(axis=1, keepdims=True)
        F = Ft.T
        index = np.full((L, dp), -1)
        index[cols] = np.arange(int(k.sum()))
        hess_mask = cols[:, :, None] & cols[:, None, :]
        hess_rows = np.broadcast_to(index[:, :, None], hess_mask.shape)[hess_mask]
        hess_cols = np.broadcast_to(index[:, None, :], hess_mask.shape)[hess_mask]
        return _Face(
            live.copy(),
            work.copy(),
            rows,
            valid,
            Ut,
            s,
            Vt,
            rank,
            N,
            k,
            cols,
            F,
            Ft @ F,
            hess_rows,
            hess_cols,
            hess_mask,
            np.einsum("ldk,ldm->lkm", N[:, : self.d], N[:, : self.d]),
        )

    def theta_of(self, face: _Face, U: np.ndarray) -> np.ndarray:
        """Coordinates of blocks ``U`` (d', L) on the face (orthogonal projection)."""
        return np.einsum("lak,al->lk", face.N, U)[face.cols]

    def blocks_of(self, face: _Face, theta: np.ndarray) -> np.ndarray:
        """Blocks (d', L) of face coordinates ``theta``."""
        T = np.zeros(face.cols.shape)
        T[face.cols] = theta
        return np.einsum("lak,lk->al", face.N, T)

    # --- objective on a face -------------------------------------------------------------

    def value(self, face: _Face, theta: np.ndarray) -> float:
        """``f`` at face coordinates ``theta``."""
        U = self.blocks_of(face, theta)
        r = face.F @ theta - self.yc
        return 0.5 * float(r @ r) + self.beta * float(np.linalg.norm(U[: self.d], axis=0).sum())

    def newton_direction(self, face: _Face, theta: np.ndarray):
        """Value, gradient and Newton direction on the face; None where a block is zero."""
        d, beta = self.d, self.beta
        Th = np.zeros(face.cols.shape)
        Th[face.cols] = theta
        T = face.N[:, :d, :]  # (L, d, d')
        w = np.einsum("ldk,lk->ld", T, Th)
        nw = np.linalg.norm(w, axis=1)
        if np.any(nw == 0):
            return None
        r = face.F @ theta - self.yc
        val = 0.5 * float(r @ r) + beta * float(nw.sum())
        Tw = np.einsum("ldk,ld->lk", T, w)  # T^T w
        g = face.F.T @ r + beta * (Tw / nw[:, None])[face.cols]
        Hb = face.TtT / nw[:, None, None]
        Hb -= Tw[:, :, None] * Tw[:, None, :] / nw[:, None, None] ** 3
        H = face.Q.copy()
        H[face.hess_rows, face.hess_cols] += beta * Hb[face.hess_mask]
        scale = max(float(np.abs(np.diagonal(H)).max(initial=0.0)), 1e-300)
        for ridge in (1e-14, 1e-11, 1e-8):
            try:
                c = scipy.linalg.cho_factor(
                    H + ridge * scale * np.eye(H.shape[0]), check_finite=False
                )
            except np.linalg.LinAlgError:
                continue
            step = -scipy.linalg.cho_solve(c, g, check_finite=False)
            if np.all(np.isfinite(step)):
                return val, g, step, r
        return None

    # --- multipliers ----------------------------------------------------------------------

    def _loss_gradient(self, blocks: np.ndarray, r: np.ndarray) -> np.ndarray:
        """``g_j = sigma_j A^T D_j r`` of blocks ``j`` (d', len(blocks)), ``r`` the residual."""
        return self.A.T @ (self.Dsig[:, blocks] * r[:, None])

    def multipliers(self, face: _Face, live: np.ndarray, U: np.ndarray, r: np.ndarray):
        """Least-squares ``mu`` (m, L) of ``grad_{u_j} f = R_j^T mu`` (0 outside the rows)."""
        d = self.d
        G = self._loss_gradient(live, r)
        w = U[:d]
        G[:d] += self.beta * w / np.linalg.norm(w, axis=0)
        m = face.rows.shape[0]
        if m == 0:
            return np.zeros((0, live.size))
        # mu = U_r diag(1/s_r) Vt_r G over the rank r leading singular triples
        proj = np.einsum("lka,al->lk", face.Vt[:, : face.s.shape[1]], G)
        nz = np.arange(face.s.shape[1])[None, :] < face.rank[:, None]
        coef = np.where(nz, proj / np.where(nz, face.s, 1.0), 0.0)
        mu = np.einsum("lik,lk->li", face.Ut[:, :, : face.s.shape[1]], coef)
        return mu.T * face.valid

    # --- the method -----------------------------------------------------------------------

    def _residual(self, blocks):
        """``C (sum_j sigma_j D_j A u_j - y)`` of blocks (d', 2P)."""
        r = np.sum(self.Dsig * (self.A @ blocks), axis=1)
        return (r - r.mean() if self.center else r) - self.yc

    def initial_face(self, blocks, tight, tau, live_tol, rho_tol):
        """Live blocks, working rows (n, L) and blocks (d', L) of the starting face."""
        A, dp, d = self.A, self.A.shape[1], self.d
        norms = np.linalg.norm(blocks[:d], axis=0)
        r = self._residual(blocks)
        # rho_j = -grad_{u_j} loss . u_j / (beta ||u_j[:d]||): 1 on live blocks at the optimum
        rho = -np.sum((A.T @ (self.Dsig * r[:, None])) * blocks, axis=0)
        rho /= self.beta * np.maximum(norms, 1e-300)
        live = np.flatnonzero((norms > live_tol * norms.max(initial=0.0)) & (rho >= 1 - rho_tol))
        U = blocks[:, live]
        margins = self.S[:, live] * (A @ U) / (self.row_norms[:, None] * np.linalg.norm(U, axis=0))
        guess = tight[:, live] if tight is not None else margins <= tau
        # at most d' - 1 guessed rows per block, those of smallest margin
        ranked = np.argsort(np.where(guess, margins, np.inf), axis=0)[: dp - 1]
        work = np.zeros_like(guess)
        np.put_along_axis(work, ranked, np.take_along_axis(guess, ranked, axis=0), axis=0)
        V, work, ok = self._project(live, work, U, margins)
        work[:, ~ok] = False  # keep the iterate's (feasible) value on these blocks
        V[:, ~ok] = U[:, ~ok]
        return live, work, V

    def _project(self, live, work, U, margins):
        """Blocks ``U`` projected onto their faces, rows they cross added (three rounds).

        Returns the projection, the working rows and which blocks are feasible.
        """
        for _ in range(3):
            svds = self._independent(live, work, margins)
            face = self.face(live, work, svds=svds)
            V = self.blocks_of(face, self.theta_of(face, U))
            vals = self.S[:, live] * (self.A @ V)
            bad = (vals < -1e-12 * np.abs(vals).max(axis=0)) & ~work
            if not bad.any():
                break
            work = work | bad
        return V, work, ~bad.any(axis=0)

    def _independent(self, live, work, margins, cols=None):
        """Drop rows of ``work`` until each block's rows (of ``cols``) are independent.

        Returns the :meth:`_svds` of all of ``work`` when ``cols`` is None and no row was
        dropped (for :meth:`face`), else None."""
        every = cols is None
        cols = np.arange(live.size) if every else np.asarray(cols)
        if cols.size == 0:
            return None
        m = min(self.A.shape)
        counts = work[:, cols].sum(axis=0)
        svds = self._svds(live[cols], work[:, cols])
        fix = cols[(svds[5] < counts) | (counts > m)]
        for l in fix:  # rare (degenerate data)
            rows = np.flatnonzero(work[:, l])
            rows = rows[np.argsort(margins[rows, l], kind="stable")]
            keep: list[int] = []
            for i in rows:  # greedy, in order of margin
                if len(keep) == m:
                    break
                s = np.linalg.svd(self.A[keep + [int(i)]], compute_uv=False)
                if s[-1] > _RANK_TOL * s[0]:
                    keep.append(int(i))
            work[:, l] = False
            work[keep, l] = True
        return svds if every and fix.size == 0 else None

    def run(self, blocks, tight, tau, live_tol, rho_tol, max_iter, newton_tol):
        """The active-set iterations; blocks (d', 2P) of the solution, or None."""
        A, d = self.A, self.d
        live, work, U = self.initial_face(blocks, tight, tau, live_tol, rho_tol)
        if live.size == 0:
            return None
        hints = self._hint_rows(blocks)
        face, stale, stalled, converged = None, True, 0, False
        for _ in range(max_iter):
            if stale:
                norms = np.linalg.norm(U[:d], axis=0)
                keep = norms > _COLLAPSE * norms.max(initial=0.0)  # else zero (see _blocked)
                keep &= work.sum(axis=0) < A.shape[1]
                live, work, U = live[keep], work[:, keep], U[:, keep]
                if live.size == 0:
                    return None
                face = self.face(live, work, face)
                keep = face.k > 0
                if not keep.all():
                    live, work, U = live[keep], work[:, keep], U[:, keep]
                    face = self.face(live, work, face)
                theta = self.theta_of(face, U)
                U = self.blocks_of(face, theta)
                stale, refine, last_gnorm = False, 0, np.inf
            out = self.newton_direction(face, theta)
            if out is None:
                return None
            val, g, step, r = out
            decrease = float(g @ step)
            if stalled and -decrease > 1e-9 * max(abs(val), 1.0):
                break  # the line search fails far from stationarity: give up
            if stalled or -decrease <= newton_tol * max(abs(val), 1.0):
                # stationary on the face (f to rounding): full Newton steps while the gradient
                # still halves (multipliers and the dual test need it, not only f), then
                # release a negative multiplier or revive a block
                gnorm = float(np.linalg.norm(g))
                if (
                    refine < 3
                    and gnorm < 0.5 * last_gnorm
                    and self._fits(live, work, U, face, step)
                ):
                    theta = theta + step
                    U = self.blocks_of(face, theta)
                    refine, last_gnorm = refine + 1, gnorm
                    continue
                mu = self.multipliers(face, live, U, r)
                if self._release(face, live, work, mu):
                    stale, stalled = True, 0
                    continue
                revived = self._revive(live, work, U, r, hints)
                if revived is None:  # every zero block certified: a KKT point
                    self.live_ratio = self._live_ratio(face, live, r, mu)
                    converged = True
                    break
                if revived is False:  # violated, but no feasible descent found: give up
                    break
                live, work, U = revived
                stale, stalled = True, 0
                continue
            moved = self._step(face, live, work, U, theta, val, g, step)
            if moved is None:
                stalled += 1  # rounding stops the line search: treat the point as stationary
                if stalled > 2:
                    break
                continue
            theta, U, new_work = moved
            norms = np.linalg.norm(U[:d], axis=0)
            if new_work is not None or np.any(norms <= _COLLAPSE * norms.max()):
                work, stale = (work if new_work is None else new_work), True
        if not converged:
            return None
        out = np.zeros((A.shape[1], 2 * self.P))
        out[:, live] = U
        return out

    def _fits(self, live, work, U, face, step):
        """Whether the full step crosses no cone constraint outside the working set."""
        V = U + self.blocks_of(face, step)
        vals = self.S[:, live] * (self.A @ V)
        return not np.any((vals < -1e-12 * np.abs(vals).max(axis=0)) & ~work)

    def _step(self, face, live, work, U, theta, val, g, step):
        """Feasible Newton step: ``(theta, U, work)`` after it (``work`` None if unchanged).

        Each block's step is cut at its own first constraint outside the working set (the
        cones are separate per block, so the point stays feasible) when that is a descent
        direction and passes Armijo's test at full length; the cut blocks' blocking rows join
        the working set. Otherwise one length for all: the ratio test's minimum, backtracked.
        Blocks the step shrinks to zero (all their rows reached at once) are zeroed.
        """
        A, S, d = self.A, self.S, self.d
        dU = self.blocks_of(face, step)
        crossing = np.sum((U[:d] + dU[:d]) * U[:d], axis=0) <= 0
        if crossing.any():
            zero = self._collapse(live, U, crossing)
            if zero is not None:
                new_U = U.copy()
                new_U[:, zero] = 0.0
                return theta, new_U, work  # the caller rebuilds the face
        vals = S[:, live] * (A @ U)
        dvals = S[:, live] * (A @ dU)
        tiny = 1e-12 * self.row_norms[:, None] * np.linalg.norm(dU, axis=0)
        blocking = ~work & (dvals < -tiny)
        ratios = np.where(blocking, np.maximum(vals, 0.0) / np.where(blocking, -dvals, 1.0), 2.0)
        t_block = ratios.min(axis=0, initial=2.0)
        cut = t_block < 1.0
        if cut.any():
            factor = np.minimum(t_block, 1.0)
            owner = np.repeat(np.arange(live.size), face.k)
            s2 = step * factor[owner]
            slope = float(g @ s2)
            if slope < 0 and self.value(face, theta + s2) <= val + 1e-4 * slope:
                return self._blocked(
                    live,
                    work,
                    U,
                    U + dU * factor,
                    theta + s2,
                    blocking,
                    ratios,
                    np.where(cut, t_block, -1.0),
                )
        decrease = float(g @ step)
        t_max = float(t_block.min(initial=2.0))
        t = min(1.0, t_max)
        while t > 1e-12 and self.value(face, theta + t * step) > val + 1e-4 * t * decrease:
            t *= 0.5
        if t <= 1e-12 and t_max > 1e-12:
            return None
        t = max(t, min(t_max, 1e-12))  # blocked at once: the rows at zero join the face
        if t < t_max:
            return theta + t * step, U + t * dU, None
        return self._blocked(
            live,
            work,
            U,
            U + t * dU,
            theta + t * step,
            blocking,
            ratios,
            np.where(t_block <= t_max, t_max, -1.0),
        )

    def _collapse(self, live, U, crossing):
        """Blocks among ``crossing`` whose removal lowers ``f`` (all if jointly, else the best)."""
        idx = np.flatnonzero(crossing)
        Z = self.Dsig[:, live[idx]] * (self.A @ U[:, idx])
        if self.center:
            Z = Z - Z.mean(axis=0)
        r = self._residual_of(live, U)
        penalty = self.beta * np.linalg.norm(U[: self.d, idx], axis=0)
        change = -(r @ Z) + 0.5 * np.sum(Z * Z, axis=0) - penalty
        good = change < 0
        if not good.any():
            return None
        z = Z[:, good].sum(axis=1)
        if -(r @ z) + 0.5 * float(z @ z) - penalty[good].sum() < 0:
            return idx[good]
        return idx[[int(np.argmin(change))]]

    def _residual_of(self, live, U):
        """Residual of the live blocks ``U`` (d', L)."""
        r = np.sum(self.Dsig[:, live] * (self.A @ U), axis=1)
        return (r - r.mean() if self.center else r) - self.yc

    def _blocked(self, live, work, U, new_U, theta, blocking, ratios, reached):
        """Add the rows reached (ratio ``reached[l]`` in block ``l``) and zero collapsed blocks."""
        hit = blocking & (ratios <= reached[None, :] * (1 + 1e-9))
        d = self.d
        collapsed = np.linalg.norm(new_U[:d], axis=0) <= 1e-9 * np.linalg.norm(U[:d], axis=0)
        order = np.where(work, 0.0, 1.0)  # keep the old rows, then the new
        work = work | hit
        self._independent(live, work, order, np.flatnonzero(hit.any(axis=0)))
        new_U[:, collapsed] = 0.0
        return theta, new_U, work

    def _live_ratio(self, face, live, r, mu) -> float:
        """``max_l ||E (g_l - R_l^T mu_l^+)|| / beta`` over the live blocks (``E`` of
        :meth:`_revive`): at a KKT point ``g_l - R_l^T mu_l = -beta (w_l / ||w_l||, 0)``, so
        1 up to the stationarity residual (and any negative multiplier, clipped)."""
        A, d = self.A, self.d
        g = self._loss_gradient(live, r)
        m = face.rows.shape[0]
        if m:
            R = (self.S[face.rows, live[None, :]] * face.valid)[:, :, None] * A[face.rows]
            g = g - np.einsum("ml,mla->al", np.maximum(mu, 0.0), R)
        g[d:] *= _BIAS_WEIGHT
        return float(np.linalg.norm(g, axis=0).max(initial=0.0)) / self.beta

    def _release(self, face, live, work, mu) -> bool:
        """Drop each block's most negative multiplier's row; True when any was dropped."""
        if mu.shape[0] == 0:
            return False
        scale = max(float(np.abs(mu).max(initial=0.0)), self.beta)
        worst = np.argmin(mu, axis=0)
        cols = np.flatnonzero(mu[worst, np.arange(live.size)] < -1e-9 * scale)
        if cols.size == 0:
            return False
        work[face.rows[worst[cols], cols], cols] = False
        return True

    def _hint_rows(self, blocks):
        """(k, 2P): each block's ``k = 3 (d' - 1)`` (at least 3) rows of smallest margin in the
        iterate, -1 for blocks that are zero there."""
        norms = np.linalg.norm(blocks, axis=0)
        margins = self.S * (self.A @ blocks) / (self.row_norms[:, None] * np.maximum(norms, 1e-300))
        k = min(3 * max(self.A.shape[1] - 1, 1), self.A.shape[0])
        rows = np.argpartition(margins, k - 1, axis=0)[:k]
        rows[:, norms == 0] = -1
        return rows

    def _revive(self, live, work, U, r, hints):
        """Zero blocks that violate their optimality condition re-enter: the new
        ``(live, work, U)``; None when none is violated, False when violated ones cannot enter.

        Zero block ``j`` is optimal iff ``min_{mu >= 0} ||E (g_j - R_j^T mu)|| <= beta``, with
        ``g_j = sigma_j A^T D_j r`` the loss gradient, ``R_j = S_j A`` and ``E`` the identity on
        the penalized coordinates and a large weight on the bias coordinate (where equality is
        required; weight ``_BIAS_WEIGHT``), solved by :func:`_nnls_by_rows` from the rows
        ``hints`` (smallest margins in the iterate, or for blocks zero there the rows best
        aligned with ``g_j``). The residual ``e`` of a violated block gives the steepest
        feasible direction ``u = -E^2 e``
        (``R_j u >= 0``, ``g_j^T u + beta ||u[:d]|| = -||e||^2 + beta ||e[:d]|| < 0`` when
        violated); the violated blocks re-enter together, at the exact minimizer of ``f`` along
        their directions.
        """
        A, d, beta = self.A, self.d, self.beta
        dp = A.shape[1]
        dead = np.ones(2 * self.P, dtype=bool)
        dead[live] = False
        idx = np.flatnonzero(dead)
        if idx.size == 0:
            self.zero_ratio = 0.0
            return None
        E = np.ones(dp)
        E[d:] = _BIAS_WEIGHT
        G = self._loss_gradient(idx, r) * E[:, None]  # E g_j, (d', nd)
        bound = beta * (1 + _DUAL_TOL)
        new, dirs, active = [], [], []
        rows = hints[:, idx]  # (k, nd)
        blind = rows[0] < 0
        if blind.any():  # no direction in the iterate: the rows best aligned with g_j
            align = self.S[:, idx[blind]] * (A @ (G[:, blind] / E[:, None]))
            align /= self.row_norms[:, None]
            rows[:, blind] = np.argpartition(-align, rows.shape[0] - 1, axis=0)[: rows.shape[0]]
        worst = 0.0
        for col, j in enumerate(idx):
            dist, out = _nnls_by_rows(
                A, self.S[:, j], E, G[:, col], rows[:, col], bound, self.row_norms
            )
            worst = max(worst, dist)
            if out is not None:
                new.append(j)
                dirs.append(-E * out[0])  # -E^2 (g - R^T mu)
                active.append(out[1])
        if not new:
            self.zero_ratio = worst / beta
            return None
        new = np.array(new)
        Unew = np.array(dirs).T
        # exactly feasible: the rows of positive mu (R u = 0 to NNLS's accuracy) and those at
        # zero join the working set; project
        vals = self.S[:, new] * (A @ Unew)
        margins = vals / (self.row_norms[:, None] * np.linalg.norm(Unew, axis=0))
        wnew = margins <= 1e-8
        for col, act in enumerate(active):
            wnew[act, col] = True
        Unew, wnew, ok = self._project(new, wnew, Unew, np.minimum(margins, 0.0) * ~wnew)
        ok &= np.linalg.norm(Unew[:d], axis=0) > 0
        new, Unew, wnew = new[ok], Unew[:, ok], wnew[:, ok]
        if new.size == 0:
            return False
        # one common step along the revived blocks: exact minimizer of f (quadratic in t)
        Z = self.Dsig[:, new] * (A @ Unew)
        if self.center:
            Z = Z - Z.mean(axis=0)
        z = Z.sum(axis=1)
        slope = float(r @ z) + beta * float(np.linalg.norm(Unew[:d], axis=0).sum())
        if slope >= 0 or float(z @ z) <= 0:
            return False
        t = -slope / float(z @ z)
        return np.append(live, new), np.hstack([work, wnew]), np.hstack([U, t * Unew])


def _nnls_by_rows(A, s, E, b, rows, bound, a_norms):
    """``min_{mu >= 0} ||b - M mu||``, ``M = E R^T``, ``R = diag(s) A``, by NNLS on a growing
    set of rows of ``R``.

    Returns ``(dist, None)`` as soon as a restricted solution has residual norm ``dist <=
    bound`` (a certificate: it is feasible for the full problem, and ``dist`` bounds the
    minimum), else ``(dist, (e, rows))``: the residual ``e`` of the full optimum and the
    rows with positive ``mu`` (where ``R u = 0``), the optimum being reached when
    ``M^T e = -R u <= 0`` for ``u = -E e`` (NNLS's optimality condition, to 1e-12 relative to
    ``||a_i|| ||u||``: ``u`` is then feasible); the rows with the largest ``M^T e`` join each
    round (a column-generation form of Lawson & Hanson's method).
    """
    n = A.shape[0]
    rows = np.unique(rows)
    for _ in range(20):
        M = (s[rows, None] * A[rows] * E).T
        mu, dist = scipy.optimize.nnls(M, b)
        if dist <= bound:
            return dist, None
        e = b - M @ mu
        Ee = E * e
        w = s * (A @ Ee) - 1e-12 * a_norms * float(np.linalg.norm(Ee))
        w[rows] = -np.inf
        if w.max() <= 0 or rows.size == n:
            return dist, (e, rows[mu > 0])
        k = min(rows.size, n - rows.size)
        rows = np.union1d(rows, np.argpartition(-w, k - 1)[:k])
    M = (s[:, None] * A * E).T
    mu, dist = scipy.optimize.nnls(M, b)
    return dist, (None if dist <= bound else (b - M @ mu, np.flatnonzero(mu > 0)))
