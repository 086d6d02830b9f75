"""Hyperplane arrangements: Cover's counts, completeness against sampling, ties, limits."""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pytest
from scipy.optimize import linprog

from _budget import seeds
from convexnn import arrangements as ar


def as_set(D: np.ndarray) -> set[bytes]:
    return {D[:, j].astype(bool).tobytes() for j in range(D.shape[1])}


def dense_sample(A: np.ndarray, n_dirs: int, seed: int) -> set[bytes]:
    """Patterns ``1[A w > 0]`` of many random directions (cells of positive measure)."""
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((A.shape[1], n_dirs))
    return as_set(A @ G > 0)


def is_cell(A: np.ndarray, pattern: np.ndarray) -> bool:
    """Whether ``{w : a_i^T w > 0 iff pattern_i}`` has an interior (an LP, by scaling)."""
    nonzero = np.any(A != 0, axis=1)
    if np.any(pattern & ~nonzero):
        return False
    S = np.where(pattern, 1.0, -1.0)[nonzero, None] * A[nonzero]
    res = linprog(np.zeros(A.shape[1]), A_ub=-S, b_ub=-np.ones(S.shape[0]), bounds=(None, None))
    return res.status == 0


def brute_force_cells(A: np.ndarray) -> set[bytes]:
    """Every sign vector that is a cell, by one LP each (tiny n only)."""
    n = A.shape[0]
    found = set()
    for bits in itertools.product([False, True], repeat=n):
        p = np.array(bits)
        if is_cell(A, p):
            found.add(p.tobytes())
    return found


def test_count_bound_formula():
    assert ar.count_bound(5, 1) == 2
    assert ar.count_bound(5, 2) == 2 * (1 + 4)
    assert ar.count_bound(10, 3) == 2 * (1 + 9 + comb(9, 2))
    assert ar.count_bound(3, 5) == 2**3  # r >= n: every sign vector
    with pytest.raises(ValueError, match="'n' parameter"):
        ar.count_bound(0, 2)
    with pytest.raises(TypeError, match="'r' parameter"):
        ar.count_bound(3, 2.0)


# (d, bias) -> augmented rank r = d + bias; general-position data reaches Cover's bound
CASES = [(1, True), (2, True), (3, True), (2, False), (3, False)]


@pytest.mark.parametrize(("d", "bias"), CASES)
@pytest.mark.parametrize("n", [4, 7, 11])
@pytest.mark.parametrize("seed", seeds(2))
def test_enumerate_count_equals_cover_on_general_position(d, bias, n, seed):
    X = np.random.default_rng(seed).standard_normal((n, d))
    D = ar.enumerate(X, bias)
    assert D.dtype == bool and D.shape[0] == n
    assert D.shape[1] == ar.count_bound(n, d + bias) == ar.count(X, bias)
    assert len(as_set(D)) == D.shape[1]  # distinct


@pytest.mark.parametrize(("d", "bias"), CASES)
@pytest.mark.parametrize("seed", seeds(2))
def test_enumerate_contains_every_sampled_pattern(d, bias, seed):
    X = np.random.default_rng(seed).standard_normal((7, d))
    full = as_set(ar.enumerate(X, bias))
    sampled = ar.sample(X, 200, bias=bias, seed=seed)
    assert as_set(sampled) <= full
    A = np.hstack([X, np.ones((7, 1))]) if bias else X
    assert dense_sample(A, 5_000, seed) <= full
    assert brute_force_cells(A) == full  # nothing missing, nothing spurious


