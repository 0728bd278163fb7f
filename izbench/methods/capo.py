"""CAPO (Zehle et al., AutoML 2025, "CAPO: Cost-Aware Prompt Optimization"), read from
``automl/promptolution`` 7999405 (``promptolution/optimizers/capo.py``, ``utils/capo_utils.py``,
``utils/templates.py``, ``utils/test_statistics.py``; Apache-2.0).

A prompt is an instruction and 0 .. ``capo_upper_shots`` few-shot examples (demos, each
``Input:\\n<x>\\nOutput:\\n<y>``). The first population is ``population`` instructions the writer
writes from demos with APE's template (upstream's ``create_prompts_from_samples`` is APE's
idea too), each with a random number of shots. Each step:

- **crossover** (``capo_crossovers`` times): two parents drawn without replacement; the writer
  merges their instructions with upstream's template; the child's shots are a random half of
  both parents' (``(n_a + n_b) // 2`` drawn from their union);
- **mutation**: the writer rephrases each child's instruction with upstream's template; then
  with probability 1/3 a new shot is added (below the cap), 1/3 one is dropped, else kept, and
  the shots are shuffled;
- **racing** of the population and the children on sequential blocks of the validation set:
  after each block every candidate's scores so far, less ``capo_length_penalty`` x its length
  relative to the first population's longest, are compared pairwise by a one-sided paired
  t-test (``alpha`` ``capo_alpha``); a candidate that ``population`` others beat is dropped;
  racing stops when ``population`` are left or after ``capo_blocks`` blocks; the survivors'
  means over the blocks they have seen rank them and the best ``population`` stay.

Both meta-prompts go to the writer (the black box by default, as the meta-LLM; ``writer:
local`` for the generator), sampled at temperature 1.0 (upstream's API default), each with its
own sample index. Every candidate is recorded with the blocks it raced on (a prefix of the
validation set), so a candidate dropped after one block costs one block.

Deviations (docs/fidelity.md): no task description (izbench's methods know a task by its demos
only; ``<task_desc>`` is left empty, as upstream does without one); lengths in whitespace words
(upstream's count when the downstream model has no tokenizer; izbench's methods never see the
black box's tokenizer); no downstream reasoning in the shots (``create_fs_reasoning``: on
direct-answer tasks a correct answer's trace is the answer itself); blocks are
``ceil(n_validation / capo_blocks)`` examples but at least ``capo_block_floor`` (5), not 30
(izbench's validation sets hold 10 to 20; version 1 had no floor, and its race decided on 2 or 3
one-example blocks, where a constant difference over two pairs is significant);
the answer is the best mean among candidates that raced furthest (izbench's rule for every
method), where upstream ranks the final population by each one's mean over its own blocks.
"""

from __future__ import annotations

import math
import random
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import ttest_rel

from izbench.methods.ape import write_from_demos
from izbench.methods.base import Method, MethodContext, Tracker, register
from izbench.methods.writing import writer
from izbench.results import MethodResult, Scored
from izbench.tasks.types import Example
from izbench.templates import APE_TEMPLATE

CROSSOVER_TEMPLATE = """You receive two prompts for the following task: <task_desc>
Please merge the two prompts into a single coherent prompt. Maintain the key linguistic features from both original prompts:
Prompt 1: <mother>
Prompt 2: <father>

Return the new prompt in the following format:
<prompt>new prompt</prompt>"""  # noqa: E501
"""Upstream's ``CAPO_CROSSOVER_TEMPLATE``."""

MUTATION_TEMPLATE = """You receive a prompt for the following task: <task_desc>
Please rephrase the prompt, preserving its core meaning while substantially varying the linguistic style.
Prompt: <instruction>

Return the new prompt in the following format:
<prompt>new prompt</prompt>"""
"""Upstream's ``CAPO_MUTATION_TEMPLATE``."""

FEWSHOT_TEMPLATE = "Input:\n<input>\nOutput:\n<output>"
"""Upstream's ``CAPO_FEWSHOT_TEMPLATE``."""

