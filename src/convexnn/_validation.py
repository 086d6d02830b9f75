"""Input validation shared by every public entry point.

Each check raises a one-line ``ValueError`` or ``TypeError`` that names the parameter and the
value received, in the style of scikit-learn's parameter validation.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np


def _describe(value: Any) -> str:
    """A short, one-line description of ``value`` for error messages."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def as_float_array(
    value: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...],
    dtype: type = np.float64,
    allow_empty: bool = False,
    copy: bool = False,
) -> np.ndarray:
    """Convert ``value`` to a finite float array of the given number of dimensions.

    Accepts numpy arrays, nested sequences, pandas objects and torch tensors. Booleans and
    integers are converted exactly; complex, object and string data raise ``TypeError``.
    With ``copy`` the result never shares memory with ``value`` (callers that freeze their
    arrays must not freeze the user's).
    """
    if value is None:
        raise TypeError(f"The '{name}' parameter must be an array, got None.")
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch tensor
        value = value.detach().cpu().numpy()
    elif hasattr(value, "to_numpy"):  # pandas
        value = value.to_numpy()
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(
            f"The '{name}' parameter must be a numeric array; could not convert it ({exc})."
        ) from None
    if arr.dtype == object or arr.dtype.kind in "USVOMm":
        raise TypeError(f"The '{name}' parameter must be a numeric array, got {_describe(arr)}.")
    if arr.dtype.kind == "c":
        raise TypeError(f"The '{name}' parameter must be real, got {_describe(arr)}.")
    wanted = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if arr.ndim not in wanted:
        allowed = " or ".join(f"{k}-D" for k in wanted)
        raise ValueError(f"The '{name}' parameter must be {allowed}, got {_describe(arr)}.")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"The '{name}' parameter must not be empty, got {_describe(arr)}.")
    arr = np.array(arr, dtype=dtype, copy=True) if copy else np.asarray(arr, dtype=dtype)
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"The '{name}' parameter contains {bad} NaN or infinite value(s).")
    return arr


def check_positive_scalar(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """A finite real number > 0 (or >= 0 with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"The '{name}' parameter must be a real number, got {_describe(value)}.")
    value = float(value)
    bound = "[0, inf)" if allow_zero else "(0, inf)"
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"The '{name}' parameter must be a float in {bound}. Got {value!r}.")
    return value


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """An integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"The '{name}' parameter must be an integer, got {_describe(value)}.")
    if value < minimum:
        raise ValueError(f"The '{name}' parameter must be an integer >= {minimum}. Got {value}.")
    return int(value)


def check_option(value: Any, name: str, options: Iterable[str]) -> str:
    """One of a fixed set of strings."""
    options = tuple(options)
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise ValueError(f"The '{name}' parameter must be one of {listed}. Got {_describe(value)}.")
    return value


def check_random_state(seed: Any, name: str = "random_state") -> np.random.Generator:
    """A ``numpy.random.Generator`` from None, an int or a Generator (no global state)."""
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
        return np.random.default_rng(int(seed))
    raise ValueError(
        f"The '{name}' parameter must be None, a non-negative int or a numpy Generator. "
        f"Got {_describe(seed)}."
    )


def check_no_kwargs(kwargs: dict, where: str) -> None:
    """Reject unknown keyword options with their names."""
    if kwargs:
        names = ", ".join(sorted(kwargs))
        raise TypeError(f"{where} got unexpected option(s): {names}.")
