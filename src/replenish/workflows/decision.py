"""The decision an analyst reads first: which policy to run, what it saves, how sure, and why.

Every function here turns computed results into a frozen object; the CLI prints
:meth:`Decision.lines` and the reports render it at the top of the page.

* :func:`decide` — results on one problem (``solve``, the demo's bike shop, a
  report): the cheapest long-run cost (exact, or simulated with a 95% CI).
* :func:`decide_comparison` — a historical comparison (``compare``, the demo's
  bakery): the cheapest cost on the **test window replay**; its confidence is a
  95% interval of the paired daily cost difference, from weekly blocks.
* :func:`decide_rolling` — a rolling-origin backtest: the policy to deploy
  (cheapest in total), what it saved at each origin, and where it lost.
* :func:`decide_fleet` — a fleet: the method cheapest over all series.

"Within noise": two long-run costs whose 95% intervals overlap (an exact cost is
an interval of width 0, so two exact costs are within noise only when equal, to
1e-9 relative); two replays whose paired difference has a 95% interval that
contains 0.  The reference is the user's (a method name or label) or, by
default, static (s, S) (``sS``), else the cheapest static classic rule.

The sentences of :attr:`Decision.why` are derived from the numbers (optimum,
identical orders in every state, the cost components that differ, the weekday
spread of demand, the rank on the fitted model vs the test window); none is
written for a particular config.

Size: over 600 lines because the three kinds of decision (exact, simulated, replayed test
window, and rolling origins) share the :class:`Decision` object and the reason sentences;
each builder is a few dozen lines, and apart they would duplicate the wording.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from replenish.core.validate import SpecError
from replenish.model.demand import WEEKDAYS
from replenish.model.spec import Problem
from replenish.solvers.catalogue import METHODS, REFERENCE_METHODS, SolveResult

#: Relative tolerance under which two exact costs are equal.
TIE = 1e-9
#: Methods ranked by how simple they are to run (ties go to the simpler one).
_SIMPLE = {"exact": 3, "classic": 0, "heuristic": 1, "forecast": 2, "learner": 4}
#: Largest state space on which "orders as the DP in every state" is checked.
MAX_CHECK_STATES = 200_000
#: Component names of a cost breakdown, as a reader says them.
_COMPONENT = {"holding": "holding", "stockout": "stockouts", "ordering": "ordering",
              "revenue": "revenue"}


@dataclass(frozen=True)
class Decision:
    """Which policy to run, on one problem (or one fleet).

    Attributes:
        subject: what was decided (problem or fleet name).
        recommended: the recommended policy's label (the cheapest; ties go to the simpler rule).
        method: its method name.
        cost: its cost ($/day, ``basis`` says which cost).
        basis: which cost decides (long-run under the model, or the test-window replay).
        confidence: ``"exact"`` or the 95% interval, in words.
        reference: the reference's label (``None`` when there is none).
        reference_cost: the reference's cost ($/day).
        saving: ``reference_cost − cost`` ($/day; positive = the recommendation is cheaper).
        saving_ci95: 95% interval of ``saving`` (paired replays), else ``None``.
        runner_up: the next cheapest policy's label (``None`` with a single policy).
        runner_up_cost: its cost ($/day).
        runner_up_within_noise: whether it cannot be told apart from the recommendation
            (``None`` when unknown).
        why: sentences derived from the numbers.
        unit: the cost unit (``"$/day"``, or ``"$"`` for totals).
        runner_up_ci95: 95% interval of the runner-up's cost minus the recommendation's
            (paired replays), else ``None``.
    """

    subject: str
    recommended: str
    method: str
    cost: float
    basis: str
    confidence: str
    reference: str | None
    reference_cost: float | None
    saving: float | None
    saving_ci95: tuple[float, float] | None
    runner_up: str | None
    runner_up_cost: float | None
    runner_up_within_noise: bool | None
    why: tuple[str, ...]
    unit: str = "$/day"
    runner_up_ci95: tuple[float, float] | None = None

    @property
    def saving_fraction(self) -> float | None:
        """``saving / |reference_cost|`` (``None`` without a reference or a zero one)."""
        if self.saving is None or not self.reference_cost:
            return None
        return self.saving / abs(self.reference_cost)

    def fmt(self, x: float) -> str:
        """A cost in this decision's unit (4 decimals per day, whole dollars for totals)."""
        return f"{x:,.0f} {self.unit}" if self.unit == "$" else f"{x:,.4f} {self.unit}"

    def headline(self) -> str:
        """One line: run X, its cost, the saving against the reference."""
        s = f"Recommended: {self.recommended} — {self.fmt(self.cost)} ({self.basis}; {self.confidence})"
        if self.reference is not None and self.reference != self.recommended and self.saving is not None:
            frac = self.saving_fraction
            pct = f" ({100 * abs(frac):.1f}%)" if frac is not None else ""
            rc = self.fmt(self.reference_cost or 0.0)
            if self.saving >= 0:
                s += f"; saves {self.fmt(self.saving)}{pct} against {self.reference} ({rc})"
            else:
                s += f"; costs {self.fmt(-self.saving)}{pct} more than {self.reference} ({rc})"
            if self.saving_ci95 is not None:
                lo, hi = self.saving_ci95
                s += f", 95% CI of the saving {lo:+,.2f} … {hi:+,.2f} {self.unit}"
        elif self.reference is not None and self.reference == self.recommended:
            s += f"; it is the reference ({self.reference}) itself"
        return s

    def runner_up_line(self) -> str | None:
        """The runner-up and whether it is within noise."""
        if self.runner_up is None or self.runner_up_cost is None:
            return None
        diff = self.runner_up_cost - self.cost
        if self.runner_up_within_noise is None:
            noise = ""
        elif self.runner_up_within_noise and diff == 0 and self.confidence == "exact":
            noise = " — the same exact cost: either will do"
        elif self.runner_up_within_noise:
            noise = " — within noise: either will do"
        else:
            noise = " — a real difference (outside noise)"
        ci = ""
        if self.runner_up_ci95 is not None:
            ci = f", 95% CI of the difference {self.runner_up_ci95[0]:+,.2f} … {self.runner_up_ci95[1]:+,.2f}"
        return f"Runner-up: {self.runner_up} — {self.fmt(self.runner_up_cost)} (+{self.fmt(diff)}{ci}){noise}"

    def lines(self) -> list[str]:
        """The decision as text lines (``compare``/``solve`` print them, reports render them)."""
        out = [self.headline()]
        r = self.runner_up_line()
        if r is not None:
            out.append(r)
        out += [f"Why: {w}" for w in self.why]
        return out

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "recommended": self.recommended, "method": self.method,
                "cost": self.cost, "unit": self.unit, "basis": self.basis,
                "confidence": self.confidence, "reference": self.reference,
                "reference_cost": self.reference_cost, "saving": self.saving,
                "saving_fraction": self.saving_fraction,
                "saving_ci95": list(self.saving_ci95) if self.saving_ci95 else None,
                "runner_up": self.runner_up, "runner_up_cost": self.runner_up_cost,
                "runner_up_within_noise": self.runner_up_within_noise,
                "runner_up_ci95": list(self.runner_up_ci95) if self.runner_up_ci95 else None,
                "why": list(self.why),
                "text": self.lines()}


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------
def _simplicity(method: str) -> int:
    spec = METHODS.get(method)
    return _SIMPLE.get(spec.family, 5) if spec is not None else 5


