"""The input battery: every public entry either works correctly on odd-but-valid data or
raises a named, one-line ``ValueError``/``TypeError`` on bad data; nothing is silently changed.

"Works correctly" is checked, not assumed: the reported objective is the independent
``Problem.objective`` of the returned network, the lower bound never exceeds the exact
optimum (the full-enumeration CVXPY reference), and a result that says ``certified`` is
within its tolerance of that optimum.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import convexnn as cnn
from convexnn import Problem, ReLUNetwork, Result
from convexnn import arrangements as ar
from convexnn.solvers import METHODS, get_solver

RNG = np.random.default_rng(12345)
X0 = RNG.standard_normal((10, 2))
Y0 = RNG.standard_normal(10)
L0 = np.where(np.median(Y0) < Y0, 1.0, -1.0)

#: the cheapest options that still exercise each method fully
FAST: dict[str, dict] = {
    "cutting_plane": {"max_iter": 30, "time_limit": 20.0},
    "reformulation": {"max_iter": 500, "tol": 1e-6},
    "cvxpy": {},
    "closed_form": {},
    "nonconvex": {"width": 6, "n_steps": 60, "log_every": 20},
}
assert set(FAST) == set(METHODS)


def solver_or_skip(method: str):
    try:
        return get_solver(method)
    except ImportError as exc:  # a method still being written by its owner
        pytest.skip(f"method {method!r} not importable yet: {exc}")


def assert_named_error(excinfo, *names: str) -> None:
    """One line, naming one of ``names`` (the parameter) when given."""
    message = str(excinfo.value)
    assert message and "\n" not in message, message
    if names:
        assert any(n in message for n in names), message


# ---------------------------------------------------------------------- bad data
BAD_DATA = {
    "X-nan": (np.where(np.eye(10, 2) > 0, np.nan, X0), Y0, "'X'"),
    "X-inf": (np.where(np.eye(10, 2) > 0, np.inf, X0), Y0, "'X'"),
    "X-neg-inf": (np.where(np.eye(10, 2) > 0, -np.inf, X0), Y0, "'X'"),
    "y-nan": (X0, np.where(np.arange(10) == 3, np.nan, Y0), "'y'"),
    "y-inf": (X0, np.where(np.arange(10) == 3, np.inf, Y0), "'y'"),
    "X-1d": (X0[:, 0], Y0, "'X'"),
    "X-3d": (X0[None], Y0, "'X'"),
    "X-scalar": (3.0, Y0, "'X'"),
    "y-3d": (X0, Y0[:, None, None], "'y'"),
    "y-short": (X0, Y0[:-1], "'y'"),
    "y-long": (X0, np.append(Y0, 1.0), "'y'"),
    "empty": (X0[:0], Y0[:0], "'X'"),
    "no-features": (X0[:, :0], Y0, "'X'"),
    "X-strings": (np.full((10, 2), "abc"), Y0, "'X'"),
    "X-numeric-strings": (X0.astype(str), Y0, "'X'"),
    "y-strings": (X0, np.array(["a"] * 10), "'y'"),
    "X-ragged": ([[1.0, 2.0], [3.0]] * 5, Y0, "'X'"),
    "X-complex": (X0 + 1j, Y0, "'X'"),
    "X-object": (np.array([object()] * 20).reshape(10, 2), Y0, "'X'"),
    "X-none": (None, Y0, "'X'"),
    "y-none": (X0, None, "'y'"),
    "X-datetime": (np.full((10, 2), np.datetime64("2020-01-01")), Y0, "'X'"),
    "pandas-nan": (pd.DataFrame(X0).where(lambda d: d > -1.5), Y0, "'X'"),
    "pandas-strings": (pd.DataFrame({"a": ["x"] * 10, "b": X0[:, 1]}), Y0, "'X'"),
}


@pytest.mark.parametrize("case", BAD_DATA)
def test_problem_rejects_bad_data(case):
    X, y, name = BAD_DATA[case]
    with pytest.raises((ValueError, TypeError)) as info:
        Problem(X, y)
    assert_named_error(info, name)


@pytest.mark.parametrize("case", [c for c in BAD_DATA if BAD_DATA[c][2] == "'X'"])
def test_arrangements_reject_bad_X(case):
    X = BAD_DATA[case][0]
    for call in (lambda: ar.sample(X, 5), lambda: ar.enumerate(X)):
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        assert_named_error(info, "'X'")


CLOSED_FORMS = {
    "whitened": lambda X, y: cnn.closed_form.whitened(X, y, 0.1),
    "one_dimensional": lambda X, y: cnn.closed_form.one_dimensional(X, y, 0.1),
    "rank_one": lambda X, y: cnn.closed_form.rank_one(X, y, 0.1),
    "min_norm_interpolation": lambda X, y: cnn.closed_form.min_norm_interpolation(X, y),
    "spike_free": lambda X, y: cnn.closed_form.spike_free(X, y, 0.1),
}


@pytest.mark.parametrize("form", CLOSED_FORMS)
@pytest.mark.parametrize("case", ["X-nan", "y-inf", "y-short", "empty", "X-strings", "X-none"])
def test_closed_forms_reject_bad_data(form, case):
    X, y, _ = BAD_DATA[case]
    with pytest.raises((ValueError, TypeError)) as info:
        CLOSED_FORMS[form](X, y)
    assert_named_error(info)


@pytest.mark.parametrize("case", ["X-nan", "y-inf", "y-short", "empty", "X-strings", "X-3d"])
def test_estimators_reject_bad_data(case):
    sk = pytest.importorskip("convexnn.sklearn")
    X, y, name = BAD_DATA[case]
    labels = y if name == "'y'" else L0  # the classifier gets valid labels when X is bad
    for est, target in ((sk.ConvexReLURegressor(), y), (sk.ConvexReLUClassifier(), labels)):
        with pytest.raises((ValueError, TypeError)):
            est.fit(X, target)


# ---------------------------------------------------------------------- bad parameters
@pytest.mark.parametrize("beta", [0, 0.0, -1.0, np.nan, np.inf, -np.inf, "1", None, True, [1.0]])
def test_beta_must_be_positive_finite(beta):
    with pytest.raises((ValueError, TypeError)) as info:
        Problem(X0, Y0, beta=beta)
    assert_named_error(info, "'beta'")


@pytest.mark.parametrize("loss", ["l2", "", "Squared", None, 1, "hinge "])
def test_unknown_loss(loss):
    with pytest.raises(ValueError) as info:
        Problem(X0, Y0, loss=loss)
    assert_named_error(info, "'loss'")


@pytest.mark.parametrize("bias", ["yes", 1, None, 1.0])
def test_bias_must_be_bool(bias):
    with pytest.raises(TypeError) as info:
        Problem(X0, Y0, bias=bias)
    assert_named_error(info, "'bias'")


@pytest.mark.parametrize("loss", ["hinge", "logistic"])
@pytest.mark.parametrize(
    "labels",
    [np.where(L0 > 0, 1.0, 0.0), L0 + 1, L0 * 0.5, np.where(L0 > 0, 2.0, -1.0), np.arange(10.0)],
    ids=["0/1", "0/2", "+-0.5", "2/-1", "range"],
)
def test_binary_losses_reject_other_labels(loss, labels):
    with pytest.raises(ValueError) as info:
        Problem(X0, labels, loss=loss)
    assert_named_error(info, "'y'")


def test_vector_targets_only_for_squared():
    with pytest.raises(ValueError) as info:
        Problem(X0, np.column_stack([L0, L0]), loss="hinge")
    assert_named_error(info, "hinge")
    prob = Problem(X0, L0[:, None], loss="hinge")  # a single column is the scalar problem
    assert prob.y.shape == (10,)
    with pytest.raises(ValueError) as info:
        Problem(X0, np.zeros((10, 0)))
    assert_named_error(info, "'y'")


def test_solve_rejects_bad_problem_and_method():
    with pytest.raises(TypeError) as info:
        cnn.solve((X0, Y0))
    assert_named_error(info, "'problem'")
    prob = Problem(X0, Y0)
    for method in ("newton", "", None, "CVXPY"):
        with pytest.raises(ValueError) as info:
            cnn.solve(prob, method=method)
        assert_named_error(info, "'method'")


@pytest.mark.parametrize("method", list(METHODS))
def test_unknown_options_are_named(method):
    solver_or_skip(method)
    prob = Problem(X0[:, :1], Y0)
    with pytest.raises(TypeError) as info:
        cnn.solve(prob, method=method, definitely_not_an_option=1, **FAST[method])
    assert_named_error(info, "definitely_not_an_option")


BAD_OPTIONS = {
    "tol": [-1.0, 0.0, np.nan, "small"],
    "max_iter": [-5, 2.5, "10"],  # 0 is allowed where a solver says so (cutting plane)
    "time_limit": [-1.0, 0.0, np.nan, "1s"],
    "random_state": [-1, 1.5, "seed"],
    "width": [0, -3, 2.5],
    "n_steps": [0, 1.5],
    "lr": [0.0, -1.0, np.inf],
}


def option_pairs() -> list[tuple[str, str]]:
    """(method, option) for every option of BAD_OPTIONS that the method takes."""
    import inspect

    pairs = []
    for method in METHODS:
        try:
            accepted = set(inspect.signature(get_solver(method)).parameters)
        except ImportError:
            accepted = set(BAD_OPTIONS)  # reported as a skip by solver_or_skip
        pairs += [(method, option) for option in BAD_OPTIONS if option in accepted]
    return pairs


KNOWN_OPTION_BUGS = {}


def marked_option_pairs() -> list:
    return [
        pytest.param(*pair, marks=pytest.mark.xfail(strict=True, reason=KNOWN_OPTION_BUGS[pair]))
        if pair in KNOWN_OPTION_BUGS
        else pair
        for pair in option_pairs()
    ]


@pytest.mark.parametrize(("method", "option"), marked_option_pairs())
def test_bad_option_values_are_named(method, option):
    solver_or_skip(method)
    prob = Problem(X0[:, :1], Y0)
    for value in BAD_OPTIONS[option]:
        kwargs = {**FAST[method], option: value}
        with pytest.raises((ValueError, TypeError)) as info:
            cnn.solve(prob, method=method, **kwargs)
        assert_named_error(info, f"'{option}'")


def test_certify_rejects_bad_arguments():
    prob = Problem(X0, Y0)
    net = prob.zero_network()
    with pytest.raises(TypeError) as info:
        cnn.certify("problem", net)
    assert_named_error(info, "'problem'")
    with pytest.raises(TypeError) as info:
        cnn.certify(prob, "network")
    assert_named_error(info, "'network'")
    wrong = ReLUNetwork(np.ones((3, 1)), np.zeros(1), np.ones(1), 0.0)
    with pytest.raises(ValueError) as info:
        cnn.certify(prob, wrong)
    assert_named_error(info)
    with pytest.raises(ValueError) as info:
        cnn.certify(prob, net, oracle="psychic")
    assert_named_error(info, "'oracle'", "psychic")
    with pytest.raises((ValueError, TypeError)) as info:
        cnn.certify(prob, net, time_limit=-1)
    assert_named_error(info, "'time_limit'")


def test_network_rejects_bad_arrays():
    cases = [
        ((np.ones(3), None, np.ones(3)), "'U'"),
        ((np.ones((2, 3)), None, np.ones(4)), "'W'"),
        ((np.ones((2, 3)), np.ones(2), np.ones(3)), "'b'"),
        ((np.ones((2, 3)), None, np.ones(3), np.ones(2)), "'c'"),
        ((np.ones((2, 3)), None, np.ones((3, 2)), 1.0), "'c'"),
        ((np.full((2, 3), np.nan), None, np.ones(3)), "'U'"),
        ((np.ones((2, 3)), None, np.array(["a", "b", "c"])), "'W'"),
        ((None, None, np.ones(3)), "'U'"),
    ]
    for args, name in cases:
        with pytest.raises((ValueError, TypeError)) as info:
            ReLUNetwork(*args)
        assert_named_error(info, name)
    net = ReLUNetwork(np.ones((2, 3)), None, np.ones(3))
    for X in (np.ones((4, 3)), np.ones(2), np.array([[np.nan, 1.0]])):
        with pytest.raises(ValueError) as info:
            net.predict(X)
        assert_named_error(info, "'X'")


# ---------------------------------------------------------------------- odd but valid data
def with_bias_column(X):
    return np.hstack([X, np.ones((X.shape[0], 1))])


ODD_DATA = {
    "single-row": (X0[:1], Y0[:1], L0[:1]),
    "two-rows": (X0[:2], Y0[:2], np.array([1.0, -1.0])),
    "single-feature": (X0[:, :1], Y0, L0),
    "constant-targets": (X0, np.full(10, 3.0), np.ones(10)),
    "duplicated-rows": (np.vstack([X0[:5]] * 2), np.concatenate([Y0[:5]] * 2), np.tile(L0[:5], 2)),
    "conflicting-duplicates": (np.vstack([X0[:5]] * 2), Y0, L0),
    "collinear-columns": (np.column_stack([X0[:, 0], -2 * X0[:, 0]]), Y0, L0),
    "constant-column": (np.column_stack([X0[:, 0], np.full(10, 5.0)]), Y0, L0),
    "wild-feature-scales": (X0 * np.array([1e-6, 1e6]), Y0, L0),
    "zero-X": (np.zeros((10, 2)), Y0, L0),
}


def reference_optimum(prob: Problem) -> float:
    ref = cnn.solve(prob, method="cvxpy")
    assert ref.info["full_enumeration"]
    return ref.objective


def check_result(prob: Problem, res: Result, optimum: float, method: str, tol: float) -> None:
    assert isinstance(res, Result)
    scale = max(1.0, abs(optimum))
    assert np.isfinite(res.objective)
    assert res.objective == pytest.approx(prob.objective(res.network), rel=1e-9, abs=1e-12)
    assert np.all(np.isfinite(res.network.predict(prob.X)))
    assert res.lower_bound <= res.objective + 1e-9 * scale
    assert res.lower_bound <= optimum + 1e-7 * scale, f"{method}: lower bound above the optimum"
    assert res.objective >= optimum - 1e-6 * scale, f"{method}: objective below the optimum"
    if res.certified:
        assert res.objective <= optimum + tol * scale, f"{method}: certified but not optimal"


@pytest.mark.parametrize("case", ODD_DATA)
@pytest.mark.parametrize("loss", ["squared", "hinge"])
def test_odd_data_works_with_every_method(case, loss):
    X, y, labels = ODD_DATA[case]
    prob = Problem(X, y if loss == "squared" else labels, beta=0.1, loss=loss)
    optimum = reference_optimum(prob)
    for method in METHODS:
        try:
            solver = get_solver(method)
        except ImportError:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = solver(prob, **FAST[method])
            except ValueError as exc:
                # closed forms and loss-restricted methods may decline, with a named reason
                assert "\n" not in str(exc)
                assert method in ("closed_form", "reformulation"), f"{method}: {exc}"
                continue
        check_result(prob, res, optimum, method, tol=1e-4)


def test_single_class_labels_work():
    for loss in ("hinge", "logistic"):
        for label in (1.0, -1.0):
            prob = Problem(X0, np.full(10, label), beta=0.1, loss=loss)
            res = cnn.solve(prob, method="cvxpy")
            cert = cnn.certify(prob, res.network)
            assert cert.lower_bound <= res.objective + 1e-9
            if loss == "hinge":  # the offset alone reaches zero loss: optimum 0
                assert res.objective <= 1e-7
                assert res.certified


# ---------------------------------------------------------------------- equivalent encodings
ENCODINGS = {
    "list": lambda a: a.tolist(),
    "int64": lambda a: a.astype(np.int64),
    "int8": lambda a: a.astype(np.int8),
    "bool": lambda a: a > 0,
    "float32": lambda a: a.astype(np.float32),
    "F-order": np.asfortranarray,
    "strided": lambda a: np.repeat(a, 2, axis=0)[::2],
    "read-only": lambda a: np.frombuffer(a.tobytes(), dtype=a.dtype).reshape(a.shape),
    "pandas": lambda a: (
        pd.DataFrame(a, columns=[f"f{i}" for i in range(a.shape[1])])
        if a.ndim == 2
        else pd.Series(a, name="target")
    ),
    "pandas-int-index": lambda a: (pd.DataFrame(a) if a.ndim == 2 else pd.Series(a)).set_axis(
        np.arange(100, 100 + a.shape[0])
    ),
    "torch": torch.tensor,
}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_encodings_give_the_same_problem_and_solution(encoding):
    """Int, bool, float32, pandas, lists, torch: converted exactly, never silently altered."""
    base_X = np.round(X0 * 4)  # integral values so every encoding is exact
    base_y = np.round(Y0 * 4)
    enc = ENCODINGS[encoding]
    X_in, y_in = enc(base_X), enc(base_y)
    expected_X = np.asarray(base_X > 0 if encoding == "bool" else base_X, dtype=np.float64)
    expected_y = np.asarray(base_y > 0 if encoding == "bool" else base_y, dtype=np.float64)
    prob = Problem(X_in, y_in, beta=0.5)
    assert prob.X.dtype == np.float64 and prob.y.dtype == np.float64
    np.testing.assert_array_equal(prob.X, expected_X)
    np.testing.assert_array_equal(prob.y, expected_y)
    ref = Problem(expected_X, expected_y, beta=0.5)
    a = cnn.solve(prob, method="cvxpy", certify=False)
    b = cnn.solve(ref, method="cvxpy", certify=False)
    assert a.network == b.network and a.objective == b.objective
    if encoding in ("list", "pandas", "torch", "float32"):
        np.testing.assert_array_equal(a.network.predict(X_in), b.network.predict(expected_X))


def test_inputs_are_never_modified():
    X, y = X0.copy(), Y0.copy()
    df, s = pd.DataFrame(X.copy()), pd.Series(y.copy())
    Xt, yt = torch.tensor(X), torch.tensor(y)
    for args in ((X, y), (df, s), (Xt, yt)):
        prob = Problem(*args, beta=0.3)
        cnn.solve(prob, method="cvxpy", certify=False)
        cnn.certify(prob, prob.zero_network())
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, Y0)
    assert X.flags.writeable and y.flags.writeable
    np.testing.assert_array_equal(df.to_numpy(), X0)
    df.iloc[0, 0] = 1.0  # still writable
    assert torch.equal(Xt, torch.tensor(X0))


def test_float32_precision_is_kept_not_rounded():
    X32 = (X0 * 1.1).astype(np.float32)
    prob = Problem(X32, Y0)
    np.testing.assert_array_equal(prob.X, X32.astype(np.float64))
    assert prob.X.dtype == np.float64


# ---------------------------------------------------------------------- the command line
def cli_run(capsys, *argv: str) -> tuple[int, str, str]:
    cli = pytest.importorskip("convexnn.cli")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            code = cli.main(list(argv))
        except SystemExit as exc:  # argparse errors exit from parse_args
            code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_cli_error(code: int, err: str) -> None:
    assert code != 0
    lines = [line for line in err.splitlines() if line.startswith("convexnn:")]
    assert len(lines) == 1, err  # one error line (progress lines aside), no traceback
    assert lines[0].startswith("convexnn: error:"), lines[0]
    assert "internal error" not in lines[0] and "Traceback" not in err


def write_table(path, X, y, target="target") -> str:
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(np.shape(X)[1])])
    frame[target] = y
    frame.to_csv(path, index=False)
    return str(path)


BAD_TABLES = {
    "nan-cell": lambda: (np.where(np.eye(10, 2) > 0, np.nan, X0), Y0),
    "inf-cell": lambda: (np.where(np.eye(10, 2) > 0, np.inf, X0), Y0),
    "nan-target": lambda: (X0, np.where(np.arange(10) == 2, np.nan, Y0)),
    "text-column": lambda: (np.array([["a", "b"]] * 10, dtype=object), Y0),
}


@pytest.mark.parametrize("case", BAD_TABLES)
def test_cli_fit_rejects_bad_tables(case, tmp_path, capsys):
    X, y = BAD_TABLES[case]()
    data = write_table(tmp_path / "d.csv", X, y)
    model = tmp_path / "m.npz"
    code, _, err = cli_run(capsys, "fit", data, "--target", "target", "--out", str(model))
    assert_cli_error(code, err)
    assert not model.exists()  # nothing written on failure


def test_cli_fit_rejects_bad_files_and_arguments(tmp_path, capsys):
    data = write_table(tmp_path / "d.csv", X0, Y0)
    model = str(tmp_path / "m.npz")
    (tmp_path / "empty.csv").write_text("x0,x1,target\n")
    (tmp_path / "garbage.csv").write_bytes(b"\x00\xff\x00garbage\x01")
    cases = [
        ("fit", str(tmp_path / "absent.csv"), "--target", "target", "--out", model),
        ("fit", str(tmp_path / "empty.csv"), "--target", "target", "--out", model),
        ("fit", str(tmp_path / "garbage.csv"), "--target", "target", "--out", model),
        ("fit", data, "--target", "nope", "--out", model),
        ("fit", data, "--target", "target", "--features", "x9", "--out", model),
        ("fit", data, "--target", "target", "--loss", "hinge", "--out", model),  # not 2 classes
        ("fit", data, "--target", "target", "--out", str(tmp_path / "no-dir" / "m.npz")),
    ]
    missing_dir_message = None
    for argv in cases:
        code, _, err = cli_run(capsys, *argv)
        assert_cli_error(code, err)
        missing_dir_message = err
    assert "no-dir" in missing_dir_message and ".tmp-" not in missing_dir_message
    for bad in ("-1", "0", "nan", "inf", "abc"):
        code, _, err = cli_run(
            capsys, "fit", data, "--target", "target", "--out", model, "--beta", bad
        )
        assert code != 0 and len(err.strip().splitlines()) == 1 and "beta" in err, err
    code, _, err = cli_run(capsys, "fit", data, "--target", "target", "--out", model, "--bogus")
    assert code != 0 and len(err.strip().splitlines()) == 1 and "--bogus" in err, err
    assert not (tmp_path / "m.npz").exists()


def test_cli_predict_and_certify_reject_bad_models(tmp_path, capsys):
    data = write_table(tmp_path / "d.csv", X0, Y0)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 truncated zip")
    pickled = tmp_path / "pickled.npz"
    pickled.write_bytes(b"\x80\x04\x95" + b"\x00" * 20)  # a pickle header: never unpickled
    wrong = tmp_path / "wrong.npz"
    ReLUNetwork(np.ones((5, 2)), np.zeros(2), np.ones(2), 0.0).save(wrong)  # 5 features
    for model in (garbage, pickled, wrong, tmp_path / "absent.npz"):
        code, _, err = cli_run(capsys, "predict", str(model), data, "--target", "target")
        assert_cli_error(code, err)
        code, _, err = cli_run(capsys, "certify", str(model), data, "--target", "target")
        assert_cli_error(code, err)


@pytest.mark.parametrize("case", ["duplicated-rows", "wild-feature-scales", "single-feature"])
def test_cli_fit_works_on_odd_tables(case, tmp_path, capsys):
    X, y, _ = ODD_DATA[case]
    data = write_table(tmp_path / "d.csv", X, y)
    model = tmp_path / "m.npz"
    argv = ("fit", data, "--target", "target", "--out", str(model), "--quiet", "--beta", "0.1")
    code, out, err = cli_run(capsys, *argv, "--max-iter", "30")
    assert code == 0, err
    net = ReLUNetwork.load(model)
    prob = Problem(X, y, beta=0.1)
    cert = cnn.certify(prob, net)
    assert cert.lower_bound <= reference_optimum(prob) * (1 + 1e-7) + 1e-12
    code, out, err = cli_run(capsys, "predict", str(model), data, "--target", "target")
    assert code == 0, err
    predicted = pd.read_csv(__import__("io").StringIO(out)).to_numpy()[:, -1]
    np.testing.assert_allclose(predicted, net.predict(X), rtol=1e-6, atol=1e-9)
