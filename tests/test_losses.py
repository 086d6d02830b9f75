"""Losses: value, gradient, conjugate and the dual-scale line search, checked numerically."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from _budget import seeds
from convexnn.losses import LOSSES, get_loss

LOSS_NAMES = ("squared", "hinge", "logistic")


def labels(loss: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if loss == "squared":
        return rng.standard_normal(n)
    return rng.choice([-1.0, 1.0], size=n)


def one_sample_sup(loss, z: float, y: float) -> float:
    """``sup_f z f - L(f; y)`` for one sample, by bounded scalar search plus a wide grid.

    The conjugate separates over samples, so the n-sample conjugate is a sum of these.
    """
    grid = np.linspace(-60, 60, 24001)
    vals = z * grid - np.array([loss.value(np.array([f]), np.array([y])) for f in grid])
    best = float(vals.max())
    f0 = grid[int(np.argmax(vals))]
    res = minimize_scalar(
        lambda f: -(z * f - loss.value(np.array([f]), np.array([y]))),
        bounds=(f0 - 0.01, f0 + 0.01),
        method="bounded",
        options={"xatol": 1e-12},
    )
    return max(best, -float(res.fun))


@pytest.mark.parametrize("name", LOSS_NAMES)
@pytest.mark.parametrize("seed", seeds(3))
def test_gradient_matches_finite_differences(name, seed):
    loss = get_loss(name)
    rng = np.random.default_rng(seed)
    y = labels(name, 7, rng)
    f = rng.standard_normal(7) * 2
    if name == "hinge":  # stay away from the kinks y f = 1
        f[np.abs(y * f - 1) < 1e-3] += 0.1
    g = loss.gradient(f, y)
    h = 1e-6
    for i in range(7):
        e = np.zeros(7)
        e[i] = h
        fd = (loss.value(f + e, y) - loss.value(f - e, y)) / (2 * h)
        assert fd == pytest.approx(g[i], abs=1e-6)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_values_at_known_points(name):
    loss = get_loss(name)
    y = np.array([1.0, -1.0, 1.0])
    f = np.array([1.0, 0.5, -2.0])
    expected = {
        "squared": 0.5 * (0.0 + 1.5**2 + 3.0**2),
        "hinge": 0.0 + 1.5 + 3.0,
        "logistic": float(np.sum(np.log1p(np.exp(-y * f)))),
    }[name]
    assert loss.value(f, y) == pytest.approx(expected, rel=1e-14)


def test_squared_vector_output_value_and_gradient():
    loss = get_loss("squared")
    rng = np.random.default_rng(0)
    Y, F = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    assert loss.value(F, Y) == pytest.approx(0.5 * np.sum((F - Y) ** 2), rel=1e-14)
    np.testing.assert_allclose(loss.gradient(F, Y), F - Y)


@pytest.mark.parametrize("name", LOSS_NAMES)
@pytest.mark.parametrize("seed", seeds(2))
def test_conjugate_equals_numerical_sup(name, seed):
    loss = get_loss(name)
    rng = np.random.default_rng(seed)
    y = labels(name, 3, rng)
    if name == "squared":
        z = rng.standard_normal(3)
    else:  # inside the domain: -z y in [0, 1], including both ends
        z = -y * np.array([0.0, rng.uniform(0.05, 0.95), 1.0])
    numeric = sum(one_sample_sup(loss, z[i], y[i]) for i in range(3))
    assert loss.conjugate(z, y) == pytest.approx(numeric, abs=1e-6)
    # the dual objective is -L*(-v)
    assert loss.dual_value(-z, y) == pytest.approx(-loss.conjugate(z, y), abs=1e-12)


@pytest.mark.parametrize("name", ("hinge", "logistic"))
def test_binary_conjugate_is_infinite_outside_domain(name):
    loss = get_loss(name)
    y = np.array([1.0, -1.0])
    for z in ([0.5, 0.0], [-1.5, 0.0], [0.0, -0.2]):  # -z y outside [0, 1] somewhere
        z = np.array(z)
        assert loss.conjugate(z, y) == np.inf
        # and the numerical sup is indeed unbounded (grows with the search range)
        i = int(np.argmax(np.abs(np.clip(-z * y, 0, 1) - (-z * y))))
        assert one_sample_sup(loss, z[i], y[i]) > 5.0
        assert loss.dual_value(-z, y) == -np.inf


@pytest.mark.parametrize("name", LOSS_NAMES)
@pytest.mark.parametrize("seed", seeds(3))
def test_fenchel_young_inequality(name, seed):
    """``L(f) + L*(z) >= <z, f>``, with equality at ``z = grad L(f)``."""
    loss = get_loss(name)
    rng = np.random.default_rng(seed)
    y = labels(name, 6, rng)
    for _ in range(20):
        f = rng.standard_normal(6) * 3
        z = rng.standard_normal(6) * 2 if name == "squared" else -y * rng.uniform(0, 1, 6)
        assert loss.value(f, y) + loss.conjugate(z, y) >= z @ f - 1e-10
    f = rng.standard_normal(6)
    if name == "hinge":
        f[np.abs(y * f - 1) < 1e-3] += 0.1
    z = loss.gradient(f, y)
    assert loss.value(f, y) + loss.conjugate(z, y) == pytest.approx(z @ f, abs=1e-9)


@pytest.mark.parametrize("name", LOSS_NAMES)
@pytest.mark.parametrize("bias", [False, True])
def test_dual_domain_project(name, bias):
    loss = get_loss(name)
    rng = np.random.default_rng(3)
    y = labels(name, 9, rng)
    v = rng.standard_normal(9) * 2
    p = loss.dual_domain_project(v, y, bias)
    assert np.isfinite(loss.dual_value(p, y))
    if bias:
        assert abs(p.sum()) <= 1e-12 * max(1.0, np.abs(p).sum())
    if name != "squared":
        t = p * y
        assert np.all(t >= 0) and np.all(t <= 1)


@pytest.mark.parametrize("name", LOSS_NAMES)
@pytest.mark.parametrize("seed", seeds(3))
def test_best_dual_scale_is_the_best_in_range(name, seed):
    loss = get_loss(name)
    rng = np.random.default_rng(seed)
    y = labels(name, 8, rng)
    v = loss.dual_domain_project(rng.standard_normal(8), y, True)
    s_max = float(rng.uniform(0.1, 3.0))
    s = loss.best_dual_scale(v, y, s_max)
    assert 0.0 <= s <= s_max
    grid = np.linspace(0, min(s_max, loss.max_dual_scale(v, y)), 2001)
    best_grid = max(loss.dual_value(t * v, y) for t in grid)
    assert loss.dual_value(s * v, y) >= best_grid - 1e-9


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_best_dual_scale_degenerate_inputs(name):
    """Zero vectors and infinite caps (oracle bound M = 0) give a finite scale, never a crash."""
    loss = get_loss(name)
    y = np.array([1.0, -1.0, 1.0, -1.0])
    assert loss.best_dual_scale(np.zeros(4), y, np.inf) == 0.0
    assert loss.best_dual_scale(np.zeros(4), y, 1.0) == 0.0
    if name != "squared":  # v pointing out of the binary domain: only s = 0 is feasible
        assert loss.best_dual_scale(-y, y, np.inf) == 0.0


def test_get_loss_rejects_unknown_names():
    for bad in ("l2", "", None, 3, "Squared"):
        with pytest.raises(ValueError, match="'loss' parameter"):
            get_loss(bad)
    assert get_loss(LOSSES["hinge"]) is LOSSES["hinge"]
