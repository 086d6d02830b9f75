"""Fast solvers for the convex reformulation over sign patterns (torch, CPU or CUDA).

Solves exactly the program of the CVXPY reference (:mod:`convexnn.solvers.cvxpy_reference`;
Pilanci & Ergen, ICML 2020; NOTES §5). With ``X~ = [X, 1]`` when ``bias`` (else ``X``) and
sign patterns ``D_p``::

    min  1/2 || sum_p D_p X~ (v_p - w_p) + c - y ||^2 + beta sum_p (||v_p[:d]||_2 + ||w_p[:d]||_2)
    s.t. (2 D_p - I) X~ v_p >= 0,  (2 D_p - I) X~ w_p >= 0        (the ReLU program),

with ``c`` free when ``bias`` (the block's bias coordinate is unpenalized: the cones pin it).
The gated program drops the cones and penalizes the whole augmented block, bias coordinate
included (as scnn does; a free bias coordinate would make ``sum_p D_p 1 b_p`` a free
piecewise-constant function that interpolates the data at zero penalty)::

    min  1/2 || sum_p D_p X~ (v_p - w_p) + c - y ||^2 + beta sum_p (||v_p||_2 + ||w_p||_2).

Over the full arrangement (``patterns=None``) the ReLU program equals the
training problem ``1/2 ||f(X) - y||^2 + (beta/2)(||U||_F^2 + ||W||_F^2)`` (Thm 8 with its
bias; global optimum); over sampled patterns it is a restriction whose optimum is only an
upper bound on the training optimum.

Algorithms: the ReLU program by a primal-dual interior-point method on the orthant with the
group norms smoothed and the smoothing driven to 0 with the duality gap, whose Newton
systems use the low-rank structure of the loss (:mod:`._reform_ipm`; iterates strictly
inside the cones), finished by a primal active-set method that lands on an exact KKT point
(:mod:`._reform_polish`); the gated program by ADMM with a factorization computed once per
penalty (:mod:`._reform_admm`).
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np
import torch

from .. import arrangements
from .._validation import (
    check_no_kwargs,
    check_positive_int,
    check_positive_scalar,
    check_random_state,
)
from ..network import ReLUNetwork
from ..problem import Problem
from ..result import Result
from ._common import ConvergenceWarning, Timer, finish, recover_network
from ._reform_admm import admm_gated
from ._reform_ipm import ipm_relu
from ._reform_polish import polish as polish_blocks
from .cvxpy_reference import _scalar_view, _stack_outputs, check_patterns

_DTYPES = {"float64": torch.float64, "float32": torch.float32}
#: interior-point gap at which the finisher is tried once before the end (when above
#: ``tol``): from an iterate at gap ~1e-4 it lands on the exact optimum as surely as from one
#: at 1e-8 (diabetes, breast cancer: the same point to the last digits), 9-10 iterations early
EARLY_POLISH = 1e-4
#: active-set iterations allowed to that early try (successes took a median 5, 90% <= 13 on
#: 150 random small programs; 11-29 on diabetes and breast cancer; on 20000 samples a failed
#: try of 300 iterations took 6 s)
EARLY_POLISH_ITER = 50


def solve_reformulation(
    problem: Problem,
    *,
    patterns: Any = None,
    gated: bool = False,
    tol: float = 1e-8,
    max_iter: int = 20_000,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype | None = None,
    random_state: Any = 0,
    time_limit: float | None = None,
    certify: bool = False,
    polish: bool = True,
    verbose: bool = False,
    **kwargs: Any,
) -> Result:
    """Solve the convex reformulation over ``patterns`` (squared loss; module docstring).

    Objective (training problem): ``1/2 ||f(X) - y||^2 + (beta/2)(||U||_F^2 + ||W||_F^2)``,
    biases unregularized; the program solved is the ICML 2020 reformulation above, the same
    as ``solve(problem, method="cvxpy", patterns=..., gated=...)``.

    Parameters
    ----------
    patterns : None, int or (n, P) 0/1 array
        None enumerates the whole arrangement (global optimum; needs low rank, see
        :func:`convexnn.arrangements.enumerate`); an int samples that many patterns with
        :func:`convexnn.arrangements.sample` (seeded by ``random_state``); an array gives them.
    gated : bool
        Drop the cone constraints and penalize the whole block ``(u; b)`` (the gated-ReLU
        group lasso, module docstring). The ReLU network recovered
        from a gated solution is not the gated model: ``info["program_objective"]`` is the
        gated program's value, ``Result.objective`` the recovered network's.
    tol : float
        Relative KKT residuals (primal and dual) and, for the ReLU program, relative duality
        gap at which the method stops.
    max_iter : int
        Iterations per output (interior-point or ADMM).
    device, dtype : torch device and dtype
        ``"cpu"`` or ``"cuda"``; float64 by default, float32 allowed (looser accuracy).
    random_state : int, Generator or None
        Seeds the pattern sampling when ``patterns`` is an int.
    time_limit : float or None
        Seconds; the method stops (status ``"time_limit"``) once exceeded.
    certify : bool
        Compute a sound lower bound with :func:`convexnn.certify` (otherwise ``lower_bound``
        is ``-inf``: a sampled program is a restriction and bounds nothing from below).
    polish : bool
        ReLU program: finish the interior-point solution by the active-set method of
        :mod:`._reform_polish` (live blocks, tight cone constraints and their multipliers,
        zero blocks' dual conditions); its point replaces the iterate only when it is
        feasible, not worse and a KKT point (``info["polished"]``; ``info["duality_gap"]``
        is then the polished point's, with the residual scaled into the dual feasible set
        as dual point). It is tried once from the iterate at interior-point gap ``1e-4``
        (``EARLY_POLISH``, at most ``EARLY_POLISH_ITER`` active-set iterations) and, where
        its gap is within ``tol``, ends the method there (9-10 iterations early on diabetes
        with 100 and 1000 gates, the same optimum); otherwise at the end. The interior-point
        solution alone is within ``tol`` of the optimum; polishing makes the residual (hence
        the dual vector and :func:`convexnn.certify`'s bound) exact.
    verbose : bool
        Print the residuals.
    rho : float, optional (keyword)
        Initial ADMM penalty of the gated program (default: from beta and y).

    Returns
    -------
    Result
        ``info`` holds ``program_objective`` (the convex program's value), ``constraint_violation``
        (``max_p max_i -((2D_p - I) X~ u_p)_i``, 0 when gated), ``prediction_mismatch``
        (``max_i |network(x_i) - convex model(x_i)|``), ``blocks`` (the solution: one pair
        ``(v, w)`` of (d', P) arrays per output, the offset being the best constant), the
        relative KKT residuals ``primal_residual`` and ``dual_residual`` (and the relative
        ``duality_gap``: the finisher's when ``polished``, else the interior-point method's,
        with ``reduced_accuracy`` true when it stopped (rounding) between ``tol`` and 1e-6),
        ``n_patterns``.
    """
    rho = kwargs.pop("rho", None)
    check_no_kwargs(kwargs, "solve(method='reformulation')")
    if problem.loss.name != "squared":
        raise ValueError(
            f"method='reformulation' supports the squared loss only, got loss="
            f"'{problem.loss.name}'; use method='cvxpy' (same program) or method='cutting_plane'."
        )
    if not isinstance(gated, (bool, np.bool_)):
        raise TypeError(f"The 'gated' parameter must be a bool, got {gated!r}.")
    tol = check_positive_scalar(tol, "tol")
    max_iter = check_positive_int(max_iter, "max_iter")
    if time_limit is not None:
        time_limit = check_positive_scalar(time_limit, "time_limit")
    if rho is not None:
        rho = check_positive_scalar(rho, "rho")
    check_random_state(random_state, "random_state")  # validated even when unused
    dev = _check_device(device)
    tdtype = _check_dtype(dtype)
    timer = Timer(time_limit)
    if isinstance(patterns, (int, np.integer)) and not isinstance(patterns, bool):
        n_patterns = check_positive_int(int(patterns), "patterns")
        D = arrangements.sample(problem.X, n_patterns, problem.bias, seed=random_state)
        D, full = check_patterns(problem, D)
    else:
        D, full = check_patterns(problem, patterns)

    A = torch.tensor(np.array(problem.X_aug), dtype=tdtype, device=dev)
    Dt = torch.as_tensor(D, dtype=tdtype, device=dev)
    outputs = [problem.y] if problem.n_outputs is None else list(problem.y.T)
    nets, fits, stats, polished, gaps = [], [], [], [], []
    for y in outputs:
        deadline = None if time_limit is None else timer.start + time_limit
        yt = torch.as_tensor(np.array(y), dtype=tdtype, device=dev)
        common = dict(
            n_features=problem.n_features,
            center=problem.bias,
            tol=tol,
            deadline=deadline,
            clock=time.perf_counter,
            verbose=verbose,
        )
        if gated:
            common.pop("n_features")  # the gated penalty covers the whole block
            out = admm_gated(A, Dt, yt, problem.beta, max_iter=max_iter, rho=rho, **common)
            pos = out.V.to(torch.float64).cpu().numpy()
            neg = out.W.to(torch.float64).cpu().numpy()
        else:
            polisher = _Polisher(problem, D, np.asarray(y), tol) if polish else None
            out = ipm_relu(
                A,
                Dt,
                yt,
                problem.beta,
                max_iter=max_iter,
                early_exit=polisher,
                early_gaps=(EARLY_POLISH,) if polish and tol < EARLY_POLISH else (),
                **common,
            )
            if polisher is not None and polisher.result is not None:
                pos, neg, polish_gap = polisher.result
                polished.append(True)
                gaps.append(polish_gap)
            else:
                pos = out.V.to(torch.float64).cpu().numpy()
                neg = out.W.to(torch.float64).cpu().numpy()
                gaps.append(out.gap)
        F = _convex_model(problem.X_aug, D, pos, neg)
        c = float(np.mean(y - F)) if problem.bias else None
        scalar = problem if problem.n_outputs is None else _scalar_view(problem, y)
        nets.append(recover_network(scalar, pos, neg, c))
        fits.append((pos, neg, F + (c or 0.0)))
        stats.append(out)
    network = nets[0] if problem.n_outputs is None else _stack_outputs(nets, problem.bias)
    info = _diagnostics(problem, D, fits, network, bool(gated))
    if not gated:
        info["duality_gap"] = max(gaps)  # per output: the finisher's, or the iterate's
        info["reduced_accuracy"] = any(s.reduced_accuracy for s in stats)
        info["polished"] = len(polished) == len(stats)
    converged = all(s.converged for s in stats)
    n_iter = sum(s.n_iter for s in stats)
    info.update(
        blocks=[(pos, neg) for pos, neg, _ in fits],
        n_patterns=D.shape[1],
        full_enumeration=full,
        gated=bool(gated),
        primal_residual=max(s.primal_residual for s in stats),
        dual_residual=max(s.dual_residual for s in stats),
        algorithm="admm (gated group lasso)" if gated else "primal-dual interior point",
        device=str(dev),
        dtype=str(tdtype).replace("torch.", ""),
    )
    history = stats[0].history if len(stats) == 1 else {}
    if converged:
        status = "optimal" if full and not gated and problem.n_outputs is None else "restricted"
    else:
        status = "time_limit" if timer.expired else "max_iter"
        warnings.warn(
            f"{info['algorithm']} did not reach tol in {n_iter} iterations: KKT residuals primal "
            f"{info['primal_residual']:.2e}, dual {info['dual_residual']:.2e}, tolerance "
            f"{tol:.1e}"
            + (f", duality gap {info['duality_gap']:.2e}" if not gated else "")
            + "; increase max_iter or time_limit, or loosen tol.",
            ConvergenceWarning,
            stacklevel=2,
        )
    lower, sound = -math.inf, False
    if certify:
        from ..certificate import certify as run_certify

        cert = run_certify(problem, network)
        lower, sound = cert.lower_bound, True
        info["certificate"] = cert
    kind = "full arrangement" if full else f"{D.shape[1]} patterns"
    return finish(
        problem,
        network,
        timer=timer,
        n_iter=n_iter,
        lower_bound=lower,
        tol=tol,
        sound=sound,
        status=status,
        history=history,
        info=info,
        message=(
            f"{info['algorithm']} ({'gated' if gated else 'ReLU'} program, {kind}) {status} "
            f"after {n_iter} iterations; KKT residuals {info['primal_residual']:.1e}/"
            f"{info['dual_residual']:.1e}"
        ),
    )


class _Polisher:
    """``early_exit`` hook of the interior-point method: finish from the iterate by the
    active-set method of :mod:`._reform_polish`. At the iterate offered on the way
    (interior-point gap at most ``EARLY_POLISH``) the result is accepted, ending the
    interior-point method, when it is a KKT point of the program (exactly feasible, objective
    not above the iterate's) with duality gap at most ``tol``; at the final iterate, when it
    is a KKT point (its gap reported if below the iterate's: the polished objective is not
    higher)."""

    def __init__(self, problem: Problem, D: np.ndarray, y: np.ndarray, tol: float) -> None:
        self.problem, self.D, self.y, self.tol = problem, D.astype(float), y, tol
        self.result: tuple[np.ndarray, np.ndarray, float] | None = None

    def __call__(self, V: torch.Tensor, W: torch.Tensor, tight: Any, gap: float) -> bool:
        p = self.problem
        pos = V.to(torch.float64).cpu().numpy()
        neg = W.to(torch.float64).cpu().numpy()
        final = tight is None
        # tight rows guessed from the margins: on diabetes the IPM's ``tight`` (slack <
        # multiplier) at gap 4e-4 led to a worse start (the finisher still succeeded, 0.3 s
        # instead of 0.05 s at 100 gates)
        out = polish_blocks(
            p.X_aug,
            self.D,
            self.y,
            p.beta,
            p.n_features,
            p.bias,
            pos,
            neg,
            max_iter=300 if final else EARLY_POLISH_ITER,
        )
        if not out.improved or (not final and out.gap > self.tol):
            return False
        self.result = (out.pos, out.neg, min(out.gap, gap) if final else out.gap)
        return True


def _convex_model(A: np.ndarray, D: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """``sum_p D_p A (v_p - w_p)`` (without the offset)."""
    return np.sum(D * (A @ (pos - neg)), axis=1)


def _diagnostics(
    problem: Problem, D: np.ndarray, fits: list, network: ReLUNetwork, gated: bool
) -> dict[str, Any]:
    """Program objective, cone violation and network-vs-model mismatch, in float64."""
    A = problem.X_aug
    S = 2.0 * D - 1.0
    k = A.shape[1] if gated else problem.n_features  # penalized rows (module docstring)
    program, violation, model = 0.0, 0.0, []
    for (pos, neg, F), y in zip(
        fits, [problem.y] if problem.n_outputs is None else list(problem.y.T)
    ):
        penalty = np.linalg.norm(pos[:k], axis=0).sum() + np.linalg.norm(neg[:k], axis=0).sum()
        program += 0.5 * float(np.sum((F - y) ** 2)) + problem.beta * float(penalty)
        if not gated:
            for B in (pos, neg):
                violation = max(violation, float(np.max(-(S * (A @ B)), initial=0.0)))
        model.append(F)
    F = model[0] if problem.n_outputs is None else np.column_stack(model)
    mismatch = float(np.max(np.abs(network.predict(problem.X) - F)))
    return {
        "program_objective": program,
        "constraint_violation": violation,
        "prediction_mismatch": mismatch,
    }


def _check_device(device: Any) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"The 'device' parameter must be a torch device, got {device!r} ({exc})."
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"The 'device' parameter is {device!r} but CUDA is not available.")
    return dev


def _check_dtype(dtype: Any) -> torch.dtype:
    if dtype is None:
        return torch.float64
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    if dtype in (torch.float64, torch.float32):
        return dtype
    if dtype in (np.float64, np.float32):
        return _DTYPES[np.dtype(dtype).name]
    raise ValueError(f"The 'dtype' parameter must be float64 or float32, got {dtype!r}.")
