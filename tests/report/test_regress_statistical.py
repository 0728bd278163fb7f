"""The statistical regression check: a planted drop in one method's runs is reported, and only
that one; a rerun of the same runs is not."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from test_aggregate import cell

from izbench.report.aggregate import section
from izbench.report.regress import statistical
from izbench.report.render import write_report
from izbench.results import CellResult


def _comparison(x_offset: float) -> list[CellResult]:
    cells = []
    for t, task in enumerate(("t1", "t2", "t3", "t4")):
        for seed in range(4):
            wobble = 0.05 * ((seed * 7 + t * 3) % 5)
            cells += [
                cell("empty", task, seed, [-3.0, -3.0]),
                cell("human", task, seed, [-1.0, -1.0]),
                cell("x", task, seed, [-1.6 + wobble + x_offset] * 2),
                cell("y", task, seed, [-2.2 + wobble] * 2),
            ]
    return cells


def test_a_planted_drop_is_a_regression_and_a_rerun_is_not(tmp_path: Path) -> None:
    write_report([section("base", "c0ffee", _comparison(0.0))], tmp_path)
    baseline = json.loads((tmp_path / "results.json").read_text())
    same = {d.method: d for d in statistical(baseline, [section("now", "c0ffee", _comparison(0.0))])}
    assert set(same) == {"x", "y"} and not any(d.regression or d.improved for d in same.values())
    assert same["x"].improvement.value == 0.5  # identical runs: every pair a tie or a mirror
    dropped = {d.method: d for d in statistical(baseline, [section("now", "c0ffee", _comparison(-0.6))])}
    x = dropped["x"]
    assert x.regression and x.current < x.baseline.low and x.improvement.high < 0.5
    assert not dropped["y"].regression
    # Another configuration is never checked against this baseline.
    assert statistical(baseline, [section("now", "other", _comparison(-0.6))]) == []


def _curved(late: bool) -> list[CellResult]:
    """x reaches the same answer either way; ``late``: only at its last instruction."""
    out = []
    for c in _comparison(0.0):
        if c.method in ("x", "y"):
            start = -3.0 if late else c.test_score
            c = replace(c, anytime=(start, start, start, c.test_score) if c.method == "x" else (c.test_score,) * 4)
        out.append(c)
    return out


def test_a_slower_climb_to_the_same_answer_is_a_regression_of_the_area(tmp_path: Path) -> None:
    write_report([section("base", "c0ffee", _curved(late=False))], tmp_path)
    baseline = json.loads((tmp_path / "results.json").read_text())
    assert baseline["sections"][0]["anytime"]["length"] == 4
    now = {d.method: d for d in statistical(baseline, [section("now", "c0ffee", _curved(late=True))])}
    x = now["x"]
    assert x.current == x.baseline.value and x.area_fell and x.regression  # same answer, later
    assert not now["y"].regression and now["y"].area_current == now["y"].area_baseline.value  # type: ignore[union-attr]
