"""replenish: the best daily ordering policy for a product in a store.

Exact dynamic programming, tabular Q-learning, DQN and tuned classic policies
on one model of the problem, compared on the same demand.

Quick start::

    import numpy as np
    import replenish as rp

    problem = rp.load_config("bike_shop.toml").problem
    best = rp.solve_dp(problem)                      # exact optimum
    result = rp.solve(problem, "order-up-to")        # tuned base-stock
    print(best.average_cost, result.average_cost, result.gap)
    sim = rp.simulate(problem, best.policy, rng=np.random.default_rng(0))
"""

from .config import Config, load_config
from .demand import (
    Empirical,
    NegativeBinomial,
    Poisson,
    WeekdayEmpirical,
    WeekdayPoisson,
)
from .env import ENV_ID, InventoryEnv, register
from .errors import SpecError
from .evaluation import Evaluation, evaluate, optimal_average_cost
from .markov import ExactEvaluation, evaluate_exact
from .methods import SolveResult, available_methods, solve
from .policies import (
    SQ,
    SS,
    CappedBaseStock,
    ConstantOrder,
    Myopic,
    OrderUpTo,
    Policy,
    TablePolicy,
    WeekdayBaseStock,
    load_policy,
    save_policy,
)
from .simulate import SimulationResult, simulate
from .solvers.dp import DPResult, solve_dp
from .spec import Problem

register()

__version__ = "0.1.0"

__all__ = [
    "ENV_ID", "SQ", "SS", "CappedBaseStock", "Config", "ConstantOrder", "DPResult", "Empirical",
    "Evaluation", "ExactEvaluation", "InventoryEnv", "Myopic", "NegativeBinomial", "OrderUpTo",
    "Poisson", "Policy", "Problem", "SimulationResult", "SolveResult", "SpecError", "TablePolicy",
    "WeekdayBaseStock", "WeekdayEmpirical", "WeekdayPoisson", "available_methods", "evaluate",
    "evaluate_exact", "load_config", "load_policy", "optimal_average_cost", "save_policy",
    "simulate", "solve", "solve_dp",
]
