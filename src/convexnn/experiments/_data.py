"""Data sets of the experiments: generated with an explicit seed, or bundled with scikit-learn.

MNIST and CIFAR-10 cannot be downloaded here; the image experiments use scikit-learn's bundled
digits instead (see :mod:`convexnn.experiments.fig11`).
"""

from __future__ import annotations

import numpy as np


def zigzag_1d(n: int, seed: int = 0, low: float = -2.0, high: float = 2.0) -> tuple:
    """1-D regression data like the paper's Fig. 1b: equally spaced inputs in ``[low, high]``,
    targets of alternating sign with random magnitudes in [0.3, 1].

    Alternating signs make the slope change sign at every interior sample, so the linear
    spline through the samples is the unique minimum-norm interpolant between the extreme
    samples (no flat direction of Proposition 1 inside the data range).
    """
    rng = np.random.default_rng(seed)
    x = np.linspace(low, high, n)
    y = (-1.0) ** np.arange(n) * rng.uniform(0.3, 1.0, n)
    return x[:, None], y


def rank_one(n: int, d: int, seed: int = 0) -> tuple:
    """Rank-one data ``X = c a^T`` (Cor. 5) with Gaussian ``c``, ``a`` and Gaussian targets."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal(n)
    a = rng.standard_normal(d)
    return np.outer(c, a), rng.standard_normal(n)


def whitened(n: int, d: int, seed: int = 0) -> tuple:
    """Whitened data (``X X^T = I``, n <= d; Lemma 4) from a Gaussian matrix, Gaussian targets."""
    if n > d:
        raise ValueError(f"whitened data need n <= d, got n={n}, d={d}.")
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d))
    Uu, _, Vt = np.linalg.svd(A, full_matrices=False)
    return Uu @ Vt, rng.standard_normal(n)


#: Fig. 10 (Section 6): means labelled +1 and -1
MIXTURE_POSITIVE = (-1.0, 0.0, 2.0)
MIXTURE_NEGATIVE = (-2.0, 1.0)


def gaussian_mixture(n: int, seed: int = 0, variance: float = 0.25) -> tuple:
    """1-D Gaussian mixture of Section 6: ``a ~ N(mu, variance)``, mu uniform over
    {-2, -1, 0, 1, 2}; label +1 for mu in {-1, 0, 2}, -1 for mu in {-2, 1}."""
    rng = np.random.default_rng(seed)
    means = np.array(MIXTURE_POSITIVE + MIXTURE_NEGATIVE)
    labels = np.array([1.0] * len(MIXTURE_POSITIVE) + [-1.0] * len(MIXTURE_NEGATIVE))
    pick = rng.integers(0, means.size, n)
    x = means[pick] + np.sqrt(variance) * rng.standard_normal(n)
    return x[:, None], labels[pick]


def sign_changes_1d(n: int, seed: int = 0) -> tuple:
    """1-D binary data for Fig. 8: equally spaced inputs in [-2, 2] with labels in runs of
    random lengths (a few sign changes)."""
    rng = np.random.default_rng(seed)
    x = np.linspace(-2.0, 2.0, n)
    runs = np.cumsum(rng.integers(1, max(2, n // 3), n))
    y = np.where((np.searchsorted(runs, np.arange(n), side="right") % 2) == 0, 1.0, -1.0)
    if np.all(y == y[0]):
        y[-1] = -y[0]
    return x[:, None], y


def whiten_split(
    F_train: np.ndarray, F_test: np.ndarray, d: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Whiten training features to ``X X^T = I`` (n <= d) and map test features the same way.

    With the thin SVD ``F_train = P S Q^T`` (rank n) the linear map ``T = Q S^{-1} H``, for
    ``H`` (n, d) with orthonormal rows drawn with ``seed``, sends the training rows to
    ``X = P H`` (orthonormal rows) and applies unchanged to test rows. Raises ``ValueError``
    when the training features are linearly dependent.
    """
    n = F_train.shape[0]
    if d < n:
        raise ValueError(f"whitening needs d >= n, got d={d}, n={n}.")
    P, S, Qt = np.linalg.svd(F_train, full_matrices=False)
    if S.size < n or S[n - 1] <= 1e-10 * S[0]:
        raise ValueError("the training features are linearly dependent; cannot whiten.")
    P, S, Qt = P[:, :n], S[:n], Qt[:n]
    rng = np.random.default_rng(seed)
    H = np.linalg.qr(rng.standard_normal((d, n)))[0].T
    T = Qt.T @ (H / S[:, None])
    return P @ H, F_test @ T


def digits_split(n_train: int, n_test: int, d: int, seed: int = 0) -> tuple:
    """Whitened 10-class digits (scikit-learn's bundled 8x8 set, standing in for MNIST).

    ``n_train`` class-balanced training digits and ``n_test`` other digits; features are the
    standardized pixels (training statistics) and their pairwise products (a fixed degree-2
    map, so that more than 64 samples can be whitened), whitened by :func:`whiten_split`.
    Returns ``X_train (n_train, d), Y_train (n_train, 10) one-hot, X_test, labels_test``.
    """
    from sklearn.datasets import load_digits

    pixels, labels = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    train = np.concatenate(
        [rng.permutation(np.flatnonzero(labels == c))[: n_train // 10] for c in range(10)]
    )
    rest = np.setdiff1d(np.arange(labels.size), train)
    test = rng.permutation(rest)[:n_test]
    mu, sd = pixels[train].mean(axis=0), pixels[train].std(axis=0)
    sd[sd == 0] = 1.0

    def lift(A: np.ndarray) -> np.ndarray:
        Z = (A - mu) / sd
        rows, cols = np.triu_indices(Z.shape[1])
        return np.hstack([Z, Z[:, rows] * Z[:, cols]])

    X_train, X_test = whiten_split(lift(pixels[train]), lift(pixels[test]), d, seed)
    return X_train, np.eye(10)[labels[train]], X_test, labels[test]


def synthetic_split(n_train: int, n_test: int, d: int, seed: int = 0) -> tuple:
    """A generated 10-class set standing in for CIFAR-10: scikit-learn's ``make_classification``
    (2d raw features, d/2 informative, one cluster per class, hard), scaled by the training
    standard deviations and whitened to d dimensions by :func:`whiten_split`. Same returns as
    :func:`digits_split`."""
    from sklearn.datasets import make_classification

    F, labels = make_classification(
        n_samples=n_train + n_test,
        n_features=2 * d,
        n_informative=d // 2,
        n_redundant=0,
        n_classes=10,
        n_clusters_per_class=1,
        class_sep=1.0,
        random_state=seed,
    )
    F_train, F_test = F[:n_train], F[n_train:]
    sd = F_train.std(axis=0)  # scaled, not centered: centering would drop the rank to n - 1
    X_train, X_test = whiten_split(F_train / sd, F_test / sd, d, seed)
    return X_train, np.eye(10)[labels[:n_train]], X_test, labels[n_train:]
