"""Writes a report directory: leaderboard.md, index.html (self-contained), PNG plots, results.json."""

from __future__ import annotations

import base64
import html
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from izbench.report.acquisition import AcquisitionSummary, by_method
from izbench.report.aggregate import Leaderboard, Section, cell_record
from izbench.report.anytime import Anytime
from izbench.report.anytime_text import (
    PROPOSALS_NOTE,
    PROPOSALS_TITLE,
    UNITS_NOTE,
    anytime_notes,
    area_improvement_table,
    area_table,
    budget_table,
    units_table,
)
from izbench.report.plots import (
    anytime_png,
    calls_png,
    cd_png,
    curves_png,
    improvement_png,
    intervals_png,
    profile_png,
    runtime_png,
    units_png,
)
from izbench.report.pools import PoolSummary
from izbench.report.seeds import AGGREGATES, SeedStatistics
from izbench.report.table import TextTable
from izbench.report.units import SPEND_NOTE, spend_json, spend_table, spending


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def entry_text(board: Leaderboard, task: str, method: str) -> str:
    entry = board.table.get((task, method))
    if entry is None:
        return "-"
    if entry.low is None:
        return f"{entry.mean:.3f}"
    return f"{entry.mean:.3f} [{entry.low:.3f}, {entry.high:.3f}]"


def calls_text(board: Leaderboard, method: str) -> str:
    """Mean black-box calls a method asked for per cell (validation and writing, not test)."""
    return f"{board.calls[method]:.0f}" if method in board.calls else "-"


def chance_text(board: Leaderboard, task: str) -> str:
    return f"{board.chance[task]:.3f}" if task in board.chance else "-"


def leaderboard_table(board: Leaderboard) -> TextTable:
    """Per task and method the test score (mean over seeds [95% interval]); then the average,
    the average rank, the wins and the black-box calls per cell."""
    chance = ["chance"] if board.chance else []
    rows = [
        [task, *(entry_text(board, task, m) for m in board.methods), *(chance_text(board, task) for _ in chance)]
        for task in board.tasks
    ]
    rows.append(["average", *(f"{board.average[m]:.3f}" for m in board.methods)])
    rows.append(["average rank", *(f"{board.rank[m]:.2f}" for m in board.methods)])
    rows.append(["wins", *(str(board.wins[m]) for m in board.methods)])
    if board.calls:
        rows.append(["black-box calls per cell", *(calls_text(board, m) for m in board.methods)])
    width = 1 + len(board.methods) + len(chance)
    rows = [row + [""] * (width - len(row)) for row in rows]
    return TextTable(
        ["task", *board.methods, *chance], rows, strong=frozenset({len(board.tasks)}), right=frozenset(range(1, width))
    )


def pairwise_table(board: Leaderboard) -> TextTable:
    """Each pair of methods over the same test examples (same task and seed)."""
    rows = [
        [
            f"{p.a} vs {p.b}", str(p.n_examples), f"{p.mean_diff:+.3f} [{p.ci_low:+.3f}, {p.ci_high:+.3f}]",
            f"{p.a_better} / {p.b_better}", f"{p.p_value:.3g}",
        ]
        for p in board.pairwise
    ]  # fmt: skip
    header = ["A vs B", "examples", "mean A-B [95% bootstrap]", "A better / B better", "sign test p"]
    return TextTable(header, rows, right=frozenset({1, 4}))


def headline_table(stats: SeedStatistics) -> TextTable:
    """Per method, the aggregates of the normalized score over runs (task, seed) with their 95%
    stratified-bootstrap intervals, and the average rank; best IQM first."""
    methods = sorted(stats.aggregates, key=lambda m: -stats.aggregates[m]["IQM"].value)
    rows = [
        [m, *(stats.aggregates[m][name].text() for name in AGGREGATES), f"{stats.ranks.get(m, float('nan')):.2f}"]
        for m in methods
    ]
    header = ["method", *(f"{name} [95%]" for name in AGGREGATES), "average rank"]
    return TextTable(header, rows, right=frozenset(range(1, len(header))))


def improvement_table(stats: SeedStatistics) -> TextTable:
    """P(A > B) for every pair, and the seeds per task that would resolve A - B."""
    rows = []
    for (a, b), e in stats.improvement.items():
        needed = stats.seeds_needed.get((a, b))
        rows.append([f"{a} vs {b}", e.text(), "-" if needed is None else str(needed)])
    return TextTable(["A vs B", "P(A > B) [95%]", "seeds per task to resolve A - B"], rows, right=frozenset({1, 2}))


