r"""Bakery benchmark: learn on 2016, replay on 2017, for many real store × product series.

For each selected series of ``../shared/data/bakery_daily_demand.csv.gz`` (real
daily unit sales of a German bakery chain, ddop2 package, Apache-2.0) and each
fixed order cost ``K`` (0 and 20 by default), the problem is lead time 1, lost
sales, ``h = 1``, ``p = 9``; the demand model is the per-weekday empirical
distribution of 2016 (:mod:`replenish.history`), the pack size and position
bound follow the data rule documented there.  Every method (``replenish
compare``) is tuned or trained on 2016 only and replayed on the actual sales of
2017 from the same start state.  Reported: each method's 2017 cost relative to
the best static (s, S) policy tuned on 2016 (``sS``; the best static
order-up-to level when the sS optimiser is not available — then said so in the
output), per series and aggregated:

* ``total_ratio``: Σ_series test cost(method) / Σ_series test cost(reference)
  (large series weigh more);
* ``geomean_ratio``: geometric mean of the per-series ratios (each series
  counts once);
* ``wins``: series where the method beats the reference.

Series selection (deterministic): series with sales in 2016, ranked by the
strength of their weekly pattern (coefficient of variation of the seven 2016
weekday means), the ``--series`` strongest (default 24); ``--select spread``
takes evenly spaced ranks instead (weak and strong patterns alike).

Output: progress and a readable table on stderr, one JSON object on stdout
(also written to ``--out``).  Results are cached per (series, K, method) in
``--cache`` (JSON lines) so an interrupted run resumes; ``--jobs 2`` runs
(series, K) pairs in parallel processes.  Measured on 2 shared cores: the
classic methods and the DP for 20 series × 2 K take about 10 minutes; DQN at
60,000 steps with the bakery configs' settings adds 39–121 s per series and K
(27 minutes with ``--jobs 2``).

Perishable bread (``--shelf-life 1``: what is not sold the day it arrives is wasted at
``--waste-cost``, default 1 $ per unit, the ``h`` it replaces): the same table with waste in every
method's cost.

Usage (the bakery configs' DQN settings)::

    python benchmarks/bakery.py --series 20 --jobs 2 --dqn-steps 60000 \
        --dqn-options '{"demand_features": true, "dueling": true, "post_decision": true,
                        "lr_final": 1e-5, "eval_every": 2000, "target_update": 1000,
                        "cost_scale": "demand"}'
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "bakery_daily_demand.csv.gz"
TRAIN = ["2016-01-02", "2016-12-31"]
TEST = ["2017-01-01", "2017-12-31"]
METHODS = "sS,order-up-to,weekday-base-stock,dp,dqn"


def select_series(path: Path, n: int, how: str) -> list[dict[str, Any]]:
    """Store × product series with 2016 sales, ranked by weekly-pattern strength."""
    import pandas as pd

    df = pd.read_csv(path, usecols=["date", "store", "product", "demand"])
    d = pd.to_datetime(df["date"])
    df = df[(d >= TRAIN[0]) & (d <= TRAIN[1])].assign(wd=d.dt.day_of_week)
    prof = df.pivot_table(index=["store", "product"], columns="wd", values="demand", aggfunc="mean")
    prof = prof[prof.sum(axis=1) > 0]
    cv = (prof.std(axis=1, ddof=0) / prof.mean(axis=1)).sort_values(ascending=False)
    keys = list(cv.index)
    if how == "spread" and n < len(keys):
        keys = [keys[round(i * (len(keys) - 1) / (n - 1))] for i in range(n)] if n > 1 else keys[:1]
    else:
        keys = keys[:n]
    return [{"store": int(s), "product": int(p), "weekly_cv": float(cv[(s, p)]),
             "weekday_means_2016": [round(float(x), 2) for x in prof.loc[(s, p)]]} for s, p in keys]


def run_one(series: dict[str, Any], K: float, methods: list[str], *, seed: int,
            dqn: dict[str, Any], perishable: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    from replenish.workflows.compare import compare
    from replenish.workflows.config import config_from_dict

    data = {"name": f"store{series['store']}-product{series['product']}-K{K:g}",
            "problem": {"lead_time": 1, "excess_demand": "lost", "holding_cost": 1,
                        "stockout_cost": 9, "fixed_order_cost": K, **(perishable or {})},
            "demand": {"kind": "history", "file": str(DATA),
                       "filter": {"store": series["store"], "product": series["product"]},
                       "train": TRAIN, "test": TEST}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the rounding of a fractional value is counted in the output
        cfg = config_from_dict(data)
    opts: dict[str, dict[str, Any]] = {"dqn": dict(dqn)} if dqn else {}
    comp = compare(cfg.problem, cfg.history, methods, options=opts, seed=seed, with_optimum=False)
    out = []
    for r in comp.results:
        row: dict[str, Any] = {"store": series["store"], "product": series["product"], "K": K,
                               "method": r.method, "pack": cfg.problem.order_multiple,
                               "bound": cfg.problem.bound, "n_rounded": cfg.history.n_rounded}
        if r.error is not None or r.test is None or r.solve is None or r.train is None:
            row["error"] = r.error
        else:
            row.update({"model_cost": r.solve.average_cost, "train_cost": r.train.average_cost,
                        "test_cost": r.test.average_cost, "test_total_cost": r.test.total_cost,
                        "test_fill_rate": r.test.fill_rate, "test_stockout_days": r.test.stockout_days,
                        "test_average_on_hand": r.test.average_on_hand,
                        "test_breakdown": r.test.breakdown, "seconds": r.solve.seconds,
                        "policy": r.solve.policy.describe()})
        out.append(row)
    return out


def aggregate(rows: list[dict[str, Any]], methods: list[str], ks: list[float]) -> dict[str, Any]:
    """Per K: the reference and each method's total/geomean ratio and wins."""
    agg: dict[str, Any] = {}
    for K in ks:
        by = {}
        for r in rows:
            if r["K"] == K and "test_total_cost" in r:
                by.setdefault((r["store"], r["product"]), {})[r["method"]] = r["test_total_cost"]
        ref = next((m for m in ("sS", "order-up-to") if by and all(m in v for v in by.values())), None)
        res: dict[str, Any] = {"reference": ref, "series": len(by)}
        if ref is None:
            agg[f"K={K:g}"] = res
            continue
        for m in methods:
            pairs = [(v[m], v[ref]) for v in by.values() if m in v]
            if not pairs:
                continue
            ratios = np.array([a / b for a, b in pairs])
            res[m] = {"series": len(pairs),
                      "total_ratio": float(sum(a for a, _ in pairs) / sum(b for _, b in pairs)),
                      "geomean_ratio": float(np.exp(np.mean(np.log(ratios)))),
                      "median_ratio": float(np.median(ratios)),
                      "best_ratio": float(ratios.min()), "worst_ratio": float(ratios.max()),
                      "wins": int((ratios < 1 - 1e-9).sum())}
        agg[f"K={K:g}"] = res
    return agg


