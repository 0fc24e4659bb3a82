"""``replenish compare``: learn on the training window, replay every policy on the test window."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from replenish.cli.common import REPORT_HELP, add_quiet, print_json
from replenish.core.io import check_output_folder
from replenish.core.validate import SpecError, require
from replenish.solvers.catalogue import METHODS
from replenish.workflows.compare import DEFAULT_METHODS, MethodComparison, compare, header


def add_compare(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="TOML file with [demand] kind = \"history\"")
    p.add_argument("--methods", help="comma-separated methods (default: [compare] methods, else "
                                     + ",".join(DEFAULT_METHODS) + ")")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--report", type=Path,
                   help=REPORT_HELP + "; compare adds compare.json/.txt, the policy files and the "
                        "test-window replay (test_replay.csv/.png); with [compare] origins, "
                        "report.html (also index.html) sums up the origins and origin-DATE/ holds "
                        "each origin's report")
    p.add_argument("--reference", help="method the decision's saving is measured against "
                                       "(default sS, else order-up-to)")
    p.add_argument("--seed", type=int, default=0, help="random seed of every method (default 0)")
    p.add_argument("--steps", type=int, help="training steps of the learners")
    add_quiet(p)


def methods_from(args_methods: str | None, section: dict[str, Any]) -> list[str]:
    """The method list: ``--methods`` flag, else ``[compare] methods``, else the default."""
    if args_methods is not None:
        ms = [m.strip() for m in args_methods.split(",") if m.strip()]
        require(len(ms) >= 1, "--methods", args_methods, "give at least one method")
        return ms
    ms = section.get("methods", list(DEFAULT_METHODS))
    require(isinstance(ms, list) and all(isinstance(m, str) for m in ms), "compare.methods", ms,
            "must be a list of method names")
    for key in section:
        require(key in ("methods", "origins", "test_days"), f"compare.{key}", section[key],
                "unknown key (expected methods, origins, test_days)")
    return list(ms)


def cmd_compare(args: argparse.Namespace) -> int:

    from replenish.workflows.config import load_config

    check_output_folder(args.report, "--report")
    cfg = load_config(args.config)
    if cfg.history is None:
        raise SpecError("demand.kind", cfg.problem.demand.kind,
                        "compare needs a sales history: [demand] kind = \"history\"")
    if args.steps is not None and args.steps < 1:
        raise SpecError("--steps", args.steps, "must be >= 1")
    methods = methods_from(args.methods, cfg.section("compare"))
    options = {}
    for m in methods:
        opts = cfg.section(m)
        if args.steps is not None and "steps" in METHODS[m].flags:
            opts["steps"] = args.steps
        options[m] = opts
    quiet = args.json or args.quiet

    def note(row: MethodComparison) -> None:
        if row.error is not None:
            print(f"note: {row.method} not run: {row.error}", file=sys.stderr)
        elif not quiet and row.test is not None:
            print(f"  {row.method}: test {row.test.average_cost:.2f} $/day", file=sys.stderr)

    from replenish.workflows.compare import compare_origins, origins_from

    rolling = origins_from(cfg.section("compare"))
    if rolling is not None:
        roll = compare_origins(cfg, methods, origins=rolling[0], test_days=rolling[1],
                               options=options, seed=args.seed, progress=not quiet, on_result=note,
                               reference=args.reference)
        from replenish.workflows.decision import decide_rolling

        try:
            rdec = decide_rolling(roll, reference=args.reference)
        except SpecError as exc:
            print(f"note: no decision: {exc}", file=sys.stderr)
            rdec = None
        if args.report is not None:
            from replenish.workflows.report import write_rolling_report

            write_rolling_report(roll, args.report, decision=rdec)
        if args.json:
            obj = roll.to_json()
            obj["decision"] = rdec.to_json() if rdec is not None else None
            print_json(obj)
        else:
            for o in roll.origins:
                print(header(o.comparison))
                print(o.comparison.table())
                print()
            print(f"total over {len(roll.origins)} origins")
            print(roll.table())
            if rdec is not None:
                print()
                print("\n".join(rdec.lines()))
            if args.report is not None:
                print(f"report written to {args.report}")
        return 0 if any(r.error is None for o in roll.origins for r in o.comparison.results) else 2
    comp = compare(cfg.problem, cfg.history, methods, options=options, seed=args.seed,
                   progress=not quiet, on_result=note, context=cfg.context,
                   reference=args.reference)
    from replenish.workflows.decision import decide_comparison

    dec = (decide_comparison(comp, reference=comp.reference)
           if any(r.error is None for r in comp.results) else None)
    if args.report is not None:
        from replenish.workflows.report import write_comparison_report

        write_comparison_report(comp, args.report, reference=comp.reference)
    if args.json:
        obj = comp.to_json()
        obj["decision"] = dec.to_json() if dec is not None else None
        print_json(obj)
    else:
        print(header(comp))
        print(comp.table())
        if dec is not None:
            print()
            print("\n".join(dec.lines()))
        if args.report is not None:
            print(f"report written to {args.report}")
    return 0 if any(r.error is None for r in comp.results) else 2
