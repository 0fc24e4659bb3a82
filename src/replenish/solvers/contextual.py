"""Policies that order on future demand information: ``forecast-base-stock`` and ``lookahead``.

Both read, on the evening of day ``e``, only what is known then: sales up to
``e`` and the features of the coming days (:mod:`replenish.model.context`),
through a :class:`~replenish.model.forecast.Forecaster` fitted on the training
window only.  The state's phase is the day index ``t`` of tomorrow in the
series' calendar (the policy's problem has a
:class:`~replenish.model.demand.DatedDemand` over the calendar), so they run
behind the one policy protocol in the simulator and the replay like every
other method.

* ``forecast-base-stock`` — "forecast plus safety stock", the industry standard:
  the order minimising the expected newsvendor cost of the day it arrives
  (``L + 1`` days ahead), with the on-hand stock before it projected exactly
  through the predictive pmfs of days ``1 .. L`` (lost demand is lost: the
  :class:`~replenish.policies.classic.Myopic` rule with that evening's pmfs),
  i.e. order up to the critical-ratio quantile ``p'/(p' + h)``.  With ``K > 0``
  its (s, S) variant: that rule is the reorder point, and an order covers as many
  days as the economic order quantity ``√(2Kμ/h)`` lasts (see
  :class:`ForecastBaseStock`).
* ``lookahead`` — model predictive control: the exact ``H``-day DP over the
  predictive pmfs (:func:`~replenish.solvers.lookahead.lookahead_order`), first
  decision applied, re-solved every evening (``H = 14`` by default).

The policies cache each evening's decision per state and are saved with their
forecaster and the series (``to_dict``), so a saved policy gives the same
orders after loading, and ``replenish recommend --policy FILE --date D``
recomputes that evening's decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from replenish.core.validate import SpecError, require
from replenish.model.context import Context, FeatureSpec
from replenish.model.demand import DatedDemand
from replenish.model.dynamics import clip_orders
from replenish.model.forecast import Forecaster, fit_forecaster
from replenish.model.spec import Problem
from replenish.policies.base import Policy, register_policy
from replenish.policies.classic import Myopic, effective_shortage_cost
from replenish.solvers.base import MethodOutput
from replenish.solvers.lookahead import GRID, lookahead_order

if TYPE_CHECKING:
    from replenish.evaluation.evaluate import Evaluation

#: Options of ``[forecast-base-stock]``.
FORECAST_BASE_STOCK_OPTIONS: dict[str, Any] = {"select": bool, "seed": int, "in_sample_days": int}
#: Options of ``[lookahead]``.
LOOKAHEAD_OPTIONS: dict[str, Any] = {"horizon": int, "grid": int, "select": bool, "seed": int,
                                     "in_sample_days": int}
#: Default lookahead horizon ``H`` (days).
HORIZON = 14


@dataclass(frozen=True)
class ContextData:
    """What a contextual method may use: the series with its features and the origin.

    Attributes:
        context: the whole series (days after the origin are read only by the replay,
            one evening at a time, never by fitting).
        spec: the ``[features]``.
        train_end: index of the first day after the training window.
        source: where the series comes from (``file``, ``filter``, column names), saved with
            the policy so ``replenish recommend`` can re-read newer sales.
    """

    context: Context
    spec: FeatureSpec
    train_end: int
    source: dict[str, Any] = field(default_factory=dict)


def calendar_problem(base: Problem, ctx: Context) -> Problem:
    """``base`` with a :class:`DatedDemand` over ``ctx``'s calendar (phase = day index): day
    ``t``'s pmf is ``base``'s model for that day (its weekday's), so the problem — bounds
    included — holds nothing learned after the training window; the policy's forecasts
    are made each evening from what is known then."""
    wd = (ctx.dates.astype(np.int64) + 3) % 7
    per = [np.asarray(base.demand.pmf(w % base.period)) for w in range(base.period)]
    width = max(p.size for p in per)
    table = np.zeros((base.period, width))
    for w, p in enumerate(per):
        table[w, : p.size] = p
    idx = wd % base.period if base.period in (1, 7) else np.arange(len(ctx)) % base.period
    return base.replace(demand=DatedDemand(str(ctx.dates[0]), table[idx]),
                        position_bound=base.bound if base.capacity is None else None)


@dataclass(eq=False)
class ContextualPolicy(Policy):
    """Base of the contextual policies (see the module docstring).

    Attributes:
        problem: the problem with a :class:`DatedDemand` over the calendar.
        base: the problem with the training window's weekday model (what is saved).
        forecaster: the fitted forecaster.
        context: the series and its features.
    """

    problem: Problem
    base: Problem
    forecaster: Forecaster
    context: Context
    source: dict[str, Any] = field(default_factory=dict)
    _cache: dict[tuple[int, ...], int] = field(default_factory=dict, init=False, repr=False)

    kind: ClassVar[str] = "contextual"

    @property
    def days(self) -> int:
        """Days of predictive pmfs each evening's decision needs."""
        return self.base.lead_time + 1

    def _pmfs(self, t: int) -> np.ndarray:
        return self.forecaster.pmfs(self.context, t - 1, self.days)

    def act(self, states: np.ndarray) -> np.ndarray:
        states = np.atleast_2d(np.asarray(states, dtype=np.int64))
        out = np.zeros(states.shape[0], dtype=np.int64)
        for i, row in enumerate(states):
            key = tuple(int(x) for x in row)
            a = self._cache.get(key)
            if a is None:
                a = self._decide(int(row[-1]), row[: self.base.position_slots])
                self._cache[key] = a
            out[i] = a
        return clip_orders(self.problem, states, out)

    def _decide(self, t: int, state: np.ndarray) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def forecast(self, t: int) -> np.ndarray:
        """The predictive pmfs (days, M + 1) behind the decision of the evening before day ``t``."""
        return self._pmfs(t)

    # ---------------------------------------------------------- persistence
    def params(self) -> dict[str, Any]:
        return {}

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["problem"] = self.base.to_dict()
        d["forecaster"] = self.forecaster.to_dict()
        d["context"] = self.context.to_dict()
        d["source"] = self.source
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], problem: Problem) -> Policy:
        fc = Forecaster.from_dict(data.get("forecaster"))  # type: ignore[arg-type]
        ctx = Context.from_dict(data.get("context"))  # type: ignore[arg-type]
        src = data.get("source", {})
        require(isinstance(src, dict), "policy.source", src, "must be a table")
        return cls(problem=calendar_problem(problem, ctx), base=problem, forecaster=fc,
                   context=ctx, source=src, **data.get("params", {}))

    def describe(self) -> str:
        return f"{self.kind}({self.forecaster.choice})"

    def for_evening(self, day: Any, *, context: Context | None = None,
                    features: dict[str, Any] | None = None) -> tuple[ContextualPolicy, int]:
        """This policy as of the evening of ``day``, and the phase (day index of tomorrow).

        Args:
            day: today's date; sales up to it must be in the context (the saved one, or
                ``context``, e.g. re-read from the data file).
            context: a newer context of the same series (its first day may differ).
            features: known-ahead and forecast values for the coming days, ``{column: value}``
                (the same value for every day from tomorrow on) or ``{column: [v1, v2, ...]}``
                (tomorrow, the day after, ...); they replace the context's values.
        """
        import datetime as _dt

        ctx = context if context is not None else self.context
        try:
            today = np.datetime64(_dt.date.fromisoformat(str(day)[:10]), "D")
        except ValueError:
            raise SpecError("--date", day, "must be a date YYYY-MM-DD") from None
        require(ctx.dates[0] <= today <= ctx.dates[-1], "--date", str(day),
                f"sales up to that day are needed: the data holds {ctx.dates[0]} .. {ctx.dates[-1]} "
                "(give --data with newer sales)")
        e = int((today - ctx.dates[0]).astype(np.int64))
        need = e + 1 + self.days + 2  # features up to d + 1 of the last day covered
        dates, demand = ctx.dates, ctx.demand
        cols = {k: v.copy() for k, v in ctx.columns.items()}
        if need > len(ctx):  # extend the calendar: future sales unknown (never read), features NaN
            extra = need - len(ctx)
            dates = np.concatenate([dates, dates[-1] + 1 + np.arange(extra)])
            demand = np.concatenate([demand, np.zeros(extra, dtype=np.int64)])
            cols = {k: np.concatenate([v, np.full(extra, np.nan)]) for k, v in cols.items()}
        for name, value in (features or {}).items():
            require(name in self.forecaster.spec.columns, "--features", name,
                    f"not a feature of this policy ({', '.join(self.forecaster.spec.columns) or 'none'})")
            vals = value if isinstance(value, list) else [value] * (len(dates) - e - 1)
            for i, v in enumerate(vals):
                require(isinstance(v, (int, float)),
                        f"--features.{name}", v, "must be a number")
                if e + 1 + i < len(dates):
                    cols[name][e + 1 + i] = float(v)
        new_ctx = Context(dates, demand, cols, ctx.name)
        pol = type(self)(problem=calendar_problem(self.base, new_ctx), base=self.base,
                         forecaster=self.forecaster, context=new_ctx, source=self.source,
                         **self.params())
        return pol, e + 1


