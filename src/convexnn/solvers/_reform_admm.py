"""ADMM for the gated-ReLU program (group lasso over sign patterns), in torch (CPU or CUDA).

The program (Pilanci & Ergen, ICML 2020; NOTES §5; the cone constraints of the ReLU program
dropped), for the squared loss, with ``A = [X, 1]`` (bias) or ``X``, patterns ``D_p`` and
``C = I - 11^T/n`` when the offset ``c`` is free (minimizing over ``c`` centers the
residual; ``C = I`` otherwise)::

    min_{v, w}  1/2 ||C (sum_p D_p A (v_p - w_p) - y)||^2 + beta sum_p (||v_p|| + ||w_p||)

Splitting (Boyd et al. 2011, §6.4): ``u = (v, w)`` carries the loss, ``z = u`` the group
penalty (prox: block soft threshold on the whole block, bias row included, so that
``sum_p D_p 1 b_p`` is not a free interpolant). The u-step is a
linear system with the same matrix at every iteration; in the coordinates ``a = v - w`` and
``s = v + w`` it splits into ``rho s = r_v + r_w`` and ``(rho I + 2 N^T C N) a = r_v - r_w``
with ``N a = sum_p D_p A a_p``, solved through a Cholesky factor computed once per value of
rho: of ``I_n + (2/rho) C ((A A^T) o (D D^T)) C`` (Woodbury, size n) when ``n <= P d'``, else
of the (P d')-square matrix itself. Rho follows residual balancing (Boyd et al. 2011,
§3.4.1), each change costing one refactorization.

Stopping rule (a KKT residual; OSQP's relative criterion): the primal residual
``||u - z||_inf / max(||u||_inf, ||z||_inf)`` and the dual residual
``rho ||z - z_prev||_inf / max(rho ||lambda||_inf, ||N^T C y||_inf)`` are both below ``tol``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ._reform_ipm import _matmul


@dataclass
class ADMMOutput:
    """The solution of one scalar-output program."""

    V: torch.Tensor  # (d', P) positive-output blocks
    W: torch.Tensor  # (d', P) negative-output blocks
    n_iter: int
    converged: bool
    primal_residual: float
    dual_residual: float
    rho: float
    history: dict[str, list] = field(default_factory=dict)


class _LinearStep:
    """Solves ``(I (x) K + 2 N^T C N) a = r`` for ``a`` of shape (d', P) with ``K = rho I``
    (one factorization per rho)."""

    def __init__(self, A: torch.Tensor, D: torch.Tensor, center: bool, gram: bool) -> None:
        self.A, self.D, self.center = A, D, center
        self.n, self.dp = A.shape
        self.P = D.shape[1]
        self.gram = gram
        eye = torch.eye(self.dp, dtype=A.dtype, device=A.device)
        self._eye_d = eye
        if gram:  # 2 N^T C N, formed once: block (p, q) = 2 A^T D_p C D_q A
            self.NtCN = self._gram()
        else:  # D D^T (pattern co-occurrence counts), used by the Woodbury kernel
            self.DDt = D @ D.T

    def _center(self, r: torch.Tensor) -> torch.Tensor:
        return r - r.mean(dim=0, keepdim=True) if self.center else r

    def _gram(self) -> torch.Tensor:
        n, dp, P = self.n, self.dp, self.P
        out = torch.zeros(P * dp, P * dp, dtype=self.A.dtype, device=self.A.device)
        chunk = max(1, min(n, 2**22 // max(P * dp, 1)))
        colsum = torch.zeros(P * dp, dtype=self.A.dtype, device=self.A.device)
        for start in range(0, n, chunk):
            A_c = self.A[start : start + chunk]
            Nc = (self.D[start : start + chunk, :, None] * A_c[:, None, :]).reshape(-1, P * dp)
            out += Nc.T @ Nc
            colsum += Nc.sum(dim=0)
        if self.center:
            out -= torch.outer(colsum, colsum) / n
        return 2.0 * out

    def factor(self, rho: float) -> None:
        """Factor the system for the current penalty."""
        self.rho = rho
        self.K = rho * self._eye_d
        if self.gram:
            H = self.NtCN.clone()
            idx = torch.arange(self.P, device=self.A.device)
            H.view(self.P, self.dp, self.P, self.dp)[idx, :, idx, :] += self.K
            self.H_chol = torch.linalg.cholesky(H)
            return
        G = (2.0 / rho) * _matmul(self.A, self.A.T) * self.DDt  # 2 (A K^{-1} A^T) o D D^T
        if self.center:
            G = G - G.mean(dim=0, keepdim=True)
            G = G - G.mean(dim=1, keepdim=True)
        G.diagonal().add_(1.0)
        self.G_chol = torch.linalg.cholesky(G)

    def solve_K(self, R: torch.Tensor) -> torch.Tensor:
        """``K^{-1} R`` (K = rho I), R of shape (d', m)."""
        return R / self.rho

    def solve(self, R: torch.Tensor) -> torch.Tensor:
        """``(I (x) K + 2 N^T C N)^{-1} r`` with r given as a (d', P) matrix."""
        if self.gram:
            sol = torch.cholesky_solve(R.T.reshape(-1, 1), self.H_chol)
            return sol.reshape(self.P, self.dp).T
        KR = self.solve_K(R)
        s = self._center((_matmul(self.A, KR) * self.D).sum(dim=1))  # C N K^{-1} r
        s = torch.cholesky_solve(2.0 * s[:, None], self.G_chol)[:, 0]
        back = _matmul(self.A.T, self.D * self._center(s)[:, None])  # N^T C s
        return KR - self.solve_K(back)


def _balance(primal: float, dual: float) -> float:
    """Factor for rho: up when the primal residual dominates, down when the dual does."""
    if primal > 10 * dual or dual > 10 * primal:
        return min(max(math.sqrt(primal / max(dual, 1e-300)), 0.1), 10.0)
    return 1.0


def admm_gated(
    A: torch.Tensor,
    D: torch.Tensor,
    y: torch.Tensor,
    beta: float,
    *,
    center: bool,
    tol: float,
    max_iter: int,
    rho: float | None = None,
    deadline: float | None = None,
    clock=None,
    relaxation: float = 1.6,
    check_every: int = 10,
    balance_every: int = 100,
    verbose: bool = False,
) -> ADMMOutput:
    """Solve the gated program; see the module docstring.

    ``A`` (n, d'), ``D`` (n, P) 0/1 in A's dtype, ``y`` (n,). The group norms cover the whole
    block, bias row included.
    """
    n, dp = A.shape
    P = D.shape[1]
    lin = _LinearStep(A, D, center, gram=n > P * dp)
    yc = y - y.mean() if center else y
    Nty = A.T @ (D * yc[:, None])  # N^T C y, (d', P)
    scale = max(float(Nty.abs().max()), 1e-300)
    if rho is None:
        rho = max(beta, 1e-3) / max(float(yc.abs().max()), 1e-12)
    lin.factor(rho)
    Z = torch.zeros(dp, 2 * P, dtype=A.dtype, device=A.device)
    Lam = torch.zeros_like(Z)  # scaled multiplier of u = z
    history: dict[str, list] = {"iteration": [], "primal_residual": [], "dual_residual": []}
    rp = rd = math.inf
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        R = rho * (Z - Lam)
        R[:, :P] += Nty
        R[:, P:] -= Nty
        Rv, Rw = R[:, :P], R[:, P:]
        a = lin.solve(Rv - Rw)
        s = (Rv + Rw) / rho
        U = torch.cat([(s + a) / 2, (s - a) / 2], dim=1)
        Uh = relaxation * U + (1 - relaxation) * Z
        Z_old = Z
        Q = Uh + Lam
        norms = torch.linalg.vector_norm(Q, dim=0)
        shrink = torch.clamp(1 - (beta / rho) / torch.clamp(norms, min=1e-300), min=0.0)
        Z = Q * shrink
        Lam = Lam + Uh - Z
        if it % check_every and it != max_iter:
            continue
        r1 = float((U - Z).abs().max()) / max(float(U.abs().max()), float(Z.abs().max()), 1e-300)
        y1 = max(float((rho * Lam).abs().max()), scale)
        d1 = float((rho * (Z - Z_old)).abs().max()) / y1
        rp, rd = r1, d1
        history["iteration"].append(it)
        history["primal_residual"].append(rp)
        history["dual_residual"].append(rd)
        if verbose:
            print(f"admm {it:6d}  primal {rp:.2e}  dual {rd:.2e}  rho {rho:.2e}")
        if rp <= tol and rd <= tol:
            converged = True
            break
        if deadline is not None and clock is not None and clock() >= deadline:
            break
        f = _balance(rp, rd) if it % balance_every == 0 else 1.0
        if f != 1.0:
            rho *= f
            Lam /= f
            lin.factor(rho)
    return ADMMOutput(
        V=Z[:, :P],
        W=Z[:, P:],
        n_iter=it,
        converged=converged,
        primal_residual=rp,
        dual_residual=rd,
        rho=rho,
        history=history,
    )
