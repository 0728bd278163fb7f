"""The live objects of one command: backends, the cache, and the counts of calls they served.

Backends are built lazily (a command that never calls the black box never starts a server) and
closed together, so a llama.cpp server never outlives the command that started it.
"""

from __future__ import annotations

from types import TracebackType

from izbench.budget import Budget, Prices
from izbench.cache import CachedClient, CallStats, ResponseCache
from izbench.errors import ConfigError
from izbench.models.base import ModelBackend
from izbench.models.generator import InstructionGenerator
from izbench.settings import Settings


class Runtime:
    """Owns the cache, the call counts and every backend one command uses."""

    def __init__(self, settings: Settings, cache: ResponseCache | None = None) -> None:
        self.settings = settings
        self.cache = cache or ResponseCache(settings.cache_dir, settings.cache_mode)
        self.stats = CallStats()
        prices = {}
        if settings.openai_price_prompt is not None or settings.openai_price_completion is not None:
            prices["openai"] = Prices(settings.openai_price_prompt or 0.0, settings.openai_price_completion or 0.0)
        if settings.max_cost is not None and not prices:
            raise ConfigError(
                "--max-cost needs prices: set IZBENCH_OPENAI_PRICE_PROMPT and IZBENCH_OPENAI_PRICE_COMPLETION "
                "(dollars per million tokens)"
            )
        self.budget = Budget(settings.max_calls, settings.max_cost, prices)
        self._backends: dict[str, ModelBackend] = {}

    def backend(self, kind: str) -> ModelBackend:
        """The backend of that kind, built on first use."""
        if kind not in self._backends:
            self._backends[kind] = self._build(kind)
        return self._backends[kind]

    def _build(self, kind: str) -> ModelBackend:
        s = self.settings
        if kind == "local":
            from izbench.models.local import LocalBackend

            return LocalBackend(
                batch_size=s.local_batch_size, share_prefixes=s.local_share_prefixes, model_dir=s.model_dir
            )
        if kind == "llamacpp":
            from izbench.models.llamacpp import LlamaCppBackend

            return LlamaCppBackend(model_dir=s.model_dir)
        if kind == "openai":
            from izbench.models.openai_backend import OpenAIBackend

            return OpenAIBackend(
                s.openai_base_url,
                s.openai_model,
                api_key=s.openai_api_key,
                revision=s.openai_revision,
                concurrency=s.openai_concurrency,
                max_attempts=s.openai_max_attempts,
                rpm=s.openai_rpm,
                tpm=s.openai_tpm,
            )
        raise ConfigError(f"unknown backend {kind!r}; choose one of local, llamacpp, openai")

    def client(self, kind: str) -> CachedClient:
        """A cached client over the backend of that kind, counting into this runtime's stats."""
        return CachedClient(self.backend(kind), self.cache, self.stats, self.budget)

    def blackbox(self) -> CachedClient:
        """The configured black-box LLM."""
        return self.client(self.settings.blackbox)

    def generator(self) -> InstructionGenerator:
        """The open LLM that writes instructions (always the in-process model: soft prompts)."""
        return InstructionGenerator(self.client("local"))

    def close(self) -> None:
        for backend in self._backends.values():
            backend.close()
        self._backends.clear()
        self.cache.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