def seed_notes(stats: SeedStatistics) -> list[str]:
    """What the headline rests on, in sentences: runs, anchors, what was left out, the tests."""
    n = stats.normalized
    notes = [
        f"Normalized test score per run (task, seed): 0 = no instruction, 1 = the task's reference "
        f"instruction on the same split. {len(n.tasks)} tasks x {len(n.seeds)} seeds = {stats.blocks} runs per method."
    ]
    if n.single_seed:
        notes.append(
            "One seed per task: seed-to-seed variance is unmeasured, so the intervals resample tasks only and "
            "say nothing of how another seed would rank the methods. Run more seeds (--seeds 0-4)."
        )
    else:
        notes.append("Intervals: stratified bootstrap, runs resampled within each task.")
    scaled = sorted(t for t, kind in n.anchor.items() if kind != "reference" and t in n.tasks)
    if scaled:
        notes.append(f"Without a reference, scaled by the best test score in the comparison: {', '.join(scaled)}.")
    for task, why in sorted(n.left_out.items()):
        notes.append(f"Left out of the aggregates: {task}: {why}.")
    if n.missing:
        first = ", ".join("{} {} seed {}".format(*c) for c in n.missing[:3])
        notes.append(
            f"{len(n.missing)} cells are missing ({first}{', ...' if len(n.missing) > 3 else ''}); seeds without "
            "every cell are left out of the aggregates: rerun the same compare to fill them."
        )
    if len(n.methods) == 1:
        notes.append(f"One method ({n.methods[0]}): there is nothing to rank it against; add methods to compare.")
    elif len(n.methods) == 2:
        notes.append("Two methods: the Friedman test and Nemenyi's critical difference need three or more.")
    if stats.friedman is not None and stats.critical_difference is not None:
        chi2, p = stats.friedman
        grouped = "; ".join("{" + ", ".join(g) + "}" for g in stats.groups) or "none (every pair apart)"
        notes.append(
            f"Friedman test over {stats.blocks} blocks: chi2 {chi2:.2f}, p {p:.3g}. Nemenyi critical difference "
            f"{stats.critical_difference:.2f}; groups not told apart: {grouped}."
        )
    return notes


def anytime_markdown(out: Anytime, h: str) -> list[str]:
    """The anytime part of a section: notes, the budget table, the areas and their P(A > B)."""
    parts = [f"{h}# Anytime: the answer after k distinct instructions\n", *(f"- {n}" for n in anytime_notes(out)), ""]
    parts += [budget_table(out).markdown(), area_table(out).markdown()]
    assert out.area is not None
    if out.area.improvement:
        parts.append(area_improvement_table(out).markdown())
    return parts


def section_markdown(section: Section, level: int = 2) -> str:
    """One configuration: the seed-level headline, then the per-task table, then the per-example
    detail (labelled as such: it never resamples which instruction a run found)."""
    h = "#" * level
    stats, board = section.stats, section.board
    parts = [f"{h} {section.title}\n"]
    if stats.aggregates:
        parts += [headline_table(stats).markdown(), *(f"- {note}" for note in seed_notes(stats)), ""]
        if stats.improvement:
            parts += [f"{h}# Probability of improvement\n", improvement_table(stats).markdown()]
    if section.pools:
        parts += [
            f"{h}# The pools\n",
            "Each task's domain, written and scored once; methods chose among it by lookup.\n",
            pool_table(section.pools).markdown(),
            f"{h}# Regret against the pool's best instruction\n",
            regret_table(section.regret).markdown(),
        ]
    parts += [
        f"{h}# Per task: raw test score (mean over seeds, 95% t-interval when there are several)\n",
        leaderboard_table(board).markdown(),
    ]
    if section.anytime is not None and section.anytime.methods:
        parts += anytime_markdown(section.anytime, h)
    if section.units:
        parts += [f"{h}# Anytime against each budget unit: area IQM [95%]\n", UNITS_NOTE + "\n"]
        parts.append(units_table(section.units).markdown())
        by_proposals = section.units.get("proposals")
        if by_proposals is not None and by_proposals.budgets:
            parts += [f"{h}# {PROPOSALS_TITLE}\n", PROPOSALS_NOTE + "\n", budget_table(by_proposals).markdown()]
            if by_proposals.area is not None and by_proposals.area.improvement:
                parts.append(area_improvement_table(by_proposals).markdown())
    parts += [f"{h}# Budget spent, in every unit\n", SPEND_NOTE + "\n", spend_table(spending(section.cells)).markdown()]
    acquisition = by_method(section.cells)
    if acquisition:
        parts += [f"{h}# {ACQUISITION_TITLE}\n", ACQUISITION_NOTE + "\n", acquisition_table(acquisition).markdown()]
    if board.pairwise:
        parts += [
            f"{h}# Detail: paired test examples within cells\n",
            "Examples within a task share the one instruction a run found, so these intervals are not the "
            "ranking's: they do not resample runs.\n",
            pairwise_table(board).markdown(),
        ]
    return "\n".join(parts)


