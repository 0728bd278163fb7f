"""Writes a report directory: leaderboard.md, index.html (self-contained), PNG plots, results.json."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from izbench.report.aggregate import Leaderboard, Section, calls_curve, cell_record, curve
from izbench.report.table import TextTable
from izbench.results import CellResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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


def leaderboard_markdown(board: Leaderboard, title: str = "Leaderboard", level: int = 2) -> str:
    """One configuration's leaderboard and paired comparisons, under a heading of ``level``."""
    h = "#" * level
    parts = [
        f"{h} {title}\n",
        "Test score per task (mean over seeds, 95% t-interval when there are several seeds).\n",
        leaderboard_table(board).markdown(),
    ]
    if board.pairwise:
        parts += [f"{h}# Paired comparisons (test examples, same task and seed)\n", pairwise_table(board).markdown()]
    return "\n".join(parts)


def _curves_png(cells: list[CellResult], board: Leaderboard) -> bytes:
    fig, ax = _figure(3.6)
    for method in board.methods:
        curves = [curve(c) for c in cells if c.method == method and curve(c)]
        if not curves:
            continue
        length = max(len(c) for c in curves)
        padded = [list(c) + [c[-1]] * (length - len(c)) for c in curves]
        mean = [sum(col) / len(col) for col in zip(*padded, strict=True)]
        ax.plot(range(1, length + 1), mean, marker="o", markersize=3, label=method)
    return _progress_png(fig, ax, "distinct candidates scored (queries)", "queries")


def _calls_png(cells: list[CellResult], board: Leaderboard) -> bytes | None:
    """Best validation score versus black-box calls, per method (each cell's steps, then the
    mean over cells at each call count); None when no cell recorded its calls."""
    fig, ax = _figure(3.6)
    drawn = False
    for method in board.methods:
        curves = [calls_curve(c) for c in cells if c.method == method and calls_curve(c)]
        if not curves:
            continue
        grid = sorted({x for curve_ in curves for x, _ in curve_})
        mean = []
        for x in grid:
            # Each cell's best so far at x: its last point at or before x (its first point before it).
            at = [max((p for p in curve_ if p[0] <= x), default=curve_[0])[1] for curve_ in curves]
            mean.append(sum(at) / len(at))
        ax.step(grid, mean, where="post", label=method)
        drawn = True
    if not drawn:
        return None
    return _progress_png(fig, ax, "black-box calls asked for (served or made)", "black-box calls")


def _progress_png(fig: Figure, ax: Any, xlabel: str, per: str) -> bytes:
    """Label a best-so-far plot (validation score against ``xlabel``) and render it."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel("best validation score so far")
    ax.set_title(f"score versus {per} (mean over tasks and seeds)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def _bars_png(board: Leaderboard) -> bytes:
    fig, ax = _figure(3.2)
    ax.bar(board.methods, [board.average[m] for m in board.methods], color="#4c72b0")
    ax.set_ylabel("average test score")
    ax.set_title("leaderboard")
    ax.tick_params(axis="x", labelrotation=20)
    return _png(fig)


def _figure(height: float) -> tuple[Figure, Any]:
    """A figure drawn off screen, without pyplot's global state (imported only when plotting)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, height), dpi=100)
    return fig, fig.subplots()


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _html_section(board: Leaderboard, images: dict[str, bytes], title: str, suffix: str) -> str:
    """One configuration's leaderboard, plots, paired comparisons and best instructions."""
    esc = html.escape
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
    return f"""<h2>{esc(title)}</h2>
{leaderboard_table(board).html(f"leaderboard{suffix}")}
{pictures}
<h3>Paired comparisons</h3>
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
                  "ref - mismatched [95%]", "chance", "measures instructions")  # fmt: skip


def _signal_cells(row: dict[str, Any]) -> list[str]:
    def interval(name: str) -> str:
        return f"{row[name]:+.3f} [{row[name + '_low']:+.3f}, {row[name + '_high']:+.3f}]"

    return [
        row["task"], row["seeds"], str(row["n_examples"]), f"{row['reference_mean']:.3f}", f"{row['empty_mean']:.3f}",
        f"{row['mismatched_mean']:.3f}", interval("vs_empty"), interval("vs_mismatched"), _fmt(row["chance"]),
        "yes" if row["measures"] else "no",
    ]  # fmt: skip


def _signal_groups(rows: list[dict[str, Any]]) -> dict[str, TextTable]:
    """One table per set-up, titled with its count of tasks measured."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(_setup_title(row["setup_json"]), []).append(row)
    return {
        f"{title}: measures instructions on {sum(bool(r['measures']) for r in group)} of {len(group)} tasks": TextTable(
            list(SIGNAL_COLUMNS), [_signal_cells(r) for r in group], right=frozenset({2, 3, 4, 5, 8})
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


def write_report(sections: list[Section], out: Path, signal: list[dict[str, Any]] | None = None) -> list[Path]:
    """Write every report file into ``out``; returns the paths written.

    Each configuration gets its own leaderboard (cells of different configurations are never
    averaged together); with one configuration the plots are ``curves.png`` and
    ``leaderboard.png``, with several they carry the configuration's hash.
    """
    out.mkdir(parents=True, exist_ok=True)
    signal = signal or []
    written: list[Path] = []
    markdown = ["# izbench report", ""]
    if len(sections) > 1:
        markdown.append(
            f"The store holds {len(sections)} configurations; each has its own leaderboard, and cells of "
            "different configurations are never averaged together."
        )
    pages = []
    for k, section in enumerate(sections):
        suffix = "" if len(sections) == 1 else f"-{section.comparison_hash}"
        images = {"curves": _curves_png(section.cells, section.board), "leaderboard": _bars_png(section.board)}
        calls_png = _calls_png(section.cells, section.board)
        if calls_png is not None:
            images["calls"] = calls_png
        for name, data in images.items():
            path = out / f"{name}{suffix}.png"
            path.write_bytes(data)
            written.append(path)
        markdown.append(leaderboard_markdown(section.board, section.title))
        pages.append(_html_section(section.board, images, section.title, "" if k == 0 else suffix))
    (out / "leaderboard.md").write_text("\n".join(markdown) + signal_markdown(signal))
    (out / "index.html").write_text(_html_page("\n".join(pages) + signal_html(signal)))
    cells = [c for section in sections for c in section.cells]
    ordered = sorted(cells, key=lambda c: (c.comparison_hash, c.task, c.method, c.seed))
    results = {"cells": [cell_record(c) for c in ordered]}
    (out / "results.json").write_text(json.dumps(results, indent=1, sort_keys=True))
    written += [out / "leaderboard.md", out / "index.html", out / "results.json"]
    return written
