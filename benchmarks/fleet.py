"""Fleet benchmark: every bakery series, serial vs a local process pool vs Ray; kill and resume.

For the store × product series of ``../shared/data/bakery_daily_demand.csv.gz``
(105 series of real daily sales, ddop2 package, Apache-2.0) the fleet pipeline
(:mod:`replenish.fleet`: fit on 2016, tune the classic policies and solve the
DP on the fitted model, replay on 2017; costs of ``configs/bakery.toml``: lead
time 1, lost sales, h = 1, p = 9, K = 0) runs with each engine into a fresh
folder, and the script reports:

* ``engines``: wall time per engine, the speed-up over ``serial`` (the
  reference, measured in the same run), and the load average of the machine
  before and after (other work on the machine distorts the speed-up: compare
  ``load_before`` with the core count);
* ``same_table``: the tables of all engines are equal (series seeds do not
  depend on the engine; timing columns excluded);
* ``per_series_seconds``: distribution of the measured per-series time (one
  thread each) and ``estimate``: the time for ``--estimate-series`` series
  (default 10,000) on clusters of ``N`` workers, from those measurements:
  ``T(N) = n·t̄/(N·e) + t_max + t_0`` with ``t̄`` the mean per-series time of
  the serial run, ``e`` the parallel efficiency measured here (speed-up /
  workers, capped at 1), ``t_max`` the longest single series (no number of
  workers shortens it) and ``t_0`` the engine's overhead measured here (wall
  time minus the series' time divided among the workers: start-up, imbalance);
* ``kill``: a ``replenish fleet --engine local`` subprocess is killed with
  SIGKILL (its whole process group, workers included) once about half of the
  series are in the journal, rerun to completion, and its final table is
  compared with the uninterrupted run's (same seeds): equal, no duplicate
  series in the table or the journal, nothing lost.

Output: progress on stderr, one JSON object on stdout (also ``--out``).  The
full run (all 105 series, three engines and the kill test) takes about 35
minutes on 2 cores; the heaviest series (store 34, product 101: 800 units a day,
bound 3,460 units) needs about 45 s and 2.3 GB.  For a quick look, measure a
subset (``--series 16`` picks evenly spaced series in key order; ``--max-mean
150`` leaves out the series selling hundreds of units a day).

Usage::

    python benchmarks/fleet.py                       # all 105 series, all engines, kill test
    python benchmarks/fleet.py --series 16 --engines serial,local,ray
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "bakery_daily_demand.csv.gz"
CONFIG = ROOT / "configs" / "bakery.toml"
METHODS = "sS,order-up-to,weekday-base-stock,dp"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def subset_file(data: Path, n: int | None, folder: Path,
                max_mean: float | None = None) -> tuple[Path, list[str]]:
    """A copy of ``data`` with ``n`` evenly spaced series (all when ``None``).

    ``max_mean`` leaves out series selling more than that many units a day on
    average (the largest need minutes and several GB each in the classic
    optimisers' exact evaluation; see the report).
    """
    import pandas as pd

    from replenish.workflows.fleet import discover_series, key_string

    keys = discover_series(data, ["store", "product"])
    if max_mean is not None:
        means = pd.read_csv(data, usecols=["store", "product", "demand"]).groupby(
            ["store", "product"])["demand"].mean()
        keys = [k for k in keys if means[(dict(k)["store"], dict(k)["product"])] <= max_mean]
    if n is not None and n < len(keys):
        keys = [keys[round(i * (len(keys) - 1) / max(n - 1, 1))] for i in range(n)]
    df = pd.read_csv(data)
    pairs = {(dict(k)["store"], dict(k)["product"]) for k in keys}
    df = df[[(s, p) in pairs for s, p in zip(df["store"], df["product"], strict=True)]]
    path = folder / "series.csv.gz"
    df.to_csv(path, index=False)
    return path, [key_string(k) for k in keys]


def stable(df: Any) -> Any:
    from replenish.workflows.fleet import VOLATILE_FIELDS

    keep = [c for c in df.columns if c not in VOLATILE_FIELDS and not c.endswith(".seconds")]
    return df[keep].reset_index(drop=True)


def tables_equal(a: Any, b: Any) -> bool:
    import pandas as pd

    try:
        pd.testing.assert_frame_equal(stable(a), stable(b))
    except AssertionError:
        return False
    return True


def kill_test(cfg_path: Path, data: Path, methods: str, workers: int, folder: Path,
              reference: Any, seed: int) -> dict[str, Any]:
    from replenish.workflows.fleet import JOURNAL, read_journal, read_table

    out = folder / "killed"
    n = len(reference)
    cmd = [sys.executable, "-m", "replenish", "fleet", str(cfg_path), "--data", str(data),
           "--group-by", "store,product", "--methods", methods, "--engine", "local",
           "--workers", str(workers), "--seed", str(seed), "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    target = max(1, n // 2)
    t0 = time.perf_counter()
    done = 0
    while proc.poll() is None and time.perf_counter() - t0 < 3600:
        p = out / JOURNAL
        done = len(p.read_bytes().splitlines()) if p.is_file() else 0
        if done >= target:
            break
        time.sleep(0.2)
    killed = proc.poll() is None
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers, mid-series
    proc.wait()
    at_kill, _ = read_journal(out)
    log(f"kill test: killed={killed} after {len(at_kill)}/{n} series; resuming")
    rerun = subprocess.run([*cmd[:-1], "--json"], capture_output=True, text=True, check=False)
    info = json.loads(rerun.stdout) if rerun.returncode == 0 else {"error": rerun.stderr[-2000:]}
    final = read_table(out)
    lines = (out / JOURNAL).read_text().splitlines()
    series_in_journal = [json.loads(x)["series"] for x in lines]
    return {"killed": killed, "series_done_at_kill": len(at_kill), "series": n,
            "rerun_exit_code": rerun.returncode, "rerun_skipped": info.get("skipped"),
            "rerun_ran": info.get("ran"),
            "table_rows": len(final), "duplicates_in_table": int(final["series"].duplicated().sum()),
            "journal_lines": len(lines),
            "duplicates_in_journal": len(series_in_journal) - len(set(series_in_journal)),
            "equals_uninterrupted": tables_equal(final, reference)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--series", type=int, default=None, help="evenly spaced subset (default: all)")
    ap.add_argument("--max-mean", type=float, default=None,
                    help="only series selling at most this many units/day on average")
    ap.add_argument("--methods", default=METHODS)
    ap.add_argument("--engines", default="serial,local,ray")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-kill", action="store_true", help="skip the kill/resume test")
    ap.add_argument("--estimate-series", type=int, default=10_000)
    ap.add_argument("--clusters", default="2,16,64,256", help="worker counts of the estimate")
    ap.add_argument("--folder", type=Path, default=None, help="keep the results here (default: temp)")
    ap.add_argument("--out", type=Path, default=None, help="write the JSON result here too")
    args = ap.parse_args(argv)
    if not args.data.is_file():
        log(f"data not found: {args.data}")
        return 2
    from replenish.workflows.fleet import run_fleet

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    tmp = tempfile.TemporaryDirectory(prefix="fleet-bench-")
    folder = args.folder or Path(tmp.name)
    folder.mkdir(parents=True, exist_ok=True)
    data, keys = subset_file(args.data, args.series, folder, args.max_mean)
    with CONFIG.open("rb") as fh:
        config = tomllib.load(fh)
    for k in ("compare", "dqn"):
        config.pop(k, None)
    cfg_path = folder / "fleet.toml"
    cfg_path.write_text(CONFIG.read_text().replace('"../src/replenish/data/bakery_sample.csv.gz"',
                                                   json.dumps(str(data))))
    log(f"{len(keys)} series, methods {methods}, engines {engines}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.2f}")
    results: dict[str, Any] = {}
    tables: dict[str, Any] = {}
    for eng in engines:
        load0 = os.getloadavg()
        t0 = time.perf_counter()
        run = run_fleet(config, data, group_by=["store", "product"], out=folder / eng,
                        methods=methods, engine=eng, workers=1 if eng == "serial" else args.workers,
                        seed=args.seed, progress=True, log=log)
        wall = time.perf_counter() - t0
        tables[eng] = run.table
        results[eng] = {"wall_seconds": wall, "ran": run.ran, "skipped": run.skipped,
                        "failed": run.failed, "workers": run.workers,
                        "sum_series_seconds": float(run.table["seconds"].sum()),
                        "load_before": list(load0), "load_after": list(os.getloadavg())}
        log(f"{eng}: {wall:.1f} s ({run.ran} run, {run.skipped} skipped, {run.failed} failed), "
            f"load {load0[0]:.2f} -> {os.getloadavg()[0]:.2f}")
    ref = "serial" if "serial" in results else None
    for r in results.values():
        if ref is not None and r["ran"] and results[ref]["ran"]:
            r["speedup_vs_serial"] = results[ref]["wall_seconds"] / r["wall_seconds"]
    first = next(iter(tables.values()))
    same = {e: tables_equal(t, first) for e, t in tables.items()}
    base = tables[ref] if ref else first
    secs = base["seconds"].to_numpy(dtype=float)
    per = {"mean": float(secs.mean()), "median": float(np.median(secs)),
           "p90": float(np.percentile(secs, 90)), "max": float(secs.max()), "n": int(secs.size)}
    par = [r["speedup_vs_serial"] / r["workers"] for e, r in results.items()
           if e != "serial" and "speedup_vs_serial" in r]
    eff = min(1.0, max(par)) if par else 1.0
    # wall time not explained by the series themselves: worker start-up, imbalance at the end
    startup = {e: max(0.0, r["wall_seconds"] - r["sum_series_seconds"] / r["workers"])
               for e, r in results.items() if e != "serial"}
    est = {}
    for n_workers in [int(x) for x in args.clusters.split(",")]:
        t = args.estimate_series * per["mean"] / n_workers / eff + per["max"] + \
            max(startup.values(), default=0.0)
        est[str(n_workers)] = {"seconds": t, "hours": t / 3600}
    out: dict[str, Any] = {
        "benchmark": "fleet", "data": args.data.name, "series": len(keys), "methods": methods,
        "max_mean": args.max_mean, "series_keys": keys,
        "seed": args.seed, "cores": os.cpu_count(), "engines": results, "same_table": same,
        "per_series_seconds": per, "parallel_efficiency": eff,
        "estimate": {"series": args.estimate_series, "per_series_mean_seconds": per["mean"],
                     "formula": "n*mean/(N*efficiency) + max + overhead", "overhead_seconds": startup,
                     "workers": est}}
    from replenish.workflows.fleet import summarize

    summary = summarize(base, methods)
    out["summary"] = summary.to_json()
    log(summary.text())
    if not args.no_kill:
        out["kill"] = kill_test(cfg_path, data, ",".join(methods), args.workers, folder, base, args.seed)
        log(f"kill test: {out['kill']}")
    out["load_end"] = list(os.getloadavg())
    text = json.dumps(out, default=lambda x: x.item() if isinstance(x, np.generic) else str(x))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    ok = all(same.values()) and (args.no_kill or (out["kill"]["equals_uninterrupted"]
                                                  and out["kill"]["duplicates_in_table"] == 0))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
