"""Soft prompt -> instruction: projection plus open LLM, shared by InstructZero, Uniform, INSTINCT
and the pools their domains are built into."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from izbench.domain import LEGACY, SoftPipeline
from izbench.generation import InstructionGenerator, format_demos
from izbench.methods.base import MethodContext
from izbench.methods.projection import SoftPromptProjection
from izbench.profiles import MethodSettings
from izbench.tasks.types import Example


class SoftPromptWriter:
    """Writes one instruction per z with a fixed demo set, as upstream InstructZero does: the
    projection is seeded by ``seed`` (a run's, or a pool's) and the demos are fixed."""

    def __init__(
        self, generator: InstructionGenerator, demos: Sequence[Example], params: MethodSettings, seed: int
    ) -> None:
        self.generator = generator
        model = generator.soft_prompt_model()
        self.dim = params.intrinsic_dim
        std = float(model.embedding_matrix().std()) if params.scale else None
        self.projection = SoftPromptProjection(
            self.dim, params.n_tokens, model.hidden_size, seed=seed, embedding_std=std
        )
        self.demos = format_demos([(e.input, e.answers[0]) for e in demos])

    @classmethod
    def for_context(cls, context: MethodContext, pipeline: SoftPipeline = LEGACY) -> SoftPromptWriter:
        """A run's writer: its generator, its split's first demo set (of the pipeline's size),
        its seed."""
        return cls(context.generator, context.split.demos(0, pipeline.demos), context.params, context.seed)

    def write(self, zs: torch.Tensor) -> list[str]:
        return self.generator.generate(self._items(zs))

    def hidden(self, zs: torch.Tensor) -> list[tuple[float, ...]]:
        """The generator's last-token hidden state of each z's prompt (no instruction written)."""
        return self.generator.hidden_states(self._items(zs))

    def written_states(self, zs: torch.Tensor) -> list[tuple[str, tuple[float, ...]]]:
        """Each z's instruction and its prompt's hidden state, from the same pass."""
        return self.generator.written_states(self._items(zs))

    def _items(self, zs: torch.Tensor) -> list[tuple[torch.Tensor, str]]:
        return [(self.projection(z.to(torch.float32)), self.demos) for z in zs]


def z_tuple(z: torch.Tensor) -> tuple[float, ...]:
    return tuple(float(v) for v in z)
