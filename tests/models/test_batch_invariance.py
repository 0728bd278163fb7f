"""What the local backend answers does not depend on which other requests share its batch (which
requests missed the cache) or on the number of threads (Ray workers run with fewer)."""

from __future__ import annotations

import pytest
import torch

from izbench.models.local import LocalBackend
from izbench.models.types import Completion, CompletionRequest
from izbench.models.weights import LoadedModel

pytestmark = pytest.mark.slow

INSTRUCTIONS = ["Add the two numbers.", "Write the larger of the two animals.", "Spell the word."]
INPUTS = ["12 30", "lion, mouse", "house", "7 8", "cat, horse", "green"]


def _requests(**params: object) -> list[CompletionRequest]:
    return [
        CompletionRequest.user(f"Instruction: {i}\n\nInput: {x}\nOutput:", protocol="raw", **params)  # type: ignore[arg-type]
        for i in INSTRUCTIONS
        for x in INPUTS
    ]


def _answers(backend: LocalBackend, requests: list[CompletionRequest]) -> list[Completion]:
    out = backend.complete(requests)
    assert all(isinstance(a, Completion) for a in out)
    return out  # type: ignore[return-value]


@pytest.mark.parametrize("kind", ["generate", "likelihood"])
def test_cache_misses_and_threads_change_no_answer(real_model: LoadedModel, kind: str) -> None:
    requests = _requests(max_tokens=8, stop_rule="answer") if kind == "generate" else _requests(continuation=" 42")
    backend = LocalBackend(real_model, batch_size=32)
    full = _answers(backend, requests)
    # The requests a partly warm cache would leave: every third one, alone in its batch.
    missed = _answers(backend, requests[::3])
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = _answers(LocalBackend(real_model, batch_size=8), requests)
    finally:
        torch.set_num_threads(threads)
    assert [a.text for a in missed] == [a.text for a in full[::3]]
    assert [a.text for a in single] == [a.text for a in full]
    if kind == "likelihood":
        drift = max(
            abs(x - y) for a, b in zip(single, full, strict=True) for x, y in zip(a.logprobs, b.logprobs, strict=True)
        )
        drift = max(drift, *(abs(a.logprobs[0] - b.logprobs[0]) for a, b in zip(missed, full[::3], strict=True)))
        assert drift < 1e-4, drift
