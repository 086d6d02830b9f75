"""Oracles against brute force: exact ones must match, every bound must dominate.

Brute force here is independent of the oracles' code: for each direction u on a dense grid
(or many random directions) the maximum over b is taken over all kinks by direct O(n^2)
evaluation of ``sum_i v_i (z_i - z_j)_+``. No CVXPY.
"""

from __future__ import annotations

import numpy as np
import pytest

import convexnn as cnn
from _budget import seeds
from convexnn.oracles import (
    Enumeration,
    Exact1D,
    LocalSearch,
    SpikeFree,
    general_upper_bound,
    get_oracle,
)


# ---------------------------------------------------------------------------- brute force
def brute_values(X, v, U, bias):
    """``max_b g(u, b)`` and ``min_b`` (scalar v) / ``max_b`` norm (matrix v) per column of U."""
    Z = X @ U  # (n, S)
    if not bias:
        H = np.maximum(Z, 0.0)
        if v.ndim == 1:
            vals = v @ H
            return vals, vals
        n = np.linalg.norm(H.T @ v, axis=1)
        return n, n
    # kinks b = -z_j: H[j, i, s] = (z_i - z_j)_+
    H = np.maximum(Z[None, :, :] - Z[:, None, :], 0.0)
    if v.ndim == 1:
        vals = np.einsum("i,jis->js", v, H)
        return vals.max(axis=0), vals.min(axis=0)
    vals = np.linalg.norm(np.einsum("ik,jis->jsk", v, H), axis=2)
    return vals.max(axis=0), vals.max(axis=0)


def brute_max(X, v, bias, n_dirs=4000, rng=None):
    """max over directions of |g|: all of {+-1} in 1-D, a circle grid in 2-D, random above."""
    d = X.shape[1]
    if d == 1:
        U = np.array([[1.0, -1.0]])
    elif d == 2:
        th = np.linspace(0, 2 * np.pi, n_dirs, endpoint=False)
        U = np.vstack([np.cos(th), np.sin(th)])
    else:
        U = rng.standard_normal((d, n_dirs))
        U /= np.linalg.norm(U, axis=0)
    hi, lo = brute_values(X, v, U, bias)
    return max(float(hi.max()), float(-lo.min())) if v.ndim == 1 else float(hi.max())


def lipschitz(X, v, bias):
    """A Lipschitz constant of u -> max_b g(u, b) (for the grid's resolution)."""
    w = np.abs(v) if v.ndim == 1 else np.linalg.norm(v, axis=1)
    if not bias:
        return float(w @ np.linalg.norm(X, axis=1))
    D = np.linalg.norm(X[:, None, :] - X[None, :, :], axis=2)
    return float(np.max(D @ w))


def instance(rng, n, d, bias, k=None, scale=1.0):
    X = scale * rng.standard_normal((n, d))
    y = rng.standard_normal(n) if k is None else rng.standard_normal((n, k))
    prob = cnn.Problem(X, y, beta=1.0, bias=bias)
    v = rng.standard_normal(y.shape)
    if bias:
        v = v - v.mean(axis=0)
    return prob, v


# ---------------------------------------------------------------------------- exact 1-D
@pytest.mark.parametrize("seed", seeds(4))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("k", [None, 3])
def test_exact_1d_matches_brute_force(seed, bias, k):
    rng = np.random.default_rng(seed)
    prob, v = instance(rng, 9, 1, bias, k)
    res = Exact1D()(prob, v)
    true = brute_max(prob.X, v, bias)
    assert res.exact
    assert true <= res.upper_bound <= true * (1 + 1e-10) + 1e-12
    assert res.best == pytest.approx(true, rel=1e-12)
    # the sweep's values agree with an independent evaluation (to rounding: a value that is
    # exactly 0 may come out of the prefix sums as ~1e-17), and the columns are unit
    np.testing.assert_allclose(np.linalg.norm(res.U, axis=0), 1.0)
    again = prob.constraint_values(v, res.U, res.b)
    scale = np.abs(v).sum() * np.abs(prob.X).max()
    np.testing.assert_allclose(res.values, again, rtol=1e-12, atol=1e-13 * scale)


