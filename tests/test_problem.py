"""Problem: primal objectives, dual objective, dual vector, constraint values, weak duality.

The 1-D dual constraint is checked exactly by brute force here (Lemma 6: with |u| <= 1 and b
free, the maximum of |v^T (x u + b 1)_+| sits at u = +-1 with a kink b = -u x_i, or at the
all-active limit), independent of the library's oracles.
"""

from __future__ import annotations

import numpy as np
import pytest

import convexnn as cnn
from _budget import seeds
from convexnn import Problem, ReLUNetwork

LOSSES = ("squared", "hinge", "logistic")


def targets(loss: str, n: int, rng, k: int | None = None) -> np.ndarray:
    if loss == "squared":
        return rng.standard_normal(n if k is None else (n, k))
    y = rng.choice([-1.0, 1.0], size=n)
    y[:2] = [1.0, -1.0]
    return y


def max_violation_1d(x: np.ndarray, v: np.ndarray, bias: bool) -> float:
    """``max_{|u| <= 1, b} |v^T (x u + b 1)_+|`` for 1-D data, exactly (vector v: 2-norm)."""
    x = np.ravel(x)
    V = v if v.ndim == 2 else v[:, None]
    values = []
    for u in (1.0, -1.0):
        values.append(np.maximum(x * u, 0) @ V)  # b = 0
        if bias:
            for xi in x:
                values.append(np.maximum(u * (x - xi), 0) @ V)
            values.append(u * (x @ V) + 0.0 * V.sum(axis=0))  # all-active limit b -> inf
    return float(max(np.linalg.norm(val) for val in values))


def lower_bound_1d(prob: Problem, v: np.ndarray) -> float:
    """The scaled-dual lower bound of NOTES §2 with the exact 1-D maximum."""
    M = max_violation_1d(prob.X, v, prob.bias)
    if M == 0:
        return prob.dual_objective(np.zeros_like(v))
    s = prob.loss.best_dual_scale(v, prob.y, prob.beta / M)
    return prob.dual_objective(s * v)


def random_net(rng, d, m, k=None, bias=True) -> ReLUNetwork:
    return ReLUNetwork(
        rng.standard_normal((d, m)),
        rng.standard_normal(m) if bias else None,
        rng.standard_normal(m if k is None else (m, k)),
        (float(rng.standard_normal()) if k is None else rng.standard_normal(k)) if bias else None,
    )


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("seed", seeds(3))
def test_objective_and_l1_objective(loss, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((9, 2))
    y = targets(loss, 9, rng)
    prob = Problem(X, y, beta=0.7, loss=loss)
    net = random_net(rng, 2, 4)
    f = net.predict(X)
    assert prob.loss_value(net) == pytest.approx(prob.loss.value(f, prob.y), rel=1e-14)
    wd = 0.5 * (np.sum(net.U**2) + np.sum(net.W**2))
    assert prob.objective(net) == pytest.approx(prob.loss.value(f, prob.y) + 0.7 * wd, rel=1e-14)
    path = np.sum(np.linalg.norm(net.U, axis=0) * np.abs(net.W))
    assert prob.l1_objective(net) == pytest.approx(prob.loss.value(f, prob.y) + 0.7 * path)
    assert prob.l1_objective(net) <= prob.objective(net) + 1e-12  # AM-GM (Lemma 1)
    # biases are not regularized: changing b and c changes only the loss
    moved = ReLUNetwork(net.U, net.b + 5.0, net.W, net.c + 1.0)
    assert prob.objective(moved) - prob.loss_value(moved) == pytest.approx(0.7 * wd, rel=1e-14)


def test_vector_output_objective_uses_row_norms():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((6, 2)), rng.standard_normal((6, 3))
    prob = Problem(X, Y, beta=0.5)
    net = random_net(rng, 2, 4, k=3)
    path = np.sum(np.linalg.norm(net.U, axis=0) * np.linalg.norm(net.W, axis=1))
    assert prob.l1_objective(net) == pytest.approx(
        0.5 * np.sum((net.predict(X) - Y) ** 2) + 0.5 * path, rel=1e-13
    )
    assert prob.n_outputs == 3


@pytest.mark.parametrize("loss", LOSSES)
def test_dual_objective_matches_conjugates(loss):
    rng = np.random.default_rng(1)
    y = targets(loss, 8, rng)
    prob = Problem(rng.standard_normal((8, 1)), y, loss=loss)
    v = prob.loss.dual_domain_project(rng.standard_normal(8), prob.y, True)
    assert prob.dual_objective(v) == pytest.approx(-prob.loss.conjugate(-v, prob.y), rel=1e-14)
    if loss == "squared":  # NOTES §2: -1/2 ||v - y||^2 + 1/2 ||y||^2
        expected = -0.5 * np.sum((v - y) ** 2) + 0.5 * np.sum(y**2)
        assert prob.dual_objective(v) == pytest.approx(expected, rel=1e-12)
    if loss == "hinge":
        assert prob.dual_objective(v) == pytest.approx(v @ y, rel=1e-14)
    if loss == "logistic":
        p = v * y
        h = -np.sum(p * np.log(np.where(p > 0, p, 1)) + (1 - p) * np.log(np.where(p < 1, 1 - p, 1)))
        assert prob.dual_objective(v) == pytest.approx(h, rel=1e-12)
    with pytest.raises(ValueError, match="'v' parameter"):
        prob.dual_objective(np.zeros(7))


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("bias", [True, False])
def test_dual_vector(loss, bias):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((10, 2))
    y = targets(loss, 10, rng)
    prob = Problem(X, y, beta=0.2, loss=loss, bias=bias)
    net = random_net(rng, 2, 3, bias=bias)
    v = prob.dual_vector(net)
    f = net.predict(X)
    if bias:
        assert abs(v.sum()) <= 1e-12 * max(1, np.abs(v).sum())
    if loss == "squared":
        r = y - f
        np.testing.assert_allclose(v, r - r.mean() if bias else r, atol=1e-13)
    else:
        assert np.all(v * y >= 0) and np.all(v * y <= 1)
        assert np.isfinite(prob.dual_objective(v))


def test_constraint_values_match_loops():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((7, 3))
    prob = Problem(X, rng.standard_normal(7))
    v = rng.standard_normal(7)
    U, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    got = prob.constraint_values(v, U, b)
    want = [v @ np.maximum(X @ U[:, j] + b[j], 0) for j in range(4)]
    np.testing.assert_allclose(got, want, rtol=1e-13)
    np.testing.assert_allclose(prob.constraint_values(v, U[:, 0]), [v @ np.maximum(X @ U[:, 0], 0)])
    Y = rng.standard_normal((7, 2))
    got = Problem(X, Y).constraint_values(Y, U, b)
    want = [np.linalg.norm(Y.T @ np.maximum(X @ U[:, j] + b[j], 0)) for j in range(4)]
    np.testing.assert_allclose(got, want, rtol=1e-13)
    with pytest.raises(ValueError, match="'U' parameter"):
        prob.constraint_values(v, np.ones((2, 2)))


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("seed", seeds(3))
def test_weak_duality_on_1d(loss, bias, seed):
    """Scaled dual vectors of random networks never bound above the exact optimum."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((7, 1))
    prob = Problem(
        x, targets(loss, 7, rng), beta=float(rng.uniform(0.05, 1.0)), loss=loss, bias=bias
    )
    opt = cnn.solve(prob, method="cvxpy", certify=False).objective  # full arrangement
    for _ in range(5):
        net = random_net(rng, 1, 3, bias=bias)
        lower = lower_bound_1d(prob, prob.dual_vector(net))
        assert lower <= prob.objective(net) + 1e-9
        assert lower <= opt + 1e-6 * max(1.0, abs(opt))


@pytest.mark.parametrize("loss", ("squared", "logistic"))
@pytest.mark.parametrize("seed", seeds(2))
def test_strong_duality_at_the_reference_optimum(loss, seed):
    """At the global optimum the dual vector is feasible and closes the gap (Thm 1, 8, 13).

    ``-grad L`` at the reference network inherits Clarabel's primal accuracy (default 1e-8
    gaps): over 10 seeds the worst violation measured was 1.1e-4 (logistic, exponential
    cone) and the worst relative gap 1.8e-5, hence 1e-3 and 1e-4 here.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((8, 1))
    prob = Problem(x, targets(loss, 8, rng), beta=0.1, loss=loss)
    res = cnn.solve(prob, method="cvxpy", certify=False)
    v = prob.dual_vector(res.network)
    assert max_violation_1d(x, v, True) <= prob.beta * (1 + 1e-3)
    lower = lower_bound_1d(prob, v)
    assert lower <= res.objective + 1e-9
    assert res.objective - lower <= 1e-4 * max(1.0, res.objective)


