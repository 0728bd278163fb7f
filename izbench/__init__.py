"""izbench: a reference harness for black-box instruction optimization.

The public surface is small on purpose; everything under ``izbench.*`` modules not listed here
may change between releases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PUBLIC = {
    "BackendError": "izbench.errors",
    "CacheMissError": "izbench.errors",
    "CacheMode": "izbench.choices",
    "ChatMessage": "izbench.models.types",
    "Completion": "izbench.models.types",
    "CompletionRequest": "izbench.models.types",
    "ConfigError": "izbench.errors",
    "IzbenchError": "izbench.errors",
    "ResponseCache": "izbench.cache",
    "Settings": "izbench.settings",
}
"""Public name -> the module it lives in, imported on first use (so ``izbench --help``, which
imports this package, pays for none of them)."""

__all__ = [
    "BackendError",
    "CacheMissError",
    "CacheMode",
    "ChatMessage",
    "Completion",
    "CompletionRequest",
    "ConfigError",
    "IzbenchError",
    "ResponseCache",
    "Settings",
    "__version__",
]

if TYPE_CHECKING:
    from izbench.cache import ResponseCache
    from izbench.choices import CacheMode
    from izbench.errors import BackendError, CacheMissError, ConfigError, IzbenchError
    from izbench.models.types import ChatMessage, Completion, CompletionRequest
    from izbench.settings import Settings


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'izbench' has no attribute {name!r}")