def _interval(cost: float, ci: Sequence[float] | None) -> tuple[float, float]:
    return (cost, cost) if ci is None else (float(ci[0]), float(ci[1]))


def _overlap(a: tuple[float, float], b: tuple[float, float], cost_a: float, cost_b: float) -> bool:
    if a[0] == a[1] and b[0] == b[1]:
        return abs(cost_a - cost_b) <= TIE * max(1.0, abs(cost_a), abs(cost_b))
    return a[0] <= b[1] and b[0] <= a[1]


def _reference_index(methods: Sequence[str], labels: Sequence[str], costs: Sequence[float],
                     reference: str | None) -> int | None:
    """The reference row: the one named (label or method), else the cheapest ``sS``, else the
    cheapest static rule, else the cheapest ``order-up-to``."""
    if reference is not None:
        for i, lab in enumerate(labels):
            if lab == reference:
                return i
        hits = [i for i, m in enumerate(methods) if m == reference]
        if not hits:
            raise SpecError("reference", reference,
                            f"not among the results ({', '.join(labels)})")
        return min(hits, key=lambda i: costs[i])
    for pref in REFERENCE_METHODS[:1]:
        hits = [i for i, m in enumerate(methods) if m == pref]
        if hits:
            return min(hits, key=lambda i: costs[i])
    stat = [i for i, m in enumerate(methods) if m in METHODS and METHODS[m].static]
    if stat:
        return min(stat, key=lambda i: costs[i])
    return None


