"""Deep Q-Network (DQN) in PyTorch, with batched experience collection.

The algorithm is DQN (Mnih et al. 2015, *Human-level control through deep
reinforcement learning*, Nature 518) with the stabilisers and improvements that
pay off on inventory problems:

* target network (hard copy every ``target_update`` gradient steps) and an
  experience replay buffer (Mnih et al. 2015; Lin 1992);
* double DQN targets (van Hasselt, Guez & Silver 2016): the online network
  picks the next action, the target network values it;
* ``n``-step returns (Sutton 1988; Hessel et al. 2018, *Rainbow*);
* Huber loss and gradient-norm clipping;
* a linear ``ε``-greedy schedule; random actions are uniform over *feasible*
  orders;
* invalid orders (beyond capacity, ``max_order`` or the position bound) are
  masked both when acting and in the ``max`` of the targets;
* all-action targets (``all_actions``, default): demand is exogenous and
  observed, so a stored period ``(s, d)`` tells the cost and next state of
  *every* order under that same demand (computed with
  :func:`replenish.dynamics.step`, the one statement of the rules).  Each
  sampled state then gets a one-period target for every feasible action,
  ``y(a) = −c(s, a, d)/scale − ρ + Q̄(s'(s, a, d), a*)``, so the actions are
  compared on common random numbers (the idea of hindsight learning for MDPs
  with exogenous inputs, Sinclair et al. 2023, and of Madeka et al. 2022,
  *Deep inventory management*).  The next states of the ``batch × actions``
  pairs repeat a lot (different orders and demands reach the same stock), so
  each distinct one is valued once.  The usual sampled ``n``-step target of the
  taken action remains available (``all_actions = false``);
* an optional post-decision head (``post_decision``,
  :class:`replenish.policies.dqn.QNetwork`): ``Q(s, a) = −o(a) + V(s, u_a)``,
  the ordering cost ``o(a) = K·[a > 0] + c·a``, known from the rules, plus the
  value of the position after ordering ``u_a``, interpolated between knots in
  units of the weekday's demand, so neighbouring orders share parameters and
  the fixed cost separates ordering from not ordering exactly;
* model selection (``keep_best``) by the *exact* long-run average cost of the
  greedy policy (:func:`replenish.markov.evaluate_exact`) when the state
  space is small enough (``eval_mode``), else by simulation;
* scaled observations and rewards (:class:`replenish.policies.dqn.Observation`;
  reward = −cost / cost scale, the scale from the warm-up transitions: their
  mean cost, or with ``cost_scale = "demand"`` the holding cost of their mean
  demand), and a coarse action grid when the order range has more than
  ``max_actions`` pack multiples.

Objectives (``objective``):

* ``"average"`` (default): differential Q-learning (Wan, Naik & Sutton 2021,
  *Learning and planning in average-reward Markov decision processes*; in the
  line of R-learning, Schwartz 1993): the target of an ``n``-step transition is
  ``R_n − n·ρ + Q̄(s_n, a*)`` where ``R_n`` is the sum of the ``n`` rewards and
  ``ρ`` the average reward per period.  ``ρ`` starts as the mean reward of the
  random warm-up transitions and then moves with the mean TD error of each
  batch, ``ρ ← ρ + η·mean(δ)/n`` (``η = gain_rate``), which keeps the relative
  values from drifting.  ``−ρ`` is logged as ``train/gain`` ($/period).
  Two alternatives were measured and dropped: ``ρ`` from the network at
  reference states (RVI Q-learning, Abounadi, Bertsekas & Borkar 2001)
  oscillated on the bike shop, and ``ρ`` as a moving average of the collected
  rewards let the values drift (the exploring behaviour is worse than greedy).
* ``"discounted"``: the usual ``R_n + γⁿ Q̄(s_n, a*)`` with ``γ = gamma`` (default
  ``problem.discount``).

Whatever the objective, the figure reported for the policy is its long-run
average cost (:func:`replenish.methods.solve` evaluates it exactly when the
chain is tabulable, else by simulation with a CI).

Experience collection steps ``num_envs`` sample paths at once with
:func:`replenish.dynamics.step` (the one compiled statement of the rules) — not
a loop over Gymnasium environments.  Demand is drawn from the problem's demand
model with an explicit :class:`numpy.random.Generator`.

Randomness: ``seed`` creates independent numpy streams (demand, exploration,
replay sampling, evaluation demand) and a :class:`torch.Generator` for the
initial weights; nothing seeds a global RNG.  A run with a fixed seed is
deterministic (on one machine and thread count), unless ``time_limit`` stops it.

Checkpoints (``checkpoint_dir/last.pt``) hold everything needed to continue
exactly where training stopped: networks, optimizer, replay buffer, the
``n``-step windows and states of the parallel paths, RNG states, counters and
the evaluation history; they are saved every ``checkpoint_every`` steps, at the
end, and when training is interrupted (Ctrl-C).  Like policy files they contain
only tensors and JSON text and are read with ``torch.load(weights_only=True)``.

Measured choices (``benchmarks/dqn.py``; gaps to the DP optimum, exact
evaluation, 2 shared cores under load 3.5–7; lost sales ``L = 2``, ``p = 39``,
seed 0, ~110 s of training):

* all-action targets: 0.44% (best kept snapshot; 1.6% already after 18k
  transitions) against 2.6% for the sampled 3-step target of the taken action
  with twice the gradient steps, and 11.5% for the previous defaults
  (sampled targets, ``ε_end = 0.3``, simulated model selection).  Bike shop:
  0.00% after 15k transitions; weekday instance: 5.9% (was 18.4%).
* ``action_mode = "level"``: not better (0.83% vs 0.44% with all-action
  targets; 4.5% vs 1.7% with sampled ones; 12.1% vs 5.9% on the weekday
  instance), so ``"order"`` stays the default.
* a lower learning rate (3e-4 → 3e-5) or Polyak target updates (``tau``)
  with sampled targets: worse (13.2%); a smaller reward scale (``cost_scale =
  5``): much worse (47%).  ``gain_rate = 0.001`` on the weekday instance: 7.5%.
* exact model selection (``eval_mode``) removes the simulation noise from
  the choice of the kept network; it costs 0.05–0.3 s per evaluation here.
* bakery series (weekday empirical demand fitted on a year of sales, lost
  sales, ``L = 1``; 40k steps, seed 0; gap of the greedy policy to the DP on
  the fitted model): ``demand_features`` (the position in units of the
  demand it must cover, per weekday) 43.4% → 13.0% on store 28/product 101
  (800 units a day, packs of 20) and 10.9% → 7.3% on store 2/product 109;
  with ``dueling`` as well, over the 20 series × K ∈ {0, 20} of
  ``benchmarks/bakery.py``: median gap 9.7% → 6.4%, 2017 cost 0.530 → 0.514
  (K = 0) and 0.599 → 0.580 (K = 20) of the best static (s, S).  Both default
  off (not measured on the other instances), on in the bakery configs.
  Measured on store 2/product 109 alone (60k steps, default features, default
  18.0%): dueling 13.0%, level actions 30.7%, level +
  dueling 15.8%, exploring restarts (10% of paths per period jump to a random
  state) 22.2%, ``cost_scale = 20`` 25.8%.  The remaining gap: the greedy
  order reacts too little to the position within a weekday (the DP's falls
  one for one with it), i.e. the network does not resolve the small
  differences between neighbouring orders across 100+ outputs.
* ``post_decision``, first version with a learned order-0 output (with demand
  features and dueling, 60k steps, ``lr_final = 1e-5``, ``eval_every = 2000``): median gap to
  the DP on the fitted model 6.4% → 2.2% (K = 0) and 3.2% (K = 20); 2017 cost
  0.479 | 0.530 of (s, S), 1.0197 | 1.036 of the better of weekday
  base-stock and DP.  The per-order outputs were noisy (±40 $ between
  neighbouring orders on store 2/product 101); the head's values are not.
  Measured and dropped on store 2/product 101 (K = 0): the head *added* to
  the per-order outputs (18.0% at 40k steps vs 11.0% alone), a convex (in
  the position) parametrisation of the knot values (92%: the slopes did not
  learn), ``max_actions = 256`` (11.3% vs 7.2% at 60k steps); with the
  per-order outputs (8.4% at 40k steps): ``gradient_steps = 4`` 9.9%,
  ``target_update = 50`` 15.8%, ``cost_scale = 130`` 19.6%, 80k steps 9.7%.
  On store 2/product 109 with K = 20, where training with the head failed
  (51.5%; gaps above 100% between evaluations): another seed 23%, Polyak
  targets ``tau = 0.005`` 53%, a smoothness penalty on the knot values 35%.
* K > 0 (store 2/product 109, K = 20, the settings above; gap of the kept
  snapshot): the head's order-0 output was a learned extra value; the known
  ordering cost in its place (the present head) 30.7%, both 58.2%.  Then, one
  change at a time: ``target_update = 1000`` 2.8% (seed 1: 5.4%; 2000: 12.7%),
  ``cost_scale = 40`` 18.1%, ``batch_size = 256`` 12.3%, ``lr = 3e-4`` 15.0%,
  ``hidden = (128, 128)`` 12.6%, ``double = false`` 12.1%, ``eps_end = 0.2``
  22.1%, ``gain_rate = 0.001`` 24.6%; with ``target_update = 1000``:
  ``gradient_steps = 2`` 5.9% (store 2/product 101: 9.3%), the minimum of the
  online and target values in the targets (clipped double Q, Fujimoto et al.
  2018) 52.7%.  The gap's history showed why: the greedy policy fell apart
  after some target copies (over-ordering on single weekdays), and the random
  warm-up's mean cost (287 $/day here, the optimum 42) made the reward scale
  coarse.  With ``target_update = 1000`` *and* a scale near a good policy's
  cost the swings shrink: 2.6% with ``cost_scale = "demand"`` (24.9 $) and
  1.95% with 40 $; store 2/product 101 (K = 20): 4.3% with ``"demand"``
  (175.6 $) and 3.1% with 150 $, against 23.2% with the warm-up scale.  The
  bakery configs use both; over the 20 series of ``benchmarks/bakery.py``
  (K = 0 | 20): median gap 2.9% | 2.3% (was 2.2% | 3.2%, worst 51.5%), 2017
  cost 0.465 | 0.506 of (s, S) and 0.989 | 0.989 of the better of weekday
  base-stock and DP (was 1.0197 | 1.036).

Sections of :func:`train_dqn`: setup → (resume) → loop { act → step → gain →
n-step → store → learn (all-action or sampled targets) → target → evaluate → log →
checkpoint } → result.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from replenish.core.io import atomic_write
from replenish.core.validate import SpecError, check_keys, option_types, require
from replenish.evaluation.markov import evaluate_exact
from replenish.evaluation.simulate import draw_demand, simulate
from replenish.model.dynamics import feasible_max, step
from replenish.model.spec import Problem
from replenish.model.statespace import StateSpace
from replenish.policies.dqn import (
    DQNPolicy,
    Observation,
    build_q_network,
    masked_argmax,
)
from replenish.solvers.base import MethodOutput

CHECKPOINT_FORMAT = "replenish.dqn-checkpoint/2"  # /2: demands stored with the transitions
CHECKPOINT_NAME = "last.pt"


# ============================================================================
# Hyperparameters
# ============================================================================
@dataclass(frozen=True, kw_only=True)
class DQNConfig:
    """Hyperparameters of :func:`train_dqn` (validated; keyword-only).

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
        all_actions: all-action ("hindsight") one-period targets from the observed demand
            (see the module docstring); ``False``: the usual target of the taken action only.
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
        cost_scale: reward = −cost / cost_scale ($), or how to set it from the
            ``learning_starts`` random warm-up transitions: ``None`` / ``"warmup"``, their
            mean cost; ``"demand"``, the holding cost of their mean demand, ``h·mean(D)``,
            which is of the order of a good policy's cost, whereas random orders cost
            several times that (measured on the bakery series: see the module docstring).
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
            v = getattr(self, name)
            require(isinstance(v, int) and not isinstance(v, bool) and v >= low, f"dqn.{name}", v,
                    f"must be an integer >= {low}")

        def num(name: str, lo: float, hi: float, *, open_lo: bool = False) -> None:
            v = getattr(self, name)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) \
                and (v > lo if open_lo else v >= lo) and v <= hi
            require(ok, f"dqn.{name}", v, f"must be a number in {'(' if open_lo else '['}{lo}, {hi}]")

        for n in ("steps", "num_envs", "n_step", "batch_size", "buffer_size", "gradient_steps",
                  "target_update", "eval_every", "eval_paths", "eval_horizon", "checkpoint_every",
                  "threads", "exact_states"):
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
                  "keep_best"):
            require(isinstance(getattr(self, b), bool), f"dqn.{b}", getattr(self, b), "must be true/false")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DQNConfig:
        data = dict(data)
        if "hidden" in data and isinstance(data["hidden"], list):
            data["hidden"] = tuple(data["hidden"])
        return cls(**data)

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


