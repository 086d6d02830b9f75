"""Numerical edge cases: ties in the arrangement, degenerate patterns, beta above the
zero-network threshold, very small beta, ill-conditioned X; limits and interruption.

Every case is judged against the exact optimum (the CVXPY reference over the full
arrangement, or the zero network when beta is above the threshold computed here by brute
force) and every lower bound must stay below it.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

import convexnn as cnn
from convexnn import Problem
from convexnn import arrangements as ar
from convexnn.solvers import METHODS, get_solver

FAST: dict[str, dict] = {
    "cutting_plane": {"max_iter": 60},
    "reformulation": {"tol": 1e-7},
    "cvxpy": {},
    "closed_form": {},
    "nonconvex": {"width": 10, "n_steps": 400, "lr": 1e-2, "log_every": 50},
}
CERTIFYING = ("cutting_plane", "cvxpy", "closed_form")  # methods whose results carry bounds


def run(method: str, prob: Problem, **extra):
    try:
        solver = get_solver(method)
    except ImportError as exc:
        pytest.skip(f"{method} not importable yet: {exc}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return solver(prob, **{**FAST[method], **extra})
        except ValueError as exc:
            if method in ("closed_form", "reformulation"):  # may decline, with a reason
                assert "\n" not in str(exc)
                return None
            raise


def sound(res, optimum: float, rel: float = 1e-7) -> None:
    scale = max(1.0, abs(optimum))
    assert res.lower_bound <= optimum + rel * scale, (res.lower_bound, optimum)
    assert res.lower_bound <= res.objective + 1e-9 * scale
    assert res.objective >= optimum - 1e-6 * scale


def threshold_1d(x: np.ndarray, v: np.ndarray) -> float:
    """``max_{|u| <= 1, b} |v^T (x u + b)_+|`` for 1-D x and 1^T v = 0 (Lemma 6: kinks)."""
    vals = [abs(np.maximum(u * (x - xi), 0) @ v) for u in (1.0, -1.0) for xi in x]
    return max(vals + [abs(x @ v)])


# ---------------------------------------------------------------------- beta thresholds
@pytest.mark.parametrize("method", list(METHODS))
def test_beta_above_threshold_gives_the_zero_network_certified(method):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(9)
    y = rng.standard_normal(9)
    beta_max = threshold_1d(x, y - y.mean())  # squared loss: v of the zero network
    prob = Problem(x[:, None], y, beta=1.05 * beta_max)
    zero_obj = 0.5 * np.sum((y - y.mean()) ** 2)
    res = run(method, prob)
    if res is None:
        return
    sound(res, zero_obj)
    if method == "nonconvex":  # no certificate; weight decay must shrink it to ~ the constant
        assert res.objective <= zero_obj * (1 + 1e-2)
        return
    assert res.objective == pytest.approx(zero_obj, rel=1e-7)
    np.testing.assert_allclose(res.network.predict(prob.X), y.mean(), atol=1e-5 * np.abs(y).max())
    if method in CERTIFYING:
        assert res.certified
    cert = cnn.certify(prob, res.network)
    assert cert.lower_bound <= zero_obj + 1e-9 and cert.gap <= 1e-6 * zero_obj
    # just below the threshold the zero network is no longer optimal
    below = Problem(x[:, None], y, beta=0.9 * beta_max)
    assert cnn.solve(below, method="cvxpy").objective < 0.5 * np.sum((y - y.mean()) ** 2)


@pytest.mark.parametrize("loss", ["squared", "hinge", "logistic"])
def test_huge_beta_every_loss(loss):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((8, 2))
    y = rng.standard_normal(8) if loss == "squared" else np.array([1.0, -1] * 4)
    prob = Problem(X, y, beta=1e6, loss=loss)
    zero = prob.zero_network()
    for method in ("cutting_plane", "cvxpy"):
        res = run(method, prob)
        sound(res, prob.objective(zero))
        assert res.objective == pytest.approx(prob.objective(zero), rel=1e-6)
        assert res.network.pruned(tol=1e-9).width == 0
        assert res.certified


@pytest.mark.parametrize("method", ["cutting_plane", "cvxpy", "reformulation", "closed_form"])
@pytest.mark.parametrize("beta", [1e-3, 1e-6])
def test_small_beta_near_interpolation(method, beta):
    rng = np.random.default_rng(2)
    x = np.sort(rng.standard_normal(8))
    y = rng.standard_normal(8)
    prob = Problem(x[:, None], y, beta=beta)
    ref = cnn.solve(prob, method="cvxpy")
    # near interpolation: the loss is tiny and the optimum is about beta * min path norm
    assert prob.loss_value(ref.network) <= 1e3 * beta**2 * max(1, prob.n_samples)
    res = run(method, prob)
    if res is None:
        return
    sound(res, ref.objective, rel=1e-6)
    if res.certified:
        assert res.objective <= ref.objective * (1 + 1e-4)
    cert = cnn.certify(prob, res.network)
    assert cert.lower_bound <= ref.objective * (1 + 1e-6)


# ---------------------------------------------------------------------- ties and degeneracy
def tie_data() -> tuple[np.ndarray, np.ndarray]:
    """Points on common lines, repeated points and a 3x3 grid (many ties in [X, 1])."""
    grid = np.array([[i, j] for i in (-1.0, 0.0, 1.0) for j in (-1.0, 0.0, 1.0)])
    X = np.vstack([grid, grid[:2]])  # repeated rows
    y = np.sin(3 * X[:, 0]) + X[:, 1]
    y[-1] += 0.5  # a repeated point with another target
    return X, y


@pytest.mark.parametrize("method", list(METHODS))
def test_ties_in_the_arrangement(method):
    X, y = tie_data()
    prob = Problem(X, y, beta=0.05)
    ref = cnn.solve(prob, method="cvxpy")
    assert ref.certified and ref.info["full_enumeration"]
    assert ref.info["n_patterns"] < ar.count_bound(X.shape[0], 3)  # ties remove cells
    res = run(method, prob)
    if res is None:
        return
    sound(res, ref.objective)
    if res.certified:
        assert res.objective <= ref.objective * (1 + 1e-4)


def test_degenerate_pattern_matrices():
    X, y = tie_data()
    prob = Problem(X, y, beta=0.05)
    full = ar.enumerate(X, True)
    opt = cnn.solve(prob, method="cvxpy", certify=False).objective
    n = X.shape[0]
    extra = np.column_stack([full, full[:, :3], np.zeros(n, bool), np.ones(n, bool)])
    res = cnn.solve(prob, method="cvxpy", patterns=extra)  # duplicates, all-zero, all-ones
    assert res.objective == pytest.approx(opt, rel=1e-6)
    assert res.lower_bound <= opt * (1 + 1e-7)
    only_zero = cnn.solve(prob, method="cvxpy", patterns=np.zeros((n, 2)))
    assert only_zero.objective == pytest.approx(0.5 * np.sum((y - y.mean()) ** 2), rel=1e-7)
    assert only_zero.lower_bound <= opt * (1 + 1e-7)
    ones = cnn.solve(prob, method="cvxpy", patterns=np.ones((n, 1)))  # linear model only
    assert ones.objective >= opt * (1 - 1e-7)
    unbiased = Problem(X, y, beta=0.05, bias=False)
    with pytest.raises(ValueError, match="'patterns' parameter"):
        cnn.solve(unbiased, method="cvxpy", patterns=np.zeros((n, 2)))


@pytest.mark.parametrize("method", ["cutting_plane", "cvxpy", "reformulation", "nonconvex"])
@pytest.mark.parametrize("cond", [1e6, 1e10])
def test_ill_conditioned_X(method, cond):
    rng = np.random.default_rng(4)
    Q1, _ = np.linalg.qr(rng.standard_normal((10, 2)))
    Q2, _ = np.linalg.qr(rng.standard_normal((2, 2)))
    X = Q1 @ np.diag([1.0, 1.0 / cond]) @ Q2  # singular values 1 and 1/cond
    y = rng.standard_normal(10)
    prob = Problem(X, y, beta=0.02)
    ref = cnn.solve(prob, method="cvxpy")
    assert ref.info["full_enumeration"]
    res = run(method, prob)
    if res is None:
        return
    sound(res, ref.objective, rel=1e-6)
    cert = cnn.certify(prob, res.network)
    assert cert.lower_bound <= ref.objective * (1 + 1e-6)
    assert cert.lower_bound <= res.objective + 1e-9


def test_zero_targets_and_single_sample():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((6, 2))
    for y in (np.zeros(6), np.full(6, -2.0)):
        prob = Problem(X, y, beta=0.1)
        for method in ("cutting_plane", "cvxpy"):
            res = run(method, prob)
            assert res.objective == pytest.approx(0.0, abs=1e-12) and res.certified
    one = Problem(X[:1], np.array([3.0]), beta=0.1)
    for method in ("cutting_plane", "cvxpy"):
        res = run(method, one)
        assert res.objective == pytest.approx(0.0, abs=1e-12) and res.certified
        np.testing.assert_allclose(res.network.predict(X[:1]), [3.0])
    unbiased = Problem(X[:1], np.array([3.0]), beta=0.1, bias=False)
    # one sample without bias: min_t 1/2 (t - 3)^2 + beta t ||x||^-1 ... with t = ||x|| u w
    ref = cnn.solve(unbiased, method="cvxpy")
    r = np.linalg.norm(X[0])
    expected = 0.5 * (0.1 / r) ** 2 + 0.1 / r * (3.0 - 0.1 / r)
    assert ref.objective == pytest.approx(expected, rel=1e-6)


# ---------------------------------------------------------------------- limits, interruption
def hard_problem() -> Problem:
    rng = np.random.default_rng(6)
    X = rng.standard_normal((30, 4))
    y = np.sin(X @ rng.standard_normal(4)) + 0.1 * rng.standard_normal(30)
    return Problem(X, y, beta=1e-3)


def test_max_iter_is_respected():
    prob = hard_problem()
    res = run("cutting_plane", prob, max_iter=2)
    assert res.n_iter <= 2 and not res.certified
    assert res.lower_bound <= res.objective
    res = run("nonconvex", prob, n_steps=7, log_every=1)
    assert res.n_iter == 7 and res.history["step"][-1] == 7


@pytest.mark.parametrize("method", ["cutting_plane", "nonconvex", "reformulation"])
def test_time_limit_is_respected(method):
    prob = hard_problem()
    extra = {"max_iter": 10_000} if method == "cutting_plane" else {}
    if method == "nonconvex":
        extra = {"n_steps": 10**7}
    if method == "reformulation":
        extra = {"patterns": 150, "max_iter": 10**6, "tol": 1e-14}
    start = time.perf_counter()
    res = run(method, prob, time_limit=0.5, **extra)
    elapsed = time.perf_counter() - start
    assert res is not None
    # small overshoot allowed: one iteration plus the final certificate / polish
    assert elapsed <= 0.5 + 5.0, elapsed
    assert res.status not in ("error", "failed"), res.status  # any honest stop is fine
    assert res.lower_bound <= res.objective + 1e-9


@pytest.mark.parametrize("method", ["cutting_plane", "nonconvex"])
def test_keyboard_interrupt_returns_the_best_result(method):
    prob = hard_problem()
    calls = {"n": 0}

    def interrupt(info):
        calls["n"] += 1
        if calls["n"] >= 2:
            raise KeyboardInterrupt

    extra = {"max_iter": 50} if method == "cutting_plane" else {"n_steps": 1000, "log_every": 5}
    res = run(method, prob, callback=interrupt, **extra)
    assert res.status == "interrupted"
    assert np.isfinite(res.objective)
    assert res.objective == pytest.approx(prob.objective(res.network), rel=1e-12)
    assert res.lower_bound <= res.objective + 1e-9
    cert = cnn.certify(prob, res.network)
    assert cert.lower_bound <= res.objective + 1e-9


class InterruptOnSecondCall:
    """A progress callback that presses Ctrl-C on its second call."""

    def __init__(self, *args, **kwargs) -> None:
        self.calls = 0

    def __call__(self, info: dict) -> None:
        self.calls += 1
        if self.calls >= 2:
            raise KeyboardInterrupt

    def close(self) -> None:
        pass


def test_keyboard_interrupt_in_the_estimator_keeps_the_best_result():
    sk = pytest.importorskip("convexnn.sklearn")
    prob = hard_problem()
    est = sk.ConvexReLURegressor(
        beta=prob.beta, max_iter=50, solver_options={"callback": InterruptOnSecondCall()}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(prob.X, prob.y)
    assert np.all(np.isfinite(est.predict(prob.X)))
    cert = est.certificate_
    assert cert.lower_bound <= cert.objective + 1e-9
    assert cert.objective == pytest.approx(prob.objective(est.network_), rel=1e-9)
    assert cnn.certify(prob, est.network_).lower_bound <= cert.objective + 1e-9


def test_keyboard_interrupt_in_the_cli_saves_the_best_model(tmp_path, monkeypatch, capsys):
    cli = pytest.importorskip("convexnn.cli")
    import pandas as pd

    prob = hard_problem()
    frame = pd.DataFrame(prob.X, columns=[f"x{i}" for i in range(prob.n_features)])
    frame["target"] = prob.y
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "m.npz"
    monkeypatch.setattr(cli, "Progress", InterruptOnSecondCall)
    argv = ["fit", str(data), "--target", "target", "--out", str(model), "--beta", "0.001"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == cli.EXIT_INTERRUPTED, err
    net = cnn.ReLUNetwork.load(model)  # the best network so far, complete on disk
    meta = cnn.ReLUNetwork.load_metadata(model)
    assert meta["status"] == "interrupted"
    assert meta["lower_bound"] is None or meta["lower_bound"] <= meta["objective"] + 1e-9
    assert meta["objective"] >= prob.objective(net) * (1 - 1e-9)  # pruning never raises it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "m.npz"]  # no temp files


def test_certify_time_limit_is_respected():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((200, 8))
    y = np.sin(X @ rng.standard_normal(8))
    prob = Problem(X, y, beta=1e-3)
    net = run("nonconvex", prob, width=20, n_steps=30).network
    start = time.perf_counter()
    cert = cnn.certify(prob, net, time_limit=0.2)
    assert time.perf_counter() - start <= 0.2 + 5.0
    assert cert.lower_bound <= cert.objective
