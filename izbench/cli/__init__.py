"""The ``izbench`` command line: one module per command, all registered on one Typer app."""

from __future__ import annotations

import sys
from typing import NoReturn

from pydantic import ValidationError
from rich.text import Text

from izbench.cli import (  # noqa: F401  (registers commands)
    cache_cmd,
    call_cmds,
    compare_cmd,
    models_cmd,
    pool_cmd,
    report_cmds,
    run_cmd,
    runs_cmd,
    signal_cmd,
    tasks_cmd,
)
from izbench.cli._app import app, err_console
from izbench.errors import IzbenchError, interrupted

__all__ = ["app", "main"]


GLOBAL_OPTIONS = (
    "--cache-dir", "--cache-mode", "--store", "--data-dir", "--bigbench-dir", "--blackbox",
    "--generator", "--blackbox-model", "--device", "--dtype", "--config",
)  # fmt: skip
"""Global options a user may also type after the command (``izbench run ... --store X``). Not
``--seed``: after ``run`` it is the cell's own seed."""


def hoist_global_options(argv: list[str]) -> list[str]:
    """``argv`` with the global options found after the command moved before it."""
    command = next(
        (i for i, a in enumerate(argv) if not a.startswith("-") and (i == 0 or argv[i - 1] not in GLOBAL_OPTIONS)),
        None,
    )
    if command is None:
        return argv
    moved: list[str] = []
    rest: list[str] = []
    tail = iter(argv[command:])
    for arg in tail:
        name = arg.split("=", 1)[0]
        if name in GLOBAL_OPTIONS:
            moved.append(arg)
            if "=" not in arg:
                moved.append(next(tail, ""))
        else:
            rest.append(arg)
    return argv[:command] + moved + rest


def _error(message: str) -> NoReturn:
    """One line on stderr, printed as it is (an error's text is never read as markup, so
    ``pip install 'izbench[gemma]'`` keeps its brackets), and exit code 2."""
    err_console.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False)
    sys.exit(2)


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    try:
        app(args=hoist_global_options(sys.argv[1:]), prog_name="izbench")
    except IzbenchError as error:
        _error(str(error))
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        _error(f"invalid setting {where}: {first['msg']} (check the flag or its IZBENCH_{where.upper()} variable)")
    except KeyboardInterrupt:
        _interrupted()
    except RuntimeError as error:
        if not interrupted(error):
            raise
        _interrupted()


def _interrupted() -> NoReturn:
    err_console.print("interrupted; completed calls are cached, rerun to resume")
    sys.exit(130)