def _pick(costs: Sequence[float], intervals: Sequence[tuple[float, float]],
          methods: Sequence[str]) -> tuple[int, int | None]:
    """(recommended, runner-up): the cheapest (exact ties → the simpler method), the next cheapest."""
    order = sorted(range(len(costs)), key=lambda i: costs[i])
    best = order[0]
    tied = [i for i in order if _overlap(intervals[i], intervals[best], costs[i], costs[best])
            and intervals[i][0] == intervals[i][1] and intervals[best][0] == intervals[best][1]]
    if len(tied) > 1:
        best = min(tied, key=lambda i: (_simplicity(methods[i]), costs[i], i))
    rest = [i for i in order if i != best]
    return best, (rest[0] if rest else None)


def _components(rec: dict[str, float], ref: dict[str, float], unit: str = "$/day") -> str | None:
    """``"lower stockouts (−2.10 $/day) for more holding (+0.80 $/day)"`` from two breakdowns."""
    diffs = []
    for k, name in _COMPONENT.items():
        if k in rec and k in ref:
            d = float(rec[k]) - float(ref[k])
            if k == "revenue":  # revenue is subtracted from the cost
                d = -d
            if abs(d) >= 0.005:
                diffs.append((d, name))
    if not diffs:
        return None
    down = sorted((x for x in diffs if x[0] < 0), key=lambda x: x[0])
    up = sorted((x for x in diffs if x[0] > 0), key=lambda x: -x[0])
    parts = []
    def said(xs: list[tuple[float, str]]) -> str:
        items = [f"{n} ({d:+.2f} {unit})" for d, n in xs]
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

    if down:
        parts.append("less on " + said(down))
    if up:
        parts.append("more on " + said(up))
    return ", ".join(parts)


def _same_orders(problem: Problem, a: Any, b: Any) -> int | None:
    """Number of states when policies ``a`` and ``b`` order the same in every state, else ``None``."""
    from replenish.model.statespace import StateSpace

    try:
        space = StateSpace(problem, reduced=False)
        if space.count() > MAX_CHECK_STATES:
            return None
        states = space.enumerate()
        if hasattr(a, "forecaster") or hasattr(b, "forecaster"):
            return None
        same = np.array_equal(np.asarray(a.act(states)), np.asarray(b.act(states)))
    except Exception:  # a policy that does not cover every state (a table of visited states)
        return None
    return len(states) if same else None


def _weekday_sentence(problem: Problem, rec_method: str, ref_method: str | None,
                      rec: str, ref: str | None) -> str | None:
    """Demand varies by weekday and the recommendation orders per weekday, the reference not."""
    if not problem.seasonal or problem.period != 7 or ref is None:
        return None
    spec_rec, spec_ref = METHODS.get(rec_method), METHODS.get(ref_method or "")
    if spec_rec is None or spec_ref is None or spec_rec.static or not spec_ref.static:
        return None
    means = [float(problem.demand.mean_at(w)) for w in range(7)]
    lo, hi = int(np.argmin(means)), int(np.argmax(means))
    if means[hi] < 1.15 * max(means[lo], 1e-9):
        return None
    how = "from the forecast of each day" if spec_rec.contextual else "for the weekday"
    return (f"demand varies by weekday (mean {means[lo]:.1f} on {WEEKDAYS[lo]} to {means[hi]:.1f} "
            f"on {WEEKDAYS[hi]}): {rec} orders {how}, {ref} uses one rule for every day")


