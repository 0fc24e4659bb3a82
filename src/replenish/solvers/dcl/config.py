"""The options of deep controlled learning: :class:`DCLConfig` (frozen, validated, keyword-only).

This module does not import torch: the method catalogue derives the accepted
``[dcl]`` TOML keys and types from the annotations here
(:func:`replenish.core.validate.option_types`).  The algorithm the options
control is described in :mod:`replenish.solvers.dcl`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from replenish.core.validate import SpecError, require, require_count
from replenish.solvers.base import HiddenLayersIO

#: fields that may differ when resuming (budget and bookkeeping, not the learning rule)
_RESUMABLE_CHANGES = {"generations", "threads", "eval_mode", "exact_states", "eval_paths",
                      "eval_horizon", "eval_warmup", "keep_best", "rollout_batch"}


#: The budget where the rollouts are compiled (the current policy as a table, one numba loop
#: per batch): 10 generations of 20,000 states, 256 rollouts per candidate, a 128×128 classifier.
#: Measured on Zipkin's L = 3, 4 instances against 3 generations / 10,000 / 128 / 64×64 (seed 0,
#: exact gaps): L = 4, p = 39 0.040% against 0.245%; L = 4, p = 19 0.022% against 0.42%;
#: L = 3, p = 39 0.007% against 0.12%; 364–471 CPU s against about 40.  On all 16 instances
#: 0–0.04% (seed 0), worst of three seeds 0.061% (benchmarks/RESULTS.md; threshold 1.0).
#: The label precision mattered most: at L = 4, p = 39 with 20,000 states and 128×128,
#: 16 generations of 128 rollouts reached 0.074% (435 CPU s), 10 of 256 rollouts 0.040%.
#: The label threshold ``significance``: 1.0 until 2026-12-03, then 0.5, now 0.25 (seed 0):
#: Poisson L = 4, p = 39 0.040% → 0.011% → 0.014%; geometric L = 4, p = 19 0.270% → 0.039% →
#: 0.017%, p = 39 0.276% → 0.103% → 0.077% (long-tailed demand makes the rollouts noisy, and a
#: strict test kept most improvable states at the current action).  A label switched on noise
#: costs little here: each generation is evaluated exactly and the best one is kept
#: (``keep_best``).  With 0.25 (benchmarks/RESULTS.md): the 16 Poisson
#: instances mean 0.0048%, max 0.0165% (seed 0), worst of the seeds 0.0165%; the 16 geometric ones
#: mean 0.0119%, max 0.077% (seed 0), 0.069–0.081% at L = 4, p = 39 over seeds 0–2.
COMPILED_BUDGET: dict[str, Any] = {"generations": 10, "states": 20_000, "rollouts": 256,
                                   "hidden": (128, 128), "trim_outputs": False, "significance": 0.25}
#: The budget where every rollout period is a forward pass of the network (chains too large to
#: tabulate: L >= 6 on Zipkin's instances).  The classifier's outputs are trimmed to the
#: largest label (``trim_outputs``): at L = 10 the action grid has 96 outputs, the labels use
#: about 10, and the output layer, its mask and argmax were most of a rollout period's cost.
#: Its label threshold stays 1.0 standard error: the generations are judged by simulation
#: there, and the L = 6, 8, 10 table was measured with it.
NETWORK_BUDGET: dict[str, Any] = {"generations": 3, "states": 10_000, "rollouts": 128,
                                  "hidden": (64, 64), "trim_outputs": True, "significance": 1.0}


@dataclass(frozen=True)
class Budget:
    """The resolved budget of a run (:meth:`DCLConfig.budget`): generations, states per
    generation, rollouts per candidate, hidden layer widths, whether the outputs are trimmed,
    the label threshold."""

    generations: int
    states: int
    rollouts: int
    hidden: tuple[int, ...]
    trim_outputs: bool
    significance: float


@dataclass(frozen=True, kw_only=True)
class DCLConfig(HiddenLayersIO):
    """Hyperparameters of :func:`~replenish.solvers.dcl.train_dcl` (validated; keyword-only).

    Attributes:
        generations: policy-improvement steps (each: sample, label by rollouts, train).
            ``None`` (and likewise ``states``, ``rollouts``, ``hidden``): the budget of
            :data:`COMPILED_BUDGET` where the rollouts are compiled (the current policy is
            tabulated on a chain of at most ``exact_states`` states: ``L <= 4`` on Zipkin's
            instances), else :data:`NETWORK_BUDGET` (every rollout period a forward pass of
            the network); :meth:`resolved` fills them in.
        states: states sampled per generation from the current policy's trajectories.
        warmup: periods each sampling path runs (from the empty state) before its state is taken.
        rollouts: rollouts per candidate order (common random numbers across the candidates
            of a state).
        horizon: periods each rollout follows the current policy after the candidate's period
            (``None``: ``5·(L + 1)``, a few times the periods the effect of one order lasts).
        window: candidates are the current policy's action ``± window`` grid steps (feasible ones).
        significance: ``k``: a state's label switches from the current policy's action to the
            best candidate only when the paired mean difference of their rollout costs is below
            ``−k`` standard errors (``0``: plain argmin, ties to the current action; ``None``:
            0.25 with the compiled budget, 1.0 with the network budget).
        hidden: widths of the classifier's hidden layers.
        trim_outputs: each generation's classifier has outputs for the grid actions
            ``0 .. max label`` only, not the whole action grid (``None``: trimmed with the
            network budget, where every rollout period is a forward pass and the output
            layer, mask and argmax over unused actions cost most of it; untrimmed with the
            compiled one).  A classifier trained by cross-entropy pushes the logits of actions
            no state is labelled with down, so trimming them changes what it can learn
            little; orders can still grow by ``window`` grid steps a generation.
        epochs: passes over a generation's labelled states.
        lr: Adam learning rate.
        batch_size: labelled states per gradient step.
        max_actions: classifier outputs; larger order ranges use a coarse grid (as the DQN).
        rollout_batch: sampled states whose rollouts are simulated in one batch (memory:
            ``rollout_batch · (2·window + 1) · rollouts`` rows).
        eval_mode: ``"exact"`` (stationary distribution), ``"simulate"`` or ``"auto"``: exact
            when the (reduced) chain has at most ``exact_states`` states.
        exact_states: state-count limit of ``eval_mode = "auto"`` (and of the compiled budget):
            600,000 takes in the geometric-demand L = 4 instances (up to 487,635 reduced
            states at p = 39), which with 300,000 fell to the network budget.
        eval_paths, eval_horizon, eval_warmup: the simulated evaluation (fixed demand).
        keep_best: return the best evaluated generation's network, not the last one.
        threads: ``torch.set_num_threads`` during training.
    """

    generations: int | None = None
    states: int | None = None
    warmup: int = 100
    rollouts: int | None = None
    horizon: int | None = None
    window: int = 3
    significance: float | None = None
    hidden: tuple[int, ...] | None = None
    trim_outputs: bool | None = None
    epochs: int = 30
    lr: float = 3e-3
    batch_size: int = 128
    max_actions: int = 128
    rollout_batch: int = 256
    eval_mode: Literal["auto", "exact", "simulate"] = "auto"
    exact_states: int = 600_000
    eval_paths: int = 100
    eval_horizon: int = 1000
    eval_warmup: int = 100
    keep_best: bool = True
    threads: int = 1

    def __post_init__(self) -> None:
        def pos_int(name: str, low: int = 1) -> None:
            require_count(getattr(self, name), f"dcl.{name}", low)

        for n in ("horizon", "generations", "states"):
            if getattr(self, n) is not None:
                pos_int(n)
        for n in ("epochs", "batch_size", "rollout_batch", "exact_states", "eval_paths",
                  "eval_horizon", "threads"):
            pos_int(n)
        pos_int("warmup", 0)
        pos_int("eval_warmup", 0)
        pos_int("window", 1)
        if self.rollouts is not None:
            pos_int("rollouts", 2)
        pos_int("max_actions", 2)
        s = self.significance
        require(s is None or (isinstance(s, (int, float)) and not isinstance(s, bool) and math.isfinite(s)
                              and s >= 0), "dcl.significance", s, "must be a number >= 0 (standard errors)")
        lr = self.lr
        require(isinstance(lr, (int, float)) and not isinstance(lr, bool) and 0 < lr <= 1,
                "dcl.lr", lr, "must be a number in (0, 1]")
        require(self.hidden is None or (isinstance(self.hidden, tuple) and len(self.hidden) >= 1 and all(
                    isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in self.hidden)),
                "dcl.hidden", self.hidden, "must be a non-empty list of positive integers")
        require(self.eval_mode in ("auto", "exact", "simulate"), "dcl.eval_mode", self.eval_mode,
                "must be 'auto', 'exact' or 'simulate'")
        require(self.eval_warmup < self.eval_horizon, "dcl.eval_warmup", self.eval_warmup,
                f"must be < eval_horizon = {self.eval_horizon}")
        require(isinstance(self.keep_best, bool), "dcl.keep_best", self.keep_best, "must be true/false")
        require(self.trim_outputs is None or isinstance(self.trim_outputs, bool), "dcl.trim_outputs",
                self.trim_outputs, "must be true/false")

    def resolved(self, *, compiled: bool) -> DCLConfig:
        """This config with the budget fields left ``None`` filled in: :data:`COMPILED_BUDGET`
        when the rollouts are compiled (``compiled``), else :data:`NETWORK_BUDGET`."""
        budget = COMPILED_BUDGET if compiled else NETWORK_BUDGET
        return replace(self, **{k: v for k, v in budget.items() if getattr(self, k) is None})

    def budget(self) -> Budget:
        """The budget fields of a :meth:`resolved` config (an error if one is still ``None``)."""
        g, n, r, hid, trim = self.generations, self.states, self.rollouts, self.hidden, self.trim_outputs
        k = self.significance
        if g is None or n is None or r is None or hid is None or trim is None or k is None:
            raise SpecError("dcl", [g, n, r, hid, trim, k], "budget not resolved (DCLConfig.resolved)")
        return Budget(generations=g, states=n, rollouts=r, hidden=hid, trim_outputs=trim,
                      significance=float(k))

    def rollout_horizon(self, lead_time: int) -> int:
        """``horizon``, or ``5·(L + 1)`` when it is ``None``."""
        return self.horizon if self.horizon is not None else 5 * (lead_time + 1)

    def resume_conflicts(self, checkpointed: DCLConfig) -> list[str]:
        """Sorted names of the fields that differ from ``checkpointed`` and may not change when
        resuming (all but the budget ``generations`` and the evaluation / bookkeeping fields)."""
        return sorted(k for k in (f.name for f in fields(DCLConfig))
                      if getattr(checkpointed, k) != getattr(self, k) and k not in _RESUMABLE_CHANGES)
