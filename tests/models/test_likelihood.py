"""Continuation scoring on the local backend: values equal a plain forward pass, batched or not
(tiny model), and on SmolLM2 they carry what the model knows."""

from __future__ import annotations

import pytest
import torch

from izbench.errors import BackendError
from izbench.models.local import LocalBackend
from izbench.models.types import CompletionRequest
from izbench.models.weights import LoadedModel

PROMPT = "Instruction: Write a word that means the opposite of the input word.\n\nInput: hot\nOutput:"


def _direct(loaded: LoadedModel, prompt_ids: list[int], tail: list[int]) -> list[float]:
    """log p(tail | prompt) from one unbatched, unpadded forward pass: the reference values."""
    ids = torch.tensor([prompt_ids + tail])
    with torch.inference_mode():
        logits = loaded.model(input_ids=ids).logits[0].float()
    logp = torch.log_softmax(logits, dim=-1)
    start = len(prompt_ids)
    return [float(logp[start - 1 + j, t]) for j, t in enumerate(tail)]


@pytest.mark.parametrize("protocol", ["chat", "raw"])
def test_scores_equal_a_plain_forward_pass(loaded_model: LoadedModel, protocol: str) -> None:
    backend = LocalBackend(loaded_model, batch_size=4)
    space = " " if protocol == "raw" else ""  # a chat answer starts the assistant turn: no space
    continuations = [f"{space}cold", f"{space}warm", f"{space}freezing cold", " cold"]
    requests = [
        CompletionRequest.user(PROMPT, protocol=protocol, continuation=c, max_tokens=1)  # type: ignore[arg-type]
        for c in continuations
    ]
    answers = backend.complete(requests)
    for request, answer in zip(requests, answers, strict=True):
        assert not isinstance(answer, BackendError)
        head, tail = backend.scored_ids(request)
        assert len(answer.logprobs) == len(tail) > 0
        assert answer.logprobs == pytest.approx(_direct(loaded_model, head, tail), abs=2e-4)


def test_the_antonym_is_likelier_as_plain_text(real_model: LoadedModel) -> None:
    """As plain text, the antonym is likelier than a non-antonym after this instruction (inside
    the chat template this 135M model prefers "warm": a reason the signal check exists)."""
    backend = LocalBackend(real_model, batch_size=4)
    cold, warm = backend.complete(
        [CompletionRequest.user(PROMPT, protocol="raw", continuation=c, max_tokens=1) for c in (" cold", " warm")]
    )
    assert cold.mean_logprob > warm.mean_logprob  # type: ignore[union-attr]


def test_raw_prompt_has_no_chat_template(loaded_model: LoadedModel) -> None:
    backend = LocalBackend(loaded_model)
    raw = CompletionRequest.user(PROMPT, protocol="raw", continuation=" cold")
    chat = CompletionRequest.user(PROMPT, protocol="chat", continuation=" cold")
    assert backend.prompt_text(raw) == PROMPT
    assert backend.prompt_text(chat).startswith("<|im_start|>") and PROMPT in backend.prompt_text(chat)


def test_shared_prefixes_and_batch_size_change_no_score(loaded_model: LoadedModel) -> None:
    """Many instructions x examples x answers: batch composition and prefix sharing do not matter."""
    instructions = ["Write the opposite of the word.", "Add the two numbers.", "Spell the word."]
    requests = [
        CompletionRequest.user(f"Instruction: {i}\n\nInput: {x}\nOutput:", protocol="raw", continuation=c)
        for i in instructions
        for x in ("hot", "tall", "early")
        for c in (" cold", " short", " late")
    ]
    shared = LocalBackend(loaded_model, batch_size=32).complete(requests)
    small = LocalBackend(loaded_model, batch_size=5).complete(requests)
    plain = LocalBackend(loaded_model, batch_size=7, share_prefixes=False).complete(requests)
    for a, b, c in zip(shared, small, plain, strict=True):
        assert a.logprobs == pytest.approx(b.logprobs, abs=2e-4)  # type: ignore[union-attr]
        assert a.logprobs == pytest.approx(c.logprobs, abs=2e-4)  # type: ignore[union-attr]


def test_empty_continuation_is_one_clear_error(loaded_model: LoadedModel) -> None:
    backend = LocalBackend(loaded_model)
    (answer,) = backend.complete([CompletionRequest.user(PROMPT, protocol="raw", continuation="")])
    assert isinstance(answer, BackendError)
    assert "no tokens to score" in str(answer)
