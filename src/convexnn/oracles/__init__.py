"""Oracles: given a dual vector v, find the neurons that violate ``|v^T (Xu + b1)_+| <= beta``
most, and bound the violation.

========================  ===================================================  ==========
name                      what                                                 bound
========================  ===================================================  ==========
``"exact_1d"``            data on a line (1-D, rank one): kinks at data        exact
                          points, O(n log n) (Lemma 6)
``"enumeration"``         low (augmented) rank: cells of the arrangement;      exact
                          angular sweep in 2-D, cone projections above
``"spike_free"``          the paper's convex relaxation (eq. 15) + Lemma 7     sound, loose
                          extreme points; its maximizer is exact on spike-
                          free data (Prop 2), the bound on whitened data
``"local_search"``        multi-start kink / active-set ascent, any data       sound, loose
``"auto"``                the exact oracle whenever the data allow it, else
                          ``local_search``
========================  ===================================================  ==========

Every oracle is called as ``oracle(problem, v, **options) -> OracleResult``. An oracle whose
best neuron attains its bound reports ``exact=True`` whatever its kind. The bounds of
``spike_free`` and ``local_search`` are chosen by ``bound='fast'`` (default; milliseconds) or
``bound='tight'`` (several times tighter on real data, O(n^2 d^2); what ``certify`` uses).
"""

from __future__ import annotations

from typing import Any

from ..problem import Problem
from .base import Oracle, OracleResult
from .bounds import general_upper_bound
from .enumeration import Enumeration
from .exact_1d import Exact1D
from .local_search import LocalSearch
from .spike_free import SpikeFree

ORACLES: dict[str, type[Oracle]] = {
    "exact_1d": Exact1D,
    "enumeration": Enumeration,
    "spike_free": SpikeFree,
    "local_search": LocalSearch,
}


def get_oracle(name_or_oracle: str | Oracle = "auto", problem: Problem | None = None) -> Oracle:
    """The oracle for a name, or the given :class:`Oracle` instance (checked against problem).

    ``"auto"`` picks, for ``problem``: ``exact_1d`` when the data lie on a line (affine rank
    <= 1 with bias, linear rank <= 1 without); ``enumeration`` when the (augmented) rank is 2,
    or higher with an arrangement small enough to enumerate; else ``local_search``. A named
    oracle that does not apply to ``problem`` raises ``ValueError`` with the reason.
    """
    if isinstance(name_or_oracle, Oracle):
        oracle = name_or_oracle
    elif isinstance(name_or_oracle, str) and name_or_oracle == "auto":
        if problem is None:
            raise ValueError("get_oracle('auto') needs the problem to choose an oracle.")
        return _auto(problem)
    elif isinstance(name_or_oracle, str) and name_or_oracle in ORACLES:
        oracle = ORACLES[name_or_oracle]()
    else:
        listed = ", ".join(repr(k) for k in ("auto", *ORACLES))
        raise ValueError(
            f"The 'oracle' parameter must be one of {listed} or an Oracle instance. "
            f"Got {name_or_oracle!r}."
        )
    if problem is not None:
        reason = oracle.supports(problem)
        if reason is not None:
            raise ValueError(f"Oracle {oracle.name!r} does not apply to {problem}: {reason}.")
    return oracle


def _auto(problem: Problem) -> Oracle:
    for candidate in (Exact1D(), Enumeration()):
        if candidate.supports(problem) is None:
            return candidate
    return LocalSearch()


def available(problem: Problem) -> dict[str, Any]:
    """For each named oracle: None if it applies to ``problem``, else the reason it does not."""
    return {name: cls().supports(problem) for name, cls in ORACLES.items()}


__all__ = [
    "ORACLES",
    "Enumeration",
    "Exact1D",
    "LocalSearch",
    "Oracle",
    "OracleResult",
    "SpikeFree",
    "available",
    "general_upper_bound",
    "get_oracle",
]
