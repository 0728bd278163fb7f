"""The ``llamacpp`` backend: a real llama_cpp.server on 127.0.0.1 behind the openai client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from izbench.errors import BackendError
from izbench.models.llamacpp import LlamaCppBackend
from izbench.models.local import LocalBackend
from izbench.models.openai_backend import OpenAIBackend
from izbench.models.types import CompletionRequest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("llamacpp")]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone for our purpose once reaped or defunct.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_server_answers_through_the_openai_client_and_stops() -> None:
    backend = LlamaCppBackend()
    assert backend.server.pid is None  # building the backend starts nothing; its first call does
    backend.start()
    pid = backend.server.pid
    assert pid is not None
    try:
        requests = [CompletionRequest.user(f"What is {i} plus {i}?", max_tokens=12) for i in range(3)]
        answers = backend.complete(requests)
        assert all(not isinstance(a, BackendError) for a in answers)
        assert all(a.completion_tokens > 0 and a.text for a in answers)  # type: ignore[union-attr]
        # Greedy decoding through HTTP is deterministic.
        assert backend.complete(requests[:1])[0].text == answers[0].text  # type: ignore[union-attr]
        # A plain OpenAIBackend on the same URL is the same API (what users do with vLLM etc.).
        plain = OpenAIBackend(backend.server.base_url, backend.model_id)
        assert plain.complete(requests[:1])[0].text == answers[0].text  # type: ignore[union-attr]
        assert backend.revision.startswith("gguf-sha256:")
    finally:
        backend.close()
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


def test_killed_parent_leaves_no_orphan_server() -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from izbench.models.llamacpp import LlamaCppBackend
        backend = LlamaCppBackend()
        backend.start()
        print(backend.server.pid, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    server_pid = int(parent.stdout.readline())
    assert _alive(server_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 15
    while _alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(server_pid)


def test_scored_continuations_match_the_local_backend(real_backend: LocalBackend) -> None:
    """The server's echoed log-probabilities against transformers' on the same text and weights:
    equal within quantisation error under chat; under raw, llama-cpp-python misaligns them, and
    the backend's probe refuses with one line instead of returning wrong numbers."""
    prompt = "Instruction: Write a word that means the opposite of the input word.\n\nInput: {x}\nOutput:"
    pairs = [("hot", "cold"), ("tall", "short"), ("early", "late"), ("happy", "sad")]
    chat = [CompletionRequest.user(prompt.format(x=x), continuation=y) for x, y in pairs]
    backend = LlamaCppBackend()
    try:
        served = backend.complete(chat)
        local = real_backend.complete(chat)
        for s, loc in zip(served, local, strict=True):
            assert not isinstance(s, BackendError) and not isinstance(loc, BackendError)
            assert len(s.logprobs) == len(loc.logprobs)
            assert s.logprobs == pytest.approx(loc.logprobs, abs=0.15)
        raw = CompletionRequest.user(prompt.format(x="hot"), protocol="raw", continuation=" cold")
        (refused,) = backend.complete([raw])
        assert isinstance(refused, BackendError) and "one position off" in str(refused)
    finally:
        backend.close()
