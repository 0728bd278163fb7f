"""A run's spending limits: at most N model calls and at most $X, never exceeded.

Only calls actually made count (cache hits are free). Before a batch is sent, each request is
reserved at its estimated cost (prompt estimate + every output token it may generate); once
answered, the reservation is replaced by the reported usage. A request that would cross a
limit is not sent: the client stores what was answered and raises ``BudgetExhausted``, so the
run stops cleanly and a rerun with a larger budget resumes from the cache and the store.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from izbench.errors import ConfigError, IzbenchError
from izbench.models.types import Completion, CompletionRequest, estimated_tokens

if TYPE_CHECKING:
    from izbench.settings import Settings


class BudgetExhausted(IzbenchError):
    """A call or cost limit was reached; everything answered so far is kept."""


@dataclass(frozen=True)
class Prices:
    """US dollars per million prompt and completion tokens of one backend."""

    prompt_per_mtok: float
    completion_per_mtok: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.prompt_per_mtok + completion_tokens * self.completion_per_mtok) / 1e6

    def estimate(self, request: CompletionRequest) -> float:
        """An upper-leaning cost of a request before it is sent."""
        prompt = estimated_tokens(request) - request.max_tokens
        return self.cost(prompt, request.max_tokens)


class Budget:
    """Counts calls and dollars across every client of a run; thread-safe."""

    def __init__(
        self,
        max_calls: int | None = None,
        max_cost: float | None = None,
        prices: dict[str, Prices] | None = None,
    ) -> None:
        self.max_calls = max_calls
        self.max_cost = max_cost
        self.prices = prices or {}
        self.calls = 0
        self.cost = 0.0
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Budget:
        """The limits and the black box's prices the settings give; ``--max-cost`` without prices
        is one line (nothing could be counted against it)."""
        prices = {}
        if settings.openai_price_prompt is not None or settings.openai_price_completion is not None:
            prices["openai"] = Prices(settings.openai_price_prompt or 0.0, settings.openai_price_completion or 0.0)
        if settings.max_cost is not None and not prices:
            raise ConfigError(
                "--max-cost needs prices: set IZBENCH_OPENAI_PRICE_PROMPT and IZBENCH_OPENAI_PRICE_COMPLETION "
                "(dollars per million tokens)"
            )
        return cls(settings.max_calls, settings.max_cost, prices)

    def price(self, kind: str, request: CompletionRequest) -> float:
        prices = self.prices.get(kind)
        return prices.estimate(request) if prices else 0.0

    def reserve(self, kind: str, requests: Sequence[CompletionRequest]) -> int:
        """How many of ``requests`` (in order) may be sent; those are counted at once."""
        with self._lock:
            allowed = 0
            for request in requests:
                if self.max_calls is not None and self.calls + 1 > self.max_calls:
                    break
                estimate = self.price(kind, request)
                if self.max_cost is not None and self.cost + estimate > self.max_cost:
                    break
                self.calls += 1
                self.cost += estimate
                allowed += 1
            return allowed

    def settle(self, kind: str, request: CompletionRequest, answer: Completion | None) -> float:
        """Replace a reservation by what the call really cost, where that is known; returns what
        the call is counted as costing (0 without prices).

        A failed call keeps its reservation (and its place in the call count): the endpoint may
        have billed it. So does an answer that reports no usage: settling it at $0 would let a
        run spend past ``--max-cost`` on an endpoint that never says what it charged.
        """
        prices = self.prices.get(kind)
        if prices is None:
            return 0.0
        estimate = prices.estimate(request)
        if answer is None or answer.prompt_tokens + answer.completion_tokens == 0:
            return estimate
        actual = prices.cost(answer.prompt_tokens, answer.completion_tokens)
        with self._lock:
            self.cost += actual - estimate
        return actual

    def describe(self) -> str:
        parts = []
        if self.max_calls is not None:
            parts.append(f"{self.calls} of --max-calls {self.max_calls} calls")
        if self.max_cost is not None:
            parts.append(f"${self.cost:.4f} of --max-cost ${self.max_cost:g}")
        return ", ".join(parts) or "no limit"

    def projected_cost(self, kind: str, calls: int, prompt_tokens: int, completion_tokens: int) -> float | None:
        """The cost of ``calls`` calls of about that size, if the backend has prices."""
        prices = self.prices.get(kind)
        return None if prices is None else calls * prices.cost(prompt_tokens, completion_tokens)
