"""GEPA (Agrawal et al. 2025, "GEPA: Reflective Prompt Evolution Can Outperform Reinforcement
Learning"), one instruction evolved, read from ``gepa-ai/gepa`` b265bf9 (MIT):
``src/gepa/api.py``, ``core/engine.py``, ``proposer/reflective_mutation/reflective_mutation.py``,
``strategies/{instruction_proposal,candidate_selector,batch_sampler,acceptance}.py``,
``gepa_utils.py`` and ``adapters/default_adapter/default_adapter.py``.

The seed instruction is scored on the whole validation set (upstream's valset). Each iteration:

1. a parent is drawn from the Pareto front over validation examples (per example, the programs
   with its best score; dominated programs removed, ascending by mean score; a draw weighted by
   how many examples' fronts each is on: ``select_program_candidate_from_pareto_front``);
2. a minibatch of ``gepa_minibatch`` demos (upstream's trainset; 3) comes from an epoch-shuffled
   sampler padded with the least-used ids (``EpochShuffledBatchSampler``), sharing one RNG with
   the selector as upstream does;
3. the parent is scored on it; if every score is perfect (accuracy 1) the iteration is skipped
   (``skip_perfect_score``);
4. the reflective dataset is each demo's ``Inputs``, the black box's ``Generated Outputs`` and
   the default adapter's ``Feedback`` text; the writer (the black box by default, upstream's
   reflection LM; ``writer: local`` for the generator) answers upstream's instruction-proposal
   prompt, and the new instruction is read from between its first and last triple backticks;
5. the child is scored on the same minibatch and kept only if its sum is strictly higher
   (``StrictImprovementAcceptance``); a kept child is scored on the whole validation set and
   joins the front.

The answer is the program with the highest validation mean (ties: the earliest). Merge is off,
as upstream's default. Every minibatch evaluation counts toward the budget: in example-evals
(upstream's ``max_metric_calls``) each costs its examples, and a rejected child counts as an
instruction tried in every unit, though only kept ones are candidates.

Deviations (docs/fidelity.md): the seed is the empty instruction (upstream's is the user's; OPRO's
start); the black box answers through izbench's scorer template (upstream's default adapter puts
the instruction in a system message); an answer is correct when the task's metric scores it 1
(upstream checks the answer is contained in the response); under likelihood scoring the scores
that select, accept and rank are nats per token, and the traces are the greedy answers, asked
for separately; the writer decodes at most 512 tokens at temperature 1.0.
"""

from __future__ import annotations

import random
import re
from collections import Counter

from izbench.choices import ScoreFunction
from izbench.methods.base import Method, MethodContext, Tracker, register
from izbench.methods.writing import writer
from izbench.results import MethodResult
from izbench.tasks.types import Example

PROPOSAL_TEMPLATE = """I provided an assistant with the following instructions to perform a task for me:
```
<curr_param>
```

The following are examples of different task inputs provided to the assistant along with the assistant's response for each of them, and some feedback on how the assistant's response could be better:
```
<side_info>
```

Your task is to write a new instruction for the assistant.

Read the inputs carefully and identify the input format and infer detailed task description about the task I wish to solve with the assistant.

Read all the assistant responses and the corresponding feedback. Identify all niche and domain specific factual information about the task and include it in the instruction, as a lot of it may not be available to the assistant in the future. The assistant may have utilized a generalizable strategy to solve the task, if so, include that in the instruction as well.

Provide the new instructions within ``` blocks."""  # noqa: E501
"""Upstream's ``InstructionProposalSignature.default_prompt_template``."""

MAX_NEW_TOKENS = 512
PERFECT = 1.0


def feedback(example: Example, correct: bool) -> str:
    """The default adapter's feedback (``ContainsAnswerEvaluator``, no additional context)."""
    answer = example.answers[0]
    if correct:
        return f"The generated response is correct. The response include the correct answer '{answer}'"
    return (
        f"The generated response is incorrect. The correct answer is '{answer}'. "
        "Ensure that the correct answer is included in the response exactly as it is."
    )


def render(records: list[dict[str, str]]) -> str:
    """Upstream's ``format_samples`` for string values: ``# Example n``, ``## key``, the value."""

    def one(record: dict[str, str], n: int) -> str:
        return f"# Example {n}\n" + "".join(f"## {k}\n{str(v).strip()}\n\n" for k, v in record.items())

    return "\n\n".join(one(r, k + 1) for k, r in enumerate(records))


def extract(output: str) -> str:
    """Upstream's ``output_extractor``: between the first and last triple backticks (a language
    tag on the first line dropped); an unclosed block loses its fence; else the whole answer."""
    start = output.find("```") + 3
    end = output.rfind("```")
    if start >= end:
        stripped = output.strip()
        if stripped.startswith("```"):
            match = re.match(r"^```\S*\n?", output)
            if match:
                return output[match.end() :].strip()
        elif stripped.endswith("```"):
            return stripped[:-3].strip()
        return stripped
    content = output[start:end]
    match = re.match(r"^\S*\n", content)
    if match:
        content = content[match.end() :]
    return content.strip()


