"""The exact CVXPY reference (``solve(prob, method="cvxpy")``, NOTES §5).

Checked against (a) many random restarts of Adam on the nonconvex problem itself, computed
here independently of the library's solvers; (b) the value of the convex program it solved;
(c) the exact 1-D dual. Tolerances: Clarabel solves to about 1e-8 relative, so "never above"
allows 1e-6 relative; gradient descent on the nonconvex problem gets within 1e-3 (smooth
losses) or 1e-2 (hinge, nonsmooth) of the optimum with the budget below.
"""

from __future__ import annotations

import numpy as np
import pytest

import convexnn as cnn
from _budget import seeds
from convexnn import Problem, ReLUNetwork
from convexnn import arrangements as ar
from convexnn.solvers._common import recover_network
from convexnn.solvers.cvxpy_reference import solve_scalar_program

LOSSES = ("squared", "hinge", "logistic")


def make_problem(loss, n, d, seed, beta=0.1, bias=True, k=None) -> Problem:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if loss == "squared":
        y = rng.standard_normal(n if k is None else (n, k))
    else:
        y = np.where(rng.standard_normal(n) > 0, 1.0, -1.0)
        y[:2] = [1.0, -1.0]
    return Problem(X, y, beta=beta, loss=loss, bias=bias)


def best_of_restarts(prob: Problem, width=10, restarts=24, steps=2500, lr=0.03, seed=0) -> float:
    """Adam with cosine decay on the nonconvex objective, ``restarts`` runs at once.

    Analytic gradients in numpy; the best final network is evaluated by ``Problem.objective``.
    """
    rng = np.random.default_rng(seed)
    X, y, beta, name = prob.X, prob.y, prob.beta, prob.loss.name
    R, m = restarts, width
    P = {"U": rng.standard_normal((R, X.shape[1], m)), "W": 0.1 * rng.standard_normal((R, m))}
    if prob.bias:
        P["b"], P["c"] = rng.standard_normal((R, m)), np.zeros(R)
    m1 = {k: np.zeros_like(v) for k, v in P.items()}
    m2 = {k: np.zeros_like(v) for k, v in P.items()}
    for t in range(1, steps + 1):
        H = X @ P["U"] + (P["b"][:, None, :] if prob.bias else 0.0)
        A = np.maximum(H, 0.0)
        f = np.einsum("rnm,rm->rn", A, P["W"]) + (P["c"][:, None] if prob.bias else 0.0)
        if name == "squared":
            g = f - y
        elif name == "hinge":
            g = -y * (y * f < 1)
        else:
            g = -y / (1.0 + np.exp(y * f))
        dH = g[:, :, None] * P["W"][:, None, :] * (H > 0)
        G = {"U": X.T @ dH + beta * P["U"], "W": np.einsum("rnm,rn->rm", A, g) + beta * P["W"]}
        if prob.bias:
            G["b"], G["c"] = dH.sum(axis=1), g.sum(axis=1)
        step = lr * 0.5 * (1.0 + np.cos(np.pi * t / steps))
        for key in P:
            m1[key] = 0.9 * m1[key] + 0.1 * G[key]
            m2[key] = 0.999 * m2[key] + 0.001 * G[key] ** 2
            hat = np.sqrt(m2[key] / (1 - 0.999**t)) + 1e-12
            P[key] = P[key] - step * (m1[key] / (1 - 0.9**t)) / hat
    nets = [
        ReLUNetwork(
            P["U"][r],
            P["b"][r] if prob.bias else None,
            P["W"][r],
            P["c"][r] if prob.bias else None,
        )
        for r in range(R)
    ]
    return min(prob.objective(net) for net in nets)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("seed", seeds(1, 4))
def test_reference_is_never_above_gradient_descent_and_matches_it(loss, d, seed):
    prob = make_problem(loss, 7, d, seed)
    res = cnn.solve(prob, method="cvxpy", certify=False)
    assert res.info["full_enumeration"] and res.status == "optimal"
    assert res.info["n_patterns"] == ar.count_bound(7, d + 1) - 1  # all but the zero pattern
    gd = best_of_restarts(prob, seed=seed)
    assert res.objective <= gd * (1 + 1e-6) + 1e-9
    close = 1e-2 if loss == "hinge" else 1e-3
    assert gd <= res.objective * (1 + close)


def convex_value(prob: Problem, y, D, pos, neg, c) -> float:
    """Objective of the convex program (NOTES §5) at the solver's point."""
    A, d = prob.X_aug, prob.n_features
    f = (D * (A @ (pos - neg))).sum(axis=1) + c
    penalty = np.linalg.norm(pos[:d], axis=0).sum() + np.linalg.norm(neg[:d], axis=0).sum()
    return prob.loss.value(f, y) + prob.beta * penalty


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("seed", seeds(2, 6))
def test_recovered_network_objective_equals_convex_optimum(loss, bias, seed):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 3))
    prob = make_problem(loss, 8, d, seed, beta=float(rng.uniform(0.02, 0.5)), bias=bias)
    D = ar.enumerate(prob.X, bias)
    D = D[:, D.any(axis=0)]
    pos, neg, c, _, status = solve_scalar_program(
        prob, prob.y, D, solver="CLARABEL", gated=False, verbose=False
    )
    assert status == "optimal"
    value = convex_value(prob, prob.y, D, pos, neg, c)
    exact = recover_network(prob, pos, neg, c if bias else None)
    assert prob.objective(exact) == pytest.approx(value, rel=1e-6)
    res = cnn.solve(prob, method="cvxpy", certify=False)
    assert res.objective == pytest.approx(value, rel=1e-6)
    assert res.objective == pytest.approx(prob.objective(res.network), rel=1e-14)
    assert prob.l1_objective(res.network) == pytest.approx(res.objective, rel=1e-9)  # balanced