# ----------------------------------------------------------------------------
# one problem, long-run costs
# ----------------------------------------------------------------------------
def decide(results: Sequence[SolveResult], labels: Sequence[str] | None = None, *,
           reference: str | None = None, subject: str | None = None,
           default_reference: bool = True) -> Decision:
    """The decision among ``results`` (one problem) on their long-run cost.

    Args:
        results: the methods' results (exact or simulated evaluations).
        labels: display labels (default: method names).
        reference: the user's reference, a label or a method name (default: static (s, S),
            else the cheapest static rule; none when no such result).
        subject: what is decided (default: the problem name).
        default_reference: without ``reference``, use the default one (else no reference).
    """
    res = list(results)
    if not res:
        raise SpecError("results", 0, "a decision needs at least one result")
    labels = list(labels) if labels is not None else [r.method for r in res]
    methods = [r.method for r in res]
    costs = [r.average_cost for r in res]
    iv = [_interval(r.average_cost, r.evaluation.ci95) for r in res]
    best, second = _pick(costs, iv, methods)
    ref = (_reference_index(methods, labels, costs, reference)
           if reference is not None or default_reference else None)
    r0 = res[best]
    problem = r0.policy.problem
    why: list[str] = []
    opt = next((r.optimal_average_cost for r in res if r.optimal_average_cost is not None), None)
    dp = next((r for r in res if r.method == "dp"
               and r.params.get("objective", "average") == "average"), None)
    if opt is not None and r0.method != "dp":
        gap = (r0.average_cost - opt) / abs(opt) if opt else r0.average_cost - opt
        if abs(gap) <= 1e-7:
            dp_policy = dp.policy if dp is not None else None
            if dp_policy is None:  # the optimum's policy (cached; None when too large)
                from replenish.workflows.explain import action_values

                av = action_values(problem)
                dp_policy = av.policy if av is not None else None
            n = _same_orders(problem, r0.policy, dp_policy) if dp_policy is not None else None
            how = (f"it orders as the DP in all {n} states" if n is not None
                   else "its exact long-run cost equals the DP optimum")
            rule = METHODS[r0.method].summary if r0.method in METHODS else ""
            rule = rule.split(": ", 1)[-1]
            why.append(f"{labels[best]} equals the optimum here: {how}; it is a rule ({rule}; "
                       f"lead time L = {problem.lead_time}) rather than a table of orders"
                       if r0.method in METHODS and METHODS[r0.method].family != "learner" else
                       f"{labels[best]} equals the optimum here: {how}")
        else:
            why.append(f"{labels[best]} is {100 * gap:+.2f}% from the DP optimum ({opt:.4f} $/day)")
    elif r0.method == "dp":
        tied = [i for i in range(len(res)) if i != best and _overlap(iv[i], iv[best], costs[i], costs[best])]
        why.append("the DP policy is optimal for this model: no policy has a lower long-run cost"
                   + (f" ({', '.join(labels[i] for i in tied)} equal it)" if tied else ""))
    if ref is not None and ref != best:
        comp = _components(r0.evaluation.breakdown, res[ref].evaluation.breakdown)
        if comp:
            why.append(f"against {labels[ref]} it spends {comp}")
        wk = _weekday_sentence(problem, r0.method, methods[ref], labels[best], labels[ref])
        if wk:
            why.append(wk)
    within = None
    if second is not None:
        within = _overlap(iv[second], iv[best], costs[second], costs[best])
    conf = "exact" if r0.evaluation.exact else (
        f"simulated, 95% CI {iv[best][0]:.4f} … {iv[best][1]:.4f}")
    basis = "long-run average cost" + ("" if all(r.evaluation.exact for r in res) else
                                       " (exact where possible, else simulated)")
    return Decision(
        subject=subject or problem.name, recommended=labels[best], method=r0.method,
        cost=r0.average_cost, basis=basis, confidence=conf,
        reference=None if ref is None else labels[ref],
        reference_cost=None if ref is None else costs[ref],
        saving=None if ref is None else costs[ref] - costs[best], saving_ci95=None,
        runner_up=None if second is None else labels[second],
        runner_up_cost=None if second is None else costs[second],
        runner_up_within_noise=within, why=tuple(why))


