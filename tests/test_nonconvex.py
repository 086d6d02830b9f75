"""The nonconvex baseline (Adam/SGD on the network itself)."""

import numpy as np
import pytest

import convexnn as cnn


def _problem(seed=0, k=None, bias=True, loss="squared"):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((30, 3))
    y = rng.standard_normal(30 if k is None else (30, k))
    if loss != "squared":
        y = np.where(y >= 0, 1.0, -1.0)
    return cnn.Problem(X, y, beta=0.1, loss=loss, bias=bias)


@pytest.mark.parametrize("loss", ["squared", "hinge", "logistic"])
def test_training_lowers_the_objective_below_the_start(loss):
    prob = _problem(loss=loss)
    short = cnn.solve(prob, method="nonconvex", width=8, n_steps=1, lr=1e-2, log_every=1)
    long = cnn.solve(prob, method="nonconvex", width=8, n_steps=150, lr=3e-2)
    assert long.objective < short.objective
    # the reported objective is the independent evaluation of the returned network
    assert long.objective == pytest.approx(prob.objective(long.network), rel=1e-12)
    assert long.lower_bound == -np.inf and not long.certified
    assert len(long.history["objective"]) == 15


def test_vector_outputs_and_no_bias_keep_their_shapes():
    prob = _problem(k=2, bias=False)
    res = cnn.solve(prob, method="nonconvex", width=6, n_steps=50)
    net = res.network
    assert net.W.shape == (6, 2) and net.b is None and net.c is None
    assert net.predict(prob.X).shape == (30, 2)


def test_divergence_returns_the_best_finite_network():
    rng = np.random.default_rng(1)
    prob = cnn.Problem(100 * rng.standard_normal((20, 3)), 100 * rng.standard_normal(20), 0.1)
    res = cnn.solve(prob, method="nonconvex", width=5, n_steps=50, optimizer="sgd", lr=1.0)
    assert res.status == "diverged"
    assert np.isfinite(res.objective)


def test_target_callback_and_init():
    prob = _problem()
    start = cnn.solve(prob, method="nonconvex", width=8, n_steps=100, lr=1e-2)
    target = cnn.solve(
        prob, method="nonconvex", width=8, n_steps=5000, lr=1e-2, target_objective=start.objective
    )
    assert target.status == "target_reached" and target.objective <= start.objective
    seen = []
    stopped = cnn.solve(
        prob, method="nonconvex", width=8, n_steps=1000, callback=lambda i: seen.append(i) or True
    )
    assert stopped.status == "stopped" and len(seen) == 1 and stopped.n_iter == 10
    warm = cnn.solve(prob, method="nonconvex", init=start.network, n_steps=10, lr=1e-4)
    assert warm.objective <= start.objective * (1 + 1e-3)


def test_minibatches_are_seeded():
    prob = _problem()
    a = cnn.solve(prob, method="nonconvex", width=4, n_steps=30, batch_size=8, random_state=3)
    b = cnn.solve(prob, method="nonconvex", width=4, n_steps=30, batch_size=8, random_state=3)
    assert a.network == b.network


@pytest.mark.parametrize(
    ("option", "value"),
    [("optimizer", "lbfgs"), ("lr", -1.0), ("n_steps", 0), ("width", 0), ("dtype", "int8")],
)
def test_bad_options_are_named(option, value):
    with pytest.raises((ValueError, TypeError), match=option):
        cnn.solve(_problem(), method="nonconvex", **{option: value})
