"""Solvers: every method returns a :class:`~convexnn.Result`.

``solve(problem, method=...)`` dispatches to one module per method; each module validates its
own options and fails early, naming what is missing.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..problem import Problem
from ..result import Result
from ._common import ConvergenceWarning

#: method name -> "module:function" (imported on first use, so optional pieces stay light)
METHODS: dict[str, str] = {
    "cutting_plane": "convexnn.solvers.cutting_plane:solve_cutting_plane",
    "reformulation": "convexnn.solvers.reformulation:solve_reformulation",
    "cvxpy": "convexnn.solvers.cvxpy_reference:solve_cvxpy",
    "closed_form": "convexnn.closed_form:solve_closed_form",
    "nonconvex": "convexnn.solvers.nonconvex:solve_nonconvex",
}


def get_solver(method: str) -> Any:
    """The function behind ``solve(..., method=method)``."""
    if not isinstance(method, str) or method not in METHODS:
        listed = ", ".join(repr(m) for m in METHODS)
        raise ValueError(f"The 'method' parameter must be one of {listed}. Got {method!r}.")
    module, name = METHODS[method].split(":")
    return getattr(importlib.import_module(module), name)


def solve(problem: Problem, method: str = "cutting_plane", **options: Any) -> Result:
    """Train a two-layer ReLU network on ``problem`` and return a :class:`Result`.

    The objective is ``L(f(X); y) + (beta/2)(||U||_F^2 + ||W||_F^2)`` (biases unregularized).

    Parameters
    ----------
    problem : Problem
    method : {'cutting_plane', 'reformulation', 'cvxpy', 'closed_form', 'nonconvex'}
        ``cutting_plane`` (default) is the certified global method; ``reformulation`` and
        ``cvxpy`` solve the convex program over hyperplane arrangements (fast first-order and
        CVXPY reference); ``closed_form`` uses the paper's closed forms for special data;
        ``nonconvex`` trains the network by gradient descent (the baseline).
    **options
        Method-specific options (see each solver's docstring).
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"The 'problem' parameter must be a convexnn.Problem, got {type(problem)}.")
    return get_solver(method)(problem, **options)


__all__ = ["METHODS", "ConvergenceWarning", "get_solver", "solve"]