def _html_section(section: Section, images: dict[str, bytes], suffix: str) -> str:
    """One configuration: the seed-level headline and its figures, the per-task table, the
    per-example detail and the best instructions."""
    esc = html.escape
    board, stats = section.board, section.stats
    best = TextTable(
        ["task", "method", "instruction"],
        [
            [t, m, board.best_instruction[(t, m)]]
            for t in board.tasks
            for m in board.methods
            if (t, m) in board.best_instruction
        ],
    )
    pictures = "".join(
        f'<figure><img alt="{esc(name)}" src="data:image/png;base64,{base64.b64encode(data).decode()}"></figure>'
        for name, data in images.items()
    )
    headline = ""
    if stats.aggregates:
        notes = "".join(f"<li>{esc(n)}</li>" for n in seed_notes(stats))
        headline = (
            f"{headline_table(stats).html(f'headline{suffix}')}<ul>{notes}</ul>"
            f"<h3>Probability of improvement</h3>{improvement_table(stats).html(f'improvement{suffix}')}"
        )
    if section.pools:
        headline += (
            f"<h3>The pools</h3>{pool_table(section.pools).html(f'pools{suffix}')}"
            f"<h3>Regret against the pool's best instruction</h3>{regret_table(section.regret).html(f'regret{suffix}')}"
        )
    out = section.anytime
    if out is not None and out.methods:
        notes = "".join(f"<li>{esc(n)}</li>" for n in anytime_notes(out))
        headline += (
            f"<h3>Anytime: the answer after k distinct instructions</h3><ul>{notes}</ul>"
            f"{budget_table(out).html(f'budgets{suffix}')}{area_table(out).html(f'area{suffix}')}"
            f"{area_improvement_table(out).html(f'area-improvement{suffix}')}"
        )
    if section.units:
        headline += (
            f"<h3>Anytime against each budget unit: area IQM [95%]</h3><p>{esc(UNITS_NOTE)}</p>"
            f"{units_table(section.units).html(f'units{suffix}')}"
        )
        by_proposals = section.units.get("proposals")
        if by_proposals is not None and by_proposals.budgets:
            headline += (
                f"<h3>{esc(PROPOSALS_TITLE)}</h3><p>{esc(PROPOSALS_NOTE)}</p>"
                f"{budget_table(by_proposals).html(f'proposal-budgets{suffix}')}"
            )
            if by_proposals.area is not None and by_proposals.area.improvement:
                headline += area_improvement_table(by_proposals).html(f"proposal-area-improvement{suffix}")
    headline += (
        f"<h3>Budget spent, in every unit</h3><p>{esc(SPEND_NOTE)}</p>"
        f"{spend_table(spending(section.cells)).html(f'spend{suffix}')}"
    )
    acquisition = by_method(section.cells)
    bo = (
        f"<h3>{ACQUISITION_TITLE}</h3><p>{esc(ACQUISITION_NOTE)}</p>{acquisition_table(acquisition).html(f'acquisition{suffix}')}"
        if acquisition
        else ""
    )
    return f"""<h2>{esc(section.title)}</h2>
{headline}
{pictures}
<h3>Per task: raw test score</h3>
{leaderboard_table(board).html(f"leaderboard{suffix}")}
{bo}
<h3>Detail: paired test examples within cells</h3>
{pairwise_table(board).html(f"pairwise{suffix}")}
<h3>Best instruction per task and method</h3>
{best.html(f"best{suffix}")}
"""


