"""The cutting-plane method: global training with a certified duality gap (the default solver).

Objective (ARCHITECTURE.md)::

    min_{U, b, W, c}  L((X U + 1 b^T)_+ W + c; y) + (beta / 2)(||U||_F^2 + ||W||_F^2)

Algorithm 1 of the paper (Algorithm 3 with bias; NOTES §4), with the dual constraint of
Thm 1/8/13 ``|v^T (X u + b 1)_+| <= beta`` checked by an oracle:

1. start from the dual vector of the zero network (best offset), ``v = -grad L``;
2. the oracle returns neurons maximizing ``|v^T (Xu + b1)_+|`` and a sound upper bound ``M``
   on that maximum; ``certificate.dual_lower_bound(problem, v, M)`` scales ``v`` into the
   dual feasible set, which gives a valid lower bound on the optimum at every iteration;
3. the violating neurons (both signs, several per iteration) join the dictionary, the master
   problem (:mod:`convexnn.solvers.master`: Lasso, l1-SVM, l1-logistic, group Lasso) is
   re-solved warm-started over it, and its dual vector is the next ``v``;
4. stop when the relative certified gap ``(objective - lower bound) / objective <= tol``.

On general data the oracle is a heuristic with a loose (but sound) bound, so the loop also
*polishes* the current neurons: L-BFGS steps on the nonconvex objective starting at the
master's network, whose refined neurons replace the active ones in the dictionary before the
master is re-solved (warm-started at the polished weights). The first dictionary also gets
random neurons through data points (Algorithm 2's random features). This only changes which
neurons the master sees; the lower bound still comes from the oracle alone.
"""

from __future__ import annotations

import inspect
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .._validation import (
    check_no_kwargs,
    check_option,
    check_positive_int,
    check_positive_scalar,
    check_random_state,
)
from ..network import ReLUNetwork
from ..problem import Problem
from ..result import Result
from ._common import ConvergenceWarning, Timer, finish
from .line_gram import LineGram
from .master import FeatureBuffer, GramCache, MasterSolution, features, solve_master


