"""Tabular Q-learning on the full state ``[α, β_1 .. β_L, (w)]``, compiled with numba.

Two variants share the tables, the state indexing, the demand sampler and the
training driver; only the compiled episode loop differs.

``variant = "seed"`` — the source design, exactly (Watkins 1989; Watkins &
Dayan 1992, *Q-learning*, Machine Learning 8):

* ``Q`` initialised uniform(0, 1) (as rewards), ``ε``-greedy with ``ε = 0.1``,
  constant learning rate ``α = 0.1``, ``γ = 0.9``, 1,000 episodes × 1,000
  steps, each episode starting in a uniformly random feasible state;
* the table is updated once, at the end of each episode, by sweeping the
  episode's transitions in order, so every action of an episode is chosen from
  the table as it was when the episode started.

``variant = "default"`` — the best tabular learner we measured that still
learns only from sampled transitions along trajectories (no model, no
counterfactual actions, no resets other than the episode starts):

* **pessimistic, scale-aware initial values**: the first ``init_steps`` steps
  order uniformly at random and only measure the cost rate ``ĝ`` of random
  ordering; every cell then starts at ``ĝ/(1 − γ)``, the discounted cost of
  paying that rate forever: of the right magnitude, and above ``Q*`` in the
  states that matter (random ordering costs more than good ordering);
* **per state-action step sizes** ``α_n = 1/(1 + k·(n − 1))`` after the
  ``n``-th update of the cell, ``k = min(1, c·(1 − γ))`` with
  ``c = step_size_scale``: the rescaled-linear schedule of Wainwright (2019,
  *Stochastic approximation with cone-contractive operators: sharp ℓ∞-bounds
  for Q-learning*, arXiv:1905.06265), which for the default ``c = 10`` and
  ``γ = 0.9`` is the sample average ``1/n``.  Sample averages keep the variance
  lowest but forget their initial error only like ``n^−(1−γ)`` (Szepesvári
  1997, *The asymptotic convergence-rate of Q-learning*, NIPS 10): from
  ``Q = 0`` the bike-shop estimates were still ~77 below ``Q*`` after 8,000
  updates and, worse, biased differently in rarely and often visited states,
  which shrank the learned gaps between orders by 40–85%.  The initialisation
  above removes most of that error, so the low-variance schedule pays off;
* **confidence-bounded exploration** (in the spirit of action elimination,
  Even-Dar, Mannor & Mansour 2006, *JMLR* 7): after a uniform-random warm-up
  (``warmup_fraction`` of the steps) the behaviour picks, with probability
  ``1 − ε``, uniformly among the orders not yet statistically worse than the
  greedy one, ``Q(s, a) − Q(s, a*) <= κ·σ̂·sqrt(1/n(s, a) + 1/n(s, a*))``, with
  ``σ̂`` the running standard deviation of the observed one-period costs and
  ``κ = confidence``; with probability ``ε`` any feasible order.  Samples go
  where the decision is still open in states that good policies visit: on the
  bike shop the costly decision (order 3 or 4 with nothing on hand and 3 bikes
  arriving, a state good policies spend ~28% of days in; ``Q*`` gap 0.18
  against a per-sample standard deviation of 15) needs ~10⁵ samples per order,
  where uniform exploration gives ~8,000.

Measured on the bike shop with the seed's budget (1,000,000 steps; gap of the
greedy policy's exact average cost to the optimum 16.1830; 100 seeds
5000–5099: mean / 90th percentile / runs within 0.3%): seed variant +6.3% /
+11.8% / 0; uniform exploration with ``1/n`` steps from ``Q = 0`` +0.15% /
0.46% / 76; the default without the initialisation +0.15% / 0.31% / 88;
without the focused exploration +0.11% / 0.46% / 80; with ``c = 3`` +0.05% /
0.11% / 100; with ``ε = 0.2`` +0.03% / 0.06% / 100 (but 3 misses in 400 other
seeds); the default +0.02% / 0.05% / 100, worst +0.12% (and 600 of 600 runs
within 0.3% over seeds 0–99, 200–599 and 5000–5099).  Also tried and dropped:
polynomial steps ``n^−ω``, Polyak–Ruppert averaging of the iterates (lags
behind the drifting early values when visits are uneven), double Q-learning
(van Hasselt 2010), backward episode replay (Lin 1992), plain ``ε``-greedy with
``ε`` 0.1–0.6, reward centering (Naik et al. 2024) and differential
(average-cost) Q-learning (Wan, Naik & Sutton 2021), which learns the smaller
average-cost advantages and was noisier.  On other tabulable instances (lead
time 0 and 2, weekday demand, backorders, fixed order cost; 4 seeds of 10⁶
steps each) the default had the lower mean gap on every one (0–1.6% against
1.5–14% for the seed variant).  ``benchmarks/qlearning.py`` prints the
distributions.

What the default does *not* buy is accurate values: its ``Q`` ends ~10 below
``Q*`` on the bike shop (mean ``|Q − Q*|`` 9.6, max 14 at 10⁶ steps, against
3.9 and 17 for the seed variant), the downward bias of the ``min`` over noisy
estimates (van Hasselt 2010) compounded by ``1/(1 − γ)``; it is nearly the
same for all orders of a well-visited state, so the greedy policy is right
while the levels are off.  ``max_q_error`` and ``mean_q_error`` report it.

Conventions.  ``Q(s, a)`` is the expected *discounted cost* of ordering ``a``
in ``s`` and acting greedily afterwards (minimised); the reward of the
Gymnasium view is minus that cost, so the seed's uniform(0, 1) *reward*
initialisation is ``Q = −uniform(0, 1)`` here.  Row ``i`` of ``Q`` is the full
state ``states[i]`` (all states of :class:`~replenish.statespace.StateSpace`
with ``reduced=False``), column ``k`` orders ``k·m`` units; infeasible orders
hold ``+inf``.  Under backorders the net inventory is truncated at the lowest
represented value (``−backlog_bound``, :attr:`Problem.min_net_inventory`)
after each period (:func:`replenish.model.dynamics.truncated_transition`; the
DP truncates the same far tail, on ``α + β_1``): the
period's backorder cost is charged in full, backlog beyond the bound is
dropped, and every visited state stays in the table (``α >= −backlog_bound``
and position ``<= B`` are preserved).

Dynamics and randomness.  Every step calls the one compiled
:func:`replenish.model.dynamics.transition` (through ``truncated_transition``).
The caller's :class:`numpy.random.Generator` (or a seed) creates three independent child
streams (:meth:`numpy.random.Generator.spawn`): one for the initial table (seed
variant), one for episode start states, one for the per-step uniforms
``(u_demand, u_policy)``, drawn in blocks.  Demand is the inverse of the
demand model's CDF (pmf truncated at an upper tail of ``1e-12``,
:data:`replenish.demand.TAIL`) at ``u_demand``, found with a guide table (Chen
& Asau 1974); ``u_policy < ε`` explores with the order ``⌊(u_policy/ε)·n⌋`` among
the ``n`` feasible ones (else ``(u_policy − ε)/(1 − ε)`` picks among the
default variant's candidates).  Every step consumes exactly two uniforms and
every episode one, so the Q-table depends on the seed and
the hyperparameters only, not on block sizes or the learning-curve points.

Sections: configuration → tables → compiled kernels → training driver →
method wiring.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numba as nb
import numpy as np

from replenish.core.validate import SpecError, check_keys, option_types, require
from replenish.evaluation.evaluate import EXACT_STATE_LIMIT, Evaluation, relative_gap
from replenish.evaluation.markov import ExactEvaluation, evaluate_exact
from replenish.model.demand import TAIL
from replenish.model.dynamics import feasible_max, kernels
from replenish.model.spec import Problem
from replenish.model.statespace import StateSpace
from replenish.policies.table import TablePolicy
from replenish.solvers.base import MethodOutput
from replenish.solvers.dp import DP_STATE_LIMIT, optimal_average_cost, solve_dp

truncated_transition = kernels().truncated_transition

#: Variants of :func:`train_qlearning`.
VARIANTS = ("seed", "default")
#: Largest number of (state, action) cells a Q-table may have.
MAX_TABLE_CELLS = 10_000_000
#: Largest index box (product of coordinate ranges) for the state lookup table.
_MAX_LOOKUP_BOX = 50_000_000
#: Transitions per block of pre-drawn uniforms (memory: 16 bytes each).
_BLOCK_STEPS = 1 << 17

# Per-variant defaults; ``None`` in a field of QLearningConfig means "the
# variant's default" and fields a variant does not use stay ``None``.
_VARIANT_DEFAULTS: dict[str, dict[str, Any]] = {
    "seed": {"discount": 0.9, "learning_rate": 0.1, "epsilon": 0.1},
    "default": {"epsilon": 0.1, "warmup_fraction": 0.2, "step_size_scale": 10.0, "confidence": 3.0},
}
_VARIANT_FIELDS = {
    "seed": {"discount", "learning_rate", "epsilon"},
    "default": {"discount", "epsilon", "warmup_fraction", "step_size_scale", "confidence", "init_steps"},
}


# ============================================================================
# Configuration
# ============================================================================
@dataclass(frozen=True, kw_only=True)
class QLearningConfig:
    """Hyperparameters of :func:`train_qlearning` (validated, keyword-only).

    Fields left ``None`` take the variant's default; giving a field the variant
    does not use is an error.

    Attributes:
        variant: ``"seed"`` (the source algorithm) or ``"default"``.
        steps: transitions of training (periods simulated).
        episode_length: steps per episode; each episode starts in a uniformly
            random feasible full state.
        discount: ``γ`` of the learning target.  Seed: 0.9 (the source's);
            default: ``None`` = ``problem.discount``.
        learning_rate: seed only, the constant step ``α`` (default 0.1).
        epsilon: probability of a uniformly random feasible action (seed 0.1;
            default 0.1, after the warm-up).
        warmup_fraction: default only, fraction of the steps acting uniformly
            at random before the confidence-bounded exploration (0.2).
        step_size_scale: default only, ``c`` in ``α_n = 1/(1 + k(n − 1))``,
            ``k = min(1, c(1 − γ))`` (10: the sample average ``1/n`` when ``γ <= 0.9``).
        confidence: default only, ``κ``, width of the exploration set in
            standard errors (3).
        init_steps: default only, steps at the start that act uniformly at
            random without updating, to measure the cost rate ``ĝ`` of random
            ordering; every cell then starts at ``ĝ/(1 − γ)`` (``min(1000, steps/10)``;
            0 starts at 0).
        curve_points: points of the learning curve (exact evaluation of the
            greedy policy at evenly spaced episode boundaries; 0 = none).
    """

    variant: str = "default"
    steps: int = 1_000_000
    episode_length: int = 1000
    discount: float | None = None
    learning_rate: float | None = None
    epsilon: float | None = None
    warmup_fraction: float | None = None
    step_size_scale: float | None = None
    confidence: float | None = None
    init_steps: int | None = None
    curve_points: int = 20

    def __post_init__(self) -> None:
        require(self.variant in VARIANTS, "qlearning.variant", self.variant,
                f"must be one of {', '.join(VARIANTS)}")
        for name in ("steps", "episode_length"):
            v = getattr(self, name)
            require(_is_int(v) and v >= 1, f"qlearning.{name}", v, "must be an integer >= 1")
        require(_is_int(self.curve_points) and 0 <= self.curve_points <= 10_000,
                "qlearning.curve_points", self.curve_points, "must be an integer in [0, 10000]")
        used = _VARIANT_FIELDS[self.variant]
        for name in ("discount", "learning_rate", "epsilon", "warmup_fraction", "step_size_scale",
                     "confidence", "init_steps"):
            if getattr(self, name) is not None and name not in used:
                raise SpecError(f"qlearning.{name}", getattr(self, name),
                                f"not used by variant '{self.variant}'")
        for name, value in _VARIANT_DEFAULTS[self.variant].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        if self.variant == "default" and self.init_steps is None:
            object.__setattr__(self, "init_steps", min(1000, self.steps // 10))
        if self.discount is not None:
            _number("discount", self.discount, 0.0, 1.0, open_lo=True, open_hi=True)
        if self.learning_rate is not None:
            _number("learning_rate", self.learning_rate, 0.0, 1.0, open_lo=True)
        _number("epsilon", self.epsilon, 0.0, 1.0)
        if self.warmup_fraction is not None:
            _number("warmup_fraction", self.warmup_fraction, 0.0, 1.0)
        if self.step_size_scale is not None:
            _number("step_size_scale", self.step_size_scale, 0.0, 1e6, open_lo=True)
        if self.confidence is not None:
            _number("confidence", self.confidence, 0.0, 1e6)
        if self.init_steps is not None:
            require(_is_int(self.init_steps) and 0 <= self.init_steps < self.steps, "qlearning.init_steps",
                    self.init_steps, f"must be an integer in [0, steps = {self.steps})")

    @property
    def episodes(self) -> int:
        """Number of episodes (the last one is shorter if ``steps`` is not a multiple)."""
        return -(-self.steps // self.episode_length)

    def gamma(self, problem: Problem) -> float:
        """The discount used for ``problem``."""
        return float(self.discount if self.discount is not None else problem.discount)

    def to_dict(self) -> dict[str, Any]:
        """The fields (``None`` for fields the variant does not use)."""
        return asdict(self)


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _number(name: str, v: Any, lo: float, hi: float, *, open_lo: bool = False,
            open_hi: bool = False) -> None:
    ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) \
        and math.isfinite(v) and (v > lo if open_lo else v >= lo) and (v < hi if open_hi else v <= hi)
    require(ok, f"qlearning.{name}", v,
            f"must be a number in {'(' if open_lo else '['}{lo:g}, {hi:g}{')' if open_hi else ']'}")


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
    h, so, o, r, _, _, _ = truncated_transition(state, a * multiple, dem, lead_time, lost, period,
                                                cost, low, out)
    return h + so + o - r


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


# ============================================================================
# Training driver
# ============================================================================
@dataclass(frozen=True)
class CurvePoint:
    """One point of the learning curve.

    Attributes:
        steps: training steps so far.
        average_cost: exact long-run average cost of the greedy policy ($/period),
            ``None`` when its chain is too large to evaluate exactly.
        gap: ``(g − g*)/|g*|`` against the DP optimum (``None`` without one).
    """

    steps: int
    average_cost: float | None
    gap: float | None


@dataclass(frozen=True)
class QLearningResult:
    """Outcome of :func:`train_qlearning`.

    Attributes:
        config: the hyperparameters (variant defaults filled in).
        discount: ``γ`` the values refer to.
        states: int64 (n, d), full states ``[α, β_1.., (w)]``; row ``i`` of ``q``.
        q: float64 (n, n_actions), expected discounted cost ($) of ordering
            ``k·m`` in ``states[i]`` (``+inf`` when infeasible).
        visits: int64 (n, n_actions), updates of each cell.
        policy: the greedy policy, a :class:`TablePolicy` over full states
            (``reduced=False``, label ``"qlearning"``).
        curve: learning curve (gap of the greedy policy against steps).
        steps, episodes: training done.
        seconds: training wall time (s): random draws and the compiled loop,
            without compilation and without the learning-curve evaluations.
        cpu_seconds: CPU time of this process over the same work (s).
        evaluation: exact evaluation of ``policy`` (``None`` if its chain is too large).
        optimal_average_cost: DP optimum ($/period) when computable.
        gap: relative gap of ``policy`` to the optimum.
        max_q_error: ``max |Q − Q*|`` over feasible cells, ``Q*`` by discounted DP
            with the same ``γ`` (``None`` when the DP is too large).
        mean_q_error: the mean of ``|Q − Q*|`` over feasible cells.
    """

    config: QLearningConfig
    discount: float
    states: np.ndarray = field(repr=False)
    q: np.ndarray = field(repr=False)
    visits: np.ndarray = field(repr=False)
    policy: TablePolicy = field(repr=False)
    curve: tuple[CurvePoint, ...]
    steps: int
    episodes: int
    seconds: float
    cpu_seconds: float
    evaluation: ExactEvaluation | None = field(repr=False)
    optimal_average_cost: float | None
    gap: float | None
    max_q_error: float | None
    mean_q_error: float | None

    @property
    def average_cost(self) -> float | None:
        """Exact long-run average cost of the greedy policy ($/period)."""
        return None if self.evaluation is None else self.evaluation.average_cost

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else float("inf")


def greedy_policy(problem: Problem, states: np.ndarray, q: np.ndarray) -> TablePolicy:
    """The greedy (lowest-cost) policy of a Q-table over full states."""
    orders = np.argmin(q, axis=1).astype(np.int64) * problem.order_multiple
    return TablePolicy(problem=problem, states=states, orders=orders, reduced=False, label="qlearning")


def _exact_cost(problem: Problem, policy: TablePolicy) -> ExactEvaluation | None:
    try:
        return evaluate_exact(problem, policy, max_states=EXACT_STATE_LIMIT)
    except SpecError:
        return None


@lru_cache(maxsize=16)
def _optimal_q(problem: Problem) -> tuple[Any, np.ndarray] | None:
    """(MDP, Q* per state-action row) of the discounted problem, or ``None`` if too large."""

    if StateSpace(problem, reduced=True).count() > DP_STATE_LIMIT:
        return None
    r = solve_dp(problem, objective="discounted")
    q = r.mdp.q_values(r.values, problem.discount)
    q.setflags(write=False)
    return r.mdp, q


def q_star_table(problem: Problem, states: np.ndarray, *, gamma: float | None = None) -> np.ndarray | None:
    """``Q*`` (expected discounted cost) on full ``states`` × orders, ``+inf`` where infeasible.

    Uses discounted DP on the reduced states (``Q*(α, β, a)`` of a full state is
    ``Q*`` of its reduced state); ``None`` when the DP is too large.
    """
    prob = problem if gamma is None or gamma == problem.discount else problem.replace(discount=gamma)
    got = _optimal_q(prob)
    if got is None:
        return None
    mdp, q = got
    rows = mdp.index(states)
    first = mdp.sa_ptr[rows]
    count = mdp.sa_ptr[rows + 1] - first
    out = np.full((states.shape[0], problem.n_actions), np.inf)
    k = np.arange(problem.n_actions)
    ok = k[None, :] < count[:, None]
    out[ok] = q[(first[:, None] + k[None, :])[ok]]
    return out


def _rng_streams(rng: np.random.Generator | None, seed: int | None) -> list[np.random.Generator]:
    if rng is None:
        require(seed is not None, "seed", seed, "pass rng= (a numpy Generator) or seed=")
        require(_is_int(seed) and seed >= 0, "seed", seed, "must be a non-negative integer")
        rng = np.random.default_rng(seed)
    require(isinstance(rng, np.random.Generator), "rng", rng, "must be a numpy.random.Generator")
    return rng.spawn(3)


def train_qlearning(problem: Problem, *, config: QLearningConfig | None = None,
                    rng: np.random.Generator | None = None, seed: int | None = None,
                    progress: bool = False) -> QLearningResult:
    """Learn a Q-table for ``problem`` and return its greedy policy.

    Args:
        problem: any problem whose full state space fits a table
            (:data:`MAX_TABLE_CELLS` cells), e.g. lead time 0–2 with a capacity,
            weekday-seasonal demand included.
        config: hyperparameters (default: ``QLearningConfig()``, the default variant).
        rng: the caller's generator; three child streams are spawned from it
            (the caller's generator advances by the spawn only).
        seed: alternative to ``rng``: ``np.random.default_rng(seed)``.
        progress: show a progress bar.

    Raises:
        SpecError: the table is too large (use DQN) or bad arguments.
    """
    cfg = config if config is not None else QLearningConfig()
    require(isinstance(cfg, QLearningConfig), "config", cfg, "must be a QLearningConfig")
    init_rng, start_rng, step_rng = _rng_streams(rng, seed)
    tables = build_tables(problem)
    gamma = cfg.gamma(problem)
    n, n_actions = tables.n_states, problem.n_actions
    feasible = np.arange(n_actions)[None, :] < tables.n_feasible[:, None]
    if cfg.variant == "seed":
        q = np.where(feasible, -init_rng.random((n, n_actions)), np.inf)
    else:
        q = np.where(feasible, 0.0, np.inf)
    greedy = np.argmin(q, axis=1).astype(np.int64)
    visits = np.zeros((n, n_actions), dtype=np.int64)
    space = tables.space
    common = (tables.states, tables.n_feasible, space.offsets, space.strides, tables.lookup,
              problem.lead_time, problem.lost_sales, problem.period, problem.cost_params(),
              problem.order_multiple, tables.cdf, tables.guide)
    L = cfg.episode_length
    if cfg.variant == "seed":
        bufs = (np.empty(L, np.int64), np.empty(L, np.int64), np.empty(L), np.empty(L, np.int64))

        def run(u: np.ndarray, starts: np.ndarray, t0: int) -> None:
            _seed_episodes(q, greedy, visits, *common, u, starts, L, u.shape[0], gamma,
                           float(cfg.learning_rate), float(cfg.epsilon), *bufs)
    else:
        moments = np.zeros(3)
        candidates = np.empty(n_actions, dtype=np.int64)
        warmup = round(cfg.warmup_fraction * cfg.steps)

        def run(u: np.ndarray, starts: np.ndarray, t0: int) -> None:
            _default_episodes(q, greedy, visits, *common, u, starts, L, u.shape[0], t0,
                              int(cfg.init_steps), warmup, gamma,
                              float(cfg.epsilon), float(cfg.step_size_scale), float(cfg.confidence),
                              moments, candidates)

    # compile (or load from the on-disk cache) outside the timed region: an empty block
    run(np.empty((0, 2)), np.empty(0), 0)

    optimum = optimal_average_cost(problem) if cfg.curve_points else None
    episodes = cfg.episodes
    marks = sorted({round(episodes * i / cfg.curve_points) for i in range(1, cfg.curve_points + 1)}
                   if cfg.curve_points else {episodes})
    per_block = max(1, _BLOCK_STEPS // L)
    block = np.empty((min(per_block * L, cfg.steps), 2))  # reused: no page faults per block
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.steps, desc=f"qlearning ({cfg.variant})", unit="step", leave=False)
    curve: list[CurvePoint] = []
    seconds = cpu_seconds = 0.0
    done_ep = 0
    t = 0
    for mark in marks:
        while done_ep < mark:
            n_ep = min(per_block, mark - done_ep)
            n_steps = min(n_ep * L, cfg.steps - t)
            t0, c0 = time.perf_counter(), time.process_time()
            starts = start_rng.random(n_ep)
            u = step_rng.random(out=block[:n_steps])
            run(u, starts, t)
            seconds += time.perf_counter() - t0
            cpu_seconds += time.process_time() - c0
            done_ep += n_ep
            t += n_steps
            if bar is not None:
                bar.update(n_steps)
        if cfg.curve_points:
            ev = _exact_cost(problem, greedy_policy(problem, tables.states, q))
            g = None if ev is None else ev.average_cost
            curve.append(CurvePoint(steps=t, average_cost=g,
                                    gap=None if g is None else relative_gap(g, optimum)))
    if bar is not None:
        bar.close()
    policy = greedy_policy(problem, tables.states, q)
    evaluation = _exact_cost(problem, policy)
    if optimum is None:
        optimum = optimal_average_cost(problem)
    gap = None if evaluation is None else relative_gap(evaluation.average_cost, optimum)
    q_star = q_star_table(problem, tables.states, gamma=gamma)
    max_err = mean_err = None
    if q_star is not None:
        err = np.abs(q[feasible] - q_star[feasible])
        max_err, mean_err = float(err.max()), float(err.mean())
    return QLearningResult(config=cfg, discount=gamma, states=tables.states, q=q, visits=visits,
                           policy=policy, curve=tuple(curve), steps=t, episodes=done_ep,
                           seconds=seconds, cpu_seconds=cpu_seconds, evaluation=evaluation,
                           optimal_average_cost=optimum, gap=gap, max_q_error=max_err,
                           mean_q_error=mean_err)


# ============================================================================
# Method wiring: ``replenish solve CONFIG --method qlearning``
# ============================================================================
def qlearning_method(problem: Problem, *, options: dict[str, Any], seed: int,
                     progress: bool) -> MethodOutput:
    """Tabular Q-learning (``[qlearning]`` table: :class:`QLearningConfig` fields;
    flags ``--variant seed|default``, ``--steps N``, ``--seed N``)."""
    check_keys(options, option_types(QLearningConfig), "qlearning")
    cfg = QLearningConfig(**options)
    r = train_qlearning(problem, config=cfg, seed=seed, progress=progress)
    e = r.evaluation
    ev = None if e is None else Evaluation.from_exact(e)
    extras = {
        "variant": cfg.variant, "steps": r.steps, "episodes": r.episodes,
        "train_seconds": r.seconds, "train_cpu_seconds": r.cpu_seconds,
        "steps_per_second": r.steps_per_second,
        "discount": r.discount, "n_states": int(r.states.shape[0]),
        "n_state_actions": int(np.isfinite(r.q).sum()),
        "max_q_error": r.max_q_error, "mean_q_error": r.mean_q_error,
        "curve": [asdict(p) for p in r.curve],
    }
    params = {k: v for k, v in cfg.to_dict().items() if v is not None}
    return MethodOutput(policy=r.policy, params=params, extras=extras, evaluation=ev,
                        optimal_average_cost=r.optimal_average_cost)
