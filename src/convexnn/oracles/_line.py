"""Data on a line, sorted once per problem: shared by the exact 1-D oracle and the 1-D master.

For data on a line, ``X = 1 m^T + t a^T`` (:func:`convexnn.oracles._common.reduce_data`), every
quantity the cutting plane needs is a sum over a *contiguous run* of the sorted coordinate
``t``: a neuron ``(x^T u + b)_+ = (s t + b')_+`` is active on the points with ``t`` above (or
below) its kink. Sorting ``t`` once (O(n log n)) makes each later use O(n): prefix sums of a
dual vector (the oracle), sums over the segments cut by the neurons' kinks (the master), and
an O(log n) search for each neuron's run.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from ..problem import Problem
from ._common import Reduction, reduce_data

_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_reductions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True, eq=False)
class SortedLine:
    """The coordinates ``t`` of a problem's data along its line, sorted decreasingly.

    Attributes
    ----------
    order : (n,) int array
        ``t[order]`` is non-increasing (ties in any order: they give equal kink values).
    t : (n,) array
        ``t[order]``.
    """

    order: np.ndarray
    t: np.ndarray

    @property
    def size(self) -> int:
        return self.t.size

    def gather(self, a: np.ndarray) -> np.ndarray:
        """``a`` (rows indexed like the samples) in the sorted order."""
        return a[self.order]

    def scatter(self, a_sorted: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`gather`: rows in the sorted order back to the samples'."""
        out = np.empty_like(a_sorted)
        out[self.order] = a_sorted
        return out

    def active_run(self, s: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``[lo, hi)``: the sorted positions where ``s t + b > 0``, for each neuron ``(s, b)``
        with ``s = +1`` (a prefix: ``t > -b``) or ``s = -1`` (a suffix: ``t < b``)."""
        rising = -self.t  # non-decreasing
        n = self.size
        up = s > 0
        lo = np.where(up, 0, np.searchsorted(rising, -b, side="right"))
        hi = np.where(up, np.searchsorted(rising, b, side="left"), n)
        return lo, np.maximum(hi, lo)


def reduction(problem: Problem) -> tuple[Reduction, bool]:
    """``reduce_data(problem)`` and its ``faithful`` flag, computed once per problem (X is
    read-only): the exact 1-D oracle needs them at every call, the 1-D master once."""
    cached = _reductions.get(problem)
    if cached is None:
        red = reduce_data(problem)
        cached = _reductions[problem] = (red, red.faithful)
    return cached


def sorted_line(problem: Problem, t: np.ndarray) -> SortedLine:
    """The :class:`SortedLine` of ``t`` (the data's coordinates along their line, from
    ``reduce_data(problem)``), computed once per problem: ``t`` depends on X only, and the
    cutting plane uses it once or twice per iteration."""
    cached = _cache.get(problem)
    if cached is not None and cached.size == t.size:
        return cached
    order = np.argsort(t)[::-1].copy()  # ties: any order gives the same kink values
    line = SortedLine(order, t[order])
    line.order.setflags(write=False)
    line.t.setflags(write=False)
    _cache[problem] = line
    return line


__all__ = ["SortedLine", "reduction", "sorted_line"]
