"""``izbench models``: which backends and models exist here, and which is the default."""

from __future__ import annotations

import importlib.util

import typer
from rich.table import Table

from izbench.cli._app import app, console, settings_of
from izbench.errors import ConfigError
from izbench.models.weights import weights_info


@app.command("models")
def models_command(ctx: typer.Context) -> None:
    """List the black-box backends and the instruction generator, without starting any."""
    settings = settings_of(ctx)
    try:
        info = weights_info()
        embedded = f"{info.model_id} (gguf sha256 {info.sha256[:12]})"
        have_gguf = True
    except ConfigError as error:
        embedded, have_gguf = str(error), False
    have_llama = importlib.util.find_spec("llama_cpp") is not None
    table = Table(title="izbench backends")
    for column in ("role", "backend", "model", "available", "default"):
        table.add_column(column)
    rows = [
        ("black box", "local", embedded, have_gguf, "transformers in-process, batched"),
        (
            "black box",
            "llamacpp",
            embedded,
            have_gguf and have_llama,
            "llama_cpp.server on 127.0.0.1",
        ),
        (
            "black box",
            "openai",
            f"{settings.openai_model} @ {settings.openai_base_url}",
            True,
            "API key set" if settings.openai_api_key else "no OPENAI_API_KEY",
        ),
    ]
    for role, kind, model, ok, note in rows:
        default = "yes" if kind == settings.blackbox else ""
        table.add_row(role, kind, f"{model}\n[dim]{note}[/dim]", "yes" if ok else "no", default)
    table.add_row("generator", "local", embedded, "yes" if have_gguf else "no", "always")
    console.print(table)
