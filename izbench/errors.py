"""User-facing errors: each carries one line that says what went wrong and how to fix it.

The CLI prints ``str(error)`` alone (no traceback) for these, so the message must stand on its own.
"""

from __future__ import annotations


class IzbenchError(Exception):
    """An error caused by input or environment, not by a bug in izbench."""


class ConfigError(IzbenchError):
    """A setting, flag or file has a value izbench cannot use."""


class BackendError(IzbenchError):
    """A model backend could not be reached or answered with something unusable."""


class CacheMissError(IzbenchError):
    """``--cache-mode replay`` met a request that is not in the cache."""


def interrupted(error: BaseException) -> bool:
    """Whether ``error`` is a Ctrl-C in disguise: DuckDB turns a SIGINT that lands during a query
    into ``RuntimeError("Query interrupted")``, and that is the user's interrupt (stop, keep
    what is stored, exit 130), not a failure of the cell that happened to be writing."""
    return type(error) is RuntimeError and str(error) == "Query interrupted"
