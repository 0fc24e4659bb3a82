"""Future demand information on real sales: rolling-origin backtest of the contextual policies.

For the store × product series of ``../shared/data/bakery_daily_demand.csv.gz``
(real daily sales of a German bakery chain, ddop2 package, Apache-2.0) that sold
something in 2016, lead time 1, lost sales, h = 1, p = 9, K = 0 and K = 20, and
the origins 2017-01-01 (one training year) and 2018-01-01 (two), every method is
fitted on all data before the origin and replayed on the 365 days from it, from
the same start state, exactly as ``replenish compare`` with ``[compare] origins``
does:

* ``sS`` (static, tuned on the fitted weekday model), ``weekday-base-stock``
  (one level per weekday, tuned), ``forecast-base-stock`` and ``lookahead``
  (features: holidays, school holidays, promotions known ahead; rain and
  temperature — **actual values standing in for weather forecasts**, so these
  figures are optimistic by the forecast error; ``--no-weather`` leaves them
  out — and the level of past sales).

Output (stdout, one JSON object; progress on stderr): per series, origin and K
the test total cost of each method, the forecaster's choice and its one-day-ahead
pinball loss (critical ratio 0.9) and CRPS relative to the weekday-empirical
model, and the seconds of fitting + test replay of each contextual policy;
``summary``: per origin and K the total test cost of each method over all
series relative to weekday base-stock and to (s, S), the best contextual
method, the forecaster's total pinball ratio, the series on which each
contextual policy loses to weekday base-stock (with the forecaster's choice
and the series' mean demand, the usual why), and the largest series' timing.

With ``--dqn-seeds 0,1,2`` the contextual DQN (``dqn-context``, its defaults; ``--dqn-options
JSON`` overrides ``[dqn-context]`` keys) is trained once
per seed on every series, origin and K as well (1–3 CPU minutes a training on 2016–2017; restrict the
run with ``--series``, ``--origins`` and ``--k``).  Its rows carry ``dqn_context`` (test total
cost per seed, CPU seconds per seed); the summary adds, per origin and K, the DQN's total over
the best contextual policy's total (the better of ``forecast-base-stock`` and ``lookahead`` in
total) for every seed and the worst seed, the same against the per-series better of the two,
the series where the DQN loses most, and the worst seed series by series
(``per_series_worst_seed``: median, counts within 3% and over 5%, within 3% on every seed).

Usage::

    python benchmarks/context.py --jobs 2                 # every series with 2016 sales
    python benchmarks/context.py --series 20 --jobs 2     # 20 evenly spaced series
    python benchmarks/context.py --series 12 --origins 2018-01-01 --dqn-seeds 0,1,2 --jobs 2

A long run can be stopped and continued: ``--out F`` appends each finished series' rows to
``F.rows.jsonl``, and ``--resume F.rows.jsonl`` (same arguments) skips the series whose rows there
already cover every origin, K and DQN seed asked for; the series run in a fixed random order, so
the rows of a stopped run are a random subset (``--summarise F.rows.jsonl`` summarises them)::

    python benchmarks/context.py --origins 2018-01-01 --dqn-seeds 0 --jobs 2 \
        --out ctx99.json --resume ctx99.rows.jsonl

Runs of one seed each are summarised together, on the series they all cover, with
``--summarise seed0.rows.jsonl seed1.rows.jsonl``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "bakery_daily_demand.csv.gz"
ORIGINS = ("2017-01-01", "2018-01-01")
METHODS = ("sS", "weekday-base-stock", "forecast-base-stock", "lookahead")
CONTEXTUAL = ("forecast-base-stock", "lookahead")
SMALL_SERIES = 20  # units a day: below it a series is "small" in the summary


def series_keys(path: Path) -> list[tuple[int, int, float]]:
    """(store, product, mean demand) of every series with sales in 2016."""
    import pandas as pd

    df = pd.read_csv(path, usecols=["date", "store", "product", "demand"])
    y16 = df[df.date < "2017-01-01"].groupby(["store", "product"]).demand.sum()
    mean = df.groupby(["store", "product"]).demand.mean()
    return [(int(s), int(p), float(mean[(s, p)])) for (s, p), v in y16.items() if v > 0]


def test_cost(res: Any, test: Any) -> float:
    """Total cost of a method's policy replayed on the test window ``test`` from the start state
    every method shares."""
    from replenish.workflows.history import replay
    from replenish.workflows.history.replay import default_start_state

    pr = res.policy.problem
    return float(replay(pr, res.policy, test, start_state=default_start_state(pr, test)).total_cost)


def run_series(key: tuple[int, int, float], ks: tuple[float, ...], weather: bool,
               reuse: dict[tuple[int, int, str, float], dict[str, Any]] | None = None,
               origins: tuple[str, ...] = ORIGINS, dqn_seeds: tuple[int, ...] = (),
               dqn_options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every origin and K of one series (methods found in ``reuse`` are taken from there);
    ``dqn_options``: ``[dqn-context]`` keys over its defaults."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    warnings.simplefilter("ignore")
    import datetime as _dt

    from replenish.solvers.catalogue import solve
    from replenish.workflows.history import problem_from_history, read_context

    store, product, mean = key
    feats = {"known_ahead": ["is_holiday", "is_schoolholiday", "promotion_currentweek"],
             "forecast": ["rain", "temperature"] if weather else [], "level": True}
    rows = []
    for origin in origins:
        day = _dt.date.fromisoformat(origin)
        tab = {"kind": "history", "file": str(DATA), "filter": {"store": store, "product": product},
               "train": ["2016-01-02", (day - _dt.timedelta(days=1)).isoformat()],
               "test": [origin, (day + _dt.timedelta(days=364)).isoformat()]}
        for K in ks:
            prob_tab = {"lead_time": 1, "excess_demand": "lost", "holding_cost": 1.0,
                        "stockout_cost": 9.0, "fixed_order_cost": K}
            row: dict[str, Any] = {"store": store, "product": product, "mean_demand": mean,
                                   "origin": origin, "K": K, "test_total_cost": {}, "seconds": {}}
            try:
                problem, hist = problem_from_history(tab, problem=prob_tab)
                ctx = read_context(tab, feats, hist)
            except Exception as exc:  # a series the history loader refuses
                row["error"] = str(exc)
                rows.append(row)
                continue
            row["bound"], row["order_multiple"] = problem.bound, problem.order_multiple
            old = (reuse or {}).get((store, product, origin, float(K)))
            for m in METHODS:
                if old is not None and m not in CONTEXTUAL and old["test_total_cost"].get(m) is not None:
                    row["test_total_cost"][m] = old["test_total_cost"][m]
                    row["seconds"][m] = old["seconds"].get(m)
                    row.setdefault("reused", []).append(m)
                    continue
                t0 = time.perf_counter()
                opts = {"in_sample_days": 7} if m in CONTEXTUAL else {}
                try:
                    res = solve(problem, m, options=opts, seed=0, with_optimum=False, context=ctx)
                except Exception as exc:
                    row["test_total_cost"][m] = None
                    row.setdefault("errors", {})[m] = str(exc)
                    continue
                row["test_total_cost"][m] = test_cost(res, hist.test)
                row["seconds"][m] = time.perf_counter() - t0
                if m in CONTEXTUAL:
                    fc = res.policy.forecaster  # type: ignore[attr-defined]
                    row.setdefault("forecaster", fc.choice)
                    if "scores" not in row:
                        c = ctx.context
                        i0 = c.index(origin)
                        row["scores"] = fc.scores(c, i0, min(i0 + 364, len(c) - 1))
                        row["importances"] = dict(sorted(fc.importances.items(),
                                                         key=lambda kv: -kv[1])[:5])
            for seed in dqn_seeds:  # the contextual DQN (defaults unless dqn_options), one training a seed
                c0 = time.process_time()
                try:
                    res = solve(problem, "dqn-context", options=dict(dqn_options or {}), seed=seed,
                                with_optimum=False, context=ctx)
                except Exception as exc:
                    row.setdefault("errors", {})[f"dqn-context seed {seed}"] = str(exc)
                    continue
                dq = row.setdefault("dqn_context", {"test_total_cost": {}, "cpu_seconds": {}})
                dq["test_total_cost"][str(seed)] = test_cost(res, hist.test)
                dq["cpu_seconds"][str(seed)] = time.process_time() - c0
            rows.append(row)
    return rows


def dqn_summary(sel: list[dict[str, Any]], best: str) -> dict[str, Any] | None:
    """The contextual DQN of rows ``sel`` (one origin and K) against the best contextual policy
    ``best`` (in total) and against the per-series better of the contextual policies: totals
    per seed, the worst seed, the series it loses most on (worst seed), the worst seed series by
    series (median, counts within 3% and over 5%, small and shrunk series), CPU seconds."""
    withq = [r for r in sel if r.get("dqn_context", {}).get("test_total_cost")]
    if not withq:
        return None
    seeds = sorted(set.intersection(*(set(r["dqn_context"]["test_total_cost"]) for r in withq)), key=int)
    if not seeds:
        return None
    best_tot = sum(r["test_total_cost"][best] for r in withq)
    each = sum(min(r["test_total_cost"][m] for m in CONTEXTUAL) for r in withq)
    weekday = sum(r["test_total_cost"]["weekday-base-stock"] for r in withq)
    per_seed = {s: float(sum(r["dqn_context"]["test_total_cost"][s] for r in withq)) for s in seeds}
    worst = max(seeds, key=lambda s: per_seed[s])
    cpu = [r["dqn_context"]["cpu_seconds"][s] for r in withq for s in seeds]
    def gap(r: dict[str, Any], seed: str = worst) -> float:
        return r["dqn_context"]["test_total_cost"][seed] / r["test_total_cost"][best] - 1

    def total_over_best(rs: list[dict[str, Any]]) -> float | None:
        den = sum(r["test_total_cost"][best] for r in rs)
        return sum(r["dqn_context"]["test_total_cost"][worst] for r in rs) / den if rs else None

    gaps = [gap(r) for r in withq]
    small = [r for r in withq if r["mean_demand"] < SMALL_SERIES]
    shrunk = [r for r in withq if r.get("forecaster") == "weekday"]
    per_series = {  # the worst seed (in total), series by series, against `best`
        "median_over_best_contextual": 1 + float(np.median(gaps)),
        "lowest_over_best_contextual": 1 + min(gaps),
        "within_3pct": sum(g <= 0.03 for g in gaps), "over_5pct": sum(g > 0.05 for g in gaps),
        "within_3pct_on_every_seed": sum(all(gap(r, s) <= 0.03 for s in seeds) for r in withq),
        "below_weekday_base_stock": sum(r["dqn_context"]["test_total_cost"][worst]
                                        < r["test_total_cost"]["weekday-base-stock"] for r in withq),
        f"under_{SMALL_SERIES}_units_a_day": {"series": len(small),
                                              "total_over_best_contextual": total_over_best(small)},
        "forecaster_shrunk_to_weekday": {"series": len(shrunk),
                                         "total_over_best_contextual": total_over_best(shrunk)}}
    return {"series": len(withq), "seeds": [int(s) for s in seeds],
            "total_over_best_contextual": {s: per_seed[s] / best_tot for s in seeds},
            "worst_seed": int(worst), "worst_seed_over_best_contextual": per_seed[worst] / best_tot,
            "worst_seed_over_per_series_best_contextual": per_seed[worst] / each,
            "best_contextual_over_weekday_base_stock": best_tot / weekday,
            "worst_seed_over_weekday_base_stock": per_seed[worst] / weekday,
            "per_series_worst_seed": per_series,
            "largest_losses_worst_seed": [
                {"series": f"{r['store']}/{r['product']}", "mean_demand": round(r["mean_demand"], 1),
                 "over_best_contextual": round(gap(r), 4), "forecaster": r.get("forecaster")}
                for r in sorted(withq, key=gap, reverse=True)[:8]],
            "cpu_seconds": {"median": float(np.median(cpu)), "max": float(np.max(cpu))}}


def summarise(rows: list[dict[str, Any]], ks: tuple[float, ...],
              origins: tuple[str, ...] = ORIGINS) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ok = [r for r in rows if "error" not in r and all(r["test_total_cost"].get(m) is not None
                                                      for m in METHODS)]
    for origin in origins:
        for K in ks:
            sel = [r for r in ok if r["origin"] == origin and r["K"] == K]
            if not sel:
                continue
            tot = {m: float(sum(r["test_total_cost"][m] for r in sel)) for m in METHODS}
            best = min(CONTEXTUAL, key=lambda m: tot[m])
            def ratio(r: dict[str, Any], m: str) -> float:
                return r["test_total_cost"][m] / r["test_total_cost"]["weekday-base-stock"]

            losers = {m: [{"series": f"{r['store']}/{r['product']}",
                           "mean_demand": round(r["mean_demand"], 1), "ratio": round(ratio(r, m), 3),
                           "forecaster": r.get("forecaster")}
                          for r in sel if ratio(r, m) > 1] for m in CONTEXTUAL}
            pin = [r["scores"] for r in sel if "scores" in r]
            out[f"{origin} K={K:g}"] = {
                "series": len(sel),
                "total_cost": tot,
                "relative_to_weekday_base_stock": {m: tot[m] / tot["weekday-base-stock"] for m in METHODS},
                "relative_to_sS": {m: tot[m] / tot["sS"] for m in METHODS},
                "best_contextual": best,
                "best_contextual_vs_weekday_base_stock": tot[best] / tot["weekday-base-stock"],
                "forecaster_pinball_ratio_total": (sum(p["pinball"] for p in pin)
                                                   / sum(p["pinball_weekday"] for p in pin)) if pin else None,
                "forecaster_crps_ratio_total": (sum(p["crps"] for p in pin)
                                                / sum(p["crps_weekday"] for p in pin)) if pin else None,
                "forecaster_shrunk_to_weekday": sum(r.get("forecaster") == "weekday" for r in sel),
                "losses_vs_weekday_base_stock": {m: {"count": len(v), "series": v[:30]}
                                                 for m, v in losers.items()},
            }
            dq = dqn_summary(sel, best)
            if dq is not None:
                out[f"{origin} K={K:g}"]["dqn_context"] = dq
    if ok:
        big = max(ok, key=lambda r: r["mean_demand"])
        out["largest_series"] = {"series": f"{big['store']}/{big['product']}",
                                 "mean_demand": big["mean_demand"], "bound": big.get("bound"),
                                 "seconds_fit_and_test_replay": {
                                     f"{r['origin']} K={r['K']:g}": {m: r["seconds"].get(m)
                                                                     for m in CONTEXTUAL}
                                     for r in ok
                                     if (r["store"], r["product"]) == (big["store"], big["product"])}}
    return out


def n_series(rows: list[dict[str, Any]]) -> int:
    """How many distinct series (store, product) ``rows`` cover."""
    return len({(r["store"], r["product"]) for r in rows})


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a ``.rows.jsonl`` file, one JSON object a line."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def last_rows(rows: list[dict[str, Any]]) -> dict[tuple[int, int, str, float], dict[str, Any]]:
    """``rows`` by (store, product, origin, K), the last row of each (a rerun's row wins)."""
    return {(r["store"], r["product"], r["origin"], float(r["K"])): r for r in rows}


def merge_runs(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The rows of several runs (e.g. one DQN seed each) as one: a row for each series, origin
    and K that *every* run has (the last such row of each run), with the DQN seeds' costs of all
    runs together. The other methods' costs must agree between runs, and so must a seed's cost
    measured twice: a ValueError names the row otherwise."""
    maps = [last_rows(rows) for rows in runs]
    out = []
    for key in [k for k in maps[0] if all(k in m for m in maps[1:])]:  # the first run's order
        merged = copy.deepcopy(maps[0][key])
        dq = merged.setdefault("dqn_context", {"test_total_cost": {}, "cpu_seconds": {}})
        name = f"{key[0]}/{key[1]} {key[2]} K={key[3]:g}"
        for m in maps[1:]:
            r = m[key]
            same = ("error" in r) == ("error" in merged) and r.get("test_total_cost") == merged.get(
                "test_total_cost")
            if not same:
                raise ValueError(f"{name}: the runs disagree on the other methods' costs")
            other = r.get("dqn_context", {"test_total_cost": {}, "cpu_seconds": {}})
            for seed, cost in other["test_total_cost"].items():
                if dq["test_total_cost"].setdefault(seed, cost) != cost:
                    raise ValueError(f"{name}: dqn-context seed {seed} costs {dq['test_total_cost'][seed]} "
                                     f"in one run and {cost} in another")
                dq["cpu_seconds"][seed] = other["cpu_seconds"][seed]
        out.append(merged)
    return out


def complete_series(rows: list[dict[str, Any]], origins: tuple[str, ...], ks: tuple[float, ...],
                    dqn_seeds: tuple[int, ...]) -> dict[tuple[int, int], list[dict[str, Any]]]:
    """The series of ``rows`` that have a row for every origin and K, each with every DQN seed's
    cost (or a loader error), mapped to those rows (the last one of each origin and K)."""
    by: dict[tuple[int, int], dict[tuple[str, float], dict[str, Any]]] = {}
    for (store, product, origin, K), r in last_rows(rows).items():
        by.setdefault((store, product), {})[(origin, K)] = r
    need = [(o, float(k)) for o in origins for k in ks]
    seeds = {str(s) for s in dqn_seeds}

    def ok(r: dict[str, Any] | None) -> bool:
        if r is None:
            return False
        got = set(r.get("dqn_context", {}).get("test_total_cost", {}))
        return "error" in r or seeds <= got
    return {key: [d[x] for x in need] for key, d in by.items() if all(ok(d.get(x)) for x in need)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=0, help="evenly spaced subset (0 = all)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--k", default="0,20", help="fixed order costs K")
    ap.add_argument("--no-weather", action="store_true", help="leave rain and temperature out")
    ap.add_argument("--origins", default=",".join(ORIGINS), help="comma-separated origins")
    ap.add_argument("--dqn-seeds", default="", help="train dqn-context with these seeds, e.g. 0,1,2")
    ap.add_argument("--dqn-options", default="{}", metavar="JSON",
                    help="[dqn-context] keys over its defaults, e.g. '{\"gradient_steps\": 2}'")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--reuse", type=Path, metavar="ROWS.jsonl",
                    help="take the non-contextual methods' results of matching rows from an earlier run "
                         "(same code for those methods: saves their tuning time)")
    ap.add_argument("--resume", type=Path, metavar="ROWS.jsonl",
                    help="continue a stopped run: series whose rows there cover every origin, K and "
                         "DQN seed asked for are taken as they are, not run again (same code and options)")
    ap.add_argument("--summarise", type=Path, nargs="+", metavar="ROWS.jsonl",
                    help="only summarise the rows of a (possibly stopped) run and exit; with several "
                         "runs (e.g. one DQN seed each), the series, origins and K all of them have, "
                         "with every run's seeds")
    args = ap.parse_args()
    try:
        try:
            dqn_options = json.loads(args.dqn_options)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--dqn-options {args.dqn_options!r}: {exc}") from None
        if not isinstance(dqn_options, dict):
            raise ValueError(f"--dqn-options {args.dqn_options!r}: not a JSON object")
        from replenish.solvers.catalogue import method_spec

        method_spec("dqn-context").check_options(dqn_options)  # a typo fails now, not after hours
    except ValueError as exc:  # a JSON error, or a SpecError naming the key
        ap.error(str(exc))
    if args.summarise is not None:
        try:
            rows = merge_runs([read_rows(p) for p in args.summarise])
        except (OSError, ValueError, KeyError) as exc:
            ap.error(f"--summarise: {exc}")
        ks = tuple(sorted({float(r["K"]) for r in rows}))
        found = tuple(o for o in ORIGINS if any(r["origin"] == o for r in rows))
        names = [str(p) for p in args.summarise]
        print(json.dumps({"rows_file": names[0] if len(names) == 1 else names, "series": n_series(rows),
                          "summary": summarise(rows, ks, found)},
                         indent=1, default=float))
        return 0
    keys = series_keys(DATA)
    if args.series and args.series < len(keys):
        keys = [keys[i] for i in np.linspace(0, len(keys) - 1, args.series).round().astype(int)]
    # a fixed random order: the rows of a run stopped early are a random subset of the series
    keys = [keys[i] for i in np.random.default_rng(0).permutation(len(keys))]
    ks = tuple(float(k) for k in args.k.split(","))
    origins = tuple(o.strip() for o in args.origins.split(",") if o.strip())
    dqn_seeds = tuple(int(x) for x in args.dqn_seeds.split(",") if x.strip())
    reuse = None
    if args.reuse is not None:
        reuse = {(r["store"], r["product"], r["origin"], float(r["K"])): r for r in read_rows(args.reuse)}
    t0 = time.time()
    rows: list[dict[str, Any]] = []
    if args.resume is not None and args.resume.is_file():
        asked = {k[:2] for k in keys}
        done = {key: rs for key, rs in complete_series(read_rows(args.resume), origins, ks, dqn_seeds).items()
                if key in asked}
        rows = [r for rs in done.values() for r in rs]
        keys = [k for k in keys if k[:2] not in done]
        print(f"resuming: {len(done)} series done in {args.resume}, {len(keys)} to run", file=sys.stderr)
    with ProcessPoolExecutor(max_workers=args.jobs) as ex:
        futs = {ex.submit(run_series, k, ks, not args.no_weather, reuse, origins, dqn_seeds,
                          dqn_options): k for k in keys}
        for i, f in enumerate(as_completed(futs)):
            rows.extend(f.result())
            if args.out:  # rows so far, one JSON object per line (a partial run can be summarised)
                with open(args.out.with_suffix(".rows.jsonl"), "a") as fh:
                    for r in f.result():
                        fh.write(json.dumps(r, default=float) + "\n")
            k = futs[f]
            print(f"[{i + 1}/{len(keys)}] {k[0]}/{k[1]} done ({time.time() - t0:.0f} s)", file=sys.stderr,
                  flush=True)
    rows.sort(key=lambda r: (r["store"], r["product"], r["origin"], r["K"]))
    result = {"data": str(DATA), "series": n_series(rows),
              "weather": not args.no_weather,
              "origins": list(origins), "K": list(ks), "dqn_seeds": list(dqn_seeds),
              "dqn_options": dqn_options,
              "wall_seconds": time.time() - t0,
              "load_before": os.getloadavg()[0], "summary": summarise(rows, ks, origins), "rows": rows}
    text = json.dumps(result, indent=1, default=float)
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