class _Dictionary:
    """The master problem's neurons: unit-norm ``u_j`` (columns of U), biases ``b_j``, and
    their features ``(X u_j + b_j)_+``: dense, with a Gram cache for the squared loss; for
    the squared and hinge losses on 1-D inputs never formed, the masters working on sums over
    the segments of the sorted data (:class:`~convexnn.solvers.line_gram.LineGram`)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.U = np.zeros((problem.n_features, 0))
        self.b = np.zeros(0)
        k = problem.n_outputs
        self.W = np.zeros((0,) if k is None else (0, k))
        self.c: Any = None  # the last master solution's offset (a warm start for the next)
        self.squared = problem.loss.name == "squared"
        self.cache: GramCache | LineGram | None = None
        self.buffer: FeatureBuffer | None = None
        if problem.loss.name in ("squared", "hinge") and LineGram.applies(problem):
            self.cache = LineGram(problem)
        elif self.squared:
            self.cache = GramCache(problem.y, problem.bias)
        else:
            self.buffer = FeatureBuffer(problem.n_samples)

    @property
    def size(self) -> int:
        return self.U.shape[1]

    def add(self, U: np.ndarray, b: np.ndarray | None, W: np.ndarray | None = None) -> int:
        """Add neurons (normalized to unit ``u``, with initial l1-form weights ``W`` for a warm
        start, default 0); near-duplicates, ``u = 0`` and neurons dead on every sample are
        skipped. Returns the number added."""
        d = self.problem.n_features
        U = np.asarray(U, dtype=float).reshape(d, -1)
        b = np.zeros(U.shape[1]) if b is None or not self.problem.bias else np.asarray(b, float)
        norms = np.linalg.norm(U, axis=0)
        if W is None:
            W = np.zeros((U.shape[1],) + self.W.shape[1:])
        else:  # the function of (u, b, w) equals that of (u, b, w ||u||) / ||u||
            W = (np.asarray(W, dtype=float).reshape((U.shape[1],) + self.W.shape[1:]).T * norms).T
        ok = norms > 1e-12 * max(float(norms.max(initial=0.0)), 1e-300)
        U, b, W = U[:, ok] / norms[ok], b[ok] / norms[ok], W[ok]
        keep = _novel(np.vstack([self.U, self.b]), np.vstack([U, b]))  # identify by (u, b)
        U, b, W = U[:, keep], b[keep], W[keep]
        live = self._append(U, b if self.problem.bias else None)
        U, b, W = U[:, live], b[live], W[live]
        self.U = np.hstack([self.U, U])
        self.b = np.concatenate([self.b, b])
        self.W = np.concatenate([self.W, W], axis=0)
        return U.shape[1]

    def _append(self, U: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        """Store the neurons that are positive on some sample; returns their mask."""
        if isinstance(self.cache, LineGram):
            return self.cache.add(U, b)
        Hnew = features(self.problem.X, U, b)
        live = Hnew.max(axis=0, initial=0.0) > 0
        if live.any():
            (self.buffer if self.cache is None else self.cache).append(Hnew[:, live])
        return live

    def solve(self, tol: float, deadline: float | None = None) -> MasterSolution:
        sol = solve_master(
            self.problem,
            self.buffer.H if self.cache is None else self.cache,
            W0=self.W,
            tol=tol,
            deadline=deadline,
            c0=self.c,
        )
        self.W = np.array(sol.W, dtype=float)
        self.c = sol.c
        return sol

    @property
    def active(self) -> np.ndarray:
        """Indices of the neurons with a nonzero output weight."""
        return np.flatnonzero(np.any(self.W != 0, axis=1) if self.W.ndim == 2 else self.W != 0)

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the neurons where ``mask`` is true."""
        self.U, self.b, self.W = self.U[:, mask], self.b[mask], self.W[mask]
        (self.buffer if self.cache is None else self.cache).keep(mask)

    def prune(self, sol: MasterSolution | None = None) -> None:
        """Drop neurons with zero output weight. For the hinge loss, whose master is an LP,
        those (nearly) binding in the master's dual (``|h_j^T v| >= 0.9 beta`` at ``sol``)
        stay: they are the cuts that hold its dual vertex, and dropping them lets the dual
        jump back to where they cut it off (the cutting plane then cycles between the same
        vertices: 90+ iterations instead of ~14 on a 1-D instance with n = 10^4)."""
        mask = np.zeros(self.size, dtype=bool)
        mask[self.active] = True
        if self.problem.loss.name == "hinge" and sol is not None and sol.correlations is not None:
            mask |= np.abs(sol.correlations) >= (1.0 - _BINDING) * self.problem.beta
        if not mask.all():
            self.keep(mask)

    def network(self, c: Any) -> ReLUNetwork:
        """The balanced network (Lemma 1) of the active neurons, in the order of
        :attr:`active`: its weight-decay objective equals the master's l1 objective."""
        act = self.active
        b = self.b[act] if self.problem.bias else None
        return ReLUNetwork(self.U[:, act], b, self.W[act], c).balanced()

    def replace_active(self, net: ReLUNetwork) -> int:
        """Swap the active neurons for ``net``'s (a refinement of :meth:`network`, same order),
        warm-starting their weights at ``net``'s. Returns the number of neurons added."""
        mask = np.ones(self.size, dtype=bool)
        mask[self.active] = False
        self.keep(mask)
        return self.add(net.U, net.b, net.W)


_BINDING = 0.1  # relative slack under which a hinge neuron counts as binding (kept at w = 0)


def _novel(old: np.ndarray, new: np.ndarray, rtol: float = 1e-9) -> np.ndarray:
    """Mask of the columns of ``new`` that are not (near-)copies of a column of ``old`` or of
    an earlier column of ``new``."""
    keep = np.ones(new.shape[1], dtype=bool)
    scale = 1.0 + np.abs(new).max(axis=0)
    if old.shape[1]:
        dist = np.abs(new[:, :, None] - old[:, None, :]).max(axis=0)  # (q, p)
        keep &= dist.min(axis=1) > rtol * scale
    for j in range(1, new.shape[1]):
        if keep[j]:
            dist = np.abs(new[:, :j] - new[:, j : j + 1]).max(axis=0)
            keep[j] = not np.any((dist <= rtol * scale[j]) & keep[:j])
    return keep