@register_policy
@dataclass(eq=False)
class ForecastBaseStock(ContextualPolicy):
    """``forecast-base-stock``: order up to the critical-ratio quantile of the forecast demand
    of the arrival day, on-hand projected through the forecasts (module docstring).

    With ``K > 0`` (its (s, S) variant) an order, once triggered by the rule above
    (the reorder point ``s``), covers ``T = max(1, round(Q/μ))`` days instead of one
    (the order-up-to level ``S``): ``Q = √(2Kμ/h)`` is the economic order quantity of
    the arrival day's mean forecast ``μ``, ``T <= 7``, and the level is the
    critical-ratio quantile of the forecast demand of those ``T`` days (their pmfs
    convolved).  When ``Q < 1.5μ`` (large series) ``T = 1`` and it orders daily.

    Attributes:
        cover: use the ``T``-day cover with ``K > 0``.
    """

    cover: bool = True
    kind: ClassVar[str] = "forecast-base-stock"

    #: Longest cover (days) of the (s, S) variant.
    MAX_COVER: ClassVar[int] = 7

    @property
    def days(self) -> int:
        extra = self.MAX_COVER - 1 if (self.cover and self.base.fixed_order_cost > 0) else 0
        return self.base.lead_time + 1 + extra

    def __post_init__(self) -> None:
        require(self.base.shelf_life in (None, 1), "problem.shelf_life", self.base.shelf_life,
                "forecast-base-stock covers products that keep or sell only on the day they arrive "
                "(shelf_life = 1); use lookahead")

    def params(self) -> dict[str, Any]:
        return {"cover": self.cover}

    def _one_day(self, pmf: np.ndarray) -> int:
        """Shelf life 1: the newsvendor order for the arrival day, the smallest ``a`` (a multiple
        of ``m``) with ``P(D <= a) >= (p + r − c)/(p + r + w)`` (what is unsold that day is
        wasted at ``w`` and was bought at ``c``; a lost sale costs ``p`` and forgoes ``r``)."""
        pr = self.base
        under = pr.stockout_cost + pr.price - pr.unit_cost
        ratio = under / (under + pr.unit_cost + pr.waste_cost) if under > 0 else 0.0
        cdf = np.cumsum(pmf)
        a = int(np.searchsorted(cdf, ratio - 1e-12)) if ratio > 0 else 0
        m = pr.order_multiple
        return -(-a // m) * m

    def _newsvendor(self, t: int, state: np.ndarray, pm: list[np.ndarray]) -> int:
        day = self.context.dates[0] + t
        width = max(p.size for p in pm)
        table = np.zeros((len(pm), width))
        for i, p in enumerate(pm):
            table[i, : p.size] = p
        prob = self.base.replace(demand=DatedDemand(str(day), table), fixed_order_cost=0.0)
        s = np.concatenate([state, [0]])
        return int(Myopic(problem=prob).act(s[None, :])[0])

    def _decide(self, t: int, state: np.ndarray) -> int:
        pr = self.base
        L = pr.lead_time
        pm_all = self._pmfs(t)
        if pr.perishable:  # shelf life 1: each order is sold on its arrival day only
            return self._one_day(pm_all[L])
        pm = [pm_all[i] for i in range(L + 1)]
        a = self._newsvendor(t, state, pm)
        K = pr.fixed_order_cost
        if a == 0 or K <= 0 or not self.cover:
            return a
        mu = float(pm_all[L] @ np.arange(pm_all.shape[1]))
        q = math.sqrt(2 * K * max(mu, 1e-9) / max(pr.holding_cost, 1e-9))
        T = int(min(self.MAX_COVER, max(1, round(q / max(mu, 1e-9)))))
        if T == 1:
            return a
        agg = pm_all[L]
        for i in range(L + 1, L + T):
            agg = np.convolve(agg, pm_all[i])
        return max(a, self._newsvendor(t, state, [*pm[:L], agg]))


@register_policy
@dataclass(eq=False)
class Lookahead(ContextualPolicy):
    """``lookahead``: each evening the exact ``H``-day DP over the forecasts, first decision
    applied (model predictive control; module docstring).

    Attributes:
        horizon: ``H`` (days), at least ``L + 1``.
        grid: largest position bound solved at unit resolution.
    """

    horizon: int = HORIZON
    grid: int = GRID
    kind: ClassVar[str] = "lookahead"

    def __post_init__(self) -> None:
        require(isinstance(self.horizon, int) and self.base.lead_time + 1 <= self.horizon <= 60,
                "lookahead.horizon", self.horizon, f"must be in {self.base.lead_time + 1} .. 60")
        require(isinstance(self.grid, int) and 10 <= self.grid <= 2000, "lookahead.grid", self.grid,
                "must be in 10 .. 2000")

    @property
    def days(self) -> int:
        return self.horizon

    def params(self) -> dict[str, Any]:
        return {"horizon": self.horizon, "grid": self.grid}

    def _decide(self, t: int, state: np.ndarray) -> int:
        return lookahead_order(self.base, self._pmfs(t), state, grid=self.grid)


# ----------------------------------------------------------------------------
# methods
# ----------------------------------------------------------------------------
def fit_method_forecaster(problem: Problem, context: ContextData | None, method: str, horizon: int, *,
                          seed: int = 0, select: bool = True) -> Forecaster:
    """The forecaster of a contextual method: fitted on ``context``'s training window for
    ``horizon`` days ahead at the problem's critical ratio ``p/(p + h)``; a one-line error
    naming ``method`` without future demand information (a history config with a
    ``[features]`` table)."""
    if context is None:
        raise SpecError("method", method, "needs future demand information: a history config "
                                          "([demand] kind = 'history') with a [features] table")
    h, p = problem.holding_cost, effective_shortage_cost(problem)
    return fit_forecaster(context.context, context.spec, train_end=context.train_end,
                          horizon=horizon, critical_ratio=p / (p + h), seed=seed, select=select)


def _fit(problem: Problem, context: ContextData | None, method: str, horizon: int,
         options: dict[str, Any]) -> Forecaster:
    return fit_method_forecaster(problem, context, method, horizon, seed=int(options.get("seed", 0)),
                                 select=bool(options.get("select", True)))


def replay_training_window(policy: Policy, demand: np.ndarray, train_end: int, *,
                           days: int = 0) -> Evaluation:
    """A calendar policy's in-sample evaluation: its replay of the training window's actual
    sales ``demand[:train_end]`` (the last ``days`` of them when ``days > 0``) from a stocked
    start; a policy on a calendar has no stationary chain to evaluate exactly."""
    from replenish.evaluation.evaluate import Evaluation
    from replenish.evaluation.simulate import simulate

    problem = policy.problem
    first = max(0, train_end - days) if days > 0 else 0
    sim = simulate(problem, policy, demand=demand[None, first:train_end], start=problem.stocked_state(first),
                   warmup=0)
    return Evaluation(average_cost=sim.average_cost, exact=False, ci95=None, breakdown=sim.breakdown,
                      fill_rate=sim.fill_rate, stockout_rate=sim.stockout_days,
                      average_on_hand=sim.average_on_hand, waste_rate=sim.waste_rate)


def _output(policy: ContextualPolicy, train_end: int, days: int = 0) -> MethodOutput:
    """The policy with its in-sample evaluation (:func:`replay_training_window`)."""
    fc = policy.forecaster
    ev = replay_training_window(policy, policy.context.demand, train_end, days=days)
    return MethodOutput(policy, params=policy.params(), evaluation=ev,
                        extras={"forecaster": fc.choice, "cv": fc.cv, "importances": fc.importances,
                                "train_end": fc.train_end, "evaluation": "training-window replay"})


def forecast_base_stock_method(problem: Problem, *, options: dict[str, Any], seed: int,
                               progress: bool = False,
                               context: ContextData | None = None) -> MethodOutput:
    """``forecast-base-stock`` (see :class:`ForecastBaseStock`)."""
    options = dict(options)
    options.setdefault("seed", seed)
    extra = ForecastBaseStock.MAX_COVER - 1 if problem.fixed_order_cost > 0 else 0
    fc = _fit(problem, context, "forecast-base-stock", problem.lead_time + 1 + extra, options)
    assert context is not None
    ctx = context.context
    pol = ForecastBaseStock(problem=calendar_problem(problem, ctx), base=problem, forecaster=fc,
                            context=ctx, source=context.source)
    return _output(pol, context.train_end, int(options.get("in_sample_days", 0)))


def lookahead_method(problem: Problem, *, options: dict[str, Any], seed: int, progress: bool = False,
                     context: ContextData | None = None) -> MethodOutput:
    """``lookahead`` (see :class:`Lookahead`)."""
    options = dict(options)
    options.setdefault("seed", seed)
    H = int(options.get("horizon", HORIZON))
    require(problem.lead_time + 1 <= H <= 60, "lookahead.horizon", H,
            f"must be in {problem.lead_time + 1} .. 60")
    fc = _fit(problem, context, "lookahead", H, options)
    assert context is not None
    ctx = context.context
    pol = Lookahead(problem=calendar_problem(problem, ctx), base=problem, forecaster=fc,
                    context=ctx, source=context.source, horizon=H, grid=int(options.get("grid", GRID)))
    return _output(pol, context.train_end, int(options.get("in_sample_days", 0)))
