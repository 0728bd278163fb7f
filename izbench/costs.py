"""What a comparison will cost before it runs: an upper estimate of its model calls, and of its
dollars where the black box has prices.

A cell scores every candidate on validation and its best on test (one call per example and
scored continuation) and writes one instruction per candidate. The dollar estimate prices the
black box's calls by the task's own text: the scorer's template, an instruction of
``INSTRUCTION_CHARS``, the mean input and answer, at ``CHARS_PER_TOKEN``, and the output cap the
scorer would use (nothing is generated when an answer is scored). The cache makes both smaller.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from izbench.budget import Budget
from izbench.choices import ScoreFunction
from izbench.profiles import Profile
from izbench.scoring import DEFAULT_TEMPLATE, MAX_ANSWERS, output_cap
from izbench.tasks.metrics import Metric
from izbench.tasks.types import Example, TaskData

INSTRUCTION_CHARS = 400
"""A long instruction (the generator writes at most 128 tokens)."""
CHARS_PER_TOKEN = 3
"""Fewer than English BPE's ~4, so the estimate leans high."""
WRITER_TOKENS = 50
"""Output tokens of an instruction the black box writes (APE, OPRO, EvoPrompt)."""


def continuations_per_example(score: ScoreFunction, data: TaskData) -> int:
    """Black-box calls per scored example: 1 generation, or one scored answer/option each."""
    examples = data.induce + data.execute
    if score == ScoreFunction.LIKELIHOOD:
        return max(min(len(e.answers), MAX_ANSWERS) for e in examples)
    if score == ScoreFunction.CHOICE:
        return max(len(e.options) for e in examples)
    return 1


def projected_calls(profile: Profile, per_example: int = 1, method: str | None = None) -> int:
    """An upper estimate of one cell's model calls: scoring every candidate on validation, the
    best on test (``per_example`` calls each), and one generation per candidate; at ``method``'s
    budget (the paper profile's differ per method)."""
    budget = profile.budget if method is None else profile.budget_for(method)
    return (budget * profile.n_validation + profile.n_test) * per_example + budget


def _mean_chars(examples: Sequence[Example]) -> float:
    return statistics.fmean(len(e.input) + len(e.answers[0]) for e in examples) if examples else 0.0


def projected_cost(
    budget: Budget,
    kind: str,
    profile: Profile,
    score: ScoreFunction,
    metric: Metric,
    data: TaskData,
    method: str | None = None,
) -> float | None:
    """An upper estimate of one cell's dollars on a black box of ``kind`` (None: no prices), at
    ``method``'s budget."""
    examples = data.induce + data.execute
    candidates = profile.budget if method is None else profile.budget_for(method)
    scoring = (candidates * profile.n_validation + profile.n_test) * continuations_per_example(score, data)
    prompt = round((len(DEFAULT_TEMPLATE) + INSTRUCTION_CHARS + _mean_chars(examples)) / CHARS_PER_TOKEN)
    answer = output_cap(metric, examples) if score == ScoreFunction.GENERATE else 0
    scored = budget.projected_cost(kind, scoring, prompt, answer)
    written = budget.projected_cost(kind, candidates, prompt * 5, WRITER_TOKENS)
    return None if scored is None or written is None else scored + written
