"""CAPO's parts as upstream's (automl/promptolution 7999405): tags, shots, the t-test, racing."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

from izbench.cache import CallStats
from izbench.context import MethodContext
from izbench.methods.base import Tracker
from izbench.methods.capo import CROSSOVER_TEMPLATE, Prompt, Racing, better, block_size, from_tag, length, shot
from izbench.profiles import MethodSettings
from izbench.results import Scored
from izbench.tasks.types import Example


def test_the_answer_is_read_between_prompt_tags_and_shots_are_upstreams() -> None:
    assert from_tag("Sure: <prompt>Say the plural.</prompt> ok") == "Say the plural."
    assert from_tag("<prompt>a</prompt><prompt>b</prompt>") == "b"  # the last start tag
    assert from_tag("no tags") == "no tags"
    assert shot(Example(input="cat", answers=("cats", "kitties"))) == "Input:\ncat\nOutput:\ncats"
    prompt = Prompt("Pluralise.", ("Input:\na\nOutput:\nb", "Input:\nc\nOutput:\nd"))
    assert prompt.text == "Pluralise.\n\nInput:\na\nOutput:\nb\n\nInput:\nc\nOutput:\nd"
    assert Prompt("Pluralise.").text == "Pluralise." and length(prompt) == 9.0
    assert "<mother>" in CROSSOVER_TEMPLATE and "<father>" in CROSSOVER_TEMPLATE


def test_the_paired_t_test_is_one_sided_and_silent_on_ties() -> None:
    assert better([1.0, 1.0, 1.0, 0.9], [0.0, 0.1, 0.0, 0.0], 0.2)
    assert not better([0.0, 0.1, 0.0, 0.0], [1.0, 1.0, 1.0, 0.9], 0.2)
    assert not better([1.0, 0.0], [1.0, 0.0], 0.2)  # identical: no p-value, not significant
    assert not better([1.0], [0.0], 0.2)  # one pair


class Scripted:
    """A black box whose every prompt scores a fixed value per example (plus the prompt's
    own offset), counting the evaluations it is asked for."""

    score_function = "generate"

    def __init__(self, worth: dict[str, float]) -> None:
        self.worth = worth
        self.evaluations = 0

    def score_many(self, instructions: Sequence[str], examples: Sequence[Example]) -> list[Scored]:
        self.evaluations += len(instructions) * len(examples)
        return [
            Scored(
                i, tuple("x" for _ in examples), tuple(self.worth[i] + 0.01 * (k % 2) for k, _ in enumerate(examples))
            )
            for i in instructions
        ]


def _racing(
    worth: dict[str, float], n_validation: int = 10, penalty: float = 0.05, block: int = 1
) -> tuple[Racing, Scripted]:
    scorer = Scripted(worth)
    examples = tuple(Example(input=str(k), answers=("y",)) for k in range(n_validation))
    context = MethodContext(
        task="t", split=SimpleNamespace(validation=examples), scorer=scorer, generator=None,  # type: ignore[arg-type]
        blackbox_generator=None, annotations=(), seed=0,  # type: ignore[arg-type]
        params=MethodSettings(capo_length_penalty=penalty), blackbox_calls=CallStats(),
    )  # fmt: skip
    return Racing(Tracker(context), block=block, longest=2.0), scorer


def test_racing_drops_what_the_population_beats_early_and_keeps_the_best() -> None:
    worth = {"good a": 0.9, "good b": 0.8, "bad c": 0.1, "bad d": 0.0}
    racing, scorer = _racing(worth)
    kept = racing.race([Prompt(p) for p in worth], keep=2)
    assert [p.instruction for p in kept] == ["good a", "good b"]
    examples = {c.instruction: c.examples for c in racing.tracker.result.candidates}
    # The two bad ones fell once two others beat them significantly: after a few blocks of
    # one example, not the whole validation set.
    assert examples["bad c"] == examples["bad d"] < 10
    assert scorer.evaluations == sum(examples.values()) < 4 * 10
    # A second race reuses the blocks each has seen: only the newcomer is scored from the start.
    before = scorer.evaluations
    worth["new e"] = 0.95
    kept = racing.race([*kept, Prompt("new e")], keep=2)
    assert kept[0].instruction == "new e"
    assert scorer.evaluations - before == examples["bad c"]  # the newcomer's first blocks only
    assert len(racing.tracker.result.candidates) == 5  # survivors raced no further: not recorded again


def test_the_length_penalty_decides_between_equal_scores() -> None:
    worth = {"a much longer prompt with many words in it": 0.5, "short": 0.5, "x": 0.0, "y": 0.0}
    racing, _ = _racing(worth, penalty=1.0)
    kept = racing.race([Prompt(p) for p in worth], keep=1)
    assert [p.instruction for p in kept] == ["short"]


def test_blocks_have_a_floor_so_the_first_test_reads_several_pairs() -> None:
    # Version 1 raced 10-example validation sets in one-example blocks and decided on 2 or 3.
    assert block_size(10, 10, 5) == 5  # the default profile: two blocks of five
    assert block_size(20, 10, 5) == 5  # the paper profile: four
    assert block_size(300, 10, 5) == 30  # upstream's scale: its 30-row blocks
    assert block_size(4, 10, 5) == 4  # smaller than the floor: one block, the whole set
    worth = {"good a": 0.9, "good b": 0.8, "bad c": 0.1, "bad d": 0.0}
    racing, scorer = _racing(worth, block=block_size(10, 10, 5))
    racing.race([Prompt(p) for p in worth], keep=2)
    assert min(c.examples for c in racing.tracker.result.candidates) == 5
    assert scorer.evaluations == sum(c.examples for c in racing.tracker.result.candidates)
    # Every candidate was scored before the race could answer: each carries the whole race's spend.
    assert {c.evals for c in racing.tracker.result.candidates} == {scorer.evaluations}
