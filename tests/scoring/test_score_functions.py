"""The three score functions through the local black box and the cache: what they compute on the
tiny model, what they rank on SmolLM2."""

from __future__ import annotations

from pathlib import Path

import pytest

from izbench.cache import CachedClient, CacheMode, CallStats, ResponseCache
from izbench.errors import CacheMissError
from izbench.models.local import LocalBackend
from izbench.scoring import Scorer
from izbench.tasks.metrics import Metric
from izbench.tasks.types import Example

ANTONYMS = [Example(input=w, answers=(a,)) for w, a in [("hot", "cold"), ("tall", "short"), ("early", "late"),
                                                         ("happy", "sad"), ("open", "closed"), ("fast", "slow")]]  # fmt: skip
ANIMALS = [
    Example(input=f"{a}, {b}", answers=(big,), options=(a, b))
    for a, b, big in [
        ("mouse", "elephant", "elephant"),
        ("whale", "ant", "whale"),
        ("cat", "horse", "horse"),
        ("bee", "cow", "cow"),
        ("lion", "frog", "lion"),
        ("shark", "snail", "shark"),
    ]  # fmt: skip
]
REFERENCE = "Write a word that means the opposite of the input word."
WRONG = "Add the two numbers."


def test_likelihood_ranks_the_right_instruction_first(real_client: CachedClient) -> None:
    scorer = Scorer(real_client, Metric.EXACT_MATCH, score="likelihood", protocol="raw")
    right, wrong, empty = scorer.score_many([REFERENCE, WRONG, ""], ANTONYMS)
    # Nats per token: negative, and the task's own instruction makes the gold answers likelier.
    assert all(s < 0 for s in right.scores)
    assert right.mean > wrong.mean and right.mean > empty.mean
    assert sum(r > w for r, w in zip(right.scores, wrong.scores, strict=True)) >= 5
    assert right.predictions == tuple(e.answers[0] for e in ANTONYMS)


def test_likelihood_takes_the_best_acceptable_answer(real_client: CachedClient) -> None:
    scorer = Scorer(real_client, Metric.EXACT_MATCH, score="likelihood", protocol="raw")
    both = Example(input="hot", answers=("cold", "xylophone"))
    only_bad = Example(input="hot", answers=("xylophone",))
    only_good = Example(input="hot", answers=("cold",))
    s_both, s_bad, s_good = (scorer.score(REFERENCE, [e]).scores[0] for e in (both, only_bad, only_good))
    assert s_both == pytest.approx(max(s_bad, s_good)) and s_good > s_bad


@pytest.mark.parametrize("norm", ["chars", "none"])
def test_choice_picks_an_option_and_scores_accuracy(local_client: CachedClient, norm: str) -> None:
    scorer = Scorer(local_client, Metric.EXACT_MATCH, score="choice", protocol="raw", choice_norm=norm)  # type: ignore[arg-type]
    (scored,) = scorer.score_many(["Write the larger of the two animals."], ANIMALS)
    assert all(p in e.options for p, e in zip(scored.predictions, ANIMALS, strict=True))
    assert set(scored.scores) <= {0.0, 1.0}
    assert scored.scores == tuple(float(p == e.answers[0]) for p, e in zip(scored.predictions, ANIMALS, strict=True))


def test_scored_continuations_replay_with_zero_calls(local_backend: LocalBackend, tmp_path: Path) -> None:
    cold_stats, warm_stats = CallStats(), CallStats()
    cache = ResponseCache(tmp_path / "c", CacheMode.USE)
    first = Scorer(CachedClient(local_backend, cache, cold_stats), Metric.EXACT_MATCH, score="likelihood")
    scores = first.score(REFERENCE, ANTONYMS[:3]).scores
    cache.close()
    replay = ResponseCache(tmp_path / "c", CacheMode.REPLAY)
    again = Scorer(CachedClient(local_backend, replay, warm_stats), Metric.EXACT_MATCH, score="likelihood")
    assert again.score(REFERENCE, ANTONYMS[:3]).scores == scores
    assert cold_stats.made == 3 and warm_stats.made == 0 and warm_stats.served == 3
    # A scored continuation is keyed by it: a generation for the same prompt is not served from it.
    generate = Scorer(CachedClient(local_backend, replay, CallStats()), Metric.EXACT_MATCH, score="generate")
    with pytest.raises(CacheMissError):
        generate.score(REFERENCE, ANTONYMS[:1])
    replay.close()


def test_empty_options_are_one_clear_error(local_client: CachedClient) -> None:
    scorer = Scorer(local_client, Metric.EXACT_MATCH, score="choice")
    with pytest.raises(Exception, match="empty options; --score choice needs them"):
        scorer.score(REFERENCE, ANTONYMS[:1])
