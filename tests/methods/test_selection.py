"""Successive halving: the schedule, and the same winner as full validation for fewer calls."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from izbench.methods.base import Tracker
from izbench.methods.selection import halving_prefixes, successive_halving
from izbench.profiles import MethodSettings
from izbench.runtime import Runtime
from izbench.scoring import MAX_ANSWERS
from izbench.settings import Settings
from izbench.tasks.registry import TaskRegistry
from izbench.tasks.splits import make_split

TASK = "core/antonyms"
POOL = [
    "Add the two numbers.",
    "Write the plural form of the noun.",
    "Write the first letter of the word.",
    "Write a word that means the opposite of the input word.",
    "Rewrite the sentence in the passive voice.",
    "Write the number in words.",
    "Spell the word with a space between each letter.",
    "Subtract the second number from the first number.",
]
"""The antonyms reference among seven other core tasks' references: a pool whose best is clear."""


@pytest.mark.parametrize(
    ("pool", "n", "prefixes"),
    [(8, 10, [2, 3, 5, 10]), (1, 10, [10]), (2, 10, [5, 10]), (3, 4, [1, 2, 4]), (16, 4, [1, 1, 1, 2, 4])],
)
def test_each_round_doubles_the_prefix_and_the_last_uses_every_example(pool: int, n: int, prefixes: list[int]) -> None:
    assert halving_prefixes(pool, n) == prefixes


def _tracker(runtime: Runtime, select: str) -> Tracker:
    registry = TaskRegistry()
    spec = registry.get(TASK)
    data = registry.load(spec.key)
    split = make_split(spec.key, data, 0, n_validation=16, n_test=4)
    params = MethodSettings(select=select)  # type: ignore[arg-type]
    context = runtime.method_context(spec.key, spec.metric, data, split, 0, params, registry.references(spec))
    return Tracker(context)


def _full_and_halved(settings: Settings) -> tuple[Tracker, Tracker, Tracker, int]:
    """The pool under full validation, under halving, and under halving again in another order
    (with the calls made before that last one)."""
    with Runtime(settings) as runtime:
        full = _tracker(runtime, "full")
        full.add(POOL)
        halved = _tracker(runtime, "halving")
        successive_halving(halved, POOL)
        made_before_replay = runtime.stats.made
        again = _tracker(runtime, "halving")
        successive_halving(again, random.Random(0).sample(POOL, len(POOL)))
        return full, halved, again, runtime.stats.made - made_before_replay


def test_halving_spends_fewer_calls_and_records_what_each_candidate_saw(tiny_settings: Settings) -> None:
    full, halved, again, made_again = _full_and_halved(tiny_settings)
    assert made_again == 0  # every request was already cached
    survivor = halved.result.best
    assert survivor.examples == 16 and survivor.val_score == next(
        c.val_score for c in full.result.candidates if c.instruction == survivor.instruction
    )  # the survivor saw every example, in the same requests as full validation
    assert sorted(c.instruction for c in halved.result.candidates) == sorted(POOL)
    dropped = [c for c in halved.result.candidates if c.examples < 16]
    assert len(dropped) == 7 and all(c.note and c.note.startswith("halving: dropped") for c in dropped)
    spent_full = full.context.blackbox_calls.requests
    spent_halved = halved.context.blackbox_calls.requests
    # Likelihood scores each acceptable answer (up to MAX_ANSWERS) of an example: one call each.
    cost = [min(len(e.answers), MAX_ANSWERS) for e in full.context.split.validation]
    assert spent_full == 8 * sum(cost)
    # 8 candidates on examples [0, 2), 4 on [2, 4), 2 on [4, 8), the winner on [8, 16).
    assert spent_halved == 8 * sum(cost[:2]) + 4 * sum(cost[2:4]) + 2 * sum(cost[4:8]) + sum(cost[8:])
    assert spent_halved < spent_full / 2
    assert halved.result.candidates[-1].calls == spent_halved
    # The candidates' calls grow with their order of recording, under both selections.
    for tracker in (full, halved):
        calls = [c.calls for c in tracker.result.candidates]
        assert calls == sorted(calls) and calls[-1] == tracker.context.blackbox_calls.requests


def test_halving_finds_the_full_validation_winner(real_model: object, tmp_path: Path) -> None:
    """On SmolLM2, where the pool's best is clear, halving keeps it whatever the pool's order."""
    full, halved, again, _ = _full_and_halved(Settings(cache_dir=tmp_path / "cache"))
    winner = full.result.best
    assert winner.instruction == POOL[3]
    runner_up = max(c.val_score for c in full.result.candidates if c is not winner)
    assert winner.val_score > runner_up
    assert halved.result.best.instruction == winner.instruction
    assert halved.result.best.val_score == winner.val_score
    assert again.result.best.instruction == winner.instruction
