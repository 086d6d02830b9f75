"""Whitened data: the optimal network in closed form (Theorems 9, 12 and 15).

For X X^T = I (n <= d, no biases) the weight-decay problem is solved by at most one neuron
per sign (or per class), and beta decides how many survive. Each Result carries a certified
lower bound, and we check the closed form against the exact CVXPY reference.
"""

import numpy as np

import convexnn as cnn
from convexnn import closed_form

rng = np.random.default_rng(0)
n, d = 5, 8
Q, _ = np.linalg.qr(rng.standard_normal((d, n)))
X = Q.T  # orthonormal rows: X X^T = I
y = rng.standard_normal(n)

print("Theorem 9 (squared loss): neurons vanish as beta grows")
for beta in (0.1, 1.0, 3.0):
    res = closed_form.whitened(X, y, beta)
    ref = cnn.solve(cnn.Problem(X, y, beta=beta, bias=False), method="cvxpy", certify=False)
    print(
        f"  beta={beta:<4} width={res.network.width} objective={res.objective:.10f} "
        f"lower bound={res.lower_bound:.10f} certified={res.certified} cvxpy={ref.objective:.10f}"
    )

labels = np.where(y > 0, 1.0, -1.0)
res = closed_form.whitened(X, labels, 0.5, loss="hinge")
print(f"Theorem 12 (hinge): objective {res.objective:.6f}, margins {labels * res.network(X)}")

classes = rng.integers(0, 3, n)
res = closed_form.whitened_multiclass(X, classes, 0.5)
print(f"Theorem 15 (one-hot, 3 classes): width {res.network.width}, gap {res.gap:.2e}")

try:
    closed_form.whitened(2 * X, y, 0.1)
except ValueError as err:
    print(f"Non-whitened data are refused: {err}")
