"""The two-layer ReLU network ``f(X) = (XU + 1b^T)_+ W + c``.

Shapes: ``U`` (d, m), ``b`` (m,) or None, ``W`` (m,) or (m, k), ``c`` scalar or (k,) or None.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import as_float_array

FORMAT_NAME = "convexnn.ReLUNetwork"
FORMAT_VERSION = 1
_ARRAYS = ("U", "b", "W", "c")
_BLOCK_ENTRIES = 1 << 16  # hidden-layer entries per block of rows in predict (~512 KB)


class ModelFileError(ValueError):
    """A model file that is not a valid convexnn network file."""


class ReLUNetwork:
    """A two-layer ReLU network ``f(X) = (X U + 1 b^T)_+ W + c``.

    Parameters
    ----------
    U : array of shape (d, m)
        Hidden-layer weights, one column per neuron.
    b : array of shape (m,) or None
        Hidden biases; None for a network without biases.
    W : array of shape (m,) or (m, k)
        Output weights; a 1-D ``W`` gives scalar outputs of shape (n,).
    c : float, array of shape (k,) or None
        Output offset (the unregularized bias of the output layer).
    """

    def __init__(self, U: Any, b: Any, W: Any, c: Any = None) -> None:
        U = as_float_array(U, "U", ndim=2, allow_empty=True, copy=True)
        W = as_float_array(W, "W", ndim=(1, 2), allow_empty=True, copy=True)
        d, m = U.shape
        if W.shape[0] != m:
            raise ValueError(
                f"The 'W' parameter must have {m} rows (one per column of U), got shape {W.shape}."
            )
        if b is not None:
            b = as_float_array(b, "b", ndim=1, allow_empty=True, copy=True)
            if b.shape != (m,):
                raise ValueError(f"The 'b' parameter must have shape ({m},), got shape {b.shape}.")
        if c is not None:
            c = as_float_array(c, "c", ndim=(0, 1), copy=True)
            expected = () if W.ndim == 1 else (W.shape[1],)
            if c.shape != expected:
                raise ValueError(
                    f"The 'c' parameter must have shape {expected} to match W, got shape {c.shape}."
                )
        self.U, self.b, self.W, self.c = U, b, W, c
        for arr in (U, b, W, c):
            if arr is not None:
                arr.setflags(write=False)

    # ------------------------------------------------------------------ basic facts
    @property
    def width(self) -> int:
        """Number of hidden neurons m."""
        return self.U.shape[1]

    @property
    def n_features(self) -> int:
        """Input dimension d."""
        return self.U.shape[0]

    @property
    def n_outputs(self) -> int | None:
        """k for vector outputs, None for scalar outputs."""
        return None if self.W.ndim == 1 else self.W.shape[1]

    def __repr__(self) -> str:
        out = "scalar" if self.n_outputs is None else f"{self.n_outputs} outputs"
        return (
            f"ReLUNetwork(d={self.n_features}, width={self.width}, {out}, "
            f"bias={self.b is not None}, offset={self.c is not None})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ReLUNetwork):
            return NotImplemented
        return all(_same(getattr(self, n), getattr(other, n)) for n in _ARRAYS)

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ evaluation
    def hidden(self, X: Any) -> np.ndarray:
        """Hidden activations ``(X U + 1 b^T)_+`` of shape (n, m)."""
        return self._hidden(self._check_X(X))

    def _hidden(self, X: np.ndarray) -> np.ndarray:
        Z = X @ self.U
        if self.b is not None:
            Z += self.b
        return np.maximum(Z, 0.0, out=Z)

    def predict(self, X: Any) -> np.ndarray:
        """Network output ``(X U + 1 b^T)_+ W + c``: shape (n,) or (n, k).

        Large inputs are evaluated in blocks of rows (the same arithmetic per row), so the
        (n, m) hidden layer is never held whole: at n = 10^6 that array was the cost.
        """
        X = self._check_X(X)
        n = X.shape[0]
        # blocks of a multiple of 64 rows: BLAS kernels group rows, and aligned blocks group
        # them as one call over all rows does (bit-for-bit the same outputs)
        rows = max(_BLOCK_ENTRIES // max(self.width, 1) // 64, 1) * 64
        if n <= rows:
            out = self._hidden(X) @ self.W
        else:
            out = np.empty((n,) + self.W.shape[1:])
            for start in range(0, n, rows):
                stop = min(start + rows, n)
                out[start:stop] = self._hidden(X[start:stop]) @ self.W
        if self.c is not None:
            out += self.c
        return out

    __call__ = predict

    def _check_X(self, X: Any) -> np.ndarray:
        X = as_float_array(X, "X", ndim=2)
        if X.shape[1] != self.n_features:
            raise ValueError(
                f"The 'X' parameter must have {self.n_features} columns for this network, "
                f"got shape {X.shape}."
            )
        return X

    # ------------------------------------------------------------------ norms
    def neuron_norms(self) -> tuple[np.ndarray, np.ndarray]:
        """``(||u_j||_2, ||w_j||_2)`` for every neuron (biases are not regularized)."""
        w = np.abs(self.W) if self.W.ndim == 1 else np.linalg.norm(self.W, axis=1)
        return np.linalg.norm(self.U, axis=0), w

    def weight_decay(self) -> float:
        """``(||U||_F^2 + ||W||_F^2) / 2`` (multiply by beta for the penalty)."""
        return 0.5 * float(np.sum(self.U**2) + np.sum(self.W**2))

    def path_norm(self) -> float:
        """``sum_j ||u_j|| ||w_j||``: the l1-form penalty divided by beta (Lemma 1)."""
        nu, nw = self.neuron_norms()
        return float(nu @ nw)

    def balanced(self) -> ReLUNetwork:
        """The same function with each neuron rescaled so that ``||u_j|| = ||w_j||`` (Lemma 1).

        The rescaling ``(a u, a b, w / a)`` with ``a = sqrt(||w|| / ||u||)`` keeps the
        function and turns the penalty ``(beta/2)(||u||^2 + ||w||^2)`` into its minimum
        ``beta ||u|| ||w||``. Neurons that contribute nothing (``w = 0``, or ``u = 0`` with
        ``b <= 0``) are zeroed; a constant neuron (``u = 0``, ``b > 0``) is folded into the
        output offset ``c``, which it equals in the limit ``a -> inf`` at zero cost.
        Width, shapes and predictions are unchanged; the weight-decay penalty never rises.
        """
        U = self.U.copy()
        W = self.W.copy()
        b = None if self.b is None else self.b.copy()
        c = None if self.c is None else np.array(self.c, dtype=float, copy=True)
        nu, nw = self.neuron_norms()
        bias = np.zeros(self.width) if b is None else b
        dead = (nw == 0) | ((nu == 0) & (bias <= 0))
        constant = (nu == 0) & (bias > 0) & (nw > 0)
        if np.any(constant):
            const = bias[constant] @ W[constant]
            c = const if c is None else c + const
        zero = dead | constant
        U[:, zero] = 0.0
        W[zero] = 0.0
        if b is not None:
            b[zero] = 0.0
        live = ~zero
        a = np.sqrt(nw[live] / nu[live])
        U[:, live] *= a
        if b is not None:
            b[live] *= a
        W[live] = (W[live].T / a).T
        return ReLUNetwork(U, b, W, c)

    def pruned(self, tol: float = 0.0) -> ReLUNetwork:
        """Drop neurons with ``||u_j|| ||w_j|| <= tol`` that do not change the function.

        A neuron is kept when it has a nonzero output weight and a nonzero activation
        (``u != 0``, or ``b > 0`` — a constant neuron). Only with ``tol > 0`` can the
        function change (by at most the dropped neurons' contributions).
        """
        nu, nw = self.neuron_norms()
        bias = np.zeros(self.width) if self.b is None else self.b
        active = (nw > 0) & ((nu > 0) | (bias > 0))
        keep = active & ((nu * nw > tol) | (nu == 0))
        b = None if self.b is None else self.b[keep]
        return ReLUNetwork(self.U[:, keep], b, self.W[keep], self.c)

    # ------------------------------------------------------------------ PyTorch
    def to_torch(self, dtype: Any = None, device: Any = "cpu") -> Any:
        """``nn.Sequential(nn.Linear(d, m), nn.ReLU(), nn.Linear(m, k))`` with these weights.

        Scalar networks get ``k = 1`` (outputs of shape (n, 1)). dtype defaults to float64.
        """
        import torch
        from torch import nn

        dtype = torch.float64 if dtype is None else dtype
        k = 1 if self.W.ndim == 1 else self.W.shape[1]
        # skip_init: the weights are overwritten below, and nn.Linear's random initialization
        # would consume torch's global random state
        layer = partial(torch.nn.utils.skip_init, nn.Linear, dtype=dtype, device=device)
        first = layer(self.n_features, self.width, bias=self.b is not None)
        second = layer(self.width, k, bias=self.c is not None)
        model = nn.Sequential(first, nn.ReLU(), second)
        with torch.no_grad():
            first.weight.copy_(torch.tensor(self.U.T))
            if self.b is not None:
                first.bias.copy_(torch.tensor(self.b))
            second.weight.copy_(torch.tensor(self.W.reshape(self.width, k).T))
            if self.c is not None:
                second.bias.copy_(torch.tensor(np.reshape(self.c, (k,))))
        return model

    @classmethod
    def from_torch(cls, module: Any, squeeze: bool = True) -> ReLUNetwork:
        """Read an ``nn.Sequential(Linear, ReLU, Linear)`` (or its ``state_dict``).

        With ``squeeze`` (default) a single-output model gives a scalar network (1-D ``W``).
        """
        state = module if isinstance(module, dict) else None
        if state is None:
            layers = list(module.children()) if hasattr(module, "children") else []
            names = [type(layer).__name__ for layer in layers]
            if names != ["Linear", "ReLU", "Linear"]:
                raise TypeError(
                    "The 'module' parameter must be nn.Sequential(nn.Linear, nn.ReLU, nn.Linear), "
                    f"got layers {names}."
                )
            state = {f"{i}.{k}": v for i in (0, 2) for k, v in layers[i].state_dict().items()}
        return cls.from_state_dict(state, squeeze=squeeze)

    @classmethod
    def from_state_dict(cls, state: dict, squeeze: bool = True) -> ReLUNetwork:
        """Build from a ``Linear-ReLU-Linear`` state dict (keys ``*.weight``/``*.bias``)."""
        weights = [k for k in state if k.endswith("weight")]
        if len(weights) != 2:
            raise ValueError(
                "A Linear-ReLU-Linear state_dict must hold exactly two '*.weight' entries, "
                f"got keys {sorted(state)}."
            )
        weights.sort(key=_layer_order)
        first, second = (w[: -len("weight")] for w in weights)

        def get(key: str) -> np.ndarray | None:
            value = state.get(key)
            if value is None:
                return None
            if hasattr(value, "detach"):
                return value.detach().cpu().double().numpy().copy()
            return np.array(value, dtype=float)

        U = get(first + "weight").T
        b = get(first + "bias")
        W = get(second + "weight").T
        c = get(second + "bias")
        if U.shape[1] != W.shape[0]:
            raise ValueError(
                f"Layer shapes do not chain: hidden width {U.shape[1]} vs {W.shape[0]} inputs "
                "of the output layer."
            )
        if squeeze and W.shape[1] == 1:
            W = W[:, 0]
            c = None if c is None else c.reshape(())
        return cls(U, b, W, c)

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike, metadata: dict | None = None) -> Path:
        """Write the network to ``path`` (npz arrays + JSON metadata; no pickle), atomically.

        ``metadata`` (optional) is a JSON-serializable dict stored with the network (e.g. the
        command line keeps feature names and the training problem); read it back with
        :meth:`load_metadata`.
        """
        path = Path(path)
        if metadata is not None:
            if not isinstance(metadata, dict):
                raise TypeError(f"The 'metadata' parameter must be a dict, got {type(metadata)}.")
            try:
                json.dumps(metadata, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"The 'metadata' parameter must be JSON-serializable: {exc}."
                ) from None
        meta = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "n_features": self.n_features,
            "width": self.width,
            "n_outputs": self.n_outputs,
            "has_bias": self.b is not None,
            "has_offset": self.c is not None,
        }
        if metadata is not None:
            meta["metadata"] = metadata
        arrays = {name: getattr(self, name) for name in _ARRAYS if getattr(self, name) is not None}
        buffer = io.BytesIO()
        np.savez(buffer, meta=np.array(json.dumps(meta)), **arrays)
        directory = path.parent if str(path.parent) else Path(".")
        if not directory.is_dir():
            raise FileNotFoundError(
                f"Cannot save the model to '{path}': directory '{directory}' does not exist."
            )
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(buffer.getvalue())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> ReLUNetwork:
        """Read a file written by :meth:`save`; never unpickles anything.

        Raises ``ModelFileError`` (a ``ValueError``) for foreign, truncated, corrupted or
        newer-version files, and ``FileNotFoundError`` for a missing one.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"Model file not found: '{path}'.")
        if not zipfile.is_zipfile(path):  # .npy, pickles, text: never handed to np.load
            raise ModelFileError(f"'{path}' is not a convexnn model file (not an npz archive).")
        try:
            with np.load(path, allow_pickle=False) as data:
                contents = {name: data[name] for name in data.files}
        except Exception as exc:  # any failure to parse untrusted bytes is a bad file
            raise ModelFileError(
                f"'{path}' is not a convexnn model file (unreadable as npz: "
                f"{type(exc).__name__}: {exc})."
            ) from None
        try:
            meta = json.loads(str(contents.pop("meta")))
        except (KeyError, ValueError, TypeError, RecursionError):
            raise ModelFileError(f"'{path}' is not a convexnn model file (no metadata).") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
            raise ModelFileError(f"'{path}' is not a convexnn model file (foreign format).")
        version = meta.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ModelFileError(f"'{path}' has an invalid format version {version!r}.")
        if version > FORMAT_VERSION:
            raise ModelFileError(
                f"'{path}' has format version {version}, newer than this convexnn supports "
                f"({FORMAT_VERSION}); upgrade convexnn."
            )
        unknown = set(contents) - set(_ARRAYS)
        if unknown or "U" not in contents or "W" not in contents:
            raise ModelFileError(f"'{path}' has unexpected contents {sorted(contents)}.")
        if bool(meta.get("has_bias")) != ("b" in contents) or bool(meta.get("has_offset")) != (
            "c" in contents
        ):
            raise ModelFileError(f"'{path}' is inconsistent: metadata does not match arrays.")
        try:
            net = cls(contents["U"], contents.get("b"), contents["W"], contents.get("c"))
        except (TypeError, ValueError) as exc:
            raise ModelFileError(f"'{path}' holds invalid arrays: {exc}") from None
        if (
            net.n_features != meta.get("n_features")
            or net.width != meta.get("width")
            or net.n_outputs != meta.get("n_outputs")
        ):
            raise ModelFileError(f"'{path}' is inconsistent: shapes do not match its metadata.")
        return net

    @classmethod
    def load_metadata(cls, path: str | os.PathLike) -> dict:
        """The ``metadata`` dict stored by :meth:`save` (empty when none was given).

        The file is validated like :meth:`load` first (same errors).
        """
        cls.load(path)
        with np.load(Path(path), allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
        extra = meta.get("metadata", {})
        if not isinstance(extra, dict):
            raise ModelFileError(f"'{path}' has invalid metadata {type(extra).__name__}.")
        return extra


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool(np.array_equal(a, b))


def _layer_order(key: str) -> tuple:
    head = key.split(".")[0]
    return (0, int(head), key) if head.isdigit() else (1, 0, key)
