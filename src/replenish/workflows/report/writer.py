"""Writing the report: :func:`write_report` (results of one or several problems) and
:func:`write_comparison_report` (every output of ``replenish compare --report``)."""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from replenish.core.io import atomic_write, dumps_json, staged_folder
from replenish.core.validate import require
from replenish.policies.base import Policy
from replenish.solvers.catalogue import SolveResult
from replenish.workflows.report import figures as _figures
from replenish.workflows.report.figures import (
    Figure,
    compare_replay_png,
    fig_costs,
    fig_explain,
    fig_forecast,
    fig_learning,
    fig_replay,
)
from replenish.workflows.report.html import page_html, section_html, slug
from replenish.workflows.report.policy_figures import (
    fig_heatmaps,
    fig_orders_per_state,
    optimum_policy,
    representative_states,
)
from replenish.workflows.report.tables import (
    compare_replay_csv,
    replay_csv,
    results_csv,
    summary_rows,
    unique_labels,
)


@dataclass(frozen=True)
class ReportSection:
    """One problem of a report.

    Attributes:
        results: the methods' results on this problem (same problem for all).
        labels: display label per result (default: method name, made unique).
        title: section heading (default: the problem name).
        comparison: a :class:`~replenish.workflows.compare.Comparison` whose test-window
            replays are plotted and tabulated (its results should be
            ``results``), or ``None``.
        explain_states: full states to explain (default: a few representative ones).
        reference: the policy savings are measured against in the decision (a label or a
            method name; default static (s, S), see :mod:`replenish.workflows.decision`).
    """

    results: Sequence[SolveResult]
    labels: Sequence[str] | None = None
    title: str | None = None
    comparison: Any = None
    explain_states: Sequence[Sequence[int]] | None = None
    reference: str | None = None


@dataclass(frozen=True)
class Report:
    """What :func:`write_report` (or :func:`write_comparison_report`) wrote.

    Attributes:
        folder: the output folder.
        html: path of ``report.html``.
        json: path of ``results.json``; ``csv``: path of ``results.csv``.
        figures: names of the figures (each has ``.png`` and ``.svg`` files).
        files: every file written.
        data: the ``results.json`` object.
    """

    folder: Path
    html: Path
    json: Path
    csv: Path
    figures: tuple[str, ...]
    files: tuple[Path, ...]
    data: dict[str, Any] = field(repr=False)


def section_decision(sec: ReportSection, labels: Sequence[str]) -> Any:
    """The decision of a section: on the test-window replay for a comparison, else on the
    long-run costs (:mod:`replenish.workflows.decision`)."""
    from replenish.workflows.decision import decide, decide_comparison

    results = list(sec.results)
    if sec.comparison is not None:
        by_method = {r.method: lab for lab, r in zip(labels, results, strict=True)}
        return decide_comparison(sec.comparison, by_method, reference=sec.reference)
    return decide(results, labels, reference=sec.reference, subject=sec.title)


def _build_section(sec: ReportSection, multi: bool, explain_days: int
                   ) -> tuple[dict[str, Any], list[Figure], str, str | None]:
    """One section: its ``results.json`` object, figures, HTML and replay CSV (``None`` if not historical)."""
    from replenish.workflows.explain import explain

    results = list(sec.results)
    require(len(results) >= 1, "results", 0, "a report needs at least one result")
    # the weekday problem (a forecasting policy's own problem is its calendar)
    problem = next((r.policy.problem for r in results if not hasattr(r.policy, "forecaster")),
                   getattr(results[0].policy, "base", results[0].policy.problem))
    labels = unique_labels(results, sec.labels)
    title = sec.title or problem.name
    prefix = f"{slug(title)}-" if multi else ""
    decision = section_decision(sec, labels)
    rows = summary_rows(results, labels, sec.comparison, reference=decision.reference)
    historical = sec.comparison is not None
    optimum = optimum_policy(problem, results)
    figs: list[Figure] = [fig_costs(rows, prefix, historical)]
    # forecasting policies act on the calendar, not on a weekday phase: no state-grid figures
    grid = [(lab, r) for lab, r in zip(labels, results, strict=True)
            if not hasattr(r.policy, "forecaster")]
    if grid:
        f = fig_orders_per_state(problem, [r for _, r in grid], [lab for lab, _ in grid], optimum,
                                 prefix)
        if f is not None:
            figs.append(f)
    pols: list[tuple[str, Policy]] = []
    if optimum is not None and not any(r.method == "dp" for r in results):
        pols.append(("DP optimum", optimum))
    pols += [(lab, r.policy) for lab, r in grid]
    if pols:
        figs.append(fig_heatmaps(problem, pols, prefix, reference=optimum or pols[0][1]))
    f = fig_learning(results, labels, prefix)
    if f is not None:
        figs.append(f)
    replay = None
    if historical:
        by_method = {r.method: lab for lab, r in zip(labels, results, strict=True)}
        figs += fig_replay(sec.comparison, by_method, prefix)
        figs += fig_forecast(sec.comparison, prefix)
        replay = replay_csv(sec.comparison, by_method)
    states = ([np.asarray(s, dtype=np.int64) for s in sec.explain_states] if sec.explain_states
              else representative_states(problem, optimum))
    named = {lab: r.policy for lab, r in grid if r.method != "dp"}
    exps: list[Any] = []
    for s in states:
        try:
            exps.append(explain(problem, named, s, days=explain_days if not exps else 0,
                                neighbours=False))
        except Exception:  # a state a table policy does not cover
            continue
    f = fig_explain(problem, exps, labels, prefix, [r.method for r in results])
    if f is not None:
        figs.append(f)
    data = {"title": title, "problem": problem.to_dict(), "decision": decision.to_json(), "rows": rows,
            "best_static": rows[0].get("best_static") if rows else None,
            "explanations": [e.to_json() for e in exps],
            "figures": [fg.name for fg in figs]}
    if historical:
        data["comparison"] = sec.comparison.to_json()
    return data, figs, section_html(title, problem, sec.comparison, rows, figs, exps,
                                                 recommended=decision.recommended), replay


