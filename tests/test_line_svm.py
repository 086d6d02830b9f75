"""The 1-D l1-SVM master in segment variables (``solvers/line_svm.py``).

The segment LP is the same linear program as the dense l1-SVM (``master._l1_svm``, HiGHS on
the (n, p) features) written in other variables, so both must reach the same optimum to
HiGHS's accuracy (tolerances 1e-10: objectives agree to rel 1e-9) and agree with CVXPY +
Clarabel (about 1e-8: rel 1e-6). The returned dual must be feasible for the restricted dual
after scaling, and its dual objective never above the reference optimum (weak duality).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import convexnn as cnn
from _budget import seeds
from convexnn.solvers.line_gram import LineGram
from convexnn.solvers.line_svm import block_lp
from convexnn.solvers.master import solve_master
from test_master import cvxpy_master


def line_instance(seed, bias=True, n=120, p=18, beta=1.5, ties=False):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 3.0, n)
    if ties:  # repeated points: kinks on ties, empty and one-point segments
        x = np.round(x, 1)
    y = np.where(np.sin(2 * x) + 0.4 * rng.standard_normal(n) > 0, 1.0, -1.0)
    prob = cnn.Problem(x[:, None], y, beta=beta, loss="hinge", bias=bias)
    U = np.where(rng.random(p) > 0.5, 1.0, -1.0)[None, :]
    b = -U[0] * rng.choice(x, p) + (0.05 * rng.standard_normal(p) if bias else 0.0)
    lg = LineGram(prob)
    lg.add(U, b if bias else None)
    return prob, lg


@pytest.mark.parametrize("seed", seeds(3))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("ties", [False, True])
def test_segment_lp_equals_dense_lp_and_cvxpy(seed, bias, ties):
    prob, lg = line_instance(seed, bias=bias, ties=ties)
    H = lg.H
    sol = solve_master(prob, lg)
    dense = solve_master(prob, H)
    ref = cvxpy_master(prob, H)
    assert sol.objective == pytest.approx(dense.objective, rel=1e-9)
    assert abs(sol.objective - ref) <= 1e-6 * abs(ref)
    assert sol.dual_objective <= ref + 1e-7 * abs(ref)  # weak duality, never above
    assert 0.0 <= sol.gap <= 1e-8 * abs(ref)
    # the returned objective is that of the returned weights, on the dense features
    f = H @ sol.W + (sol.c if bias else 0.0)
    value = prob.loss.value(f, prob.y) + prob.beta * np.abs(sol.W).sum()
    assert sol.objective == pytest.approx(value, rel=1e-12)
    # the dual vector: y * alpha with alpha in [0, 1], 1^T v = 0 with bias, and feasible
    # for the restricted dual (up to HiGHS's tolerance) at the LP optimum
    t = sol.dual * prob.y
    assert t.min() >= -1e-12 and t.max() <= 1 + 1e-12
    if bias:
        assert abs(sol.dual.sum()) <= 1e-9 * max(1.0, np.abs(sol.dual).sum())
    assert np.max(np.abs(H.T @ sol.dual)) <= prob.beta * (1 + 1e-6)
    np.testing.assert_allclose(sol.correlations, H.T @ sol.dual, atol=1e-9 * prob.beta)


@pytest.mark.parametrize("seed", seeds(2))
@pytest.mark.parametrize("bias", [True, False])
def test_block_lp_singletons_are_the_l1_svm_and_coarse_blocks_a_lower_model(seed, bias):
    """One block per sample: the plain l1-SVM dual (same optimum as the dense LP). Coarser
    blocks restrict the dual (alpha shared), so their optimum is never above it."""
    from scipy.optimize import linprog

    prob, lg = line_instance(seed, bias=bias)
    n = prob.n_samples
    optimum = solve_master(prob, lg.H).objective
    single = linprog(method="highs", **block_lp(prob, lg, np.arange(n), n))
    assert -single.fun == pytest.approx(optimum, rel=1e-9)
    start = lg.pieces()[0]  # blocks (segment, label), in the sorted order
    seg = np.searchsorted(start, np.arange(n), side="right") - 1
    _, block = np.unique(2 * seg + (prob.y[lg.line.order] > 0), return_inverse=True)
    k = block.max() + 1
    lp = block_lp(prob, lg, block, k)
    assert lp["A_eq"].shape[1] == k + 2 * start.size  # one column per block, plus the Z
    coarse = linprog(method="highs", **lp)
    assert -coarse.fun <= optimum * (1 + 1e-9)


@pytest.mark.parametrize("seed", seeds(3))
@pytest.mark.parametrize("bias", [True, False])
def test_warm_starts_reach_the_cold_optimum(seed, bias):
    """Blocks seeded by a warm start (the optimum itself, or random weights far from it,
    whose blocks must be split many times) end at the cold solve's optimum, with an
    optimal dual (gap at HiGHS's accuracy)."""
    prob, lg = line_instance(seed, bias=bias, n=300, p=25)
    cold = solve_master(prob, lg)
    rng = np.random.default_rng(seed + 10)
    for W0, c0 in (
        (cold.W, cold.c),
        (rng.standard_normal(lg.p), 0.3 if bias else None),
        (np.zeros(lg.p), -0.5 if bias else None),
    ):
        warm = solve_master(prob, lg, W0=W0, c0=c0)
        assert warm.objective == pytest.approx(cold.objective, rel=1e-9)
        assert warm.gap <= 1e-8 * warm.objective


def test_empty_dictionary_is_the_best_offset():
    prob, _ = line_instance(2)
    lg = LineGram(prob)
    sol = solve_master(prob, lg)
    zero = prob.objective(prob.zero_network())  # its offset by a scalar search (~1e-7)
    assert sol.objective <= zero * (1 + 1e-12)
    assert sol.objective == pytest.approx(zero, rel=1e-6)
    assert sol.gap <= 1e-9 * sol.objective


def test_expired_deadline_returns_the_warm_start_at_once():
    """No time left: the warm start and its subgradient dual, evaluated exactly (its dual
    objective is a valid value, never above the restricted optimum)."""
    prob, lg = line_instance(3)
    ref = cvxpy_master(prob, lg.H)
    W0 = np.full(lg.p, 0.01)
    start = time.perf_counter()
    sol = solve_master(prob, lg, W0=W0, deadline=start)
    assert time.perf_counter() - start < 0.5
    np.testing.assert_array_equal(sol.W, W0)
    assert sol.objective >= ref - 1e-7 * abs(ref)
    assert sol.dual_objective <= ref + 1e-7 * abs(ref)


@pytest.mark.parametrize("seed", seeds(3))
@pytest.mark.parametrize("bias", [True, False])
def test_cutting_plane_on_a_line_matches_cvxpy(seed, bias):
    """The whole 1-D hinge run on the block master against CVXPY's full enumeration (the
    exact global optimum on 1-D data)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, 40)
    y = np.where(np.sin(2 * x) + 0.3 * rng.standard_normal(40) > 0, 1.0, -1.0)
    prob = cnn.Problem(x[:, None], y, beta=0.4, loss="hinge", bias=bias)
    res = cnn.solve(prob, tol=1e-8)
    ref = cnn.solve(prob, method="cvxpy")
    assert res.certified
    assert res.objective == pytest.approx(ref.objective, rel=1e-6)
    assert res.lower_bound <= ref.objective * (1 + 1e-7)


def test_numerical_trouble_is_retried_and_never_fatal(monkeypatch):
    """HiGHS once ended a block LP at n = 10^6 with status 4 ("unknown") at tight
    tolerances; the master retries with other settings, and if every attempt fails it
    returns the warm start (an exactly evaluated, valid answer) instead of raising."""
    from convexnn.solvers import _highs

    prob, lg = line_instance(4)
    cold = solve_master(prob, lg)
    real = _highs.linprog
    calls = []

    def flaky(**kw):  # the first attempt of every solve fails
        calls.append(kw["method"])
        res = real(**kw)
        if len(calls) % 2 == 1:
            res.status = 4
        return res

    monkeypatch.setattr(_highs, "linprog", flaky)
    sol = solve_master(prob, lg)
    assert calls[:2] == ["highs", "highs"]
    assert sol.objective == pytest.approx(cold.objective, rel=1e-9)

    def broken(**kw):
        res = real(**kw)
        res.status = 4
        return res

    monkeypatch.setattr(_highs, "linprog", broken)
    W0 = 0.5 * cold.W
    sol = solve_master(prob, lg, W0=W0, c0=cold.c)
    np.testing.assert_array_equal(sol.W, W0)
    assert sol.objective >= cold.objective * (1 - 1e-9)
    assert sol.dual_objective <= cold.objective * (1 + 1e-9)
