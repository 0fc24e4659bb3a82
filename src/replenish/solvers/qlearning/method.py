"""The ``qlearning`` method of the catalogue (``replenish solve CONFIG --method qlearning``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from replenish.core.validate import check_keys, option_types
from replenish.evaluation.evaluate import Evaluation
from replenish.model.spec import Problem
from replenish.solvers.base import MethodOutput
from replenish.solvers.qlearning.config import QLearningConfig
from replenish.solvers.qlearning.trainer import train_qlearning


# ============================================================================
# Method wiring: ``replenish solve CONFIG --method qlearning``
# ============================================================================
def qlearning_method(problem: Problem, *, options: dict[str, Any], seed: int,
                     progress: bool) -> MethodOutput:
    """Tabular Q-learning (``[qlearning]`` table: :class:`QLearningConfig` fields;
    flags ``--variant seed|default``, ``--steps N``, ``--seed N``)."""
    check_keys(options, option_types(QLearningConfig), "qlearning")
    cfg = QLearningConfig(**options)
    r = train_qlearning(problem, config=cfg, seed=seed, progress=progress)
    e = r.evaluation
    ev = None if e is None else Evaluation.from_exact(e)
    extras = {
        "variant": cfg.variant, "steps": r.steps, "episodes": r.episodes,
        "train_seconds": r.seconds, "train_cpu_seconds": r.cpu_seconds,
        "steps_per_second": r.steps_per_second,
        "discount": r.discount, "n_states": int(r.states.shape[0]),
        "n_state_actions": int(np.isfinite(r.q).sum()),
        "max_q_error": r.max_q_error, "mean_q_error": r.mean_q_error,
        "curve": [asdict(p) for p in r.curve],
    }
    params = {k: v for k, v in cfg.to_dict().items() if v is not None}
    return MethodOutput(policy=r.policy, params=params, extras=extras, evaluation=ev,
                        optimal_average_cost=r.optimal_average_cost)
