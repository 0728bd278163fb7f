"""The ``openai`` backend over real HTTP: a tiny local server that pushes back, then answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from izbench.errors import BackendError
from izbench.models.llamacpp import free_port
from izbench.models.openai_backend import OpenAIBackend
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
