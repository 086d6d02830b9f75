"""Closed forms (convexnn.closed_form) against the exact CVXPY reference and the paper.

The reference ``solve(..., method="cvxpy")`` enumerates the whole hyperplane arrangement, so
on these small instances (n <= 8, or augmented rank 2) it is the exact global optimum up to
Clarabel's accuracy (~1e-8 relative). Closed forms are solved or evaluated at ~1e-10, so
objectives are compared at rel 1e-6; for the squared loss the optimal output f(X) is unique
(the objective is 1-strongly convex in f), so outputs are compared too.
"""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convexnn as cnn
from convexnn import closed_form as cf

REL = 1e-6


def whitened_data(seed: int, n: int = 5, d: int = 8) -> np.ndarray:
    """X with orthonormal rows (X X^T = I), n <= d."""
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, n)))
    return Q.T


def labels(rng: np.random.Generator, n: int) -> np.ndarray:
    y = np.where(rng.standard_normal(n) > 0, 1.0, -1.0)
    y[0], y[1] = 1.0, -1.0  # both classes present
    return y


def reference(problem: cnn.Problem, certify: bool = True) -> cnn.Result:
    return cnn.solve(problem, method="cvxpy", certify=certify)


def check_against_reference(
    res: cnn.Result, problem: cnn.Problem, *, function: bool, certify: bool = True
) -> None:
    ref = reference(problem, certify)
    assert ref.status == "optimal"
    assert res.objective == pytest.approx(ref.objective, rel=REL)
    # soundness both ways: our lower bound is below the reference's (upper-bound) objective,
    # and our network's objective is above the reference's certified lower bound
    assert res.lower_bound <= ref.objective * (1 + 1e-9) + 1e-12
    assert res.objective >= ref.lower_bound * (1 - 1e-9) - 1e-12
    assert res.lower_bound <= res.objective * (1 + 1e-12) + 1e-12
    assert res.certified and res.status == "optimal"
    # the independent evaluation of the network is what Result reports
    assert problem.objective(res.network) == pytest.approx(res.objective, rel=1e-12)
    if function:
        # 1-strong convexity in f: ||f - f*||^2 <= 2 (objective - optimum) for each network,
        # with the optimum bounded below by the best certified lower bound. The reference
        # (Clarabel at default tolerances) is the looser of the two.
        opt_low = max(res.lower_bound, ref.lower_bound)
        slack = sum(np.sqrt(2 * max(r.objective - opt_low, 0.0)) for r in (res, ref))
        f, f_ref = res.network.predict(problem.X), ref.network.predict(problem.X)
        assert np.linalg.norm(f - f_ref) <= slack + 1e-9 * max(np.linalg.norm(problem.y), 1.0)


# ============================================================================ whitened
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("regime", ["both", "one", "none"])
def test_whitened_squared_theorem9_matches_reference(seed, regime):
    rng = np.random.default_rng(seed)
    X = whitened_data(seed)
    y = rng.standard_normal(5)
    y[0], y[1] = abs(y[0]) + 0.5, -abs(y[1]) - 2.0
    rp, rn = np.linalg.norm(np.maximum(y, 0)), np.linalg.norm(np.maximum(-y, 0))
    beta = {
        "both": 0.5 * min(rp, rn),
        "one": 0.5 * (min(rp, rn) + max(rp, rn)),
        "none": 1.1 * max(rp, rn),
    }[regime]
    res = cf.whitened(X, y, beta)
    width = {"both": 2, "one": 1, "none": 0}[regime]
    assert res.network.width == width
    # Theorem 9's dual optimum is the residual, and the objective has the closed value
    v_star = min(1, beta / rp) * np.maximum(y, 0) - min(1, beta / rn) * np.maximum(-y, 0)
    np.testing.assert_allclose(res.dual, v_star, atol=1e-14)
    np.testing.assert_allclose(y - res.network.predict(X), v_star, atol=1e-12)
    value = sum(beta * r - beta**2 / 2 if beta < r else r**2 / 2 for r in (rp, rn))
    assert res.objective == pytest.approx(value, rel=1e-12)
    assert res.lower_bound == pytest.approx(value, rel=1e-12)
    # balanced: the weight-decay objective equals the l1 form
    prob = cnn.Problem(X, y, beta=beta, bias=False)
    assert prob.l1_objective(res.network) == pytest.approx(res.objective, rel=1e-12)
    check_against_reference(res, prob, function=True)


