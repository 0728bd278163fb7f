"""Paired bootstrap intervals: what the report's method comparisons and the signal check share."""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


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

    The resampling draws from its own seeded ``random.Random``, never a global RNG, so the same
    values always give the same interval.
    """
    if not values:
        raise ValueError("no values to bootstrap")
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(values, k=len(values))) for _ in range(resamples))
    return Interval(statistics.fmean(values), means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1])
