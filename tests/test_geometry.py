"""Geometry (convexnn.geometry): spike-free test, Lemma 7 neurons, Thm 6, extreme points, NTK."""

from __future__ import annotations

import numpy as np
import pytest

from convexnn import geometry as g


def orthonormal_rows(seed: int, n: int, d: int) -> np.ndarray:
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, n)))
    return Q.T


def violates_spike_free(X: np.ndarray, u: np.ndarray) -> bool:
    """Independent check of a witness: no ||z|| <= 1 has X z = (X u)_+ (Lemma 3)."""
    r = np.maximum(X @ u, 0.0)
    z, *_ = np.linalg.lstsq(X, r, rcond=None)  # min-norm solution of the least squares
    off = np.linalg.norm(X @ z - r)
    return off > 1e-8 * max(np.linalg.norm(r), 1e-300) or np.linalg.norm(z) > 1 + 1e-8


# ============================================================================ spike-free
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_whitened_and_orthogonal_rows_are_proven_spike_free(seed):
    X = orthonormal_rows(seed, 4, 7)
    rep = g.is_spike_free(X)
    assert rep.spike_free and rep.proven and rep.test == "orthogonal_rows"
    scaled = np.diag([0.5, 1.0, 2.0, 3.0]) @ X
    assert g.is_spike_free(scaled).proven
    # Lemma 4 numerically: ||X^+ (Xu)_+|| <= 1 on random unit u
    U = np.random.default_rng(seed).standard_normal((7, 500))
    U /= np.linalg.norm(U, axis=0)
    Z = np.linalg.pinv(scaled) @ np.maximum(scaled @ U, 0)
    assert np.max(np.linalg.norm(Z, axis=0)) <= 1 + 1e-12


def test_rank_one_spike_free_iff_one_sign():
    rng = np.random.default_rng(0)
    c, a = np.abs(rng.standard_normal(6)), rng.standard_normal(3)
    for X in (np.outer(c, a), np.outer(-c, a)):
        rep = g.is_spike_free(X)
        assert rep.spike_free and rep.proven and rep.test == "rank_one"
    c[2] = -c[2]
    X = np.outer(c, a)
    rep = g.is_spike_free(X)
    assert not rep.spike_free and rep.proven and rep.test == "rank_one"
    assert violates_spike_free(X, rep.witness) or violates_spike_free(X, -rep.witness)


@pytest.mark.parametrize("shape", [(6, 3), (3, 200), (5, 12)])
def test_witness_search_finds_checkable_witnesses(shape):
    X = np.random.default_rng(1).standard_normal(shape)
    rep = g.is_spike_free(X)
    assert rep.test == "witness_search"
    assert not rep.spike_free and rep.proven
    assert violates_spike_free(X, rep.witness)


def test_witness_search_reports_unproven_when_nothing_found():
    # two samples at angle 0.2: the Lemma 3 ratio reaches exactly 1 (spike-free, not by a
    # lemma this module proves), so the search must not claim a proof either way
    th = 0.2
    X = np.array([[1.0, 0.0], [np.cos(th), np.sin(th)]])
    rep = g.is_spike_free(X)
    assert rep.spike_free and not rep.proven and rep.witness is None
    assert rep.value == pytest.approx(1.0, abs=1e-9)


# ============================================================================ Lemma 7, Thm 6
def test_autoencoder_neurons_lemma7_and_theorem6():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 10))
    neurons = g.autoencoder_neurons(X)
    assert neurons.is_vertex.all()
    np.testing.assert_allclose(np.linalg.norm(neurons.U, axis=0), 1.0)
    H = np.maximum(X @ neurons.U + neurons.b, 0)
    assert np.all(H - np.diag(np.diag(H)) == 0.0)  # diagonal: each neuron sees one sample
    np.testing.assert_allclose(np.diag(H), neurons.margin)
    # KKT of the projection onto the hull of the others: p = x_i - dist * u_i satisfies
    # (x_j - p)^T u_i <= 0 for all j != i, so the hyperplane supports the hull at p
    for i in range(8):
        p = X[i] - neurons.distance[i] * neurons.U[:, i]
        others = np.delete(X, i, axis=0)
        assert np.max((others - p) @ neurons.U[:, i]) <= 1e-10
    y = rng.standard_normal(8)
    net = g.interpolating_network(X, y)
    np.testing.assert_allclose(net.predict(X), y, atol=1e-10)
    Y = rng.standard_normal((8, 2))
    np.testing.assert_allclose(g.interpolating_network(X, Y).predict(X), Y, atol=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_autoencoder_vertices_agree_with_hull_lp(seed):
    from scipy.optimize import linprog

    X = np.random.default_rng(seed).standard_normal((12, 3))  # some samples are interior
    neurons = g.autoencoder_neurons(X)
    for i in range(12):
        others = np.delete(X, i, axis=0)
        # x_i in conv(others) <=> the LP {lambda >= 0, 1^T lambda = 1, others^T lambda = x_i}
        lp = linprog(
            np.zeros(11), A_eq=np.vstack([others.T, np.ones(11)]), b_eq=np.append(X[i], 1.0)
        )
        assert neurons.is_vertex[i] == (lp.status == 2)  # 2: infeasible, so a vertex
        if not neurons.is_vertex[i]:
            assert neurons.distance[i] < 1e-9


def test_interpolating_network_names_non_vertices():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6, 4))
    X = np.vstack([X, X[:3].mean(axis=0)])  # sample 6 lies inside the hull
    neurons = g.autoencoder_neurons(X)
    assert neurons.is_vertex.tolist() == [True] * 6 + [False]
    assert neurons.distance[6] < 1e-7
    with pytest.raises(ValueError, match=r"sample\(s\) \[6\] are not"):
        g.interpolating_network(X, rng.standard_normal(7))


