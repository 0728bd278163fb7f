"""The report's aggregation and rendering in process, from synthetic results with known figures."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from scipy import stats

from izbench.report.aggregate import build_leaderboard, section
from izbench.report.render import leaderboard_table, pairwise_table, section_markdown, write_report
from izbench.results import Candidate, CellResult, MethodResult


def cell(method: str, task: str, seed: int, scores: list[float], calls: int = 10) -> CellResult:
    result = MethodResult([Candidate(0, f"{method} says", 0.0, (0.0,), examples=4, calls=calls)])
    return CellResult(
        method=method, task=task, seed=seed, budget=1, proposals=1, distinct=1,
        best_instruction=f"{method} on {task}", val_score=0.0, test_score=statistics.fmean(scores),
        test_predictions=tuple("x" for _ in scores), calls_made=0, calls_served=0, wall_s=0.0, result=result,
        run_id=f"{method}-{task}-{seed}", test_scores=tuple(scores), comparison_hash="c0ffee", blackbox_calls=calls,
    )  # fmt: skip


A = {("t1", 0): [1.0, 1.0], ("t1", 1): [0.0, 1.0], ("t2", 0): [0.5, 0.5], ("t2", 1): [0.5, 0.5]}
B = {("t1", 0): [0.0, 0.0], ("t1", 1): [0.0, 0.0], ("t2", 0): [0.5, 0.5], ("t2", 1): [1.0, 1.0]}
CELLS = [cell("a", t, s, v) for (t, s), v in A.items()] + [cell("b", t, s, v, calls=20) for (t, s), v in B.items()]


def test_means_intervals_ranks_and_wins() -> None:
    board = build_leaderboard(CELLS)
    assert board.tasks == ["t1", "t2"] and board.methods == ["a", "b"]  # a's average is higher
    t1a = board.table[("t1", "a")]
    assert (t1a.mean, t1a.n_seeds) == (0.75, 2)
    half = float(stats.t.ppf(0.975, 1)) * statistics.stdev([1.0, 0.5]) / 2**0.5
    assert t1a.low == pytest.approx(0.75 - half) and t1a.high == pytest.approx(0.75 + half)
    assert board.average == {"a": pytest.approx(0.625), "b": pytest.approx(0.375)}
    # t1: a wins; t2: b (0.75 vs 0.5) wins.
    assert board.wins == {"a": 1, "b": 1} and board.rank == {"a": 1.5, "b": 1.5}
    assert board.calls == {"a": 10.0, "b": 20.0}
    (pair,) = board.pairwise
    diffs = [1.0, 1.0, 0.0, 1.0, 0.0, 0.0, -0.5, -0.5]
    assert (pair.a, pair.b, pair.n_examples) == ("a", "b", 8)
    assert pair.mean_diff == pytest.approx(statistics.fmean(diffs))
    assert (pair.a_better, pair.b_better) == (3, 2)
    assert pair.p_value == pytest.approx(stats.binomtest(3, 5).pvalue)
    assert pair.ci_low <= pair.mean_diff <= pair.ci_high


def test_one_table_for_terminal_markdown_and_html() -> None:
    board = build_leaderboard(CELLS)
    table = leaderboard_table(board)
    assert table.header == ["task", "a", "b"]
    assert [row[0] for row in table.rows] == ["t1", "t2", "average", "average rank", "wins", "black-box calls per cell"]
    assert table.rows[2] == ["average", "0.625", "0.375"]
    markdown = section_markdown(section("Board", "c0ffee", CELLS))
    assert "| **average** | **0.625** | **0.375** |" in markdown and "| a vs b | 8 |" in markdown
    assert markdown.index("Per task: raw test score") < markdown.index("Detail: paired test examples within cells")
    html = table.html("leaderboard")
    assert html.count("<tr>") == 1 + len(table.rows) and "<b>0.625</b>" in html
    assert pairwise_table(board).rows[0][3] == "3 / 2"
    # A cell's text is never markup where rich draws it.
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(table.rich("t"))
    assert "0.750 [" in console.export_text()


def test_the_report_files_hold_every_cell(tmp_path: Path) -> None:
    written = write_report([section("config", "c0ffee", CELLS)], tmp_path)
    assert {p.name for p in written} >= {"leaderboard.md", "index.html", "results.json", "curves.png"}
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results["cells"]) == 8 and {c["comparison_hash"] for c in results["cells"]} == {"c0ffee"}
    page = (tmp_path / "index.html").read_text()
    assert '<table id="leaderboard">' in page and "a on t1" in page  # best instructions listed


def test_the_report_leads_with_seed_level_statistics(tmp_path: Path) -> None:
    """A synthetic comparison with its anchors: the normalized headline comes first, every figure
    is drawn, and results.json carries each cell's normalized score and the section's statistics."""
    cells = []
    for task, spread in (("t1", 0.0), ("t2", 0.2), ("t3", 0.4)):
        for seed in range(3):
            cells += [
                cell("empty", task, seed, [-3.0, -3.0]),
                cell("human", task, seed, [-1.0, -1.0]),
                cell("x", task, seed, [-1.5 - spread + 0.1 * seed] * 2),
                cell("y", task, seed, [-2.5 + spread - 0.1 * seed] * 2),
                cell("z", task, seed, [-2.0] * 2),
            ]
    part = section("synthetic", "c0ffee", cells)
    assert part.stats.normalized.tasks == ["t1", "t2", "t3"] and part.stats.normalized.seeds == [0, 1, 2]
    assert part.stats.normalized.per_cell[("x", "t1", 1)] == pytest.approx((-1.4 + 3) / 2)
    markdown = section_markdown(part)
    assert markdown.index("IQM [95%]") < markdown.index("Per task: raw test score")
    assert "P(A > B) [95%]" in markdown and "Friedman test over 9 blocks" in markdown
    written = {p.name for p in write_report([part], tmp_path)}
    assert {"intervals.png", "improvement.png", "profile.png", "cd.png", "curves.png"} <= written
    results = json.loads((tmp_path / "results.json").read_text())
    (stats,) = results["sections"]
    assert stats["seeds"] == [0, 1, 2] and set(stats["aggregates"]) == {"x", "y", "z"}
    assert stats["aggregates"]["z"]["mean"]["value"] == pytest.approx(0.5)
    by_cell = {(c["method"], c["task"], c["seed"]): c["normalized"] for c in results["cells"]}
    assert by_cell[("empty", "t2", 0)] == 0.0 and by_cell[("human", "t3", 2)] == 1.0