#: fields that may differ when resuming (budget and bookkeeping, not the learning rule)
_RESUMABLE_CHANGES = {"steps", "eval_every", "checkpoint_every", "time_limit", "threads"}


# ============================================================================
# Replay buffer
# ============================================================================
class ReplayBuffer:
    """Circular buffer of ``n``-step transitions ``(s, a, R, s', amax')``.

    States are stored raw (int64 (cap, d)) and turned into features when
    sampled; ``R`` is the (discounted or plain) sum of ``n`` rewards ($, unscaled) and
    ``amax'`` the largest feasible order (units) in ``s'`` (for masked targets).
    Sampling is uniform with the caller's :class:`numpy.random.Generator`.
    """

    def __init__(self, capacity: int, state_dim: int) -> None:
        self.capacity = capacity
        self.states = np.zeros((capacity, state_dim), dtype=np.int64)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.returns = np.zeros(capacity, dtype=np.float32)
        self.next_states = np.zeros((capacity, state_dim), dtype=np.int64)
        self.next_amax = np.zeros(capacity, dtype=np.int64)
        self.demands = np.zeros(capacity, dtype=np.int64)
        self.ptr = 0
        self.size = 0

    def add(self, states: np.ndarray, actions: np.ndarray, returns: np.ndarray,
            next_states: np.ndarray, next_amax: np.ndarray, demands: np.ndarray) -> None:
        """Append a batch of transitions (overwriting the oldest when full); ``demands``:
        the demand (units) of the first period, for the all-action targets."""
        n = states.shape[0]
        idx = (self.ptr + np.arange(n)) % self.capacity
        self.states[idx] = states
        self.actions[idx] = actions
        self.returns[idx] = returns
        self.next_states[idx] = next_states
        self.next_amax[idx] = next_amax
        self.demands[idx] = demands
        self.ptr = int((self.ptr + n) % self.capacity)
        self.size = int(min(self.size + n, self.capacity))

    def sample(self, rng: np.random.Generator, batch: int) -> tuple[np.ndarray, ...]:
        """``batch`` transitions drawn uniformly (with replacement)."""
        i = rng.integers(0, self.size, size=batch)
        return (self.states[i], self.actions[i], self.returns[i], self.next_states[i], self.next_amax[i],
                self.demands[i])

    def state_dict(self) -> dict[str, Any]:
        n = self.size
        return {"states": torch.from_numpy(self.states[:n].copy()),
                "actions": torch.from_numpy(self.actions[:n].copy()),
                "returns": torch.from_numpy(self.returns[:n].copy()),
                "next_states": torch.from_numpy(self.next_states[:n].copy()),
                "next_amax": torch.from_numpy(self.next_amax[:n].copy()),
                "demands": torch.from_numpy(self.demands[:n].copy()),
                "ptr": self.ptr, "size": self.size}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        n = int(d["size"])
        require(n <= self.capacity, "dqn.buffer_size", self.capacity,
                f"smaller than the checkpoint's buffer ({n})")
        for name in ("states", "actions", "returns", "next_states", "next_amax", "demands"):
            getattr(self, name)[:n] = d[name].numpy()
        self.size = n
        self.ptr = int(d["ptr"]) % self.capacity


