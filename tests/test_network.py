"""ReLUNetwork: predictions, Lemma 1 balancing, pruning, torch and file round trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import convexnn as cnn
from _budget import examples, seeds
from convexnn import ReLUNetwork


def random_network(rng, d=3, m=5, k=None, bias=True, offset=True) -> ReLUNetwork:
    U = rng.standard_normal((d, m))
    W = rng.standard_normal(m if k is None else (m, k))
    b = rng.standard_normal(m) if bias else None
    c = None if not offset else (float(rng.standard_normal()) if k is None else rng.normal(size=k))
    return ReLUNetwork(U, b, W, c)


def reference_predict(net: ReLUNetwork, X: np.ndarray) -> np.ndarray:
    """Neuron-by-neuron sum, independent of the vectorized implementation."""
    out = 0.0
    for j in range(net.width):
        pre = X @ net.U[:, j] + (0.0 if net.b is None else net.b[j])
        out = out + np.multiply.outer(np.maximum(pre, 0), net.W[j])
    out = out + (0.0 if net.c is None else net.c)
    shape = (X.shape[0],) if net.n_outputs is None else (X.shape[0], net.n_outputs)
    return np.broadcast_to(out, shape)


CONFIGS = [
    dict(k=None, bias=True, offset=True),
    dict(k=None, bias=False, offset=False),
    dict(k=None, bias=True, offset=False),
    dict(k=3, bias=True, offset=True),
    dict(k=2, bias=False, offset=False),
    dict(k=1, bias=True, offset=True),
]


@pytest.mark.parametrize("cfg", CONFIGS)
def test_predict_shapes_and_values(cfg):
    rng = np.random.default_rng(0)
    net = random_network(rng, **cfg)
    X = rng.standard_normal((11, 3))
    out = net.predict(X)
    assert out.shape == ((11,) if cfg["k"] is None else (11, cfg["k"]))
    np.testing.assert_allclose(out, reference_predict(net, X), rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(net(X), out)
    assert net.width == 5 and net.n_features == 3 and net.n_outputs == cfg["k"]
    assert net.hidden(X).shape == (11, 5) and np.all(net.hidden(X) >= 0)


def test_zero_width_network_predicts_its_offset():
    net = ReLUNetwork(np.zeros((2, 0)), np.zeros(0), np.zeros(0), 1.5)
    np.testing.assert_array_equal(net.predict(np.ones((4, 2))), np.full(4, 1.5))
    net = ReLUNetwork(np.zeros((2, 0)), None, np.zeros((0, 3)), None)
    np.testing.assert_array_equal(net.predict(np.ones((4, 2))), np.zeros((4, 3)))


def test_norms_weight_decay_and_path_norm():
    U = np.array([[3.0, 0.0], [4.0, 1.0]])
    W = np.array([[1.0, 0.0], [0.0, -2.0]])  # vector outputs: row norms
    net = ReLUNetwork(U, None, W)
    nu, nw = net.neuron_norms()
    np.testing.assert_allclose(nu, [5.0, 1.0])
    np.testing.assert_allclose(nw, [1.0, 2.0])
    assert net.weight_decay() == pytest.approx(0.5 * (26.0 + 5.0))
    assert net.path_norm() == pytest.approx(5.0 + 2.0)


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("seed", seeds(3))
def test_balanced_keeps_function_lowers_penalty_and_equals_l1_form(cfg, seed):
    rng = np.random.default_rng(seed)
    net = random_network(rng, m=6, **cfg)
    # degenerate neurons: dead (w = 0), zero input weight with b <= 0, and a constant neuron
    U, W = net.U.copy(), net.W.copy()
    b = None if net.b is None else net.b.copy()
    W[0] = 0.0
    U[:, 1] = 0.0
    U[:, 2] = 0.0
    if b is not None:
        b[1], b[2] = -0.5, 0.7
    net = ReLUNetwork(U, b, W, net.c)
    X = rng.standard_normal((13, 3))
    bal = net.balanced()
    np.testing.assert_allclose(bal.predict(X), net.predict(X), rtol=1e-12, atol=1e-12)
    assert bal.width == net.width
    assert bal.weight_decay() <= net.weight_decay() + 1e-12
    # balanced penalty is the l1 form (Lemma 1): (1/2)(|u|^2 + |w|^2) = |u||w| per neuron
    assert bal.weight_decay() == pytest.approx(net.path_norm(), rel=1e-12, abs=1e-14)
    nu, nw = bal.neuron_norms()
    np.testing.assert_allclose(nu, nw, rtol=1e-12, atol=1e-15)
    # idempotent
    assert bal.balanced().weight_decay() == pytest.approx(bal.weight_decay(), rel=1e-12)
    # objectives through Problem: balanced objective == l1 objective <= original objective
    y = rng.standard_normal(13) if cfg["k"] is None else rng.standard_normal((13, cfg["k"]))
    prob = cnn.Problem(X, y, beta=0.3, bias=cfg["bias"])
    if cfg["bias"] or net.c is None:
        assert prob.objective(bal) <= prob.objective(net) + 1e-12
        assert prob.objective(bal) == pytest.approx(prob.l1_objective(net), rel=1e-12)


@given(
    st.integers(1, 4),
    st.integers(0, 6),
    st.booleans(),
    st.integers(0, 2**31 - 1),
    st.floats(1e-4, 1e4),
)
@examples(25)
def test_balanced_property(d, m, bias, seed, scale):
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((d, m)) * scale
    W = rng.standard_normal(m) / scale
    mask = rng.random(m) < 0.3
    U[:, mask] = 0.0
    b = rng.standard_normal(m) if bias else None
    net = ReLUNetwork(U, b, W, 0.0 if bias else None)
    X = rng.standard_normal((6, d))
    bal = net.balanced()
    ref = np.abs(net.predict(X)).max(initial=1.0)
    np.testing.assert_allclose(bal.predict(X), net.predict(X), rtol=1e-10, atol=1e-12 * ref)
    assert bal.weight_decay() <= net.weight_decay() * (1 + 1e-12) + 1e-300
    assert bal.weight_decay() == pytest.approx(net.path_norm(), rel=1e-10, abs=1e-300)


def test_pruned_drops_only_dead_neurons():
    U = np.array([[1.0, 0.0, 0.0, 2.0, 1.0]])
    b = np.array([0.0, -1.0, 2.0, 0.0, 0.5])
    W = np.array([1.0, 5.0, 3.0, 0.0, -1.0])
    net = ReLUNetwork(U, b, W, 0.25)
    X = np.linspace(-2, 2, 9)[:, None]
    pr = net.pruned()
    # neuron 1 (u = 0, b < 0) and neuron 3 (w = 0) are dead; neuron 2 is constant and kept
    assert pr.width == 3
    np.testing.assert_array_equal(pr.U[0], [1.0, 0.0, 1.0])
    np.testing.assert_allclose(pr.predict(X), net.predict(X), rtol=0, atol=1e-15)
    assert pr.c == net.c
    # with a tolerance, small neurons go too and the change is bounded by their contribution
    small = ReLUNetwork(np.array([[1.0, 1e-4]]), np.zeros(2), np.array([1.0, 1e-4]), None)
    pt = small.pruned(tol=1e-6)
    assert pt.width == 1
    assert np.max(np.abs(pt.predict(X) - small.predict(X))) <= 1e-8 * 2 + 1e-15


@pytest.mark.parametrize("cfg", CONFIGS)
def test_torch_round_trip_is_exact(cfg):
    rng = np.random.default_rng(1)
    net = random_network(rng, **cfg)
    model = net.to_torch()
    assert isinstance(model, torch.nn.Sequential)
    assert model[0].weight.dtype == torch.float64
    assert (model[0].bias is None) == (net.b is None)
    assert (model[2].bias is None) == (net.c is None)
    squeeze = cfg["k"] != 1  # a (m, 1) W stays a vector output only without squeezing
    back = ReLUNetwork.from_torch(model, squeeze=squeeze)
    assert back == net
    back_sd = ReLUNetwork.from_state_dict(model.state_dict(), squeeze=squeeze)
    assert back_sd == net
    X = rng.standard_normal((7, 3))
    with torch.no_grad():
        out = model(torch.tensor(X)).numpy()
    expected = net.predict(X)
    np.testing.assert_allclose(out.reshape(expected.shape), expected, rtol=1e-14, atol=1e-14)


def test_torch_float32_and_foreign_modules():
    net = random_network(np.random.default_rng(2))
    model = net.to_torch(dtype=torch.float32)
    assert model[0].weight.dtype == torch.float32
    back = ReLUNetwork.from_torch(model)
    np.testing.assert_allclose(back.U, net.U, rtol=1e-6)
    bad = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    with pytest.raises(TypeError, match="nn.Sequential"):
        ReLUNetwork.from_torch(bad)
    with pytest.raises(ValueError, match="two"):
        ReLUNetwork.from_state_dict({"0.weight": torch.zeros(2, 2)})
    mismatched = {"0.weight": torch.zeros(4, 3), "2.weight": torch.zeros(1, 5)}
    with pytest.raises(ValueError, match="do not chain"):
        ReLUNetwork.from_state_dict(mismatched)


@pytest.mark.parametrize("cfg", CONFIGS)
def test_save_load_round_trip_is_exact(cfg, tmp_path):
    rng = np.random.default_rng(3)
    net = random_network(rng, **cfg)
    path = net.save(tmp_path / "net.npz")
    back = ReLUNetwork.load(path)
    assert back == net
    for name in ("U", "b", "W", "c"):
        a, b = getattr(net, name), getattr(back, name)
        assert (a is None) == (b is None)
        if a is not None:
            assert a.dtype == b.dtype == np.float64 and a.tobytes() == b.tobytes()
    # no temporary files left beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.npz"]


def test_save_to_path_without_suffix_and_overwrite(tmp_path):
    rng = np.random.default_rng(4)
    a, b = random_network(rng), random_network(rng, k=2)
    target = tmp_path / "model"
    a.save(str(target))
    assert ReLUNetwork.load(target) == a
    b.save(target)  # overwrite in place
    assert ReLUNetwork.load(target) == b
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_network_arrays_are_frozen_copies():
    U = np.ones((2, 3))
    net = ReLUNetwork(U, None, np.ones(3))
    assert U.flags.writeable  # the caller's array is untouched
    U[0, 0] = 7.0
    assert net.U[0, 0] == 1.0
    with pytest.raises(ValueError):
        net.U[0, 0] = 2.0


def test_equality_and_repr():
    rng = np.random.default_rng(5)
    net = random_network(rng)
    assert net == ReLUNetwork(net.U, net.b, net.W, net.c)
    assert net != ReLUNetwork(net.U, None, net.W, net.c)
    assert net != random_network(rng)
    assert (net == 3) is False
    assert "width=5" in repr(net)
