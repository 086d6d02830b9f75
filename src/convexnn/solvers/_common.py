"""Pieces shared by the solvers: warnings, timing, building a Result."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..network import ReLUNetwork
from ..problem import Problem
from ..result import Result


class ConvergenceWarning(UserWarning):
    """A solver stopped before reaching its tolerance (the message gives gap and tolerance)."""


class Timer:
    """Wall-clock seconds since creation; ``expired`` for a time limit (None = no limit)."""

    def __init__(self, limit: float | None = None) -> None:
        self.start = time.perf_counter()
        self.limit = limit

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    @property
    def expired(self) -> bool:
        return self.limit is not None and self.elapsed >= self.limit


def recover_network(
    problem: Problem,
    pos: np.ndarray,
    neg: np.ndarray,
    c: Any = None,
    *,
    rel_tol: float = 0.0,
) -> ReLUNetwork:
    """Network of the convex reformulation's solution (NOTES §5), balanced (Lemma 1).

    ``pos`` and ``neg`` have shape (d', P): ``d' = d + 1`` with bias (last row = bias
    weight). Column p of ``pos`` gives the neuron ``pos_p / sqrt(||u_p||)`` with output
    ``+sqrt(||u_p||)`` where ``u_p`` is the weight part; ``neg`` likewise with a negative
    output. Columns with a zero weight part but a positive bias (only the all-ones pattern
    allows it) are constant functions and go into the offset ``c``. Columns whose weight
    norm is at most ``rel_tol`` times the largest are dropped, their positive bias part
    folded into ``c`` (changing predictions by at most ``||u_p|| max_i ||x_i||`` each).
    """
    d = problem.n_features
    cols = np.hstack([pos, neg])
    signs = np.concatenate([np.ones(pos.shape[1]), -np.ones(neg.shape[1])])
    norms = np.linalg.norm(cols[:d], axis=0)
    offset = 0.0 if c is None else float(c)
    keep = norms > rel_tol * norms.max(initial=0.0)
    if problem.bias:
        # near-constant neurons (weight part ~ 0, positive bias) are the offset's limit
        const = ~keep & (cols[d] > 0)
        offset += float(np.sum(signs[const] * cols[d, const]))
    keep &= norms > 0
    scale = np.sqrt(norms[keep])
    U = cols[:d, keep] / scale
    b = cols[d, keep] / scale if problem.bias else None
    W = signs[keep] * scale
    return ReLUNetwork(U, b, W, offset if problem.bias else None)


def finish(
    problem: Problem,
    network: ReLUNetwork,
    *,
    timer: Timer,
    n_iter: int,
    lower_bound: float = -np.inf,
    tol: float | None = None,
    sound: bool = False,
    status: str,
    message: str = "",
    history: dict | None = None,
    dual: np.ndarray | None = None,
    info: dict | None = None,
) -> Result:
    """Evaluate ``network`` independently and package a :class:`Result`.

    ``certified`` is true only when the lower bound is ``sound`` and the relative gap is
    within ``tol``.
    """
    objective = problem.objective(network)
    gap = objective - lower_bound
    rel = gap / max(abs(objective), np.finfo(float).tiny)
    certified = bool(sound and tol is not None and np.isfinite(lower_bound) and rel <= tol)
    return Result(
        network=network,
        objective=float(objective),
        lower_bound=float(lower_bound),
        gap=float(gap),
        certified=certified,
        n_iter=int(n_iter),
        time=timer.elapsed,
        history=history or {},
        status=status,
        message=message,
        dual=dual,
        info=info or {},
    )