# ----------------------------------------------------------------------------
# a historical comparison: the test-window replay decides
# ----------------------------------------------------------------------------
def paired_ci(a: np.ndarray, b: np.ndarray, *, block: int = 7) -> tuple[float, float, float] | None:
    """Mean daily difference ``a − b`` and its 95% interval from blocks of ``block`` days
    (normal approximation over the block means; ``None`` with fewer than 4 blocks)."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = len(d) // block
    if n < 4:
        return None
    means = d[: n * block].reshape(n, block).mean(axis=1)
    m = float(d.mean())
    half = 1.96 * float(means.std(ddof=1)) / math.sqrt(n)
    return m, m - half, m + half


def decide_comparison(comparison: Any, labels: dict[str, str] | None = None, *,
                      reference: str | None = None) -> Decision:
    """The decision of a :class:`~replenish.workflows.compare.Comparison`: the cheapest
    policy on the test-window replay (the held-out figure), its saving against the
    reference with a 95% interval from weekly blocks of the paired daily costs.

    Args:
        comparison: the comparison.
        labels: method → display label.
        reference: the user's reference method (default: the comparison's, static (s, S)).
    """
    rows = [r for r in comparison.results if r.test is not None and r.solve is not None]
    if not rows:
        raise SpecError("results", 0, "no method produced a policy")
    labels = labels or {}
    lab = [labels.get(r.method, r.method) for r in rows]
    methods = [r.method for r in rows]
    costs = [r.test.average_cost for r in rows]
    daily = [np.asarray(r.test.trajectory["cost"], dtype=float) for r in rows]
    best, second = _pick(costs, [(c, c) for c in costs], methods)
    ref_name = reference if reference is not None else comparison.reference
    ref = _reference_index(methods, lab, costs, ref_name)
    h = comparison.history
    basis = f"test-window replay, {h.test.first} … {h.test.last} ({len(h.test)} days)"
    why: list[str] = []
    saving_ci = None
    conf = "one replay of the actual sales"
    if ref is not None and ref != best:
        pc = paired_ci(daily[ref], daily[best])
        if pc is not None:
            saving_ci = (pc[1], pc[2])
            conf = ("saving significant at 95% (weekly blocks)" if pc[1] > 0 else
                    "saving not significant at 95% (weekly blocks)" if pc[2] >= 0 else
                    "dearer than the reference at 95% (weekly blocks)")
        comp = _components(rows[best].test.breakdown, rows[ref].test.breakdown)
        if comp:
            why.append(f"against {lab[ref]} it spends {comp} on the test window "
                       f"(fill rate {rows[best].test.fill_rate:.3f} vs {rows[ref].test.fill_rate:.3f})")
        wk = _weekday_sentence(comparison.problem, methods[best], methods[ref], lab[best], lab[ref])
        if wk:
            why.append(wk)
    plain = [i for i in range(len(rows)) if not hasattr(rows[i].policy, "forecaster")]
    model_best = min(plain, key=lambda i: rows[i].solve.average_cost) if plain else best
    if model_best != best and best in plain:
        why.append(f"on the model fitted to the training window {lab[model_best]} is cheapest "
                   f"({rows[model_best].solve.average_cost:.2f} vs {rows[best].solve.average_cost:.2f} "
                   f"$/day), but on the held-out sales {lab[best]} is: the fitted model is not "
                   "the demand of the test window")
    within, second_ci = None, None
    if second is not None:
        pc2 = paired_ci(daily[second], daily[best])
        within = None if pc2 is None else bool(pc2[1] <= 0)
        second_ci = None if pc2 is None else (pc2[1], pc2[2])
    return Decision(
        subject=comparison.problem.name, recommended=lab[best], method=methods[best],
        cost=costs[best], basis=basis, confidence=conf,
        reference=None if ref is None else lab[ref],
        reference_cost=None if ref is None else costs[ref],
        saving=None if ref is None else costs[ref] - costs[best], saving_ci95=saving_ci,
        runner_up=None if second is None else lab[second],
        runner_up_cost=None if second is None else costs[second],
        runner_up_within_noise=within, why=tuple(why), runner_up_ci95=second_ci)


# ----------------------------------------------------------------------------
# rolling origins
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class OriginOutcome:
    """The deployed policy at one origin.

    Attributes:
        origin: first test day.
        cost: its test total ($).
        reference_cost: the reference's test total ($).
        saving: ``reference_cost − cost`` ($).
        best: the cheapest method at this origin; ``best_cost`` its total ($).
        worst_month: ``(YYYY-MM, $)``: the month where the deployed policy lost most against
            the reference (``None`` when it lost in no month).
    """

    origin: str
    cost: float
    reference_cost: float | None
    saving: float | None
    best: str
    best_cost: float
    worst_month: tuple[str, float] | None

    def to_json(self) -> dict[str, Any]:
        return {"origin": self.origin, "cost": self.cost, "reference_cost": self.reference_cost,
                "saving": self.saving, "best": self.best, "best_cost": self.best_cost,
                "worst_month": list(self.worst_month) if self.worst_month else None}


@dataclass(frozen=True)
class RollingDecision:
    """Which policy to deploy after a rolling-origin backtest.

    Attributes:
        subject: the problem name.
        deploy: the method with the lowest total test cost over the origins (all ran).
        total: its total ($); ``reference``/``reference_total``: the reference's.
        saving: ``reference_total − total`` ($).
        runner_up, runner_up_total: the next cheapest method in total.
        origins: one :class:`OriginOutcome` per origin.
    """

    subject: str
    deploy: str
    total: float
    reference: str | None
    reference_total: float | None
    saving: float | None
    runner_up: str | None
    runner_up_total: float | None
    origins: tuple[OriginOutcome, ...]
    saving_ci95: tuple[float, float] | None = None
    runner_up_ci95: tuple[float, float] | None = None

    @property
    def runner_up_within_noise(self) -> bool | None:
        """Whether the runner-up's paired daily difference has a 95% interval containing 0."""
        return None if self.runner_up_ci95 is None else self.runner_up_ci95[0] <= 0

    def lines(self) -> list[str]:
        out = [f"Deploy: {self.deploy} — total test cost {self.total:,.0f} $ over {len(self.origins)} "
               f"origin(s)"]
        if self.reference is not None and self.saving is not None and self.reference != self.deploy:
            pct = 100 * self.saving / abs(self.reference_total) if self.reference_total else float("nan")
            out[0] += f"; saves {self.saving:,.0f} $ ({pct:.1f}%) against {self.reference}"
            if self.saving_ci95 is not None:
                out[0] += (f", 95% CI of the saving {self.saving_ci95[0]:+,.2f} … "
                           f"{self.saving_ci95[1]:+,.2f} $/day (weekly blocks of all test days)")
        if self.runner_up is not None and self.runner_up_total is not None:
            s = (f"Runner-up: {self.runner_up} — {self.runner_up_total:,.0f} $ "
                 f"(+{self.runner_up_total - self.total:,.0f} $")
            if self.runner_up_ci95 is not None:
                s += (f"; 95% CI of the daily difference {self.runner_up_ci95[0]:+,.2f} … "
                      f"{self.runner_up_ci95[1]:+,.2f} $/day) — "
                      + ("within noise: either will do" if self.runner_up_within_noise
                         else "a real difference (outside noise)"))
            else:
                s += ")"
            out.append(s)
        for o in self.origins:
            s = f"Origin {o.origin}: {o.cost:,.0f} $"
            if o.saving is not None and self.reference != self.deploy:
                s += (f", saved {o.saving:,.0f} $ against {self.reference}" if o.saving >= 0 else
                      f", LOST {-o.saving:,.0f} $ against {self.reference}")
            if o.best != self.deploy:
                s += f"; {o.best} was cheaper here ({o.best_cost:,.0f} $)"
            if o.worst_month is not None:
                mo, lost = o.worst_month
                s += f"; worst month against {self.reference}: {mo} (+{lost:,.0f} $)"
            out.append(s)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"text": self.lines(), "subject": self.subject, "deploy": self.deploy, "total": self.total,
                "reference": self.reference, "reference_total": self.reference_total,
                "saving": self.saving, "runner_up": self.runner_up,
                "runner_up_total": self.runner_up_total,
                "saving_ci95": list(self.saving_ci95) if self.saving_ci95 else None,
                "runner_up_ci95": list(self.runner_up_ci95) if self.runner_up_ci95 else None,
                "runner_up_within_noise": self.runner_up_within_noise,
                "origins": [o.to_json() for o in self.origins]}