# ============================================================================ extreme points
def brute_force_max(X: np.ndarray, v: np.ndarray, n_angles: int = 20000) -> float:
    """max |v^T (Xu + b1)_+| over unit u on a fine circle and b at every kink (2-D data)."""
    t = np.linspace(0, 2 * np.pi, n_angles, endpoint=False)
    U = np.vstack([np.cos(t), np.sin(t)])[: X.shape[1]]
    Z = X @ U  # (n, angles); the best b for fixed u sits at a kink b = -x_i^T u
    best = 0.0
    for i in range(X.shape[0]):
        vals = v @ np.maximum(Z - Z[i], 0.0)
        best = max(best, float(np.max(np.abs(vals))))
    return best


def test_extreme_points_one_dimensional_are_kinks_corollary2():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((9, 1))
    v = rng.standard_normal(9)
    v -= v.mean()
    res = g.extreme_points(x, v)
    assert res.exact
    # Lemma 6: u = +-1, kink at a data point
    assert abs(abs(res.U[0, 0]) - 1.0) < 1e-12
    kink = -res.b[0] / res.U[0, 0]
    assert np.min(np.abs(kink - x[:, 0])) < 1e-9
    kinks = x[:, 0]
    vals = [v @ np.maximum(s * (x[:, 0] - k), 0) for s in (1, -1) for k in kinks]
    assert res.best == pytest.approx(np.max(np.abs(vals)), rel=1e-12)
    assert res.upper_bound >= res.best * (1 - 1e-12)


def test_extreme_points_two_dimensional_against_brute_force():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((7, 2))
    v = rng.standard_normal(7)
    v -= v.mean()
    res = g.extreme_points(X, v)
    brute = brute_force_max(X, v)
    assert res.best >= brute * (1 - 1e-6)
    assert res.upper_bound >= brute * (1 - 1e-12)
    with pytest.raises(ValueError, match="1\\^T v = 0"):
        g.extreme_points(X, v + 1.0)
    res0 = g.extreme_points(X, v + 1.0, bias=False)  # without bias any v is allowed
    assert res0.best > 0


@pytest.mark.parametrize("seed", [0, 1])
def test_optimal_neurons_attain_the_dual_constraint_corollary2(seed):
    from convexnn import closed_form

    rng = np.random.default_rng(seed)
    X = np.outer(rng.standard_normal(9), rng.standard_normal(2))  # rank one: exact oracle
    y = rng.standard_normal(9)
    beta = 0.02
    res = closed_form.rank_one(X, y, beta)
    assert res.network.width >= 2
    U, b = res.network.U, res.network.b
    scale = np.linalg.norm(U, axis=0)
    values = res.dual @ np.maximum(X @ (U / scale) + b / scale, 0)
    np.testing.assert_allclose(np.abs(values), beta, rtol=1e-6)  # every optimal neuron is tight
    top = g.extreme_points(X, res.dual)
    assert top.exact and top.best == pytest.approx(beta, rel=1e-6)  # and none exceeds beta


# ============================================================================ NTK
def test_ntk_kernel_matches_monte_carlo_of_wide_network():
    # K = 2 x E[grad f(x)^T grad f(x')] for f(x) = m^-1/2 sum_j w_j (u_j^T x)_+
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 3))
    m = 400_000
    U = rng.standard_normal((3, m))
    w2 = rng.standard_normal(m) ** 2
    Z = X @ U
    act = np.maximum(Z, 0)
    gate = (Z > 0).astype(float)
    theta = (act @ act.T + (X @ X.T) * ((gate * w2) @ gate.T)) / m
    np.testing.assert_allclose(g.ntk_kernel(X, X), 2 * theta, rtol=2e-2, atol=2e-2)


def test_ntk_kernel_properties_and_predictor():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6, 1))
    K = g.ntk_kernel(X, X, bias=True)
    np.testing.assert_allclose(K, K.T)
    assert np.linalg.eigvalsh(K).min() > -1e-10
    # the kappa formula at the endpoints: kappa(1) = 2, kappa(-1) = 0
    x = np.array([[1.5], [-2.0]])
    np.testing.assert_allclose(g.ntk_kernel(x, x), [[2 * 2.25, 0.0], [0.0, 2 * 4.0]])
    y = rng.standard_normal(6)
    np.testing.assert_allclose(g.ntk_predict(X, y, X, bias=True), y, atol=1e-8)  # eq. (32)
    ridge = 0.5
    Xt = rng.standard_normal((3, 1))
    expected = g.ntk_kernel(Xt, X, bias=True) @ np.linalg.solve(K + ridge * np.eye(6), y)
    np.testing.assert_allclose(g.ntk_predict(X, y, Xt, ridge=ridge, bias=True), expected)
    with pytest.raises(ValueError, match="'ridge'"):
        g.ntk_predict(X, y, Xt, ridge=-1.0)
