"""The instruction generator on the real SmolLM2 weights (converted from the shipped GGUF)."""

from __future__ import annotations

import time

import torch

from izbench.cache import CachedClient, CallStats
from izbench.generation import InstructionGenerator, format_demos
from izbench.models.local import LocalBackend
from izbench.models.types import CompletionRequest, SoftPrompt

DEMOS = format_demos([("cat", "cats"), ("dog", "dogs"), ("house", "houses"), ("box", "boxes")])


def _soft(seed: int, hidden: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand((5, hidden), generator=gen) * 2 - 1


def test_soft_prompt_steers_the_instruction(local_client: CachedClient, local_backend: LocalBackend) -> None:
    generator = InstructionGenerator(local_client, max_new_tokens=32)
    hidden = local_backend.hidden_size
    a, b = generator.generate([(_soft(1, hidden), DEMOS), (_soft(2, hidden), DEMOS)])
    assert a and b
    assert a != b


def test_same_soft_prompt_and_seed_give_the_same_instruction(
    local_client: CachedClient, local_backend: LocalBackend
) -> None:
    generator = InstructionGenerator(local_client, max_new_tokens=24)
    soft = _soft(3, local_backend.hidden_size)
    first = generator.generate([(soft, DEMOS)], seed=7, temperature=0.9, top_p=0.9)
    # Clear the cache so the second answer is recomputed by the model, not replayed.
    local_client.cache.clear()
    second = generator.generate([(soft.clone(), DEMOS)], seed=7, temperature=0.9, top_p=0.9)
    assert first == second


def test_batched_equals_unbatched(local_backend: LocalBackend) -> None:
    hidden = local_backend.hidden_size
    requests = [
        CompletionRequest.user(
            f"\n{DEMOS}\n\nThe instruction was to?",
            max_tokens=20,
            soft_prompt=None if i == 0 else SoftPrompt.from_tensor(_soft(i, hidden)),
        )
        for i in range(6)
    ] + [
        CompletionRequest.user("Name a color.", max_tokens=12, temperature=0.8, seed=5, sample_index=k)
        for k in range(3)
    ]
    batched = local_backend.complete(requests)
    single = [local_backend.complete([r])[0] for r in requests]
    assert [c.text for c in batched] == [c.text for c in single]  # type: ignore[union-attr]


def test_a_batch_costs_far_less_than_single_calls(local_backend: LocalBackend) -> None:
    requests = [CompletionRequest.user(f"Spell the number {i}.", max_tokens=8) for i in range(16)]
    local_backend.complete(requests[:2])  # warm-up
    began = time.perf_counter()
    local_backend.complete(requests)
    batch_s = time.perf_counter() - began
    began = time.perf_counter()
    for r in requests:
        local_backend.complete([r])
    single_s = time.perf_counter() - began
    assert batch_s < 0.6 * single_s, (batch_s, single_s)


def test_soft_prompt_round_trips_exactly() -> None:
    tensor = torch.randn(5, 7)
    soft = SoftPrompt.from_tensor(tensor)
    assert torch.equal(soft.to_tensor(), tensor)
    again = SoftPrompt.model_validate_json(soft.model_dump_json())
    assert again == soft


def test_generator_counts_calls(local_backend: LocalBackend, cache) -> None:  # type: ignore[no-untyped-def]
    stats = CallStats()
    generator = InstructionGenerator(CachedClient(local_backend, cache, stats), max_new_tokens=8)
    generator.generate([(None, DEMOS)])
    generator.generate([(None, DEMOS)])
    assert (stats.made, stats.served) == (1, 1)


def test_hidden_states_are_read_without_writing_and_cached(local_backend: LocalBackend, cache) -> None:  # type: ignore[no-untyped-def]
    stats = CallStats()
    generator = InstructionGenerator(CachedClient(local_backend, cache, stats))
    hidden = local_backend.hidden_size
    a, b = _soft(11, hidden), _soft(12, hidden)
    together = generator.hidden_states([(a, DEMOS), (b, DEMOS)])
    assert [len(h) for h in together] == [hidden, hidden] and together[0] != together[1]
    assert stats.completion_tokens == 0 and stats.made == 2
    cache.clear()
    # Computed alone, in another batch, the value is the same to the bit.
    assert generator.hidden_states([(b, DEMOS)]) == [together[1]]
    # b is served from the cache now; a, cleared, is computed again, alone: both equal to the bit.
    again = generator.hidden_states([(a, DEMOS), (b, DEMOS)])
    assert again == together and (stats.made, stats.served) == (4, 1)
    # A hidden-state request is not the generation request for the same prompt: that one is
    # made, not served from the hidden state's entry.
    generator.generate([(a, DEMOS)])
    assert (stats.made, stats.served) == (5, 1)
