"""``replenish compare``: every method learns on the training window, all are replayed on the test window.

For a config whose demand is a sales history (``[demand] kind = "history"``,
see :mod:`replenish.workflows.history`), each requested method is run through
:func:`replenish.solvers.catalogue.solve` on the problem whose demand is the weekday
model fitted on the **training window only** (classic optimisers and the DP
use it exactly; learners sample it, i.e. bootstrap training days within
weekday).  Every finished policy is then replayed (:func:`replenish.workflows.history.replay`)
on the actual demand of the training window (in-sample) and of the **test
window** (held out), from the same start state.  The test-window cost is the
figure that matters; each method's test cost is also reported relative to the
reference, the best static (s, S) policy (``sS``; ``order-up-to`` when sS is not
requested or not available).

The JSON object (``--json``) is ``{"problem", "history", "reference",
"results": [...]}``; each result holds the fields of ``replenish solve --json``
(``average_cost`` there is the long-run cost under the *fitted* model) plus
``test_total_cost``, ``test_average_cost``, ``test_breakdown``,
``test_fill_rate``, ``test_stockout_days``, ``test_stockout_rate``,
``test_average_on_hand``, the same ``train_*`` figures, and
``test_relative_to_reference`` (test cost / the reference's).  A method that
is not available in this build, or refuses the problem (e.g. tabular
Q-learning on a state space too large for it), gets a result with ``error``
set and no figures; the others still run.

The files of ``replenish compare --report`` (``compare.json``, ``compare.txt``,
policies, the test-window replay and the HTML report) are written by
:func:`replenish.workflows.report.write_comparison_report`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from replenish.core.validate import SpecError, require
from replenish.model.spec import Problem
from replenish.policies.base import Policy
from replenish.solvers.catalogue import METHODS, REFERENCE_METHODS, SolveResult, solve
from replenish.workflows.history import HistoricalDemand, ReplayResult, default_start_state, replay

#: Methods a comparison runs when none are given.
DEFAULT_METHODS = ("sS", "order-up-to", "weekday-base-stock", "dp", "dqn")
#: Reference of the relative test costs, in order of preference.
REFERENCES = REFERENCE_METHODS  # the catalogue's


@dataclass(frozen=True)
class MethodComparison:
    """One method of a comparison.

    Attributes:
        method: method name.
        solve: the method's result on the fitted model (``None`` on error).
        train: replay on the training window's actual demand (in-sample).
        test: replay on the test window's actual demand (held out).
        error: why the method produced nothing, else ``None``.
    """

    method: str
    solve: SolveResult | None
    train: ReplayResult | None
    test: ReplayResult | None
    error: str | None = None

    @property
    def policy(self) -> Policy | None:
        return None if self.solve is None else self.solve.policy

    def to_json(self, reference_total: float | None = None) -> dict[str, Any]:
        """Fields of ``solve --json`` plus ``test_*``/``train_*`` replay figures."""
        if self.solve is None or self.test is None or self.train is None:
            return {"method": self.method, "error": self.error, "test_total_cost": None,
                    "test_average_cost": None}
        obj = self.solve.to_json()
        obj["describe"] = self.solve.policy.describe()
        obj.update(self.test.to_json("test_"))
        obj.update(self.train.to_json("train_"))
        obj["test_relative_to_reference"] = (
            self.test.total_cost / reference_total if reference_total else None)
        return obj


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`.

    Attributes:
        problem: the problem (demand fitted on the training window).
        history: the train/test series.
        results: one :class:`MethodComparison` per requested method, in order.
        reference: the method test costs are relative to (``None`` if none ran).
        seed: the seed every method received.
    """

    problem: Problem
    history: HistoricalDemand
    results: tuple[MethodComparison, ...]
    reference: str | None
    seed: int

    def get(self, method: str) -> MethodComparison:
        """The result of ``method``."""
        for r in self.results:
            if r.method == method:
                return r
        raise KeyError(method)

    @property
    def reference_total(self) -> float | None:
        if self.reference is None:
            return None
        t = self.get(self.reference).test
        return None if t is None else t.total_cost

    def to_json(self) -> dict[str, Any]:
        ref = self.reference_total
        return {"problem": self.problem.name, "history": self.history.summary(),
                "order_multiple": self.problem.order_multiple, "position_bound": self.problem.bound,
                "reference": self.reference, "seed": self.seed,
                "results": [r.to_json(ref) for r in self.results]}

    def table(self) -> str:
        """A plain-text table: fitted-model cost, train and test replay cost per day, vs reference."""
        ref = self.reference_total
        waste = self.problem.perishable
        head = (f"{'method':<20} {'model $/day':>11} {'train $/day':>11} {'test $/day':>10} "
                f"{'test total $':>13} {'vs ' + (self.reference or '-'):>9} {'fill':>6} "
                f"{'out days':>8} {'avg stock':>9} " + (f"{'wasted':>7} {'waste %':>7} " if waste else "")
                + f"{'sec':>7}")
        lines = [head, "-" * len(head)]
        for r in self.results:
            if r.error is not None or r.solve is None or r.test is None or r.train is None:
                lines.append(f"{r.method:<20} not run: {r.error}")
                continue
            rel = f"{100 * (r.test.total_cost / ref - 1):+.1f}%" if ref else "—"
            lines.append(f"{r.method:<20} {r.solve.average_cost:>11.2f} {r.train.average_cost:>11.2f} "
                         f"{r.test.average_cost:>10.2f} {r.test.total_cost:>13.0f} {rel:>9} "
                         f"{r.test.fill_rate:>6.3f} {r.test.stockout_days:>8d} "
                         f"{r.test.average_on_hand:>9.1f} "
                         + (f"{r.test.wasted:>7d} {100 * r.test.waste_rate:>6.1f}% " if waste else "")
                         + f"{r.solve.seconds:>7.1f}")
        return "\n".join(lines)


