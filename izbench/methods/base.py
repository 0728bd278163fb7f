"""What every method gets and gives back, and the registry of methods by name."""

from __future__ import annotations

import json
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from izbench.choices import BudgetUnit
from izbench.context import MethodContext
from izbench.errors import ConfigError
from izbench.results import Candidate, MethodResult, Scored

__all__ = ["METHODS", "METHOD_PATH_VERSION", "Method", "MethodContext", "Tracker", "register"]


@dataclass(frozen=True)
class Spend:
    """What a cell had spent by each of a batch's candidates, per unit (``tokens`` None on a
    pool): the x values of its anytime curves against calls, example evaluations and tokens."""

    calls: list[int]
    evals: list[int]
    tokens: list[int] | None


class Tracker:
    """Scores proposals in batches, remembering instructions already scored in this run."""

    def __init__(self, context: MethodContext) -> None:
        self.context = context
        self.result = MethodResult()
        self._seen: dict[str, Scored] = {}
        self._off_proposals = 0
        self._most: dict[str, int] = {}
        """Each instruction's most validation examples recorded (halving's prefixes grow)."""

    @property
    def distinct(self) -> int:
        return self.result.distinct

    @property
    def spent(self) -> int:
        """The budget used, in the cell's unit: distinct instructions, every proposal,
        (instruction, example) evaluations (each instruction's most examples: halving's prefixes
        grow, so that is how many it was scored on), or black-box tokens."""
        unit = self.context.params.budget_unit
        if unit is BudgetUnit.EVALUATIONS:
            return self.result.proposals + self._off_proposals
        if unit is BudgetUnit.EXAMPLE_EVALS:
            return self.example_evals
        if unit is BudgetUnit.TOKENS:
            if self.context.blackbox_calls.lookups:
                raise ConfigError("a pool's lookups carry no tokens: use --budget-unit example-evals on a pool")
            return self.context.blackbox_calls.work_tokens
        if self.result.off_validation:
            return self.result.tried
        return self.result.distinct

    @property
    def example_evals(self) -> int:
        """(instruction, example) evaluations so far: each instruction's most validation examples
        (that is how many it was scored on), and every evaluation off validation."""
        return sum(self._most.values()) + sum(self.result.off_validation.values())

    def _tokens(self) -> int | None:
        """Black-box tokens asked for so far (None on a pool, whose lookups carry none)."""
        calls = self.context.blackbox_calls
        return None if calls.lookups else calls.work_tokens

    def charge(self, instruction: str, examples: int, proposed: bool = False) -> None:
        """Count evaluations of ``instruction`` on ``examples`` examples off the validation set
        (GEPA's minibatches of demos): they cost the black box as much as any other, and an
        instruction scored only there (a rejected proposal, ``proposed``) is still one the
        method tried, in every unit."""
        self._off_proposals += proposed
        off = self.result.off_validation
        off[instruction] = off.get(instruction, 0) + examples

    def _per_instruction(self) -> int | None:
        """Tokens spent per distinct instruction so far (None before the first)."""
        if not self.result.distinct:
            return None
        return max(1, self.spent // self.result.distinct)

    def instructions(self, budget: int) -> int:
        """``budget`` in instructions scored on the whole validation set: what a method that
        plans up front (APE's stage one, Uniform's pool for halving) plans for. In tokens only
        once some are spent (their rate per instruction); before, a plan cannot be made."""
        unit = self.context.params.budget_unit
        if unit is BudgetUnit.EXAMPLE_EVALS:
            return math.ceil(budget / max(1, len(self.context.split.validation)))
        if unit is BudgetUnit.TOKENS:
            per = self._per_instruction()
            if per is None:
                raise ConfigError(
                    "this method plans its instructions before it spends a token, so --budget-unit tokens "
                    "cannot size its plan; match it on example-evals, or use a method that proposes as it goes"
                )
            return math.ceil(budget / per)
        return budget

    def left(self, budget: int) -> int:
        """How many more instructions ``budget`` allows (in example evaluations: whole
        validation sets, the last one rounded up; in tokens: at the rate spent so far, one
        before any is known)."""
        remaining = max(0, budget - self.spent)
        if not remaining:
            return 0
        if self.context.params.budget_unit is BudgetUnit.TOKENS and self._per_instruction() is None:
            return 1
        return self.instructions(remaining)

    def open(self, budget: int) -> bool:
        """Whether a method may propose more: budget left, and fewer than 3 proposals per
        instruction it allows (a writer that keeps repeating itself must stop somewhere)."""
        if self.spent >= budget:
            return False
        if self.context.params.budget_unit is BudgetUnit.TOKENS and self._per_instruction() is None:
            return self.result.proposals < 3
        return self.result.proposals < 3 * self.instructions(budget)

    def add(
        self,
        instructions: list[str],
        soft_prompts: list[tuple[float, ...] | None] | None = None,
        parents: list[str | None] | None = None,
        note: str | None = None,
        acquisition: list[dict[str, object]] | None = None,
    ) -> list[Candidate]:
        """Score the instructions not seen yet on the whole validation set and record them all
        (``acquisition``: each proposal's diagnostics, from a BO round)."""
        fresh = [i for i in dict.fromkeys(instructions) if i not in self._seen]
        before = self.context.blackbox_calls.requests
        tokens_before, evals_before = self._tokens(), self.example_evals
        for scored in self.context.scorer.score_many(fresh, self.context.split.validation):
            self._seen[scored.instruction] = scored
        # Every instruction costs the same requests (the same examples), so the batch's calls
        # are shared out exactly: each candidate carries the calls spent up to and including it.
        each = (self.context.blackbox_calls.requests - before) // len(fresh) if fresh else 0
        rank = {instruction: k + 1 for k, instruction in enumerate(fresh)}
        # Tokens differ per instruction (its length) and the batch's are known only in total, so they
        # are shared out equally: exact at the batch's end, linear inside it.
        tokens_after = self._tokens()
        n = len(self.context.split.validation)
        calls, evals, tokens, spent = [], [], [], 0
        for instruction in instructions:
            spent = max(spent, rank.get(instruction, 0))
            calls.append(before + each * spent)
            evals.append(evals_before + n * spent)
            if tokens_before is not None and tokens_after is not None:
                tokens.append(tokens_before + (tokens_after - tokens_before) * spent // max(1, len(fresh)))
        found = [self._seen[i] for i in instructions]
        spend = Spend(calls, evals, tokens or None)
        return self.record(instructions, found, soft_prompts, parents, note, acquisition=acquisition, spend=spend)

    def record(
        self,
        instructions: list[str],
        scored: list[Scored],
        soft_prompts: list[tuple[float, ...] | None] | None = None,
        parents: list[str | None] | None = None,
        note: str | None = None,
        acquisition: list[dict[str, object]] | None = None,
        spend: Spend | None = None,
    ) -> list[Candidate]:
        """Record candidates already scored (on all or, under halving, part of validation); an
        instruction recorded before in this run is a repeat (``new`` false, no calls). ``spend``:
        what the cell had spent by each candidate (default: all of it once these are recorded, as
        after a race or a halving round, where every candidate was scored before any answer)."""
        before = {c.instruction for c in self.result.candidates}
        added = []
        for instruction, result in zip(instructions, scored, strict=True):
            self._most[instruction] = max(self._most.get(instruction, 0), len(result.scores))
        calls_now, evals_now, tokens_now = self.context.blackbox_calls.requests, self.example_evals, self._tokens()
        for k, (instruction, result) in enumerate(zip(instructions, scored, strict=True)):
            candidate = Candidate(
                step=self.result.proposals,
                instruction=instruction,
                val_score=result.mean,
                val_scores=result.scores,
                soft_prompt=soft_prompts[k] if soft_prompts else None,
                parent=parents[k] if parents else None,
                new=instruction not in before,
                note=note,
                examples=len(result.scores),
                calls=spend.calls[k] if spend else calls_now,
                evals=spend.evals[k] if spend else evals_now,
                tokens=spend.tokens[k] if spend and spend.tokens else tokens_now,
                acquisition=json.dumps(acquisition[k], sort_keys=True) if acquisition else None,
            )
            before.add(instruction)
            self.result.candidates.append(candidate)
            added.append(candidate)
        if self.context.on_candidates is not None:
            self.context.on_candidates(added, list(scored))
        return added


METHOD_PATH_VERSION = 1
"""Bump when the code every method shares (Tracker, splits of demos) changes what they propose."""


class Method(ABC):
    """An instruction optimizer: proposes candidates within ``budget`` distinct instructions,
    scoring them through ``context.scorer`` (never a model directly)."""

    name: str
    version: int
    """The method's own code version; with ``METHOD_PATH_VERSION`` part of each cell's identity.
    Bump it when a change alters what the method proposes."""
    versions: tuple[int, ...] = ()
    """Earlier versions it can still run, by ``name@version`` (e.g. ``instructzero@2``), so an
    old and a new version stand side by side in one comparison."""
    score_all_on_test: bool = False
    """True for a reference whose every candidate is also scored on test (``human``: the paper
    reports the mean over its annotations besides the best)."""
    budget_free: bool = True
    """Whether, live, a run planned for budget B proposes what a run planned for k < B does, up to
    the k-run's last round (which the budget truncates), so one run's anytime curve stands for
    every smaller budget. False when the budget shapes the plan (live APE shares it out among its
    demo sets). On a pool's domain see ``pool_budget_free``."""
    pool_budget_free: bool = True
    """``budget_free`` on a pool's domain: true unless the budget shapes the plan even among
    fixed points (TRIPLE's phases are cut from the whole budget; ZOPO explores locally only
    while ``NEIGHBORS`` evaluations are left)."""
    anytime: bool = True
    """Whether its candidates, in the order recorded, are its answers over time (an incumbent
    after each). False for best-arm identification (TRIPLE), whose answer exists only once its
    budget is spent: no anytime curve, only its final score."""
    on_domain: bool = False
    """Whether it can choose among a finite domain's points (``MethodContext.domain``) instead of
    writing instructions of its own: what a pool cell needs."""

    @abstractmethod
    def optimize(self, context: MethodContext, budget: int, rng: random.Random) -> MethodResult: ...


METHODS: dict[str, Callable[[], Method]] = {}
"""Method factories by name; each module registers its own."""


def register(name: str) -> Callable[[Callable[[], Method]], Callable[[], Method]]:
    def decorator(factory: Callable[[], Method]) -> Callable[[], Method]:
        METHODS[name] = factory
        return factory

    return decorator
