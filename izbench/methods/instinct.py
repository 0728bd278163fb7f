"""INSTINCT (Lin et al., ICML 2024, "Use Your INSTINCT: INSTruction optimization for LLMs usIng
Neural bandits Coupled with Transformers").

InstructZero's pipeline (soft prompt z -> projection -> open LLM -> instruction -> black-box
score) with a different surrogate: a neural network on the open LLM's own representation of
each soft prompt, the final hidden state of the last token of [soft prompt + generator prompt],
chosen by NeuralUCB. As in the paper's code: a domain of ``instinct_domain`` Sobol soft prompts
(10000) whose hidden states are computed once (a forward pass each, no decoding, cached like any
generator call), ``instinct_n_init`` of them (40) scored first at random, then one point per
step chosen by NeuralUCB among ``instinct_pool`` (1000) domain points drawn at random, with the
network refitted (``instinct_train_steps`` Adam steps, 1000) on every score so far. Two
departures, both stated: the network is fitted on the initial scores before the first choice
(the paper's code chooses the first point with the untrained network), and points already
scored are not offered again.

Versions: 3 writes as upstream does (``xqlin98/INSTINCT`` 10edbb3): the raw prompt
``INSTINCT_TEMPLATE`` (no chat template) after the soft prompt, for the hidden states and for the
instructions, 64 new tokens, each instruction "The instruction was to " + the generated text cut
to its first sentence; the domain in [0, 1]^d, 5 demos. 2, kept as ``instinct@2``: InstructZero's
chat prompt ending "to?", 128 tokens, [-1, 1]^d.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import torch

from izbench.choices import PromptProtocol
from izbench.domain import INSTINCT, LEGACY
from izbench.generation import InstructionGenerator
from izbench.methods.base import Method, MethodContext, Tracker, register
from izbench.methods.bo import sobol_points
from izbench.methods.neural_ucb import NeuralUCB
from izbench.methods.soft_prompt import SoftPromptWriter, z_tuple
from izbench.results import MethodResult
from izbench.seeding import derive_seed
from izbench.templates import INSTINCT_PREFIX, INSTINCT_TEMPLATE


class Instinct(Method):
    name = "instinct"
    version = 3
    """3: upstream's writing (raw prompt, 64 tokens, first sentence) and domain ([0, 1]^d, 5
    demos). 2: NeuralUCB's Adam runs fused (the same update to rounding, faster)."""
    versions: tuple[int, ...] = (2,)
    on_domain = True

    def optimize(self, context: MethodContext, budget: int, rng: random.Random) -> MethodResult:
        params = context.params
        tracker = Tracker(context)
        seed = rng.randrange(2**31)
        write: Callable[[list[int]], list[str]]
        if context.domain is None:
            writer = self._writer(context)
            pipeline = INSTINCT if self.version >= 3 else LEGACY
            domain = sobol_points(params.instinct_domain, writer.dim, seed, pipeline)
            states = torch.tensor(writer.hidden(domain), dtype=torch.double)
            if self.version >= 3:
                write = lambda indices: [first_sentence(t) for t in writer.write(domain[indices])]  # noqa: E731
            else:
                write = lambda indices: writer.write(domain[indices])  # noqa: E731
        else:  # a finite domain's points and their hidden states (a pool's)
            domain = context.domain.soft
            states = context.domain.hidden(range(len(domain)))
            write = context.domain.write_soft
        first = rng.sample(range(len(domain)), min(params.instinct_n_init, budget, len(domain)))
        scored: dict[int, float] = {}
        self._evaluate(tracker, write, domain, first, scored)
        bandit = NeuralUCB(
            states.shape[1],
            lam=params.instinct_lambda,
            nu=params.instinct_nu,
            seed=derive_seed("instinct-network", seed) % (2**63),
            steps=params.instinct_train_steps,
        )
        while tracker.open(budget):
            remaining = [i for i in range(len(domain)) if i not in scored]
            if not remaining:
                break
            indices = list(scored)
            bandit.fit(states[indices], torch.tensor([scored[i] for i in indices], dtype=torch.double))
            offered = sorted(rng.sample(remaining, min(params.instinct_pool, len(remaining))))
            chosen = offered[bandit.select(states[offered])]
            self._evaluate(tracker, write, domain, [chosen], scored)
        return tracker.result

    def _writer(self, context: MethodContext) -> SoftPromptWriter:
        """Version 3: upstream's raw prompt and 64 tokens; 2: InstructZero's writer."""
        if self.version < 3:
            return SoftPromptWriter.for_context(context)
        base = context.generator
        raw = InstructionGenerator(
            base.client, template=INSTINCT_TEMPLATE, max_new_tokens=64, protocol=PromptProtocol.RAW, model=base.model
        )
        return SoftPromptWriter(raw, context.split.demos(0, INSTINCT.demos), context.params, context.seed)

    @staticmethod
    def _evaluate(
        tracker: Tracker,
        write: Callable[[list[int]], list[str]],
        domain: torch.Tensor,
        indices: list[int],
        scored: dict[int, float],
    ) -> None:
        zs = domain[indices]
        added = tracker.add(write(indices), soft_prompts=[z_tuple(z) for z in zs])
        for index, candidate in zip(indices, added, strict=True):
            scored[index] = candidate.val_score


SENTENCE_END = re.compile(r" *[\.\?!]['\"\)\]]* *")
"""Upstream's sentence split (``run_neural_bandits.py:213``)."""


def first_sentence(generated: str) -> str:
    """Upstream INSTINCT's post-processing: the prefix prepended, the text cut at "Comment:",
    and the first sentence that starts with the prefix (its end punctuation dropped, as there)."""
    text = f"{INSTINCT_PREFIX} {generated.strip()}"
    end = text.find("Comment:")
    if end != -1:
        text = text[:end]
    return next((s for s in SENTENCE_END.split(text) if s.startswith(INSTINCT_PREFIX)), text).strip()


@register("instinct")
def _instinct() -> Instinct:
    return Instinct()
