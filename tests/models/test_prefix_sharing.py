"""Prefix sharing, early stopping, batch shrinking and decode batch sizes in the local backend
change speed only."""

from __future__ import annotations

import pytest

import izbench.models.local as local_module
from izbench.answer import answer_complete, first_sentence
from izbench.models.local import LocalBackend, even_pieces, shared_prefix_batches
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


def test_batches_group_prompts_by_instruction() -> None:
    header = [1, 2, 3]
    a, b = list(range(100, 120)), list(range(200, 220))  # two 20-token instructions
    ids = {0: header + a + [50], 1: header + b + [50], 2: header + a + [60], 3: header + b + [60], 4: header + a + [70]}
    assert shared_prefix_batches(ids, 8) == [[[0, 2, 4], [1, 3]]]  # one batch, two prefix groups
    assert shared_prefix_batches(ids, 2) == [[[0, 2]], [[4]], [[1, 3]]]
    assert shared_prefix_batches(ids, 3) == [[[0, 2, 4]], [[1, 3]]]
    # Prompts whose shared tokens beyond the header spare too little form one pooled group.
    short = {0: header + [9, 1], 1: header + [8, 2], 2: header + [9, 3], 3: header + [7]}
    assert shared_prefix_batches(short, 8) == [[[3, 1, 0, 2]]]
    assert shared_prefix_batches(short, 2) == [[[3, 1]], [[0, 2]]]
    # A short instruction (4 tokens) shared by 9 prompts spares 32 tokens: a group of its own.
    many = {i: header + [9, 9, 9, 9, i] for i in range(9)} | {9: header + [8, 1], 10: header + [7, 2]}
    assert shared_prefix_batches(many, 16) == [[list(range(9)), [10, 9]]]


def test_instructions_that_open_alike_keep_prefixes_of_their_own() -> None:
    """Two instructions opening with the same words, a third opening otherwise: three groups,
    each with its whole instruction as its prefix (cutting only where neighbours shared no
    more than every prompt did merged the first two into one group with a 6-token prefix)."""
    header, opening = [1, 2, 3], [5, 5, 5]
    a, b, c = list(range(100, 120)), list(range(200, 220)), list(range(300, 320))
    ids = {k: header + opening + (a if k % 2 == 0 else b) + [50 + k] for k in range(8)}
    ids |= {8 + k: header + c + [60 + k] for k in range(3)}
    assert shared_prefix_batches(ids, 32) == [[[0, 2, 4, 6], [1, 3, 5, 7], [8, 9, 10]]]
    # Packed as evenly as whole groups allow: 11 rows at 8 per batch go 8 + 3.
    assert shared_prefix_batches(ids, 8) == [[[0, 2, 4, 6], [1, 3, 5, 7]], [[8, 9, 10]]]
    # Four groups of 5 at 16 rows per batch: 10 + 10, not 15 + 5.
    four = {g * 10 + k: [1, g * 7 + 30] + list(range(g * 40, g * 40 + 12)) + [k] for g in range(4) for k in range(5)}
    assert [sum(map(len, batch)) for batch in shared_prefix_batches(four, 16)] == [10, 10]


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


def test_even_pieces_are_the_fewest_and_as_even_as_can_be() -> None:
    assert [len(p) for p in even_pieces(list(range(40)), 32)] == [20, 20]
    assert [len(p) for p in even_pieces(list(range(179)), 96)] == [90, 89]
    assert even_pieces(list(range(5)), 8) == [[0, 1, 2, 3, 4]]
    assert even_pieces([], 8) == []


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
