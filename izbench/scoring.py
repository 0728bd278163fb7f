"""The scorer: how every method learns what an instruction is worth, through the black box.

An instruction is run zero-shot on each example with the template
``Instruction: [PROMPT]\\n\\nInput: [INPUT]\\nOutput:`` at temperature 0, and each prediction is
scored by the task's metric against all acceptable answers. Requests go through the cached
client, so the same (instruction, input) is one model call across candidates, methods and runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from izbench.cache import CachedClient
from izbench.models.types import CompletionRequest
from izbench.tasks.metrics import Metric, score
from izbench.tasks.types import Example

DEFAULT_TEMPLATE = "Instruction: [PROMPT]\n\nInput: [INPUT]\nOutput:"
EMPTY_TEMPLATE = "Input: [INPUT]\nOutput:"
"""Used for the empty instruction, so no dangling 'Instruction:' line is sent."""


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
        max_tokens: int = 50,
    ) -> None:
        if "[PROMPT]" not in template or "[INPUT]" not in template:
            raise ValueError("scorer template must contain [PROMPT] and [INPUT]")
        self.client = client
        self.metric = metric
        self.template = template
        self.max_tokens = max_tokens

    def prompt(self, instruction: str, example: Example) -> str:
        template = self.template if instruction.strip() else EMPTY_TEMPLATE
        return template.replace("[PROMPT]", instruction).replace("[INPUT]", example.input)

    def score_many(self, instructions: Sequence[str], examples: Sequence[Example]) -> list[Scored]:
        """Score several instructions in one batch (one request per instruction and example)."""
        requests = [
            CompletionRequest.user(self.prompt(i, e), max_tokens=self.max_tokens)
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
