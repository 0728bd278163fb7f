"""APE (Zhou et al. 2022): forward generation of instructions, sampled, then the best by score.

Version 2 (upstream's ``run_instruction_induction.py``): APE's own prompt ("I gave a friend a
instruction. Based on the instruction they produced the following input-output pairs: ... The
instruction was to"), the budget's samples shared out in order among 3 demo sets of 5 demos
(upstream: 3 sets x 30 samples). Version 1, kept as ``ape@1``: the Instruction Induction prompt
and a fresh demo set per sample. Each sample is drawn at temperature 0.9, top_p 0.9, at most 50
tokens; query ``k`` uses sample index ``k``, so every sample is cached and replayable on its own.
Optionally (``resample_fraction`` > 0) part of the budget goes to APE's iterative Monte Carlo
stage: the black box writes variations of the best instructions so far. Stage one writes its
whole pool first, then scores it on the full validation set or, with ``select: halving``, by
successive halving.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from izbench.choices import BudgetUnit
from izbench.generation import InstructionGenerator, format_demos
from izbench.methods.base import Method, MethodContext, Tracker, register
from izbench.methods.selection import successive_halving
from izbench.results import MethodResult
from izbench.templates import APE_TEMPLATE, INDUCTION_TEMPLATE, RESAMPLE_TEMPLATE

if TYPE_CHECKING:
    from izbench.domain import Domain

APE_SETS = 3
"""Upstream's ``num_subsamples``: demo sets the forward samples are shared out among."""


def fresh_set(k: int) -> int:
    """Version 1's (and EvoPrompt's) rule: sample ``k`` sees demo set ``k``."""
    return k


def shared_sets(samples: int) -> Callable[[int], int]:
    """Upstream's rule: ``samples`` split in order among ``APE_SETS`` demo sets (30 each at 90);
    samples past them (redraws when the writer repeats itself) continue the count."""
    per_set = max(1, -(-samples // APE_SETS))
    return lambda k: k // per_set


def write_from_demos(
    forward: InstructionGenerator,
    context: MethodContext,
    seed: int,
    start: int,
    n: int,
    demo_set: Callable[[int], int] = fresh_set,
) -> list[str]:
    """APE's forward generation: query ``j`` (``start`` <= j < ``start + n``) shows demo set
    ``demo_set(j)`` and samples one instruction at T=0.9, top_p 0.9 with sample index ``j``."""
    queries = range(start, start + n)
    demos = [format_demos([(e.input, e.answers[0]) for e in context.split.demos(demo_set(j))]) for j in queries]
    return forward.generate([(None, d) for d in demos], seed=seed, temperature=0.9, top_p=0.9, sample_indices=queries)


class APE(Method):
    name = "ape"
    version = 2
    versions: tuple[int, ...] = (1,)
    on_domain = True
    budget_free = False  # the budget's samples are shared out among 3 demo sets in order

    def optimize(self, context: MethodContext, budget: int, rng: random.Random) -> MethodResult:
        if context.domain is not None:
            return self._on_domain(context, context.domain, budget, rng)
        use_local = context.params.ape_generator == "local"
        base = context.generator if use_local else context.blackbox_generator
        template = APE_TEMPLATE if self.version >= 2 else INDUCTION_TEMPLATE
        forward = InstructionGenerator(base.client, template=template, max_new_tokens=50, protocol=base.protocol)
        tracker = Tracker(context)
        fraction = context.params.resample_fraction
        plan = tracker.instructions(budget)  # stage one is planned in instructions, whatever the unit
        stage_one = max(1, round(plan * (1 - fraction)))
        demo_set = shared_sets(stage_one) if self.version >= 2 else fresh_set
        seed = rng.randrange(2**31)
        proposals: list[str] = []
        pool: dict[str, None] = {}
        # In evaluations, stage one is ``stage_one`` samples, repeats included (upstream's 3 x 30).
        evaluations = context.params.budget_unit is BudgetUnit.EVALUATIONS
        while (len(proposals) if evaluations else len(pool)) < stage_one and len(proposals) < 3 * plan:
            n = stage_one - (len(proposals) if evaluations else len(pool))
            texts = write_from_demos(forward, context, seed, len(proposals), n, demo_set)
            proposals += texts
            pool.update(dict.fromkeys(texts))
        if context.params.select == "halving":
            successive_halving(tracker, list(pool))
        else:
            tracker.add(proposals)
        index = len(proposals)
        if fraction > 0:
            self._resample(context, base, tracker, budget, seed, index)
        return tracker.result

    @staticmethod
    def _resample(
        context: MethodContext,
        base: InstructionGenerator,
        tracker: Tracker,
        budget: int,
        seed: int,
        index: int,
    ) -> None:
        varier = InstructionGenerator(
            base.client, template=RESAMPLE_TEMPLATE, max_new_tokens=50, protocol=base.protocol
        )
        while tracker.open(budget):
            ranked = sorted(tracker.result.candidates, key=lambda c: -c.val_score)
            parents = [c.instruction for c in ranked[: max(1, tracker.left(budget))]]
            texts = varier.generate(
                [(None, p) for p in parents],
                seed=seed,
                temperature=0.9,
                top_p=0.9,
                sample_indices=range(index, index + len(parents)),
            )
            index += len(parents)
            tracker.add(texts, parents=list(parents))

    @staticmethod
    def _on_domain(context: MethodContext, domain: Domain, budget: int, rng: random.Random) -> MethodResult:
        """Stage one drawn from the domain's APE proposals without replacement, in an order the
        run's seed draws, then scored (fully or by halving). A domain holds no variations, so the
        resampling stage is left out."""
        tracker = Tracker(context)
        plan = tracker.instructions(budget)
        order = rng.sample(range(domain.n_ape), domain.n_ape)
        proposals: list[str] = []
        pool: dict[str, None] = {}
        taken = 0
        while len(pool) < plan and len(proposals) < 3 * plan and taken < len(order):
            chosen = order[taken : taken + plan - len(pool)]
            taken += len(chosen)
            texts = domain.write_ape(chosen)
            proposals += texts
            pool.update(dict.fromkeys(texts))
        if context.params.select == "halving":
            successive_halving(tracker, list(pool))
        elif proposals:
            tracker.add(proposals)
        return tracker.result


@register("ape")
def _ape() -> APE:
    return APE()