@pytest.mark.parametrize("loss", LOSSES)
def test_default_result_is_certified_and_sound(loss):
    prob = make_problem(loss, 8, 1, 11, beta=0.2)
    res = cnn.solve(prob, method="cvxpy")
    assert res.certified and res.info["full_enumeration"]
    assert res.lower_bound <= res.objective + 1e-12
    assert res.gap <= 1e-6 * max(1.0, abs(res.objective))
    cert = cnn.certify(prob, res.network)
    assert cert.exact and cert.lower_bound <= res.objective + 1e-12


def test_sampled_patterns_are_a_restriction():
    prob = make_problem("squared", 8, 2, 3, beta=0.05)
    full = cnn.solve(prob, method="cvxpy", certify=False)
    few = ar.sample(prob.X, 3, bias=True, seed=0)
    res = cnn.solve(prob, method="cvxpy", patterns=few, certify=False)
    assert res.status == "restricted" and not res.certified
    assert res.info["n_patterns"] <= 3 and not res.info["full_enumeration"]
    assert res.objective >= full.objective * (1 - 1e-6)
    as_int = cnn.solve(prob, method="cvxpy", patterns=few.astype(int), certify=False)
    assert as_int.objective == pytest.approx(res.objective, rel=1e-6)
    gated = cnn.solve(prob, method="cvxpy", gated=True, certify=False)
    assert gated.status == "restricted"


@pytest.mark.parametrize("k", [1, 3])
def test_vector_outputs(k):
    """Vector targets: one scalar program per output; the stacked network is evaluated by the
    Lemma 11 objective, equals the sum of the per-output optima, and is certified soundly."""
    prob = make_problem("squared", 7, 1, 5, beta=0.1, k=k)
    res = cnn.solve(prob, method="cvxpy")
    net = res.network
    assert net.n_outputs == k and net.predict(prob.X).shape == (7, k)
    assert np.count_nonzero(net.W, axis=1).max() <= 1  # each neuron feeds one output
    per_output = sum(
        cnn.solve(Problem(prob.X, prob.y[:, j], beta=0.1), method="cvxpy", certify=False).objective
        for j in range(k)
    )
    assert res.objective == pytest.approx(per_output, rel=1e-6)
    assert res.lower_bound <= res.objective + 1e-12
    if k == 1:  # a single output is the scalar problem: the restriction is exact
        assert res.gap <= 1e-6 * res.objective


def test_pattern_validation():
    prob = make_problem("squared", 6, 1, 0)
    with pytest.raises(ValueError, match="'patterns' parameter"):
        cnn.solve(prob, method="cvxpy", patterns=np.ones((5, 2)))
    with pytest.raises(ValueError, match="'patterns' parameter"):
        cnn.solve(prob, method="cvxpy", patterns=np.full((6, 2), 0.5))
    with pytest.raises(ValueError, match="'patterns' parameter"):
        cnn.solve(prob, method="cvxpy", patterns=np.ones(6))
    with pytest.raises(TypeError, match="unexpected option"):
        cnn.solve(prob, method="cvxpy", patern=None)
    with pytest.raises(ValueError, match="'tol' parameter"):
        cnn.solve(prob, method="cvxpy", tol=-1.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_gated_with_bias_penalizes_the_whole_block(seed):
    # with the block biases free, 1-D data over the full arrangement would be interpolated at
    # zero penalty; the gated program penalizes (u; b), so its value is that of the returned
    # blocks with the whole block penalized and stays above a weak-duality bound
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((14, 1))
    prob = Problem(X, rng.standard_normal(14), beta=1.0, bias=True)
    D = ar.enumerate(prob.X, True).astype(float)
    pos, neg, c, _, _ = solve_scalar_program(
        prob, prob.y, D, solver="CLARABEL", gated=True, verbose=False
    )
    F = np.sum(D * (prob.X_aug @ (pos - neg)), axis=1) + c
    pen = np.linalg.norm(pos, axis=0).sum() + np.linalg.norm(neg, axis=0).sum()
    value = 0.5 * float(np.sum((F - prob.y) ** 2)) + prob.beta * pen
    # v = a (y - mean y) is dual feasible for a small enough: value >= (a - a^2/2) ||y - mean||^2
    r0 = prob.y - prob.y.mean()
    a = min(1.0, prob.beta / np.max(np.linalg.norm(prob.X_aug.T @ (D * r0[:, None]), axis=0)))
    bound = (a - 0.5 * a * a) * float(r0 @ r0)
    assert bound >= 0.05 * float(r0 @ r0)
    assert value >= bound * (1 - 1e-6)
    # the bias rows carry weight: the penalty is not just that of the weight rows
    d = prob.n_features
    assert pen > np.linalg.norm(pos[:d], axis=0).sum() + np.linalg.norm(neg[:d], axis=0).sum()
