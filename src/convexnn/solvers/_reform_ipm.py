"""Primal-dual interior-point method for the cone-constrained (ReLU) program, in torch.

The program (Pilanci & Ergen, ICML 2020; NOTES §5), squared loss, ``A = [X, 1]`` (bias) or
``X``, blocks ``j = 1..2P`` (``v_p`` then ``w_p``, output sign ``sigma_j = +1, -1``) with
pattern ``D_j`` and ``S_j = 2 D_j - I``, ``C = I - 11^T/n`` when the offset is free::

    min  1/2 ||C (sum_j sigma_j D_j A u_j - y)||^2 + beta sum_j r_j
    s.t. S_j A u_j >= 0           (nonnegative orthant, n per block)
         (r_j, u_j[:d]) in SOC    (second-order cone, the epigraph of the group norm).

As the conic QP ``min 1/2 x^T Q x + q^T x  s.t.  G x + s = h, s in K`` it is solved by the
infeasible primal-dual path-following method with Nesterov-Todd scaling and Mehrotra's
predictor-corrector (Vandenberghe, "The CVXOPT linear and quadratic cone program solvers",
2010, §7-8). The Newton system ``(Q + G^T W^{-1} W^{-T} G) dx = rhs`` has a block-diagonal
part (one (d'+1)-square block per j, from the scaling) plus the loss ``E^T C E`` of rank
``<= n``; it is solved by the Woodbury identity through the Cholesky factor of the n-square
``I + C E B^{-1} E^T C = I + C (sum_p D_p A (B_v,p^{-1} + B_w,p^{-1}) A^T D_p) C``, or, when
n exceeds the number of unknowns ``2P (d'+1)``, by the Cholesky factor of the Newton matrix
itself (its loss part ``E^T C E`` formed once).

Slacks stay strictly inside the cones, so the cone constraints hold up to the primal
residual ``||G x + s - h||``, which the method drives to zero with the gap. Stopping rule:
the relative gap ``s^T z / max(1, |primal objective|)``, the relative primal residual and the
relative dual residual (KKT) are all below ``tol``. Rounding limits the attainable gap
(typically 1e-7 to 1e-6 relative on real data in float64); when three iterations bring no
progress the method stops and returns its best iterate, reporting the gap it reached; that
counts as converged at reduced accuracy when gap and residuals are below ``ALMOST = 1e-6``.
An optional ``early_exit(V, W, tight, gap)`` is offered the iterate (with the guess
``tight = slack < multiplier`` of the tight cone constraints, (n, 2P)) once the gap and
residuals pass each of ``early_gaps`` (and, with ``tight=None``, at the end); returning
True stops the method there (the solver uses it to polish, :mod:`._reform_polish`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

#: relative gap and residuals accepted when rounding stalls the method short of ``tol``
ALMOST = 1e-6
#: relative gap and residuals below which a lack of progress counts as a rounding stall
STALL_ZONE = 1e-3


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


# ---------------------------------------------------------------- second-order cone algebra
# Cones are batched along the first dimension; a point is (x0, x1) with x0 = x[:, 0].


def _jdot(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``x^T J y`` with ``J = diag(1, -1, ..., -1)``."""
    return x[:, 0] * y[:, 0] - (x[:, 1:] * y[:, 1:]).sum(dim=1)


