"""The DCL run: :class:`DCLTrainer`, :func:`train_dcl` and :class:`DCLResult`.

The algorithm, its symbols and its reference are in :mod:`replenish.solvers.dcl`;
this module runs it.  :class:`DCLTrainer` reads top to bottom in the order the
algorithm runs:

* setup (``__init__``): observation features and action grid (the DQN's
  :class:`~replenish.policies.dqn.Observation`), the evaluation mode and its
  fixed demand;
* :meth:`~DCLTrainer.start_policy`: the best capped base-stock policy (exact
  search when the chain is tabulable, else the simulation optimiser on the
  evaluation demand), generation 0;
* :meth:`~DCLTrainer.sample`: states visited by the current policy;
* :meth:`~DCLTrainer.label`: candidate windows, rollouts with common random
  numbers (:mod:`replenish.solvers.dcl.rollouts`), labels;
* :meth:`~DCLTrainer.fit`: a fresh classifier trained on the labels (cross-entropy
  over the feasible actions); its masked argmax is the next policy;
* :meth:`~DCLTrainer.evaluate`: the long-run average cost of a policy (exact or
  simulated on the fixed evaluation demand);
* :meth:`~DCLTrainer.checkpoint` and :meth:`~DCLTrainer.restore`;
* :meth:`~DCLTrainer.train`: the loop over generations and the :class:`DCLResult`.

Randomness: generation ``g`` draws from its own streams,
``numpy.random.SeedSequence([seed, g])`` spawned into the state-sampling and the
rollout-demand generators and the seed of a :class:`torch.Generator` (initial
weights, minibatch order); the evaluation demand comes from
``SeedSequence([seed, 2**31])``.  No global RNG is seeded.  A generation is a
deterministic function of ``(seed, g)`` and the policy of generation ``g − 1``,
so resuming from a checkpoint (which holds that policy's weights) continues
bit-identically: nothing else needs saving.

Checkpoints (``checkpoint_dir/last.pt``) are written after every generation:
JSON metadata (problem, config, seed, generation, history, start policy) and the
weights of the current and best networks, read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from replenish.core.io import atomic_write
from replenish.core.validate import SpecError
from replenish.evaluation.markov import evaluate_exact
from replenish.evaluation.simulate import draw_demand, simulate
from replenish.model.dynamics import feasible_max
from replenish.model.spec import Problem
from replenish.policies.base import Policy
from replenish.policies.dqn import DQNPolicy, Observation, build_q_network, safe_torch_load
from replenish.solvers.base import exact_evaluation_fits, run_trainer
from replenish.solvers.dcl.config import DCLConfig
from replenish.solvers.dcl.rollouts import (
    PolicyTable,
    RolloutStats,
    candidate_window,
    draw_rollout_demand,
    grid_top,
    label_states,
    rollout_costs,
    sample_states,
    table_rollout_costs,
)

CHECKPOINT_FORMAT = "replenish.dcl-checkpoint/1"
CHECKPOINT_NAME = "last.pt"
#: spawn key of the evaluation demand's stream (generations use 0, 1, 2, ...)
_EVAL_KEY = 2**31


@dataclass(frozen=True)
class GenerationData:
    """The labelled states of one generation.

    Attributes:
        states: int64 (n, d), sampled states.
        actions: int64 (n,), the label: a grid action (order ``j·stride·m``).
        current: int64 (n,), the current policy's grid action in each state.
        switched: fraction of states whose label differs from the current action.
        best_differs: fraction whose lowest mean rollout cost is not the current action's
            (before the significance test).
    """

    states: np.ndarray
    actions: np.ndarray
    current: np.ndarray
    switched: float
    best_differs: float


@dataclass(frozen=True)
class KeptClassifier:
    """The best evaluated generation's classifier: ``generation``, its ``cost`` ($/period), its
    ``weights`` (state dict) and its number of ``outputs``."""

    generation: int
    cost: float
    weights: dict[str, torch.Tensor]
    outputs: int


@dataclass(frozen=True)
class DCLResult:
    """What :func:`train_dcl` returns.

    Attributes:
        policy: the classifier's greedy policy (best evaluated generation if ``keep_best``).
        config: the hyperparameters used.
        start_params, start_cost: the capped base-stock policy of generation 0 and its cost.
        history: per generation ``{"generation", "average_cost", "exact", "gap", "switched",
            "best_differs", "loss", "accuracy", "seconds"}`` (generation 0: the start policy).
        best_generation: the generation of ``policy``.
        seconds: wall time of this call.
        resumed_from: the generation of the checkpoint resumed from, or ``None``.
        checkpoint: path of the last checkpoint written, or ``None``.
    """

    policy: DQNPolicy
    config: DCLConfig
    start_params: dict[str, Any]
    start_cost: float
    history: list[dict[str, Any]] = field(default_factory=list)
    best_generation: int = 0
    seconds: float = 0.0
    resumed_from: int | None = None
    checkpoint: str | None = None


class DCLTrainer:
    """One DCL run on ``problem``: build it, :meth:`restore` to resume, :meth:`train` once."""

    # ============================================================================
    # Setup
    # ============================================================================
    def __init__(self, problem: Problem, *, config: DCLConfig, seed: int,
                 logdir: str | Path | None = None, checkpoint_dir: str | Path | None = None,
                 progress: bool = False, optimum: float | None = None) -> None:
        self.t_start = time.perf_counter()
        self.problem, self.seed = problem, seed
        self.logdir, self.progress, self.optimum = logdir, progress, optimum
        self.exact_eval = config.eval_mode == "exact" or (
            config.eval_mode == "auto"
            and exact_evaluation_fits(problem, reduced=True, limit=config.exact_states))
        # the budget left open follows the rollouts' cost: compiled where the policy is tabulated
        self.cfg = cfg = config.resolved(compiled=self.exact_eval)
        self.budget = cfg.budget()
        self.obs = Observation.from_problem(problem, reduced=True, max_actions=cfg.max_actions,
                                            demand_features=True)
        rng_eval = np.random.default_rng(np.random.SeedSequence([seed, _EVAL_KEY]))
        self.eval_demand = draw_demand(problem, rng_eval, n_paths=cfg.eval_paths, horizon=cfg.eval_horizon)
        self.generation = 0
        self.policy: Policy | None = None  # the current policy (generation 0: capped base-stock)
        self.start_params: dict[str, Any] = {}
        self.start_cost = math.nan
        self.history: list[dict[str, Any]] = []
        self.best: KeptClassifier | None = None
        self.resumed_from: int | None = None
        self.ckpt_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None

    def _streams(self, g: int) -> tuple[np.random.Generator, np.random.Generator, torch.Generator]:
        """Generation ``g``'s streams: state sampling, rollout demand, torch (weights, batches)."""
        ss = np.random.SeedSequence([self.seed, g])
        s_states, s_roll = ss.spawn(2)
        tgen = torch.Generator().manual_seed(int(ss.generate_state(1, dtype=np.uint32)[0]))
        return np.random.default_rng(s_states), np.random.default_rng(s_roll), tgen

    def _policy_of(self, net: nn.Module, outputs: int) -> DQNPolicy:
        """The greedy policy of the classifier ``net`` with ``outputs`` outputs (grid actions
        ``0 .. outputs − 1``)."""
        net.eval()
        return DQNPolicy(problem=self.problem, network=net, observation=self._observation(outputs),
                         hidden=self.budget.hidden, label="dcl")

    def _observation(self, outputs: int) -> Observation:
        """The observation of a classifier with ``outputs`` outputs (the full grid: ``self.obs``)."""
        return self.obs if outputs == self.obs.n_actions else replace(self.obs, n_actions=outputs)

    def _network(self, outputs: int, generator: torch.Generator | None = None) -> nn.Module:
        return build_q_network(self.obs.n_features, outputs, self.budget.hidden, generator=generator)

    # ============================================================================
    # Generation 0: the best capped base-stock policy
    # ============================================================================
    def start_policy(self) -> Policy:
        """The best capped base-stock policy (exact search if tabulable, else by simulation on the
        evaluation demand); sets ``start_params``, ``start_cost`` and history entry 0."""
        from replenish.solvers.classic import optimize_by_simulation, optimize_capped_base_stock

        policy: Policy | None = None
        if self.exact_eval:
            try:
                policy = optimize_capped_base_stock(self.problem, max_states=self.cfg.exact_states).policy
            except SpecError:
                policy = None
        if policy is None:
            policy = optimize_by_simulation(self.problem, "capped-base-stock", demand=self.eval_demand,
                                            warmup=self.cfg.eval_warmup).policy
        cost, exact = self.evaluate(policy)
        self.start_params, self.start_cost = policy.params(), cost
        self.history = [self._record(0, cost, exact)]
        return policy

    def _acting(self, policy: Policy) -> Policy:
        """The policy the rollouts call: a network policy as a table of its orders on every
        (reduced) state when the chain is tabulable (one forward pass instead of one per
        period; the same orders on every state of the table: under lost sales the rollouts
        never leave it, under backorders a deeper backlog is looked up at the table's lowest
        level), else the policy itself."""
        if self.exact_eval and isinstance(policy, DQNPolicy):
            try:
                return policy.to_table(max_states=self.cfg.exact_states)
            except SpecError:
                return policy
        return policy

    # ============================================================================
    # Sample: states visited by the current policy
    # ============================================================================
    def sample(self, policy: Policy, rng: np.random.Generator) -> np.ndarray:
        """``states`` independent paths of ``policy``, each taken after ``warmup`` periods."""
        return sample_states(self.problem, policy, rng, n=self.budget.states, warmup=self.cfg.warmup)

    # ============================================================================
    # Label: rollouts of every candidate with common random numbers
    # ============================================================================
    def label(self, policy: Policy, states: np.ndarray, rng: np.random.Generator,
              bar: Any = None) -> GenerationData:
        """Label ``states``: for each, the candidate grid actions ``current ± window`` (feasible),
        each rolled out ``rollouts`` times for ``1 + horizon`` periods (the candidate, then
        ``policy``) on demand paths shared by the candidates: when the chain is tabulable, in one
        compiled loop with ``policy`` as a table of its orders
        (:func:`~replenish.solvers.dcl.rollouts.table_rollout_costs`), else period by period
        with one batched ``act`` each (:func:`~replenish.solvers.dcl.rollouts.rollout_costs`).
        Identical sampled states pool their rollouts (a state visited ``c`` times is labelled from
        ``c·rollouts`` of them, so frequent states get the most precise labels, and identical
        states the same label); the label is
        :func:`~replenish.solvers.dcl.rollouts.label_states`'s.  Batches of ``rollout_batch``
        sampled states; the demand of a batch is drawn from ``rng`` in order, so the labels depend
        only on ``rng``, ``policy`` and ``states``."""
        cfg, problem, obs = self.cfg, self.problem, self.obs
        step_units = obs.order_step
        n = states.shape[0]
        current = policy.act(states) // step_units
        top = grid_top(problem, states, step_units)
        cands, valid = candidate_window(current, top, cfg.window)
        table = PolicyTable.build(problem, policy, max_states=cfg.exact_states) if self.exact_eval else None
        _, first_of, group = np.unique(states, axis=0, return_index=True, return_inverse=True)
        group = group.reshape(-1)
        stats = RolloutStats.empty(first_of.shape[0], cands.shape[1])
        for lo in range(0, n, cfg.rollout_batch):
            sl = slice(lo, min(n, lo + cfg.rollout_batch))
            first = np.where(valid[sl], cands[sl], current[sl, None]) * step_units
            demand = draw_rollout_demand(problem, states[sl], rng, rollouts=self.budget.rollouts,
                                         periods=cfg.rollout_horizon(problem.lead_time) + 1)
            costs = (table_rollout_costs(problem, table, states[sl], first, demand) if table is not None
                     else rollout_costs(problem, policy, states[sl], first, demand))
            stats.add(group[sl], costs, cfg.window)
            if bar is not None:
                bar.update(sl.stop - sl.start)
        lab = label_states(stats, valid[first_of], cfg.window, self.budget.significance)
        actions = cands[np.arange(n), lab.label[group]]
        return GenerationData(states=states, actions=actions, current=current,
                              switched=float(lab.switched[group].mean()),
                              best_differs=float((lab.best[group] != cfg.window).mean()))

    # ============================================================================
    # Fit: a classifier on the labels
    # ============================================================================
    def fit(self, data: GenerationData, gen: torch.Generator) -> tuple[nn.Module, int, float, float]:
        """A fresh network (weights from ``gen``) trained by Adam on the cross-entropy of the labels
        among the feasible actions (infeasible logits masked), ``epochs`` passes in minibatches
        shuffled by ``gen``, the learning rate decaying linearly to a tenth; returns the network,
        its number of outputs (the whole grid, or ``max label + 1`` with ``trim_outputs``), the
        last epoch's mean loss and the training accuracy of its masked argmax."""
        cfg = self.cfg
        outputs = int(data.actions.max()) + 1 if self.budget.trim_outputs else self.obs.n_actions
        obs = self._observation(outputs)
        net = self._network(outputs, gen)
        x = obs.features(data.states)
        mask = obs.mask(data.states, feasible_max(self.problem, data.states))
        y = torch.from_numpy(data.actions)
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        n = x.shape[0]
        per_epoch = math.ceil(n / cfg.batch_size)
        total, k = cfg.epochs * per_epoch, 0
        loss_sum = 0.0
        for _ in range(cfg.epochs):
            perm = torch.randperm(n, generator=gen)
            loss_sum = 0.0
            for b in range(per_epoch):
                idx = perm[b * cfg.batch_size:(b + 1) * cfg.batch_size]
                for g in opt.param_groups:
                    g["lr"] = cfg.lr * (1.0 - 0.9 * k / total)
                logits = net(x[idx]).masked_fill(~mask[idx], -1e9)
                loss = nn.functional.cross_entropy(logits, y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                loss_sum += float(loss.detach()) * len(idx)
                k += 1
        net.eval()
        with torch.no_grad():
            pred = net(x).masked_fill(~mask, -torch.inf).argmax(dim=1)
        return net, outputs, loss_sum / n, float((pred == y).to(torch.float64).mean())

    # ============================================================================
    # Evaluate
    # ============================================================================
    def evaluate(self, policy: Policy) -> tuple[float, bool]:
        """``(long-run average cost, exact?)`` of ``policy``: exact when ``exact_eval`` (and the
        chain solves), else simulated on the fixed evaluation demand."""
        if self.exact_eval:
            try:
                e = evaluate_exact(self.problem, policy, max_states=self.cfg.exact_states)
                return e.average_cost, True
            except (RuntimeError, SpecError):
                pass
        return simulate(self.problem, policy, demand=self.eval_demand,
                        warmup=self.cfg.eval_warmup).average_cost, False

    def _record(self, g: int, cost: float, exact: bool, **extra: Any) -> dict[str, Any]:
        opt = self.optimum
        return {"generation": g, "average_cost": cost, "exact": exact,
                "gap": (cost - opt) / abs(opt) if opt else None,
                "seconds": time.perf_counter() - self.t_start, **extra}

    # ============================================================================
    # Checkpoint and restore
    # ============================================================================
    def checkpoint(self, net: nn.Module) -> str | None:
        """Write ``checkpoint_dir/last.pt`` atomically after a generation (``net``: its network)."""
        if self.ckpt_path is None:
            return None
        assert isinstance(self.policy, DQNPolicy)
        kept = self.best
        meta = {"problem": self.problem.to_dict(), "config": self.cfg.to_dict(), "seed": self.seed,
                "generation": self.generation, "history": self.history,
                "start_params": self.start_params, "start_cost": self.start_cost,
                "outputs": self.policy.observation.n_actions,
                "best": None if kept is None else [kept.generation, kept.cost, kept.outputs]}
        blob = {"format": CHECKPOINT_FORMAT, "meta": json.dumps(meta),
                "current": {k: v.detach().clone() for k, v in net.state_dict().items()},
                "best": {} if kept is None else kept.weights}
        atomic_write(self.ckpt_path, lambda fh: torch.save(blob, fh))
        return str(self.ckpt_path)

    def restore(self) -> None:
        """Continue after the generation saved in ``checkpoint_dir/last.pt``: same problem and seed,
        a config differing at most in :meth:`DCLConfig.resume_conflicts`' free fields."""
        path = self.ckpt_path
        if path is None or not path.is_file():
            raise SpecError("resume", str(path), "no checkpoint to resume from")
        ck = safe_torch_load(path)
        if ck.get("format") != CHECKPOINT_FORMAT:
            raise SpecError("resume", str(path), f"not a DCL checkpoint (format {ck.get('format')!r})")
        meta = json.loads(ck["meta"])
        if meta["problem"] != json.loads(json.dumps(self.problem.to_dict())):
            raise SpecError("resume", str(path), "checkpoint was trained on a different problem")
        if int(meta["seed"]) != self.seed:
            raise SpecError("seed", self.seed, f"the checkpoint was trained with seed {meta['seed']}")
        # checkpoints written before ``trim_outputs`` existed have whole-grid classifiers
        diff = self.cfg.resume_conflicts(DCLConfig.from_dict({"trim_outputs": False, **meta["config"]}))
        if diff:
            raise SpecError("resume", ", ".join(diff), "hyperparameters differ from the checkpoint's")
        outputs = int(meta.get("outputs", self.obs.n_actions))
        net = self._network(outputs)
        net.load_state_dict(ck["current"])
        self.policy = self._policy_of(net, outputs)
        self.generation = int(meta["generation"])
        self.history = list(meta["history"])
        self.start_params, self.start_cost = dict(meta["start_params"]), float(meta["start_cost"])
        if meta["best"] is not None:
            b = meta["best"]
            self.best = KeptClassifier(int(b[0]), float(b[1]), dict(ck["best"]),
                                       int(b[2]) if len(b) > 2 else outputs)
        self.resumed_from = self.generation

    # ============================================================================
    # Train: the generations, then the result
    # ============================================================================
    def train(self) -> DCLResult:
        """Run generations ``generation + 1 .. generations``: sample → label → fit → evaluate →
        log → checkpoint; then build the result."""
        cfg = self.cfg
        if self.policy is None:
            self.policy = self.start_policy()
        writer = None
        if self.logdir is not None:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(log_dir=str(self.logdir))
            writer.add_text("config", "```\n" + json.dumps(
                {"problem": self.problem.to_dict(), "dcl": cfg.to_dict(), "seed": self.seed}, indent=1)
                + "\n```", self.generation)
            writer.add_scalar("eval/average_cost", self.start_cost, 0)
        bar = None
        if self.progress:
            from replenish.core.progress import progress_bar

            bar = progress_bar(total=self.budget.generations * self.budget.states,
                               initial=self.generation * self.budget.states,
                               desc=f"dcl {self.problem.name}", unit="state")
        last = None
        try:
            while self.generation < self.budget.generations:
                g = self.generation + 1
                rng_states, rng_roll, tgen = self._streams(g)
                acting = self._acting(self.policy)
                states = self.sample(acting, rng_states)
                data = self.label(acting, states, rng_roll, bar)
                net, outputs, loss, acc = self.fit(data, tgen)
                policy = self._policy_of(net, outputs)
                cost, exact = self.evaluate(policy)
                self.generation = g
                self.history.append(self._record(g, cost, exact, switched=data.switched,
                                                 best_differs=data.best_differs, loss=loss, accuracy=acc))
                if self.best is None or cost < self.best.cost:
                    weights = {k: v.detach().clone() for k, v in net.state_dict().items()}
                    self.best = KeptClassifier(g, cost, weights, outputs)
                self.policy = policy
                if writer is not None:
                    h = self.history[-1]
                    for key in ("average_cost", "gap"):
                        if h[key] is not None:
                            writer.add_scalar(f"eval/{key}", h[key], g)
                    writer.add_scalar("labels/switched", data.switched, g)
                    writer.add_scalar("labels/best_differs", data.best_differs, g)
                    writer.add_scalar("train/loss", loss, g)
                    writer.add_scalar("train/accuracy", acc, g)
                if bar is not None:
                    bar.set_postfix(gen=g, cost=f"{cost:.4f}")
                last = self.checkpoint(net) or last
        finally:
            if bar is not None:
                bar.close()
            if writer is not None:
                writer.close()
        assert isinstance(self.policy, DQNPolicy)
        best_gen, outputs = self.generation, self.policy.observation.n_actions
        state = self.policy.network.state_dict()
        if cfg.keep_best and self.best is not None:
            best_gen, state, outputs = self.best.generation, self.best.weights, self.best.outputs
        net = self._network(outputs)
        net.load_state_dict(state)
        return DCLResult(policy=self._policy_of(net, outputs), config=cfg, start_params=self.start_params,
                         start_cost=self.start_cost, history=self.history, best_generation=best_gen,
                         seconds=time.perf_counter() - self.t_start, resumed_from=self.resumed_from,
                         checkpoint=last)


# ============================================================================
# Public entry point
# ============================================================================
def train_dcl(problem: Problem, *, config: DCLConfig | None = None, seed: int = 0,
              logdir: str | Path | None = None, checkpoint_dir: str | Path | None = None,
              resume: bool = False, progress: bool = False, optimum: float | None = None) -> DCLResult:
    """Deep controlled learning on ``problem`` (see :mod:`replenish.solvers.dcl`).

    Args:
        problem: the problem (its demand model is sampled; the DP is not needed).
        config: hyperparameters (default :class:`DCLConfig()`).
        seed: seeds every generator used (numpy streams and the torch generators).
        logdir: TensorBoard folder (per generation: cost, gap, label statistics, loss,
            accuracy); ``None`` for no logging.
        checkpoint_dir: folder for ``last.pt`` (written after every generation); ``None`` for none.
        resume: continue after the generation in ``checkpoint_dir/last.pt`` (the config may
            change ``generations`` and the evaluation fields only).
        progress: show a progress bar (labelled states).
        optimum: the optimal average cost ($/period) for gaps, if known.
    """
    cfg = config or DCLConfig()
    return run_trainer(lambda s: DCLTrainer(problem, config=cfg, seed=s, logdir=logdir,
                                            checkpoint_dir=checkpoint_dir, progress=progress,
                                            optimum=optimum),
                       config=cfg, config_type=DCLConfig, seed=seed, resume=resume,
                       checkpoint_dir=checkpoint_dir)
