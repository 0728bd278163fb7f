"""Instruction optimization methods, one module each, registered by name in ``METHODS``."""

from __future__ import annotations

from izbench.errors import ConfigError
from izbench.methods import ape, evoprompt, instinct, instructzero, opro, presto, references, uniform  # noqa: F401
from izbench.methods.base import METHODS, Method, MethodContext
from izbench.results import MethodResult

__all__ = ["METHODS", "Method", "MethodContext", "MethodResult", "get_method"]


def get_method(name: str) -> Method:
    """The method registered under ``name``, or a one-line error listing the known ones."""
    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}; choose from {', '.join(sorted(METHODS))}")
    return METHODS[name]()
