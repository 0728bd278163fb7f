"""The signal check: can this set-up (black box, score function, protocol) tell instructions apart?

Before a budget is spent on optimising instructions, the scorer must rank a task's own
human-written instructions above no instruction and above instructions written for other tasks.
Per task, on the same validation examples:

    d_empty(x)    = mean_r s(r, x) - s("", x)
    d_mismatch(x) = mean_r s(r, x) - mean_m s(m, x)

with ``r`` over the task's reference instructions, ``m`` over other tasks' references and ``s``
the scorer's per-example score. Each difference gets a 95% paired bootstrap interval over the
examples (pooled over seeds); the set-up "measures instructions" on the task when both intervals
lie above zero. Under ``choice`` it must also beat guessing: the best-scoring of those
instructions must have an accuracy whose interval over the examples lies above the chance level
(an accuracy near chance whatever the instruction is noise, however the differences fall).

A task without human-written instructions (a BIG-bench task) is checked against its own
description or task prefix, which the registry gives as its reference.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from izbench.runtime import Runtime
from izbench.seeding import derive_seed, rng_for
from izbench.stats import Interval, bootstrap_mean
from izbench.tasks.options import chance
from izbench.tasks.registry import TaskRegistry
from izbench.tasks.spec import TaskSpec
from izbench.tasks.splits import make_split

MAX_REFERENCES = 5
"""Human annotations used per task (Instruction Induction has up to 10)."""
MISMATCHED = 3
"""Other tasks' references scored as wrong instructions."""


@dataclass(frozen=True)
class SignalResult:
    """One task's verdict under one set-up."""

    task: str
    n_examples: int
    n_references: int
    n_mismatched: int
    reference_mean: float
    empty_mean: float
    mismatched_mean: float
    vs_empty: Interval
    vs_mismatched: Interval
    chance: float | None
    """Under choice scoring: the accuracy of a random option."""
    vs_chance: Interval | None = None
    """Under choice scoring: the best of the scored instructions' accuracy minus the chance level."""

    @property
    def measures(self) -> bool:
        """Both paired differences are above zero with 95% confidence (and, under choice, some
        instruction beats guessing)."""
        beats_chance = self.vs_chance is None or self.vs_chance.above_zero
        return self.vs_empty.above_zero and self.vs_mismatched.above_zero and beats_chance


def mismatched_pool(registry: TaskRegistry, spec: TaskSpec) -> dict[str, str]:
    """One reference per other task of ``spec``'s own suite (and of ``core``, always available,
    when that suite has too few), keyed by task name; the task's own name is left out, so
    ``ii/antonyms`` is never a wrong instruction for ``core/antonyms``.

    The pool depends on the task alone, not on what else was selected: a verdict is stored
    under the set-up and the task, so it must be the same whichever ``--tasks`` produced it.
    """
    suites = [spec.suite] + ([] if spec.suite == "core" else ["core"])
    pool: dict[str, str] = {}
    for suite in suites:
        if len(pool) >= MISMATCHED:
            break
        for key in registry.suites.get(suite, []):
            other = registry.specs[key]
            if other.name != spec.name and other.name not in pool and registry.availability(other).available:
                references = registry.references(other)
                if references:
                    pool[other.name] = references[0]
    return pool


def check_task(
    runtime: Runtime,
    registry: TaskRegistry,
    spec: TaskSpec,
    pool: dict[str, str],
    seeds: Sequence[int],
    n_examples: int,
) -> SignalResult | str:
    """The task's signal result, or the reason it has none (no reference instruction, or no
    answer options under choice scoring)."""
    references = list(registry.references(spec)[:MAX_REFERENCES])
    if not references:
        return "no reference instruction"
    others = sorted(pool)
    data = registry.load(spec.key)
    if runtime.settings.score == "choice" and not all(e.options for e in data.induce + data.execute):
        return "no answer options for --score choice"
    scorer = runtime.scorer(spec.key, spec.metric, data)
    d_empty: list[float] = []
    d_mismatch: list[float] = []
    means: dict[str, list[float]] = {"reference": [], "empty": [], "mismatched": []}
    chances: list[float] = []
    above_chance: dict[str, list[float]] = {}
    """Per scored instruction, its per-example score minus the example's chance level."""
    n_mismatched = 0
    for seed in seeds:
        drawn = rng_for("signal-mismatch", spec.key, seed).sample(others, min(MISMATCHED, len(others)))
        mismatched = [pool[name] for name in drawn]
        n_mismatched = len(mismatched)
        examples = make_split(spec.key, data, seed, n_validation=n_examples).validation
        instructions = [*references, "", *mismatched]
        scored = scorer.score_many(instructions, examples)
        per_example = list(zip(*(s.scores for s in scored), strict=True))
        if runtime.settings.score == "choice":
            for instruction, s in zip(instructions, scored, strict=True):
                above_chance.setdefault(instruction, []).extend(
                    x - chance(e) for x, e in zip(s.scores, examples, strict=True)
                )
        for row, example in zip(per_example, examples, strict=True):
            reference = statistics.fmean(row[: len(references)])
            empty = row[len(references)]
            other = statistics.fmean(row[len(references) + 1 :]) if mismatched else empty
            means["reference"].append(reference)
            means["empty"].append(empty)
            means["mismatched"].append(other)
            d_empty.append(reference - empty)
            d_mismatch.append(reference - other)
            if example.options:
                chances.append(chance(example))
    seed = derive_seed("signal-bootstrap", spec.key)
    vs_chance = None
    if above_chance:
        best = max(above_chance.values(), key=statistics.fmean)
        vs_chance = bootstrap_mean(best, seed=seed + 2)
    return SignalResult(
        task=spec.key,
        n_examples=len(d_empty),
        n_references=len(references),
        n_mismatched=n_mismatched,
        reference_mean=statistics.fmean(means["reference"]),
        empty_mean=statistics.fmean(means["empty"]),
        mismatched_mean=statistics.fmean(means["mismatched"]),
        vs_empty=bootstrap_mean(d_empty, seed=seed),
        vs_mismatched=bootstrap_mean(d_mismatch, seed=seed + 1),
        chance=statistics.fmean(chances) if runtime.settings.score == "choice" and chances else None,
        vs_chance=vs_chance,
    )


def run_signal(
    runtime: Runtime,
    registry: TaskRegistry,
    specs: Sequence[TaskSpec],
    seeds: Sequence[int],
    n_examples: int,
    on_task: Callable[[TaskSpec, SignalResult | str], None] | None = None,
) -> list[SignalResult]:
    """Every selected task's signal result, in order (a task that cannot be checked is skipped,
    and ``on_task`` hears why)."""
    results = []
    for spec in specs:
        result = check_task(runtime, registry, spec, mismatched_pool(registry, spec), seeds, n_examples)
        if not isinstance(result, str):
            results.append(result)
        if on_task is not None:
            on_task(spec, result)
    return results
