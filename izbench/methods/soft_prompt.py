"""Soft prompt -> instruction: projection plus open LLM, shared by InstructZero and Uniform."""

from __future__ import annotations

import torch

from izbench.generation import format_demos
from izbench.methods.base import MethodContext
from izbench.methods.projection import SoftPromptProjection


class SoftPromptWriter:
    """Writes one instruction per z with a fixed demo set, as upstream InstructZero does."""

    def __init__(self, context: MethodContext) -> None:
        self.context = context
        model = context.generator.soft_prompt_model()
        self.dim = context.params.intrinsic_dim
        std = float(model.embedding_matrix().std()) if context.params.scale else None
        self.projection = SoftPromptProjection(
            self.dim,
            context.params.n_tokens,
            model.hidden_size,
            seed=context.seed,
            embedding_std=std,
        )
        pairs = [(e.input, e.answers[0]) for e in context.split.demos(0)]
        self.demos = format_demos(pairs)

    def write(self, zs: torch.Tensor) -> list[str]:
        return self.context.generator.generate(self._items(zs))

    def hidden(self, zs: torch.Tensor) -> list[tuple[float, ...]]:
        """The generator's last-token hidden state of each z's prompt (no instruction written)."""
        return self.context.generator.hidden_states(self._items(zs))

    def _items(self, zs: torch.Tensor) -> list[tuple[torch.Tensor, str]]:
        return [(self.projection(z.to(torch.float32)), self.demos) for z in zs]


def z_tuple(z: torch.Tensor) -> tuple[float, ...]:
    return tuple(float(v) for v in z)