# ============================================================================
# Result
# ============================================================================
@dataclass(frozen=True)
class DQNResult:
    """What :func:`train_dqn` returns.

    Attributes:
        policy: the greedy policy (best evaluated network if ``keep_best``).
        config: the hyperparameters used.
        steps: transitions collected in total (including before a resume).
        updates: gradient steps in total.
        seconds: wall time of this call (training + periodic evaluations).
        cost_scale: the reward scale ($ per unit of reward).
        best_eval_cost: best periodic simulated average cost ($/period), or ``None``.
        history: periodic evaluations ``{"step", "average_cost", "gap", "seconds"}``.
        resumed_from: step count of the checkpoint resumed from, or ``None``.
        checkpoint: path of the last checkpoint written, or ``None``.
        stopped_by_time: training ended because of ``time_limit``.
    """

    policy: DQNPolicy
    config: DQNConfig
    steps: int
    updates: int
    seconds: float
    cost_scale: float
    best_eval_cost: float | None
    history: list[dict[str, Any]] = field(default_factory=list)
    resumed_from: int | None = None
    checkpoint: str | None = None
    stopped_by_time: bool = False


# ============================================================================
# Training
# ============================================================================
def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
    return rng.bit_generator.state


def _set_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    rng.bit_generator.state = state


def train_dqn(problem: Problem, *, config: DQNConfig | None = None, seed: int = 0,
              logdir: str | Path | None = None, checkpoint_dir: str | Path | None = None,
              resume: bool = False, progress: bool = False, optimum: float | None = None,
              callback: Callable[[dict[str, Any]], None] | None = None) -> DQNResult:
    """Train a DQN on ``problem`` (see the module docstring for the algorithm).

    Args:
        problem: the problem (any demand model; the DP is not needed).
        config: hyperparameters (default :class:`DQNConfig()`).
        seed: seeds every generator used (numpy streams and the torch generator).
        logdir: TensorBoard folder (loss, ε, mean Q, gain, evaluation cost and
            gap, hyperparameters); ``None`` for no logging.
        checkpoint_dir: folder for ``last.pt`` checkpoints; ``None`` for none.
        resume: continue from ``checkpoint_dir/last.pt`` (the config may change
            only ``steps``, ``eval_every``, ``checkpoint_every``, ``time_limit``
            and ``threads``).
        progress: show a progress bar.
        optimum: the optimal average cost ($/period) for gap logging, if known.
        callback: called after each vector step with ``{"step", "updates",
            "epsilon", "network"}`` (``network``: the online Q-network, read
            only); returning ``False`` ends training normally; raising
            :class:`KeyboardInterrupt` in it behaves like Ctrl-C (a checkpoint
            is saved, the exception propagates).
    """
    cfg = config or DQNConfig()
    require(isinstance(cfg, DQNConfig), "config", cfg, "must be a DQNConfig")
    require(isinstance(seed, (int, np.integer)) and seed >= 0, "seed", seed, "must be an integer >= 0")
    if resume:
        require(checkpoint_dir is not None, "resume", resume, "needs a checkpoint folder (--out)")
    t_start = time.perf_counter()
    old_threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        return _train(problem, cfg, int(seed), logdir, checkpoint_dir, resume, progress, optimum,
                      callback, t_start)
    finally:
        torch.set_num_threads(old_threads)


