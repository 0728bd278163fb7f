"""InstructZero (Chen et al. 2023): Bayesian optimization of a soft prompt for the open LLM.

Loop: ``n_init`` scrambled-Sobol soft prompts z; each z -> soft prompt -> instruction (open LLM)
-> validation score vector (black box). Then rounds of ``n_per_iter`` proposals from the GP with
the instruction-coupled kernel, EI and CMA-ES, until ``budget`` distinct instructions are scored
(or ``3 * budget`` proposals, when the generator keeps repeating itself).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import torch

from izbench.methods.base import Method, MethodContext, Tracker, register
from izbench.methods.bo import BOSettings, propose, propose_on_domain, sobol_points
from izbench.methods.soft_prompt import SoftPromptWriter, z_tuple
from izbench.results import MethodResult

if TYPE_CHECKING:
    from izbench.pool.domain import Domain


class InstructZero(Method):
    name = "instructzero"
    version = 2
    """2: the instruction kernel carries upstream's Gamma(3, 6) lengthscale prior (1 lacked it)."""
    on_domain = True

    def __init__(self, coupled: bool = True) -> None:
        self.coupled = coupled

    def optimize(self, context: MethodContext, budget: int, rng: random.Random) -> MethodResult:
        if context.domain is not None:
            return self._on_domain(context, context.domain, budget, rng)
        writer = SoftPromptWriter.for_context(context)
        tracker = Tracker(context)
        n_init = min(context.params.n_init, budget)
        n_per_iter = context.params.n_per_iter
        settings = BOSettings(
            intrinsic_dim=writer.dim,
            coupled=self.coupled,
            cma_iterations=context.params.cma_iterations,
        )
        seed = rng.randrange(2**31)
        z_seen = sobol_points(n_init, writer.dim, seed)
        self._evaluate(tracker, writer, z_seen)
        rounds = 0
        while tracker.distinct < budget and tracker.result.proposals < 3 * budget:
            want = min(n_per_iter, budget - tracker.distinct)
            y = torch.tensor([c.val_score for c in tracker.result.candidates], dtype=torch.double)
            scores = torch.tensor([c.val_scores for c in tracker.result.candidates], dtype=torch.double)
            new_z, fit_note = context.offload(propose, z_seen, y, scores, want, settings, seed + rounds + 1)
            self._evaluate(tracker, writer, new_z, fit_note)
            z_seen = torch.cat([z_seen, new_z])
            rounds += 1
        return tracker.result

    def _on_domain(self, context: MethodContext, domain: Domain, budget: int, rng: random.Random) -> MethodResult:
        """The same loop over a finite domain: ``n_init`` points drawn at random, then each round
        the GP (same kernel, same fit) picks the unevaluated points of highest EI."""
        tracker = Tracker(context)
        settings = BOSettings(intrinsic_dim=domain.soft.shape[1], coupled=self.coupled)
        seed = rng.randrange(2**31)
        seen = rng.sample(range(len(domain.soft)), min(context.params.n_init, budget, len(domain.soft)))
        self._evaluate_points(tracker, domain, seen)
        rounds = 0
        while tracker.distinct < budget and tracker.result.proposals < 3 * budget and len(seen) < len(domain.soft):
            want = min(context.params.n_per_iter, budget - tracker.distinct)
            y = torch.tensor([c.val_score for c in tracker.result.candidates], dtype=torch.double)
            scores = torch.tensor([c.val_scores for c in tracker.result.candidates], dtype=torch.double)
            taken = set(seen)
            remaining = [p for p in range(len(domain.soft)) if p not in taken]
            candidates = domain.soft[remaining]
            picked, note = context.offload(
                propose_on_domain, domain.soft[seen], y, scores, candidates, want, settings, seed + rounds + 1
            )
            chosen = [remaining[k] for k in picked]
            self._evaluate_points(tracker, domain, chosen, note)
            seen += chosen
            rounds += 1
        return tracker.result

    @staticmethod
    def _evaluate_points(tracker: Tracker, domain: Domain, points: list[int], note: str | None = None) -> None:
        tracker.add(domain.write_soft(points), soft_prompts=[z_tuple(domain.soft[p]) for p in points], note=note)

    @staticmethod
    def _evaluate(tracker: Tracker, writer: SoftPromptWriter, zs: torch.Tensor, note: str | None = None) -> None:
        instructions = writer.write(zs)
        tracker.add(instructions, soft_prompts=[z_tuple(z) for z in zs], note=note)


@register("instructzero")
def _instructzero() -> InstructZero:
    return InstructZero(coupled=True)


@register("instructzero-matern")
def _instructzero_matern() -> InstructZero:
    """The ablation: the same loop with a plain Matern kernel on z."""
    m = InstructZero(coupled=False)
    m.name = "instructzero-matern"
    m.version = 1  # its kernel did not change in version 2
    return m
