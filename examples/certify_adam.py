"""Certify a network trained with torch.optim.Adam: how far is it from the global optimum?

The five certifying lines are marked; the rest trains an ordinary PyTorch model on the
weight-decay objective 1/2 ||f(X) - y||^2 + (beta/2)(||U||_F^2 + ||W||_F^2) (biases free).
"""

import numpy as np
import torch

import convexnn as cnn

rng = np.random.default_rng(0)
x = np.sort(rng.uniform(-2, 2, 40))
y = np.sin(2 * x) + 0.1 * rng.standard_normal(40)
beta = 0.05

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(1, 50), torch.nn.ReLU(), torch.nn.Linear(50, 1))
model = model.double()
X_t, y_t = torch.tensor(x[:, None]), torch.tensor(y[:, None])
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
weights = [model[0].weight, model[2].weight]
for _ in range(2000):
    opt.zero_grad()
    loss = 0.5 * ((model(X_t) - y_t) ** 2).sum() + beta / 2 * sum((w**2).sum() for w in weights)
    loss.backward()
    opt.step()

# --- certify in five lines -------------------------------------------------------------
problem = cnn.Problem(x[:, None], y, beta=beta)
network = cnn.ReLUNetwork.from_torch(model)
cert = cnn.certify(problem, network)
print(f"Adam: objective {cert.objective:.6f}, certified lower bound {cert.lower_bound:.6f}")
print(f"      at most {cert.relative_gap:.2%} above the global optimum (exact: {cert.exact})")
# ----------------------------------------------------------------------------------------

best = cnn.solve(problem)  # the certified global optimum, for comparison
print(f"cutting planes: objective {best.objective:.6f}, relative gap {best.relative_gap:.1e}")
