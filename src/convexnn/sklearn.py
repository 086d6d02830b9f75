"""scikit-learn estimators: two-layer ReLU networks trained to a certified global optimum.

Both estimators minimize the weight-decay objective of ARCHITECTURE.md::

    L((X U + 1 b^T)_+ W + c; y) + (beta / 2)(||U||_F^2 + ||W||_F^2)

(biases ``b`` and offset ``c`` unregularized, present when ``bias=True``; losses are sums over
samples, not means) with a convexnn solver — by default the cutting-plane method, which stops
on a certified duality gap (Ergen & Pilanci, JMLR 2021, Algorithms 1 and 3) — and keep the
network and its :class:`~convexnn.Certificate`.

- :class:`ConvexReLURegressor` — squared loss, single and multi-output (Lemma 11);
- :class:`ConvexReLUClassifier` — binary (hinge or logistic on labels +-1, or squared on
  +-1), multi-class one-vs-rest (hinge, logistic) or squared loss on one-hot targets;
- :func:`beta_path` — the solutions over a grid of beta with warm starts.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._validation import (
    check_option,
    check_positive_int,
    check_positive_scalar,
    check_random_state,
)
from .network import ReLUNetwork
from .problem import Problem
from .result import Certificate, Neuron, Result
from .solvers import METHODS, get_solver

__all__ = ["ConvexReLUClassifier", "ConvexReLURegressor", "beta_path", "fit_problem"]

# Options every estimator forwards to the solver when the method accepts them.
_FORWARDED = ("tol", "max_iter", "time_limit", "random_state", "verbose")


# ---------------------------------------------------------------------- solving one problem
def _solver_parameters(method: str) -> set[str]:
    """Named keyword parameters of the solver behind ``method``."""
    params = inspect.signature(get_solver(method)).parameters.values()
    return {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def fit_problem(
    problem: Problem,
    method: str = "cutting_plane",
    *,
    init: ReLUNetwork | None = None,
    certify_time_limit: float | None = None,
    **options: Any,
) -> tuple[Result, Certificate]:
    """Solve ``problem`` with ``method`` and return ``(result, certificate)``.

    Options the solver does not take (e.g. ``max_iter`` for ``method='cvxpy'``) are dropped,
    so that the estimators can forward their common settings to any method. ``init`` (a
    network to warm-start from) is passed only to solvers that accept it. The certificate is
    the solver's own when it computed a sound one (``cvxpy``, ``cutting_plane``); otherwise
    :func:`convexnn.certify` is run on the network (never trusting a bound-free solver).
    """
    accepted = _solver_parameters(method)
    call = {k: v for k, v in options.items() if k in accepted and v is not None}
    if init is not None and "init" in accepted:
        call["init"] = init
    result = get_solver(method)(problem, **call)
    return result, _certificate(problem, result, method, certify_time_limit)


def _certificate(
    problem: Problem, result: Result, method: str, time_limit: float | None
) -> Certificate:
    own = result.info.get("certificate")
    if isinstance(own, Certificate):
        return own
    if method == "cutting_plane" and np.isfinite(result.lower_bound):
        # the cutting-plane lower bound is the dual value of an oracle-scaled dual vector
        last = result.info.get("last_oracle")
        worst = None
        if last is not None and getattr(last, "values", np.empty(0)).size:
            b = 0.0 if last.b is None else float(last.b[0])
            worst = Neuron(u=np.array(last.U[:, 0]), b=b, value=float(last.values[0]))
        return Certificate(
            objective=result.objective,
            lower_bound=result.lower_bound,
            gap=result.gap,
            exact=bool(result.info.get("exact", False)),
            worst_neuron=worst,
            oracle=str(result.info.get("oracle", "cutting_plane")),
            time=result.time,
        )
    from .certificate import certify

    return certify(problem, result.network, time_limit=time_limit)


def _combine(certificates: list[Certificate]) -> Certificate:
    """The certificate of a sum of independent problems (one-vs-rest): sums of objectives and
    of lower bounds (a sum of valid lower bounds bounds the separable sum's optimum)."""
    if len(certificates) == 1:
        return certificates[0]
    worst = max(
        (c for c in certificates if c.worst_neuron is not None),
        key=lambda c: abs(c.worst_neuron.value),
        default=None,
    )
    return Certificate(
        objective=float(sum(c.objective for c in certificates)),
        lower_bound=float(sum(c.lower_bound for c in certificates)),
        gap=float(sum(c.gap for c in certificates)),
        exact=all(c.exact for c in certificates),
        worst_neuron=None if worst is None else worst.worst_neuron,
        oracle=",".join(sorted({c.oracle for c in certificates})),
        time=float(sum(c.time for c in certificates)),
        max_violation=float(max(c.max_violation for c in certificates)),
    )


def _stack(nets: list[ReLUNetwork], bias: bool) -> ReLUNetwork:
    """One K-output network whose k-th block of neurons feeds output k only (one-vs-rest)."""
    U = np.hstack([n.U for n in nets])
    W = np.zeros((U.shape[1], len(nets)))
    start = 0
    for k, n in enumerate(nets):
        W[start : start + n.width, k] = n.W
        start += n.width
    b = np.concatenate([n.b for n in nets]) if bias else None
    c = np.array([float(n.c) for n in nets]) if bias else None
    return ReLUNetwork(U, b, W, c)


def _neurons(net: ReLUNetwork) -> int:
    """Neurons that change the function (nonzero output weight and activation)."""
    return net.pruned().width


# ---------------------------------------------------------------------- shared estimator body
class _ConvexReLU(BaseEstimator):
    _losses: tuple[str, ...] = ()

    def __init__(
        self,
        beta: float = 1.0,
        loss: str = "squared",
        bias: bool = True,
        method: str = "cutting_plane",
        tol: float = 1e-6,
        max_iter: int = 100,
        time_limit: float | None = None,
        random_state: Any = 0,
        verbose: bool = False,
        solver_options: dict | None = None,
    ) -> None:
        self.beta = beta
        self.loss = loss
        self.bias = bias
        self.method = method
        self.tol = tol
        self.max_iter = max_iter
        self.time_limit = time_limit
        self.random_state = random_state
        self.verbose = verbose
        self.solver_options = solver_options

    def _check_params(self) -> dict[str, Any]:
        """Validate the hyper-parameters (once, in ``fit``) and return the solver options."""
        check_positive_scalar(self.beta, "beta")
        check_option(self.loss, "loss", self._losses)
        if not isinstance(self.bias, (bool, np.bool_)):
            raise TypeError(f"The 'bias' parameter must be a bool, got {self.bias!r}.")
        check_option(self.method, "method", METHODS)
        check_positive_scalar(self.tol, "tol")
        check_positive_int(self.max_iter, "max_iter")
        if self.time_limit is not None:
            check_positive_scalar(self.time_limit, "time_limit")
        check_random_state(self.random_state)
        if self.solver_options is not None and not isinstance(self.solver_options, dict):
            raise TypeError(
                f"The 'solver_options' parameter must be a dict or None, got "
                f"{self.solver_options!r}."
            )
        options = {name: getattr(self, name) for name in _FORWARDED}
        options.update(self.solver_options or {})
        return options

    def _solve(self, X: np.ndarray, y: np.ndarray, loss: str, options: dict) -> tuple:
        problem = Problem(X, y, beta=self.beta, loss=loss, bias=bool(self.bias))
        return fit_problem(problem, self.method, certify_time_limit=self.time_limit, **options)

    def _set_fitted(self, network: ReLUNetwork, certificate: Certificate, n_iter: Any) -> None:
        self.network_ = network
        self.certificate_ = certificate
        self.n_neurons_ = _neurons(network)
        self.dual_gap_ = float(certificate.gap)
        self.n_iter_ = n_iter

    def _decision(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.network_.predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.time_limit is not None
        return tags


# ---------------------------------------------------------------------- regressor
class ConvexReLURegressor(RegressorMixin, _ConvexReLU):
    """Two-layer ReLU regression trained to a certified global optimum.

    Minimizes (squared loss, a sum over samples; Thm 8 of Ergen & Pilanci 2021)::

        1/2 ||(X U + 1 b^T)_+ W + c - Y||_F^2 + (beta / 2)(||U||_F^2 + ||W||_F^2)

    over networks of any width; ``b`` and ``c`` are unregularized (present when ``bias``).
    Multi-output targets Y (n, k) use the row-norm penalty of Lemma 11.

    Parameters
    ----------
    beta : float > 0
        Weight decay. The loss is a sum, so the regularization strength relative to the fit
        falls as n grows; standardize X and y (e.g. in a Pipeline) for comparable betas.
    loss : {'squared'}
        The regression loss.
    bias : bool
        Hidden biases and an output offset, both unregularized.
    method : str
        A :func:`convexnn.solve` method: ``'cutting_plane'`` (default; certified gap),
        ``'reformulation'``, ``'cvxpy'``, ``'closed_form'`` or ``'nonconvex'``.
    tol : float
        Target relative duality gap (passed to the solver).
    max_iter : int
        Iteration limit of the solver.
    time_limit : float or None
        Wall-clock limit in seconds (results then depend on the machine's speed).
    random_state : None, int or numpy Generator
        Seed of the solver's randomness.
    verbose : bool
        Print the solver's progress.
    solver_options : dict or None
        Extra method-specific options (e.g. ``{'oracle': 'local_search'}``).

    Attributes
    ----------
    network_ : ReLUNetwork
        The trained network.
    certificate_ : Certificate
        Objective, sound lower bound on the optimum, and their gap.
    n_neurons_ : int
        Neurons that contribute to the function.
    dual_gap_ : float
        ``certificate_.gap``: objective minus lower bound (0 = proven global optimum).
    n_iter_ : int
        Solver iterations.
    n_features_in_ : int
        Number of input features.

    Examples
    --------
    >>> from convexnn.datasets import load_diabetes
    >>> X, y = load_diabetes()
    >>> model = ConvexReLURegressor(beta=10.0).fit(X, y)  # doctest: +SKIP
    >>> model.dual_gap_ <= 1e-6 * model.certificate_.objective  # doctest: +SKIP
    True
    """

    _losses = ("squared",)

    def fit(self, X: Any, y: Any) -> ConvexReLURegressor:
        """Train on X (n, d) and y (n,) or (n, k); returns ``self``."""
        options = self._check_params()
        X, y = validate_data(
            self, X, y, multi_output=True, y_numeric=True, dtype=np.float64, ensure_min_samples=2
        )
        # a single-column Y is the scalar problem (Lemma 11 with k = 1 is the plain l1 form)
        self._column_target = y.ndim == 2 and y.shape[1] == 1
        target = y[:, 0] if self._column_target else y
        result, certificate = self._solve(X, target, self.loss, options)
        self._set_fitted(result.network, certificate, result.n_iter)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Network outputs: shape (n,) or (n, k) like the training targets."""
        F = self._decision(X)
        return F[:, None] if getattr(self, "_column_target", False) else F

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


# ---------------------------------------------------------------------- classifier
class ConvexReLUClassifier(ClassifierMixin, _ConvexReLU):
    """Two-layer ReLU classification trained to a certified global optimum.

    Binary problems minimize, with labels mapped to ``y_i`` in {-1, +1} (``classes_[1]`` is
    +1; Thm 10 and 13 of Ergen & Pilanci 2021)::

        sum_i l(y_i f(x_i)) + (beta / 2)(||U||_F^2 + ||W||_F^2),  f(x) = (U^T x + b)_+^T w + c

    with ``l(z) = max(0, 1 - z)`` (``loss='hinge'``), ``log(1 + exp(-z))`` (``'logistic'``)
    or ``1/2 (1 - z)^2`` (``'squared'``, i.e. ``1/2 ||f - y||^2``). With K > 2 classes,
    hinge and logistic train K one-vs-rest networks (the objective is the sum of the K binary
    objectives, and so are the certificate's bounds), and the squared loss fits one K-output
    network to one-hot targets (Thm 15; penalty of Lemma 11). ``b`` and ``c`` are
    unregularized (present when ``bias``).

    Parameters
    ----------
    beta : float > 0
        Weight decay (the losses are sums over samples).
    loss : {'hinge', 'logistic', 'squared'}
        ``predict_proba`` is available for ``'logistic'`` (the model's sigmoid; one-vs-rest
        probabilities normalized to sum to one).
    bias, method, tol, max_iter, time_limit, random_state, verbose, solver_options
        As in :class:`ConvexReLURegressor`.

    Attributes
    ----------
    classes_ : array of shape (K,)
        The class labels.
    network_ : ReLUNetwork
        Scalar output for two classes; K outputs (one per class) otherwise.
    certificate_ : Certificate
        Objective, sound lower bound and gap (summed over the one-vs-rest problems).
    n_neurons_, dual_gap_, n_iter_, n_features_in_
        As in :class:`ConvexReLURegressor`; ``n_iter_`` is an array (one per class) for
        one-vs-rest.
    """

    _losses = ("hinge", "logistic", "squared")

    def __init__(
        self,
        beta: float = 1.0,
        loss: str = "hinge",
        bias: bool = True,
        method: str = "cutting_plane",
        tol: float = 1e-6,
        max_iter: int = 100,
        time_limit: float | None = None,
        random_state: Any = 0,
        verbose: bool = False,
        solver_options: dict | None = None,
    ) -> None:
        super().__init__(
            beta=beta,
            loss=loss,
            bias=bias,
            method=method,
            tol=tol,
            max_iter=max_iter,
            time_limit=time_limit,
            random_state=random_state,
            verbose=verbose,
            solver_options=solver_options,
        )

    def fit(self, X: Any, y: Any) -> ConvexReLUClassifier:
        """Train on X (n, d) and class labels y (n,); returns ``self``."""
        options = self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        K = self.classes_.size
        if K < 2:
            raise ValueError(
                f"The classifier needs samples of at least 2 classes; got 1 class "
                f"({self.classes_[0]!r})."
            )
        if K == 2:
            result, cert = self._solve(X, np.where(codes == 1, 1.0, -1.0), self.loss, options)
            self._set_fitted(result.network, cert, result.n_iter)
        elif self.loss == "squared":
            onehot = (codes[:, None] == np.arange(K)).astype(np.float64)
            result, cert = self._solve(X, onehot, "squared", options)
            self._set_fitted(result.network, cert, result.n_iter)
        else:
            fits = [
                self._solve(X, np.where(codes == k, 1.0, -1.0), self.loss, options)
                for k in range(K)
            ]
            network = _stack([r.network for r, _ in fits], bool(self.bias))
            n_iter = np.array([r.n_iter for r, _ in fits])
            self._set_fitted(network, _combine([c for _, c in fits]), n_iter)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """``f(X)``: shape (n,) for two classes (positive means ``classes_[1]``), else (n, K)."""
        return self._decision(X)

    def predict(self, X: Any) -> np.ndarray:
        """Class labels: the sign of ``f`` (two classes) or its largest output."""
        F = self.decision_function(X)
        index = (F > 0).astype(int) if F.ndim == 1 else F.argmax(axis=1)
        return self.classes_[index]

    def _has_proba(self) -> bool:
        return self.loss == "logistic"

    @available_if(_has_proba)
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of the logistic model: ``sigmoid(f)`` (two classes), or the
        one-vs-rest sigmoids normalized to sum to one; shape (n, K)."""
        F = self.decision_function(X)
        if F.ndim == 1:
            p = expit(F)
            return np.column_stack([1.0 - p, p])
        P = expit(F)
        return P / P.sum(axis=1, keepdims=True)

    @available_if(_has_proba)
    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))


# ---------------------------------------------------------------------- regularization path
def beta_path(
    X: Any,
    y: Any,
    betas: Any,
    *,
    loss: str = "squared",
    bias: bool = True,
    method: str = "cutting_plane",
    warm_start: bool = True,
    **options: Any,
) -> list[Result]:
    """Solutions of the training problem for each beta in ``betas`` (a regularization path).

    The objective at each beta is ``L(f(X); y) + (beta/2)(||U||_F^2 + ||W||_F^2)``. The
    betas are solved from the largest (sparsest network) to the smallest; with
    ``warm_start`` each solve starts from the previous network when the solver accepts an
    ``init`` network (solvers without one start cold). Labels must already suit the loss
    ({-1, +1} for hinge and logistic).

    Returns one :class:`~convexnn.Result` per beta, in the order given, each with
    ``info['certificate']`` (a :class:`~convexnn.Certificate`) and ``info['beta']``.
    """
    betas_arr = np.asarray(betas, dtype=float)
    if betas_arr.ndim != 1 or betas_arr.size == 0:
        raise ValueError(f"The 'betas' parameter must be a non-empty 1-D list, got {betas!r}.")
    for value in betas_arr:
        check_positive_scalar(float(value), "betas")
    base = Problem(X, y, beta=float(betas_arr.max()), loss=loss, bias=bias)
    check_option(method, "method", METHODS)
    results: dict[int, Result] = {}
    previous = None
    for i in np.argsort(-betas_arr, kind="stable"):
        problem = base.with_beta(float(betas_arr[i]))
        result, cert = fit_problem(
            problem, method, init=previous if warm_start else None, **options
        )
        info = {**result.info, "certificate": cert, "beta": float(betas_arr[i])}
        results[int(i)] = Result(
            network=result.network,
            objective=result.objective,
            lower_bound=max(result.lower_bound, cert.lower_bound),
            gap=result.objective - max(result.lower_bound, cert.lower_bound),
            certified=result.certified,
            n_iter=result.n_iter,
            time=result.time,
            history=result.history,
            status=result.status,
            message=result.message,
            dual=result.dual,
            info=info,
        )
        previous = result.network
    return [results[i] for i in range(betas_arr.size)]