class Front:
    """Per validation example, the best score and the programs that reach it."""

    def __init__(self, scores: tuple[float, ...]) -> None:
        self.best = list(scores)
        self.programs: list[set[int]] = [{0} for _ in scores]

    def add(self, program: int, scores: tuple[float, ...]) -> None:
        for k, s in enumerate(scores):
            if s > self.best[k]:
                self.best[k], self.programs[k] = s, {program}
            elif s == self.best[k]:
                self.programs[k].add(program)

    def select(self, means: list[float], rng: random.Random) -> int:
        """Upstream's ``select_program_candidate_from_pareto_front``."""
        fronts = self._undominated(means)
        weights: dict[int, int] = {}
        for front in fronts:
            for p in sorted(front):
                weights[p] = weights.get(p, 0) + 1
        return rng.choice([p for p, n in weights.items() for _ in range(n)])

    def _undominated(self, means: list[float]) -> list[set[int]]:
        """Upstream's ``remove_dominated_programs``: repeatedly drop the lowest-scoring program
        every one of whose fronts holds another surviving program."""
        programs = sorted({p for front in self.programs for p in front}, key=lambda p: means[p])
        dominated: set[int] = set()
        found = True
        while found:
            found = False
            for y in programs:
                if y in dominated:
                    continue
                others = set(programs) - {y} - dominated
                if all(front & others for front in self.programs if y in front):
                    dominated.add(y)
                    found = True
                    break
        return [front - dominated for front in self.programs]


class EpochSampler:
    """Upstream's ``EpochShuffledBatchSampler`` for a fixed trainset: ids shuffled each epoch,
    padded to a whole number of minibatches with the least-used ids."""

    def __init__(self, n: int, size: int, rng: random.Random) -> None:
        self.n, self.size, self.rng = n, size, rng
        self.order: list[int] = []
        self.epoch = -1

    def batch(self, iteration: int) -> list[int]:
        start = iteration * self.size
        epoch = 0 if self.epoch == -1 else start // max(len(self.order), 1)
        if not self.order or epoch > self.epoch:
            self.epoch = epoch
            self.order = list(range(self.n))
            self.rng.shuffle(self.order)
            used = Counter(self.order)
            for _ in range((self.size - self.n % self.size) % self.size):
                least = used.most_common()[::-1][0][0]
                self.order.append(least)
                used[least] += 1
        start %= len(self.order)
        return self.order[start : start + self.size]


class GEPA(Method):
    name = "gepa"
    version = 1

    def optimize(self, context: MethodContext, budget: int, rng: random.Random) -> MethodResult:
        tracker = Tracker(context)
        scorer = context.scorer
        train = list(context.split.demo_pool)
        reflect = writer(context, max_new_tokens=MAX_NEW_TOKENS)
        seed = rng.randrange(2**31)
        shared = random.Random(rng.randrange(2**31))  # upstream's one RNG for selector and sampler
        accuracy = scorer.score_function != ScoreFunction.LIKELIHOOD
        (first,) = tracker.add([""], parents=["seed"])
        programs, means = [""], [first.val_score]
        front = Front(first.val_scores)
        sampler = EpochSampler(len(train), min(context.params.gepa_minibatch, len(train)), shared)
        iteration = skipped = 0
        # A front whose every program is perfect on every demo has nothing left to learn from.
        while tracker.open(budget) and skipped < len(train):
            parent = programs[front.select(means, shared)]
            batch = [train[j] for j in sampler.batch(iteration)]
            iteration += 1
            before = scorer.score(parent, batch)
            tracker.charge(parent, len(batch))
            if accuracy and all(s >= PERFECT for s in before.scores):
                skipped += 1
                continue
            skipped = 0
            if scorer.score_function == ScoreFunction.GENERATE:
                traces = list(zip(before.predictions, before.scores, strict=True))
            else:
                traces = scorer.answered(parent, batch)
            records = [
                {"Inputs": e.input, "Generated Outputs": out, "Feedback": feedback(e, ok >= PERFECT)}
                for e, (out, ok) in zip(batch, traces, strict=True)
            ]
            prompt = PROPOSAL_TEMPLATE.replace("<curr_param>", parent).replace("<side_info>", render(records))
            (text,) = reflect.generate([(None, prompt)], seed=seed, temperature=1.0, sample_indices=[iteration])
            child = extract(text)
            after = scorer.score(child, batch)
            if sum(after.scores) > sum(before.scores):
                tracker.charge(child, len(batch))
                (kept,) = tracker.add([child], parents=[parent])
                if child not in programs:
                    programs.append(child)
                    means.append(kept.val_score)
                    front.add(len(programs) - 1, kept.val_scores)
            else:
                tracker.charge(child, len(batch), proposed=True)
        return tracker.result


@register("gepa")
def _gepa() -> GEPA:
    return GEPA()
