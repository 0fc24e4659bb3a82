"""What every method returns: :class:`MethodOutput` (the solvers' common result).

A method is a function ``fn(problem, *, options, seed, progress) -> MethodOutput``;
:mod:`replenish.solvers.catalogue` lists them and evaluates their policies on
the common footing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from replenish.evaluation.evaluate import Evaluation
from replenish.model.spec import Problem
from replenish.policies.base import Policy


@dataclass(frozen=True)
class MethodOutput:
    """What a method returns.

    Attributes:
        policy: the policy found.
        params: JSON-serialisable parameters (``{"level": 7}``, hyperparameters).
        extras: anything else worth reporting (learning curves, iterations...),
            JSON-serialisable.
        evaluation: an evaluation the method already computed exactly (skips
            re-evaluation), or ``None``.
        optimal_average_cost: the DP optimum if the method computed it.
    """

    policy: Policy
    params: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    evaluation: Evaluation | None = None
    optimal_average_cost: float | None = None


class MethodFn(Protocol):
    """The signature of every method function."""

    def __call__(self, problem: Problem, *, options: dict[str, Any], seed: int,
                 progress: bool) -> MethodOutput: ...
