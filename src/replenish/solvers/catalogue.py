"""The catalogue of methods and :func:`solve`, the one entry point of every method.

:data:`METHODS` is the one list of methods: name, family, options, CLI flags,
whether it learns, and where its function lives.  Config sections, option
types, the tune spaces and the report's ordering are all derived from it, so
adding a method is one entry here plus its function (see CONTRIBUTING.md).
Method modules are imported only when their method runs (torch only for
``dqn``), so nothing here imports a solver at start-up and the solvers never
import this module.

A method is a function ``fn(problem, *, options, seed, progress) ->``
:class:`~replenish.solvers.base.MethodOutput`; :func:`solve` times it,
evaluates the policy the same way for every method (exactly when the chain is
tabulable, else by simulation) and measures the gap to the DP optimum when one
is computable.
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from dataclasses import dataclass
from typing import Any, Literal

from replenish.core.validate import OptionTypes, SpecError, check_keys, option_types
from replenish.evaluation.evaluate import Evaluation, relative_gap
from replenish.model.spec import Problem
from replenish.policies.base import Policy
from replenish.solvers.base import MethodFn, MethodOutput

__all__ = ["METHODS", "REFERENCE_METHODS", "MethodOutput", "MethodSpec", "SolveResult", "available_methods",
           "method_spec", "solve"]

Family = Literal["exact", "classic", "heuristic", "learner", "forecast"]


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class MethodSpec:
    """One method of the catalogue.

    Attributes:
        name: the method's name (``--method NAME``, its TOML table ``[NAME]``).
        family: ``"exact"`` (DP), ``"classic"`` (a parametrised rule, tuned),
            ``"heuristic"`` (a rule without parameters) or ``"learner"``.
        summary: one line for help texts and reports.
        run: ``"module:function"`` of the method function (imported when it runs).
        options: ``"module:object"`` of its options: a dataclass (types derived
            from its annotations) or a ``dict`` of name → accepted TOML types.
        run_options: options that are not fields of the options dataclass
            (run-time switches such as ``logdir``), with their TOML types.
        flags: CLI flags of ``replenish solve`` the method accepts
            (``steps``, ``variant``, ``logdir``, ``resume``).
        static: a static classic rule (reference of relative costs in reports).
        tune_space: ``"module:function"`` giving the Optuna search space, or ``None``.
        color: the method's colour in every figure (reports, fleet), a matplotlib colour.
        marker: the method's matplotlib marker in every figure.
        contextual: uses future demand information (a history config with ``[features]``);
            its function takes ``context=`` (:class:`~replenish.solvers.contextual.ContextData`).
        products: ``"any"``, ``"perishable"`` (a rule for products with a shelf life) or
            ``"keeps"`` (a rule for products that keep); see :meth:`applies_to`.
    """

    name: str
    family: Family
    summary: str
    run: str
    options: str
    run_options: tuple[tuple[str, type | tuple[type, ...]], ...] = ()
    flags: tuple[str, ...] = ()
    static: bool = False
    tune_space: str | None = None
    color: str = "#7f7f7f"
    marker: str = "o"
    contextual: bool = False
    products: Literal["any", "perishable", "keeps"] = "any"

    def applies_to(self, problem: Problem) -> bool:
        """Whether the method takes ``problem`` (perishable or not, see :attr:`products`)."""
        return self.products == "any" or (self.products == "perishable") == problem.perishable

    @property
    def learned(self) -> bool:
        """True for methods that learn from experience (learning curves, seeds)."""
        return self.family == "learner"

    def function(self) -> MethodFn:
        """The method function (imports its module)."""
        return _load(self.run)

    def option_types(self) -> OptionTypes:
        """Accepted keys of the ``[name]`` table and their TOML types."""
        obj = self.load_options()
        types = option_types(obj) if isinstance(obj, type) and dataclasses.is_dataclass(obj) else dict(obj)
        return types | dict(self.run_options)

    def load_options(self) -> Any:
        """The options object (dataclass or type table) named by :attr:`options`."""
        return _load(self.options)

    def load_tune_space(self) -> Any:
        """The Optuna search space function named by :attr:`tune_space` (``None`` if not tunable)."""
        return None if self.tune_space is None else _load(self.tune_space)

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Validate a ``[name]`` table (unknown keys, wrong types: :class:`SpecError`)."""
        return check_keys(options, self.option_types(), self.name)


