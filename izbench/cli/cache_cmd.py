"""``izbench cache stats|path|clear``: look after the response cache."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from izbench.cli._app import app, console, settings_of

if TYPE_CHECKING:
    from izbench.cache import ResponseCache

cache_app = typer.Typer(help="Inspect or clear the response cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


def _open(ctx: typer.Context) -> ResponseCache:
    from izbench.cache import ResponseCache

    return ResponseCache(settings_of(ctx).cache_dir)


@cache_app.command("path")
def cache_path(ctx: typer.Context) -> None:
    """Print the cache directory."""
    console.print(str(settings_of(ctx).cache_dir.resolve()), highlight=False)


@cache_app.command("stats")
def cache_stats(ctx: typer.Context) -> None:
    """Entries, size on disk, and entries per backend and model."""
    cache = _open(ctx)
    if not cache.directory.exists():
        console.print(f"no cache yet at {cache.directory}", highlight=False)
        return
    per_model: Counter[tuple[str, str]] = Counter()
    tokens = 0
    for entry in cache.entries():
        per_model[(entry["backend"], entry["model"])] += 1
        tokens += entry["completion"]["prompt_tokens"] + entry["completion"]["completion_tokens"]
    table = Table(title=f"cache {cache.directory}")
    table.add_column("backend")
    table.add_column("model")
    table.add_column("entries", justify="right")
    for (backend, model), count in sorted(per_model.items()):
        table.add_row(backend, model, str(count))
    console.print(table)
    console.print(
        f"{len(cache)} entries, {cache.volume() / 1e6:.2f} MB on disk, {tokens} tokens recorded",
        highlight=False,
    )
    cache.close()


@cache_app.command("clear")
def cache_clear(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete every cached response (replays then need the models again)."""
    cache = _open(ctx)
    if not yes:
        typer.confirm(f"Delete all cached responses in {cache.directory}?", abort=True)
    removed = cache.clear()
    cache.close()
    console.print(f"removed {removed} entries", highlight=False)
