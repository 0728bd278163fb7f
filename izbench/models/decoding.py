"""Batched decoding for the embedded transformers model, with optional soft prompts.

Why not ``model.generate``: a soft prompt enters as ``inputs_embeds`` and every sampled row must
draw from its own seeded generator, so that a row's output never depends on which other rows
share its batch. The loop is the textbook one: one forward pass over the left-padded prompts
(attention mask zero on the padding, position ids counted from each row's first real token),
then one token per step reusing the KV cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from izbench.answer import answer_complete
from izbench.models.types import FinishReason, StopRule


@dataclass(frozen=True)
class DecodeParams:
    """Generation settings shared by every row of one decode call."""

    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    stop_rule: StopRule | None = None


@dataclass(frozen=True)
class Decoded:
    """One row's result: text (cut before any stop string), why it ended and token counts."""

    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int


def _left_pad(rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack (len_i, hidden) rows into (batch, max_len, hidden) padded on the left, plus a mask."""
    width = max(r.shape[0] for r in rows)
    hidden = rows[0].shape[1]
    embeds = rows[0].new_zeros((len(rows), width, hidden))
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        embeds[i, width - row.shape[0] :] = row
        mask[i, width - row.shape[0] :] = 1
    return embeds, mask


def _sample(logits: torch.Tensor, temperature: float, top_p: float, gen: torch.Generator) -> int:
    """Nucleus sampling of one row: keep the smallest set of tokens whose mass reaches top_p."""
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        cumulative = torch.cumsum(sorted_probs, dim=-1)
        # Keep a token while the mass before it is below top_p (so the first is always kept).
        keep = (cumulative - sorted_probs) < top_p
        sorted_probs = torch.where(keep, sorted_probs, torch.zeros_like(sorted_probs))
        choice = torch.multinomial(sorted_probs, 1, generator=gen)
        return int(order[choice].item())
    return int(torch.multinomial(probs, 1, generator=gen).item())


def _stop_at(text: str, stops: tuple[str, ...]) -> int | None:
    """Index of the earliest stop string in ``text``, if any."""
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(hits) if hits else None


@torch.inference_mode()
def decode(
    model: torch.nn.Module,
    tokenizer: object,
    prompts: list[torch.Tensor],
    params: DecodeParams,
    seeds: list[int] | None = None,
    eos_ids: frozenset[int] = frozenset(),
    prefix: torch.Tensor | None = None,
) -> list[Decoded]:
    """Generate a continuation for each prompt, given as its (len, hidden) input embeddings.

    ``prefix`` (len, hidden), when given, is a part every prompt starts with (``prompts`` then
    hold only what follows it): its KV cache is computed once and shared by all rows, with the
    padding placed between the prefix and each row's own tokens. Rows that finish leave the
    batch, so a long answer does not make the short ones pay for its steps.
    ``seeds`` (one per row) are used only when sampling (temperature > 0).
    """
    from transformers import DynamicCache

    batch = len(prompts)
    embeds, mask = _left_pad(prompts)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache()
    n_prefix = 0 if prefix is None else int(prefix.shape[0])
    if prefix is not None and n_prefix:
        model(
            inputs_embeds=prefix.unsqueeze(0),
            position_ids=torch.arange(n_prefix).unsqueeze(0),
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        cache.batch_repeat_interleave(batch)
        mask = torch.cat([mask.new_ones((batch, n_prefix)), mask], dim=1)
        positions = positions + n_prefix
    out = model(
        inputs_embeds=embeds,
        attention_mask=mask,
        position_ids=positions,
        cache=cache,
        use_cache=True,
        logits_to_keep=1,
    )
    logits = out.logits[:, -1, :].float()
    gens: list[torch.Generator] = []
    if params.temperature > 0:
        if seeds is None or len(seeds) != batch:
            raise ValueError("sampling needs one seed per row")
        gens = [torch.Generator().manual_seed(s) for s in seeds]
    generated: list[list[int]] = [[] for _ in range(batch)]
    finish: list[FinishReason | None] = [None] * batch
    cut: list[int | None] = [None] * batch
    active = list(range(batch))
    """Original row of each row still in the batch (and in the KV cache)."""
    decode_text = tokenizer.decode  # type: ignore[attr-defined]
    for _step in range(params.max_new_tokens):
        if params.temperature > 0:
            chosen = [_sample(logits[j], params.temperature, params.top_p, gens[i]) for j, i in enumerate(active)]
        else:
            chosen = logits.argmax(dim=-1).tolist()
        for i, token in zip(active, chosen, strict=True):
            if token in eos_ids:
                finish[i] = "stop"
                continue
            generated[i].append(token)
            if params.stop or params.stop_rule:
                text = decode_text(generated[i], skip_special_tokens=True)
                at = _stop_at(text, params.stop) if params.stop else None
                if at is not None:
                    finish[i], cut[i] = "stop", at
                elif params.stop_rule == "answer" and answer_complete(text):
                    finish[i] = "stop"
        keep = [j for j, i in enumerate(active) if finish[i] is None]
        if not keep:
            break
        if len(keep) < len(active):
            index = torch.tensor(keep)
            cache.batch_select_indices(index)
            mask, positions = mask[index], positions[index]
            chosen = [chosen[j] for j in keep]
            active = [active[j] for j in keep]
        mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=1)
        positions = positions[:, -1:] + 1
        out = model(
            input_ids=torch.tensor(chosen).unsqueeze(1),
            attention_mask=mask,
            position_ids=positions,
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        logits = out.logits[:, -1, :].float()
    results = []
    for i in range(batch):
        text = decode_text(generated[i], skip_special_tokens=True)
        if cut[i] is not None:
            text = text[: cut[i]]
        results.append(
            Decoded(
                text=text,
                finish_reason=finish[i] or "length",
                prompt_tokens=n_prefix + int(prompts[i].shape[0]),
                completion_tokens=len(generated[i]),
            )
        )
    return results
