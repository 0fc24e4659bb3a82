"""The Q-learning driver: streams of random numbers, training in blocks, learning curves evaluated
exactly, the greedy policy and its exact cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from replenish.core.validate import SpecError, require
from replenish.evaluation.evaluate import EXACT_STATE_LIMIT, relative_gap
from replenish.evaluation.markov import ExactEvaluation, evaluate_exact
from replenish.model.spec import Problem
from replenish.model.statespace import StateSpace
from replenish.policies.table import TablePolicy
from replenish.solvers.dp import DP_STATE_LIMIT, optimal_average_cost, solve_dp
from replenish.solvers.qlearning.config import _BLOCK_STEPS, QLearningConfig, _is_int
from replenish.solvers.qlearning.kernels import _default_episodes, _seed_episodes, build_tables


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
        if seed is None:
            raise SpecError("seed", seed, "pass rng= (a numpy Generator) or seed=")
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
              problem.lead_time, problem.rules, problem.period, problem.cost_params(),
              problem.order_multiple, tables.cdf, tables.guide)
    L = cfg.episode_length
    if cfg.variant == "seed":
        bufs = (np.empty(L, np.int64), np.empty(L, np.int64), np.empty(L), np.empty(L, np.int64))
        assert cfg.learning_rate is not None and cfg.epsilon is not None  # the variant's defaults
        lr, eps = float(cfg.learning_rate), float(cfg.epsilon)

        def run(u: np.ndarray, starts: np.ndarray, t0: int) -> None:
            _seed_episodes(q, greedy, visits, *common, u, starts, L, u.shape[0], gamma, lr, eps, *bufs)
    else:
        moments = np.zeros(3)
        candidates = np.empty(n_actions, dtype=np.int64)
        assert (cfg.init_steps is not None and cfg.warmup_fraction is not None and cfg.epsilon is not None
                and cfg.step_size_scale is not None and cfg.confidence is not None)  # the variant's defaults
        init, warmup = int(cfg.init_steps), round(float(cfg.warmup_fraction) * cfg.steps)
        eps_d, scale, kappa = float(cfg.epsilon), float(cfg.step_size_scale), float(cfg.confidence)

        def run(u: np.ndarray, starts: np.ndarray, t0: int) -> None:
            _default_episodes(q, greedy, visits, *common, u, starts, L, u.shape[0], t0, init, warmup,
                              gamma, eps_d, scale, kappa, moments, candidates)

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
        from replenish.core.progress import progress_bar

        bar = progress_bar(total=cfg.steps, desc=f"qlearning ({cfg.variant})", unit="step")
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
