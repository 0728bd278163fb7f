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

A cell may also offload a pure computation (``Lane.offload``: InstructZero's GP fit and
acquisition). It goes to a pool of worker processes and the cell waits while the others run, so
the fit overlaps the model's work for other cells instead of leaving a core idle. The wait ends
in a fixed order too: before a round is sent, the hub takes every offloaded result in the order
the cells asked for them and resumes those cells, which then join the round they would have
joined had they computed in place.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar

from greenlet import GreenletExit, greenlet

from izbench.errors import BackendError, interrupted
from izbench.models.base import ModelBackend
from izbench.models.types import Completion, CompletionRequest
from izbench.offload import inline, worker_init

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")
MAX_WORKERS = 4
"""Worker processes for offloaded computations, at most (and at most one per core)."""
Answers = list[Completion | BackendError]


@dataclass
class _Parked:
    """A cell waiting for one backend call."""

    cell: int
    backend: ModelBackend
    requests: list[CompletionRequest]


@dataclass
class _Offloaded:
    """A cell waiting for a computation it handed to the pool."""

    cell: int
    future: Future[Any]


class _Pool:
    """The worker processes, started on the first offload (most runs never need them)."""

    def __init__(self) -> None:
        self._executor: ProcessPoolExecutor | None = None

    @staticmethod
    def workers() -> int:
        return min(MAX_WORKERS, os.cpu_count() or 1)

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Future[Any]:
        if self._executor is None:
            # Spawned, not forked: the parent holds torch's thread pools and the model.
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers(), mp_context=multiprocessing.get_context("spawn"), initializer=worker_init
            )
        return self._executor.submit(fn, *args, **kwargs)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


class Lane:
    """One cell's way out of its greenlet: ``lane(backend)`` is the backend as the cell must
    call it (parking until its round), ``lane.offload(fn, ...)`` a computation done elsewhere."""

    def __init__(self, hub: greenlet, cell: int, pool: _Pool) -> None:
        self._hub = hub
        self._cell = cell
        self._pool = pool

    def __call__(self, backend: ModelBackend) -> ModelBackend:
        return _RoutedBackend(backend, self._hub, self._cell)  # type: ignore[return-value]

    def offload(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """``fn(*args, **kwargs)`` computed in a worker process while the other cells run."""
        if self._pool.workers() < 2:  # one core: nothing to overlap with
            return inline(fn, *args, **kwargs)
        answer = self._hub.switch(_Offloaded(self._cell, self._pool.submit(fn, args, kwargs)))
        if isinstance(answer, _Failed):
            raise answer.error
        result: R = answer
        return result


@dataclass
class _Failed:
    """An offloaded computation's exception, handed back to its cell to raise."""

    error: BaseException


def _result(future: Future[Any]) -> object:
    try:
        return future.result()
    except Exception as error:  # noqa: BLE001 - raised in the cell that asked
        return _Failed(error)


@dataclass
class Outcome(Generic[T]):
    """What a cell returned, or the exception it raised."""

    value: T | None = None
    error: Exception | None = None


class _RoutedBackend:
    """One cell's view of a backend: ``complete`` parks the cell until its round is sent; its
    identity (for cache keys) is the backend's own."""

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
    jobs: Sequence[Callable[[Lane], T]],
    on_done: Callable[[int, Outcome[T]], None] | None = None,
    on_round: Callable[[int, int, int], None] | None = None,
) -> list[Outcome[T]]:
    """Run each job as a cell; a job gets its ``Lane`` (wrap every backend it uses with it,
    offload through it).

    Returns each job's outcome in job order. ``on_done(index, outcome)`` is called as a cell
    finishes, ``on_round(round, parked cells, requests)`` before each round is sent. An
    exception that is not an ``Exception`` (Ctrl-C) stops every cell where it is (each sees
    ``GreenletExit``, so a store marks it failed) and propagates.
    """
    hub = greenlet.getcurrent()
    pool = _Pool()
    outcomes: list[Outcome[T] | None] = [None] * len(jobs)

    def cell(index: int, job: Callable[[Lane], T]) -> Outcome[T]:
        try:
            return Outcome(value=job(Lane(hub, index, pool)))
        except Exception as error:  # noqa: BLE001 - reported as that cell's outcome
            if interrupted(error):
                raise KeyboardInterrupt from error
            return Outcome(error=error)

    cells = [greenlet(cell) for _ in jobs]
    parked: list[_Parked] = []
    offloaded: list[_Offloaded] = []

    def step(index: int, *value: object) -> None:
        """Run cell ``index`` (started with ``value``, or resumed with it) until it parks,
        offloads or ends."""
        got = cells[index].switch(*value)
        if isinstance(got, _Parked):
            parked.append(got)
            return
        if isinstance(got, _Offloaded):
            offloaded.append(got)
            return
        outcome: Outcome[T] = got
        outcomes[index] = outcome
        if on_done is not None:
            on_done(index, outcome)

    try:
        for index, job in enumerate(jobs):
            step(index, index, job)
        rounds = 0
        while parked or offloaded:
            if offloaded:
                # In the order asked, whatever finished first: the schedule stays fixed.
                asked, offloaded = offloaded, []
                for a in asked:
                    step(a.cell, _result(a.future))
                continue
            rounds += 1
            this, parked = sorted(parked, key=lambda p: p.cell), []
            if on_round is not None:
                on_round(rounds, len(this), sum(len(p.requests) for p in this))
            for waiting, answer in zip(this, dispatch(this), strict=True):
                step(waiting.cell, answer)
    except BaseException:
        for g in cells:
            if g:  # started and not finished: parked or waiting for the pool
                g.throw(GreenletExit)
        raise
    finally:
        pool.close()
    return [o if o is not None else Outcome(error=RuntimeError("cell did not finish")) for o in outcomes]
