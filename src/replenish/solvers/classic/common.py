"""Shared pieces of the classic optimisers: families, result objects, the analytic backorder formulas
(G, renewal masses, Zheng–Federgruen (s, S), (r, nQ)).

See :mod:`replenish.solvers.classic` for the methods and references.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from replenish.core.validate import require
from replenish.evaluation.markov import ExactEvaluation
from replenish.evaluation.simulate import SimulationResult
from replenish.policies.base import Policy
from replenish.policies.classic import (
    SQ,
    SS,
    CappedBaseStock,
    ConstantOrder,
    OrderUpTo,
    WeekdayBaseStock,
    newsvendor_cost,
)
from replenish.policies.perishable import BaseStockEW, BSPLowEW

#: family name (= CLI method name) → (policy class, parameter names).
FAMILIES: dict[str, tuple[type[Policy], tuple[str, ...]]] = {
    "order-up-to": (OrderUpTo, ("level",)),
    "sS": (SS, ("s", "S")),
    "sQ": (SQ, ("s", "Q")),
    "capped-base-stock": (CappedBaseStock, ("level", "cap")),
    "constant-order": (ConstantOrder, ("quantity",)),
    "weekday-base-stock": (WeekdayBaseStock, ("levels",)),
    "base-stock-ew": (BaseStockEW, ("level",)),
    "bsp-low-ew": (BSPLowEW, ("s1", "s2", "b")),
}
#: The families for perishable products (they subtract the estimated withdrawal).
PERISHABLE_FAMILIES = ("base-stock-ew", "bsp-low-ew")

#: Default largest chain evaluated per candidate in exact searches.
SEARCH_STATE_LIMIT = 300_000
#: Longest exact search (estimated seconds, :func:`~replenish.solvers.classic.search.estimate_exact_search`)
#: started; past it ``search = "auto"`` optimises by simulation and ``"exact"`` refuses.
EXACT_SEARCH_SECONDS = 600.0
#: Stationary probability of hitting the backlog truncation above which a candidate is unstable.
UNSTABLE_MASS = 1e-4
_REL_TOL = 1e-12


# =============================================================================
# Results
# =============================================================================
@dataclass(frozen=True)
class ClassicResult:
    """Best policy of a classic family, evaluated exactly.

    Attributes:
        policy: the optimised policy.
        average_cost: its exact long-run average cost ($/period): from the
            Markov chain when ``evaluation`` is present, else from the renewal
            formula of the search.
        evaluation: Markov-chain evaluation of ``policy``
            (:func:`replenish.markov.evaluate_exact`); ``None`` only when that
            chain exceeds ``max_states`` and the cost comes from a formula.
        evaluations: number of candidate parameter sets whose cost was computed
            (exact chains or renewal formulas).
        seconds: wall time of the optimisation, final evaluation included.
        search: how the optimum was found (``"zheng-federgruen"``,
            ``"renewal-rnq"``, ``"newsvendor"``, ``"exact-local-search"``,
            ``"none"`` for the parameter-free myopic policy).
        formula_cost: the renewal-formula cost when the search used one (equals
            ``average_cost`` up to pmf/backlog truncation), else ``None``.
    """

    policy: Policy
    average_cost: float
    evaluation: ExactEvaluation | None = field(repr=False)
    evaluations: int
    seconds: float
    search: str
    formula_cost: float | None = None

    @property
    def params(self) -> dict[str, Any]:
        """The optimised parameters (``{"s": 4, "S": 10}`` ...)."""
        return self.policy.params()


@dataclass(frozen=True)
class SimulationSearchResult:
    """Result of :func:`optimize_by_simulation`.

    Attributes:
        family: the policy family searched.
        policy: the best policy found on the given demand.
        params: its parameters.
        average_cost: its sample-average cost per period on the given demand
            ($/period, periods after ``warmup``, all paths) — an in-sample
            (optimistically biased) figure; evaluate on held-out demand.
        ci95: 95% confidence interval of that average over paths (infinite
            half-width with a single path).
        simulation: the full :class:`~replenish.simulate.SimulationResult` of
            the best policy on the given demand.
        evaluations: number of candidates simulated.
        seconds: wall time.
        history: ``(params, average cost)`` of every candidate, in search order.
        budget_exhausted: True if ``max_evaluations`` stopped the search.
    """

    family: str
    policy: Policy
    params: dict[str, Any]
    average_cost: float
    ci95: tuple[float, float]
    simulation: SimulationResult = field(repr=False)
    evaluations: int
    seconds: float
    history: tuple[tuple[dict[str, Any], float], ...] = field(repr=False)
    budget_exhausted: bool = False


# =============================================================================
# Analytic building blocks (backorders): G, renewal masses, Zheng–Federgruen
# =============================================================================
def _lead_pmf(pmfs: Sequence[np.ndarray], periods: int, start_phase: int) -> np.ndarray:
    out = np.ones(1)
    for t in range(periods):
        out = np.convolve(out, pmfs[(start_phase + t) % len(pmfs)])
    return out


def _mixture(pmfs: Sequence[np.ndarray]) -> np.ndarray:
    n = max(len(p) for p in pmfs)
    out = np.zeros(n)
    for p in pmfs:
        out[: len(p)] += p
    return out / out.sum()


def _quantile(pmf: np.ndarray, ratio: float) -> int:
    return int(np.searchsorted(np.cumsum(pmf), ratio - 1e-12))


def _renewal_mass(pmf: np.ndarray, n: int) -> np.ndarray:
    """``m(0..n−1)``: expected periods the cumulative demand of a cycle equals ``j``."""
    q = np.asarray(pmf, dtype=np.float64)
    q0 = float(q[0])
    require(q0 < 1.0, "demand", "P(D = 0) = 1", "demand is always zero; nothing to optimise")
    m = np.zeros(n)
    m[0] = 1.0 / (1.0 - q0)
    for j in range(1, n):
        k = min(j, len(q) - 1)
        # Σ_{l=1}^{k} q_l m(j − l)
        m[j] = float(np.dot(q[1 : k + 1], m[j - 1 :: -1][:k])) / (1.0 - q0)
    return m


class _SSRenewal:
    """Renewal-reward cost ``c(s, S)`` of (s, S) under backorders (Zheng & Federgruen 1991)."""

    def __init__(self, one_period: np.ndarray, lead: np.ndarray, h: float, p: float,
                 K: float) -> None:
        self.q = np.asarray(one_period, dtype=np.float64)
        self.lead = np.asarray(lead, dtype=np.float64)
        self.h, self.p, self.K = h, p, K
        self.m = _renewal_mass(self.q, 64)
        self.M = np.concatenate([[0.0], np.cumsum(self.m)])
        self.count = 0

    def G(self, y: Any) -> Any:
        return newsvendor_cost(self.lead, y, self.h, self.p)

    def _grow(self, n: int) -> None:
        if n > len(self.m):
            self.m = _renewal_mass(self.q, max(n, 2 * len(self.m)))
            self.M = np.concatenate([[0.0], np.cumsum(self.m)])

    def cost(self, s: int, S: int) -> float:
        """``c(s, S)`` without the policy-independent ``(c − r)·E D`` term."""
        d = S - s
        self._grow(d)
        self.count += 1
        y = S - np.arange(d)
        return float((self.K + np.dot(self.m[:d], self.G(y))) / self.M[d])

    def y_star(self) -> int:
        y = np.arange(-1, len(self.lead) + 2)
        return int(y[np.argmin(self.G(y))])

    def solve(self) -> tuple[int, int, float]:
        """Zheng & Federgruen's algorithm: the optimal ``(s, S)`` and ``c(s, S)``."""
        G = lambda y: float(self.G(np.array([y]))[0])  # noqa: E731
        ys = self.y_star()
        s, S0 = ys, ys
        while True:  # step 0: lower s until c(s, y*) <= G(s)
            s -= 1
            if self.cost(s, S0) <= G(s):
                break
        c0 = self.cost(s, S0)
        S = S0 + 1
        while G(S) <= c0:  # step 1
            cs = self.cost(s, S)
            if cs < c0:
                S0 = S
                while self.cost(s, S0) <= G(s + 1):
                    s += 1
                c0 = self.cost(s, S0)
            S += 1
        return s, S0, c0


