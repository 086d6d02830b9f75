"""Embedded datasets (scikit-learn's bundled copies; nothing is downloaded) and table loading.

Every loader returns ``X, y`` as float64 numpy arrays ready for :class:`convexnn.Problem`:

- :func:`load_diabetes` — 442 x 10 regression, X and y standardized (the demo's data);
- :func:`load_breast_cancer` — 569 x 30 binary classification, labels in {-1, +1};
- :func:`load_iris`, :func:`load_wine` — small multi-class sets, labels 0..K-1;
- :func:`load_digits_whitened` — whitened digits (``X X^T = I``), the setting of Thm 15 and
  the paper's Fig 11;
- :func:`load_csv` — a CSV or Parquet file, one column as the target.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import as_float_array, check_positive_int, check_random_state

__all__ = [
    "DataFileError",
    "load_breast_cancer",
    "load_csv",
    "load_diabetes",
    "load_digits_whitened",
    "load_iris",
    "load_table",
    "load_wine",
    "standardize",
]


class DataFileError(ValueError):
    """A data file that cannot be read as a numeric table (message names the file and why)."""


def standardize(A: Any) -> np.ndarray:
    """Columns (or a vector) shifted to mean 0 and scaled to standard deviation 1.

    Constant columns are only centered (their standard deviation is 0).
    """
    A = np.asarray(A, dtype=np.float64)
    std = A.std(axis=0)
    return (A - A.mean(axis=0)) / np.where(std > 0, std, 1.0)


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"The '{name}' parameter must be a bool, got {value!r}.")
    return bool(value)


def load_diabetes(standardize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's diabetes regression data: X (442, 10), y (442,).

    With ``standardize`` (default) every column of X and the target y have mean 0 and
    standard deviation 1 — the setting of the cutting-plane benchmarks (issue 8).
    """
    from sklearn import datasets

    do = _check_bool(standardize, "standardize")
    X, y = datasets.load_diabetes(return_X_y=True, scaled=False)
    X, y = X.astype(np.float64), y.astype(np.float64)
    return (_standardize(X), _standardize(y)) if do else (X, y)


