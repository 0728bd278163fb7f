"""Instruction Induction's metrics, as the upstream evaluation code defines them.

Normalisation (upstream ``normalize_prediction``): replace `` and `` by a space, drop the
``Sentence 1:``/``Sentence 2:`` labels, strip, keep the first line, cut at the first ``.``,
lowercase, ``-`` to space, remove ASCII punctuation. Each metric is the best score over all
acceptable answers:

- ``exact_match``: normalised prediction == normalised answer;
- ``f1``: token F1 of the normalised strings (SQuAD style, with multiplicity);
- ``exact_set``: the sets of normalised tokens are equal;
- ``contains``: the normalised answer occurs in the normalised prediction as whole words.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from enum import StrEnum

from izbench.answer import first_sentence

_PUNCTUATION = str.maketrans("", "", string.punctuation)


class Metric(StrEnum):
    EXACT_MATCH = "exact_match"
    F1 = "f1"
    EXACT_SET = "exact_set"
    CONTAINS = "contains"


def normalize(text: str) -> str:
    """Upstream's normalisation of a prediction or an answer."""
    return first_sentence(text).lower().replace("-", " ").translate(_PUNCTUATION)


def exact_match(prediction: str, answer: str) -> float:
    return float(normalize(prediction) == normalize(answer))


def f1(prediction: str, answer: str) -> float:
    predicted = normalize(prediction).split()
    gold = normalize(answer).split()
    same = sum((Counter(predicted) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def exact_set(prediction: str, answer: str) -> float:
    return float(set(normalize(prediction).split()) == set(normalize(answer).split()))


def contains(prediction: str, answer: str) -> float:
    # Upstream builds the regex from the raw answer; escaping it only matters for the rare
    # answer that keeps a regex metacharacter after normalisation.
    pattern = rf"\b({re.escape(normalize(answer))})\b"
    return float(re.search(pattern, normalize(prediction)) is not None)


_METRICS: dict[Metric, Callable[[str, str], float]] = {
    Metric.EXACT_MATCH: exact_match,
    Metric.F1: f1,
    Metric.EXACT_SET: exact_set,
    Metric.CONTAINS: contains,
}


def score(metric: Metric, prediction: str, answers: Sequence[str]) -> float:
    """The best score of ``prediction`` over every acceptable answer (0 when there are none)."""
    fn = _METRICS[metric]
    return max((fn(prediction, a) for a in answers), default=0.0)
