"""Exact action values for explanations: the DP's relative values Q(s, a) of the optimum and of any
tabulable policy, in $ of long-run cost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from replenish.core.io import json_default
from replenish.core.validate import SpecError
from replenish.model.spec import Problem
from replenish.policies.base import Policy
from replenish.workflows.explain.state import EXPLAIN_DP_LIMIT


# ----------------------------------------------------------------------------
# exact action values
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ActionValues:
    """Exact average-cost DP action values of a problem (all reduced states).

    Attributes:
        mdp: the :class:`~replenish.solvers.dp.MDP` of the problem (reduced states).
        policy: the optimal policy (a :class:`~replenish.policies.table.TablePolicy`).
        gain: ``g*`` ($/period), optimal long-run average cost.
        relative_values: float64 (n,), ``h*`` per reduced state ($), ``h*(s_0) = 0``.
        q: float64 (n_sa,), ``Q*`` per state-action row of ``mdp`` ($).
        bellman_residual: ``max_s |g* + h*(s) − min_a Q*(s, a)|`` ($); small
            (``< 1e-6·max(1, |g*|)``) when ``policy`` is optimal.
    """

    mdp: Any
    policy: Policy
    gain: float
    relative_values: np.ndarray = field(repr=False)
    q: np.ndarray = field(repr=False)
    bellman_residual: float

    def at(self, state: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(orders, period_cost, Q)`` of every feasible order in one full state."""
        mdp = self.mdp
        s = int(mdp.index(np.asarray(state, dtype=np.int64)[None, :])[0])
        rows = slice(int(mdp.sa_ptr[s]), int(mdp.sa_ptr[s + 1]))
        return mdp.sa_order[rows].copy(), mdp.sa_cost[rows].copy(), self.q[rows].copy()


def _relative_values(mdp: Any, policy: Policy) -> tuple[float, np.ndarray]:
    """Solve ``g + h(s) − Σ P_π(s, s') h(s') = c_π(s)``, ``h(0) = 0`` for ``policy`` on ``mdp``."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    n = mdp.n_states
    orders = policy.act(mdp.space.expand(mdp.states))
    # row of each state's chosen order (orders are ascending multiples of m within a state)
    k = mdp.sa_ptr[:-1] + orders // mdp.problem.order_multiple
    lens = mdp.tr_ptr[k + 1] - mdp.tr_ptr[k]
    rows = np.repeat(np.arange(n), lens)
    idx = _ranges(mdp.tr_ptr[k], lens)
    P = sp.csr_matrix((mdp.tr_prob[idx], (rows, mdp.tr_idx[idx].astype(np.int64))), shape=(n, n))
    A = (sp.identity(n, format="csr") - P).tolil()
    A[:, 0] = np.ones((n, 1))  # column 0 carries the unknown gain g (h(0) = 0)
    x = spla.spsolve(A.tocsc(), mdp.sa_cost[k])
    g = float(x[0])
    h = np.asarray(x, dtype=np.float64).copy()
    h[0] = 0.0
    return g, h


def _ranges(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + l)`` for each pair (vectorised)."""
    total = int(lens.sum())
    offs = np.repeat(starts - np.cumsum(lens) + lens, lens)
    return offs + np.arange(total)


_AV_CACHE: dict[str, ActionValues | None] = {}


def action_values(problem: Problem, *, optimum: Policy | None = None) -> ActionValues | None:
    """Exact DP action values of ``problem``, or ``None`` when the state space is too large.

    Args:
        problem: the problem.
        optimum: its DP-optimal policy if already computed (e.g. the ``dp``
            method's result): then only the MDP is built and the evaluation
            equations solved, no value iteration.  Checked: if the Bellman
            residual shows it is not optimal, the DP is solved.

    Results are cached per problem (the last few).
    """
    from replenish.model.statespace import StateSpace
    from replenish.solvers.dp import build_mdp, solve_dp

    key = _problem_key(problem)
    if key in _AV_CACHE:
        return _AV_CACHE[key]
    try:
        n = StateSpace(problem, reduced=True).count()
    except SpecError:
        n = EXPLAIN_DP_LIMIT + 1
    if n > EXPLAIN_DP_LIMIT:
        _AV_CACHE[key] = None
        return None
    av = None
    if optimum is not None:
        av = _values_of(build_mdp(problem), optimum)
        if av.bellman_residual > 1e-6 * max(1.0, abs(av.gain)):
            av = None
    if av is None:
        dp = solve_dp(problem, objective="average")
        av = _values_of(dp.mdp, dp.policy)
    while len(_AV_CACHE) >= 4:
        _AV_CACHE.pop(next(iter(_AV_CACHE)))
    _AV_CACHE[key] = av
    return av


def _values_of(mdp: Any, policy: Policy) -> ActionValues:
    g, h = _relative_values(mdp, policy)
    q = mdp.q_values(h, 1.0)
    mins = np.minimum.reduceat(q, mdp.sa_ptr[:-1])
    resid = float(np.max(np.abs(g + h - mins)))
    return ActionValues(mdp=mdp, policy=policy, gain=g, relative_values=h, q=q, bellman_residual=resid)


def _problem_key(problem: Problem) -> str:
    return json.dumps(problem.to_dict(), sort_keys=True, default=json_default)