def _worst_month(dates: np.ndarray, mine: np.ndarray, ref: np.ndarray) -> tuple[str, float] | None:
    months = np.asarray(dates).astype("datetime64[M]")
    worst: tuple[str, float] | None = None
    for mo in np.unique(months):
        sel = months == mo
        d = float(np.sum(mine[sel]) - np.sum(ref[sel]))
        if d > 0.5 and (worst is None or d > worst[1]):
            worst = (str(mo), d)
    return worst


def decide_rolling(roll: Any, *, reference: str | None = None) -> RollingDecision:
    """The policy to deploy after :func:`~replenish.workflows.compare.compare_origins`."""
    tot = roll.totals()
    ok = [m for m in roll.methods if tot.get(m) is not None]
    if not ok:
        raise SpecError("results", 0, "no method ran at every origin")
    order = sorted(ok, key=lambda m: (tot[m], _simplicity(m)))
    deploy = order[0]
    ref = reference if reference is not None else roll.reference_method()
    if ref is not None and ref not in ok:
        raise SpecError("reference", ref, f"did not run at every origin ({', '.join(ok)})")
    outcomes = []
    for o in roll.origins:
        c = o.comparison
        mine = c.get(deploy).test
        costs = {m: c.get(m).test.total_cost for m in ok}
        best = min(costs, key=lambda m: costs[m])
        rc = c.get(ref).test if ref is not None else None
        wm = None
        if rc is not None and ref != deploy:
            wm = _worst_month(mine.dates, mine.trajectory["cost"], rc.trajectory["cost"])
        outcomes.append(OriginOutcome(
            origin=o.origin, cost=mine.total_cost,
            reference_cost=None if rc is None else rc.total_cost,
            saving=None if rc is None else rc.total_cost - mine.total_cost,
            best=best, best_cost=costs[best], worst_month=wm))
    total = float(tot[deploy])  # type: ignore[arg-type]
    rt = None if ref is None else float(tot[ref])  # type: ignore[arg-type]

    def daily(m: str) -> np.ndarray:  # every test day of every origin, in order
        return np.concatenate([np.asarray(o.comparison.get(m).test.trajectory["cost"], dtype=float)
                               for o in roll.origins])

    sci = rci = None
    if ref is not None and ref != deploy:
        pc = paired_ci(daily(ref), daily(deploy))
        sci = None if pc is None else (pc[1], pc[2])
    if len(order) > 1:
        pc = paired_ci(daily(order[1]), daily(deploy))
        rci = None if pc is None else (pc[1], pc[2])
    return RollingDecision(subject=roll.name, deploy=deploy, total=total, reference=ref,
                           reference_total=rt, saving=None if rt is None else rt - total,
                           runner_up=order[1] if len(order) > 1 else None,
                           runner_up_total=(float(tot[order[1]])  # type: ignore[arg-type]
                                            if len(order) > 1 else None),
                           origins=tuple(outcomes), saving_ci95=sci, runner_up_ci95=rci)


