"""Requests- and tokens-per-minute limits for API backends, so a run stays under a provider's quota.

Built on the ``limits`` package's moving-window limiter (in memory, thread-safe): a request
waits until both its count and its estimated tokens fit in the last window. Waiting here is
cheaper than a 429 and the backoff that follows it.
"""

from __future__ import annotations

import threading
import time

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from izbench.models.types import estimated_tokens

__all__ = ["RateLimiter", "estimated_tokens"]


class RateLimiter:
    """Blocks each call until it fits under ``rpm`` requests and ``tpm`` tokens per window."""

    def __init__(self, rpm: int | None = None, tpm: int | None = None, window_s: int = 60) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._requests = RateLimitItemPerSecond(rpm, window_s) if rpm else None
        self._tokens = RateLimitItemPerSecond(tpm, window_s) if tpm else None
        self._tpm = tpm
        self._lock = threading.Lock()
        self.waited_s = 0.0
        """Total time calls spent waiting for the limits (shown by the benchmark and tests)."""

    @property
    def active(self) -> bool:
        return self._requests is not None or self._tokens is not None

    def acquire(self, tokens: int) -> None:
        """Wait until one request of ``tokens`` tokens may be sent, then count it."""
        if not self.active:
            return
        cost = min(tokens, self._tpm) if self._tpm else tokens  # a huge request must still fit once
        began = time.monotonic()
        while True:
            with self._lock:
                fits = (self._requests is None or self._limiter.test(self._requests, "r")) and (
                    self._tokens is None or self._limiter.test(self._tokens, "t", cost=cost)
                )
                if fits:
                    if self._requests is not None:
                        self._limiter.hit(self._requests, "r")
                    if self._tokens is not None:
                        self._limiter.hit(self._tokens, "t", cost=cost)
                    break
                resets = [
                    self._limiter.get_window_stats(item, key).reset_time
                    for item, key in ((self._requests, "r"), (self._tokens, "t"))
                    if item is not None
                ]
            time.sleep(max(0.01, min(1.0, min(resets) - time.time())))
        with self._lock:
            self.waited_s += time.monotonic() - began
