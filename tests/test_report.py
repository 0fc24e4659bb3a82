"""The HTML report: valid, self-contained, every figure embedded, table numbers equal to the JSON."""

from __future__ import annotations

import base64
import csv
import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from replenish import OrderUpTo, Problem, WeekdayPoisson
from replenish.cli import main
from replenish.core.io import atomic_write, dumps_json
from replenish.solvers.catalogue import solve
from replenish.workflows.report import fmt_cost, fmt_pct, write_comparison_report, write_report

VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr"}


class _Checker(HTMLParser):
    """Tag balance, the summary tables' cells, and embedded images."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.images: list[str] = []
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None
        self.doctype = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag in VOID:
            return
        self.stack.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> (open: {self.stack[-3:]})")
            return
        self.stack.pop()
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _check_html(path):
    text = path.read_text(encoding="utf-8")
    chk = _Checker()
    chk.feed(text)
    chk.close()
    assert chk.doctype, "missing <!DOCTYPE html>"
    assert not chk.errors, chk.errors[:3]
    assert not chk.stack, f"unclosed tags {chk.stack}"
    # self-contained: no scripts, stylesheets or remote resources
    assert "<script" not in text and "<link" not in text
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", text)
    return text, chk


@pytest.fixture(scope="module")
def bike_results():
    prob = Problem(demand=__import__("replenish").Poisson(4), lead_time=1, capacity=10,
                   excess_demand="lost", holding_cost=8, stockout_cost=10, discount=0.9,
                   name="bike-shop")
    return [solve(prob, "dp"), solve(prob, "order-up-to", options={"level": 10}),
            solve(prob, "order-up-to"),
            # simulated evaluation: its CI must appear
            solve(prob, "order-up-to", options={"level": 6}, exact=False)]


def test_report_valid_self_contained_and_numbers_match_json(tmp_path, bike_results):
    labels = ["DP optimum", "order-up-to 10", "best order-up-to", "order-up-to 6 (simulated)"]
    rep = write_report(bike_results, tmp_path, labels=labels, title="bike")
    _, chk = _check_html(rep.html)
    # every figure is a PNG and an SVG file, and the PNG is embedded byte for byte
    assert {"costs", "orders-per-state", "heatmaps", "explain"} <= set(rep.figures)
    embedded = {base64.b64decode(src.split(",", 1)[1]) for src in chk.images
                if src.startswith("data:image/png;base64,")}
    assert len(chk.images) == len(embedded) == len(rep.figures)
    for name in rep.figures:
        assert (tmp_path / f"{name}.png").read_bytes() in embedded
        assert (tmp_path / f"{name}.svg").read_text().lstrip().startswith("<?xml")
    data = json.loads(rep.json.read_text())
    rows = data["sections"][0]["rows"]
    assert [r["label"] for r in rows] == labels
    summary = next(t for t in chk.tables if t and t[0][:3] == ["method", "policy", "avg cost $/period"])
    head, body = summary[0], summary[1:]
    col = {h: i for i, h in enumerate(head)}
    assert len(body) == len(rows)
    for cells, r in zip(body, rows, strict=True):
        assert cells[col["method"]] == r["label"]
        assert cells[col["avg cost $/period"]] == fmt_cost(r["average_cost"])
        assert float(cells[col["avg cost $/period"]]) == pytest.approx(r["average_cost"], abs=5e-5)
        assert cells[col["gap to optimum"]] == fmt_pct(r["gap"])
        assert cells[col["vs reference"]] == fmt_pct(r["relative_to_reference"])
        if r["exact"]:
            assert cells[col["95% CI / exact"]] == "exact"
        else:
            half = (r["ci95"][1] - r["ci95"][0]) / 2
            assert float(cells[col["95% CI / exact"]].lstrip("± ")) == pytest.approx(half, abs=5e-5)
    # independent facts: the optimum, order-up-to 10, and the best order-up-to level 7
    assert rows[0]["average_cost"] == pytest.approx(16.1830, abs=1e-3)
    assert rows[1]["average_cost"] == pytest.approx(23.6072, abs=1e-3)
    assert rows[2]["policy"] == "order-up-to(level=7)"
    assert rows[1]["relative_to_best_static"] == pytest.approx(23.6072 / 16.8230 - 1, abs=1e-4)
    # no (s, S) among the results: the reference is the cheapest static rule, the best order-up-to
    assert rows[1]["reference"] == "best order-up-to"
    assert rows[1]["relative_to_reference"] == pytest.approx(23.6072 / 16.8230 - 1, abs=1e-4)
    # CSV mirrors the JSON
    with rep.csv.open() as fh:
        lines = list(csv.DictReader(fh))
    assert [ln["label"] for ln in lines] == labels
    for ln, r in zip(lines, rows, strict=True):
        assert float(ln["average_cost"]) == pytest.approx(r["average_cost"], rel=1e-12)
    # explanations of the report agree with the policies' act
    for e in data["sections"][0]["explanations"]:
        for p in e["policies"]:
            lab = p["label"]
            if lab == "DP optimum":
                continue
            pol = bike_results[labels.index(lab)].policy
            assert p["order"] == pol.order(e["state"])
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.fixture(scope="module")
def toy_comparison():
    """order-up-to and the DP learned on 9 weeks of a simulated weekday series, replayed on 8."""
    from replenish.workflows.compare import compare
    from replenish.workflows.history import DemandSeries, HistoricalDemand

    means = (2.0, 2.0, 2.0, 3.0, 4.0, 5.0, 1.0)
    prob = Problem(demand=WeekdayPoisson(means=means), lead_time=1, capacity=14, holding_cost=1,
                   stockout_cost=9, name="toy-shop")
    rng = np.random.default_rng(7)
    dates = np.arange(np.datetime64("2016-01-04"), np.datetime64("2016-05-02"))  # Monday start
    wd = (dates.astype(np.int64) + 3) % 7
    series = DemandSeries(dates, rng.poisson(np.asarray(means)[wd]), name="toy")
    hist = HistoricalDemand(series=series, train=series.window("2016-01-04", "2016-03-06"),
                            test=series.window("2016-03-07", "2016-05-01"))
    return compare(prob, hist, ["order-up-to", "dp"])


def test_historical_report_has_the_replay(tmp_path, toy_comparison):
    comp = toy_comparison
    hist = comp.history
    rep = write_comparison_report(comp, tmp_path)
    text, chk = _check_html(rep.html)
    assert {"replay", "replay-cost", "heatmaps"} <= set(rep.figures)
    assert "Mon" in text and "test $/day" in text
    data = json.loads(rep.json.read_text())
    rows = data["sections"][0]["rows"]
    summary = next(t for t in chk.tables if t and t[0][:2] == ["method", "policy"])
    col = {h: i for i, h in enumerate(summary[0])}
    for cells, r in zip(summary[1:], rows, strict=True):
        assert cells[col["test $/day"]] == fmt_cost(r["test_average_cost"])
        assert int(cells[col["test stockout days"]]) == r["test_stockout_days"]
        # the replay's total cost is the sum of the replayed days
        assert r["test_total_cost"] == pytest.approx(comp.get(r["method"]).test.trajectory["cost"].sum())
    replay = (tmp_path / "toy-shop-replay.csv").read_text().splitlines()
    assert len(replay) == 1 + 2 * len(hist.test)


def test_comparison_report_files_equal_the_comparison(tmp_path, toy_comparison):
    """Every file of ``compare --report`` holds the numbers of ``Comparison.to_json()``."""
    from replenish.workflows.compare import header

    comp = toy_comparison
    rep = write_comparison_report(comp, tmp_path, svg=False)
    expected = json.loads(dumps_json(comp.to_json()))
    for name in ("compare.json", "compare.txt", "test_replay.csv", "test_replay.png", "report.html",
                 "results.json", "results.csv", "toy-shop-replay.csv", "policy-dp.json",
                 "policy-order-up-to.json"):
        assert (tmp_path / name).is_file(), name
        assert tmp_path / name in rep.files
    assert json.loads((tmp_path / "compare.json").read_text()) == expected
    assert (tmp_path / "compare.txt").read_text() == header(comp) + "\n" + comp.table() + "\n"
    by_method = {r["method"]: r for r in expected["results"]}
    # results.json / results.csv: one row per method, the comparison's costs
    rows = json.loads(rep.json.read_text())["sections"][0]["rows"]
    with rep.csv.open() as fh:
        lines = list(csv.DictReader(fh))
    assert [r["method"] for r in rows] == [ln["method"] for ln in lines] == ["order-up-to", "dp"]
    for r, ln in zip(rows, lines, strict=True):
        e = by_method[r["method"]]
        for key in ("average_cost", "test_total_cost", "test_average_cost", "test_fill_rate"):
            assert r[key] == pytest.approx(e[key], rel=1e-12)
            assert float(ln[key]) == pytest.approx(e[key], rel=1e-12)
        assert int(ln["test_stockout_days"]) == e["test_stockout_days"]
        assert float(ln["test_relative_to_reference"]) == pytest.approx(e["test_relative_to_reference"])
    # test_replay.csv: one line per test day and method, costs summing to the test totals
    days = list(csv.DictReader((tmp_path / "test_replay.csv").open()))
    assert len(days) == 2 * len(comp.history.test)
    for m, e in by_method.items():
        mine = [d for d in days if d["method"] == m]
        assert sum(float(d["cost"]) for d in mine) == pytest.approx(e["test_total_cost"], rel=1e-5)
        assert sum(int(d["short"]) > 0 for d in mine) == e["test_stockout_days"]
        assert {d["weekday"] for d in mine} == {str(w) for w in range(7)}


def test_comparison_report_without_policies(tmp_path, toy_comparison):
    """No method produced a policy: the comparison files only, no HTML report."""
    from replenish.workflows.compare import compare

    comp = compare(toy_comparison.problem, toy_comparison.history, ["order-up-to"],
                   options={"order-up-to": {"bogus": 1}})
    assert write_comparison_report(comp, tmp_path) is None
    assert json.loads((tmp_path / "compare.json").read_text())["results"][0]["error"].startswith(
        "order-up-to.bogus")
    header_only = "method,date,weekday,demand,order,on_hand,short,cost\n"
    assert (tmp_path / "test_replay.csv").read_text() == header_only
    assert not (tmp_path / "report.html").exists() and not (tmp_path / "test_replay.png").exists()


def test_html_rows_escape_and_align():
    from replenish.workflows.report.html import list_items, row_html, table_html

    assert row_html(["a<b", 1.5], left=1) == '<tr><td class="l">a&lt;b</td><td>1.5</td></tr>'
    assert row_html(["x"], tag="th", cls="best") == '<tr class="best"><th>x</th></tr>'
    assert list_items(["s & t"]) == "<li>s &amp; t</li>"
    t = table_html(["k", "v"], [["a", "1"], ["b", "2"]], left=1, row_classes=["best", ""])
    assert t == ('<div class="tw"><table><thead><tr><th class="l">k</th><th>v</th></tr></thead><tbody>'
                 '<tr class="best"><td class="l">a</td><td>1</td></tr>'
                 '<tr><td class="l">b</td><td>2</td></tr></tbody></table></div>')


def test_solve_report_flag(tmp_path, capsys, bike_config):
    out = tmp_path / "rep"
    assert main(["solve", str(bike_config), "--method", "order-up-to", "--report", str(out)]) == 0
    assert "report written" in capsys.readouterr().out
    _check_html(out / "report.html")
    data = json.loads((out / "results.json").read_text())
    assert data["sections"][0]["rows"][0]["policy"] == "order-up-to(level=7)"


def test_atomic_write(tmp_path):
    p = atomic_write(tmp_path / "a" / "x.bin", b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"
    assert list((tmp_path / "a").iterdir()) == [p]


def test_policy_without_dp_values_still_reported(tmp_path, bike):
    # a policy evaluated alone: the report solves the optimum itself for the comparison figures
    res = solve(bike, "order-up-to", options={"level": 8})
    rep = write_report([res], tmp_path)
    _check_html(rep.html)
    assert OrderUpTo(problem=bike, level=8).order([0, 0]) == 8
    assert json.loads(rep.json.read_text())["sections"][0]["rows"][0]["optimal_average_cost"] == \
        pytest.approx(16.1830, abs=1e-3)


def _capture_figures(monkeypatch, module):
    """Record every matplotlib figure ``module.render`` is given (the report's and fleet's renderer)."""
    seen = []
    original = module.render

    def spy(fig, **kw):
        seen.append(fig)
        return original(fig, **kw)

    monkeypatch.setattr(module, "render", spy)
    return seen


def _check_method_colours(figures, method_of):
    """Every artist labelled with a method (lines, markers, bars) has the method's fixed colour."""
    from matplotlib.colors import to_hex

    from replenish.solvers.catalogue import METHODS

    want = {lab: METHODS[m].color for lab, m in method_of.items()}
    checked: dict[str, int] = {}
    for fig in figures:
        for ax in fig.axes:
            for line in ax.get_lines():
                lab = line.get_label()
                if lab in want:
                    assert to_hex(line.get_markeredgecolor()) == want[lab], (lab, fig.axes[0].get_title())
                    checked[lab] = checked.get(lab, 0) + 1
            ticks = [t.get_text() for t in ax.get_yticklabels()]
            for cont in ax.containers:  # bar charts: bar i is the method of tick label i
                patches = getattr(cont, "patches", None)
                if patches and len(patches) == len(ticks) and set(ticks) <= set(want):
                    for patch, lab in zip(patches, ticks, strict=True):
                        assert to_hex(patch.get_facecolor(), keep_alpha=False) == want[lab], lab
                        checked[lab] = checked.get(lab, 0) + 1
    return checked


