"""Optimisers of classic policies (exact, on the policy's Markov chain).

Issue 3 extends this module with (s, S), (s, Q), capped base-stock, constant
order, myopic and weekday base-stock optimisers.
"""

from __future__ import annotations

from typing import Any

from ..config import check_keys
from ..evaluation import Evaluation
from ..markov import ExactEvaluation, evaluate_exact
from ..methods import MethodOutput, register_method
from ..policies.classic import OrderUpTo
from ..spec import Problem


def _as_evaluation(e: ExactEvaluation) -> Evaluation:
    return Evaluation(e.average_cost, True, None, e.breakdown, e.fill_rate,
                      e.stockout_probability, e.average_on_hand)


def optimize_order_up_to(problem: Problem) -> tuple[OrderUpTo, ExactEvaluation]:
    """Best order-up-to level ``T`` by exact evaluation.

    The long-run cost of a base-stock level is unimodal in ``T`` for the
    standard models; the search scans upward from ``T = 0`` and stops after the
    cost has risen for three consecutive levels beyond the best one (or at the
    position bound).
    """
    best: tuple[float, OrderUpTo, ExactEvaluation] | None = None
    worse = 0
    for level in range(0, problem.bound + 1):
        pol = OrderUpTo(problem=problem, level=level)
        e = evaluate_exact(problem, pol)
        if best is None or e.average_cost < best[0] - 1e-12:
            best = (e.average_cost, pol, e)
            worse = 0
        else:
            worse += 1
            if worse >= 3:
                break
    assert best is not None
    return best[1], best[2]


@register_method("order-up-to")
def order_up_to_method(problem: Problem, *, options: dict[str, Any], seed: int,
                       progress: bool) -> MethodOutput:
    """Best order-up-to level (``options``: optional fixed ``level``)."""
    check_keys(options, {"level": int}, "order-up-to")
    if "level" in options:
        pol = OrderUpTo(problem=problem, level=options["level"])
        e = evaluate_exact(problem, pol)
    else:
        pol, e = optimize_order_up_to(problem)
    return MethodOutput(policy=pol, params=pol.params(), evaluation=_as_evaluation(e))
