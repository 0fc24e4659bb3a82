"""The options of DQN: :class:`DQNConfig` (frozen, validated, keyword-only).

This module does not import torch: the method catalogue derives the accepted
``[dqn]`` TOML keys and types from the annotations here
(:func:`replenish.core.validate.option_types`), and that must stay cheap.  The
algorithm the options control is described in :mod:`replenish.solvers.dqn`; the
measurements behind the defaults are in ``benchmarks/RESULTS.md`` ("DQN:
measured choices").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal

from replenish.core.validate import require, require_count
from replenish.solvers.base import HiddenLayersIO

#: fields that may differ when resuming (budget and bookkeeping, not the learning rule)
_RESUMABLE_CHANGES = {"steps", "eval_every", "checkpoint_every", "time_limit", "threads"}


@dataclass(frozen=True, kw_only=True)
class DQNConfig(HiddenLayersIO):
    """Hyperparameters of :func:`~replenish.solvers.dqn.train_dqn` (validated; keyword-only).

    Attributes:
        steps: environment transitions to collect, summed over parallel paths.
        num_envs: parallel sample paths stepped together.
        objective: ``"average"`` (differential Q-learning) or ``"discounted"``.
        gamma: discount ``γ`` for ``"discounted"`` (default ``problem.discount``).
        n_step: ``n`` of the ``n``-step returns (used by ``all_actions = False`` only).
        gain_rate: step size ``η`` of the average reward ``ρ`` (``"average"``).
        double: double-DQN targets.
        hidden: widths of the hidden layers.
        dueling: dueling value/advantage head.
        lr: Adam learning rate; ``lr_final``: linearly annealed to this (``None``: constant).
        batch_size: transitions per gradient step (with ``all_actions``: sampled states,
            each giving a target for every feasible action).
        all_actions: all-action ("hindsight") targets from the observed demand
            (see :mod:`replenish.solvers.dqn`); ``False``: the usual target of the taken action only.
        target_periods: ``H``, periods of the all-action target before it bootstraps: the
            order of each action is followed by ``H − 1`` periods of the target network's
            greedy policy on demand drawn from the model, the same draws for every action
            of a state (common random numbers), so the cost of the period an order
            arrives in (``L + 1`` periods later) enters its target directly instead of
            through ``L`` bootstrapped values.  ``1``: the one-period target.
        expected_targets: the one-period all-action target averaged over the demand
            model's pmf instead of taken at the observed demand (``target_periods = 1``;
            the model is the problem's demand, as in the simulated experience): the
            targets then carry no demand noise, only the bootstrapped values' error.
        buffer_size: replay capacity (transitions).
        learning_starts: transitions collected (random actions) before learning.
        gradient_steps: gradient steps per vector step (one step of all paths).
        target_update: gradient steps between target-network copies (with ``tau = None``).
        tau: Polyak averaging of the target network after every gradient step,
            ``θ̄ ← (1−τ)·θ̄ + τ·θ`` (Lillicrap et al. 2016); ``None``: hard copies.
        huber_delta: ``δ`` of the Huber loss.
        max_grad_norm: gradient-norm clip.
        eps_start, eps_end: ``ε`` schedule, linear over ``eps_decay_steps``
            transitions (default ``eps_fraction·steps``).
        reduced_obs: features from ``α + β_1`` (sufficient statistic) instead of ``α, β_1``.
        demand_features: add the position in units of the demand it must cover,
            ``(position − μ_w)/σ_w`` (:class:`~replenish.policies.dqn.Observation`).
        post_decision: action values = −(ordering cost, known from the rules) + a learned
            value of the position after ordering, interpolated between knots (see
            :class:`~replenish.policies.dqn.QNetwork`; order actions; implies
            ``demand_features``).
        action_mode: ``"order"`` (action = order quantity) or ``"level"`` (action =
            order-up-to level; see :class:`~replenish.policies.dqn.Observation`).
        max_actions: network outputs; larger order ranges use a coarse grid.
        order_bound: mask the orders that would raise the inventory position above
            Morton's bound ``S̄`` (the ``L + 1``-period newsvendor level), which no optimal
            order exceeds where it is proven (average cost, no ordering costs, a product
            that keeps: :func:`replenish.solvers.dp_matrix_free.morton_bound`; the DP uses
            the same cut); elsewhere it has no effect.  The DQN then never learns values
            for the far larger orders, whose next states it rarely sees.
        cost_scale: reward = −cost / cost_scale ($), or how to set it from the
            ``learning_starts`` random warm-up transitions: ``None`` / ``"warmup"``, their
            mean cost; ``"demand"``, the holding cost of their mean demand, ``h·mean(D)``,
            which is of the order of a good policy's cost, whereas random orders cost
            several times that (measured on the bakery series: see ``benchmarks/RESULTS.md``).
        eval_every: transitions between evaluations of the greedy policy
            (batched simulation on fixed common-random-number demand).
        eval_paths, eval_horizon, eval_warmup: size of that simulation.
        eval_mode: how snapshots are evaluated for ``keep_best``: ``"exact"`` (long-run
            average cost from the stationary distribution of the greedy policy's chain,
            :func:`replenish.markov.evaluate_exact`), ``"simulate"`` (the batched
            simulation above), ``"auto"``: exact when the (reduced) state space has at
            most ``exact_states`` states, else simulation.
        exact_states: state-count limit of ``eval_mode = "auto"``.
        keep_best: return the best evaluated network, not the last one.
        checkpoint_every: transitions between checkpoints (with a checkpoint dir).
        time_limit: stop after this many seconds of training (``None``: no limit;
            runs stopped by time are not reproducible).
        threads: ``torch.set_num_threads`` during training.
    """

    steps: int = 250_000
    num_envs: int = 8
    objective: Literal["average", "discounted"] = "average"
    gamma: float | None = None
    n_step: int = 3
    gain_rate: float = 0.01
    double: bool = True
    hidden: tuple[int, ...] = (64, 64)
    dueling: bool = False
    lr: float = 1e-3
    lr_final: float | None = 1e-4
    batch_size: int = 64
    buffer_size: int = 100_000
    learning_starts: int = 5_000
    gradient_steps: int = 1
    target_update: int = 250
    all_actions: bool = True
    target_periods: int = 1
    expected_targets: bool = False
    tau: float | None = None
    huber_delta: float = 1.0
    max_grad_norm: float = 10.0
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_fraction: float = 0.3
    eps_decay_steps: int | None = None
    reduced_obs: bool = True
    demand_features: bool = False
    post_decision: bool = False
    action_mode: Literal["order", "level"] = "order"
    max_actions: int = 128
    order_bound: bool = True
    cost_scale: float | Literal["warmup", "demand"] | None = None
    eval_every: int = 10_000
    eval_paths: int = 100
    eval_horizon: int = 500
    eval_warmup: int = 100
    eval_mode: Literal["auto", "exact", "simulate"] = "auto"
    exact_states: int = 100_000
    keep_best: bool = True
    checkpoint_every: int = 50_000
    time_limit: float | None = None
    threads: int = 1

    def __post_init__(self) -> None:
        def pos_int(name: str, low: int = 1) -> None:
            require_count(getattr(self, name), f"dqn.{name}", low)

        def num(name: str, lo: float, hi: float, *, open_lo: bool = False) -> None:
            v = getattr(self, name)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) \
                and (v > lo if open_lo else v >= lo) and v <= hi
            require(ok, f"dqn.{name}", v, f"must be a number in {'(' if open_lo else '['}{lo}, {hi}]")

        for n in ("steps", "num_envs", "n_step", "batch_size", "buffer_size", "gradient_steps",
                  "target_update", "eval_every", "eval_paths", "eval_horizon", "checkpoint_every",
                  "threads", "exact_states", "target_periods"):
            pos_int(n)
        pos_int("learning_starts", 0)
        pos_int("eval_warmup", 0)
        pos_int("max_actions", 2)
        require(self.action_mode in ("order", "level"), "dqn.action_mode", self.action_mode,
                "must be 'order' or 'level'")
        require(self.eval_mode in ("auto", "exact", "simulate"), "dqn.eval_mode", self.eval_mode,
                "must be 'auto', 'exact' or 'simulate'")
        require(self.objective in ("average", "discounted"), "dqn.objective", self.objective,
                "must be 'average' or 'discounted'")
        if self.gamma is not None:
            num("gamma", 0.0, 1.0, open_lo=True)
            require(self.gamma < 1, "dqn.gamma", self.gamma, "must be < 1 (use objective = 'average')")
        require(isinstance(self.hidden, tuple) and len(self.hidden) >= 1
                and all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in self.hidden),
                "dqn.hidden", self.hidden, "must be a non-empty list of positive integers")
        num("lr", 0.0, 1.0, open_lo=True)
        if self.lr_final is not None:
            num("lr_final", 0.0, 1.0, open_lo=True)
        num("gain_rate", 0.0, 1.0, open_lo=True)
        if self.tau is not None:
            num("tau", 0.0, 1.0, open_lo=True)
        num("huber_delta", 0.0, 1e9, open_lo=True)
        num("max_grad_norm", 0.0, 1e9, open_lo=True)
        num("eps_start", 0.0, 1.0)
        num("eps_end", 0.0, 1.0)
        num("eps_fraction", 0.0, 1.0, open_lo=True)
        if self.eps_decay_steps is not None:
            pos_int("eps_decay_steps")
        if isinstance(self.cost_scale, str):
            require(self.cost_scale in ("warmup", "demand"), "dqn.cost_scale", self.cost_scale,
                    "must be a positive number, 'warmup' or 'demand'")
        elif self.cost_scale is not None:
            num("cost_scale", 0.0, 1e12, open_lo=True)
        if self.time_limit is not None:
            num("time_limit", 0.0, 1e9, open_lo=True)
        require(self.eval_warmup < self.eval_horizon, "dqn.eval_warmup", self.eval_warmup,
                f"must be < eval_horizon = {self.eval_horizon}")
        for b in ("all_actions", "double", "dueling", "reduced_obs", "demand_features", "post_decision",
                  "keep_best", "order_bound", "expected_targets"):
            require(isinstance(getattr(self, b), bool), f"dqn.{b}", getattr(self, b), "must be true/false")

        require(not (self.expected_targets and self.target_periods > 1), "dqn.expected_targets",
                self.expected_targets, "needs target_periods = 1")
        require(not self.expected_targets or self.all_actions, "dqn.expected_targets",
                self.expected_targets, "needs all_actions = true")

    def epsilon(self, step: int) -> float:
        """``ε`` after ``step`` transitions (linear decay, then constant)."""
        span = self.eps_decay_steps or max(1, int(self.eps_fraction * self.steps))
        frac = min(1.0, step / span)
        return self.eps_start + frac * (self.eps_end - self.eps_start)

    def learning_rate(self, step: int) -> float:
        """Learning rate after ``step`` transitions (linear from ``lr`` to ``lr_final``)."""
        if self.lr_final is None:
            return self.lr
        frac = min(1.0, step / self.steps)
        return self.lr + frac * (self.lr_final - self.lr)

    def resume_conflicts(self, checkpointed: DQNConfig) -> list[str]:
        """Sorted names of the fields that differ from ``checkpointed`` (the config a
        checkpoint was trained with) and may not change when resuming: all but
        ``steps``, ``eval_every``, ``checkpoint_every``, ``time_limit`` and ``threads``."""
        return sorted(k for k in (f.name for f in fields(DQNConfig))
                      if getattr(checkpointed, k) != getattr(self, k) and k not in _RESUMABLE_CHANGES)
