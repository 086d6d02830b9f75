"""The convex reformulation over sampled gates: convexnn against CVXPY + Clarabel, scnn, Adam.

Every solver gets the same sign patterns ``D = 1[[X, 1] G >= 0]`` from the same Gaussian gates
G. The program (NOTES §5, the CVXPY reference's), peers' scaling ``1/(2n)||.||^2 + lambda sum
||.||`` with ``lambda = 1e-3``, i.e. our squared loss with ``beta = n lambda``::

    min 1/2 ||sum_p D_p X~ (v_p - w_p) + c - y||^2 + beta sum_p (||v_p[:d]|| + ||w_p[:d]||)
    s.t. (2 D_p - I) X~ v_p >= 0, (2 D_p - I) X~ w_p >= 0      (ReLU)

and, gated (no cones), the penalty on the whole block, bias coordinate included:
``beta sum_p (||v_p|| + ||w_p||)``.

Columns: the objective as evaluated here (ReLU: ``Problem.objective`` of the network recovered
from the returned blocks; gated: the gated program's value from the returned blocks), its
relative difference to Clarabel's, the largest cone-constraint violation recomputed from the
returned blocks, wall time (best run; convexnn and Clarabel interleaved, up to 7 rounds until
one of them took 10 s in all; scnn alone by the same rule: :func:`measure`), peak resident
memory above the start (sampled every 2 ms by a separate process), and time over convexnn's
time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np

import convexnn as cnn
from convexnn.solvers._common import recover_network
from convexnn.solvers.cvxpy_reference import solve_scalar_program
from convexnn.solvers.reformulation import solve_reformulation

LAMBDA = 1e-3
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


# ---------------------------------------------------------------- data and gates
def diabetes() -> tuple[np.ndarray, np.ndarray]:
    """Training split (353 rows) of scikit-learn's diabetes, standardized."""
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split

    X, y = load_diabetes(return_X_y=True)
    X, _, y, _ = train_test_split(X, y, test_size=0.2, random_state=0)
    return _standardize(X), (y - y.mean()) / y.std()


def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's breast cancer (569 x 30), standardized, labels +-1 (squared loss)."""
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    return _standardize(X), 2.0 * y - 1.0


