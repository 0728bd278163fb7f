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
from dataclasses import dataclass

from izbench.cache import CachedClient
from izbench.models.types import CompletionRequest, StopRule
from izbench.tasks.metrics import Metric, score
from izbench.tasks.types import Example

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


@dataclass(frozen=True)
class Scored:
    """An instruction's predictions and per-example scores on a list of examples."""

    instruction: str
    predictions: tuple[str, ...]
    scores: tuple[float, ...]

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else 0.0


class Scorer:
    """Scores instructions on examples with the black box and the task's metric."""

    def __init__(
        self,
        client: CachedClient,
        metric: Metric,
        template: str = DEFAULT_TEMPLATE,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        stop_rule: StopRule | None = "answer",
    ) -> None:
        if "[PROMPT]" not in template or "[INPUT]" not in template:
            raise ValueError("scorer template must contain [PROMPT] and [INPUT]")
        self.client = client
        self.metric = metric
        self.template = template
        self.max_tokens = max_tokens
        self.stop_rule = stop_rule

    def prompt(self, instruction: str, example: Example) -> str:
        template = self.template if instruction.strip() else EMPTY_TEMPLATE
        return template.replace("[PROMPT]", instruction).replace("[INPUT]", example.input)

    def score_many(self, instructions: Sequence[str], examples: Sequence[Example]) -> list[Scored]:
        """Score several instructions in one batch (one request per instruction and example)."""
        requests = [
            CompletionRequest.user(self.prompt(i, e), max_tokens=self.max_tokens, stop_rule=self.stop_rule)
            for i in instructions
            for e in examples
        ]
        completions = self.client.complete(requests)
        out = []
        n = len(examples)
        for k, instruction in enumerate(instructions):
            preds = tuple(c.text for c in completions[k * n : (k + 1) * n])
            scores = tuple(score(self.metric, p, e.answers) for p, e in zip(preds, examples, strict=True))
            out.append(Scored(instruction, preds, scores))
        return out

    def score(self, instruction: str, examples: Sequence[Example]) -> Scored:
        return self.score_many([instruction], examples)[0]