MAX_NEW_TOKENS = 512
"""The writer's limit per meta-prompt (upstream's API default is 4,096; a rewritten instruction
is far shorter, and a 135M writer that rambles costs decoding time only)."""


def from_tag(text: str, start: str = "<prompt>", end: str = "</prompt>") -> str:
    """Upstream's ``extract_from_tag``: after the last start tag, before the next end tag."""
    return text.split(start)[-1].split(end)[0].strip()


@dataclass(frozen=True)
class Prompt:
    """An instruction and its few-shot examples (already formatted)."""

    instruction: str
    shots: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """What the scorer puts where the instruction goes: upstream's downstream template
        without its trailing ``Input:``, which the scorer's own template supplies."""
        if not self.shots:
            return self.instruction
        return f"{self.instruction}\n\n" + "\n\n".join(self.shots).strip()


def shot(example: Example) -> str:
    return FEWSHOT_TEMPLATE.replace("<input>", example.input).replace("<output>", example.answers[0])


def length(prompt: Prompt) -> float:
    """Upstream's token count without a tokenizer: whitespace words of the whole prompt."""
    return float(len(prompt.text.split()))


def better(a: list[float], b: list[float], alpha: float) -> bool:
    """Upstream's ``paired_t_test``: A significantly better than B (one-sided, paired). Identical
    or too few pairs give no p-value, so nothing is significant."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        p = ttest_rel(a, b, alternative="greater").pvalue
    return bool(p < alpha)


def draw_shots(rng: random.Random, pool: list[Example], n: int) -> tuple[str, ...]:
    """``n`` demos drawn without replacement, as shots."""
    return tuple(shot(e) for e in rng.sample(pool, min(n, len(pool))))


class CAPO(Method):
    name = "capo"
    version = 2
    """2: blocks hold at least ``capo_block_floor`` examples."""

    def optimize(self, context: MethodContext, budget: int, rng: random.Random) -> MethodResult:
        params = context.params
        tracker = Tracker(context)
        validation = context.split.validation
        block = block_size(len(validation), params.capo_blocks, params.capo_block_floor)
        seed = rng.randrange(2**31)
        size = max(2, min(params.population, budget))
        forward = writer(context, max_new_tokens=50, template=APE_TEMPLATE)
        meta = writer(context, max_new_tokens=MAX_NEW_TOKENS)
        shots_of = list(context.split.demo_pool)
        instructions = write_from_demos(forward, context, seed, 0, size)
        sampled = size
        population = [
            Prompt(i, draw_shots(rng, shots_of, rng.randint(0, params.capo_upper_shots))) for i in instructions
        ]
        racing = Racing(tracker, block, max(length(p) for p in population) or 1.0)
        while tracker.open(budget) and sampled < 6 * budget + size:
            n = min(params.capo_crossovers, tracker.left(budget))
            couples = [rng.sample(population, 2) for _ in range(n)]
            merged = meta.generate(
                [
                    (
                        None,
                        CROSSOVER_TEMPLATE.replace("<task_desc>", "")
                        .replace("<mother>", m.instruction)
                        .replace("<father>", f.instruction)
                        .strip(),
                    )
                    for m, f in couples
                ],
                seed=seed,
                temperature=1.0,
                sample_indices=range(sampled, sampled + n),
            )
            sampled += n
            children = []
            for (m, f), text in zip(couples, merged, strict=True):
                both = [*m.shots, *f.shots]
                children.append(Prompt(from_tag(text), tuple(rng.sample(both, len(both) // 2)) if both else ()))
            rephrased = meta.generate(
                [
                    (None, MUTATION_TEMPLATE.replace("<task_desc>", "").replace("<instruction>", c.instruction))
                    for c in children
                ],
                seed=seed,
                temperature=1.0,
                sample_indices=range(sampled, sampled + n),
            )
            sampled += n
            mutated = []
            for child, text in zip(children, rephrased, strict=True):
                shots = list(child.shots)
                p = rng.random()
                if p < 1 / 3 and len(shots) < params.capo_upper_shots:
                    shots += draw_shots(rng, shots_of, 1)
                elif 1 / 3 <= p < 2 / 3 and shots:
                    shots = rng.sample(shots, len(shots) - 1)
                rng.shuffle(shots)
                mutated.append(Prompt(from_tag(text), tuple(shots)))
            population = racing.race(population + mutated, size)
        return tracker.result


def block_size(n_validation: int, blocks: int, floor: int) -> int:
    """Examples per racing block: the validation set in ``blocks`` parts, none smaller than
    ``floor`` (nor than the whole set), so the first t-test reads ``floor`` pairs, not one."""
    return max(1, min(n_validation, max(floor, math.ceil(n_validation / blocks))))


class Racing:
    """Upstream's racing state: each prompt's scores on the validation prefix it has raced."""

    def __init__(self, tracker: Tracker, block: int, longest: float) -> None:
        self.tracker = tracker
        self.validation = tracker.context.split.validation
        self.block = block
        self.longest = longest
        self._seen: dict[str, list[float]] = {}
        self._preds: dict[str, list[str]] = {}
        self._recorded: dict[str, int] = {}

    def race(self, candidates: list[Prompt], keep: int) -> list[Prompt]:
        """Upstream's ``_do_racing``: blocks from the first, each candidate's earlier blocks
        reused; then the best ``keep`` by mean over the blocks each has seen. Every candidate is
        recorded with the blocks it raced on."""
        params = self.tracker.context.params
        unique = list({c.text: c for c in candidates}.values())
        alive = list(range(len(unique)))
        blocks = min(params.capo_blocks, math.ceil(len(self.validation) / self.block))
        i = 0
        while len(alive) > keep and i < blocks:
            end = min(len(self.validation), (i + 1) * self.block)
            self.score([unique[k] for k in alive], end)
            penalized = [
                np.array(self._seen[unique[k].text][:end])
                - params.capo_length_penalty * length(unique[k]) / self.longest
                for k in alive
            ]
            beaten = [sum(better(list(o), list(s), params.capo_alpha) for o in penalized) for s in penalized]
            alive = [k for k, n in zip(alive, beaten, strict=True) if n < keep]
            i += 1
        # Too few to race (repeated children): every prompt has at least the first block.
        self.score(unique, min(self.block, len(self.validation)))
        # Recorded once per new block reached: a survivor raced no further is not a new proposal.
        grown = [c for c in unique if len(self._seen.get(c.text, [])) > self._recorded.get(c.text, 0)]
        for c in grown:
            self._recorded[c.text] = len(self._seen[c.text])
        if grown:
            self.tracker.record(
                [c.text for c in grown],
                [Scored(c.text, tuple(self._preds[c.text]), tuple(self._seen[c.text])) for c in grown],
                note="race",
            )
        means = {k: float(np.mean(self._seen[unique[k].text])) for k in alive}
        ranked = sorted(alive, key=lambda k: -means[k])[:keep]
        return [unique[k] for k in ranked]

    def score(self, prompts: list[Prompt], end: int) -> None:
        """Extend each prompt's scores to the first ``end`` validation examples."""
        behind = [p for p in prompts if len(self._seen.get(p.text, [])) < end]
        groups: dict[int, list[Prompt]] = {}
        for p in behind:
            groups.setdefault(len(self._seen.get(p.text, [])), []).append(p)
        for done, group in sorted(groups.items()):
            for p, scored in zip(
                group,
                self.tracker.context.scorer.score_many([p.text for p in group], self.validation[done:end]),
                strict=True,
            ):
                self._seen.setdefault(p.text, []).extend(scored.scores)
                self._preds.setdefault(p.text, []).extend(scored.predictions)


@register("capo")
def _capo() -> CAPO:
    return CAPO()