def test_every_figure_uses_each_methods_fixed_colour(tmp_path, monkeypatch, bike_results):
    import replenish.workflows.report.figures as figures
    from replenish.solvers.catalogue import METHODS

    # every method has its own colour and marker
    assert len({m.color for m in METHODS.values()}) == len(METHODS)
    assert len({m.marker for m in METHODS.values()}) == len(METHODS)
    prob = bike_results[0].policy.problem
    ql = [solve(prob, "qlearning", options={"steps": 30_000, "variant": v, "curve_points": 3}, seed=1)
          for v in ("seed", "default")]
    results = [*bike_results[:3], solve(prob, "myopic"), *ql]
    labels = ["DP optimum", "order-up-to 10", "best order-up-to", "myopic", "Q-learning (seed)",
              "Q-learning (default)"]
    figs = _capture_figures(monkeypatch, figures)
    rep = write_report(results, tmp_path, labels=labels, title="bike")
    assert {"costs", "orders-per-state", "learning", "explain"} <= set(rep.figures)
    method_of = {lab: r.method for lab, r in zip(labels, results, strict=True)}
    checked = _check_method_colours(figs, method_of)
    # the cost bars, the orders per state, the learning curves (learners) and the explain markers
    for lab in labels:
        assert checked.get(lab, 0) >= (1 if lab == "order-up-to 10" else 2), (lab, checked)


