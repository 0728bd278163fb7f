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

from izbench.choices import PromptProtocol
from izbench.errors import BackendError
from izbench.models.ratelimit import RateLimiter, estimated_tokens
from izbench.models.types import Completion, CompletionRequest

ECHO_PROBE_PROMPT = "Count from 1 to 16, separated by commas."
ECHO_PROBE = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16"
ECHO_PROBE_FLOOR = -2.0
"""Nats per token below which the probe's second half shows misaligned log-probabilities."""


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
        # Two endpoints can serve different models under one name, so without an explicit
        # revision the endpoint is part of the identity (and so of every cache key).
        self.revision = revision or f"{model}@{base_url.rstrip('/')}"
        self.base_url = base_url
        self.concurrency = max(1, concurrency)
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._client_instance: openai.OpenAI | None = None
        self.limiter = RateLimiter(rpm, tpm, rate_window_s)
        self._echo_checked: dict[str, float] = {}
        """Protocol -> the probe's score, for endpoints whose echoed log-probabilities passed."""
        self.attempts = 0
        """HTTP attempts made, retries included; useful to see how hard the server pushed back."""

    @property
    def _client(self) -> openai.OpenAI:
        """The HTTP client, made on the first call (building a backend contacts nothing)."""
        if self._client_instance is None:
            # Retries are ours (tenacity), so the client must not retry underneath them.
            self._client_instance = openai.OpenAI(
                base_url=self.base_url, api_key=self._api_key or "not-needed", timeout=self._timeout_s, max_retries=0
            )
        return self._client_instance

    def prompt_text(self, request: CompletionRequest) -> str:
        """The text sent to ``/v1/completions``: raw prompts as they are. A chat prompt needs the
        model's chat template, which a remote endpoint does not expose (a subclass that knows it
        overrides this)."""
        if request.protocol == "raw":
            return request.raw_text
        raise BackendError(
            f"the {self.kind} backend scores continuations only with --protocol raw (the endpoint's chat "
            "template is not known here); use --protocol raw or --score generate"
        )

    def _params(self, request: CompletionRequest) -> tuple[str, dict[str, Any]]:
        """Which endpoint answers the request, and its parameters."""
        common: dict[str, Any] = {"model": self.model_id, "seed": request.sampling_seed}
        if request.continuation is not None:
            # echo returns the prompt's tokens with their log-probabilities; one token must be
            # generated (0 means "until the context is full" to llama.cpp) and is ignored.
            text = self.prompt_text(request) + request.continuation
            return "completions", {**common, "prompt": text, "echo": True, "logprobs": 1, "max_tokens": 1,
                                   "temperature": 0.0}  # fmt: skip
        common |= {"max_tokens": request.max_tokens, "temperature": request.temperature, "top_p": request.top_p}
        if request.stop:
            common["stop"] = list(request.stop)
        if request.protocol == "raw":
            return "completions", {**common, "prompt": request.raw_text}
        return "chat", {**common, "messages": [m.model_dump() for m in request.messages]}

    def _call(self, request: CompletionRequest) -> Completion:
        if request.soft_prompt is not None:
            raise BackendError(f"the {self.kind} backend cannot take a soft prompt; use `local`")
        if request.hidden_state or request.with_hidden:
            raise BackendError(f"the {self.kind} backend cannot return hidden states; use `local`")
        endpoint, params = self._params(request)
        create = self._client.chat.completions.create if endpoint == "chat" else self._client.completions.create
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
                    response = create(**params)
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
        prompt_tokens = usage.prompt_tokens if usage else 0
        completion_tokens = usage.completion_tokens if usage else 0
        if request.continuation is not None:
            return Completion(
                text=request.continuation,
                finish_reason="stop",
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                latency_s=latency,
                logprobs=self.continuation_logprobs(
                    request, choice, params["prompt"], usage.completion_tokens if usage else None
                ),
            )
        text = choice.message.content if endpoint == "chat" else choice.text
        return Completion(
            text=text or "",
            finish_reason=choice.finish_reason,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_s=latency,
        )

    def continuation_logprobs(
        self, request: CompletionRequest, choice: Any, sent: str, generated: int | None
    ) -> tuple[float, ...]:
        """The echoed log-probabilities of the continuation's tokens.

        Echoed offsets count characters of the *detokenized* text, in which a server may drop
        special tokens, so they cannot be matched against the prompt string. Instead the
        echo is read from its end: drop the ``generated`` completion tokens (from usage, else
        those that spell the text after the prompt), then take the trailing tokens that spell
        the continuation.
        """
        assert request.continuation is not None
        logprobs = choice.logprobs
        if logprobs is None or not getattr(logprobs, "token_logprobs", None) or not logprobs.tokens:
            raise BackendError(
                f"the {self.kind} endpoint at {self.base_url} returned no prompt log-probabilities (echo); "
                "it cannot score continuations: use --score generate"
            )
        tokens: list[str] = list(logprobs.tokens)
        if generated is None:  # no usage: the generated tokens are those spelling the text after ``sent``
            text = str(choice.text or "")
            end = _spelled_from_end(tokens, len(tokens), text[len(sent) :] if text.startswith(sent) else "")
        else:
            end = len(tokens) - generated
        start = _spelled_from_end(tokens, end, request.continuation)
        values = logprobs.token_logprobs[start:end]
        if start == end or any(v is None for v in values):
            raise BackendError(f"the continuation {request.continuation!r} has no tokens to score")
        return tuple(float(v) for v in values)

    def _safe_call(self, request: CompletionRequest) -> Completion | BackendError:
        try:
            return self._call(request)
        except BackendError as error:
            return error

    def check_echo(self, protocol: PromptProtocol) -> None:
        """Refuse to score continuations on an endpoint whose echoed log-probabilities are wrong.

        The probe scores counting (``1, 2, ..., 16``) after an instruction to count: any working
        model finds its second half nearly certain (near 0 nats per token). An endpoint that pairs
        each token with the distribution *at* it instead of before it (llama-cpp-python 0.3.36
        does this for prompts that do not start with BOS, such as raw ones) scores it around -10.
        Checked once per protocol and backend.
        """
        if protocol in self._echo_checked:
            return
        text = ECHO_PROBE if protocol == "chat" else " " + ECHO_PROBE
        probe = CompletionRequest.user(ECHO_PROBE_PROMPT, protocol=protocol, continuation=text)
        values = self._call(probe).logprobs
        tail = values[len(values) // 2 :]
        mean = sum(tail) / len(tail)
        if mean < ECHO_PROBE_FLOOR:
            raise BackendError(
                f"the {self.kind} endpoint's prompt log-probabilities fail izbench's check under --protocol {protocol} "
                f"(counting to 16 scores {mean:.1f} nats/token where a working model scores near 0: they are likely "
                "one position off, as llama-cpp-python returns them for prompts without BOS); use --protocol chat "
                "or --score generate, or another server"
            )
        self._echo_checked[protocol] = mean

    def complete(self, requests: Sequence[CompletionRequest]) -> list[Completion | BackendError]:
        refused: dict[str, BackendError] = {}
        for protocol in dict.fromkeys(r.protocol for r in requests if r.continuation is not None):
            try:
                self.check_echo(protocol)
            except BackendError as error:
                refused[protocol] = error
        if refused:
            return [
                refused[r.protocol] if r.continuation is not None and r.protocol in refused else self._safe_call(r)
                for r in requests
            ]
        if len(requests) <= 1 or self.concurrency == 1:
            return [self._safe_call(r) for r in requests]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(self._safe_call, requests))

    def close(self) -> None:
        if self._client_instance is not None:
            self._client_instance.close()
            self._client_instance = None


def _spelled_from_end(tokens: list[str], end: int, text: str) -> int:
    """The index from which ``tokens[index:end]`` spells at least ``text``'s length of characters."""
    index, spelled = end, 0
    while index > 0 and spelled < len(text):
        index -= 1
        spelled += len(tokens[index])
    return index


def _describe(error: BaseException | None) -> str:
    """One line for an OpenAI client error, with a hint for the common causes."""
    if isinstance(error, openai.APIConnectionError):
        return "cannot connect (is the server running and IZBENCH_OPENAI_BASE_URL right?)"
    if isinstance(error, openai.AuthenticationError):
        return "authentication failed (set OPENAI_API_KEY or IZBENCH_OPENAI_API_KEY)"
    if isinstance(error, openai.APIStatusError):
        return f"HTTP {error.status_code}: {str(error.message)[:200]}"
    return f"{type(error).__name__}: {str(error)[:200]}"
