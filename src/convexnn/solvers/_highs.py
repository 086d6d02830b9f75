"""Linear programs by HiGHS (scipy's ``linprog``), retried on numerical trouble.

The l1-SVM masters (:mod:`convexnn.solvers.master`, :mod:`convexnn.solvers.line_svm`) solve
their LPs at tight tolerances (1e-10), where HiGHS's dual simplex occasionally ends with an
"unknown" model status (``linprog`` status 4; seen on a 917-column block LP at n = 10^6).
The same LP is then solved again without presolve, by the interior-point method, and at
HiGHS's default tolerances, in that order, each with the time left before ``deadline``.
"""

from __future__ import annotations

import time
from typing import Any

from scipy.optimize import linprog

TIGHT = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}


def solve_lp(lp: dict, deadline: float | None = None) -> Any:
    """``linprog(**lp)`` by HiGHS; returns the first result with status 0 (solved) or 1
    (time limit), else the last attempt's (``deadline``: a ``time.perf_counter()`` value)."""
    attempts = (
        ("highs", TIGHT),
        ("highs", {**TIGHT, "presolve": False}),
        ("highs-ipm", TIGHT),
        ("highs", {}),
    )
    for method, settings in attempts:
        options = dict(settings)
        if deadline is not None:
            options["time_limit"] = max(deadline - time.perf_counter(), 0.0)
        res = linprog(method=method, options=options, **lp)
        if res.status in (0, 1):
            return res
    return res


__all__ = ["TIGHT", "solve_lp"]
