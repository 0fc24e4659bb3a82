"""Evaluate any policy: exactly (Markov chain) when possible, else by simulation.

:func:`evaluate` is what every method's result goes through, so all methods
are compared on the same footing; the DP optimum used for gaps is
:func:`replenish.solvers.dp.optimal_average_cost`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from replenish.core.validate import SpecError
from replenish.evaluation.markov import ExactEvaluation, evaluate_exact
from replenish.evaluation.simulate import simulate
from replenish.model.spec import Problem
from replenish.policies.base import Policy

#: Largest reachable chain evaluated exactly by default.
EXACT_STATE_LIMIT = 2_000_000

@dataclass(frozen=True)
class Evaluation:
    """Long-run performance of a policy.

    Attributes:
        average_cost: $/period (exact, or the simulation mean).
        exact: True when computed from the stationary distribution.
        ci95: 95% confidence interval for simulated results, ``None`` if exact.
        breakdown: $/period by component (holding, stockout, ordering, revenue, waste).
        fill_rate: fraction of demand served from stock on the day.
        stockout_rate: fraction of periods with unmet demand.
        average_on_hand: mean end-of-day stock (units).
        waste_rate: units expired / units ordered (0 for a product that keeps).
    """

    average_cost: float
    exact: bool
    ci95: tuple[float, float] | None
    breakdown: dict[str, float]
    fill_rate: float
    stockout_rate: float
    average_on_hand: float
    waste_rate: float = 0.0

    @classmethod
    def from_exact(cls, e: ExactEvaluation) -> Evaluation:
        """The common summary of an exact (Markov-chain) evaluation."""
        return cls(e.average_cost, True, None, e.breakdown, e.fill_rate, e.stockout_probability,
                   e.average_on_hand, e.waste_rate)


def evaluate(problem: Problem, policy: Policy, *, exact: bool | None = None,
             rng: np.random.Generator | None = None, n_paths: int = 200, horizon: int = 2000,
             warmup: int = 200) -> Evaluation:
    """Evaluate ``policy`` on ``problem``.

    Args:
        exact: ``True`` forces the exact Markov-chain evaluation, ``False``
            simulation; ``None`` tries exact and falls back to simulation when the
            reachable chain exceeds :data:`EXACT_STATE_LIMIT`.
        rng: generator for simulation (default ``np.random.default_rng(0)``,
            so repeated evaluations share common random numbers).
    """
    if exact is not False:
        try:
            e = evaluate_exact(problem, policy, max_states=EXACT_STATE_LIMIT)
            return Evaluation.from_exact(e)
        except SpecError:
            if exact:
                raise
    s = simulate(problem, policy, rng=rng if rng is not None else np.random.default_rng(0),
                 n_paths=n_paths, horizon=horizon, warmup=warmup)
    return Evaluation(s.average_cost, False, s.ci95, s.breakdown, s.fill_rate, s.stockout_days,
                      s.average_on_hand, s.waste_rate)


def relative_gap(cost: float, optimum: float | None) -> float | None:
    """``(cost − g*) / |g*|`` (``None`` without an optimum)."""
    if optimum is None:
        return None
    return (cost - optimum) / abs(optimum) if optimum != 0 else cost - optimum
