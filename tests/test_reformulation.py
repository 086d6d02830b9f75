"""The fast reformulation solver against the CVXPY reference (same program, same patterns)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import convexnn as cnn
from convexnn.solvers.reformulation import solve_reformulation

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _problem(seed: int, n: int = 25, d: int = 3, bias: bool = True, beta: float = 0.3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(X @ rng.standard_normal(d)) + 0.1 * rng.standard_normal(n)
    return cnn.Problem(X, y, beta=beta, bias=bias)


def test_full_enumeration_with_certificate_is_certified():
    rng = np.random.default_rng(15)
    X = rng.standard_normal((15, 1))
    prob = cnn.Problem(X, np.abs(X[:, 0]) + 0.05 * rng.standard_normal(15), beta=0.1)
    res = solve_reformulation(prob, patterns=None, certify=True)
    assert res.lower_bound <= res.objective + 1e-12 * res.objective  # weak duality
    assert res.certified and res.relative_gap <= 1e-6
    sampled = solve_reformulation(prob, patterns=6)  # a restriction: no bound claimed
    assert sampled.lower_bound == -np.inf and not sampled.certified


def _check_against_cvxpy(prob, patterns, gated, rel):
    ours = solve_reformulation(prob, patterns=patterns, gated=gated)
    ref = cnn.solve(prob, method="cvxpy", patterns=patterns, gated=gated, certify=False)
    # the reference's value of the program: for ReLU its network realises the program exactly
    ref_value = ref.objective if not gated else None
    if ref_value is not None:
        assert abs(ours.info["program_objective"] - ref_value) <= rel * abs(ref_value)
        # the recovered network evaluated independently equals the program value
        assert abs(ours.objective - ours.info["program_objective"]) <= 1e-9 * abs(ref_value)
        assert ours.info["constraint_violation"] <= 1e-8
        assert ours.info["prediction_mismatch"] <= 1e-8
    return ours, ref


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("bias", [True, False])
def test_relu_sampled_matches_cvxpy(seed, bias):
    prob = _problem(seed, bias=bias)
    D = cnn.arrangements.sample(prob.X, 12, bias, seed=seed)
    ours, _ = _check_against_cvxpy(prob, D, gated=False, rel=1e-6)
    assert ours.status == "restricted"
    assert ours.lower_bound == -np.inf


@pytest.mark.parametrize("seed", [3, 4])
def test_relu_full_enumeration_matches_cvxpy(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((12, 1))
    y = np.abs(X[:, 0]) + 0.1 * rng.standard_normal(12)
    prob = cnn.Problem(X, y, beta=0.1, bias=True)
    ours, _ = _check_against_cvxpy(prob, None, gated=False, rel=1e-6)
    assert ours.info["full_enumeration"]
    assert ours.status == "optimal"


@pytest.mark.parametrize("seed", [0, 5])
@pytest.mark.parametrize("bias", [True, False])
def test_gated_matches_cvxpy(seed, bias):
    import cvxpy as cp

    prob = _problem(seed, bias=bias)
    D = cnn.arrangements.sample(prob.X, 10, bias, seed=seed).astype(float)
    ours = solve_reformulation(prob, patterns=D, gated=True, tol=1e-10)
    # the gated program written out directly (the reference returns a ReLU network, whose
    # objective is not the gated program's value)
    # (whole blocks penalized, bias row included)
    A, P = prob.X_aug, D.shape[1]
    V, W = cp.Variable((A.shape[1], P)), cp.Variable((A.shape[1], P))
    c = cp.Variable() if bias else 0.0
    f = cp.sum(cp.multiply(D, A @ (V - W)), axis=1) + c
    obj = 0.5 * cp.sum_squares(f - prob.y) + prob.beta * (
        cp.sum(cp.norm(V, 2, axis=0)) + cp.sum(cp.norm(W, 2, axis=0))
    )
    ref = cp.Problem(cp.Minimize(obj)).solve(solver="CLARABEL")
    assert abs(ours.info["program_objective"] - ref) <= 1e-6 * abs(ref)
    assert ours.info["gated"]
    assert ours.info["constraint_violation"] == 0.0


def _gated_value(prob, D, pos, neg):
    """The gated program's value from blocks, written out here: best offset, whole blocks
    (bias row included) penalized."""
    r = np.sum(D * (prob.X_aug @ (pos - neg)), axis=1) - prob.y
    if prob.bias:
        r = r - r.mean()
    pen = np.linalg.norm(pos, axis=0).sum() + np.linalg.norm(neg, axis=0).sum()
    return 0.5 * float(r @ r) + prob.beta * float(pen)


def _gated_dual_bound(prob, D):
    """A lower bound on the gated program (weak duality): ``v = a (y - mean y)`` is feasible
    for ``max y^T v - ||v||^2/2`` s.t. ``1^T v = 0``, ``||(D_p X~)^T v|| <= beta`` once ``a``
    is small enough."""
    r0 = prob.y - prob.y.mean()
    worst = float(np.max(np.linalg.norm(prob.X_aug.T @ (D * r0[:, None]), axis=0)))
    a = min(1.0, prob.beta / worst)
    return (a - 0.5 * a * a) * float(r0 @ r0)


@pytest.mark.parametrize("seed", [20, 21, 22])
def test_gated_with_bias_matches_the_cvxpy_reference(seed):
    from convexnn.solvers.cvxpy_reference import solve_scalar_program

    prob = _problem(seed, n=20, d=2)
    D = cnn.arrangements.sample(prob.X, 8, True, seed=seed).astype(float)
    ours = solve_reformulation(prob, patterns=D, gated=True, tol=1e-10)
    pos, neg, c, _, _ = solve_scalar_program(
        prob, prob.y, D, solver="CLARABEL", gated=True, verbose=False
    )
    ref = _gated_value(prob, D, pos, neg)
    assert abs(ours.info["program_objective"] - ref) <= 1e-6 * ref
    (bpos, bneg) = ours.info["blocks"][0]
    assert ours.info["program_objective"] == pytest.approx(
        _gated_value(prob, D, bpos, bneg), rel=1e-12
    )


@pytest.mark.parametrize("seed", [23, 24])
def test_gated_with_bias_does_not_interpolate_for_free(seed):
    # 1-D data, full arrangement: with the block biases unpenalized the steps D_p 1 b_p
    # interpolate any y at zero cost (program value ~1e-10); penalized, the value stays above
    # a dual bound that is a fixed fraction of the data's variance
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((16, 1))
    prob = cnn.Problem(X, rng.standard_normal(16), beta=1.0, bias=True)
    D = cnn.arrangements.enumerate(prob.X, True).astype(float)
    D = D[:, D.any(axis=0)]  # the solver drops the all-zero pattern (it acts on nothing)
    bound = _gated_dual_bound(prob, D)
    r0 = prob.y - prob.y.mean()
    assert bound >= 0.05 * float(r0 @ r0)
    ours = solve_reformulation(prob, patterns=D, gated=True, tol=1e-10)
    (pos, neg) = ours.info["blocks"][0]
    value = _gated_value(prob, D, pos, neg)
    assert value == pytest.approx(ours.info["program_objective"], rel=1e-12)
    assert value >= bound * (1 - 1e-9)


def test_float32_path():
    prob = _problem(7)
    D = cnn.arrangements.sample(prob.X, 10, True, seed=7)
    # float32 iterates; the ReLU program's polishing runs in float64 from them
    for gated, rel in ((True, 1e-4), (False, 5e-2)):
        ref = solve_reformulation(prob, patterns=D, gated=gated)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", cnn.ConvergenceWarning)  # float32 misses tol 1e-8
            low = solve_reformulation(prob, patterns=D, gated=gated, dtype="float32", max_iter=2000)
        assert low.info["dtype"] == "float32"
        value, want = low.info["program_objective"], ref.info["program_objective"]
        assert abs(value - want) <= rel * want
        if not gated:
            assert low.info["prediction_mismatch"] <= 1e-4


@pytest.mark.parametrize("seed", [12, 13])
def test_polishing_is_exact_and_optional(seed):
    prob = _problem(seed, n=40)
    D = cnn.arrangements.sample(prob.X, 15, True, seed=seed)
    ref = cnn.solve(prob, method="cvxpy", patterns=D, certify=False).objective
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cnn.ConvergenceWarning)
        raw = solve_reformulation(prob, patterns=D, polish=False)
    pol = solve_reformulation(prob, patterns=D)
    assert not raw.info["polished"]
    assert abs(raw.objective - ref) <= 1e-5 * ref  # the interior point alone
    if pol.info["polished"]:
        assert pol.info["constraint_violation"] <= 1e-12
        assert pol.objective <= raw.objective + 1e-12 * ref
    assert abs(pol.objective - ref) <= 1e-6 * ref


def _clarabel_value(prob, D) -> float:
    from convexnn.solvers._reform_polish import program_value
    from convexnn.solvers.cvxpy_reference import solve_scalar_program

    pos, neg, *_ = solve_scalar_program(
        prob, prob.y, D, solver="CLARABEL", gated=False, verbose=False
    )
    return program_value(prob.X_aug, D, prob.y, prob.beta, prob.n_features, prob.bias, pos, neg)


@pytest.mark.parametrize(
    "n, d, P, beta, seed, pattern_seed",
    [
        (8, 3, 30, 0.1, 54, 1),  # many patterns on few samples, one of them all ones
        (44, 1, 27, 2.9, 124420891, 124420891),  # 1-D, all-ones pattern whose block is 0
    ],
)
def test_interior_point_alone_handles_patterns_with_a_free_bias(n, d, P, beta, seed, pattern_seed):
    # an all-ones (or all-zeros) pattern leaves its blocks' bias coordinate free at no cost:
    # the barrier used to push it to infinity (objective 9.6e9 instead of 0.4545 on the first
    # instance), then, solved without cones, the block oscillated across the norm's kink
    rng = np.random.default_rng(seed)
    if seed == 54:
        X, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    else:  # the draw of the randomized check that found it
        n, d, P = int(rng.integers(6, 90)), int(rng.integers(1, 6)), int(rng.integers(3, 40))
        rng.integers(2), rng.uniform(-2, 0.5)
        X = rng.standard_normal((n, d))
        y = np.sin(X @ rng.standard_normal(d)) + np.abs(X[:, 0]) + 0.1 * rng.standard_normal(n)
    prob = cnn.Problem(X, y, beta=beta, bias=True)
    D = cnn.arrangements.sample(X, P, True, seed=pattern_seed).astype(float)
    assert np.any(D.sum(axis=0) == n)
    ref = _clarabel_value(prob, D)
    raw = solve_reformulation(prob, patterns=D, polish=False)
    assert raw.status == "restricted"
    assert raw.info["program_objective"] == pytest.approx(ref, rel=1e-6)
    assert raw.info["constraint_violation"] <= 1e-12
    assert raw.info["prediction_mismatch"] <= 1e-8


def test_randomized_small_programs_match_clarabel():
    # degenerate small instances (few samples, many patterns, all ones/zeros, 1-D): the
    # polished solution within 1e-7 of Clarabel (itself ~1e-8 accurate), the interior point
    # alone within 1e-5
    rng = np.random.default_rng(2026)
    for _ in range(12):
        n, d, P = int(rng.integers(6, 60)), int(rng.integers(1, 5)), int(rng.integers(3, 30))
        bias, beta = bool(rng.integers(2)), float(10 ** rng.uniform(-2, 0.5))
        X = rng.standard_normal((n, d))
        y = np.sin(X @ rng.standard_normal(d)) + np.abs(X[:, 0]) + 0.1 * rng.standard_normal(n)
        prob = cnn.Problem(X, y, beta=beta, bias=bias)
        D = cnn.arrangements.sample(X, P, bias, seed=int(rng.integers(1000))).astype(float)
        ref = _clarabel_value(prob, D)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", cnn.ConvergenceWarning)
            raw = solve_reformulation(prob, patterns=D, polish=False)
        pol = solve_reformulation(prob, patterns=D)
        scale = max(abs(ref), 1e-12)
        assert raw.info["program_objective"] - ref <= 1e-5 * scale
        assert pol.info["program_objective"] - ref <= 1e-7 * scale
        assert pol.info["constraint_violation"] <= 1e-12 * max(1.0, np.abs(prob.X_aug).max())
        if pol.info["polished"]:  # the finisher's duality gap: within tol, and the dual
            # value it implies below the optimum (to Clarabel's accuracy, ~1e-8 either side)
            gap, value = pol.info["duality_gap"], pol.info["program_objective"]
            assert 0.0 <= gap <= 1e-8
            assert value - gap * max(1.0, abs(value)) <= ref + 1e-7 * scale


@pytest.mark.parametrize("gated", [False, True])
def test_many_samples_use_the_direct_linear_algebra(gated):
    # n = 80 > 2 P (d' + 1) and > P d': the IPM factors its Newton matrix itself and ADMM its
    # Gram matrix (instead of the n-square Woodbury kernels)
    prob = _problem(14, n=80, d=2)
    D = cnn.arrangements.sample(prob.X, 5, True, seed=0)
    ours = solve_reformulation(prob, patterns=D, gated=gated)
    if gated:
        ref = solve_reformulation(prob, patterns=D, gated=True, rho=0.5, tol=1e-11)
        assert ours.info["program_objective"] == pytest.approx(
            ref.info["program_objective"], rel=1e-7
        )
    else:
        ref = cnn.solve(prob, method="cvxpy", patterns=D, certify=False)
        assert ours.objective == pytest.approx(ref.objective, rel=1e-6)


def test_integer_patterns_are_sampled_with_the_seed():
    prob = _problem(8)
    a = solve_reformulation(prob, patterns=9, random_state=3)
    b = solve_reformulation(prob, patterns=cnn.arrangements.sample(prob.X, 9, True, seed=3))
    assert a.info["n_patterns"] == b.info["n_patterns"]
    assert a.objective == pytest.approx(b.objective, rel=1e-12)


def test_dispatch_and_vector_outputs():
    rng = np.random.default_rng(9)
    X = rng.standard_normal((20, 2))
    Y = np.column_stack([np.abs(X[:, 0]), X[:, 1] ** 2])
    prob = cnn.Problem(X, Y, beta=0.2, bias=True)
    D = cnn.arrangements.sample(X, 8, True, seed=0)
    ours = cnn.solve(prob, method="reformulation", patterns=D)
    ref = cnn.solve(prob, method="cvxpy", patterns=D, certify=False)
    assert ours.network.n_outputs == 2
    assert ours.objective == pytest.approx(ref.objective, rel=1e-6)


def test_no_patterns_without_bias_needs_low_rank():
    prob = _problem(0, n=30, d=8)
    with pytest.raises(ValueError, match="patterns"):
        solve_reformulation(prob, patterns=None)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"patterns": np.ones((3, 4))}, ValueError, "patterns"),
        ({"patterns": np.full((25, 4), 2)}, ValueError, "0 and 1"),
        ({"patterns": 0}, ValueError, "patterns"),
        ({"tol": -1.0}, ValueError, "tol"),
        ({"device": "tpu9"}, ValueError, "device"),
        ({"dtype": "float16"}, ValueError, "dtype"),
        ({"gated": "yes"}, TypeError, "gated"),
        ({"unknown_option": 1}, TypeError, "unknown_option"),
    ],
)
def test_bad_inputs(kwargs, error, match):
    prob = _problem(0)
    kwargs.setdefault("patterns", 5)
    with pytest.raises(error, match=match):
        solve_reformulation(prob, **kwargs)


def test_other_losses_are_refused_with_a_pointer():
    X = np.random.default_rng(0).standard_normal((10, 2))
    prob = cnn.Problem(X, np.sign(X[:, 0]) + (X[:, 0] == 0), beta=0.1, loss="hinge")
    with pytest.raises(ValueError, match="method='cvxpy'"):
        solve_reformulation(prob, patterns=4)


@pytest.mark.parametrize("seed", [21, 22])
def test_early_finish_and_float32_phase_change_nothing_but_the_time(seed, monkeypatch):
    # the finisher tried at interior-point gap 1e-4 (and the float32 capacitance far from the
    # solution) against the plain method: the same optimum, no more iterations
    import convexnn.solvers._reform_ipm as ipm
    import convexnn.solvers.reformulation as reform

    prob = _problem(seed, n=80, d=4)
    D = cnn.arrangements.sample(prob.X, 30, True, seed=seed)
    fast = solve_reformulation(prob, patterns=D)
    monkeypatch.setattr(reform, "EARLY_POLISH", 0.0)
    monkeypatch.setattr(ipm, "LOW_PRECISION_GAP", np.inf)
    plain = solve_reformulation(prob, patterns=D)
    assert fast.info["polished"] and plain.info["polished"]
    assert fast.n_iter < plain.n_iter
    assert fast.info["program_objective"] == pytest.approx(
        plain.info["program_objective"], rel=1e-10
    )
    assert fast.info["duality_gap"] <= 1e-8 and fast.info["constraint_violation"] <= 1e-12


def test_float32_refinement_falling_short_switches_to_float64(monkeypatch):
    # directions refined from a float32 capacitance that cannot reach the accuracy asked:
    # the iteration is redone in float64 and float32 is not tried again; same optimum
    import convexnn.solvers._reform_ipm as ipm

    prob = _problem(4, n=80, d=4)
    D = cnn.arrangements.sample(prob.X, 30, True, seed=4)
    reference = solve_reformulation(prob, patterns=D)
    calls = []
    capacitance = ipm._Operators.capacitance

    def counted(self, Sp, low=False):
        calls.append(low)
        return capacitance(self, Sp, low)

    monkeypatch.setattr(ipm._Operators, "capacitance", counted)
    monkeypatch.setattr(ipm, "LOW_PRECISION_ACCURACY", 1e-30)
    res = solve_reformulation(prob, patterns=D)
    assert calls[:2] == [True, False] and not any(calls[2:])
    assert res.info["polished"] and res.info["duality_gap"] <= 1e-8
    assert res.info["program_objective"] == pytest.approx(
        reference.info["program_objective"], rel=1e-10
    )


@pytest.mark.parametrize("seed", [11, 12])
def test_generic_torch_path_matches_the_numpy_path(seed, monkeypatch):
    # the code that CUDA tensors run (products and the Woodbury capacitance in torch, no
    # numpy buffers), exercised on the CPU: same optimum, same accuracy
    import convexnn.solvers._reform_ipm as ipm

    prob = _problem(seed, n=40)
    D = cnn.arrangements.sample(prob.X, 12, True, seed=seed)
    fast = [solve_reformulation(prob, patterns=D, gated=g) for g in (False, True)]
    monkeypatch.setattr(ipm, "NUMPY_ON_CPU", False)
    generic = [solve_reformulation(prob, patterns=D, gated=g) for g in (False, True)]
    for a, b in zip(fast, generic):
        assert b.info["program_objective"] == pytest.approx(a.info["program_objective"], rel=1e-8)
        assert b.info["constraint_violation"] <= 1e-8
    relu = generic[0]  # (a gated model is not its recovered ReLU network: no mismatch test)
    assert relu.info["prediction_mismatch"] <= 1e-8
    assert relu.info["polished"] and relu.info["duality_gap"] <= 1e-8


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    prob = _problem(11)
    D = cnn.arrangements.sample(prob.X, 10, True, seed=0)
    for gated in (False, True):
        cpu = solve_reformulation(prob, patterns=D, gated=gated)
        gpu = solve_reformulation(prob, patterns=D, gated=gated, device="cuda")
        assert gpu.info["device"].startswith("cuda")
        assert gpu.info["program_objective"] == pytest.approx(
            cpu.info["program_objective"], rel=1e-7
        )
