"""convexnn: two-layer ReLU networks trained to a certified global optimum.

Implements Ergen & Pilanci, "Convex Geometry and Duality of Over-parameterized Neural
Networks", JMLR 22(212), 2021.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import arrangements
from .network import ReLUNetwork
from .problem import Problem
from .result import Certificate, Neuron, Result
from .solvers import ConvergenceWarning, solve

__version__ = "0.1.0"

# Heavier pieces load on first use: ``cnn.certify``, ``cnn.closed_form``, ``cnn.geometry``, ...
_LAZY = {
    "certify": ("convexnn.certificate", "certify"),
    "closed_form": ("convexnn.closed_form", None),
    "geometry": ("convexnn.geometry", None),
    "oracles": ("convexnn.oracles", None),
    "datasets": ("convexnn.datasets", None),
    "plotting": ("convexnn.plotting", None),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        return mod if attr is None else getattr(mod, attr)
    raise AttributeError(f"module 'convexnn' has no attribute {name!r}")


__all__ = [
    "Certificate",
    "ConvergenceWarning",
    "Neuron",
    "Problem",
    "ReLUNetwork",
    "Result",
    "arrangements",
    "certify",
    "closed_form",
    "datasets",
    "geometry",
    "oracles",
    "plotting",
    "solve",
]
