"""Embedded datasets and CSV/Parquet loading."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from convexnn import datasets as ds


def test_diabetes_standardized():
    X, y = ds.load_diabetes()
    assert X.shape == (442, 10) and y.shape == (442,)
    assert X.dtype == np.float64 and y.dtype == np.float64
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1, rtol=1e-12)
    assert abs(y.mean()) < 1e-12 and abs(y.std() - 1) < 1e-12


def test_diabetes_raw_is_original_units():
    X, y = ds.load_diabetes(standardize=False)
    assert y.min() >= 25 and y.max() <= 346  # disease progression in original units
    assert X[:, 0].min() >= 18  # age in years


def test_breast_cancer_labels_pm1():
    X, y = ds.load_breast_cancer()
    assert X.shape == (569, 30)
    assert set(np.unique(y)) == {-1.0, 1.0}
    assert int(np.sum(y == 1)) == 357  # benign
    np.testing.assert_allclose(X.std(axis=0), 1, rtol=1e-12)


@pytest.mark.parametrize(
    ("loader", "shape", "k"), [(ds.load_iris, (150, 4), 3), (ds.load_wine, (178, 13), 3)]
)
def test_multiclass_loaders(loader, shape, k):
    X, y = loader()
    assert X.shape == shape and y.dtype == np.float64
    np.testing.assert_array_equal(np.unique(y), np.arange(k))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_digits_whitened(seed):
    X, y = ds.load_digits_whitened(n=60, d=80, random_state=seed)
    assert X.shape == (60, 80)
    np.testing.assert_allclose(X @ X.T, np.eye(60), atol=1e-10)
    np.testing.assert_array_equal(np.bincount(y.astype(int)), np.full(10, 6))
    X2, Y = ds.load_digits_whitened(n=60, d=80, one_hot=True, random_state=seed)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(Y.argmax(axis=1), y)
    assert np.all(Y.sum(axis=1) == 1)


def test_digits_whitened_default_is_paper_size():
    X, y = ds.load_digits_whitened()
    assert X.shape == (200, 250)
    np.testing.assert_allclose(X @ X.T, np.eye(200), atol=1e-10)


def test_digits_whitened_bad_sizes():
    with pytest.raises(ValueError, match="'d' parameter must be >= n"):
        ds.load_digits_whitened(n=100, d=50)
    with pytest.raises(ValueError, match="'n' parameter"):
        ds.load_digits_whitened(n=5000, d=6000)
    with pytest.raises(TypeError, match="'one_hot'"):
        ds.load_digits_whitened(one_hot="yes")


def test_loaders_validate_flag():
    with pytest.raises(TypeError, match="'standardize'"):
        ds.load_diabetes(standardize="no")


# ---------------------------------------------------------------------- tables


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b,target\n1,2,3\n4,5,6\n7,8.5,9\n")
    return path


def test_load_csv_roundtrip(table):
    X, y = ds.load_csv(table, target="target")
    np.testing.assert_array_equal(X, [[1, 2], [4, 5], [7, 8.5]])
    np.testing.assert_array_equal(y, [3, 6, 9])
    assert X.dtype == np.float64 and y.dtype == np.float64
    X, y = ds.load_csv(table, target="a", features=["target"])
    np.testing.assert_array_equal(X[:, 0], [3, 6, 9])
    X, y = ds.load_csv(table)
    assert X.shape == (3, 3) and y is None


def test_load_table_names(table):
    _, _, names = ds.load_table(table, target="b")
    assert names == ["a", "target"]


def test_missing_target_column(table):
    with pytest.raises(ds.DataFileError, match=r"no column 'y'; its columns are 'a', 'b'"):
        ds.load_csv(table, target="y")
    with pytest.raises(ds.DataFileError, match="lacks feature column"):
        ds.load_csv(table, target="a", features=["zz"])


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        ds.load_csv(tmp_path / "nope.csv", target="y")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("a,b\n1,x\n2,y\n", "non-numeric column"),
        ("a,b\n1,2\n3,\n", r"1 missing or infinite value\(s\), first in column 'b' at data row 2"),
        ("", "not a readable CSV"),
        ("a,b\n", "holds no data"),
    ],
)
def test_bad_csv(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ds.DataFileError, match=match):
        ds.load_csv(path, target="a")


def test_binary_garbage_is_a_clear_error(tmp_path):
    path = tmp_path / "garbage.csv"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ds.DataFileError):
        ds.load_csv(path, target="a")


def test_only_target_column(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("y\n1\n2\n")
    with pytest.raises(ds.DataFileError, match="no feature columns"):
        ds.load_csv(path, target="y")


def test_parquet(tmp_path, table):
    pd = pytest.importorskip("pandas")
    path = tmp_path / "data.parquet"
    frame = pd.read_csv(table)
    try:
        frame.to_parquet(path)
    except ImportError:
        pytest.skip("no Parquet engine installed")
    X, y = ds.load_csv(path, target="target")
    np.testing.assert_array_equal(y, [3, 6, 9])


def test_parquet_without_engine_names_package(tmp_path, monkeypatch):
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "fastparquet", None)
    with pytest.raises(ImportError, match="'pyarrow'"):
        ds.load_csv(path, target="a")
