"""``izbench signal``: does the chosen set-up measure instructions at all, task by task?"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

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
    intervals = ("vs_empty", "vs_mismatched", "vs_chance")
    row = {k: v for k, v in asdict(result).items() if k not in intervals}
    for name in intervals:
        interval = getattr(result, name)
        row |= {
            name: None if interval is None else interval.mean,
            f"{name}_low": None if interval is None else interval.low,
            f"{name}_high": None if interval is None else interval.high,
        }
    return row | {"measures": result.measures}


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
    from izbench.identity import scoring_setup, signal_setup
    from izbench.signal_check import run_signal
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
        store.put_signal(signal_setup(scoring_setup(runtime)), seed_list, [signal_row(r) for r in results])
    title = (
        f"signal check: --score {settings.score} --protocol {settings.protocol}, black box {settings.blackbox}, "
        f"seeds {seeds}, {n_examples} examples each"
    )
    from izbench.report.render import signal_table

    rows = [signal_row(r) | {"seeds": ",".join(map(str, seed_list))} for r in results]
    console.print(signal_table(rows).rich(title))
    yes = sum(r.measures for r in results)
    console.print(f"measures instructions on {yes} of {len(results)} tasks", highlight=False)
