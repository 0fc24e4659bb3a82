"""The fleet at a glance: per method, its test cost relative to static (s, S) over the series."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from replenish.solvers.catalogue import REFERENCE_METHODS, learners

#: The methods relative costs refer to, in order of preference (the catalogue's).
REFERENCES = REFERENCE_METHODS
#: Learning methods (the summary lists the series where they lose).
LEARNERS = learners()


@dataclass(frozen=True)
class MethodSummary:
    """One method over the fleet, relative to the reference (static (s, S)).

    Attributes:
        method: method name.
        series: series where both the method and the reference ran.
        ratio_quantiles: quantiles ``{"min", "p10", "p25", "median", "p75",
            "p90", "max"}`` of test cost / reference test cost.
        geomean_ratio: geometric mean of the per-series ratios.
        total_ratio: Σ test cost / Σ reference test cost.
        wins, losses, ties: series where the method is cheaper / dearer /
            equal (±1e-9 relative) on the test window.
        total_test_cost: Σ test cost ($) over those series.
        saved: Σ (reference − method) test cost ($); positive = the method saves.
        losing_series: ``(series, ratio)`` where the method loses, worst first.
        errors: series where the method did not run.
    """

    method: str
    series: int
    ratio_quantiles: dict[str, float]
    geomean_ratio: float | None
    total_ratio: float | None
    wins: int
    losses: int
    ties: int
    total_test_cost: float
    saved: float
    losing_series: tuple[tuple[str, float], ...]
    errors: int

    def cells(self) -> list[str]:
        """Formatted summary cells: method, series, p10, median, p90, geomean,
        total ratio, wins, losses, saved $ (shared by the text and HTML tables)."""
        q = self.ratio_quantiles

        def f(x: float | None) -> str:
            return "—" if x is None else f"{x:.3f}"

        return [self.method, str(self.series), f(q.get("p10")), f(q.get("median")), f(q.get("p90")),
                f(self.geomean_ratio), f(self.total_ratio), str(self.wins), str(self.losses),
                f"{self.saved:,.0f}"]

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "series": self.series, "ratio_quantiles": self.ratio_quantiles,
                "geomean_ratio": self.geomean_ratio, "total_ratio": self.total_ratio,
                "wins": self.wins, "losses": self.losses, "ties": self.ties,
                "total_test_cost": self.total_test_cost, "saved": self.saved,
                "losing_series": [list(x) for x in self.losing_series], "errors": self.errors}


@dataclass(frozen=True)
class FleetSummary:
    """The fleet at a glance (:func:`summarize`).

    Attributes:
        reference: the method costs are relative to (``sS``, else ``order-up-to``).
        n_series: rows in the table; ``n_ok`` / ``n_failed``: by status.
        methods: one :class:`MethodSummary` per method (the reference included, ratio 1).
        best_per_series_saved: Σ (reference − cheapest method on the test window), $.
        failed: ``(series, error)`` of the failed series.
    """

    reference: str | None
    n_series: int
    n_ok: int
    n_failed: int
    methods: tuple[MethodSummary, ...]
    failed: tuple[tuple[str, str], ...]

    def get(self, method: str) -> MethodSummary:
        for m in self.methods:
            if m.method == method:
                return m
        raise KeyError(method)

    def to_json(self) -> dict[str, Any]:
        return {"reference": self.reference, "n_series": self.n_series, "n_ok": self.n_ok,
                "n_failed": self.n_failed, "methods": [m.to_json() for m in self.methods],
                "failed": [list(x) for x in self.failed]}

    def text(self, *, max_losing: int = 8) -> str:
        lines = [f"fleet: {self.n_series} series, {self.n_ok} ok, {self.n_failed} failed; "
                 f"test cost relative to {self.reference or '(no reference)'}"]
        head = (f"{'method':<20} {'series':>6} {'p10':>6} {'median':>7} {'p90':>6} {'geomean':>8} "
                f"{'total':>6} {'wins':>5} {'losses':>6} {'saved $':>12}")
        lines += [head, "-" * len(head)]
        for m in self.methods:
            c = m.cells()
            lines.append(f"{c[0]:<20} {c[1]:>6} {c[2]:>6} {c[3]:>7} {c[4]:>6} {c[5]:>8} {c[6]:>6} "
                         f"{c[7]:>5} {c[8]:>6} {c[9]:>12}")
        for m in self.methods:
            if m.method == self.reference or not m.losing_series:
                continue
            if m.method in LEARNERS or len(self.methods) <= 6:
                worst = ", ".join(f"{s} ({r:.3f})" for s, r in m.losing_series[:max_losing])
                more = f" and {len(m.losing_series) - max_losing} more" \
                    if len(m.losing_series) > max_losing else ""
                lines.append(f"{m.method} loses to {self.reference} on {m.losses} series: {worst}{more}")
        for s, e in self.failed[:max_losing]:
            lines.append(f"failed: {s}: {e}")
        if len(self.failed) > max_losing:
            lines.append(f"... and {len(self.failed) - max_losing} more failed series")
        return "\n".join(lines)


def summarize(table: Any, methods: Sequence[str]) -> FleetSummary:
    """Per-method distribution of test cost relative to static (s, S) over the series.

    Args:
        table: the fleet table (:func:`~replenish.workflows.fleet.journal.read_table` or
            :attr:`~replenish.workflows.fleet.run.FleetRun.table`).
        methods: the methods to summarise.
    """
    n = len(table)
    ok = table[table["status"] == "ok"] if n else table
    failed = table[table["status"] != "ok"] if n else table
    reference = next((r for r in REFERENCES if r in methods and f"{r}.test_cost" in table.columns
                      and len(ok) and ok[f"{r}.test_cost"].notna().any()), None)
    out = []
    for m in methods:
        col = f"{m}.test_cost"
        if reference is None or col not in table.columns:
            out.append(MethodSummary(m, 0, {}, None, None, 0, 0, 0, 0.0, 0.0, (), len(ok)))
            continue
        both = ok[ok[col].notna() & ok[f"{reference}.test_cost"].notna()]
        mc = both[col].to_numpy(dtype=float)
        rc = both[f"{reference}.test_cost"].to_numpy(dtype=float)
        pos = rc > 0
        ratios = mc[pos] / rc[pos]
        quant = {}
        if ratios.size:
            for name, q in (("min", 0), ("p10", 10), ("p25", 25), ("median", 50), ("p75", 75),
                            ("p90", 90), ("max", 100)):
                quant[name] = float(np.percentile(ratios, q))
        geo = float(np.exp(np.mean(np.log(ratios)))) if ratios.size and np.all(ratios > 0) else None
        tot = float(mc.sum() / rc.sum()) if rc.sum() > 0 else None
        rel = (mc - rc) / np.maximum(np.abs(rc), 1e-12)
        lose_idx = np.flatnonzero(rel > 1e-9)
        losing = sorted(((str(both["series"].iloc[i]), float(mc[i] / rc[i]) if rc[i] > 0 else math.inf)
                         for i in lose_idx), key=lambda x: -x[1])
        out.append(MethodSummary(
            method=m, series=len(both), ratio_quantiles=quant, geomean_ratio=geo, total_ratio=tot,
            wins=int((rel < -1e-9).sum()), losses=int(lose_idx.size),
            ties=int((np.abs(rel) <= 1e-9).sum()), total_test_cost=float(mc.sum()),
            saved=float(rc.sum() - mc.sum()), losing_series=tuple(losing),
            errors=int(ok[col].isna().sum())))
    fails = tuple((str(r["series"]), str(r["error"])) for _, r in failed.iterrows())
    return FleetSummary(reference=reference, n_series=n, n_ok=len(ok), n_failed=len(failed),
                        methods=tuple(out), failed=fails)
