"""HTML of the report: escaping, tables, figures, sections and the page (no scripts, styles inline).

The row and list helpers (:func:`row_html`, :func:`list_items`) also build
the fleet report (:mod:`replenish.workflows.fleet.report`).
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from replenish.model.demand import WEEKDAYS
from replenish.model.spec import Problem
from replenish.workflows.report.figures import Figure

CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:0;background:#f6f7f9;color:#222}
main{max-width:1240px;margin:0 auto;padding:24px 28px;background:#fff}
h1{font-size:26px;margin:4px 0 4px}h2{font-size:21px;margin:34px 0 8px;border-bottom:2px solid #e3e6ea;
padding-bottom:4px}h3{font-size:16px;margin:22px 0 6px}
p.meta{color:#666;margin:0 0 14px;font-size:13px}
.tw{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:8px 0 14px;font-size:13px}
th,td{padding:4px 8px;border-bottom:1px solid #e6e8eb;text-align:right;white-space:nowrap}
th{white-space:normal;vertical-align:bottom}
th{background:#f0f2f5;font-weight:600}td.l,th.l{text-align:left}
tr.best td{background:#eef8ee}
figure{margin:10px 0 22px}figure img{max-width:100%;height:auto;border:1px solid #eceef1}
figcaption{font-size:13px;color:#555;margin-top:4px}
.params td{text-align:left}.note{font-size:13px;color:#555}
code{background:#f0f2f5;padding:1px 4px;border-radius:3px}
.decision{background:#eef6ee;border:1px solid #b9dbb9;border-radius:6px;padding:10px 16px;margin:12px 0 18px}
.decision h2{border:0;margin:4px 0 6px;font-size:19px}.decision p.rec{font-size:15px;margin:4px 0}
.decision ul{margin:4px 0 8px;font-size:14px}.decision h3{margin:10px 0 2px}
"""


def fmt_cost(x: float | None) -> str:
    """Cost cells of the summary table: 4 decimals (``results.json`` rounds to the same)."""
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


def fmt_pct(x: float | None) -> str:
    """Relative figures: signed percent with 2 decimals."""
    return "—" if x is None else f"{100 * x:+.2f}%"


def ci_text(row: dict[str, Any]) -> str:
    """The "95% CI / exact" cell: ``exact``, ``± half-width`` or ``—``."""
    if row.get("exact"):
        return "exact"
    ci = row.get("ci95")
    if ci:
        return f"± {(ci[1] - ci[0]) / 2:.4f}"
    return "—"


def slug(text: str) -> str:
    """An anchor / file-name fragment: ``"Bike shop!"`` → ``"bike-shop"``."""
    s = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()
    return s or "x"


def row_html(cells: Iterable[Any], *, tag: str = "td", left: int = 0, cls: str = "") -> str:
    """One table row of escaped cells; the first ``left`` are left-aligned (class ``l``)."""
    tds = "".join(f'<{tag} class="l">{html.escape(str(c))}</{tag}>' if i < left
                  else f"<{tag}>{html.escape(str(c))}</{tag}>" for i, c in enumerate(cells))
    rc = f' class="{cls}"' if cls else ""
    return f"<tr{rc}>{tds}</tr>"


def list_items(texts: Iterable[str]) -> str:
    """``<li>`` elements of escaped texts."""
    return "".join(f"<li>{html.escape(t)}</li>" for t in texts)


def table_html(head: Sequence[str], rows: Sequence[Sequence[str]], *, cls: str = "",
               left: int = 1, row_classes: Sequence[str] | None = None) -> str:
    """A scrollable table with a header row; ``row_classes``: a class per body row (or ``""``)."""
    h = row_html(head, tag="th", left=left)
    body = "".join(row_html(r, left=left, cls=row_classes[k] if row_classes else "")
                   for k, r in enumerate(rows))
    c = f' class="{cls}"' if cls else ""
    return f'<div class="tw"><table{c}><thead>{h}</thead><tbody>{body}</tbody></table></div>'


def figure_html(f: Figure) -> str:
    """The figure embedded as a base64 PNG with its caption and file names."""
    b64 = base64.b64encode(f.png).decode("ascii")
    files = f"<code>{f.name}.png</code>" + (f", <code>{f.name}.svg</code>" if f.svg is not None else "")
    return (f'<figure id="{f.name}"><img alt="{html.escape(f.title)}" '
            f'src="data:image/png;base64,{b64}"><figcaption>{html.escape(f.caption)} '
            f"({files})</figcaption></figure>")


