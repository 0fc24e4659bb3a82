"""The options of deep controlled learning: :class:`DCLConfig` (frozen, validated, keyword-only).

This module does not import torch: the method catalogue derives the accepted
``[dcl]`` TOML keys and types from the annotations here
(:func:`replenish.core.validate.option_types`).  The algorithm the options
control is described in :mod:`replenish.solvers.dcl`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal

from replenish.core.validate import require
from replenish.solvers.base import HiddenLayersIO

#: fields that may differ when resuming (budget and bookkeeping, not the learning rule)
_RESUMABLE_CHANGES = {"generations", "threads", "eval_mode", "exact_states", "eval_paths",
                      "eval_horizon", "eval_warmup", "keep_best", "rollout_batch"}


@dataclass(frozen=True, kw_only=True)
class DCLConfig(HiddenLayersIO):
    """Hyperparameters of :func:`~replenish.solvers.dcl.train_dcl` (validated; keyword-only).

    Attributes:
        generations: policy-improvement steps (each: sample, label by rollouts, train).
        states: states sampled per generation from the current policy's trajectories.
        warmup: periods each sampling path runs (from the empty state) before its state is taken.
        rollouts: rollouts per candidate order (common random numbers across the candidates
            of a state).
        horizon: periods each rollout follows the current policy after the candidate's period
            (``None``: ``5·(L + 1)``, a few times the periods the effect of one order lasts).
        window: candidates are the current policy's action ``± window`` grid steps (feasible ones).
        significance: ``k``: a state's label switches from the current policy's action to the
            best candidate only when the paired mean difference of their rollout costs is below
            ``−k`` standard errors (``0``: plain argmin, ties to the current action).
        hidden: widths of the classifier's hidden layers.
        epochs: passes over a generation's labelled states.
        lr: Adam learning rate.
        batch_size: labelled states per gradient step.
        max_actions: classifier outputs; larger order ranges use a coarse grid (as the DQN).
        rollout_batch: sampled states whose rollouts are simulated in one batch (memory:
            ``rollout_batch · (2·window + 1) · rollouts`` rows).
        eval_mode: ``"exact"`` (stationary distribution), ``"simulate"`` or ``"auto"``: exact
            when the (reduced) chain has at most ``exact_states`` states.
        exact_states: state-count limit of ``eval_mode = "auto"``.
        eval_paths, eval_horizon, eval_warmup: the simulated evaluation (fixed demand).
        keep_best: return the best evaluated generation's network, not the last one.
        threads: ``torch.set_num_threads`` during training.
    """

    generations: int = 3
    states: int = 10_000
    warmup: int = 100
    rollouts: int = 128
    horizon: int | None = None
    window: int = 3
    significance: float = 1.0
    hidden: tuple[int, ...] = (64, 64)
    epochs: int = 30
    lr: float = 3e-3
    batch_size: int = 128
    max_actions: int = 128
    rollout_batch: int = 256
    eval_mode: Literal["auto", "exact", "simulate"] = "auto"
    exact_states: int = 300_000
    eval_paths: int = 100
    eval_horizon: int = 1000
    eval_warmup: int = 100
    keep_best: bool = True
    threads: int = 1

    def __post_init__(self) -> None:
        def pos_int(name: str, low: int = 1) -> None:
            v = getattr(self, name)
            require(isinstance(v, int) and not isinstance(v, bool) and v >= low, f"dcl.{name}", v,
                    f"must be an integer >= {low}")

        if self.horizon is not None:
            pos_int("horizon")
        for n in ("generations", "states", "epochs", "batch_size", "rollout_batch",
                  "exact_states", "eval_paths", "eval_horizon", "threads"):
            pos_int(n)
        pos_int("warmup", 0)
        pos_int("eval_warmup", 0)
        pos_int("window", 1)
        pos_int("rollouts", 2)
        pos_int("max_actions", 2)
        s = self.significance
        require(isinstance(s, (int, float)) and not isinstance(s, bool) and math.isfinite(s) and s >= 0,
                "dcl.significance", s, "must be a number >= 0 (standard errors)")
        lr = self.lr
        require(isinstance(lr, (int, float)) and not isinstance(lr, bool) and 0 < lr <= 1,
                "dcl.lr", lr, "must be a number in (0, 1]")
        require(isinstance(self.hidden, tuple) and len(self.hidden) >= 1
                and all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in self.hidden),
                "dcl.hidden", self.hidden, "must be a non-empty list of positive integers")
        require(self.eval_mode in ("auto", "exact", "simulate"), "dcl.eval_mode", self.eval_mode,
                "must be 'auto', 'exact' or 'simulate'")
        require(self.eval_warmup < self.eval_horizon, "dcl.eval_warmup", self.eval_warmup,
                f"must be < eval_horizon = {self.eval_horizon}")
        require(isinstance(self.keep_best, bool), "dcl.keep_best", self.keep_best, "must be true/false")

    def rollout_horizon(self, lead_time: int) -> int:
        """``horizon``, or ``5·(L + 1)`` when it is ``None``."""
        return self.horizon if self.horizon is not None else 5 * (lead_time + 1)

    def resume_conflicts(self, checkpointed: DCLConfig) -> list[str]:
        """Sorted names of the fields that differ from ``checkpointed`` and may not change when
        resuming (all but the budget ``generations`` and the evaluation / bookkeeping fields)."""
        return sorted(k for k in (f.name for f in fields(DCLConfig))
                      if getattr(checkpointed, k) != getattr(self, k) and k not in _RESUMABLE_CHANGES)
