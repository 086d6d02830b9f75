"""Model files are untrusted input: ``ReLUNetwork.load`` never executes code and always gives
a clear one-line ``ModelFileError`` (a ``ValueError``); ``save`` is atomic."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _budget import examples
from convexnn import ReLUNetwork
from convexnn.network import FORMAT_NAME, FORMAT_VERSION, ModelFileError

SENTINEL = Path(os.environ.get("TMPDIR", "/tmp")) / "convexnn-pwned-sentinel"


class Exploit:
    """Unpickling this object would create ``SENTINEL`` (it must never happen)."""

    def __reduce__(self):
        return (Path.touch, (SENTINEL,))


def good_network() -> ReLUNetwork:
    rng = np.random.default_rng(0)
    return ReLUNetwork(
        rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 2)), rng.normal(size=2)
    )


def good_bytes(tmp_path: Path) -> bytes:
    return good_network().save(tmp_path / "good.npz").read_bytes()


def meta(**changes) -> str:
    base = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "n_features": 3,
        "width": 4,
        "n_outputs": 2,
        "has_bias": True,
        "has_offset": True,
    }
    base.update(changes)
    return json.dumps(base)


def write_npz(path: Path, **arrays) -> Path:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())
    return path


def assert_bad(path: Path) -> ModelFileError:
    with pytest.raises(ModelFileError) as info:
        ReLUNetwork.load(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert isinstance(info.value, ValueError)
    return info.value


@pytest.fixture(autouse=True)
def no_sentinel():
    SENTINEL.unlink(missing_ok=True)
    yield
    assert not SENTINEL.exists(), "loading a model file executed code"


def test_round_trip_reference(tmp_path):
    net = good_network()
    assert ReLUNetwork.load(net.save(tmp_path / "n.npz")) == net


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        ReLUNetwork.load(tmp_path / "absent.npz")
    assert_bad(tmp_path)  # a directory


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00", b"PK", b"not a model", b'{"format": "convexnn.ReLUNetwork"}', b"[" * 100_000],
    ids=["empty", "nul", "zip-magic", "text", "json", "deep-json"],
)
def test_foreign_bytes(tmp_path, content):
    path = tmp_path / "m.npz"
    path.write_bytes(content)
    assert_bad(path)


def test_pickles_are_never_unpickled(tmp_path):
    raw = tmp_path / "raw.npz"
    raw.write_bytes(pickle.dumps(Exploit()))
    assert_bad(raw)
    npy = tmp_path / "obj.npy"
    np.save(npy, np.array([Exploit()], dtype=object), allow_pickle=True)
    assert_bad(npy)
    plain_npy = tmp_path / "plain.npy"
    np.save(plain_npy, np.ones(3))
    assert_bad(plain_npy)
    # an npz whose arrays carry pickled objects, with valid metadata
    bad = write_npz(
        tmp_path / "objects.npz",
        meta=np.array(meta()),
        U=np.array([Exploit()] * 12, dtype=object).reshape(3, 4),
        W=np.ones((4, 2)),
        b=np.ones(4),
        c=np.ones(2),
    )
    assert_bad(bad)
    bad_meta = write_npz(tmp_path / "objmeta.npz", meta=np.array([Exploit()], dtype=object))
    assert_bad(bad_meta)


def test_zip_that_is_not_npz(tmp_path):
    path = tmp_path / "archive.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
        zf.writestr("U.npy", b"garbage that is not npy")
    assert_bad(path)
    empty = tmp_path / "empty.npz"
    with zipfile.ZipFile(empty, "w"):
        pass
    assert_bad(empty)


def test_metadata_problems(tmp_path):
    net = good_network()
    arrays = {"U": net.U, "b": net.b, "W": net.W, "c": net.c}
    cases = {
        "no-meta": dict(arrays),
        "meta-not-json": {"meta": np.array("{not json"), **arrays},
        "meta-list": {"meta": np.array("[1, 2]"), **arrays},
        "meta-number": {"meta": np.array(5.0), **arrays},
        "foreign-format": {"meta": np.array(meta(format="other.Model")), **arrays},
        "newer-version": {"meta": np.array(meta(version=FORMAT_VERSION + 1)), **arrays},
        "zero-version": {"meta": np.array(meta(version=0)), **arrays},
        "bool-version": {"meta": np.array(meta(version=True)), **arrays},
        "string-version": {"meta": np.array(meta(version="1")), **arrays},
        "float-version": {"meta": np.array(meta(version=1.0)), **arrays},
        "extra-array": {"meta": np.array(meta()), "evil": np.ones(2), **arrays},
        "no-U": {"meta": np.array(meta()), "W": net.W, "b": net.b, "c": net.c},
        "bias-flag": {"meta": np.array(meta(has_bias=False)), **arrays},
        "offset-flag": {"meta": np.array(meta(has_offset=False)), **arrays},
        "width": {"meta": np.array(meta(width=5)), **arrays},
        "features": {"meta": np.array(meta(n_features=2)), **arrays},
        "outputs": {"meta": np.array(meta(n_outputs=None)), **arrays},
        "nan": {"meta": np.array(meta()), **{**arrays, "U": np.full((3, 4), np.nan)}},
        "shape": {"meta": np.array(meta()), **{**arrays, "W": np.ones((5, 2))}},
        "strings": {"meta": np.array(meta()), **{**arrays, "U": np.full((3, 4), "x")}},
        "complex": {"meta": np.array(meta()), **{**arrays, "U": np.ones((3, 4), complex)}},
        "c-shape": {"meta": np.array(meta()), **{**arrays, "c": np.ones(3)}},
    }
    for name, contents in cases.items():
        err = assert_bad(write_npz(tmp_path / f"{name}.npz", **contents))
        if name == "newer-version":
            assert "upgrade" in str(err)


def test_truncated_files(tmp_path):
    data = good_bytes(tmp_path)
    path = tmp_path / "cut.npz"
    for size in sorted({*range(0, len(data), max(1, len(data) // 60)), len(data) - 1}):
        path.write_bytes(data[:size])
        assert_bad(path)


@given(st.data())
@examples(40)
def test_corrupted_files_never_load_silently_wrong(tmp_path_factory, data):
    """Flipped bytes either give a clear error or (for bytes nothing reads) the same network."""
    tmp = tmp_path_factory.mktemp("fuzz")
    original = good_network()
    blob = bytearray(original.save(tmp / "good.npz").read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] = data.draw(st.integers(0, 255).filter(lambda b, i=i: b != blob[i]))
    path = tmp / "bad.npz"
    path.write_bytes(bytes(blob))
    try:
        net = ReLUNetwork.load(path)
    except ModelFileError as exc:
        assert "\n" not in str(exc)
    else:
        assert net == original


def test_save_is_atomic_on_interruption(tmp_path, monkeypatch):
    net, other = good_network(), ReLUNetwork(np.ones((1, 1)), None, np.ones(1))
    path = tmp_path / "model.npz"
    net.save(path)
    before = path.read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    for target in ("replace", "fsync"):
        with monkeypatch.context() as m:
            m.setattr(os, target, interrupted)
            with pytest.raises(KeyboardInterrupt):
                other.save(path)
        assert path.read_bytes() == before  # old file intact
        assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]  # no temp files
    assert ReLUNetwork.load(path) == net
    fresh = tmp_path / "fresh.npz"
    with monkeypatch.context() as m:
        m.setattr(os, "replace", interrupted)
        with pytest.raises(KeyboardInterrupt):
            net.save(fresh)
    assert not fresh.exists()  # nothing half-written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_metadata_round_trip_and_validation(tmp_path):
    net = good_network()
    info = {"features": ["a", "b", "c"], "beta": 0.5, "nested": {"k": [1, 2]}}
    path = net.save(tmp_path / "m.npz", metadata=info)
    assert ReLUNetwork.load(path) == net
    assert ReLUNetwork.load_metadata(path) == info
    assert ReLUNetwork.load_metadata(net.save(tmp_path / "plain.npz")) == {}
    for bad in ({"x": np.nan}, {"x": object()}, {"x": np.ones(2)}):
        with pytest.raises(ValueError, match="'metadata'"):
            net.save(tmp_path / "bad.npz", metadata=bad)
    with pytest.raises(TypeError, match="'metadata'"):
        net.save(tmp_path / "bad.npz", metadata=["not", "a", "dict"])
    assert not (tmp_path / "bad.npz").exists()
    odd = write_npz(
        tmp_path / "odd.npz",
        meta=np.array(meta(metadata=[1, 2])),
        U=net.U,
        b=net.b,
        W=net.W,
        c=net.c,
    )
    with pytest.raises(ModelFileError):
        ReLUNetwork.load_metadata(odd)
    assert_bad_metadata = tmp_path / "garbage.npz"
    assert_bad_metadata.write_bytes(b"garbage")
    with pytest.raises(ModelFileError):
        ReLUNetwork.load_metadata(assert_bad_metadata)


def test_save_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError):
        good_network().save(tmp_path / "missing-dir" / "m.npz")
