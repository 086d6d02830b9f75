"""The nonconvex baseline: gradient training of the network itself (Adam or SGD in PyTorch).

Minimizes the training objective directly::

    L((X U + 1 b^T)_+ W + c; y) + (beta / 2)(||U||_F^2 + ||W||_F^2)

(biases and offset unregularized). It finds a local solution only; its Result carries no
lower bound (``-inf``) — pass the network to :func:`convexnn.certify` for one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import (
    check_no_kwargs,
    check_option,
    check_positive_int,
    check_positive_scalar,
)
from ..network import ReLUNetwork
from ..problem import Problem
from ..result import Result
from ._common import Timer, finish


def torch_loss(name: str, f: Any, y: Any) -> Any:
    """The loss as a torch expression (sum over samples and outputs)."""
    import torch

    if name == "squared":
        return 0.5 * torch.sum((f - y) ** 2)
    if name == "hinge":
        return torch.sum(torch.relu(1 - y * f))
    return torch.sum(torch.nn.functional.softplus(-y * f))


def _resolve_dtype(dtype: Any) -> Any:
    import torch

    if dtype is None:
        return torch.float64
    if isinstance(dtype, str):
        if dtype not in ("float32", "float64"):
            raise ValueError(f"The 'dtype' parameter must be float32 or float64. Got {dtype!r}.")
        return getattr(torch, dtype)
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"The 'dtype' parameter must be float32 or float64. Got {dtype!r}.")
    return dtype


def solve_nonconvex(
    problem: Problem,
    *,
    width: int = 100,
    optimizer: str = "adam",
    lr: float = 1e-3,
    n_steps: int = 10_000,
    batch_size: int | None = None,
    init_scale: float = 1.0,
    init: ReLUNetwork | None = None,
    random_state: int | None = 0,
    time_limit: float | None = None,
    target_objective: float | None = None,
    log_every: int = 10,
    callback: Any = None,
    device: str = "cpu",
    dtype: Any = None,
    **kwargs: Any,
) -> Result:
    """Train the nonconvex network by Adam or SGD (the baseline every convex method beats).

    Objective: ``L(f(X); y) + (beta/2)(||U||_F^2 + ||W||_F^2)``, biases unregularized.

    Parameters
    ----------
    width : int
        Hidden neurons m (ignored when ``init`` is given).
    optimizer : {'adam', 'sgd'}
        ``torch.optim.Adam`` or plain ``torch.optim.SGD`` (gradient descent when full batch).
    lr : float
        Learning rate.
    n_steps : int
        Optimizer steps.
    batch_size : int or None
        Mini-batch size (the batch loss is rescaled by n / batch_size); None = full batch.
    init_scale : float
        Multiplies PyTorch's default ``nn.Linear`` initialization (Fig. 1 of the paper
        varies it).
    init : ReLUNetwork, optional
        Start from this network instead of a random one.
    random_state : int or None
        Seed of a private ``torch.Generator`` (no global state is touched).
    time_limit : float, optional
        Seconds; the best network so far is returned when it expires.
    target_objective : float, optional
        Stop as soon as the full objective is at or below this value.
    log_every : int
        Record the full objective in ``history`` every this many steps.
    callback : callable, optional
        ``callback(info) -> bool``; info has step, objective, time; True stops training.
    device, dtype
        Torch device and dtype (float64 by default; float32 allowed).

    Returns
    -------
    Result
        ``network`` is the best network seen (balanced, Lemma 1); ``lower_bound = -inf``;
        ``history`` has "step", "objective", "time".
    """
    import torch

    check_no_kwargs(kwargs, "solve(method='nonconvex')")
    optimizer = check_option(optimizer, "optimizer", ("adam", "sgd"))
    lr = check_positive_scalar(lr, "lr")
    n_steps = check_positive_int(n_steps, "n_steps")
    init_scale = check_positive_scalar(init_scale, "init_scale")
    log_every = check_positive_int(log_every, "log_every")
    n = problem.n_samples
    if batch_size is not None:
        batch_size = min(check_positive_int(batch_size, "batch_size"), n)
    if time_limit is not None:
        time_limit = check_positive_scalar(time_limit, "time_limit")
    if random_state is not None:
        random_state = check_positive_int(random_state, "random_state", minimum=0)
    dtype = _resolve_dtype(dtype)
    timer = Timer(time_limit)

    generator = torch.Generator(device="cpu")
    generator.manual_seed(0 if random_state is None else random_state)
    if init is None:
        width = check_positive_int(width, "width")
        init = _random_network(problem, width, init_scale, generator)
    else:
        problem.check_network(init)
    model = init.to_torch(dtype=dtype, device=device)
    if not problem.bias:  # keep absent biases absent
        for layer in (model[0], model[2]):
            if layer.bias is not None:
                layer.bias.requires_grad_(False)
    X = torch.tensor(problem.X, dtype=dtype, device=device)
    y = torch.tensor(problem.y, dtype=dtype, device=device)
    squeeze = problem.n_outputs is None
    params = [p for p in model.parameters() if p.requires_grad]
    opt = (torch.optim.Adam if optimizer == "adam" else torch.optim.SGD)(params, lr=lr)
    weights = [model[0].weight, model[2].weight]

    def objective_of(xb: Any, yb: Any, scale: float) -> Any:
        out = model(xb)
        out = out[:, 0] if squeeze else out
        decay = sum(torch.sum(w**2) for w in weights)
        return scale * torch_loss(problem.loss.name, out, yb) + 0.5 * problem.beta * decay

    history: dict[str, list] = {"step": [], "objective": [], "time": []}
    with torch.no_grad():  # the starting network is the fallback if training diverges at once
        best_value = float(objective_of(X, y, 1.0))
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if not np.isfinite(best_value):
        best_value = np.inf
    status, message = "max_iter", f"completed {n_steps} steps"
    step = 0
    try:
        for step in range(1, n_steps + 1):
            if batch_size is None:
                xb, yb, scale = X, y, 1.0
            else:
                idx = torch.randperm(n, generator=generator)[:batch_size].to(device)
                xb, yb, scale = X[idx], y[idx], n / batch_size
            opt.zero_grad(set_to_none=True)
            value = objective_of(xb, yb, scale)
            value.backward()
            opt.step()
            if step % log_every == 0 or step == n_steps:
                with torch.no_grad():
                    full = float(objective_of(X, y, 1.0))
                history["step"].append(step)
                history["objective"].append(full)
                history["time"].append(timer.elapsed)
                if full < best_value:
                    best_value = full
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                if not np.isfinite(full):
                    status, message = "diverged", f"objective became {full} at step {step}"
                    break
                if target_objective is not None and full <= target_objective:
                    status, message = "target_reached", f"objective {full:.6g} at step {step}"
                    break
                info = {"step": step, "objective": full, "time": timer.elapsed}
                if callback is not None and callback(info):
                    status, message = "stopped", f"stopped by callback at step {step}"
                    break
            if timer.expired:
                status, message = "time_limit", f"time limit reached after {step} steps"
                break
    except KeyboardInterrupt:
        status, message = "interrupted", f"interrupted at step {step}"
    model.load_state_dict(best_state)
    network = ReLUNetwork.from_torch(model, squeeze=squeeze)
    if not problem.bias:
        network = ReLUNetwork(network.U, None, network.W, None)
    return finish(
        problem,
        network.balanced(),
        timer=timer,
        n_iter=step,
        status=status,
        message=f"{optimizer} (lr={lr:g}, width={init.width}): {message}",
        history=history,
        info={"optimizer": optimizer, "lr": lr, "width": init.width},
    )


def _random_network(problem: Problem, width: int, scale: float, generator: Any) -> ReLUNetwork:
    """PyTorch's default ``nn.Linear`` initialization (uniform, fan-in), times ``scale``."""
    import torch

    d, k = problem.n_features, problem.n_outputs or 1

    def uniform(shape: tuple, fan_in: int) -> np.ndarray:
        bound = 1.0 / np.sqrt(fan_in)
        draw = torch.rand(shape, generator=generator, dtype=torch.float64)
        return scale * bound * (2 * draw.numpy() - 1)

    U = uniform((d, width), d)
    W = uniform((width, k), width)
    b = uniform((width,), d) if problem.bias else None
    c = problem.best_offset(np.zeros(problem.y.shape)) if problem.bias else None
    if problem.n_outputs is None:
        W = W[:, 0]
    return ReLUNetwork(U, b, W, c)
