"""Metric cases from upstream's definitions (Instruction Induction / APE evaluation code)."""

from __future__ import annotations

import pytest

from izbench.tasks.metrics import Metric, normalize, score

# (metric, prediction, acceptable answers, expected score)
CASES = [
    (Metric.EXACT_MATCH, "94", ["94"], 1.0),
    (Metric.EXACT_MATCH, " 94.\nmore text", ["94"], 1.0),  # first line, cut at the first "."
    (Metric.EXACT_MATCH, "Insane!", ["insane"], 1.0),  # case and punctuation
    (Metric.EXACT_MATCH, "well-known", ["well known"], 1.0),  # "-" becomes a space
    (Metric.EXACT_MATCH, "salt and pepper", ["salt pepper"], 1.0),  # " and " becomes a space
    (Metric.EXACT_MATCH, "ninety four", ["ninety-four"], 1.0),
    (Metric.EXACT_MATCH, "The answer is 94", ["94"], 0.0),
    (Metric.EXACT_MATCH, "Sentence 1: It rained.", ["It rained."], 1.0),  # label dropped
    (Metric.EXACT_MATCH, "dig", ["big", "pig", "dig"], 1.0),  # best over answers
    (Metric.F1, "involve oscillations", ["involve oscillations."], 1.0),
    (
        Metric.F1,
        "they all involve oscillations",
        ["involve oscillations."],
        2 * (2 / 4) * 1 / (2 / 4 + 1),
    ),
    (Metric.F1, "nothing shared", ["involve oscillations."], 0.0),
    (Metric.F1, "a a", ["a"], 2 * 0.5 * 1 / 1.5),  # multiplicity counts
    (Metric.EXACT_SET, "spider, chicken, tortoise", ["chicken, spider, tortoise"], 1.0),
    (Metric.EXACT_SET, "chicken spider", ["chicken, spider, tortoise"], 0.0),
    (Metric.EXACT_SET, "the The", ["The the"], 1.0),
    (Metric.CONTAINS, "I would say process.", ["process"], 1.0),
    (Metric.CONTAINS, "processing", ["process"], 0.0),  # whole words only
    (Metric.CONTAINS, "let it be", ["permit", "let"], 1.0),
    (Metric.EXACT_MATCH, "anything", [], 0.0),
]


@pytest.mark.parametrize(("metric", "prediction", "answers", "expected"), CASES)
def test_metric_table(metric: Metric, prediction: str, answers: list[str], expected: float) -> None:
    assert score(metric, prediction, answers) == pytest.approx(expected)


def test_normalize_matches_upstream_order() -> None:
    # strip, first line, first sentence, lowercase, '-' to space, punctuation removed
    assert normalize("  Hello-World. Second\nthird") == "hello world"
    assert normalize("A, B and C") == "a b c"
