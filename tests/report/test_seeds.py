"""Seed-level statistics against small cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from izbench.report.seeds import (
    Normalized,
    normalize,
    probability_of_improvement,
    seed_statistics,
    seeds_needed,
)
from izbench.results import CellResult


def cell(method: str, task: str, seed: int, scores: list[float]) -> CellResult:
    return CellResult(
        method=method, task=task, seed=seed, budget=1, proposals=1, distinct=1, best_instruction=method,
        val_score=0.0, test_score=sum(scores) / len(scores), test_predictions=tuple("x" for _ in scores),
        calls_made=0, calls_served=0, wall_s=0.0, test_scores=tuple(scores),
    )  # fmt: skip


def test_probability_of_improvement_counts_run_pairs_per_task() -> None:
    # Task 1: X's runs {3, 1} against Y's {2, 2}: X wins 2 of 4 pairs. Task 2: {1, 1} vs {1, 0}:
    # X wins 2 of 4 and ties 2 (half each): 3 of 4. P = (0.5 + 0.75) / 2.
    x = np.array([[3.0, 1.0], [1.0, 1.0]])
    y = np.array([[2.0, 1.0], [2.0, 0.0]])
    assert probability_of_improvement(x, y)[0] == pytest.approx(0.625)
    assert probability_of_improvement(y, x)[0] == pytest.approx(0.375)


def test_normalized_scores_run_from_the_empty_instruction_to_the_reference() -> None:
    cells = []
    for seed, (empty, ref, a) in enumerate([(-3.0, -1.0, -2.0), (-4.0, -2.0, -2.5)]):
        cells += [
            cell("empty", "t", seed, [empty] * 4),
            cell("human", "t", seed, [ref + 0.1, ref - 0.1, ref + 0.2, ref - 0.2]),
            cell("a", "t", seed, [a] * 4),
        ]
    n = normalize(cells)
    assert n.methods == ["a"] and n.tasks == ["t"] and n.seeds == [0, 1] and n.anchor == {"t": "reference"}
    np.testing.assert_allclose(n.scores["a"], [[0.5], [0.75]])  # (-2 - -3) / 2, (-2.5 - -4) / 2
    assert n.per_cell[("empty", "t", 0)] == 0.0 and n.per_cell[("human", "t", 1)] == 1.0


def test_a_task_without_a_clear_reference_is_left_out_with_its_reason() -> None:
    cells = [
        cell("empty", "flat", 0, [-2.0, -2.1, -1.9, -2.0]),
        cell("human", "flat", 0, [-1.9, -2.2, -1.9, -2.1]),  # a gap of -0.025 that reaches zero
        cell("a", "flat", 0, [-1.0] * 4),
        cell("empty", "fine", 0, [-3.0] * 4),
        cell("human", "fine", 0, [-1.0] * 4),
        cell("a", "fine", 0, [-2.0] * 4),
        cell("empty", "judged", 0, [-3.0] * 4),
        cell("human", "judged", 0, [-1.0] * 4),
        cell("a", "judged", 0, [-2.0] * 4),
    ]
    n = normalize(cells, verdicts={"judged": False})
    assert n.tasks == ["fine"]
    assert "does not clearly beat the empty instruction" in n.left_out["flat"]
    assert "does not measure instructions" in n.left_out["judged"]


def test_a_task_without_a_reference_is_scaled_by_the_best_in_the_comparison() -> None:
    cells = [cell("empty", "bb", 0, [0.25] * 4), cell("a", "bb", 0, [0.75] * 4), cell("b", "bb", 0, [0.5] * 4)]
    n = normalize(cells)
    assert n.anchor == {"bb": "best in comparison"}
    assert n.scores["a"][0, 0] == 1.0 and n.scores["b"][0, 0] == 0.5


def test_seeds_missing_a_cell_are_listed_and_left_out() -> None:
    cells = [cell(m, "t", s, [v]) for s in (0, 1) for m, v in (("empty", 0.0), ("human", 1.0))]
    cells += [cell("a", "t", 0, [0.5])]
    n = normalize(cells)
    assert n.missing == [("a", "t", 1)] and n.seeds == [0]


def test_seeds_needed_follows_the_power_formula() -> None:
    # Two tasks, three seeds: differences with task variances 1 and 4, mean 1.
    d = np.array([[0.0, -1.0], [1.0, 1.0], [2.0, 3.0]])
    assert d.var(axis=0, ddof=1).tolist() == [1.0, 4.0] and d.mean() == 1.0
    z = 1.959963984540054 + 0.8416212335729143
    assert seeds_needed(d) == math.ceil(z**2 * (1.0 + 4.0) / 4 / 1.0**2)  # = 10
    assert seeds_needed(d[:1]) is None  # one seed measures no variance
    assert seeds_needed(np.zeros((3, 2))) is None


def _normalized(scores: dict[str, list[list[float]]]) -> Normalized:
    arrays = {m: np.array(v) for m, v in scores.items()}
    seeds, tasks = next(iter(arrays.values())).shape
    return Normalized(sorted(arrays), [f"t{k}" for k in range(tasks)], list(range(seeds)), arrays)


def test_aggregates_intervals_ranks_and_groups() -> None:
    rng = np.random.default_rng(7)
    base = rng.normal(0.0, 0.05, size=(5, 8))
    stats = seed_statistics(
        _normalized({"a": (base + 0.9).tolist(), "b": (base + 0.5).tolist(), "c": (base + 0.48).tolist()})
    )
    a = stats.aggregates["a"]
    assert a["mean"].value == pytest.approx(float((base + 0.9).mean()))
    assert a["mean"].low < a["mean"].value < a["mean"].high
    assert a["optimality gap"].value == pytest.approx(1 - float(np.minimum(base + 0.9, 1).mean()))
    assert stats.improvement[("a", "b")].value == 1.0 and stats.improvement[("a", "b")].low == 1.0
    assert stats.ranks == {"a": 1.0, "b": 2.0, "c": 3.0}
    assert stats.friedman is not None and stats.friedman[1] < 1e-6
    # 40 blocks, 3 methods: CD = q(0.05, 3, inf) / sqrt(2) * sqrt(3 * 4 / 240) = 0.524.
    assert stats.critical_difference == pytest.approx(3.314 / math.sqrt(2) * math.sqrt(12 / 240), abs=1e-3)
    assert stats.groups == []  # 1, 2, 3 are all further apart than 0.524
    # The same statistics twice: every draw is seeded.
    again = seed_statistics(
        _normalized({"a": (base + 0.9).tolist(), "b": (base + 0.5).tolist(), "c": (base + 0.48).tolist()})
    )
    assert again.aggregates == stats.aggregates and again.improvement == stats.improvement


def test_one_seed_gives_intervals_over_tasks_and_measures_no_seed_variance() -> None:
    stats = seed_statistics(_normalized({"a": [[0.1, 0.9, 0.5, 0.7]], "b": [[0.0, 0.8, 0.6, 0.1]]}))
    assert stats.normalized.single_seed
    iqm = stats.aggregates["a"]["mean"]
    assert iqm.low < iqm.value < iqm.high  # tasks resampled: the interval is not a point
    assert stats.seeds_needed == {("a", "b"): None}


def test_one_method_says_there_is_nothing_to_rank_it_against() -> None:
    from izbench.report.render import seed_notes

    stats = seed_statistics(_normalized({"a": [[0.1, 0.9, 0.5], [0.2, 0.8, 0.4]]}))
    assert stats.improvement == {} and stats.critical_difference is None
    assert any("nothing to rank it against" in note for note in seed_notes(stats))