@pytest.mark.parametrize("seed", [0, 1])
def test_whitened_hinge_theorem12_matches_reference(seed):
    rng = np.random.default_rng(seed)
    X = whitened_data(seed)
    y = labels(rng, 5)
    n_pos = int(np.sum(y > 0))
    for beta in (0.5, np.sqrt(n_pos), 3.0):
        res = cf.whitened(X, y, beta, loss="hinge")
        value = sum(min(beta, np.sqrt(k)) * np.sqrt(k) for k in (n_pos, 5 - n_pos))
        assert res.objective == pytest.approx(value, rel=1e-12)
        if beta < 1:  # both neurons active: margins exactly 1 on every sample
            np.testing.assert_allclose(y * res.network.predict(X), 1.0, atol=1e-12)
        check_against_reference(
            res, cnn.Problem(X, y, beta=beta, loss="hinge", bias=False), function=False
        )


@pytest.mark.parametrize("seed", [0, 1])
def test_whitened_multiclass_theorem15_matches_reference(seed):
    # The reference solves one scalar program per output (a restriction, so >= optimum);
    # Theorem 15's neurons each feed one output, so that restriction contains the optimum.
    # (Its certificate for vector outputs is not needed: ours is checked against it.)
    rng = np.random.default_rng(seed)
    X = whitened_data(seed, n=5, d=7)
    classes = np.array([0, 1, 2, 0, 1])[rng.permutation(5)]
    Y = np.eye(3)[classes]
    for beta in (0.3, 1.2, 2.0):
        res = cf.whitened_multiclass(X, Y, beta)
        assert res.network.width == int(np.sum(beta < np.sqrt(Y.sum(axis=0))))
        problem = cnn.Problem(X, Y, beta=beta, bias=False)
        check_against_reference(res, problem, function=True, certify=False)
    # integer labels are one-hot encoded in np.unique order
    res = cf.whitened_multiclass(X, classes, 0.3)
    assert res.objective == pytest.approx(cf.whitened_multiclass(X, Y, 0.3).objective, rel=1e-14)


@pytest.mark.parametrize("seed", [0, 1])
def test_whitened_high_rank_against_cutting_plane_and_certify(seed):
    # n = 12 <= d = 16: 2^12 patterns, too many for the CVXPY reference; the certified
    # cutting-plane result and an independent certificate of our network are the checks
    rng = np.random.default_rng(seed)
    X = whitened_data(seed, n=12, d=16)
    y = rng.standard_normal(12)
    problem = cnn.Problem(X, y, beta=0.5, bias=False)
    res = cf.whitened(X, y, 0.5)
    cp = cnn.solve(problem, method="cutting_plane", time_limit=60)
    assert cp.certified
    assert res.objective == pytest.approx(cp.objective, rel=REL)
    assert res.lower_bound <= cp.objective * (1 + 1e-9) and cp.lower_bound <= res.objective
    cert = cnn.certify(problem, res.network)
    assert cert.lower_bound <= res.objective * (1 + 1e-12)
    assert cert.gap <= REL * res.objective
    # hinge (Theorem 12): the cutting plane may stop with a gap; soundness both ways
    labels_ = np.where(y > 0, 1.0, -1.0)
    problem = cnn.Problem(X, labels_, beta=0.5, loss="hinge", bias=False)
    res = cf.whitened(X, labels_, 0.5, loss="hinge")
    assert res.certified
    with warnings.catch_warnings():  # a gap at max_iter is expected and not checked here
        warnings.simplefilter("ignore", cnn.ConvergenceWarning)
        cp = cnn.solve(problem, method="cutting_plane", time_limit=60, max_iter=20)
    assert res.objective <= cp.objective * (1 + 1e-9)
    assert res.lower_bound <= cp.objective * (1 + 1e-9) and cp.lower_bound <= res.objective


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    beta=st.floats(1e-3, 10.0),
    n=st.integers(2, 6),
)
def test_whitened_squared_property(seed, beta, n):
    rng = np.random.default_rng(seed)
    X = whitened_data(seed, n=n, d=n + 2)
    y = rng.standard_normal(n)
    res = cf.whitened(X, y, beta)
    assert res.certified
    assert res.lower_bound <= res.objective * (1 + 1e-12) + 1e-12
    assert res.gap <= 1e-9 * max(res.objective, 1.0)


