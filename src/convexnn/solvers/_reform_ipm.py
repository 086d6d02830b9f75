"""Primal-dual interior-point method for the cone-constrained (ReLU) program, in torch.

The program (Pilanci & Ergen, ICML 2020; NOTES §5), squared loss, ``A = [X, 1]`` (bias) or
``X``, blocks ``j = 1..2P`` (``v_p`` then ``w_p``, output sign ``sigma_j = +1, -1``) with
pattern ``D_j`` and ``S_j = 2 D_j - I``, ``C = I - 11^T/n`` when the offset is free::

    min  1/2 ||C (sum_j sigma_j D_j A u_j - y)||^2 + beta sum_j ||u_j[:d]||
    s.t. S_j A u_j >= 0           (nonnegative orthant, n per block).

Method: an infeasible primal-dual path-following method on the orthant with Mehrotra's
predictor-corrector (Nocedal & Wright, "Numerical Optimization", 2006, §14.2 and §19.3 for a
nonlinear objective), with each group norm replaced by its second-order-cone barrier
minimized over the epigraph variable in closed form: with ``m = beta eps``,
``min_r beta r - m log(r^2 - ||w||^2) = S - m log(m + S) + const``, ``S = sqrt(m^2 +
beta^2 ||w||^2)``, a smooth convex function within ``2m`` of ``beta ||w||`` whose Hessian keeps
the barrier's curvature (``~ m / ||w||^2`` radially) and whose gradient is
``beta^2 w / (m + S)``. ``eps`` follows the duality gap (``4P beta eps <= s^T z / 10``),
shrinking at most ``EPS_SHRINK`` per iteration, down to ``EPS_MIN`` of the blocks' scale. The
cone's variables never appear, so nothing is computed near a cone's boundary: the
epigraph form with Nesterov-Todd scalings (Clarabel's, and this module's earlier version)
loses all accuracy there and stalled at relative gaps 1e-5 (100 gates) to 1e-4 (1000 gates);
this one converges to rounding (diabetes, 100 and 1000 gates: within 1e-8 of Clarabel's
optimum in 28 and 37 iterations). A pattern that is all ones or all zeros (with the free
offset) leaves its blocks' bias coordinate free at no cost; those blocks are solved without
cones (their w block left out: the v block spans every linear term), their steps cut where
they pass closest to 0, and their bias made feasible at the end.

Newton system: ``(E^T C E + blkdiag_j(A^T diag(z_j / s_j) A + grad^2 psi(u_j))) du = rhs``
(block-diagonal plus the loss of rank ``<= n``), solved by the Woodbury identity through the
Cholesky factor of the n-square ``I + C (sum_p D_p A (B_v,p^{-1} + B_w,p^{-1})
A^T D_p) C``, or, when n exceeds the number of unknowns ``2P d'``, by the Cholesky factor of
the Newton matrix itself (its loss part formed once); both refined against the exact matrix.
Far from the solution (gap above ``LOW_PRECISION_GAP``) the capacitance is formed and factored
in float32 on the CPU and the directions refined in float64 to ``LOW_PRECISION_ACCURACY``
times the gap (the iteration count is unchanged; the residuals are always exact); the first
time that refinement falls short (ill-conditioned systems), the iteration is redone in float64
and float32 is not used again.

Barrier weights: most of a pattern's n cone constraints are implied by a few facets in low
dimension, and every one of them bends the central path; the barrier ``-mu sum_i w_i log s_i``
weights the rows guessed far from their cone's boundary by ``FAR_WEIGHT`` (:mod:`._cone_rows`;
complementarity targets ``sigma mu w_i``, ``mu = s^T z / sum w``, start ``z = w``). Every
constraint stays enforced, so the optimum is the same; the iterations are fewer (against the
plain barrier, both from ``s = z = 1``: diabetes 27 to 20 with 100 gates, 43 to 31 with 1000,
to the finisher's gap 1e-4; 28% fewer over 30 random programs with n = 100-500, d = 2-11).

Slacks stay strictly positive, so the cone constraints hold up to the primal residual,
which the method drives to rounding. At the end the blocks whose norm is negligible (the
barrier leaves them at ``O(eps)``, not 0) are set to exactly 0 when that lowers
the program's exact objective (0 is always feasible). Stopping rule: the relative gap
``(s^T z + 4P beta eps) / max(1, |objective|)`` (the orthant's and the cones' shares of the
duality gap) and the relative primal residual (and the unconstrained blocks' dual residual)
below ``tol``. The
reported dual residual is the smoothed KKT residual of the blocks kept (those set to 0
satisfy their dual condition only to the accuracy of the smoothing). An optional
``early_exit(V, W, tight, gap)`` is offered the iterate (with the guess ``tight = slack <
multiplier`` of the tight cone constraints, (n, 2P)) once the gap and primal residual pass
each of ``early_gaps`` (returning True stops the method there), and, with ``tight=None``,
the final point (the solver polishes it, :mod:`._reform_polish`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ._cone_rows import barrier_weights

#: relative gap and residual accepted when rounding stalls the method short of ``tol``
ALMOST = 1e-6
#: relative merit below which a lack of progress counts as a rounding stall
STALL_ZONE = 1e-3
#: floor of the smoothing parameter, relative to the largest block norm (at least 1)
EPS_MIN = 1e-10
#: the smallest factor by which the smoothing parameter may shrink in one iteration
EPS_SHRINK = 0.3
#: relative gap above which the Woodbury capacitance is formed and factored in float32 (CPU;
#: half the time of its float64 symmetric rank-k update, the method's largest cost) ...
LOW_PRECISION_GAP = 1e-2
#: ... and the Newton directions refined in float64 to this accuracy relative to the gap
LOW_PRECISION_ACCURACY = 1e-4
#: the starting complementarity gap ``s^T z`` relative to the objective at ``u = 0`` (measured
#: on diabetes and breast cancer: 4 saves 1-4 of 20-31 iterations against ``s = z = 1``;
#: neutral to 3% fewer on random programs)
START_GAP = 4.0
#: relative block norms tried as the threshold below which blocks are set to 0 at the end
SNAP_THRESHOLDS = (1e-8, 1e-7, 1e-6, 1e-5)


@dataclass
class IPMOutput:
    """The solution of one scalar-output ReLU program."""

    V: torch.Tensor  # (d', P)
    W: torch.Tensor  # (d', P)
    n_iter: int
    converged: bool
    gap: float
    primal_residual: float
    dual_residual: float
    history: dict[str, list] = field(default_factory=dict)
    reduced_accuracy: bool = False
    stopped_early: bool = False  # ``early_exit`` accepted an iterate (e.g. after polishing)


def _cholesky(M: torch.Tensor) -> torch.Tensor | None:
    """Cholesky factor(s) of symmetric positive definite M, with a relative diagonal jitter
    of 1e-14 then 1e-12 when rounding made M indefinite; None when that fails as well."""
    L, info = torch.linalg.cholesky_ex(M)
    failed = bool((info != 0).any())
    for jitter in (1e-14, 1e-12):
        if not failed:
            return L
        diag = M.diagonal(dim1=-2, dim2=-1)
        scale = diag.abs().amax(dim=-1, keepdim=True).clamp(min=1e-300)
        L, info = torch.linalg.cholesky_ex(M + torch.diag_embed(jitter * scale.expand_as(diag)))
        failed = bool((info != 0).any())
    return None if failed else L


#: CPU tensors' products (and the capacitance) through numpy's BLAS; False runs the generic
#: torch code of other devices (the CUDA path) on the CPU, for tests without a GPU
NUMPY_ON_CPU = True


def _numpy_path(t: torch.Tensor) -> bool:
    return NUMPY_ON_CPU and t.device.type == "cpu"


def _matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b``; on the CPU through numpy's BLAS (OpenBLAS), measured 2-3x faster than
    torch's (MKL) for these shapes on AMD processors, equal elsewhere."""
    if _numpy_path(a):
        return torch.from_numpy(np.matmul(a.numpy(), b.numpy()))
    return a @ b


