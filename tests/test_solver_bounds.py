"""Soundness of every solver's own bound and of ``certify`` with every named oracle.

Complements tests/test_soundness.py (which checks ``certify(..., oracle="auto")`` and the
oracles' raw bounds): here each method's ``Result.lower_bound`` — the number a user reads off
``solve`` — and ``certify`` run with every oracle that applies (exact_1d, enumeration,
spike_free, local_search, auto) must stay below the optimum. Hypothesis draws tiny problems
of every kind (three losses, bias or not, scalar and vector outputs, n down to 1, per-feature
scales 1e-3..1e3, ties); the optimum is bounded above by the best ``Problem.objective`` of
any network held (the full-enumeration CVXPY reference among them). A result that claims to
be certified must also be within its tolerance of that optimum. ``make stress`` runs 15x more.
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import convexnn as cnn
from _budget import examples
from convexnn import Problem, ReLUNetwork
from convexnn.oracles import ORACLES, get_oracle
from convexnn.solvers import get_solver

COUNTS: Counter = Counter()

METHOD_OPTIONS = {
    "cutting_plane": {"max_iter": 15},
    "reformulation": {"max_iter": 300, "tol": 1e-6},
    "cvxpy": {},
    "closed_form": {},
    "nonconvex": {"width": 5, "n_steps": 40, "lr": 1e-2, "log_every": 10},
}


@st.composite
def problems(draw) -> Problem:
    loss = draw(st.sampled_from(["squared", "hinge", "logistic"]))
    bias = draw(st.booleans())
    n = draw(st.integers(1, 7))
    d = draw(st.integers(1, 3 if not bias else 2))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    kind = draw(st.sampled_from(["gaussian", "integer", "duplicates", "scaled"]))
    if kind == "integer":  # many ties
        X = np.round(X * 1.5)
    elif kind == "duplicates" and n > 1:
        X[n // 2 :] = X[: n - n // 2]
    elif kind == "scaled":
        X = X * 10.0 ** rng.uniform(-3, 3, size=d)
    if loss == "squared":
        vector = draw(st.booleans())
        y = rng.standard_normal((n, 2) if vector else n) * 10.0 ** rng.uniform(-1, 1)
    else:
        y = rng.choice([-1.0, 1.0], size=n)
    beta = 10.0 ** draw(st.floats(-3, 1))
    return Problem(X, y, beta=beta, loss=loss, bias=bias)


def random_network(prob: Problem, rng: np.random.Generator, width: int) -> ReLUNetwork:
    k = prob.n_outputs
    return ReLUNetwork(
        rng.standard_normal((prob.n_features, width)),
        rng.standard_normal(width) if prob.bias else None,
        rng.standard_normal(width if k is None else (width, k)),
        (rng.standard_normal(() if k is None else k)) if prob.bias else None,
    )


def networks_and_bounds(prob: Problem, seed: int) -> tuple[list, list]:
    """Every method's result on ``prob`` (networks, and (who, lower bound) pairs)."""
    nets, bounds = [], []
    for method, options in METHOD_OPTIONS.items():
        try:
            solver = get_solver(method)
        except ImportError:
            continue
        if "random_state" in solver.__code__.co_varnames:
            options = {**options, "random_state": seed}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = solver(prob, **options)
            except ValueError as exc:  # a method that declines this problem, with a reason
                assert "\n" not in str(exc), str(exc)
                continue
        assert res.objective == pytest.approx(prob.objective(res.network), rel=1e-9, abs=1e-12)
        nets.append((method, res.network))
        bounds.append((method, res.lower_bound, res.certified, res.objective))
        COUNTS["solver results"] += 1
    rng = np.random.default_rng(seed)
    nets.append(("zero", prob.zero_network()))
    nets.append(("random", random_network(prob, rng, 3)))
    nets.append(("random-wide", random_network(prob, rng, 12)))
    return nets, bounds


def applicable_oracles(prob: Problem) -> list[str]:
    names = ["auto"]
    for name in ORACLES:
        try:
            get_oracle(name, prob)
        except ValueError:
            continue
        names.append(name)
    return names


