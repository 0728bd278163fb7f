"""PRESTO (Chu, Lee and Kim, NeurIPS 2025, "Preimage-Informed Instruction Optimization for
Prompting Black-Box LLMs"), on a finite domain of soft prompts.

The generator maps many soft prompts to one instruction; PRESTO reads that many-to-one map (each
instruction's *preimage*: the domain points that write it) as prior knowledge. Built on INSTINCT
(NeuralUCB on the generator's last-token hidden states), with the paper's three parts, as its
code runs them (``mlvlab/PRESTO`` 7f07ba6, ``Induction/experiments``; version 3):

1. **Score sharing.** Scoring an instruction labels every point of its preimage with the same
   score, so the network trains on all of them for the price of one black-box evaluation; only
   points whose instruction is unscored are offered to the bandit.
2. **Preimage-based initialization** (``group_init.py``). Among the preimages of five points or
   more, ``instinct_n_init`` are chosen greedily, each step taking the preimage with the largest
   ``size / largest size + (1 - MMD^2 / largest MMD^2)``, where ``MMD^2`` is the unbiased squared
   maximum mean discrepancy between the hidden states of the chosen points (with it) and of the
   whole domain, under an RBF kernel ``exp(-d^2 / (2 median d^2))``. With too few such preimages,
   the largest ones (``run_neural_bandits.py:272-277``).
3. **Score consistency** (``LlamaForMLPRegression.py:150-177``): the network's loss adds a term,
   ramped up over the first half of the steps, pulling its outputs together within each unscored
   preimage (``neural_ucb.PRESTO_RECIPE``); and the exploration matrix ``U`` grows with every
   point of the unscored preimages after the first fit and with the other points of each chosen
   preimage after every query (``run_neural_bandits.py:299-318``).

The network is PRESTO's: ``nn.Linear``'s initialisation, Adam at 1e-4 without weight decay, float32.
A run stops early at a validation score of 1.0, as upstream's does (never under likelihood).
Version 2 (``presto@2``): INSTINCT's network recipe, a biased MMD without the size term or the
five-point filter, no consistency term, ``U`` updated by the chosen point alone.

Left as they are: the domain is the pool's (shared by every method, d = 10), not PRESTO's own of
10,000 points at d = 50, and it is written by the pool's pipeline; the network's seed is the
run's (upstream: 0). The domain's instructions are all known before the first score (a pool
holds them; written live, that is one generator call per point), as in the paper.
"""

from __future__ import annotations

import random

import torch

from izbench.errors import ConfigError
from izbench.methods.base import Method, MethodContext, Tracker, register
from izbench.methods.neural_ucb import INSTINCT_RECIPE, PRESTO_RECIPE, NeuralUCB
from izbench.methods.soft_prompt import z_tuple
from izbench.results import MethodResult
from izbench.seeding import derive_seed

MIN_GROUP = 5
"""PRESTO initialises among preimages of at least this many points (``run_neural_bandits.py:272``)."""


def squared_distances(x: torch.Tensor) -> torch.Tensor:
    """``|x_i|^2 + |x_j|^2 - 2 x_i . x_j``, upstream's formula (``group_init.py:5-8``)."""
    norms = (x * x).sum(1, keepdim=True)
    return norms + norms.T - 2 * (x @ x.T)


def group_initialization(states: torch.Tensor, preimages: list[list[int]], n: int) -> list[int]:
    """Indices of ``n`` preimages as PRESTO's ``greedy_group_selection`` picks them (with its
    fallback to the largest preimages when too few have ``MIN_GROUP`` points).

    The kernel matrix of the whole domain is computed once and the chosen points' kernel sums
    are carried from step to step; upstream recomputes them per candidate, to the same values."""
    eligible = [k for k, p in enumerate(preimages) if len(p) >= MIN_GROUP]
    if len(eligible) <= n:
        by_size = sorted(range(len(preimages)), key=lambda k: len(preimages[k]), reverse=True)
        return by_size[:n]
    x = states.to(torch.float32)
    d2 = squared_distances(x)
    off = ~torch.eye(len(x), dtype=torch.bool)
    kernel = torch.exp(-d2 / (2 * d2[off].median()))
    size = len(x)
    domain_term = (kernel.sum() - kernel.diagonal().sum()) / (size * (size - 1))
    to_domain = kernel.sum(dim=0)  # sum_i k(x_i, y) of each point y
    union: list[int] = []
    union_inner = torch.tensor(0.0)  # sum of k over ordered pairs of distinct chosen points
    cross = torch.zeros(len(preimages))  # sum of k between the chosen points and each preimage's
    inner = {}  # sum of k over ordered pairs of distinct points within each preimage
    for k in eligible:
        within = kernel[preimages[k]][:, preimages[k]]
        inner[k] = within.sum() - within.diagonal().sum()
    remaining = list(eligible)
    chosen: list[int] = []
    for _ in range(n):
        mmd = {}
        for k in remaining:
            m = len(union) + len(preimages[k])
            pairs = union_inner + 2 * cross[k] + inner[k]
            mixed = (to_domain[union].sum() + to_domain[preimages[k]].sum()) / (size * m)
            mmd[k] = max(float(domain_term + pairs / (m * (m - 1)) - 2 * mixed), 0.0)
        largest_mmd = max(mmd.values())
        largest_size = max(len(preimages[k]) for k in remaining)
        best, best_total = -1, -float("inf")
        for k in remaining:
            spread = 1 - mmd[k] / largest_mmd if largest_mmd > 0 else 0.0
            total = len(preimages[k]) / largest_size + spread
            if total > best_total:
                best, best_total = k, total
        chosen.append(best)
        remaining.remove(best)
        union_inner = union_inner + 2 * cross[best] + inner[best]
        added = kernel[preimages[best]]
        for k in remaining:
            cross[k] += added[:, preimages[k]].sum()
        union += preimages[best]
    return chosen


