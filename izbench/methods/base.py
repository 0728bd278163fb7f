"""What every method gets and gives back, and the registry of methods by name."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from izbench.models.generator import InstructionGenerator
from izbench.scoring import Scored, Scorer
from izbench.tasks.splits import Split


@dataclass(frozen=True)
class Candidate:
    """One proposal: the instruction, where it came from, and its validation scores."""

    step: int
    """Order of proposal within the run (0-based)."""
    instruction: str
    val_score: float
    val_scores: tuple[float, ...]
    soft_prompt: tuple[float, ...] | None = None
    """The low-dimensional z that produced it (InstructZero, Uniform)."""
    parent: str | None = None
    """The instruction it was derived from (APE resampling), or a reference's label."""
    new: bool = True
    """False when the instruction had already been scored in this run (cost no calls)."""


@dataclass
class MethodResult:
    """Everything a method did: all candidates in order, and the best by validation score."""

    candidates: list[Candidate] = field(default_factory=list)

    @property
    def best(self) -> Candidate:
        # Ties go to the earliest proposal, so the result never depends on dict order.
        return max(self.candidates, key=lambda c: (c.val_score, -c.step))

    @property
    def proposals(self) -> int:
        return len(self.candidates)

    @property
    def distinct(self) -> int:
        return sum(1 for c in self.candidates if c.new)


@dataclass
class MethodContext:
    """What a method may use: the split, the scorer, the generator; nothing else calls models."""

    task: str
    split: Split
    scorer: Scorer
    generator: InstructionGenerator
    blackbox_generator: InstructionGenerator
    """The black box used as an instruction writer (APE's default)."""
    annotations: tuple[str, ...]
    seed: int
    params: dict[str, object] = field(default_factory=dict)
    """Method settings from the profile and flags (e.g. ``n_init``, ``scale``)."""
    on_candidates: Callable[[list[Candidate], list[Scored]], None] | None = None
    """Called with each batch of new candidates and their validation predictions (the store)."""

    def param(self, name: str, default: object) -> object:
        return self.params.get(name, default)


class Tracker:
    """Scores proposals in batches, remembering instructions already scored in this run."""

    def __init__(self, context: MethodContext) -> None:
        self.context = context
        self.result = MethodResult()
        self._seen: dict[str, Scored] = {}

    @property
    def distinct(self) -> int:
        return len(self._seen)

    def add(
        self,
        instructions: list[str],
        soft_prompts: list[tuple[float, ...] | None] | None = None,
        parents: list[str | None] | None = None,
    ) -> list[Candidate]:
        fresh = [i for i in dict.fromkeys(instructions) if i not in self._seen]
        for scored in self.context.scorer.score_many(fresh, self.context.split.validation):
            self._seen[scored.instruction] = scored
        added = []
        new_in_batch: set[str] = set()
        for k, instruction in enumerate(instructions):
            scored = self._seen[instruction]
            is_new = instruction in fresh and instruction not in new_in_batch
            new_in_batch.add(instruction)
            candidate = Candidate(
                step=self.result.proposals,
                instruction=instruction,
                val_score=scored.mean,
                val_scores=scored.scores,
                soft_prompt=soft_prompts[k] if soft_prompts else None,
                parent=parents[k] if parents else None,
                new=is_new,
            )
            self.result.candidates.append(candidate)
            added.append(candidate)
        if self.context.on_candidates is not None:
            self.context.on_candidates(added, [self._seen[c.instruction] for c in added])
        return added


METHOD_PATH_VERSION = 1
"""Bump when the code every method shares (Tracker, splits of demos) changes what they propose."""


class Method(Protocol):
    """An instruction optimizer: proposes candidates within ``budget`` distinct instructions."""

    name: str
    version: int
    """The method's own code version; with ``METHOD_PATH_VERSION`` part of each cell's identity."""

    def optimize(self, context: MethodContext, budget: int, rng: random.Random) -> MethodResult: ...


METHODS: dict[str, Callable[[], Method]] = {}
"""Method factories by name; each module registers its own."""


def register(name: str) -> Callable[[Callable[[], Method]], Callable[[], Method]]:
    def decorator(factory: Callable[[], Method]) -> Callable[[], Method]:
        METHODS[name] = factory
        return factory

    return decorator
