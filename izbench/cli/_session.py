"""The frame around every command that calls models: one runtime, one closing count line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from izbench.cli._app import err_console, settings_of

if TYPE_CHECKING:
    from izbench.runtime import Runtime


@contextmanager
def model_session(ctx: typer.Context) -> Iterator[Runtime]:
    """A runtime for the command; on the way out (also on errors) print calls served vs made."""
    from izbench.runtime import Runtime  # loads the model stack: only commands that call models

    runtime = Runtime(settings_of(ctx))
    try:
        yield runtime
    except KeyboardInterrupt:
        err_console.print("interrupted; completed calls are cached and finished cells stored, rerun to resume")
        raise
    finally:
        runtime.close()
        err_console.print(runtime.stats.summary(), highlight=False)
