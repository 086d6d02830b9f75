"""Losses: value, gradient and convex conjugate (ARCHITECTURE.md conventions).

The training problem is ``min_f L(f) + penalty`` and its dual (Thm 1, 8, 13 of the paper) is
``max_v -L*(-v)`` subject to ``|v^T (Xu + b1)_+| <= beta`` for all unit ``u`` (and
``1^T v = 0`` with an unregularized bias). The natural dual vector of a network is
``v = -grad L(f(X))``: the residual ``y - f`` for the squared loss.

- squared:  ``L(f) = 1/2 ||f - y||^2``;  ``-L*(-v) = v^T y - ||v||^2 / 2``.
- hinge:    ``L(f) = sum_i max(0, 1 - y_i f_i)``;  ``-L*(-v) = v^T y`` on ``0 <= y_i v_i <= 1``.
- logistic: ``L(f) = sum_i log(1 + exp(-y_i f_i))``;  ``-L*(-v) = sum_i H(y_i v_i)``,
  ``H(p) = -p log p - (1 - p) log(1 - p)`` on ``0 <= y_i v_i <= 1``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, xlogy


class Loss:
    """A convex loss ``L(f; y)`` summed over samples (and outputs)."""

    name: str = ""
    supports_vector_output: bool = False
    binary_labels: bool = False

    def value(self, f: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    def gradient(self, f: np.ndarray, y: np.ndarray) -> np.ndarray:
        """A (sub)gradient of ``L`` at ``f``."""
        raise NotImplementedError

    def conjugate(self, z: np.ndarray, y: np.ndarray) -> float:
        """``L*(z) = sup_f <z, f> - L(f)`` (``inf`` outside its domain)."""
        raise NotImplementedError

    def dual_value(self, v: np.ndarray, y: np.ndarray) -> float:
        """The dual objective ``-L*(-v)`` (``-inf`` outside the dual domain)."""
        return -self.conjugate(-v, y)

    def dual_domain_project(self, v: np.ndarray, y: np.ndarray, bias: bool) -> np.ndarray:
        """A point of the dual domain (with ``1^T v = 0`` when ``bias``) close to ``v``."""
        raise NotImplementedError

    def max_dual_scale(self, v: np.ndarray, y: np.ndarray) -> float:
        """Largest ``s`` with ``s v`` in the dual domain (``inf`` when unbounded)."""
        return np.inf

    def best_dual_scale(self, v: np.ndarray, y: np.ndarray, s_max: float) -> float:
        """``argmax_{0 <= s <= s_max} -L*(-s v)``: any value in range gives a valid bound."""
        s_max = min(s_max, self.max_dual_scale(v, y))
        if not np.isfinite(s_max) or s_max <= 0:
            # unbounded only for v = 0 or directions leaving the binary dual domain at once
            return 0.0
        result = minimize_scalar(
            lambda s: -self.dual_value(s * v, y),
            bounds=(0.0, s_max),
            method="bounded",
            options={"xatol": 1e-12 * max(s_max, 1e-300)},
        )
        candidates = [0.0, s_max, float(result.x)]
        values = [self.dual_value(s * v, y) for s in candidates]
        return candidates[int(np.argmax(values))]


class SquaredLoss(Loss):
    """``L(f) = 1/2 ||f - y||_F^2`` (a sum, not a mean); vector outputs allowed."""

    name = "squared"
    supports_vector_output = True

    def value(self, f, y):
        return 0.5 * float(np.sum((f - y) ** 2))

    def gradient(self, f, y):
        return f - y

    def conjugate(self, z, y):
        return 0.5 * float(np.sum(z**2)) + float(np.sum(z * y))

    def dual_value(self, v, y):
        return float(np.sum(v * y)) - 0.5 * float(np.sum(v**2))

    def dual_domain_project(self, v, y, bias):
        return v - v.mean(axis=0) if bias else v

    def best_dual_scale(self, v, y, s_max):
        vv = float(np.sum(v**2))
        if vv == 0.0:
            return 0.0
        return float(np.clip(np.sum(v * y) / vv, 0.0, s_max))


class _BinaryLoss(Loss):
    """Shared dual domain of hinge and logistic: ``0 <= y_i v_i <= 1``."""

    binary_labels = True

    def dual_domain_project(self, v, y, bias):
        t = np.clip(v * y, 0.0, 1.0)
        if bias:  # balance the classes so that sum_i y_i t_i = 0 by shrinking the heavier side
            pos, neg = t[y > 0].sum(), t[y < 0].sum()
            if pos > neg:
                t = np.where(y > 0, t * (neg / pos), t)
            elif neg > pos:
                t = np.where(y < 0, t * (pos / neg), t)
        return t * y

    def max_dual_scale(self, v, y):
        t = np.max(v * y)
        return np.inf if t <= 0 else 1.0 / t

    def _in_domain(self, v, y):
        t = v * y
        return bool(np.all(t >= -1e-15) and np.all(t <= 1 + 1e-15))


class HingeLoss(_BinaryLoss):
    """``L(f) = sum_i max(0, 1 - y_i f_i)`` with labels ``y_i`` in {-1, +1}."""

    name = "hinge"

    def value(self, f, y):
        return float(np.sum(np.maximum(0.0, 1.0 - y * f)))

    def gradient(self, f, y):
        return -y * (y * f < 1.0)

    def conjugate(self, z, y):
        if not self._in_domain(-z, y):
            return np.inf
        return float(np.sum(z * y))

    def dual_value(self, v, y):
        return float(np.sum(v * y)) if self._in_domain(v, y) else -np.inf

    def best_dual_scale(self, v, y, s_max):
        s_max = min(s_max, self.max_dual_scale(v, y))
        return float(s_max) if np.sum(v * y) > 0 and np.isfinite(s_max) else 0.0


class LogisticLoss(_BinaryLoss):
    """``L(f) = sum_i log(1 + exp(-y_i f_i))`` with labels ``y_i`` in {-1, +1}."""

    name = "logistic"

    def value(self, f, y):
        return float(np.sum(np.logaddexp(0.0, -y * f)))

    def gradient(self, f, y):
        return -y * expit(-y * f)

    def conjugate(self, z, y):
        if not self._in_domain(-z, y):
            return np.inf
        p = np.clip(-z * y, 0.0, 1.0)
        return float(np.sum(xlogy(p, p) + xlogy(1 - p, 1 - p)))


LOSSES: dict[str, Loss] = {cls.name: cls() for cls in (SquaredLoss, HingeLoss, LogisticLoss)}


def get_loss(name: str | Loss) -> Loss:
    """The loss object for a name ('squared', 'hinge', 'logistic') or a Loss instance."""
    if isinstance(name, Loss):
        return name
    if not isinstance(name, str) or name not in LOSSES:
        raise ValueError(
            f"The 'loss' parameter must be one of 'squared', 'hinge', 'logistic'. Got {name!r}."
        )
    return LOSSES[name]
