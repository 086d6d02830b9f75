"""Optimal neurons are extreme points (Corollary 2).

At the optimum every neuron of the network attains the dual constraint with equality:
|v*^T (X u_j + b_j 1)_+| = beta for the dual optimum v*. extreme_points finds the maximizers
of that function exactly for low-rank data, so it recovers the optimal neurons.
"""

import numpy as np

from convexnn import closed_form, geometry

rng = np.random.default_rng(0)
x = np.sort(rng.uniform(-2, 2, 12))[:, None]
y = np.abs(x[:, 0]) + 0.1 * rng.standard_normal(12)
beta = 0.1

res = closed_form.one_dimensional(x, y, beta)
v_star = res.dual
U, b = res.network.U, res.network.b
scale = np.linalg.norm(U, axis=0)
values = v_star @ np.maximum(x @ (U / scale) + b / scale, 0)
ratios = np.round(np.abs(values) / beta, 6)
print(f"|v*^T h_j| / beta for the {res.network.width} optimal neurons: {ratios}")

top = geometry.extreme_points(x, v_star)
print(f"max over all neurons |v*^T (xu + b)_+| / beta = {top.best / beta:.6f} (exact={top.exact})")
print(
    f"its kink: u={top.U[0, 0]:+.0f}, b={top.b[0]:.4f}, at a data point: "
    f"{np.min(np.abs(-top.b[0] / top.U[0, 0] - x[:, 0])) < 1e-9}"
)
