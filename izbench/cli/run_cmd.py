"""``izbench run``: one (method, task, seed) cell, stored, with its best candidates."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from izbench.cli._app import app, console, one_line, registry_of
from izbench.cli._options import (
    AnytimeOption,
    BudgetOption,
    BudgetUnitOption,
    ChoiceNormOption,
    MaxCallsOption,
    MaxCostOption,
    ProfileOption,
    PromptOption,
    RerunOption,
    ScaleOption,
    ScoreOption,
    SelectOption,
    TestOption,
    ValOption,
    cell_flags,
    chosen_profile,
    recompute,
    with_flags,
)
from izbench.cli._progress import ItemProgress
from izbench.cli._session import model_session

if TYPE_CHECKING:  # the model stack is imported when a cell runs, not by --help
    from izbench.results import Candidate, CellResult


@app.command("run")
def run_command(
    ctx: typer.Context,
    method: Annotated[str, typer.Option(help="instructzero | ape | uniform | human | empty | ...")],
    task: Annotated[str, typer.Option(help="Task id or name (e.g. sum, ii/sum).")],
    seed: Annotated[int | None, typer.Option(help="Run seed (default: the global --seed).")] = None,
    profile: ProfileOption = "default",
    budget: BudgetOption = None,
    n_validation: ValOption = None,
    n_test: TestOption = None,
    scale: ScaleOption = None,
    rerun: RerunOption = False,
    show: Annotated[int, typer.Option(min=0, help="How many top candidates to list.")] = 5,
    max_calls: MaxCallsOption = None,
    max_cost: MaxCostOption = None,
    score: ScoreOption = None,
    protocol: PromptOption = None,
    choice_norm: ChoiceNormOption = None,
    anytime: AnytimeOption = None,
    select: SelectOption = None,
    budget_unit: BudgetUnitOption = None,
) -> None:
    """Run one (method, task, seed) cell, store it, and print its candidates and scores."""
    from izbench.methods import get_method
    from izbench.runner import run_cell
    from izbench.store import ResultStore

    get_method(method)  # fail fast on a typo, before any model loads
    chosen = chosen_profile(profile, budget, n_validation, n_test, scale, select, budget_unit)
    registry = registry_of(ctx)
    settings = with_flags(ctx, **cell_flags(max_calls, max_cost, score, protocol, choice_norm, anytime))
    run_seed = settings.seed if seed is None else seed
    with (
        model_session(ctx) as runtime,
        ResultStore.open(settings.store) as store,
        ItemProgress(chosen.budget_for(method), "candidates") as progress,
    ):
        seen = runtime.stats.counts()

        def scored(candidates: list[Candidate]) -> None:
            nonlocal seen
            spent, seen = runtime.stats.since(seen), runtime.stats.counts()
            for k, c in enumerate(c for c in candidates if c.new):
                progress.done(f"step {c.step}, val {c.val_score:.3f}", made=spent.made if k == 0 else 0,
                              served=spent.served if k == 0 else 0)  # fmt: skip

        cell = run_cell(
            runtime, registry, method, task, run_seed, chosen, store, recompute(settings, rerun), watch=scored
        )
    _print_cell(cell, show)


def _print_cell(cell: CellResult, show: int) -> None:
    assert cell.result is not None
    from izbench.report.table import TextTable

    ranked = sorted(cell.result.candidates, key=lambda c: (-c.val_score, c.step))
    rows = [[str(c.step), f"{c.val_score:.3f}", one_line(c.instruction)] for c in ranked if c.new][:show]
    title = f"{cell.method} on {cell.task} (seed {cell.seed}, budget {cell.budget})"
    console.print(TextTable(["step", "val", "instruction"], rows, right=frozenset({0, 1})).rich(title))
    extra = ""
    if cell.mean_test_score is not None:
        extra = f", mean over annotations {cell.mean_test_score:.3f}"
    reused = " (read back from the store; --rerun recomputes)" if cell.reused else ""
    console.print(
        f"best: val {cell.val_score:.3f}, test {cell.test_score:.3f}{extra}; "
        f"{cell.distinct} distinct of {cell.proposals} proposals; "
        f"{cell.calls_made} calls made, {cell.calls_served} served"
        f"{'' if cell.blackbox_calls is None else f' ({cell.blackbox_calls} black-box calls to optimise)'}; "
        f"{cell.wall_s:.1f} s{reused}",
        highlight=False,
        markup=False,
    )
