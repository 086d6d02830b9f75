"""Figures: fits, decision regions, the dual constraint landscape and convergence.

Every function draws on the ``ax`` it is given, or on a new standalone figure (a
``matplotlib.figure.Figure`` with an Agg canvas — pyplot and the user's backend are never
touched), optionally saves it to ``path``, and returns the main ``Axes``.

- :func:`plot_fit_1d` — a 1-D network with the data and its kinks (Lemma 6: at data points);
- :func:`plot_decision_regions` — 2-D classification with each neuron's hyperplane;
- :func:`plot_dual_landscape` — ``v^T (X u + b 1)_+`` against the dual constraint
  ``|.| <= beta`` (NOTES §2) with its extreme points (Corollary 2: the optimal neurons);
- :func:`plot_history` — objective, lower bound and gap per iteration;
- :func:`plot_result` — the relevant one of these for a problem and result (``convexnn fit
  --plot``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import as_float_array
from .network import ReLUNetwork
from .problem import Problem
from .result import Result

__all__ = [
    "dual_landscape",
    "plot_decision_regions",
    "plot_dual_landscape",
    "plot_fit_1d",
    "plot_history",
    "plot_result",
]

_BLUE, _ORANGE, _GREEN, _RED, _GREY = "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "0.45"


# ---------------------------------------------------------------------- figure plumbing
def _new_axes(ax: Any, figsize: tuple[float, float] = (6.0, 4.0)) -> Any:
    """``ax`` itself, or the axes of a new standalone Agg figure."""
    if ax is not None:
        return ax
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def _save(ax: Any, path: str | os.PathLike | None, dpi: int = 110) -> None:
    if path is not None:
        path = Path(path)
        ax.figure.savefig(path, dpi=dpi)


def _network(obj: Any) -> ReLUNetwork:
    net = obj.network if isinstance(obj, Result) else obj
    if not isinstance(net, ReLUNetwork):
        raise TypeError(
            f"The 'network' parameter must be a ReLUNetwork or Result, got {type(obj)}."
        )
    return net


def _live(net: ReLUNetwork, rel: float = 1e-6) -> np.ndarray:
    """Neurons whose contribution ``||u_j|| ||w_j||`` exceeds ``rel`` times the largest one.

    Interior-point solvers leave many neurons of negligible weight; drawing them would hide
    the few that shape the function.
    """
    nu, nw = net.neuron_norms()
    size = nu * nw
    return (nu > 0) & (size > rel * size.max(initial=0.0))


def _kinks(net: ReLUNetwork) -> np.ndarray:
    """Breakpoints ``x = -b_j / u_j`` of a 1-D network's (non-negligible) neurons, sorted."""
    u = net.U[0]
    b = np.zeros(net.width) if net.b is None else net.b
    live = _live(net)
    return np.sort(-b[live] / u[live])


# ---------------------------------------------------------------------- 1-D fit
def plot_fit_1d(
    network: ReLUNetwork | Result,
    X: Any,
    y: Any,
    *,
    ax: Any = None,
    path: str | os.PathLike | None = None,
    kinks: bool = True,
    label: str = "network",
) -> Any:
    """Data and the fitted function of a 1-D scalar network, with its kinks marked.

    The optimal network on 1-D data is a linear spline with kinks at data points (Lemma 6,
    Corollary 3); kinks are drawn as dots on the curve at ``x = -b_j / u_j``.
    """
    net = _network(network)
    X = as_float_array(X, "X", ndim=2)
    y = as_float_array(y, "y", ndim=1)
    if X.shape[1] != 1 or net.n_features != 1 or net.n_outputs is not None:
        raise ValueError(
            f"plot_fit_1d needs 1-D inputs and a scalar network, got X of shape {X.shape} "
            f"and {net!r}."
        )
    ax = _new_axes(ax)
    x = X[:, 0]
    knots = _kinks(net)
    lo, hi = x.min(), x.max()
    pad = 0.08 * max(hi - lo, 1e-12)
    grid = np.union1d(
        np.linspace(lo - pad, hi + pad, 400), knots[(knots > lo - pad) & (knots < hi + pad)]
    )
    ax.plot(grid, net.predict(grid[:, None]), color=_BLUE, lw=2, label=label, zorder=2)
    big = x.size > 100
    ax.scatter(
        x,
        y,
        s=8 if big else 22,
        color="0.25" if big else "k",
        alpha=0.5 if big else 1.0,
        label="data",
        zorder=3,
    )
    shown = knots[(knots >= lo - pad) & (knots <= hi + pad)]
    if kinks and shown.size:
        ax.scatter(
            shown,
            net.predict(shown[:, None]),
            s=60,
            facecolors="none",
            edgecolors=_RED,
            linewidths=1.5,
            label=f"kinks ({shown.size})",
            zorder=4,
        )
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc="best", frameon=False)
    _save(ax, path)
    return ax


