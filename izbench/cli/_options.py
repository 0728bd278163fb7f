"""Options several commands share, and how a command's own flags override the settings."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from izbench.cli._app import settings_of
from izbench.settings import Settings


class ScoreFunctionName(StrEnum):
    GENERATE = "generate"
    LIKELIHOOD = "likelihood"
    CHOICE = "choice"


class PromptProtocolName(StrEnum):
    CHAT = "chat"
    RAW = "raw"


class ChoiceNormName(StrEnum):
    CHARS = "chars"
    NONE = "none"


ScoreOption = Annotated[
    ScoreFunctionName | None,
    typer.Option("--score", help="generate | likelihood | choice (default: settings) [env IZBENCH_SCORE]."),
]
PromptOption = Annotated[
    PromptProtocolName | None,
    typer.Option("--protocol", help="chat | raw: the scorer's prompt in the chat template or as plain text."),
]
ChoiceNormOption = Annotated[
    ChoiceNormName | None,
    typer.Option("--choice-norm", help="Under choice: chars (acc_norm) or none (acc) [env IZBENCH_CHOICE_NORM]."),
]


def with_flags(ctx: typer.Context, **flags: object) -> Settings:
    """The command's settings with its own flags applied (flags over environment), kept on the
    context so everything below the command sees the same settings."""
    settings = settings_of(ctx)
    update = {k: (v.value if isinstance(v, StrEnum) else v) for k, v in flags.items() if v is not None}
    if update:
        settings = settings.model_copy(update=update)
        ctx.find_root().obj = settings
    return settings
