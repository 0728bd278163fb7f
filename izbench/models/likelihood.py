"""Scoring a continuation with the embedded model: one forward pass, no decoding.

For a prompt ``x`` and a continuation ``y = (y_1, ..., y_m)``, the model gives

    log p(y_j | x, y_<j) = log_softmax(logits at the position before y_j)[y_j]

for every ``j`` in the same pass over ``x + y``. Rows are left-padded, so every row's
continuation ends at the last position: keeping the logits of the last ``max_j m_j + 1``
positions is enough (``logits_to_keep``), which spares a (rows x length x vocabulary) tensor.
Shared prefixes (an instruction's tokens) are computed once per batch, as in decoding, and
once per call sequence with a ``PrefixMemo`` (an instruction scored on validation, then test).
"""

from __future__ import annotations

from collections.abc import Hashable

import torch

from izbench.models.decoding import PrefixMemo, prefill_prefixes


@torch.inference_mode()
def continuation_logprobs(
    model: torch.nn.Module,
    rows: list[torch.Tensor],
    targets: list[list[int]],
    prefixes: list[torch.Tensor] | None = None,
    prefix_of_row: list[int] | None = None,
    memo: PrefixMemo | None = None,
    prefix_key: Hashable | None = None,
) -> list[list[float]]:
    """The log-probability of each target token; row ``i``'s embeddings end with its targets.

    ``rows[i]`` is a (len, hidden) tensor whose last ``len(targets[i])`` positions embed
    ``targets[i]``; it must hold at least one position before them (the first target is
    predicted from it). With ``prefixes``, row ``i`` follows ``prefixes[prefix_of_row[i]]``;
    ``memo`` keeps their pass for the next call with the same ``prefix_key``.
    """
    for row, target in zip(rows, targets, strict=True):
        if not target or row.shape[0] < len(target) + 1:
            raise ValueError("each row needs a non-empty target and a position before it")
    cache, embeds, mask, positions, _ = prefill_prefixes(model, rows, prefixes, prefix_of_row, memo, prefix_key)
    keep = max(len(t) for t in targets) + 1
    out = model(
        inputs_embeds=embeds,
        attention_mask=mask,
        position_ids=positions,
        cache=cache,
        use_cache=True,
        logits_to_keep=keep,
    )
    logprobs = torch.log_softmax(out.logits.float(), dim=-1)
    results: list[list[float]] = []
    for i, target in enumerate(targets):
        start = keep - 1 - len(target)
        rows_logp = logprobs[i, start : start + len(target)]
        picked = rows_logp.gather(-1, torch.tensor(target, device=rows_logp.device).unsqueeze(-1)).squeeze(-1)
        results.append([float(v) for v in picked])
    return results
