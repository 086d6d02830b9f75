"""The project's most important invariant: a certificate's lower bound never exceeds the optimum.

Property tests (hypothesis) on tiny problems (n <= 8, d <= 2) where the CVXPY reference over
the full arrangement gives the exhaustive optimum (its objective is that of a real network,
so the true optimum is at most it). For networks from every method, random networks and
near-optimal perturbations (the most dangerous case), ``certify(...).lower_bound`` must stay
below the best objective known, up to 1e-9 relative. The oracles' bounds are checked the same
way on degenerate data (duplicates, collinear points, integer grids, wild scales).
``make stress`` (CONVEXNN_STRESS=1) runs 10x the examples.
"""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import convexnn as cnn
from _budget import examples
from convexnn.oracles import LocalSearch, SpikeFree, general_upper_bound, get_oracle

SOURCES = ["random", "zero", "perturbed", "cvxpy_sampled", "nonconvex", "cutting_plane"]


def draw_problem(data, max_n=8, max_d=2):
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    n = data.draw(st.integers(2, max_n), label="n")
    d = data.draw(st.integers(1, max_d), label="d")
    loss = data.draw(st.sampled_from(["squared", "hinge", "logistic"]), label="loss")
    bias = data.draw(st.booleans(), label="bias")
    k = data.draw(st.sampled_from([None, None, 2]), label="k") if loss == "squared" else None
    kind = data.draw(st.sampled_from(["gauss", "grid", "duplicates", "collinear"]), label="X")
    scale = data.draw(st.sampled_from([1e-2, 1.0, 30.0]), label="scale")
    if kind == "gauss":
        X = rng.standard_normal((n, d))
    elif kind == "grid":
        X = rng.integers(-2, 3, size=(n, d)).astype(float)
    elif kind == "duplicates":
        base = rng.standard_normal((max(1, n // 2), d))
        X = base[rng.integers(0, len(base), n)]
    else:
        X = np.outer(rng.standard_normal(n), rng.standard_normal(d)) + rng.standard_normal(d)
    if not np.any(X):  # X = 0 has no neuron at all without bias (the reference refuses)
        X[0, 0] = 1.0
    X = scale * X
    if loss == "squared":
        y = rng.standard_normal(n) if k is None else rng.standard_normal((n, k))
    else:
        y = np.where(rng.standard_normal(n) > 0, 1.0, -1.0)
    beta = data.draw(st.sampled_from([1e-2, 0.3, 3.0]), label="beta")
    return cnn.Problem(X, y, beta=beta, loss=loss, bias=bias), rng


def network_from(source, prob, rng, optimum):
    d, k = prob.n_features, prob.n_outputs
    if source == "zero":
        return prob.zero_network()
    if source == "random":
        m = int(rng.integers(1, 6))
        U = rng.standard_normal((d, m))
        W = rng.standard_normal(m if k is None else (m, k))
        b = rng.standard_normal(m) if prob.bias else None
        c = (rng.standard_normal() if k is None else rng.standard_normal(k)) if prob.bias else None
        return cnn.ReLUNetwork(U, b, W, c)
    if source == "perturbed":
        net = optimum.network
        eps = 10.0 ** rng.uniform(-9, -3)
        U = net.U * (1 + eps * rng.standard_normal(net.U.shape))
        W = net.W * (1 + eps * rng.standard_normal(net.W.shape))
        return cnn.ReLUNetwork(U, net.b, W, net.c)
    if source == "cvxpy_sampled":
        patterns = cnn.arrangements.sample(prob.X, 3, bias=prob.bias, seed=int(rng.integers(99)))
        return cnn.solve(prob, method="cvxpy", patterns=patterns, certify=False).network
    if source == "nonconvex":
        return cnn.solve(prob, method="nonconvex", width=6, n_steps=150, lr=3e-2).network
    return cnn.solve(prob, method="cutting_plane", max_iter=30).network


@examples(25)
@given(data=st.data())
def test_certified_lower_bound_never_exceeds_the_exhaustive_optimum(data):
    prob, rng = draw_problem(data)
    source = data.draw(st.sampled_from(SOURCES), label="source")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optimum = cnn.solve(prob, method="cvxpy", certify=False)
        net = network_from(source, prob, rng, optimum)
    best_known = min(optimum.objective, prob.objective(net))
    oracle = data.draw(st.sampled_from(["auto", "auto", "local_search", "spike_free"]))
    cert = cnn.certify(prob, net, oracle=oracle)
    tol = 1e-9 * max(abs(best_known), 1.0)
    assert cert.lower_bound <= best_known + tol, (source, oracle, cert, best_known)
    assert cert.lower_bound <= cert.objective + tol
    if prob.n_outputs is None and oracle == "auto":  # scalar outputs, d <= 2: exact oracle
        assert cert.exact


@examples(25)
@given(data=st.data())
def test_oracle_bounds_dominate_every_neuron(data):
    """Every oracle's bound >= |v^T (Xu + b1)_+| for sampled neurons and the exact maximum."""
    prob, rng = draw_problem(data, max_n=10, max_d=3)
    v = rng.standard_normal(prob.y.shape) * 10.0 ** rng.uniform(-3, 3)
    if prob.bias:
        v = v - v.mean(axis=0)
    exact = get_oracle("auto", prob)(prob, v)
    U = rng.standard_normal((prob.n_features, 500))
    U /= np.linalg.norm(U, axis=0)
    Z = prob.X @ U
    kinks = -Z[rng.integers(0, prob.n_samples, 500), np.arange(500)]  # one kink per direction
    b = kinks if prob.bias else None
    sampled = float(np.max(np.abs(prob.constraint_values(v, U, b))))
    top = max(sampled, exact.best)
    assert top <= exact.upper_bound * (1 + 1e-12)
    assert top <= general_upper_bound(prob, v) * (1 + 1e-12)
    assert top <= general_upper_bound(prob, v, quadratic=False) * (1 + 1e-12)
    for oracle in (LocalSearch(), SpikeFree(lemma7=False)):  # Lemma 7: see test_oracles
        res = oracle(prob, v, bound="tight")
        assert top <= res.upper_bound * (1 + 1e-12)
        assert res.best <= exact.upper_bound * (1 + 1e-12)


@examples(15)
@given(data=st.data())
def test_cutting_plane_reported_bound_never_exceeds_the_exhaustive_optimum(data):
    """``Result.lower_bound`` of an unfinished cutting-plane run includes the end-of-run
    bounds (tight quadratic bound, hinge in-out rounds): it must stay sound too."""
    prob, _ = draw_problem(data)
    oracle = data.draw(st.sampled_from(["auto", "local_search"]), label="oracle")
    max_iter = data.draw(st.integers(0, 3), label="max_iter")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optimum = cnn.solve(prob, method="cvxpy", certify=False).objective
        res = cnn.solve(prob, method="cutting_plane", oracle=oracle, max_iter=max_iter, tol=1e-9)
    tol = 1e-9 * max(abs(optimum), 1.0)
    assert res.lower_bound <= min(optimum, res.objective) + tol, (oracle, res.message)
