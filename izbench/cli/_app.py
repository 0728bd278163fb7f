"""The Typer application and its global options (given before the command)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from izbench.choices import CacheMode

if TYPE_CHECKING:  # imported when a command runs: `izbench --help` stays fast
    from izbench.settings import Settings
    from izbench.tasks.registry import TaskRegistry

app = typer.Typer(
    name="izbench",
    help="Benchmark black-box instruction optimization: InstructZero, INSTINCT, OPRO, EvoPrompt, APE and "
    "Uniform against reference instructions, on one task registry, cache and results store.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

console = Console(width=None if sys.stdout.isatty() else 160)
"""Results go to stdout (160 columns wide when piped, so tables keep their columns)."""
err_console = Console(stderr=True, soft_wrap=True)
"""Progress, counts and errors go to stderr, so stdout stays pipeable."""


@app.callback()
def _global_options(
    ctx: typer.Context,
    cache_dir: Annotated[Path | None, typer.Option(help="Response cache directory (env IZBENCH_CACHE_DIR).")] = None,
    cache_mode: Annotated[
        CacheMode | None,
        typer.Option(help="use | refresh | off | replay (a miss is an error) (env IZBENCH_CACHE_MODE)."),
    ] = None,
    store: Annotated[Path | None, typer.Option(help="DuckDB results store (env IZBENCH_STORE).")] = None,
    seed: Annotated[int | None, typer.Option(help="Root seed (env IZBENCH_SEED).")] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Instruction Induction data directory (env IZBENCH_DATA_DIR)."),
    ] = None,
    bigbench_dir: Annotated[
        Path | None,
        typer.Option(help="BIG-bench tasks directory (env IZBENCH_BIGBENCH_DIR)."),
    ] = None,
    blackbox: Annotated[
        str | None,
        typer.Option(help="Black-box backend: local | llamacpp | openai (env IZBENCH_BLACKBOX)."),
    ] = None,
    generator: Annotated[
        str | None,
        typer.Option(
            help="Instruction writer: embedded name (izbench models), .gguf file or model dir (env IZBENCH_GENERATOR)."
        ),
    ] = None,
    blackbox_model: Annotated[
        str | None,
        typer.Option(help="Model of the local/llamacpp black box (same forms) (env IZBENCH_BLACKBOX_MODEL)."),
    ] = None,
    device: Annotated[str | None, typer.Option(help="auto | cpu | cuda | mps (env IZBENCH_DEVICE).")] = None,
    dtype: Annotated[str | None, typer.Option(help="auto | float32 | bfloat16 | float16 (env IZBENCH_DTYPE).")] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="TOML file of settings and [compare] arguments; flags and IZBENCH_* override it."),
    ] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More output (-vv for debug).")] = 0,
) -> None:
    given: dict[str, Any] = {
        "cache_dir": cache_dir,
        "cache_mode": cache_mode,
        "store": store,
        "seed": seed,
        "data_dir": data_dir,
        "bigbench_dir": bigbench_dir,
        "blackbox": blackbox,
        "generator": generator,
        "blackbox_model": blackbox_model,
        "device": device,
        "dtype": dtype,
        "verbose": verbose or None,
    }
    from_file: dict[str, Any] = {}
    if config is not None:
        from izbench.config_file import load_config_file

        from_file, compare_defaults = load_config_file(config)
        ctx.default_map = {**(ctx.default_map or {}), "compare": compare_defaults}
    from izbench.settings import Settings

    ctx.obj = Settings(**{**from_file, **{k: v for k, v in given.items() if v is not None}})


def registry_of(ctx: typer.Context) -> TaskRegistry:
    """The task registry the settings describe."""
    from izbench.tasks.registry import TaskRegistry

    return TaskRegistry.from_settings(settings_of(ctx))


def settings_of(ctx: typer.Context) -> Settings:
    """The settings the global options resolved (commands call this, never the environment)."""
    settings: Settings = ctx.find_root().obj
    return settings


def one_line(text: str, width: int = 160) -> str:
    """An instruction for a table cell: whitespace runs collapsed, cut at ``width`` characters
    (a base model's instruction can be many lines of noise; the store keeps it whole)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
