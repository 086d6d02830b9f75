"""Pieces shared by the experiments: claims, outcomes, figures, solver choice, timing.

Every experiment module exposes ``run(out_dir, quick) -> Outcome``. An :class:`Outcome` holds
the :class:`Claim` records that ``report.md`` sets side by side (the paper's claim, the paper's
number, our measured number, a verdict), the figures written and the raw metrics.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..problem import Problem
from ..result import Result
from ..solvers import solve


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, checked by one experiment.

    Attributes
    ----------
    statement : str
        What the paper claims (one line).
    paper : str
        The paper's number or observation.
    measured : str
        Our number.
    holds : bool
        Whether our measurement supports the claim.
    note : str
        Why our setting or number differs from the paper's, when it does.
    guaranteed : bool
        True when the claim is a theorem's consequence that must hold for any data and seed
        (an optimum below every trained network, a vanishing certified gap); the tests assert
        these. False for empirical observations (generalization, trends), whose verdict is
        reported as measured.
    """

    statement: str
    paper: str
    measured: str
    holds: bool
    note: str = ""
    guaranteed: bool = True


@dataclass
class Outcome:
    """What one experiment produced."""

    name: str
    title: str
    claims: list[Claim] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    time: float = 0.0
    quick: bool = False

    @property
    def holds(self) -> bool:
        """True when every claim holds."""
        return all(c.holds for c in self.claims)

    @property
    def guaranteed_hold(self) -> bool:
        """True when every guaranteed claim (a theorem's consequence) holds."""
        return all(c.holds for c in self.claims if c.guaranteed)

    def as_dict(self) -> dict[str, Any]:
        """Plain-data view (what :func:`convexnn.experiments.run` returns)."""
        return {
            "name": self.name,
            "title": self.title,
            "holds": self.holds,
            "claims": [c.__dict__.copy() for c in self.claims],
            "figures": [str(p) for p in self.figures],
            "metrics": self.metrics,
            "time": self.time,
            "quick": self.quick,
        }


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 5.0, height: float = 3.8) -> Any:
    """A matplotlib Figure and its axes, made without pyplot (no global state, Agg output)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def save_figure(fig: Any, out_dir: Path, name: str) -> Path:
    """Write ``fig`` to ``out_dir/name.png`` and return the path."""
    path = Path(out_dir) / f"{name}.png"
    fig.savefig(path, dpi=110)
    return path


def have_method(method: str) -> bool:
    """Whether ``solve(..., method=method)`` is importable in this installation."""
    from ..solvers import METHODS

    module = METHODS[method].split(":")[0]
    return importlib.util.find_spec(module) is not None


def global_optimum(problem: Problem, tol: float = 1e-8) -> Result:
    """The certified global optimum of a low-rank ``problem``.

    Uses the cutting-plane method (with the ``auto`` oracle, exact for 1-D, rank-one and other
    low-rank data) when it is installed, else the CVXPY reference over the full hyperplane
    arrangement (exact for low augmented rank).
    """
    if have_method("cutting_plane"):
        return solve(problem, method="cutting_plane", tol=tol)
    return solve(problem, method="cvxpy", certify=have_certify())


def have_certify() -> bool:
    """Whether :func:`convexnn.certify` is installed."""
    return importlib.util.find_spec("convexnn.certificate") is not None


def certified_lower_bound(problem: Problem, result: Result) -> float:
    """A sound lower bound on the optimum for ``result``'s network (``certify`` when needed)."""
    if np.isfinite(result.lower_bound):
        return result.lower_bound
    from ..certificate import certify

    return certify(problem, result.network).lower_bound


def grid(x: np.ndarray, n_points: int = 801, margin: float = 0.0) -> np.ndarray:
    """``n_points`` equally spaced points over ``[min x - margin, max x + margin]``."""
    lo, hi = float(np.min(x)), float(np.max(x))
    return np.linspace(lo - margin, hi + margin, n_points)


class Stopwatch:
    """Seconds since creation."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def fmt(value: float, digits: int = 4) -> str:
    """A number in short scientific or fixed notation for the report."""
    if value is None or not np.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e4):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def one_dimensional_optimum(problem: Problem) -> Result:
    """The exact optimum of a 1-D problem: the theory closed form (Cor. 3/8, Thm 11: a Lasso or
    l1-SVM over the 2n kink neurons) when installed, else :func:`global_optimum`."""
    if have_method("closed_form"):
        from ..closed_form import one_dimensional

        return one_dimensional(
            problem.X[:, 0], problem.y, problem.beta, loss=problem.loss.name, bias=problem.bias
        )
    return global_optimum(problem)
