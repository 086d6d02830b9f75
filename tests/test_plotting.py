"""Figures render, hold the expected artists, and never touch pyplot's global state."""

from __future__ import annotations

import numpy as np
import pytest

import convexnn as cnn
from convexnn import plotting

matplotlib = pytest.importorskip("matplotlib")


def _png_ok(path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000


def _gid(ax, gid):
    return [a for a in ax.get_children() if a.get_gid() == gid]


@pytest.fixture
def net1d():
    # f(x) = 2 (x + 1)_+ - 3 (x)_+ + (1 - x)_+ ... kinks at -1, 0 and 1
    return cnn.ReLUNetwork(
        np.array([[1.0, 1.0, -1.0]]), np.array([1.0, 0.0, 1.0]), np.array([2.0, -3.0, 1.0]), 0.5
    )


def test_fit_1d(tmp_path, net1d):
    x = np.linspace(-2, 2, 15)
    y = net1d.predict(x[:, None]) + 0.1 * np.sin(7 * x)
    path = tmp_path / "fit.png"
    ax = plotting.plot_fit_1d(net1d, x[:, None], y, path=path)
    _png_ok(path)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["network", "data", "kinks (3)"]
    kinks = ax.collections[-1].get_offsets()
    np.testing.assert_allclose(np.sort(kinks[:, 0]), [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(kinks[:, 1], net1d.predict(kinks[:, :1]))


def test_fit_1d_hides_negligible_neurons(net1d):
    tiny = cnn.ReLUNetwork(np.array([[1.0, 1.0]]), np.array([0.3, 1.5]), np.array([1.0, 1e-12]))
    ax = plotting.plot_fit_1d(tiny, np.array([[-1.0], [1.0]]), np.array([0.0, 1.0]))
    np.testing.assert_allclose(ax.collections[-1].get_offsets()[:, 0], [-0.3])


def test_fit_1d_rejects_2d():
    net = cnn.ReLUNetwork(np.ones((2, 1)), None, np.ones(1))
    with pytest.raises(ValueError, match="1-D inputs"):
        plotting.plot_fit_1d(net, np.ones((3, 2)), np.ones(3))


def test_decision_regions(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 2))
    y = np.where(X[:, 0] > 0, 1.0, -1.0)
    U = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    net = cnn.ReLUNetwork(U, np.array([0.0, 0.5, -1.0]), np.array([2.0, -1.0, 0.5]), -0.2)
    path = tmp_path / "regions.png"
    ax = plotting.plot_decision_regions(net, X, y, path=path)
    _png_ok(path)
    assert len(_gid(ax, "hyperplane")) == 3
    # each drawn line is the hyperplane u^T x + b = 0
    for line, j in zip(_gid(ax, "hyperplane"), range(3)):
        pts = np.column_stack(line.get_data())
        np.testing.assert_allclose(pts @ U[:, j] + net.b[j], 0, atol=1e-9)
    assert len(ax.collections) >= 2  # filled regions and the two classes


def test_decision_regions_multiclass(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 2))
    y = rng.integers(0, 3, 30)
    net = cnn.ReLUNetwork(
        rng.standard_normal((2, 4)),
        rng.standard_normal(4),
        rng.standard_normal((4, 3)),
        np.zeros(3),
    )
    ax = plotting.plot_decision_regions(net, X, y, path=tmp_path / "multi.png")
    assert [t.get_text() for t in ax.get_legend().get_texts()][:3] == [
        "class 0",
        "class 1",
        "class 2",
    ]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("b", [0.0, 0.7, -0.4])
def test_dual_landscape_extremes_are_exact(seed, b):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((9, 2))
    v = rng.standard_normal(9)
    _, _, cand, gc = plotting.dual_landscape(X, v, b)
    theta = np.linspace(0, 2 * np.pi, 400_001)
    dense = np.maximum(X @ np.vstack([np.cos(theta), np.sin(theta)]) + b, 0).T @ v
    # candidates are points of the circle: never above the true max, and they reach it
    assert gc.max() >= dense.max() - 1e-12
    assert gc.min() <= dense.min() + 1e-12
    assert gc.max() <= dense.max() + 1e-4 and gc.min() >= dense.min() - 1e-4


def test_dual_landscape_2d(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 2))
    y = rng.standard_normal(12)
    prob = cnn.Problem(X, y, beta=0.5, bias=False)
    path = tmp_path / "dual.png"
    ax = plotting.plot_dual_landscape(prob, v=y, path=path)
    _png_ok(path)
    beta_lines = _gid(ax, "beta")
    assert sorted(line.get_ydata()[0] for line in beta_lines) == [-0.5, 0.5]
    extremes = _gid(ax, "extreme")
    assert len(extremes) == 1 and len(extremes[0].get_offsets()) >= 2
    values = extremes[0].get_offsets()[:, 1]
    _, g, _, gc = plotting.dual_landscape(X, y)
    assert values.max() == pytest.approx(gc.max()) and values.min() == pytest.approx(gc.min())


