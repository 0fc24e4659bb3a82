"""Q-learning's tables (states, feasible actions, lookup, demand CDF) and its compiled training loops
(numba), one period through :func:`replenish.model.dynamics.truncated_transition`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb
import numpy as np

from replenish.core.validate import SpecError
from replenish.model.demand import TAIL
from replenish.model.dynamics import feasible_max, kernels
from replenish.model.spec import Problem
from replenish.model.statespace import StateSpace
from replenish.solvers.qlearning.config import _MAX_LOOKUP_BOX, MAX_TABLE_CELLS

truncated_transition = kernels().truncated_transition


# ============================================================================
# Tables: states, feasible actions, lookup, demand CDF
# ============================================================================
@dataclass(frozen=True)
class QTables:
    """Everything the compiled loop needs about a problem, as arrays.

    Attributes:
        space: full-state coordinates.
        states: int64 (n, d), every full state (row ``i`` of the Q-table).
        n_feasible: int64 (n,), feasible actions ``0 .. n_feasible[i] − 1``.
        lookup: int64 (box,), full-state key → row.
        cdf: float64 (P, M+1), demand CDF per phase (last entry 1).
        guide: int64 (P, G), guide table of the inverse CDF: ``guide[w, i]`` is
            the smallest ``d`` with ``cdf[w, d] > i/G``.
    """

    space: StateSpace
    states: np.ndarray
    n_feasible: np.ndarray
    lookup: np.ndarray
    cdf: np.ndarray
    guide: np.ndarray

    @property
    def n_states(self) -> int:
        return int(self.states.shape[0])


def build_tables(problem: Problem) -> QTables:
    """Enumerate the full states of ``problem`` for a Q-table.

    Raises:
        SpecError: the table would exceed :data:`MAX_TABLE_CELLS` cells (use DQN).
    """
    space = StateSpace(problem, reduced=False)
    n = space.count()
    cells = n * problem.n_actions
    box = float(np.prod(space.sizes.astype(np.float64)))
    if cells > MAX_TABLE_CELLS or box > _MAX_LOOKUP_BOX:
        raise SpecError("problem", f"{n:,} states × {problem.n_actions} orders",
                        f"too large for a Q-table (limit {MAX_TABLE_CELLS:,} cells); "
                        "use --method dqn")
    states = space.enumerate()
    lookup = np.full(int(box), -1, dtype=np.int64)
    lookup[space.encode(states)] = np.arange(states.shape[0])
    n_feasible = feasible_max(problem, states) // problem.order_multiple + 1
    pmfs = [problem.demand.pmf(w, tail=TAIL) for w in range(problem.period)]
    cdf = np.ones((problem.period, max(len(p) for p in pmfs)))
    for w, p in enumerate(pmfs):
        cdf[w, : len(p)] = np.cumsum(p)
    cdf[:, -1] = 1.0
    levels = np.arange(2 * cdf.shape[1]) / (2 * cdf.shape[1])
    guide = np.stack([np.searchsorted(c, levels, side="right") for c in cdf]).astype(np.int64)
    return QTables(space=space, states=states, n_feasible=n_feasible.astype(np.int64),
                   lookup=lookup, cdf=cdf, guide=guide)


# ============================================================================
# Compiled kernels
# ============================================================================
@nb.njit(cache=True, inline="always")
def _row(state, offsets, strides, lookup):  # pragma: no cover
    """Q-table row of a full state of the table (``α >= offsets[0]``, position ``<= B``)."""
    key = 0
    for i in range(state.shape[0]):
        key += (state[i] - offsets[i]) * strides[i]
    return lookup[key]


@nb.njit(cache=True, inline="always")
def _demand(cdf, guide, phase, u):  # pragma: no cover
    """Smallest ``d`` with ``CDF(d) > u``: inverse-CDF sampling with a guide table
    (Chen & Asau 1974), ``guide[w, i]`` = smallest ``d`` with ``CDF(d) > i/G``."""
    d = guide[phase, _pick(u, guide.shape[1])]
    while cdf[phase, d] <= u:
        d += 1
    return d


@nb.njit(cache=True, inline="always")
def _pick(u, n):  # pragma: no cover
    """``⌊u·n⌋`` for ``u`` in [0, 1), guarded against rounding up to ``n``."""
    k = int(u * n)
    return k if k < n else n - 1


@nb.njit(cache=True, inline="always")
def _sampled_period(state, a, u, cdf, guide, lead_time, lost, period, cost, multiple, low,
                    out):  # pragma: no cover
    """One period from ``state`` with the order ``a·m`` and the demand drawn by the uniform
    ``u``: the successor (backlog truncated at ``low``, where the table and the DP end)
    goes to ``out``; returns the period's cost."""
    phase = state[state.shape[0] - 1] if period > 1 else 0
    dem = _demand(cdf, guide, phase, u)
    h, so, o, r, w, _, _, _, _ = truncated_transition(state, a * multiple, dem, lead_time, lost,
                                                      period, cost, low, out)
    return h + so + o - r + w


@nb.njit(cache=True, inline="always")
def _begin_episode(states, starts, e, state):  # pragma: no cover
    """Start episode ``e`` (every episode but the last has the full length, so the
    episode of step ``t`` is ``t // episode_length``): copy its uniformly drawn
    start state into ``state`` and return its row."""
    s = _pick(starts[e], states.shape[0])
    state[:] = states[s]
    return s