def test_fleet_figure_uses_each_methods_fixed_colour(monkeypatch):
    import pandas as pd
    from matplotlib.colors import to_hex

    import replenish.workflows.fleet.report as fleet_report
    from replenish.solvers.catalogue import METHODS
    from replenish.workflows.fleet.summary import summarize

    table = pd.DataFrame({"series": ["a", "b", "c"], "status": ["ok"] * 3, "error": [None] * 3,
                          "sS.test_cost": [100.0, 200.0, 50.0], "dqn.test_cost": [90.0, 220.0, 50.0],
                          "myopic.test_cost": [95.0, 210.0, 60.0]})
    s = summarize(table, ["sS", "dqn", "myopic"])
    data = fleet_report.relative_costs(s, table)
    figs = _capture_figures(monkeypatch, fleet_report)
    fleet_report.ratio_figure(s, data)
    (ax,) = figs[0].axes
    boxes = [p for p in ax.patches]
    assert [m for m, _ in data] == ["dqn", "myopic"]
    assert [to_hex(p.get_facecolor(), keep_alpha=False) for p in boxes] == \
        [METHODS["dqn"].color, METHODS["myopic"].color]


def test_learning_curves_on_each_runs_own_axis_with_a_robust_range(monkeypatch, bike_results):
    """Two Q-learning runs of different lengths both span the axis (fraction of their own
    training); the y-range stops at a high quantile of the points, never below a final value."""
    import replenish.workflows.report.figures as figures
    from replenish.workflows.report.figures import LEARNING_CLIP_QUANTILE, fig_learning, learning_ylim

    prob = bike_results[0].policy.problem
    runs = [solve(prob, "qlearning", options={"steps": n, "variant": "seed", "curve_points": 4}, seed=2)
            for n in (20_000, 60_000)]
    figs = _capture_figures(monkeypatch, figures)
    f = fig_learning(runs, ["short", "long"], "")
    assert f is not None
    ax = figs[-1].axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines() if ln.get_label() in ("short", "long")}
    for lab in ("short", "long"):
        x = np.asarray(lines[lab].get_xdata(), dtype=float)
        assert x[-1] == pytest.approx(1.0) and 0 < x[0] < 1
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "short (20k steps)" in legend and "long (60k steps)" in legend
    # the y-range: gaps in %, from the runs' own curves
    ys = [100 * np.array([h["gap"] for h in r.extras["curve"]]) for r in runs]
    lo, hi = ax.get_ylim()
    allv = np.concatenate(ys)
    assert hi >= max(y[-1] for y in ys)
    late = max(y[len(y) // 2:].max() for y in ys)
    assert hi >= late  # the second half of every run is shown in full
    assert hi <= min(allv.max(), max(np.quantile(allv, LEARNING_CLIP_QUANTILE), 1.5 * late)) * 1.2 + 1e-9
    assert lo <= 0.0
    # a spike far above the rest is clipped, and the caption says so
    spiky = [np.array([440.0, 147.0, 3.0, 2.0, 1.5, 1.0, 0.8, 0.5, 0.4, 0.3, 0.3])]
    _, hi2 = learning_ylim(spiky, floor=0.0)
    assert 0.8 < hi2 < 147.0  # the late stage in full, the early spikes above


def test_weekday_figures_heatmaps_ranges_and_replay(tmp_path, monkeypatch, toy_comparison):
    """Heatmaps: seven panels only for a policy whose orders depend on the weekday; the
    order-per-state axis ends near the largest order shown; the replay: four weeks day by day
    and a weekly summary of the whole window."""
    import replenish.workflows.report.figures as figures

    comp = toy_comparison
    figs = _capture_figures(monkeypatch, figures)
    rep = write_comparison_report(comp, tmp_path, svg=False)
    assert {"heatmaps", "orders-per-state", "replay", "replay-weekly"} <= set(rep.figures)
    heat = next(f for f in figs if any(ax.images for ax in f.axes) and len(f.axes) >= 8)
    problem = comp.problem
    kinds = set()
    for r in comp.results:
        lab = r.method
        panels = [ax for ax in heat.axes if ax.images and ax.get_title(loc="left").startswith(lab)]
        # the row of this policy: the panel titled with it and the six to its right
        states = np.array([[a, b, w] for w in range(7) for a in range(0, 8) for b in range(0, 6, 2)])
        orders = r.policy.act(states).reshape(7, -1)
        depends = any(not np.array_equal(orders[0], orders[w]) for w in range(1, 7))
        kinds.add(depends)
        assert len(panels) == 1
        y0 = panels[0].get_position().y0
        row = [ax for ax in heat.axes if ax.images and abs(ax.get_position().y0 - y0) < 1e-6]
        texts = [t.get_text() for ax in heat.axes for t in ax.texts
                 if abs(ax.get_position().y0 - y0) < 1e-6]
        if depends:
            assert len(row) == 7
        else:
            assert len(row) == 1 and "same for every weekday" in texts
    assert kinds == {True, False}  # order-up-to is the same every weekday, the DP is not
    # orders per state: the y-axis ends close to the largest order shown
    ops = next(f for f in figs
               if any("differs from the optimum" in ax.get_title(loc="left") for ax in f.axes))
    shown = [ln for ax in ops.axes for ln in ax.get_lines()]
    top = max(float(np.max(ln.get_ydata())) for ln in shown)
    for ax in ops.axes:
        if ax.get_lines():
            assert top <= ax.get_ylim()[1] <= 1.05 * top + 0.5 + 1e-9
    assert ops.axes[0].get_ylim()[1] < problem.max_order_units  # not the largest feasible order
    # replay: 28 days day by day; weekly summary: one point per full week and method
    import matplotlib.dates as mdates

    zoom = next(f for f in figs if any("in these 28 days" in ax.get_title(loc="left") for ax in f.axes))
    for ax in zoom.axes:
        xs = [x for ln in ax.get_lines() for x in np.atleast_1d(ln.get_xdata())]
        if xs:
            days = mdates.date2num(xs)
            assert days.max() - days.min() <= 27
    weekly = next(f for f in figs if any(ax.get_ylabel() == "cost ($/week)" for ax in f.axes))
    cost_ax = next(ax for ax in weekly.axes if ax.get_ylabel() == "cost ($/week)")
    n_weeks = len(comp.history.test) // 7
    lines = {ln.get_label(): ln for ln in cost_ax.get_lines()}
    for r in comp.results:
        y = np.asarray(lines[r.method].get_ydata(), dtype=float)
        assert len(y) == n_weeks
        assert y.sum() == pytest.approx(r.test.trajectory["cost"][: 7 * n_weeks].sum())