def _moved(rep: Report, stage: Path, folder: Path) -> Report:
    """``rep`` written in ``stage``, with its paths in ``folder`` (after the swap)."""
    def at(p: Path) -> Path:
        return folder / p.relative_to(stage)

    return dataclasses.replace(rep, folder=folder, html=at(rep.html), json=at(rep.json), csv=at(rep.csv),
                               files=tuple(at(p) for p in rep.files))


def write_report(results: Sequence[SolveResult] | Sequence[ReportSection], folder: str | Path, *,
                 labels: Sequence[str] | None = None, title: str | None = None,
                 comparison: Any = None, explain_days: int = 7, svg: bool = True,
                 reference: str | None = None) -> Report:
    """Write the report of ``results`` into ``folder`` (see :mod:`replenish.workflows.report`).

    The folder is built beside ``folder`` and swapped in at the end
    (:func:`~replenish.core.io.staged_folder`): a failed or killed run leaves the old
    report whole.

    Args:
        results: results on one problem, or a list of :class:`ReportSection`
            (several problems in one report).
        folder: output folder (created).
        labels: display labels of ``results`` (single-problem form only).
        title: report title.
        comparison: historical comparison of ``results`` (single-problem form only).
        explain_days: days of expected-cost forecast in the explanation section.
        svg: also write every figure as SVG (rendering twice; PNG is always written).
        reference: the decision's reference (single-problem form only; see :class:`ReportSection`).
    """
    folder = Path(folder)
    with staged_folder(folder) as stage:
        rep = _write_report(results, stage, labels=labels, title=title, comparison=comparison,
                            explain_days=explain_days, svg=svg, reference=reference)
    return _moved(rep, stage, folder)


def _write_report(results: Sequence[SolveResult] | Sequence[ReportSection], folder: Path, *,
                  labels: Sequence[str] | None, title: str | None, comparison: Any,
                  explain_days: int, svg: bool, reference: str | None = None) -> Report:
    """:func:`write_report` into the folder ``folder`` as it is."""
    from replenish import __version__

    items = list(results)
    require(len(items) >= 1, "results", 0, "a report needs at least one result")
    if isinstance(items[0], ReportSection):
        sections = cast(list[ReportSection], items)
    else:
        sections = [ReportSection(results=cast(list[SolveResult], items), labels=labels,
                                  comparison=comparison, reference=reference)]
    folder.mkdir(parents=True, exist_ok=True)
    multi = len(sections) > 1
    secs, figs, parts, files = [], [], [], []
    _figures.SVG[0] = bool(svg)
    for sec in sections:
        data, fs, part, replay = _build_section(sec, multi, explain_days)
        secs.append(data)
        figs += fs
        parts.append(part)
        if replay is not None:
            files.append(atomic_write(folder / f"{slug(data['title'])}-replay.csv", replay))
    title = title or " / ".join(s["title"] for s in secs)
    for fg in figs:
        files.append(atomic_write(folder / f"{fg.name}.png", fg.png))
        if fg.svg is not None:
            files.append(atomic_write(folder / f"{fg.name}.svg", fg.svg))
    now = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    data = {"title": title, "generated": now, "replenish_version": __version__, "sections": secs}

    jpath = atomic_write(folder / "results.json", dumps_json(data))
    cpath = atomic_write(folder / "results.csv", results_csv(secs))
    doc = page_html(title, [s["title"] for s in secs], parts, version=__version__, generated=now,
                    decisions=[(s["title"], s["decision"]) for s in secs])
    hpath = atomic_write(folder / "report.html", doc)
    files += [jpath, cpath, hpath]
    return Report(folder=folder, html=hpath, json=jpath, csv=cpath,
                  figures=tuple(f.name for f in figs), files=tuple(files), data=data)


