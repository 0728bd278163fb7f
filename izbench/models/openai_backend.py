"""The ``openai`` backend: any OpenAI-compatible chat endpoint through the official client.

Works against OpenAI itself (``OPENAI_API_KEY``), vLLM, Ollama or a llama.cpp server. Requests
run on a bounded thread pool under optional requests/tokens-per-minute limits; 429, 5xx,
timeouts and refused connections are retried with exponential backoff and full jitter
(tenacity); anything else fails that request only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from izbench.errors import BackendError
from izbench.models.ratelimit import RateLimiter, estimated_tokens
from izbench.models.types import Completion, CompletionRequest


def _retryable(error: BaseException) -> bool:
    """Worth another try: rate limits, server errors, timeouts, connection failures."""
    if isinstance(error, openai.APIStatusError):
        return error.status_code == 429 or error.status_code >= 500
    return isinstance(error, openai.APITimeoutError | openai.APIConnectionError)


class OpenAIBackend:
    """Chat completions over HTTP with retries, a concurrency limit and per-call token usage."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        revision: str | None = None,
        kind: str = "openai",
        concurrency: int = 4,
        max_attempts: int = 6,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        timeout_s: float = 120.0,
        rpm: int | None = None,
        tpm: int | None = None,
        rate_window_s: int = 60,
    ) -> None:
        self.kind = kind
        self.model_id = model
        self.revision = revision or model
        self.base_url = base_url
        self.concurrency = max(1, concurrency)
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        # Retries are ours (tenacity), so the client must not retry underneath them.
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout_s, max_retries=0
        )
        self.limiter = RateLimiter(rpm, tpm, rate_window_s)
        self.attempts = 0
        """HTTP attempts made, retries included; useful to see how hard the server pushed back."""

    def _call(self, request: CompletionRequest) -> Completion:
        if request.soft_prompt is not None:
            raise BackendError(f"the {self.kind} backend cannot take a soft prompt; use `local`")
        params: dict[str, Any] = {
            "model": self.model_id,
            "messages": [m.model_dump() for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.sampling_seed,
        }
        if request.stop:
            params["stop"] = list(request.stop)
        began = time.perf_counter()
        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            wait=wait_random_exponential(multiplier=self.backoff_base_s, max=self.backoff_max_s),
            stop=stop_after_attempt(self.max_attempts),
            reraise=False,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self.limiter.acquire(estimated_tokens(request))
                    self.attempts += 1
                    response = self._client.chat.completions.create(**params)
        except RetryError as exhausted:
            cause = exhausted.last_attempt.exception()
            raise BackendError(
                f"{self.kind} backend at {self.base_url} failed after {self.max_attempts} attempts: {_describe(cause)}"
            ) from cause
        except openai.OpenAIError as error:
            raise BackendError(f"{self.kind} backend at {self.base_url}: {_describe(error)}") from error
        latency = time.perf_counter() - began
        choice = response.choices[0]
        if choice.finish_reason not in ("stop", "length"):
            raise BackendError(f"{self.kind} backend returned finish_reason={choice.finish_reason!r}; not cached")
        usage = response.usage
        return Completion(
            text=choice.message.content or "",
            finish_reason=choice.finish_reason,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            latency_s=latency,
        )

    def _safe_call(self, request: CompletionRequest) -> Completion | BackendError:
        try:
            return self._call(request)
        except BackendError as error:
            return error

    def complete(self, requests: Sequence[CompletionRequest]) -> list[Completion | BackendError]:
        if len(requests) <= 1 or self.concurrency == 1:
            return [self._safe_call(r) for r in requests]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(self._safe_call, requests))

    def close(self) -> None:
        self._client.close()


def _describe(error: BaseException | None) -> str:
    """One line for an OpenAI client error, with a hint for the common causes."""
    if isinstance(error, openai.APIConnectionError):
        return "cannot connect (is the server running and the --base-url right?)"
    if isinstance(error, openai.AuthenticationError):
        return "authentication failed (set OPENAI_API_KEY or --api-key)"
    if isinstance(error, openai.APIStatusError):
        return f"HTTP {error.status_code}: {str(error.message)[:200]}"
    return f"{type(error).__name__}: {str(error)[:200]}"
