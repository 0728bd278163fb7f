"""Instruction optimization methods, one module each, registered by name in ``METHODS``."""

from __future__ import annotations

from izbench.errors import ConfigError
from izbench.methods import (  # noqa: F401
    ape,
    capo,
    evoprompt,
    gepa,
    instinct,
    instructzero,
    opro,
    presto,
    references,
    triple,
    uniform,
    zopo,
)
from izbench.methods.base import METHODS, Method, MethodContext
from izbench.results import MethodResult

__all__ = ["METHODS", "Method", "MethodContext", "MethodResult", "base_name", "get_method"]


def base_name(name: str) -> str:
    """``instructzero@2`` -> ``instructzero``: the registered method a versioned name runs."""
    return name.partition("@")[0]


def get_method(name: str) -> Method:
    """The method registered under ``name`` (``name@version`` for an earlier version it keeps),
    or a one-line error listing the known ones."""
    base, _, version = name.partition("@")
    if base not in METHODS:
        raise ConfigError(f"unknown method {name!r}; choose from {', '.join(sorted(METHODS))}")
    method = METHODS[base]()
    if not version:
        return method
    kept = sorted({*method.versions, method.version})
    if not version.isdigit() or int(version) not in kept:
        raise ConfigError(f"{base} has no version {version!r}; it runs versions {', '.join(map(str, kept))}")
    method.version = int(version)
    method.name = name
    return method
