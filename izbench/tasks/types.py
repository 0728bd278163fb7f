"""What a task is once loaded: examples with every acceptable answer, in upstream's pools."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Example(BaseModel):
    """One input with all the answers the metric accepts (the first is the canonical one)."""

    model_config = ConfigDict(frozen=True)

    input: str
    answers: tuple[str, ...]
    options: tuple[str, ...] = ()
    """The closed set a choice scorer picks from (empty: the task has none)."""


class TaskData(BaseModel):
    """A task's examples: the pool demos and validation come from, and the held-out test set."""

    model_config = ConfigDict(frozen=True)

    induce: tuple[Example, ...]
    execute: tuple[Example, ...]
    annotations: tuple[str, ...] = ()
    """Human-written instructions, where the source has them (the ``human`` reference)."""
