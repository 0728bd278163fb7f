"""The paired bootstrap: numpy's draws give the intervals of the pure-Python loop they replace."""

from __future__ import annotations

import random
import statistics

import pytest

from izbench.stats import Interval, bootstrap_mean, python_random_stream


def _by_python(values: list[float], seed: int, resamples: int) -> Interval:
    """The loop bootstrap_mean was: ``random.Random(seed).choices`` and ``fmean`` per resample."""
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(values, k=len(values))) for _ in range(resamples))
    return Interval(statistics.fmean(values), means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1])


@pytest.mark.parametrize(("n", "seed", "resamples"), [(1, 0, 50), (7, 3, 2000), (40, 11, 600), (1300, 2, 300)])
def test_the_interval_is_the_python_loops(n: int, seed: int, resamples: int) -> None:
    source = random.Random(100 + n)
    values = [source.gauss(0, 1) * 10 ** source.randint(-3, 3) for _ in range(n)]
    mine, theirs = bootstrap_mean(values, seed, resamples), _by_python(values, seed, resamples)
    assert mine.mean == theirs.mean
    # The same resamples; only the rounding of each resample's sum differs (pairwise vs fsum).
    assert mine.low == pytest.approx(theirs.low, rel=1e-13, abs=1e-15)
    assert mine.high == pytest.approx(theirs.high, rel=1e-13, abs=1e-15)


def test_the_stream_is_pythons() -> None:
    mine, theirs = python_random_stream(42), random.Random(42)
    assert mine.random(5).tolist() == [theirs.random() for _ in range(5)]
    values = [float(k * k % 17) for k in range(30)]
    assert bootstrap_mean(values, seed=1) != bootstrap_mean(values, seed=2)