def _rnq_search(one_period: np.ndarray, lead: np.ndarray, h: float, p: float, K: float, *,
                q_step: int, s_low: int, top: int) -> tuple[int, int, float, int]:
    """Optimal (r, nQ) under backorders: ``(s, Q, cost, evaluations)`` (see module docstring).

    Windows ``{s+1 .. s+Q}`` within ``[s_low + 1, top]``; ``Q`` a multiple of ``q_step``.
    """
    sf = np.maximum(1.0 - np.concatenate([[0.0], np.cumsum(one_period)]), 0.0)  # P(D >= j)
    sf_sum = np.concatenate([[0.0], np.cumsum(sf[1:])])  # sf_sum[Q] = Σ_{j=1}^{Q} P(D >= j)
    y = np.arange(s_low + 1, top + 1)
    csum = np.concatenate([[0.0], np.cumsum(newsvendor_cost(lead, y, h, p))])
    best = (0, 0, math.inf)
    Q, evals = q_step, 0
    while Q <= len(y):
        win = (csum[Q:] - csum[:-Q]) / Q  # window averages for s = s_low .. top − Q
        i = int(np.argmin(win))
        evals += len(win)
        total = float(win[i]) + K * float(sf_sum[min(Q, len(sf_sum) - 1)]) / Q
        if total < best[2] - _REL_TOL * abs(total):
            best = (s_low + i, Q, total)
        if win[i] >= best[2]:  # the best window average never decreases with Q
            break
        Q += q_step
    return best[0], best[1], best[2], evals