def _classic(name: str, summary: str, *, color: str, marker: str, static: bool = True,
             family: Family = "classic",
             products: Literal["any", "perishable", "keeps"] = "any") -> MethodSpec:
    """An entry of :mod:`replenish.solvers.classic`: ``<name>_method`` and ``<NAME>_OPTIONS`` there."""
    stem = name.replace("-", "_").lower()
    return MethodSpec(name, family, summary, f"replenish.solvers.classic:{stem}_method",
                      f"replenish.solvers.classic:{stem.upper()}_OPTIONS", static=static,
                      color=color, marker=marker, products=products)


#: The catalogue, in the order reports list methods.  Each method has one colour and marker in
#: every figure (report and fleet; ``color``/``marker``), all different.
METHODS: dict[str, MethodSpec] = {m.name: m for m in (
    MethodSpec("dp", "exact", "exact optimum by dynamic programming (relative value iteration)",
               "replenish.solvers.dp:dp_method", "replenish.solvers.dp:DP_OPTIONS",
               color="#333333", marker="*"),
    _classic("myopic", "myopic: the order minimising the expected cost of its arrival day",
             family="heuristic", static=False, color="#8c564b", marker="v", products="keeps"),
    _classic("order-up-to", "order-up-to (base-stock) level, tuned", color="#1f77b4", marker="s"),
    _classic("capped-base-stock", "capped base-stock (level, cap), tuned", color="#17becf",
             marker="D"),
    _classic("sS", "(s, S): order up to S when the position is at most s, tuned", color="#2ca02c",
             marker="^"),
    _classic("sQ", "(s, Q): order multiples of Q when the position is at most s, tuned",
             color="#bcbd22", marker="<"),
    _classic("constant-order", "the same order every day, tuned", color="#7f7f7f", marker="P"),
    _classic("weekday-base-stock", "one order-up-to level per weekday, tuned", static=False,
             color="#9467bd", marker="h"),
    _classic("base-stock-ew", "perishables: base-stock on the position net of the expected "
             "waste (BSP-EW), tuned", static=False, color="#aec7e8", marker="1",
             products="perishable"),
    _classic("bsp-low-ew", "perishables: two base-stock levels on the position net of the "
             "expected waste (BSP-low-EW, Haijema & Minner 2019), tuned", static=False,
             color="#ffbb78", marker="2", products="perishable"),
    MethodSpec("qlearning", "learner", "tabular Q-learning",
               "replenish.solvers.qlearning:qlearning_method",
               "replenish.solvers.qlearning:QLearningConfig", flags=("steps", "variant"),
               tune_space="replenish.workflows.tune:qlearning_space", color="#ff7f0e", marker="o"),
    MethodSpec("dqn", "learner", "Deep Q-Network (PyTorch)",
               "replenish.solvers.dqn:dqn_method", "replenish.solvers.dqn:DQNConfig",
               run_options=(("logdir", str), ("checkpoint_dir", str), ("resume", bool),
                            ("variant", str)),
               flags=("steps", "variant", "logdir", "resume"),
               tune_space="replenish.workflows.tune:dqn_space", color="#d62728", marker="X"),
    MethodSpec("dcl", "learner",
               "deep controlled learning: rollout policy iteration with a classifier (PyTorch)",
               "replenish.solvers.dcl:dcl_method", "replenish.solvers.dcl:DCLConfig",
               run_options=(("logdir", str), ("checkpoint_dir", str), ("resume", bool)),
               flags=("logdir", "resume"), color="#800000", marker=">"),
    MethodSpec("forecast-base-stock", "forecast",
               "forecast plus safety stock: up to the critical-ratio quantile of the forecast "
               "(reorder point + EOQ when K > 0)",
               "replenish.solvers.contextual:forecast_base_stock_method",
               "replenish.solvers.contextual:FORECAST_BASE_STOCK_OPTIONS", color="#e377c2",
               marker="p", contextual=True),
    MethodSpec("lookahead", "forecast",
               "lookahead: exact H-day DP over the forecasts each evening, first decision applied",
               "replenish.solvers.contextual:lookahead_method",
               "replenish.solvers.contextual:LOOKAHEAD_OPTIONS", color="#000080", marker="d",
               contextual=True),
    MethodSpec("dqn-context", "forecast",
               "DQN trained on the forecaster's predictive demand over the training window, "
               "observing the forecast of the days each order covers",
               "replenish.solvers.dqn.contextual:dqn_context_method",
               "replenish.solvers.dqn:DQNConfig", flags=("steps",), color="#006d2c", marker="8",
               contextual=True),
)}


