"""PRESTO (Chu, Lee and Kim, NeurIPS 2025, "Preimage-Informed Instruction Optimization for
Prompting Black-Box LLMs"), on a finite domain of soft prompts.

The generator maps many soft prompts to one instruction; PRESTO reads that many-to-one map (each
instruction's *preimage*: the domain points that write it) as prior knowledge. Built on INSTINCT
(NeuralUCB on the generator's last-token hidden states), with two of the paper's three parts:

1. **Score sharing.** Scoring an instruction labels every point of its preimage with the same
   score, so the network trains on all of them for the price of one black-box evaluation; only
   points whose instruction is unscored are offered to the bandit.
2. **Preimage-based initialization.** The ``instinct_n_init`` first instructions are chosen
   greedily so that their preimages' hidden states represent the whole domain's best: each step
   adds the instruction whose preimage most lowers the squared maximum mean discrepancy

       MMD^2(S, D) = mean k(S, S) - 2 mean k(S, D) + mean k(D, D)

   between the chosen points ``S`` and the domain ``D``, with a Gaussian RBF kernel whose
   bandwidth is the median pairwise distance (ties to the earlier instruction).

Left out: the paper's third part, score-consistency regularisation (a loss term pulling the
network's predictions together within each unscored preimage, weighted by a linearly scheduled
gamma), which needs a change to the bandit's training loss; and the paper's domain of 10,000
points (a pool's size is its own). The domain's instructions are all known before the first
score (a pool holds them; written live, that is one generator call per point), as in the paper.
"""

from __future__ import annotations

import random

import torch

from izbench.errors import ConfigError
from izbench.methods.base import Method, MethodContext, Tracker, register
from izbench.methods.neural_ucb import NeuralUCB
from izbench.methods.soft_prompt import z_tuple
from izbench.results import MethodResult
from izbench.seeding import derive_seed


def representative_instructions(states: torch.Tensor, preimages: list[list[int]], n: int) -> list[int]:
    """Indices of ``n`` preimages chosen greedily to minimise MMD^2 between their points'
    ``states`` and all of ``states`` (RBF kernel, median-distance bandwidth)."""
    distances = torch.cdist(states, states)
    positive = distances[distances > 0]
    bandwidth = float(positive.median()) if len(positive) else 1.0
    kernel = torch.exp(-(distances**2) / (2 * bandwidth**2))
    to_domain = kernel.mean(dim=1)  # mean k(x, D) of each point
    chosen: list[int] = []
    points: list[int] = []
    for _ in range(min(n, len(preimages))):
        best, best_value = -1, float("inf")
        for k, preimage in enumerate(preimages):
            if k in chosen:
                continue
            trial = points + preimage
            value = float(kernel[trial][:, trial].mean() - 2 * to_domain[trial].mean())
            if value < best_value:
                best, best_value = k, value
        chosen.append(best)
        points += preimages[best]
    return chosen


class Presto(Method):
    name = "presto"
    version = 2
    """2: NeuralUCB's Adam runs fused (the same update to rounding, faster)."""
    on_domain = True

    def optimize(self, context: MethodContext, budget: int, rng: random.Random) -> MethodResult:
        domain = context.domain
        if domain is None:
            raise ConfigError("presto chooses among a finite domain's soft prompts: run it on a pool (--domain pool)")
        params = context.params
        tracker = Tracker(context)
        seed = rng.randrange(2**31)
        everything = list(range(len(domain.soft)))
        texts = domain.write_soft(everything)
        states = domain.hidden(everything)
        by_text: dict[str, list[int]] = {}
        for point, text in enumerate(texts):
            by_text.setdefault(text, []).append(point)
        preimages = list(by_text.values())
        labels: dict[int, float] = {}
        """Every point whose instruction is scored, with that score (shared across its preimage)."""

        def evaluate(chosen: list[int]) -> None:
            points = [preimages[k][0] for k in chosen]  # each preimage's first point stands for it
            added = tracker.add([texts[p] for p in points], soft_prompts=[z_tuple(domain.soft[p]) for p in points])
            for k, candidate in zip(chosen, added, strict=True):
                labels.update(dict.fromkeys(preimages[k], candidate.val_score))

        evaluate(representative_instructions(states, preimages, min(params.instinct_n_init, budget)))
        bandit = NeuralUCB(
            states.shape[1],
            lam=params.instinct_lambda,
            nu=params.instinct_nu,
            seed=derive_seed("presto-network", seed) % (2**63),
            steps=params.instinct_train_steps,
        )
        preimage_of = {p: k for k, preimage in enumerate(preimages) for p in preimage}
        while tracker.open(budget):
            remaining = [p for p in everything if p not in labels]
            if not remaining:
                break
            known = sorted(labels)
            bandit.fit(states[known], torch.tensor([labels[p] for p in known], dtype=torch.double))
            offered = sorted(rng.sample(remaining, min(params.instinct_pool, len(remaining))))
            point = offered[bandit.select(states[offered])]
            evaluate([preimage_of[point]])
        return tracker.result


@register("presto")
def _presto() -> Presto:
    return Presto()