@pytest.mark.parametrize("seed", seeds(3))
def test_exact_1d_large_with_duplicates_matches_brute_force(seed):
    """Both orientations come from one prefix-sum pass (``(z)_+ - (-z)_+ = z``): check every
    candidate and the bound against brute force over all kinks, with repeated points."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.uniform(-2, 2, 400), 1)[:, None]
    prob = cnn.Problem(x, rng.standard_normal(400), beta=1.0)
    v = rng.standard_normal(400)
    v -= v.mean()
    res = Exact1D()(prob, v, n_candidates=5)
    true = brute_max(prob.X, v, True)
    assert res.exact and true <= res.upper_bound <= true * (1 + 1e-10)
    assert res.best == pytest.approx(true, rel=1e-12)
    again = prob.constraint_values(v, res.U, res.b)
    np.testing.assert_allclose(res.values, again, rtol=1e-10, atol=1e-12 * np.abs(v).sum() * 2)


def test_peak_rows_one_kink_per_positive_excursion():
    from convexnn.oracles.exact_1d import peak_rows

    profile = np.array([0.0, 1.0, 3.0, 2.0, -1.0, 0.5, 4.0, 4.5, 1.0, -2.0, 0.2, -0.1])
    np.testing.assert_array_equal(peak_rows(profile, 8), [7, 2, 10])
    np.testing.assert_array_equal(peak_rows(profile, 2), [7, 2])
    np.testing.assert_array_equal(peak_rows(-np.abs(profile), 3), [0])  # no positive value
    # sign=-1 gives the peaks of -profile without forming it, ties included
    rng = np.random.default_rng(0)
    for _ in range(20):
        wave = np.round(rng.standard_normal(rng.integers(1, 60)), 1)
        for q in (1, 3, 8):
            np.testing.assert_array_equal(peak_rows(wave, q, -1.0), peak_rows(-wave, q))


def test_exact_1d_ties_and_duplicates():
    x = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 3.0, 3.0])[:, None]
    rng = np.random.default_rng(3)
    v = rng.standard_normal(8)
    v -= v.mean()
    prob = cnn.Problem(x, rng.standard_normal(8), bias=True)
    res = Exact1D()(prob, v)
    assert res.best == pytest.approx(brute_max(x, v, True), rel=1e-12)


def test_exact_1d_worked_example_from_the_paper():
    """p.16: a = [-2, -1, 0, 1, 2], y = [1, -1, 1, 1, -1]; the optimal dual of the min-norm
    problem gives max |v^T (a u + b)_+| = 1 at the optimal kinks (constraint tight)."""
    a = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])[:, None]
    y = np.array([1.0, -1.0, 1.0, 1.0, -1.0])
    prob = cnn.Problem(a, y, beta=1e-6, bias=True)
    res = cnn.solve(prob, method="cvxpy", certify=False)
    cert = cnn.certify(prob, res.network)
    assert cert.exact and cert.oracle == "exact_1d"
    assert cert.relative_gap < 1e-6


def test_rank_one_data_reduce_to_the_line():
    rng = np.random.default_rng(5)
    t = rng.standard_normal(10)
    a = rng.standard_normal(3)
    a /= np.linalg.norm(a)
    m = rng.standard_normal(3)
    X = np.outer(t, a) + m
    y = rng.standard_normal(10)
    v = y - y.mean()
    prob = cnn.Problem(X, y, bias=True)
    assert get_oracle("auto", prob).name == "exact_1d"
    res = Exact1D()(prob, v)
    line = Exact1D()(cnn.Problem(t[:, None], y, bias=True), v)
    assert res.exact
    assert res.upper_bound == pytest.approx(line.upper_bound, rel=1e-9)
    assert res.best == pytest.approx(line.best, rel=1e-9)
    # without bias the offset m breaks linear rank one: the oracle must refuse
    assert Exact1D().supports(cnn.Problem(X, y, bias=False)) is not None
    assert Exact1D().supports(cnn.Problem(np.outer(t, a), y, bias=False)) is None


def test_nearly_rank_one_data_stay_sound():
    """A tiny off-line component is not ignored: the residual enters the bound."""
    rng = np.random.default_rng(6)
    t = rng.standard_normal(10)
    X = np.column_stack([t, 1e-11 * rng.standard_normal(10), 2 * t])
    prob, _ = instance(rng, 10, 3, True)
    prob = cnn.Problem(X, prob.y, bias=True)
    v = rng.standard_normal(10)
    v -= v.mean()
    red_rank = Exact1D().supports(prob)
    oracle = get_oracle("auto", prob)
    res = oracle(prob, v)
    assert res.upper_bound >= brute_max(X, v, True, rng=rng)
    assert red_rank is None or res.upper_bound > 0


def test_exact_1d_large_n_is_fast_and_exact_on_a_subsample_check():
    rng = np.random.default_rng(7)
    n = 200_000
    x = rng.standard_normal(n)
    y = np.sin(3 * x) + 0.1 * rng.standard_normal(n)
    prob = cnn.Problem(x[:, None], y, bias=True)
    v = y - y.mean()
    res = Exact1D()(prob, v)
    # the best candidate's value is recomputed directly; the bound is within rounding of it
    assert res.exact
    assert res.upper_bound <= res.best * (1 + 1e-8)


# ---------------------------------------------------------------------------- enumeration
@pytest.mark.parametrize("seed", seeds(4))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("k", [None, 2])
def test_enumeration_2d_matches_dense_grid(seed, bias, k):
    rng = np.random.default_rng(seed)
    prob, v = instance(rng, 8, 2, bias, k, scale=float(rng.choice([1e-3, 1.0, 1e3])))
    res = Enumeration()(prob, v)
    n_dirs = 20_000
    grid = brute_max(prob.X, v, bias, n_dirs=n_dirs)
    slack = lipschitz(prob.X, v, bias) * (np.pi / n_dirs)
    assert res.exact
    assert grid <= res.upper_bound * (1 + 1e-12)
    assert res.upper_bound <= grid + slack + 1e-9 * grid
    assert res.best >= res.upper_bound * (1 - 1e-9)


def test_enumeration_2d_collinear_and_duplicate_points():
    rng = np.random.default_rng(11)
    X = np.array([[0, 0], [1, 1], [2, 2], [2, 2], [0, 1], [1, 0], [3, 3], [-1, 2.0]])
    y = rng.standard_normal(8)
    v = y - y.mean()
    prob = cnn.Problem(X, y, bias=True)
    res = Enumeration()(prob, v)
    grid = brute_max(X, v, True, n_dirs=40_000)
    assert grid <= res.upper_bound * (1 + 1e-12)
    assert res.upper_bound <= grid + lipschitz(X, v, True) * np.pi / 40_000 + 1e-9


@pytest.mark.parametrize("seed", seeds(3))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("k", [None, 2])
def test_enumeration_rank3_dominates_sampling(seed, bias, k):
    rng = np.random.default_rng(100 + seed)
    prob, v = instance(rng, 7, 3, bias, k)
    res = Enumeration()(prob, v)
    sampled = brute_max(prob.X, v, bias, n_dirs=20_000, rng=rng)
    assert sampled <= res.upper_bound * (1 + 1e-12)
    if k is None:  # scalar outputs: exact, attained by a returned neuron
        assert res.exact
        assert res.best >= res.upper_bound * (1 - 1e-9)
        assert res.upper_bound <= sampled * 1.05  # random sampling gets close in 3-D
    else:
        assert res.best >= sampled * (1 - 1e-9) or res.best >= 0.98 * sampled


def test_enumeration_refuses_large_problems_with_a_clear_message():
    rng = np.random.default_rng(0)
    prob, v = instance(rng, 200, 6, True)
    reason = Enumeration().supports(prob)
    assert reason is not None and "local_search" in reason
    with pytest.raises(ValueError, match="enumeration"):
        Enumeration()(prob, v)
    assert get_oracle("auto", prob).name == "local_search"


# ---------------------------------------------------------------------------- general bounds
@pytest.mark.parametrize("seed", seeds(6))
def test_general_bound_is_sound_against_exact_oracles(seed):
    rng = np.random.default_rng(200 + seed)
    for d in (1, 2, 3):
        for bias in (True, False):
            for k in (None, 2):
                scale = float(rng.choice([1e-3, 1.0, 1e3]))
                prob, v = instance(rng, int(rng.integers(2, 9)), d, bias, k, scale)
                exact = Enumeration()(prob, v)
                bound = general_upper_bound(prob, v)
                assert exact.best <= bound * (1 + 1e-12), (d, bias, k)
                assert exact.best <= general_upper_bound(prob, v, quadratic=False) * (1 + 1e-12)


def test_general_bound_is_exact_on_whitened_data_without_bias():
    rng = np.random.default_rng(1)
    Q, _ = np.linalg.qr(rng.standard_normal((12, 6)))
    X = Q.T  # 6 x 12 with orthonormal rows: X X^T = I
    prob, _ = instance(rng, 6, 12, False)
    prob = cnn.Problem(X, prob.y, bias=False)
    v = rng.standard_normal(6)
    expected = max(np.linalg.norm(np.maximum(v, 0)), np.linalg.norm(np.minimum(v, 0)))
    assert general_upper_bound(prob, v) == pytest.approx(expected, rel=1e-9)
    res = SpikeFree()(prob, v)
    assert res.exact and res.best == pytest.approx(expected, rel=1e-9)


# ---------------------------------------------------------------------------- heuristics
@pytest.mark.parametrize("seed", seeds(4))
@pytest.mark.parametrize("bias", [True, False])
def test_local_search_finds_the_exact_maximum_in_low_dimension(seed, bias):
    rng = np.random.default_rng(300 + seed)
    prob, v = instance(rng, 10, 2, bias)
    exact = Enumeration()(prob, v)
    found = LocalSearch()(prob, v, random_state=seed)
    assert found.best >= 0.97 * exact.best
    assert found.upper_bound >= exact.best
    assert found.best <= exact.upper_bound * (1 + 1e-12)


def test_local_search_options_and_reproducibility():
    rng = np.random.default_rng(4)
    prob, v = instance(rng, 60, 5, True)
    a = LocalSearch()(prob, v, random_state=3)
    b = LocalSearch()(prob, v, random_state=3)
    np.testing.assert_array_equal(a.values, b.values)
    none = LocalSearch()(prob, v, bound="none")
    assert none.upper_bound == np.inf and not none.exact
    tight = LocalSearch()(prob, v, bound="tight")
    fast = LocalSearch()(prob, v, bound="fast")
    assert a.best <= tight.upper_bound <= fast.upper_bound * (1 + 1e-12)
    net_U = rng.standard_normal((5, 3))
    seeded = LocalSearch()(prob, v, seeds=(net_U, None), n_candidates=2)
    assert seeded.U.shape[1] <= 4
    with pytest.raises(ValueError, match="bound"):
        LocalSearch()(prob, v, bound="loose")


def test_local_search_vector_outputs():
    rng = np.random.default_rng(8)
    prob, v = instance(rng, 8, 2, True, k=3)
    exact = Enumeration()(prob, v)
    found = LocalSearch()(prob, v)
    assert 0.95 * exact.best <= found.best <= exact.upper_bound * (1 + 1e-12)
    assert found.upper_bound >= exact.best


def test_spike_free_relaxation_candidates():
    rng = np.random.default_rng(9)
    prob, v = instance(rng, 12, 3, False)
    res = SpikeFree(lemma7=False)(prob, v)
    # each candidate is a real neuron; the bound is the sound general one
    assert res.best <= Enumeration()(prob, v).upper_bound * (1 + 1e-12)
    with_bias, vb = instance(rng, 12, 3, True)
    res = SpikeFree()(with_bias, vb)
    assert res.best > 0 and res.b is not None


# ---------------------------------------------------------------------------- registry, input
def test_get_oracle_auto_choices_and_errors():
    rng = np.random.default_rng(0)
    assert get_oracle("auto", instance(rng, 20, 1, True)[0]).name == "exact_1d"
    assert get_oracle("auto", instance(rng, 20, 2, True)[0]).name == "enumeration"
    assert get_oracle("auto", instance(rng, 9, 3, True)[0]).name == "enumeration"
    assert get_oracle("auto", instance(rng, 300, 8, True)[0]).name == "local_search"
    prob = instance(rng, 20, 2, True)[0]
    assert isinstance(get_oracle("local_search", prob), LocalSearch)
    mine = LocalSearch(n_starts=4)
    assert get_oracle(mine, prob) is mine
    with pytest.raises(ValueError, match="'oracle' parameter"):
        get_oracle("magic", prob)
    with pytest.raises(ValueError, match="exact_1d"):
        get_oracle("exact_1d", prob)
    with pytest.raises(ValueError, match="needs the problem"):
        get_oracle("auto")


def test_dual_vector_must_satisfy_the_bias_constraint():
    rng = np.random.default_rng(0)
    prob, v = instance(rng, 10, 2, True)
    with pytest.raises(ValueError, match="1\\^T v = 0"):
        Enumeration()(prob, v + 0.1)
    with pytest.raises(ValueError, match="shape"):
        Enumeration()(prob, v[:5])


def test_zero_dual_vector_gives_zero_bound_everywhere():
    rng = np.random.default_rng(0)
    for d in (1, 2, 3, 6):
        prob, v = instance(rng, 10, d, True)
        for name in ("auto", "local_search", "spike_free"):
            res = get_oracle(name, prob)(prob, np.zeros(10))
            assert res.upper_bound <= 1e-250 and res.best == 0.0


@pytest.mark.parametrize("x_scale", [1e-160, 1.0, 1e120])
@pytest.mark.parametrize("v_scale", [1e-250, 1e-170, 1.0, 1e150])
def test_bounds_are_scale_invariant_without_underflow(x_scale, v_scale):
    """Bounds are homogeneous in X and v; squares of tiny entries must not zero them."""
    rng = np.random.default_rng(12)
    for d in (1, 2, 3, 6):
        X = rng.standard_normal((8, d))
        y = rng.standard_normal(8)
        v = rng.standard_normal(8)
        v -= v.mean()
        unit = cnn.Problem(X, y, bias=True)
        ref = get_oracle("auto", unit)(unit, v)
        scaled = cnn.Problem(x_scale * X, y, bias=True)
        for name in ("auto", "local_search", "spike_free"):
            res = get_oracle(name, scaled)(scaled, v_scale * v)
            assert res.upper_bound >= ref.best * x_scale * v_scale * (1 - 1e-9), (d, name)
            assert res.best <= ref.upper_bound * x_scale * v_scale * (1 + 1e-9), (d, name)
