"""The oracle interface: find neurons that violate the dual constraint most.

For a dual vector v, the dual constraint of the training problem (NOTES §2) is::

    g(u, b) = |v^T (X u + b 1)_+| <= beta   for all ||u||_2 <= 1 and b in R (b = 0 without bias),

(``||V^T (Xu + b1)_+||_2`` for vector outputs). An oracle returns candidate neurons with
large ``g`` and, when it can, a *sound* upper bound on ``max g``. Checking the constraint
is NP-hard in general (Remark 3), so only some oracles are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..problem import Problem


@dataclass(frozen=True)
class OracleResult:
    """What an oracle found for one dual vector.

    Attributes
    ----------
    U : (d, q) array
        Candidate neurons, unit-norm columns (sorted by decreasing ``|values|``).
    b : (q,) array or None
        Their biases (None when the problem has no bias).
    values : (q,) array
        ``v^T (X u + b 1)_+`` (signed) for scalar outputs, its norm for vector outputs.
    upper_bound : float
        A sound upper bound on ``max_{||u|| <= 1, b} g(u, b)``; ``inf`` when the oracle
        cannot bound it.
    exact : bool
        True when ``upper_bound`` equals the true maximum (up to rounding) — the oracle
        checked the constraint exactly.
    """

    U: np.ndarray
    b: np.ndarray | None
    values: np.ndarray
    upper_bound: float
    exact: bool

    @property
    def best(self) -> float:
        """The largest ``|value|`` among the candidates (a lower bound on ``max g``)."""
        return float(np.max(np.abs(self.values), initial=0.0))


class Oracle:
    """Base class: ``oracle(problem, v) -> OracleResult``.

    Subclasses set ``name`` and ``sound`` (whether ``upper_bound`` is ever finite and
    rigorous) and implement :meth:`supports` and :meth:`__call__`.
    """

    name: str = ""
    sound: bool = False

    def supports(self, problem: Problem) -> str | None:
        """None when the oracle applies to ``problem``, else the reason it does not."""
        return None

    def __call__(self, problem: Problem, v: np.ndarray, **options) -> OracleResult:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
