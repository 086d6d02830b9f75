"""certify and dual_lower_bound: weak duality always, exactness where the oracle is exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import convexnn as cnn
from _budget import seeds
from convexnn.certificate import certify, dual_lower_bound
from convexnn.oracles import LocalSearch


def problem(rng, n, d, loss="squared", bias=True, k=None, beta=0.5):
    X = rng.standard_normal((n, d))
    if loss == "squared":
        y = rng.standard_normal(n) if k is None else rng.standard_normal((n, k))
    else:
        y = np.where(rng.standard_normal(n) > 0, 1.0, -1.0)
    return cnn.Problem(X, y, beta=beta, loss=loss, bias=bias)


def random_network(rng, prob, width=4, scale=1.0):
    d, k = prob.n_features, prob.n_outputs
    U = scale * rng.standard_normal((d, width))
    b = scale * rng.standard_normal(width) if prob.bias else None
    W = scale * rng.standard_normal(width if k is None else (width, k))
    c = (rng.standard_normal() if k is None else rng.standard_normal(k)) if prob.bias else None
    return cnn.ReLUNetwork(U, b, W, c)


# ---------------------------------------------------------------------------- dual_lower_bound
def test_dual_lower_bound_scales_into_the_feasible_set():
    rng = np.random.default_rng(0)
    prob = problem(rng, 10, 2)
    v = prob.y - prob.y.mean()
    lb, s = dual_lower_bound(prob, v, upper_bound=4.0)
    assert 0 <= s <= prob.beta / 4.0
    assert lb == pytest.approx(prob.dual_objective(s * v))
    # an infinite (unknown) bound gives the zero dual vector's value, 0 for every loss
    assert dual_lower_bound(prob, v, np.inf) == (0.0, 0.0)
    # M = 0: the constraint never binds, s is the loss's own best scale (v^T y / ||v||^2)
    lb0, s0 = dual_lower_bound(prob, v, 0.0)
    assert s0 == pytest.approx(float(v @ prob.y / (v @ v)))
    with pytest.raises(ValueError, match="upper_bound"):
        dual_lower_bound(prob, v, -1.0)
    with pytest.raises(ValueError, match="1\\^T v = 0"):
        dual_lower_bound(prob, v + 1.0, 1.0)


def test_dual_lower_bound_pays_for_rounding_in_the_bias_constraint():
    """A sum 1^T v at rounding level is projected away and M raised by what it can add."""
    rng = np.random.default_rng(7)
    prob = problem(rng, 9, 1)
    opt = cnn.solve(prob, method="cvxpy", certify=False)
    v = prob.dual_vector(opt.network)
    M = cnn.oracles.get_oracle("auto", prob)(prob, v).upper_bound
    off = v + 1e-10 * np.abs(v).sum() / 9  # 1^T v = 1e-10 ||v||_1: accepted
    lb_exact, _ = dual_lower_bound(prob, v, M)
    lb_off, s = dual_lower_bound(prob, off, M)
    assert lb_off <= lb_exact + 1e-12 and lb_off <= opt.objective
    assert lb_off == pytest.approx(lb_exact, rel=1e-6)


@pytest.mark.parametrize("loss", ["hinge", "logistic"])
def test_dual_lower_bound_stays_in_the_binary_dual_domain(loss):
    rng = np.random.default_rng(1)
    prob = problem(rng, 12, 2, loss=loss)
    v = prob.loss.dual_domain_project(prob.y * rng.uniform(0, 1, 12), prob.y, True)
    lb, s = dual_lower_bound(prob, v, upper_bound=1e-3)  # huge allowed scale
    assert np.all(prob.y * s * v <= 1 + 1e-12) and np.isfinite(lb)


# ---------------------------------------------------------------------------- weak duality
@pytest.mark.parametrize("seed", seeds(4))
@pytest.mark.parametrize("loss", ["squared", "hinge", "logistic"])
@pytest.mark.parametrize("d", [1, 2, 5])
def test_certify_weak_duality_for_random_networks(seed, loss, d):
    rng = np.random.default_rng(seed)
    prob = problem(rng, 15, d, loss=loss, bias=bool(seed % 2 == 0))
    net = random_network(rng, prob)
    cert = certify(prob, net)
    assert cert.lower_bound <= cert.objective
    assert cert.gap == pytest.approx(cert.objective - cert.lower_bound)
    assert cert.objective == pytest.approx(prob.objective(net))
    assert np.isfinite(cert.lower_bound) and cert.lower_bound >= 0
    assert cert.oracle == ("exact_1d" if d == 1 else "enumeration" if d == 2 else "local_search")
    if d <= 2:
        assert cert.exact
        # the returned (scaled) dual vector is feasible, checked by the exact oracle again
        check = cnn.oracles.get_oracle("auto", prob)(prob, cert.dual)
        assert check.best <= prob.beta * (1 + 1e-9)
        assert cert.lower_bound == pytest.approx(prob.dual_objective(cert.dual))


def test_certify_vector_outputs():
    rng = np.random.default_rng(2)
    prob = problem(rng, 8, 2, k=3)
    net = random_network(rng, prob)
    cert = certify(prob, net)
    assert cert.lower_bound <= cert.objective and cert.max_violation > 0
    res = cnn.solve(prob, method="cvxpy", certify=False)
    assert certify(prob, res.network).lower_bound <= res.objective


# ---------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("seed", seeds(3))
@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("loss", ["squared", "hinge"])
def test_certify_proves_the_cvxpy_optimum(seed, d, bias, loss):
    """On the full-enumeration optimum, the exact oracles close the gap (rel 1e-6)."""
    rng = np.random.default_rng(10 + seed)
    prob = problem(rng, 7, d, loss=loss, bias=bias, beta=0.3)
    res = cnn.solve(prob, method="cvxpy")
    cert = certify(prob, res.network)
    assert cert.exact
    assert cert.relative_gap <= 1e-6
    assert res.certified
    assert cert.worst_neuron is not None
    assert abs(cert.worst_neuron.value) / prob.beta == pytest.approx(cert.max_violation, rel=1e-6)


def test_certify_proves_the_logistic_optimum_to_solver_accuracy():
    rng = np.random.default_rng(3)
    prob = problem(rng, 7, 1, loss="logistic", beta=0.3)
    res = cnn.solve(prob, method="cvxpy")
    cert = certify(prob, res.network)
    assert cert.exact
    assert cert.relative_gap <= 1e-5  # Clarabel's exp-cone accuracy


def test_certify_a_torch_network_and_general_data():
    rng = np.random.default_rng(4)
    prob = problem(rng, 40, 6)
    net = random_network(rng, prob, width=10, scale=0.3)
    model = net.to_torch()
    with torch.no_grad():
        model[2].weight.mul_(0.5)
    back = cnn.ReLUNetwork.from_torch(model)
    cert = cnn.certify(prob, back, time_limit=5.0)
    assert cert.oracle == "local_search" and not cert.exact
    assert 0 <= cert.lower_bound <= cert.objective
    loose = cnn.certify(prob, back, oracle=LocalSearch(), bound="fast")
    assert loose.lower_bound <= cert.lower_bound + 1e-12


def test_certify_input_validation():
    rng = np.random.default_rng(5)
    prob = problem(rng, 10, 2)
    net = random_network(rng, prob)
    with pytest.raises(TypeError, match="problem"):
        certify("not a problem", net)
    with pytest.raises(TypeError, match="network"):
        certify(prob, "not a network")
    with pytest.raises(ValueError, match="time_limit"):
        certify(prob, net, time_limit=-1.0)
    with pytest.raises(ValueError, match="'oracle' parameter"):
        certify(prob, net, oracle="nope")
    other = problem(rng, 10, 3)
    with pytest.raises(ValueError, match="inputs"):
        certify(other, net)


def test_certify_zero_network_gives_the_constant_fit_bound():
    """The zero network's certificate is exact and its bound is a valid lower bound."""
    rng = np.random.default_rng(6)
    prob = problem(rng, 12, 1)
    cert = certify(prob, prob.zero_network())
    opt = cnn.solve(prob, method="cvxpy", certify=False).objective
    assert cert.lower_bound <= opt + 1e-9 * abs(opt)
    assert cert.exact


