"""Cells that take turns in one process, so their generator calls go to the model together.

A cell of the default profile asks the generator for two to four instructions at a time, and a
CPU decodes 2 rows barely faster than 32: every step reads all the weights. Run one after
another, the cells of a comparison keep the model at its slowest. Here each cell is a greenlet
(cooperative, not a thread): it runs until a client routed through here needs answers from its
backend, and parks there. When every live cell has parked or finished, the calls of that round
go to each backend as one batch, in cell order, and the cells resume in cell order.

No timing enters that order: round ``k`` holds the ``k``-th backend call of every cell that
makes one, so the batches are the same on every run. Only one greenlet runs at a time and
switches happen only inside a backend call, so process-wide state (the warnings filters, numpy's
global RNG that CMA-ES seeds) is never shared mid-use. The runtime routes only the instruction
writers here: a row's text does not depend on the other rows of its batch (the local backend's
batched-equals-unbatched test; sampled rows draw from their own seeded generators), while a
likelihood's last float bits do, so scores stay in the batches their cell makes. (Where two cells
score the same instruction, whichever gets there first computes it and the other reads the cache,
so such a score can differ from a one-by-one run's in its last bits.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from greenlet import GreenletExit, greenlet

from izbench.errors import BackendError
from izbench.models.base import ModelBackend
from izbench.models.types import Completion, CompletionRequest

T = TypeVar("T")
Answers = list[Completion | BackendError]


@dataclass
class _Parked:
    """A cell waiting for one backend call."""

    cell: int
    backend: ModelBackend
    requests: list[CompletionRequest]


@dataclass
class Outcome(Generic[T]):
    """What a cell returned, or the exception it raised."""

    value: T | None = None
    error: Exception | None = None


class _RoutedBackend:
    """One cell's view of a backend: ``complete`` parks the cell until its round is sent; every
    other attribute (identity for cache keys, embeddings, hidden size) is the backend's own."""

    def __init__(self, inner: ModelBackend, hub: greenlet, cell: int) -> None:
        self._inner = inner
        self._hub = hub
        self._cell = cell
        self.kind = inner.kind
        self.model_id = inner.model_id
        self.revision = inner.revision

    def complete(self, requests: Sequence[CompletionRequest]) -> Answers:
        if not requests:
            return []
        answer = self._hub.switch(_Parked(self._cell, self._inner, list(requests)))
        if isinstance(answer, BaseException):
            raise answer
        result: Answers = answer
        return result

    def close(self) -> None:
        """The backend belongs to the runtime, which closes it."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def dispatch(parked: Sequence[_Parked]) -> list[Answers | Exception]:
    """One round: each backend gets every parked request for it as one call, cells in order."""
    out: list[Answers | Exception] = [[] for _ in parked]
    backends: dict[int, ModelBackend] = {}
    for p in parked:
        backends.setdefault(id(p.backend), p.backend)
    for key, backend in backends.items():
        members = [i for i, p in enumerate(parked) if id(p.backend) == key]
        requests = [r for i in members for r in parked[i].requests]
        try:
            answers = backend.complete(requests)
        except Exception as error:  # noqa: BLE001 - each cell of the round raises it as its own
            for i in members:
                out[i] = error
            continue
        start = 0
        for i in members:
            n = len(parked[i].requests)
            out[i] = answers[start : start + n]
            start += n
    return out


def run_lockstep(
    jobs: Sequence[Callable[[Callable[[ModelBackend], ModelBackend]], T]],
    on_done: Callable[[int, Outcome[T]], None] | None = None,
    on_round: Callable[[int, int, int], None] | None = None,
) -> list[Outcome[T]]:
    """Run each job as a cell; a job gets its ``route`` (wrap every backend it uses with it).

    Returns each job's outcome in job order. ``on_done(index, outcome)`` is called as a cell
    finishes, ``on_round(round, parked cells, requests)`` before each round is sent. An
    exception that is not an ``Exception`` (Ctrl-C) stops every cell where it is (each sees
    ``GreenletExit``, so a store marks it failed) and propagates.
    """
    hub = greenlet.getcurrent()
    outcomes: list[Outcome[T] | None] = [None] * len(jobs)

    def cell(index: int, job: Callable[[Callable[[ModelBackend], ModelBackend]], T]) -> Outcome[T]:
        try:
            return Outcome(value=job(lambda backend: _RoutedBackend(backend, hub, index)))  # type: ignore[arg-type]
        except Exception as error:  # noqa: BLE001 - reported as that cell's outcome
            return Outcome(error=error)

    cells = [greenlet(cell) for _ in jobs]
    parked: list[_Parked] = []

    def step(index: int, *value: object) -> None:
        """Run cell ``index`` (started with ``value``, or resumed with it) until it parks or ends."""
        got = cells[index].switch(*value)
        if isinstance(got, _Parked):
            parked.append(got)
            return
        outcome: Outcome[T] = got
        outcomes[index] = outcome
        if on_done is not None:
            on_done(index, outcome)

    try:
        for index, job in enumerate(jobs):
            step(index, index, job)
        rounds = 0
        while parked:
            rounds += 1
            this, parked = parked, []
            if on_round is not None:
                on_round(rounds, len(this), sum(len(p.requests) for p in this))
            for waiting, answer in zip(this, dispatch(this), strict=True):
                step(waiting.cell, answer)
    except BaseException:
        for g in cells:
            if g:  # started and not finished: parked
                g.throw(GreenletExit)
        raise
    return [o if o is not None else Outcome(error=RuntimeError("cell did not finish")) for o in outcomes]
