"""The 1-D Gram cache (``solvers/line_gram.py``) against the dense features it replaces.

``LineGram`` computes the squared-loss master's Gram matrix, correlations, means and products
from segment moments of the sorted data; ``GramCache`` computes them from the dense feature
matrix. Both are exact up to rounding (a few eps times the entries' scale, measured ~1e-15),
so they must agree to 1e-12 relative to the largest entry. Masters solved on either must
reach the same optimum (relative 1e-9: both solve to gap 1e-10).
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

import convexnn as cnn
from _budget import seeds
from convexnn.solvers.line_gram import LineGram
from convexnn.solvers.master import GramCache, features, solve_master

RTOL = 1e-12


def rel_err(a: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(a - ref), initial=0.0)) / max(float(np.max(np.abs(ref))), 1e-300)


def dictionary(rng, x, bias, p=12):
    """Neurons with kinks at (or next to) data points, non-unit weights, and on purpose one
    neuron active everywhere and one dead everywhere (with bias)."""
    u = rng.choice([-1.0, 1.0], p) * rng.uniform(0.5, 2.0, p)
    b = -u * x[rng.integers(0, x.size, p)] + rng.normal(0.0, 0.01, p)
    b[0] = 50.0 * abs(u[0])  # active on every sample
    b[1] = -50.0 * abs(u[1])  # dead on every sample
    return u[None, :], (b if bias else None)


def instance(seed, bias, k, n=200, shift=0.0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 3.0, n) + shift
    x[5] = x[7]  # ties
    x[10:14] = x[20]
    y = rng.standard_normal(n if k is None else (n, k))
    return rng, cnn.Problem(x[:, None], y, beta=0.5, bias=bias)


@pytest.mark.parametrize("seed", seeds(3))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("k", [None, 3])
def test_line_gram_equals_the_dense_gram_cache(seed, bias, k):
    rng, prob = instance(seed, bias, k)
    U, b = dictionary(rng, prob.X[:, 0], bias)
    line = LineGram(prob)
    live = np.concatenate(
        [
            line.add(U[:, :5], None if b is None else b[:5]),
            line.add(U[:, 5:], None if b is None else b[5:]),
        ]
    )
    H = features(prob.X, U, b)
    np.testing.assert_array_equal(live, H.max(axis=0) > 0)  # the dead neuron is refused
    assert live.all() != bias
    dense = GramCache(prob.y, bias)
    dense.append(H[:, live])
    assert line.p == dense.p
    assert rel_err(line.G, dense.G) <= RTOL
    assert rel_err(line.q, dense.q) <= RTOL
    assert line.yy == pytest.approx(dense.yy, rel=1e-14)
    if bias:
        assert rel_err(line.mean, dense.mean) <= RTOL
    np.testing.assert_array_equal(line.H, dense.H)
    W = rng.standard_normal((dense.p,) if k is None else (dense.p, k))
    v = rng.standard_normal(prob.y.shape)
    assert line.matvec(W).shape == dense.matvec(W).shape
    assert rel_err(line.matvec(W), dense.matvec(W)) <= RTOL
    assert rel_err(line.rmatvec(v), dense.rmatvec(v)) <= RTOL
    mask = np.ones(dense.p, dtype=bool)
    mask[::3] = False
    line.keep(mask)
    dense.keep(mask)
    assert rel_err(line.G, dense.G) <= RTOL and rel_err(line.q, dense.q) <= RTOL
    assert rel_err(line.matvec(W[mask]), dense.matvec(W[mask])) <= RTOL


@pytest.mark.parametrize("shift", [0.0, 1000.0])
def test_every_entry_is_accurate_even_for_tiny_runs_far_from_the_origin(shift):
    """Each Gram entry relative to its own scale ``sqrt(G_jj G_kk)`` (not the largest entry),
    against an extended-precision reference: neurons active on 4 or 11 points at either end,
    data far from 0, n = 20,000. Segment sums are pairwise sums of the data, so the 1-D cache
    is as accurate as dense dot products (measured: ~4e-15 vs ~2e-14 for the dense cache)."""
    rng = np.random.default_rng(0)
    n = 20_000
    x = rng.uniform(-3, 3, n) + shift
    prob = cnn.Problem(x[:, None], rng.standard_normal(n), beta=1.0)
    xs = np.sort(x)
    kinks = np.concatenate([xs[[3, 10, n // 2, n - 11, n - 4]], xs[rng.integers(0, n, 10)]])
    u = np.concatenate([np.ones(15), -np.ones(15)])
    b = -u * np.concatenate([kinks, kinks])
    line = LineGram(prob)
    live = line.add(u[None, :], b)
    H = features(prob.X, u[None, :], b)[:, live].astype(np.longdouble)
    Hc = H - H.mean(axis=0)
    G = (Hc.T @ Hc).astype(float)
    q = (Hc.T @ (prob.y - prob.y.mean())).astype(float)
    scale = np.sqrt(np.outer(np.diag(G), np.diag(G)))
    assert np.max(np.abs(line.G - G) / scale) <= 1e-12
    qscale = np.sqrt(np.diag(G) * np.sum((prob.y - prob.y.mean()) ** 2))
    assert np.max(np.abs(line.q - q) / qscale) <= 1e-12
    np.testing.assert_allclose(line.mean, H.mean(axis=0).astype(float), rtol=1e-13)


@pytest.mark.parametrize("seed", seeds(3))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("k", [None, 2])
def test_masters_on_the_line_gram_match_the_dense_master_and_cvxpy(seed, bias, k):
    rng, prob = instance(seed, bias, k, n=80)
    U, b = dictionary(rng, prob.X[:, 0], bias, p=20)
    line = LineGram(prob)
    live = line.add(U, b)
    H = features(prob.X, U, b)[:, live]
    fast = solve_master(prob, line)
    dense = solve_master(prob, H)
    assert fast.objective == pytest.approx(dense.objective, rel=1e-9)
    assert fast.dual_objective <= dense.objective * (1 + 1e-9)
    assert fast.gap <= 1e-8 * fast.objective
    # the reported objective and dual vector are those of the returned weights
    f = H @ fast.W + (fast.c if bias else 0.0)
    np.testing.assert_allclose(fast.dual, prob.loss.dual_domain_project(prob.y - f, prob.y, bias))
    pen = np.abs(fast.W).sum() if k is None else np.linalg.norm(fast.W, axis=1).sum()
    assert fast.objective == pytest.approx(prob.loss.value(f, prob.y) + prob.beta * pen, rel=1e-12)
    # the restricted optimum itself, by Clarabel (accuracy ~1e-8)
    Wv = cp.Variable(H.shape[1] if k is None else (H.shape[1], k))
    out = H @ Wv
    if bias:
        c = cp.Variable(() if k is None else (1, k))
        out = out + (c if k is None else np.ones((H.shape[0], 1)) @ c)
    pen = cp.norm1(Wv) if k is None else cp.sum(cp.norm(Wv, 2, axis=1))
    ref = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(out - prob.y) + prob.beta * pen))
    ref.solve(solver="CLARABEL")
    assert fast.objective == pytest.approx(ref.value, rel=1e-6)
    assert fast.dual_objective <= ref.value * (1 + 1e-7)  # weak duality


def test_line_gram_refuses_what_it_cannot_represent():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="one input dimension"):
        LineGram(cnn.Problem(rng.standard_normal((10, 2)), rng.standard_normal(10)))
    with pytest.raises(ValueError, match="two distinct points"):
        LineGram(cnn.Problem(np.ones((10, 1)), rng.standard_normal(10)))
    assert not LineGram.applies(cnn.Problem(np.ones((10, 1)), rng.standard_normal(10)))
    line = LineGram(cnn.Problem(rng.standard_normal((10, 1)), rng.standard_normal(10)))
    with pytest.raises(ValueError, match="nonzero weight"):
        line.add(np.zeros((1, 1)), np.ones(1))