def problem_table(problem: Problem) -> str:
    """The problem's parameters (demand, lead time, bounds, costs) as a two-column table."""
    d = problem.demand.to_dict()
    dem = d.get("kind", "?")
    if problem.seasonal:
        dem += ", weekday means " + ", ".join(f"{WEEKDAYS[w]} {problem.demand.mean_at(w):.1f}"
                                              for w in range(problem.period))
    else:
        dem += f", mean {problem.demand.mean_at(0):g} units/day"
    rows = [("demand D", dem), ("lead time L", f"{problem.lead_time} period(s)"),
            ("capacity C", "—" if problem.capacity is None else f"{problem.capacity} units"),
            ("position bound B", f"{problem.bound} units"),
            ("order multiple m", f"{problem.order_multiple} units"),
            ("excess demand", problem.excess_demand),
            ("holding h", f"{problem.holding_cost:g} $/unit/period"),
            ("stockout p", f"{problem.stockout_cost:g} $/unit"),
            ("fixed order K", f"{problem.fixed_order_cost:g} $/order"),
            ("unit cost c", f"{problem.unit_cost:g} $/unit"), ("price r", f"{problem.price:g} $/unit")]
    if problem.perishable:
        rows += [("shelf life M", f"{problem.shelf_life} period(s), issuing {problem.issuing.upper()}"),
                 ("waste w", f"{problem.waste_cost:g} $/unit expired")]
    return table_html(("parameter", "value"), rows, cls="params", left=2)


def summary_html(rows: list[dict[str, Any]], historical: bool, recommended: str | None = None) -> str:
    """The summary table of a section; the recommended method's row (the decision's) is
    highlighted, else the cheapest one."""
    head = ["method", "policy", "avg cost $/period", "95% CI / exact", "gap to optimum",
            "vs reference", "training s", "fill rate", "days with stockout", "avg on hand"]
    waste = any("waste" in (r.get("breakdown") or {}) and r.get("perishable") for r in rows)
    if waste:
        head += ["waste $/period"]
    if historical:
        head += ["test $/day", "test total $", "test vs ref", "test stockout days"]
        if waste:
            head += ["test units wasted", "test waste rate"]
    body, classes = [], []
    best = min((r["average_cost"] for r in rows), default=None)
    for r in rows:
        line = [r["label"], r["policy"], fmt_cost(r["average_cost"]), ci_text(r), fmt_pct(r.get("gap")),
                fmt_pct(r.get("relative_to_reference")), f"{r.get('seconds', 0.0):.2f}",
                f"{r['fill_rate']:.4f}", f"{100 * r['stockout_rate']:.2f}%", f"{r['average_on_hand']:.2f}"]
        if waste:
            line.append(fmt_cost((r.get("breakdown") or {}).get("waste", 0.0)))
        if historical:
            if r.get("test_average_cost") is not None:
                rel = r.get("test_relative_to_reference")
                line += [fmt_cost(r["test_average_cost"]), f"{r['test_total_cost']:.2f}",
                         "—" if rel is None else f"{100 * (rel - 1):+.2f}%", str(r["test_stockout_days"])]
                if waste:
                    line += [str(r.get("test_wasted", 0)), f"{100 * r.get('test_waste_rate', 0.0):.1f}%"]
            else:
                line += ["—"] * (6 if waste else 4)
        body.append(line)
        hit = r["label"] == recommended if recommended is not None else r["average_cost"] == best
        classes.append("best" if hit else "")
    return table_html(head, body, left=2, row_classes=classes)


