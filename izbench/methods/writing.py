"""What the LLM-as-optimizer methods (OPRO, EvoPrompt) share: the writer model, sampled requests
with one sample index each, and reading an instruction out of tagged output."""

from __future__ import annotations

import re

from izbench.generation import InstructionGenerator
from izbench.methods.base import MethodContext


def writer(
    context: MethodContext, max_new_tokens: int, template: str = "[DEMOS]", stop: tuple[str, ...] = ()
) -> InstructionGenerator:
    """The model that writes instructions (the black box unless the method settings say
    ``writer: local``), prompted as that model expects; by default the whole prompt is given."""
    base = context.generator if context.params.writer == "local" else context.blackbox_generator
    return InstructionGenerator(
        base.client, template=template, max_new_tokens=max_new_tokens, protocol=base.protocol, stop=stop
    )


def between_tags(text: str, tag: str) -> str:
    """The instruction in a writer's answer: the last ``<tag>...</tag>`` span (an unclosed tag
    runs to the end), else the whole answer; then its first paragraph, trimmed of quotes."""
    closed = re.findall(rf"<{tag}>(.*?)</{tag}>", text, flags=re.DOTALL)
    if closed:
        inner = closed[-1]
    elif f"<{tag}>" in text:
        inner = text.rsplit(f"<{tag}>", 1)[1]
    else:
        inner = text
    inner = inner.replace(f"</{tag}>", "").replace(f"<{tag}>", "").strip()
    first = re.split(r"\n\s*\n", inner, maxsplit=1)[0].strip()
    if len(first) >= 2 and first[0] == first[-1] and first[0] in "\"'":
        first = first[1:-1].strip()
    return first