def test_whitened_rejects_wrong_inputs():
    rng = np.random.default_rng(0)
    X = whitened_data(0)
    y = rng.standard_normal(5)
    with pytest.raises(ValueError, match=r"\|\|X X\^T - I\|\|_2 = 3 exceeds"):
        cf.whitened(2 * X, y, 0.1)  # ||4I - I|| = 3
    with pytest.raises(ValueError, match="n <= d"):
        cf.whitened(rng.standard_normal((6, 3)), rng.standard_normal(6), 0.1)
    with pytest.raises(ValueError, match="bias=False"):
        cf.whitened(X, y, 0.1, bias=True)
    with pytest.raises(ValueError, match="'loss'"):
        cf.whitened(X, y, 0.1, loss="logistic")
    with pytest.raises(ValueError, match="one-hot"):
        cf.whitened_multiclass(X, np.full((5, 2), 0.5), 0.1)
    with pytest.raises(ValueError, match="whitened_multiclass"):
        cf.whitened(X, np.eye(2)[[0, 1, 0, 1, 0]], 0.1)


# ============================================================================ 1-D, rank one
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("loss", ["squared", "hinge", "logistic"])
@pytest.mark.parametrize("bias", [True, False])
def test_one_dimensional_matches_reference(seed, loss, bias):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(8)
    y = rng.standard_normal(8) if loss == "squared" else labels(rng, 8)
    beta = 0.2
    res = cf.one_dimensional(x, y, beta, loss=loss, bias=bias)
    # Lemma 6 / Cor 3: every neuron is a kink at a data point (u = +-1, b = -u x_i)
    U, b = res.network.U[0], res.network.b
    np.testing.assert_allclose(np.abs(U) / np.linalg.norm(res.network.U, axis=0), 1.0)
    if bias:
        kinks = -b / U
        assert np.all(np.min(np.abs(kinks[:, None] - x[None, :]), axis=1) < 1e-9)
    problem = cnn.Problem(x[:, None], y, beta=beta, loss=loss, bias=bias)
    check_against_reference(res, problem, function=loss == "squared")


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("bias", [True, False])
def test_rank_one_matches_reference(seed, bias):
    rng = np.random.default_rng(seed)
    X = np.outer(rng.standard_normal(7), rng.standard_normal(4))
    y = rng.standard_normal(7)
    res = cf.rank_one(X, y, 0.3, bias=bias)
    # Cor 5: neurons are +-a/||a||
    a = np.linalg.svd(X)[2][0]
    U = res.network.U / np.linalg.norm(res.network.U, axis=0)
    np.testing.assert_allclose(np.abs(a @ U), 1.0, atol=1e-12)
    check_against_reference(res, cnn.Problem(X, y, beta=0.3, bias=bias), function=True)