def explain_html(problem: Problem, explanations: list[Any]) -> str:
    """Each method's order at the representative states, candidate orders and the cost forecast."""
    from replenish.workflows.explain import describe_state

    if not explanations:
        return ""
    head = ["method"] + [describe_state(problem, np.asarray(e.state)) for e in explanations]
    rows = []
    for k, p0 in enumerate(explanations[0].policies):
        cells = [p0.label]
        for e in explanations:
            p = e.policies[k]
            extra = "" if p.regret is None or p.regret < 5e-5 else f" (+{p.regret:.3f} $)"
            cells.append(f"{p.order}{extra}")
        rows.append(cells)
    out = [table_html(head, rows, left=1)]
    e = explanations[0]
    if e.values:
        st = html.escape(describe_state(problem, np.asarray(e.state)))
        out.append(f"<h3>Candidate orders in state {st}</h3>")
        pnote = e.period_cost_note()
        notes = [e.scale_note()] + ([pnote] if pnote else [])
        out.append('<p class="note">' + html.escape(". ".join(n[0].upper() + n[1:] for n in notes))
                   + ". Shown: the orders near the optimal one, every method's order and ordering "
                   "nothing (… = orders left out; <code>replenish explain --all-orders</code> "
                   "lists all).</p>")
        head3 = ["order"] + ([] if pnote else ["tonight's expected cost $"]) + \
            ["cost-to-go $", "regret $", "chosen by"]
        vr, cls = [], []
        for row in e.value_rows(3):
            if row is None:
                vr.append(["…"] + [""] * (len(head3) - 1))
                cls.append("")
                continue
            v, labels = row
            vr.append([str(v.order)] + ([] if pnote else [f"{v.period_cost:.4f}"])
                      + [f"{v.cost_to_go:.4f}", f"{v.regret:.4f}", ", ".join(labels)])
            cls.append("best" if v.order == e.optimal_order else "")
        out.append(table_html(head3, vr, left=0, row_classes=cls))
    fc = [p for p in e.policies if p.forecast]
    if fc:
        days = len(fc[0].forecast)
        costs = np.array([[d.cost for d in p.forecast] for p in fc])
        same = [len(fc) > 1 and float(np.ptp(costs[:, d])) <= 1e-9 * max(1.0, abs(costs[0, d]))
                for d in range(days)]
        if all(same):  # every policy's forecast is the same: nothing to leave out
            same = [False] * days
        keep = [d for d in range(days) if not same[d]]
        head2 = ["policy", "order"] + [f"day {d + 1}" for d in keep] + [f"{days} days"]
        rows2 = [[p.label, str(p.order)] + [f"{p.forecast[d].cost:.2f}" for d in keep]
                 + [f"{p.forecast_total:.2f}"] for p in fc]
        out.append(f"<h3>Expected cost of the next {days} days from that state ($, exact)</h3>")
        dropped = [d for d in range(days) if same[d]]
        if dropped:
            out.append('<p class="note">The same for every policy, so left out: '
                       + ", ".join(f"day {d + 1} {costs[0, d]:.2f} $" for d in dropped)
                       + (" (tonight's order arrives after the first day's demand)"
                          if dropped == list(range(min(problem.lead_time, days))) else "")
                       + "; the total includes them.</p>")
        out.append(table_html(head2, rows2, left=1))
    return "\n".join(out)


def section_html(title: str, problem: Problem, comparison: Any, rows: list[dict[str, Any]],
                 figs: Sequence[Figure], exps: list[Any], recommended: str | None = None) -> str:
    """One ``<section>`` of the report: problem, summary table, figures and explanations."""
    historical = comparison is not None
    parts = [f'<section id="{slug(title)}"><h2>{html.escape(title)}</h2>', problem_table(problem)]
    if historical:
        h = comparison.history
        parts.append(f'<p class="note">Every method learned on {h.train.first} … {h.train.last} '
                     f"({len(h.train)} days); the figures \"test\" replay the finished policies on "
                     f"the actual demand of {h.test.first} … {h.test.last} ({len(h.test)} days), "
                     f"relative to the reference <b>{html.escape(str(comparison.reference))}</b>. "
                     "“avg cost” is the long-run cost under the weekday model fitted on the "
                     "training window.</p>")
    parts.append("<h3>Summary</h3>")
    parts.append(summary_html(rows, historical, recommended))
    ref = rows[0].get("reference") if rows else None
    parts.append('<p class="note">Average cost: long-run $ per period, exact (stationary distribution '
                 "of the policy's Markov chain) or simulated with a 95% confidence interval. Gap: "
                 "(g − g*)/|g*| to the DP optimum g*. "
                 + (f"“vs reference”: relative to <b>{html.escape(ref)}</b>, the reference of the "
                    "decision (static (s, S) unless another is named; else the cheapest static "
                    "rule); highlighted: the recommended policy. " if ref else "")
                 + "Training s: wall time of the method, excluding evaluation.</p>")
    for fg in figs:
        if fg.name.endswith("explain"):
            continue
        parts.append(f"<h3>{html.escape(fg.title)}</h3>")
        parts.append(figure_html(fg))
    if exps:
        parts.append("<h3>Explanations at representative states</h3>")
        parts.append('<p class="note">Order of each method (in brackets: its exact DP regret, the '
                     "extra long-run cost of that order compared with the best one). "
                     "Use <code>replenish explain CONFIG --policy FILE --state α,β</code> for any "
                     "state.</p>")
        parts.append(explain_html(problem, exps))
        for fg in figs:
            if fg.name.endswith("explain"):
                parts.append(figure_html(fg))
    parts.append("</section>")
    return "\n".join(parts)