@nb.njit(cache=True, inline="always")
def _argmin(q, s, nf):  # pragma: no cover
    """Greedy action (lowest expected cost; ties go to the smaller order)."""
    best = 0
    for j in range(1, nf):
        if q[s, j] < q[s, best]:
            best = j
    return best


@nb.njit(cache=True, inline="always")
def _update(q, greedy, n_feasible, s, a, value):  # pragma: no cover
    """``q[s, a] = value``, keeping ``greedy[s] = argmin_j q[s, j]`` exact (ties: smaller order)."""
    old = q[s, a]
    q[s, a] = value
    g = greedy[s]
    if a == g:
        if value > old:
            greedy[s] = _argmin(q, s, n_feasible[s])
    elif value < q[s, g] or (value == q[s, g] and a < g):
        greedy[s] = a


@nb.njit(cache=True)
def _seed_episodes(q, greedy, visits, states, n_feasible, offsets, strides, lookup, lead_time, lost,
                   period, cost, multiple, cdf, guide, uniforms, starts, episode_length, n_steps, gamma,
                   alpha, epsilon, buf_s, buf_a, buf_c, buf_s2):  # pragma: no cover
    """The seed variant on ``n_steps`` steps (whole episodes except possibly the last).

    Actions of an episode use the table of its start (``greedy`` changes only
    in the sweep); the episode's transitions are then swept in order with the
    constant step ``alpha``.
    """
    state = np.empty(states.shape[1], dtype=np.int64)
    out = np.empty_like(state)
    t = 0
    while t < n_steps:
        s = _begin_episode(states, starts, t // episode_length, state)
        length = min(episode_length, n_steps - t)
        for j in range(length):
            nf = n_feasible[s]
            u = uniforms[t, 1]
            if u < epsilon:  # u/ε is uniform on [0, 1) given u < ε
                a = _pick(u / epsilon, nf)
            else:
                a = greedy[s]
            c = _sampled_period(state, a, uniforms[t, 0], cdf, guide, lead_time, lost, period, cost,
                                multiple, offsets[0], out)
            buf_s[j] = s
            buf_a[j] = a
            buf_c[j] = c
            s = _row(out, offsets, strides, lookup)
            buf_s2[j] = s
            state[:] = out
            t += 1
        for j in range(length):
            s = buf_s[j]
            a = buf_a[j]
            s2 = buf_s2[j]
            target = buf_c[j] + gamma * q[s2, greedy[s2]]
            _update(q, greedy, n_feasible, s, a, q[s, a] + alpha * (target - q[s, a]))
            visits[s, a] += 1


@nb.njit(cache=True)
def _default_episodes(q, greedy, visits, states, n_feasible, offsets, strides, lookup, lead_time, lost,
                      period, cost, multiple, cdf, guide, uniforms, starts, episode_length, n_steps,
                      t_global, init_steps, warmup_steps, gamma, epsilon, step_scale, kappa, moments,
                      candidates):  # pragma: no cover
    """The default variant on ``n_steps`` steps (online updates, see the module docstring).

    ``moments`` = [count, sum, sum of squares] of the observed one-period
    costs, carried across calls; ``t_global`` is the index of the first step.
    Steps before ``init_steps`` act uniformly and only measure costs; at step
    ``init_steps`` every feasible cell is set to ``mean cost / (1 − γ)``.
    """
    state = np.empty(states.shape[1], dtype=np.int64)
    out = np.empty_like(state)
    n_states = states.shape[0]
    k_step = min(1.0, step_scale * (1.0 - gamma))
    t = 0
    while t < n_steps:
        s = _begin_episode(states, starts, t // episode_length, state)
        for _ in range(min(episode_length, n_steps - t)):
            if t_global + t == init_steps and init_steps > 0:
                level = moments[1] / moments[0] / (1.0 - gamma)
                for i in range(n_states):
                    greedy[i] = 0
                    for j in range(n_feasible[i]):
                        q[i, j] = level
            nf = n_feasible[s]
            g = greedy[s]
            u = uniforms[t, 1]
            if t_global + t < warmup_steps:
                a = _pick(u, nf)
            elif u < epsilon:  # u/ε is uniform on [0, 1) given u < ε
                a = _pick(u / epsilon, nf)
            else:
                m = moments[0]
                if m < 2.0:  # no cost scale yet: every action is a candidate
                    width = np.inf
                else:
                    var = moments[2] / m - (moments[1] / m) ** 2
                    width = kappa * math.sqrt(var if var > 0.0 else 0.0)
                ng = 1.0 / max(visits[s, g], 1)
                cnt = 0
                for j in range(nf):
                    if q[s, j] - q[s, g] <= width * math.sqrt(1.0 / max(visits[s, j], 1) + ng):
                        candidates[cnt] = j
                        cnt += 1
                a = candidates[_pick((u - epsilon) / (1.0 - epsilon), cnt)]
            c = _sampled_period(state, a, uniforms[t, 0], cdf, guide, lead_time, lost, period, cost,
                                multiple, offsets[0], out)
            moments[0] += 1.0
            moments[1] += c
            moments[2] += c * c
            s2 = _row(out, offsets, strides, lookup)
            if t_global + t >= init_steps:
                target = c + gamma * q[s2, greedy[s2]]
                visits[s, a] += 1
                lr = 1.0 / (1.0 + k_step * (visits[s, a] - 1))
                _update(q, greedy, n_feasible, s, a, q[s, a] + lr * (target - q[s, a]))
            s = s2
            state[:] = out
            t += 1
