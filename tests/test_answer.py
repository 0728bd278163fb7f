"""The `answer` stop rule is exact: once it fires, no continuation changes what metrics read."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from izbench.answer import answer_complete, first_sentence
from izbench.scoring import CAP_MARGIN, DEFAULT_MAX_TOKENS, output_cap
from izbench.tasks.metrics import Metric, normalize
from izbench.tasks.types import Example

# Pieces that matter to the normalisation, so examples hit the edge cases often.
PIECES = st.sampled_from(
    ["\n", ".", " ", "  ", " and ", "and", "Sentence 1:", "Sentence", " 1:", "-", "a", "Big", "94"]
)
TEXTS = st.lists(PIECES, max_size=12).map("".join)


@settings(max_examples=3000)
@given(TEXTS, TEXTS)
def test_stopping_when_complete_never_changes_the_answer(head: str, tail: str) -> None:
    if answer_complete(head):
        assert first_sentence(head + tail) == first_sentence(head)
        assert normalize(head + tail) == normalize(head)


def test_leading_blank_lines_and_labels_do_not_stop_early() -> None:
    assert not answer_complete("\n\n  ")
    assert not answer_complete("Sentence 1:\n")  # the label is dropped, then the line is blank
    assert not answer_complete(" 94")
    assert answer_complete(" 94\n")
    assert answer_complete("The sum is 94. More")


def test_output_cap_only_for_exact_metrics() -> None:
    examples = [Example(input="1 2", answers=("3",)), Example(input="40 2", answers=("42", "forty-two"))]
    assert output_cap(Metric.EXACT_MATCH, examples) == len("forty-two") + CAP_MARGIN
    assert output_cap(Metric.EXACT_SET, examples) == len("forty-two") + CAP_MARGIN
    assert output_cap(Metric.CONTAINS, examples) == DEFAULT_MAX_TOKENS
    assert output_cap(Metric.F1, examples) == DEFAULT_MAX_TOKENS
    long = [Example(input="x", answers=("word " * 40,))]
    assert output_cap(Metric.EXACT_MATCH, long) == DEFAULT_MAX_TOKENS


def test_a_line_ending_in_spaces_waits_for_what_follows() -> None:
    # "94 \nmore" reads "94 " but "94 \n" alone reads "94": stopping at the newline would be wrong.
    assert not answer_complete("94 \n")
    assert normalize("94 \nmore") != normalize("94 \n")