def test_dual_landscape_1d_with_network(tmp_path, net1d):
    x = np.linspace(-2, 2, 9)
    prob = cnn.Problem(x[:, None], np.cos(x), beta=0.3)
    ax = plotting.plot_dual_landscape(prob, network=net1d, path=tmp_path / "d1.png")
    v = prob.dual_vector(net1d)
    assert abs(v.sum()) < 1e-12
    stars = np.vstack([s.get_offsets() for s in _gid(ax, "extreme")])
    # maxima over b sit at data points (Lemma 6): b = -u x_i
    assert np.all(np.min(np.abs(np.abs(stars[:, :1]) - np.abs(x)), axis=1) < 1e-12)
    best = max(
        abs(prob.constraint_values(v, s * np.ones((1, 1)), -s * xi)[0]) for s in (1, -1) for xi in x
    )
    assert np.abs(stars[:, 1]).max() == pytest.approx(best)


def test_dual_landscape_rejects_high_dimension():
    prob = cnn.Problem(np.eye(4), np.ones(4), beta=1.0)
    with pytest.raises(ValueError, match="2-D data"):
        plotting.plot_dual_landscape(prob, v=np.zeros(4))


def test_history(tmp_path):
    hist = {
        "iteration": [0, 1, 2, 3],
        "objective": [5.0, 3.0, 2.5, 2.4],
        "lower_bound": [-np.inf, 1.0, 2.3, 2.39999],
    }
    path = tmp_path / "hist.png"
    ax = plotting.plot_history(hist, path=path)
    _png_ok(path)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["objective", "certified lower bound", "gap (right, log)"]
    lower = ax.get_lines()[1]
    np.testing.assert_array_equal(lower.get_xdata(), [1, 2, 3])  # -inf left out
    twin = [a for a in ax.figure.axes if a is not ax][0]
    assert twin.get_yscale() == "log"
    np.testing.assert_allclose(twin.get_lines()[0].get_ydata(), [2.0, 0.2, 1e-5], rtol=1e-9)


def test_history_marks_an_end_of_run_bound(tmp_path):
    rng = np.random.default_rng(0)
    prob = cnn.Problem(rng.standard_normal((40, 6)), rng.standard_normal(40), beta=1.0)
    with pytest.warns(cnn.ConvergenceWarning):
        res = cnn.solve(prob, max_iter=2, random_state=0)
    assert res.lower_bound > res.history["lower_bound"][-1]  # the final tight bound
    ax = plotting.plot_history(res, path=tmp_path / "final.png")
    star = [line for line in ax.get_lines() if line.get_label().startswith("final certified")]
    assert len(star) == 1 and star[0].get_ydata()[0] == res.lower_bound


def test_history_requires_objective():
    with pytest.raises(ValueError, match="'objective'"):
        plotting.plot_history({})


@pytest.mark.parametrize("d", [1, 2, 5])
def test_plot_result_picks_a_figure(tmp_path, d):
    rng = np.random.default_rng(d)
    X = rng.standard_normal((20, d))
    y = np.sign(X[:, 0] + 0.1)
    prob = cnn.Problem(X, y, beta=1.0, loss="hinge" if d == 2 else "squared")
    net = cnn.ReLUNetwork(
        rng.standard_normal((d, 3)), rng.standard_normal(3), rng.standard_normal(3), 0.0
    )
    path = tmp_path / f"r{d}.png"
    fig = plotting.plot_result(prob, net, path=path)
    _png_ok(path)
    assert len(fig.axes) == 1


def test_no_pyplot_state(net1d):
    backend = matplotlib.rcParams["backend"]
    plotting.plot_fit_1d(net1d, np.array([[0.0], [1.0]]), np.array([0.0, 1.0]))
    assert matplotlib.rcParams["backend"] == backend
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []  # standalone figures never register with pyplot


def test_draws_on_given_axes(net1d):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    out = plotting.plot_fit_1d(net1d, np.array([[0.0], [1.0]]), np.array([0.0, 1.0]), ax=ax)
    assert out is ax and len(ax.get_lines()) == 1