# ---------------------------------------------------------------------- 2-D regions
def plot_decision_regions(
    network: ReLUNetwork | Result,
    X: Any,
    y: Any,
    *,
    ax: Any = None,
    path: str | os.PathLike | None = None,
    hyperplanes: bool = True,
    resolution: int = 200,
) -> Any:
    """2-D classification: regions of ``sign f`` (or ``argmax f`` for vector outputs), the
    data, and each live neuron's hyperplane ``u_j^T x + b_j = 0`` (dashed grey lines): the
    network is linear inside every cell they cut out."""
    net = _network(network)
    X = as_float_array(X, "X", ndim=2)
    y = np.asarray(y)
    if X.shape[1] != 2 or net.n_features != 2:
        raise ValueError(
            f"plot_decision_regions needs 2-D inputs, got X of shape {X.shape} and {net!r}."
        )
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"The 'y' parameter must have {X.shape[0]} entries, got {y.shape}.")
    ax = _new_axes(ax, (5.5, 5.0))
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.15 * np.maximum(hi - lo, 1e-12)
    lo, hi = lo - pad, hi + pad
    g0, g1 = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )
    F = net.predict(np.column_stack([g0.ravel(), g1.ravel()]))
    if F.ndim == 1:
        Z = F.reshape(g0.shape)
        ax.contourf(g0, g1, Z, levels=[-np.inf, 0.0, np.inf], colors=[_ORANGE, _BLUE], alpha=0.18)
        ax.contour(g0, g1, Z, levels=[0.0], colors="k", linewidths=1.5)
    else:
        Z = F.argmax(axis=1).reshape(g0.shape)
        k = F.shape[1]
        ax.contourf(
            g0, g1, Z, levels=np.arange(k + 1) - 0.5, cmap="tab10", vmin=0, vmax=9, alpha=0.2
        )
    labels = y if y.ndim == 1 else y.argmax(axis=1)
    classes = np.unique(labels)
    palette = [_ORANGE, _BLUE] if classes.size == 2 else [f"C{i % 10}" for i in range(classes.size)]
    for cls, color in zip(classes, palette):
        mask = labels == cls
        ax.scatter(
            X[mask, 0],
            X[mask, 1],
            s=22,
            color=color,
            edgecolors="k",
            linewidths=0.5,
            label=f"class {cls:g}",
            zorder=3,
        )
    if hyperplanes:
        _draw_hyperplanes(ax, net, lo, hi)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.legend(loc="best", frameon=True, fontsize="small")
    _save(ax, path)
    return ax


def _draw_hyperplanes(ax: Any, net: ReLUNetwork, lo: np.ndarray, hi: np.ndarray) -> None:
    """Lines ``u^T x + b = 0`` of non-negligible neurons (axis limits clip them)."""
    b = np.zeros(net.width) if net.b is None else net.b
    nu, _ = net.neuron_norms()
    for drawn, j in enumerate(np.flatnonzero(_live(net))):
        u = net.U[:, j] / nu[j]
        point = -b[j] / nu[j] * u  # closest point of the line to the origin
        direction = np.array([-u[1], u[0]])
        span = 2.0 * float(np.linalg.norm(hi - lo) + np.linalg.norm(point))
        ends = np.array([point - span * direction, point + span * direction])
        ax.plot(
            ends[:, 0],
            ends[:, 1],
            ls="--",
            lw=1.0,
            color=_GREY,
            zorder=2,
            label="neuron hyperplanes" if drawn == 0 else "_nolegend_",
            gid="hyperplane",
        )