def synthetic(n: int = 20_000, d: int = 50, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian inputs, targets of a random 10-neuron ReLU teacher plus noise, standardized."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    U = rng.standard_normal((d, 10)) / np.sqrt(d)
    y = np.maximum(X @ U + 0.1, 0.0) @ rng.standard_normal(10) + 0.1 * rng.standard_normal(n)
    return X, (y - y.mean()) / y.std()


def _standardize(X: np.ndarray) -> np.ndarray:
    s = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(s > 0, s, 1.0)


def gates(X: np.ndarray, P: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian gates G (d+1, P) on ``X~ = [X, 1]`` with distinct nonzero patterns, and D."""
    rng = np.random.default_rng(seed)
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    G = rng.standard_normal((A.shape[1], 4 * P))
    D = A @ G >= 0
    keep = D.any(axis=0)
    _, first = np.unique(np.packbits(D[:, keep], axis=0).T, axis=0, return_index=True)
    idx = np.flatnonzero(keep)[np.sort(first)][:P]
    return G[:, idx], D[:, idx]


# ---------------------------------------------------------------- independent evaluation
def relu_value(prob: cnn.Problem, D: np.ndarray, pos: np.ndarray, neg: np.ndarray):
    """(objective of the recovered network, max cone violation) from the blocks."""
    A = prob.X_aug
    S = 2.0 * D - 1.0
    viol = max(float(np.max(-(S * (A @ B)), initial=0.0)) for B in (pos, neg))
    F = np.sum(D * (A @ (pos - neg)), axis=1)
    c = float(np.mean(prob.y - F)) if prob.bias else None
    return prob.objective(recover_network(prob, pos, neg, c)), viol


def gated_value(prob: cnn.Problem, D: np.ndarray, pos: np.ndarray, neg: np.ndarray):
    """(gated program value with the best offset, 0.0); whole blocks penalized, bias row too."""
    A = prob.X_aug
    F = np.sum(D * (A @ (pos - neg)), axis=1)
    r = F - prob.y
    if prob.bias:
        r = r - r.mean()
    pen = np.linalg.norm(pos, axis=0).sum() + np.linalg.norm(neg, axis=0).sum()
    return 0.5 * float(r @ r) + prob.beta * float(pen), 0.0


class PeakRSS:
    """Peak resident memory (MB) above the value at entry, sampled every 2 ms by a separate
    process reading ``/proc/<pid>/statm`` (a sampling thread competes for the GIL with solvers
    that release it around every operation, as torch's and numpy's do: measured +5% on the best
    and +10% on the median of 8 runs of convexnn's 0.2 s solve). Elsewhere than Linux: the
    (monotone) peak of the process."""

    def __enter__(self) -> PeakRSS:
        self.base = self.peak = _rss()
        self._poller = None
        if os.path.exists(f"/proc/{os.getpid()}/statm"):
            self._poller = subprocess.Popen(
                [sys.executable, "-c", _POLLER, str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            self._poller.stdout.readline()  # "ready"
        return self

    def __exit__(self, *exc) -> None:
        if self._poller is not None:
            out, _ = self._poller.communicate("stop\n")
            self.peak = max(self.peak, int(out.split()[-1]) * PAGE)
        self.peak = max(self.peak, _rss())

    @property
    def mb(self) -> float:
        return (self.peak - self.base) / 2**20


_POLLER = """
import select, sys
path, peak = f"/proc/{sys.argv[1]}/statm", 0
print("ready", flush=True)
while not select.select([sys.stdin], [], [], 0.002)[0]:
    with open(path) as f:
        peak = max(peak, int(f.read().split()[1]))
print(peak, flush=True)
"""


def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:  # not Linux: fall back to the (monotone) peak of the process
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---------------------------------------------------------------- solvers
@dataclass
class Row:
    solver: str
    objective: float
    violation: float
    time: float
    memory: float
    note: str = ""


REPEATS, BUDGET = 7, 10.0


def measure(*solvers) -> list[Row]:
    """Rows of ``solvers``, pairs ``(solve, row)`` (``solve()`` returns a result, ``row(result,
    seconds, megabytes)`` its Row), timed in interleaved rounds: every solver runs once per
    round, for up to ``REPEATS`` rounds until the runs of one of them took ``BUDGET`` seconds
    in all; each is timed by its best run (the same rule and the same stretch of time for the
    solvers compared: this machine's speed drifted by 25-60% within minutes, and one-off start-up
    costs inflate single short runs). A 4 s solve runs 3 times, a 0.2 s one alone 7 times, a
    20 s one once."""
    k = len(solvers)
    out, best, spent, peak = [None] * k, [float("inf")] * k, [0.0] * k, [0.0] * k
    for _ in range(REPEATS):
        for i, (solve, _) in enumerate(solvers):
            with PeakRSS() as mem:
                start = time.perf_counter()
                out[i] = solve()
                elapsed = time.perf_counter() - start
            best[i] = min(best[i], elapsed)
            spent[i] += elapsed
            peak[i] = max(peak[i], mem.mb)
        if max(spent) >= BUDGET:
            break
    return [row(out[i], best[i], peak[i]) for i, (_, row) in enumerate(solvers)]


def convexnn_solver(prob, D, gated):
    def solve():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return solve_reformulation(prob, patterns=D, gated=gated)

    def row(res, seconds, mb) -> Row:
        pos, neg = res.info["blocks"][0]
        value, viol = (gated_value if gated else relu_value)(prob, D, pos, neg)
        note = f"{res.n_iter} it, {res.status}"
        if not gated:
            note += f", gap {res.info['duality_gap']:.0e}"
        return Row("convexnn", value, viol, seconds, mb, note)

    return solve, row


def clarabel_solver(prob, D, gated):
    def solve():
        return solve_scalar_program(prob, prob.y, D, solver="CLARABEL", gated=gated, verbose=False)

    def row(out, seconds, mb) -> Row:
        pos, neg, _, _, status = out
        value, viol = (gated_value if gated else relu_value)(prob, D, pos, neg)
        return Row("CVXPY + Clarabel", value, viol, seconds, mb, status)

    return solve, row


def run_scnn(prob, G, D, gated) -> Row | None:
    """scnn on ``X~`` (ones column appended, no separate bias): same patterns; its penalty
    also covers the bias coordinate (ours too, gated; not in the ReLU program) and it has no
    free offset ``c``, so its program differs slightly from ours."""
    try:
        from scnn.metrics import Metrics
        from scnn.models import ConvexGatedReLU, ConvexReLU
        from scnn.optimize import optimize_model
        from scnn.regularizers import NeuronGL1
        from scnn.solvers import AL, RFISTA
    except ImportError:
        return None
    A = prob.X_aug
    lam = prob.beta / prob.n_samples

    def solve():
        model = ConvexGatedReLU(G) if gated else ConvexReLU(G)
        solver = RFISTA(model) if gated else AL(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return optimize_model(
                model,
                solver,
                Metrics(),
                A,
                prob.y[:, None],
                regularizer=NeuronGL1(lam),
                unitize_data=False,
                dtype="float64",
                return_convex=True,
            )[0]

    def row(model, seconds, mb) -> Row:
        params = model.parameters
        if gated:
            pos, neg = params[0][0].T, np.zeros_like(params[0][0].T)
        else:
            pos, neg = params[0][0].T, params[1][0].T
        # evaluate with the patterns of the model scnn returns (measured to differ from the
        # patterns of the gates it was given)
        D_scnn = model.compute_activations(A) > 0
        value, viol = (gated_value if gated else relu_value)(prob, D_scnn, pos, neg)
        differ = int(np.sum(np.any(D_scnn != D, axis=0)))
        note = f"{differ} of its {D.shape[1]} returned patterns differ from ours" if differ else ""
        name = "scnn (" + ("R-FISTA" if gated else "AL") + ")"
        return Row(name, value, viol, seconds, mb, note)

    return measure((solve, row))[0]


def run_adam(prob, target: float, time_limit: float, width: int) -> Row | None:
    try:
        from convexnn.solvers.nonconvex import solve_nonconvex  # noqa: F401
    except ImportError:
        return None
    with PeakRSS() as mem:
        start = time.perf_counter()
        res = cnn.solve(
            prob,
            method="nonconvex",
            width=width,
            optimizer="adam",
            lr=1e-2,
            n_steps=10**7,
            time_limit=time_limit,
            target_objective=target,
            random_state=0,
        )
        elapsed = time.perf_counter() - start
    value = prob.objective(res.network)
    reached = value <= target
    note = "reached convexnn's objective" if reached else f"best after {time_limit:.0f} s limit"
    return Row(f"Adam (width {width}, lr 1e-2)", value, 0.0, elapsed, mem.mb, note)


# ---------------------------------------------------------------- the report
def instances(quick: bool) -> list[tuple[str, callable, int, bool]]:
    """(name, data, gates, run CVXPY)."""
    out = [("diabetes 353x10", diabetes, 100, True)]
    if not quick:
        out += [
            ("diabetes 353x10", diabetes, 1000, True),
            ("breast cancer 569x30", breast_cancer, 100, True),
            ("synthetic 20000x50", synthetic, 20, False),
        ]
    return out


def run(quick: bool) -> str:
    lines = [
        "## Convex reformulation over sampled gates (`bench_reformulation`)",
        "",
        __doc__.split("\n\n", 1)[1].strip(),
        "",
        "| instance | program | solver | objective | rel. to Clarabel | max violation "
        "| time (s) | peak MB | time / convexnn | note |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for name, data, P, with_cvxpy in instances(quick):
        X, y = data()
        prob = cnn.Problem(X, y, beta=X.shape[0] * LAMBDA, loss="squared", bias=True)
        G, D = gates(X, P)
        for gated in (False, True):
            solvers = [convexnn_solver(prob, D, gated)]
            if with_cvxpy:
                solvers.append(clarabel_solver(prob, D, gated))
            elif not gated:
                notes.append(
                    f"{name}: CVXPY + Clarabel skipped ({2 * D.shape[1] * X.shape[0]:,} cone "
                    "constraints; it would take far more than a few minutes)."
                )
            rows = measure(*solvers)
            if not quick:
                scnn_row = run_scnn(prob, G, D, gated)
                if scnn_row is None:
                    notes.append("scnn not importable (`pip install pyscnn`): skipped.")
                else:
                    rows.append(scnn_row)
            if not gated and (not quick or name.startswith("diabetes")):
                adam = run_adam(prob, rows[0].objective, 10.0 if quick else 60.0, 100)
                if adam is not None:
                    rows.append(adam)
            ref = next((r.objective for r in rows if r.solver.startswith("CVXPY")), None)
            base = rows[0].time
            for r in rows:
                rel = "" if ref is None else f"{(r.objective - ref) / abs(ref):+.1e}"
                lines.append(
                    f"| {name}, {D.shape[1]} gates | {'gated' if gated else 'ReLU'} | {r.solver} "
                    f"| {r.objective:.10g} | {rel} | {r.violation:.1e} | {r.time:.3g} "
                    f"| {r.memory:.0f} | {r.time / base:.3g} | {r.note} |"
                )
                print(lines[-1], flush=True)  # progress: rows as they are measured
    notes.append(
        "scnn solves its own variant (`X~` with a ones column and no free offset `c`; in the "
        "ReLU program its penalty also covers the bias coordinate), evaluated here on our "
        "objective; Adam trains the nonconvex network (a different problem: the restricted "
        "program's optimum is above the training optimum)."
    )
    lines += [""] + [f"- {n}" for n in dict.fromkeys(notes)]
    return "\n".join(lines) + "\n"
