"""Master problems of the cutting-plane method: training over a finite neuron dictionary.

With a fixed dictionary of neurons ``(u_j, b_j)`` (unit ``u_j``) and features
``H = (X U + 1 b^T)_+`` (n, p), the training problem restricted to these neurons is, in the
l1 form of Lemma 1 (NOTES §1, §4 step 3)::

    min_{w, c}  L(H w + c; y) + beta sum_j ||w_j||        (c free when bias, else c = 0)

- squared loss, scalar output: the Lasso (exact active-set "feature-sign" method on the
  centered Gram matrix, coordinate descent as fallback);
- squared loss, vector outputs (Lemma 11): the row-group Lasso ``sum_j ||w_j||_2``
  (block coordinate descent on the Gram matrix);
- hinge: the l1-SVM, a linear program solved by HiGHS (its duals are the dual vector); on
  1-D inputs in the segment variables of :mod:`convexnn.solvers.line_svm` (sparse, O(n));
- logistic: l1-logistic regression (L-BFGS-B on the split ``w = w+ - w-``).

Its dual (Thm 1, 8, 13 restricted to the dictionary) is ``max -L*(-v)`` subject to
``|h_j^T v| <= beta`` for every column (``||V^T h_j|| <= beta`` for vector outputs) and
``1^T v = 0`` with bias. Every solver returns the dual vector ``v = -grad L`` at its solution,
moved into the dual domain and scaled to be feasible for the restricted dual, and the
resulting duality gap, so the accuracy of each master solve is known.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import LinAlgError, solve

from ..problem import Problem
from .line_gram import LineGram


@dataclass(frozen=True)
class MasterSolution:
    """Solution of the restricted problem over a dictionary of p features.

    Attributes
    ----------
    W : (p,) or (p, k) array
        Output weights (the l1-form weights of unit-norm neurons).
    c : float, (k,) array or None
        Output offset (None without bias).
    dual : (n,) or (n, k) array
        ``v = -grad L(Hw + c)`` in the dual domain (``1^T v = 0`` with bias), unscaled: the
        vector the oracle needs.
    objective : float
        ``L(Hw + c) + beta sum_j ||w_j||``.
    dual_objective : float
        Dual value of ``s * dual`` with ``s`` making it feasible for the restricted dual.
    gap : float
        ``objective - dual_objective`` (the restricted problem's duality gap, >= 0).
    n_iter : int
        Iterations of the inner method.
    correlations : (p,) or (p, k) array or None
        ``H^T dual``: each feature's correlation with the dual vector.
    """

    W: np.ndarray
    c: Any
    dual: np.ndarray
    objective: float
    dual_objective: float
    gap: float
    n_iter: int
    correlations: np.ndarray | None = None

    @property
    def relative_gap(self) -> float:
        return float(self.gap / max(abs(self.objective), np.finfo(float).tiny))


def features(X: np.ndarray, U: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """``(X U + 1 b^T)_+``: the dictionary's features, shape (n, p), column-major (each
    feature contiguous, as :class:`FeatureBuffer` stores them: no strided copy)."""
    Z = (U.T @ X.T).T
    if b is not None:
        Z += b
    return np.maximum(Z, 0.0, out=Z)


class FeatureBuffer:
    """A feature matrix (n, p) that grows and shrinks by columns without copying all of it
    each time (column-major storage with doubling capacity): at n = 10^6 rows, re-stacking
    the whole matrix every cutting-plane iteration would dominate the run time."""

    def __init__(self, n: int, capacity: int = 32) -> None:
        # np.zeros maps untouched pages lazily: unused capacity costs no time, and a
        # generous start avoids re-copying n-row columns as the dictionary grows
        self._buf = np.zeros((n, capacity), order="F")
        self.p = 0

    @property
    def H(self) -> np.ndarray:
        return self._buf[:, : self.p]

    def append(self, Hnew: np.ndarray) -> None:
        q = Hnew.shape[1]
        if self.p + q > self._buf.shape[1]:
            cap = max(2 * self._buf.shape[1], self.p + q)
            buf = np.empty((self._buf.shape[0], cap), order="F")
            buf[:, : self.p] = self.H
            self._buf = buf
        self._buf[:, self.p : self.p + q] = Hnew
        self.p += q

    def keep(self, mask: np.ndarray) -> None:
        idx = np.flatnonzero(mask)
        for new, old in enumerate(idx):  # in place, left to right (new <= old)
            if new != old:
                self._buf[:, new] = self._buf[:, old]
        self.p = idx.size


class GramCache:
    """Centered Gram matrix of a growing/shrinking feature matrix, updated incrementally.

    The squared-loss masters work on ``G = Hc^T Hc`` and ``q = Hc^T yc`` (``Hc``, ``yc``
    centered when ``bias``), which cost O(n p^2) from scratch but only O(n p q) when q
    columns are appended. The cutting-plane loop keeps one cache per run.
    """

    def __init__(self, y: np.ndarray, bias: bool) -> None:
        self.bias = bias
        self.y_mean = y.mean(axis=0) if bias else np.zeros(y.shape[1:])
        self.yc = y - self.y_mean
        self.yy = float(np.sum(self.yc**2))
        self.features = FeatureBuffer(y.shape[0])
        self.mean = np.zeros(0)
        self.G = np.zeros((0, 0))
        self.q = np.zeros((0,) + y.shape[1:])

    @property
    def H(self) -> np.ndarray:
        return self.features.H

    @property
    def p(self) -> int:
        return self.features.p

    def append(self, Hnew: np.ndarray) -> None:
        """Add feature columns."""
        mean = Hnew.mean(axis=0) if self.bias else np.zeros(Hnew.shape[1])
        Hc = Hnew - mean if self.bias else Hnew
        # cross terms with the old columns: Hc_old^T Hc_new = H_old^T Hc_new (Hc_new centered)
        cross = self.H.T @ Hc
        new = Hc.T @ Hc
        self.G = np.block([[self.G, cross], [cross.T, new]])
        self.q = np.concatenate([self.q, Hc.T @ self.yc], axis=0)
        self.features.append(Hnew)
        self.mean = np.concatenate([self.mean, mean])

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the columns where ``mask`` is true."""
        self.features.keep(mask)
        self.mean = self.mean[mask]
        self.G = self.G[np.ix_(mask, mask)]
        self.q = self.q[mask]

    def matvec(self, W: np.ndarray) -> np.ndarray:
        """``H W``: the dictionary's output for weights ``W``."""
        return self.H @ W

    def rmatvec(self, v: np.ndarray) -> np.ndarray:
        """``H^T v``: each feature's correlation with ``v``."""
        return self.H.T @ v