def _train(problem: Problem, cfg: DQNConfig, seed: int, logdir: Any, checkpoint_dir: Any,
           resume: bool, progress: bool, optimum: float | None,
           callback: Callable[[dict[str, Any]], None] | None, t_start: float) -> DQNResult:
    # ------------------------------------------------------------------ setup
    obs = Observation.from_problem(problem, reduced=cfg.reduced_obs, max_actions=cfg.max_actions,
                                   action_mode=cfg.action_mode,
                                   demand_features=cfg.demand_features,
                                   post_decision=cfg.post_decision)
    N, n = cfg.num_envs, cfg.n_step
    average = cfg.objective == "average"
    gamma = 1.0 if average else float(cfg.gamma if cfg.gamma is not None else problem.discount)
    ss = np.random.SeedSequence(seed)
    rng_demand, rng_explore, rng_replay, rng_eval = (np.random.default_rng(s) for s in ss.spawn(4))
    torch_gen = torch.Generator().manual_seed(seed)

    def new_net() -> nn.Module:
        return build_q_network(obs.n_features, obs.n_actions, cfg.hidden, dueling=cfg.dueling,
                               post_decision=obs.post_decision,
                               generator=torch_gen)

    online = new_net()
    target = copy.deepcopy(online)
    target.requires_grad_(False)
    optimizer = torch.optim.Adam(online.parameters(), lr=cfg.lr, fused=True)
    buffer = ReplayBuffer(cfg.buffer_size, problem.state_dim)
    eval_demand = draw_demand(problem, rng_eval, n_paths=cfg.eval_paths, horizon=cfg.eval_horizon)
    policy = DQNPolicy(problem=problem, network=online, observation=obs, hidden=cfg.hidden,
                       dueling=cfg.dueling)

    def set_order_cost(scale: float | None) -> None:
        """Post-decision head: the ordering cost of each action (``K·[a > 0] + c·a``) in
        reward units, from the rules (:func:`step`; it does not depend on the demand)."""
        if not obs.post_decision or scale is None:
            return
        s0 = np.tile(problem.start_state(), (obs.n_actions, 1))
        oc = step(problem, s0, obs.raw_orders(s0)[0], np.zeros(obs.n_actions, dtype=np.int64)).costs[:, 2]
        for net in (online, target):
            net.order_cost.copy_(torch.from_numpy(oc / scale))

    states = np.tile(problem.start_state(), (N, 1))
    window: list[tuple[np.ndarray, ...]] = []  # n-step: (s, a, r, demand) per period
    cost_scale = None if isinstance(cfg.cost_scale, str) else cfg.cost_scale
    set_order_cost(cost_scale)
    warm_costs: list[float] = []
    warm_demands: list[int] = []
    global_step = 0
    updates = 0
    best_cost: float | None = None
    best_state: dict[str, torch.Tensor] | None = None
    history: list[dict[str, Any]] = []
    gain: list[Any] = [None]  # ρ ($/period, reward units), a list so learn() sees updates
    resumed_from: int | None = None
    ckpt_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None

    # ----------------------------------------------------------------- resume
    if resume:
        assert ckpt_path is not None
        if not ckpt_path.is_file():
            raise SpecError("resume", str(ckpt_path), "no checkpoint to resume from")
        ck = _load_checkpoint(ckpt_path)
        meta = json.loads(ck["meta"])
        if meta["problem"] != json.loads(json.dumps(problem.to_dict())):
            raise SpecError("resume", str(ckpt_path), "checkpoint was trained on a different problem")
        if int(meta["seed"]) != seed:
            raise SpecError("seed", seed, f"the checkpoint was trained with seed {meta['seed']}")
        old = DQNConfig.from_dict(meta["config"])
        diff = sorted(k for k in (f.name for f in fields(DQNConfig))
                      if getattr(old, k) != getattr(cfg, k) and k not in _RESUMABLE_CHANGES)
        if diff:
            raise SpecError("resume", ", ".join(diff), "hyperparameters differ from the checkpoint's")
        online.load_state_dict(ck["online"])
        target.load_state_dict(ck["target"])
        optimizer.load_state_dict(ck["optimizer"])
        buffer.load_state_dict(ck["buffer"])
        states = ck["env_states"].numpy().copy()
        window = [tuple(w[k].numpy().copy() for k in ("s", "a", "r", "d")) for w in ck["window"]]
        best_state = ck.get("best") or None
        for g, st in zip((rng_demand, rng_explore, rng_replay), meta["rng"], strict=True):
            _set_rng_state(g, st)
        global_step, updates = int(meta["step"]), int(meta["updates"])
        cost_scale, best_cost = meta["cost_scale"], meta["best_cost"]
        warm_costs = list(meta["warm_costs"])
        warm_demands = list(meta.get("warm_demands", []))
        gain[0] = meta["gain"]
        history = list(meta["history"])
        resumed_from = global_step

    writer = None
    if logdir is not None:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(logdir))
        writer.add_text("config", "```\n" + json.dumps({"problem": problem.to_dict(),
                                                        "dqn": cfg.to_dict(), "seed": seed},
                                                       indent=1) + "\n```", global_step)

    def checkpoint() -> str | None:
        if ckpt_path is None:
            return None
        meta = {"problem": problem.to_dict(), "config": cfg.to_dict(), "seed": seed,
                "step": global_step, "updates": updates, "cost_scale": cost_scale,
                "best_cost": best_cost, "warm_costs": warm_costs,
                "warm_demands": warm_demands, "history": history, "gain": gain[0],
                "rng": [_rng_state(g) for g in (rng_demand, rng_explore, rng_replay)]}
        blob = {"format": CHECKPOINT_FORMAT, "meta": json.dumps(meta),
                "online": online.state_dict(), "target": target.state_dict(),
                "optimizer": optimizer.state_dict(), "buffer": buffer.state_dict(),
                "env_states": torch.from_numpy(states.copy()),
                "window": [{k: torch.from_numpy(v) for k, v in zip("sard", w, strict=True)}
                           for w in window],
                "best": best_state or {}}
        atomic_write(ckpt_path, lambda fh: torch.save(blob, fh))
        return str(ckpt_path)

    # ------------------------------------------------------ one gradient step
    disc_n = gamma**n

    def learn_sampled() -> tuple[float, float, float]:
        """``n``-step target of the taken action only (classic DQN)."""
        s, a, R, s2, amax2, _ = buffer.sample(rng_replay, cfg.batch_size)
        R = R / np.float32(cost_scale)
        x, x2 = obs.features(s), obs.features(s2)
        mask2 = obs.mask(s2, amax2)
        with torch.no_grad():
            q2_target = target(x2)
            a2 = masked_argmax(online(x2) if cfg.double else q2_target, mask2)
            v2 = q2_target.gather(1, a2[:, None])[:, 0]
            if average:  # differential target: subtract the average reward ρ per period
                f = torch.tensor(gain[0] / cost_scale, dtype=torch.float32)
                y = torch.from_numpy(R) - n * f + v2
            else:
                f = torch.zeros(())
                y = torch.from_numpy(R) + disc_n * v2
        q = online(x).gather(1, torch.from_numpy(a)[:, None])[:, 0]
        if average:  # differential Q-learning: ρ follows the mean TD error (per period)
            gain[0] += cfg.gain_rate * float((y - q).detach().mean()) / n * cost_scale
        loss = nn.functional.huber_loss(q, y, delta=cfg.huber_delta)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(online.parameters(), cfg.max_grad_norm)
        optimizer.step()
        return float(loss.detach()), float(q.detach().mean()), float(f)

    exact_eval = cfg.eval_mode == "exact" or (
        cfg.eval_mode == "auto"
        and StateSpace(problem, reduced=policy.uses_reduced_state).count() <= cfg.exact_states)

    n_act = obs.n_actions

    def learn_all_actions() -> tuple[float, float, float]:
        """One-period targets for *every* feasible action of the sampled states, under the
        demand that was observed (demand is exogenous: the rules, :func:`step`, give the
        cost and next state of any order for that demand)."""
        s, _, _, _, _, d = buffer.sample(rng_replay, cfg.batch_size)
        amax = feasible_max(problem, s)
        mask = obs.mask(s, amax)
        orders = np.clip(obs.raw_orders(s), 0, amax[:, None])  # (b, A); masked ones unused
        res = step(problem, np.repeat(s, n_act, axis=0), orders.ravel(), np.repeat(d, n_act))
        r = torch.from_numpy((-res.total_cost / cost_scale).astype(np.float32)).view(-1, n_act)
        # next states: many (action, demand) pairs lead to the same one; value each once
        s2 = res.states
        fmax2 = feasible_max(problem, s2)
        x2 = obs.features(s2)
        key = np.ascontiguousarray(np.concatenate([x2.numpy(), fmax2[:, None].astype(np.float32)], 1))
        _, first, inverse = np.unique(key.view(np.dtype((np.void, key.shape[1] * 4)))[:, 0],
                                      return_index=True, return_inverse=True)
        x2, s2 = x2[torch.from_numpy(first)], s2[first]
        mask2 = obs.mask(s2, fmax2[first])
        with torch.no_grad():
            q2_target = target(x2)
            a2 = masked_argmax(online(x2) if cfg.double else q2_target, mask2)
            v2 = q2_target.gather(1, a2[:, None])[:, 0][torch.from_numpy(inverse.ravel())].view(-1, n_act)
            f = torch.tensor(gain[0] / cost_scale if average else 0.0, dtype=torch.float32)
            y = r - f + v2 if average else r + gamma * v2
        q_all = online(obs.features(s))
        if average:  # ρ follows the TD error of the greedy action
            g = masked_argmax(q_all.detach(), mask)[:, None]
            gain[0] += cfg.gain_rate * float((y.gather(1, g) - q_all.detach().gather(1, g)).mean()) \
                * cost_scale
        loss = nn.functional.huber_loss(q_all[mask], y[mask], delta=cfg.huber_delta)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(online.parameters(), cfg.max_grad_norm)
        optimizer.step()
        return float(loss.detach()), float(q_all.detach()[mask].mean()), float(f)

    learn = learn_all_actions if cfg.all_actions else learn_sampled

    def evaluate_greedy() -> float:
        online.eval()
        c = None
        if exact_eval:  # no simulation noise in the choice of the kept snapshot
            try:
                c = evaluate_exact(problem, policy).average_cost
            except (RuntimeError, SpecError):  # e.g. the limit of a periodic chain of an early network
                c = None
        if c is None:
            c = simulate(problem, policy, demand=eval_demand, warmup=cfg.eval_warmup).average_cost
        online.train()
        return c

    online_params, target_params = list(online.parameters()), list(target.parameters())
    amax = feasible_max(problem, states)
    n_iters = math.ceil(cfg.steps / N)
    it = global_step // N
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_iters * N, initial=global_step, desc=f"dqn {problem.name}", unit="step",
                   leave=False)
    loss_acc: list[tuple[float, float, float]] = []
    last_log = global_step
    stopped_by_time = False
    t_loop = time.perf_counter()
    try:
        # ============================================================== loop
        while it < n_iters:
            # -- act: ε-greedy over feasible actions (masked argmax / uniform)
            eps = cfg.epsilon(global_step) if global_step >= cfg.learning_starts else 1.0
            mask = obs.mask(states, amax)
            with torch.no_grad():
                greedy = masked_argmax(online(obs.features(states)), mask).numpy()
            explore = rng_explore.random(N) < eps
            u = rng_explore.random((N, obs.n_actions))  # uniform over the feasible actions
            rand = np.where(mask.numpy(), u, -1.0).argmax(axis=1)
            actions = np.where(explore, rand, greedy)
            orders = obs.orders(states, actions, amax)

            # -- step all paths with the compiled dynamics
            phases = states[:, -1] if problem.seasonal else np.zeros(N, dtype=np.int64)
            demand = problem.demand.sample(rng_demand, phases)
            res = step(problem, states, orders, demand)
            cost = res.total_cost
            if cost_scale is None:
                warm_costs.extend(cost.tolist())
                if cfg.cost_scale == "demand":
                    warm_demands.extend(demand.tolist())
                if len(warm_costs) >= max(cfg.learning_starts, N):
                    scale = float(np.mean(np.abs(warm_costs)))
                    demand_scale = (problem.holding_cost * float(np.mean(warm_demands))
                                    if warm_demands else 0.0)
                    if demand_scale > 0:  # "demand": h·mean(D), unless that is 0 (h = 0 or no sales)
                        scale = demand_scale
                    cost_scale = max(scale, 1e-6)
                    set_order_cost(cost_scale)
            window.append((states, actions, -cost, demand))
            # -- average reward ρ: starts as the moving average of the warm-up rewards
            if global_step < cfg.learning_starts or gain[0] is None:
                r_mean = float(-cost.mean())
                gain[0] = r_mean if gain[0] is None else gain[0] + 0.05 * (r_mean - gain[0])
            states = res.states
            amax = feasible_max(problem, states)
            global_step += N
            it += 1

            # -- n-step transitions into the replay buffer (rewards in $, scaled when sampled)
            if len(window) == n:
                R = np.zeros(N)
                for k, (_, _, r, _) in enumerate(window):
                    R += (gamma**k) * r
                s0, a0, _, d0 = window.pop(0)
                buffer.add(s0, a0, R.astype(np.float32), states, amax, d0)

            # -- learn
            if global_step >= cfg.learning_starts and buffer.size >= cfg.batch_size \
                    and cost_scale is not None:
                lr = cfg.learning_rate(global_step)
                for g in optimizer.param_groups:
                    g["lr"] = lr
                for _ in range(cfg.gradient_steps):
                    loss_acc.append(learn())
                    updates += 1
                    # -- target network: Polyak average, or a hard copy every target_update steps
                    if cfg.tau is not None:
                        with torch.no_grad():
                            torch._foreach_lerp_(target_params, online_params, cfg.tau)
                    elif updates % cfg.target_update == 0:
                        target.load_state_dict(online.state_dict())

            # -- evaluate the greedy policy (batched simulation, common random numbers)
            if global_step // cfg.eval_every > (global_step - N) // cfg.eval_every \
                    and global_step >= cfg.learning_starts:
                c = evaluate_greedy()
                gap = (c - optimum) / abs(optimum) if optimum else None
                history.append({"step": global_step, "average_cost": c, "gap": gap,
                                "seconds": time.perf_counter() - t_start})
                if best_cost is None or c < best_cost:
                    best_cost = c
                    best_state = {k: v.detach().clone() for k, v in online.state_dict().items()}
                if writer is not None:
                    writer.add_scalar("eval/average_cost", c, global_step)
                    writer.add_scalar("eval/best_average_cost", best_cost, global_step)
                    if gap is not None:
                        writer.add_scalar("eval/gap", gap, global_step)
                if bar is not None:
                    bar.set_postfix(cost=f"{c:.3f}", best=f"{best_cost:.3f}")

            # -- log
            if writer is not None and loss_acc and global_step - last_log >= 1000:
                arr = np.asarray(loss_acc)
                writer.add_scalar("train/loss", arr[:, 0].mean(), global_step)
                writer.add_scalar("train/mean_q", arr[:, 1].mean(), global_step)
                if average:
                    writer.add_scalar("train/gain", -gain[0], global_step)
                writer.add_scalar("train/epsilon", eps, global_step)
                writer.add_scalar("train/learning_rate", cfg.learning_rate(global_step), global_step)
                writer.add_scalar("train/steps_per_second",
                                  (global_step - last_log) / max(time.perf_counter() - t_loop, 1e-9),
                                  global_step)
                loss_acc.clear()
                last_log = global_step
                t_loop = time.perf_counter()
            elif len(loss_acc) > 10_000:
                loss_acc.clear()
            if bar is not None:
                bar.update(N)

            # -- checkpoint
            if ckpt_path is not None and \
                    global_step // cfg.checkpoint_every > (global_step - N) // cfg.checkpoint_every:
                checkpoint()
            if callback is not None and callback({"step": global_step, "updates": updates,
                                                  "epsilon": eps, "network": online}) is False:
                break
            if cfg.time_limit is not None and time.perf_counter() - t_start > cfg.time_limit:
                stopped_by_time = True
                break
    except KeyboardInterrupt:
        checkpoint()
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
        raise

    # ================================================================= result
    final_cost = None
    if (not history or history[-1]["step"] != global_step) and global_step >= cfg.learning_starts:
        final_cost = evaluate_greedy()
        history.append({"step": global_step, "average_cost": final_cost,
                        "gap": (final_cost - optimum) / abs(optimum) if optimum else None,
                        "seconds": time.perf_counter() - t_start})
        if best_cost is None or final_cost < best_cost:
            best_cost = final_cost
            best_state = {k: v.detach().clone() for k, v in online.state_dict().items()}
    last = checkpoint()
    if bar is not None:
        bar.close()
    net = new_net()
    net.load_state_dict(best_state if (cfg.keep_best and best_state) else online.state_dict())
    net.eval()
    result_policy = DQNPolicy(problem=problem, network=net, observation=obs, hidden=cfg.hidden,
                              dueling=cfg.dueling)
    if writer is not None:
        metrics = {"hparam/best_eval_cost": best_cost if best_cost is not None else float("nan")}
        if optimum and best_cost is not None:
            metrics["hparam/best_eval_gap"] = (best_cost - optimum) / abs(optimum)
        hp = {k: (str(v) if isinstance(v, (list, tuple)) or v is None else v)
              for k, v in cfg.to_dict().items()}
        writer.add_hparams(hp | {"seed": seed}, metrics, run_name="hparams")
        writer.close()
    return DQNResult(policy=result_policy, config=cfg, steps=global_step, updates=updates,
                     seconds=time.perf_counter() - t_start, cost_scale=float(cost_scale or 1.0),
                     best_eval_cost=best_cost, history=history, resumed_from=resumed_from,
                     checkpoint=last, stopped_by_time=stopped_by_time)


