"""Uniform: soft prompts drawn uniformly from InstructZero's box, same projection, generator and
demos, no BO (version 2: upstream's pipeline, [0, 1]^d and 10 demos; version 1, kept as
``uniform@1``: [-1, 1]^d and 5 demos).

With ``select: halving`` the same draws fill a pool of distinct instructions that successive
halving then scores (fewer black-box calls for the same candidates).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import torch

from izbench.domain import LEGACY, UPSTREAM, SoftPipeline
from izbench.methods.base import Method, MethodContext, Tracker, register
from izbench.methods.selection import successive_halving
from izbench.methods.soft_prompt import SoftPromptWriter, z_tuple
from izbench.results import MethodResult

if TYPE_CHECKING:
    from izbench.domain import Domain


class Uniform(Method):
    name = "uniform"
    version = 2
    versions: tuple[int, ...] = (1,)
    on_domain = True

    @property
    def pipeline(self) -> SoftPipeline:
        return UPSTREAM if self.version >= 2 else LEGACY

    def optimize(self, context: MethodContext, budget: int, rng: random.Random) -> MethodResult:
        if context.domain is not None:
            return self._on_domain(context, context.domain, budget, rng)
        writer = SoftPromptWriter.for_context(context, self.pipeline)
        tracker = Tracker(context)
        gen = torch.Generator().manual_seed(rng.randrange(2**31))
        batch = context.params.n_per_iter
        if context.params.select == "halving":
            self._halving(writer, tracker, gen, tracker.instructions(budget), batch, self.pipeline)
            return tracker.result
        while tracker.open(budget):
            n = min(batch, tracker.left(budget))
            zs = self.pipeline.scale(torch.rand((n, writer.dim), generator=gen, dtype=torch.double))
            tracker.add(writer.write(zs), soft_prompts=[z_tuple(z) for z in zs])
        return tracker.result

    @staticmethod
    def _halving(
        writer: SoftPromptWriter,
        tracker: Tracker,
        gen: torch.Generator,
        budget: int,
        batch: int,
        pipeline: SoftPipeline,
    ) -> None:
        """The same draws, written into a pool of distinct instructions first, then halved."""
        pool: dict[str, tuple[float, ...]] = {}
        proposals = 0
        while len(pool) < budget and proposals < 3 * budget:
            n = min(batch, budget - len(pool))
            zs = pipeline.scale(torch.rand((n, writer.dim), generator=gen, dtype=torch.double))
            for text, z in zip(writer.write(zs), zs, strict=True):
                pool.setdefault(text, z_tuple(z))
            proposals += n
        successive_halving(tracker, list(pool), list(pool.values()))

    @staticmethod
    def _on_domain(context: MethodContext, domain: Domain, budget: int, rng: random.Random) -> MethodResult:
        """Points drawn from the domain without replacement, in an order the run's seed draws;
        with halving, written into a pool of distinct instructions first."""
        tracker = Tracker(context)
        order = rng.sample(range(len(domain.soft)), len(domain.soft))
        if context.params.select == "halving":
            plan = tracker.instructions(budget)
            pool: dict[str, tuple[float, ...]] = {}
            for point, text in zip(order[: 3 * plan], domain.write_soft(order[: 3 * plan]), strict=True):
                if len(pool) < plan:
                    pool.setdefault(text, z_tuple(domain.soft[point]))
            successive_halving(tracker, list(pool), list(pool.values()))
            return tracker.result
        taken = 0
        while tracker.open(budget) and taken < len(order):
            chosen = order[taken : taken + min(context.params.n_per_iter, tracker.left(budget))]
            taken += len(chosen)
            tracker.add(domain.write_soft(chosen), soft_prompts=[z_tuple(domain.soft[p]) for p in chosen])
        return tracker.result


@register("uniform")
def _uniform() -> Uniform:
    return Uniform()