def test_enumerate_with_ties_matches_brute_force():
    """Points on common hyperplanes, duplicated rows and a zero row (no bias)."""
    rng = np.random.default_rng(0)
    line = np.array([[t, 2 * t + 1] for t in (-1.0, 0.0, 0.5, 2.0)])  # collinear points
    X = np.vstack([line, rng.standard_normal((4, 2)), line[:1]])  # plus a duplicate row
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    assert as_set(ar.enumerate(X, True)) == brute_force_cells(A)
    grid = np.array([[i, j] for i in range(3) for j in range(3)], dtype=float)  # 3x3 grid
    A = np.hstack([grid, np.ones((9, 1))])
    D = ar.enumerate(grid, True)
    assert as_set(D) == brute_force_cells(A)
    assert D.shape[1] < ar.count_bound(9, 3)  # ties remove cells
    one_d = np.array([[0.0], [1.0], [1.0], [2.0], [2.0]])  # duplicated 1-D points
    assert ar.count(one_d, True) == 2 * 3 + 0  # 3 distinct points: 2 * (1 + 2) cells
    Z = np.vstack([np.zeros((1, 3)), rng.standard_normal((5, 3))])  # a zero row, no bias
    D = ar.enumerate(Z, False)
    assert not D[0].any()  # x = 0 is never strictly active
    assert as_set(D[1:]) == as_set(ar.enumerate(Z[1:], False))


@pytest.mark.parametrize("seed", seeds(2))
def test_enumerate_is_invariant_to_feature_scales(seed):
    """Features on scales 1e-6 ... 1e6 have the same arrangement as standardized ones."""
    X = np.random.default_rng(seed).standard_normal((9, 2))
    scaled = X * np.array([1e-6, 1e6])
    assert as_set(ar.enumerate(scaled, True)) == as_set(ar.enumerate(X, True))
    assert ar.count(scaled, True) == ar.count_bound(9, 3)
    assert ar.count(X * 1e-8, False) == ar.count_bound(9, 2)


def test_enumerate_low_rank_data_in_high_dimension():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((10, 2)) @ rng.standard_normal((2, 6))  # rank 2 in R^6
    assert ar.count(X, True) == ar.count_bound(10, 3)
    collinear = np.hstack([X[:, :1], 3 * X[:, :1]])  # two collinear columns: rank 1
    assert ar.count(collinear, True) == ar.count_bound(10, 2)


def test_enumerate_size_limit_is_a_clear_error():
    X = np.random.default_rng(0).standard_normal((30, 5))
    with pytest.raises(ValueError, match="max_patterns"):
        ar.enumerate(X, True)
    with pytest.raises(ValueError, match="max_patterns=10"):
        ar.enumerate(np.random.default_rng(0).standard_normal((8, 1)), True, max_patterns=10)


def test_enumerate_constant_data():
    X = np.ones((5, 2))
    D = ar.enumerate(X, True)  # rank 1: all points on one side or the other
    assert as_set(D) == {np.ones(5, bool).tobytes(), np.zeros(5, bool).tobytes()}
    assert ar.enumerate(np.zeros((4, 2)), False).shape == (4, 1)


@pytest.mark.parametrize("bias", [True, False])
def test_sample_is_deduplicated_nonzero_and_bounded(bias):
    X = np.random.default_rng(0).standard_normal((12, 3))
    D = ar.sample(X, 50, bias=bias, seed=0)
    assert D.dtype == bool and D.shape[0] == 12 and 0 < D.shape[1] <= 50
    assert D.any(axis=0).all()
    assert len(as_set(D)) == D.shape[1]
    # asking for more than exist returns at most what exists
    small = np.random.default_rng(1).standard_normal((4, 1))
    D = ar.sample(small, 1000, bias=True, seed=0)
    assert D.shape[1] <= ar.count_bound(4, 2) - 1  # the all-zero cell is excluded


def test_sample_validates_inputs():
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match="'n_patterns' parameter"):
        ar.sample(X, 0)
    with pytest.raises(TypeError, match="'n_patterns' parameter"):
        ar.sample(X, 2.5)
    with pytest.raises(ValueError, match="'seed' parameter"):
        ar.sample(X, 2, seed=-1)
    with pytest.raises(TypeError, match="'bias' parameter"):
        ar.sample(X, 2, bias="yes")
    with pytest.raises(ValueError, match="'X' parameter"):
        ar.enumerate(np.array([[np.nan, 1.0]]))
