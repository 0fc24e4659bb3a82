"""The DQN training run: :class:`DQNTrainer`, :func:`train_dqn` and :class:`DQNResult`.

The algorithm, its symbols and its references are in :mod:`replenish.solvers.dqn`;
this module runs it.  :class:`DQNTrainer` reads top to bottom in the order the
algorithm runs:

* setup (``__init__``): observation features, the online network ``θ`` and the
  target network ``θ̄``, Adam, the replay buffer, the random streams, the fixed
  evaluation demand and the ``num_envs`` parallel sample paths;
* :meth:`~DQNTrainer.collect`: one vector step: act ``ε``-greedily on every
  path, step them all with :func:`replenish.model.dynamics.step`, set the
  reward scale after the warm-up, move ``ρ`` during it, and store the
  ``n``-step transitions;
* :meth:`~DQNTrainer.learn`: ``gradient_steps`` gradient steps on all-action
  or sampled targets (each moving ``ρ``), each followed by the target update;
* :meth:`~DQNTrainer.evaluate`: the long-run average cost of the greedy policy
  of ``θ`` (exact or simulated), recorded, the best snapshot kept;
* :meth:`~DQNTrainer.checkpoint` and :meth:`~DQNTrainer.restore`;
* :meth:`~DQNTrainer.train`: the loop { collect → learn → evaluate → log →
  checkpoint } and the :class:`DQNResult`.

Randomness: ``seed`` creates independent numpy streams (demand, exploration,
replay sampling, evaluation demand) and a :class:`torch.Generator` for the
initial weights; nothing seeds a global RNG.  A run with a fixed seed is
deterministic (on one machine and thread count), unless ``time_limit`` stops it.
The trainer owns all of them: :meth:`~DQNTrainer.collect` draws demand and
exploration, :meth:`~DQNTrainer.learn` replay batches, and the evaluation
demand is drawn once at setup (the same for every evaluation: common random
numbers).

Checkpoints (``checkpoint_dir/last.pt``) hold everything needed to continue
exactly where training stopped: networks, optimizer, replay buffer, the
``n``-step windows and states of the parallel paths, RNG states, counters and
the evaluation history; they are saved every ``checkpoint_every`` steps (and at
least every :data:`CHECKPOINT_SECONDS`, so a SIGKILL loses little), at the end,
and when training is interrupted (Ctrl-C).  Ctrl-C (SIGINT, in the main thread)
is deferred to the end of the vector step it arrives in, so the checkpoint holds
a consistent state (no half-done gradient step or collect) and a resumed run is
bit-identical to an uninterrupted one; a second Ctrl-C aborts at once without
writing a checkpoint (the last periodic one stays).  Like policy files they
contain only tensors and JSON text and are read with
``torch.load(weights_only=True)``.

Size: about 600 lines, one class.  Collect, learn, evaluate and checkpoint share the
trainer's state (networks, buffer, generators, schedules); split into modules they would pass
all of it back and forth, and the algorithm would no longer read top to bottom.
"""

from __future__ import annotations

import copy
import json
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from replenish.core.io import atomic_write
from replenish.core.rows import unique_rows
from replenish.core.validate import SpecError
from replenish.evaluation.markov import evaluate_exact
from replenish.evaluation.simulate import draw_demand, simulate
from replenish.model.dynamics import feasible_max, step
from replenish.model.spec import Problem
from replenish.policies.dqn import DQNPolicy, Observation, build_q_network, masked_argmax, safe_torch_load
from replenish.solvers.base import exact_evaluation_fits, run_trainer
from replenish.solvers.dqn.buffer import ReplayBuffer
from replenish.solvers.dqn.config import DQNConfig
from replenish.solvers.dqn.monitor import Monitor

CHECKPOINT_FORMAT = "replenish.dqn-checkpoint/2"  # /2: demands stored with the transitions
CHECKPOINT_NAME = "last.pt"
#: Most seconds between two checkpoints (besides every ``checkpoint_every`` transitions), so a
#: SIGKILL loses at most this much of a long run; checkpoints never change the training.
CHECKPOINT_SECONDS = 120.0

#: (loss, mean Q, ρ in reward units) of one gradient step
StepStats = tuple[float, float, float]


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


