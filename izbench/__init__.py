"""izbench: a reference harness for black-box instruction optimization.

The public surface is small on purpose; everything under ``izbench.*`` modules not listed here
may change between releases.
"""

from __future__ import annotations

from izbench.cache import ResponseCache
from izbench.choices import CacheMode
from izbench.errors import BackendError, CacheMissError, ConfigError, IzbenchError
from izbench.models.types import ChatMessage, Completion, CompletionRequest
from izbench.settings import Settings

__version__ = "0.1.0"

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