def whitened_hinge(seed, n=12, d=16, beta=0.5):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((d, n)))
    X = Q.T  # X X^T = I
    y = np.where(rng.standard_normal(n) > 0, 1.0, -1.0)
    if abs(y.sum()) == n:
        y[0] = -y[0]
    exact = cnn.closed_form.whitened(X, y, beta, loss="hinge", bias=False)
    return cnn.Problem(X, y, beta=beta, loss="hinge", bias=False), exact


@pytest.mark.parametrize("seed", seeds(2))
def test_certify_hinge_dual_rounds_approach_the_whitened_optimum(seed):
    """The restricted-LP duals alone stalled at 70% of the optimum (Kelley's method); the
    in-out rounds must get within 5% of it, and never above."""
    prob, exact = whitened_hinge(seed)
    cert = certify(prob, exact.network)
    opt = exact.objective
    assert cert.lower_bound <= opt * (1 + 1e-9)
    assert cert.lower_bound >= 0.95 * opt
    assert prob.dual_objective(cert.dual) == pytest.approx(cert.lower_bound, rel=1e-12)


def test_cutting_plane_hinge_ends_with_the_stabilized_bound():
    prob, exact = whitened_hinge(0)
    with pytest.warns(cnn.ConvergenceWarning):
        res = cnn.solve(prob, max_iter=20)
    assert res.lower_bound <= exact.objective * (1 + 1e-9)
    assert res.lower_bound >= max(res.history["lower_bound"])
    assert res.relative_gap <= 0.1  # the master's LP duals alone left 0.12 after 100 iterations