def compare(problem: Problem, history: HistoricalDemand, methods: tuple[str, ...] | list[str], *,
            options: dict[str, dict[str, Any]] | None = None, seed: int = 0, progress: bool = False,
            with_optimum: bool = True, start_state: np.ndarray | None = None,
            on_result: Any = None, context: Any = None, reference: str | None = None) -> Comparison:
    """Run ``methods`` on the fitted ``problem`` and replay their policies on ``history``.

    Args:
        problem: the problem whose demand was fitted on ``history.train`` only.
        history: the training and test series.
        methods: method names (see :data:`~replenish.solvers.catalogue.METHODS`);
            unknown names raise :class:`~replenish.core.validate.SpecError`, methods
            that refuse the problem give a result with ``error``.
        options: per-method option tables (``{"dqn": {"steps": 50000}}``).
        seed: passed to every method.
        progress: progress bars of the learners.
        with_optimum: compute the DP optimum of the fitted model for the gaps.
        start_state: common replay start (default
            :func:`~replenish.workflows.history.default_start_state` for each window).
        on_result: optional callback ``f(MethodComparison)`` after each method.
        context: future demand information for the contextual methods
            (:class:`~replenish.solvers.contextual.ContextData`, from ``[features]``);
            without it they give a result with ``error``.
        reference: the method test costs are relative to (one of ``methods``; default the
            first of :data:`REFERENCES` that ran).
    """
    require(len(methods) >= 1, "methods", list(methods), "give at least one method")
    for m in methods:
        require(m in METHODS, "methods", m, f"unknown method; expected some of {', '.join(METHODS)}")
    require(len(set(methods)) == len(methods), "methods", list(methods), "a method is listed twice")
    require(reference is None or reference in methods, "reference", reference,
            f"must be one of the methods compared ({', '.join(methods)})")
    options = options or {}
    rows: list[MethodComparison] = []
    for m in methods:
        try:
            res = solve(problem, m, options=dict(options.get(m, {})), seed=seed,
                        progress=progress, with_optimum=with_optimum, context=context)
        except SpecError as exc:
            row = MethodComparison(m, None, None, None, str(exc))
        else:
            pr = res.policy.problem if METHODS[m].contextual else problem  # calendar phases
            tr = replay(pr, res.policy, history.train,
                        start_state=_start(start_state, pr, history.train))
            te = replay(pr, res.policy, history.test,
                        start_state=_start(start_state, pr, history.test))
            row = MethodComparison(m, res, tr, te)
        rows.append(row)
        if on_result is not None:
            on_result(row)
    ok = {r.method for r in rows if r.error is None}
    if reference is None or reference not in ok:
        reference = next((m for m in REFERENCES if m in ok), None)
    return Comparison(problem=problem, history=history, results=tuple(rows), reference=reference,
                      seed=seed)