def decision_html(decisions: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """The decision block at the top of a report: per section, its recommendation (bold), the
    runner-up and the reasons (the lines ``replenish compare``/``solve`` print)."""
    if not decisions:
        return ""
    multi = len(decisions) > 1
    out = ['<div class="decision" id="decision"><h2>Decision</h2>']
    for title, d in decisions:
        text = list(d.get("text") or [])
        if not text:
            continue
        if multi:
            out.append(f'<h3><a href="#{slug(title)}">{html.escape(title)}</a></h3>')
        out.append(f'<p class="rec"><b>{html.escape(text[0])}</b></p>')
        if len(text) > 1:
            out.append(f"<ul>{list_items(text[1:])}</ul>")
    out.append("</div>")
    return "\n".join(out)


def page_html(title: str, sections: Sequence[str], parts: Sequence[str], *, version: str,
              generated: str, decisions: Sequence[tuple[str, dict[str, Any]]] = ()) -> str:
    """The whole page: title, meta line, the decision block, a table of contents (several
    sections) and the sections."""
    multi = len(sections) > 1
    toc = "".join(f'<li><a href="#{slug(s)}">{html.escape(s)}</a></li>' for s in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body><main>"
            f"<h1>{html.escape(title)}</h1><p class=\"meta\">replenish {version} — generated {generated} — "
            "figures also as PNG/SVG files, results in <code>results.json</code> and "
            "<code>results.csv</code> next to this page.</p>" + decision_html(decisions)
            + (f"<ul>{toc}</ul>" if multi else "") + "\n".join(parts) + "</main></body></html>\n")


def rolling_index_html(roll: Any, decision: Any = None) -> str:
    """``index.html`` of a rolling-origin comparison: the decision (which policy to deploy, its
    saving per origin, where it lost; :func:`~replenish.workflows.decision.decide_rolling` unless
    given), the test cost of every method per origin and in total, and a link to each origin's
    report (``origin-<date>/report.html``)."""
    import html as _html

    from replenish.workflows.decision import decide_rolling

    if decision is None:
        try:
            decision = decide_rolling(roll)
        except Exception:  # no method ran at every origin
            decision = None
    dec = ""
    if decision is not None:
        text = decision.lines()
        dec = (f'<div class="decision"><h2>Decision</h2><p><b>{_html.escape(text[0])}</b></p>'
               f"<ul>{list_items(text[1:])}</ul></div>")

    tot = roll.totals()
    ref = roll.to_json()["reference"]
    head = "".join(f"<th>{_html.escape(o.origin)}</th>" for o in roll.origins)
    rows = []
    for m in roll.methods:
        cells = []
        for o in roll.origins:
            t = o.comparison.get(m).test
            cells.append(f"<td>{t.total_cost:,.0f}</td>" if t is not None else "<td>failed</td>")
        t_all = tot[m]
        rel = (f"{t_all / tot[ref]:.3f}" if (t_all is not None and ref and tot.get(ref)) else "—")
        rows.append(f"<tr><td>{_html.escape(m)}</td>{''.join(cells)}"
                    f"<td>{'—' if t_all is None else f'{t_all:,.0f}'}</td><td>{rel}</td></tr>")
    links = "".join(f'<li><a href="origin-{o.origin}/report.html">origin {o.origin}</a>: trained on '
                    f"{o.comparison.history.train.first} .. {o.comparison.history.train.last}, "
                    f"tested on {o.comparison.history.test.first} .. {o.comparison.history.test.last}</li>"
                    for o in roll.origins)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{_html.escape(roll.name)}: rolling "
            "origins</title><style>body{font-family:sans-serif;max-width:960px;margin:2em auto}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;"
            "text-align:right}td:first-child{text-align:left}"
            ".decision{background:#eef6ee;border:1px solid #b9dbb9;border-radius:6px;padding:4px 16px}"
            "</style></head><body>"
            f"<h1>{_html.escape(roll.name)}: rolling-origin backtest</h1>{dec}"
            "<p>Each method is fitted on all data before an origin and replayed on the actual sales "
            "after it. Test-window total cost ($), and the total relative to "
            f"{_html.escape(ref or '—')}.</p>"
            f"<table><tr><th>method</th>{head}<th>total</th><th>vs {_html.escape(ref or '—')}</th></tr>"
            f"{''.join(rows)}</table><h2>Reports per origin</h2><ul>{links}</ul></body></html>")
