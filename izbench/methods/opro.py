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

Version 2 reads the writer's output as upstream's GPT path does (``google-deepmind/opro``
e81b2f5, ``opro/optimization/opt_utils.py:745-818``): up to 512 new tokens, written until the first
``</INS>``; the text between the first ``<INS>`` and there, stripped; ``polish_sentence``
(``opro/evaluation/eval_utils.py:90-117``: ``**`` removed, the first letter capitalised);
instructions longer than 500 characters or containing "INS" are dropped unscored (a writer
call, no evaluation); and under accuracy-scale scoring only instructions scoring at least
``opro_threshold`` are shown. Version 1 (``opro@1``): 60 tokens, the last tagged span's first
paragraph, no polish, no drops, no threshold.
"""

from __future__ import annotations

import random

from izbench.methods.base import Method, MethodContext, Tracker, register
from izbench.methods.writing import between_tags, writer
from izbench.results import Candidate, MethodResult

MAX_NEW_TOKENS = 512
"""Upstream's GPT optimizer decodes up to 512 tokens (``optimize_instructions.py:340``)."""
MAX_CHARS = 500
"""Upstream skips longer instructions unscored (``opt_utils.py:805``)."""

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


def best_so_far(candidates: list[Candidate], limit: int, threshold: float | None = None) -> list[Candidate]:
    """The ``limit`` best distinct instructions, in ascending order of score (the best last);
    ties keep the earlier proposal higher. With ``threshold``, those of the ``limit`` scoring
    below it are left out, as upstream filters after keeping the top ones (``opt_utils.py:62-70``)."""
    distinct = [c for c in candidates if c.new]
    ranked = sorted(distinct, key=lambda c: (c.val_score, -c.step))[-limit:]
    if threshold:
        ranked = [c for c in ranked if c.val_score >= threshold]
    return ranked


def read_instruction(output: str) -> str:
    """Upstream's reading of a GPT optimizer's output: from after the first ``<INS>`` (or the
    start) to the first ``</INS>`` (or the end), stripped, then ``polish_sentence``."""
    start = output.index("<INS>") + len("<INS>") if "<INS>" in output else 0
    end = output.index("</INS>") if "</INS>" in output else len(output)
    return polish(output[start:end].strip())


def polish(sentence: str) -> str:
    """Upstream's ``polish_sentence`` (without an ending mark): stripped, ``**`` removed, the first
    letter capitalised."""
    sentence = sentence.strip()
    if sentence:
        sentence = sentence.replace("**", "")
        if len(sentence) > 1:
            sentence = sentence[0].upper() + sentence[1:]
    return sentence


def kept(instruction: str) -> bool:
    """Whether upstream evaluates an instruction (not over 500 characters, no "INS" in it)."""
    return len(instruction) <= MAX_CHARS and "INS" not in instruction


class OPRO(Method):
    name = "opro"
    version = 2
    """2: upstream's writing length, reading, polish, drops and threshold. 1: 60 tokens, the last
    tagged span's first paragraph."""
    versions: tuple[int, ...] = (1,)

    def optimize(self, context: MethodContext, budget: int, rng: random.Random) -> MethodResult:
        params = context.params
        upstream = self.version >= 2
        if upstream:
            write = writer(context, max_new_tokens=MAX_NEW_TOKENS, stop=("</INS>",))
        else:
            write = writer(context, max_new_tokens=60)
        likelihood = context.scorer.score_function == "likelihood"
        threshold = params.opro_threshold if upstream and not likelihood else None
        tracker = Tracker(context)
        tracker.add([""], parents=["initial"])
        seed = rng.randrange(2**31)
        step = 0
        sampled = 0
        # Dropped samples cost writer calls and no evaluation: the cap on samples keeps a writer
        # that only writes what upstream drops from running forever.
        while tracker.open(budget) and sampled < 3 * budget:
            shown = best_so_far(tracker.result.candidates, params.opro_shown, threshold)
            demos = context.split.demos(step)[: params.opro_exemplars]
            prompt = meta_prompt(shown, [(e.input, e.answers[0]) for e in demos], likelihood)
            n = min(params.opro_per_step, tracker.left(budget))
            texts = write.generate(
                [(None, prompt)] * n, seed=seed, temperature=1.0, sample_indices=range(sampled, sampled + n)
            )
            sampled += n
            if upstream:
                instructions = [i for i in (read_instruction(t) for t in texts) if kept(i)]
            else:
                instructions = [between_tags(t, "INS") for t in texts]
            if instructions:
                tracker.add(instructions)
            step += 1
        return tracker.result


@register("opro")
def _opro() -> OPRO:
    return OPRO()