class DQNTrainer:
    """One DQN training run on ``problem``: build it, :meth:`restore` to resume, :meth:`train` once.

    Arguments as :func:`train_dqn`'s, which validates them and sets the torch
    thread count around the run.

    State (attributes; ``N = num_envs``, ``d = problem.state_dim``):
        states: int64 (N, d), the current state of each parallel path.
        amax: int64 (N,), the largest feasible order (units) in each of them.
        window: the last ``< n`` periods ``(s, a, r, demand)`` of all paths, arrays
            (N, d), (N,), float (N,) ($), (N,): the pending ``n``-step transitions.
        cost_scale: $ per unit of reward; ``None`` until the warm-up sets it.
        gain: the average reward ``ρ`` ($/period, unscaled); ``None`` before the first step.
        global_step: transitions collected (all paths); updates: gradient steps.
        history, best_cost, best_state: the evaluations and the best snapshot of ``θ``.
    """

    # ============================================================================
    # Setup
    # ============================================================================
    def __init__(self, problem: Problem, *, config: DQNConfig, seed: int,
                 logdir: str | Path | None = None, checkpoint_dir: str | Path | None = None,
                 progress: bool = False, optimum: float | None = None,
                 callback: Callable[[dict[str, Any]], bool | None] | None = None,
                 observation: Observation | None = None) -> None:
        self.t_start = time.perf_counter()
        self.problem, self.cfg, self.seed = problem, config, seed
        self.logdir, self.progress, self.optimum, self.callback = logdir, progress, optimum, callback
        cfg = config
        self.obs = observation if observation is not None else Observation.from_problem(
            problem, reduced=cfg.reduced_obs, max_actions=cfg.max_actions, action_mode=cfg.action_mode,
            demand_features=cfg.demand_features, post_decision=cfg.post_decision,
            order_bound=proven_order_bound(problem, cfg))
        self.num_envs, self.n = cfg.num_envs, cfg.n_step
        self.average = cfg.objective == "average"
        self.gamma = 1.0 if self.average else float(cfg.gamma if cfg.gamma is not None else problem.discount)

        # random streams: demand and exploration (collect), replay (learn), evaluation demand (here)
        self.rng_demand, self.rng_explore, self.rng_replay, rng_eval = (
            np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))
        self.torch_gen = torch.Generator().manual_seed(seed)  # initial weights

        # networks θ (online) and θ̄ (target), optimizer, replay, the greedy policy of θ
        self.online = self._new_net()
        self.target = copy.deepcopy(self.online)
        self.target.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.online.parameters(), lr=cfg.lr, fused=True)
        self.buffer = ReplayBuffer(cfg.buffer_size, problem.state_dim)
        self.eval_demand = draw_demand(problem, rng_eval, n_paths=cfg.eval_paths, horizon=cfg.eval_horizon)
        self.policy = DQNPolicy(problem=problem, network=self.online, observation=self.obs,
                                hidden=cfg.hidden, dueling=cfg.dueling)
        self.exact_eval = cfg.eval_mode == "exact" or (
            cfg.eval_mode == "auto"
            and exact_evaluation_fits(problem, reduced=self.policy.uses_reduced_state,
                                      limit=cfg.exact_states))

        # the parallel paths, the reward scale and the learning state
        self.states = np.tile(problem.start_state(), (self.num_envs, 1))
        self.amax = feasible_max(problem, self.states)
        self.window: list[tuple[np.ndarray, ...]] = []
        self.cost_scale: float | None = None if isinstance(cfg.cost_scale, str) else cfg.cost_scale
        self._set_order_cost()
        self.warm_costs: list[float] = []
        self.warm_demands: list[int] = []
        self.gain: float | None = None
        self.last_cost: float | None = None  # mean cost of the last vector step ($/period)
        self.global_step = 0
        self.updates = 0
        self.best_cost: float | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.history: list[dict[str, Any]] = []
        self.resumed_from: int | None = None
        self._stopped_by_time = False
        self._last_checkpoint = time.perf_counter()
        self.ckpt_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None

    def _new_net(self) -> nn.Module:
        """A fresh Q-network, initialised from the trainer's torch generator."""
        return build_q_network(self.obs.n_features, self.obs.n_actions, self.cfg.hidden,
                               dueling=self.cfg.dueling, post_decision=self.obs.post_decision,
                               generator=self.torch_gen)

    def _set_order_cost(self) -> None:
        """Post-decision head: the ordering cost of each action (``K·[a > 0] + c·a``) in
        reward units, from the rules (:func:`step`; it does not depend on the demand)."""
        if not self.obs.post_decision or self.cost_scale is None:
            return
        problem, obs = self.problem, self.obs
        s0 = np.tile(problem.start_state(), (obs.n_actions, 1))
        oc = step(problem, s0, obs.raw_orders(s0)[0], np.zeros(obs.n_actions, dtype=np.int64)).costs[:, 2]
        for net in (self.online, self.target):
            net.get_buffer("order_cost").copy_(torch.from_numpy(oc / self.cost_scale))

    # ============================================================================
    # Collect: act, step the parallel paths, n-step transitions into the buffer
    # ============================================================================
    def collect(self) -> float:
        """One vector step of all ``N`` paths (``N`` transitions); returns the ``ε`` used."""
        cfg, problem, obs, N = self.cfg, self.problem, self.obs, self.num_envs
        # -- act: ε-greedy over feasible actions (masked argmax / uniform); ε = 1 in the warm-up
        eps = cfg.epsilon(self.global_step) if self.global_step >= cfg.learning_starts else 1.0
        mask = obs.mask(self.states, self.amax)
        with torch.no_grad():
            greedy = masked_argmax(self.online(obs.features(self.states)), mask).numpy()
        explore = self.rng_explore.random(N) < eps
        u = self.rng_explore.random((N, obs.n_actions))  # uniform over the feasible actions
        rand = np.where(mask.numpy(), u, -1.0).argmax(axis=1)
        actions = np.where(explore, rand, greedy)
        orders = obs.orders(self.states, actions, self.amax)

        # -- step all paths with the compiled dynamics
        phases = self.states[:, -1] if problem.seasonal else np.zeros(N, dtype=np.int64)
        demand = problem.demand.sample(self.rng_demand, phases)
        res = step(problem, self.states, orders, demand)
        cost = res.total_cost
        self.last_cost = float(cost.mean())
        if self.cost_scale is None:
            self._warm_up_scale(cost, demand)
        self.window.append((self.states, actions, -cost, demand))
        # -- average reward ρ: starts as the moving average of the warm-up rewards
        if self.global_step < cfg.learning_starts or self.gain is None:
            r_mean = float(-cost.mean())
            self.gain = r_mean if self.gain is None else self.gain + 0.05 * (r_mean - self.gain)
        self.states = res.states
        self.amax = feasible_max(problem, self.states)
        self.global_step += N

        # -- n-step transitions into the replay buffer (rewards in $, scaled when sampled)
        if len(self.window) == self.n:
            R = np.zeros(N)
            for k, (_, _, r, _) in enumerate(self.window):
                R += (self.gamma**k) * r
            s0, a0, _, d0 = self.window.pop(0)
            self.buffer.add(s0, a0, R.astype(np.float32), self.states, self.amax, d0)
        return eps

    def _warm_up_scale(self, cost: np.ndarray, demand: np.ndarray) -> None:
        """Record the warm-up's costs (and demands); once ``learning_starts`` transitions
        are in, set the reward scale: their mean cost, or ``h·mean(D)`` (``"demand"``)."""
        cfg = self.cfg
        self.warm_costs.extend(cost.tolist())
        if cfg.cost_scale == "demand":
            self.warm_demands.extend(demand.tolist())
        if len(self.warm_costs) >= max(cfg.learning_starts, self.num_envs):
            scale = float(np.mean(np.abs(self.warm_costs)))
            demand_scale = (self.problem.holding_cost * float(np.mean(self.warm_demands))
                            if self.warm_demands else 0.0)
            if demand_scale > 0:  # "demand": h·mean(D), unless that is 0 (h = 0 or no sales)
                scale = demand_scale
            self.cost_scale = max(scale, 1e-6)
            self._set_order_cost()

    # ============================================================================
    # Learn: gradient steps on the targets, ρ, target network
    # ============================================================================
    def learn(self) -> list[StepStats]:
        """After the warm-up, ``gradient_steps`` gradient steps at the scheduled learning
        rate, each moving ``ρ`` and followed by the target-network update (Polyak average,
        or a hard copy every ``target_update`` steps); returns their stats (none during
        the warm-up)."""
        cfg, scale, gain = self.cfg, self.cost_scale, self.gain
        if self.global_step < cfg.learning_starts or self.buffer.size < cfg.batch_size or scale is None:
            return []
        assert gain is not None  # set by collect() from the first transitions
        lr = cfg.learning_rate(self.global_step)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        learn_step = self._learn_all_actions if cfg.all_actions else self._learn_sampled
        stats = []
        for _ in range(cfg.gradient_steps):
            step_stats, gain = learn_step(scale=scale, gain=gain)
            self.gain = gain
            stats.append(step_stats)
            self.updates += 1
            if cfg.tau is not None:
                with torch.no_grad():
                    torch._foreach_lerp_(list(self.target.parameters()), list(self.online.parameters()),
                                         cfg.tau)
            elif self.updates % cfg.target_update == 0:
                self.target.load_state_dict(self.online.state_dict())
        return stats

    def _learn_all_actions(self, *, scale: float, gain: float) -> tuple[StepStats, float]:
        """One gradient step on the all-action targets (:meth:`all_action_targets`) of
        ``b = batch_size`` sampled states; the loss covers their feasible actions.
        ``scale``: $ per reward unit; ``gain``: ``ρ`` ($/period).  Returns the step's
        stats and the new ``ρ``."""
        cfg, obs = self.cfg, self.obs
        s, _, _, _, _, d = self.buffer.sample(self.rng_replay, cfg.batch_size)
        mask = obs.mask(s, feasible_max(self.problem, s))
        y = self.all_action_targets(s, d, scale=scale, gain=gain)
        f = gain / scale if self.average else 0.0  # ρ in reward units, before this step moves it
        x = obs.features(s)
        q_all = self.online(x)
        if self.average:  # ρ follows the TD error of the target network (per period)
            with torch.no_grad():
                q_bar = self.target(x)
            td = float((y - q_bar)[mask].mean())
            gain += cfg.gain_rate * td / cfg.target_periods * scale
        loss = nn.functional.huber_loss(q_all[mask], y[mask], delta=cfg.huber_delta)
        self._gradient_step(loss)
        return (float(loss.detach()), float(q_all.detach()[mask].mean()), f), gain

    def all_action_targets(self, s: np.ndarray, d: np.ndarray, *, scale: float, gain: float) -> torch.Tensor:
        """float32 (b, A) targets of *every* action in the states ``s`` (int64 (b, dim)),
        whose first-period demand ``d`` (int64 (b,)) was observed: demand is exogenous,
        so the rules (:func:`step`) give the cost and next state of any order under it.

        With ``H = target_periods``, each action's order is followed by ``H − 1`` periods
        of the target network's greedy policy on demand drawn with the replay generator
        from the model, one draw per state and period shared by all its actions (common
        random numbers); then the target bootstraps (double DQN when ``double``)::

            y(a) = Σ_{k<H} (−c_k/scale − ρ/scale) + Q̄(s_H, a*)     (average objective)
            y(a) = Σ_{k<H} γ^k·(−c_k/scale) + γ^H·Q̄(s_H, a*)       (discounted)

        Infeasible actions get a target too (their orders clipped); the loss masks them.
        """
        cfg, problem, obs, n_act = self.cfg, self.problem, self.obs, self.obs.n_actions
        amax = feasible_max(problem, s)
        orders = np.clip(obs.raw_orders(s), 0, amax[:, None])  # (b, A)
        if cfg.expected_targets:
            return self._expected_targets(s, orders, obs.mask(s, amax).numpy(), scale=scale, gain=gain)
        res = step(problem, np.repeat(s, n_act, axis=0), orders.ravel(), np.repeat(d, n_act))
        f = torch.tensor(gain / scale if self.average else 0.0, dtype=torch.float32)
        r = torch.from_numpy((-res.total_cost / scale).astype(np.float32)).view(-1, n_act) - f
        s2 = res.states
        H = cfg.target_periods
        for k in range(1, H):  # rows i·A .. i·A + A − 1 continue state i
            phases = s2[::n_act, -1] if problem.seasonal else np.zeros(len(s), dtype=np.int64)
            dk = np.repeat(problem.demand.sample(self.rng_replay, phases), n_act)
            fk = feasible_max(problem, s2)
            with torch.no_grad():
                ak = masked_argmax(self.target(obs.features(s2)), obs.mask(s2, fk)).numpy()
            res = step(problem, s2, obs.orders(s2, ak, fk), dk)
            rk = torch.from_numpy((-res.total_cost / scale).astype(np.float32)).view(-1, n_act)
            r = r + (rk - f if self.average else self.gamma**k * rk)
            s2 = res.states
        v2 = self._bootstrap_values(s2).view(-1, n_act)
        return r + v2 if self.average else r + self.gamma**H * v2

    def _bootstrap_values(self, s2: np.ndarray) -> torch.Tensor:
        """float32 (n,) ``Q̄(s', a*)`` of the states ``s2`` (int64 (n, dim)), ``a*`` the
        online network's masked argmax with ``double``, else the target's.  Many (action,
        demand) pairs lead to the same state: each distinct one (features and feasible
        orders are functions of the state) is valued once."""
        obs = self.obs
        first, inverse = unique_rows(s2)
        su = s2[first]
        xu = obs.features(su)
        mask2 = obs.mask(su, feasible_max(self.problem, su))
        with torch.no_grad():
            q2 = self.target(xu)
            a2 = masked_argmax(self.online(xu) if self.cfg.double else q2, mask2)
            return q2.gather(1, a2[:, None])[:, 0][torch.from_numpy(inverse)]

    def _expected_targets(self, s: np.ndarray, orders: np.ndarray, mask: np.ndarray, *, scale: float,
                          gain: float) -> torch.Tensor:
        """(b, A) one-period targets averaged over the demand pmf of each state's phase,
        for the feasible ``mask`` entries (0 elsewhere; the loss masks them)::

            y(a) = Σ_d P(d)·(−c(s, a, d)/scale − ρ/scale + Q̄(s'(s, a, d), a*))
        """
        problem = self.problem
        b, n_act = orders.shape
        phases = s[:, -1] if problem.seasonal else np.zeros(b, dtype=np.int64)
        pmfs = {int(w): np.asarray(problem.demand.pmf(int(w)), dtype=np.float64) for w in np.unique(phases)}
        width = max(len(q) for q in pmfs.values())
        prob = np.zeros((b, width))
        for w, q in pmfs.items():
            prob[phases == w, : len(q)] = q
        i, j = np.nonzero(mask)  # feasible (state, action) pairs
        dem = np.arange(width, dtype=np.int64)
        rows = np.repeat(i, width)
        res = step(problem, s[rows], np.repeat(orders[i, j], width), np.tile(dem, len(i)))
        f = gain / scale if self.average else 0.0
        v2 = self._bootstrap_values(res.states).double().numpy()
        g = 1.0 if self.average else self.gamma
        per = (-res.total_cost / scale - f + g * v2).reshape(len(i), width)
        y = np.zeros((b, n_act))
        y[i, j] = (per * prob[i]).sum(axis=1)
        return torch.from_numpy(y.astype(np.float32))

    def _learn_sampled(self, *, scale: float, gain: float) -> tuple[StepStats, float]:
        """``n``-step target of the taken action only (classic DQN), ``batch_size`` transitions;
        arguments and result as :meth:`_learn_all_actions`."""
        cfg, obs, n = self.cfg, self.obs, self.n
        s, a, R, s2, amax2, _ = self.buffer.sample(self.rng_replay, cfg.batch_size)
        R = R / np.float32(scale)
        x, x2 = obs.features(s), obs.features(s2)
        mask2 = obs.mask(s2, amax2)
        with torch.no_grad():
            q2_target = self.target(x2)
            a2 = masked_argmax(self.online(x2) if cfg.double else q2_target, mask2)
            v2 = q2_target.gather(1, a2[:, None])[:, 0]
            if self.average:  # differential target: subtract the average reward ρ per period
                f = torch.tensor(gain / scale, dtype=torch.float32)
                y = torch.from_numpy(R) - n * f + v2
            else:
                f = torch.zeros(())
                y = torch.from_numpy(R) + self.gamma**n * v2
        q = self.online(x).gather(1, torch.from_numpy(a)[:, None])[:, 0]
        if self.average:  # ρ follows the TD error of the target network (per period), as above
            with torch.no_grad():
                q_bar = self.target(x).gather(1, torch.from_numpy(a)[:, None])[:, 0]
            gain += cfg.gain_rate * float((y - q_bar).mean()) / n * scale
        loss = nn.functional.huber_loss(q, y, delta=cfg.huber_delta)
        self._gradient_step(loss)
        return (float(loss.detach()), float(q.detach().mean()), float(f)), gain

    def _gradient_step(self, loss: torch.Tensor) -> None:
        """Adam step on ``loss`` with the gradient norm clipped to ``max_grad_norm``."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.online.parameters(), self.cfg.max_grad_norm)
        self.optimizer.step()

    # ============================================================================
    # Evaluate: the greedy policy of θ, the best snapshot
    # ============================================================================
    def evaluate(self) -> tuple[float, float]:
        """Long-run average cost ($/period) of the greedy policy of ``θ`` now, appended to
        ``history``; ``θ`` is kept as ``best_state`` when it is the best so far.  Returns
        the cost and the best so far.

        Exact (stationary distribution of the greedy policy's chain) when ``exact_eval``,
        so no simulation noise enters the choice of the kept snapshot; else, or when the
        exact evaluation fails, simulated on the fixed evaluation demand."""
        problem, online = self.problem, self.online
        online.eval()
        c = None
        if self.exact_eval:
            try:
                c = evaluate_exact(problem, self.policy).average_cost
            except (RuntimeError, SpecError):  # e.g. the limit of a periodic chain of an early network
                c = None
        if c is None:
            c = simulate(problem, self.policy, demand=self.eval_demand,
                         warmup=self.cfg.eval_warmup).average_cost
        online.train()
        optimum = self.optimum
        self.history.append({"step": self.global_step, "average_cost": c,
                             "gap": (c - optimum) / abs(optimum) if optimum else None,
                             "seconds": time.perf_counter() - self.t_start})
        if self.best_cost is None or c < self.best_cost:
            self.best_cost = c
            self.best_state = {k: v.detach().clone() for k, v in online.state_dict().items()}
        return c, self.best_cost

    # ============================================================================
    # Checkpoint and restore
    # ============================================================================
    def checkpoint(self) -> str | None:
        """Write ``checkpoint_dir/last.pt`` atomically; returns its path (``None`` without
        a checkpoint folder).  JSON metadata and tensors only (see the module docstring)."""
        if self.ckpt_path is None:
            return None
        meta = {"problem": self.problem.to_dict(), "config": self.cfg.to_dict(), "seed": self.seed,
                "step": self.global_step, "updates": self.updates, "cost_scale": self.cost_scale,
                "best_cost": self.best_cost, "warm_costs": self.warm_costs,
                "warm_demands": self.warm_demands, "history": self.history, "gain": self.gain,
                "rng": [g.bit_generator.state for g in (self.rng_demand, self.rng_explore, self.rng_replay)]}
        blob = {"format": CHECKPOINT_FORMAT, "meta": json.dumps(meta),
                "online": self.online.state_dict(), "target": self.target.state_dict(),
                "optimizer": self.optimizer.state_dict(), "buffer": self.buffer.state_dict(),
                "env_states": torch.from_numpy(self.states.copy()),
                "window": [{k: torch.from_numpy(v) for k, v in zip("sard", w, strict=True)}
                           for w in self.window],
                "best": self.best_state or {}}
        atomic_write(self.ckpt_path, lambda fh: torch.save(blob, fh))
        self._last_checkpoint = time.perf_counter()
        return str(self.ckpt_path)

    def restore(self) -> None:
        """Continue from ``checkpoint_dir/last.pt``: same problem and seed, and a config
        that differs at most in budget and bookkeeping (:meth:`DQNConfig.resume_conflicts`);
        else :class:`SpecError`.  The evaluation demand is redrawn from the seed."""
        path = self.ckpt_path
        if path is None or not path.is_file():
            raise SpecError("resume", str(path), "no checkpoint to resume from")
        ck = _load_checkpoint(path)
        meta = json.loads(ck["meta"])
        if meta["problem"] != json.loads(json.dumps(self.problem.to_dict())):
            raise SpecError("resume", str(path), "checkpoint was trained on a different problem")
        if int(meta["seed"]) != self.seed:
            raise SpecError("seed", self.seed, f"the checkpoint was trained with seed {meta['seed']}")
        diff = self.cfg.resume_conflicts(DQNConfig.from_dict(meta["config"]))
        if diff:
            raise SpecError("resume", ", ".join(diff), "hyperparameters differ from the checkpoint's")
        self.online.load_state_dict(ck["online"])  # with the post-decision head's order_cost
        self.target.load_state_dict(ck["target"])
        self.optimizer.load_state_dict(ck["optimizer"])
        self.buffer.load_state_dict(ck["buffer"])
        self.states = ck["env_states"].numpy().copy()
        self.amax = feasible_max(self.problem, self.states)
        self.window = [tuple(w[k].numpy().copy() for k in ("s", "a", "r", "d")) for w in ck["window"]]
        self.best_state = ck.get("best") or None
        for g, st in zip((self.rng_demand, self.rng_explore, self.rng_replay), meta["rng"], strict=True):
            g.bit_generator.state = st
        self.global_step, self.updates = int(meta["step"]), int(meta["updates"])
        self.cost_scale, self.best_cost = meta["cost_scale"], meta["best_cost"]
        self.warm_costs = list(meta["warm_costs"])
        self.warm_demands = list(meta.get("warm_demands", []))
        self.gain = meta["gain"]
        self.history = list(meta["history"])
        self.resumed_from = self.global_step

    # ============================================================================
    # Train: the loop, then the result
    # ============================================================================
    def train(self) -> DQNResult:
        """Collect, learn, evaluate, log and checkpoint until ``steps`` transitions (or the
        callback, ``time_limit`` or Ctrl-C: a checkpoint is saved and the exception
        propagates); then evaluate the final network and build the result."""
        cfg, N = self.cfg, self.num_envs
        n_iters = math.ceil(cfg.steps / N)
        it = self.global_step // N
        monitor = Monitor(logdir=self.logdir, progress=self.progress, title=f"dqn {self.problem.name}",
                          config={"problem": self.problem.to_dict(), "dqn": cfg.to_dict(), "seed": self.seed},
                          total=n_iters * N, step=self.global_step)
        deferred = _DeferredInterrupt()
        try:
            with deferred:
                self._loop(it, n_iters, monitor, deferred)
        except KeyboardInterrupt:
            if not deferred.hard:  # at a step boundary: the state is consistent
                self.checkpoint()
            monitor.close()
            raise
        stopped_by_time = self._stopped_by_time

        if (not self.history or self.history[-1]["step"] != self.global_step) \
                and self.global_step >= cfg.learning_starts:
            self.evaluate()
        last = self.checkpoint()
        net = self._new_net()
        kept = self.best_state if (cfg.keep_best and self.best_state) else self.online.state_dict()
        net.load_state_dict(kept)
        net.eval()
        policy = DQNPolicy(problem=self.problem, network=net, observation=self.obs, hidden=cfg.hidden,
                           dueling=cfg.dueling)
        best_cost, optimum = self.best_cost, self.optimum
        metrics = {"hparam/best_eval_cost": best_cost if best_cost is not None else float("nan")}
        if optimum and best_cost is not None:
            metrics["hparam/best_eval_gap"] = (best_cost - optimum) / abs(optimum)
        monitor.hparams(cfg.to_dict() | {"seed": self.seed}, metrics)
        monitor.close()
        return DQNResult(policy=policy, config=cfg, steps=self.global_step, updates=self.updates,
                         seconds=time.perf_counter() - self.t_start, cost_scale=float(self.cost_scale or 1.0),
                         best_eval_cost=best_cost, history=self.history, resumed_from=self.resumed_from,
                         checkpoint=last, stopped_by_time=stopped_by_time)

    def _loop(self, it: int, n_iters: int, monitor: Monitor, deferred: _DeferredInterrupt) -> None:
        """The training loop from vector step ``it`` to ``n_iters``; a deferred Ctrl-C
        raises :class:`KeyboardInterrupt` at the end of the step it arrived in."""
        cfg, N = self.cfg, self.num_envs
        self._stopped_by_time = False
        while it < n_iters:
            eps = self.collect()
            it += 1
            stats = self.learn()
            if self._crossed(cfg.eval_every) and self.global_step >= cfg.learning_starts:
                cost, best = self.evaluate()
                monitor.evaluation(self.global_step, cost=cost, best=best, gap=self.history[-1]["gap"])
            monitor.training(self.global_step, stats=stats, n_transitions=N, epsilon=eps,
                             gain=-self.gain if self.average and self.gain is not None else None,
                             learning_rate=cfg.learning_rate(self.global_step),
                             cost=self.last_cost)
            if self.ckpt_path is not None and (
                    self._crossed(cfg.checkpoint_every)
                    or time.perf_counter() - self._last_checkpoint > CHECKPOINT_SECONDS):
                self.checkpoint()
            if self.callback is not None and self.callback(
                    {"step": self.global_step, "updates": self.updates, "epsilon": eps,
                     "network": self.online}) is False:
                break
            if cfg.time_limit is not None and time.perf_counter() - self.t_start > cfg.time_limit:
                self._stopped_by_time = True
                break
            if deferred.pending:
                raise KeyboardInterrupt

    def _crossed(self, every: int) -> bool:
        """Whether the last vector step crossed a multiple of ``every`` transitions."""
        return self.global_step // every > (self.global_step - self.num_envs) // every


class _DeferredInterrupt:
    """While active (in the main thread), the first SIGINT only sets :attr:`pending`
    (the loop raises :class:`KeyboardInterrupt` at the end of the step); a second one
    raises at once and sets :attr:`hard` (no checkpoint of a half-done step)."""

    def __init__(self) -> None:
        self.pending = self.hard = False
        self._old: Any = None
        self._active = False

    def _handler(self, signum: int, frame: Any) -> None:
        if self.pending:
            self.hard = True
            raise KeyboardInterrupt
        self.pending = True

    def __enter__(self) -> _DeferredInterrupt:
        # the main thread only, and not where SIGINT is ignored (a background job stays deaf to it)
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            self._old = signal.signal(signal.SIGINT, self._handler)
            self._active = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._active:
            signal.signal(signal.SIGINT, self._old)
            self._active = False


def proven_order_bound(problem: Problem, config: DQNConfig) -> int:
    """Morton's ``S̄`` for the action mask when ``config.order_bound`` and it is proven for
    ``problem`` (:func:`~replenish.solvers.dp_matrix_free.morton_bound`; not for perishable
    stock), else ``0`` (no bound)."""
    if not config.order_bound or problem.perishable:
        return 0
    from replenish.solvers.dp_matrix_free import morton_bound

    return morton_bound(problem, config.objective) or 0


def _load_checkpoint(path: Path) -> dict[str, Any]:
    blob = safe_torch_load(path)
    if blob.get("format") != CHECKPOINT_FORMAT:
        raise SpecError("resume", str(path), f"not a DQN checkpoint (format {blob.get('format')!r})")
    return blob


# ============================================================================
# Public entry point
# ============================================================================
def train_dqn(problem: Problem, *, config: DQNConfig | None = None, seed: int = 0,
              logdir: str | Path | None = None, checkpoint_dir: str | Path | None = None,
              resume: bool = False, progress: bool = False, optimum: float | None = None,
              callback: Callable[[dict[str, Any]], bool | None] | None = None,
              observation: Observation | None = None) -> DQNResult:
    """Train a DQN on ``problem`` (see :mod:`replenish.solvers.dqn` for the algorithm).

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
        observation: the network's input features and action grid (default
            :meth:`Observation.from_problem` of ``problem`` and the config; ``dqn-context``
            passes forecast-based demand features, :mod:`replenish.solvers.dqn.contextual`).
    """
    cfg = config or DQNConfig()
    return run_trainer(lambda s: DQNTrainer(problem, config=cfg, seed=s, logdir=logdir,
                                            checkpoint_dir=checkpoint_dir, progress=progress,
                                            optimum=optimum, callback=callback,
                                            observation=observation),
                       config=cfg, config_type=DQNConfig, seed=seed, resume=resume,
                       checkpoint_dir=checkpoint_dir)