# ----------------------------------------------------------------------------
# a fleet
# ----------------------------------------------------------------------------
def decide_fleet(summary: Any) -> Decision | None:
    """The method to run over a fleet: the lowest total test cost relative to the reference
    among the methods that ran on every ok series (``None`` without a reference)."""
    ref = summary.reference
    full = [m for m in summary.methods if m.series > 0 and m.total_ratio is not None]
    if ref is None or not full:
        return None
    n = max(m.series for m in full)
    full = [m for m in full if m.series == n]
    order = sorted(full, key=lambda m: (m.total_ratio, _simplicity(m.method)))
    best = order[0]
    refm = summary.get(ref)
    why = []
    if best.method != ref:
        q = best.ratio_quantiles
        why.append(f"cheaper than {ref} on {best.wins} of {best.series} series, dearer on {best.losses}"
                   f" (median ratio {q.get('median', float('nan')):.3f}, p10 … p90 "
                   f"{q.get('p10', float('nan')):.3f} … {q.get('p90', float('nan')):.3f})")
        if best.losing_series:
            worst = ", ".join(f"{s} ({r:.3f})" for s, r in best.losing_series[:3])
            why.append(f"it loses most on {worst}")
    second = order[1] if len(order) > 1 else None
    return Decision(
        subject=f"fleet of {summary.n_ok} series", recommended=best.method, method=best.method,
        cost=best.total_test_cost, unit="$", basis=f"total test cost over {n} series",
        confidence=f"wins on {best.wins}/{best.series} series",
        reference=ref, reference_cost=refm.total_test_cost,
        saving=refm.total_test_cost - best.total_test_cost, saving_ci95=None,
        runner_up=None if second is None else second.method,
        runner_up_cost=None if second is None else second.total_test_cost,
        runner_up_within_noise=None, why=tuple(why))
