"""Convex-RF (Algorithm 2, Section 6.1): Lemma 7 filters on image patches, ReLU, max pooling
and an l1-regularized least-squares head — every step a convex program.

1. Draw P random patches from the training images; normalize each (zero mean, unit variance,
   ``eps``) and ZCA-whiten the patch matrix (the optional step 7).
2. Lemma 7 / eq. (10): for each patch, the neuron is its normalized residual from the convex
   hull of the other patches (``convexnn.geometry.autoencoder_neurons``, one simplex QP per
   patch); patches inside the hull give no neuron.
3. Activations of every patch of every image through these filters (linear, as the paper
   says), ReLU, and max pooling over the four quadrants of the feature map.
4. The head: ``min_W 1/2 ||B W - Y||^2 + beta ||W||_1`` with one-hot Y (elementwise l1).

MNIST/CIFAR-10 are replaced by scikit-learn's bundled 8x8 digits; the paper used 40k filters,
we use a few hundred.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..geometry import autoencoder_neurons


@dataclass(frozen=True)
class ConvexRF:
    """A fitted Convex-RF model: filters ``U`` (p*p, F), ZCA map, head ``W`` and intercept."""

    patch: int
    U: np.ndarray
    zca: np.ndarray
    W: np.ndarray
    intercept: np.ndarray
    eps: float

    def features(self, images: np.ndarray) -> np.ndarray:
        """Pooled ReLU activations (n, 4 F) of images (n, side, side)."""
        return pooled_features(images, self.U, self.zca, self.patch, self.eps)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class scores (n, K)."""
        return self.features(images) @ self.W + self.intercept


def all_patches(images: np.ndarray, patch: int) -> np.ndarray:
    """Every ``patch x patch`` window (stride 1): shape (n, rows, cols, patch * patch)."""
    windows = np.lib.stride_tricks.sliding_window_view(images, (patch, patch), axis=(1, 2))
    n, r, c = windows.shape[:3]
    return windows.reshape(n, r, c, patch * patch)


def normalize_patches(P: np.ndarray, eps: float) -> np.ndarray:
    """Each patch (last axis) minus its mean, divided by ``sqrt(var + eps)`` (step 4)."""
    centered = P - P.mean(axis=-1, keepdims=True)
    return centered / np.sqrt(P.var(axis=-1, keepdims=True) + eps)


def zca_matrix(P: np.ndarray, eps: float) -> np.ndarray:
    """``V (D + eps I)^{-1/2} V^T`` from the covariance of the patch rows (step 7)."""
    evals, V = np.linalg.eigh(np.cov(P, rowvar=False))
    return (V / np.sqrt(np.maximum(evals, 0.0) + eps)) @ V.T


def pooled_features(
    images: np.ndarray, U: np.ndarray, zca: np.ndarray, patch: int, eps: float
) -> np.ndarray:
    """Step 12-13: ``B = maxpool(ReLU(A_p U))`` over the four quadrants of the feature map."""
    A = normalize_patches(all_patches(images, patch), eps) @ zca  # (n, r, c, p*p)
    H = np.maximum(A @ U, 0.0)  # (n, r, c, F)
    r, c = H.shape[1:3]
    hr, hc = (r + 1) // 2, (c + 1) // 2
    quads = [H[:, :hr, :hc], H[:, :hr, hc:], H[:, hr:, :hc], H[:, hr:, hc:]]
    return np.concatenate([q.max(axis=(1, 2)) for q in quads], axis=1)


def fit_convex_rf(
    images: np.ndarray,
    Y: np.ndarray,
    *,
    n_patches: int = 300,
    patch: int = 4,
    beta: float = 1.0,
    eps: float = 0.1,
    seed: int = 0,
) -> ConvexRF:
    """Algorithm 2 on ``images`` (n, side, side) with one-hot targets ``Y`` (n, K)."""
    from sklearn.linear_model import Lasso

    rng = np.random.default_rng(seed)
    windows = all_patches(images, patch)
    n, r, c, _ = windows.shape
    pick = (
        rng.integers(0, n, n_patches),
        rng.integers(0, r, n_patches),
        rng.integers(0, c, n_patches),
    )
    P = normalize_patches(windows[pick], eps)
    zca = zca_matrix(P, eps)
    neurons = autoencoder_neurons(P @ zca)
    U = neurons.U[:, neurons.is_vertex]
    B = pooled_features(images, U, zca, patch, eps)
    # sklearn's Lasso minimizes 1/(2n) ||Y - B W||^2 + alpha ||W||_1, so alpha = beta / n
    head = Lasso(alpha=beta / images.shape[0], max_iter=20_000, tol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        head.fit(B, Y)
    W = np.atleast_2d(head.coef_).T
    return ConvexRF(patch, U, zca, W, np.atleast_1d(head.intercept_), eps)