def solve_master(
    problem: Problem,
    H: np.ndarray | GramCache | LineGram,
    *,
    W0: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 10_000,
    deadline: float | None = None,
    c0: float | None = None,
) -> MasterSolution:
    """Solve the restricted problem over the features ``H`` (n, p), warm-started at ``W0``.

    Objective: ``L(H w + c; y) + beta sum_j ||w_j||`` (c free when ``problem.bias``); the
    l1 form of the training problem (Lemma 1) over a fixed neuron dictionary. ``tol`` is the
    target relative duality gap of the restricted problem. For the squared loss ``H`` may be
    a :class:`GramCache` (reused across calls); for the squared and hinge losses on 1-D
    inputs a :class:`LineGram`. ``deadline`` (a ``time.perf_counter()`` value) stops the
    inner method early; the returned solution is then less accurate, but its dual objective
    and gap are still exact evaluations (so still valid). ``c0`` is the warm start's offset
    (the 1-D hinge master uses ``W0, c0`` to leave samples far from the margin out of its
    LP; see :func:`convexnn.solvers.line_svm.l1_svm_line`).
    """
    name = problem.loss.name
    if name == "hinge" and isinstance(H, LineGram):
        return _l1_svm_line(problem, H, W0, deadline, c0)
    cached = isinstance(H, (GramCache, LineGram))
    if cached and name != "squared":
        H = H.H
    if name == "squared":
        cache = H if cached else _cache_for(problem, H)
        if problem.n_outputs is None:
            return _lasso(problem, cache, W0, tol, max_iter, deadline)
        return _group_lasso(problem, cache, W0, tol, max_iter, deadline)
    if name == "hinge":
        return _l1_svm(problem, H, W0, deadline)
    return _l1_logistic(problem, H, W0, tol, max_iter, deadline)


