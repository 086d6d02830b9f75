"""Auto-encoder neurons (Lemma 7, Remark 1) and Theorem 6's interpolating network.

Each neuron is the normalized residual of projecting a sample onto the convex hull of the
others; when every sample is a hull vertex, these n neurons see one sample each, so the
hidden layer is diagonal and the network interpolates any targets.
"""

import numpy as np

from convexnn import geometry

rng = np.random.default_rng(0)
X = rng.standard_normal((8, 20))  # d > 2 n log(n - 1): vertices w.h.p. (Theorem 7)
neurons = geometry.autoencoder_neurons(X)
H = np.maximum(X @ neurons.U + neurons.b, 0)
print(f"all samples are hull vertices: {neurons.is_vertex.all()}")
print(f"hidden layer is diagonal: {np.count_nonzero(H - np.diag(np.diag(H))) == 0}")
y = rng.standard_normal(8)
net = geometry.interpolating_network(X, y)
print(f"Theorem 6 network, max |f(X) - y| = {np.max(np.abs(net(X) - y)):.1e}")

X_low = rng.standard_normal((12, 2))  # in 2-D some samples fall inside the hull
try:
    geometry.interpolating_network(X_low, rng.standard_normal(12))
except ValueError as err:
    print(err)
