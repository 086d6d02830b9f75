"""The README's ten-line example: fit XOR-like data, print the certified gap, plot."""

import numpy as np

import convexnn as cnn

rng = np.random.default_rng(0)
X = rng.uniform(-1, 1, (60, 2))
y = np.sign(X[:, 0] * X[:, 1])  # XOR-like labels in {-1, +1}
problem = cnn.Problem(X, y, beta=0.1, loss="hinge")
result = cnn.solve(problem)  # cutting planes; the oracle is exact for 2-D data
print(f"objective {result.objective:.6f}  lower bound {result.lower_bound:.6f}")
print(f"gap {result.gap:.1e}  certified {result.certified}  neurons {result.network.width}")
cnn.plotting.plot_decision_regions(result, X, y, path="quickstart.png")