def _start(given: np.ndarray | None, problem: Problem, series: Any) -> np.ndarray:
    """The common replay start: ``given`` (its phase set to the first day's), else the default."""
    if given is None:
        return default_start_state(problem, series)
    from replenish.model.demand import phase_of_date

    s = np.array(given, dtype=np.int64)
    if problem.seasonal:
        s[-1] = phase_of_date(problem.demand, series.dates[0])
    return s


# ----------------------------------------------------------------------------
# rolling origins
# ----------------------------------------------------------------------------
#: Default test length of a rolling-origin comparison (days).
TEST_DAYS = 365


@dataclass(frozen=True)
class OriginComparison:
    """One origin of a rolling-origin comparison: fitted on all data before ``origin``.

    Attributes:
        origin: the first test day (``"YYYY-MM-DD"``).
        comparison: the comparison of that origin (train = data before it, test =
            ``test_days`` days from it).
    """

    origin: str
    comparison: Comparison

    def to_json(self) -> dict[str, Any]:
        c = self.comparison
        h = c.history
        obj = {"origin": self.origin, "train": [str(h.train.first), str(h.train.last)],
               "test": [str(h.test.first), str(h.test.last)], "reference": c.reference,
               "order_multiple": c.problem.order_multiple, "position_bound": c.problem.bound,
               "results": [r.to_json(c.reference_total) for r in c.results]}
        return obj


@dataclass(frozen=True)
class RollingComparison:
    """The result of :func:`compare_origins`: one :class:`OriginComparison` per origin and the
    total test cost of each method over all origins."""

    name: str
    origins: tuple[OriginComparison, ...]
    methods: tuple[str, ...]
    seed: int
    reference: str | None = None

    def reference_method(self) -> str | None:
        """The method totals are relative to: the one asked for, else the first of
        :data:`REFERENCES` that ran at every origin."""
        tot = self.totals()
        if self.reference is not None and tot.get(self.reference) is not None:
            return self.reference
        return next((m for m in REFERENCES if tot.get(m) is not None), None)

    def totals(self) -> dict[str, float | None]:
        """Method → total test cost over the origins (``None`` if it failed at any origin)."""
        out: dict[str, float | None] = {}
        for m in self.methods:
            tot: float | None = 0.0
            for o in self.origins:
                t = o.comparison.get(m).test
                tot = None if (t is None or tot is None) else tot + t.total_cost
            out[m] = tot
        return out

    def to_json(self) -> dict[str, Any]:
        tot = self.totals()
        ref = self.reference_method()
        base = tot[ref] if ref is not None else None

        def rel(x: float | None) -> float | None:
            return x / base if (x is not None and base) else None

        return {"problem": self.name, "seed": self.seed, "reference": ref,
                "origins": [o.to_json() for o in self.origins],
                "total": [{"method": m, "test_total_cost": tot[m], "test_relative_to_reference": rel(tot[m])}
                          for m in self.methods]}

    def table(self) -> str:
        """Test total cost per origin and method, and the total."""
        tot = self.totals()
        ref = self.reference_method()
        head = f"{'method':<20} " + " ".join(f"{o.origin:>12}" for o in self.origins) + \
            f" {'total':>12} {'vs ' + (ref or '-'):>9}"
        lines = [head, "-" * len(head)]
        for m in self.methods:
            cells = []
            for o in self.origins:
                t = o.comparison.get(m).test
                cells.append(f"{t.total_cost:>12.0f}" if t is not None else f"{'failed':>12}")
            t_all = tot[m]
            base = tot[ref] if ref is not None else None
            rel = f"{100 * (t_all / base - 1):+.1f}%" if (t_all is not None and base) else "—"
            lines.append(f"{m:<20} " + " ".join(cells) + " " +
                         (f"{t_all:>12.0f}" if t_all is not None else f"{'—':>12}") + f" {rel:>9}")
        return "\n".join(lines)


