"""The paper's convex "spike-free" oracle (eq. 15) with the Lemma 7 correction.

Relaxation (Section 4, eq. 15; Algorithm 3 with bias): replace the rectified set
``{(Xu + b1)_+ : ||u|| <= 1}`` by ``{Xu + b1 : ||u|| <= 1} ∩ R_+^n`` and solve::

    max / min  v^T (X u + b 1)   s.t.  X u + b 1 >= 0,  ||u|| <= 1.

Without bias this is ``max a^T u`` over the cone ``C = {u : Xu >= 0}`` in the unit ball with
``a = X^T v``; by Moreau's decomposition the answer is ``Pi_C(a) / ||Pi_C(a)||`` with
``Pi_C(a) = a + X^T lam``, ``lam = argmin_{lam >= 0} ||a + X^T lam||`` (one NNLS, no CVXPY).
With bias and ``1^T v = 0`` the objective is ``v^T X u`` and any ``u`` is feasible with
``b = -min Xu``, so the relaxation returns ``u = X^T v / ||X^T v||`` (the all-active neuron);
its bias is then moved to the best kink (exactly, by sorting). The Lemma 7 neurons (one per
sample, active on it alone: :func:`convexnn.geometry.autoencoder_neurons`), the extreme
points of ``Q_X`` along the basis vectors, are added as the "first-order correction".

On spike-free data without bias (Lemma 3, Prop 2) the relaxation is exact. The oracle
reports the sound general bound (:func:`.bounds.general_upper_bound`), which is attained —
so ``exact=True`` — on whitened data (``X X^T = I``, Lemma 4); otherwise candidates come
with a loose bound and ``exact=False``.
"""

from __future__ import annotations

import weakref

import numpy as np
from scipy.optimize import nnls

from ..problem import Problem
from ._common import best_kinks, check_dual_vector, finalize, scale_invariant
from .base import Oracle, OracleResult
from .local_search import bound_for

#: Lemma 7 neurons need one simplex QP per sample (a CVXPY program with n^2 variables)
LEMMA7_MAX_N = 300

_lemma7_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class SpikeFree(Oracle):
    """Convex relaxation of the dual constraint (eq. 15) + Lemma 7 extreme points."""

    name = "spike_free"
    sound = True  # the reported bound is the general sound bound, not the relaxation's value

    def __init__(self, lemma7: bool = True) -> None:
        self.lemma7 = bool(lemma7)

    def __repr__(self) -> str:
        return f"SpikeFree(lemma7={self.lemma7})"

    @scale_invariant
    def __call__(
        self,
        problem: Problem,
        v: np.ndarray,
        *,
        seeds: tuple | None = None,
        n_candidates: int = 8,
        bound: str | bool = "fast",
        **options,
    ) -> OracleResult:
        """Maximizers/minimizers of the relaxation, Lemma 7 neurons and ``seeds=(U, b)``.

        ``bound`` selects the sound upper bound as for :class:`.LocalSearch`.
        """
        v = check_dual_vector(problem, v)
        X = problem.X
        cols = [relaxation_directions(X, v, problem.bias)]
        if self.lemma7 and 2 <= problem.n_samples <= LEMMA7_MAX_N:
            cols.append(lemma7_neurons(problem)[0])
        if seeds is not None:
            cols.append(np.asarray(seeds[0], dtype=float).reshape(problem.n_features, -1))
        U = np.hstack(cols)
        U = U[:, np.linalg.norm(U, axis=0) > 0]
        if problem.bias:  # the best kink for each direction (includes the relaxation's b)
            kinks = best_kinks(X @ U, v, True)
            Us, bs = [U], [kinks["b_max"]]
            if v.ndim == 1:
                Us.append(U)
                bs.append(kinks["b_min"])
            U, b = np.hstack(Us), np.concatenate(bs)
            if self.lemma7 and 2 <= problem.n_samples <= LEMMA7_MAX_N:
                U7, b7 = lemma7_neurons(problem)
                U, b = np.hstack([U, U7]), np.concatenate([b, b7])
        else:
            b = None
        upper = bound_for(problem, v, bound)
        return finalize(problem, v, U, b, upper, False, n_candidates)


def relaxation_directions(X: np.ndarray, v: np.ndarray, bias: bool) -> np.ndarray:
    """Solutions of eq. 15 (both signs; one per output column for vector outputs)."""
    W = v[:, None] if v.ndim == 1 else v
    A = X.T @ W  # (d, k)
    if bias:
        return np.hstack([A, -A])
    cols = []
    for a in A.T:
        for sign in (1.0, -1.0):
            lam, _ = nnls(X.T, -sign * a)
            cols.append(sign * a + X.T @ lam)
    return np.column_stack(cols)


def lemma7_neurons(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """The Lemma 7 neurons ``(U, b)`` of ``problem.X`` (computed once per problem)."""
    cached = _lemma7_cache.get(problem)
    if cached is None:
        from ..geometry import autoencoder_neurons

        neurons = autoencoder_neurons(problem.X)
        cached = (neurons.U, neurons.b)
        _lemma7_cache[problem] = cached
    return cached