def polish_network(
    problem: Problem, net: ReLUNetwork, *, max_iter: int = 200, deadline: float | None = None
) -> ReLUNetwork:
    """Local refinement of all weights of ``net`` by L-BFGS on the weight-decay objective.

    Objective: ``L((XU + 1b^T)_+ W + c) + (beta/2)(||U||_F^2 + ||W||_F^2)``; the ReLU is
    piecewise linear, so L-BFGS finds a nearby stationary point of its smooth pieces. The
    result is never worse than ``net`` (the start is kept if no step improves it).
    ``deadline`` is a ``time.perf_counter()`` value after which the iterations stop.
    """
    X, y, beta, loss = problem.X, problem.y, problem.beta, problem.loss
    d, m = net.U.shape
    k = problem.n_outputs
    kk = 1 if k is None else k
    bias = problem.bias
    sizes = [d * m, m if bias else 0, m * kk, kk if bias else 0]
    cuts = np.cumsum(sizes)[:-1]

    def unpack(x):
        U, b, W, c = np.split(x, cuts)
        return U.reshape(d, m), b, W.reshape(m, kk), c

    def fun(x):
        U, b, W, c = unpack(x)
        Z = X @ U
        if bias:
            Z += b
        A = np.maximum(Z, 0.0)
        f = A @ W
        if bias:
            f += c
        f_out = f[:, 0] if k is None else f
        g = loss.gradient(f_out, y).reshape(-1, kk)
        value = loss.value(f_out, y) + 0.5 * beta * (float(np.sum(U * U)) + float(np.sum(W * W)))
        gA = (g @ W.T) * (Z > 0)
        parts = [
            X.T @ gA + beta * U,
            gA.sum(axis=0) if bias else np.zeros(0),
            A.T @ g + beta * W,
            g.sum(axis=0) if bias else np.zeros(0),
        ]
        return value, np.concatenate([p.ravel() for p in parts])

    start = net.balanced()
    c0 = np.zeros(kk) if start.c is None else np.reshape(start.c, kk)
    b0 = np.zeros(m) if start.b is None else start.b
    x0 = np.concatenate(
        [
            start.U.ravel(),
            b0 if bias else np.zeros(0),
            start.W.reshape(m, kk).ravel(),
            c0 if bias else np.zeros(0),
        ]
    )
    U, b, W, c = unpack(lbfgs(fun, x0, max_iter=max_iter, deadline=deadline))
    out = ReLUNetwork(
        U,
        b if bias else None,
        W[:, 0] if k is None else W,
        (float(c[0]) if k is None else c) if bias else None,
    )
    return out if problem.objective(out) <= problem.objective(start) else start


def lbfgs(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    *,
    max_iter: int = 200,
    memory: int = 10,
    gtol: float = 1e-10,
    deadline: float | None = None,
) -> np.ndarray:
    """Minimize ``fun`` (returning value and gradient) by L-BFGS with Armijo backtracking.

    Plain numpy (two-loop recursion): on tiny vectors this avoids the threading overhead of
    compiled L-BFGS codes. Returns the best point found.
    """
    x = np.array(x0, dtype=float)
    f, g = fun(x)
    S, Y = [], []
    for _ in range(max_iter):
        if not np.isfinite(f) or np.linalg.norm(g) <= gtol * max(1.0, abs(f)):
            break
        if deadline is not None and time.perf_counter() > deadline:
            break
        q = g.copy()
        alphas = []
        for s_, y_ in zip(reversed(S), reversed(Y)):
            a = (s_ @ q) / (y_ @ s_)
            alphas.append(a)
            q -= a * y_
        if S:
            q *= (S[-1] @ Y[-1]) / (Y[-1] @ Y[-1])
        else:
            q /= max(np.linalg.norm(g), 1e-300)
        for (s_, y_), a in zip(zip(S, Y), reversed(alphas)):
            q += s_ * (a - (y_ @ q) / (y_ @ s_))
        d = -q
        slope = float(g @ d)
        if slope >= 0:  # not a descent direction: restart from the gradient
            S, Y = [], []
            d, slope = -g, -float(g @ g)
        step = 1.0
        for _ in range(30):
            x_new = x + step * d
            f_new, g_new = fun(x_new)
            if f_new <= f + 1e-4 * step * slope:
                break
            step *= 0.5
        else:
            break
        s_, y_ = x_new - x, g_new - g
        if s_ @ y_ > 1e-12 * np.linalg.norm(s_) * np.linalg.norm(y_):
            S.append(s_)
            Y.append(y_)
            if len(S) > memory:
                S.pop(0)
                Y.pop(0)
        decrease = f - f_new
        x, f, g = x_new, f_new, g_new
        if decrease <= 1e-15 * max(abs(f), 1.0):
            break
    return x


