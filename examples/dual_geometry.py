"""The paper's idea in one picture (docs/dual_geometry.png, used by the README).

Left: the certified optimum on 1-D data is a linear spline whose kinks sit at data points
(Lemma 6). Right: the dual constraint |v^T (x u + b)_+| <= beta over the bias b, for the
optimal dual vector v (the residual): it stays inside the band and touches +-beta exactly at
the network's neurons -- the extreme points (Corollary 2) that the cutting-plane oracle finds.
"""

import sys
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import convexnn as cnn

rng = np.random.default_rng(4)
x = np.sort(rng.uniform(-2, 2, 16))
y = np.sin(2 * x) + 0.15 * rng.standard_normal(16)
problem = cnn.Problem(x[:, None], y, beta=0.3)
result = cnn.solve(problem)
print(f"objective {result.objective:.6f}, relative gap {result.relative_gap:.1e}")

fig = Figure(figsize=(10.5, 3.6), layout="constrained")
FigureCanvasAgg(fig)
left, right = fig.subplots(1, 2)
cnn.plotting.plot_fit_1d(result, x[:, None], y, ax=left)
left.set_title("certified optimum: a spline with kinks at data points", fontsize="medium")
cnn.plotting.plot_dual_landscape(problem, network=result, ax=right)
right.set_title(
    r"dual constraint $|v^\top(xu+b)_+|\leq\beta$ is tight at the kinks", fontsize="medium"
)
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("dual_geometry.png")
fig.savefig(out, dpi=80)
print(f"wrote {out}")
