"""The ``openai`` backend over real HTTP: a tiny local server that pushes back, then answers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from izbench.budget import Budget, BudgetExhausted, Prices
from izbench.cache import CachedClient, CallStats, ResponseCache
from izbench.errors import BackendError
from izbench.models.llamacpp import free_port
from izbench.models.openai_backend import OpenAIBackend
from izbench.models.ratelimit import RateLimiter
from izbench.models.types import CompletionRequest


class FlakyServer(ThreadingHTTPServer):
    """Answers the first ``failures`` chat requests with ``status``, then a real completion."""

    def __init__(self, failures: int, status: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.failures = failures
        self.status = status
        self.seen: list[dict[str, object]] = []
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: FlakyServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.seen.append(body)
            fail = len(self.server.seen) <= self.server.failures
        if fail:
            payload = json.dumps({"error": {"message": "slow down", "type": "rate_limit"}}).encode()
            self.send_response(self.server.status)
            self.send_header("Retry-After", "0")
        else:
            payload = json.dumps(
                {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {
                                "role": "assistant",
                                "content": "echo: " + body["messages"][-1]["content"],
                            },
                        }
                    ],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
                }
            ).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _serve(failures: int, status: int) -> Iterator[FlakyServer]:
    server = FlakyServer(failures, status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def rate_limited() -> Iterator[FlakyServer]:
    yield from _serve(failures=2, status=429)


@pytest.fixture
def broken() -> Iterator[FlakyServer]:
    yield from _serve(failures=100, status=503)


def _backend(url: str, attempts: int = 4) -> OpenAIBackend:
    return OpenAIBackend(url, "test-model", max_attempts=attempts, backoff_base_s=0.01, backoff_max_s=0.05)


def test_429_is_retried_until_it_succeeds(rate_limited: FlakyServer) -> None:
    backend = _backend(rate_limited.base_url)
    (answer,) = backend.complete([CompletionRequest.user("hi", max_tokens=5, seed=3)])
    assert not isinstance(answer, BackendError)
    assert answer.text == "echo: hi"
    assert (answer.prompt_tokens, answer.completion_tokens) == (3, 2)
    assert backend.attempts == 3 and len(rate_limited.seen) == 3
    sent = rate_limited.seen[-1]
    assert sent["max_tokens"] == 5 and sent["temperature"] == 0.0 and "seed" in sent


def test_persistent_5xx_fails_only_after_all_attempts(broken: FlakyServer) -> None:
    backend = _backend(broken.base_url, attempts=3)
    (answer,) = backend.complete([CompletionRequest.user("hi")])
    assert isinstance(answer, BackendError)
    assert "after 3 attempts" in str(answer) and "HTTP 503" in str(answer)
    assert len(broken.seen) == 3


def test_concurrent_batch_keeps_order(rate_limited: FlakyServer) -> None:
    backend = OpenAIBackend(rate_limited.base_url, "m", concurrency=4, backoff_base_s=0.01, backoff_max_s=0.05)
    answers = backend.complete([CompletionRequest.user(f"q{i}") for i in range(8)])
    assert [a.text for a in answers] == [f"echo: q{i}" for i in range(8)]  # type: ignore[union-attr]


def test_server_down_is_one_clear_line() -> None:
    backend = _backend(f"http://127.0.0.1:{free_port()}/v1", attempts=2)
    (answer,) = backend.complete([CompletionRequest.user("hi")])
    assert isinstance(answer, BackendError)
    assert "cannot connect" in str(answer) and "\n" not in str(answer)


def test_soft_prompts_are_refused() -> None:
    import torch

    from izbench.models.types import SoftPrompt

    backend = _backend("http://127.0.0.1:9/v1")
    request = CompletionRequest.user("hi", soft_prompt=SoftPrompt.from_tensor(torch.zeros(1, 4)))
    (answer,) = backend.complete([request])
    assert isinstance(answer, BackendError) and "soft prompt" in str(answer)


@pytest.fixture
def healthy() -> Iterator[FlakyServer]:
    yield from _serve(failures=0, status=200)


def test_requests_per_window_are_limited(healthy: FlakyServer) -> None:
    backend = OpenAIBackend(healthy.base_url, "m", concurrency=4, rpm=3, rate_window_s=1)
    began = time.monotonic()
    answers = backend.complete([CompletionRequest.user(f"q{i}") for i in range(7)])
    elapsed = time.monotonic() - began
    assert all(not isinstance(a, BackendError) for a in answers)
    # 3 go at once, 3 more a window later, the 7th a window after that.
    assert 1.9 <= elapsed < 5, elapsed
    assert backend.limiter.waited_s > 1.9


def test_tokens_per_window_are_limited() -> None:
    limiter = RateLimiter(tpm=100, window_s=1)
    began = time.monotonic()
    limiter.acquire(60)
    limiter.acquire(60)  # 120 > 100: waits for the first to leave the window
    assert 0.9 <= time.monotonic() - began < 3


def test_max_calls_stops_before_exceeding_and_resumes(healthy: FlakyServer, tmp_path: Path) -> None:
    requests = [CompletionRequest.user(f"q{i}") for i in range(5)]
    backend = OpenAIBackend(healthy.base_url, "m", concurrency=1)
    cache = ResponseCache(tmp_path / "c")
    stats = CallStats()
    with pytest.raises(BudgetExhausted, match="3 of --max-calls 3"):
        CachedClient(backend, cache, stats, Budget(max_calls=3)).complete(requests)
    assert len(healthy.seen) == 3 and len(cache) == 3 and stats.made == 3
    # A rerun with a larger budget pays only for the two calls it lacks.
    again = CallStats()
    answers = CachedClient(backend, cache, again, Budget(max_calls=2)).complete(requests)
    assert [a.text for a in answers] == [f"echo: q{i}" for i in range(5)]
    assert (again.served, again.made) == (3, 2) and len(healthy.seen) == 5
    cache.close()


def test_max_cost_never_exceeded(healthy: FlakyServer, tmp_path: Path) -> None:
    prices = {"openai": Prices(prompt_per_mtok=1e6, completion_per_mtok=1e6)}  # $1 per token
    request = CompletionRequest.user("x" * 30, max_tokens=5)  # estimated 11 + 5 = $16; really 3 + 2 = $5
    budget = Budget(max_cost=30.0, prices=prices)
    cache = ResponseCache(tmp_path / "c")
    stats, cell = CallStats(), CallStats()
    tally = CallStats(parent=cell)
    client = CachedClient(OpenAIBackend(healthy.base_url, "m", concurrency=1), cache, stats, budget, tally)
    client.complete([request])
    assert budget.cost == pytest.approx(5.0)  # the reservation was settled at the reported usage
    # What one cell is charged is its own calls' cost, whatever other cells spend meanwhile.
    assert stats.cost == tally.cost == cell.cost == pytest.approx(5.0) and cell.made == 1
    more = [CompletionRequest.user("y" * 30, max_tokens=5, seed=i) for i in range(3)]
    with pytest.raises(BudgetExhausted):
        client.complete(more)  # 5 + 16 fits, a second 16 would not
    assert len(healthy.seen) == 2 and budget.cost <= 30.0
    cache.close()


def test_cache_keys_hold_the_endpoint_unless_a_revision_pins_the_model() -> None:
    from izbench.cache import cache_key

    request = CompletionRequest.user("hi")
    a = OpenAIBackend("http://127.0.0.1:1/v1", "same-name")
    b = OpenAIBackend("http://127.0.0.1:2/v1", "same-name")
    assert cache_key(a, request) != cache_key(b, request)
    pinned_a = OpenAIBackend("http://127.0.0.1:1/v1", "same-name", revision="snapshot-1")
    pinned_b = OpenAIBackend("http://127.0.0.1:2/v1/", "same-name", revision="snapshot-1")
    assert cache_key(pinned_a, request) == cache_key(pinned_b, request)
    for backend in (a, b, pinned_a, pinned_b):
        backend.close()


def test_cost_is_kept_for_failures_and_answers_without_usage() -> None:
    from izbench.models.types import Completion

    prices = {"openai": Prices(1_000_000.0, 1_000_000.0)}  # $1 per token
    budget = Budget(max_cost=1000.0, prices=prices)
    request = CompletionRequest.user("x" * 30, max_tokens=10)
    estimate = prices["openai"].estimate(request)
    assert budget.reserve("openai", [request, request, request]) == 3
    # Each call is counted as costing what stays reserved for it.
    assert budget.settle("openai", request, None) == estimate  # failed: the endpoint may have billed it
    silent = Completion(text="a", finish_reason="stop", prompt_tokens=0, completion_tokens=0, latency_s=0.1)
    assert budget.settle("openai", request, silent) == estimate  # no usage reported: keep the estimate
    known = Completion(text="a", finish_reason="stop", prompt_tokens=5, completion_tokens=1, latency_s=0.1)
    assert budget.settle("openai", request, known) == pytest.approx(6.0)
    assert budget.calls == 3
    assert budget.cost == pytest.approx(2 * estimate + 6.0)
