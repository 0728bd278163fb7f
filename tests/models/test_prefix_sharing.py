"""Prefix sharing, early stopping, batch shrinking and decode batch sizes in the local backend
change speed only."""

from __future__ import annotations

import pytest

import izbench.models.local as local_module
from izbench.answer import answer_complete, first_sentence
from izbench.models.decoding import PrefixMemo
from izbench.models.local import LocalBackend
from izbench.models.types import CompletionRequest
from izbench.models.weights import LoadedModel

INSTRUCTIONS = ["Add the two numbers.", "Write the first letter of the word, then explain why at length"]
INPUTS = ["3 4", "cat", "17 25", "house", "9 9"]


def _requests(**params: object) -> list[CompletionRequest]:
    return [
        CompletionRequest.user(f"Instruction: {i}\n\nInput: {x}\nOutput:", **params)  # type: ignore[arg-type]
        for i in INSTRUCTIONS
        for x in INPUTS
    ]


def test_shared_prefix_gives_the_same_outputs(loaded_model: LoadedModel) -> None:
    shared = LocalBackend(loaded_model, batch_size=16, share_prefixes=True)  # both instructions in one batch
    plain = LocalBackend(loaded_model, batch_size=8, share_prefixes=False)
    requests = _requests(max_tokens=24)
    a = shared.complete(requests)
    b = plain.complete(requests)
    assert [c.text for c in a] == [c.text for c in b]  # type: ignore[union-attr]
    assert [c.prompt_tokens for c in a] == [c.prompt_tokens for c in b]  # type: ignore[union-attr]


def test_answer_stop_rule_keeps_what_the_metric_reads(local_backend: LocalBackend) -> None:
    full = local_backend.complete(_requests(max_tokens=30))
    stopped = local_backend.complete(_requests(max_tokens=30, stop_rule="answer"))
    fewer = 0
    for f, s in zip(full, stopped, strict=True):
        assert first_sentence(s.text) == first_sentence(f.text)  # type: ignore[union-attr]
        assert f.text.startswith(s.text)  # type: ignore[union-attr]
        if s.finish_reason == "stop" and answer_complete(s.text):  # type: ignore[union-attr]
            fewer += s.completion_tokens < f.completion_tokens  # type: ignore[union-attr]
    assert fewer > 0  # the rule did cut generations short on real outputs


def test_decoding_takes_its_own_batch_size_and_gives_the_same_texts(
    loaded_model: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows: list[int] = []
    decode = local_module.decode

    def counted(model: object, tokenizer: object, prompts: list[object], *args: object, **kwargs: object) -> object:
        rows.append(len(prompts))
        return decode(model, tokenizer, prompts, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(local_module, "decode", counted)
    requests = _requests(max_tokens=12)
    wide = LocalBackend(loaded_model, batch_size=2, decode_batch_size=10).complete(requests)
    assert rows == [10]  # one batch of both instructions' prompts, not five of 2
    rows.clear()
    narrow = LocalBackend(loaded_model, batch_size=3).complete(requests)
    assert len(rows) > 1 and max(rows) <= 3
    assert [c.text for c in wide] == [c.text for c in narrow]  # type: ignore[union-attr]


def test_a_token_budget_bounds_each_batch_and_changes_no_answer(
    loaded_model: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows x (longest prompt + tokens to write) stays within ``batch_tokens``: long prompts go
    in fewer rows, with the same texts and the same scores."""
    backend = LocalBackend(loaded_model, batch_size=16, decode_batch_size=16)
    generate = _requests(max_tokens=12)
    longest = max(len(backend.token_ids(r)) for r in generate) + 12
    scoring = _requests(continuation=" 7", max_tokens=1)
    free_text = [c.text for c in backend.complete(generate)]  # type: ignore[union-attr]
    free_scores = [c.logprobs for c in backend.complete(scoring)]  # type: ignore[union-attr]
    decoded: list[int] = []
    scored: list[int] = []
    decode, logprobs = local_module.decode, local_module.continuation_logprobs

    def counted_decode(model: object, tokenizer: object, prompts: list[object], *args: object, **kw: object) -> object:
        decoded.append(len(prompts))
        return decode(model, tokenizer, prompts, *args, **kw)  # type: ignore[arg-type]

    def counted_scores(model: object, prompts: list[object], *args: object, **kw: object) -> object:
        scored.append(len(prompts))
        return logprobs(model, prompts, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(local_module, "decode", counted_decode)
    monkeypatch.setattr(local_module, "continuation_logprobs", counted_scores)
    bounded = LocalBackend(loaded_model, batch_size=16, decode_batch_size=16, batch_tokens=3 * longest)
    assert [c.text for c in bounded.complete(generate)] == free_text  # type: ignore[union-attr]
    assert len(decoded) >= len(generate) // 3 and max(decoded) <= 3
    for a, b in zip(bounded.complete(scoring), free_scores, strict=True):
        assert a.logprobs == pytest.approx(b, abs=2e-4)  # type: ignore[union-attr]
    longest_scored = max(sum(map(len, backend.scored_ids(r))) for r in scoring)
    assert max(scored) <= 3 * longest // longest_scored < len(scoring)


def _scoring(instruction: str, inputs: list[str]) -> list[CompletionRequest]:
    return [
        CompletionRequest.user(
            f"Instruction: {instruction}\n\nInput: {x}\nOutput:",
            max_tokens=1,
            protocol="raw",
            continuation=f" {x[::-1]}",
        )
        for x in inputs
    ]


def _logprobs(backend: LocalBackend, calls: list[list[CompletionRequest]]) -> list[tuple[float, ...]]:
    return [c.logprobs for requests in calls for c in backend.complete(requests)]  # type: ignore[union-attr]


@pytest.mark.parametrize("which", ["tiny", "smollm2"])
def test_a_prefix_scored_again_is_read_back_with_the_same_scores(which: str, request: pytest.FixtureRequest) -> None:
    """An instruction scored on its validation examples, then on its test examples in several
    batches (as a pool build does): its prefix pass is computed once, and every score is the
    same to the bit as when each batch computes it again."""
    loaded = request.getfixturevalue("loaded_model" if which == "tiny" else "real_model")
    # Inputs with distinct first words: rows sharing one would share a longer prefix in their batch.
    inputs = [
        "cat",
        "house",
        "river",
        "green",
        "blue",
        "stone",
        "apple",
        "tree",
        "moon",
        "car",
        "fish",
        "door",
        "bird",
        "milk",
        "rain",
        "snow",
    ]
    calls = [
        _scoring(INSTRUCTIONS[1], inputs[:5]),
        _scoring(INSTRUCTIONS[1], inputs[5:]),
        _scoring(INSTRUCTIONS[0], inputs),
    ]
    reused = LocalBackend(loaded, batch_size=4)
    again = LocalBackend(loaded, batch_size=4)
    again.prefix_memo = PrefixMemo(capacity=0)
    assert _logprobs(reused, calls) == _logprobs(again, calls)
    # batches of 4 rows: 2 + 3 for the first instruction, 4 for the second; each prefix computed once
    assert (reused.prefix_memo.hits, again.prefix_memo.hits) == (4 + 3, 0)