def dqn_vs_weekday(rows: list[dict[str, Any]], ks: list[float]) -> dict[str, Any]:
    """DQN's test cost relative to the better of weekday base-stock and DP, per series."""
    out: dict[str, Any] = {}
    for K in ks:
        by: dict[tuple[int, int], dict[str, float]] = {}
        for r in rows:
            if r["K"] == K and "test_total_cost" in r:
                by.setdefault((r["store"], r["product"]), {})[r["method"]] = r["test_total_cost"]
        pairs = []
        for v in by.values():
            best = [v[m] for m in ("weekday-base-stock", "dp") if m in v]
            if "dqn" in v and best:
                pairs.append((v["dqn"], min(best)))
        if pairs:
            ratios = np.array([a / b for a, b in pairs])
            out[f"K={K:g}"] = {"series": len(pairs),
                               "total_ratio": float(sum(a for a, _ in pairs) / sum(b for _, b in pairs)),
                               "geomean_ratio": float(np.exp(np.mean(np.log(ratios)))),
                               "within_2pct": int((ratios <= 1.02).sum())}
    return out


def table(rows: list[dict[str, Any]], methods: list[str], ks: list[float]) -> str:
    lines = []
    for K in ks:
        keyed: dict[tuple[int, int], dict[str, Any]] = {}
        for r in rows:
            if r["K"] == K:
                keyed.setdefault((r["store"], r["product"]), {})[r["method"]] = r
        ref = next((m for m in ("sS", "order-up-to")
                    if keyed and all("test_total_cost" in v.get(m, {}) for v in keyed.values())), None)
        lines.append(f"\nK = {K:g}: 2017 cost per day (and relative to {ref or 'no reference'}), "
                     "methods tuned/trained on 2016")
        head = f"{'store/prod':>10} {'pack':>4} " + " ".join(f"{m[:18]:>22}" for m in methods)
        lines += [head, "-" * len(head)]
        for (s, p), v in keyed.items():
            cells = []
            for m in methods:
                r = v.get(m, {})
                if "test_cost" not in r:
                    cells.append(f"{'n/a':>22}")
                    continue
                rel = ""
                if ref and "test_total_cost" in v.get(ref, {}):
                    rel = f" ({100 * (r['test_total_cost'] / v[ref]['test_total_cost'] - 1):+.0f}%)"
                cells.append(f"{r['test_cost']:>14.1f}{rel:>8}")
            pack = next(iter(v.values()))["pack"]
            lines.append(f"{f'{s}/{p}':>10} {pack:>4} " + " ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=24, help="number of series (default 24)")
    ap.add_argument("--select", choices=("strongest", "spread"), default="strongest")
    ap.add_argument("--methods", default=METHODS)
    ap.add_argument("--K", default="0,20", help="fixed order costs, comma-separated")
    ap.add_argument("--dqn-steps", type=int, default=None, help="DQN steps (default: its default)")
    ap.add_argument("--dqn-options", default="{}",
                    help='other [dqn] options as JSON, e.g. \'{"restart_prob": 0.1}\'')
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shelf-life", type=int, default=None,
                    help="perishable: days a unit can be sold (1: unsold units are wasted tonight)")
    ap.add_argument("--waste-cost", type=float, default=None,
                    help="perishable: $ per unit wasted (default: h, the cost of a unit left over)")
    ap.add_argument("--jobs", type=int, default=1, help="parallel processes (one per series and K)")
    ap.add_argument("--cache", type=Path, default=None, help="JSON-lines cache (resume)")
    ap.add_argument("--out", type=Path, default=None, help="write the JSON result here too")
    args = ap.parse_args(argv)
    if not DATA.is_file():
        print(f"data not found: {DATA}", file=sys.stderr)
        return 2
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    dqn = dict(json.loads(args.dqn_options))
    if args.dqn_steps is not None:
        dqn["steps"] = args.dqn_steps
    tag = json.dumps(dqn, sort_keys=True) if dqn else None  # cache key of DQN rows
    perishable = None
    if args.shelf_life is not None:
        perishable = {"shelf_life": args.shelf_life,
                      "waste_cost": 1.0 if args.waste_cost is None else args.waste_cost}
    ptag = json.dumps(perishable, sort_keys=True) if perishable else None  # cache key of every row
    ks = [float(k) for k in args.K.split(",")]
    series = select_series(DATA, args.series, args.select)
    cached: dict[tuple, list[dict[str, Any]]] = {}
    if args.cache is not None and args.cache.is_file():
        for line in args.cache.read_text().splitlines():
            rec = json.loads(line)
            cached[(rec["store"], rec["product"], rec["K"], rec["method"], rec.get("dqn_options"),
                    rec.get("perishable"))] = rec
    t0 = time.perf_counter()
    tasks = []
    for s in series:
        for K in ks:
            todo = [m for m in methods
                    if (s["store"], s["product"], K, m, tag if m == "dqn" else None, ptag)
                    not in cached]
            if todo:
                tasks.append((s, K, todo))
    got: dict[tuple, dict[str, Any]] = {}
    finished = [0]

    def collect(s: dict[str, Any], K: float, fresh: list[dict[str, Any]]) -> None:
        for r in fresh:
            r["dqn_options"] = tag if r["method"] == "dqn" else None
            r["perishable"] = ptag
            got[(s["store"], s["product"], K, r["method"])] = r
            if args.cache is not None and "error" not in r:
                with args.cache.open("a") as fh:
                    fh.write(json.dumps(r) + "\n")
        done = " ".join(f"{r['method']}={r.get('test_cost', float('nan')):.1f}" for r in fresh)
        finished[0] += 1
        print(f"[{finished[0]}/{len(tasks)}] store {s['store']} product {s['product']} "
              f"K={K:g}: {done} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)

    if args.jobs > 1 and len(tasks) > 1:  # one process per (series, K); each single-threaded
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(args.jobs) as pool:
            futs = {pool.submit(run_one, s, K, todo, seed=args.seed, dqn=dqn,
                                perishable=perishable): (s, K)
                    for s, K, todo in tasks}
            for f in as_completed(futs):
                collect(*futs[f], f.result())
    else:
        for s, K, todo in tasks:
            collect(s, K, run_one(s, K, todo, seed=args.seed, dqn=dqn, perishable=perishable))
    rows: list[dict[str, Any]] = []
    for s in series:
        for K in ks:
            for m in methods:
                key = (s["store"], s["product"], K, m)
                rows.append(got.get(key) or cached[(*key, tag if m == "dqn" else None, ptag)])
    agg = aggregate(rows, methods, ks)
    result = {"benchmark": "bakery", "data": str(DATA.name), "train": TRAIN, "test": TEST,
              "problem": {"lead_time": 1, "excess_demand": "lost", "holding_cost": 1,
                          "stockout_cost": 9, "fixed_order_cost": ks, **(perishable or {})},
              "selection": args.select, "series": series, "methods": methods,
              "dqn_options": dqn, "seed": args.seed,
              "aggregate": agg, "dqn_vs_best_weekday_aware": dqn_vs_weekday(rows, ks), "rows": rows,
              "seconds": time.perf_counter() - t0}
    print(table(rows, methods, ks), file=sys.stderr)
    print("\naggregate (test cost / reference):", file=sys.stderr)
    for k, v in agg.items():
        for m, a in v.items():
            if isinstance(a, dict):
                print(f"  {k} {m:<20} total {a['total_ratio']:.3f}  geomean {a['geomean_ratio']:.3f}  "
                      f"wins {a['wins']}/{a['series']}  (best {a['best_ratio']:.2f}, worst "
                      f"{a['worst_ratio']:.2f})", file=sys.stderr)
    text = json.dumps(result, default=lambda x: x.item() if isinstance(x, np.generic) else str(x))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 0 if not any(math.isnan(r.get("test_cost", 0.0)) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
