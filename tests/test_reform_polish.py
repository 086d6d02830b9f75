"""The active-set finisher of the ReLU program against the CVXPY reference (same patterns)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import convexnn as cnn
from convexnn.solvers._reform_ipm import ipm_relu
from convexnn.solvers._reform_polish import cone_violation, polish, program_value
from convexnn.solvers.cvxpy_reference import solve_scalar_program

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _instance(seed: int, bias: bool, n: int = 30, d: int = 3, P: int = 14, beta: float = 0.2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(X @ rng.standard_normal(d)) + np.abs(X[:, 0]) + 0.1 * rng.standard_normal(n)
    prob = cnn.Problem(X, y, beta=beta, bias=bias)
    D = cnn.arrangements.sample(X, P, bias, seed=seed).astype(float)
    return prob, D


def _args(prob, D):
    return prob.X_aug, D, prob.y, prob.beta, prob.n_features, prob.bias


def _reference(prob, D) -> float:
    pos, neg, *_ = solve_scalar_program(
        prob, prob.y, D, solver="CLARABEL", gated=False, verbose=False
    )
    return program_value(*_args(prob, D), pos, neg)


def _iterates(prob, D, gaps=(1e-2, 1e-3, 1e-4, 1e-5)):
    """The interior-point iterates offered to a finisher once the gap passes each of ``gaps``."""
    seen = []

    def record(V, W, tight, gap):
        seen.append((V.numpy().copy(), W.numpy().copy(), gap))
        return False

    A = torch.tensor(prob.X_aug)
    ipm_relu(
        A,
        torch.tensor(D),
        torch.tensor(prob.y),
        prob.beta,
        n_features=prob.n_features,
        center=prob.bias,
        tol=1e-9,
        max_iter=200,
        early_exit=record,
        early_gaps=gaps,
    )
    return seen


def _relative_violation(A, D, pos, neg) -> float:
    S = 2.0 * D - 1.0
    values = np.hstack([S * (A @ pos), S * (A @ neg)])
    return max(0.0, -float(values.min())) / float(np.abs(values).max())


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("bias", [True, False])
def test_polish_reaches_the_reference_from_interior_point_iterates(seed, bias):
    prob, D = _instance(seed, bias)
    args = _args(prob, D)
    ref = _reference(prob, D)  # Clarabel: within ~5e-8 relative of the optimum here
    iterates = _iterates(prob, D)
    assert len(iterates) >= 3
    finished = 0
    for V, W, gap in iterates:
        start = program_value(*args, V, W)
        pos, neg, ok, dual_gap = polish(*args, V, W)
        value = program_value(*args, pos, neg)
        assert value <= start  # never worse
        assert _relative_violation(prob.X_aug, D, pos, neg) <= 1e-12  # always feasible
        if ok:  # claimed finished: the optimum of the program, to well below the IPM's gap
            assert abs(value - ref) <= 1e-7 * ref, (gap, value, ref)
            # its duality gap: tiny, and the dual value it implies below the optimum (to
            # Clarabel's accuracy)
            assert 0.0 <= dual_gap <= 1e-9
            assert value - dual_gap * max(1.0, value) <= ref * (1 + 1e-7)
            finished += 1
        else:
            assert dual_gap == np.inf
    # from the iterate at gap 1e-5 at least, the guess of the face is right
    assert finished >= 1 and ok


@pytest.mark.parametrize("bias", [True, False])
def test_polish_on_one_dimensional_data(bias):
    """d = 1: a block without bias is a half-line (cones of dimension one)."""
    prob, D = _instance(10, bias, n=25, d=1, P=8)
    args = _args(prob, D)
    ref = _reference(prob, D)
    V, W, _ = _iterates(prob, D)[-1]
    pos, neg, ok, _ = polish(*args, V, W)
    assert ok
    assert abs(program_value(*args, pos, neg) - ref) <= 1e-7 * ref
    assert _relative_violation(prob.X_aug, D, pos, neg) <= 1e-12


@pytest.mark.parametrize("seed", [4, 5, 6])
@pytest.mark.parametrize("bias", [True, False])
def test_polish_from_perturbed_reference(seed, bias):
    """Start: the reference solution with each block rescaled by 1 + 1e-4 N(0, 1) (stays in
    its cone), dead blocks dropped; the finisher must return the optimum."""
    prob, D = _instance(seed, bias)
    args = _args(prob, D)
    pos, neg, *_ = solve_scalar_program(
        prob, prob.y, D, solver="CLARABEL", gated=False, verbose=False
    )
    ref = program_value(*args, pos, neg)
    rng = np.random.default_rng(seed)
    P = D.shape[1]
    scale = 1.0 + 1e-4 * rng.standard_normal(2 * P)
    p0, n0 = pos * scale[:P], neg * scale[P:]
    p1, n1, ok, _ = polish(*args, p0, n0)
    assert ok
    value = program_value(*args, p1, n1)
    assert abs(value - ref) <= 1e-7 * ref
    assert value <= program_value(*args, p0, n0)
    assert _relative_violation(prob.X_aug, D, p1, n1) <= 1e-12


def test_polish_is_idempotent_at_the_optimum():
    prob, D = _instance(7, True)
    args = _args(prob, D)
    V, W, _ = _iterates(prob, D)[-1]
    p1, n1, ok, _ = polish(*args, V, W)
    assert ok
    p2, n2, ok2, _ = polish(*args, p1, n1)
    assert ok2
    assert abs(program_value(*args, p2, n2) - program_value(*args, p1, n1)) <= 1e-12 * (
        program_value(*args, p1, n1)
    )


def test_polish_returns_the_input_when_it_cannot_finish():
    prob, D = _instance(8, True)
    args = _args(prob, D)
    V, W, _ = _iterates(prob, D)[0]
    # too few iterations to reach a KKT point: the input comes back, unchanged
    pos, neg, ok, _ = polish(*args, V, W, max_iter=1)
    assert not ok and pos is V and neg is W
    # nothing live (all-zero blocks): nothing to polish
    zeros = np.zeros_like(V)
    pos, neg, ok, _ = polish(*args, zeros, zeros)
    assert not ok and pos is zeros
    # non-finite input
    bad = V.copy()
    bad[0, 0] = np.nan
    pos, neg, ok, _ = polish(*args, bad, W)
    assert not ok and pos is bad


def test_polish_never_accepts_an_infeasible_or_worse_point():
    """An infeasible start below the optimum (blocks pushed outside their cones): whatever the
    finisher does, it may return only a feasible point whose value is not above the start's."""
    prob, D = _instance(9, True)
    args = _args(prob, D)
    V, W, _ = _iterates(prob, D)[-1]
    rng = np.random.default_rng(9)
    V2 = V + 0.05 * rng.standard_normal(V.shape) * np.linalg.norm(V, axis=0)
    start = program_value(*args, V2, W)
    pos, neg, ok, _ = polish(*args, V2, W)
    if ok:
        assert program_value(*args, pos, neg) <= start
        assert _relative_violation(prob.X_aug, D, pos, neg) <= 1e-12
    else:
        assert pos is V2 and neg is W
    assert cone_violation(prob.X_aug, D, V2, W) > 0  # the start really is infeasible


@pytest.mark.parametrize("seed, d", [(0, 1), (1, 2), (2, 2), (4, 2)])
def test_polished_full_enumeration_is_certified_to_rounding(seed, d):
    """Over the full arrangement the program is the training problem (Thm 8): at the
    finisher's KKT point the dual vector ``-r`` satisfies every dual constraint, so the
    independent certificate closes the gap to rounding (the interior point alone: 1e-6 to 1e-3
    here)."""
    from convexnn.solvers.reformulation import solve_reformulation

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((14, d))
    y = np.abs(X[:, 0]) + np.sin(2 * X.sum(axis=1)) + 0.05 * rng.standard_normal(14)
    prob = cnn.Problem(X, y, beta=0.05, bias=True)
    res = solve_reformulation(prob, patterns=None, certify=True)
    assert res.info["polished"]
    assert res.lower_bound <= res.objective * (1 + 1e-12)  # weak duality
    assert res.relative_gap <= 1e-9
    assert res.info["certificate"].max_violation <= 1 + 1e-9