def _jprod(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Jordan product ``x o y = (x^T y, x0 y1 + y0 x1)``."""
    return torch.cat(
        [(x * y).sum(dim=1, keepdim=True), x[:, :1] * y[:, 1:] + y[:, :1] * x[:, 1:]], dim=1
    )


def _jdiv(lam: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """``lam \\ r``: the solution x of ``lam o x = r``."""
    l0, l1 = lam[:, :1], lam[:, 1:]
    x0 = (l0 * r[:, :1] - (l1 * r[:, 1:]).sum(dim=1, keepdim=True)) / _jdot(lam, lam)[:, None]
    return torch.cat([x0, (r[:, 1:] - x0 * l1) / l0], dim=1)


def _nt_scaling(s: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Nesterov-Todd scaling ``W`` (symmetric, ``W z = W^{-1} s``) and ``W^{-1}``, batched."""
    sn = torch.sqrt(_jdot(s, s))
    zn = torch.sqrt(_jdot(z, z))
    sb, zb = s / sn[:, None], z / zn[:, None]
    gamma = torch.sqrt((1 + (sb * zb).sum(dim=1)) / 2)
    zbJ = zb.clone()
    zbJ[:, 1:] = -zbJ[:, 1:]
    wb = (sb + zbJ) / (2 * gamma[:, None])  # the scaling point, wb^T J wb = 1
    v = wb.clone()
    v[:, 0] += 1
    v = v / torch.sqrt(2 * (wb[:, 0] + 1))[:, None]  # W = beta (2 v v^T - J), v^T J v = 1
    # v^T J v = 1 to rounding, whatever the cancellation in the norms of s and z near the
    # cone boundary: then W^{-1} below is W's inverse to rounding (else W W^{-1} - I grows
    # like the rounding error times cond(W), and the Newton directions lose all accuracy)
    v[:, 0] = torch.sqrt(1 + (v[:, 1:] * v[:, 1:]).sum(dim=1))
    beta = torch.sqrt(sn / zn)
    m = s.shape[1]
    J = torch.ones(m, dtype=s.dtype, device=s.device)
    J[1:] = -1
    J = torch.diag(J)
    W = beta[:, None, None] * (2 * v[:, :, None] * v[:, None, :] - J)
    vJ = v.clone()
    vJ[:, 1:] = -vJ[:, 1:]
    Winv = (2 * vJ[:, :, None] * vJ[:, None, :] - J) / beta[:, None, None]
    return W, Winv


def _soc_step(x: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """Largest ``a >= 0`` with ``x + a dx`` in the cone, per cone (inf when unbounded)."""
    a = _jdot(dx, dx)
    b = _jdot(x, dx)
    c = torch.clamp(_jdot(x, x), min=0.0)
    disc = b * b - a * c
    inf = torch.full_like(a, math.inf)
    sq = torch.sqrt(torch.clamp(disc, min=0.0))
    # q(t) = a t^2 + 2 b t + c, q(0) = c >= 0; the first positive root where q hits 0
    with torch.no_grad():
        r_neg_a = (-b - sq) / torch.where(a < 0, a, torch.ones_like(a))  # a < 0: one positive root
        r_pos_a = c / torch.where((a > 0) & (b < 0), -b + sq, torch.ones_like(a))  # smaller root
        r_zero_a = c / torch.where(b < 0, -2 * b, torch.ones_like(b))
    out = torch.where(a < 0, r_neg_a, inf)
    out = torch.where((a > 0) & (b < 0) & (disc >= 0), r_pos_a, out)
    out = torch.where((a == 0) & (b < 0), r_zero_a, out)
    # the first coordinate must stay nonnegative as well
    t0 = torch.where(dx[:, 0] < 0, -x[:, 0] / torch.where(dx[:, 0] < 0, dx[:, 0], -1.0), inf)
    return torch.minimum(out, t0)


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


def _matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b``; on the CPU through numpy's BLAS (OpenBLAS), measured 2-3x faster than
    torch's (MKL) for these shapes on AMD processors, equal elsewhere."""
    if a.device.type == "cpu":
        return torch.from_numpy(np.matmul(a.numpy(), b.numpy()))
    return a @ b


def _loss_woodbury_gram(
    A: torch.Tensor, D: torch.Tensor, Sp: torch.Tensor, DAT: torch.Tensor
) -> torch.Tensor:
    """``sum_p D_p A S_p A^T D_p`` (n square) for symmetric positive definite ``S_p``.

    As ``F F^T`` with ``F = [D_1 A L_1, ..., D_P A L_P]`` and ``L_p L_p^T = S_p``: a
    symmetric rank-k update, half the flops of the general product ``[D_p A S_p] [D_p A]^T``
    (which is the fallback when rounding makes some ``S_p`` indefinite)."""
    n, dp = A.shape
    P = D.shape[1]
    L, info = torch.linalg.cholesky_ex(Sp)
    if bool((info != 0).any()):
        AS = _matmul(A, Sp.permute(1, 0, 2).reshape(dp, P * dp)).reshape(n, P, dp)
        return _matmul((AS * D[:, :, None]).reshape(n, P * dp), DAT)
    F = _matmul(A, L.permute(1, 0, 2).reshape(dp, P * dp).contiguous()).reshape(n, P, dp)
    F = F * D[:, :, None]
    F = F.reshape(n, P * dp)
    if F.device.type == "cpu":  # numpy maps F @ F.T to BLAS syrk
        Fn = F.numpy()
        return torch.from_numpy(Fn @ Fn.T)
    return F @ F.T


def _orth_step(x: torch.Tensor, dx: torch.Tensor) -> float:
    """Largest ``a >= 0`` with ``x + a dx >= 0`` (inf when dx >= 0)."""
    worst = float((dx / x).min())  # x > 0: the step is 1 / max(-dx / x)
    return math.inf if worst >= 0 else -1.0 / worst


# ---------------------------------------------------------------- the solver


class _Operators:
    """The linear maps of the conic form: the model ``E``, the cone map ``G``, centering."""

    def __init__(self, A: torch.Tensor, D: torch.Tensor, n_features: int, center: bool) -> None:
        n, dp = A.shape
        P = D.shape[1]
        self.A, self.D, self.d, self.center = A, D, n_features, center
        self.n, self.dp, self.P = n, dp, P
        self.ST2 = 2 * torch.cat([D.T, D.T], dim=0) - 1  # (2P, n) signs S_j
        self.DA = (D[:, :, None] * A[:, None, :]).reshape(n, P * dp)  # [D_1 A, ..., D_P A]
        self.DAT = self.DA.T.contiguous()
        self.zero_col = torch.zeros(2 * P, 1, dtype=A.dtype, device=A.device)
        self.AT = A.T.contiguous()
        # rows a_i a_i^T, for the weighted Gram matrices as one product (when it fits)
        self.AA = None
        if n * dp * dp <= 2**23:
            self.AA = (A[:, :, None] * A[:, None, :]).reshape(n, dp * dp)
        # Woodbury through an n-square matrix, or (many samples) the full Newton matrix
        self.direct = n > 2 * P * (dp + 1)
        if self.direct:
            self.NtCN = self._loss_gram()
        else:
            self.eye_n = torch.eye(n, dtype=A.dtype, device=A.device)

    def _loss_gram(self) -> torch.Tensor:
        """``N^T C N`` (P d' square) with ``N = [D_1 A, ..., D_P A]``, accumulated by rows."""
        n, k = self.n, self.P * self.dp
        out = torch.zeros(k, k, dtype=self.A.dtype, device=self.A.device)
        colsum = torch.zeros(k, dtype=self.A.dtype, device=self.A.device)
        chunk = max(1, 2**22 // max(k, 1))
        for start in range(0, n, chunk):
            rows = self.DA[start : start + chunk]
            out += rows.T @ rows
            colsum += rows.sum(dim=0)
        if self.center:
            out -= torch.outer(colsum, colsum) / n
        return out

    def C(self, e: torch.Tensor) -> torch.Tensor:
        return e - e.mean(dim=-1, keepdim=True) if self.center else e

    def model(self, U: torch.Tensor) -> torch.Tensor:
        """``E u = sum_j sigma_j D_j A u_j``, (n,)."""
        AU = _matmul(U, self.AT)
        return ((AU[: self.P] - AU[self.P :]) * self.D.T).sum(dim=0)

    def model_adj(self, e: torch.Tensor) -> torch.Tensor:
        """``E^T e``, (2P, d')."""
        g = _matmul(self.D.T * e, self.A)
        return torch.cat([g, -g], dim=0)

    def G(self, U: torch.Tensor, R: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return -self.ST2 * _matmul(U, self.AT), -torch.cat([R[:, None], U[:, : self.d]], dim=1)

    def weighted_gram(self, w: torch.Tensor) -> torch.Tensor:
        """``A^T diag(w_j) A`` for each row ``w_j`` of w, (2P, d', d')."""
        if self.AA is not None:
            return _matmul(w, self.AA).reshape(w.shape[0], self.dp, self.dp)
        out = torch.empty(w.shape[0], self.dp, self.dp, dtype=w.dtype, device=w.device)
        for j in range(w.shape[0]):  # many samples: one symmetric product per block
            Aw = self.A * torch.sqrt(w[j])[:, None]
            out[j] = _matmul(Aw.T, Aw)
        return out

    def GT(self, zo: torch.Tensor, zc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        gu = -_matmul(self.ST2 * zo, self.A)
        gu[:, : self.d] -= zc[:, 1:]
        return gu, -zc[:, 0]


class _NewtonSystem:
    """The scaled Newton system at one iterate (module docstring), factored once and solved
    for the predictor and the corrector."""

    def __init__(
        self, ops: _Operators, so, zo, sc, zc, rpo, rpc, rx_u, rx_r, refine: int, accuracy: float
    ):
        self.ops, self.refine, self.accuracy = ops, refine, accuracy
        self.so, self.zo, self.sc, self.zc = so, zo, sc, zc
        self.rpo, self.rpc, self.rx_u, self.rx_r = rpo, rpc, rx_u, rx_r
        A, D, d, dp, P = ops.A, ops.D, ops.d, ops.dp, ops.P
        self.Wc, self.Wci = _nt_scaling(sc, zc)
        self.lam_o = torch.sqrt(so * zo)
        self.lam_c = torch.einsum("jab,jb->ja", self.Wc, zc)
        Theta = self.Wci @ self.Wci  # (W^T W)^{-1} for the SOC blocks
        self.Theta = Theta
        B = torch.zeros(2 * P, dp + 1, dp + 1, dtype=A.dtype, device=A.device)
        B[:, :dp, :dp] = ops.weighted_gram(zo / so)
        B[:, :d, :d] += Theta[:, 1:, 1:]
        B[:, :d, dp] += Theta[:, 1:, 0]
        B[:, dp, :d] += Theta[:, 0, 1:]
        B[:, dp, dp] += Theta[:, 0, 0]
        self.B = B
        self.B_chol = self.Gw_chol = self.H_chol = None
        if ops.direct:
            self.H_chol = _cholesky(self._full_matrix())
            return
        self.B_chol = _cholesky(B)
        if self.B_chol is None:  # the scaling lost definiteness in floating point
            return
        Binv_uu = torch.cholesky_inverse(self.B_chol)[:, :dp, :dp]
        Gw = _loss_woodbury_gram(A, D, Binv_uu[:P] + Binv_uu[P:], ops.DAT)
        if ops.center:
            Gw = Gw - Gw.mean(dim=0, keepdim=True)
            Gw = Gw - Gw.mean(dim=1, keepdim=True)
        self.Gw_chol = _cholesky(Gw + ops.eye_n)

    def _full_matrix(self) -> torch.Tensor:
        """The Newton matrix itself, blocks ordered (j, [u_j, r_j]), for many samples."""
        ops = self.ops
        P, dp = ops.P, ops.dp
        k = dp + 1
        H = torch.zeros(2 * P, k, 2 * P, k, dtype=ops.A.dtype, device=ops.A.device)
        idx = torch.arange(2 * P, device=ops.A.device)
        H[idx, :, idx, :] = self.B
        L = ops.NtCN.reshape(P, dp, P, dp).permute(0, 1, 2, 3)
        for sv, rows in ((1.0, slice(0, P)), (-1.0, slice(P, 2 * P))):
            for sw, cols in ((1.0, slice(0, P)), (-1.0, slice(P, 2 * P))):
                H[rows, :dp, cols, :dp] += (sv * sw) * L
        return H.reshape(2 * P * k, 2 * P * k)

    @property
    def ok(self) -> bool:
        if self.ops.direct:
            return self.H_chol is not None
        return self.B_chol is not None and self.Gw_chol is not None

    def _woodbury(self, rhs: torch.Tensor) -> torch.Tensor:
        ops, dp = self.ops, self.ops.dp
        if ops.direct:
            return torch.cholesky_solve(rhs.reshape(-1, 1), self.H_chol).reshape(rhs.shape)
        y0 = torch.cholesky_solve(rhs[:, :, None], self.B_chol)[:, :, 0]
        t = ops.C(ops.model(y0[:, :dp]))
        t = torch.cholesky_solve(t[:, None], self.Gw_chol)[:, 0]
        back = torch.cat([ops.model_adj(ops.C(t)), ops.zero_col], dim=1)
        return y0 - torch.cholesky_solve(back[:, :, None], self.B_chol)[:, :, 0]

    def _matvec(self, x: torch.Tensor) -> torch.Tensor:
        ops, dp = self.ops, self.ops.dp
        Hx = (self.B @ x[:, :, None])[:, :, 0]
        Hx[:, :dp] += ops.model_adj(ops.C(ops.model(x[:, :dp])))
        return Hx

    def _solve(self, bu: torch.Tensor, br: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rhs = torch.cat([bu, br[:, None]], dim=1)
        x = self._woodbury(rhs)
        scale = float(rhs.abs().max())
        for _ in range(self.refine):  # iterative refinement against the exact Newton matrix
            r = rhs - self._matvec(x)
            if float(r.abs().max()) <= self.accuracy * scale:  # accurate enough
                break
            x = x + self._woodbury(r)
        return x[:, : self.ops.dp], x[:, self.ops.dp]

    def direction(self, rco: torch.Tensor, rcc: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Newton direction for the scaled complementarity right-hand sides ``rc``."""
        ops, so, zo = self.ops, self.so, self.zo
        Wv = torch.einsum("jab,jb->ja", self.Wc, _jdiv(self.lam_c, rcc))
        qo = (zo / so) * self.rpo + rco / so
        qc = torch.einsum("jab,jb->ja", self.Theta, self.rpc + Wv)
        tu, tr = ops.GT(qo, qc)
        dU, dR = self._solve(-self.rx_u - tu, -self.rx_r - tr)
        gdo, gdc = ops.G(dU, dR)
        dzo = (zo / so) * (gdo + self.rpo) + rco / so
        dzc = torch.einsum("jab,jb->ja", self.Theta, gdc + self.rpc + Wv)
        # the slack steps from the linear equality G dx + ds = -rp, exactly (the
        # complementarity form W^T (v - W dz) loses accuracy as W grows ill-conditioned)
        dso, dsc = -self.rpo - gdo, -self.rpc - gdc
        return dU, dR, dso, dzo, dsc, dzc

    def max_step(self, dso, dzo, dsc, dzc) -> float:
        a = min(_orth_step(self.so, dso), _orth_step(self.zo, dzo))
        return min(a, float(_soc_step(self.sc, dsc).min()), float(_soc_step(self.zc, dzc).min()))


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
    stall_after: int = 2,
    early_exit=None,
    early_gaps: tuple[float, ...] = (),
    verbose: bool = False,
) -> IPMOutput:
    """Solve the ReLU program; see the module docstring. ``A`` (n, d'), ``D`` (n, P) 0/1 in
    A's dtype, ``y`` (n,)."""
    n, dp = A.shape
    P = D.shape[1]
    d = n_features
    m = d + 1  # SOC dimension
    J2 = 2 * P
    dt, dev = A.dtype, A.device
    ops = _Operators(A, D, n_features, center)
    yc = ops.C(y)
    # ---- start: x = 0, s = z = e (the identity of each cone), scaled to the data
    U = torch.zeros(J2, dp, dtype=dt, device=dev)
    R = torch.zeros(J2, dtype=dt, device=dev)
    so = torch.ones(J2, n, dtype=dt, device=dev)
    zo = torch.ones(J2, n, dtype=dt, device=dev)
    ec = torch.zeros(J2, m, dtype=dt, device=dev)
    ec[:, 0] = 1.0
    sc, zc = ec.clone(), beta * ec.clone()
    nu = J2 * n + J2  # degree of the cone
    q_scale = max(float(ops.model_adj(yc).abs().max()), beta, 1.0)
    history: dict[str, list] = {"iteration": [], "objective": [], "gap": [], "primal_residual": []}
    converged, it, stopped_early = False, 0, False
    attempts = sorted(early_gaps, reverse=True)
    best: tuple = (math.inf, U, math.inf, math.inf, math.inf, 0)  # (merit, U, ..., progress it)
    progress = math.inf
    gap_rel = pres = dres = math.inf
    for it in range(1, max_iter + 1):
        # ---- residuals
        e = ops.C(ops.model(U)) - yc
        gu, gr = ops.GT(zo, zc)
        rx_u = ops.model_adj(ops.C(e)) + gu
        rx_r = beta + gr
        Go, Gc = ops.G(U, R)
        rpo, rpc = Go + so, Gc + sc
        pobj = 0.5 * float(e @ e) + beta * float(R.sum())
        gap = float((so * zo).sum() + (sc * zc).sum())
        gap_rel = gap / max(1.0, abs(pobj))
        u_scale = max(float(U.abs().max()), float(R.abs().max()), 1.0)
        pres = max(float(rpo.abs().max()), float(rpc.abs().max())) / u_scale
        dres = max(float(rx_u.abs().max()), float(rx_r.abs().max())) / q_scale
        history["iteration"].append(it)
        history["objective"].append(pobj)
        history["gap"].append(gap_rel)
        history["primal_residual"].append(pres)
        if verbose:
            print(
                f"ipm {it:3d}  obj {pobj:.10e}  gap {gap_rel:.1e}  pres {pres:.1e}  dres {dres:.1e}"
            )
        if gap_rel <= tol and pres <= tol and dres <= tol:
            converged = True
            break
        if early_exit is not None and attempts and max(gap_rel, pres, dres) <= attempts[0]:
            while attempts and max(gap_rel, pres, dres) <= attempts[0]:
                attempts.pop(0)
            if early_exit(U[:P].T, U[P:].T, (so < zo).T, gap_rel):
                converged, stopped_early = True, True
                break
        # keep the best iterate; stop when rounding stalls the method: near the solution
        # (merit <= STALL_ZONE), stall_after iterations without a 10% gain
        merit = max(gap_rel, pres, dres)
        if merit < best[0]:
            best = (merit, U.clone(), gap_rel, pres, dres, best[5])
        if merit < 0.9 * progress:
            progress = merit
            best = best[:5] + (it,)
        elif merit <= STALL_ZONE and it - best[5] >= stall_after:
            break
        if deadline is not None and clock is not None and clock() >= deadline:
            break
        # ---- scaling and the Newton matrix
        # Newton directions accurate to well below the current gap (far from the solution an
        # error of 1e-9 changes nothing; the refinement steps are spent near the end)
        accuracy = min(1e-9, 1e-4 * gap_rel)
        newton = _NewtonSystem(ops, so, zo, sc, zc, rpo, rpc, rx_u, rx_r, refine, accuracy)
        if not newton.ok:  # the scaling lost definiteness in floating point: stop here
            break
        lam_o, lam_c = newton.lam_o, newton.lam_c
        mu = gap / nu
        # predictor (affine scaling)
        aff = newton.direction(-lam_o * lam_o, -_jprod(lam_c, lam_c))
        a_aff = min(1.0, newton.max_step(*aff[2:]))
        gap_aff = float(
            ((so + a_aff * aff[2]) * (zo + a_aff * aff[3])).sum()
            + ((sc + a_aff * aff[4]) * (zc + a_aff * aff[5])).sum()
        )
        sig = min(1.0, max(0.0, gap_aff / gap)) ** 3
        # corrector: second-order term (W^{-T} ds_aff) o (W dz_aff) and centering
        ds_c = torch.einsum("jab,jb->ja", newton.Wci, aff[4])
        dz_c = torch.einsum("jab,jb->ja", newton.Wc, aff[5])
        rco = -lam_o * lam_o - aff[2] * aff[3] + sig * mu
        rcc = -_jprod(lam_c, lam_c) - _jprod(ds_c, dz_c) + sig * mu * ec
        dU, dR, dso, dzo, dsc, dzc = newton.direction(rco, rcc)
        a = min(1.0, 0.99 * newton.max_step(dso, dzo, dsc, dzc))
        if verbose:
            print(f"      step {a:.3f}  sigma {sig:.1e}")
        U, R = U + a * dU, R + a * dR
        so, zo, sc, zc = so + a * dso, zo + a * dzo, sc + a * dsc, zc + a * dzc
    if not converged and best[0] < max(gap_rel, pres, dres):
        _, U, gap_rel, pres, dres, _ = best
    # rounding stalled the method short of tol: accept at reduced accuracy (as Clarabel's
    # "almost solved") when the gap and residuals are within ALMOST
    almost = not converged and max(gap_rel, pres, dres) <= max(tol, ALMOST)
    if not converged and early_exit is not None and early_exit(U[:P].T, U[P:].T, None, gap_rel):
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
