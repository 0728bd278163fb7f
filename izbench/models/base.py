"""The one interface every model backend implements, so callers never care which one runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from izbench.errors import BackendError
from izbench.models.types import Completion, CompletionRequest


@runtime_checkable
class ModelBackend(Protocol):
    """A model that answers batches of chat requests.

    ``complete`` returns one entry per request, in order: a :class:`Completion` or the
    :class:`BackendError` that request met, so that one failure does not discard the
    successes of the same batch (the cache keeps those).
    """

    kind: str
    """Backend family: ``local``, ``llamacpp`` or ``openai``; part of every cache key."""
    model_id: str
    """Which model answers, as the backend names it."""
    revision: str
    """What pins the exact weights and code path: a checksum, a dated model name, versions."""

    def complete(self, requests: Sequence[CompletionRequest]) -> list[Completion | BackendError]: ...

    def close(self) -> None: ...
