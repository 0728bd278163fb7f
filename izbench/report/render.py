"""Writes a report directory: leaderboard.md, index.html (self-contained), PNG plots, results.json."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from izbench.report.aggregate import Leaderboard, cell_record, curve
from izbench.runner import CellResult

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


def leaderboard_markdown(board: Leaderboard) -> str:
    lines = [
        "# izbench leaderboard",
        "",
        "Test score per task (mean over seeds, 95% t-interval when there are several seeds).",
        "",
        "| task | " + " | ".join(board.methods) + " |",
        "| --- | " + " | ".join("---:" for _ in board.methods) + " |",
    ]
    for task in board.tasks:
        lines.append(f"| {task} | " + " | ".join(entry_text(board, task, m) for m in board.methods) + " |")
    lines.append("| **average** | " + " | ".join(f"**{board.average[m]:.3f}**" for m in board.methods) + " |")
    lines.append("| average rank | " + " | ".join(f"{board.rank[m]:.2f}" for m in board.methods) + " |")
    lines.append("| wins | " + " | ".join(str(board.wins[m]) for m in board.methods) + " |")
    if board.pairwise:
        lines += [
            "",
            "## Paired comparisons (test examples, same task and seed)",
            "",
            "| A vs B | examples | mean A-B [95% bootstrap] | A better / B better | sign test p |",
            "| --- | ---: | --- | --- | ---: |",
        ]
        for p in board.pairwise:
            lines.append(
                f"| {p.a} vs {p.b} | {p.n_examples} | {p.mean_diff:+.3f} [{p.ci_low:+.3f}, {p.ci_high:+.3f}] "
                f"| {p.a_better} / {p.b_better} | {p.p_value:.3g} |"
            )
    return "\n".join(lines) + "\n"


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
    ax.set_xlabel("distinct candidates scored (queries)")
    ax.set_ylabel("best validation score so far")
    ax.set_title("score versus queries (mean over tasks and seeds)")
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


def _html(board: Leaderboard, images: dict[str, bytes]) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(m)}</th>" for m in board.methods)
    rows = "".join(
        f"<tr><td>{esc(t)}</td>" + "".join(f"<td>{esc(entry_text(board, t, m))}</td>" for m in board.methods) + "</tr>"
        for t in board.tasks
    )
    average = "".join(f"<td><b>{board.average[m]:.3f}</b></td>" for m in board.methods)
    ranks = "".join(f"<td>{board.rank[m]:.2f}</td>" for m in board.methods)
    wins = "".join(f"<td>{board.wins[m]}</td>" for m in board.methods)
    pairs = "".join(
        f"<tr><td>{esc(p.a)} vs {esc(p.b)}</td><td>{p.n_examples}</td><td>{p.mean_diff:+.3f} "
        f"[{p.ci_low:+.3f}, {p.ci_high:+.3f}]</td><td>{p.a_better} / {p.b_better}</td><td>{p.p_value:.3g}</td></tr>"
        for p in board.pairwise
    )
    best = "".join(
        f"<tr><td>{esc(t)}</td><td>{esc(m)}</td><td>{esc(board.best_instruction.get((t, m), ''))}</td></tr>"
        for t in board.tasks
        for m in board.methods
        if (t, m) in board.best_instruction
    )
    pictures = "".join(
        f'<figure><img alt="{esc(name)}" src="data:image/png;base64,{base64.b64encode(data).decode()}"></figure>'
        for name, data in images.items()
    )
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
<h2>Leaderboard</h2>
<table id="leaderboard"><thead><tr><th>task</th>{head}</tr></thead><tbody>{rows}
<tr><td><b>average</b></td>{average}</tr><tr><td>average rank</td>{ranks}</tr><tr><td>wins</td>{wins}</tr>
</tbody></table>
{pictures}
<h2>Paired comparisons</h2>
<table id="pairwise"><thead><tr><th>A vs B</th><th>examples</th><th>mean A-B [95% bootstrap]</th>
<th>A better / B better</th><th>sign test p</th></tr></thead><tbody>{pairs}</tbody></table>
<h2>Best instruction per task and method</h2>
<table id="best"><thead><tr><th>task</th><th>method</th><th>instruction</th></tr></thead><tbody>{best}</tbody></table>
</body></html>
"""


def write_report(cells: list[CellResult], board: Leaderboard, out: Path) -> list[Path]:
    """Write every report file into ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    images = {"curves": _curves_png(cells, board), "leaderboard": _bars_png(board)}
    written = []
    for name, data in images.items():
        path = out / f"{name}.png"
        path.write_bytes(data)
        written.append(path)
    (out / "leaderboard.md").write_text(leaderboard_markdown(board))
    (out / "index.html").write_text(_html(board, images))
    results = {"cells": [cell_record(c) for c in sorted(cells, key=lambda c: (c.task, c.method, c.seed))]}
    (out / "results.json").write_text(json.dumps(results, indent=1, sort_keys=True))
    written += [out / "leaderboard.md", out / "index.html", out / "results.json"]
    return written