def test_zero_network_and_best_offset():
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((9, 2)), rng.standard_normal(9)
    prob = Problem(X, y)
    z = prob.zero_network()
    assert z.width == 0 and z.c == pytest.approx(y.mean())
    assert prob.objective(z) == pytest.approx(0.5 * np.sum((y - y.mean()) ** 2))
    assert prob.zero_network(width=3).width == 3
    assert Problem(X, y, bias=False).zero_network().c is None
    for loss in ("hinge", "logistic"):
        yl = np.array([1.0, 1, 1, -1, 1, -1, 1, 1, 1])
        p = Problem(X, yl, loss=loss)
        c = p.best_offset(np.zeros(9))
        grid = np.linspace(-5, 5, 10001)
        best = min(p.loss.value(np.full(9, t), yl) for t in grid)
        assert p.loss.value(np.full(9, c), yl) <= best + 1e-7


def test_problem_facts_and_frozen_copies():
    X = np.arange(12.0).reshape(6, 2)
    y = np.arange(6.0)
    prob = Problem(X, y, beta=2, bias=True)
    assert prob.n_samples == 6 and prob.n_features == 2 and prob.n_outputs is None
    np.testing.assert_array_equal(prob.X_aug, np.hstack([X, np.ones((6, 1))]))
    np.testing.assert_array_equal(Problem(X, y, bias=False).X_aug, X)
    assert X.flags.writeable and y.flags.writeable  # the caller's arrays are untouched
    X[0, 0] = 100.0
    assert prob.X[0, 0] == 0.0
    with pytest.raises(ValueError):
        prob.X[0, 0] = 1.0
    assert prob.with_beta(0.5).beta == 0.5 and prob.beta == 2.0
    assert "beta=2" in repr(prob)


def test_check_network_rejects_mismatches():
    rng = np.random.default_rng(5)
    prob = Problem(rng.standard_normal((5, 2)), rng.standard_normal(5), bias=False)
    with pytest.raises(TypeError, match="ReLUNetwork"):
        prob.objective("not a network")
    with pytest.raises(ValueError, match="inputs"):
        prob.objective(random_net(rng, 3, 2, bias=False))
    with pytest.raises(ValueError, match="output dimension"):
        prob.objective(random_net(rng, 2, 2, k=2, bias=False))
    with pytest.raises(ValueError, match="bias=False"):
        prob.objective(random_net(rng, 2, 2, bias=True))
    zero_bias = ReLUNetwork(np.ones((2, 2)), np.zeros(2), np.ones(2), 0.0)
    assert np.isfinite(prob.objective(zero_bias))  # zero biases are no biases
