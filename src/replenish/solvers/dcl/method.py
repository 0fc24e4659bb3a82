"""The ``dcl`` method of the catalogue (:mod:`replenish.solvers.catalogue`): CLI and TOML.

:func:`dcl_method` turns a ``[dcl]`` table (the :class:`DCLConfig` fields plus
the run options ``logdir``, ``checkpoint_dir`` and ``resume``) into one
:func:`train_dcl` run and its :class:`MethodOutput`.
"""

from __future__ import annotations

from typing import Any

from replenish.core.validate import check_keys, option_types
from replenish.model.spec import Problem
from replenish.solvers.base import MethodOutput
from replenish.solvers.dcl.config import DCLConfig
from replenish.solvers.dcl.trainer import train_dcl

_RUN_KEYS: dict[str, type | tuple[type, ...]] = {"logdir": str, "checkpoint_dir": str, "resume": bool}


def dcl_method(problem: Problem, *, options: dict[str, Any], seed: int,
               progress: bool) -> MethodOutput:
    """Deep controlled learning (``[dcl]`` table: :class:`DCLConfig` fields; flags ``logdir``,
    ``resume``, ``checkpoint_dir``)."""
    check_keys(options, option_types(DCLConfig) | _RUN_KEYS, "dcl")
    opts = dict(options)
    run = {k: opts.pop(k) for k in list(opts) if k in _RUN_KEYS}
    if "hidden" in opts:
        opts["hidden"] = tuple(opts["hidden"])
    cfg = DCLConfig(**opts)
    optimum = None
    if run.get("logdir"):
        from replenish.solvers.dp import optimal_average_cost

        optimum = optimal_average_cost(problem)
    r = train_dcl(problem, config=cfg, seed=seed, logdir=run.get("logdir"),
                  checkpoint_dir=run.get("checkpoint_dir"), resume=bool(run.get("resume", False)),
                  progress=progress, optimum=optimum)
    extras = {"start_policy": {"kind": "capped-base-stock", **r.start_params},
              "start_average_cost": r.start_cost, "best_generation": r.best_generation,
              "train_seconds": r.seconds, "resumed_from": r.resumed_from, "checkpoint": r.checkpoint,
              "actions": r.policy.observation.n_actions, "action_stride": r.policy.observation.stride,
              "history": r.history}
    return MethodOutput(policy=r.policy, params=cfg.to_dict(), extras=extras)
