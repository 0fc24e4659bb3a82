"""The ``dqn`` method of the catalogue (:mod:`replenish.solvers.catalogue`): CLI and TOML.

:func:`dqn_method` turns a ``[dqn]`` table (the :class:`DQNConfig` fields plus
the run options ``logdir``, ``checkpoint_dir``, ``resume`` and ``variant``)
into one :func:`train_dqn` run and its :class:`MethodOutput`.
"""

from __future__ import annotations

from typing import Any

from replenish.model.spec import Problem
from replenish.solvers.base import MethodOutput, learner_options
from replenish.solvers.dqn.config import DQNConfig
from replenish.solvers.dqn.trainer import train_dqn

#: the [dqn] table's keys that are not DQNConfig fields (how to run, not what to learn)
RUN_KEYS: dict[str, type | tuple[type, ...]] = {
    "logdir": str, "checkpoint_dir": str, "resume": bool, "variant": str}


def dqn_method(problem: Problem, *, options: dict[str, Any], seed: int,
               progress: bool) -> MethodOutput:
    """DQN (``[dqn]`` table: :class:`DQNConfig` fields; flags ``steps``, ``logdir``,
    ``resume``, ``checkpoint_dir``; ``variant`` = objective ``average|discounted``)."""
    lo = learner_options(options, DQNConfig, RUN_KEYS, "dqn", variant_field="objective")
    cfg = lo.config
    from replenish.solvers.dp import optimal_average_cost  # the gap in TensorBoard

    r = train_dqn(problem, config=cfg, seed=seed, logdir=lo.logdir, checkpoint_dir=lo.checkpoint_dir,
                  resume=lo.resume, progress=progress,
                  optimum=optimal_average_cost(problem) if lo.logdir else None)
    extras = {"steps": r.steps, "updates": r.updates, "train_seconds": r.seconds,
              "best_eval_cost": r.best_eval_cost, "cost_scale": r.cost_scale,
              "resumed_from": r.resumed_from, "checkpoint": r.checkpoint,
              "stopped_by_time": r.stopped_by_time,
              "actions": r.policy.observation.n_actions, "action_stride": r.policy.observation.stride,
              "history": [{k: v for k, v in h.items()} for h in r.history[-20:]]}
    return MethodOutput(policy=r.policy, params=cfg.to_dict(), extras=extras)
