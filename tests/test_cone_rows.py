"""The interior-point method's barrier weights (:mod:`convexnn.solvers._cone_rows`)."""

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

import convexnn as cnn
from convexnn.solvers._cone_rows import FAR_WEIGHT, barrier_weights, central_directions
from convexnn.solvers._reform_ipm import ipm_relu


def _data(seed, n, d, P):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    A = np.hstack([X, np.ones((n, 1))])
    D = cnn.arrangements.sample(X, P, True, seed=seed).astype(float)
    return X, A, D


def _facets(A, D):
    """Exact non-redundant rows of each pattern's cone, one linear program per row: row i
    is a facet iff some u has (S A u)_i = -1 and every other row >= 0."""
    n, dp = A.shape
    out = np.zeros(D.shape, dtype=bool)
    for p in range(D.shape[1]):
        G = (2 * D[:, p] - 1)[:, None] * A
        for i in range(n):
            res = linprog(
                np.zeros(dp),
                A_ub=-np.delete(G, i, axis=0),
                b_ub=np.zeros(n - 1),
                A_eq=G[i : i + 1],
                b_eq=[-1.0],
                bounds=[(None, None)] * dp,
                method="highs",
            )
            out[i, p] = res.status == 0
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_weights_keep_every_facet_and_central_directions_lie_inside(seed):
    X, A, D = _data(seed, n=90, d=3, P=8)
    H = central_directions(A, D)
    margins = (2 * D - 1) * (A @ H)
    assert (margins > 0).mean() >= 0.99  # sampled patterns: nearly every row on its side
    W = barrier_weights(torch.tensor(A), torch.tensor(D))
    assert W.shape == (16, 90)
    np.testing.assert_array_equal(W[:8].numpy(), W[8:].numpy())  # v and w share the cone
    assert set(np.unique(W.numpy())) <= {1.0, FAR_WEIGHT}
    near = W[:8].numpy().T == 1.0
    assert np.all(near.sum(axis=0) == max(90 // 4, 4 * 4))
    facets = _facets(A, D)
    assert 3 <= facets.sum(axis=0).mean() < 30  # few facets among 90 rows in 4 dimensions
    assert (facets & near).sum() >= 0.95 * facets.sum()


def test_no_weights_when_every_row_would_keep_weight_one():
    X, A, D = _data(0, n=20, d=4, P=5)  # 4 d' = 20 rows: all kept
    assert barrier_weights(torch.tensor(A), torch.tensor(D)) is None


@pytest.mark.parametrize("seed", [0, 3])
def test_weighted_barrier_reaches_the_same_optimum_in_fewer_iterations(seed):
    X, A, D = _data(seed, n=300, d=6, P=60)
    rng = np.random.default_rng(seed)
    y = np.sin(X @ rng.standard_normal(6)) + 0.1 * rng.standard_normal(300)
    args = (torch.tensor(A), torch.tensor(D), torch.tensor(y - y.mean()), 1.0)
    kw = dict(n_features=6, center=True, tol=1e-9, max_iter=200)
    plain = ipm_relu(*args, row_weights=None, **kw)
    weighted = ipm_relu(*args, **kw)  # "auto"
    assert plain.converged and weighted.converged
    objective = [h["objective"][-1] for h in (plain.history, weighted.history)]
    assert abs(objective[1] - objective[0]) <= 1e-8 * abs(objective[0])
    assert weighted.n_iter < plain.n_iter
