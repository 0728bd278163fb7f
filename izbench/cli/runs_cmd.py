"""``izbench runs list|show``: what the results store holds."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from izbench.cli._app import app, console, one_line, settings_of
from izbench.errors import ConfigError

runs_app = typer.Typer(help="Inspect stored runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


@runs_app.command("list")
def runs_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="done | running | failed (default: all).")] = None,
) -> None:
    """One line per run: id, method, task, seed, status, scores, calls."""
    from izbench.store import ResultStore

    with ResultStore.open(settings_of(ctx).store, read_only=True) as store:
        runs = store.runs(status)
    table = Table(title=f"runs in {settings_of(ctx).store}")
    for column in ("run", "method", "task", "seed", "status", "val", "test", "calls made/served"):
        table.add_column(column)
    for r in runs:
        table.add_row(
            r["run_id"][:10],
            r["method"],
            r["task"],
            str(r["seed"]),
            r["status"],
            "" if r["val_score"] is None else f"{r['val_score']:.3f}",
            "" if r["test_score"] is None else f"{r['test_score']:.3f}",
            f"{r['calls_made'] or 0}/{r['calls_served'] or 0}",
        )
    console.print(table)


@runs_app.command("show")
def runs_show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="A run id or a unique prefix of one.")],
) -> None:
    """A run's configuration, result and candidates."""
    from izbench.report.acquisition import summarize
    from izbench.store import ResultStore

    with ResultStore.open(settings_of(ctx).store, read_only=True) as store:
        matches = store.query("SELECT * FROM runs WHERE run_id LIKE ?", [run_id + "%"])
        if len(matches) != 1:
            raise ConfigError(f"{len(matches)} runs match {run_id!r}; give more of the id")
        run = matches[0]
        candidates = store.query(
            "SELECT step, val_score, instruction, is_new, note, examples, calls, acquisition FROM candidates "
            "WHERE run_id = ? "
            "ORDER BY val_score DESC, step",
            [run["run_id"]],
        )
    for field in ("run_id", "method", "task", "seed", "status", "config_hash", "git_commit"):
        console.print(f"{field}: {run[field]}", highlight=False)
    config = json.loads(run["config_json"])
    config.pop("task_identity", None)  # the task's whole spec: long, and in its task file
    console.print("config: " + json.dumps(config, indent=2, sort_keys=True), highlight=False)
    console.print(
        f"best (val {run['val_score']}, test {run['test_score']}): {run['best_instruction']}",
        highlight=False,
    )
    table = Table(title="candidates")
    for column in ("step", "val", "examples", "calls", "new", "instruction"):
        table.add_column(column)
    for c in candidates:
        table.add_row(
            str(c["step"]),
            f"{c['val_score']:.3f}",
            "-" if c["examples"] is None else str(c["examples"]),
            "-" if c["calls"] is None else str(c["calls"]),
            str(c["is_new"]),
            one_line(c["instruction"]),
        )
    console.print(table)
    summary = summarize(run["method"], [c["acquisition"] for c in candidates if c["acquisition"]])
    if summary is not None:
        console.print(summary.line(), highlight=False)
    for c in sorted((c for c in candidates if c["note"]), key=lambda c: c["step"]):
        console.print(f"note at step {c['step']}: {c['note']}", highlight=False)
