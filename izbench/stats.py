"""Paired bootstrap intervals: what the report's method comparisons and the signal check share."""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A mean with its 95% percentile-bootstrap interval."""

    mean: float
    low: float
    high: float

    @property
    def above_zero(self) -> bool:
        return self.low > 0

    def text(self, digits: int = 3) -> str:
        return f"{self.mean:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"


def bootstrap_mean(values: Sequence[float], seed: int = 0, resamples: int = 2000) -> Interval:
    """The mean of ``values`` and a 95% interval from ``resamples`` resamples with replacement.

    The resampling draws from its own seeded generator, never a global RNG, so the same values
    always give the same interval. It is ``random.Random(seed).choices`` drawn in numpy: the
    same Mersenne Twister stream and the same indices; the means are numpy's (pairwise sums, not
    ``fsum``), so the bounds agree with the pure-Python loop's to ~1e-15 relative at ~50x its
    speed (that loop spent ~2.5 s a pair on a comparison of 5,000 examples).
    """
    if not values:
        raise ValueError("no values to bootstrap")
    data = np.asarray(values, dtype=float)
    n = len(data)
    stream = python_random_stream(seed)
    means: list[float] = []
    for start in range(0, resamples, _CHUNK):
        draws = stream.random((min(_CHUNK, resamples - start), n))
        draws *= n  # floor(u * n) as random.choices takes it; u >= 0, so truncation is floor
        means += data[draws.astype(np.intp)].mean(axis=1).tolist()
    means.sort()
    return Interval(statistics.fmean(values), means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1])


_CHUNK = 32
"""Resamples drawn at once: small blocks stay in cache (4x faster than one large block)."""


def python_random_stream(seed: int) -> np.random.Generator:
    """A numpy generator in the state ``random.Random(seed)`` starts in: both are MT19937 and
    build a double from two 32-bit outputs the same way, so ``random()`` values agree."""
    _, internal, _ = random.Random(seed).getstate()
    bits = np.random.MT19937()
    bits.state = {
        "bit_generator": "MT19937",
        "state": {"key": np.array(internal[:-1], dtype=np.uint32), "pos": internal[-1]},
    }
    return np.random.Generator(bits)
