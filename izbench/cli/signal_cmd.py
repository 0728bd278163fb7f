"""``izbench signal``: does the chosen set-up measure instructions at all, task by task?"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from izbench.cli._app import app, console, registry_of
from izbench.cli._options import (
    ChoiceNormOption,
    PromptOption,
    ScoreOption,
    parse_seeds,
    report_skipped,
    with_flags,
)
from izbench.cli._progress import ItemProgress
from izbench.cli._session import model_session

if TYPE_CHECKING:
    from izbench.signal_check import SignalResult
    from izbench.tasks.spec import TaskSpec


def signal_row(result: SignalResult) -> dict[str, object]:
    """The store's row of one result."""
    row = {k: v for k, v in asdict(result).items() if k not in ("vs_empty", "vs_mismatched")}
    for name in ("vs_empty", "vs_mismatched"):
        interval = getattr(result, name)
        row |= {name: interval.mean, f"{name}_low": interval.low, f"{name}_high": interval.high}
    return row | {"measures": result.measures}


def signal_table(results: list[SignalResult], title: str) -> Table:
    table = Table(title=title)
    table.add_column("task", no_wrap=True)
    for column in ("ref", "empty", "other", "ref-empty [95%]", "ref-other [95%]"):
        table.add_column(column, justify="right", no_wrap=True)
    if any(r.chance is not None for r in results):
        table.add_column("chance", justify="right")
    table.add_column("measures")
    for r in results:
        cells = [r.task, f"{r.reference_mean:.3f}", f"{r.empty_mean:.3f}", f"{r.mismatched_mean:.3f}"]
        cells += [r.vs_empty.text(digits=2), r.vs_mismatched.text(digits=2)]
        if any(x.chance is not None for x in results):
            cells.append("-" if r.chance is None else f"{r.chance:.3f}")
        cells.append("[green]yes[/green]" if r.measures else "[red]no[/red]")
        table.add_row(*cells)
    return table


@app.command("signal")
def signal_command(
    ctx: typer.Context,
    tasks: Annotated[str, typer.Option(help="all, a suite, or a comma list.")] = "core",
    seeds: Annotated[str, typer.Option(help="Seeds, each drawing its own examples: integers and ranges (0-4).")] = "0",
    n_examples: Annotated[int, typer.Option(min=2, help="Validation examples per task and seed.")] = 20,
    score: ScoreOption = None,
    protocol: PromptOption = None,
    choice_norm: ChoiceNormOption = None,
) -> None:
    """Score each task's reference instructions ('ref'), no instruction and other tasks' instructions on the
    same examples, and say whether the set-up tells them apart (stored; `izbench report` shows it)."""
    from izbench.signal_check import run_signal, signal_setup
    from izbench.store import ResultStore

    settings = with_flags(ctx, score=score, protocol=protocol, choice_norm=choice_norm)
    seed_list = parse_seeds(seeds)
    registry = registry_of(ctx)
    specs, skipped = registry.resolve(tasks)
    report_skipped(skipped)
    results: list[SignalResult] = []
    with (
        model_session(ctx) as runtime,
        ResultStore.open(settings.store) as store,
        ItemProgress(len(specs), "tasks") as progress,
    ):
        began, seen = time.perf_counter(), runtime.stats.counts()

        def done(spec: TaskSpec, result: SignalResult | str) -> None:
            nonlocal began, seen
            spent, seen = runtime.stats.since(seen), runtime.stats.counts()
            verdict = result if isinstance(result, str) else f"measures: {'yes' if result.measures else 'no'}"
            progress.done(spec.key, time.perf_counter() - began, spent.made, spent.served, note=verdict)
            began = time.perf_counter()

        results = run_signal(runtime, registry, specs, seed_list, n_examples, on_task=done)
        store.put_signal(signal_setup(runtime), seed_list, [signal_row(r) for r in results])
    title = (
        f"signal check: --score {settings.score} --protocol {settings.protocol}, black box {settings.blackbox}, "
        f"seeds {seeds}, {n_examples} examples each"
    )
    console.print(signal_table(results, title))
    yes = sum(r.measures for r in results)
    console.print(f"measures instructions on {yes} of {len(results)} tasks", highlight=False)
