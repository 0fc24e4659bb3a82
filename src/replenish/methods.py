"""The method registry and :func:`solve`, the one entry point of every method.

A method is a function ``fn(problem, *, options, seed, progress) -> MethodOutput``
that returns a policy (and what it learned on the way); :func:`solve` times it,
evaluates the policy the same way for every method (exactly when the chain is
tabulable, else by simulation) and measures the gap to the DP optimum when one
is computable.  Methods register with :func:`register_method`; heavy
dependencies (torch) are imported inside the method function.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .errors import SpecError
from .evaluation import Evaluation, evaluate, optimal_average_cost, relative_gap
from .policies.base import Policy
from .spec import Problem


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
    def __call__(self, problem: Problem, *, options: dict[str, Any], seed: int,
                 progress: bool) -> MethodOutput: ...


#: method name → function; see :func:`register_method`.
METHODS: dict[str, MethodFn] = {}


def register_method(name: str) -> Callable[[MethodFn], MethodFn]:
    """Decorator registering a method under ``name`` (CLI ``--method name``)."""

    def deco(fn: MethodFn) -> MethodFn:
        METHODS[name] = fn
        return fn

    return deco


@dataclass(frozen=True)
class SolveResult:
    """A method's result, evaluated on the common footing.

    Attributes:
        method: method name.
        policy: the policy.
        evaluation: its long-run performance (exact or simulated).
        optimal_average_cost: DP optimum ($/period) when computable.
        gap: relative gap to the optimum, ``(g − g*)/|g*|``.
        params: the method's parameters.
        extras: method-specific diagnostics.
        seconds: wall time of the method (excluding evaluation).
    """

    method: str
    policy: Policy
    evaluation: Evaluation
    optimal_average_cost: float | None
    gap: float | None
    params: dict[str, Any]
    extras: dict[str, Any]
    seconds: float

    @property
    def average_cost(self) -> float:
        return self.evaluation.average_cost

    def to_json(self, *, policy_file: str | None = None) -> dict[str, Any]:
        """The JSON object printed by ``replenish solve --json``."""
        e = self.evaluation
        return {
            "method": self.method,
            "problem": self.policy.problem.name,
            "average_cost": e.average_cost,
            "exact": e.exact,
            "ci95": list(e.ci95) if e.ci95 is not None else None,
            "optimal_average_cost": self.optimal_average_cost,
            "gap": self.gap,
            "params": self.params,
            "seconds": self.seconds,
            "policy_file": policy_file,
            "breakdown": e.breakdown,
            "fill_rate": e.fill_rate,
            "stockout_rate": e.stockout_rate,
            "average_on_hand": e.average_on_hand,
            **({"extras": self.extras} if self.extras else {}),
        }


def _dqn_method(problem: Problem, *, options: dict[str, Any], seed: int,
                progress: bool) -> MethodOutput:
    """Lazy entry for ``dqn``: torch is imported only when DQN is used."""
    from .solvers import dqn  # noqa: F401  (re-registers METHODS["dqn"])

    if METHODS.get("dqn") is _dqn_method:
        raise SpecError("method", "dqn", "the DQN module did not register itself")
    return METHODS["dqn"](problem, options=options, seed=seed, progress=progress)


def _load_methods() -> None:
    # importing the modules registers their methods; DQN registers lazily
    from .solvers import classic, dp_method, qlearning  # noqa: F401

    METHODS.setdefault("dqn", _dqn_method)


def available_methods() -> list[str]:
    """Names accepted by :func:`solve`."""
    _load_methods()
    return sorted(METHODS)


def solve(problem: Problem, method: str, *, options: dict[str, Any] | None = None,
          seed: int = 0, progress: bool = False, with_optimum: bool = True,
          exact: bool | None = None) -> SolveResult:
    """Run ``method`` on ``problem`` and evaluate the resulting policy.

    Args:
        problem: the problem.
        method: a name from :func:`available_methods`.
        options: the method's options (its TOML table merged with CLI flags).
        seed: seeds the method's generators (reproducible results).
        progress: show progress bars.
        with_optimum: compute the DP optimum for the gap when tabulable.
        exact: force exact (``True``) or simulated (``False``) evaluation.
    """
    _load_methods()
    if method not in METHODS:
        raise SpecError("method", method, f"unknown method; expected one of {', '.join(sorted(METHODS))}")
    t0 = time.perf_counter()
    out = METHODS[method](problem, options=dict(options or {}), seed=seed, progress=progress)
    seconds = time.perf_counter() - t0
    ev = out.evaluation if (out.evaluation is not None and exact is not False) else \
        evaluate(problem, out.policy, exact=exact, rng=np.random.default_rng(seed))
    opt = out.optimal_average_cost
    if opt is None and with_optimum:
        opt = optimal_average_cost(problem)
    return SolveResult(method=method, policy=out.policy, evaluation=ev,
                       optimal_average_cost=opt, gap=relative_gap(ev.average_cost, opt),
                       params=out.params, extras=out.extras, seconds=seconds)
