"""InstructZero (Chen et al. 2023): Bayesian optimization of a soft prompt for the open LLM.

Loop: ``n_init`` scrambled-Sobol soft prompts z; each z -> soft prompt -> instruction (open LLM)
-> validation score vector (black box). Then rounds of ``n_per_iter`` proposals from the GP with
the instruction-coupled kernel, an acquisition and CMA-ES, until ``budget`` distinct instructions
are scored (or ``3 * budget`` proposals, when the generator keeps repeating itself).

Versions: 3 runs upstream's pipeline (z in [0, 1]^d, 10 demos; on a pool, acquisition ties go
to a seeded draw); 2, kept as ``instructzero@2``, izbench's first ([-1, 1]^d, 5 demos, ties to
the lower row). ``instructzero-logei`` is version 3 with botorch's LogEI in place of EI.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import torch

from izbench.domain import LEGACY, UPSTREAM, SoftPipeline
from izbench.methods.base import Method, MethodContext, Tracker, register
from izbench.methods.bo import BOSettings, Round, propose, propose_on_domain, sobol_points
from izbench.methods.soft_prompt import SoftPromptWriter, z_tuple
from izbench.results import MethodResult

if TYPE_CHECKING:
    from izbench.domain import Domain


class InstructZero(Method):
    name = "instructzero"
    version = 3
    """3: upstream's soft-prompt pipeline and seeded ties on a pool. 2: the instruction kernel
    carries upstream's Gamma(3, 6) lengthscale prior (1 lacked it)."""
    versions: tuple[int, ...] = (2,)
    on_domain = True

    def __init__(self, coupled: bool = True, acquisition: str = "ei", upstream_from: int = 3) -> None:
        self.coupled = coupled
        self.acquisition = acquisition
        self.upstream_from = upstream_from
        """The first version that runs upstream's pipeline (and seeded ties)."""

    @property
    def pipeline(self) -> SoftPipeline:
        return UPSTREAM if self.version >= self.upstream_from else LEGACY

    def settings(self, context: MethodContext, dim: int, pipeline: SoftPipeline) -> BOSettings:
        return BOSettings(
            intrinsic_dim=dim,
            coupled=self.coupled,
            cma_iterations=context.params.cma_iterations,
            pipeline=pipeline,
            acquisition=self.acquisition,
            seeded_ties=self.version >= self.upstream_from,
        )

    def optimize(self, context: MethodContext, budget: int, rng: random.Random) -> MethodResult:
        if context.domain is not None:
            return self._on_domain(context, context.domain, budget, rng)
        writer = SoftPromptWriter.for_context(context, self.pipeline)
        tracker = Tracker(context)
        n_init = min(context.params.n_init, budget)
        n_per_iter = context.params.n_per_iter
        settings = self.settings(context, writer.dim, self.pipeline)
        seed = rng.randrange(2**31)
        z_seen = sobol_points(n_init, writer.dim, seed, self.pipeline)
        self._evaluate(tracker, writer, z_seen)
        rounds = 0
        while tracker.open(budget):
            want = min(n_per_iter, tracker.left(budget))
            y = torch.tensor([c.val_score for c in tracker.result.candidates], dtype=torch.double)
            scores = torch.tensor([c.val_scores for c in tracker.result.candidates], dtype=torch.double)
            found: Round = context.offload(propose, z_seen, y, scores, want, settings, seed + rounds + 1)
            self._evaluate(tracker, writer, found.points, found.note, found.diagnostics)
            z_seen = torch.cat([z_seen, found.points])
            rounds += 1
        return tracker.result

    def _on_domain(self, context: MethodContext, domain: Domain, budget: int, rng: random.Random) -> MethodResult:
        """The same loop over a finite domain: ``n_init`` points drawn at random, then each round
        the GP (same kernel, same fit) picks the unevaluated points of highest acquisition."""
        tracker = Tracker(context)
        settings = self.settings(context, domain.soft.shape[1], domain.pipeline)
        seed = rng.randrange(2**31)
        seen = rng.sample(range(len(domain.soft)), min(context.params.n_init, budget, len(domain.soft)))
        self._evaluate_points(tracker, domain, seen)
        rounds = 0
        while tracker.open(budget) and len(seen) < len(domain.soft):
            want = min(context.params.n_per_iter, tracker.left(budget))
            y = torch.tensor([c.val_score for c in tracker.result.candidates], dtype=torch.double)
            scores = torch.tensor([c.val_scores for c in tracker.result.candidates], dtype=torch.double)
            taken = set(seen)
            remaining = [p for p in range(len(domain.soft)) if p not in taken]
            candidates = domain.soft[remaining]
            picked, note, diagnostics = context.offload(
                propose_on_domain, domain.soft[seen], y, scores, candidates, want, settings, seed + rounds + 1
            )
            chosen = [remaining[k] for k in picked]
            self._evaluate_points(tracker, domain, chosen, note, diagnostics)
            seen += chosen
            rounds += 1
        return tracker.result

    @staticmethod
    def _evaluate_points(
        tracker: Tracker,
        domain: Domain,
        points: list[int],
        note: str | None = None,
        diagnostics: list[dict[str, object]] | None = None,
    ) -> None:
        soft: list[tuple[float, ...] | None] = [z_tuple(domain.soft[p]) for p in points]
        tracker.add(domain.write_soft(points), soft_prompts=soft, note=note, acquisition=diagnostics)

    @staticmethod
    def _evaluate(
        tracker: Tracker,
        writer: SoftPromptWriter,
        zs: torch.Tensor,
        note: str | None = None,
        diagnostics: list[dict[str, object]] | None = None,
    ) -> None:
        instructions = writer.write(zs)
        tracker.add(instructions, soft_prompts=[z_tuple(z) for z in zs], note=note, acquisition=diagnostics)


@register("instructzero")
def _instructzero() -> InstructZero:
    return InstructZero(coupled=True)


@register("instructzero-logei")
def _instructzero_logei() -> InstructZero:
    """Upstream's loop with LogEI (Ament et al. 2023): the same kernel, fit and CMA-ES, an
    acquisition that still ranks points where EI underflows to 0."""
    m = InstructZero(coupled=True, acquisition="logei", upstream_from=1)
    m.name = "instructzero-logei"
    m.version = 1
    m.versions = ()
    return m


@register("instructzero-matern")
def _instructzero_matern() -> InstructZero:
    """The ablation: the same loop with a plain Matern kernel on z (version 1: izbench's first
    pipeline, as before; version 2: upstream's)."""
    m = InstructZero(coupled=False, upstream_from=2)
    m.name = "instructzero-matern"
    m.version = 2
    m.versions = (1,)
    return m
