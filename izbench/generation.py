"""The instruction generator: the open-source LLM that turns demos (and a soft prompt) into text.

InstructZero feeds ``[soft prompt tokens] + embed(chat(template(demos)))`` to the open LLM as
``inputs_embeds`` and reads back an instruction. Every call goes through the cached client, so a
soft prompt's instruction is computed once per (soft-prompt bytes, demos, seed, sample index).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from izbench.cache import CachedClient
from izbench.choices import PromptProtocol
from izbench.errors import ConfigError
from izbench.models.base import SoftPromptModel
from izbench.models.types import CompletionRequest, SoftPrompt
from izbench.templates import INSTRUCTZERO_TEMPLATE


def format_demos(pairs: Sequence[tuple[str, str]]) -> str:
    """Demos as the papers show them: ``Input: x\\nOutput: y``, joined by blank lines."""
    return "\n\n".join(f"Input: {x}\nOutput: {y}" for x, y in pairs)


class InstructionGenerator:
    """Writes instructions from demos, optionally steered by a soft prompt."""

    def __init__(
        self,
        client: CachedClient,
        template: str = INSTRUCTZERO_TEMPLATE,
        max_new_tokens: int = 128,
        protocol: PromptProtocol = PromptProtocol.CHAT,
        model: SoftPromptModel | None = None,
        stop: tuple[str, ...] = (),
    ) -> None:
        if "[DEMOS]" not in template:
            raise ValueError("generator template must contain [DEMOS]")
        self.client = client
        self.template = template
        self.max_new_tokens = max_new_tokens
        self.protocol: PromptProtocol = protocol
        """chat: the prompt inside the model's chat template; raw: as plain text (base models)."""
        self.model = model
        """The writing model, where it takes soft prompts (None: it does not)."""
        self.stop = stop
        """Strings writing ends at (cut off the text; part of each request's key)."""

    def soft_prompt_model(self) -> SoftPromptModel:
        """The writing model as a taker of soft prompts, or one line saying it is not one."""
        if self.model is None:
            raise ConfigError(f"{self.client.backend.kind}:{self.client.backend.model_id} takes no soft prompts")
        return self.model

    def requests(
        self,
        items: Sequence[tuple[torch.Tensor | None, str]],
        *,
        seed: int = 0,
        temperature: float = 0.0,
        top_p: float = 1.0,
        sample_indices: Sequence[int] | None = None,
    ) -> list[CompletionRequest]:
        """The cached requests for (soft prompt or None, demo text) items."""
        indices = list(sample_indices) if sample_indices is not None else [0] * len(items)
        return [
            CompletionRequest.user(
                self.template.replace("[DEMOS]", demos),
                max_tokens=self.max_new_tokens,
                temperature=temperature,
                top_p=top_p if temperature > 0 else 1.0,
                seed=seed,
                sample_index=index,
                soft_prompt=None if soft is None else SoftPrompt.from_tensor(soft),
                protocol=self.protocol,
                stop=self.stop,
            )
            for (soft, demos), index in zip(items, indices, strict=True)
        ]

    def hidden_states(self, items: Sequence[tuple[torch.Tensor | None, str]]) -> list[tuple[float, ...]]:
        """The last prompt token's final hidden state for each (soft prompt, demos) item: the
        prompt the generator would write from, read without writing (INSTINCT's features)."""
        reqs = [r.model_copy(update={"hidden_state": True, "max_tokens": 1}) for r in self.requests(items)]
        return [c.hidden for c in self.client.complete(reqs)]

    def written_states(self, items: Sequence[tuple[torch.Tensor | None, str]]) -> list[tuple[str, tuple[float, ...]]]:
        """Each item's greedy instruction with its prompt's last-token hidden state, both from
        the one pass that writes it (``with_hidden``): what a pool build needs of every point."""
        reqs = [r.model_copy(update={"with_hidden": True}) for r in self.requests(items)]
        return [(c.text.strip(), c.hidden) for c in self.client.complete(reqs)]

    def generate(
        self,
        items: Sequence[tuple[torch.Tensor | None, str]],
        *,
        seed: int = 0,
        temperature: float = 0.0,
        top_p: float = 1.0,
        sample_indices: Sequence[int] | None = None,
    ) -> list[str]:
        """One instruction per item; greedy unless ``temperature`` > 0 (then seeded per item)."""
        reqs = self.requests(items, seed=seed, temperature=temperature, top_p=top_p, sample_indices=sample_indices)
        return [c.text.strip() for c in self.client.complete(reqs)]
