"""Batched decoding for the embedded transformers model, with optional soft prompts.

Why not ``model.generate``: a soft prompt enters as ``inputs_embeds`` and every sampled row must
draw from its own seeded generator, so that a row's output never depends on which other rows
share its batch. The loop is the textbook one: one forward pass over the left-padded prompts
(attention mask zero on the padding, position ids counted from each row's first real token),
then one token per step reusing the KV cache.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import torch

from izbench.answer import answer_complete
from izbench.models.types import FinishReason, StopRule

DECODING_VERSION = 3
"""Bump when a change here, or in how the local backend batches rows, can change a decoded text
or a score: part of the local backend's revision, so cached answers from older code are never
served. 3: prompts are grouped by the prefix cut that spares the most tokens (a row's float
rounding depends on the batch it is computed in)."""


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
    hidden: tuple[float, ...] = ()
    """The last prompt token's final hidden state, when asked for (``decode(hidden=True)``)."""


@functools.cache
def _growing_layer_class() -> type:
    """A ``DynamicLayer`` that keeps spare room in its key/value buffers.

    transformers' ``DynamicLayer`` appends with ``torch.cat``, which copies the whole cache at
    every step (for 25 rows of 300 tokens, ~350 MB per step over 30 layers); writing into spare
    room costs only the new token. Views of the filled part are what attention sees.
    """
    from transformers.cache_utils import DynamicLayer

    class GrowingLayer(DynamicLayer):  # type: ignore[misc,no-untyped-call]
        _k: torch.Tensor
        _v: torch.Tensor
        _n: int

        def update(
            self, key_states: torch.Tensor, value_states: torch.Tensor, *args: object, **kwargs: object
        ) -> tuple[torch.Tensor, torch.Tensor]:
            new = key_states.shape[-2]
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
                self._k, self._v, self._n = self._room(key_states, new + 64), self._room(value_states, new + 64), 0
            if self._n + new > self._k.shape[-2]:
                size = max(2 * self._k.shape[-2], self._n + new)
                k, v = self._room(self._k, size), self._room(self._v, size)
                k[:, :, : self._n], v[:, :, : self._n] = self._k[:, :, : self._n], self._v[:, :, : self._n]
                self._k, self._v = k, v
            self._k[:, :, self._n : self._n + new] = key_states
            self._v[:, :, self._n : self._n + new] = value_states
            self._n += new
            self.keys, self.values = self._k[:, :, : self._n], self._v[:, :, : self._n]
            return self.keys, self.values

        @staticmethod
        def _room(like: torch.Tensor, length: int) -> torch.Tensor:
            return like.new_empty((*like.shape[:2], length, like.shape[-1]))

        def batch_select_indices(self, indices: torch.Tensor) -> None:
            if self.is_initialized:
                self._k, self._v = self._k[indices], self._v[indices]
                self.keys, self.values = self._k[:, :, : self._n], self._v[:, :, : self._n]

        def batch_repeat_interleave(self, repeats: int) -> None:
            if self.is_initialized:
                self._k = self._k.repeat_interleave(repeats, dim=0)
                self._v = self._v.repeat_interleave(repeats, dim=0)
                self.keys, self.values = self._k[:, :, : self._n], self._v[:, :, : self._n]

    return GrowingLayer


def _left_pad(rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack (len_i, hidden) rows into (batch, max_len, hidden) padded on the left, plus a mask."""
    width = max(r.shape[0] for r in rows)
    hidden = rows[0].shape[1]
    embeds = rows[0].new_zeros((len(rows), width, hidden))
    mask = torch.zeros((len(rows), width), dtype=torch.long, device=embeds.device)
    for i, row in enumerate(rows):
        embeds[i, width - row.shape[0] :] = row
        mask[i, width - row.shape[0] :] = 1
    return embeds, mask


def _last_logits(
    model: torch.nn.Module, cache: object, mask: torch.Tensor, positions: torch.Tensor, **inputs: torch.Tensor
) -> torch.Tensor:
    """One forward pass that extends ``cache``; the logits of each row's last position."""
    out = model(**inputs, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True, logits_to_keep=1)
    logits: torch.Tensor = out.logits[:, -1, :].float()
    return logits


def _sample(logits: torch.Tensor, temperature: float, top_p: float, gen: torch.Generator) -> int:
    """Nucleus sampling of one row: keep the smallest set of tokens whose mass reaches top_p."""
    # On the CPU, where the seeded per-row generator lives, whatever device decoded the logits.
    probs = torch.softmax(logits.cpu() / temperature, dim=-1)
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


class PrefixMemo:
    """The key/value states of the last few prefix passes, so a prefix scored again (an
    instruction's validation examples, then its test examples in batches) is computed once.

    Keyed by everything the pass read: the token ids of every prefix computed together (a pass's
    rounding depends on its batch). A hit rebuilds the cache exactly as the pass filled it, so
    the rows' scores are the same to the bit (``tests/models/test_prefix_sharing.py``).
    """

    def __init__(self, capacity: int = 8) -> None:
        self.capacity = capacity
        self.hits = 0
        self._states: OrderedDict[Hashable, list[tuple[torch.Tensor, torch.Tensor]]] = OrderedDict()

    def get(self, key: Hashable) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
        states = self._states.get(key)
        if states is not None:
            self._states.move_to_end(key)
            self.hits += 1
        return states

    def put(self, key: Hashable, cache: Any) -> None:
        self._states[key] = [(layer.keys.clone(), layer.values.clone()) for layer in cache.layers]
        while len(self._states) > self.capacity:
            self._states.popitem(last=False)


def _new_cache() -> Any:
    from transformers import DynamicCache

    cache = DynamicCache()
    cache.layer_class_to_replicate = _growing_layer_class()
    return cache


def prefill_prefixes(
    model: torch.nn.Module,
    prompts: list[torch.Tensor],
    prefixes: list[torch.Tensor] | None,
    prefix_of_row: list[int] | None,
    memo: PrefixMemo | None = None,
    prefix_key: Hashable | None = None,
) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor, list[int]]:
    """Left-pad the rows and compute each shared prefix's KV cache once, copied to its rows.

    Returns (cache, row embeddings, attention mask over prefix + row, row position ids, prefix
    length of each row): what a forward pass over the rows needs, for decoding or for scoring.
    With ``memo`` and ``prefix_key`` (what identifies ``prefixes``), a prefix pass made before
    is read back instead of computed.
    """
    batch = len(prompts)
    embeds, mask = _left_pad(prompts)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    cache = _new_cache()
    n_prefix = [0] * batch
    if prefixes:
        if prefix_of_row is None or len(prefix_of_row) != batch:
            raise ValueError("prefixes need one prefix index per row")
        prefix_embeds, prefix_mask = _left_pad(prefixes)
        prefix_positions = (prefix_mask.cumsum(-1) - 1).clamp(min=0)
        known = memo.get(prefix_key) if memo is not None and prefix_key is not None else None
        if known is not None:
            for layer, (keys, values) in enumerate(known):
                cache.update(keys, values, layer)
        else:
            _last_logits(model, cache, prefix_mask, prefix_positions, inputs_embeds=prefix_embeds)
            if memo is not None and prefix_key is not None:
                memo.put(prefix_key, cache)
        index = torch.tensor(prefix_of_row, device=prefix_embeds.device)
        cache.batch_select_indices(index)
        row_prefix_mask = prefix_mask[index]
        mask = torch.cat([row_prefix_mask, mask], dim=1)
        positions = positions + row_prefix_mask.sum(-1, keepdim=True)
        n_prefix = [int(prefixes[g].shape[0]) for g in prefix_of_row]
    return cache, embeds, mask, positions, n_prefix


