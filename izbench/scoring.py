"""The scorer: how every method learns what an instruction is worth, through the black box.

An instruction is run zero-shot on each example with the template
``Instruction: [PROMPT]\\n\\nInput: [INPUT]\\nOutput:`` at temperature 0, and each prediction is
scored by the task's metric against all acceptable answers. Requests go through the cached
client, so the same (instruction, input) is one model call across candidates, methods and runs.

Two things keep the black box from writing tokens no metric reads: the ``answer`` stop rule
(decoding ends once the first sentence of the first non-empty line is complete; exact, see
``izbench.answer``) and, for exact-match metrics, a per-task output cap (``output_cap``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from izbench.cache import CachedClient
from izbench.choices import ChoiceNorm, PromptProtocol, ScoreFunction
from izbench.errors import ConfigError
from izbench.models.types import CompletionRequest, StopRule
from izbench.results import Scored
from izbench.tasks.metrics import Metric, score
from izbench.tasks.types import Example

MAX_ANSWERS = 8
"""Acceptable answers scored per example under ``likelihood`` (rhymes can list dozens)."""

DEFAULT_TEMPLATE = "Instruction: [PROMPT]\n\nInput: [INPUT]\nOutput:"
EMPTY_TEMPLATE = "Input: [INPUT]\nOutput:"
"""Used for the empty instruction, so no dangling 'Instruction:' line is sent."""
DEFAULT_MAX_TOKENS = 50
CAP_MARGIN = 8
"""Tokens allowed beyond the longest answer, for a leading space, quotes and the closing stop."""
_CAPPED = frozenset({Metric.EXACT_MATCH, Metric.EXACT_SET})


def output_cap(metric: Metric, examples: Sequence[Example], default: int = DEFAULT_MAX_TOKENS) -> int:
    """Output tokens worth generating for a task's predictions.

    Under exact match (or exact set), a prediction can only score if its first sentence equals
    an answer up to punctuation, so tokens far past the longest answer are wasted. An answer
    has no more tokens than characters, so that length plus ``CAP_MARGIN`` bounds it; a capped
    prediction scores differently only if every token it lost was punctuation, which the full
    ``core`` comparison confirms does not happen. F1 and contains credit long outputs: no cap.
    """
    if metric not in _CAPPED or not examples:
        return default
    longest = max(len(a) for e in examples for a in e.answers) if any(e.answers for e in examples) else 0
    return max(1, min(default, longest + CAP_MARGIN))


class InstructionScorer(Protocol):
    """What a method scores instructions through: the black box (``Scorer``) or a pool's lookups
    (``izbench.pool.cells.PoolScorer``)."""

    score_function: ScoreFunction

    def score_many(self, instructions: Sequence[str], examples: Sequence[Example]) -> list[Scored]: ...

    def score(self, instruction: str, examples: Sequence[Example]) -> Scored: ...

    def answered(self, instruction: str, examples: Sequence[Example]) -> list[tuple[str, float]]: ...


class Scorer:
    """Scores instructions on examples through the black box, by one of three score functions.

    - ``generate``: greedy answer, scored by the task's metric (the paper's protocol);
    - ``likelihood``: mean log-probability per token of the gold answer continuing the prompt,
      best over the first ``MAX_ANSWERS`` acceptable answers (nats per token, higher is better);
    - ``choice``: the option with the highest log-likelihood is the prediction; accuracy.
      ``choice_norm`` ``chars`` divides an option's summed log-probability by its length in
      characters (lm-evaluation-harness's ``acc_norm``), ``none`` uses the sum (its ``acc``).

    ``protocol`` ``chat`` sends the filled template as the user turn of the chat template;
    ``raw`` sends it as plain text (the answer then continues ``Output:`` after a space).
    """

    def __init__(
        self,
        client: CachedClient,
        metric: Metric,
        template: str = DEFAULT_TEMPLATE,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        stop_rule: StopRule | None = "answer",
        score: ScoreFunction = ScoreFunction.GENERATE,
        protocol: PromptProtocol = PromptProtocol.CHAT,
        choice_norm: ChoiceNorm = ChoiceNorm.CHARS,
        per_instruction: bool = False,
    ) -> None:
        if "[PROMPT]" not in template or "[INPUT]" not in template:
            raise ValueError("scorer template must contain [PROMPT] and [INPUT]")
        self.client = client
        self.metric = metric
        self.template = template
        self.max_tokens = max_tokens
        self.stop_rule = stop_rule
        self.score_function = score
        self.protocol = protocol
        self.choice_norm = choice_norm
        self.per_instruction = per_instruction
        """Score one instruction per call: its scores then come from the same batches however many
        instructions are asked for at once, so a pool build and a run on its domain agree to the bit."""

    def prompt(self, instruction: str, example: Example) -> str:
        template = self.template if instruction.strip() else EMPTY_TEMPLATE
        return template.replace("[PROMPT]", instruction).replace("[INPUT]", example.input)

    def continuation(self, answer: str) -> str:
        """An answer as the text that continues the prompt."""
        return answer if self.protocol == "chat" else " " + answer

    def _request(self, instruction: str, example: Example, continuation: str | None = None) -> CompletionRequest:
        if continuation is not None:
            return CompletionRequest.user(
                self.prompt(instruction, example), max_tokens=1, protocol=self.protocol, continuation=continuation
            )
        return CompletionRequest.user(
            self.prompt(instruction, example),
            max_tokens=self.max_tokens,
            stop_rule=self.stop_rule,
            protocol=self.protocol,
        )

    def score_many(self, instructions: Sequence[str], examples: Sequence[Example]) -> list[Scored]:
        """Score several instructions in one batch of requests to the black box (one batch each,
        with ``per_instruction``)."""
        if self.per_instruction and len(instructions) > 1:
            return [s for i in instructions for s in self._score_together([i], examples)]
        return self._score_together(instructions, examples)

    def _score_together(self, instructions: Sequence[str], examples: Sequence[Example]) -> list[Scored]:
        if self.score_function == "generate":
            picked = self._generate(instructions, examples)
        else:
            picked = self._rank(instructions, examples)
        n = len(examples)
        return [
            Scored(
                instruction,
                tuple(p for p, _ in picked[k * n : (k + 1) * n]),
                tuple(s for _, s in picked[k * n : (k + 1) * n]),
            )
            for k, instruction in enumerate(instructions)
        ]

    def _generate(self, instructions: Sequence[str], examples: Sequence[Example]) -> list[tuple[str, float]]:
        requests = [self._request(i, e) for i in instructions for e in examples]
        pairs = zip(self.client.complete(requests), [e for _ in instructions for e in examples], strict=True)
        return [(c.text, score(self.metric, c.text, e.answers)) for c, e in pairs]

    def _candidates(self, example: Example) -> tuple[str, ...]:
        """What is scored as a continuation of one example's prompt."""
        if self.score_function == "choice":
            return example.options
        return example.answers[:MAX_ANSWERS]

    def _rank(self, instructions: Sequence[str], examples: Sequence[Example]) -> list[tuple[str, float]]:
        """Likelihood or choice: score every candidate continuation, then pick per example."""
        for e in examples:
            if not self._candidates(e) or not all(c.strip() for c in self._candidates(e)):
                what = "options" if self.score_function == "choice" else "answers"
                raise ConfigError(f"input {e.input[:60]!r} has empty {what}; --score {self.score_function} needs them")
        slots = [(i, e) for i in instructions for e in examples]
        requests = [self._request(i, e, self.continuation(c)) for i, e in slots for c in self._candidates(e)]
        answers = iter(self.client.complete(requests))
        out = []
        for _, e in slots:
            values = [(c, next(answers)) for c in self._candidates(e)]
            if self.score_function == "likelihood":
                best, value = max(((c, a.mean_logprob) for c, a in values), key=lambda cv: cv[1])
                out.append((best, value))
                continue
            norm = [(c, sum(a.logprobs) / (len(c) if self.choice_norm == "chars" else 1)) for c, a in values]
            chosen = max(norm, key=lambda cv: cv[1])[0]
            out.append((chosen, score(Metric.EXACT_MATCH, chosen, e.answers)))
        return out

    def score(self, instruction: str, examples: Sequence[Example]) -> Scored:
        return self.score_many([instruction], examples)[0]

    def answered(self, instruction: str, examples: Sequence[Example]) -> list[tuple[str, float]]:
        """The black box's greedy answers and the task metric's score of each, whatever the
        score function: the execution traces a reflective method (GEPA) reads. Under
        ``generate`` these are the scoring requests themselves, so the cache serves them once."""
        return self._generate([instruction], examples)
