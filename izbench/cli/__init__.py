"""The ``izbench`` command line: one module per command, all registered on one Typer app."""

from __future__ import annotations

import sys

from pydantic import ValidationError

from izbench.cli import (  # noqa: F401  (registers commands)
    cache_cmd,
    call_cmds,
    models_cmd,
    report_cmds,
    run_cmds,
    runs_cmd,
    signal_cmd,
    tasks_cmd,
)
from izbench.cli._app import app, err_console
from izbench.errors import IzbenchError

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    try:
        app()
    except IzbenchError as error:
        err_console.print(f"[bold red]error:[/bold red] {error}", highlight=False)
        sys.exit(2)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        err_console.print(
            f"[bold red]error:[/bold red] invalid setting {where}: {first['msg']} "
            f"(check the flag or its IZBENCH_{where.upper()} variable)",
            highlight=False,
        )
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted; completed calls are cached, rerun to resume")
        sys.exit(130)