def representative_instructions(states: torch.Tensor, preimages: list[list[int]], n: int) -> list[int]:
    """Version 2's initialisation: indices of ``n`` preimages chosen greedily to minimise the
    biased MMD^2 between their points' ``states`` and all of ``states`` (RBF kernel,
    median-distance bandwidth)."""
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
    version = 3
    """3: PRESTO's own initialisation, network recipe, score consistency and ``U`` updates
    (7f07ba6). 2: NeuralUCB's Adam runs fused (the same update to rounding, faster)."""
    versions: tuple[int, ...] = (2,)
    on_domain = True

    def optimize(self, context: MethodContext, budget: int, rng: random.Random) -> MethodResult:
        domain = context.domain
        if domain is None:
            raise ConfigError("presto chooses among a finite domain's soft prompts: run it on a pool (--domain pool)")
        params = context.params
        tracker = Tracker(context)
        seed = rng.randrange(2**31)
        upstream = self.version >= 3
        everything = list(range(len(domain.soft)))
        texts = domain.write_soft(everything)
        states = domain.hidden(everything)
        by_text: dict[str, list[int]] = {}
        for point, text in enumerate(texts):
            by_text.setdefault(text, []).append(point)
        preimages = list(by_text.values())
        labels: dict[int, float] = {}
        """Every point whose instruction is scored, with that score (shared across its preimage)."""
        scored: set[int] = set()
        best = -float("inf")

        def evaluate(chosen: list[int], points: list[int]) -> None:
            nonlocal best
            added = tracker.add([texts[p] for p in points], soft_prompts=[z_tuple(domain.soft[p]) for p in points])
            for k, candidate in zip(chosen, added, strict=True):
                labels.update(dict.fromkeys(preimages[k], candidate.val_score))
                scored.add(k)
                best = max(best, candidate.val_score)

        def unscored_groups() -> list[torch.Tensor]:
            """The hidden states of each unscored preimage of two points or more."""
            return [states[p] for k, p in enumerate(preimages) if k not in scored and len(p) >= 2]

        def fit() -> None:
            known = sorted(labels)
            rewards = torch.tensor([labels[p] for p in known], dtype=torch.double)
            bandit.fit(states[known], rewards, unscored_groups() if upstream else ())

        n_init = min(params.instinct_n_init, budget)
        initialize = group_initialization if upstream else representative_instructions
        first = initialize(states, preimages, n_init)
        evaluate(first, [preimages[k][0] for k in first])  # each preimage's first point stands for it
        bandit = NeuralUCB(
            states.shape[1],
            lam=params.instinct_lambda,
            nu=params.instinct_nu,
            seed=derive_seed("presto-network", seed) % (2**63),
            steps=params.instinct_train_steps,
            recipe=PRESTO_RECIPE if upstream else INSTINCT_RECIPE,
        )
        preimage_of = {p: k for k, preimage in enumerate(preimages) for p in preimage}
        if upstream and tracker.open(budget):
            fit()
            groups = unscored_groups()
            bandit.update_exploration(torch.cat(groups) if groups else states[:0])
        while tracker.open(budget):
            remaining = [p for p in everything if p not in labels]
            if not remaining:
                break
            if not upstream:
                fit()
            offered = sorted(rng.sample(remaining, min(params.instinct_pool, len(remaining))))
            point = offered[bandit.select(states[offered])]
            k = preimage_of[point]
            if upstream:
                bandit.update_exploration(states[[p for p in preimages[k] if p != point]])
                evaluate([k], [point])
                if best == 1.0:  # upstream's stop at a perfect score
                    break
                if tracker.open(budget):
                    fit()
            else:
                evaluate([k], [preimages[k][0]])
        return tracker.result


@register("presto")
def _presto() -> Presto:
    return Presto()
