"""Request and response records shared by every model backend and the cache.

A request holds everything that can change a model's output (so it can be hashed into a cache
key); a completion holds what a caller needs back. Both are frozen pydantic models so they
serialise to canonical JSON and never change after they are made.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator, model_validator

from izbench.choices import PromptProtocol

if TYPE_CHECKING:  # torch is imported where a tensor is made: commands that load no model never pay for it
    import torch

Role = Literal["system", "user", "assistant"]
StopRule = Literal["answer"]
"""``answer``: stop once the text the metrics read is complete (see ``izbench.answer``)."""


class ChatMessage(BaseModel):
    """One turn of a chat prompt."""

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str


class SoftPrompt(BaseModel):
    """A continuous prompt: rows of embeddings prepended to the token embeddings.

    Stored as the raw float32 bytes so the cache key sees the exact values, not a rounding.
    """

    model_config = ConfigDict(frozen=True)

    data: bytes
    """Little-endian float32 values, row-major."""
    shape: tuple[int, int]
    """(number of virtual tokens, hidden size)."""

    @field_serializer("data")
    def _b64(self, value: bytes) -> str:
        return base64.b64encode(value).decode("ascii")

    @field_validator("data", mode="before")
    @classmethod
    def _from_b64(cls, value: object) -> object:
        return base64.b64decode(value) if isinstance(value, str) else value

    @classmethod
    def from_tensor(cls, tensor: torch.Tensor) -> SoftPrompt:
        """Freeze a (tokens, hidden) tensor; any dtype or device is converted to CPU float32."""
        if tensor.dim() != 2:
            raise ValueError(f"soft prompt must be 2-D (tokens, hidden), got shape {tuple(tensor.shape)}")
        import torch

        values = tensor.detach().to("cpu", torch.float32).contiguous()
        return cls(data=values.numpy().tobytes(), shape=(values.shape[0], values.shape[1]))

    def to_tensor(self) -> torch.Tensor:
        """The embeddings as a new CPU float32 tensor."""
        import torch

        flat = torch.frombuffer(bytearray(self.data), dtype=torch.float32)
        return flat.reshape(self.shape).clone()


class CompletionRequest(BaseModel):
    """A chat completion request: the unit every backend answers and the cache stores."""

    model_config = ConfigDict(frozen=True)

    messages: tuple[ChatMessage, ...]
    max_tokens: int = Field(default=64, ge=1)
    temperature: float = Field(default=0.0, ge=0.0)
    """0 means greedy decoding."""
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int = 0
    """Seeds sampling; with sample_index it makes each sample reproducible on its own."""
    sample_index: int = 0
    """Which of several samples for the same prompt this is."""
    stop: tuple[str, ...] = ()
    stop_rule: StopRule | None = None
    """A backend that can check it stops early; others generate to ``max_tokens``. Either way
    the metrics read the same text, but the stored text differs, so it is part of the key."""
    soft_prompt: SoftPrompt | None = None
    """Only the local transformers backend accepts a soft prompt."""
    protocol: PromptProtocol = PromptProtocol.CHAT
    """``chat``: the messages inside the model's chat template; ``raw``: the one user message's
    text as plain text (how APE prompted GPT-3), no template, no special tokens added."""
    continuation: str | None = None
    """When set, nothing is generated: the backend returns the log-probability of each token of
    this text continuing the prompt (``Completion.logprobs``). Part of the key, like the prompt."""
    hidden_state: bool = False
    """When true, nothing is generated: the in-process backend returns the last prompt token's
    final hidden state (``Completion.hidden``), INSTINCT's representation of a soft prompt."""
    with_hidden: bool = False
    """When true on a generation request, the in-process backend returns the text and also the
    last prompt token's final hidden state, read off the prefill that wrote it: a pool build
    gets INSTINCT's features without a second forward pass over every prompt."""

    def key_material(self) -> dict[str, object]:
        """The request as cache-key JSON. Fields added after the cache format was fixed are left
        out while they hold their default, so older entries keep their keys."""
        late = {name for name in ("hidden_state", "with_hidden") if not getattr(self, name)}
        return self.model_dump(mode="json", exclude=late or None)

    @model_validator(mode="after")
    def _raw_is_one_message(self) -> CompletionRequest:
        if self.protocol == "raw" and len(self.messages) != 1:
            raise ValueError("a raw-protocol request holds exactly one message: the prompt text")
        if self.with_hidden and (self.hidden_state or self.continuation is not None):
            raise ValueError("with_hidden asks a generation request for its prompt's hidden state as well")
        return self

    @property
    def raw_text(self) -> str:
        """The prompt text of a raw-protocol request."""
        return self.messages[0].content

    @classmethod
    def user(cls, content: str, **params: object) -> CompletionRequest:
        """A one-turn request with the given user message."""
        return cls(messages=(ChatMessage(role="user", content=content),), **params)  # type: ignore[arg-type]

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    @property
    def sampling_seed(self) -> int:
        """One seed per (seed, sample index): every sample is reproducible on its own."""
        return (self.seed * 1_000_003 + self.sample_index) % (2**31 - 1)


FinishReason = Literal["stop", "length"]


class Completion(BaseModel):
    """A complete, successful answer. Only these are cached."""

    model_config = ConfigDict(frozen=True)

    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    """Wall time of the call that produced it (not of a cache hit)."""
    cached: bool = False
    """True when served from the cache; never stored."""
    logprobs: tuple[float, ...] = ()
    """For a scored continuation: the natural-log probability of each of its tokens."""
    hidden: tuple[float, ...] = ()
    """For a hidden-state request (or a ``with_hidden`` one): the last prompt token's final
    hidden state."""

    @property
    def mean_logprob(self) -> float:
        """Mean log-probability per continuation token (nats per token)."""
        if not self.logprobs:
            raise ValueError("no continuation tokens were scored")
        return sum(self.logprobs) / len(self.logprobs)


def estimated_tokens(request: CompletionRequest) -> int:
    """An upper-leaning guess of a request's tokens before sending it: ~3 characters per prompt
    token (English BPE averages ~4) plus every output token it may generate."""
    chars = sum(len(m.content) for m in request.messages)
    return chars // 3 + 1 + request.max_tokens
