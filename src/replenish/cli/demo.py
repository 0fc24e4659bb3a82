"""``replenish demo``: the bike shop and a bakery series end to end, with an HTML report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from replenish.cli.common import add_quiet, format_results, print_json

#: Wall time of ``replenish demo`` (minutes, low–high) on a 2-core machine; printed before the demo
#: starts.  Measured with ``time replenish demo [--quick] > log 2>&1`` on a shared 2-core machine
#: (another benchmark running): --quick 39 s (95 s on the first run, which compiles the numba
#: kernels), the full demo 424 s (DQN 134 s on the bike shop, 202 s on the bakery); the issue's
#: ``make demo`` on an idle machine took about 5 minutes.
EXPECTED_MINUTES = {"quick": (0.5, 1.5), "full": (5.0, 8.0)}


def _about(quick: bool) -> str:
    lo, hi = EXPECTED_MINUTES["quick" if quick else "full"]
    return f"about {lo:g}–{hi:g} min on 2 cores"


def add_demo(p: argparse.ArgumentParser) -> None:
    p.description = (
        "The bike shop (DP optimum, tuned classic rules, myopic, Q-learning in two variants, DQN) "
        "and a bakery series of the bundled sample (learn on 2016, replay on the sales of 2017), end "
        f"to end: an HTML report in OUT/report.html and the policies in OUT/policies. Takes {_about(False)}; "
        f"--quick ({_about(True)}) trims Q-learning, leaves DQN out and runs two bakery methods.")
    p.add_argument("--quick", action="store_true",
                   help=f"smaller budgets ({_about(True)}; the full demo: {_about(False)})")
    p.add_argument("--out", type=Path, default=Path("demo-output"),
                   help="output folder (default demo-output): the report (report.html with the "
                        "decision at the top, its figures as PNG/SVG, results.json/.csv), the "
                        "results JSON and policies/; every file is written atomically")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    add_quiet(p)


def cmd_demo(args: argparse.Namespace) -> int:
    from replenish.core.io import check_output_folder

    check_output_folder(args.out, "--out")
    from replenish.solvers.catalogue import METHODS
    from replenish.workflows.compare import header
    from replenish.workflows.config import bundled_config
    from replenish.workflows.demo import run_demo

    quiet = args.quiet or args.json

    def log(line: str) -> None:
        if not quiet:
            print(line, file=sys.stderr, flush=True)

    if not quiet:
        tip = "" if args.quick else "; for a first look: replenish demo --quick"
        print(f"replenish demo{' --quick' if args.quick else ''}: {_about(args.quick)}{tip}",
              file=sys.stderr, flush=True)
    res = run_demo(quick=args.quick, out=args.out, progress=not quiet, log=log)
    if args.json:
        print_json(res.to_json())
        return 0
    p, out = res.problem, res.out
    print(f"Bike shop ({p.name}): capacity {p.capacity}, lead time {p.lead_time}, Poisson demand, "
          f"h = {p.holding_cost}, p = {p.stockout_cost}; long-run average cost per day")
    print(format_results(res.rows))
    if any(METHODS[r.method].learned for r in res.results):
        print("learners: one training run each (seed 0; Q-learning (seed) = the source's algorithm); "
              "README's Q-learning figures are means over 10 seeds")
    print("policies: " + "; ".join(f"{row['label']} = {r.policy.describe()}"
                                   for row, r in zip(res.rows, res.results, strict=True)
                                   if METHODS[r.method].family in ("classic", "heuristic")))
    print()
    if res.comparison is not None:
        print("Bakery: " + header(res.comparison))
        print(res.comparison.table())
        print()
    for d in res.decisions:
        print(f"Decision — {d.subject}:")
        print("\n".join("  " + line for line in d.lines()))
    print()
    print(f"results written to {out / 'bike_shop_results.json'}"
          + (f" and {out / 'bakery_results.json'}" if res.comparison is not None else ""))
    if res.report is not None:
        print(f"report: {res.report}")
    print(f"try: replenish recommend --policy {out / 'policies' / 'bike-shop-dp.json'} --on-hand 3 "
          "--in-transit 2")
    print(f"     replenish explain {bundled_config('bike_shop.toml')} --policy "
          f"{out / 'policies' / 'bike-shop-order-up-to.json'} --state 3,2")
    print(f"demo finished in {res.seconds:.0f} s")
    return 0