def solve_cutting_plane(
    problem: Problem,
    *,
    oracle: Any = "auto",
    tol: float = 1e-6,
    max_iter: int = 100,
    time_limit: float | None = None,
    callback: Callable[[dict], bool | None] | None = None,
    verbose: bool = False,
    random_state: Any = 0,
    max_new: int = 20,
    polish: str | bool = "auto",
    polish_iter: int = 300,
    n_init: int | str = "auto",
    master_tol: float | None = None,
    oracle_options: dict | None = None,
    init: ReLUNetwork | None = None,
    coarse: bool | str = "auto",
    **kwargs: Any,
) -> Result:
    """Train by cutting planes on the dual constraint (Algorithm 1/3; NOTES §4).

    Objective: ``L((XU + 1b^T)_+ W + c; y) + (beta/2)(||U||_F^2 + ||W||_F^2)``, biases and
    offset unregularized. Each iteration checks the master's dual vector with the oracle,
    records a sound lower bound (``certificate.dual_lower_bound``), adds violating neurons
    and re-solves the master problem over the neuron dictionary.

    Parameters
    ----------
    oracle : str or Oracle
        ``"auto"`` (exact whenever the data allow: 1-D, rank one, low augmented rank), or
        any name/instance accepted by :func:`convexnn.oracles.get_oracle`.
    tol : float
        Target relative certified gap ``(objective - lower_bound) / |objective|``.
    max_iter : int
        Maximum number of master re-solves.
    time_limit : float or None
        Wall-clock limit in seconds. The oracle, the master solves and the polishing all get
        the deadline, so a run ends shortly after it (the step in progress stops at its next
        check) with status ``"time_limit"``, the best network so far and a sound lower bound.
    callback : callable or None
        ``callback(info)`` after each oracle call, with ``info`` holding ``iteration``,
        ``width``, ``objective``, ``lower_bound``, ``gap``, ``elapsed``; returning True stops.
    verbose : bool
        Print one progress line per iteration.
    random_state : None, int or Generator
        Seed of the oracle's randomized search (when it has one).
    max_new : int
        Most violating neurons added per iteration.
    polish : 'auto' or bool
        Refine the master's network by L-BFGS on the nonconvex objective; its neurons replace
        the master's active ones before the master is re-solved (``'auto'``: only when the
        oracle is not exact).
    polish_iter : int
        L-BFGS iterations per polish.
    n_init : int or 'auto'
        Random neurons through data points (``b = -x_i^T u``) added to the first dictionary
        when polishing (a random-feature start, the paper's Algorithm 2); ``'auto'``:
        ``min(300, 2 n)``.
    master_tol : float or None
        Relative duality gap for each master solve (default ``min(1e-10, tol / 100)``).
    oracle_options : dict or None
        Extra keyword options for every oracle call.
    init : ReLUNetwork or None
        A network to start from (e.g. one trained by Adam, or the solution on a subsample):
        its neurons form the first dictionary, warm-started at its weights.
    coarse : 'auto' or bool
        Warm start from the solution on a random tenth of the samples (with ``beta`` scaled
        by the same fraction, to loose accuracy; recursively), so that the full-size
        iterations start near the optimal kinks. ``'auto'``: with an exact oracle on at
        least 50,000 samples and no ``init`` (1-D data at scale: fewer O(n) iterations).

    Returns
    -------
    Result
        ``status`` is ``"optimal"`` (certified), ``"max_iter"``, ``"time_limit"``,
        ``"stalled"`` (the oracle found no violating neuron but cannot prove optimality),
        ``"callback"`` or ``"interrupted"`` (Ctrl-C: the best result so far). The history
        has per-iteration lists ``objective``, ``lower_bound``, ``gap``, ``width``, ``time``.
    """
    check_no_kwargs(kwargs, "solve(method='cutting_plane')")
    from ..certificate import dual_lower_bound
    from ..oracles import get_oracle

    tol = check_positive_scalar(tol, "tol")
    max_iter = check_positive_int(max_iter, "max_iter", minimum=0)
    if time_limit is not None:
        time_limit = check_positive_scalar(time_limit, "time_limit")
    if callback is not None and not callable(callback):
        raise TypeError(f"The 'callback' parameter must be callable or None, got {callback!r}.")
    max_new = check_positive_int(max_new, "max_new")
    polish_iter = check_positive_int(polish_iter, "polish_iter", minimum=0)
    if not isinstance(polish, bool):
        polish = check_option(polish, "polish", ("auto",))
    if n_init == "auto":
        n_init = min(300, 2 * problem.n_samples)
    n_init = check_positive_int(n_init, "n_init", minimum=0)
    master_tol = (
        min(1e-10, tol / 100)
        if master_tol is None
        else check_positive_scalar(master_tol, "master_tol")
    )
    if oracle_options is not None and not isinstance(oracle_options, dict):
        raise TypeError(f"The 'oracle_options' parameter must be a dict, got {oracle_options!r}.")
    rng = check_random_state(random_state)
    oracle_fn = get_oracle(oracle, problem)
    options = dict(oracle_options or {})

    timer = Timer(time_limit)
    deadline = None if time_limit is None else timer.start + time_limit
    beta = problem.beta
    if coarse == "auto":
        coarse = bool(init is None and problem.n_samples >= _COARSE_MIN and oracle_fn.sound)
        coarse = coarse and getattr(oracle_fn, "name", "") in ("exact_1d", "enumeration")
    elif not isinstance(coarse, bool):
        coarse = check_option(coarse, "coarse", ("auto",))
    interrupted = False  # Ctrl-C during the coarse start: stop after one certificate
    if coarse and init is None and problem.n_samples >= 20:
        init, interrupted = _coarse_start(problem, oracle, options, rng, time_limit)
    dictionary = _Dictionary(problem)
    if init is not None:
        problem.check_network(init)
        dictionary.add(init.U, init.b, init.W)
        dictionary.c = init.c  # with the weights: the warm start's outputs
    start = dictionary.solve(
        master_tol, deadline
    )  # without init: the best offset and its dual vector
    network = dictionary.network(start.c)
    objective = start.objective if np.isfinite(start.objective) else problem.objective(network)
    v = start.dual
    best = (objective, network, v)
    lower, feasible_dual = -np.inf, None
    history: dict[str, list] = {
        k: []
        for k in ("objective", "lower_bound", "gap", "width", "time", "master_gap", "violation")
    }
    status, exact, do_polish, last = "max_iter", False, False, None
    stabilize = problem.loss.name == "hinge"  # LP masters: in-out dual stabilization
    iteration = 0
    printer = _Printer(verbose, problem, oracle_fn)
    try:
        while True:
            found = oracle_fn(
                problem,
                v,
                **_oracle_call_options(
                    oracle_fn, options, dictionary, rng, max_new=max_new, deadline=deadline
                ),
            )
            last, exact = found, bool(found.exact)
            bound, scale = dual_lower_bound(problem, v, found.upper_bound)
            center = feasible_dual
            if bound > lower:  # the best of sound bounds is sound
                lower, feasible_dual = float(bound), scale * v
            extra = None
            if stabilize and center is not None and bound < lower:
                # in-out: the LP's dual vertex jumps; query the midpoint with the best
                # feasible dual as well (convex combinations stay in the dual domain)
                mid = 0.5 * (v + center)
                extra = oracle_fn(
                    problem,
                    mid,
                    **_oracle_call_options(
                        oracle_fn, options, dictionary, rng, max_new=max_new, deadline=deadline
                    ),
                )
                bound, scale = dual_lower_bound(problem, mid, extra.upper_bound)
                if bound > lower:
                    lower, feasible_dual = float(bound), scale * mid
            do_polish = polish is True or (polish == "auto" and not exact)
            gap = best[0] - lower
            info = {
                "iteration": iteration,
                "width": best[1].width,
                "objective": best[0],
                "lower_bound": lower,
                "gap": gap,
                "elapsed": timer.elapsed,
                "violation": found.best / beta,
                "exact": exact,
            }
            for key, value in (
                ("objective", best[0]),
                ("lower_bound", lower),
                ("gap", gap),
                ("width", best[1].width),
                ("time", timer.elapsed),
                ("violation", found.best / beta),
            ):
                history[key].append(value)
            printer.line(info)
            if gap <= tol * abs(best[0]):
                status = "optimal"
                break
            if interrupted:
                status = "interrupted"
                break
            if callback is not None and callback(info):
                status = "callback"
                break
            if iteration >= max_iter:
                status = "max_iter"
                break
            if timer.expired:
                status = "time_limit"
                break
            violating = np.flatnonzero(np.abs(found.values) > beta * (1 + 1e-12))
            violating = violating[np.argsort(-np.abs(found.values[violating]))][:max_new]
            added = dictionary.add(
                found.U[:, violating], None if found.b is None else found.b[violating]
            )
            if extra is not None:
                more = np.flatnonzero(np.abs(extra.values) > beta * (1 + 1e-12))[:max_new]
                added += dictionary.add(
                    extra.U[:, more], None if extra.b is None else extra.b[more]
                )
            if iteration == 0 and do_polish and n_init:
                added += dictionary.add(*_random_neurons(problem, n_init, rng))
            tightened = False
            if added == 0 and not do_polish:
                if exact and master_tol > 1e-15:
                    tightened = True
                    # the exact oracle's best neurons are already in the dictionary: only
                    # the master's accuracy limits the gap, so solve it more accurately
                    master_tol = max(master_tol * 1e-3, 1e-15)
                else:
                    status = "stalled"
                    break
            sol = dictionary.solve(master_tol, deadline)
            network = dictionary.network(sol.c)
            if do_polish and dictionary.size and not timer.expired:
                polished = polish_network(problem, network, max_iter=polish_iter, deadline=deadline)
                if problem.objective(polished) < problem.objective(network):
                    added += dictionary.replace_active(polished)
                    sol = dictionary.solve(master_tol, deadline)
                    network = dictionary.network(sol.c)
            dictionary.prune(sol)
            iteration += 1
            history["master_gap"].append(sol.relative_gap)
            # the master evaluates its objective on the features themselves: it is the balanced
            # network's objective (Lemma 1) up to rounding, without another O(n m) pass; the
            # returned Result's objective is evaluated independently by ``finish``
            objective = sol.objective if np.isfinite(sol.objective) else problem.objective(network)
            v = sol.dual
            if objective < best[0]:
                best = (objective, network, v)
            elif added == 0 and not tightened:
                status = "stalled"
                break
            if timer.expired:
                status = "time_limit"
                break
    except KeyboardInterrupt:
        status = "interrupted"

    objective, network, master_dual = best
    note = ""
    if status != "optimal" and not exact:
        try:
            lower, feasible_dual, note = _final_bound(
                problem,
                [master_dual, problem.dual_vector(network)],
                lower,
                feasible_dual,
                options,
                timer,
                time_limit,
            )
        except KeyboardInterrupt:  # a second Ctrl-C: keep the bound of the iterations
            status, note = "interrupted", " (final tight bound interrupted)"
    if status not in ("optimal", "interrupted") and problem.loss.name == "hinge":
        try:
            lower, feasible_dual = _hinge_final_bound(
                problem, network, oracle_fn, lower, feasible_dual, timer, time_limit
            )
        except KeyboardInterrupt:
            status = "interrupted"
    gap = objective - lower
    if status in ("max_iter", "time_limit", "stalled") and gap <= tol * abs(objective):
        status = "optimal"  # the end-of-run bounds closed the gap
    message = _message(status, objective, lower, gap, tol, iteration, exact) + note
    if status not in ("optimal", "interrupted", "callback"):
        warnings.warn(message, ConvergenceWarning, stacklevel=3)
    return finish(
        problem,
        network,
        timer=timer,
        n_iter=iteration,
        lower_bound=lower,
        tol=tol,
        sound=True,
        status=status,
        message=message,
        history=history,
        dual=feasible_dual,
        info={
            "oracle": getattr(oracle_fn, "name", repr(oracle_fn)),
            "exact": exact,
            "dictionary_size": dictionary.size,
            "polish": do_polish,
            "last_oracle": last,
        },
    )