@torch.inference_mode()
def last_hidden_states(model: torch.nn.Module, prompts: list[torch.Tensor]) -> list[tuple[float, ...]]:
    """Each prompt's last token's final hidden state (after the final norm), one prompt per
    forward pass, so a value never depends on which other prompts were computed with it."""
    base: Any = model.base_model
    out = []
    for prompt in prompts:
        state = base(inputs_embeds=prompt.unsqueeze(0), use_cache=False).last_hidden_state[0, -1]
        out.append(tuple(float(v) for v in state.to(torch.float32)))
    return out


@torch.inference_mode()
def decode(
    model: torch.nn.Module,
    tokenizer: object,
    prompts: list[torch.Tensor],
    params: DecodeParams,
    seeds: list[int] | None = None,
    eos_ids: frozenset[int] = frozenset(),
    prefixes: list[torch.Tensor] | None = None,
    prefix_of_row: list[int] | None = None,
    hidden: bool = False,
) -> list[Decoded]:
    """Generate a continuation for each prompt, given as its (len, hidden) input embeddings.

    ``prefixes`` (each (len, hidden)) are parts several prompts start with: row ``i`` is
    ``prefixes[prefix_of_row[i]]`` followed by ``prompts[i]``. Each prefix's KV cache is computed
    once and copied to its rows, with the padding placed between prefix and row. So one batch
    can hold several instructions' examples: every decode step reads all the weights, and fuller
    batches pay for that fewer times. Rows that finish leave the batch, so a long answer does
    not make the short ones pay for its steps.
    ``seeds`` (one per row) are used only when sampling (temperature > 0). With ``hidden``, each
    row also returns its last prompt token's final hidden state, read off the prefill (the final
    norm's output at the last position, as ``last_hidden_states`` reads it).
    """
    batch = len(prompts)
    cache, embeds, mask, positions, n_prefix = prefill_prefixes(model, prompts, prefixes, prefix_of_row)
    states: list[torch.Tensor] = []
    norm: Any = model.base_model.norm  # the final norm: its output is ``last_hidden_state``
    hook = norm.register_forward_hook(lambda _m, _i, out: states.append(out[:, -1].float())) if hidden else None
    try:
        logits = _last_logits(model, cache, mask, positions, inputs_embeds=embeds)
    finally:
        if hook is not None:
            hook.remove()
    last = [tuple(float(v) for v in row) for row in states[0]] if hidden else [()] * batch
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
            index = torch.tensor(keep, device=mask.device)
            cache.batch_select_indices(index)
            mask, positions = mask[index], positions[index]
            chosen = [chosen[j] for j in keep]
            active = [active[j] for j in keep]
        mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=1)
        positions = positions[:, -1:] + 1
        chosen_ids = torch.tensor(chosen, device=mask.device).unsqueeze(1)
        logits = _last_logits(model, cache, mask, positions, input_ids=chosen_ids)
    results = []
    for i in range(batch):
        text = decode_text(generated[i], skip_special_tokens=True)
        if cut[i] is not None:
            text = text[: cut[i]]
        results.append(
            Decoded(
                text=text,
                finish_reason=finish[i] or "length",
                prompt_tokens=n_prefix[i] + int(prompts[i].shape[0]),
                completion_tokens=len(generated[i]),
                hidden=last[i],
            )
        )
    return results
