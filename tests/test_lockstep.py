"""Lockstep cells: every round sends each backend one batch, in cell order, whatever the cells do
between their calls; errors stay with their cell; Ctrl-C stops every cell."""

from __future__ import annotations

import math
import operator
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from izbench.cache import CachedClient, CallStats, ResponseCache
from izbench.errors import BackendError
from izbench.lockstep import Lane, run_lockstep
from izbench.models.base import ModelBackend
from izbench.models.types import Completion, CompletionRequest

Route = Callable[[ModelBackend], ModelBackend]


class Echo:
    """Answers each prompt with itself upper-cased and records every batch it was sent."""

    kind = "echo"
    model_id = "echo"
    revision = "1"

    def __init__(self, name: str = "echo") -> None:
        self.model_id = name
        self.batches: list[list[str]] = []

    def complete(self, requests: Sequence[CompletionRequest]) -> list[Completion | BackendError]:
        prompts = [r.messages[-1].content for r in requests]
        self.batches.append(prompts)
        return [
            BackendError(f"cannot answer {p}")
            if p.startswith("bad")
            else Completion(text=p.upper(), finish_reason="stop", prompt_tokens=1, completion_tokens=1, latency_s=0.0)
            for p in prompts
        ]

    def close(self) -> None:
        pass


def _ask(client: CachedClient, *prompts: str) -> list[str]:
    return [c.text for c in client.complete([CompletionRequest.user(p) for p in prompts])]


def _client(route: Route, backend: Echo, tmp: Path, tally: CallStats | None = None) -> CachedClient:
    return CachedClient(route(backend), ResponseCache(tmp / "cache"), CallStats(), tally=tally)


def test_rounds_batch_the_kth_call_of_every_cell_in_cell_order(tmp_path: Path) -> None:
    echo = Echo()
    tallies = [CallStats() for _ in range(3)]

    def cell(name: str, calls: int) -> Callable[[Route], list[str]]:
        def job(route: Route) -> list[str]:
            client = _client(route, echo, tmp_path, tallies[int(name[-1])])
            out = []
            for k in range(calls):
                out += _ask(client, *(f"{name}.{k}.{j}" for j in range(k + 1)))
            return out

        return job

    outcomes = run_lockstep([cell("c0", 2), cell("c1", 3), cell("c2", 1)])
    assert [o.error for o in outcomes] == [None, None, None]
    assert outcomes[1].value == ["C1.0.0", "C1.1.0", "C1.1.1", "C1.2.0", "C1.2.1", "C1.2.2"]
    assert echo.batches == [
        ["c0.0.0", "c1.0.0", "c2.0.0"],
        ["c0.1.0", "c0.1.1", "c1.1.0", "c1.1.1"],
        ["c1.2.0", "c1.2.1", "c1.2.2"],
    ]
    assert [t.made for t in tallies] == [3, 6, 1]  # each cell counts its own calls


def test_a_cell_served_from_the_cache_does_not_hold_a_round(tmp_path: Path) -> None:
    echo = Echo()
    seen = _client(lambda b: b, echo, tmp_path)
    _ask(seen, "warm")
    echo.batches.clear()

    def cached(route: Route) -> list[str]:
        return _ask(_client(route, echo, tmp_path), "warm") * 3

    def cold(route: Route) -> list[str]:
        return _ask(_client(route, echo, tmp_path), "cold")

    outcomes = run_lockstep([cached, cold])
    assert [o.value for o in outcomes] == [["WARM"] * 3, ["COLD"]]
    assert echo.batches == [["cold"]]


def test_each_backend_gets_its_own_batch_and_errors_stay_with_their_cell(tmp_path: Path) -> None:
    first, second = Echo("first"), Echo("second")
    finished: list[int] = []

    def job(backend: Echo, prompt: str) -> Callable[[Route], list[str]]:
        return lambda route: _ask(_client(route, backend, tmp_path), prompt, prompt + "!")

    outcomes = run_lockstep(
        [job(first, "a"), job(second, "b"), job(first, "bad"), job(second, "d")],
        on_done=lambda index, _outcome: finished.append(index),
    )
    assert first.batches == [["a", "a!", "bad", "bad!"]] and second.batches == [["b", "b!", "d", "d!"]]
    assert [o.value for o in outcomes] == [["A", "A!"], ["B", "B!"], None, ["D", "D!"]]
    assert isinstance(outcomes[2].error, BackendError) and "cannot answer bad" in str(outcomes[2].error)
    assert finished == [0, 1, 2, 3]


def test_an_interrupt_stops_every_parked_cell_and_propagates(tmp_path: Path) -> None:
    echo = Echo()
    stopped: list[str] = []

    def parks(name: str) -> Callable[[Route], list[str]]:
        def job(route: Route) -> list[str]:
            try:
                return _ask(_client(route, echo, tmp_path), name)
            except BaseException as error:  # what a store's mark_failed sees
                stopped.append(f"{name}: {type(error).__name__}")
                raise

        return job

    def interrupted(route: Route) -> list[str]:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_lockstep([parks("x"), interrupted, parks("y")])
    assert stopped == ["x: GreenletExit"]  # y never started; nothing was sent
    assert echo.batches == []


def test_offloaded_work_runs_elsewhere_keeps_the_rounds_and_raises_in_its_cell(tmp_path: Path) -> None:
    echo = Echo()

    def cell(name: str, offloads: bool) -> Callable[[Lane], list[str]]:
        def job(lane: Lane) -> list[str]:
            client = _client(lane, echo, tmp_path)
            out = _ask(client, f"{name}.0")
            if offloads:
                out.append(str(lane.offload(math.factorial, 20)))
            return out + _ask(client, f"{name}.1")

        return job

    def failing(lane: Lane) -> list[str]:
        return [str(lane.offload(operator.truediv, 1, 0))]

    def where(lane: Lane) -> list[str]:
        return [str(lane.offload(os.getpid))]

    outcomes = run_lockstep([cell("a", True), failing, cell("b", False), where])
    assert outcomes[0].value == ["A.0", str(math.factorial(20)), "A.1"]
    # The cell that waited for the pool still joins round 2 with the one that did not.
    assert echo.batches == [["a.0", "b.0"], ["a.1", "b.1"]]
    assert isinstance(outcomes[1].error, ZeroDivisionError)
    pid = int((outcomes[3].value or ["0"])[0])
    assert (pid != os.getpid()) == ((os.cpu_count() or 1) >= 2)  # a worker process, given two cores


def test_a_ctrl_c_duckdb_turned_into_an_error_stops_every_cell() -> None:
    """DuckDB 2.0 raises a Ctrl-C that lands during a query as ``RuntimeError("Query interrupted")``
    (seen in the kill-and-resume test of ``tests/store/test_compare_e2e.py``): a cell writing to
    the store then must stop the run, not fail alone."""
    finished: list[int] = []

    def writing(lane: Lane) -> int:
        raise RuntimeError("Query interrupted")

    def other(lane: Lane) -> int:
        finished.append(1)
        return 1

    with pytest.raises(KeyboardInterrupt):
        run_lockstep([writing, other])
    assert finished == []  # the cell after it never ran
    (outcome,) = run_lockstep([lambda lane: (_ for _ in ()).throw(RuntimeError("another error"))])
    assert isinstance(outcome.error, RuntimeError)  # any other error stays with its cell