def test_large_beta_gives_the_zero_network_not_solver_noise():
    # beta above max |y^T h| over the dictionary: the optimum has no neuron at all
    rng = np.random.default_rng(1)
    X = np.outer(rng.standard_normal(9), rng.standard_normal(2))
    y = rng.standard_normal(9)
    res = cf.rank_one(X, y, 0.2)
    problem = cnn.Problem(X, y, beta=0.2)
    assert res.network.width == 0
    assert res.objective == pytest.approx(problem.objective(problem.zero_network()), rel=1e-14)
    assert res.certified
    Xw = np.diag([1.0, 2.0, 3.0, 4.0, 5.0]) @ whitened_data(0)
    res = cf.spike_free(Xw, y[:5], 100.0)
    assert res.network.width == 0 and res.certified
    assert res.objective == pytest.approx(0.5 * np.sum(y[:5] ** 2), rel=1e-14)


def test_rank_one_hinge_theorem11_matches_reference():
    rng = np.random.default_rng(3)
    X = np.outer(rng.standard_normal(8), rng.standard_normal(3))
    y = labels(rng, 8)
    res = cf.rank_one(X, y, 0.1, loss="hinge")
    check_against_reference(res, cnn.Problem(X, y, beta=0.1, loss="hinge"), function=False)


def test_rank_one_rejects_full_rank_and_stays_sound_near_rank_one():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="sigma_2/sigma_1"):
        cf.rank_one(rng.standard_normal((6, 3)), rng.standard_normal(6), 0.1)
    # a 1e-11 perturbation passes the rank test; the residual enters the dual bound
    X = np.outer(rng.standard_normal(6), rng.standard_normal(3))
    X += 1e-11 * rng.standard_normal(X.shape)
    y = rng.standard_normal(6)
    res = cf.rank_one(X, y, 0.3)
    assert res.info["rank_one_residual"] > 0
    assert res.certified
    check_against_reference(res, cnn.Problem(X, y, beta=0.3), function=True)


def test_one_dimensional_vector_output_theorem14():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(7)
    Y = rng.standard_normal((7, 2))
    res = cf.one_dimensional(x, Y, 0.3)
    assert res.certified and res.network.n_outputs == 2
    # the reference solves each output separately (a restriction, >= the optimum)
    ref = cnn.solve(cnn.Problem(x[:, None], Y, beta=0.3), method="cvxpy", certify=False)
    assert res.objective <= ref.objective * (1 + 1e-9)
    assert res.lower_bound <= res.objective
    # the certificate is independent: convexnn.certify agrees that the network is optimal
    cert = cnn.certify(cnn.Problem(x[:, None], Y, beta=0.3), res.network)
    assert cert.lower_bound <= res.objective * (1 + 1e-12)
    assert cert.gap <= 1e-6 * res.objective


# ============================================================================ min-norm, Prop 1
A_P16 = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
Y_P16 = np.array([1.0, -1.0, 1.0, 1.0, -1.0])


def test_worked_example_p16_min_norm_is_8():
    res = cf.min_norm_interpolation(A_P16[:, None], Y_P16, bias=True)
    assert res.objective == pytest.approx(8.0, rel=1e-8)
    assert res.certified and res.lower_bound <= 8.0 + 1e-9
    assert res.info["max_abs_error"] < 1e-8
    assert res.info["R"] == pytest.approx(16.0, rel=1e-8)  # problem (3) = 2 x problem (4)
    assert res.network.weight_decay() == pytest.approx(8.0, rel=1e-8)  # balanced
    assert res.network.width <= 6  # an LP vertex: at most n + 1 neurons (Theorem 1)
    assert Y_P16 @ res.dual == pytest.approx(8.0, rel=1e-10)  # the dual certificate itself
    # the paper's primal (p.46) in exact arithmetic: A_e w* = y and ||w*||_1 = 8
    u = [1, 1, 1, 1, -1, -1, -1, -1]
    b = [2, 1, 0, -1, -1, 0, 1, 2]
    w = [Fraction(0), Fraction(6419, 5000), Fraction(-3919, 2500), Fraction(-8581, 5000)]
    w += [Fraction(13581, 5000), Fraction(-1081, 2500), Fraction(-1419, 5000), Fraction(0)]
    for a_i, y_i in zip(A_P16, Y_P16):
        f = sum(max(Fraction(int(a_i)) * u_j + b_j, 0) * w_j for u_j, b_j, w_j in zip(u, b, w))
        assert f == y_i
    assert sum(abs(w_j) for w_j in w) == 8
    # and these atoms are in our kink dictionary
    s, bias = cf.kink_dictionary(A_P16, True)
    assert {(float(p), float(q)) for p, q in zip(u, b)} <= set(zip(s.tolist(), bias.tolist()))


