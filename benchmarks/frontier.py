"""The frontier table (issue 15): every method on Zipkin's (2008) lost-sales instances, one script.

Instances (``h = 1``, lost sales, ``p`` in {4, 9, 19, 39}):

* ``zipkin``: Poisson(5) demand, ``L = 1..4`` (16 instances; Zipkin 2008, "Old and new
  methods for lost-sales inventory systems", Oper. Res. 56(5), Table 1).  Position bound 45
  at ``L = 4`` (the literature's, as ``benchmarks/dp.py`` and ``benchmarks/dcl.py``), the
  automatic bound otherwise.
* ``geometric``: geometric demand on {0, 1, 2, ...} with mean 5, ``L = 1..4`` (16 instances,
  Zipkin's second demand distribution).  It is the negative binomial with ``r = 1`` and success
  probability 1/6 (variance ``5 + 5² = 30``), which
  :class:`~replenish.model.demand.NegativeBinomial` expresses exactly as
  ``NegativeBinomial(mean=5, variance=30)`` (its ``n = μ²/(σ² − μ) = 1``, ``q = μ/σ² = 1/6``).
  Its tail is long: the automatic position bound is 127 at ``L = 4`` and the reduced state
  space would hold 11.7 million states.  The DP therefore runs with ``position_bound = S̄ + 2``,
  where ``S̄`` is Morton's (1971) bound (the ``p/(p + h)`` quantile of demand over ``L + 1``
  periods, :func:`~replenish.solvers.dp_matrix_free.morton_bound`): the optimal policy never
  raises the position above ``S̄``, so the positions ``<= S̄ + 2`` form a closed set and the
  bounded optimum *is* the unbounded one (``L = 4, p = 39``: ``S̄ = 54``, about half a million
  states instead of 11.7 million).  The two spare units make the artificial bound visibly
  slack: the DP row reports ``bound_binding_mass``, the long-run probability that the bound
  limits the optimal order, which must be 0.  The learners are trained and evaluated on that
  bounded problem (their orders are clipped at ``B``, a restriction of their policy class; the
  clipped policy is a policy of the unbounded problem with the same cost), the classic
  heuristics on the unbounded problem (their own reachable chains are small).
* ``long``: Poisson(5), ``L = 6, 8, 10`` (12 instances), where the DP is out of reach.  With
  ``--dp-long`` the ``L = 6`` optimum is computed by the matrix-free DP on the positions
  ``<= S̄`` (closed under the optimal policy; minutes per instance, hence off by default).

Methods: ``dp`` (the exact optimum, :func:`~replenish.solvers.dp.solve_dp`), ``base_stock``
(order-up-to), ``capped_base_stock`` (Xin 2021, "Understanding the performance of capped
base-stock policies in lost-sales inventory models", Oper. Res. 69(1)), ``myopic`` (Morton
1971; Zipkin 2008), ``dcl`` (deep controlled learning: Temizöz, Imdahl, Dijkman, Lamghari-
Idrissi & van Jaarsveld, "Deep controlled learning for inventory control", EJOR 2025;
:func:`~replenish.solvers.dcl.train_dcl`) and ``dqn`` (:mod:`replenish.solvers.dqn`).

* ``L <= 4`` (and ``--dp-long``): everything is evaluated exactly (stationary distribution of the
  policy's Markov chain, :func:`~replenish.evaluation.markov.evaluate_exact`) and reported as the
  relative gap ``(g − g*)/g*`` to the DP optimum ``g*``.  The classic heuristics are optimised
  exactly (:mod:`replenish.solvers.classic.exact`) and do not depend on the seed (one row with
  ``"seed": null``); the learners run once per seed.
* ``L >= 6``: base-stock and capped base-stock are optimised by simulation on a training demand
  matrix (common random numbers, :func:`~replenish.solvers.classic.optimize_by_simulation`);
  then every method is simulated on one *fresh* demand matrix per (instance, seed), the same for
  all methods (common random numbers), with a 95% confidence interval of its average cost and
  of its ratio to base-stock's cost (paired over paths: the ratio estimator's delta-method
  interval).  The myopic policy is simulated when ``L <= --myopic-max-lead`` (its orders are
  convolutions per distinct state visited).

Each row gives the optimised parameters; the simulated rows also give the in-sample cost on the
training matrix (``train_cost``) beside the fresh estimate.  Each learner run reports its CPU
seconds (``time.process_time()`` deltas: every thread of the process; the DP is not counted)
and wall seconds; the DP row reports its own (on the first instance of a run they include
compiling the DP kernels or loading them from numba's cache).  The DQN is the catalogue's
``dqn`` method function (what ``solve(problem, "dqn", ...)`` runs) without ``solve``'s own
evaluation, so that its seconds are training's and its policy is evaluated once, here.

Prints one JSON object per line per (instance, method, seed), then a summary object (per
method: mean and max gap over the exact runs, the worst seed of each instance, mean and max
ratio to base-stock over the simulated runs, CPU seconds); ``--markdown`` prints the table as
well; ``--out`` writes rows and summary as one JSON file (atomically).  ``--dqn-config FILE`` takes the
DQN's options from a config's ``[dqn]`` table.  The whole table is hours of CPU: run parts of it
(instances, seeds) in separate processes with ``--out`` each, then ``--merge`` their files into
one table and summary (a row measured twice, or a learner run with different options in two
parts, is refused).

Usage::

    python benchmarks/frontier.py --instances poisson:2:9,geometric:3:19,poisson:8:4 --seeds 0,1
    python benchmarks/frontier.py --instances zipkin --seeds 0,1,2 --methods dp,capped_base_stock,dcl
    python benchmarks/frontier.py --instances long --dqn-options '{"steps": 100000}' --markdown
    python benchmarks/frontier.py --instances poisson:4:39 --methods dqn --seeds 2 \
        --dqn-config configs/lost_sales_L4.toml --out part-L4p39-s2.json
    python benchmarks/frontier.py --merge part-*.json --markdown
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

P_VALUES = (4.0, 9.0, 19.0, 39.0)
EXACT_LEAD_TIMES = (1, 2, 3, 4)
LONG_LEAD_TIMES = (6, 8, 10)
METHODS = ("dp", "base_stock", "capped_base_stock", "myopic", "dcl", "dqn")
LEARNERS = ("dcl", "dqn")
#: spare units above Morton's bound S̄ in the geometric instances' position bound (see above)
GEOMETRIC_SLACK = 2
#: reachable states allowed in the heuristics' exact searches: the geometric L = 4 base-stock
#: chains exceed the library's default of 300,000 (level 45: C(49, 4) = 211,876 reduced states,
#: and the walk tries higher levels); 2 million keeps the capped search's time estimate (which
#: assumes chains of that size over the automatic bound 127) under its 600 s limit
HEURISTIC_STATES = 2_000_000
#: demand families of the instance strings
DEMANDS = ("poisson", "geometric")


# =============================================================================
# Instances
# =============================================================================
@dataclass(frozen=True)
class Instance:
    """One lost-sales instance: ``demand`` (``"poisson"``: Poisson(5); ``"geometric"``: mean 5),
    lead time ``L`` (periods) and stockout cost ``p`` ($/unit); ``h = 1`` $/unit/period."""

    demand: str
    lead_time: int
    p: float

    @property
    def name(self) -> str:
        return f"{self.demand}-L{self.lead_time}-p{self.p:g}"

    @property
    def exact(self) -> bool:
        """True when the DP and exact evaluation are run (``L <= 4``)."""
        return self.lead_time <= max(EXACT_LEAD_TIMES)

    def demand_model(self) -> Any:
        from replenish import NegativeBinomial, Poisson

        return Poisson(5) if self.demand == "poisson" else NegativeBinomial(mean=5, variance=30)

    def problem(self, bound: int | None = None) -> Any:
        """The :class:`~replenish.Problem` with position bound ``bound`` (``None``: automatic)."""
        from replenish import Problem

        return Problem(demand=self.demand_model(), lead_time=self.lead_time, holding_cost=1,
                       stockout_cost=self.p, position_bound=bound, name=self.name)

    def dp_bound(self) -> int | None:
        """The position bound the DP and the learners use: 45 at ``L = 4`` for Poisson (the
        literature's), ``S̄ + 2`` for geometric demand (module docstring), else automatic."""
        if self.demand == "geometric":
            from replenish.solvers.dp_matrix_free import morton_bound

            s_bar = morton_bound(self.problem())
            assert s_bar is not None  # p/(p + h) < 1 and S̄ far below the automatic bound
            return s_bar + GEOMETRIC_SLACK
        return 45 if self.lead_time == 4 else None


def parse_instances(text: str) -> list[Instance]:
    """``"poisson:2:9,geometric:3:19,poisson:8:4"`` (demand:L:p) or a group: ``all``, ``zipkin``
    (Poisson, L = 1..4), ``geometric`` (L = 1..4), ``long`` (Poisson, L = 6, 8, 10); groups and
    single instances may be mixed; duplicates are dropped, the order is kept."""
    groups = {
        "zipkin": [Instance("poisson", L, p) for L in EXACT_LEAD_TIMES for p in P_VALUES],
        "geometric": [Instance("geometric", L, p) for L in EXACT_LEAD_TIMES for p in P_VALUES],
        "long": [Instance("poisson", L, p) for L in LONG_LEAD_TIMES for p in P_VALUES],
    }
    groups["all"] = groups["zipkin"] + groups["geometric"] + groups["long"]
    out: list[Instance] = []
    for item in (x.strip() for x in text.split(",")):
        if item in groups:
            out += groups[item]
            continue
        parts = item.split(":")
        if len(parts) != 3 or parts[0] not in DEMANDS:
            raise ValueError(f"instance {item!r}: expected demand:L:p with demand in {DEMANDS}, "
                             f"or one of {sorted(groups)}")
        try:
            L, p = int(parts[1]), float(parts[2])
        except ValueError:
            raise ValueError(f"instance {item!r}: L must be an integer and p a number") from None
        if not (L >= 1 and math.isfinite(p) and p > 0):
            raise ValueError(f"instance {item!r}: need L >= 1 and p > 0")
        if parts[0] == "geometric" and L > max(EXACT_LEAD_TIMES):
            raise ValueError(f"instance {item!r}: geometric instances are run for L <= 4 only")
        out.append(Instance(parts[0], L, p))
    return list(dict.fromkeys(out))


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` -> ``[0, 1, 2]``."""
    seeds = [int(s) for s in text.split(",") if s.strip()]
    if not seeds:
        raise ValueError("--seeds: give at least one seed")
    return seeds


@dataclass(frozen=True)
class Simulation:
    """Simulation sizes of the long-lead-time instances: the training matrix of the simulation
    optimisers (``train_*``) and the fresh evaluation matrix (``paths``, ``horizon``, ``warmup``;
    periods, the first ``warmup`` of each path not averaged)."""

    train_paths: int = 100
    train_horizon: int = 2000
    train_warmup: int = 200
    paths: int = 200
    horizon: int = 5000
    warmup: int = 500


# =============================================================================
# Measurements
# =============================================================================
def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``fn()``, its CPU seconds (all threads of the process) and wall seconds."""
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - w0


def _learn(method: str, prob: Any, seed: int, *, dcl_options: dict, dqn_options: dict,
           optimum: float | None) -> tuple[Any, dict[str, Any]]:
    """Train ``method`` (dcl or dqn) on ``prob``: its policy and the row's bookkeeping fields."""
    if method == "dcl":
        from replenish.solvers.dcl import DCLConfig, train_dcl

        cfg = DCLConfig.from_dict(dcl_options)
        r, cpu, wall = _timed(lambda: train_dcl(prob, config=cfg, seed=seed, optimum=optimum))
        info = {"params": {"start": r.start_params, "best_generation": r.best_generation},
                "start_cost": r.start_cost}
        return r.policy, {**info, "cpu_seconds": round(cpu, 2), "wall_seconds": round(wall, 2)}
    from replenish.solvers.catalogue import method_spec

    # the catalogue's method function (what ``solve(prob, "dqn", ...)`` runs), without solve's
    # own evaluation of the policy: the caller evaluates it, and the CPU seconds are training's
    fn = method_spec("dqn").function()
    s, cpu, wall = _timed(lambda: fn(prob, options=dict(dqn_options), seed=seed, progress=False))
    info = {k: v for k, v in s.extras.items() if k != "history"}
    # the model selection's evaluations (the last 20): [transitions, average cost], to see
    # whether the kept snapshot was still improving or one lucky swing
    evals = [[h["step"], round(h["average_cost"], 6)] for h in s.extras.get("history", [])]
    return s.policy, {"params": info, "evaluations": evals, "cpu_seconds": round(cpu, 2),
                      "wall_seconds": round(wall, 2)}


def run_exact(inst: Instance, seeds: list[int], methods: Iterable[str], *, dcl_options: dict,
              dqn_options: dict) -> Iterable[dict[str, Any]]:
    """Rows of one ``L <= 4`` instance: exact costs and gaps to the DP optimum."""
    from replenish.evaluation.markov import evaluate_exact
    from replenish.solvers.classic.exact import (
        optimize_capped_base_stock,
        optimize_myopic,
        optimize_order_up_to,
    )
    from replenish.solvers.dp import solve_dp

    methods = list(methods)
    prob = inst.problem(inst.dp_bound())
    free = inst.problem()  # the heuristics' own reachable chains need no artificial bound
    dp, cpu, wall = _timed(lambda: solve_dp(prob))
    opt = dp.average_cost
    base: dict[str, Any] = {"instance": inst.name, "demand": inst.demand, "lead_time": inst.lead_time,
                            "p": inst.p, "exact": True, "optimum": opt}
    bs_cost = None

    def row(method: str, seed: int | None, cost: float, **extra: Any) -> dict[str, Any]:
        r = {**base, "method": method, "seed": seed, "average_cost": cost,
             "gap": (cost - opt) / opt}
        if bs_cost is not None:
            r["ratio_to_base_stock"] = cost / bs_cost
        return {**r, **extra}

    bs = optimize_order_up_to(free, max_states=HEURISTIC_STATES) if "base_stock" in methods else None
    if bs is not None:  # first: the others' ratios refer to it
        bs_cost = bs.average_cost
    if "dp" in methods:
        yield row("dp", None, opt, params={"position_bound": prob.bound}, states=int(dp.values.size),
                  bound_binding_mass=dp.bound_binding_mass, converged=dp.converged,
                  engine=dp.engine, cpu_seconds=round(cpu, 2), wall_seconds=round(wall, 2))
    if bs is not None:
        yield row("base_stock", None, bs.average_cost, params=bs.params)
    for name, fn in (("capped_base_stock", optimize_capped_base_stock), ("myopic", optimize_myopic)):
        if name in methods:
            h = fn(free, max_states=HEURISTIC_STATES)
            yield row(name, None, h.average_cost, params=h.params)
    for method in (m for m in LEARNERS if m in methods):
        for seed in seeds:
            pol, info = _learn(method, prob, seed, dcl_options=dcl_options, dqn_options=dqn_options,
                               optimum=opt)
            yield row(method, seed, evaluate_exact(prob, pol).average_cost, **info)


def _ratio_ci(costs: np.ndarray, base: np.ndarray) -> tuple[float, tuple[float, float]]:
    """``mean(costs)/mean(base)`` over paired paths and its 95% interval (delta method:
    the t interval of the mean of ``costs − r·base``, divided by ``mean(base)``)."""
    from scipy import stats

    n = costs.size
    r = float(costs.mean() / base.mean())
    if n < 2:
        return r, (-math.inf, math.inf)
    se = float(np.std(costs - r * base, ddof=1)) / math.sqrt(n) / float(base.mean())
    half = float(stats.t.ppf(0.975, n - 1)) * se
    return r, (r - half, r + half)


def run_long(inst: Instance, seeds: list[int], methods: Iterable[str], *, dcl_options: dict,
             dqn_options: dict, sim: Simulation, dp_long: bool = False,
             myopic_max_lead: int = 6) -> Iterable[dict[str, Any]]:
    """Rows of one long-lead-time instance: simulated costs (CRN), CIs and ratios to base-stock.

    Per seed: ``numpy.random.default_rng([seed, 0])`` draws the training matrix of the
    simulation optimisers, ``default_rng([seed, 1])`` the fresh evaluation matrix shared by
    every method of that seed (the learners draw from their own seeded generators)."""
    from replenish.evaluation.simulate import draw_demand, simulate
    from replenish.policies.classic import Myopic
    from replenish.solvers.classic import optimize_by_simulation

    methods = list(methods)
    prob = inst.problem()
    base: dict[str, Any] = {"instance": inst.name, "demand": inst.demand, "lead_time": inst.lead_time,
                            "p": inst.p, "exact": False}
    opt = None
    if dp_long and "dp" in methods and inst.lead_time == 6:
        from replenish.solvers.dp_matrix_free import morton_bound, solve_matrix_free

        s_bar = morton_bound(prob)
        r, cpu, wall = _timed(lambda: solve_matrix_free(inst.problem(s_bar), tol=1e-7))
        opt = float(r.gain)
        base["optimum"] = opt
        yield {**base, "exact": True, "method": "dp", "seed": None, "average_cost": opt, "gap": 0.0,
               "params": {"position_bound": s_bar}, "gain_bounds": list(r.best_bounds),
               "converged": bool(r.converged), "cpu_seconds": round(cpu, 2),
               "wall_seconds": round(wall, 2)}
    for seed in seeds:
        train = draw_demand(prob, np.random.default_rng([seed, 0]), n_paths=sim.train_paths,
                            horizon=sim.train_horizon)
        test = draw_demand(prob, np.random.default_rng([seed, 1]), n_paths=sim.paths,
                           horizon=sim.horizon)
        policies: dict[str, tuple[Any, dict[str, Any]]] = {}
        # base-stock is always optimised: every ratio refers to it
        for name, family in (("base_stock", "order-up-to"), ("capped_base_stock", "capped-base-stock")):
            if name == "base_stock" or name in methods:
                s, cpu, wall = _timed(lambda f=family, d=train: optimize_by_simulation(
                    prob, f, demand=d, warmup=sim.train_warmup))
                policies[name] = (s.policy, {"params": s.params, "train_cost": s.average_cost,
                                             "cpu_seconds": round(cpu, 2), "wall_seconds": round(wall, 2)})
        if "myopic" in methods and inst.lead_time <= myopic_max_lead:
            policies["myopic"] = (Myopic(problem=prob), {"params": {}})
        for method in (m for m in LEARNERS if m in methods):
            policies[method] = _learn(method, prob, seed, dcl_options=dcl_options,
                                      dqn_options=dqn_options, optimum=opt)
        runs = {name: simulate(prob, pol, demand=test, warmup=sim.warmup)
                for name, (pol, _) in policies.items()}
        bs = runs["base_stock"].path_costs
        for name, res in runs.items():
            if name == "base_stock" and "base_stock" not in methods:
                continue
            ratio, ratio_ci = _ratio_ci(res.path_costs, bs)
            out = {**base, "method": name, "seed": seed, "average_cost": res.average_cost,
                   "ci95": list(res.ci95), "ratio_to_base_stock": ratio,
                   "ratio_ci95": list(ratio_ci), "paths": res.n_paths, "horizon": res.horizon,
                   "warmup": res.warmup, **policies[name][1]}
            if opt is not None:
                out["gap"] = (res.average_cost - opt) / opt
            yield out


# =============================================================================
# The whole table
# =============================================================================
def run(instances: list[Instance], seeds: list[int], *, methods: Iterable[str] = METHODS,
        dcl_options: dict | None = None, dqn_options: dict | None = None,
        sim: Simulation | None = None, dp_long: bool = False, myopic_max_lead: int = 6,
        emit: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run ``methods`` on ``instances`` for ``seeds``; ``emit`` gets each row as it is measured.

    Returns ``{"rows": [...], "summary": {...}}`` (:func:`summarize`)."""
    methods = tuple(methods)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {list(METHODS)}")
    sim = sim or Simulation()
    rows: list[dict[str, Any]] = []
    for inst in instances:
        if inst.exact:
            it = run_exact(inst, seeds, methods, dcl_options=dcl_options or {},
                           dqn_options=dqn_options or {})
        else:
            it = run_long(inst, seeds, methods, dcl_options=dcl_options or {},
                          dqn_options=dqn_options or {}, sim=sim, dp_long=dp_long,
                          myopic_max_lead=myopic_max_lead)
        for r in it:
            rows.append(r)
            if emit is not None:
                emit(r)
    config = {"instances": [i.name for i in instances], "seeds": seeds, "methods": list(methods),
              "dcl_options": dcl_options or {}, "dqn_options": dqn_options or {},
              "simulation": asdict(sim), "dp_long": dp_long, "myopic_max_lead": myopic_max_lead}
    return {"rows": rows, "summary": {"summary": True, "config": config, **summarize(rows)}}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per method: over the rows with an exact gap, the mean and max gap and per instance the
    worst seed (largest gap); over the simulated rows, the mean and max ratio to base-stock;
    the mean and max CPU seconds of the runs that report them."""
    out: dict[str, Any] = {}
    for m in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == m]
        s: dict[str, Any] = {"runs": len(mine)}
        exact = [r for r in mine if r.get("exact") and "gap" in r]
        if exact:
            gaps = [r["gap"] for r in exact]
            s["exact_runs"] = len(exact)
            s["mean_gap"], s["max_gap"] = sum(gaps) / len(gaps), max(gaps)
            worst: dict[str, Any] = {}
            for r in exact:
                if r["instance"] not in worst or r["gap"] > worst[r["instance"]]["gap"]:
                    worst[r["instance"]] = {"seed": r["seed"], "gap": r["gap"]}
            s["worst_seed"] = worst
        simulated = [r for r in mine if not r.get("exact")]
        if simulated:
            ratios = [r["ratio_to_base_stock"] for r in simulated]
            s["simulated_runs"] = len(simulated)
            s["mean_ratio_to_base_stock"] = sum(ratios) / len(ratios)
            s["max_ratio_to_base_stock"] = max(ratios)
            sim_gaps = [r["gap"] for r in simulated if "gap" in r]  # L = 6 with --dp-long
            if sim_gaps:
                s["simulated_mean_gap"] = sum(sim_gaps) / len(sim_gaps)
                s["simulated_max_gap"] = max(sim_gaps)
        cpu = [r["cpu_seconds"] for r in mine if "cpu_seconds" in r]
        if cpu:
            s["mean_cpu_seconds"], s["max_cpu_seconds"] = sum(cpu) / len(cpu), max(cpu)
        out[m] = s
    return {"methods": out}


def markdown(rows: list[dict[str, Any]]) -> str:
    """The table: one line per instance, one column per method.  Where the optimum is known: the
    gap to it in % (mean over seeds, the worst seed's in brackets; ``~``: the cost was simulated,
    ``L = 6`` with ``--dp-long``); elsewhere: the cost relative to base-stock (mean over seeds;
    its 95% interval when there is one seed)."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    lines = ["| instance | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for inst in dict.fromkeys(r["instance"] for r in rows):
        cells = []
        for m in methods:
            rs = [r for r in rows if r["instance"] == inst and r["method"] == m]
            if not rs:
                cells.append("")
            elif all("gap" in r for r in rs):
                g = [100 * r["gap"] for r in rs]
                cells.append(("" if rs[0]["exact"] else "~") + f"{sum(g) / len(g):.3f}%"
                             + (f" ({max(g):.3f}%)" if len(g) > 1 else ""))
            else:
                q = [r["ratio_to_base_stock"] for r in rs]
                cell = f"{sum(q) / len(q):.4f}"
                if len(rs) == 1 and "ratio_ci95" in rs[0]:
                    lo, hi = rs[0]["ratio_ci95"]
                    cell += f" [{lo:.4f}, {hi:.4f}]"
                cells.append(cell)
        lines.append(f"| {inst} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def learner_config(method: str, options: dict[str, Any]) -> dict[str, Any]:
    """The complete configuration (every field, defaults filled in) that ``options`` give the
    learner ``method``: two option sets that differ only by defaults spelled out are the same."""
    if method == "dcl":
        from replenish.solvers.dcl import DCLConfig

        return DCLConfig.from_dict(options).to_dict()
    from replenish.solvers.base import learner_options
    from replenish.solvers.dqn.config import DQNConfig
    from replenish.solvers.dqn.method import RUN_KEYS

    # as the dqn method reads its table; the run options (logdir, ...) do not change results
    return learner_options(options, DQNConfig, RUN_KEYS, "dqn", variant_field="objective").config.to_dict()


def merge(parts: list[dict[str, Any]], names: list[str] | None = None) -> dict[str, Any]:
    """One result from the ``--out`` files of runs of parts of the table (instances or seeds run
    in separate processes or sessions): their rows, and the summary recomputed over all of them.

    Refuses (``ValueError``) a (instance, method, seed) measured twice, and a learner run with
    different options in two parts (a table must come from one configuration); parts that do
    not run a learner may differ in its options.  Rows are sorted by demand, ``L``, ``p``, method
    and seed; ``summary["config"]["merged"]`` lists each part's own config (``names[i]``: where
    it came from)."""
    names = names or [f"part {i}" for i in range(len(parts))]
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[Any, ...], str] = {}
    learner_cfg: dict[str, tuple[dict[str, Any], str]] = {}
    for part, name in zip(parts, names, strict=True):
        if not isinstance(part, dict) or "rows" not in part or "summary" not in part:
            raise ValueError(f"{name}: not a frontier.py --out file (no rows and summary)")
        config = part["summary"].get("config", {})
        for r in part["rows"]:
            key = (r["instance"], r["method"], r["seed"])
            if key in seen:
                raise ValueError(f"{name}: {r['instance']} {r['method']} seed {r['seed']} "
                                 f"is also in {seen[key]}")
            seen[key] = name
            rows.append(r)
        for m in dict.fromkeys(r["method"] for r in part["rows"] if r["method"] in LEARNERS):
            mine = learner_config(m, config.get(f"{m}_options", {}))
            if m in learner_cfg and learner_cfg[m][0] != mine:
                first, where = learner_cfg[m]
                diff = sorted(k for k in mine if mine[k] != first.get(k))
                raise ValueError(f"{name}: {m} options differ from {where}'s in {diff}")
            learner_cfg.setdefault(m, (mine, name))
    # the table's order: demand, L, p, then method and seed (glob order is no order)
    rows.sort(key=lambda r: (DEMANDS.index(r["demand"]) if r.get("demand") in DEMANDS else len(DEMANDS),
                             r.get("lead_time", 0), r.get("p", 0.0),
                             METHODS.index(r["method"]) if r["method"] in METHODS else len(METHODS),
                             -1 if r["seed"] is None else r["seed"]))
    merged = [{"part": n, "config": p["summary"].get("config", {})}
              for p, n in zip(parts, names, strict=True)]
    config = {"merged": merged, **{f"{m}_config": c for m, (c, _) in learner_cfg.items()}}
    return {"rows": rows, "summary": {"summary": True, "config": config, **summarize(rows)}}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--instances", default="all",
                    help="demand:L:p,... (e.g. poisson:2:9,geometric:3:19,poisson:8:4) or a group: "
                         "all, zipkin, geometric, long")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds")
    ap.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, of {METHODS}")
    ap.add_argument("--dcl-options", default="{}", help="DCLConfig fields as JSON")
    ap.add_argument("--dqn-options", default="{}", help="DQN options as JSON ([dqn] keys)")
    ap.add_argument("--dqn-config", type=Path, default=None,
                    help="a replenish TOML config whose [dqn] table gives the DQN options "
                         "(--dqn-options entries override them)")
    ap.add_argument("--merge", type=Path, nargs="+", default=None, metavar="FILE",
                    help="instead of running: merge --out files of parts of the table, print "
                         "the rows and the summary over all of them (and --out, --markdown)")
    ap.add_argument("--dp-long", action="store_true",
                    help="solve L = 6 exactly by the matrix-free DP (minutes per instance)")
    ap.add_argument("--myopic-max-lead", type=int, default=6,
                    help="simulate the myopic policy up to this lead time")
    ap.add_argument("--simulation", default="{}",
                    help="simulation sizes of the long instances as JSON "
                         f"(fields of Simulation: {asdict(Simulation())})")
    ap.add_argument("--out", type=Path, default=None, help="write rows and summary as one JSON file")
    ap.add_argument("--markdown", action="store_true", help="print the Markdown table at the end")
    args = ap.parse_args(argv)
    if args.merge is not None:
        try:
            parts = [json.loads(f.read_text()) for f in args.merge]
            result = merge(parts, [str(f) for f in args.merge])
        except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
            ap.error(f"--merge: {exc}")
        for r in result["rows"]:
            print(json.dumps(r), flush=True)
    else:
        try:
            instances = parse_instances(args.instances)
            seeds = parse_seeds(args.seeds)
            dqn_options = json.loads(args.dqn_options)
            if args.dqn_config is not None:
                from replenish import load_config

                dqn_options = {**load_config(args.dqn_config).sections.get("dqn", {}), **dqn_options}
            dcl_options = json.loads(args.dcl_options)
            from replenish.solvers.catalogue import method_spec

            for name, opts in (("dcl", dcl_options), ("dqn", dqn_options)):
                method_spec(name).check_options(opts)  # a typo fails now, not after the DP
        except ValueError as exc:  # SpecError (a bad config) is a ValueError too
            ap.error(str(exc))
        except OSError as exc:
            ap.error(f"--dqn-config: {exc}")
        result = run(instances, seeds, methods=[m for m in args.methods.split(",") if m],
                     dcl_options=dcl_options, dqn_options=dqn_options,
                     sim=Simulation(**json.loads(args.simulation)), dp_long=args.dp_long,
                     myopic_max_lead=args.myopic_max_lead,
                     emit=lambda r: print(json.dumps(r), flush=True))
    print(json.dumps(result["summary"]), flush=True)
    if args.out is not None:
        from replenish.core.io import atomic_write, dumps_json

        atomic_write(args.out, dumps_json(result) + "\n")
    if args.markdown:
        print(markdown(result["rows"]), file=sys.stdout, flush=True)


if __name__ == "__main__":
    main()
