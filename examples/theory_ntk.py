"""NTK versus the finite-width optimum (Section 5, Figure 9).

On 1-D data the minimum-norm NTK interpolant (eq. 32) is smooth, while the weight-decay
optimum (beta -> 0: the minimum-norm network, Cor 8) is a linear spline with kinks at the data.
"""

import numpy as np

from convexnn import closed_form, geometry

rng = np.random.default_rng(0)
x = np.sort(rng.uniform(-2, 2, 8))
y = np.sign(np.sin(2 * x)) * 0.8
grid = np.linspace(-2, 2, 9)[:, None]

f_ntk = geometry.ntk_predict(x[:, None], y, grid, bias=True)
res = closed_form.min_norm_interpolation(x[:, None], y)
f_opt = res.network(grid)
print(f"min-norm network: ||w||_1 = {res.objective:.4f}, certified={res.certified}")
print("     x     NTK   optimum")
for xi, a, b in zip(grid[:, 0], f_ntk, f_opt):
    print(f"{xi:6.2f} {a:7.3f} {b:9.3f}")
# second differences: the spline is piecewise linear (zero between kinks), the NTK is not
fine = np.linspace(x[0], x[-1], 400)[:, None]
curv_ntk = np.abs(np.diff(geometry.ntk_predict(x[:, None], y, fine, bias=True), 2))
curv_opt = np.abs(np.diff(res.network(fine), 2))
print(
    f"fraction of grid with curvature > 1e-9: NTK {np.mean(curv_ntk > 1e-9):.2f}, "
    f"optimum {np.mean(curv_opt > 1e-9):.2f}"
)
