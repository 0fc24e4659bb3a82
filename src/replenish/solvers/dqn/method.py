"""The ``dqn`` method of the catalogue (:mod:`replenish.solvers.catalogue`): CLI and TOML.

:func:`dqn_method` turns a ``[dqn]`` table (the :class:`DQNConfig` fields plus
the run options ``logdir``, ``checkpoint_dir``, ``resume`` and ``variant``)
into one :func:`train_dqn` run and its :class:`MethodOutput`.
"""

from __future__ import annotations

from typing import Any

from replenish.core.validate import check_keys, option_types
from replenish.model.spec import Problem
from replenish.solvers.base import MethodOutput
from replenish.solvers.dqn.config import DQNConfig
from replenish.solvers.dqn.trainer import train_dqn

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
