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

The public names below are imported on first use (PEP 562), so ``import
replenish`` and the ``replenish`` command start at once; numpy, scipy, numba
and torch load only when a name that needs them is used.  Importing
replenish also registers the Gymnasium environment ``replenish/Inventory-v0``
(at once if Gymnasium is already imported, else as soon as it is).
"""

from __future__ import annotations

import importlib.machinery
import sys
from typing import TYPE_CHECKING, Any

from replenish.core.lazy import lazy_exports

#: public name → module that defines it (imported on first access)
_EXPORTS: dict[str, str] = {
    "Config": "replenish.workflows.config", "load_config": "replenish.workflows.config",
    "Empirical": "replenish.model.demand", "NegativeBinomial": "replenish.model.demand",
    "Poisson": "replenish.model.demand", "WeekdayEmpirical": "replenish.model.demand",
    "WeekdayPoisson": "replenish.model.demand",
    "Problem": "replenish.model.spec",
    "SpecError": "replenish.core.validate",
    "InventoryEnv": "replenish.workflows.env",
    "Evaluation": "replenish.evaluation.evaluate", "evaluate": "replenish.evaluation.evaluate",
    "ExactEvaluation": "replenish.evaluation.markov", "evaluate_exact": "replenish.evaluation.markov",
    "SimulationResult": "replenish.evaluation.simulate", "simulate": "replenish.evaluation.simulate",
    "SolveResult": "replenish.solvers.catalogue", "available_methods": "replenish.solvers.catalogue",
    "solve": "replenish.solvers.catalogue",
    "DPResult": "replenish.solvers.dp", "solve_dp": "replenish.solvers.dp",
    "optimal_average_cost": "replenish.solvers.dp",
    **{name: "replenish.policies" for name in (
        "SQ", "SS", "CappedBaseStock", "ConstantOrder", "Myopic", "OrderUpTo", "Policy",
        "TablePolicy", "WeekdayBaseStock", "from_callable", "from_sb3", "load_policy", "save_policy")},
}

__all__ = [
    "ENV_ID",
    "SQ",
    "SS",
    "CappedBaseStock",
    "Config",
    "ConstantOrder",
    "DPResult",
    "Empirical",
    "Evaluation",
    "ExactEvaluation",
    "InventoryEnv",
    "Myopic",
    "NegativeBinomial",
    "OrderUpTo",
    "Poisson",
    "Policy",
    "Problem",
    "SimulationResult",
    "SolveResult",
    "SpecError",
    "TablePolicy",
    "WeekdayBaseStock",
    "WeekdayEmpirical",
    "WeekdayPoisson",
    "__version__",
    "available_methods",
    "evaluate",
    "evaluate_exact",
    "from_callable",
    "from_sb3",
    "load_config",
    "load_policy",
    "optimal_average_cost",
    "save_policy",
    "simulate",
    "solve",
    "solve_dp",
]


_lazy_getattr, __dir__ = lazy_exports(globals(), _EXPORTS)


def __getattr__(name: str) -> Any:
    if name == "__version__":  # from the package metadata, read on first use (importlib.metadata
        from importlib.metadata import PackageNotFoundError, version  # costs ~0.1 s to import)

        try:
            value = version("replenish")
        except PackageNotFoundError:  # pragma: no cover - a source tree without install
            value = "0+unknown"
        globals()["__version__"] = value
        return value
    return _lazy_getattr(name)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from replenish.core.validate import SpecError
    from replenish.evaluation.evaluate import Evaluation, evaluate
    from replenish.evaluation.markov import ExactEvaluation, evaluate_exact
    from replenish.evaluation.simulate import SimulationResult, simulate
    from replenish.model.demand import Empirical, NegativeBinomial, Poisson, WeekdayEmpirical, WeekdayPoisson
    from replenish.model.spec import Problem
    from replenish.policies import (
        SQ,
        SS,
        CappedBaseStock,
        ConstantOrder,
        Myopic,
        OrderUpTo,
        Policy,
        TablePolicy,
        WeekdayBaseStock,
        from_callable,
        from_sb3,
        load_policy,
        save_policy,
    )
    from replenish.solvers.catalogue import SolveResult, available_methods, solve
    from replenish.solvers.dp import DPResult, optimal_average_cost, solve_dp
    from replenish.workflows.config import Config, load_config
    from replenish.workflows.env import InventoryEnv


# ---------------------------------------------------------------- Gymnasium id
class _RegisterWhenImported:
    """Registers ``replenish/Inventory-v0`` right after Gymnasium is first imported.

    Importing Gymnasium costs about 0.4 s of CPU (numpy included); registering
    from here keeps ``replenish --help`` instant while ``import replenish;
    gymnasium.make("replenish/Inventory-v0")`` still works in either import order.
    (A meta path finder by protocol: ``importlib.abc`` itself costs start-up time.)
    """

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "gymnasium":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_register(module: Any) -> None:
            exec_module(module)
            _register_env()

        loader.exec_module = exec_and_register  # type: ignore[method-assign]
        return spec


ENV_ID = "replenish/Inventory-v0"


def _register_env() -> None:
    """Register :data:`ENV_ID` (the bike shop by default, 1000-step episodes); idempotent."""
    import gymnasium as gym

    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point="replenish.workflows.env:InventoryEnv",
                     max_episode_steps=1000)


if "gymnasium" in sys.modules:
    _register_env()
elif not any(isinstance(f, _RegisterWhenImported) for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterWhenImported())
