"""Master problems over a finite neuron dictionary (``solvers/master.py``).

Each fast solver is compared with CVXPY + Clarabel on the same restricted program
``min L(Hw + c) + beta sum_j ||w_j||`` over random dictionaries. Tolerances: the masters
solve to a relative duality gap of 1e-10 and Clarabel to about 1e-8, so objectives must
agree to rel 1e-6; the fast solver must never be above the reference by more than that,
and its reported dual objective must never exceed the reference optimum (weak duality).
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

import convexnn as cnn
from _budget import seeds
from convexnn.solvers.master import GramCache, features, solve_master

LOSSES = ("squared", "hinge", "logistic")


def random_instance(loss, seed, bias=True, n=40, d=3, p=25, k=None, beta=0.5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if loss == "squared":
        y = rng.standard_normal(n if k is None else (n, k))
    else:
        y = np.where(rng.standard_normal(n) > 0, 1.0, -1.0)
    U = rng.standard_normal((d, p))
    U /= np.linalg.norm(U, axis=0)
    b = rng.standard_normal(p) if bias else None
    return cnn.Problem(X, y, beta=beta, loss=loss, bias=bias), features(X, U, b)


def cvxpy_master(prob, H) -> float:
    """The restricted program solved by Clarabel: the reference optimum."""
    n, p = H.shape
    k = prob.n_outputs
    if k is None:
        w = cp.Variable(p)
        f = H @ w + (cp.Variable() if prob.bias else 0.0)
        penalty = cp.norm1(w)
    else:
        W = cp.Variable((p, k))
        f = H @ W
        if prob.bias:
            f = f + np.ones((n, 1)) @ cp.reshape(cp.Variable(k), (1, k), order="C")
        penalty = cp.sum(cp.norm(W, 2, axis=1))
    y = prob.y
    loss = {
        "squared": lambda: 0.5 * cp.sum_squares(f - y),
        "hinge": lambda: cp.sum(cp.pos(1 - cp.multiply(y, f))),
        "logistic": lambda: cp.sum(cp.logistic(-cp.multiply(y, f))),
    }[prob.loss.name]()
    problem = cp.Problem(cp.Minimize(loss + prob.beta * penalty))
    problem.solve(solver="CLARABEL")
    return float(problem.value)


@pytest.mark.parametrize("seed", seeds(3))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("loss", LOSSES)
def test_scalar_masters_match_cvxpy(loss, bias, seed):
    prob, H = random_instance(loss, seed, bias=bias)
    sol = solve_master(prob, H)
    ref = cvxpy_master(prob, H)
    assert abs(sol.objective - ref) <= 1e-6 * abs(ref)
    assert sol.dual_objective <= ref + 1e-7 * abs(ref)  # weak duality, never above
    assert 0.0 <= sol.gap <= 1e-6 * abs(ref)
    # the returned objective is the objective of the returned weights
    f = H @ sol.W + (sol.c if bias else 0.0)
    assert sol.objective == pytest.approx(
        prob.loss.value(f, prob.y) + prob.beta * np.abs(sol.W).sum(), rel=1e-12
    )


@pytest.mark.parametrize("seed", seeds(2))
@pytest.mark.parametrize("bias", [True, False])
def test_group_lasso_matches_cvxpy(bias, seed):
    prob, H = random_instance("squared", seed, bias=bias, k=3)
    sol = solve_master(prob, H)
    ref = cvxpy_master(prob, H)
    assert abs(sol.objective - ref) <= 1e-6 * abs(ref)
    assert sol.dual_objective <= ref + 1e-7 * abs(ref)
    assert sol.W.shape == (H.shape[1], 3)
    if bias:
        np.testing.assert_allclose(sol.dual.sum(axis=0), 0.0, atol=1e-10)


@pytest.mark.parametrize("loss", LOSSES)
def test_dual_vector_is_in_the_dual_domain(loss):
    prob, H = random_instance(loss, 7, bias=True)
    sol = solve_master(prob, H)
    assert abs(sol.dual.sum()) <= 1e-9 * max(1.0, np.abs(sol.dual).sum())
    if loss != "squared":
        t = sol.dual * prob.y
        assert t.min() >= -1e-12 and t.max() <= 1 + 1e-12
    else:  # for the squared loss it is the residual of the solution
        f = H @ sol.W + sol.c
        np.testing.assert_allclose(sol.dual, prob.y - f, atol=1e-10)
    # the scaled dual vector is feasible for the restricted dual: |h_j^T v| <= beta at s
    assert np.max(np.abs(H.T @ sol.dual)) <= prob.beta * (1 + 1e-6)


def test_warm_start_and_gram_cache_give_the_same_solution():
    prob, H = random_instance("squared", 3, p=60)
    cold = solve_master(prob, H)
    cache = GramCache(prob.y, True)
    cache.append(H[:, :30])
    cache.append(H[:, 30:])  # incremental Gram equals the batch one
    warm = solve_master(prob, cache, W0=cold.W + 0.01)
    assert warm.objective == pytest.approx(cold.objective, rel=1e-10)
    mask = np.zeros(60, dtype=bool)
    mask[::2] = True
    cache.keep(mask)
    sub = solve_master(prob, cache)
    assert sub.objective == pytest.approx(solve_master(prob, H[:, mask]).objective, rel=1e-10)
    assert sub.objective >= cold.objective - 1e-9  # fewer features, never better


def test_degenerate_dictionary_duplicates_and_dead_columns():
    """Duplicate, collinear (after centering) and all-zero columns must not break the
    exact active-set method."""
    prob, H = random_instance("squared", 4, p=10)
    Hd = np.hstack([H, H[:, :3], H[:, :2] + 1.0, np.zeros((H.shape[0], 2))])
    sol = solve_master(prob, Hd)
    ref = cvxpy_master(prob, Hd)
    assert abs(sol.objective - ref) <= 1e-6 * abs(ref)
    assert sol.objective == pytest.approx(solve_master(prob, H).objective, rel=1e-8)


def test_empty_dictionary_gives_the_best_offset():
    for loss in LOSSES:
        prob, H = random_instance(loss, 1)
        sol = solve_master(prob, H[:, :0])
        zero = prob.zero_network()
        assert sol.objective == pytest.approx(prob.objective(zero), rel=1e-7)
        assert sol.gap <= 1e-6 * sol.objective


def test_large_beta_gives_zero_weights():
    prob, H = random_instance("squared", 2, beta=1e6)
    sol = solve_master(prob, H)
    assert not np.any(sol.W)
    assert sol.gap <= 1e-12 * sol.objective


@pytest.mark.parametrize(
    ("loss", "k"), [("squared", None), ("squared", 3), ("hinge", None), ("logistic", None)]
)
def test_expired_deadline_returns_a_valid_solution_at_once(loss, k):
    """With no time left every master stops at once, yet its dual objective is still an
    exact evaluation: never above the restricted optimum, and the gap is consistent."""
    import time

    prob, H = random_instance(loss, 5, k=k, p=40)
    ref = cvxpy_master(prob, H)
    start = time.perf_counter()
    sol = solve_master(prob, H, deadline=start)
    assert time.perf_counter() - start < 1.0
    assert sol.objective >= ref - 1e-7 * abs(ref)
    assert sol.dual_objective <= ref + 1e-7 * abs(ref)
    assert sol.gap == pytest.approx(max(sol.objective - sol.dual_objective, 0.0), abs=1e-12)


@pytest.mark.parametrize("bias", [True, False])
def test_group_lasso_conjugate_gradient_newton_matches_cvxpy(monkeypatch, bias):
    """The matrix-free Newton direction (used for large active sets) reaches the same
    optimum as the reference; forced here by disabling the dense path."""
    from convexnn.solvers import master

    monkeypatch.setattr(master, "_DENSE_NEWTON", 0)
    prob, H = random_instance("squared", 11, bias=bias, k=4, p=50, beta=0.2)
    sol = solve_master(prob, H)
    ref = cvxpy_master(prob, H)
    assert abs(sol.objective - ref) <= 1e-6 * abs(ref)
    assert sol.dual_objective <= ref + 1e-7 * abs(ref)
    assert np.count_nonzero(np.linalg.norm(sol.W, axis=1)) > 1  # Newton had work to do


@pytest.mark.parametrize("seed", seeds(3))
def test_group_lasso_on_a_singular_gram_with_rounding_noise(seed):
    """1-D kink dictionaries give singular Gram matrices (the features of 15 points span
    fewer dimensions than there are neurons); a Gram computed another way differs from the
    dense one by rounding (~1e-16), which can leave a row at ~1e-14 instead of 0. Newton must
    not stall on it (curvature beta / ||w_j|| ~ 1e12): the master still reaches the optimum."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, 15)
    Y = np.column_stack([np.sin(3 * x), x**2])
    prob = cnn.Problem(x[:, None], Y, beta=0.05)
    kinks = x[rng.choice(15, 12, replace=False)]
    U = np.where(rng.standard_normal(12) > 0, 1.0, -1.0)[None, :]
    H = features(prob.X, U, -U[0] * kinks)
    ref = cvxpy_master(prob, H)
    cache = GramCache(prob.y, True)
    cache.append(H)
    noise = 1e-16 * rng.standard_normal(cache.G.shape) * np.abs(cache.G).max()
    cache.G = cache.G + (noise + noise.T)
    sol = solve_master(prob, cache)
    assert abs(sol.objective - ref) <= 1e-6 * abs(ref)
    assert sol.gap <= 1e-8 * sol.objective