def _block_matvec(M: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``M_j x_j`` for each block: ``M`` (J, k, k), ``x`` (J, k); on the CPU through numpy
    (a fifth of the time of torch's batched product or triangular solves at these sizes)."""
    if _numpy_path(M):
        return torch.from_numpy(np.matmul(M.numpy(), x.numpy()[:, :, None])[:, :, 0])
    return (M @ x[:, :, None])[:, :, 0]


def _orth_step(ratio: torch.Tensor) -> float:
    """Largest ``a >= 0`` with ``x + a dx >= 0`` (inf when dx >= 0), given ``dx / x``
    (``x > 0``)."""
    worst = float(ratio.min())  # the step is 1 / max(-dx / x)
    return math.inf if worst >= 0 else -1.0 / worst


# ---------------------------------------------------------------- the solver


class _Operators:
    """The linear maps: the model ``E``, the cone map ``G u = -S A u`` (per block), centering."""

    def __init__(self, A: torch.Tensor, D: torch.Tensor, n_features: int, center: bool) -> None:
        n, dp = A.shape
        P = D.shape[1]
        self.A, self.D, self.d, self.center = A, D, n_features, center
        self.n, self.dp, self.P = n, dp, P
        # with a free offset, a pattern that is all ones (or all zeros) leaves its blocks'
        # bias coordinate free at no cost (the offset absorbs it): the cone S_j A u >= 0 then
        # projects onto every w, so those blocks are solved unconstrained (bias pinned at 0
        # by a ridge, exact: the objective does not depend on it) and made feasible at the end
        counts = D.sum(dim=0)
        trivial = (counts == n) | (counts == 0) if center else torch.zeros_like(counts, dtype=bool)
        self.free = torch.cat([trivial, trivial])  # (2P,)
        # output signs sigma_j; an unconstrained pattern's w block is redundant (its v block
        # alone spans every linear term) and would leave a flat direction (v and w growing
        # together): it is left out of the model (sign 0) and stays at 0
        self.sign = torch.cat([torch.ones(P), -(~trivial).to(torch.float64)]).to(A)
        self.constrained = (~self.free).to(A.dtype)[:, None]  # (2P, 1) mask of the cones
        self.has_free = bool(self.free.any())
        # -S_j per block (0 on the unconstrained blocks), (2P, n): G u = -S A u
        self.negS = (1 - 2 * torch.cat([D.T, D.T], dim=0)) * self.constrained
        self.DA = (D[:, :, None] * A[:, None, :]).reshape(n, P * dp)  # [D_1 A, ..., D_P A]
        self.AT = A.T.contiguous()
        # rows a_i a_i^T, for the weighted Gram matrices as one product (when it fits)
        self.AA = None
        if n * dp * dp <= 2**23:
            self.AA = (A[:, :, None] * A[:, None, :]).reshape(n, dp * dp)
        # Woodbury through an n-square matrix, or (many samples) the full Newton matrix
        self.direct = n > 2 * P * dp
        if self.direct:
            self.NtCN = self._loss_gram()
        else:
            self.eye_n = torch.eye(n, dtype=A.dtype, device=A.device)
        self._buffers: dict = {}  # CPU buffers of :meth:`capacitance`, by dtype

    def _cpu_operands(self, dtype) -> tuple[np.ndarray, ...]:
        """``A``, ``D`` (as (n, P, 1)) and the buffers ``F`` (n, P d'), ``G`` (n, n) of
        :meth:`capacitance` in ``dtype``, made once per solve."""
        if dtype not in self._buffers:
            n, dp, P = self.n, self.dp, self.P
            self._buffers[dtype] = (
                self.A.numpy().astype(dtype),
                self.D.numpy().astype(dtype)[:, :, None],
                np.empty((n, P * dp), dtype=dtype),
                np.empty((n, n), dtype=dtype),
            )
        return self._buffers[dtype]

    def capacitance(self, Sp: torch.Tensor, low: bool = False) -> torch.Tensor:
        """``I + C (sum_p D_p A S_p A^T D_p) C`` (n square) for symmetric positive definite
        ``S_p`` (P, d', d'): the Woodbury capacitance of the Newton matrix.

        The sum is ``F F^T`` with ``F = [D_1 A L_1, ..., D_P A L_P]`` and ``L_p L_p^T = S_p``:
        a symmetric rank-k update (half the flops of the general product ``[D_p A S_p]
        [D_p A]^T``, the fallback when rounding makes some ``S_p`` indefinite). On the CPU,
        through numpy into buffers kept for the whole solve (fresh multi-megabyte arrays
        each iteration cost page faults: measured 10-15% of the method's time), in float32
        when ``low`` (half the time; the caller refines its solves in float64)."""
        n, dp, P = self.n, self.dp, self.P
        L, info = torch.linalg.cholesky_ex(Sp)
        cpu = _numpy_path(self.A)
        if bool((info != 0).any()):
            AS = _matmul(self.A, Sp.permute(1, 0, 2).reshape(dp, P * dp)).reshape(n, P, dp)
            G = _matmul((AS * self.D[:, :, None]).reshape(n, P * dp), self.DA.T)
            G = G.numpy() if cpu else G
        elif cpu:
            dtype = np.float32 if low else self.A.numpy().dtype
            A, D3, F, G = self._cpu_operands(dtype)
            Lc = L.permute(1, 0, 2).reshape(dp, P * dp).numpy().astype(dtype, copy=False)
            np.matmul(A, Lc, out=F)
            F3 = F.reshape(n, P, dp)
            np.multiply(F3, D3, out=F3)
            np.matmul(F, F.T, out=G)  # numpy maps F @ F.T to BLAS syrk
        else:
            F = (self.A @ L.permute(1, 0, 2).reshape(dp, P * dp)).reshape(n, P, dp)
            F = (F * self.D[:, :, None]).reshape(n, P * dp)
            G = F @ F.T
        if cpu:
            if self.center:
                G -= G.mean(axis=0)
                G -= G.mean(axis=1)[:, None]
            G.flat[:: n + 1] += 1.0
            return torch.from_numpy(G)
        if self.center:
            G = G - G.mean(dim=0, keepdim=True)
            G = G - G.mean(dim=1, keepdim=True)
        return G + self.eye_n

    def _loss_gram(self) -> torch.Tensor:
        """``N^T C N`` (P d' square) with ``N = [D_1 A, ..., D_P A]``, accumulated by rows."""
        n, k = self.n, self.P * self.dp
        out = torch.zeros(k, k, dtype=self.A.dtype, device=self.A.device)
        colsum = torch.zeros(k, dtype=self.A.dtype, device=self.A.device)
        chunk = max(1, 2**22 // max(k, 1))
        for start in range(0, n, chunk):
            rows = self.DA[start : start + chunk]
            out += _matmul(rows.T, rows)
            colsum += rows.sum(dim=0)
        if self.center:
            out -= torch.outer(colsum, colsum) / n
        return out

    def C(self, e: torch.Tensor) -> torch.Tensor:
        return e - e.mean(dim=-1, keepdim=True) if self.center else e

    def model(self, U: torch.Tensor) -> torch.Tensor:
        """``E u = sum_j sigma_j D_j A u_j``, (n,)."""
        Us = U * self.sign[:, None]
        return (_matmul(self.A, (Us[: self.P] + Us[self.P :]).T) * self.D).sum(dim=1)

    def model_adj(self, e: torch.Tensor) -> torch.Tensor:
        """``E^T e``, (2P, d')."""
        g = _matmul(self.D.T * e, self.A)
        return torch.cat([g, g], dim=0) * self.sign[:, None]

    def G(self, U: torch.Tensor) -> torch.Tensor:
        """``G u = -S A u`` per block, (2P, n)."""
        return self.negS * _matmul(U, self.AT)

    def GT(self, z: torch.Tensor) -> torch.Tensor:
        """``G^T z``, (2P, d')."""
        return _matmul(self.negS * z, self.A)

    def on(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (2P, n) with the unconstrained blocks' rows zeroed (they have no cones)."""
        return x * self.constrained if self.has_free else x

    def dot(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """``sum (x * y)`` over the cones' rows (an orthant inner product)."""
        if self.has_free:
            return float((x * y * self.constrained).sum())
        return float(torch.vdot(x.reshape(-1), y.reshape(-1)))

    def weighted_gram(self, w: torch.Tensor) -> torch.Tensor:
        """``A^T diag(w_j) A`` for each row ``w_j`` of w, (2P, d', d')."""
        if self.AA is not None:
            return _matmul(w, self.AA).reshape(w.shape[0], self.dp, self.dp)
        out = torch.empty(w.shape[0], self.dp, self.dp, dtype=w.dtype, device=w.device)
        for j in range(w.shape[0]):  # many samples: one symmetric product per block
            Aw = self.A * torch.sqrt(w[j])[:, None]
            out[j] = _matmul(Aw.T, Aw)
        return out


class _Penalty:
    """The interior-point method's penalty on each block ``u = (w, b)``: the group norm's
    eliminated cone barrier ``psi(w) = S - m log(m + S)``, ``S = sqrt(m^2 + beta^2 ||w||^2)``,
    ``m = beta eps`` (module docstring), plus ``(ridge_j / 2) b^2`` (nonzero only on the
    unconstrained blocks of ``_Operators.free``, whose bias coordinate the objective does not
    depend on)."""

    def __init__(
        self, U: torch.Tensor, d: int, beta: float, eps: float, ridge: torch.Tensor
    ) -> None:
        self.U, self.d, self.beta, self.eps, self.ridge = U, d, beta, eps, ridge
        self.m = beta * eps
        w = U[:, :d]
        self.S = torch.sqrt(self.m * self.m + beta * beta * (w * w).sum(dim=1))

    def value(self, V: torch.Tensor | None = None) -> float:
        if V is None:
            V, S = self.U, self.S
        else:
            S = torch.sqrt(self.m * self.m + self.beta**2 * (V[:, : self.d] ** 2).sum(dim=1))
        ridge = 0.5 * float((self.ridge * (V[:, self.d :] ** 2).sum(dim=1)).sum())
        if self.m == 0:
            return float(S.sum()) + ridge
        return float((S - self.m * torch.log(self.m + S)).sum()) + ridge

    def gradient(self) -> torch.Tensor:
        g = self.ridge[:, None] * self.U
        g[:, : self.d] = self.beta**2 * self.U[:, : self.d] / (self.m + self.S)[:, None]
        return g

    def hessian(self) -> torch.Tensor:
        U, d, b2 = self.U, self.d, self.beta**2
        dp = U.shape[1]
        w = U[:, :d]
        mS = (self.m + self.S)[:, None, None]
        S = self.S.clamp(min=1e-300)[:, None, None]
        H = torch.zeros(U.shape[0], dp, dp, dtype=U.dtype, device=U.device)
        eye = torch.eye(d, dtype=U.dtype, device=U.device)
        H[:, :d, :d] = b2 * eye / mS - b2 * b2 * w[:, :, None] * w[:, None, :] / (S * mS * mS)
        idx = torch.arange(d, dp, device=U.device)
        H[:, idx, idx] = self.ridge[:, None]
        return H


class _NewtonSystem:
    """The Newton system at one iterate (module docstring), factored once and solved for the
    predictor and the corrector."""

    def __init__(
        self, ops: _Operators, s, z, rp, rx, penalty: _Penalty, refine, accuracy, low=False
    ):
        self.ops, self.refine, self.accuracy = ops, refine, accuracy
        self.short = False  # a refined solve fell short of ``accuracy``
        self.s, self.z, self.rp, self.rx = s, z, rp, rx
        self.inv_s = 1.0 / s
        self.zs = ops.on(z * self.inv_s)  # the orthant's scaling z / s
        P = ops.P
        B = ops.weighted_gram(self.zs)
        B += penalty.hessian()
        self.B = B
        self.B_chol = self.Gw_chol = self.H_chol = None
        if ops.direct:
            self.H_chol = _cholesky(self._full_matrix())
            return
        self.B_chol = _cholesky(B)
        if self.B_chol is None:  # definiteness lost in floating point
            return
        self.Binv = Binv = torch.cholesky_inverse(self.B_chol)
        sw2 = (ops.sign[P:] ** 2)[:, None, None]  # 0 for the w blocks left out
        Sp = Binv[:P] + sw2 * Binv[P:]
        self.Gw_chol = _cholesky(ops.capacitance(Sp, low))
        if self.Gw_chol is None and low:  # float32 rounding lost definiteness
            self.Gw_chol = _cholesky(ops.capacitance(Sp))

    def _full_matrix(self) -> torch.Tensor:
        """The Newton matrix itself, blocks ordered j, for many samples."""
        ops = self.ops
        P, dp = ops.P, ops.dp
        H = torch.zeros(2 * P, dp, 2 * P, dp, dtype=ops.A.dtype, device=ops.A.device)
        idx = torch.arange(2 * P, device=ops.A.device)
        H[idx, :, idx, :] = self.B
        L = ops.NtCN.reshape(P, dp, P, dp)
        sv, sw = ops.sign[:P], ops.sign[P:]
        for si, rows in ((sv, slice(0, P)), (sw, slice(P, 2 * P))):
            for sj, cols in ((sv, slice(0, P)), (sw, slice(P, 2 * P))):
                H[rows, :, cols, :] += (si[:, None] * sj[None, :])[:, None, :, None] * L
        return H.reshape(2 * P * dp, 2 * P * dp)

    @property
    def ok(self) -> bool:
        if self.ops.direct:
            return self.H_chol is not None
        return self.B_chol is not None and self.Gw_chol is not None

    def _woodbury(self, rhs: torch.Tensor) -> torch.Tensor:
        ops = self.ops
        if ops.direct:
            return torch.cholesky_solve(rhs.reshape(-1, 1), self.H_chol).reshape(rhs.shape)
        y0 = _block_matvec(self.Binv, rhs)
        t = ops.C(ops.model(y0))
        t = torch.cholesky_solve(t[:, None].to(self.Gw_chol.dtype), self.Gw_chol)[:, 0].to(t)
        return y0 - _block_matvec(self.Binv, ops.model_adj(ops.C(t)))

    def _matvec(self, x: torch.Tensor) -> torch.Tensor:
        ops = self.ops
        return _block_matvec(self.B, x) + ops.model_adj(ops.C(ops.model(x)))

    def _solve(self, rhs: torch.Tensor, refine: bool) -> torch.Tensor:
        x = self._woodbury(rhs)
        if not refine:
            return x
        scale = float(rhs.abs().max())
        for k in range(self.refine + 1):  # iterative refinement against the exact matrix
            r = rhs - self._matvec(x)
            if float(r.abs().max()) <= self.accuracy * scale:  # accurate enough
                break
            if k == self.refine:
                self.short = True
                break
            x = x + self._woodbury(r)
        return x

    def direction(
        self, rc_s: torch.Tensor, refine: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Newton step ``(du, ds, dz)`` of ``H du + G^T dz = -rx``, ``G du + ds = -rp``,
        ``z ds + s dz = rc``, given ``rc_s = rc / s`` (0 on the unconstrained blocks' rows;
        refined against the exact matrix when ``refine``)."""
        ops, zs = self.ops, self.zs
        dU = self._solve(-self.rx - ops.GT(torch.addcmul(rc_s, zs, self.rp)), refine)
        gd = ops.G(dU).add_(self.rp)  # G du + rp
        return dU, gd.neg(), torch.addcmul(rc_s, zs, gd)

    def max_step(self, ds: torch.Tensor, dz: torch.Tensor) -> float:
        return min(_orth_step(ds * self.inv_s), _orth_step(dz / self.z))


def _predictor_corrector(newton: _NewtonSystem, s, z, gap: float, nu: float, weights):
    """Mehrotra's direction ``(du, ds, dz)`` and centering ``sigma``: target ``sigma mu w``
    for the barrier weights ``w`` (all ones when None), ``mu = gap / nu``, ``gap = s^T z``,
    ``nu = sum w``."""
    ops = newton.ops
    # predictor (affine scaling; ``rc = -s z``): it only sets the centering and the
    # corrector's second-order term, so the first solve is accurate enough
    aff = newton.direction(ops.on(-z), refine=False)
    a_aff = min(1.0, newton.max_step(aff[1], aff[2]))
    gap_aff = ops.dot(torch.add(s, aff[1], alpha=a_aff), torch.add(z, aff[2], alpha=a_aff))
    sig = min(1.0, max(0.0, gap_aff / gap)) ** 3 if gap > 0 else 0.0  # gap 0: no cones
    # corrector: rc = -s z - ds_aff dz_aff + sigma mu w, passed as rc / s
    rc = (aff[1] * aff[2]).neg_()
    target = sig * gap / nu
    rc = rc.add_(target) if weights is None else rc.add_(weights, alpha=target)
    return (*newton.direction(ops.on(rc.mul_(newton.inv_s).sub_(z))), sig)


def _feasible_free_blocks(ops: _Operators, U: torch.Tensor) -> torch.Tensor:
    """The unconstrained blocks' bias coordinate set to satisfy their cone constraints
    (all-ones pattern: ``x_i^T w + b >= 0``; all-zeros: ``<= 0``); the model moves by a
    constant, which the free offset absorbs."""
    if not bool(ops.free.any()):
        return U
    U = U.clone()
    XW = _matmul(U[:, : ops.d], ops.AT[: ops.d])  # (2P, n)
    ones = torch.cat([ops.D.T, ops.D.T], dim=0).sum(dim=1) > 0
    lift = torch.clamp(-XW.min(dim=1).values, min=0.0)
    drop = torch.clamp(-XW.max(dim=1).values, max=0.0)
    U[:, ops.d] = torch.where(ops.free, torch.where(ones, lift, drop), U[:, ops.d])
    return U


def _program_value(ops: _Operators, U: torch.Tensor, yc: torch.Tensor, beta: float) -> float:
    e = ops.C(ops.model(U)) - yc
    return 0.5 * float(e @ e) + beta * float(torch.linalg.vector_norm(U[:, : ops.d], dim=1).sum())


def _snap(ops: _Operators, U: torch.Tensor, yc: torch.Tensor, beta: float) -> torch.Tensor:
    """``U`` with its negligible blocks set to exactly 0, at the threshold among
    ``SNAP_THRESHOLDS`` (relative to the largest block norm) that gives the lowest exact
    objective (the unchanged ``U`` when none lowers it); 0 blocks are always feasible."""
    norms = torch.linalg.vector_norm(U[:, : ops.d], dim=1)
    top = float(norms.max()) if norms.numel() else 0.0
    best, best_value = U, _program_value(ops, U, yc, beta)
    for tau in SNAP_THRESHOLDS:
        drop = norms <= tau * top
        if not bool(drop.any()):
            continue
        trial = U.clone()
        trial[drop] = 0.0
        value = _program_value(ops, trial, yc, beta)
        if value <= best_value:
            best, best_value = trial, value
    return best


def _damp_free_blocks(ops: _Operators, dU: torch.Tensor, U: torch.Tensor, a: float):
    """The unconstrained blocks' steps cut where they pass closest to 0 when they pass close
    (within a tenth of the block's norm): without cones around them, Newton steps on the
    (smoothed) norm jump across its kink at 0 and oscillate when a block's optimum is 0."""
    w, dw = U[:, : ops.d], a * dU[:, : ops.d]
    t = -(w * dw).sum(dim=1) / (dw * dw).sum(dim=1).clamp(min=1e-300)  # closest point
    closest = torch.linalg.vector_norm(w + t.clamp(0, 1)[:, None] * dw, dim=1)
    near = ops.free & (t > 0) & (t < 1) & (closest <= 0.1 * torch.linalg.vector_norm(w, dim=1))
    factor = torch.where(near, t, torch.ones_like(t))
    return dU * factor[:, None]


def _log_sum(s: torch.Tensor, weights: torch.Tensor | None) -> float:
    """``sum_i w_i log s_i`` (``w = 1`` when None); consumes ``s``."""
    return float(
        s.log_().sum() if weights is None else torch.vdot(s.log_().reshape(-1), weights.reshape(-1))
    )


def _line_search(
    ops, yc, penalty, f0, grad, U, s, inv_s, z, rp, dU, ds, dz, mu, a, log_s, weights=None
):
    """Backtracking (Armijo) on the exact-penalty barrier merit ``f_eps(u) - mu sum w log s +
    nu ||G u + s||_1`` (``w``: the barrier weights, 1 when None) with ``nu`` above the new
    multipliers, for which the primal-dual direction is a descent direction (Nocedal & Wright
    2006, §19.3); the smoothed norms curve sharply near 0, where a full Newton step can
    overshoot. ``log_s``: ``sum w log s`` (None: computed here). Returns the step and ``sum w
    log(s + a ds)`` at it (None when not computed)."""

    def f(V: torch.Tensor) -> float:
        e = ops.C(ops.model(V)) - yc
        return 0.5 * float(e @ e) + penalty.value(V)

    nu = 1.1 * float(torch.add(z, dz, alpha=a).abs_().max())
    infeas = float(rp.abs().sum())
    w_s = inv_s if weights is None else inv_s * weights
    ds_s = float(torch.vdot(ds.reshape(-1), w_s.reshape(-1)))  # sum w ds / s
    slope = float((grad * dU).sum()) - mu * ds_s - nu * infeas
    if not slope < 0:  # not a descent direction in floating point: keep the step
        return a, None
    if log_s is None:
        log_s = _log_sum(s.clone(), weights)
    merit0 = f0 - mu * log_s + nu * infeas
    for _ in range(30):
        log_trial = _log_sum(torch.add(s, ds, alpha=a), weights)
        trial = f(torch.add(U, dU, alpha=a)) - mu * log_trial + nu * (1 - a) * infeas
        if trial <= merit0 + 1e-4 * a * slope:
            return a, log_trial
        a *= 0.5
    return a, None


def ipm_relu(
    A: torch.Tensor,
    D: torch.Tensor,
    y: torch.Tensor,
    beta: float,
    *,
    n_features: int,
    center: bool,
    tol: float,
    max_iter: int,
    deadline: float | None = None,
    clock=None,
    refine: int = 2,
    stall_after: int = 3,
    early_exit=None,
    early_gaps: tuple[float, ...] = (),
    row_weights: torch.Tensor | str | None = "auto",
    verbose: bool = False,
) -> IPMOutput:
    """Solve the ReLU program; see the module docstring. ``A`` (n, d'), ``D`` (n, P) 0/1 in
    A's dtype, ``y`` (n,). ``row_weights``: the barrier's weights of the cone constraints
    (2P, n), ``"auto"`` for :func:`._cone_rows.barrier_weights`, None for all ones."""
    n, dp = A.shape
    P = D.shape[1]
    d = n_features
    J2 = 2 * P
    dt, dev = A.dtype, A.device
    ops = _Operators(A, D, n_features, center)
    yc = ops.C(y)
    # ---- start: u = 0 (every block off), eps = 1 (data standardized: u ~ 1), s = c and
    # z = c w (centered; w the barrier weights of :mod:`._cone_rows`, or 1), c such that
    # s^T z = START_GAP max(1, objective at u = 0)
    U = torch.zeros(J2, dp, dtype=dt, device=dev)
    weights = barrier_weights(A, D) if isinstance(row_weights, str) else row_weights
    ones = torch.ones(J2, n, dtype=dt, device=dev)
    nu = max(ops.dot(ones if weights is None else weights, ones), 1.0)  # sum of the weights
    c = math.sqrt(START_GAP * max(1.0, 0.5 * float(yc @ yc)) / nu)
    s = ones * c
    z = s.clone() if weights is None else weights * c
    ridge = ops.free.to(dt)  # pins the free blocks' bias coordinate at 0 (``_Penalty``)
    eps = 1.0
    smoothing_scale = max(2 * beta * J2, 1e-300)
    history: dict[str, list] = {"iteration": [], "objective": [], "gap": [], "primal_residual": []}
    converged, it, stopped_early = False, 0, False
    attempts = sorted(early_gaps, reverse=True)
    best: tuple = (math.inf, U, math.inf, math.inf, math.inf, 0)  # (merit, U, ..., progress it)
    progress = math.inf
    gap_rel = pres = dres = math.inf
    log_s = None  # sum log s, carried from the line search
    low_precision = dt == torch.float64 and _numpy_path(A)
    for it in range(1, max_iter + 1):
        # ---- residuals of the smoothed program's KKT system
        penalty = _Penalty(U, d, beta, eps, ridge)
        e = ops.C(ops.model(U)) - yc
        grad = ops.model_adj(ops.C(e)) + penalty.gradient()
        GTz = ops.GT(z)
        rx = grad + GTz
        rp = ops.on(ops.G(U).add_(s))
        norms = torch.linalg.vector_norm(U[:, :d], dim=1)
        pobj = 0.5 * float(e @ e) + beta * float(norms.sum())
        gap = ops.dot(s, z)
        gap_rel = (gap + smoothing_scale * eps) / max(1.0, abs(pobj))
        u_top = max(float(norms.max()), 1.0)
        pres = float(rp.abs().max()) / max(float(U.abs().max()), 1.0)
        live = norms > SNAP_THRESHOLDS[0] * u_top
        d_scale = max(float(grad.abs().max()), float(GTz.abs().max()), 1.0)
        dres = float(rx[live].abs().max()) / d_scale if bool(live.any()) else 0.0
        history["iteration"].append(it)
        history["objective"].append(pobj)
        history["gap"].append(gap_rel)
        history["primal_residual"].append(pres)
        if verbose:
            print(
                f"ipm {it:3d}  obj {pobj:.10e}  gap {gap_rel:.1e}  pres {pres:.1e}  "
                f"dres {dres:.1e}  eps {eps:.1e}"
            )
        eps_floor = EPS_MIN * u_top
        # the unconstrained blocks have no complementarity: their dual residual counts
        free_res = float(rx[ops.free].abs().max()) / d_scale if ops.has_free else 0.0
        if gap_rel <= tol and pres <= tol and free_res <= tol:
            converged = True
            break
        merit = max(gap_rel, pres)
        if early_exit is not None and attempts and merit <= attempts[0]:
            while attempts and merit <= attempts[0]:
                attempts.pop(0)
            if early_exit(U[:P].T, U[P:].T, (s < z).T, gap_rel):
                converged, stopped_early = True, True
                break
        # keep the best iterate; near the solution (merit <= STALL_ZONE), stop after
        # stall_after iterations without a 10% gain (rounding)
        if merit < best[0]:
            best = (merit, U.clone(), gap_rel, pres, dres, best[5])
        if merit < 0.9 * progress:
            progress = merit
            best = best[:5] + (it,)
        elif merit <= STALL_ZONE and it - best[5] >= stall_after:
            break
        if deadline is not None and clock is not None and clock() >= deadline:
            break
        # ---- Newton directions: accurate to well below the current gap (far from the
        # solution, from a float32 capacitance refined in float64, until that refinement
        # falls short once: float64 from then on)
        low = low_precision and gap_rel > LOW_PRECISION_GAP
        accuracy = LOW_PRECISION_ACCURACY * gap_rel if low else min(1e-9, 1e-4 * gap_rel)
        newton = _NewtonSystem(ops, s, z, rp, rx, penalty, refine, accuracy, low)
        step = _predictor_corrector(newton, s, z, gap, nu, weights) if newton.ok else None
        if low and newton.ok and newton.short:
            low_precision = False
            newton = _NewtonSystem(ops, s, z, rp, rx, penalty, refine, accuracy)
            step = _predictor_corrector(newton, s, z, gap, nu, weights) if newton.ok else None
        if step is None:  # definiteness lost in floating point: stop here
            break
        dU, ds, dz, sig = step
        a = min(1.0, 0.99 * newton.max_step(ds, dz))
        f0 = 0.5 * float(e @ e) + penalty.value()
        a, log_s = _line_search(
            ops,
            yc,
            penalty,
            f0,
            grad,
            U,
            s,
            newton.inv_s,
            z,
            rp,
            dU,
            ds,
            dz,
            sig * gap / nu,
            a,
            log_s,
            weights,
        )
        if verbose:
            print(f"      step {a:.3f}  sigma {sig:.1e}")
        if ops.has_free:
            dU = _damp_free_blocks(ops, dU, U, a)
        U = torch.add(U, dU, alpha=a)
        s = torch.add(s, ds, alpha=a)
        z = torch.add(z, dz, alpha=a)
        # the cones' barrier parameter follows the gap: their share (<= 4P beta eps) a tenth
        # and shrinks at most by EPS_SHRINK per iteration (Newton tracks the smoothed program
        # only while its curvature, ~beta / eps near 0, changes gradually)
        target = ops.dot(s, z) / (10.0 * smoothing_scale)
        eps = max(eps_floor, EPS_SHRINK * eps, min(eps, target))
    if not converged and best[0] < max(gap_rel, pres):
        _, U, gap_rel, pres, dres, _ = best
    almost = not converged and max(gap_rel, pres) <= max(tol, ALMOST)
    U = _snap(ops, _feasible_free_blocks(ops, U), yc, beta)
    if not stopped_early and early_exit is not None and early_exit(U[:P].T, U[P:].T, None, gap_rel):
        converged, stopped_early = True, True
    return IPMOutput(
        V=U[:P].T.contiguous(),
        W=U[P:].T.contiguous(),
        n_iter=it,
        converged=converged or almost,
        reduced_accuracy=almost and not stopped_early,
        stopped_early=stopped_early,
        gap=gap_rel,
        primal_residual=pres,
        dual_residual=dres,
        history=history,
    )