@given(problems(), st.integers(0, 1000))
@examples(4, 90)
def test_no_lower_bound_exceeds_the_optimum(prob, seed):
    assume(prob.n_samples >= 1)
    nets, bounds = networks_and_bounds(prob, seed)
    upper = min(prob.objective(net) for _, net in nets)  # >= the true optimum
    slack = 1e-7 * max(1.0, abs(upper))
    for who, lower, certified, objective in bounds:
        assert lower <= upper + slack, f"{who}: Result.lower_bound {lower} > optimum <= {upper}"
        if certified:  # a certified result must be near the optimum (tol 1e-6 + reference error)
            assert objective <= upper + 1e-5 * max(1.0, abs(upper)), (who, objective, upper)
        COUNTS["soundness checks"] += 1
    oracles = applicable_oracles(prob)
    for who, net in nets:
        for oracle in oracles:
            cert = cnn.certify(prob, net, oracle=oracle, random_state=0)
            assert cert.lower_bound <= upper + slack, (
                f"certify({who}, oracle={oracle}): lower bound {cert.lower_bound} > optimum "
                f"<= {upper} on {prob}"
            )
            assert cert.objective == pytest.approx(prob.objective(net), rel=1e-12, abs=1e-300)
            assert cert.lower_bound <= cert.objective + slack
            COUNTS["soundness checks"] += 1
    COUNTS["problems"] += 1


@given(problems())
@examples(4, 90)
def test_exact_certificates_close_the_gap_at_the_optimum(prob):
    """Where the oracle is exact, the reference optimum is certified to solver accuracy —
    the lower bound is not just sound but tight (scalar outputs: the reference is exact)."""
    assume(prob.n_outputs is None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = cnn.solve(prob, method="cvxpy")
    cert = ref.info.get("certificate")
    if cert is None:  # the zero-network shortcut certified it directly
        assert ref.certified
        return
    assert ref.lower_bound <= ref.objective + 1e-9 * max(1.0, abs(ref.objective))
    if cert.exact:
        assert ref.relative_gap <= 1e-4 or ref.gap <= 1e-7, (ref.gap, ref.relative_gap, prob)
    COUNTS["tightness checks"] += 1


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    print(f"\nsolver-bound suite: {dict(COUNTS)}")


# ---------------------------------------------------------------------- regressions found here
def one_sample_logistic_optimum(x: np.ndarray, y: float, beta: float) -> float:
    """n = 1, no bias: ``min_{t >= 0} log(1 + e^{-t}) + beta t / ||x||`` (t = y f)."""
    from scipy.optimize import minimize_scalar

    r = np.linalg.norm(x)
    res = minimize_scalar(
        lambda t: np.logaddexp(0.0, -t) + beta * t / r,
        bounds=(0.0, 1e4),
        method="bounded",
        options={"xatol": 1e-13},
    )
    return float(min(res.fun, np.log(2.0)))


@pytest.mark.parametrize("oracle", ["auto", *ORACLES])
@pytest.mark.parametrize("exponent", [0, -100, -200, -250, -300])
def test_oracle_bounds_survive_tiny_dual_vectors(oracle, exponent):
    """Confident logistic networks have dual vectors ~1e-200; no oracle may lose the scale.

    Found by the stress run: spike_free returned 3.3e-238 for a true maximum 7.8e-236.
    """
    x = np.array([[3.30563082e-01, -7.72650959e01, 9.56278808e-03]])
    prob = Problem(x, np.array([-1.0]), beta=1.0, loss="logistic", bias=False)
    try:
        orc = get_oracle(oracle, prob)
    except ValueError:
        pytest.skip(f"{oracle} does not apply")
    v = np.array([-(10.0**exponent)])
    true_max = 10.0**exponent * np.linalg.norm(x)  # n = 1: max_u |v (x u)_+| = |v| ||x||
    assert orc(prob, v).upper_bound >= true_max * (1 - 1e-9)


def test_certify_spike_free_on_a_confident_logistic_network():
    """The certificate-level violation behind the test above (stress run, seed 0, trial 12):
    a lower bound 0.000401 above the optimum 0.000355."""
    rng = np.random.default_rng(0)
    x = np.array([[-21.08997556, 255.29264221, -1.16113591]])
    beta = 0.007991524755448296
    prob = Problem(x, np.array([1.0]), beta=beta, loss="logistic", bias=False)
    optimum = one_sample_logistic_optimum(x, 1.0, beta)
    for _ in range(30):
        net = ReLUNetwork(rng.standard_normal((3, 12)) * 3, None, rng.standard_normal(12) * 3)
        for oracle in ("auto", "local_search", "spike_free"):
            cert = cnn.certify(prob, net, oracle=oracle)
            assert cert.lower_bound <= optimum * (1 + 1e-9), (oracle, cert.lower_bound, optimum)
