"""What every method gets and gives back, and the registry of methods by name."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from izbench.generation import InstructionGenerator
from izbench.profiles import MethodSettings
from izbench.results import Candidate, MethodResult
from izbench.scoring import Scored, Scorer
from izbench.tasks.splits import Split


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
    params: MethodSettings = field(default_factory=MethodSettings)
    """Method settings from the profile and flags (e.g. ``n_init``, ``scale``)."""
    on_candidates: Callable[[list[Candidate], list[Scored]], None] | None = None
    """Called with each batch of new candidates and their validation predictions (the store)."""


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
        note: str | None = None,
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
                note=note,
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
