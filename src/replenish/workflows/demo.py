"""``replenish demo``: every method end to end, printed as tables and written as a report.

Two parts:

* **the bike shop** (``data/bike_shop.toml``): the DP optimum (16.1830/day),
  tabular Q-learning (the source design's ``seed`` variant and the
  ``default`` one), DQN, order-up-to 10 (the source's simple policy,
  23.6072/day), and the best order-up-to, (s, S), (s, Q), capped base-stock,
  constant-order and myopic policies, each evaluated exactly;
* **a bakery series** (``data/bakery.toml``, one product of the bundled
  sample): every method learns on 2016 and is replayed on the actual sales of
  2017 (:mod:`replenish.compare`): static policies (order-up-to, (s, S)) vs
  weekday-aware ones (weekday base-stock, the DP on the weekday model) vs DQN.

Both go into one report (``OUT/report.html``, :mod:`replenish.report`), with
the policies saved in ``OUT/policies`` for ``replenish recommend`` and
``replenish explain``.  Budgets: under 3 minutes on 2 cores; ``quick`` trims
Q-learning's steps, leaves DQN out and runs only order-up-to and the DP on the
bakery, to stay under 30 s.  :func:`run_demo` returns a :class:`DemoResult`;
``replenish demo`` (:mod:`replenish.cli.demo`) prints it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from replenish.core.io import atomic_write, dumps_json
from replenish.solvers.catalogue import SolveResult, solve
from replenish.workflows.config import bundled_config, load_config


def _bike_runs(quick: bool) -> list[tuple[str, str, dict[str, Any]]]:
    ql_steps = 200_000 if quick else 1_000_000
    runs: list[tuple[str, str, dict[str, Any]]] = [
        ("DP optimum", "dp", {}),
        ("Q-learning (seed)", "qlearning", {"variant": "seed", "steps": ql_steps}),
        ("Q-learning (default)", "qlearning", {"variant": "default", "steps": ql_steps}),
        ("DQN", "dqn", {"steps": 50_000, "eval_every": 10_000}),
        ("order-up-to 10", "order-up-to", {"level": 10}),
        ("best order-up-to", "order-up-to", {}),
        ("best (s, S)", "sS", {}),
        ("best capped base-stock", "capped-base-stock", {}),
    ]
    if quick:  # DQN needs tens of thousands of steps to be worth showing
        return [*(r for r in runs if r[1] != "dqn"), ("myopic", "myopic", {})]
    return [*runs, ("best (s, Q)", "sQ", {}), ("best constant order", "constant-order", {}),
            ("myopic", "myopic", {})]


def _bakery_methods(quick: bool) -> tuple[list[str], dict[str, dict[str, Any]]]:
    if quick:
        return ["order-up-to", "forecast-base-stock", "dp"], {}
    # weekday base-stock: the simulation search finds levels within 0.1% of the exact
    # coordinate search (model cost 26.69 vs 26.66 $/day) in a quarter of the time
    return (["order-up-to", "sS", "weekday-base-stock", "forecast-base-stock", "lookahead", "dp", "dqn"],
            {"weekday-base-stock": {"search": "simulation", "n_paths": 30, "horizon": 400},
             "dqn": {"steps": 40_000, "eval_every": 2000, "demand_features": True,
                     "dueling": True, "post_decision": True, "lr_final": 1e-5,
                     "target_update": 1000, "cost_scale": "demand"}})


@dataclass(frozen=True)
class DemoResult:
    """What the demo computed and wrote.

    Attributes:
        problem: the bike shop problem.
        rows: the bike shop results as ``solve --json`` objects, each with its ``label``.
        results: the bike shop :class:`~replenish.solvers.catalogue.SolveResult` s, in ``rows`` order.
        comparison: the bakery :class:`~replenish.workflows.compare.Comparison` (``None`` if skipped).
        out: the output folder (results JSON, ``policies/``, the report).
        report: path of ``report.html`` (``None`` without a report).
        seconds: wall time of the whole demo.
        decisions: the decision of each part (:mod:`replenish.workflows.decision`): the bike
            shop on long-run costs, the bakery on its test-window replay.
    """

    problem: Any
    rows: list[dict[str, Any]]
    results: list[SolveResult]
    comparison: Any
    out: Path
    report: Path | None
    seconds: float
    decisions: tuple[Any, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The object ``replenish demo --json`` prints."""
        return {"bike_shop": self.rows,
                "bakery": self.comparison.to_json() if self.comparison is not None else None,
                "report": str(self.report) if self.report else None, "seconds": self.seconds,
                "decisions": [d.to_json() for d in self.decisions]}


