"""Planning the local backend's batches: which rows go together, and which tokens they share.

Pure functions of token ids, so the plan (and with it every row's float rounding, which depends
on its batch) is a function of the requests alone. Scoring and decoding both use it: prompts are
grouped by a shared prefix (an instruction's tokens, computed once per group), groups are cut
into even pieces and packed into batches of at most ``batch_size`` rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def common_prefix(rows: Sequence[Sequence[int]]) -> int:
    """Length of the token prefix every row starts with."""
    first = rows[0]
    n = min(len(r) for r in rows)
    for k in range(n):
        if any(r[k] != first[k] for r in rows):
            return k
    return n


def even_pieces(items: list[int], size: int) -> list[list[int]]:
    """``items`` cut into the fewest pieces of at most ``size``, as even as can be: 40 rows in
    batches of 32 become 20 + 20, not 32 + 8 (a batch pads to its longest row and decodes
    until its longest ends)."""
    if not items:
        return []
    n = -(-len(items) // size)
    step = -(-len(items) // n)
    return [items[k : k + step] for k in range(0, len(items), step)]


MIN_SHARED_TOKENS = 16
"""Prompts form a group with a prefix of its own only if computing that prefix once spares at
least this many tokens: (prompts - 1) x (tokens they share beyond what all prompts share). Ten
examples of a 6-token instruction do (54 tokens), so they do not carry it in every row;
"the number 1" vs "the number 2" do not."""


def shared_prefix_batches(ids: dict[int, list[int]], batch_size: int) -> list[list[list[int]]]:
    """Batches of groups of request indices; each group's prompts share a long prefix.

    Prompts are sorted by their tokens, so those with the same instruction lie together, and
    cut into the runs that spare the most tokens in all (``_prefix_groups``); runs that spare
    fewer than ``MIN_SHARED_TOKENS`` tokens are pooled into one group. Groups are cut into even
    pieces of at most ``batch_size`` and packed, in order, into as even batches as the pieces
    allow (each at most ``batch_size`` rows).
    """
    order = sorted(ids, key=lambda i: ids[i])
    if len(order) < 2:
        return [[order]] if order else []
    groups, pooled = _prefix_groups([ids[i] for i in order])
    named = [[order[k] for k in group] for group in groups]
    if pooled:
        named.append([order[k] for k in pooled])
    pieces = [piece for group in named for piece in even_pieces(group, batch_size)]
    # Batches as even as the pieces allow, and no more of them than packing each up to
    # ``batch_size``: four groups of 10 at 32 rows go 20 + 20, not 30 + 10.
    fullest = _pack(pieces, batch_size)
    even = _pack(pieces, -(-len(order) // len(fullest)))
    return even if len(even) == len(fullest) else fullest


def _pack(pieces: list[list[int]], cap: int) -> list[list[list[int]]]:
    """Pieces in order into batches of at most ``cap`` rows (a larger piece alone)."""
    batches: list[list[list[int]]] = []
    rows = 0  # in the last batch
    for piece in pieces:
        if batches and rows + len(piece) <= cap:
            batches[-1].append(piece)
            rows += len(piece)
        else:
            batches.append([piece])
            rows = len(piece)
    return batches


def _prefix_groups(rows: list[list[int]]) -> tuple[list[list[int]], list[int]]:
    """Sorted ``rows`` cut into runs with a prefix of their own, and the rest (pooled).

    A run of ``k`` rows whose common prefix is ``p`` tokens beyond what all rows share spares
    ``(k - 1) * p`` tokens. The cut is the one that spares the most in all (dynamic programming
    over the sorted order), so instructions that open alike ("The instruction was to ...") still
    get prefixes of their own instead of one group whose prefix stops where they part.
    """
    n = len(rows)
    links = [common_prefix([a, b]) for a, b in zip(rows, rows[1:], strict=False)]
    base = min(links)
    best = [0] * (n + 1)
    start: list[int | None] = [None] * (n + 1)  # where the run ending before j begins; None: pooled
    for j in range(1, n + 1):
        best[j], start[j] = best[j - 1], None
        shared = None
        for i in range(j - 2, -1, -1):
            shared = links[i] if shared is None else min(shared, links[i])
            if shared <= base:
                break
            spare = (j - i - 1) * (shared - base)
            if spare >= MIN_SHARED_TOKENS and best[i] + spare > best[j]:
                best[j], start[j] = best[i] + spare, i
    groups: list[list[int]] = []
    pooled: list[int] = []
    j = n
    while j > 0:
        begin = start[j]
        if begin is None:
            pooled.append(j - 1)
            j -= 1
        else:
            groups.append(list(range(begin, j)))
            j = begin
    return groups[::-1], pooled[::-1]


@dataclass(frozen=True)
class Prefixed:
    """One batch of prefix groups, cut into what each group shares and what each row keeps."""

    rows: list[int]
    """Request indices, group after group."""
    heads: list[list[int]]
    """Each group's shared prefix."""
    tails: list[list[int]]
    """Each row's tokens after its group's prefix."""
    prefix_of_row: list[int]
    """Which head each row follows."""


def with_prefixes(
    batch: list[list[int]], ids: dict[int, list[int]], own: dict[int, int], at_least: int = 0
) -> Prefixed:
    """Cut each group of ``batch`` at the prefix its rows share, leaving row ``i`` at least its
    last ``own[i]`` tokens (what it predicts from and scores), and each head ``at_least`` tokens."""
    rows: list[int] = []
    heads: list[list[int]] = []
    tails: list[list[int]] = []
    prefix_of_row: list[int] = []
    for g, group in enumerate(batch):
        tokens = [ids[i] for i in group]
        n = max(at_least, min(common_prefix(tokens), min(len(ids[i]) - own[i] for i in group)))
        heads.append(tokens[0][:n])
        rows += group
        tails += [t[n:] for t in tokens]
        prefix_of_row += [g] * len(group)
    return Prefixed(rows, heads, tails, prefix_of_row)
