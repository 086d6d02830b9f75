"""Table 1: least squares vs backpropagation vs the convex (cutting-plane) method, and
Convex-RF (Algorithm 2) on images.

Paper (Table 1, Appendix 8): one-layer least squares, a two-layer network trained by
backpropagation and the same network trained by the convex cutting-plane method (same width,
weight decay for all), on MNIST and CIFAR-10 (accuracy) and six regression sets (test error);
the convex method is best everywhere, and Convex-RF lifts image accuracy further.

Here (bundled or generated data only): scikit-learn's digits for the image column (accuracy,
one-hot squared loss), diabetes (bundled) and Friedman #1 and #3 (generated) for the
regression columns (test error = mean squared error on targets standardized with training
statistics). Backprop is ``method="nonconvex"`` (Adam) at the width the convex method found;
the convex column is ``method="cutting_plane"`` under a time limit (on digits one scalar fit
per class, stacked). Training objectives are evaluated independently with
``Problem.objective``; the cutting plane's lower bounds are sound certificates.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..network import ReLUNetwork
from ..problem import Problem
from ..result import Result
from ..solvers import solve
from ..solvers.cvxpy_reference import _stack_outputs
from ._common import Claim, Outcome, Stopwatch, fmt, new_figure, save_figure
from .convex_rf import fit_convex_rf

TITLE = "Table 1: least squares vs backprop vs convex (and Convex-RF)"

#: the paper's Table 1 (accuracy % for images, test error for regression)
PAPER = {
    "MNIST": {"LS": "86.04%", "Backprop": "96.25%", "Convex": "96.94%", "Convex-RF": "97.72%"},
    "Boston": {"LS": "0.3490", "Backprop": "0.1612", "Convex": "0.1492"},
    "California": {"LS": "0.8158", "Backprop": "0.8101", "Convex": "0.6344"},
}


def config(quick: bool) -> dict:
    if quick:
        return dict(
            digits=(150, 300),
            regression_n=150,
            time_limit=2.0,
            n_steps=1000,
            max_iter=10,
            n_patches=50,
        )
    return dict(
        digits=(600, 600),
        regression_n=400,
        time_limit=30.0,
        n_steps=6000,
        max_iter=60,
        n_patches=300,
    )


def _standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu, sd = train.mean(axis=0), train.std(axis=0)
    sd = np.where(sd == 0, 1.0, sd)
    return (train - mu) / sd, (test - mu) / sd


def regression_sets(n: int, seed: int) -> dict[str, tuple]:
    """``name -> (X_train, y_train, X_test, y_test)``, standardized with training statistics."""
    from sklearn.datasets import load_diabetes, make_friedman1, make_friedman3

    rng = np.random.default_rng(seed)
    raw = {"diabetes": load_diabetes(return_X_y=True)}
    raw["friedman1"] = make_friedman1(n_samples=2 * n, noise=1.0, random_state=seed)
    raw["friedman3"] = make_friedman3(n_samples=2 * n, noise=0.1, random_state=seed)
    sets = {}
    for name, (X, y) in raw.items():
        order = rng.permutation(len(y))
        cut = int(0.75 * len(y)) if name == "diabetes" else n
        tr, te = order[:cut], order[cut:]
        X_tr, X_te = _standardize(X[tr], X[te])
        y_tr, y_te = _standardize(y[tr], y[te])
        sets[name] = (X_tr, y_tr, X_te, y_te)
    return sets


def digits_set(n_train: int, n_test: int, seed: int) -> tuple:
    """Digits images (n, 8, 8), standardized pixel features, one-hot and labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.target))
    tr, te = order[:n_train], order[n_train : n_train + n_test]
    X_tr, X_te = _standardize(digits.data[tr], digits.data[te])
    images = digits.images / 16.0
    return X_tr, X_te, images[tr], images[te], digits.target[tr], digits.target[te]


def _least_squares(X: np.ndarray, y: np.ndarray, X_test: np.ndarray) -> np.ndarray:
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    coef = np.linalg.lstsq(A, y, rcond=None)[0]
    return np.hstack([X_test, np.ones((X_test.shape[0], 1))]) @ coef


