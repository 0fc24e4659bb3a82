"""``replenish fleet``: every store × product series, train window → test window, in parallel."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from replenish.cli.common import add_quiet, print_json
from replenish.core.io import check_output_folder
from replenish.core.validate import require
from replenish.workflows.fleet import (
    DEFAULT_FLEET_METHODS,
    ENGINES,
    TABLE_CSV,
    TABLE_PARQUET,
    load_fleet_config,
    run_fleet,
    validate_fleet_config,
)


def add_fleet(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="TOML file with [demand] kind = \"history\" (windows, columns, costs)")
    p.add_argument("--data", type=Path, help="sales file with every series (default: [fleet] data, "
                                             "else [demand] file)")
    p.add_argument("--group-by", help="comma-separated columns identifying a series (default: "
                                      "[fleet] group_by, else the [demand] filter's columns)")
    p.add_argument("--methods", help="comma-separated methods (default: [fleet] methods, else "
                                     + ",".join(DEFAULT_FLEET_METHODS) + ")")
    p.add_argument("--engine", choices=ENGINES,
                   help="serial (one series after another in this process: simplest, for debugging), "
                        "local (default: a pool of --workers processes) or ray (a local or --address "
                        "cluster)")
    p.add_argument("--address", help="Ray cluster address (default: start a local Ray instance)")
    p.add_argument("--workers", type=int, help="worker processes / local Ray CPUs (default 2)")
    p.add_argument("--out", type=Path, default=Path("fleet-output"),
                   help="results folder (default fleet-output): fleet.csv (one row per series), "
                        "summary.json/.txt and the report (report.html with the decision at the "
                        "top, fleet_ratios.png); every file is written atomically; rerunning resumes")
    p.add_argument("--seed", type=int, help="run seed (default 0); series seeds derive from it")
    p.add_argument("--limit", type=int, help="only the first N series (key order)")
    p.add_argument("--retry-failed", action="store_true", help="rerun series recorded as failed")
    add_quiet(p)
    p.add_argument("--json", action="store_true", help="print the run and summary as JSON")


def cmd_fleet(args: argparse.Namespace) -> int:
    check_output_folder(args.out, "--out")
    config = validate_fleet_config(load_fleet_config(args.config))
    fleet = config.get("fleet", {})
    demand = config["demand"]
    data = args.data if args.data is not None else fleet.get("data", demand.get("file"))
    require(data is not None, "--data", None, "give the sales file (--data or [fleet] data)")
    if args.group_by is not None:
        group_by = [c.strip() for c in args.group_by.split(",") if c.strip()]
    else:
        group_by = fleet.get("group_by") or list(dict(demand.get("filter", {})))
    require(isinstance(group_by, list) and len(group_by) >= 1
            and all(isinstance(c, str) for c in group_by), "--group-by", group_by,
            "give the columns identifying a series (e.g. store,product)")
    if args.methods is not None:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    else:
        methods = fleet.get("methods", list(DEFAULT_FLEET_METHODS))
    require(isinstance(methods, list) and all(isinstance(m, str) for m in methods), "fleet.methods",
            methods, "must be a list of method names")
    engine = args.engine or fleet.get("engine", "local")
    workers = args.workers if args.workers is not None else fleet.get("workers", 2)
    seed = args.seed if args.seed is not None else fleet.get("seed", 0)
    address = args.address or fleet.get("address")
    if address is not None:
        require(engine == "ray", "--address", address, "only with --engine ray")
    run = run_fleet(config, data, group_by=group_by, out=args.out, methods=methods, engine=engine,
                    workers=workers, address=address, seed=seed,
                    progress=not (args.quiet or args.json), retry_failed=args.retry_failed,
                    limit=args.limit, log=lambda msg: print(msg, file=sys.stderr))
    if args.json:
        print_json(run.to_json())
    else:
        print(f"{run.ran} series run, {run.skipped} already done, {run.failed} failed, "
              f"{run.crashed} lost to crashed workers; {run.seconds:.1f} s ({engine}"
              + (")" if engine == "serial" else f", {workers} workers)"))
        print(run.summary.text())
        from replenish.workflows.decision import decide_fleet

        decision = decide_fleet(run.summary)
        if decision is not None:
            print()
            print("\n".join(decision.lines()))
        print(f"table: {run.out / TABLE_PARQUET} and {run.out / TABLE_CSV}; "
              f"report: {run.out / 'report.html'}")
    return 1 if run.crashed else 0
