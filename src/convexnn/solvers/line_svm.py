"""The l1-SVM master problem on 1-D inputs, as a sparse LP over the segments of the sorted data.

The hinge master (:mod:`convexnn.solvers.master`) over a neuron dictionary is the l1-SVM::

    min_{w, c}  sum_i max(0, 1 - y_i (h_i^T w + c)) + beta ||w||_1      (c = 0 without bias)

whose LP dual (Thm 8 restricted to the dictionary; NOTES §4) is::

    max  sum_i alpha_i   s.t.  0 <= alpha <= 1,  |sum_i alpha_i y_i h_ij| <= beta  (each j),
                               sum_i alpha_i y_i = 0  (bias),

with ``v = y * alpha`` the dual vector the oracle needs. Dense, this LP has ``n p`` nonzeros
(and the primal form an ``n``-row basis): 6 s per solve at n = 20,000.

With one input dimension the features are piecewise linear along the sorted data: the
dictionary's kinks cut it into S segments (:meth:`LineGram.pieces`), on each of which neuron
j is ``A_js d + B_js`` (``d`` the offset from the segment's first point). So
``h_j^T (y alpha) = sum_s A_js Z1_s + B_js Z0_s`` with the segment sums
``Z0_s = sum_{i in s} y_i alpha_i`` and ``Z1_s = sum_{i in s} y_i d_i alpha_i``. Adding the
2S free variables ``Z`` and their 2S defining equations gives the same LP with
``2S + p + 1`` rows (instead of ``p + 1`` dense ones) in which a sample's column has two
nonzeros, ``(-y_i, -y_i d_i)`` in its segment's rows.

Samples are then grouped into *blocks* inside the segments, one ``alpha`` per block (the
block's column is the sum of its members'): that LP is the dual of the l1-SVM with each
block's hinges ``sum_i max(0, 1 - y_i f_i)`` replaced by ``max(0, sum_i (1 - y_i f_i))``, a
lower model of the objective, equal to it wherever every block's margins lie on one side of
1. So when the solution's margins agree within each block, it is optimal for the l1-SVM and
the block-constant ``alpha`` is an optimal dual; a block that disagrees is split at its
margin-1 crossing and the LP solved again (the blocks only refine, so this ends). Blocks
start as (segment, label, side of the margin at the warm start) and are cut by the binary
order of magnitude of ``|1 - y_i f_i|`` (each sub-block twice as far from the crossing as
the previous one), so that the next solution, whose crossings move a little, splits few of
them: a warm-started solve needs a few LPs of a few hundred to a few thousand columns and
O(n) work per LP, whatever n.
The multipliers of the neuron rows are the weights ``w`` and that of the bias row the
offset ``c``; the solution is then evaluated on the network itself (objective, dual gap).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..problem import Problem
from ._highs import solve_lp
from .line_gram import LineGram


def block_lp(problem: Problem, lg: LineGram, block: np.ndarray, n_blocks: int) -> dict:
    """The dual-form LP of the l1-SVM over ``lg``'s neurons in the segment variables, with
    one ``alpha`` per block of samples, as ``linprog`` arguments (minimizing
    ``-sum alpha``). ``block`` (n,) gives each sample's block (ids ``0 .. n_blocks - 1``, all
    used, each inside one segment) in the sorted order; one block per sample is the plain
    l1-SVM. Variables: ``alpha`` (n_blocks), ``Z0`` (S), ``Z1`` (S); equality rows: the 2S
    segment sums, then the bias row; inequality rows: ``+-(B Z0 + A Z1) <= beta`` (2p)."""
    line = _Line(problem, lg)
    return line.lp(block, n_blocks)


class _Line:
    """The sorted data, its segments and the dictionary on them, for one master solve."""

    def __init__(self, problem: Problem, lg: LineGram) -> None:
        self.problem = problem
        self.start, self.d, self.A, self.B = lg.pieces()
        self.n, self.S = self.d.size, self.start.size
        self.seg = np.repeat(
            np.arange(self.S, dtype=np.intp), np.diff(np.append(self.start, self.n))
        )
        self.ys = lg.line.gather(problem.y)
        self.ysd = self.ys * self.d

    def outputs(self, W: np.ndarray, c: float | None) -> np.ndarray:
        """``H W + c`` (n,) in the sorted order: on segment s, ``(A^T W)_s d + (B^T W)_s``."""
        f = (self.A.T @ W)[self.seg]
        f *= self.d
        f += (self.B.T @ W + (0.0 if c is None else c))[self.seg]
        return f

    def lp(self, block: np.ndarray, k: int) -> dict:
        S, p = self.S, self.A.shape[0]
        bseg = np.zeros(k, dtype=np.intp)
        bseg[block] = self.seg
        count = np.bincount(block, minlength=k).astype(float)
        s0 = np.bincount(block, self.ys, minlength=k)
        s1 = np.bincount(block, self.ysd, minlength=k)
        rows = np.concatenate([bseg, S + bseg, np.arange(2 * S)])
        cols = np.concatenate([np.arange(k), np.arange(k), k + np.arange(2 * S)])
        vals = np.concatenate([-s0, -s1, np.ones(2 * S)])
        if self.problem.bias:
            rows = np.concatenate([rows, np.full(S, 2 * S)])
            cols = np.concatenate([cols, k + np.arange(S)])
            vals = np.concatenate([vals, np.ones(S)])
        n_eq = 2 * S + int(self.problem.bias)
        A_eq = sparse.csc_matrix((vals, (rows, cols)), shape=(n_eq, k + 2 * S))
        neuron = sparse.hstack(
            [sparse.csr_matrix((p, k)), sparse.csr_matrix(self.B), sparse.csr_matrix(self.A)],
            format="csr",
        )
        return {
            "c": np.concatenate([-count, np.zeros(2 * S)]),
            "A_ub": sparse.vstack([neuron, -neuron], format="csc") if p else None,
            "b_ub": np.full(2 * p, self.problem.beta) if p else None,
            "A_eq": A_eq,
            "b_eq": np.zeros(n_eq),
            "bounds": np.column_stack(
                [
                    np.concatenate([np.zeros(k), np.full(2 * S, -np.inf)]),
                    np.concatenate([np.ones(k), np.full(2 * S, np.inf)]),
                ]
            ),
        }


def l1_svm_line(
    problem: Problem,
    lg: LineGram,
    deadline: float | None = None,
    W0: np.ndarray | None = None,
    c0: float | None = None,
) -> tuple[np.ndarray | None, float | None, np.ndarray | None, np.ndarray | None, int, int]:
    """Solve the l1-SVM over ``lg``'s neurons by HiGHS on :func:`block_lp`, splitting the
    blocks whose margins disagree until none does (module docstring).

    The warm start ``(W0, c0)`` (``c0`` needed with bias) seeds the blocks. Returns
    ``(W, c, alpha, f, n_iter, status)``: weights (p,), offset (None without bias), the
    optimal dual ``alpha`` (n,) and the outputs ``f = H W + c`` (n,), both in the samples'
    own order, HiGHS's iteration count (all rounds) and ``linprog``'s status (0 solved; 1
    time limit, 4 HiGHS failed on every attempt of ``_highs.solve_lp``: W, alpha and f are
    then None).
    """
    line, p = _Line(problem, lg), lg.p
    block, n_blocks = _compress(2 * line.seg + (line.ys > 0))
    if W0 is not None and p and (c0 is not None or not problem.bias):
        W0 = np.asarray(W0, dtype=float).reshape(p)
        slack = 1.0 - line.ys * line.outputs(W0, c0 if problem.bias else None)
        block, n_blocks = _refine(block, n_blocks, slack, np.ones(n_blocks, dtype=bool))
    n_iter = 0
    while True:
        res = solve_lp(line.lp(block, n_blocks), deadline)
        n_iter += int(getattr(res, "nit", 0))
        if res.status != 0:
            return None, None, None, None, n_iter, res.status
        marg = res.ineqlin.marginals if p else np.zeros(0)
        # d(optimum)/d(beta) of the two sides: the upper side binds for w_j > 0, the lower for <0
        W = marg[p:] - marg[:p] if p else np.zeros(0)
        c = -float(res.eqlin.marginals[-1]) if problem.bias else None
        f = line.outputs(W, c)
        slack = 1.0 - line.ys * f
        split = (np.bincount(block, slack > _CONSISTENT, minlength=n_blocks) > 0) & (
            np.bincount(block, slack < -_CONSISTENT, minlength=n_blocks) > 0
        )
        if not split.any():
            break
        block, n_blocks = _refine(block, n_blocks, slack, split)
    alpha = np.clip(res.x[:n_blocks], 0.0, 1.0)[block]
    return W, c, lg.line.scatter(alpha), lg.line.scatter(f), n_iter, 0


def _refine(
    block: np.ndarray, n_blocks: int, slack: np.ndarray, split: np.ndarray
) -> tuple[np.ndarray, int]:
    """Split the blocks where ``split`` is true by the side of 0 of ``slack = 1 - y f`` and
    its binary order of magnitude (|slack| <= the tolerance: one more sub-block)."""
    exponent = np.frexp(slack)[1]  # |slack| in [2^(e-1), 2^e)
    level = np.clip(exponent + 60, 1, 120)
    level[np.abs(slack) <= _CONSISTENT] = 0
    sub = np.where(slack > _CONSISTENT, 121 + level, level)
    return _compress(block * 242 + np.where(split[block], sub, 0))


def _compress(key: np.ndarray) -> tuple[np.ndarray, int]:
    """Relabel the integer keys (n,) as consecutive ids ``0 .. k - 1`` (order kept)."""
    if key.max(initial=0) > 8 * key.size:
        uniq, ids = np.unique(key, return_inverse=True)
        return ids.reshape(key.shape), uniq.size
    used = np.bincount(key) > 0
    ids = np.cumsum(used) - 1
    return ids[key], int(used.sum())


_CONSISTENT = 1e-9  # margin error within which a block's samples count as on one side of 1


__all__ = ["block_lp", "l1_svm_line"]
