"""``izbench report``, ``izbench regress`` and ``izbench export``: reading the store back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from izbench.cli._app import app, console, err_console, settings_of
from izbench.errors import ConfigError
from izbench.report import build_leaderboard, load_cells, write_report
from izbench.report.regress import compare, load_baseline
from izbench.store import ResultStore


@app.command("report")
def report_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Directory to write the report into.")] = Path("results/report"),
) -> None:
    """Write leaderboard.md, index.html, PNG plots and results.json from the store."""
    with ResultStore.open(settings_of(ctx).store, read_only=True) as store:
        cells = load_cells(store)
        signal = store.signal_rows()
    if not cells and not signal:
        raise ConfigError(
            f"the store {settings_of(ctx).store} has no finished runs or signal checks; run `izbench compare`"
        )
    board = build_leaderboard(cells)
    for path in write_report(cells, board, out, signal):
        console.print(str(path), highlight=False)
    err_console.print(f"report: {out / 'index.html'}", highlight=False)


@app.command("regress")
def regress_command(
    ctx: typer.Context,
    baseline: Annotated[Path, typer.Option(help="A results.json written by `izbench report`.")],
    tolerance: Annotated[float, typer.Option(min=0.0, help="Allowed change per metric.")] = 0.0,
) -> None:
    """Compare the store with a baseline; exit 1 when any cell moved down or is missing."""
    base = load_baseline(baseline)
    with ResultStore.open(settings_of(ctx).store, read_only=True) as store:
        cells = load_cells(store)
    moved = compare(base, cells, tolerance)
    for m in moved:
        method, task, seed = m.cell
        kind = "REGRESSION" if m.regression else "improved"
        console.print(
            f"{kind}: {method} {task} seed {seed} {m.metric}: {m.baseline} -> {m.current}",
            highlight=False,
        )
    regressions = [m for m in moved if m.regression]
    console.print(
        f"{len(base)} baseline cells, {len(moved)} metrics moved beyond {tolerance}, {len(regressions)} regressions",
        highlight=False,
    )
    if moved:
        raise typer.Exit(1)


@app.command("export")
def export_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Directory for one file per table.")] = Path("results/export"),
    format: Annotated[str, typer.Option("--format", help="parquet | csv | json")] = "parquet",  # noqa: A002
) -> None:
    """Export every store table (runs, candidates, predictions, metrics) to files."""
    if format not in ("parquet", "csv", "json"):
        raise typer.BadParameter(f"--format {format!r}: use parquet, csv or json")
    out.mkdir(parents=True, exist_ok=True)
    with ResultStore.open(settings_of(ctx).store, read_only=True) as store:
        for table in ("runs", "candidates", "predictions", "metrics"):
            path = out / f"{table}.{format}"
            options = {
                "parquet": "FORMAT parquet",
                "csv": "FORMAT csv, HEADER",
                "json": "FORMAT json",
            }[format]
            store.db.execute(f"COPY {table} TO '{path}' ({options})")  # noqa: S608
            console.print(str(path), highlight=False)
