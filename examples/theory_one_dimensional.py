"""1-D data: the optimum is a linear spline with kinks at data points (Lemma 6, Cor 3, 8).

Shows the exact fit over the kink dictionary, the hinge-loss l1-SVM (Theorem 11), the
minimum-norm interpolant of the worked example on p.16 (||w||_1 = 8) and Proposition 1's
intervals of optimal biases (the optimum is not unique).
"""

import numpy as np

import convexnn as cnn
from convexnn import closed_form

rng = np.random.default_rng(0)
x = np.sort(rng.uniform(-2, 2, 10))
y = np.sin(2 * x) + 0.1 * rng.standard_normal(10)

res = closed_form.one_dimensional(x, y, beta=0.05)
ref = cnn.solve(cnn.Problem(x[:, None], y, beta=0.05), method="cvxpy", certify=False)
kinks = -res.network.b / res.network.U[0]
print(
    f"Lasso over the kink dictionary: objective {res.objective:.10f} (cvxpy {ref.objective:.10f})"
)
print(f"  certified={res.certified}, {res.network.width} neurons, kinks at {np.round(kinks, 3)}")
print(f"  every kink is a data point: {np.all(np.min(np.abs(kinks[:, None] - x), axis=1) < 1e-9)}")

labels = np.where(np.cos(3 * x) > 0, 1.0, -1.0)
res = closed_form.one_dimensional(x, labels, beta=0.01, loss="hinge")
print(f"Theorem 11 (l1-SVM on (x - x_i)_+): objective {res.objective:.6f}, gap {res.gap:.1e}")

a = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
t = np.array([1.0, -1.0, 1.0, 1.0, -1.0])
res = closed_form.min_norm_interpolation(a[:, None], t)
print(
    f"Worked example p.16: min ||w||_1 = {res.objective:.8f} (paper: 8), certified={res.certified}"
)
v_star = np.array([1.0, -3.0, 2.0, 1.0, -1.0])  # the paper's dual optimum
for iv in closed_form.optimal_bias_intervals(a, v_star):
    print(f"  Proposition 1: u={iv.sign:+.0f}, every bias in [{iv.low}, {iv.high}] is optimal")
