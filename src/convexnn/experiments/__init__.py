"""Reproductions of the paper's experiments (Ergen & Pilanci, JMLR 2021, Section 6, App. 8).

``run(name, out_dir, quick=False)`` runs one experiment (or ``"all"``), writes its PNG figures,
``report.md`` (the paper's claim, its number, ours and a verdict side by side) and
``results.json`` into ``out_dir``, and returns a plain dict. ``quick=True`` picks sizes that
run in well under a minute each on two cores (used by the tests); the default sizes follow the
paper where the hardware allows. The command line is ``convexnn reproduce NAME --out DIR
[--quick]``.

=========== ================================================================================
name        experiment
=========== ================================================================================
fig1        init scale vs deviation of gradient training from the optimal spline (Fig. 1)
fig6        duality gap vs width on 1-D, rank-one and whitened data (Fig. 6)
fig8        1-D hinge loss: gradient descent vs Theorem 11 (Fig. 8)
fig9        1-D regression: gradient descent vs NTK vs the convex optimum (Fig. 9)
fig10       Gaussian-mixture classification: Theorem 11 vs gradient descent (Fig. 10)
fig11       Theorem 15 vs SGD on whitened digits (Fig. 11, MNIST stand-in)
fig12       Theorem 15 vs SGD on a whitened generated set (Fig. 12, CIFAR-10 stand-in)
table1      least squares vs backprop vs convex, plus Convex-RF (Table 1, Algorithm 2)
convex-rf   Convex-RF alone (Algorithm 2) on digits
all         everything above except the standalone convex-rf (part of table1)
=========== ================================================================================
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._validation import check_option
from ._common import Claim, Outcome

#: name -> module (each defines ``run(out_dir, quick) -> Outcome``)
EXPERIMENTS: dict[str, str] = {
    "fig1": "fig1",
    "fig6": "fig6",
    "fig8": "fig8",
    "fig9": "fig9",
    "fig10": "fig10",
    "fig11": "fig11",
    "fig12": "fig12",
    "table1": "table1",
    "convex-rf": "convex_rf_experiment",
}
#: what ``all`` runs (convex-rf is already a row of table1)
ALL = ("fig1", "fig6", "fig8", "fig9", "fig10", "fig11", "fig12", "table1")


def run_one(name: str, out_dir: Path, quick: bool = False, *, threads: int | None = 1) -> Outcome:
    """Run one experiment and return its :class:`Outcome` (no report written).

    ``threads`` caps PyTorch's intra-op threads while the experiment runs (restored after):
    the experiments train many tiny networks, for which extra threads only contend (on a
    busy two-core machine one thread was 40x faster than two). None leaves torch alone.
    """
    name = check_option(name, "name", EXPERIMENTS)
    module = importlib.import_module(f"{__name__}.{EXPERIMENTS[name]}")
    with _torch_threads(threads):
        return module.run(Path(out_dir), quick=quick)


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    if threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run(
    name: str, out_dir: str | os.PathLike, quick: bool = False, *, progress: bool = True
) -> dict[str, Any]:
    """Run experiment ``name`` (or ``"all"``) into ``out_dir`` and write ``report.md``.

    Parameters
    ----------
    name : str
        One of ``fig1, fig6, fig8, fig9, fig10, fig11, fig12, table1, convex-rf, all``.
    out_dir : path
        Folder for the PNG figures, ``report.md`` and ``results.json`` (created if missing).
    quick : bool
        Small sizes (each experiment well under a minute on two cores) instead of the
        paper's.
    progress : bool
        Show a progress display (on stderr) while running.

    Returns
    -------
    dict
        ``{"report": path, "figures": [paths], "holds": bool, "experiments": {name:
        outcome dict}}``; each
        outcome dict has ``claims`` (statement, paper, measured, holds, note, guaranteed),
        ``figures``, ``metrics`` and ``time``.
    """
    from .report import write_report

    name = check_option(name, "name", (*EXPERIMENTS, "all"))
    if not isinstance(quick, bool):
        raise TypeError(f"The 'quick' parameter must be a bool, got {quick!r}.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = list(ALL) if name == "all" else [name]
    outcomes = (
        _run_with_progress(names, out, quick)
        if progress
        else [run_one(n, out, quick) for n in names]
    )
    report = write_report(outcomes, out, quick=quick)
    return {
        "report": str(report),
        "figures": [str(f) for o in outcomes for f in o.figures],
        "holds": all(o.holds for o in outcomes),
        "experiments": {o.name: o.as_dict() for o in outcomes},
    }


def _run_with_progress(names: list[str], out: Path, quick: bool) -> list[Outcome]:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    outcomes = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("reproducing", total=len(names))
        for n in names:
            bar.update(task, description=f"running {n}")
            outcome = run_one(n, out, quick)
            outcomes.append(outcome)
            ok = sum(c.holds for c in outcome.claims)
            console.print(
                f"{n}: {ok}/{len(outcome.claims)} claims reproduced ({outcome.time:.1f} s)"
            )
            bar.advance(task)
        bar.update(task, description="done")
    return outcomes


__all__ = ["ALL", "EXPERIMENTS", "Claim", "Outcome", "run", "run_one"]