def _convex(problem: Problem, cfg: dict, seed: int) -> Result:
    """The cutting-plane fit under the configured limits (scalar outputs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return solve(
            problem,
            method="cutting_plane",
            tol=1e-6,
            max_iter=cfg["max_iter"],
            time_limit=cfg["time_limit"],
            random_state=seed,
        )


def _convex_one_vs_rest(problem: Problem, cfg: dict, seed: int) -> ReLUNetwork:
    """One cutting-plane fit per output column, stacked into one vector-output network.

    Each neuron serves one output, so the stacked network's objective on the vector problem
    is the sum of the per-column objectives: a restriction of Lemma 11's shared-neuron
    problem (the vector-output master is too slow at this size).
    """
    nets = [
        _convex(Problem(problem.X, y, beta=problem.beta, bias=problem.bias), cfg, seed).network
        for y in problem.y.T
    ]
    return _stack_outputs(nets, problem.bias)


def _backprop(problem: Problem, width: int, cfg: dict, seed: int) -> Result:
    return solve(
        problem,
        method="nonconvex",
        width=max(width, 10),
        optimizer="adam",
        lr=1e-3,
        n_steps=cfg["n_steps"],
        random_state=seed,
        log_every=50,
    )


def run(out_dir: Path, quick: bool = False, *, beta: float = 1.0, seed: int = 0) -> Outcome:
    """Fill the table on digits and the regression sets."""
    cfg = config(quick)
    clock = Stopwatch()
    rows: dict[str, dict[str, float]] = {}
    train: dict[str, dict] = {}
    # ------------------------------------------------------------ digits (accuracy)
    X_tr, X_te, img_tr, img_te, lab_tr, lab_te = digits_set(*cfg["digits"], seed)
    Y_tr = np.eye(10)[lab_tr]
    problem = Problem(X_tr, Y_tr, beta=beta, loss="squared", bias=True)
    convex = _convex_one_vs_rest(problem, cfg, seed)
    backprop = _backprop(problem, convex.width, cfg, seed)
    rf = fit_convex_rf(img_tr, Y_tr, n_patches=cfg["n_patches"], beta=beta, seed=seed)
    rows["digits"] = {
        "LS": _accuracy(_least_squares(X_tr, Y_tr, X_te), lab_te),
        "Backprop": _accuracy(backprop.network.predict(X_te), lab_te),
        "Convex": _accuracy(convex.predict(X_te), lab_te),
        "Convex-RF": _accuracy(rf.predict(img_te), lab_te),
    }
    train["digits"] = {
        "convex_objective": problem.objective(convex),
        "convex_width": convex.width,
        "convex_lower_bound": -np.inf,
        "convex_status": "one-vs-rest",
        "backprop_objective": backprop.objective,
        "width": backprop.network.width,
        "rf_filters": int(rf.U.shape[1]),
    }
    # ------------------------------------------------------------ regression (test MSE)
    for name, (X, y, Xt, yt) in regression_sets(cfg["regression_n"], seed).items():
        problem = Problem(X, y, beta=beta, loss="squared", bias=True)
        convex = _convex(problem, cfg, seed)
        backprop = _backprop(problem, convex.network.width, cfg, seed)
        rows[name] = {
            "LS": _mse(_least_squares(X, y, Xt), yt),
            "Backprop": _mse(backprop.network.predict(Xt), yt),
            "Convex": _mse(convex.network.predict(Xt), yt),
        }
        train[name] = {
            "convex_objective": convex.objective,
            "convex_width": convex.network.width,
            "convex_lower_bound": convex.lower_bound,
            "convex_status": convex.status,
            "backprop_objective": backprop.objective,
            "width": backprop.network.width,
        }
    figures = [_plot(rows, out_dir)]
    return Outcome(
        name="table1",
        title=TITLE,
        claims=_claims(rows, train, beta),
        figures=figures,
        time=clock.elapsed,
        quick=quick,
        metrics={"test": rows, "train": train, "beta": beta},
    )


def _mse(f: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((f - y) ** 2))


def _accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(scores, axis=1) == labels))


def _plot(rows: dict, out_dir: Path) -> Path:
    fig, axes = new_figure(ncols=len(rows), width=3.2)
    for k, (name, row) in enumerate(rows.items()):
        ax = axes[0, k]
        ax.bar(list(row), list(row.values()), color=["gray", "tab:orange", "tab:blue", "tab:green"])
        ax.set_title(f"{name} ({'accuracy' if name == 'digits' else 'test MSE'})")
        ax.tick_params(axis="x", labelrotation=30)
    return save_figure(fig, out_dir, "table1")


def _claims(rows: dict, train: dict, beta: float) -> list[Claim]:
    claims = []
    for name, rec in train.items():
        lower = rec["convex_lower_bound"]
        best = min(rec["convex_objective"], rec["backprop_objective"])
        claims.append(
            Claim(
                statement=f"{name}: convex training objective <= backprop's (same width, beta)",
                paper="convex optimizes the same objective globally (Table 1 setting)",
                measured=(
                    f"convex {fmt(rec['convex_objective'])} ({rec['convex_status']}, width "
                    f"{rec['convex_width']}), backprop {fmt(rec['backprop_objective'])}"
                ),
                holds=bool(rec["convex_objective"] <= rec["backprop_objective"] * (1 + 1e-6)),
                note=f"beta = {beta:g}; the cutting plane runs under a time limit with a "
                "heuristic oracle (no exact oracle in these dimensions)",
                guaranteed=False,
            )
        )
        if np.isfinite(lower):
            claims.append(
                Claim(
                    statement=f"{name}: the certified lower bound is below every network",
                    paper="weak duality (Thm 1, 8)",
                    measured=f"lower bound {fmt(lower)} <= best objective {fmt(best)}",
                    holds=bool(lower <= best),
                )
            )
    d = rows["digits"]
    claims.append(
        Claim(
            statement="images: Convex >= Backprop >= LS accuracy; Convex-RF highest",
            paper="MNIST: LS 86.04%, Backprop 96.25%, Convex 96.94%, Convex-RF 97.72%",
            measured="digits: " + ", ".join(f"{k} {100 * v:.2f}%" for k, v in d.items()),
            holds=bool(d["Convex"] >= d["Backprop"] >= d["LS"] and d["Convex-RF"] >= d["Convex"]),
            note="digits (8x8, bundled) instead of MNIST; Convex fits one network per class; "
            "a few hundred Convex-RF filters instead of 40k",
            guaranteed=False,
        )
    )
    for name in (k for k in rows if k != "digits"):
        r = rows[name]
        claims.append(
            Claim(
                statement=f"{name}: convex test error lowest",
                paper="Boston: LS 0.349, Backprop 0.161, Convex 0.149 (and 5 more sets)",
                measured=", ".join(f"{k} {v:.4f}" for k, v in r.items()),
                holds=bool(r["Convex"] <= min(r["Backprop"], r["LS"])),
                note="bundled/generated set instead of the paper's (no downloads)",
                guaranteed=False,
            )
        )
    return claims
