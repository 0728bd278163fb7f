"""Anytime results against small cases worked out by hand: incumbents, curves on the normalized
scale, their bands, the area's statistics, the runtime distribution and the budget table."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from izbench.report.anytime import GRID, anytime, by_unit, on_grid, padded
from izbench.results import Candidate, CellResult, MethodResult


def candidate(step: int, val: float, new: bool = True, examples: int = 4) -> Candidate:
    return Candidate(step=step, instruction=f"i{step}", val_score=val, val_scores=(), new=new, examples=examples)


def test_incumbents_are_the_best_after_each_distinct_instruction() -> None:
    result = MethodResult(
        [candidate(0, 0.2), candidate(1, 0.1), candidate(2, 0.5), candidate(3, 0.5, new=False), candidate(4, 0.5)]
    )
    # A repeat starts no point; a later tie does not displace the earlier best.
    assert [c.step for c in result.incumbents()] == [0, 0, 2, 2]
    assert result.incumbents()[-1] == result.best


def test_the_last_incumbent_is_the_runs_answer_even_when_a_rescoring_decided_it() -> None:
    # Halving: step 0 was scored on 2 examples first, then its repeat on all 4.
    result = MethodResult([candidate(0, 0.9, examples=2), candidate(1, 0.3), candidate(2, 0.8, new=False)])
    assert result.best.step == 2
    assert [c.step for c in result.incumbents()] == [0, 2]


def cell(method: str, task: str, seed: int, curve: list[float], budget: int | None = None) -> CellResult:
    return CellResult(
        method=method, task=task, seed=seed, budget=budget or len(curve), proposals=len(curve),
        distinct=len(curve), best_instruction=method, val_score=0.0, test_score=curve[-1],
        test_predictions=("x",) * 4, calls_made=0, calls_served=0, wall_s=0.0,
        test_scores=(curve[-1],) * 4, anytime=tuple(curve),
    )  # fmt: skip


def anchors(task: str, seed: int) -> list[CellResult]:
    # empty scores 0 and the reference 1 on every example, so raw scores are normalized ones.
    return [
        CellResult(
            method=m,
            task=task,
            seed=seed,
            budget=1,
            proposals=1,
            distinct=1,
            best_instruction=m,
            val_score=0.0,
            test_score=v,
            test_predictions=("x",) * 4,
            calls_made=0,
            calls_served=0,
            wall_s=0.0,
            test_scores=(v - 0.1, v, v + 0.1, v),
        )  # fmt: skip
        for m, v in (("empty", 0.0), ("human", 1.0))
    ]


def grid() -> list[CellResult]:
    cells: list[CellResult] = []
    for task in ("a", "b"):
        for seed in range(4):
            cells += anchors(task, seed)
            cells.append(cell("uniform", task, seed, [0.2, 0.4, 0.6 + 0.01 * seed, 1.1]))
            cells.append(cell("instructzero", task, seed, [0.3 + 0.01 * seed, 0.3 + 0.01 * seed]))  # stopped after 2
    return cells


def test_curves_are_normalized_carried_to_the_longest_and_summarized() -> None:
    out = anytime(grid(), budgets=(2, 4))
    assert out is not None and out.methods == ["instructzero", "uniform"] and out.length == 4
    assert out.curves["instructzero"].shape == (4, 2, 4)
    assert np.allclose(out.curves["instructzero"][1, 0], [0.31] * 4)  # carried forward
    curve = [e.value for e in out.iqm["uniform"]]
    assert curve[:2] == pytest.approx([0.2, 0.4]) and curve[3] == pytest.approx(1.1)
    for estimates in out.iqm.values():
        assert all(e.low <= e.value <= e.high for e in estimates)
    # Area: uniform's mean over k beats instructzero's in every run.
    assert out.area is not None
    assert out.area.improvement[("uniform", "instructzero")].value == pytest.approx(1.0)
    # Runtime distribution: only uniform reaches the reference, and only at k = 4.
    assert out.reached["reference"]["uniform"] == [0.0, 0.0, 0.0, 1.0]
    assert out.reached["reference"]["instructzero"] == [0.0] * 4
    assert out.budgets["uniform"][2] is not None and out.budgets["uniform"][2].value == pytest.approx(0.4)


def test_a_method_whose_plan_depends_on_its_budget_is_read_only_from_runs_planned_for_it() -> None:
    cells = [c for c in grid() if c.method != "instructzero"]
    # "ape" shares its budget out among demo sets: its budget-4 curve does not stand for budget 2.
    cells += [cell("ape", c.task, c.seed, [0.5, 0.5, 0.7, 0.9]) for c in cells if c.method == "uniform"]
    out = anytime(cells, budgets=(2, 4))
    assert out is not None and out.free == {"ape": False, "uniform": True}
    assert out.budgets["ape"][2] is None and out.budgets["ape"][4] is not None
    cells += [cell("ape", c.task, c.seed, [0.6, 0.8], budget=2) for c in cells if c.method == "uniform"]
    again = anytime(cells, budgets=(2, 4))
    assert again is not None
    planned = again.budgets["ape"][2]
    assert planned is not None and planned.value == pytest.approx(0.8)
    assert again.curves["ape"][0, 0, -1] == pytest.approx(0.9)  # the curve is the largest budget's


def test_cells_without_curves_are_named_not_drawn() -> None:
    cells = grid()
    cells = [c if c.method != "instructzero" else CellResult(**{**c.__dict__, "anytime": ()}) for c in cells]
    out = anytime(cells)
    assert out is not None and out.methods == ["uniform"] and "instructzero" in out.skipped


def test_on_a_pool_triple_and_zopo_are_read_per_budget_and_triple_has_no_curve() -> None:
    cells = [c for c in grid() if c.method != "instructzero"]
    for name in ("triple", "zopo"):
        cells += [cell(name, c.task, c.seed, [0.5, 0.5, 0.7, 0.9]) for c in cells if c.method == "uniform"]
    out = anytime(cells, oracle={"a": 1.2, "b": 1.2}, budgets=(2, 4))
    assert out is not None and out.methods == ["uniform", "zopo"] and "triple" in out.skipped
    assert out.free == {"uniform": True, "zopo": False}
    assert out.budgets["zopo"][2] is None and out.budgets["zopo"][4] is not None
    live = anytime(cells, budgets=(2, 4))
    assert live is not None and live.free["zopo"]  # live it declares itself budget-free


def test_padded_keeps_the_answer() -> None:
    assert padded([1.0, 2.0], 4) == [1.0, 2.0, 2.0, 2.0]


def spending_cell(method: str, task: str, seed: int, curve: list[float], per: int) -> CellResult:
    """A run whose k-th distinct instruction brought its example evaluations to k x ``per``
    (and recorded no tokens, as a pool's)."""
    candidates = [
        Candidate(step=k, instruction=f"i{k}", val_score=0.0, val_scores=(), examples=per, evals=(k + 1) * per)
        for k in range(len(curve))
    ]
    return replace(cell(method, task, seed, curve), result=MethodResult(candidates))


def test_curves_against_a_unit_are_step_functions_of_what_each_run_spent() -> None:
    assert on_grid([0.5, 0.7], [10, 30], [5.0, 10.0, 29.0, 30.0, 99.0]) == [0.0, 0.5, 0.5, 0.7, 0.7]
    cells: list[CellResult] = []
    for task in ("a", "b"):
        for seed in range(3):
            cells += anchors(task, seed)
            # The same answers after each instruction; "cheap" pays 5 evaluations for one, "dear" 20.
            cells.append(spending_cell("cheap", task, seed, [0.2, 0.6, 0.9], per=5))
            cells.append(spending_cell("dear", task, seed, [0.2, 0.6, 0.9], per=20))
    by_k = anytime(cells)
    assert by_k is not None and by_k.area is not None
    assert by_k.area.aggregates["cheap"]["IQM"].value == pytest.approx(by_k.area.aggregates["dear"]["IQM"].value)
    out = anytime(cells, axis="example-evals")
    assert out is not None and out.area is not None and out.axis == "example-evals"
    assert out.length == GRID and out.grid[-1] == 60.0  # the most any run spent
    # cheap has its final answer after 15 evaluations: from the 16th grid point (x = 15) on.
    assert np.allclose(out.curves["cheap"][0, 0, 15:], 0.9) and out.curves["cheap"][0, 0, 0] == 0.0
    assert np.allclose(out.curves["dear"][0, 0, :15], 0.0) and out.curves["dear"][0, 0, -1] == 0.9
    assert out.area.aggregates["cheap"]["IQM"].value > out.area.aggregates["dear"]["IQM"].value + 0.3
    assert out.budgets == {}  # the budget table is read in distinct instructions and proposals only
    # No run recorded tokens: no curve against them, and the others say why.
    assert anytime(cells, axis="tokens") is None
    assert set(by_unit(cells)) == {"proposals", "example-evals"}
    assert by_unit(cells)["proposals"].curves["cheap"].shape == (3, 2, GRID)


def proposing_cell(method: str, task: str, seed: int, steps: list[int], curve: list[float], budget: int) -> CellResult:
    """A run whose distinct instructions came at proposals ``steps`` (0-based; the others repeated
    an instruction), having made ``budget`` proposals in all."""
    candidates = [Candidate(step=k, instruction=f"i{k}", val_score=0.0, val_scores=(), examples=4) for k in steps]
    return replace(cell(method, task, seed, curve, budget=budget), proposals=budget, result=MethodResult(candidates))


def test_the_budget_table_in_proposals_reads_each_run_after_b_proposals_repeats_included() -> None:
    cells: list[CellResult] = []
    for task in ("a", "b"):
        for seed in range(3):
            cells += anchors(task, seed)
            # Distinct instructions at proposals 1, 4 and 8: after 2 proposals the first answer,
            # after 4 the second, after 8 the third.
            cells.append(proposing_cell("uniform", task, seed, [0, 3, 7], [0.2, 0.6, 0.9], budget=8))
            # ape plans by its budget: read only from runs planned for b that made b proposals.
            cells.append(proposing_cell("ape", task, seed, [0, 1, 2], [0.5, 0.5, 0.7], budget=8))
            cells.append(proposing_cell("ape", task, seed, [0, 1], [0.4, 0.3], budget=2))
    by_distinct = anytime(cells, budgets=(2, 4, 8))
    assert by_distinct is not None and set(by_distinct.budgets["uniform"]) == {2}  # 3 distinct at most
    out = anytime(cells, axis="proposals", budgets=(2, 4, 8))
    assert out is not None and out.free == {"ape": False, "uniform": True}
    uniform = out.budgets["uniform"]
    assert [uniform[b].value for b in (2, 4, 8) if uniform[b] is not None] == pytest.approx([0.2, 0.6, 0.9])
    ape = out.budgets["ape"]
    assert ape[2] is not None and ape[2].value == pytest.approx(0.3) and ape[4] is None
    assert ape[8] is not None and ape[8].value == pytest.approx(0.7)
    # A run planned for 4 distinct instructions that needed 6 proposals does not stand for b = 4.
    cells += [replace(c, budget=4, proposals=6) for c in cells if c.method == "ape" and c.budget == 2]
    again = anytime(cells, axis="proposals", budgets=(2, 4, 8))
    assert again is not None and again.budgets["ape"][4] is None