def _load_checkpoint(path: Path) -> dict[str, Any]:
    from replenish.policies.dqn import safe_torch_load

    blob = safe_torch_load(path)
    if blob.get("format") != CHECKPOINT_FORMAT:
        raise SpecError("resume", str(path), f"not a DQN checkpoint (format {blob.get('format')!r})")
    return blob


# ============================================================================
# The "dqn" method (CLI / TOML)
# ============================================================================
_RUN_KEYS: dict[str, type | tuple[type, ...]] = {
    "logdir": str, "checkpoint_dir": str, "resume": bool, "variant": str}


def dqn_method(problem: Problem, *, options: dict[str, Any], seed: int,
               progress: bool) -> MethodOutput:
    """DQN (``[dqn]`` table: :class:`DQNConfig` fields; flags ``steps``, ``logdir``,
    ``resume``, ``checkpoint_dir``; ``variant`` = objective ``average|discounted``)."""
    check_keys(options, option_types(DQNConfig) | _RUN_KEYS, "dqn")
    opts = dict(options)
    run = {k: opts.pop(k) for k in list(opts) if k in _RUN_KEYS}
    if "variant" in run:
        opts["objective"] = run.pop("variant")
    if "hidden" in opts:
        opts["hidden"] = tuple(opts["hidden"])
    cfg = DQNConfig(**opts)
    optimum = None
    if run.get("logdir"):
        from replenish.solvers.dp import optimal_average_cost

        optimum = optimal_average_cost(problem)
    r = train_dqn(problem, config=cfg, seed=seed, logdir=run.get("logdir"),
                  checkpoint_dir=run.get("checkpoint_dir"), resume=bool(run.get("resume", False)),
                  progress=progress, optimum=optimum)
    extras = {"steps": r.steps, "updates": r.updates, "train_seconds": r.seconds,
              "best_eval_cost": r.best_eval_cost, "cost_scale": r.cost_scale,
              "resumed_from": r.resumed_from, "checkpoint": r.checkpoint,
              "stopped_by_time": r.stopped_by_time,
              "actions": r.policy.observation.n_actions, "action_stride": r.policy.observation.stride,
              "history": [{k: v for k, v in h.items()} for h in r.history[-20:]]}
    return MethodOutput(policy=r.policy, params=cfg.to_dict(), extras=extras)