def test_optimal_bias_intervals_proposition1():
    v_star = np.array([1.0, -3.0, 2.0, 1.0, -1.0])  # the paper's dual optimum, p.46
    assert v_star @ Y_P16 == 8.0
    intervals = cf.optimal_bias_intervals(A_P16, v_star)
    found = {(iv.sign, iv.low, iv.high) for iv in intervals}
    assert found == {(1.0, -1.0, 0.0), (-1.0, 0.0, 1.0)}
    for iv in intervals:
        assert abs(iv.value) == pytest.approx(1.0)
        assert abs(v_star[list(iv.active)].sum()) < 1e-12
    # the paper's second solution moves those kinks inside the intervals (b = -0.5, 0.5)
    # and keeps the optimum 8: Proposition 1's non-uniqueness
    u = np.array([1, 1, 1, 1, -1, -1, -1, -1.0])
    b = np.array([2, 1, 0, -0.5, -1, 0, 0.5, 2])
    H = np.maximum(np.outer(A_P16, u) + b, 0)
    w, c, _, _ = cf._dictionary_program(H, Y_P16, 1.0, "squared", True, interpolate=True)
    assert np.abs(w).sum() == pytest.approx(8.0, rel=1e-8)
    # any bias off the intervals gives a strictly worse dictionary
    b_bad = b.copy()
    b_bad[3] = -1.5  # u=+1 with a kink at 1.5: outside [-1, 0]
    H_bad = np.maximum(np.outer(A_P16, u) + b_bad, 0)
    w_bad = cf._dictionary_program(H_bad, Y_P16, 1.0, "squared", True, interpolate=True)[0]
    assert np.abs(w_bad).sum() > 8.0 + 1e-6


def test_min_norm_general_route_and_small_beta_limit():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 2))
    y = rng.standard_normal(6)
    res = cf.min_norm_interpolation(X, y, bias=True)
    assert res.info["route"].startswith("full arrangement")
    assert res.info["max_abs_error"] < 1e-8
    assert res.certified and res.lower_bound <= res.objective
    # beta -> 0: the weight-decay optimum over beta approaches the min-norm value from below
    beta = 1e-5
    ref = cnn.solve(cnn.Problem(X, y, beta=beta), method="cvxpy", certify=False)
    assert ref.objective / beta <= res.objective * (1 + 1e-6)
    assert ref.objective / beta >= res.objective * (1 - 1e-2)


