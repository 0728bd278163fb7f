"""GEPA's parts as upstream's (gepa-ai/gepa b265bf9), and its budget counting every minibatch."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from izbench.methods.gepa import PROPOSAL_TEMPLATE, EpochSampler, Front, extract, feedback, render
from izbench.profiles import PROFILES
from izbench.runner import run_cell
from izbench.runtime import Runtime
from izbench.settings import Settings
from izbench.tasks.registry import TaskRegistry
from izbench.tasks.types import Example


def test_the_new_instruction_is_read_between_the_outer_fences() -> None:
    assert extract("Sure.\n```\nSay the plural.\n```\nDone.") == "Say the plural."
    assert extract("```text\nSay the plural.\n```") == "Say the plural."
    assert extract("```\nSay the plural.") == "Say the plural."  # an unclosed block
    assert extract("Say the plural.```") == "Say the plural."
    assert extract("  Say the plural.  ") == "Say the plural."
    # Between the first and the last fence, inner fences kept (upstream's find / rfind).
    assert extract("```\na\n```\nb\n```\nc\n```") == "a\n```\nb\n```\nc"


def test_the_reflection_prompt_is_upstreams_markdown() -> None:
    example = Example(input="cat", answers=("cats",))
    records = [{"Inputs": "cat", "Generated Outputs": "dog", "Feedback": feedback(example, False)}]
    text = render(records)
    assert text.startswith("# Example 1\n## Inputs\ncat\n\n## Generated Outputs\ndog\n\n## Feedback\n")
    assert "The correct answer is 'cats'. Ensure that the correct answer is included" in text
    assert feedback(example, True).startswith("The generated response is correct.")
    prompt = PROPOSAL_TEMPLATE.replace("<curr_param>", "Pluralise.").replace("<side_info>", text)
    assert prompt.startswith(
        "I provided an assistant with the following instructions to perform a task for me:\n```\nPluralise.\n```"
    )
    assert prompt.endswith("Provide the new instructions within ``` blocks.")


def test_the_front_draws_only_undominated_programs_by_how_many_examples_they_lead() -> None:
    front = Front((0.0, 0.0, 0.0))  # program 0, the seed
    front.add(1, (1.0, 0.0, 0.0))  # leads example 0, ties the seed on 1 and 2
    front.add(2, (0.0, 1.0, 1.0))  # leads examples 1 and 2
    # The seed is on no front any more; 1 and 2 each lead somewhere.
    assert front.programs == [{1}, {2}, {2}]
    draws = Counter(front.select([0.0, 1 / 3, 2 / 3], random.Random(k)) for k in range(3000))
    assert set(draws) == {1, 2} and 0.28 < draws[1] / 3000 < 0.39  # weights 1 : 2
    # A program all of whose fronts another shares is dominated (the lower mean goes first).
    tied = Front((1.0, 1.0))
    tied.add(1, (1.0, 1.0))
    assert {tied.select([0.5, 1.0], random.Random(k)) for k in range(50)} == {1}


def test_the_sampler_covers_every_demo_each_epoch_padding_with_the_least_used() -> None:
    sampler = EpochSampler(7, 3, random.Random(0))
    first = [sampler.batch(i) for i in range(3)]  # 9 slots: 7 ids and 2 pads
    assert sorted({j for b in first for j in b}) == list(range(7))
    assert all(len(b) == 3 for b in first) and len([j for b in first for j in b]) == 9
    second = [sampler.batch(i) for i in range(3, 6)]
    assert sorted({j for b in second for j in b}) == list(range(7)) and second != first
    again = EpochSampler(7, 3, random.Random(0))
    assert [again.batch(i) for i in range(6)] == first + second


def test_every_minibatch_counts_in_example_evaluations(tmp_path: Path, tiny_settings: Settings) -> None:
    """Under ``--score generate`` with a local writer every black-box call is one (instruction,
    example) evaluation: the run spends its budget in them, minibatches and rejected children
    included, and stops within one iteration past it."""
    profile = PROFILES["smoke"].with_overrides(budget=30, budget_unit="example-evals", writer="local")
    settings = tiny_settings.model_copy(update={"cache_dir": tmp_path / "cache", "score": "generate"})
    with Runtime(settings) as runtime:
        cell = run_cell(runtime, TaskRegistry(), "gepa", "core/larger_animal", 0, profile)
    assert cell.result is not None and cell.blackbox_calls is not None
    validation = profile.n_validation
    # Each iteration costs 2 minibatches of 3 (and a kept child a whole validation set).
    assert 30 <= cell.blackbox_calls < 30 + 6 + validation
    assert cell.result.candidates[0].instruction == ""
