"""The geometry behind the closed forms: spike-free data, extreme points, auto-encoder neurons, NTK.

Ergen & Pilanci (JMLR 2021), NOTES §3:

- :func:`is_spike_free` — Lemma 3 (``Q_X = X B_2 ∩ R_+^n``), proven for orthogonal rows
  (Lemma 4 and the remark after Lemma 3) and rank-one data (Lemma 5), a witness search
  otherwise.
- :func:`extreme_points` — Corollary 2: maximizers of ``|v^T (Xu + b1)_+|``.
- :func:`autoencoder_neurons` — Lemma 7 and Remark 1; :func:`interpolating_network` — Thm 6.
- :func:`ntk_kernel`, :func:`ntk_predict` — Section 5 (the two-layer ReLU NTK).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validation import (
    as_float_array,
    check_positive_int,
    check_positive_scalar,
    check_random_state,
)
from .network import ReLUNetwork

__all__ = [
    "AutoencoderNeurons",
    "SpikeFreeReport",
    "autoencoder_neurons",
    "extreme_points",
    "interpolating_network",
    "is_spike_free",
    "ntk_kernel",
    "ntk_predict",
]


# ---------------------------------------------------------------------------- shared facts
def rank_one_factor(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """``X ~ z a^T`` with ``||a|| = 1``: returns ``(a, z = X a, sigma_2 / sigma_1, sigma_2)``.

    ``sigma_2`` (the spectral norm of ``X - z a^T``) is 0 for exactly rank-one data; the
    closed forms add it to their dual bounds so that they stay sound for nearly rank-one X.
    """
    _, s, Vt = np.linalg.svd(X, full_matrices=False)
    if s[0] == 0.0:
        raise ValueError("The 'X' parameter is all zeros; there is no direction to fit.")
    a = Vt[0]
    sigma2 = float(s[1]) if s.size > 1 else 0.0
    return a, X @ a, sigma2 / float(s[0]), sigma2


def orthogonal_rows_error(X: np.ndarray) -> float:
    """Largest off-diagonal entry of the Gram matrix of the normalized nonzero rows of X."""
    norms = np.linalg.norm(X, axis=1)
    Xn = X[norms > 0] / norms[norms > 0, None]
    G = Xn @ Xn.T
    return float(np.max(np.abs(G - np.diag(np.diag(G))), initial=0.0))


def relu_dual_bound(X: np.ndarray, v: np.ndarray) -> float:
    """A sound upper bound on ``max_{||u|| <= 1} |v^T (X u)_+|`` (no bias), for any X.

    With ``X = D X_n`` (``D`` the row norms): ``v^T (Xu)_+ = (Dv)^T (X_n u)_+ <=
    ||(Dv)_+|| ||X_n u|| <= ||(Dv)_+|| sigma_max(X_n)``, and symmetrically for ``-v``. The
    bound is attained when the rows are orthogonal (the whitened case of Lemma 4 and
    Theorems 9 and 12), so it is exact there.
    """
    norms = np.linalg.norm(X, axis=1)
    safe = np.where(norms > 0, norms, 1.0)
    smax = float(np.linalg.norm(X / safe[:, None], 2))
    dv = norms * v
    return smax * max(np.linalg.norm(np.maximum(dv, 0)), np.linalg.norm(np.maximum(-dv, 0)))


# ---------------------------------------------------------------------------- spike-free
@dataclass(frozen=True)
class SpikeFreeReport:
    """The answer of :func:`is_spike_free`.

    Attributes
    ----------
    spike_free : bool
        The verdict.
    proven : bool
        True when the verdict is a theorem for these data (Lemma 4/5 hold, or a witness
        ``u`` with ``(Xu)_+`` outside ``{Xz : ||z|| <= 1}`` was found and checked); False
        when it rests on a search that found no witness.
    test : str
        Which test decided: ``"orthogonal_rows"``, ``"rank_one"`` or ``"witness_search"``.
    message : str
        One line saying why.
    witness : numpy.ndarray or None
        A unit ``u`` proving that X is not spike-free.
    value : float
        The test's measured quantity (Gram off-diagonal, singular-value ratio, or the
        largest ``||X^+ (Xu)_+||`` / range residual found).
    """

    spike_free: bool
    proven: bool
    test: str
    message: str
    witness: np.ndarray | None = field(default=None, repr=False)
    value: float = float("nan")

    def __bool__(self) -> bool:
        return self.spike_free


def _spike_violation(X: np.ndarray, Xpinv: np.ndarray, u: np.ndarray) -> tuple[float, float]:
    """For ``r = (Xu)_+``: (``||X^+ r||``, relative distance of r from the range of X)."""
    r = np.maximum(X @ u, 0.0)
    z = Xpinv @ r
    rn = np.linalg.norm(r)
    off = np.linalg.norm(X @ z - r) / rn if rn > 0 else 0.0
    return float(np.linalg.norm(z)), float(off)


def is_spike_free(
    X: Any,
    *,
    tol: float = 1e-8,
    n_starts: int = 50,
    n_steps: int = 200,
    random_state: Any = 0,
) -> SpikeFreeReport:
    """Is ``Q_X = {(Xu)_+ : ||u|| <= 1}`` equal to ``X B_2 ∩ R_+^n``? (Lemma 3)

    Lemma 3: X is spike-free iff for every unit ``u`` some ``||z|| <= 1`` has ``Xz = (Xu)_+``.
    Decided, in order, by:

    1. ``orthogonal_rows`` — ``X X^T`` diagonal (whitened data, Lemma 4; ``X = Sigma V^T``
       after Lemma 3): spike-free, proven (``z = V (V^T u)_+``).
    2. ``rank_one`` — ``X = c a^T`` (``sigma_2 <= tol sigma_1``): spike-free iff all ``c_i``
       have one sign (Lemma 5); with mixed signs ``(X a)_+ ∝ c_+`` leaves the range of X,
       a proven counterexample.
    3. ``witness_search`` — projected gradient ascent from ``n_starts`` starts on
       ``||X^+ (Xu)_+||`` and on the distance of ``(Xu)_+`` from the range of X. A witness
       (either above ``1 + 1e-6``) proves X is not spike-free; finding none gives
       ``spike_free=True`` with ``proven=False``.
    """
    X = as_float_array(X, "X", ndim=2)
    tol = check_positive_scalar(tol, "tol")
    n_starts = check_positive_int(n_starts, "n_starts")
    n_steps = check_positive_int(n_steps, "n_steps")
    rng = check_random_state(random_state)
    if not np.any(X):
        return SpikeFreeReport(
            True, True, "orthogonal_rows", "X = 0 is trivially spike-free.", None, 0.0
        )
    err = orthogonal_rows_error(X)
    if err <= tol:
        return SpikeFreeReport(
            True,
            True,
            "orthogonal_rows",
            f"X X^T is diagonal (off-diagonal {err:.2g} <= tol): spike-free by Lemma 4.",
            None,
            err,
        )
    a, c, ratio, _ = rank_one_factor(X)
    if ratio <= tol:
        scale = np.max(np.abs(c))
        if np.all(c >= -tol * scale) or np.all(c <= tol * scale):
            return SpikeFreeReport(
                True,
                True,
                "rank_one",
                f"X = c a^T with c of one sign (sigma_2/sigma_1 = {ratio:.2g}): spike-free "
                "by Lemma 5.",
                None,
                ratio,
            )
        return SpikeFreeReport(
            False,
            True,
            "rank_one",
            f"X = c a^T with c of both signs: (X a)_+ = c_+ is not in the range of X "
            f"(sigma_2/sigma_1 = {ratio:.2g}).",
            a.copy(),
            ratio,
        )
    return _witness_search(X, n_starts, n_steps, rng)


def _witness_search(
    X: np.ndarray, n_starts: int, n_steps: int, rng: np.random.Generator
) -> SpikeFreeReport:
    margin = 1e-6
    Xpinv = np.linalg.pinv(X)
    P = X @ Xpinv  # projector onto the range of X
    Q = np.eye(X.shape[0]) - P
    norms = np.linalg.norm(X, axis=1)
    starts = [X[i] / norms[i] for i in range(X.shape[0]) if norms[i] > 0]
    pnorms = np.linalg.norm(Xpinv, axis=0)
    starts += [Xpinv[:, i] / pnorms[i] for i in range(X.shape[0]) if pnorms[i] > 0]
    starts += list(rng.standard_normal((n_starts, X.shape[1])))
    xnorm2 = max(float(np.linalg.norm(X, 2)) ** 2, 1e-300)
    operators = [M for M in (Xpinv, Q) if np.linalg.norm(M, 2) > 1e-12]
    best_norm, best_off = 0.0, 0.0
    for u0 in starts:
        for M in operators:  # ascent on ||M (Xu)_+||^2 over the unit sphere
            eta = 4.0 / (xnorm2 * float(np.linalg.norm(M, 2)) ** 2)
            MtM = M.T @ M
            u = u0 / max(np.linalg.norm(u0), 1e-300)
            for _ in range(n_steps):
                z = X @ u
                g = X.T @ ((z > 0) * (MtM @ np.maximum(z, 0.0)))
                u_new = u + eta * g
                u_new /= max(np.linalg.norm(u_new), 1e-300)
                if np.allclose(u_new, u, rtol=0.0, atol=1e-12):
                    break
                u = u_new
            zn, off = _spike_violation(X, Xpinv, u)
            best_norm, best_off = max(best_norm, zn), max(best_off, off)
            if off > margin:
                return SpikeFreeReport(
                    False,
                    True,
                    "witness_search",
                    f"(Xu)_+ leaves the range of X for the witness u (relative distance "
                    f"{off:.3g}): not spike-free (Lemma 3).",
                    u,
                    off,
                )
            if zn > 1 + margin:
                return SpikeFreeReport(
                    False,
                    True,
                    "witness_search",
                    f"||X^+ (Xu)_+|| = {zn:.6g} > 1 for the witness u: not spike-free (Lemma 3).",
                    u,
                    zn,
                )
    return SpikeFreeReport(
        True,
        False,
        "witness_search",
        f"No witness in {len(starts)} starts (largest ||X^+ (Xu)_+|| = {best_norm:.6g}, range "
        f"residual {best_off:.2g}); spike-free numerically, not proven.",
        None,
        best_norm,
    )


# ---------------------------------------------------------------------------- extreme points
def extreme_points(X: Any, v: Any, bias: bool = True, **options: Any) -> Any:
    """Maximizers of ``|v^T (X u + b 1)_+|`` over ``||u|| <= 1`` (Corollary 2).

    These are the candidate optimal neurons for the dual vector v (the extreme points of
    the rectified ellipsoid ``Q_X`` along ``±v``). Uses :func:`convexnn.oracles.get_oracle`
    with ``"auto"``: exact for 1-D, rank-one and low-rank data, a strong heuristic with a
    sound bound otherwise. With ``bias=True`` the supremum is finite only when
    ``1^T v = 0`` (the bias dual constraint).

    Returns the :class:`~convexnn.oracles.base.OracleResult` (candidate neurons ``U``,
    biases ``b``, signed ``values``, ``upper_bound``, ``exact``).
    """
    from .oracles import get_oracle
    from .problem import Problem

    X = as_float_array(X, "X", ndim=2)
    v = as_float_array(v, "v", ndim=(1, 2))
    if v.shape[0] != X.shape[0]:
        raise ValueError(f"The 'v' parameter must have {X.shape[0]} rows, got shape {v.shape}.")
    if bias:
        s = np.abs(v.sum(axis=0))
        if np.any(s > 1e-9 * max(float(np.abs(v).sum()), 1e-300)):
            raise ValueError(
                f"With bias=True the dual vector must satisfy 1^T v = 0 (else the bias makes "
                f"|v^T (Xu + b1)_+| unbounded); got 1^T v = {v.sum(axis=0)}."
            )
    problem = Problem(X, v, beta=1.0, loss="squared", bias=bias)
    oracle = get_oracle("auto", problem)
    return oracle(problem, v, **options)


# ---------------------------------------------------------------------------- Lemma 7, Thm 6
@dataclass(frozen=True)
class AutoencoderNeurons:
    """The Lemma 7 neurons, one per sample (columns of ``U``).

    Attributes
    ----------
    U : (d, n) array
        ``u_i``: the normalized residual of the projection of ``x_i`` onto the convex hull
        of the other samples.
    b : (n,) array
        ``b_i = min_{j != i} (-x_j^T u_i)``: the kink sits on the closest other sample.
    distance : (n,) array
        ``||x_i - proj||``: the distance of ``x_i`` from the hull of the others.
    margin : (n,) array
        ``x_i^T u_i + b_i``: positive exactly when the neuron separates ``x_i`` (a vertex).
    is_vertex : (n,) bool array
        ``margin > tol * scale``: a proven vertex of the convex hull of the samples.
    """

    U: np.ndarray
    b: np.ndarray
    distance: np.ndarray
    margin: np.ndarray
    is_vertex: np.ndarray


def autoencoder_neurons(X: Any, *, tol: float = 1e-9) -> AutoencoderNeurons:
    """Lemma 7 (Remark 1): the extreme points of ``Q_X`` along the basis vectors ``e_i``.

    For each sample ``i``: ``lambda = argmin ||x_i - sum_{j != i} lambda_j x_j||`` over the
    simplex, ``u_i`` = the normalized residual, ``b_i = min_{j != i}(-x_j^T u_i)``. Each
    simplex QP is started by NNLS (Lawson-Hanson, the simplex constraint as a heavily
    weighted row) and finished by an active-set step on the affine hull of the support,
    which makes the projection exact (its KKT conditions hold to rounding). The neuron is
    active on ``x_i`` alone; its margin ``x_i^T u_i + b_i > 0`` is a self-checking proof that
    ``x_i`` is a vertex of the hull (``is_vertex``), whatever the accuracy of the QP.
    """
    X = as_float_array(X, "X", ndim=2)
    tol = check_positive_scalar(tol, "tol")
    n, d = X.shape
    if n < 2:
        raise ValueError(f"autoencoder_neurons needs at least 2 samples, got n={n}.")
    scale = max(float(np.max(np.abs(X))), 1e-300)
    Xs = X / scale
    R = np.vstack([_hull_residual(Xs, i) for i in range(n)])
    dist = np.linalg.norm(R, axis=1)
    safe = np.where(dist > 0, dist, 1.0)
    U = (R / safe[:, None]).T
    U[:, dist == 0] = 0.0
    P = X @ U  # P[j, i] = x_j^T u_i
    off = P.copy()
    np.fill_diagonal(off, -np.inf)
    b = -off.max(axis=0)
    margin = np.diag(P) + b
    is_vertex = (dist > 0) & (margin > tol * scale)
    return AutoencoderNeurons(U, b, dist * scale, margin, is_vertex)


def _kkt_violation(Xs: np.ndarray, i: int, r: np.ndarray) -> float:
    """``max_{j != i} (x_j - p)^T r`` for ``p = x_i - r``: <= 0 at the exact projection."""
    others = np.delete(Xs, i, axis=0)
    return float(np.max((others - (Xs[i] - r)) @ r))


def _hull_residual(Xs: np.ndarray, i: int, weight: float = 1e3) -> np.ndarray:
    """``x_i - p`` for ``p`` the projection of ``x_i`` onto the hull of the other rows."""
    from scipy.optimize import nnls

    others = np.delete(np.arange(Xs.shape[0]), i)
    B = Xs[others]
    A = np.vstack([B.T, weight * np.ones((1, others.size))])
    lam = nnls(A, np.append(Xs[i], weight), maxiter=50 * A.shape[1])[0]
    lam = lam / max(float(lam.sum()), 1e-300)
    r0 = Xs[i] - lam @ B
    support = list(np.flatnonzero(lam > 1e-9 * max(float(lam.max()), 1e-300)))
    for _ in range(2 * others.size):  # active set on the affine hull of the support
        if not support:
            break
        S = B[support]
        k = len(support)
        kkt = np.zeros((k + 1, k + 1))
        kkt[:k, :k] = S @ S.T
        kkt[:k, k] = kkt[k, :k] = 1.0
        sol = np.linalg.lstsq(kkt, np.append(S @ Xs[i], 1.0), rcond=None)[0][:k]
        if np.any(sol < -1e-14):
            support.pop(int(np.argmin(sol)))
            continue
        r = Xs[i] - np.maximum(sol, 0.0) @ S
        viol = (B - (Xs[i] - r)) @ r
        j = int(np.argmax(viol))
        if viol[j] <= 1e-13 * max(float(np.linalg.norm(r)), 1e-300) or j in support:
            return r if _kkt_violation(Xs, i, r) <= _kkt_violation(Xs, i, r0) else r0
        support.append(j)
    return r0


def interpolating_network(X: Any, y: Any, *, tol: float = 1e-9) -> ReLUNetwork:
    """Theorem 6: an n-neuron network with ``f(X) = y`` when every sample is a hull vertex.

    With the Lemma 7 neurons ``(XU + 1 b^T)_+`` is diagonal with positive diagonal ``h``, so
    ``W = diag(1/h) y`` interpolates exactly. Raises ``ValueError`` listing the samples
    that are not vertices of the convex hull (there the construction does not exist).
    """
    X = as_float_array(X, "X", ndim=2)
    y = as_float_array(y, "y", ndim=(1, 2))
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"The 'y' parameter must have {X.shape[0]} rows, got shape {y.shape}.")
    neurons = autoencoder_neurons(X, tol=tol)
    bad = np.flatnonzero(~neurons.is_vertex)
    if bad.size:
        raise ValueError(
            f"Theorem 6 needs every sample to be a vertex of the convex hull of the samples; "
            f"sample(s) {bad.tolist()} are not (distance to the hull of the others: "
            f"{np.round(neurons.distance[bad], 12).tolist()})."
        )
    W = (y.T / neurons.margin).T
    c = 0.0 if y.ndim == 1 else np.zeros(y.shape[1])
    return ReLUNetwork(neurons.U, neurons.b, W, c).balanced()


# ---------------------------------------------------------------------------- NTK
def _kappa(t: np.ndarray) -> np.ndarray:
    """``kappa(t) = t kappa_0(t) + kappa_1(t)`` (Section 5, Bietti & Mairal 2019)."""
    t = np.clip(t, -1.0, 1.0)
    theta = np.pi - np.arccos(t)
    k0 = theta / np.pi
    k1 = (t * theta + np.sqrt(1.0 - t * t)) / np.pi
    return t * k0 + k1


def ntk_kernel(X1: Any, X2: Any, *, bias: bool = False) -> np.ndarray:
    """The two-layer ReLU NTK ``K(x, x') = ||x|| ||x'|| kappa(cos angle(x, x'))`` (Section 5).

    ``kappa(t) = t kappa_0(t) + kappa_1(t)``, ``kappa_0(t) = (pi - arccos t)/pi``,
    ``kappa_1(t) = (t (pi - arccos t) + sqrt(1 - t^2))/pi``. It equals twice the NTK of
    ``f(x) = m^{-1/2} sum_j w_j (u_j^T x)_+`` with standard Gaussian ``u_j, w_j``. With
    ``bias=True`` each input is augmented with a constant 1 (a first-layer bias drawn like
    the weights), which the paper's bias-free formula needs for 1-D data.
    """
    A = as_float_array(X1, "X1", ndim=2)
    B = as_float_array(X2, "X2", ndim=2)
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"X1 and X2 must have the same columns, got {A.shape} and {B.shape}.")
    if bias:
        A = np.hstack([A, np.ones((A.shape[0], 1))])
        B = np.hstack([B, np.ones((B.shape[0], 1))])
    na, nb = np.linalg.norm(A, axis=1), np.linalg.norm(B, axis=1)
    outer = np.outer(na, nb)
    cos = np.divide(A @ B.T, outer, out=np.zeros_like(outer), where=outer > 0)
    return outer * _kappa(cos)


def ntk_predict(
    X_train: Any,
    y_train: Any,
    X_test: Any,
    ridge: float = 0.0,
    *,
    bias: bool = False,
) -> np.ndarray:
    """NTK predictions: the minimum-norm interpolant (eq. 32; ``ridge=0``) or kernel ridge.

    ``alpha = argmin ||alpha||`` s.t. ``K alpha = y`` (least squares when K is singular), or
    ``alpha = (K + ridge I)^{-1} y``; predictions ``K(X_test, X_train) alpha``. Contrast with
    the finite-width optimum (piecewise linear with kinks at data points, Cor 3): the NTK
    fit is smooth.
    """
    Xtr = as_float_array(X_train, "X_train", ndim=2)
    y = as_float_array(y_train, "y_train", ndim=(1, 2))
    if y.shape[0] != Xtr.shape[0]:
        raise ValueError(
            f"The 'y_train' parameter must have {Xtr.shape[0]} rows, got shape {y.shape}."
        )
    ridge = check_positive_scalar(ridge, "ridge", allow_zero=True)
    K = ntk_kernel(Xtr, Xtr, bias=bias)
    if ridge > 0:
        alpha = np.linalg.solve(K + ridge * np.eye(K.shape[0]), y)
    else:
        alpha = np.linalg.lstsq(K, y, rcond=None)[0]
    return ntk_kernel(X_test, Xtr, bias=bias) @ alpha


# ---------------------------------------------------------------------------- solving
CLARABEL_OPTIONS = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}


def _solve(prog: Any) -> str:
    """Solve a CVXPY program with tight Clarabel tolerances; raise on failure."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prog.solve(solver="CLARABEL", **CLARABEL_OPTIONS)
    if prog.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"CVXPY/Clarabel failed: status {prog.status}.")
    return prog.status
