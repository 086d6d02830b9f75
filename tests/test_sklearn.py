"""scikit-learn estimators: the contract (check_estimator), and the answers they give."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
from scipy.special import expit
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import convexnn as cnn
from convexnn.sklearn import ConvexReLUClassifier, ConvexReLURegressor, beta_path, fit_problem

# scikit-learn's generic checks fit on data up to 10-D, where each cutting-plane iteration
# costs an oracle call and a Lasso solve. The fast suite runs them with one iteration (the
# estimators' code paths are the same at any budget; the answers are tested below); the
# stress suite repeats them with more iterations and the logistic loss.
_ONE = {"max_iter": 1, "solver_options": {"polish": False, "oracle": "local_search"}}
_TWO = {"max_iter": 2}


@parametrize_with_checks([ConvexReLURegressor(**_ONE), ConvexReLUClassifier(**_ONE)])
def test_check_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cnn.ConvergenceWarning)
        check(estimator)


@pytest.mark.slow
@parametrize_with_checks(
    [
        ConvexReLURegressor(**_TWO),
        ConvexReLUClassifier(**_TWO),
        ConvexReLUClassifier(loss="logistic", **_TWO),
        ConvexReLUClassifier(loss="squared", **_TWO),
    ]
)
def test_check_estimator_stress(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cnn.ConvergenceWarning)
        check(estimator)


# ---------------------------------------------------------------------- answers
def _data_1d(seed: int, n: int = 20):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-2, 2, n))
    return x[:, None], np.sin(2 * x) + 0.1 * rng.standard_normal(n)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_regressor_reaches_the_exact_optimum(seed):
    X, y = _data_1d(seed)
    model = ConvexReLURegressor(beta=0.1).fit(X, y)
    prob = cnn.Problem(X, y, beta=0.1)
    reference = cnn.solve(prob, method="cvxpy")  # full arrangement: the global optimum
    assert model.certificate_.objective == pytest.approx(prob.objective(model.network_), 1e-12)
    assert model.certificate_.objective == pytest.approx(reference.objective, rel=1e-6)
    assert model.certificate_.lower_bound <= reference.objective * (1 + 1e-9)
    assert model.dual_gap_ <= 1e-6 * model.certificate_.objective
    assert model.n_neurons_ == model.network_.pruned().width >= 1
    assert model.n_iter_ >= 1
    np.testing.assert_array_equal(model.predict(X), model.network_.predict(X))


def test_regressor_multi_output():
    X, y = _data_1d(3, n=10)
    Y = np.column_stack([y, np.cos(X[:, 0])])
    model = ConvexReLURegressor(beta=0.5, max_iter=5).fit(X, Y)
    assert model.predict(X).shape == (10, 2)
    prob = cnn.Problem(X, Y, beta=0.5)
    assert model.certificate_.objective == pytest.approx(prob.objective(model.network_), 1e-12)
    assert model.certificate_.lower_bound <= model.certificate_.objective
    assert model.score(X, Y) > 0.5


@pytest.mark.parametrize("seed", [0, 1])
def test_binary_hinge_matches_reference_and_keeps_labels(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((14, 2))
    labels = np.where(X[:, 0] * X[:, 1] > 0, "yes", "no")
    model = ConvexReLUClassifier(beta=0.3).fit(X, labels)
    np.testing.assert_array_equal(model.classes_, ["no", "yes"])
    y = np.where(labels == "yes", 1.0, -1.0)  # classes_[1] is +1
    reference = cnn.solve(cnn.Problem(X, y, beta=0.3, loss="hinge"), method="cvxpy")
    assert model.certificate_.objective == pytest.approx(reference.objective, rel=1e-6)
    assert model.certificate_.lower_bound <= reference.objective * (1 + 1e-9)
    f = model.decision_function(X)
    assert f.shape == (14,)
    np.testing.assert_array_equal(model.predict(X), np.where(f > 0, "yes", "no"))
    assert not hasattr(model, "predict_proba")  # the hinge loss has no probabilities


def test_logistic_probabilities():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((16, 2))
    y = (X[:, 0] + 0.3 * rng.standard_normal(16) > 0).astype(int)
    model = ConvexReLUClassifier(beta=0.5, loss="logistic").fit(X, y)
    P = model.predict_proba(X)
    np.testing.assert_allclose(P[:, 1], expit(model.decision_function(X)), rtol=1e-12)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(model.predict_log_proba(X), np.log(P))
    prob = cnn.Problem(X, np.where(y == 1, 1.0, -1.0), beta=0.5, loss="logistic")
    assert model.certificate_.objective == pytest.approx(prob.objective(model.network_), 1e-12)


def test_multiclass_one_vs_rest_is_the_sum_of_binary_problems():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((15, 2))
    y = np.argmax(X @ np.array([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0]]), axis=1)
    model = ConvexReLUClassifier(beta=0.5).fit(X, y)
    F = model.decision_function(X)
    assert F.shape == (15, 3) and model.n_iter_.shape == (3,)
    total, lower = 0.0, 0.0
    for k in range(3):
        prob = cnn.Problem(X, np.where(y == k, 1.0, -1.0), beta=0.5, loss="hinge")
        result, cert = fit_problem(prob)
        total += cert.objective
        lower += cert.lower_bound
        block = cnn.ReLUNetwork(
            model.network_.U, model.network_.b, model.network_.W[:, k], model.network_.c[k]
        )
        np.testing.assert_allclose(block.predict(X), F[:, k], atol=1e-12)
    assert model.certificate_.objective == pytest.approx(total, rel=1e-9)
    assert model.certificate_.lower_bound == pytest.approx(lower, rel=1e-9)
    np.testing.assert_array_equal(model.predict(X), F.argmax(axis=1))
    assert model.score(X, y) >= 0.9


def test_multiclass_squared_one_hot():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((12, 1))
    y = np.digitize(X[:, 0], [-0.5, 0.5])
    model = ConvexReLUClassifier(beta=0.2, loss="squared", max_iter=5).fit(X, y)
    onehot = (y[:, None] == np.arange(3)).astype(float)
    prob = cnn.Problem(X, onehot, beta=0.2)
    assert model.network_.n_outputs == 3
    assert model.certificate_.objective == pytest.approx(prob.objective(model.network_), 1e-12)
    assert model.score(X, y) >= 0.9


def test_single_class_is_an_error():
    with pytest.raises(ValueError, match="at least 2 classes"):
        ConvexReLUClassifier().fit(np.ones((4, 2)), np.zeros(4))


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"beta": -1.0}, "'beta'"),
        ({"loss": "hinge"}, "'loss'"),
        ({"method": "adam"}, "'method'"),
        ({"tol": 0}, "'tol'"),
        ({"max_iter": 0}, "'max_iter'"),
        ({"time_limit": -2}, "'time_limit'"),
        ({"bias": "yes"}, "'bias'"),
        ({"solver_options": [1]}, "'solver_options'"),
    ],
)
def test_bad_parameters_are_named(params, name):
    X, y = _data_1d(0, n=6)
    with pytest.raises((ValueError, TypeError), match=name):
        ConvexReLURegressor(**params).fit(X, y)


def test_unfitted():
    with pytest.raises(NotFittedError):
        ConvexReLURegressor().predict(np.ones((2, 1)))


def test_grid_search_over_beta_in_a_pipeline():
    X, y = _data_1d(7, n=24)
    pipe = make_pipeline(StandardScaler(), ConvexReLURegressor())
    folds = KFold(3, shuffle=True, random_state=0)  # x is sorted: contiguous folds extrapolate
    search = GridSearchCV(pipe, {"convexreluregressor__beta": [0.03, 1.0, 30.0]}, cv=folds)
    search.fit(X, y)
    assert search.best_params_["convexreluregressor__beta"] in (0.03, 1.0)  # 30 underfits
    assert (
        search.best_estimator_[-1].dual_gap_
        <= 1e-6 * search.best_estimator_[-1].certificate_.objective
    )
    assert search.score(X, y) > 0.5


def test_beta_path_matches_independent_solves():
    X, y = _data_1d(8, n=15)
    betas = [0.3, 3.0, 0.03, 1.0]
    path = beta_path(X, y, betas)
    assert [r.info["beta"] for r in path] == betas
    objectives = []
    for beta, result in zip(betas, path):
        alone = cnn.solve(cnn.Problem(X, y, beta=beta))
        assert result.objective == pytest.approx(alone.objective, rel=1e-6)
        assert result.lower_bound <= result.objective
        assert result.relative_gap <= 1e-6
        objectives.append(result.objective)
    order = np.argsort(betas)
    assert np.all(np.diff(np.array(objectives)[order]) > 0)  # the optimum grows with beta


def test_beta_path_rejects_bad_betas():
    X, y = _data_1d(0, n=6)
    with pytest.raises(ValueError, match="'betas'"):
        beta_path(X, y, [1.0, -1.0])
    with pytest.raises(ValueError, match="'betas'"):
        beta_path(X, y, [])


def test_beta_path_warm_starts_from_the_previous_network(monkeypatch):
    import convexnn.sklearn as sk

    seen = []
    real = sk.get_solver

    def recording(method):
        solver = real(method)

        def wrapped(problem, **options):
            seen.append((problem.beta, options.get("init")))
            return solver(problem, **options)

        wrapped.__signature__ = inspect.signature(solver)
        return wrapped

    monkeypatch.setattr(sk, "get_solver", recording)
    X, y = _data_1d(9, n=12)
    path = beta_path(X, y, [0.1, 1.0])
    assert [beta for beta, _ in seen] == [1.0, 0.1]  # largest beta first
    assert seen[0][1] is None and seen[1][1] is path[1].network
    assert beta_path(X, y, [0.1, 1.0], warm_start=False)[0].objective == pytest.approx(
        path[0].objective, rel=1e-6
    )
