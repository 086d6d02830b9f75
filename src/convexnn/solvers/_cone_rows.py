"""Which cone constraints of a ReLU program lie near their cone's boundary.

Pattern ``p``'s cone ``{u : S_p A u >= 0}`` (``S_p = 2 D_p - I``) has one constraint per
sample, but in low dimension only a few of them are facets: on diabetes (d' = 11, n = 353)
an exact redundancy test by linear programs keeps 46 rows per pattern on average (29 to
68). The others are implied, yet each carries the same weight in the interior-point
method's logarithmic barrier and bends its central path: solved with the facets alone, the
100-gate program needs 16 iterations to a relative gap of 1e-4 instead of 27 (measured from
the start ``s = z = 1``).

Exact redundancy tests cost one linear program per row, far more than the program itself;
:func:`barrier_weights` guesses instead. It takes a central direction ``h_p`` of each cone
(logistic regression of the signs ``S_p`` on the normalized rows, a few batched Newton steps:
a smooth stand-in for the direction of largest margin), ranks the rows by their normalized
margin ``(S_p A h_p)_i / ||a_i||`` and gives the ``k`` smallest weight 1 and the rest
``FAR_WEIGHT``. On diabetes (100 gates) the ``n / 4 = 88`` rows kept this way hold 99.1% of
the facets.

The weights only shape the central path (a weighted barrier ``-mu sum_i w_i log s_i``; every
constraint stays in the program and is enforced), so a wrong guess costs iterations, never
accuracy.
"""

from __future__ import annotations

import numpy as np
import torch

#: barrier weight of the rows ranked far from the boundary
FAR_WEIGHT = 0.1
#: fraction of each pattern's rows kept at weight 1 (at least ``MIN_ROWS_PER_DIM`` d')
NEAR_FRACTION = 0.25
MIN_ROWS_PER_DIM = 4
#: batched Newton steps of the logistic regression, and its sharpness and ridge
NEWTON_STEPS = 6
SHARPNESS = 3.0
RIDGE = 1e-3
#: largest n d'^2 for which the per-pattern Hessians are formed as one product
MAX_PRODUCT = 2**23


def central_directions(A: np.ndarray, D: np.ndarray) -> np.ndarray:
    """(d', P): for each pattern a direction ``h_p`` inside (or near) its cone, from
    ``min_h sum_i log(1 + exp(-k (S_p A_n h)_i)) + (r / 2) ||h||^2`` (``A_n``: unit rows,
    ``k = SHARPNESS``, ``r = RIDGE``) by ``NEWTON_STEPS`` Newton steps from the least-squares
    fit of the signs."""
    n, dp = A.shape
    S = 2.0 * D - 1.0
    An = A / np.maximum(np.linalg.norm(A, axis=1), 1e-300)[:, None]
    AA = (An[:, :, None] * An[:, None, :]).reshape(n, dp * dp)
    H = np.linalg.lstsq(An, S, rcond=None)[0]
    k = SHARPNESS
    for _ in range(NEWTON_STEPS):
        m = k * S * (An @ H)
        sig = 0.5 * (1.0 - np.tanh(0.5 * m))  # 1 / (1 + e^m), without overflow
        grad = RIDGE * H - k * (An.T @ (S * sig))
        hess = ((k * k * sig * (1.0 - sig)).T @ AA).reshape(-1, dp, dp) + RIDGE * np.eye(dp)
        H = H - np.linalg.solve(hess, grad.T[:, :, None])[:, :, 0].T
    return H


def barrier_weights(A: torch.Tensor, D: torch.Tensor) -> torch.Tensor | None:
    """(2P, n) barrier weights of the v and w blocks' rows (module docstring), in A's dtype
    and device; None when every row would keep weight 1 or the data are too large for the
    batched Hessians (then the plain barrier is used)."""
    n, dp = A.shape
    keep = max(int(NEAR_FRACTION * n), MIN_ROWS_PER_DIM * dp)
    if keep >= n or n * dp * dp > MAX_PRODUCT or D.shape[1] == 0:
        return None
    An = A.detach().to(torch.float64).cpu().numpy()
    Dn = D.detach().to(torch.float64).cpu().numpy()
    H = central_directions(An, Dn)
    if not np.all(np.isfinite(H)):
        return None
    margins = (2.0 * Dn - 1.0) * (An @ H) / np.maximum(np.linalg.norm(An, axis=1), 1e-300)[:, None]
    kth = np.partition(margins, keep - 1, axis=0)[keep - 1]
    W = np.where(margins <= kth[None, :], 1.0, FAR_WEIGHT).T  # (P, n)
    return torch.from_numpy(np.concatenate([W, W])).to(dtype=A.dtype, device=A.device)
