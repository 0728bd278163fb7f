"""How a method picks from a pool it has written: full validation, or successive halving.

Successive halving (Karnin et al. 2013; used for prompt selection as best-arm identification by
TRIPLE, Shi et al. 2024) scores every candidate on a short prefix of the fixed validation set,
keeps the better half, extends the prefix for the survivors, and repeats until one candidate is
left, which is then scored on the whole set. Each (instruction, example) is scored once, so a
pool of N costs about ``n * (1 + log2 N)`` instead of ``n * N`` black-box calls for ``n``
validation examples. A candidate dropped early is recorded with the examples it was scored on;
it can never be the method's best (``MethodResult.best`` prefers the most examples).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from izbench.methods.base import Tracker
from izbench.results import Scored


def halving_prefixes(pool: int, n_validation: int) -> list[int]:
    """Validation prefix length of each round for a pool of ``pool`` candidates: the last round
    (one survivor) uses all ``n_validation`` examples, each earlier round about half the next."""
    rounds = math.ceil(math.log2(pool)) if pool > 1 else 0
    return [max(1, math.ceil(n_validation / 2 ** (rounds - r))) for r in range(rounds + 1)]


def successive_halving(
    tracker: Tracker,
    pool: Sequence[str],
    soft_prompts: Sequence[tuple[float, ...] | None] | None = None,
    parents: Sequence[str | None] | None = None,
) -> None:
    """Successive halving over ``pool`` (distinct instructions), recording every candidate."""
    validation = tracker.context.split.validation
    prefixes = halving_prefixes(len(pool), len(validation))
    predictions: list[list[str]] = [[] for _ in pool]
    scores: list[list[float]] = [[] for _ in pool]
    alive = list(range(len(pool)))
    done = 0

    def emit(indices: list[int], note: str | None) -> None:
        ordered = sorted(indices)
        tracker.record(
            [pool[i] for i in ordered],
            [Scored(pool[i], tuple(predictions[i]), tuple(scores[i])) for i in ordered],
            [soft_prompts[i] for i in ordered] if soft_prompts else None,
            [parents[i] for i in ordered] if parents else None,
            note,
        )

    for r, prefix in enumerate(prefixes):
        if prefix > done:
            batch = tracker.context.scorer.score_many([pool[i] for i in alive], validation[done:prefix])
            for i, scored in zip(alive, batch, strict=True):
                predictions[i] += scored.predictions
                scores[i] += scored.scores
            done = prefix
        if r == len(prefixes) - 1:
            break
        ranked = sorted(alive, key=lambda i: (-sum(scores[i]) / len(scores[i]), i))
        keep = math.ceil(len(alive) / 2)
        emit(ranked[keep:], f"halving: dropped after {done} of {len(validation)} validation examples")
        alive = ranked[:keep]
    emit(alive, None)
