"""Uniform: soft prompts drawn uniformly from [-1, 1]^d, same projection and generator, no BO."""

from __future__ import annotations

import random

import torch

from izbench.methods.base import MethodContext, Tracker, register
from izbench.methods.soft_prompt import SoftPromptWriter, z_tuple
from izbench.results import MethodResult


class Uniform:
    name = "uniform"
    version = 1
    """Bump when a change of this method alters what it proposes (part of every cell\'s identity)."""

    def optimize(self, context: MethodContext, budget: int, rng: random.Random) -> MethodResult:
        writer = SoftPromptWriter(context)
        tracker = Tracker(context)
        gen = torch.Generator().manual_seed(rng.randrange(2**31))
        batch = context.params.n_per_iter
        while tracker.distinct < budget and tracker.result.proposals < 3 * budget:
            n = min(batch, budget - tracker.distinct)
            zs = torch.rand((n, writer.dim), generator=gen, dtype=torch.double) * 2 - 1
            tracker.add(writer.write(zs), soft_prompts=[z_tuple(z) for z in zs])
        return tracker.result


@register("uniform")
def _uniform() -> Uniform:
    return Uniform()
