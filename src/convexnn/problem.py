"""The training problem: data, loss, beta, bias — primal and dual objectives.

Primal (the paper's eq. 2 with Thm 8/10/13; ARCHITECTURE.md conventions)::

    min_{U, b, W, c}  L((X U + 1 b^T)_+ W + c; y) + (beta / 2) (||U||_F^2 + ||W||_F^2)

with biases ``b`` and offset ``c`` unregularized (present when ``bias=True``). By Lemma 1 it
equals the l1 form ``L(f) + beta sum_j ||u_j|| ||w_j||`` (row norms of W for vector outputs,
Lemma 11). Dual (Thm 1, 8, 13; eq. 33 with bias)::

    max_v  -L*(-v)   s.t.  |v^T (X u + b 1)_+| <= beta  for all ||u||_2 <= 1, b in R,
                           1^T v = 0 when bias=True.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import as_float_array, check_positive_scalar
from .losses import Loss, get_loss
from .network import ReLUNetwork


class Problem:
    """A weight-decay training problem for two-layer ReLU networks.

    Parameters
    ----------
    X : array of shape (n, d)
        Training inputs.
    y : array of shape (n,) or (n, k)
        Targets; labels in {-1, +1} for ``hinge`` and ``logistic``; (n, k) only for squared.
    beta : float > 0
        Weight-decay strength.
    loss : {'squared', 'hinge', 'logistic'}
        ``1/2 ||f - y||^2``, ``sum max(0, 1 - y f)`` or ``sum log(1 + exp(-y f))``.
    bias : bool
        Whether hidden neurons have (unregularized) biases and the output an offset ``c``.
    """

    def __init__(
        self,
        X: Any,
        y: Any,
        beta: float = 1.0,
        loss: str | Loss = "squared",
        bias: bool = True,
    ) -> None:
        X = as_float_array(X, "X", ndim=2, copy=True)
        y = as_float_array(y, "y", ndim=(1, 2), copy=True)
        if y.shape[0] != X.shape[0]:
            raise ValueError(
                f"The 'y' parameter must have {X.shape[0]} rows to match X, got shape {y.shape}."
            )
        if X.shape[1] == 0:
            raise ValueError(f"The 'X' parameter must have at least one column, got {X.shape}.")
        self.loss = get_loss(loss)
        if y.ndim == 2 and not self.loss.supports_vector_output:
            if y.shape[1] != 1:
                raise ValueError(
                    f"The '{self.loss.name}' loss takes 1-D labels y, got shape {y.shape}."
                )
            y = y[:, 0]
        if y.ndim == 2 and y.shape[1] == 0:
            raise ValueError(f"The 'y' parameter must have at least one column, got {y.shape}.")
        if self.loss.binary_labels:
            bad = np.setdiff1d(np.unique(y), [-1.0, 1.0])
            if bad.size:
                raise ValueError(
                    f"The 'y' parameter must hold labels in {{-1, +1}} for the "
                    f"'{self.loss.name}' loss, got value(s) {bad[:5].tolist()}."
                )
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"The 'bias' parameter must be a bool, got {bias!r}.")
        self.X = X
        self.y = y
        self.beta = check_positive_scalar(beta, "beta")
        self.bias = bool(bias)
        X.setflags(write=False)
        y.setflags(write=False)

    # ------------------------------------------------------------------ facts
    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def n_outputs(self) -> int | None:
        """k for vector targets, None for scalar targets."""
        return None if self.y.ndim == 1 else self.y.shape[1]

    @property
    def X_aug(self) -> np.ndarray:
        """``[X, 1]`` when ``bias`` else ``X``: the matrix whose arrangement gives the patterns."""
        if not self.bias:
            return self.X
        return np.hstack([self.X, np.ones((self.n_samples, 1))])

    def __repr__(self) -> str:
        k = "" if self.n_outputs is None else f", k={self.n_outputs}"
        return (
            f"Problem(n={self.n_samples}, d={self.n_features}{k}, beta={self.beta:g}, "
            f"loss='{self.loss.name}', bias={self.bias})"
        )

    def with_beta(self, beta: float) -> Problem:
        """The same data and loss with another beta."""
        return Problem(self.X, self.y, beta=beta, loss=self.loss, bias=self.bias)

    # ------------------------------------------------------------------ primal
    def check_network(self, net: ReLUNetwork) -> ReLUNetwork:
        """Raise a clear error if ``net`` does not fit this problem's shapes and bias."""
        if not isinstance(net, ReLUNetwork):
            raise TypeError(f"The 'network' parameter must be a ReLUNetwork, got {type(net)}.")
        if net.n_features != self.n_features:
            raise ValueError(
                f"The network takes {net.n_features} inputs but X has {self.n_features} columns."
            )
        if net.n_outputs != self.n_outputs:
            raise ValueError(
                f"The network has output dimension {net.n_outputs} but y has {self.n_outputs}."
            )
        if not self.bias:
            has_b = net.b is not None and np.any(net.b != 0)
            has_c = net.c is not None and np.any(net.c != 0)
            if has_b or has_c:
                raise ValueError(
                    "The network has nonzero biases or output offset, but the problem has "
                    "bias=False."
                )
        return net

    def loss_value(self, net: ReLUNetwork) -> float:
        """``L(f(X); y)``."""
        return self.loss.value(self.check_network(net).predict(self.X), self.y)

    def objective(self, net: ReLUNetwork) -> float:
        """``L(f(X); y) + (beta/2)(||U||_F^2 + ||W||_F^2)`` (biases unregularized)."""
        return self.loss_value(net) + self.beta * net.weight_decay()

    def l1_objective(self, net: ReLUNetwork) -> float:
        """``L(f(X); y) + beta sum_j ||u_j|| ||w_j||``: the objective after Lemma 1 balancing."""
        return self.loss_value(net) + self.beta * net.path_norm()

    def zero_network(self, width: int = 0) -> ReLUNetwork:
        """The network with no neurons and the best constant offset (when ``bias``)."""
        k = self.n_outputs
        W = np.zeros((width,) if k is None else (width, k))
        c = self.best_offset(np.zeros(self.y.shape)) if self.bias else None
        b = np.zeros(width) if self.bias else None
        return ReLUNetwork(np.zeros((self.n_features, width)), b, W, c)

    def best_offset(self, f: np.ndarray) -> np.ndarray | float:
        """``argmin_c L(f + c)`` (the free output offset), for a fixed output ``f``."""
        from scipy.optimize import minimize_scalar

        if self.loss.name == "squared":
            c = np.mean(self.y - f, axis=0)
            return float(c) if self.y.ndim == 1 else c
        res = minimize_scalar(lambda c: self.loss.value(f + c, self.y))
        return float(res.x)

    # ------------------------------------------------------------------ dual
    def dual_objective(self, v: Any) -> float:
        """``-L*(-v)``: the dual objective (the constraints are not checked)."""
        v = as_float_array(v, "v", ndim=self.y.ndim)
        if v.shape != self.y.shape:
            raise ValueError(f"The 'v' parameter must have shape {self.y.shape}, got {v.shape}.")
        return self.loss.dual_value(v, self.y)

    def dual_vector(self, net: ReLUNetwork) -> np.ndarray:
        """``v = -grad L(f(X))``, moved into the dual domain (``1^T v = 0`` with bias).

        At an optimal network this is the optimal dual vector (the residual ``y - f`` for
        the squared loss); for any network it is the natural candidate for a certificate.
        """
        f = self.check_network(net).predict(self.X)
        v = -self.loss.gradient(f, self.y)
        return self.loss.dual_domain_project(v, self.y, self.bias)

    def constraint_values(self, v: Any, U: Any, b: Any = None) -> np.ndarray:
        """``v^T (X u_j + b_j 1)_+`` for each column ``u_j`` of U (vector outputs: its norm).

        The dual constraint is ``|value| <= beta`` for unit-norm ``u_j``; U is not normalized.
        """
        v = np.asarray(v, dtype=float)
        U = as_float_array(U, "U", ndim=(1, 2))
        U = U[:, None] if U.ndim == 1 else U
        if U.shape[0] != self.n_features:
            raise ValueError(f"The 'U' parameter must have {self.n_features} rows, got {U.shape}.")
        Z = self.X @ U
        if b is not None:
            Z = Z + np.asarray(b, dtype=float)
        H = np.maximum(Z, 0.0)
        values = H.T @ v
        return values if values.ndim == 1 else np.linalg.norm(values, axis=1)