# ---------------------------------------------------------------------- dual landscape
def dual_landscape(
    X: Any, v: Any, b: float = 0.0, n_grid: int = 721
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``g(theta) = v^T (X u(theta) + b 1)_+`` over the unit circle ``u = (cos, sin)``.

    Returns ``(theta, g)`` on a grid of ``n_grid`` angles in [0, 2 pi), and the exact
    candidates ``(theta_c, g_c)`` for the extreme points: on each arc between the
    breakpoints ``x_i^T u + b = 0`` the active set is fixed and ``g = a^T u + const``, so
    its extrema are the breakpoints and the angles of ``+-a``. The largest and smallest
    ``g_c`` are the exact maximum and minimum over the circle.
    """
    X = as_float_array(X, "X", ndim=2)
    v = as_float_array(v, "v", ndim=1)
    if X.shape[1] != 2 or v.shape[0] != X.shape[0]:
        raise ValueError(
            f"dual_landscape needs 2-D data X (n, 2) and v (n,), got {X.shape} and {v.shape}."
        )
    theta = np.linspace(0.0, 2 * np.pi, n_grid, endpoint=False)

    def g(angles: np.ndarray) -> np.ndarray:
        U = np.vstack([np.cos(angles), np.sin(angles)])
        return np.maximum(X @ U + b, 0.0).T @ v

    norms = np.linalg.norm(X, axis=1)
    phi = np.arctan2(X[:, 1], X[:, 0])
    ok = norms > 0
    ratio = np.clip(-b / np.where(ok, norms, 1.0), -1.0, 1.0)
    reach = ok & (np.abs(b) <= norms)
    delta = np.arccos(ratio[reach])
    breaks = np.concatenate([phi[reach] + delta, phi[reach] - delta]) % (2 * np.pi)
    breaks = np.sort(np.append(breaks, 0.0))
    mids = (breaks + np.diff(np.append(breaks, breaks[0] + 2 * np.pi)) / 2) % (2 * np.pi)
    U_mid = np.vstack([np.cos(mids), np.sin(mids)])
    active = (X @ U_mid + b) > 0  # (n, arcs)
    A = (active * v[:, None]).T @ X  # one a per arc
    stationary = np.arctan2(A[:, 1], A[:, 0])
    cand = np.concatenate([breaks, stationary % (2 * np.pi), (stationary + np.pi) % (2 * np.pi)])
    return theta, g(theta), cand, g(cand)


def plot_dual_landscape(
    problem: Problem,
    v: Any = None,
    *,
    network: ReLUNetwork | Result | None = None,
    b: float = 0.0,
    ax: Any = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """The dual constraint made visible (NOTES §2; Corollary 2).

    For 2-D data: ``v^T (X u + b 1)_+`` over unit vectors ``u = (cos t, sin t)`` at a fixed
    bias ``b`` (0 without bias), against the band ``|.| <= beta``. For 1-D data with bias:
    the same over ``b`` for ``u = +1`` and ``u = -1`` (the maxima sit at data points,
    Lemma 6). The extreme points — the maximizer and minimizer, the neurons the cutting-plane
    oracle adds — are marked. ``v`` defaults to the solver's dual vector when ``network`` is
    a Result that carries one, else to ``Problem.dual_vector(network)``; at an optimum the
    curve stays inside the band and touches ``+-beta`` exactly at the network's neurons.
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"The 'problem' parameter must be a convexnn.Problem, got {type(problem)}.")
    if v is None:
        if network is None:
            raise ValueError("plot_dual_landscape needs a dual vector 'v' or a 'network'.")
        dual = network.dual if isinstance(network, Result) else None
        if dual is not None and np.shape(dual) == (problem.n_samples,):
            v = dual  # the solver's own dual vector (for hinge it beats -grad L)
        else:
            v = problem.dual_vector(_network(network))
    v = as_float_array(v, "v", ndim=1)
    if v.shape[0] != problem.n_samples:
        raise ValueError(f"The 'v' parameter must have {problem.n_samples} entries, got {v.shape}.")
    beta = problem.beta
    if problem.n_features == 2:
        ax = _new_axes(ax, (6.5, 3.8))
        theta, g, cand, gc = dual_landscape(problem.X, v, b if problem.bias else 0.0)
        deg, cdeg = np.degrees(theta), np.degrees(cand)
        ax.plot(deg, g, color=_BLUE, lw=1.8, label=r"$v^\top(Xu+b\mathbf{1})_+$")
        # the global maximizer and minimizer, and every extreme point touching +-beta
        touching = np.abs(gc) >= (1 - 1e-3) * beta
        marks = np.unique(
            np.concatenate([[np.argmax(gc), np.argmin(gc)], np.flatnonzero(touching)])
        )
        marks = marks[np.unique(np.round(cdeg[marks], 3), return_index=True)[1]]
        ax.scatter(
            cdeg[marks],
            gc[marks],
            s=70,
            marker="*",
            color=_RED,
            zorder=4,
            label="extreme points",
            gid="extreme",
        )
        ax.set_xlabel(r"angle of $u$ (degrees)")
        ax.set_xlim(0, 360)
        ax.set_xticks(np.arange(0, 361, 90))
        title = (
            f"dual constraint over the unit circle (b = {b:g})"
            if problem.bias
            else ("dual constraint over the unit circle")
        )
    elif problem.n_features == 1 and problem.bias:
        ax = _new_axes(ax, (6.5, 3.8))
        x = problem.X[:, 0]
        span = max(x.max() - x.min(), 1e-12)
        for sign, color in ((1.0, _BLUE), (-1.0, _GREEN)):
            knots = np.sort(-sign * x)  # breakpoints in b: where sign * x_i + b = 0
            grid = np.union1d(
                np.linspace(knots[0] - 0.1 * span, knots[-1] + 0.1 * span, 400), knots
            )
            g = np.maximum(sign * x[:, None] + grid, 0.0).T @ v
            gk = np.maximum(sign * x[:, None] + knots, 0.0).T @ v
            ax.plot(grid, g, color=color, lw=1.8, label=rf"$u={sign:+.0f}$")
            # the global maximizer and minimizer, and every knot touching +-beta
            touching = np.flatnonzero(np.abs(gk) >= (1 - 1e-3) * beta)
            marks = np.unique(np.concatenate([[np.argmax(gk), np.argmin(gk)], touching]))
            ax.scatter(
                knots[marks],
                gk[marks],
                s=70,
                marker="*",
                color=_RED,
                zorder=4,
                label="extreme points" if sign > 0 else "_nolegend_",
                gid="extreme",
            )
        title = "dual constraint over the bias (1-D data)"
    else:
        raise ValueError(
            "plot_dual_landscape draws 2-D data, or 1-D data with bias; "
            f"got {problem.n_features} features (bias={problem.bias})."
        )
    ax.axhline(beta, color="k", ls="--", lw=1.0, label=r"$\pm\beta$", gid="beta")
    ax.axhline(-beta, color="k", ls="--", lw=1.0, gid="beta")
    ax.axhline(0.0, color="0.8", lw=0.8, zorder=0)
    ax.set_ylabel(r"$v^\top(Xu+b\mathbf{1})_+$")
    ax.set_title(title, fontsize="medium")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize="small")
    _save(ax, path)
    return ax


