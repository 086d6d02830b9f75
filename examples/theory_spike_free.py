"""Spike-free data (Lemma 3, Theorem 4): when the training problem is one small convex program.

is_spike_free says which test decided and whether the answer is proven; for spike-free data
Theorem 4's two-neuron program is the global optimum (all three losses), and on other data
its network is only feasible — the certificate says so.
"""

import numpy as np

import convexnn as cnn
from convexnn import closed_form, geometry

rng = np.random.default_rng(0)
Q, _ = np.linalg.qr(rng.standard_normal((8, 5)))
cases = {
    "whitened": Q.T,
    "orthogonal rows, scaled": np.diag([0.5, 1, 2, 3, 4.0]) @ Q.T,
    "rank one, c >= 0": np.outer(np.abs(rng.standard_normal(5)), rng.standard_normal(8)),
    "gaussian 5 x 3": rng.standard_normal((5, 3)),
}
for name, X in cases.items():
    rep = geometry.is_spike_free(X)
    print(f"{name:>24}: spike_free={rep.spike_free} proven={rep.proven} ({rep.test})")

X = cases["orthogonal rows, scaled"]
labels = np.where(rng.standard_normal(5) > 0, 1.0, -1.0)
for loss in ("squared", "hinge", "logistic"):
    res = closed_form.spike_free(X, labels, 0.3, loss=loss)
    ref = cnn.solve(
        cnn.Problem(X, labels, 0.3, loss=loss, bias=False), method="cvxpy", certify=False
    )
    print(
        f"Theorem 4, {loss:>8}: {res.objective:.8f} vs cvxpy {ref.objective:.8f}, "
        f"certified={res.certified}"
    )

X = cases["gaussian 5 x 3"]
res = closed_form.spike_free(X, labels, 0.3)
print(f"Gaussian 5 x 3 (not spike-free): certified={res.certified}, gap={res.gap:.3g}")
