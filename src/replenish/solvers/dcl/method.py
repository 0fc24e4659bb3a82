"""The ``dcl`` method of the catalogue (:mod:`replenish.solvers.catalogue`): CLI and TOML.

:func:`dcl_method` turns a ``[dcl]`` table (the :class:`DCLConfig` fields plus
the run options ``logdir``, ``checkpoint_dir`` and ``resume``) into one
:func:`train_dcl` run and its :class:`MethodOutput`.
"""

from __future__ import annotations

from typing import Any

from replenish.model.spec import Problem
from replenish.solvers.base import MethodOutput, learner_options
from replenish.solvers.dcl.config import DCLConfig
from replenish.solvers.dcl.trainer import train_dcl

_RUN_KEYS: dict[str, type | tuple[type, ...]] = {"logdir": str, "checkpoint_dir": str, "resume": bool}


def dcl_method(problem: Problem, *, options: dict[str, Any], seed: int,
               progress: bool) -> MethodOutput:
    """Deep controlled learning (``[dcl]`` table: :class:`DCLConfig` fields; flags ``logdir``,
    ``resume``, ``checkpoint_dir``)."""
    lo = learner_options(options, DCLConfig, _RUN_KEYS, "dcl")
    cfg = lo.config
    from replenish.solvers.dp import optimal_average_cost  # the gap in TensorBoard

    r = train_dcl(problem, config=cfg, seed=seed, logdir=lo.logdir, checkpoint_dir=lo.checkpoint_dir,
                  resume=lo.resume, progress=progress,
                  optimum=optimal_average_cost(problem) if lo.logdir else None)
    extras = {"start_policy": {"kind": "capped-base-stock", **r.start_params},
              "start_average_cost": r.start_cost, "best_generation": r.best_generation,
              "train_seconds": r.seconds, "resumed_from": r.resumed_from, "checkpoint": r.checkpoint,
              "actions": r.policy.observation.n_actions, "action_stride": r.policy.observation.stride,
              "history": r.history}
    return MethodOutput(policy=r.policy, params=r.config.to_dict(), extras=extras)
