"""Reference solver: the exact convex reformulation solved with CVXPY + Clarabel.

Pilanci & Ergen (ICML 2020; NOTES §5). With ``X~ = [X, 1]`` when ``bias`` (else ``X``) and
sign patterns ``D_p``::

    min  L( sum_p D_p X~ (v_p - w_p) + c ; y ) + beta sum_p (||v_p[:d]||_2 + ||w_p[:d]||_2)
    s.t. (2 D_p - I) X~ v_p >= 0,  (2 D_p - I) X~ w_p >= 0,

with ``c`` free when ``bias`` (the offset; ARCHITECTURE.md); the block's bias coordinate is
unpenalized there, as the cones pin it. The gated program (``gated=True``) drops the cones and
penalizes the whole augmented block, bias coordinate included (the convention of scnn, which
appends a ones column)::

    min  L( sum_p D_p X~ (v_p - w_p) + c ; y ) + beta sum_p (||v_p||_2 + ||w_p||_2),

since with a free bias coordinate ``sum_p D_p 1 b_p`` is a free piecewise-constant function
and the program would interpolate the data at zero penalty. Over the full arrangement this
equals the training problem (global optimum); over sampled patterns it is a restriction
whose optimum is only an upper bound. Vector outputs are solved as one scalar program per
output (neurons serve a single output each): a restriction of Lemma 11's problem, so the
result is certified only through :func:`convexnn.certify`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .. import arrangements
from .._validation import check_no_kwargs, check_positive_scalar
from ..network import ReLUNetwork
from ..problem import Problem
from ..result import Result
from ._common import Timer, finish, recover_network


def check_patterns(problem: Problem, patterns: Any) -> tuple[np.ndarray, bool]:
    """Validated boolean patterns (n, P) without the all-zero column, and whether they are
    the full enumeration (``patterns=None`` enumerates)."""
    if patterns is None:
        D = arrangements.enumerate(problem.X, problem.bias)
        full = True
    else:
        D = np.asarray(patterns)
        if D.ndim != 2 or D.shape[0] != problem.n_samples:
            raise ValueError(
                f"The 'patterns' parameter must have shape ({problem.n_samples}, P), "
                f"got {getattr(D, 'shape', type(patterns))}."
            )
        if D.dtype != bool:
            if not np.all((D == 0) | (D == 1)):
                raise ValueError("The 'patterns' parameter must hold only 0 and 1.")
            D = D.astype(bool)
        full = False
    D = D[:, D.any(axis=0)]
    if D.shape[1] == 0 and not problem.bias and not full:
        raise ValueError("The 'patterns' parameter holds no nonzero pattern.")
    return D, full


def cvxpy_loss(loss_name: str, f: Any, y: np.ndarray) -> Any:
    """The loss as a CVXPY expression."""
    import cvxpy as cp

    if loss_name == "squared":
        return 0.5 * cp.sum_squares(f - y)
    if loss_name == "hinge":
        return cp.sum(cp.pos(1 - cp.multiply(y, f)))
    return cp.sum(cp.logistic(-cp.multiply(y, f)))


def solve_scalar_program(
    problem: Problem, y: np.ndarray, D: np.ndarray, *, solver: str, gated: bool, verbose: bool
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, str]:
    """Solve the scalar-output program; returns (pos, neg, c, dual v, status).

    For the squared loss the program is solved for ``y / s`` and ``beta / s`` with
    ``s = max |y|`` and the solution scaled back by ``s`` (the objective scales by ``s^2``,
    the program is otherwise the same), so targets of any magnitude reach the solver on a
    unit scale (with ``y ~ 1e6`` Clarabel reported the unscaled program infeasible).
    """
    import cvxpy as cp

    s = 1.0
    if problem.loss.name == "squared" and np.any(y != 0):
        s = float(np.max(np.abs(y)))

    A = problem.X_aug
    d, (n, P) = problem.n_features, D.shape
    Df = D.astype(float)
    V = cp.Variable((A.shape[1], P))
    W = cp.Variable((A.shape[1], P))
    c = cp.Variable() if problem.bias else 0.0
    f = cp.Variable(n)
    AV, AW = A @ V, A @ W
    constraints = [f == cp.sum(cp.multiply(Df, AV - AW), axis=1) + c]
    if not gated:
        S = 2 * Df - 1
        constraints += [cp.multiply(S, AV) >= 0, cp.multiply(S, AW) >= 0]
    k = A.shape[1] if gated else d  # penalized rows: the whole block when gated (docstring)
    penalty = cp.sum(cp.norm(V[:k], 2, axis=0)) + cp.sum(cp.norm(W[:k], 2, axis=0))
    objective = cvxpy_loss(problem.loss.name, f, y / s) + (problem.beta / s) * penalty
    prog = cp.Problem(cp.Minimize(objective), constraints)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            prog.solve(solver=solver, verbose=verbose)
        except cp.error.SolverError as exc:
            raise RuntimeError(f"CVXPY ({solver}) failed: {exc}") from None
    if V.value is None:
        raise RuntimeError(f"CVXPY ({solver}) failed: status {prog.status}.")
    dual = constraints[0].dual_value
    v = np.asarray(dual, dtype=float) if dual is not None else np.zeros(n)
    cval = float(c.value) if problem.bias else 0.0
    return s * V.value, s * W.value, s * cval, s * v, prog.status


def solve_cvxpy(
    problem: Problem,
    *,
    patterns: Any = None,
    gated: bool = False,
    solver: str = "CLARABEL",
    tol: float = 1e-6,
    certify: bool = True,
    verbose: bool = False,
    **kwargs: Any,
) -> Result:
    """Solve the convex reformulation over ``patterns`` with CVXPY (reference solver).

    Objective (training problem): ``L(f(X); y) + (beta/2)(||U||_F^2 + ||W||_F^2)``; the
    program solved is the ICML 2020 reformulation above (plain l2 group norms on the weight
    part, bias free; when ``gated``, on the whole block ``(u; b)``, bias included).

    Parameters
    ----------
    patterns : (n, P) 0/1 array or None
        Sign patterns; None enumerates the whole arrangement (global optimum; needs low rank,
        see :func:`convexnn.arrangements.enumerate`).
    gated : bool
        Drop the cone constraints and penalize the whole augmented block ``(u; b)`` (the
        gated-ReLU group lasso); the network is then a gated network, so the ReLU network
        recovered from it is evaluated as is.
    solver : str
        Any CVXPY conic solver name (default Clarabel).
    tol : float
        Relative gap under which the result counts as certified.
    certify : bool
        Compute a sound lower bound with :func:`convexnn.certify` (exact for low rank).
    """
    check_no_kwargs(kwargs, "solve(method='cvxpy')")
    tol = check_positive_scalar(tol, "tol")
    timer = Timer()
    D, full = check_patterns(problem, patterns)
    if certify:
        shortcut = _zero_network_if_optimal(problem, tol, timer, D.shape[1], full)
        if shortcut is not None:
            return shortcut
    outputs = [problem.y] if problem.n_outputs is None else list(problem.y.T)
    nets, duals, statuses = [], [], []
    if D.shape[1] == 0:  # X = 0 without bias: no neuron can act, the zero network is optimal
        outputs = []
        nets, duals, statuses = [problem.zero_network()], [np.zeros(problem.y.shape)], ["optimal"]
    for y in outputs:
        pos, neg, c, v, status = solve_scalar_program(
            problem if problem.n_outputs is None else _scalar_view(problem),
            y,
            D,
            solver=solver,
            gated=gated,
            verbose=verbose,
        )
        scalar = problem if problem.n_outputs is None else _scalar_view(problem, y)
        nets.append(recover_network(scalar, pos, neg, c if problem.bias else None, rel_tol=1e-9))
        duals.append(v)
        statuses.append(status)
    network = (
        nets[0] if problem.n_outputs is None or not outputs else _stack_outputs(nets, problem.bias)
    )
    zero = problem.zero_network()
    if problem.objective(zero) <= problem.objective(network):
        # nothing beats the best constant (constant targets, beta above the threshold): return
        # it exactly rather than the solver's 1e-10-sized neurons, which no gap can certify
        network = zero
    dual = duals[0] if problem.n_outputs is None or not outputs else np.column_stack(duals)
    lower, sound, cert_info = -np.inf, False, {}
    if certify:
        from ..certificate import certify as run_certify

        cert = run_certify(problem, network)
        own = _solver_dual_bound(problem, dual)
        lower, sound = max(cert.lower_bound, own), True
        cert_info = {"certificate": cert, "solver_dual_bound": own}
    status = statuses[0] if len(set(statuses)) == 1 else ",".join(statuses)
    kind = "full arrangement" if full else f"{D.shape[1]} given patterns"
    return finish(
        problem,
        network,
        timer=timer,
        n_iter=1,
        lower_bound=lower,
        tol=tol,
        sound=sound,
        status=status if full and not gated else "restricted",
        message=f"CVXPY/{solver} on the reformulation over the {kind}: {status}",
        dual=dual,
        info={"n_patterns": D.shape[1], "full_enumeration": full, **cert_info},
    )


def _zero_network_if_optimal(
    problem: Problem, tol: float, timer: Timer, n_patterns: int, full: bool
) -> Result | None:
    """The best constant network, certified, when beta is above the threshold where it is
    optimal (its dual vector is feasible by a sound oracle bound and closes the gap to
    ``tol``); else None.

    A globally optimal zero network is also optimal for every restriction of the program.
    Huge ``beta / max|y|`` ratios, where this applies, are the programs the conic solver
    handles worst.
    """
    from ..certificate import dual_lower_bound
    from ..oracles import get_oracle

    zero = problem.zero_network()
    v = problem.dual_vector(zero)
    result = get_oracle("auto", problem)(problem, v)
    if not result.upper_bound <= problem.beta:
        return None
    lower = dual_lower_bound(problem, v, result.upper_bound)[0]
    objective = problem.objective(zero)
    if objective - lower > tol * max(abs(objective), np.finfo(float).tiny):
        return None  # a feasible but loose dual (hinge subgradients): proves nothing
    from ..certificate import certify as run_certify

    cert = run_certify(problem, zero)  # the same record as on the solver path
    lower = max(lower, cert.lower_bound)
    return finish(
        problem,
        zero,
        timer=timer,
        n_iter=0,
        lower_bound=lower,
        tol=tol,
        sound=True,
        status="optimal",
        message=(
            f"beta={problem.beta:g} is above max |v^T (Xu + b1)_+| <= {result.upper_bound:.6g} "
            "for the best constant network's dual vector: the zero network is optimal"
        ),
        dual=v,
        info={
            "n_patterns": n_patterns,
            "full_enumeration": full,
            "zero_network_optimal": True,
            "certificate": cert,
        },
    )


def _solver_dual_bound(problem: Problem, dual: np.ndarray) -> float:
    """The sound lower bound (NOTES §2) from the conic solver's own dual vector.

    The solver's multiplier of ``f = sum_p D_p X~ (v_p - w_p) + c`` is far more accurate
    than ``-grad L`` at the recovered network (whose error is that of the primal iterate),
    so it closes the gap to the solver's tolerance; scaling it by a sound oracle bound keeps
    it a valid bound whatever its accuracy.
    """
    from ..certificate import dual_lower_bound
    from ..oracles import get_oracle

    v = problem.loss.dual_domain_project(np.asarray(dual, dtype=float), problem.y, problem.bias)
    bound = get_oracle("auto", problem)(problem, v).upper_bound
    return dual_lower_bound(problem, v, bound)[0]


def _scalar_view(problem: Problem, y: np.ndarray | None = None) -> Problem:
    """A scalar-output problem on the same X (for the per-output restriction)."""
    y = problem.y[:, 0] if y is None else y
    return Problem(problem.X, y, beta=problem.beta, loss=problem.loss, bias=problem.bias)


def _stack_outputs(nets: list[ReLUNetwork], bias: bool) -> ReLUNetwork:
    """One vector-output network whose neuron blocks each feed one output."""
    k = len(nets)
    U = np.hstack([n.U for n in nets])
    b = np.concatenate([n.b for n in nets]) if bias else None
    W = np.zeros((U.shape[1], k))
    start = 0
    for j, n in enumerate(nets):
        W[start : start + n.width, j] = n.W
        start += n.width
    c = np.array([float(n.c) for n in nets]) if bias else None
    return ReLUNetwork(U, b, W, c)