def load_breast_cancer(standardize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's breast cancer data: X (569, 30), labels y in {-1, +1} (+1 = benign).

    With ``standardize`` (default) every column of X has mean 0 and standard deviation 1.
    """
    from sklearn import datasets

    do = _check_bool(standardize, "standardize")
    X, t = datasets.load_breast_cancer(return_X_y=True)
    X = X.astype(np.float64)
    y = np.where(t == 1, 1.0, -1.0)
    return (_standardize(X) if do else X), y


def load_iris(standardize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's iris data: X (150, 4), class labels y in {0, 1, 2} (as floats)."""
    return _load_classes("load_iris", standardize)


def load_wine(standardize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's wine data: X (178, 13), class labels y in {0, 1, 2} (as floats)."""
    return _load_classes("load_wine", standardize)


def _load_classes(loader: str, standardize: bool) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    do = _check_bool(standardize, "standardize")
    X, y = getattr(datasets, loader)(return_X_y=True)
    X = X.astype(np.float64)
    return (_standardize(X) if do else X), y.astype(np.float64)


_standardize = standardize


def load_digits_whitened(
    n: int = 200,
    d: int = 250,
    *,
    one_hot: bool = False,
    random_state: Any = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Whitened handwritten digits: X (n, d) with ``X X^T = I``, the setting of Thm 15.

    The paper's Fig 11 uses whitened MNIST (n = 200, d = 250); MNIST is not bundled, so this
    uses scikit-learn's 8 x 8 digits. ``n`` samples are drawn class-balanced (10 classes)
    with ``random_state``. Their features are the 64 standardized pixels and all pairwise
    products (a fixed degree-2 map, 2144 features, so that more than 64 samples can be
    linearly independent). Whitening keeps only the sample Gram structure: with the thin
    SVD ``Phi = P S Q^T`` of the feature matrix, ``X = P H`` where ``H`` (n x d) has
    orthonormal rows drawn with ``random_state``. Since ``X X^T = I`` fixes the samples up
    to a rotation, and the training problem is rotation invariant, the choice of ``H`` does
    not change any training objective.

    Parameters
    ----------
    n : int
        Number of samples, 10 <= n <= 1797 (and n <= d).
    d : int
        Output dimension, d >= n.
    one_hot : bool
        Return Y (n, 10) with 0/1 entries instead of labels y (n,) in 0..9 (as floats).
    random_state : None, int or numpy Generator
        Chooses the samples and the rotation H.

    Returns
    -------
    X : (n, d) float64 array with ``X @ X.T == I`` (to rounding)
    y : (n,) labels 0..9, or (n, 10) one-hot targets
    """
    from sklearn import datasets

    n = check_positive_int(n, "n", minimum=10)
    d = check_positive_int(d, "d", minimum=1)
    one_hot = _check_bool(one_hot, "one_hot")
    if n > 1797:
        raise ValueError(f"The 'n' parameter must be at most 1797 (the digits set). Got {n}.")
    if d < n:
        raise ValueError(
            f"The 'd' parameter must be >= n = {n} (whitened data need n <= d). Got {d}."
        )
    rng = check_random_state(random_state)
    pixels, labels = datasets.load_digits(return_X_y=True)
    chosen = _balanced_choice(labels, n, rng)
    Z = _standardize(pixels.astype(np.float64))[chosen]
    rows, cols = np.triu_indices(Z.shape[1])
    Phi = np.hstack([Z, Z[:, rows] * Z[:, cols]])
    P, S, _ = np.linalg.svd(Phi, full_matrices=False)
    if S[-1] <= 1e-10 * S[0]:
        raise ValueError(
            "The chosen digits are linearly dependent and cannot be whitened; "
            "try another random_state."
        )
    H = np.linalg.qr(rng.standard_normal((d, n)))[0].T  # (n, d), orthonormal rows
    X = P @ H
    y = labels[chosen].astype(np.float64)
    if one_hot:
        return X, (y[:, None] == np.arange(10)).astype(np.float64)
    return X, y


def _balanced_choice(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` samples spread as evenly as possible over the classes, sorted."""
    classes = np.unique(labels)
    pools = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
    counts = np.full(len(classes), n // len(classes))
    counts[rng.permutation(len(classes))[: n % len(classes)]] += 1
    return np.sort(np.concatenate([pool[:k] for pool, k in zip(pools, counts)]))


# ---------------------------------------------------------------------- tables

_PARQUET = (".parquet", ".pq")


def _read_frame(path: str | os.PathLike) -> Any:
    """The file as a pandas DataFrame (CSV, or Parquet by extension)."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(
            "Reading tables needs the 'pandas' package: pip install pandas."
        ) from None
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Data file not found: '{path}'.")
    if path.is_dir():
        raise DataFileError(f"'{path}' is a directory, not a data file.")
    if path.suffix.lower() in _PARQUET:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            try:
                import fastparquet  # noqa: F401
            except ImportError:
                raise ImportError(
                    f"Reading Parquet file '{path}' needs the 'pyarrow' package "
                    "(or 'fastparquet'): pip install pyarrow."
                ) from None
        try:
            return pd.read_parquet(path)
        except Exception as exc:
            raise DataFileError(
                f"'{path}' is not a readable Parquet file ({type(exc).__name__}: "
                f"{_first_line(exc)})."
            ) from None
    try:
        return pd.read_csv(path)
    except Exception as exc:
        raise DataFileError(
            f"'{path}' is not a readable CSV file ({type(exc).__name__}: {_first_line(exc)})."
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no details"


def load_table(
    path: str | os.PathLike,
    target: str | None = None,
    features: list[str] | None = None,
) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Read a CSV or Parquet file into ``(X, y, feature_names)``.

    ``X`` holds the ``features`` columns (default: every column except ``target``), ``y``
    the ``target`` column (None when ``target`` is None). Every used column must be numeric
    and finite; errors name the file, the column and the problem.
    """
    frame = _read_frame(path)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataFileError(f"'{path}' holds no data (shape {frame.shape}).")
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    if target is not None:
        if not isinstance(target, str):
            raise TypeError(f"The 'target' parameter must be a column name, got {target!r}.")
        if target not in columns:
            raise DataFileError(
                f"'{path}' has no column {target!r}; its columns are {_listing(columns)}."
            )
    if features is None:
        features = [c for c in columns if c != target]
    else:
        features = [str(c) for c in features]
        missing = [c for c in features if c not in columns]
        if missing:
            raise DataFileError(
                f"'{path}' lacks feature column(s) {_listing(missing)}; "
                f"its columns are {_listing(columns)}."
            )
    if not features:
        raise DataFileError(f"'{path}' has no feature columns besides the target {target!r}.")
    X = _numeric(frame, features, path)
    y = None if target is None else _numeric(frame, [target], path)[:, 0]
    return X, y, list(features)


def _numeric(frame: Any, columns: list[str], path: Any) -> np.ndarray:
    import pandas as pd

    sub = frame[columns]
    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(sub[c])]
    if bad:
        kinds = ", ".join(f"{c!r} ({sub[c].dtype})" for c in bad[:5])
        raise DataFileError(
            f"'{path}' has non-numeric column(s) {kinds}; convexnn needs numbers "
            "(encode categories first)."
        )
    A = sub.to_numpy(dtype=np.float64)
    finite = np.isfinite(A)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        count = int(np.size(A) - np.count_nonzero(finite))
        raise DataFileError(
            f"'{path}' has {count} missing or infinite value(s), first in column "
            f"{columns[col]!r} at data row {row + 1}."
        )
    return A


def _listing(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def load_csv(
    path: str | os.PathLike,
    target: str | None = None,
    features: list[str] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a CSV (or Parquet, by the ``.parquet``/``.pq`` extension) file as ``X, y``.

    Parameters
    ----------
    path : str or path
        The file; the first row holds the column names.
    target : str or None
        The column to predict; ``y`` is None when not given.
    features : list of str or None
        The input columns (default: every column except ``target``).

    Raises ``FileNotFoundError`` for a missing file, ``DataFileError`` (a ``ValueError``)
    for an unreadable file, a missing column, non-numeric or missing values, and
    ``ImportError`` naming the package when Parquet support is not installed.
    """
    X, y, _ = load_table(path, target=target, features=features)
    X = as_float_array(X, "X", ndim=2)
    return X, y
