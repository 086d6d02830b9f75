"""The paper's closed forms and exact finite programs for special data (NOTES §3).

Every function trains the two-layer ReLU network for the weight-decay objective::

    L((X U + 1 b^T)_+ W + c; y) + (beta / 2) (||U||_F^2 + ||W||_F^2)

(biases ``b`` and offset ``c`` unregularized, present when ``bias=True``) and returns a
:class:`~convexnn.Result` holding the balanced network (Lemma 1), its objective, a dual vector
(``Result.dual``) and a *sound* lower bound: the dual objective of that vector scaled into
the dual feasible set with a rigorous bound on ``max |v^T (Xu + b1)_+|``. ``certified`` is
true only when that bound meets the objective. (:func:`min_norm_interpolation` reports the
value of problem (4) instead, with the matching dual bound.)

- :func:`whitened` — Theorem 9 (squared loss) and Theorem 12 (hinge), ``X X^T = I``.
- :func:`whitened_multiclass` — Theorem 15 (one-hot squared loss).
- :func:`one_dimensional`, :func:`rank_one` — Lemma 6, Cor 3–6, 8, 10, Thm 11, 14: the
  finite problem over the kink dictionary (Lasso, l1-SVM, group Lasso).
- :func:`min_norm_interpolation` — problem (3)/(4), the ``beta -> 0`` limit.
- :func:`optimal_bias_intervals` — Proposition 1.
- :func:`spike_free` — Theorem 4, eq. (22).
- :func:`solve_closed_form` — ``solve(problem, method="closed_form")``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import arrangements
from ._validation import (
    as_float_array,
    check_no_kwargs,
    check_option,
    check_positive_scalar,
)
from .geometry import (
    _solve,
    is_spike_free,
    orthogonal_rows_error,
    rank_one_factor,
    relu_dual_bound,
)
from .network import ReLUNetwork
from .problem import Problem
from .result import Result
from .solvers._common import Timer, finish, recover_network

__all__ = [
    "BiasInterval",
    "min_norm_interpolation",
    "one_dimensional",
    "optimal_bias_intervals",
    "rank_one",
    "solve_closed_form",
    "spike_free",
    "whitened",
    "whitened_multiclass",
]

#: relative gap under which a closed form counts as certified
DEFAULT_TOL = 1e-8


# ============================================================================ shared pieces
def _lower_bound(problem: Problem, v: np.ndarray, bound: float) -> float:
    """Sound lower bound from dual vector ``v`` given ``bound >= max |v^T (Xu + b1)_+|``."""
    from .certificate import dual_lower_bound

    return float(dual_lower_bound(problem, v, bound)[0])


def _package(
    problem: Problem,
    network: ReLUNetwork,
    v: np.ndarray,
    bound: Any,
    *,
    timer: Timer,
    tol: float,
    theorem: str,
    info: dict | None = None,
    alternatives: tuple[np.ndarray, ...] = (),
) -> Result:
    """Balance the network, bound the dual and build the Result (status ``optimal`` when
    the certificate closes, ``uncertified`` otherwise).

    ``bound`` is a number, or a function giving the sound bound for a dual vector; each of
    ``alternatives`` (other dual vectors, e.g. the solver's multipliers) is tried as well and
    the best lower bound is kept (each is sound on its own).
    """
    network = network.balanced().pruned()
    bound_of = bound if callable(bound) else (lambda _v: bound)
    lower, best = -np.inf, 0.0
    for cand in (v, *alternatives):
        cand_bound = float(bound_of(cand))
        value = _lower_bound(problem, cand, cand_bound)
        if value > lower:
            lower, v, best = value, cand, cand_bound
    bound = best
    res = finish(
        problem,
        network,
        timer=timer,
        n_iter=0,
        lower_bound=lower,
        tol=tol,
        sound=True,
        status="optimal",
        message=f"{theorem}: closed form",
        dual=v,
        info={"theorem": theorem, "dual_constraint_max": float(bound), **(info or {})},
    )
    if not res.certified:
        res = dataclasses.replace(
            res,
            status="uncertified",
            message=f"{theorem}: relative gap {res.relative_gap:.3g} above tol={tol:g}",
        )
    return res


def _no_bias(bias: Any, what: str) -> None:
    if not isinstance(bias, (bool, np.bool_)):
        raise TypeError(f"The 'bias' parameter must be a bool, got {bias!r}.")
    if bias:
        raise ValueError(
            f"{what} covers networks without biases (bias=False); the paper has no closed "
            "form for bias=True on these data. Use bias=False or method='cutting_plane'."
        )


def _whitening_error(X: np.ndarray, whiten_tol: float) -> float:
    """``||X X^T - I||_2``, raising when it exceeds ``whiten_tol`` or n > d."""
    n, d = X.shape
    if n > d:
        raise ValueError(f"Whitened data (X X^T = I) needs n <= d; got n={n} > d={d}.")
    err = float(np.linalg.norm(X @ X.T - np.eye(n), 2))
    if err > whiten_tol:
        raise ValueError(
            f"The data are not whitened: ||X X^T - I||_2 = {err:.3g} exceeds "
            f"whiten_tol={whiten_tol:g}. Whiten X first (X <- (X X^T)^(-1/2) X) or use "
            "method='cutting_plane'."
        )
    return err


def _pinv_apply(X: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``X^+ p = X^T (X X^T)^{-1} p`` for full-row-rank X."""
    return X.T @ np.linalg.solve(X @ X.T, p)


def _empty_network(d: int, k: int | None) -> ReLUNetwork:
    return ReLUNetwork(np.zeros((d, 0)), None, np.zeros((0,) if k is None else (0, k)))


# ============================================================================ whitened data
def whitened(
    X: Any,
    y: Any,
    beta: float,
    loss: str = "squared",
    bias: bool = False,
    *,
    whiten_tol: float = 1e-8,
    tol: float = DEFAULT_TOL,
) -> Result:
    """Closed-form optimum for whitened data ``X X^T = I`` (n <= d), no biases.

    Objective ``L(f) + (beta/2)(||U||_F^2 + ||w||^2)`` with ``f = (XU)_+ w``.

    - ``loss="squared"`` (Theorem 9): with ``X^+ = X^T``, neuron ``u_1 = X^+ y_+ / ||.||``
      with l1-form output ``||X^+ y_+|| - beta`` if ``beta < ||y_+||`` (else absent), and
      ``u_2 = X^+ (-y)_+ / ||.||`` with output ``-(||X^+ (-y)_+|| - beta)``. Dual optimum
      ``v* = min(1, beta/||y_+||) y_+ - min(1, beta/||y_-||) y_-``.
    - ``loss="hinge"`` (Theorem 12): ``u_1 = X^+ y_+ / sqrt(n_+)`` with output ``sqrt(n_+)``
      if ``beta < sqrt(n_+)``, absent if ``beta >= sqrt(n_+)`` (at equality every output in
      ``[0, sqrt(n_+)]`` is optimal; the sparsest is returned); symmetric for the negative
      class. Dual optimum ``v*_i = y_i min(1, beta / sqrt(n_{class(i)}))``.

    The lower bound uses ``max_u |v^T (Xu)_+| <= sigma_max(X_n) max ||(D v)_±||`` (rows
    ``X = D X_n``), which is sound for any X and exact for orthogonal rows. Raises
    ``ValueError`` with the measured ``||X X^T - I||_2`` when it exceeds ``whiten_tol``.
    """
    timer = Timer()
    loss = check_option(loss, "loss", ("squared", "hinge"))
    _no_bias(bias, "whitened (Theorems 9 and 12)")
    problem = Problem(X, y, beta=beta, loss=loss, bias=False)
    whiten_tol = check_positive_scalar(whiten_tol, "whiten_tol")
    tol = check_positive_scalar(tol, "tol")
    return _whitened(problem, whiten_tol, tol, timer)


def _whitened(problem: Problem, whiten_tol: float, tol: float, timer: Timer) -> Result:
    if problem.n_outputs is not None:
        raise ValueError(
            "whitened takes 1-D targets y; for one-hot K-class targets use "
            "whitened_multiclass (Theorem 15)."
        )
    X, y, beta = problem.X, problem.y, problem.beta
    err = _whitening_error(X, whiten_tol)
    hinge = problem.loss.name == "hinge"
    cols, outs, v = [], [], np.zeros_like(y)
    for sign in (1.0, -1.0):
        part = np.maximum(sign * y, 0.0)
        r = float(np.linalg.norm(part))  # sqrt(n_+-) for +-1 labels
        if r == 0.0:
            continue
        v += sign * min(1.0, beta / r) * part
        if beta >= r:
            continue
        u = _pinv_apply(X, part)
        norm = float(np.linalg.norm(u))
        cols.append(u / norm)
        outs.append(sign * (norm if hinge else norm - beta))
    net = (
        ReLUNetwork(np.column_stack(cols), None, np.array(outs))
        if cols
        else _empty_network(problem.n_features, None)
    )
    theorem = "Theorem 12 (whitened, hinge)" if hinge else "Theorem 9 (whitened, squared)"
    return _package(
        problem,
        net,
        v,
        relu_dual_bound(X, v),
        timer=timer,
        tol=tol,
        theorem=theorem,
        info={"whitening_error": err},
    )


def whitened_multiclass(
    X: Any,
    Y: Any,
    beta: float,
    *,
    whiten_tol: float = 1e-8,
    tol: float = DEFAULT_TOL,
) -> Result:
    """Theorem 15: closed-form optimum for whitened data and one-hot targets, squared loss.

    Objective ``1/2 ||(XU)_+ W - Y||_F^2 + (beta/2)(||U||_F^2 + ||W||_F^2)``, no biases.
    For each class j with ``n_j`` samples: neuron ``u_j = X^+ y_j / ||X^+ y_j||`` with
    output row ``(||X^+ y_j|| - beta) e_j`` if ``beta < sqrt(n_j)``, else absent. Dual
    optimum ``V*`` with columns ``min(1, beta / sqrt(n_j)) y_j``; its dual constraint
    ``max_u ||V^T (Xu)_+|| <= sigma_max(X) ||V||_2`` (sound, exact here).

    ``Y`` is an (n, K) 0/1 matrix with one 1 per row, or a 1-D array of class labels
    (converted with the classes in ``np.unique`` order, stored in ``info["classes"]``).
    """
    timer = Timer()
    Y = as_float_array(Y, "Y", ndim=(1, 2))
    info: dict[str, Any] = {}
    if Y.ndim == 1:
        classes, idx = np.unique(Y, return_inverse=True)
        Y = np.eye(classes.size)[idx]
        info["classes"] = classes
    if not _is_one_hot(Y):
        raise ValueError(
            "The 'Y' parameter must be one-hot (each row a single 1, the rest 0) for Theorem 15."
        )
    problem = Problem(X, Y, beta=beta, loss="squared", bias=False)
    whiten_tol = check_positive_scalar(whiten_tol, "whiten_tol")
    tol = check_positive_scalar(tol, "tol")
    return _whitened_multiclass(problem, whiten_tol, tol, timer, info)


def _is_one_hot(Y: np.ndarray) -> bool:
    return bool(np.all((Y == 0) | (Y == 1)) and np.all(Y.sum(axis=1) == 1))


def _whitened_multiclass(
    problem: Problem, whiten_tol: float, tol: float, timer: Timer, info: dict
) -> Result:
    X, Y, beta = problem.X, problem.y, problem.beta
    err = _whitening_error(X, whiten_tol)
    k = Y.shape[1]
    V = np.zeros_like(Y)
    cols, rows = [], []
    for j in range(k):
        r = float(np.linalg.norm(Y[:, j]))
        if r == 0.0:
            continue
        V[:, j] = min(1.0, beta / r) * Y[:, j]
        if beta >= r:
            continue
        u = _pinv_apply(X, Y[:, j])
        norm = float(np.linalg.norm(u))
        cols.append(u / norm)
        rows.append((norm - beta) * np.eye(k)[j])
    net = (
        ReLUNetwork(np.column_stack(cols), None, np.array(rows))
        if cols
        else _empty_network(problem.n_features, k)
    )
    bound = float(np.linalg.norm(X, 2) * np.linalg.norm(V, 2))
    return _package(
        problem,
        net,
        V,
        bound,
        timer=timer,
        tol=tol,
        theorem="Theorem 15 (whitened, one-hot squared)",
        info={"whitening_error": err, **info},
    )


# ============================================================================ 1-D / rank-one
def kink_dictionary(z: np.ndarray, bias: bool) -> tuple[np.ndarray, np.ndarray]:
    """Signs ``s`` and biases ``b`` of the kink neurons ``t -> (s t + b)_+`` (Lemma 6, Cor 3).

    With ``bias``: ``s = ±1``, ``b = -s z_i`` for every distinct value ``z_i`` (2n atoms, a
    kink at each data point). Without: ``s = ±1``, ``b = 0``. For rank-one data
    ``X = z a^T`` (Cor 5) the neuron is ``u = s a``.
    """
    if not bias:
        return np.array([1.0, -1.0]), np.zeros(2)
    zs = np.unique(z)
    return np.concatenate([np.ones(zs.size), -np.ones(zs.size)]), np.concatenate([-zs, zs])


def _features(z: np.ndarray, s: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum(np.outer(z, s) + b, 0.0)


def _dictionary_program(
    H: np.ndarray,
    y: np.ndarray,
    beta: float,
    loss_name: str,
    bias: bool,
    *,
    interpolate: bool = False,
) -> tuple[np.ndarray, Any, np.ndarray, str]:
    """Solve ``min L(Hw + c) + beta sum_j ||w_j||`` (or ``min sum_j ||w_j||`` s.t.
    ``Hw + c = y``) with CVXPY/Clarabel; returns ``(w, c, dual of Hw + c, status)``."""
    import cvxpy as cp

    from .solvers.cvxpy_reference import cvxpy_loss

    n, m = H.shape
    k = None if y.ndim == 1 else y.shape[1]
    w = cp.Variable(m if k is None else (m, k))
    c = (cp.Variable() if k is None else cp.Variable(k)) if bias else 0.0
    expr = H @ w + c
    penalty = cp.norm1(w) if k is None else cp.sum(cp.norm(w, 2, axis=1))
    if interpolate:
        cons = [expr == y]
        objective = penalty
    else:
        f = cp.Variable(y.shape)
        cons = [f == expr]
        objective = cvxpy_loss(loss_name, f, y) + beta * penalty
    prog = cp.Problem(cp.Minimize(objective), cons)
    try:
        status = _solve(prog)
    except RuntimeError:
        if interpolate and prog.status in ("infeasible", "infeasible_inaccurate"):
            raise ValueError(
                "No network interpolates y: the interpolation constraints are infeasible "
                "(equal inputs with different targets, or bias=False)."
            ) from None
        raise
    cval = (float(c.value) if k is None else np.asarray(c.value)) if bias else None
    return np.asarray(w.value), cval, np.asarray(cons[0].dual_value, dtype=float), status


def _sparsest(
    problem: Problem, U: np.ndarray, b: np.ndarray | None, w: np.ndarray, c: Any
) -> ReLUNetwork:
    """Drop the interior-point solution's negligible weights: the sparsest of the zero
    network (all weights are solver noise when the optimum has no neuron) and the prunings
    at relative thresholds 1e-6 down to 1e-10 whose objective is within 1e-10 of the best."""
    norms = _group_norms(w)
    top = max(float(norms.max(initial=0.0)), 1e-300)
    best = problem.zero_network()
    best_value = problem.l1_objective(best)
    for tau in (1e-6, 1e-8, 1e-10):
        keep = norms > tau * top
        net = ReLUNetwork(U[:, keep], None if b is None else b[keep], w[keep], c)
        value = problem.l1_objective(net)
        if value < best_value * (1 - 1e-10):
            best, best_value = net, value
    return best


def _dual_candidates(
    problem: Problem, net: ReLUNetwork, multipliers: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Dual vectors to certify with: the solver's multipliers of ``f = ...`` (moved into
    the dual domain) and, for smooth losses, ``-grad L(f(X))`` of the network (for the
    hinge loss the subgradient at the margin is ambiguous, so only the multipliers)."""
    nu = problem.loss.dual_domain_project(multipliers, problem.y, problem.bias)
    if problem.loss.name == "hinge":
        return (nu,)
    return (problem.dual_vector(net), nu)


def _group_norms(W: np.ndarray) -> np.ndarray:
    return np.abs(W) if W.ndim == 1 else np.linalg.norm(W, axis=1)


def _dictionary_bound(H: np.ndarray, v: np.ndarray, residual: float) -> float:
    """``max_j |v^T h_j|`` (norm for vector v) plus ``||v||_2 sigma_2`` for non-exact rank one.

    Over the kink dictionary the first term is the exact dual-constraint maximum (Lemma 6;
    with a bias it needs ``1^T v = 0``); ``|v^T((Xu+b)_+ - (X^u+b)_+)| <= ||v|| ||E||_2``
    covers the residual ``E = X - z a^T``.
    """
    vals = H.T @ v
    top = float(np.max(np.abs(vals) if vals.ndim == 1 else np.linalg.norm(vals, axis=1)))
    return top + residual * float(np.linalg.norm(v, 2))


def _fit_rank_one(
    problem: Problem,
    direction: np.ndarray,
    residual: float,
    *,
    timer: Timer,
    tol: float,
    theorem: str,
) -> Result:
    z = problem.X @ direction
    s, b = kink_dictionary(z, problem.bias)
    H = _features(z, s, b)
    if problem.loss.name == "hinge":  # the l1-SVM is an LP: HiGHS (the cutting-plane master)
        from .solvers.master import solve_master

        sol = solve_master(problem, H, tol=1e-12)
        w, c, nu, status = sol.W, sol.c, sol.dual, "optimal (HiGHS LP)"
    else:
        w, c, nu, status = _dictionary_program(
            H, problem.y, problem.beta, problem.loss.name, problem.bias
        )
    net = _sparsest(problem, np.outer(direction, s), b if problem.bias else None, w, c)
    candidates = _dual_candidates(problem, net, nu)
    return _package(
        problem,
        net,
        candidates[0],
        lambda v: _dictionary_bound(H, v, residual),
        alternatives=candidates[1:],
        timer=timer,
        tol=tol,
        theorem=theorem,
        info={"n_atoms": H.shape[1], "solver_status": status, "rank_one_residual": residual},
    )


def one_dimensional(
    x: Any,
    y: Any,
    beta: float,
    loss: str = "squared",
    bias: bool = True,
    *,
    tol: float = DEFAULT_TOL,
) -> Result:
    """Exact optimum for 1-D inputs via the kink dictionary (Lemma 6, Cor 3, 4, 8, 11; Thm 14).

    Objective ``L(f) + (beta/2)(||u||^2 + ||W||_F^2)`` with ``f(x) = sum_j (u_j x + b_j)_+ w_j
    + c``. The optimal neurons are kinks at data points, ``u = ±1``, ``b = -u x_i``
    (Lemma 6), so the problem is the finite convex program over those 2n atoms with free
    offset c (Cor 8): a Lasso for the squared loss, an l1-SVM on the features
    ``(x - x_i)_+``, ``(x_i - x)_+`` for the hinge loss (Theorem 11; the kernel
    ``K_ij = (x_i - x_j)_+``), a group Lasso for vector outputs (Theorem 14). Solved with
    CVXPY/Clarabel at tight tolerances; the lower bound checks the dual constraint exactly
    over the dictionary. Without a bias the dictionary is ``(x)_+``, ``(-x)_+``. The hinge
    program is a linear program, solved exactly by HiGHS (the cutting-plane master).
    """
    timer = Timer()
    x = as_float_array(x, "x", ndim=(1, 2))
    if x.ndim == 2 and x.shape[1] != 1:
        raise ValueError(f"The 'x' parameter must be 1-D or have one column, got {x.shape}.")
    problem = Problem(x.reshape(-1, 1), y, beta=beta, loss=loss, bias=bias)
    tol = check_positive_scalar(tol, "tol")
    return _fit_rank_one(
        problem, np.ones(1), 0.0, timer=timer, tol=tol, theorem="Lemma 6 / Cor 3, 8 (1-D)"
    )


def rank_one(
    X: Any,
    y: Any,
    beta: float,
    loss: str = "squared",
    bias: bool = True,
    *,
    rank_tol: float = 1e-9,
    tol: float = DEFAULT_TOL,
) -> Result:
    """Exact optimum for rank-one data ``X = c a^T`` (Cor 5, 6, 10, 12; Theorems 11, 14).

    The optimal neurons are ``u = s a/||a||``, ``b = -s c_i ||a||`` (Cor 5): the 1-D problem
    on ``z = X a/||a||`` (see :func:`one_dimensional`). Raises ``ValueError`` when
    ``sigma_2 / sigma_1 > rank_tol``; below it the residual ``sigma_2`` is added to the
    dual bound so that the lower bound stays sound.
    """
    timer = Timer()
    problem = Problem(X, y, beta=beta, loss=loss, bias=bias)
    rank_tol = check_positive_scalar(rank_tol, "rank_tol")
    tol = check_positive_scalar(tol, "tol")
    a, _, ratio, sigma2 = rank_one_factor(problem.X)
    if ratio > rank_tol:
        raise ValueError(
            f"rank_one needs rank-one data X = c a^T: sigma_2/sigma_1 = {ratio:.3g} exceeds "
            f"rank_tol={rank_tol:g}. Use method='cutting_plane'."
        )
    return _fit_rank_one(
        problem, a, sigma2, timer=timer, tol=tol, theorem="Cor 5 / Thm 11, 14 (rank-one)"
    )


@dataclass(frozen=True)
class BiasInterval:
    """A neuron direction with a whole interval of optimal biases (Proposition 1).

    For ``u = sign`` every ``b`` in ``[low, high]`` has the same active set S and the same
    dual-constraint value ``value = v^T (x u + b)_+`` (because ``sum_{i in S} v_i = 0``).
    ``active`` lists S.
    """

    sign: float
    low: float
    high: float
    value: float
    active: tuple[int, ...]


def optimal_bias_intervals(
    x: Any, v: Any, beta: float = 1.0, *, tol: float = 1e-9
) -> list[BiasInterval]:
    """Proposition 1: the 1-D neurons whose optimal bias is a whole interval.

    For ``u = ±1`` and an active set ``S = {i : u x_i + b >= 0}`` (a prefix or suffix of the
    sorted data), ``v^T (x u + b)_+ = sum_{i in S} v_i (u x_i + b)`` does not depend on b
    when ``sum_{i in S} v_i = 0``; then every ``b`` in ``[max_{i in S}(-u x_i),
    min_{j not in S}(-u x_j)]`` gives the same value. Returned are those intervals (of
    positive length; ``high = inf`` for the all-active, linear neuron) on which the neuron
    is optimal for the dual vector v, i.e.
    ``|value| >= beta (1 - tol)`` (``v`` the dual optimum; ``beta = 1`` for problem (4)).
    """
    x = as_float_array(x, "x", ndim=(1, 2)).reshape(-1)
    v = as_float_array(v, "v", ndim=1)
    if v.shape != x.shape:
        raise ValueError(f"The 'v' parameter must have shape {x.shape}, got {v.shape}.")
    beta = check_positive_scalar(beta, "beta")
    scale = max(float(np.abs(v).sum()), 1e-300)
    out = []
    for sign in (1.0, -1.0):
        t = sign * x
        order = np.argsort(-t, kind="stable")  # active sets: the k largest values of t
        ts = t[order]
        for k in range(1, x.size + 1):
            if k < x.size and ts[k - 1] == ts[k]:
                continue  # not a valid split (tied values)
            S = order[:k]
            if abs(v[S].sum()) > tol * scale:
                continue
            high = float(-ts[k]) + 0.0 if k < x.size else np.inf  # all active: a linear unit
            low = float(-ts[k - 1]) + 0.0
            value = float(v[S] @ (t[S] + low))
            if abs(value) >= beta * (1 - tol):
                out.append(BiasInterval(sign, low, high, value, tuple(sorted(S.tolist()))))
    return out


# ============================================================================ min-norm
def min_norm_interpolation(
    X: Any,
    y: Any,
    bias: bool = True,
    *,
    rank_tol: float = 1e-9,
    tol: float = DEFAULT_TOL,
) -> Result:
    """Minimum-norm interpolation, problem (4): ``min sum_j ||u_j|| ||w_j||`` s.t. ``f(X) = y``.

    (Problem (3), ``min ||U||_F^2 + ||W||_F^2``, has twice this value — Lemma 1 — and is the
    ``beta -> 0`` limit of the weight-decay problem.) For 1-D and rank-one data it is the
    l1 (group-l1 for vector y, Thm 14) minimization over the kink dictionary, eq. (17) /
    Cor 8 — exact. Otherwise the convex reformulation over the full hyperplane arrangement
    (NOTES §5) with equality constraints, which needs a low augmented rank
    (:func:`convexnn.arrangements.enumerate`); its lower bound comes from the exact oracle
    (``get_oracle("auto")``).

    ``Result.objective`` is the value of (4) (not a weight-decay objective),
    ``lower_bound = y^T v / max |v^T (Xu + b1)_+|`` (weak duality, Theorem 1),
    ``info["R"]`` the value of (3) and ``info["max_abs_error"]`` the interpolation error.
    """
    timer = Timer()
    problem = Problem(X, y, beta=1.0, loss="squared", bias=bias)
    rank_tol = check_positive_scalar(rank_tol, "rank_tol")
    tol = check_positive_scalar(tol, "tol")
    X, y = problem.X, problem.y
    a, _, ratio, sigma2 = rank_one_factor(X)
    if X.shape[1] == 1 or ratio <= rank_tol:
        direction = np.ones(1) if X.shape[1] == 1 else a
        sigma2 = 0.0 if X.shape[1] == 1 else sigma2
        z = X @ direction
        s, b = kink_dictionary(z, problem.bias)
        H = _features(z, s, b)
        if y.ndim == 1:  # an LP: HiGHS gives an exactly feasible vertex and exact duals
            w, c, nu = _l1_interpolation_lp(H, y, problem.bias)
        else:
            w, c, nu, _ = _dictionary_program(H, y, 1.0, "squared", problem.bias, interpolate=True)
        net = ReLUNetwork(np.outer(direction, s), b if problem.bias else None, w, c)
        v = problem.loss.dual_domain_project(nu, y, problem.bias)
        bound = _dictionary_bound(H, v, sigma2)
        route = "kink dictionary (Cor 8, eq. 17)"
    else:
        net, v, bound = _min_norm_arrangement(problem)
        # polish: the l1 LP over the recovered neurons interpolates to LP precision
        net = net.balanced().pruned()
        scale = np.linalg.norm(net.U, axis=0)
        U, bb = net.U / scale, None if net.b is None else net.b / scale
        w, c, _ = _l1_interpolation_lp(net.hidden(X) / scale, y, problem.bias)
        net = ReLUNetwork(U, bb, w, c)
        route = "full arrangement (NOTES §5)"
    net = net.balanced().pruned()
    objective = net.path_norm()
    value = float(np.sum(v * y))
    if value < 0:
        v, value = -v, -value
    lower = value / bound if bound > 0 and np.isfinite(bound) else (0.0 if value == 0 else -np.inf)
    gap = objective - lower
    rel = gap / max(abs(objective), np.finfo(float).tiny)
    certified = bool(np.isfinite(lower) and rel <= tol)
    err = float(np.max(np.abs(net.predict(X) - y)))
    return Result(
        network=net,
        objective=float(objective),
        lower_bound=float(lower),
        gap=float(gap),
        certified=certified,
        n_iter=0,
        time=timer.elapsed,
        status="optimal" if certified else "uncertified",
        message=f"min-norm interpolation over the {route}",
        dual=v / bound if bound > 0 and np.isfinite(bound) else None,
        info={"R": 2 * float(objective), "max_abs_error": err, "route": route},
    )


def _l1_interpolation_lp(
    H: np.ndarray, y: np.ndarray, bias: bool
) -> tuple[np.ndarray, float | None, np.ndarray]:
    """``min ||w||_1`` s.t. ``H w + c 1 = y`` (c free when ``bias``) by HiGHS; returns
    ``(w, c, nu)`` with ``nu`` the equality multipliers: ``|H^T nu| <= 1``, ``1^T nu = 0``
    with bias, ``y^T nu`` = the optimum (LP duality)."""
    from scipy.optimize import linprog

    n, m = H.shape
    A = np.hstack([H, -H] + ([np.ones((n, 1))] if bias else []))
    cost = np.concatenate([np.ones(2 * m), [0.0] if bias else []])
    bounds = [(0, None)] * (2 * m) + ([(None, None)] if bias else [])
    res = linprog(cost, A_eq=A, b_eq=y, bounds=bounds, method="highs")
    if res.status == 2:
        raise ValueError(
            "No network interpolates y: the interpolation constraints are infeasible "
            "(equal inputs with different targets, or bias=False)."
        )
    if res.status != 0:
        raise RuntimeError(f"HiGHS failed on the interpolation LP: {res.message}")
    w = res.x[:m] - res.x[m : 2 * m]
    return w, (float(res.x[-1]) if bias else None), np.asarray(res.eqlin.marginals, float)


def _min_norm_arrangement(problem: Problem) -> tuple[ReLUNetwork, np.ndarray, float]:
    """Problem (4) through the reformulation over every arrangement pattern, with
    ``sum_p D_p X~ (v_p - w_p) + c = y``; returns (network, dual v, sound bound on v)."""
    import cvxpy as cp

    from .oracles import get_oracle

    if problem.n_outputs is not None:
        raise ValueError(
            "min_norm_interpolation supports vector targets only for 1-D and rank-one data "
            "(Theorem 14)."
        )
    D = arrangements.enumerate(problem.X, problem.bias)
    D = D[:, D.any(axis=0)]
    A, d = problem.X_aug, problem.n_features
    Df = D.astype(float)
    V = cp.Variable((A.shape[1], D.shape[1]))
    W = cp.Variable((A.shape[1], D.shape[1]))
    c = cp.Variable() if problem.bias else 0.0
    S = 2 * Df - 1
    cons = [
        cp.sum(cp.multiply(Df, A @ V - A @ W), axis=1) + c == problem.y,
        cp.multiply(S, A @ V) >= 0,
        cp.multiply(S, A @ W) >= 0,
    ]
    prog = cp.Problem(
        cp.Minimize(cp.sum(cp.norm(V[:d], 2, axis=0)) + cp.sum(cp.norm(W[:d], 2, axis=0))), cons
    )
    try:
        _solve(prog)
    except RuntimeError:
        if prog.status in ("infeasible", "infeasible_inaccurate"):
            raise ValueError(
                "No network interpolates y: the interpolation constraints are infeasible."
            ) from None
        raise
    net = recover_network(
        problem, V.value, W.value, float(c.value) if problem.bias else None, rel_tol=1e-10
    )
    v = problem.loss.dual_domain_project(
        np.asarray(cons[0].dual_value, float), problem.y, problem.bias
    )
    bound = get_oracle("auto", problem)(problem, v).upper_bound
    return net, v, float(bound)


# ============================================================================ spike-free
def spike_free(
    X: Any,
    y: Any,
    beta: float,
    loss: str = "squared",
    *,
    tol: float = DEFAULT_TOL,
) -> Result:
    """Theorem 4 / eq. (22): the convex program for spike-free data, no biases.

    ``min_{w1, w2} L(X(w1 - w2)) + beta (||w1|| + ||w2||)`` s.t. ``X w1 >= 0``, ``X w2 >= 0``
    (2d variables, 2n constraints; O(d^3) by interior point). For spike-free X (Lemma 3:
    whitened, orthogonal rows, rank one with ``c >= 0``; see
    :func:`convexnn.geometry.is_spike_free`) its value is the global optimum of
    ``L((XU)_+ w) + (beta/2)(||U||_F^2 + ||w||^2)``, reached by the two neurons
    ``w1/||w1||`` (output ``||w1||``) and ``w2/||w2||`` (output ``-||w2||``). For other X the
    network is still feasible (an upper bound); the lower bound is always sound: the best of
    the row-orthogonal bound, the rank-one bound and the ``"auto"`` oracle's bound.
    """
    timer = Timer()
    problem = Problem(X, y, beta=beta, loss=loss, bias=False)
    tol = check_positive_scalar(tol, "tol")
    return _spike_free(problem, tol, timer)


def _spike_free(problem: Problem, tol: float, timer: Timer) -> Result:
    import cvxpy as cp

    from .solvers.cvxpy_reference import cvxpy_loss

    if problem.n_outputs is not None:
        raise ValueError(
            "spike_free covers scalar outputs; with vector outputs the spike-free program is "
            "copositive (Section 4.5.4). Use method='cutting_plane'."
        )
    X, y, beta = problem.X, problem.y, problem.beta
    d = problem.n_features
    w1, w2, f = cp.Variable(d), cp.Variable(d), cp.Variable(problem.n_samples)
    cons = [f == X @ (w1 - w2), X @ w1 >= 0, X @ w2 >= 0]
    obj = cvxpy_loss(problem.loss.name, f, y) + beta * (cp.norm(w1, 2) + cp.norm(w2, 2))
    status = _solve(cp.Problem(cp.Minimize(obj), cons))
    W12 = np.column_stack([np.asarray(w1.value), np.asarray(w2.value)])
    norms = np.linalg.norm(W12, axis=0)
    U = W12 / np.where(norms > 0, norms, 1.0)
    net = _sparsest(problem, U, None, norms * np.array([1.0, -1.0]), None)
    candidates = _dual_candidates(problem, net, np.asarray(cons[0].dual_value, float))
    return _package(
        problem,
        net,
        candidates[0],
        lambda v: _sound_bound(problem, v),
        alternatives=candidates[1:],
        timer=timer,
        tol=tol,
        theorem="Theorem 4 (spike-free)",
        info={"solver_status": status},
    )


def _sound_bound(problem: Problem, v: np.ndarray) -> float:
    """A rigorous upper bound on ``max_{||u|| <= 1} |v^T (Xu)_+|`` (no bias): the smallest of
    :func:`relu_dual_bound`, the rank-one bound and, when neither is tight, the oracle's."""
    X, beta = problem.X, problem.beta
    a, z, _, sigma2 = rank_one_factor(X)
    H = _features(z, *kink_dictionary(z, False))
    bound = min(relu_dual_bound(X, v), _dictionary_bound(H, v, sigma2))
    if bound > beta * (1 + 1e-9):
        from .oracles import get_oracle

        bound = min(bound, float(get_oracle("auto", problem)(problem, v).upper_bound))
    return bound


# ============================================================================ dispatcher
def solve_closed_form(
    problem: Problem,
    *,
    tol: float = DEFAULT_TOL,
    rank_tol: float = 1e-9,
    whiten_tol: float = 1e-8,
    allow_unproven: bool = False,
    **kwargs: Any,
) -> Result:
    """``solve(problem, method="closed_form")``: the paper's closed form that applies.

    Objective ``L(f) + (beta/2)(||U||_F^2 + ||W||_F^2)``. Tried in order:

    1. 1-D data (any loss, any bias, vector outputs for squared): :func:`one_dimensional`.
    2. rank-one data, ``sigma_2/sigma_1 <= rank_tol``: :func:`rank_one`.
    3. without bias, whitened (``||X X^T - I|| <= whiten_tol``): Theorem 9 (squared),
       Theorem 12 (hinge), Theorem 15 (one-hot squared), Theorem 4 (logistic).
    4. without bias, spike-free data (proven by :func:`~convexnn.geometry.is_spike_free`, or
       numerically with ``allow_unproven=True``): Theorem 4.

    Otherwise raises ``ValueError`` saying why none applies.
    """
    check_no_kwargs(kwargs, "solve(method='closed_form')")
    if not isinstance(problem, Problem):
        raise TypeError(f"The 'problem' parameter must be a convexnn.Problem, got {type(problem)}.")
    tol = check_positive_scalar(tol, "tol")
    rank_tol = check_positive_scalar(rank_tol, "rank_tol")
    whiten_tol = check_positive_scalar(whiten_tol, "whiten_tol")
    timer = Timer()
    X = problem.X
    n, d = X.shape
    if d == 1:
        return _fit_rank_one(
            problem, np.ones(1), 0.0, timer=timer, tol=tol, theorem="Lemma 6 / Cor 3, 8 (1-D)"
        )
    a, _, ratio, sigma2 = rank_one_factor(X)
    if ratio <= rank_tol:
        return _fit_rank_one(
            problem, a, sigma2, timer=timer, tol=tol, theorem="Cor 5 / Thm 11, 14 (rank-one)"
        )
    reasons = [f"X is not 1-D (d={d})", f"not rank-one (sigma_2/sigma_1 = {ratio:.3g})"]
    if problem.bias:
        raise ValueError(
            "No closed form applies: with bias=True the paper's closed forms cover 1-D and "
            f"rank-one data only, but {reasons[0]} and {reasons[1]}. Use "
            "method='cutting_plane'."
        )
    white = n <= d and float(np.linalg.norm(X @ X.T - np.eye(n), 2)) <= whiten_tol
    if white:
        if problem.n_outputs is not None:
            if _is_one_hot(problem.y):
                return _whitened_multiclass(problem, whiten_tol, tol, timer, {})
            raise ValueError(
                "No closed form applies: the data are whitened but the vector targets are "
                "not one-hot (Theorem 15 needs one-hot Y). Use method='cutting_plane'."
            )
        if problem.loss.name in ("squared", "hinge"):
            return _whitened(problem, whiten_tol, tol, timer)
        return _spike_free(problem, tol, timer)
    gram = orthogonal_rows_error(X)
    reasons.append(
        f"not whitened (n={n}, d={d}, ||X X^T - I||_2 = "
        f"{float(np.linalg.norm(X @ X.T - np.eye(n), 2)):.3g})"
    )
    if problem.n_outputs is not None:
        raise ValueError(
            f"No closed form applies to vector outputs here: {', '.join(reasons)}. "
            "Use method='cutting_plane'."
        )
    report = is_spike_free(X)
    if report.spike_free and (report.proven or allow_unproven):
        return _spike_free(problem, tol, timer)
    reasons.append(f"not proven spike-free ({report.message})")
    raise ValueError(
        f"No closed form applies: {'; '.join(reasons)} (row Gram off-diagonal {gram:.3g}). "
        "Use method='cutting_plane'."
    )
