"""OPRO (Yang et al. 2023, "Large Language Models as Optimizers"), for instruction induction.

The optimizer LLM (the black box by default; ``writer: local`` for the generator) reads a
meta-prompt: the best instructions so far with their validation scores in ascending order
(at most ``opro_shown``, the paper's 20), then ``opro_exemplars`` task exemplars (the paper's 3,
drawn afresh each step from the demo pool) with ``<INS>`` where the instruction goes, then the
paper's request for a different, higher-scoring instruction between ``<INS>`` and ``</INS>``.
Each step samples ``opro_per_step`` instructions (the paper's 8) at temperature 1.0, each with
its own sample index, so every sample is cached and replayable on its own. The search starts
from the empty instruction. Scores are shown as the paper shows accuracy (0 to 100) under
generate and choice scoring, and as nats per token under likelihood scoring.
"""

from __future__ import annotations

import random

from izbench.methods.base import Method, MethodContext, Tracker, register
from izbench.methods.writing import between_tags, writer
from izbench.results import Candidate, MethodResult

HEAD_ACCURACY = (
    "Your task is to generate the instruction <INS>. Below are some previous instructions with their scores. "
    "The score ranges from 0 to 100.\n"
)
HEAD_LIKELIHOOD = (
    "Your task is to generate the instruction <INS>. Below are some previous instructions with their scores. "
    "The score is the average log-probability of the correct output; higher is better.\n"
)
TAIL = (
    "\n\nGenerate an instruction that is different from all the instructions <INS> above, and has a higher "
    "score than all the instructions <INS> above. The instruction should begin with <INS> and end with </INS>. "
    "The instruction should be concise, effective, and generally applicable to all problems above."
)


def meta_prompt(shown: list[Candidate], exemplars: list[tuple[str, str]], likelihood: bool) -> str:
    """The paper's meta-prompt: scored instructions (ascending), exemplars, the request."""
    pairs = "".join(
        f"\ntext:\n{c.instruction}\nscore:\n{c.val_score:.2f}\n"
        if likelihood
        else f"\ntext:\n{c.instruction}\nscore:\n{round(100 * c.val_score)}\n"
        for c in shown
    )
    problems = "".join(f"\nProblem:\n<INS>\n{x}\n\nGround truth answer:\n{y}\n" for x, y in exemplars)
    head = HEAD_LIKELIHOOD if likelihood else HEAD_ACCURACY
    body = head + pairs
    if exemplars:
        body += "\n\nBelow are some problems.\n" + problems
    return body + TAIL


def best_so_far(candidates: list[Candidate], limit: int) -> list[Candidate]:
    """The ``limit`` best distinct instructions, in ascending order of score (the best last);
    ties keep the earlier proposal higher."""
    distinct = [c for c in candidates if c.new]
    ranked = sorted(distinct, key=lambda c: (c.val_score, -c.step))
    return ranked[-limit:]


class OPRO(Method):
    name = "opro"
    version = 1

    def optimize(self, context: MethodContext, budget: int, rng: random.Random) -> MethodResult:
        params = context.params
        write = writer(context, max_new_tokens=60)
        likelihood = context.scorer.score_function == "likelihood"
        tracker = Tracker(context)
        tracker.add([""], parents=["initial"])
        seed = rng.randrange(2**31)
        step = 0
        sampled = 0
        while tracker.open(budget):
            shown = best_so_far(tracker.result.candidates, params.opro_shown)
            demos = context.split.demos(step)[: params.opro_exemplars]
            prompt = meta_prompt(shown, [(e.input, e.answers[0]) for e in demos], likelihood)
            n = min(params.opro_per_step, tracker.left(budget))
            texts = write.generate(
                [(None, prompt)] * n, seed=seed, temperature=1.0, sample_indices=range(sampled, sampled + n)
            )
            sampled += n
            tracker.add([between_tags(t, "INS") for t in texts])
            step += 1
        return tracker.result


@register("opro")
def _opro() -> OPRO:
    return OPRO()