def origins_from(section: dict[str, Any]) -> tuple[list[str], int] | None:
    """``([origins], test_days)`` from a ``[compare]`` table, or ``None`` without ``origins``."""
    if "origins" not in section:
        return None
    import datetime as _dt

    raw = section["origins"]
    require(isinstance(raw, list) and len(raw) >= 1, "compare.origins", raw,
            "must be a non-empty list of dates")
    out = []
    for i, o in enumerate(raw):
        try:
            out.append(_dt.date.fromisoformat(str(o)[:10]).isoformat())
        except ValueError:
            raise SpecError(f"compare.origins[{i}]", o, "must be a date YYYY-MM-DD") from None
    require(out == sorted(set(out)), "compare.origins", raw, "must be distinct and increasing")
    days = section.get("test_days", TEST_DAYS)
    require(isinstance(days, int) and not isinstance(days, bool) and 7 <= days <= 3660,
            "compare.test_days", days, "must be an integer in 7 .. 3660")
    return out, days


def compare_origins(config: Any, methods: tuple[str, ...] | list[str], *, origins: list[str],
                    test_days: int = TEST_DAYS, options: dict[str, dict[str, Any]] | None = None,
                    seed: int = 0, progress: bool = False, with_optimum: bool = True,
                    on_result: Any = None, reference: str | None = None) -> RollingComparison:
    """Rolling-origin backtest: for each origin every method is fitted on **all data before it**
    and replayed on the ``test_days`` days from it (clipped to the data).

    Args:
        config: a :class:`~replenish.workflows.config.Config` of a history (its ``train``/``test``
            windows are replaced per origin; ``[features]`` gives the contextual methods).
        methods, options, seed, progress, with_optimum, on_result, reference: as in :func:`compare`.
        origins: first test days (``"YYYY-MM-DD"``), increasing.
        test_days: length of each test window.
    """
    import datetime as _dt

    from replenish.workflows.history import problem_from_history, read_context, read_table_series

    raw = config.raw
    table = dict(raw["demand"])
    base_dir = config.path.parent if config.path is not None else None
    import warnings

    full = read_table_series(table, base_dir=base_dir)
    first, last = full.first, full.last
    out = []
    for i, o in enumerate(origins):
        day = _dt.date.fromisoformat(o)
        require(first + _dt.timedelta(days=56) <= day <= last, f"compare.origins[{i}]", o,
                f"must leave >= 56 training days and a test day in the data ({first} .. {last})")
        end = min(day + _dt.timedelta(days=test_days - 1), last)
        tab = dict(table, train=[first.isoformat(), (day - _dt.timedelta(days=1)).isoformat()],
                   test=[o, end.isoformat()])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            problem, history = problem_from_history(tab, problem=raw.get("problem", {}),
                                                    name=raw.get("name"), base_dir=base_dir)
        context = None
        if "features" in raw:
            context = read_context(tab, raw["features"], history, base_dir=base_dir)
        comp = compare(problem, history, methods, options=options, seed=seed, progress=progress,
                       with_optimum=with_optimum, on_result=on_result, context=context,
                       reference=reference)
        out.append(OriginComparison(o, comp))
    return RollingComparison(name=out[0].comparison.problem.name, origins=tuple(out),
                             methods=tuple(methods), seed=seed, reference=reference)


def header(comp: Comparison) -> str:
    """The first line of ``replenish compare``: windows, costs, pack size and position bound."""
    h, p = comp.history, comp.problem
    return (f"{p.name}: trained on {h.train.first} .. {h.train.last} ({len(h.train)} days), "
            f"replayed on {h.test.first} .. {h.test.last} ({len(h.test)} days); L = {p.lead_time}, "
            f"{p.excess_demand}, h = {p.holding_cost:g}, p = {p.stockout_cost:g}, "
            f"K = {p.fixed_order_cost:g}, pack m = {p.order_multiple}, bound B = {p.bound}"
            + (f"; perishable: shelf life M = {p.shelf_life} ({p.issuing.upper()}), "
               f"w = {p.waste_cost:g} $/unit wasted" if p.perishable else ""))
