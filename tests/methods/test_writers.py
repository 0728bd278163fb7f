"""The LLM-as-optimizer methods' pure parts: reading an answer, OPRO's meta-prompt, the wheel."""

from __future__ import annotations

from izbench.methods.evoprompt import GA_TEMPLATE, wheel_weights
from izbench.methods.opro import MAX_CHARS, best_so_far, kept, meta_prompt, polish, read_instruction
from izbench.methods.writing import between_tags
from izbench.results import Candidate


def test_between_tags_reads_the_last_tagged_span_or_falls_back() -> None:
    assert between_tags("Crossover Prompt: a\n2. <prompt>Write b.</prompt>", "prompt") == "Write b."
    assert between_tags("<INS>one</INS> then <INS>two</INS>", "INS") == "two"
    assert between_tags("<INS> Add the numbers.\n\nMore text", "INS") == "Add the numbers."
    assert between_tags('"Say the plural."', "INS") == "Say the plural."
    assert between_tags("Write the word.</INS>", "INS") == "Write the word."
    assert between_tags("", "INS") == ""


def _candidate(step: int, instruction: str, score: float, new: bool = True) -> Candidate:
    return Candidate(step=step, instruction=instruction, val_score=score, val_scores=(score,), new=new)


def test_opro_shows_the_best_so_far_in_ascending_order() -> None:
    history = [
        _candidate(0, "", 0.1),
        _candidate(1, "a", 0.9),
        _candidate(2, "b", 0.5),
        _candidate(3, "a", 0.9, new=False),
        _candidate(4, "c", 0.5),
    ]
    shown = best_so_far(history, 3)
    # The best last; a tie keeps the earlier proposal (b) above the later one (c); repeats once.
    assert [c.instruction for c in shown] == ["c", "b", "a"]
    prompt = meta_prompt(shown, [("cat", "cats")], likelihood=False)
    assert (
        prompt.index("text:\nc\nscore:\n50")
        < prompt.index("text:\nb\nscore:\n50")
        < prompt.index("text:\na\nscore:\n90")
    )
    assert "The score ranges from 0 to 100." in prompt
    assert "\nProblem:\n<INS>\ncat\n\nGround truth answer:\ncats\n" in prompt
    assert prompt.endswith("generally applicable to all problems above.")
    nats = meta_prompt([_candidate(0, "x", -3.14159)], [], likelihood=True)
    assert "score:\n-3.14\n" in nats and "higher is better" in nats and "Problem:" not in nats


def test_the_wheel_weighs_the_worst_at_zero_and_ties_uniformly() -> None:
    assert wheel_weights([-4.0, -3.0, -2.0]) == [0.0, 1.0, 2.0]
    assert wheel_weights([0.5, 0.5]) == [1.0, 1.0]
    assert "<prompt1>" in GA_TEMPLATE and "<prompt2>" in GA_TEMPLATE


def test_opro_reads_its_writer_as_upstreams_gpt_path() -> None:
    """Version 2 (issue 30): the first tagged span, polished; version 1 took the last span."""
    output = "Sure! <INS> **write** the antonym of the word.</INS> or <INS>x</INS>"
    assert read_instruction(output) == "Write the antonym of the word."
    assert between_tags(output, "INS") == "x"  # version 1's reading
    # Untagged: the whole output, stripped and capitalised; cut at a stop string, no closing tag.
    assert read_instruction("  say the plural.\n\nMore") == "Say the plural.\n\nMore"
    assert read_instruction("<INS>add the numbers") == "Add the numbers"
    assert polish("a") == "a" and polish("") == ""


def test_opro_drops_what_upstream_does_not_evaluate() -> None:
    assert kept("Write the plural.")
    assert not kept("x" * (MAX_CHARS + 1)) and kept("x" * MAX_CHARS)
    assert not kept("Replace <INS> with the answer.") and not kept("INSTRUCTION: add")


def test_opro_shows_only_instructions_above_the_threshold() -> None:
    history = [_candidate(0, "", 0.1), _candidate(1, "a", 0.9), _candidate(2, "b", 0.5), _candidate(3, "c", 0.2)]
    # The top 3 are kept first, then those below the threshold left out (opt_utils.py:62-70).
    assert [c.instruction for c in best_so_far(history, 3, threshold=0.3)] == ["b", "a"]
    assert [c.instruction for c in best_so_far(history, 3, threshold=0.0)] == ["c", "b", "a"]