_COARSE_MIN = 50_000  # samples from which 'auto' warm-starts from a subsample


def _coarse_start(
    problem: Problem,
    oracle: Any,
    options: dict,
    rng: np.random.Generator,
    time_limit: float | None,
) -> tuple[ReLUNetwork | None, bool]:
    """The cutting-plane network on a random tenth of the samples (``beta`` scaled by the
    same fraction, so the per-sample balance of loss and weight decay is kept), solved to a
    loose tolerance: a warm start whose kinks sit near the optimal ones (None if empty), and
    whether that solve was interrupted (Ctrl-C)."""
    n = problem.n_samples
    m = max(n // 10, 10)
    idx = np.sort(rng.choice(n, size=m, replace=False))
    sub = Problem(problem.X[idx], problem.y[idx], problem.beta * m / n, problem.loss, problem.bias)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = solve_cutting_plane(
            sub,
            oracle=oracle,
            tol=1e-4,
            max_iter=50,
            time_limit=None if time_limit is None else 0.3 * time_limit,
            random_state=int(rng.integers(2**31)),
            oracle_options=options or None,
        )
    return (res.network if res.network.width else None), res.status == "interrupted"


def _hinge_final_bound(
    problem: Problem,
    network: ReLUNetwork,
    oracle_fn: Any,
    lower: float,
    dual: np.ndarray | None,
    timer: Timer,
    time_limit: float | None,
) -> tuple[float, np.ndarray | None]:
    """Hinge loss: the master's LP duals are vertices that jump between iterations, so an
    unfinished run also gets :func:`convexnn.certify`'s stabilized dual rounds (in-out
    cutting plane on the dual) for its best network, within the time left (or a quarter of
    the time spent, at least one second, without ``time_limit``). The bound only improves."""
    from ..certificate import certify

    budget = max(time_limit - timer.elapsed, 0.0) if time_limit is not None else None
    if budget is None:
        budget = max(1.0, 0.25 * timer.elapsed)
    if budget <= 0.0:
        return lower, dual
    cert = certify(problem, network, oracle=oracle_fn, time_limit=budget)
    if cert.lower_bound > lower:
        return float(cert.lower_bound), cert.dual
    return lower, dual


def _final_bound(
    problem: Problem,
    candidates: list[np.ndarray],
    lower: float,
    dual: np.ndarray | None,
    options: dict,
    timer: Timer,
    time_limit: float | None,
) -> tuple[float, np.ndarray | None, str]:
    """The best sound lower bound at the end of a run whose oracle was not exact.

    The iterations use the oracle's fast bound; here the candidate dual vectors (the master's
    for the best network, and the network's own ``-grad L`` projected) are compared by the
    fast bound and the best one gets the quadratic ('tight') bound of
    :func:`convexnn.oracles.bounds.general_upper_bound` (sound for any data, several times
    tighter on real data). Skipped when the caller fixed ``oracle_options['bound']``, or when
    its estimated cost exceeds the time left plus 5% of ``time_limit`` (said in the returned
    note), so that it cannot make the run overshoot its limit by much. Returns
    ``(lower, dual, note)``; the bound only ever improves.
    """
    from ..certificate import dual_lower_bound
    from ..oracles.bounds import general_upper_bound, tight_bound_seconds

    if "bound" in options:
        return lower, dual, ""
    cost = tight_bound_seconds(problem)
    if cost == 0.0:
        return lower, dual, ""
    if time_limit is not None:
        left = max(time_limit - timer.elapsed, 0.0)
        if cost > left + 0.05 * time_limit:
            return (
                lower,
                dual,
                f" (final tight bound skipped: it needs ~{cost:.2g} s, {left:.2g} s were left)",
            )
    scored = []
    for v in candidates:
        if problem.bias:
            v = problem.loss.dual_domain_project(v, problem.y, True)
        bound, _ = dual_lower_bound(problem, v, general_upper_bound(problem, v, quadratic=False))
        scored.append((bound, v))
    v = max(scored, key=lambda pair: pair[0])[1]
    bound, scale = dual_lower_bound(problem, v, general_upper_bound(problem, v, quadratic=True))
    if bound > lower:
        return float(bound), scale * v, ""
    return lower, dual, ""


def _random_neurons(
    problem: Problem, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None]:
    """``count`` neurons with Gaussian unit directions, each with its kink at a random sample
    (``b = -x_i^T u``) when the problem has biases."""
    U = rng.standard_normal((problem.n_features, count))
    U /= np.linalg.norm(U, axis=0)
    if not problem.bias:
        return U, None
    rows = rng.integers(0, problem.n_samples, count)
    return U, -np.einsum("ij,ji->i", problem.X[rows], U)


def _oracle_call_options(
    oracle_fn: Any,
    options: dict,
    dictionary: _Dictionary,
    rng: np.random.Generator,
    *,
    max_new: int,
    deadline: float | None,
    max_seeds: int = 16,
) -> dict:
    """Options for one oracle call: the user's, plus — for oracles whose ``__call__`` names
    these parameters — the strongest current neurons as ``seeds``, a fresh ``random_state``,
    ``n_candidates`` (``max_new``) and the remaining time as ``time_limit``."""
    call = dict(options)
    try:
        names = inspect.signature(oracle_fn.__call__).parameters
    except (TypeError, ValueError):
        names = {}
    if "seeds" in names and dictionary.size and "seeds" not in call:
        strength = (
            np.abs(dictionary.W) if dictionary.W.ndim == 1 else np.linalg.norm(dictionary.W, axis=1)
        )
        top = np.argsort(-strength)[:max_seeds]
        call["seeds"] = (
            dictionary.U[:, top],
            dictionary.b[top] if dictionary.problem.bias else None,
        )
    if "random_state" in names and "random_state" not in call:
        call["random_state"] = int(rng.integers(2**31))
    if "n_candidates" in names and "n_candidates" not in call:
        call["n_candidates"] = max_new
    if "time_limit" in names and "time_limit" not in call and deadline is not None:
        call["time_limit"] = max(deadline - time.perf_counter(), 0.0)
    return call


def _message(
    status: str, objective: float, lower: float, gap: float, tol: float, iteration: int, exact: bool
) -> str:
    rel = gap / max(abs(objective), np.finfo(float).tiny)
    head = (
        f"cutting plane: objective {objective:.10g}, lower bound {lower:.10g}, "
        f"relative gap {rel:.3g} (tolerance {tol:g}) after {iteration} iteration(s)"
    )
    if status == "optimal":
        return head + ": certified optimal."
    advice = {
        "max_iter": "increase max_iter",
        "time_limit": "increase time_limit",
        "stalled": (
            "the oracle found no violating neuron but its bound is not exact; "
            "the network may already be optimal — try a stronger oracle or "
            "accept the reported gap"
        ),
        "callback": "stopped by the callback",
        "interrupted": "interrupted; this is the best network so far",
    }[status]
    if status in ("max_iter", "time_limit") and not exact:
        advice += " (the oracle's bound is not exact on these data, so the gap may stay open)"
    return f"{head}: {status}; {advice}."


class _Printer:
    """One progress line per iteration when verbose (plain text to stdout)."""

    def __init__(self, verbose: bool, problem: Problem, oracle_fn: Any) -> None:
        self.verbose = bool(verbose)
        if self.verbose:
            name = getattr(oracle_fn, "name", repr(oracle_fn))
            print(f"cutting plane on {problem!r}, oracle '{name}'")
            print(
                f"{'iter':>5} {'width':>6} {'objective':>16} {'lower bound':>16} "
                f"{'rel gap':>10} {'viol':>9} {'time':>8}"
            )

    def line(self, info: dict) -> None:
        if not self.verbose:
            return
        rel = info["gap"] / max(abs(info["objective"]), np.finfo(float).tiny)
        print(
            f"{info['iteration']:>5d} {info['width']:>6d} {info['objective']:>16.10g} "
            f"{info['lower_bound']:>16.10g} {rel:>10.3e} {info['violation']:>9.3g} "
            f"{info['elapsed']:>7.2f}s",
            flush=True,
        )


__all__ = ["polish_network", "solve_cutting_plane"]
