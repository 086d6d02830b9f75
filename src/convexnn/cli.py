"""The ``convexnn`` command: demo, fit, predict, certify, reproduce.

Every command trains or checks the weight-decay objective
``L(f(X); y) + (beta/2)(||U||_F^2 + ||W||_F^2)`` (biases unregularized) of a two-layer ReLU
network. Errors are one line on stderr with exit code 2; Ctrl-C during training stops the
solver, keeps the best network found so far and still writes the model file (exit 130).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Any, TextIO

import numpy as np

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
LOSSES = ("squared", "hinge", "logistic")


class CLIError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


# ---------------------------------------------------------------------- progress line
class Progress:
    """A live progress line on ``stream`` fed by a solver's ``callback(info)``.

    On a terminal the line is rewritten in place; otherwise one line is printed every
    ``every`` seconds (so logs stay short). Never asks the solver to stop.
    """

    def __init__(self, stream: TextIO | None = None, every: float = 5.0) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = every
        self.last = -math.inf
        self.shown = False

    @staticmethod
    def format(info: dict) -> str:
        parts = []
        step = info.get("iteration", info.get("step"))
        if step is not None:
            parts.append(f"iter {int(step):>4d}")
        if "width" in info:
            parts.append(f"width {int(info['width']):>4d}")
        for key, label in (("objective", "objective"), ("lower_bound", "lower bound")):
            if key in info and info[key] is not None:
                parts.append(f"{label} {float(info[key]):.6g}")
        obj, low = info.get("objective"), info.get("lower_bound")
        if obj is not None and low is not None and np.isfinite(low):
            rel = (float(obj) - float(low)) / max(abs(float(obj)), 1e-300)
            parts.append(f"gap {rel:.2e}")
        elapsed = info.get("elapsed", info.get("time"))
        if elapsed is not None:
            parts.append(f"{float(elapsed):.1f}s")
        return "  ".join(parts)

    def __call__(self, info: dict) -> None:
        now = time.perf_counter()
        if self.tty:
            self.stream.write("\r\033[K" + self.format(info))
            self.stream.flush()
            self.shown = True
        elif now - self.last >= self.every:
            self.stream.write(self.format(info) + "\n")
            self.stream.flush()
            self.last = now

    def close(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False


# ---------------------------------------------------------------------- helpers
def _load_data(path: str, target: str | None, features: list[str] | None = None) -> tuple:
    from .datasets import load_table

    return load_table(path, target=target, features=features)


def _encode_labels(y: np.ndarray, loss: str, classes: list | None = None) -> tuple:
    """Labels for the binary losses as +-1 (two classes: the smaller maps to -1)."""
    if loss == "squared":
        return y, None
    found = np.unique(y)
    if classes is None:
        if found.size != 2:
            raise CLIError(
                f"the '{loss}' loss needs exactly two classes in the target column, found "
                f"{found.size} ({', '.join(f'{v:g}' for v in found[:5])})"
            )
        classes = [float(found[0]), float(found[1])]
    unknown = np.setdiff1d(found, classes)
    if unknown.size:
        raise CLIError(
            f"target values {', '.join(f'{v:g}' for v in unknown[:5])} are not among the "
            f"model's classes {classes}"
        )
    return np.where(y == classes[1], 1.0, -1.0), classes


def _problem(X: np.ndarray, y: np.ndarray, beta: float, loss: str, bias: bool) -> Any:
    from .problem import Problem

    return Problem(X, y, beta=beta, loss=loss, bias=bias)


def _load_model(path: str) -> tuple[Any, dict, str]:
    """``(network, metadata, kind)`` from a convexnn model file or a PyTorch state_dict."""
    from .network import ModelFileError, ReLUNetwork

    if not Path(path).exists():
        raise CLIError(f"model file not found: '{path}'")
    try:
        return ReLUNetwork.load(path), ReLUNetwork.load_metadata(path), "convexnn"
    except ModelFileError as exc:
        reason = str(exc)
    try:
        import torch

        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        detail = re.search(r"\((.*)\)\.?$", reason)
        why = f" ({detail.group(1)})" if detail else ""
        raise CLIError(
            f"'{path}' is neither a convexnn model file nor a PyTorch state_dict{why}"
        ) from None
    if hasattr(state, "state_dict") and not isinstance(state, dict):
        state = state.state_dict()
    if not isinstance(state, dict):
        raise CLIError(f"'{path}' holds a PyTorch {type(state).__name__}, not a state_dict")
    try:
        net = ReLUNetwork.from_state_dict(dict(state))
    except (TypeError, ValueError) as exc:
        raise CLIError(f"'{path}' is not a Linear-ReLU-Linear state_dict: {exc}") from None
    return net, {}, "torch"


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _emit(summary: dict, as_json: bool, lines: list[str], out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    else:
        out.write("\n".join(lines) + "\n")


def _cert_lines(cert: Any) -> list[str]:
    rel = cert.relative_gap
    lines = [
        f"objective      {cert.objective:.10g}",
        f"lower bound    {cert.lower_bound:.10g}   (sound: never above the global optimum)",
        f"gap            {cert.gap:.3g}  (relative {rel:.2e})",
    ]
    if rel <= 1e-6:
        lines.append("certified      global optimum within relative gap 1e-6")
    return lines


def _cert_json(cert: Any) -> dict:
    worst = cert.worst_neuron
    return {
        "objective": float(cert.objective),
        "lower_bound": _finite(cert.lower_bound),
        "gap": _finite(cert.gap),
        "relative_gap": _finite(cert.relative_gap),
        "exact": bool(cert.exact),
        "oracle": cert.oracle,
        "worst_neuron_value": None if worst is None else float(worst.value),
        "time": float(cert.time),
    }


# ---------------------------------------------------------------------- commands
def _train(args: argparse.Namespace, problem: Any, quiet: bool = False) -> tuple[Any, Any, bool]:
    """Run the solver with a progress line; returns (result, certificate, interrupted).

    A solver's ConvergenceWarning becomes one ``note:`` line on stderr.
    """
    from .sklearn import fit_problem
    from .solvers import ConvergenceWarning

    progress = None if (args.quiet or quiet) else Progress()
    options = {
        "tol": args.tol,
        "max_iter": args.max_iter,
        "time_limit": args.time_limit,
        "random_state": args.seed,
        "callback": progress,
    }
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            result, cert = fit_problem(problem, args.method, certify_time_limit=60.0, **options)
    except KeyboardInterrupt:
        raise CLIError("interrupted before the solver had a network to save") from None
    finally:
        if progress is not None:
            progress.close()
    for w in caught:
        if issubclass(w.category, ConvergenceWarning) and not args.quiet:
            sys.stderr.write(f"note: {_one_line(w.message)}\n")
        elif not issubclass(w.category, ConvergenceWarning):
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return result, cert, result.status == "interrupted"


def _run_json(result: Any, cert: Any) -> dict:
    return {
        "status": result.status,
        "n_neurons": int(result.network.pruned().width),
        "n_iter": int(result.n_iter),
        "time": float(result.time),
        **_cert_json(cert),
    }


def _run_lines(result: Any, cert: Any) -> list[str]:
    return [
        *_cert_lines(cert),
        f"neurons        {result.network.pruned().width}",
        f"time           {result.time:.2f} s ({result.n_iter} iterations, status {result.status})",
    ]


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    """Diabetes, all ten features; then one feature (BMI), where the oracle is exact."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from . import plotting
    from .datasets import load_diabetes

    X, y = load_diabetes(standardize=True)
    problem = _problem(X, y, args.beta, "squared", True)
    say = (lambda text: None) if args.json else (lambda text: (out.write(text), out.flush()))
    say(
        f"convexnn demo: scikit-learn's diabetes data, standardized (n={X.shape[0]}), squared "
        f"loss, beta={args.beta:g}, method={args.method}\n\n"
        f"[1] all {X.shape[1]} features (time limit {args.time_limit:g} s)\n"
    )
    result, cert, interrupted = _train(args, problem)
    say("\n".join(_run_lines(result, cert)) + "\n")
    if not cert.exact and cert.relative_gap > args.tol:
        say(
            "               (with 10 features the dual constraint cannot be checked exactly "
            "in general -- Remark 3 -- so this bound is sound but loose)\n"
        )
    summary = {
        "dataset": "diabetes (standardized)",
        "beta": args.beta,
        "method": args.method,
        "all_features": _run_json(result, cert),
    }
    bmi = None
    if not interrupted:
        say("\n[2] one feature (BMI): the exact 1-D oracle (Lemma 6) certifies the optimum\n")
        problem1 = _problem(X[:, [2]], y, args.beta, "squared", True)
        bmi = _train(args, problem1, quiet=True)
        say("\n".join(_run_lines(bmi[0], bmi[1])) + "\n")
        summary["bmi_only"] = _run_json(bmi[0], bmi[1])
    fig = Figure(figsize=(11.5, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    if result.history.get("objective"):
        plotting.plot_history(result, ax=axes[0])
    axes[0].set_title("[1] all features: objective and certified lower bound", fontsize="medium")
    if bmi is not None:
        plotting.plot_fit_1d(bmi[0], X[:, [2]], y, ax=axes[1])
        axes[1].set_xlabel("BMI (standardized)")
        axes[1].set_ylabel("disease progression (standardized)")
        gap = bmi[1].relative_gap
        axes[1].set_title(
            f"[2] BMI only: certified optimum (relative gap {gap:.0e})", fontsize="medium"
        )
    path = Path(args.out)
    fig.savefig(path, dpi=110)
    summary["plot"] = str(path)
    if args.json:
        out.write(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    else:
        say(f"\nplot           {path}\n")
    return EXIT_INTERRUPTED if interrupted else 0


def cmd_fit(args: argparse.Namespace, out: TextIO) -> int:
    X, y, names = _load_data(args.data, args.target, args.features)
    y, classes = _encode_labels(y, args.loss)
    problem = _problem(X, y, args.beta, args.loss, args.bias)
    result, cert, interrupted = _train(args, problem)
    network = result.network.pruned()
    meta = {
        "features": names,
        "target": args.target,
        "loss": args.loss,
        "beta": args.beta,
        "bias": args.bias,
        "classes": classes,
        "method": args.method,
        "objective": float(cert.objective),
        "lower_bound": _finite(cert.lower_bound),
        "status": result.status,
    }
    saved = network.save(args.out, metadata=meta)
    if args.plot:
        from . import plotting

        plotting.plot_result(problem, result, path=args.plot)
    summary = {
        "model": str(saved),
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "loss": args.loss,
        "beta": args.beta,
        "method": args.method,
        "status": result.status,
        "n_neurons": int(network.width),
        "n_iter": int(result.n_iter),
        "time": float(result.time),
        "plot": args.plot,
        **_cert_json(cert),
    }
    lines = [
        *_run_lines(result, cert),
        f"model          {saved}" + ("  (best so far: interrupted)" if interrupted else ""),
    ]
    if args.plot:
        lines.append(f"plot           {args.plot}")
    _emit(summary, args.json, lines, out)
    return EXIT_INTERRUPTED if interrupted else 0


def _model_inputs(args: argparse.Namespace, net: Any, meta: dict, target: str | None) -> tuple:
    features = meta.get("features")  # None: every column except the target
    if features is None and target is None:
        target = meta.get("target")
    X, y, names = _load_data(args.data, target, features)
    if X.shape[1] != net.n_features:
        raise CLIError(
            f"the model takes {net.n_features} input column(s) but '{args.data}' provides "
            f"{X.shape[1]} ({', '.join(names[:6])}{', ...' if len(names) > 6 else ''}); "
            "pass --target to leave the target column out"
        )
    return X, y


def cmd_predict(args: argparse.Namespace, out: TextIO) -> int:
    net, meta, _ = _load_model(args.model)
    target = args.target
    if target is None and meta.get("features") is None:
        target = meta.get("target")
    from .datasets import _read_frame

    columns = [str(c) for c in _read_frame(args.data).columns]
    if target is not None and target not in columns:
        target = None  # prediction data need not hold the target
    X, _ = _model_inputs(args, net, meta, target)
    F = net.predict(X)
    classes = meta.get("classes")
    import pandas as pd

    if F.ndim == 1:
        frame = pd.DataFrame({"prediction": F})
        if classes is not None:
            frame = pd.DataFrame(
                {"prediction": np.where(F > 0, classes[1], classes[0]), "score": F}
            )
    else:
        frame = pd.DataFrame(F, columns=[f"prediction_{k}" for k in range(F.shape[1])])
    if args.out:
        tmp = Path(args.out).with_name(f".tmp-{os.getpid()}-{Path(args.out).name}")
        frame.to_csv(tmp, index=False)
        os.replace(tmp, args.out)
        if not args.json:
            out.write(f"wrote {len(frame)} predictions to {args.out}\n")
        else:
            out.write(json.dumps({"predictions": str(args.out), "n": len(frame)}) + "\n")
    else:
        frame.to_csv(out, index=False)
    return 0


def cmd_certify(args: argparse.Namespace, out: TextIO) -> int:
    from .certificate import certify

    net, meta, kind = _load_model(args.model)
    loss = args.loss or meta.get("loss", "squared")
    if args.beta is None and "beta" not in meta:
        raise CLIError(f"--beta is required: the {kind} model '{args.model}' does not record it")
    beta = args.beta if args.beta is not None else float(meta["beta"])
    bias = args.bias if args.bias is not None else bool(meta.get("bias", net.b is not None))
    X, y = _model_inputs(args, net, meta, args.target)
    y, _ = _encode_labels(y, loss, meta.get("classes") if loss != "squared" else None)
    problem = _problem(X, y, beta, loss, bias)
    try:
        problem.check_network(net)
    except (TypeError, ValueError) as exc:
        raise CLIError(f"the model does not fit this problem: {exc}") from None
    cert = certify(problem, net, oracle=args.oracle, time_limit=args.time_limit)
    summary = {
        "model": args.model,
        "model_kind": kind,
        "loss": loss,
        "beta": beta,
        "bias": bias,
        "width": int(net.width),
        **_cert_json(cert),
    }
    lines = [
        f"model          {args.model} ({kind}, width {net.width}); loss {loss}, beta {beta:g}",
        *_cert_lines(cert),
        f"oracle         {cert.oracle} ({'exact' if cert.exact else 'sound bound, not exact'})",
        f"time           {cert.time:.2f} s",
    ]
    _emit(summary, args.json, lines, out)
    return 0


def cmd_reproduce(args: argparse.Namespace, out: TextIO) -> int:
    try:
        from .experiments import run
    except ImportError:
        raise CLIError(
            "the experiments are not available in this installation (convexnn.experiments.run "
            "is missing)"
        ) from None
    outcome = run(args.name, args.out, args.quick)
    if not isinstance(outcome, dict):
        outcome = {}
    report = outcome.get("report")
    figures = [str(f) for f in outcome.get("figures", [])]
    if args.json:
        summary = {
            "name": args.name,
            "out": str(args.out),
            "report": None if report is None else str(report),
            "figures": figures,
            "holds": outcome.get("holds"),
        }
        out.write(json.dumps(summary, indent=2) + "\n")
    else:
        out.write(f"{args.name}: report {report}, {len(figures)} figure(s) in {args.out}\n")
        if "holds" in outcome:
            verdict = "all hold" if outcome["holds"] else "NOT all hold (see the report)"
            out.write(f"paper's claims checked: {verdict}\n")
    return 0


# ---------------------------------------------------------------------- argument parsing
def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
        if not (value > 0 and np.isfinite(value)):
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value

    return parse


def _add_solver_options(p: argparse.ArgumentParser) -> None:
    from .solvers import METHODS

    p.add_argument("--beta", type=_positive(float), default=1.0, help="weight decay (default 1)")
    p.add_argument(
        "--method",
        choices=list(METHODS),
        default="cutting_plane",
        help="solver (default cutting_plane: certified global optimum)",
    )
    p.add_argument("--tol", type=_positive(float), default=1e-6, help="target relative gap")
    p.add_argument("--max-iter", type=_positive(int), default=100, help="iteration limit")
    p.add_argument("--time-limit", type=_positive(float), default=None, help="seconds")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--quiet", action="store_true", help="no progress line")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="convexnn",
        description=(
            "Train two-layer ReLU networks to a certified global optimum (Ergen & Pilanci, "
            "JMLR 2021). Objective: loss + (beta/2)(||U||^2 + ||W||^2), biases unregularized."
        ),
        epilog=(
            "examples:\n"
            "  convexnn demo\n"
            "  convexnn fit data.csv --target y --beta 1 --out model.npz --plot fit.png\n"
            "  convexnn predict model.npz new.csv --out predictions.csv\n"
            "  convexnn certify model.npz data.csv --target y\n"
            "  convexnn certify torch_model.pt data.csv --target y --beta 1\n"
            "  convexnn reproduce fig6 --out results --quick"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"convexnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "demo",
        help="train on standardized diabetes and print the certified gap",
        description="Train on scikit-learn's diabetes data (standardized), print objective, "
        "lower bound, gap, neurons and time, and write a plot.",
    )
    _add_solver_options(p)
    p.add_argument("--out", default="convexnn-demo.png", help="plot file (default %(default)s)")
    p.set_defaults(time_limit=30.0)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "fit",
        help="train on a CSV/Parquet file and save the model",
        description="Train on a table (CSV, or Parquet by extension) and save the network "
        "(safe npz+JSON format).",
    )
    p.add_argument("data", help="CSV or Parquet file with a header row")
    p.add_argument("--target", required=True, help="column to predict")
    p.add_argument("--features", nargs="+", default=None, help="input columns (default: all)")
    p.add_argument("--loss", choices=LOSSES, default="squared", help="default squared")
    p.add_argument(
        "--bias",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="unregularized hidden biases and output offset (default on)",
    )
    _add_solver_options(p)
    p.add_argument("--out", required=True, help="model file to write")
    p.add_argument("--plot", default=None, help="also write a figure (PNG, PDF, SVG)")
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser(
        "predict",
        help="predict with a saved model",
        description="Predict for every row of a table; writes CSV (stdout by default).",
    )
    p.add_argument("model", help="model file written by 'convexnn fit'")
    p.add_argument("data", help="CSV or Parquet file")
    p.add_argument("--target", default=None, help="column to leave out (if present)")
    p.add_argument("--out", default=None, help="CSV file to write (default: stdout)")
    p.add_argument("--json", action="store_true", help="print a JSON summary (with --out)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser(
        "certify",
        help="prove how far a network is from the global optimum",
        description="A sound lower bound on the optimal objective and the duality gap of a "
        "network: a convexnn model file, or a PyTorch state_dict of "
        "nn.Sequential(Linear, ReLU, Linear) saved with torch.save.",
    )
    p.add_argument("model", help="convexnn model file or PyTorch state_dict file")
    p.add_argument("data", help="CSV or Parquet file")
    p.add_argument("--target", required=True, help="target column")
    p.add_argument("--loss", choices=LOSSES, default=None, help="default: the model's")
    p.add_argument("--beta", type=_positive(float), default=None, help="default: the model's")
    p.add_argument("--bias", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--oracle", default="auto", help="dual-constraint oracle (default auto)")
    p.add_argument("--time-limit", type=_positive(float), default=None, help="seconds")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=cmd_certify)

    p = sub.add_parser(
        "reproduce",
        help="reproduce a figure or table of the paper",
        description="Run one of the paper's experiments and write its figures and report.",
    )
    p.add_argument(
        "name",
        help="fig1, fig6, fig8, fig9, fig10, fig11, fig12, table1, convex-rf or all",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--quick", action="store_true", help="a smaller, faster version")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=cmd_reproduce)
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of the ``convexnn`` command; returns the exit code."""
    out = sys.stdout if out is None else out
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args, out)
    except KeyboardInterrupt:
        sys.stderr.write("convexnn: interrupted\n")
        return EXIT_INTERRUPTED
    except CLIError as exc:
        sys.stderr.write(f"convexnn: error: {exc}\n")
    except FileNotFoundError as exc:
        sys.stderr.write(f"convexnn: error: {_one_line(exc)}\n")
    except (ValueError, TypeError, ImportError, OSError, RuntimeError) as exc:
        sys.stderr.write(f"convexnn: error: {_one_line(exc)}\n")
    except Exception as exc:  # a bug: still one line, but say what it was
        sys.stderr.write(
            f"convexnn: internal error: {type(exc).__name__}: {_one_line(exc)} (please report)\n"
        )
    return EXIT_ERROR


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
