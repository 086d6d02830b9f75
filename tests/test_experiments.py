"""Reproductions of the paper (convexnn.experiments) at the quick size.

Every experiment's *theorem* claims (an optimum below every trained network, a vanishing
certified gap, the Theorem 15 objective below all SGD trials, ...) must hold: a regression in
any solver, closed form or certificate shows up here as a failed reproduction. Empirical
claims (generalization, trends) are only required to be measured.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import convexnn as cnn
from convexnn import experiments
from convexnn.experiments import _data
from convexnn.experiments.fig6 import GAP_TOL, sparsify
from convexnn.experiments.fig9 import bend_between_samples

FAST = ["fig6", "fig8", "fig9", "fig11", "fig12"]
SLOW = ["fig1", "fig10", "table1", "convex-rf"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """``quick_run(name)``: the quick-size Outcome of an experiment, run once per module."""
    cache = {}

    def get(name):
        if name not in cache:
            out = tmp_path_factory.mktemp(name.replace("-", "_"))
            cache[name] = experiments.run_one(name, out, quick=True)
        return cache[name]

    return get


def _check_outcome(outcome):
    assert outcome.claims, "an experiment must check at least one claim"
    failed = [c for c in outcome.claims if c.guaranteed and not c.holds]
    assert not failed, "theorem claims not reproduced: " + "; ".join(
        f"{c.statement}: {c.measured}" for c in failed
    )
    for fig in outcome.figures:
        assert fig.exists() and fig.stat().st_size > 1000
    for c in outcome.claims:
        assert c.measured and "nan" not in c.measured.lower()


@pytest.mark.parametrize("name", FAST)
def test_quick_experiment_reproduces_theorem_claims(name, quick_run):
    _check_outcome(quick_run(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_quick_experiment_reproduces_theorem_claims_slow(name, tmp_path):
    _check_outcome(experiments.run_one(name, tmp_path, quick=True))


def test_fig6_gap_vanishes_at_m_star(quick_run):
    m = quick_run("fig6").metrics
    for name, rec in m.items():
        gaps = np.array(rec["gap"])
        m_star = rec["m_star"]
        assert m_star is not None and m_star <= rec["n"] + 1, name
        assert np.all(gaps[m_star:] <= GAP_TOL), name
        assert np.all(gaps >= -1e-9), f"{name}: a lower bound above a network's objective"
        assert np.all(np.diff(gaps) <= 1e-12), f"{name}: the gap must not grow with m"
        assert gaps[0] > 1e-3  # the zero network is far from optimal on these data
        cp = rec["cutting_plane"]
        assert cp["objective"] == pytest.approx(rec["optimum"], rel=1e-6), name
        assert cp["lower_bound"] <= rec["optimum"] + GAP_TOL, name
    assert m["whitened"]["m_star"] <= 2  # Theorem 9: at most two neurons


def test_fig11_theorem15_below_every_sgd_trial(quick_run):
    m = quick_run("fig11").metrics
    assert m["theory_lower_bound"] <= m["theory_objective"]
    assert m["theory_objective"] - m["theory_lower_bound"] <= 1e-8 * m["theory_objective"]
    assert min(m["sgd_min_objective"]) >= m["theory_lower_bound"]
    assert 0.1 < m["theory_accuracy"] <= 1.0  # far above chance (0.1) on digits


def test_run_writes_report_and_results(tmp_path):
    out = experiments.run("fig6", tmp_path / "out", quick=True, progress=False)
    report = (tmp_path / "out" / "report.md").read_text()
    assert out["report"] == str(tmp_path / "out" / "report.md")
    assert "| Experiment | Paper's claim | Paper | Ours | Verdict |" in report
    assert report.count("| fig6 |") == 6
    assert "fig6.png" in report
    assert out["figures"] == [str(tmp_path / "out" / "fig6.png")]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["fig6"]["claims"][0]["holds"] is True
    assert out["experiments"]["fig6"]["holds"] == out["holds"]


def test_run_rejects_unknown_name(tmp_path):
    with pytest.raises(ValueError, match="'name'.*'fig2'"):
        experiments.run("fig2", tmp_path)
    with pytest.raises(TypeError, match="quick"):
        experiments.run("fig6", tmp_path, quick="yes")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparsify_keeps_objective_and_leaves_at_most_n_neurons(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((7, 1))
    y = rng.standard_normal(7)
    problem = cnn.Problem(X, y, beta=0.01)
    # a redundant optimal network: every neuron split into two halves
    opt = cnn.closed_form.one_dimensional(X[:, 0], y, 0.01).network
    dup = cnn.ReLUNetwork(
        np.hstack([opt.U, opt.U]),
        np.concatenate([opt.b, opt.b]),
        np.concatenate([opt.W, opt.W]) / 2,
        opt.c,
    )
    sparse = sparsify(problem, dup)
    assert sparse.width <= problem.n_samples
    assert problem.objective(sparse) <= problem.objective(dup) + 1e-10


def test_whiten_split_maps_train_and_test_consistently():
    rng = np.random.default_rng(3)
    F = rng.standard_normal((12, 20))
    X, X_again = _data.whiten_split(F, F, d=15, seed=0)
    np.testing.assert_allclose(X @ X.T, np.eye(12), atol=1e-10)
    np.testing.assert_allclose(X_again, X, atol=1e-10)
    with pytest.raises(ValueError, match="d >= n"):
        _data.whiten_split(F, F, d=5)


def test_bend_is_zero_for_a_spline_kinked_at_samples_only():
    x = np.array([-1.0, 0.0, 0.5, 2.0])
    xs = np.linspace(-1, 2, 301)
    spline = lambda t: np.abs(t) + 0.5 * np.maximum(t - 0.5, 0)  # noqa: E731
    assert bend_between_samples(x, spline(x), xs, spline(xs)) < 1e-12
    smooth = lambda t: t**2  # noqa: E731
    assert bend_between_samples(x, smooth(x), xs, smooth(xs)) > 0.1


def test_mixture_labels_follow_the_paper():
    x, y = _data.gaussian_mixture(2000, seed=0, variance=1e-6)
    mu = np.round(x[:, 0])
    assert set(np.unique(mu[y > 0])) == {-1.0, 0.0, 2.0}
    assert set(np.unique(mu[y < 0])) == {-2.0, 1.0}