def test_min_norm_one_dimensional_vector_and_infeasible():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    Y = np.column_stack([[0.0, 1.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    res = cf.min_norm_interpolation(x[:, None], Y)
    assert res.certified and res.info["max_abs_error"] < 1e-8
    with pytest.raises(ValueError, match="interpolates"):
        cf.min_norm_interpolation(np.array([[0.0], [0.0], [1.0]]), np.array([1.0, 2.0, 3.0]))


# ============================================================================ spike-free
@pytest.mark.parametrize("seed", [4, 5])
@pytest.mark.parametrize("loss", ["squared", "hinge", "logistic"])
def test_spike_free_theorem4_matches_reference(loss, seed):
    rng = np.random.default_rng(seed)
    X = np.diag(rng.uniform(0.5, 2.0, 5)) @ whitened_data(seed)  # orthogonal rows: spike-free
    y = rng.standard_normal(5) if loss == "squared" else labels(rng, 5)
    res = cf.spike_free(X, y, 0.3, loss=loss)
    assert res.network.width <= 2
    check_against_reference(
        res, cnn.Problem(X, y, beta=0.3, loss=loss, bias=False), function=loss == "squared"
    )
    if loss != "logistic":  # on whitened data Theorem 4 and Theorems 9/12 agree
        Xw = whitened_data(seed)
        a, b = cf.spike_free(Xw, y, 0.3, loss=loss), cf.whitened(Xw, y, 0.3, loss=loss)
        assert a.objective == pytest.approx(b.objective, rel=1e-8)


def test_spike_free_program_is_sound_on_other_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 2))  # not spike-free
    y = rng.standard_normal(6)
    res = cf.spike_free(X, y, 0.05)
    ref = reference(cnn.Problem(X, y, beta=0.05, bias=False))
    assert res.objective >= ref.lower_bound * (1 - 1e-9)  # a feasible network
    assert res.lower_bound <= ref.objective * (1 + 1e-9)
    assert res.objective > ref.objective * (1 + 1e-3)  # the relaxation misses the optimum here
    assert not res.certified and res.status == "uncertified"


# ============================================================================ dispatcher
def test_solve_closed_form_dispatch():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((7, 1)), rng.standard_normal(7)
    res = cnn.solve(cnn.Problem(x, y, beta=0.1), method="closed_form")
    assert res.info["theorem"].startswith("Lemma 6") and res.certified
    X = np.outer(rng.standard_normal(7), rng.standard_normal(3))
    res = cnn.solve(cnn.Problem(X, y, beta=0.1), method="closed_form")
    assert res.info["theorem"].startswith("Cor 5")
    Xw = whitened_data(0)
    yl = labels(rng, 5)
    for loss, theorem in [
        ("squared", "Theorem 9"),
        ("hinge", "Theorem 12"),
        ("logistic", "Theorem 4"),
    ]:
        res = cnn.solve(cnn.Problem(Xw, yl, beta=0.1, loss=loss, bias=False), method="closed_form")
        assert res.info["theorem"].startswith(theorem) and res.certified
    Y = np.eye(2)[[0, 1, 0, 1, 1]]
    res = cnn.solve(cnn.Problem(Xw, Y, beta=0.1, bias=False), method="closed_form")
    assert res.info["theorem"].startswith("Theorem 15")
    res = cnn.solve(
        cnn.Problem(np.diag([1.0, 2.0, 3.0]), y[:3], beta=0.1, bias=False), method="closed_form"
    )
    assert res.info["theorem"].startswith("Theorem 4") and res.certified


def test_solve_closed_form_unproven_spike_free_needs_opt_in():
    th = 0.2  # spike-free numerically (the Lemma 3 ratio is exactly 1), not by a lemma
    X = np.array([[1.0, 0.0], [np.cos(th), np.sin(th)]])
    y = np.array([1.0, -0.5])
    problem = cnn.Problem(X, y, beta=0.1, bias=False)
    with pytest.raises(ValueError, match="not proven spike-free"):
        cnn.solve(problem, method="closed_form")
    res = cnn.solve(problem, method="closed_form", allow_unproven=True)
    assert res.info["theorem"].startswith("Theorem 4")
    check_against_reference(res, problem, function=True)


def test_solve_closed_form_explains_why_none_applies():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 3)), rng.standard_normal(6)
    with pytest.raises(ValueError, match="not one-hot"):
        problem = cnn.Problem(whitened_data(0), rng.standard_normal((5, 2)), bias=False)
        cnn.solve(problem, method="closed_form")
    with pytest.raises(ValueError, match="bias=True.*cutting_plane"):
        cnn.solve(cnn.Problem(X, y, beta=0.1), method="closed_form")
    with pytest.raises(ValueError, match="not whitened.*not proven spike-free.*cutting_plane"):
        cnn.solve(cnn.Problem(X, y, beta=0.1, bias=False), method="closed_form")
    with pytest.raises(TypeError, match="unexpected option"):
        cnn.solve(cnn.Problem(X, y, beta=0.1), method="closed_form", width=3)
