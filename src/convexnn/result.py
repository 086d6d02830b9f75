"""Result and Certificate: the two plain records every solver and certificate returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .network import ReLUNetwork


@dataclass(frozen=True)
class Neuron:
    """One hidden neuron ``x -> (u^T x + b)_+`` and its dual-constraint value ``v^T(Xu + b1)_+``.

    ``value`` is signed (squared/hinge/logistic scalar outputs) or a norm (vector outputs).
    """

    u: np.ndarray
    b: float
    value: float


@dataclass(frozen=True)
class Certificate:
    """A duality certificate for one network on one problem.

    Attributes
    ----------
    objective : float
        The weight-decay objective of the network (``Problem.objective``).
    lower_bound : float
        A valid lower bound on the optimal objective: the dual objective of a dual-feasible
        vector. Never above the true optimum when ``sound`` is true.
    gap : float
        ``objective - lower_bound`` (>= 0 up to rounding).
    exact : bool
        True when the dual constraint was checked exactly *for the dual vector used*: the
        worst neuron is the true maximizer of ``|v^T (Xu + b1)_+|``, so ``lower_bound`` is
        the tightest bound that vector can give. It does NOT mean the dual vector is optimal
        or the gap is closed (e.g. hinge networks whose dual vector is not the optimal one):
        read ``gap`` / ``relative_gap`` for that.
    worst_neuron : Neuron or None
        The most violating neuron the oracle found (``None`` for the zero dual vector).
    oracle : str
        Name of the oracle that produced the bound on ``max |v^T (Xu + b1)_+|``.
    time : float
        Seconds spent.
    max_violation : float
        The (upper bound on the) maximum of ``|v^T (Xu + b1)_+|`` for the unscaled dual
        vector, divided by beta; <= 1 means the dual vector was already feasible.
    dual : numpy.ndarray or None
        The feasible (scaled) dual vector behind ``lower_bound``.
    """

    objective: float
    lower_bound: float
    gap: float
    exact: bool
    worst_neuron: Neuron | None
    oracle: str
    time: float
    max_violation: float = float("nan")
    dual: np.ndarray | None = field(default=None, repr=False)

    @property
    def relative_gap(self) -> float:
        """``gap / max(|objective|, tiny)``."""
        return float(self.gap / max(abs(self.objective), np.finfo(float).tiny))


@dataclass(frozen=True)
class Result:
    """What every solver returns.

    Attributes
    ----------
    network : ReLUNetwork
        The trained network (balanced: Lemma 1 rescaling applied).
    objective : float
        Its weight-decay objective, evaluated by ``Problem.objective``.
    lower_bound : float
        A valid lower bound on the optimum (``-inf`` when none is known).
    gap : float
        ``objective - lower_bound``.
    certified : bool
        True when ``gap`` is within the requested tolerance and the lower bound is sound.
    n_iter : int
        Iterations of the solver.
    time : float
        Wall-clock seconds.
    history : dict
        Per-iteration lists (e.g. ``objective``, ``lower_bound``, ``gap``, ``width``, ``time``).
    status : str
        ``"optimal"``, ``"converged"``, ``"max_iter"``, ``"time_limit"``, ``"interrupted"``,
        ``"restricted"`` (optimal for a restricted program only) or a solver's own status.
    message : str
        One human-readable line.
    dual : numpy.ndarray or None
        The dual vector behind ``lower_bound`` (None when not available).
    info : dict
        Solver-specific extras (e.g. constraint violation, patterns used).
    """

    network: ReLUNetwork
    objective: float
    lower_bound: float
    gap: float
    certified: bool
    n_iter: int
    time: float
    history: dict[str, list[Any]] = field(default_factory=dict)
    status: str = "unknown"
    message: str = ""
    dual: np.ndarray | None = field(default=None, repr=False)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def relative_gap(self) -> float:
        """``gap / max(|objective|, tiny)``."""
        return float(self.gap / max(abs(self.objective), np.finfo(float).tiny))