# ---------------------------------------------------------------------- convergence
def plot_history(
    result: Result | dict,
    *,
    ax: Any = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """Objective, certified lower bound and gap per iteration (a ``Result.history``).

    Objective and lower bound share the left axis; the gap ``objective - lower bound`` is
    drawn on a log scale on the right. Infinite lower bounds are left out. For a Result whose
    final lower bound beats the last iteration's (an end-of-run bound), it is marked by a star.
    """
    history = result.history if isinstance(result, Result) else result
    if not isinstance(history, dict) or "objective" not in history or not history["objective"]:
        raise ValueError("plot_history needs a Result whose history has an 'objective' series.")
    obj = np.asarray(history["objective"], dtype=float)
    steps = np.asarray(history.get("iteration", history.get("step", np.arange(obj.size))), float)
    if steps.size != obj.size:
        steps = np.arange(obj.size, dtype=float)
    ax = _new_axes(ax, (6.5, 4.0))
    ax.plot(steps, obj, color=_BLUE, lw=2, marker="o", ms=3, label="objective")
    lines = list(ax.get_lines())
    xlabel = "step" if "step" in history and "iteration" not in history else "iteration"
    if "lower_bound" in history:
        lower = np.asarray(history["lower_bound"], dtype=float)
        finite = np.isfinite(lower)
        if finite.any():
            lines += ax.plot(
                steps[finite],
                lower[finite],
                color=_GREEN,
                lw=2,
                marker="s",
                ms=3,
                label="certified lower bound",
            )
        gap = obj - lower
        show = np.isfinite(gap) & (gap > 0)
        if show.any():
            twin = ax.twinx()
            lines += twin.plot(
                steps[show], gap[show], color=_RED, lw=1.2, ls="--", label="gap (right, log)"
            )
            twin.set_yscale("log")
            twin.set_ylabel("gap", color=_RED)
            twin.tick_params(axis="y", colors=_RED)
        final = result.lower_bound if isinstance(result, Result) else -np.inf
        if finite.any() and np.isfinite(final) and final > lower[finite][-1]:
            # the end-of-run bound (e.g. the cutting plane's tight bound) is not an iteration
            lines += ax.plot(
                [steps[-1]],
                [final],
                color=_GREEN,
                marker="*",
                ms=12,
                ls="none",
                label=f"final certified lower bound {final:.4g}",
            )
    shown = np.concatenate([np.asarray(line.get_ydata(), float) for line in ax.get_lines()])
    shown = shown[np.isfinite(shown)]
    if shown.size and shown.min() > 0 and shown.max() > 20 * shown.min():
        ax.set_yscale("log")  # the first iterate (no neurons) would flatten everything else
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("training objective")
    ax.legend(lines, [line.get_label() for line in lines], loc="upper right", frameon=False)
    _save(ax, path)
    return ax


# ---------------------------------------------------------------------- the relevant one
def plot_result(
    problem: Problem,
    result: Result | ReLUNetwork,
    path: str | os.PathLike | None = None,
) -> Any:
    """The figure that best shows ``result`` on ``problem`` (used by ``convexnn fit --plot``).

    1-D scalar data: the fit with its kinks; 2-D classification: decision regions and
    hyperplanes; otherwise: convergence (when the result has a history) beside predicted
    against true targets. Returns the figure.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    net = _network(result)
    scalar = problem.n_outputs is None
    if problem.n_features == 1 and scalar:
        ax = plot_fit_1d(net, problem.X, problem.y)
    elif problem.n_features == 2 and problem.loss.binary_labels:
        ax = plot_decision_regions(net, problem.X, problem.y)
    else:
        history = result.history if isinstance(result, Result) else {}
        has_history = bool(history.get("objective"))
        fig = Figure(figsize=(11.0 if has_history else 5.5, 4.2), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, 2 if has_history else 1, squeeze=False)[0]
        if has_history:
            plot_history(result, ax=axes[0])
        ax = axes[-1]
        pred = net.predict(problem.X)
        truth = problem.y
        ax.scatter(np.ravel(truth), np.ravel(pred), s=12, alpha=0.6, color=_BLUE)
        lo = float(min(np.min(truth), np.min(pred)))
        hi = float(max(np.max(truth), np.max(pred)))
        ax.plot([lo, hi], [lo, hi], color="k", lw=1, ls="--", label="perfect fit")
        ax.set_xlabel("target")
        ax.set_ylabel("network output")
        ax.set_title(
            f"training fit (n = {problem.n_samples}, width = {net.width})", fontsize="medium"
        )
        ax.legend(loc="upper left", frameon=False)
    fig = ax.figure
    if path is not None:
        fig.savefig(Path(path), dpi=110)
    return fig
