"""Certificates: a sound lower bound and duality gap for ANY network (weak duality).

For the training problem ``min L(f) + (beta/2)(||U||_F^2 + ||W||_F^2)`` the dual (Thm 1, 8,
13 of the paper; eq. 33 with bias) is::

    max_v  -L*(-v)   s.t.  |v^T (X u + b 1)_+| <= beta   for all ||u||_2 <= 1, b in R
                           (||V^T (Xu + b1)_+||_2 <= beta for vector outputs),
                           1^T v = 0 when bias=True.

Every dual-feasible ``v`` gives a lower bound ``-L*(-v)`` on the optimum. From any ``v`` in
the dual domain and a *sound* upper bound ``M >= max |v^T (Xu + b1)_+|`` (an oracle's), the
scaled ``s v`` with ``0 <= s <= beta / M`` is feasible, and the best such ``s`` gives the bound
(NOTES §2). The natural ``v`` of a network is ``-grad L(f(X))`` (the residual for the squared
loss); for the hinge loss the subgradient at margin points is ambiguous, so the dual of the
master problem over the network's own neurons (an LP) is tried as well.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

import numpy as np

from ._validation import check_positive_scalar
from .network import ReLUNetwork
from .oracles import get_oracle
from .oracles._common import check_dual_vector
from .oracles.base import Oracle
from .oracles.bounds import tight_bound_seconds
from .problem import Problem
from .result import Certificate, Neuron

_LP_MAX_SIZE = 5_000_000  # n * width above which the hinge LP candidate is skipped


def dual_lower_bound(problem: Problem, v: Any, upper_bound: float) -> tuple[float, float]:
    """``(lower_bound, s)``: the dual objective of ``s v`` for the best feasible scale ``s``.

    Parameters
    ----------
    v : array like ``problem.y``
        A point of the dual domain (``1^T v = 0`` when ``bias``; ``0 <= y_i v_i <= 1`` for
        hinge and logistic).
    upper_bound : float
        A sound ``M >= max_{||u|| <= 1, b} |v^T (Xu + b1)_+|`` (norm for vector outputs).
        ``inf`` (nothing known) gives ``s = 0``, the bound of the zero dual vector.

    ``s = loss.best_dual_scale(v, y, beta / M)`` maximizes the dual objective over
    ``[0, beta / M]`` (and the loss's own domain), so ``s v`` is dual feasible and its
    objective is a valid lower bound on the optimum of ``problem``. With bias, ``v`` is first
    projected onto ``1^T v = 0`` exactly (it may be off by rounding) and ``M`` is raised by
    what that change can add to the constraint, so the bound stays rigorous.
    """
    v = check_dual_vector(problem, v)
    lower, s, used = _scaled_dual(problem, v, upper_bound)
    ratio = float(np.max(np.abs(used), initial=0.0)) / max(float(np.max(np.abs(v))), 1e-300)
    return lower, s * ratio


def _scaled_dual(problem: Problem, v: Any, upper_bound: float) -> tuple[float, float, np.ndarray]:
    """:func:`dual_lower_bound` plus the vector ``v`` it scaled (projected when ``bias``)."""
    v = check_dual_vector(problem, v)
    M = float(upper_bound)
    if np.isnan(M) or M < 0:
        raise ValueError(f"The 'upper_bound' parameter must be >= 0 or inf, got {upper_bound!r}.")
    loss, y = problem.loss, problem.y
    if problem.bias and np.isfinite(M):
        # 1^T v = 0 holds only up to rounding (check_dual_vector); project exactly once more
        # and pay for the change: at the kinks, which carry the maximum,
        # |g_v'(u, b) - g_v(u, b)| <= ||v' - v||_1 max_i |x_i^T u + b| <= ||v' - v||_1 diam(X)
        projected = loss.dual_domain_project(v, y, True)
        change = float(np.sum(np.abs(projected - v)))
        M += change * _diameter(problem.X) * (1 + 1e-12)
        v = projected
    zero = problem.dual_objective(np.zeros_like(v))
    if not np.isfinite(M):
        return zero, 0.0, v
    unit = float(np.max(np.abs(v), initial=0.0))
    if unit > 0:  # homogeneous: work with max|v| = 1 so that ||v||^2 cannot underflow
        v, M = v / unit, M / unit
    s_max = problem.beta / M if M > 0 else np.inf
    s = float(loss.best_dual_scale(v, y, s_max))
    s = min(max(s, 0.0), s_max)
    lower = problem.dual_objective(s * v)
    if not lower > zero:  # -inf outside the domain, or no better than v = 0
        return zero, 0.0, v
    return float(lower), s, v


def certify(
    problem: Problem,
    network: ReLUNetwork,
    oracle: str | Oracle = "auto",
    time_limit: float | None = None,
    **options: Any,
) -> Certificate:
    """A duality certificate for ``network``: objective, sound lower bound, gap.

    The objective is ``L(f(X); y) + (beta/2)(||U||_F^2 + ||W||_F^2)`` (biases
    unregularized). The lower bound is the dual objective of a scaled dual vector (see
    :func:`dual_lower_bound`), the best over a few candidate vectors built from the network;
    it never exceeds the true optimum. It is the tightest bound for that vector when the
    oracle is exact (``exact=True``: 1-D, rank-one and low-rank data with ``oracle="auto"``);
    ``exact`` says nothing about whether the vector itself is the optimal dual (the gap
    does). On general data the bound is sound but loose (``exact=False``): the candidates
    are compared with the oracle's fast bound and the best one gets the quadratic ('tight')
    bound of :func:`convexnn.oracles.bounds.general_upper_bound` when it fits the time limit.

    Parameters
    ----------
    problem : Problem
    network : ReLUNetwork
        Any network of the right shape (e.g. ``ReLUNetwork.from_torch(model)``).
    oracle : str or Oracle
        ``"auto"`` (default) or any name of :mod:`convexnn.oracles`.
    time_limit : float or None
        Seconds the oracle may spend searching (the fast bound is always computed; the
        tight one is skipped when its estimated cost exceeds both the time left and a
        quarter of ``time_limit``).
    **options
        Passed to the oracle (e.g. ``n_candidates``, ``random_state``).
    """
    start = time.perf_counter()
    if not isinstance(problem, Problem):
        raise TypeError(f"The 'problem' parameter must be a convexnn.Problem, got {type(problem)}.")
    problem.check_network(network)
    if time_limit is not None:
        time_limit = check_positive_scalar(time_limit, "time_limit")
    orc = get_oracle(oracle, problem)
    objective = problem.objective(network)
    seeds = _unit_neurons(network)
    # oracles with a choice of bound: 'fast' while comparing candidate dual vectors, then
    # 'tight' once for the best (the tight bound costs O(n^2 d^2))
    tighten = "bound" in inspect.signature(orc.__call__).parameters and "bound" not in options

    def evaluate(v: np.ndarray, bound: str = "fast") -> tuple[float, float, np.ndarray, Any]:
        elapsed = time.perf_counter() - start
        remaining = None if time_limit is None else max(time_limit - elapsed, 0.0)
        extra = {"bound": bound} if tighten else {}
        res = orc(problem, v, seeds=seeds, time_limit=remaining, **options, **extra)
        lower, s, used = _scaled_dual(problem, v, res.upper_bound)
        return lower, s, used, res

    def expired() -> bool:
        return time_limit is not None and time.perf_counter() - start > time_limit

    best = evaluate(problem.dual_vector(network))
    if problem.loss.name == "hinge":
        rounds = 50 if best[3].exact else 3  # a loose bound gains little from more rounds
        center = best[1] * best[2] if best[0] > -np.inf else None
        for candidate in _hinge_duals(problem, network, evaluate, expired, rounds, center):
            if candidate[0] > best[0]:
                best = candidate
    if tighten and _tight_affordable(problem, time.perf_counter() - start, time_limit):
        tight = evaluate(best[2], "tight")
        best = tight if tight[0] >= best[0] else best
    lower, s, v, res = best
    worst = None
    if res.values.size:
        b0 = float(res.b[0]) if res.b is not None else 0.0
        worst = Neuron(u=res.U[:, 0].copy(), b=b0, value=float(res.values[0]))
    return Certificate(
        objective=float(objective),
        lower_bound=float(lower),
        gap=float(objective - lower),
        exact=bool(res.exact),
        worst_neuron=worst,
        oracle=orc.name,
        time=time.perf_counter() - start,
        max_violation=float(res.upper_bound / problem.beta),
        dual=s * v,
    )


def _tight_affordable(problem: Problem, elapsed: float, time_limit: float | None) -> bool:
    """Whether the quadratic ('tight') bound fits: always without ``time_limit``, else when its
    estimated cost is within the time left or a quarter of the limit."""
    if time_limit is None:
        return True
    cost = tight_bound_seconds(problem)
    return cost <= max(time_limit - elapsed, 0.25 * time_limit)


def _diameter(X: np.ndarray) -> float:
    """An upper bound on ``max_{i,j} ||x_i - x_j||``: twice the largest distance to the mean."""
    return (
        2.0 * float(np.max(np.linalg.norm(X - X.mean(axis=0), axis=1), initial=0.0)) * (1 + 1e-12)
    )


def _unit_neurons(network: ReLUNetwork) -> tuple[np.ndarray, np.ndarray | None]:
    """The network's neurons scaled to unit ``u`` (dropping ``u = 0``): oracle seeds."""
    norms = np.linalg.norm(network.U, axis=0)
    live = norms > 0
    U = network.U[:, live] / norms[live]
    b = None if network.b is None else network.b[live] / norms[live]
    return U, b


def _hinge_duals(
    problem: Problem,
    network: ReLUNetwork,
    evaluate: Any,
    expired: Any,
    rounds: int = 20,
    center: np.ndarray | None = None,
):
    """Better hinge dual vectors: the dual of the l1-SVM over the network's neurons, grown by
    the violating neurons the oracle finds (a dual cutting plane), stabilized "in-out".

    At margin points (``y_i f_i = 1``) the gradient ``-y 1[y f < 1]`` is not the optimal dual;
    the restricted dual is, once it holds enough neurons. The restricted LP's dual is a vertex
    outside the feasible set that jumps between rounds (Kelley's method), so each round also
    queries the midpoint between it and ``center``, the best feasible (scaled) vector so far:
    the dual domain and the constraint set are convex, so the midpoint's scaled version is
    feasible too, and its violating neurons are the cuts that matter near the optimum.
    Yields ``evaluate(v)`` results.
    """
    U, b = _unit_neurons(network)
    center_lower = -np.inf
    for _ in range(rounds):
        if expired():
            return
        v = _hinge_restricted_dual(problem, U, b)
        if v is None:
            return
        queries = [v] if center is None else [v, 0.5 * (v + center)]
        new_U, new_b, optimal = [], [], False
        for k, query in enumerate(queries):
            result = evaluate(query)
            yield result
            lower, s, used, res = result
            if lower > center_lower:
                center, center_lower = s * used, lower
            viol = np.abs(res.values) > problem.beta * (1 + 1e-9)
            optimal |= k == 0 and not np.any(viol)  # the LP's dual is feasible: optimal
            new_U.append(res.U[:, viol])
            if b is not None:
                new_b.append(res.b[viol])
            if expired():
                return
        if optimal:
            return
        U = np.hstack([U, *new_U])
        if b is not None:
            b = np.concatenate([b, *new_b])


def _hinge_restricted_dual(
    problem: Problem, U: np.ndarray, b: np.ndarray | None
) -> np.ndarray | None:
    """``argmax sum_i t_i`` s.t. ``0 <= t <= 1``, ``sum y_i t_i = 0`` (bias) and
    ``|sum_i y_i t_i h_ij| <= beta`` for the unit neurons ``h_j = (X u_j + b_j)_+``; returns
    ``v = y t``.

    This is the dual of the l1-SVM over the network's neurons, so at an optimal network it is
    an optimal dual vector (the gradient ``-y 1[y f < 1]`` is not, at margin points).
    """
    from scipy.optimize import linprog

    y = problem.y
    H = np.maximum(problem.X @ U + (0.0 if b is None else b), 0.0)
    n, m = H.shape
    if n * max(m, 1) > _LP_MAX_SIZE:
        return None
    A = (H * y[:, None]).T
    A_ub = np.vstack([A, -A]) if m else None
    b_ub = np.full(2 * m, problem.beta) if m else None
    A_eq = y[None, :] if problem.bias else None
    b_eq = np.zeros(1) if problem.bias else None
    res = linprog(
        -np.ones(n), A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=(0.0, 1.0), method="highs"
    )
    if res.status != 0 or res.x is None:
        return None
    return problem.loss.dual_domain_project(y * np.clip(res.x, 0.0, 1.0), y, problem.bias)
