"""``izbench report``, ``izbench regress`` and ``izbench export``: reading the store back."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from izbench.cli._app import app, console, err_console, settings_of
from izbench.errors import ConfigError


@app.command("report")
def report_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Directory to write the report into.")] = Path("results/report"),
) -> None:
    """Write leaderboard.md, index.html, PNG plots and results.json from the store."""
    from izbench.report import sections, write_report
    from izbench.store import ResultStore

    with ResultStore.open(settings_of(ctx).store, read_only=True) as store:
        parts = sections(store)
        signal = store.signal_rows()
    if not parts and not signal:
        raise ConfigError(
            f"the store {settings_of(ctx).store} has no finished runs or signal checks; run `izbench compare`"
        )
    if len(parts) > 1:
        err_console.print(f"{len(parts)} configurations in the store: one leaderboard each", highlight=False)
    for path in write_report(parts, out, signal):
        console.print(str(path), highlight=False)
    err_console.print(f"report: {out / 'index.html'}", highlight=False)


class Check(StrEnum):
    EXACT = "exact"
    STATISTICAL = "statistical"


class FailOn(StrEnum):
    CHANGE = "change"
    WORSE = "worse"


@app.command("regress")
def regress_command(
    ctx: typer.Context,
    baseline: Annotated[Path, typer.Option(help="A results.json written by `izbench report`.")],
    tolerance: Annotated[float, typer.Option(min=0.0, help="Allowed change per metric.")] = 0.0,
    fail_on: Annotated[
        FailOn,
        typer.Option(
            help="change: any metric moved (a replay must reproduce all); worse: only score drops and call rises."
        ),
    ] = FailOn.CHANGE,
    check: Annotated[
        Check,
        typer.Option(
            help="exact: every cell's metrics, as a replay must reproduce them; statistical: each method's "
            "seed-level standing against its baseline's, for a change that alters what a method proposes."
        ),
    ] = Check.EXACT,
) -> None:
    """Compare the store with a baseline; exit 1 on a regression (exact: a missing cell or a moved metric,
    per --fail-on; statistical: a method whose IQM fell below its baseline's interval, or whose runs lose to
    its baseline's with P < 0.5 beyond doubt)."""
    from izbench.report import load_cells
    from izbench.report.regress import compare, load_baseline
    from izbench.store import ResultStore

    if check is Check.STATISTICAL:
        _statistical(ctx, baseline)
        return
    base = load_baseline(baseline)
    with ResultStore.open(settings_of(ctx).store, read_only=True) as store:
        cells = load_cells(store)
    moved = compare(base, cells, tolerance)
    for m in moved:
        method, task, seed, config = m.cell
        kind = "REGRESSION" if m.regression else "improved"
        console.print(
            f"{kind}: {method} {task} seed {seed} (config {config}) {m.metric}: {m.baseline} -> {m.current}",
            highlight=False,
        )
    regressions = [m for m in moved if m.regression]
    console.print(
        f"{len(base)} baseline cells, {len(moved)} metrics moved beyond {tolerance}, {len(regressions)} regressions",
        highlight=False,
    )
    if regressions or (moved and fail_on is FailOn.CHANGE):
        raise typer.Exit(1)


def _statistical(ctx: typer.Context, baseline: Path) -> None:
    """The statistical check: one line per method and configuration, exit 1 on a regression."""
    from izbench.report import sections
    from izbench.report.regress import statistical
    from izbench.store import ResultStore

    try:
        saved = json.loads(baseline.read_text())
        saved["sections"], saved["cells"]  # noqa: B018 - what the check reads
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{baseline} is not an izbench results.json with seed statistics ({error})") from None
    with ResultStore.open(settings_of(ctx).store, read_only=True) as store:
        parts = sections(store)
    drifts = statistical(saved, parts)
    if not drifts:
        raise ConfigError(
            f"{baseline} and the store share no configuration with normalized scores; run the same compare first"
        )
    for d in drifts:
        kind = "REGRESSION" if d.regression else "improved" if d.improved else "same"
        area = (
            f"; anytime area {d.area_current:.3f} against {d.area_baseline.text()}"
            if d.area_baseline is not None and d.area_current is not None
            else ""
        )
        console.print(
            f"{kind}: {d.method} (config {d.comparison_hash}): IQM {d.current:.3f} against baseline "
            f"{d.baseline.text()}; P(now > baseline) {d.improvement.text()}{area}",
            highlight=False,
            markup=False,
        )
    regressions = [d for d in drifts if d.regression]
    console.print(f"{len(drifts)} methods checked, {len(regressions)} regressions", highlight=False)
    if regressions:
        raise typer.Exit(1)


@app.command("export")
def export_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Directory for one file per table.")] = Path("results/export"),
    format: Annotated[str, typer.Option("--format", help="parquet | csv | json")] = "parquet",  # noqa: A002
) -> None:
    """Export every store table (runs, candidates, predictions, metrics) to files."""
    from izbench.store import ResultStore

    if format not in ("parquet", "csv", "json"):
        raise typer.BadParameter(f"--format {format!r}: use parquet, csv or json")
    out.mkdir(parents=True, exist_ok=True)
    with ResultStore.open(settings_of(ctx).store, read_only=True) as store:
        for table in ("runs", "candidates", "predictions", "metrics"):
            path = out / f"{table}.{format}"
            # The relation API takes the path as a value, never as SQL text.
            relation = store.db.cursor().table(table)
            if format == "parquet":
                relation.write_parquet(str(path))
            elif format == "csv":
                relation.write_csv(str(path), header=True)
            else:
                rows = [dict(zip(relation.columns, r, strict=True)) for r in relation.fetchall()]
                path.write_text("\n".join(json.dumps(r, default=str) for r in rows) + ("\n" if rows else ""))
            console.print(str(path), highlight=False)