def run_demo(*, quick: bool = False, out: Path = Path("demo-output"), progress: bool = True,
             report: bool = True, bakery: bool = True,
             log: Callable[[str], None] | None = None) -> DemoResult:
    """Run the demo: solve the bike shop with every method, compare methods on a bakery series.

    Args:
        quick: small budgets (see the module docstring).
        out: output folder: ``bike_shop_results.json``, ``bakery_results.json``,
            ``policies/`` and the report (``report.html``).
        progress: progress bars of the learners.
        report: write the HTML report.
        bakery: run the bakery part.
        log: receives one line per step (``"[ 12.3 s] [bike shop 2/8] ..."``); the
            CLI prints them on stderr.
    """
    t_start = time.perf_counter()

    def note(msg: str) -> None:
        if log is not None:
            log(f"[{time.perf_counter() - t_start:5.1f} s] {msg}")

    cfg = load_config(bundled_config("bike_shop.toml"))
    problem = cfg.problem
    out = Path(out)
    runs = _bike_runs(quick)
    rows: list[dict[str, Any]] = []
    results: list[SolveResult] = []
    labels: list[str] = []
    for i, (label, method, opts) in enumerate(runs, 1):
        note(f"[bike shop {i}/{len(runs)}] {label} ...")
        res = solve(problem, method, options=opts, seed=0, progress=progress)
        row = res.to_json()
        row["label"] = label
        rows.append(row)
        results.append(res)
        labels.append(label)
        res.policy.save(out / "policies" / f"bike-shop-{method}"
                        f"{'-' + opts['variant'] if 'variant' in opts else ''}"
                        f"{'-10' if opts.get('level') == 10 else ''}{res.policy.file_suffix}")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "bike_shop_results.json", dumps_json(rows))

    comp = _run_bakery(quick, out, progress, note) if bakery else None
    from replenish.workflows.decision import decide, decide_comparison

    decisions = [decide(results, labels, subject="Bike shop")]
    if comp is not None and any(r.solve is not None for r in comp.results):
        decisions.append(decide_comparison(comp))
    rep = None
    if report:
        from replenish.workflows.report import ReportSection, write_report

        note("writing the report ...")
        sections = [ReportSection(results=results, labels=labels, title="Bike shop")]
        if comp is not None:
            ok = [r for r in comp.results if r.solve is not None]
            if ok:
                sections.append(ReportSection(results=[r.solve for r in ok], labels=[r.method for r in ok],
                                              title="Bakery: learn 2016, replay 2017",
                                              comparison=comp))
        rep = write_report(sections, out, title="replenish demo: bike shop and bakery", svg=not quick).html
    return DemoResult(problem=problem, rows=rows, results=results, comparison=comp, out=out,
                      report=rep, seconds=time.perf_counter() - t_start, decisions=tuple(decisions))


def _run_bakery(quick: bool, out: Path, progress: bool, note: Callable[[str], None]) -> Any:
    """The bakery comparison: learn on 2016, replay on 2017."""
    from replenish.workflows.compare import compare

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "rounded N fractional values" is expected
        cfg = load_config(bundled_config("bakery.toml"))
    methods, options = _bakery_methods(quick)
    n = len(methods)
    done = [0]

    def on_result(row: Any) -> None:
        done[0] += 1
        if row.error is not None:
            note(f"[bakery {done[0]}/{n}] {row.method}: not run ({row.error})")
        else:
            note(f"[bakery {done[0]}/{n}] {row.method}: test {row.test.average_cost:.2f} $/day")

    note(f"[bakery] {', '.join(methods)}: learning on the training window ...")
    comp = compare(cfg.problem, cfg.history, methods, options=options, seed=0, progress=progress,
                   on_result=on_result, context=cfg.context)
    for r in comp.results:
        if r.policy is not None:
            r.policy.save(out / "policies" / f"bakery-{r.method}{r.policy.file_suffix}")
    atomic_write(out / "bakery_results.json", dumps_json(comp.to_json()))
    return comp
