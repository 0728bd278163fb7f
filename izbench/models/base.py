"""The one interface every model backend implements, so callers never care which one runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from izbench.errors import BackendError
from izbench.models.types import Completion, CompletionRequest

if TYPE_CHECKING:
    import torch


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


class SoftPromptModel(Protocol):
    """What a generator must offer to take soft prompts: the size of a row of its input
    embeddings (a soft prompt is such rows), the embedding matrix (whose spread a projection may
    match) and whether it is prompted inside a chat template. The in-process backend offers it;
    an API never does."""

    @property
    def hidden_size(self) -> int: ...

    def embedding_matrix(self) -> torch.Tensor: ...

    @property
    def chat_template(self) -> bool: ...
