"""``izbench tasks list|show`` and ``izbench data fetch``: the task registry and its data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from izbench.cli._app import app, console, err_console, registry_of, settings_of

tasks_app = typer.Typer(help="List and inspect tasks.", no_args_is_help=True)
data_app = typer.Typer(help="Get task data.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")
app.add_typer(data_app, name="data")


@tasks_app.command("list")
def tasks_list(
    ctx: typer.Context,
    tasks: Annotated[str, typer.Option(help="all, a suite, or a comma list of tasks.")] = "all",
) -> None:
    """A table of tasks: suite, name, metric, sizes, and whether the data is here."""
    registry = registry_of(ctx)
    if tasks == "all":
        specs = list(registry.specs.values())
    else:
        chosen, skipped = registry.resolve(tasks)
        specs = chosen + [registry.get(name) for name, _ in skipped]
    table = Table(title="izbench tasks")
    for column in ("suite", "name", "metric", "induce", "execute", "data"):
        table.add_column(column, justify="right" if column in ("induce", "execute") else "left")
    for spec in specs:
        avail = registry.availability(spec)
        if avail.available:
            data = registry.load(spec.key)
            sizes, status = (
                (str(len(data.induce)), str(len(data.execute))),
                "[green]available[/green]",
            )
        else:
            sizes, status = ("-", "-"), f"[yellow]missing[/yellow]: {avail.hint}"
        table.add_row(spec.suite, spec.name, spec.metric.value, *sizes, status)
    console.print(table)


@tasks_app.command("show")
def tasks_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Task id (suite/name) or name.")],
    examples: Annotated[int, typer.Option(min=0, help="How many examples to show.")] = 5,
) -> None:
    """A task's spec, a few examples and its split sizes for the current seed."""
    from izbench.tasks.splits import make_split

    registry = registry_of(ctx)
    spec = registry.get(name)
    console.print(f"[bold]{spec.key}[/bold]: {spec.description}", highlight=False)
    for field in ("source", "metric", "license"):
        console.print(f"  {field}: {getattr(spec, field)}", highlight=False)
    data = registry.load(spec.key)
    split = make_split(spec.key, data, settings_of(ctx).seed)
    console.print(
        f"  induce {len(data.induce)}, execute {len(data.execute)}; split (seed {split.seed}): "
        f"demo pool {len(split.demo_pool)}, validation {len(split.validation)}, "
        f"test {len(split.test)}",
        highlight=False,
    )
    table = Table(title="examples")
    table.add_column("input")
    table.add_column("answers")
    for example in data.induce[:examples]:
        table.add_row(example.input, " | ".join(example.answers[:5]))
    console.print(table)
    if data.annotations:
        console.print(f"  human instruction: {data.annotations[0]}", highlight=False)


@data_app.command("fetch")
def data_fetch(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Only 'instruction-induction' for now.")],
    dest: Annotated[
        Path | None,
        typer.Option(help="Where to put it (default: --data-dir or ./data/instruction-induction)."),
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="Mirror serving OWNER/REPO/COMMIT/data/... paths (default: GitHub's raw files).")
    ] = None,
) -> None:
    """Download a dataset at its pinned upstream commit, checking every file's sha256."""
    from izbench.tasks import instruction_induction

    if dataset != "instruction-induction":
        raise typer.BadParameter(f"unknown dataset {dataset!r}; use instruction-induction")
    target = dest or settings_of(ctx).data_dir or Path("data/instruction-induction")
    written = instruction_induction.fetch(target, base_url or instruction_induction.UPSTREAM_BASE)
    info = instruction_induction.manifest()
    err_console.print(
        f"{len(written)} files downloaded, {len(info['files']) - len(written)} already there "
        f"and verified; data at {target} (commit {info['commit'][:10]}); "
        f"use it with --data-dir {target} or IZBENCH_DATA_DIR",
        highlight=False,
    )
