"""``replenish compare``: learn on the training window, replay every policy on the test window."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from replenish.cli.common import add_quiet, print_json
from replenish.core.io import check_output_folder
from replenish.core.validate import SpecError, require
from replenish.solvers.catalogue import METHODS
from replenish.workflows.compare import DEFAULT_METHODS, MethodComparison, compare, header


def add_compare(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="TOML file with [demand] kind = \"history\"")
    p.add_argument("--methods", help="comma-separated methods (default: [compare] methods, else "
                                     + ",".join(DEFAULT_METHODS) + ")")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--report", type=Path, help="folder for compare.json/.txt, the replay CSV, "
                                               "policies and a plot")
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
                               options=options, seed=args.seed, progress=not quiet, on_result=note)
        if args.report is not None:
            from replenish.workflows.report import write_rolling_report

            write_rolling_report(roll, args.report)
        if args.json:
            print_json(roll.to_json())
        else:
            for o in roll.origins:
                print(header(o.comparison))
                print(o.comparison.table())
                print()
            print(f"total over {len(roll.origins)} origins")
            print(roll.table())
            if args.report is not None:
                print(f"report written to {args.report}")
        return 0 if any(r.error is None for o in roll.origins for r in o.comparison.results) else 2
    comp = compare(cfg.problem, cfg.history, methods, options=options, seed=args.seed,
                   progress=not quiet, on_result=note, context=cfg.context)
    if args.report is not None:
        from replenish.workflows.report import write_comparison_report

        write_comparison_report(comp, args.report)
    if args.json:
        print_json(comp.to_json())
    else:
        print(header(comp))
        print(comp.table())
        if args.report is not None:
            print(f"report written to {args.report}")
    return 0 if any(r.error is None for r in comp.results) else 2