def write_comparison_report(comparison: Any, folder: str | Path, *, title: str | None = None,
                            svg: bool = True, reference: str | None = None) -> Report | None:
    """Every output of a :class:`~replenish.workflows.compare.Comparison` (``replenish compare --report``).

    Writes ``compare.json`` (:meth:`Comparison.to_json`), ``compare.txt`` (the
    header and table printed by ``replenish compare``), ``policy-<method>.json``
    / ``.pt`` for each method that produced a policy, ``test_replay.csv`` (one
    row per test day and method: date, weekday 0 = Monday, demand, order,
    on hand after demand, units short, cost) and ``test_replay.png`` (the first
    eight weeks of the test window); then, when at least one method produced a
    policy, the report of :func:`write_report` (``report.html``, figures,
    ``results.json``/``.csv``, ``<problem>-replay.csv``).  Every file is
    written atomically.

    Returns:
        The :class:`Report` (its ``files`` include the comparison files), or
        ``None`` when no method produced a policy (only the comparison files
        are written then).
    """
    folder = Path(folder)
    with staged_folder(folder) as stage:
        rep = _write_comparison(comparison, stage, title=title, svg=svg, reference=reference)
    return None if rep is None else _moved(rep, stage, folder)


def write_rolling_report(rolling: Any, folder: str | Path, *, svg: bool = True,
                         decision: Any = None) -> Path:
    """Every output of ``replenish compare --report`` with rolling origins: one
    comparison report per origin (``origin-<date>/``), ``compare.json``
    (:meth:`RollingComparison.to_json`), ``compare.txt`` and the overview with the
    ``decision`` (:func:`~replenish.workflows.decision.decide_rolling`) as
    ``report.html`` and ``index.html``.  Built beside ``folder`` and swapped in as a
    whole at the end; returns ``folder``."""
    from replenish.workflows.report.html import rolling_index_html

    folder = Path(folder)
    with staged_folder(folder) as stage:
        for o in rolling.origins:
            sub = stage / f"origin-{o.origin}"
            sub.mkdir(exist_ok=True)  # exists when the folder is written in place
            _write_comparison(o.comparison, sub, title=None, svg=svg,
                              reference=o.comparison.reference)
        atomic_write(stage / "compare.json", dumps_json(rolling.to_json()))
        atomic_write(stage / "compare.txt", rolling.table() + "\n")
        index = rolling_index_html(rolling, decision)
        atomic_write(stage / "report.html", index)
        atomic_write(stage / "index.html", index)
    return folder


def _write_comparison(comparison: Any, folder: Path, *, title: str | None, svg: bool,
                      reference: str | None = None) -> Report | None:
    """:func:`write_comparison_report` into the folder ``folder`` as it is."""
    from replenish.workflows.compare import header

    folder.mkdir(parents=True, exist_ok=True)
    files = [atomic_write(folder / "compare.json", dumps_json(comparison.to_json())),
             atomic_write(folder / "compare.txt", header(comparison) + "\n" + comparison.table() + "\n")]
    for r in comparison.results:
        if r.test is None or r.policy is None:
            continue
        try:
            files.append(r.policy.save(folder / f"policy-{r.method}{r.policy.file_suffix}"))
        except (OSError, NotImplementedError):  # pragma: no cover - a policy without a file format
            pass
    files.append(atomic_write(folder / "test_replay.csv", compare_replay_csv(comparison)))
    png = compare_replay_png(comparison)
    if png is not None:
        files.append(atomic_write(folder / "test_replay.png", png))
    ok = [r for r in comparison.results if r.solve is not None]
    if not ok:
        return None
    sec = ReportSection(results=[r.solve for r in ok], labels=[r.method for r in ok],
                        title=title or comparison.problem.name, comparison=comparison,
                        reference=reference)
    rep = _write_report([sec], folder, labels=None, title=title, comparison=None, explain_days=7,
                        svg=svg)
    return dataclasses.replace(rep, files=(*files, *rep.files))
