"""EvoPrompt, genetic-algorithm variant (Guo et al. 2024, "Connecting Large Language Models with
Evolutionary Algorithms Yields Powerful Prompt Optimizers").

A population of ``population`` instructions (the paper's 10), first written by the writer model
(the black box by default) from demos with APE's forward template, evolves by the paper's GA
prompt: the writer crosses two parents over and mutates the result, answering between
``<prompt>`` and ``</prompt>`` (temperature 0.5, the paper's). Parents come from a roulette
wheel over the population's validation scores, shifted so the worst member weighs nothing
(likelihood scores are negative; all equal means uniform), then two drawn without replacement
as in the paper's code. After each generation the population is the best ``population`` of
parents and children ("topk", the paper's default). Every draw uses the cell's own RNG.

Version 2 starts as upstream's scripts do (``beeevita/EvoPrompt`` 94caff3: ``--initial all
--initial_mode para_topk``, ``evoluter.py:84-200``): the manual prompts (the task's references)
and APE's prompts (written with APE's template) are scored, the best half of the population
kept, and each paraphrased by the writer ("Generate a variation of the following instruction
while keeping the semantic meaning.", temperature 1.0, the API's default): the first
population is the best half and their paraphrases. Version 1 (``evoprompt-ga@1``): the whole
first population written from demos with the Instruction Induction prompt.
"""

from __future__ import annotations

import random

from izbench.methods.ape import shared_sets, write_from_demos
from izbench.methods.base import Method, MethodContext, Tracker, register
from izbench.methods.writing import between_tags, writer
from izbench.results import MethodResult
from izbench.templates import APE_TEMPLATE, EVOPROMPT_PARAPHRASE_TEMPLATE, INDUCTION_TEMPLATE

GA_TEMPLATE = """Please follow the instruction step-by-step to generate a better prompt.
1. Crossover the following prompts and generate a new prompt:
Prompt 1: Rewrite the input text into simpler text.
Prompt 2: Rewrite my complex sentence in simpler terms, but keep the meaning.
2. Mutate the prompt generated in Step 1 and generate a final prompt bracketed with <prompt> and </prompt>.

1. Crossover Prompt: Rewrite the complex text into simpler text while keeping its meaning.
2. <prompt>Transform the provided text into simpler language, maintaining its essence.</prompt>

Please follow the instruction step-by-step to generate a better prompt.
1. Crossover the following prompts and generate a new prompt:
Prompt 1: <prompt1>
Prompt 2: <prompt2>
2. Mutate the prompt generated in Step 1 and generate a final prompt bracketed with <prompt> and </prompt>.

1. """
"""The paper's GA prompt with its one worked example (its generic task variant)."""


def wheel_weights(scores: list[float]) -> list[float]:
    """Roulette-wheel weights: scores shifted so the worst weighs zero; uniform when all tie."""
    low = min(scores)
    shifted = [s - low for s in scores]
    return shifted if sum(shifted) > 0 else [1.0] * len(scores)


class EvoPromptGA(Method):
    name = "evoprompt-ga"
    version = 2
    """2: upstream's first population (references and APE's prompts, the best half and their
    paraphrases). 1: a first population written from demos."""
    versions: tuple[int, ...] = (1,)

    def optimize(self, context: MethodContext, budget: int, rng: random.Random) -> MethodResult:
        size = min(context.params.population, budget)
        tracker = Tracker(context)
        seed = rng.randrange(2**31)
        if self.version >= 2:
            population, sampled = self._initial_upstream(context, tracker, size, seed, budget)
            scores = {c.instruction: c.val_score for c in tracker.result.candidates}
        else:
            sampled = self._initial(context, tracker, size, seed)
            scores = {c.instruction: c.val_score for c in tracker.result.candidates}
            population = sorted(scores, key=lambda i: -scores[i])[:size]
        crossover = writer(context, max_new_tokens=128)
        while tracker.open(budget):
            wheel = rng.choices(population, weights=wheel_weights([scores[p] for p in population]), k=len(population))
            n = min(len(population), tracker.left(budget))
            couples = [rng.sample(wheel, 2) if len(wheel) > 1 else [wheel[0], wheel[0]] for _ in range(n)]
            prompts = [GA_TEMPLATE.replace("<prompt1>", a).replace("<prompt2>", b) for a, b in couples]
            texts = crossover.generate(
                [(None, p) for p in prompts], seed=seed, temperature=0.5, sample_indices=range(sampled, sampled + n)
            )
            sampled += n
            children = tracker.add(
                [between_tags(t, "prompt") for t in texts], parents=[f"{a} || {b}" for a, b in couples]
            )
            scores.update({c.instruction: c.val_score for c in children})
            pool = list(dict.fromkeys(population + [c.instruction for c in children]))
            population = sorted(pool, key=lambda i: -scores[i])[:size]
        return tracker.result

    @staticmethod
    def _initial_upstream(
        context: MethodContext, tracker: Tracker, size: int, seed: int, budget: int
    ) -> tuple[list[str], int]:
        """Upstream's ``para_topk`` start: the references and APE's prompts (``size`` distinct in
        all, or ``3 * size`` samples) scored, the best ``size // 2`` kept and each paraphrased;
        returns the first population and the samples drawn. Stops where the budget does."""
        references = list(dict.fromkeys(context.annotations))[:size]
        if references:
            tracker.add(references, parents=["manual"] * len(references))
        forward = writer(context, max_new_tokens=50, template=APE_TEMPLATE)
        sampled = 0
        while tracker.distinct < size and sampled < 3 * size and tracker.open(budget):
            n = min(size - tracker.distinct, tracker.left(budget))
            texts = write_from_demos(forward, context, seed, sampled, n, demo_set=shared_sets(size))
            sampled += n
            tracker.add(texts, parents=["ape"] * n)
        scores = {c.instruction: c.val_score for c in tracker.result.candidates}
        # Best first; a tie keeps the earlier candidate first (a stable sort).
        top = sorted(scores, key=lambda i: -scores[i])[: max(1, size // 2)]
        n = min(len(top), tracker.left(budget)) if tracker.open(budget) else 0
        if n == 0:
            return top, sampled
        paraphrase = writer(context, max_new_tokens=128, template=EVOPROMPT_PARAPHRASE_TEMPLATE)
        texts = paraphrase.generate(
            [(None, t) for t in top[:n]], seed=seed, temperature=1.0, sample_indices=range(sampled, sampled + n)
        )
        sampled += n
        parents: list[str | None] = list(top[:n])
        paraphrased = tracker.add(texts, parents=parents)
        return list(dict.fromkeys(top + [c.instruction for c in paraphrased]))[:size], sampled

    @staticmethod
    def _initial(context: MethodContext, tracker: Tracker, size: int, seed: int) -> int:
        """The first population: instructions written from demos (APE's template), until
        ``size`` distinct ones or ``3 * size`` samples; returns the samples drawn."""
        forward = writer(context, max_new_tokens=50, template=INDUCTION_TEMPLATE)
        sampled = 0
        # Distinct in either budget unit: the population's members must differ.
        while tracker.distinct < size and sampled < 3 * size:
            n = size - tracker.distinct
            texts = write_from_demos(forward, context, seed, sampled, n)
            sampled += n
            tracker.add(texts, parents=["initial"] * n)
        return sampled


@register("evoprompt-ga")
def _evoprompt_ga() -> EvoPromptGA:
    return EvoPromptGA()
