"""The local backend's batch planner: groups by shared prefix, even pieces, packing, and where
each group's shared tokens end."""

from __future__ import annotations

from izbench.models.batching import even_pieces, shared_prefix_batches, with_prefixes


def test_batches_group_prompts_by_instruction() -> None:
    header = [1, 2, 3]
    a, b = list(range(100, 120)), list(range(200, 220))  # two 20-token instructions
    ids = {0: header + a + [50], 1: header + b + [50], 2: header + a + [60], 3: header + b + [60], 4: header + a + [70]}
    assert shared_prefix_batches(ids, 8) == [[[0, 2, 4], [1, 3]]]  # one batch, two prefix groups
    assert shared_prefix_batches(ids, 2) == [[[0, 2]], [[4]], [[1, 3]]]
    assert shared_prefix_batches(ids, 3) == [[[0, 2, 4]], [[1, 3]]]
    # Prompts whose shared tokens beyond the header spare too little form one pooled group.
    short = {0: header + [9, 1], 1: header + [8, 2], 2: header + [9, 3], 3: header + [7]}
    assert shared_prefix_batches(short, 8) == [[[3, 1, 0, 2]]]
    assert shared_prefix_batches(short, 2) == [[[3, 1]], [[0, 2]]]
    # A short instruction (4 tokens) shared by 9 prompts spares 32 tokens: a group of its own.
    many = {i: header + [9, 9, 9, 9, i] for i in range(9)} | {9: header + [8, 1], 10: header + [7, 2]}
    assert shared_prefix_batches(many, 16) == [[list(range(9)), [10, 9]]]


def test_instructions_that_open_alike_keep_prefixes_of_their_own() -> None:
    """Two instructions opening with the same words, a third opening otherwise: three groups,
    each with its whole instruction as its prefix (cutting only where neighbours shared no
    more than every prompt did merged the first two into one group with a 6-token prefix)."""
    header, opening = [1, 2, 3], [5, 5, 5]
    a, b, c = list(range(100, 120)), list(range(200, 220)), list(range(300, 320))
    ids = {k: header + opening + (a if k % 2 == 0 else b) + [50 + k] for k in range(8)}
    ids |= {8 + k: header + c + [60 + k] for k in range(3)}
    assert shared_prefix_batches(ids, 32) == [[[0, 2, 4, 6], [1, 3, 5, 7], [8, 9, 10]]]
    # Packed as evenly as whole groups allow: 11 rows at 8 per batch go 8 + 3.
    assert shared_prefix_batches(ids, 8) == [[[0, 2, 4, 6], [1, 3, 5, 7]], [[8, 9, 10]]]
    # Four groups of 5 at 16 rows per batch: 10 + 10, not 15 + 5.
    four = {g * 10 + k: [1, g * 7 + 30] + list(range(g * 40, g * 40 + 12)) + [k] for g in range(4) for k in range(5)}
    assert [sum(map(len, batch)) for batch in shared_prefix_batches(four, 16)] == [10, 10]


def test_even_pieces_are_the_fewest_and_as_even_as_can_be() -> None:
    assert [len(p) for p in even_pieces(list(range(40)), 32)] == [20, 20]
    assert [len(p) for p in even_pieces(list(range(179)), 96)] == [90, 89]
    assert even_pieces(list(range(5)), 8) == [[0, 1, 2, 3, 4]]
    assert even_pieces([], 8) == []


def test_each_row_keeps_its_own_tokens_and_each_head_its_minimum() -> None:
    header, instruction = [1, 2, 3], list(range(100, 110))
    ids = {0: header + instruction + [7, 8], 1: header + instruction + [9], 2: header + [5, 6]}
    # Scoring: row 1 keeps its last 2 tokens (a 1-token continuation and the token before it).
    cut = with_prefixes([[0, 1], [2]], ids, {0: 3, 1: 2, 2: 2})
    assert cut.rows == [0, 1, 2] and cut.prefix_of_row == [0, 0, 1]
    assert cut.heads == [header + instruction[:-1], header[:3]]
    assert cut.tails == [[instruction[-1], 7, 8], [instruction[-1], 9], [5, 6]]
    assert all(
        h + t == ids[i] for i, h, t in zip(cut.rows, [cut.heads[g] for g in cut.prefix_of_row], cut.tails, strict=True)
    )
    # Decoding: a head of at least one token, even where a row would keep everything.
    assert with_prefixes([[2]], ids, {2: 5}, at_least=1).heads == [[1]]
