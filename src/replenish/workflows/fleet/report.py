"""The fleet's result files: ``summary.json``, ``summary.txt``, ``report.html`` and ``fleet_ratios.png``.

The page and the figure are built with the report package's helpers
(:func:`~replenish.workflows.report.html.row_html`,
:func:`~replenish.workflows.report.html.list_items`,
:func:`~replenish.workflows.report.figures.pyplot`,
:func:`~replenish.workflows.report.figures.render`); every file is written
atomically.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from replenish.core.io import atomic_write, dumps_json
from replenish.workflows.fleet.journal import TABLE_CSV, TABLE_PARQUET
from replenish.workflows.fleet.summary import FleetSummary
from replenish.workflows.report.figures import method_style, pyplot, render
from replenish.workflows.report.html import list_items, row_html


def write_summary(summary: FleetSummary, out: str | Path, *, table: Any = None) -> list[Path]:
    """``summary.json``, ``summary.txt`` and (with ``table``) ``report.html`` + ``fleet_ratios.png``."""
    out = Path(out)
    written = [atomic_write(out / "summary.json", dumps_json(summary.to_json())),
               atomic_write(out / "summary.txt", summary.text() + "\n")]
    if table is not None:
        img = ""
        data = relative_costs(summary, table)
        if data:
            written.append(atomic_write(out / "fleet_ratios.png", ratio_figure(summary, data)))
            img = '<img src="fleet_ratios.png" alt="distribution of relative test costs">'
        written.append(atomic_write(out / "report.html", page_html(summary, img)))
    return written


def relative_costs(summary: FleetSummary, table: Any) -> list[tuple[str, np.ndarray]]:
    """Per method other than the reference: its test cost / the reference's, on each ok series."""
    ref = summary.reference
    data: list[tuple[str, np.ndarray]] = []
    if ref is None or not len(table):
        return data
    ok = table[table["status"] == "ok"]
    for m in summary.methods:
        if m.method == ref or f"{m.method}.test_cost" not in ok.columns:
            continue
        both = ok[ok[f"{m.method}.test_cost"].notna() & (ok[f"{ref}.test_cost"] > 0)]
        if len(both):
            data.append((m.method, (both[f"{m.method}.test_cost"] / both[f"{ref}.test_cost"]).to_numpy()))
    return data


def ratio_figure(summary: FleetSummary, data: list[tuple[str, np.ndarray]]) -> bytes:
    """``fleet_ratios.png``: box plots of the relative test costs (90 dpi, matplotlib's default style)."""
    plt = pyplot(style=False)
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(data) + 1.6))
    box = ax.boxplot([d for _, d in data], orientation="horizontal", showfliers=True, patch_artist=True)
    for patch, flier, (m, _) in zip(box["boxes"], box["fliers"], data, strict=True):
        color, marker = method_style(m)  # each method's colour and marker, as in the reports
        patch.set_facecolor(color)
        patch.set_alpha(0.55)
        flier.set_marker(marker)
        flier.set_markeredgecolor(color)
    ax.set_yticks(range(1, len(data) + 1), [m for m, _ in data])
    ax.axvline(1.0, color="0.4", lw=1, ls="--")
    ax.set_xlabel(f"test cost / {summary.reference} test cost (per series; < 1 = cheaper)")
    ax.set_title(f"{summary.n_ok} series", fontsize=10, loc="left")
    fig.tight_layout()
    return render(fig, dpi=90)[0]


def page_html(summary: FleetSummary, img: str) -> str:
    """``report.html``: the summary table, the figure, the losing and the failed series."""
    from replenish.workflows.decision import decide_fleet

    esc = html.escape
    ref = summary.reference
    decision = decide_fleet(summary)
    dec = ""
    if decision is not None:
        text = decision.lines()
        dec = (f'<div class="decision"><h2>Decision</h2><p><b>{esc(text[0])}</b></p>'
               f"<ul>{list_items(text[1:])}</ul></div>")
    rows = "".join(row_html(m.cells()) for m in summary.methods)
    losing = "".join(
        f"<h3>{esc(m.method)} loses to {esc(str(ref))} on {m.losses} series</h3>"
        f"<ul>{list_items(f'{s}: {r:.3f}' for s, r in m.losing_series[:30])}</ul>"
        for m in summary.methods if m.method != ref and m.losing_series)
    fails = list_items(f"{s}: {e}" for s, e in summary.failed)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>replenish fleet</title>
<style>body{{font-family:sans-serif;max-width:980px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:first-child{{text-align:left}}
.decision{{background:#eef6ee;border:1px solid #b9dbb9;border-radius:6px;padding:4px 16px}}</style>
</head><body><h1>Fleet: {summary.n_series} series</h1>{dec}
<p>{summary.n_ok} ok, {summary.n_failed} failed. Every method is tuned or trained on each series'
training window and replayed on its held-out test window; costs are relative to the best static
policy <b>{esc(str(ref))}</b> of the same series (ratio &lt; 1: cheaper). <i>saved</i> is
Σ (reference − method) test cost in $.</p>
<table><tr><th>method</th><th>series</th><th>p10</th><th>median</th><th>p90</th><th>geomean</th>
<th>total</th><th>wins</th><th>losses</th><th>saved $</th></tr>{rows}</table>
{img}{losing}{'<h2>Failed series</h2><ul>' + fails + '</ul>' if fails else ''}
<p>Full table: <a href="{TABLE_CSV}">{TABLE_CSV}</a> / {TABLE_PARQUET}.</p></body></html>
"""