def _expired(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() >= deadline


def _cache_for(problem: Problem, H: np.ndarray) -> GramCache:
    cache = GramCache(problem.y, problem.bias)
    cache.append(np.asarray(H, dtype=float))
    return cache


# ---------------------------------------------------------------- squared loss, scalar
def _lasso(
    problem: Problem,
    cache: GramCache,
    W0: np.ndarray | None,
    tol: float,
    max_iter: int,
    deadline: float | None = None,
) -> MasterSolution:
    """Lasso ``1/2 ||yc - Hc w||^2 + beta ||w||_1`` in Gram form (intercept eliminated)."""
    beta, p, yy = problem.beta, cache.p, cache.yy
    w = np.zeros(p) if W0 is None else np.array(W0, dtype=float).reshape(p)
    G, q = cache.G, cache.q

    def unfinished(w: np.ndarray) -> bool:
        gap = _lasso_gap(G, q, beta, w, yy)[0]
        return not _expired(deadline) and gap > tol * max(_lasso_primal(G, q, beta, w, yy), 1e-300)

    n_iter = 0
    if p > 32:  # a few cheap sweeps find most of the support before the exact method
        w, n_iter = _lasso_cd(G, q, beta, w, yy, tol, 8, deadline)
    w, extra = _feature_sign(G, q, beta, w, yy, tol, max_iter, deadline)
    n_iter += extra
    if W0 is not None and unfinished(w):
        # a warm start may hold near-copies (kinks at neighbouring samples) in its support,
        # whose active-set system is singular: the method stalls short of the optimum, and
        # coordinate descent crawls along the copies. A support built afresh avoids them.
        cold, extra = _feature_sign(G, q, beta, np.zeros(p), yy, tol, max_iter, deadline)
        n_iter += extra
        if _lasso_primal(G, q, beta, cold, yy) < _lasso_primal(G, q, beta, w, yy):
            w = cold
    if unfinished(w):
        w, extra = _lasso_cd(G, q, beta, w, yy, tol, min(max_iter, 500), deadline)
        n_iter += extra
    return _squared_solution(problem, cache, w, n_iter)


def _lasso_primal(G, q, beta, w, yy) -> float:
    return 0.5 * float(w @ G @ w) - float(q @ w) + 0.5 * yy + beta * float(np.abs(w).sum())


def _lasso_gap(G, q, beta, w, yy) -> tuple[float, np.ndarray]:
    """(gap, gradient) in Gram form; the dual point is the scaled residual."""
    grad = G @ w - q  # = -Hc^T v
    vy = yy - float(q @ w)  # v^T yc
    vv = yy - 2 * float(q @ w) + float(w @ G @ w)  # ||v||^2
    m = float(np.max(np.abs(grad), initial=0.0))
    s = 0.0 if vv <= 0 else min(max(vy / vv, 0.0), beta / m if m > 0 else np.inf)
    dual = s * vy - 0.5 * s * s * vv
    return _lasso_primal(G, q, beta, w, yy) - dual, grad


def _feature_sign(G, q, beta, w, yy, tol, max_iter, deadline=None) -> tuple[np.ndarray, int]:
    """Feature-sign search (Lee, Battle, Raina & Ng, 2007): exact active-set Lasso.

    Each step solves the quadratic restricted to the current orthant on the active set and
    line-searches over the points where a coefficient changes sign; the objective decreases
    strictly, and the method terminates at the exact solution (up to rounding).
    """
    p = q.shape[0]
    if p == 0:
        return w, 0
    theta = np.sign(w)
    grad = G @ w - q
    eps = 1e-12 * beta
    batch = max(1, min(16, p // 4 + 1))
    for it in range(1, max_iter + 1):
        if _expired(deadline):
            return w, it
        active = theta != 0
        kkt = np.abs(grad[active] + beta * theta[active])
        added = np.zeros(0, dtype=int)
        if kkt.size == 0 or kkt.max() <= 1e-9 * beta:
            viol = np.abs(grad) - beta
            viol[active] = -np.inf
            if viol.max() <= eps:
                gap = _lasso_gap(G, q, beta, w, yy)[0]
                if gap <= tol * max(_lasso_primal(G, q, beta, w, yy), 1e-300) or not active.any():
                    return w, it
            else:
                added = np.argsort(-viol)[:batch]
                added = added[viol[added] > eps]
                theta[added] = -np.sign(grad[added])
        A = np.flatnonzero(theta)
        GA = G[np.ix_(A, A)]
        rhs = q[A] - beta * theta[A]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ill-conditioning: the line search guards it
                target = solve(GA, rhs, assume_a="pos", check_finite=False)
        except (LinAlgError, ValueError):
            jitter = 1e-12 * max(float(np.trace(GA)) / len(A), 1e-300)
            target = np.linalg.lstsq(GA + jitter * np.eye(len(A)), rhs, rcond=None)[0]
        wA = w[A]
        d = target - wA
        # breakpoints where a coefficient crosses zero, plus the full step
        with np.errstate(divide="ignore", invalid="ignore"):
            t = -wA / d
        ts = np.unique(np.append(t[(t > 0) & (t < 1)], 1.0))
        # a (near-)singular system (e.g. 1-D features whose centered sum is constant: kinks
        # at the data's end with a mirrored pair) sends the target far along its null space,
        # where the Gram-form objective below is rounding noise (measured: w ~ 3e14 accepted):
        # only points within a credible range compete
        scale = max(float(np.abs(wA).max(initial=0.0)), float(np.abs(rhs).max()) / beta, 1.0)
        ts = ts[np.abs(wA[None, :] + ts[:, None] * d[None, :]).max(axis=1) <= 1e8 * scale]
        if ts.size == 0:
            break  # degenerate system: the coordinate-descent fallback finishes
        Gd, Gw = GA @ d, GA @ wA
        dGd, wGd, qd = float(d @ Gd), float(wA @ Gd), float(q[A] @ d)
        base = 0.5 * float(wA @ Gw) - float(q[A] @ wA)
        vals = [
            base + tt * (wGd - qd) + 0.5 * tt * tt * dGd + beta * np.abs(wA + tt * d).sum()
            for tt in ts
        ]
        best = int(np.argmin(vals))
        tt = ts[best]
        start = base + beta * float(np.abs(wA).sum())
        if start - vals[best] <= 1e-15 * max(abs(start) + 0.5 * yy, 1e-300):
            if added.size > 1:  # a joint activation need not descend: retry with fewer
                batch = max(1, added.size // 4)
                theta[added[batch:]] = 0.0
                continue
            break  # degenerate system or rounding floor: the coordinate-descent fallback finishes
        new = wA + tt * d
        if tt < 1.0:  # the coefficients that reached zero leave the active set
            new[np.abs(t - tt) <= 1e-12 * max(tt, 1e-300)] = 0.0
        if added.size == batch:
            batch = min(2 * batch, 64)
        step = new - wA
        w[A] = new
        theta[A] = np.sign(new)
        grad += G[:, A] @ step
    return w, max_iter


def _lasso_cd(G, q, beta, w, yy, tol, max_iter, deadline=None) -> tuple[np.ndarray, int]:
    """Cyclic coordinate descent on the Gram form (robust fallback)."""
    diag = np.diag(G).copy()
    grad = G @ w - q
    live = np.flatnonzero(diag > 0)
    for sweep in range(1, max_iter + 1):
        if _expired(deadline):
            return w, sweep
        # full sweeps alternate with sweeps over the nonzero coefficients only
        for j in live if sweep % 2 == 1 else live[w[live] != 0]:
            old = w[j]
            z = old - grad[j] / diag[j]
            new = np.sign(z) * max(abs(z) - beta / diag[j], 0.0)
            if new != old:
                w[j] = new
                grad += G[:, j] * (new - old)
        if sweep % 5 == 0:
            gap, grad = _lasso_gap(G, q, beta, w, yy)
            if gap <= tol * max(_lasso_primal(G, q, beta, w, yy), 1e-300):
                return w, sweep
    return w, max_iter


def _squared_solution(
    problem: Problem, cache: GramCache | LineGram, W: np.ndarray, n_iter: int
) -> MasterSolution:
    """Residual, offset, scaled dual and gap, evaluated on the features themselves."""
    y = problem.y
    c = cache.y_mean - cache.mean @ W if problem.bias else None
    f = cache.matvec(W)
    if c is not None:
        f += c
    v = problem.loss.dual_domain_project(y - f, y, problem.bias)
    if c is not None:
        c = float(c) if np.ndim(c) == 0 else np.asarray(c)
    return _solution(problem, W, c, v, n_iter, f=f, HtV=cache.rmatvec(v))


def _penalty(W: np.ndarray) -> float:
    return float(np.abs(W).sum()) if W.ndim == 1 else float(np.linalg.norm(W, axis=1).sum())


def _feasible_scale(problem: Problem, HtV: np.ndarray) -> float:
    """Largest s with ``s v`` feasible for the restricted dual: ``beta / max_j |h_j^T v|``,
    from the correlations ``HtV = H^T v``."""
    m = np.abs(HtV) if HtV.ndim == 1 else np.linalg.norm(HtV, axis=1)
    top = float(np.max(m, initial=0.0))
    return np.inf if top == 0 else problem.beta / top


# ---------------------------------------------------------------- squared loss, vector
def _group_lasso(
    problem: Problem,
    cache: GramCache,
    W0: np.ndarray | None,
    tol: float,
    max_iter: int,
    deadline: float | None = None,
) -> MasterSolution:
    """Row-group Lasso ``1/2 ||Yc - Hc W||_F^2 + beta sum_j ||w_j||_2`` (Lemma 11).

    Block coordinate descent (each block is one neuron's output row, solved exactly by block
    soft thresholding since its Hessian is ``G_jj I``) finds the active rows; Newton's
    method on the active rows, where the objective is smooth, then converges fast even for
    the highly correlated features of kink dictionaries. The Newton systems (size
    ``|A| k``) are solved matrix-free by preconditioned conjugate gradients, using the
    structure ``kron(G_AA, I_k) + blockdiag(beta / ||w_i|| (I - u_i u_i^T))``. The two
    alternate until the duality gap is below ``tol`` (or ``deadline`` passes).
    """
    beta, p, k = problem.beta, cache.p, problem.n_outputs
    W = np.zeros((p, k)) if W0 is None else np.array(W0, dtype=float).reshape(p, k)
    G, Q, yy = cache.G, cache.q, cache.yy
    diag = np.diag(G).copy()
    n_iter, previous = 0, np.inf
    for _ in range(max(1, min(max_iter // 20, 20))):
        W, sweeps = _group_bcd(G, Q, beta, W, diag, 10, deadline)
        W, newton = _group_newton(G, Q, beta, W, 30, deadline)
        n_iter += sweeps + newton
        primal = _group_primal(G, Q, beta, W, yy)
        if _group_gap(G, Q, beta, W, yy) <= tol * max(primal, 1e-300):
            break
        if previous - primal <= 1e-15 * max(abs(primal), 1e-300) or _expired(deadline):
            break  # no progress left at this precision, or no time left
        previous = primal
    return _squared_solution(problem, cache, W, n_iter)


def _group_primal(G, Q, beta, W, yy) -> float:
    return 0.5 * (yy - 2 * float(np.sum(Q * W)) + float(np.sum(W * (G @ W)))) + beta * _penalty(W)


def _group_gap(G, Q, beta, W, yy) -> float:
    grad = G @ W - Q
    vy = yy - float(np.sum(Q * W))
    vv = yy - 2 * float(np.sum(Q * W)) + float(np.sum(W * (G @ W)))
    m = float(np.max(np.linalg.norm(grad, axis=1), initial=0.0))
    s = 0.0 if vv <= 0 else min(max(vy / vv, 0.0), beta / m if m > 0 else np.inf)
    return 0.5 * vv + beta * _penalty(W) - (s * vy - 0.5 * s * s * vv)


def _group_bcd(G, Q, beta, W, diag, sweeps, deadline=None) -> tuple[np.ndarray, int]:
    grad = G @ W - Q
    rows = np.flatnonzero(diag > 0)
    for sweep in range(sweeps):
        if _expired(deadline):
            return W, sweep
        for j in rows:
            old = W[j].copy()
            z = old - grad[j] / diag[j]
            nz = np.linalg.norm(z)
            new = z * max(1.0 - beta / (diag[j] * nz), 0.0) if nz > 0 else z
            if np.any(new != old):
                W[j] = new
                grad += np.outer(G[:, j], new - old)
    return W, sweeps


def _group_newton(G, Q, beta, W, steps, deadline=None) -> tuple[np.ndarray, int]:
    """Damped Newton on the active rows (nonzero ``w_j``), with backtracking on the exact
    objective; rows whose norm collapses leave the active set. The Newton direction comes
    from a dense factorization for small systems, else from conjugate gradients on
    Hessian-vector products (never forming the Hessian)."""
    k = W.shape[1]
    for it in range(1, steps + 1):
        if _expired(deadline):
            return W, it
        norms = np.linalg.norm(W, axis=1)
        # rows at the rounding level of zero stay fixed (block coordinate descent moves them):
        # their curvature beta / ||w_j|| would stall every Newton step at a tiny length
        A = np.flatnonzero(norms > 1e-9 * norms.max(initial=0.0))
        if A.size == 0:
            return W, it
        WA = W[A]
        norms = np.linalg.norm(WA, axis=1)
        U = WA / norms[:, None]
        GA = G[np.ix_(A, A)]
        resid = G[A] @ W - Q[A]  # gradient of the smooth part on the active rows
        grad = resid + beta * U
        curv = beta / norms
        jitter = 1e-12 * max(float(np.mean(np.diag(GA)) + np.mean(curv)), 1e-300)

        def hess(S, GA=GA, U=U, curv=curv, jitter=jitter):
            proj = S - U * np.sum(U * S, axis=1, keepdims=True)
            return GA @ S + curv[:, None] * proj + jitter * S

        if A.size * k <= _DENSE_NEWTON:
            step = _dense_newton_step(GA, U, curv, jitter, grad)
        else:
            precond = 1.0 / (np.diag(GA)[:, None] + curv[:, None] * (1.0 - U * U) + jitter)
            step = _pcg(hess, -grad, precond, deadline)
        decrement = -float(np.sum(step * grad))
        if not np.isfinite(decrement) or decrement <= 1e-30:
            return W, it
        # the smooth part is quadratic along the step: exact values without G @ W
        Hstep = GA @ step
        lin, quad = float(np.sum(step * resid)), float(np.sum(step * Hstep))
        pen0 = float(norms.sum())

        def change(t, WA=WA, step=step, lin=lin, quad=quad, pen0=pen0):
            pen = float(np.linalg.norm(WA + t * step, axis=1).sum())
            return t * lin + 0.5 * t * t * quad + beta * (pen - pen0)

        t = 1.0
        while t > 1e-10 and change(t) > -1e-4 * t * decrement:
            t *= 0.5
        if t <= 1e-10:
            return W, it
        drop = -change(t)
        W = W.copy()
        W[A] = WA + t * step
        f0 = 0.5 * float(np.sum(WA * (GA @ WA))) - float(np.sum(Q[A] * WA)) + beta * pen0
        if drop <= 1e-16 * max(abs(f0), 1.0):
            return W, it
    return W, steps


_DENSE_NEWTON = 800  # largest Newton system (|A| k) solved by a dense Cholesky factorization


def _dense_newton_step(GA, U, curv, jitter, grad) -> np.ndarray:
    """The Newton direction from the explicit Hessian (small systems)."""
    m, k = U.shape
    hess = np.kron(GA, np.eye(k))
    for i in range(m):
        hess[i * k : (i + 1) * k, i * k : (i + 1) * k] += curv[i] * (
            np.eye(k) - np.outer(U[i], U[i])
        )
    hess[np.diag_indices_from(hess)] += max(jitter, 1e-12 * float(np.trace(hess)) / len(hess))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            step = -solve(hess, grad.ravel(), assume_a="pos", check_finite=False)
    except (LinAlgError, ValueError):
        return np.zeros_like(grad)
    return step.reshape(grad.shape)


def _pcg(hess, rhs, precond, deadline=None, rtol=1e-10, max_iter=100) -> np.ndarray:
    """Preconditioned conjugate gradients for ``hess(x) = rhs`` (``hess`` symmetric positive
    semidefinite, as a function on arrays shaped like ``rhs``); stops at relative residual
    ``rtol``, after ``max_iter`` steps, at ``deadline`` or on breakdown."""
    x = np.zeros_like(rhs)
    r = rhs.copy()
    z = precond * r
    d = z.copy()
    rz = float(np.sum(r * z))
    stop = rtol * float(np.linalg.norm(rhs))
    for i in range(max_iter):
        if float(np.linalg.norm(r)) <= stop or (i % 10 == 9 and _expired(deadline)):
            break
        Hd = hess(d)
        dHd = float(np.sum(d * Hd))
        if dHd <= 0 or not np.isfinite(dHd):
            break
        alpha = rz / dHd
        x += alpha * d
        r -= alpha * Hd
        z = precond * r
        rz_new = float(np.sum(r * z))
        d = z + (rz_new / rz) * d
        rz = rz_new
    return x


# ---------------------------------------------------------------- hinge
def _l1_svm(
    problem: Problem,
    H: np.ndarray,
    W0: np.ndarray | None = None,
    deadline: float | None = None,
) -> MasterSolution:
    """l1-SVM ``sum_i max(0, 1 - y_i(h_i^T w + c)) + beta ||w||_1`` as a linear program.

    Variables ``(w+, w-, xi, c)``; constraints ``y_i (h_i^T (w+ - w-) + c) + xi_i >= 1``.
    The LP multipliers ``lambda_i`` in [0, 1] give the dual vector ``v = y * lambda``.
    With a ``deadline`` HiGHS gets the time left as its ``time_limit``; if it stops without
    a solution, the warm start ``W0`` (best offset) is returned with its subgradient dual.
    """
    from scipy import sparse

    from ._highs import solve_lp

    H = np.asarray(H, dtype=float)
    y, beta = problem.y, problem.beta
    n, p = H.shape
    yH = sparse.csr_matrix(y[:, None] * H)
    parts = [-yH, yH, -sparse.identity(n, format="csr")]  # the slacks' block is diagonal
    cost = [np.full(2 * p, beta), np.ones(n)]
    bounds = [(0, None)] * (2 * p + n)
    if problem.bias:
        parts.append(sparse.csr_matrix(-y[:, None]))
        cost.append([0.0])
        bounds.append((None, None))
    if deadline is not None and deadline <= time.perf_counter():
        return _binary_fallback(problem, _Dense(H), W0)
    lp = {
        "c": np.concatenate(cost),
        "A_ub": sparse.hstack(parts, format="csc"),
        "b_ub": -np.ones(n),
        "bounds": bounds,
    }
    res = solve_lp(lp, deadline)
    if res.status == 1 and deadline is not None:  # HiGHS stopped at its time limit
        fallback = _binary_fallback(problem, _Dense(H), W0)
        if res.x is None or not np.all(np.isfinite(res.x)):
            return fallback
        # its current point, if better: any weights are valid (the objective is evaluated)
        current = _binary_fallback(problem, _Dense(H), res.x[:p] - res.x[p : 2 * p])
        return current if current.objective < fallback.objective else fallback
    if res.status != 0:
        raise RuntimeError(f"The l1-SVM master problem failed in HiGHS: {res.message}")
    W = res.x[:p] - res.x[p : 2 * p]
    c = float(res.x[-1]) if problem.bias else None
    lam = np.clip(-res.ineqlin.marginals, 0.0, 1.0)
    v = problem.loss.dual_domain_project(y * lam, y, problem.bias)
    f = H @ W + (c if c is not None else 0.0)
    return _solution(problem, W, c, v, int(getattr(res, "nit", 0)), f=f, HtV=H.T @ v)


def _l1_svm_line(
    problem: Problem,
    lg: LineGram,
    W0: np.ndarray | None = None,
    deadline: float | None = None,
    c0: float | None = None,
) -> MasterSolution:
    """The l1-SVM on 1-D inputs: the same LP as :func:`_l1_svm`, in the segment variables of
    :mod:`convexnn.solvers.line_svm` (two nonzeros per sample, no (n, p) features), over the
    samples near the margin of the warm start ``(W0, c0)`` when it is given (with bias, both
    are needed). At the deadline (or if HiGHS fails on every attempt), the warm start with
    its subgradient dual, as :func:`_l1_svm`."""
    from .line_svm import l1_svm_line

    if deadline is not None and deadline <= time.perf_counter():
        return _binary_fallback(problem, lg, W0)
    W, c, alpha, f, n_iter, status = l1_svm_line(problem, lg, deadline, W0, c0)
    if status != 0:  # time limit, or HiGHS failed on every attempt: any weights are valid
        return _binary_fallback(problem, lg, W0)
    y = problem.y
    v = problem.loss.dual_domain_project(y * alpha, y, problem.bias)
    return _solution(problem, W, c, v, n_iter, f=f, HtV=lg.rmatvec(v))


class _Dense:
    """Dense features (n, p) with the products of :class:`GramCache` and :class:`LineGram`."""

    def __init__(self, H: np.ndarray) -> None:
        self.H, self.p = H, H.shape[1]

    def matvec(self, W: np.ndarray) -> np.ndarray:
        return self.H @ W

    def rmatvec(self, v: np.ndarray) -> np.ndarray:
        return self.H.T @ v


def _binary_fallback(
    problem: Problem, ops: _Dense | LineGram, W0: np.ndarray | None
) -> MasterSolution:
    """The warm start ``W0`` (0 if None) with its best offset and ``v = -grad L``: the answer
    of a master solve that ran out of time before it found anything better. ``ops`` gives the
    dictionary's products ``H W`` and ``H^T v``."""
    p = ops.p
    W = np.zeros(p) if W0 is None else np.array(W0, dtype=float).reshape(p)
    f = ops.matvec(W)
    c = float(problem.best_offset(f)) if problem.bias else None
    if c is not None:
        f = f + c
    v = problem.loss.dual_domain_project(
        -problem.loss.gradient(f, problem.y), problem.y, problem.bias
    )
    return _solution(problem, W, c, v, 0, f=f, HtV=ops.rmatvec(v))


def _solution(problem, W, c, v, n_iter, *, f, HtV) -> MasterSolution:
    """The master's primal objective and the dual objective of ``v`` scaled to feasibility
    over the dictionary (any loss): the gap the master reports. ``f = H W + c`` is the output
    of the weights, ``HtV = H^T v`` the features' correlations with ``v`` (each computed
    once by the caller)."""
    y = problem.y
    objective = problem.loss.value(f, y) + problem.beta * _penalty(W)
    s = problem.loss.best_dual_scale(v, y, _feasible_scale(problem, HtV))
    dual_objective = problem.loss.dual_value(s * v, y)
    return MasterSolution(
        W=W,
        c=c,
        dual=v,
        objective=float(objective),
        dual_objective=float(dual_objective),
        gap=float(max(objective - dual_objective, 0.0)),
        n_iter=n_iter,
        correlations=HtV,
    )


# ---------------------------------------------------------------- logistic
def _l1_logistic(
    problem: Problem,
    H: np.ndarray,
    W0: np.ndarray | None,
    tol: float,
    max_iter: int,
    deadline: float | None = None,
) -> MasterSolution:
    """l1-logistic regression ``sum log(1 + exp(-y(Hw + c))) + beta ||w||_1`` by L-BFGS-B on
    the split ``w = w+ - w-`` (w+, w- >= 0): smooth with bounds, solved to high accuracy."""
    from scipy.optimize import minimize
    from scipy.special import expit

    H = np.asarray(H, dtype=float)
    y, beta = problem.y, problem.beta
    n, p = H.shape
    w0 = np.zeros(p) if W0 is None else np.asarray(W0, dtype=float).reshape(p)
    x0 = np.concatenate([np.maximum(w0, 0), np.maximum(-w0, 0), [0.0]])
    if problem.bias and W0 is not None:
        x0[-1] = problem.best_offset(H @ w0)

    def fun(x):
        w = x[:p] - x[p : 2 * p]
        f = H @ w + x[-1]
        g_f = -y * expit(-y * f)
        gw = H.T @ g_f
        grad = np.concatenate([gw + beta, -gw + beta, [g_f.sum() if problem.bias else 0.0]])
        return float(np.sum(np.logaddexp(0.0, -y * f)) + beta * x[: 2 * p].sum()), grad

    bounds = [(0.0, None)] * (2 * p) + [(None, None) if problem.bias else (0.0, 0.0)]

    def stop_at_deadline(intermediate_result):  # L-BFGS-B ends cleanly on StopIteration
        if _expired(deadline):
            raise StopIteration

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = minimize(
            fun,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            callback=stop_at_deadline if deadline is not None else None,
            options={
                "maxiter": max_iter,
                "ftol": 1e-15,
                "gtol": 1e-11 * max(beta, 1.0),
                "maxcor": 30,
            },
        )
    W = res.x[:p] - res.x[p : 2 * p]
    c = float(res.x[-1]) if problem.bias else None
    f = H @ W + (c if c is not None else 0.0)
    v = problem.loss.dual_domain_project(-problem.loss.gradient(f, y), y, problem.bias)
    return _solution(problem, W, c, v, int(getattr(res, "nit", 0)), f=f, HtV=H.T @ v)


__all__ = [
    "FeatureBuffer",
    "GramCache",
    "LineGram",
    "MasterSolution",
    "features",
    "solve_master",
]