#: Reference of relative costs (reports, compare, fleet), in order of preference: the best
#: static (s, S) policy, else the best order-up-to level.
REFERENCE_METHODS = ("sS", "order-up-to")


def method_spec(name: str) -> MethodSpec:
    """The catalogue entry of ``name`` (unknown names: :class:`SpecError`)."""
    if name not in METHODS:
        raise SpecError("method", name, f"unknown method; expected one of {', '.join(sorted(METHODS))}")
    return METHODS[name]


def available_methods() -> list[str]:
    """Names accepted by :func:`solve`."""
    return sorted(METHODS)


def static_methods() -> tuple[str, ...]:
    """The static classic rules (the references of relative costs)."""
    return tuple(m.name for m in METHODS.values() if m.static)


def contextual_methods() -> tuple[str, ...]:
    """The methods that use future demand information (need ``[features]``)."""
    return tuple(m.name for m in METHODS.values() if m.contextual)


def learners() -> tuple[str, ...]:
    """The methods that learn from experience."""
    return tuple(m.name for m in METHODS.values() if m.learned)


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
            **({"waste_rate": e.waste_rate} if self.policy.problem.perishable else {}),
            **({"extras": self.extras} if self.extras else {}),
        }


def solve(problem: Problem, method: str, *, options: dict[str, Any] | None = None,
          seed: int = 0, progress: bool = False, with_optimum: bool = True,
          exact: bool | None = None, context: Any = None) -> SolveResult:
    """Run ``method`` on ``problem`` and evaluate the resulting policy.

    Args:
        problem: the problem.
        method: a name from :func:`available_methods`.
        options: the method's options (its TOML table merged with CLI flags).
        seed: seeds the method's generators (reproducible results).
        progress: show progress bars.
        with_optimum: compute the DP optimum for the gap when tabulable.
        exact: force exact (``True``) or simulated (``False``) evaluation.
        context: future demand information for contextual methods
            (:class:`~replenish.solvers.contextual.ContextData`); other methods ignore it.
    """
    spec = method_spec(method)
    fn = spec.function()
    t0 = time.perf_counter()
    if spec.contextual:
        out = fn(problem, options=dict(options or {}), seed=seed, progress=progress,  # type: ignore[call-arg]
                 context=context)
    else:
        out = fn(problem, options=dict(options or {}), seed=seed, progress=progress)
    seconds = time.perf_counter() - t0
    import numpy as np

    from replenish.evaluation.evaluate import evaluate

    ev = out.evaluation if (out.evaluation is not None and exact is not False) else \
        evaluate(problem, out.policy, exact=exact, rng=np.random.default_rng(seed))
    opt = out.optimal_average_cost
    if opt is None and with_optimum and not spec.contextual:
        from replenish.solvers.dp import optimal_average_cost

        opt = optimal_average_cost(problem)
    return SolveResult(method=method, policy=out.policy, evaluation=ev,
                       optimal_average_cost=opt, gap=relative_gap(ev.average_cost, opt),
                       params=out.params, extras=out.extras, seconds=seconds)