def _html_page(body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>izbench report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }}
th {{ background: #f3f3f3; }}
figure {{ display: inline-block; margin: 0.5rem; }}
</style></head><body>
<h1>izbench report</h1>
{body}
</body></html>
"""


def _setup_title(setup_json: str) -> str:
    setup = json.loads(setup_json)
    blackbox = setup.get("blackbox", {})
    norm = f", choice_norm {setup['choice_norm']}" if "choice_norm" in setup else ""
    return (
        f"score {setup.get('score')}, protocol {setup.get('protocol')}{norm}; black box "
        f"{blackbox.get('kind')}:{blackbox.get('model')}"
    )


SIGNAL_COLUMNS = ("task", "seeds", "examples", "reference", "empty", "mismatched", "ref - empty [95%]",
                  "ref - mismatched [95%]", "chance", "best - chance [95%]", "measures instructions")  # fmt: skip


def _signal_cells(row: dict[str, Any]) -> list[str]:
    def interval(name: str) -> str:
        if row.get(name) is None:
            return "-"
        return f"{row[name]:+.3f} [{row[name + '_low']:+.3f}, {row[name + '_high']:+.3f}]"

    return [
        row["task"], row["seeds"], str(row["n_examples"]), f"{row['reference_mean']:.3f}", f"{row['empty_mean']:.3f}",
        f"{row['mismatched_mean']:.3f}", interval("vs_empty"), interval("vs_mismatched"), _fmt(row["chance"]),
        interval("vs_chance"), "yes" if row["measures"] else "no",
    ]  # fmt: skip


def signal_table(rows: list[dict[str, Any]]) -> TextTable:
    """The signal check's rows (as the store keeps them) as one table."""
    return TextTable(list(SIGNAL_COLUMNS), [_signal_cells(r) for r in rows], right=frozenset({2, 3, 4, 5, 8}))


def _signal_groups(rows: list[dict[str, Any]]) -> dict[str, TextTable]:
    """One table per set-up, titled with its count of tasks measured."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(_setup_title(row["setup_json"]), []).append(row)
    return {
        f"{title}: measures instructions on {sum(bool(r['measures']) for r in group)} of {len(group)} tasks": (
            signal_table(group)
        )
        for title, group in groups.items()
    }


def signal_markdown(rows: list[dict[str, Any]]) -> str:
    """The signal check section: one table per set-up, with its count of tasks measured."""
    if not rows:
        return ""
    lines = ["", "## Signal check (`izbench signal`)", ""]
    lines.append(
        "Whether each set-up ranks a task's reference instructions above no instruction and above other "
        "tasks' instructions (paired bootstrap over examples; yes when both intervals are above zero)."
    )
    for title, table in _signal_groups(rows).items():
        lines += ["", f"### {title}", "", table.markdown()]
    return "\n".join(lines)


def signal_html(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    parts = ["<h2>Signal check</h2>"]
    for title, table in _signal_groups(rows).items():
        parts.append(f"<h3>{html.escape(title)}</h3>")
        parts.append(table.html(css_class="signal"))
    return "\n".join(parts)


def figures(section: Section) -> dict[str, bytes]:
    """The section's figures by name (those with nothing to show are left out)."""
    stats = section.stats
    drawn: dict[str, bytes | None] = {}
    if stats.aggregates:
        drawn |= {"intervals": intervals_png(stats), "profile": profile_png(stats), "cd": cd_png(stats)}
        if stats.improvement:
            drawn["improvement"] = improvement_png(stats)
    drawn |= {"curves": curves_png(section.cells, section.board), "calls": calls_png(section.cells, section.board)}
    if section.anytime is not None and section.anytime.methods:
        drawn |= {"anytime": anytime_png(section.anytime), "runtime": runtime_png(section.anytime)}
    if section.units:
        drawn["units"] = units_png(section.units)
    return {name: data for name, data in drawn.items() if data is not None}


def write_report(sections: list[Section], out: Path, signal: list[dict[str, Any]] | None = None) -> list[Path]:
    """Write every report file into ``out``; returns the paths written.

    Each configuration gets its own leaderboard (cells of different configurations are never
    averaged together); with several configurations the figures' names carry the
    configuration's hash. ``results.json`` holds every cell (with its normalized score) and
    each configuration's seed-level statistics.
    """
    out.mkdir(parents=True, exist_ok=True)
    signal = signal or []
    written: list[Path] = []
    markdown = ["# izbench report", ""]
    if len(sections) > 1:
        markdown.append(
            f"The store holds {len(sections)} configurations; each has its own leaderboard, and cells of "
            "different configurations are never averaged together.\n"
        )
    pages = []
    records = []
    for k, part in enumerate(sections):
        suffix = "" if len(sections) == 1 else f"-{part.comparison_hash}"
        images = figures(part)
        for name, data in images.items():
            path = out / f"{name}{suffix}.png"
            path.write_bytes(data)
            written.append(path)
        markdown.append(section_markdown(part))
        pages.append(_html_section(part, images, "" if k == 0 else suffix))
        record = {"title": part.title, "comparison_hash": part.comparison_hash, **part.stats.as_dict()}
        if part.pools:
            record |= {"pools": [asdict(s) for s in part.pools], "regret": part.regret}
        if part.anytime is not None:
            record["anytime"] = part.anytime.as_dict()
        if part.units:
            record["anytime_units"] = {axis: out.as_dict() for axis, out in part.units.items()}
        record["spend"] = spend_json(spending(part.cells))
        records.append(record)
    (out / "leaderboard.md").write_text("\n".join(markdown) + signal_markdown(signal))
    (out / "index.html").write_text(_html_page("\n".join(pages) + signal_html(signal)))
    normalized = {
        (part.comparison_hash, *key): value
        for part in sections
        for key, value in part.stats.normalized.per_cell.items()
    }
    cells = sorted(
        (c for part in sections for c in part.cells), key=lambda c: (c.comparison_hash, c.task, c.method, c.seed)
    )
    results = {
        "sections": records,
        "cells": [cell_record(c, normalized.get((c.comparison_hash, c.method, c.task, c.seed))) for c in cells],
    }
    (out / "results.json").write_text(json.dumps(results, indent=1, sort_keys=True))
    written += [out / "leaderboard.md", out / "index.html", out / "results.json"]
    return written


def pool_table(summaries: list[PoolSummary]) -> TextTable:
    """What each pool's domain holds, and its oracle beside the reference and no instruction."""

    def spread(values: tuple[float, float, float]) -> str:
        return f"{values[1]:.3f} ({values[0]:.3f} .. {values[2]:.3f})"

    rows = [
        [
            s.task, str(s.points), str(s.distinct), str(s.ape), spread(s.validation), spread(s.test), f"{s.oracle:.3f}",
            _fmt(s.reference), f"{s.empty:.3f}",
        ]
        for s in summaries
    ]  # fmt: skip
    header = ["task", "soft points", "distinct", "APE", "validation median (min .. max)",
              "test median (min .. max)", "oracle test", "reference test", "empty test"]  # fmt: skip
    return TextTable(header, rows, right=frozenset(range(1, len(header))))


def regret_table(regret: dict[str, dict[str, Any]]) -> TextTable:
    """Per method: its mean regret against each task's oracle and how much selection flattered it."""
    rows = [
        [m, str(r["cells"]), f"{r['regret']:.3f}", f"{r['selection_gap']:+.3f}"]
        for m, r in sorted(regret.items(), key=lambda kv: kv[1]["regret"])
    ]
    header = ["method", "cells", "regret (oracle - test)", "validation - test"]
    return TextTable(header, rows, right=frozenset({1, 2, 3}))


ACQUISITION_TITLE = "What the acquisition did"
ACQUISITION_NOTE = (
    "Per BO method, over all its rounds' proposals: flat = proposals the acquisition did not decide (on "
    "a pool, the pick tied with other candidates and the tie draw chose; live, CMA-ES stopped after one "
    "generation, seeing no differences); underflow = the share of the points evaluated where EI was below "
    "1e-12 (for LogEI, exp of its value: LogEI still ranks there). Generations and moved (distance from "
    "the start, unit cube) are CMA-ES's, none on a pool."
)


def acquisition_table(summaries: list[AcquisitionSummary]) -> TextTable:
    """Per method: how often its acquisition was flat, and how far CMA-ES got."""
    rows = [
        [
            s.method, s.kind, str(s.proposals), f"{s.flat} ({s.flat_share:.0%})", f"{s.underflow:.3f}",
            _fmt(s.generations).removesuffix(".000") if s.generations is not None else "-", _fmt(s.moved),
            ", ".join(f"{k} {v}" for k, v in s.stops.items()) or "-",
        ]
        for s in summaries
    ]  # fmt: skip
    header = ["method", "acquisition", "proposals", "flat", "median underflow", "median generations",
              "median moved", "CMA-ES stops"]  # fmt: skip
    return TextTable(header, rows, right=frozenset({2, 3, 4, 5, 6}))
