"""The ``dp`` method: the exact optimum (see :mod:`replenish.solvers.dp`)."""

from __future__ import annotations

from typing import Any

from ..config import check_keys
from ..evaluation import Evaluation
from ..methods import MethodOutput, register_method
from ..spec import Problem
from .dp import solve_dp

_OPTIONS: dict[str, Any] = {"objective": str, "tol": float, "eval_sweeps": int, "tau": float}


@register_method("dp")
def dp_method(problem: Problem, *, options: dict[str, Any], seed: int,
              progress: bool) -> MethodOutput:
    """Optimal policy by DP (``[dp]`` table: objective, tol, eval_sweeps, tau)."""
    check_keys(options, _OPTIONS, "dp")
    r = solve_dp(problem, **options)
    e = r.evaluation
    ev = Evaluation.from_exact(e)
    extras = {"objective": r.objective, "iterations": r.iterations, "converged": r.converged,
              "gain_bounds": list(r.gain_bounds) if r.gain_bounds else None,
              "n_states": r.mdp.n_states, "n_state_actions": r.mdp.n_state_actions,
              "bound": problem.bound, "bound_binding_mass": r.bound_binding_mass,
              "truncation_mass": e.truncation_mass}
    opt = r.average_cost if r.objective == "average" else None
    return MethodOutput(policy=r.policy, params={"objective": r.objective}, extras=extras,
                        evaluation=ev, optimal_average_cost=opt)
