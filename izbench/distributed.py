"""Compare's cells and pool builds on Ray: workers compute, the driver alone writes the store and
the cache.

Each worker is a Ray actor holding one runtime (the embedded model loads once per worker). It
reads the central cache when its machine can see the directory (same host or shared disk) and
keeps what it computes in memory; a cell's store writes are recorded, not executed. Both come
back to the driver with the cell's result, and the driver writes them in the same order a local
run would, so a Ray run and an in-process run of the same cells leave the same rows, and the
next run replays from the central cache. A pool comes back whole from the worker that built
it, with its cache entries. ``--max-calls``/``--max-cost`` need one counter for all calls and
are refused with Ray.

A worker or node lost mid-run (a process killed, a machine reclaimed) costs the jobs it was
running: ``Fleet`` hands them to the workers that remain, and the run ends as it would have
without the loss, because a worker's writes and cache entries reach the driver only with a
finished job. This is izbench's own requeue, not Ray's actor restarts and task retries: a
restarted actor reloads the model and waits for a free CPU, which a lost node no longer
provides (a restart pending forever is a hang), and a retry inside Ray would hide which jobs
ran twice. Only when every worker is lost does the run stop, with one line; finished jobs are
stored, so the same command resumes.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from izbench.cache import CallCounts, OverlayCache
from izbench.errors import ConfigError, IzbenchError
from izbench.identity import RunKey
from izbench.pool.data import PoolData, PoolParams
from izbench.profiles import Profile
from izbench.results import Candidate, CellResult, Scored
from izbench.runner import run_cell
from izbench.runtime import Runtime
from izbench.settings import Settings
from izbench.store import ResultStore
from izbench.tasks.registry import TaskRegistry
from izbench.tasks.types import Example

Cell = tuple[str, str, int]
Job = TypeVar("Job")


class WorkersLost(IzbenchError):
    """Every Ray worker of a run was lost before its jobs were done."""


class Fleet(Generic[Job]):
    """Ray actors given one job at a time; a job whose actor dies goes to the actors that remain."""

    def __init__(self, actors: list[Any], on_lost: Callable[[str], None] | None = None) -> None:
        self.actors = list(actors)
        self.on_lost = on_lost
        self.lost = 0

    def run(self, submit: Callable[[Any, Job], Any], jobs: Sequence[Job], name: Callable[[Job], str]) -> Iterator[Any]:
        """Each job's result as it comes back, in the order they finish."""
        import ray

        gone = (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError)
        queue: deque[Job] = deque(jobs)
        idle = list(self.actors)
        running: dict[Any, tuple[Any, Job]] = {}
        while queue or running:
            while queue and idle:
                actor, job = idle.pop(0), queue.popleft()
                running[submit(actor, job)] = (actor, job)
            if not running:
                raise WorkersLost(
                    f"all {len(self.actors)} Ray workers were lost with {len(queue)} jobs left; finished ones are "
                    "stored: rerun the same command to resume"
                )
            (ref,), _ = ray.wait(list(running), num_returns=1)
            actor, job = running.pop(ref)
            try:
                value = ray.get(ref)
            except gone as error:
                self.lost += 1
                queue.appendleft(job)  # the actor is gone for good: its job goes to the next one free
                if self.on_lost is not None:
                    reason = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
                    self.on_lost(
                        f"a Ray worker was lost running {name(job)} ({type(error).__name__}: {reason}); "
                        f"retrying it on the {len(idle) + len(running)} workers that remain"
                    )
                continue
            idle.append(actor)
            yield value


class RecordingStore:
    """A worker's stand-in for the store: every write is kept, to be replayed by the driver."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, tuple[Any, ...]]] = []

    def start_run(self, key: RunKey, budget: int, commit: str | None) -> None:
        self.writes.append(("start_run", (key, budget, commit)))

    def add_candidates(self, run_id: str, candidates: Sequence[Candidate]) -> None:
        self.writes.append(("add_candidates", (run_id, list(candidates))))

    def add_predictions(self, run_id: str, split: str, step: int, examples: Sequence[Example], scored: Scored) -> None:
        self.writes.append(("add_predictions", (run_id, split, step, list(examples), scored)))

    def finish_run(self, cell: CellResult) -> None:
        self.writes.append(("finish_run", (cell,)))

    def mark_failed(self, run_id: str) -> None:
        self.writes.append(("mark_failed", (run_id,)))


@dataclass
class WorkerOutcome:
    """What one cell sends back: its result or error, its store writes, its new cache entries."""

    cell: Cell
    result: CellResult | None
    error: str | None
    writes: list[tuple[str, tuple[Any, ...]]]
    entries: dict[str, str]
    calls: CallCounts = field(default_factory=CallCounts)
    """This cell's calls."""


class CellWorker:
    """Runs cells in a Ray worker process with its own runtime over an overlay of the cache."""

    def __init__(self, settings: Settings, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.cache = OverlayCache(settings.cache_dir, settings.cache_mode)
        self.runtime = Runtime(settings, cache=self.cache)
        self.registry = TaskRegistry.from_settings(settings)

    def build_pool(
        self, task: str, params: PoolParams
    ) -> tuple[str, PoolData | None, str | None, dict[str, str], CallCounts]:
        """One task's pool, built here; with the entries it added to the cache and its calls."""
        from izbench.pool.build import build_task

        before = self.runtime.stats.counts()
        pool, error = None, None
        try:
            pool = build_task(self.runtime, self.registry, self.registry.get(task), params)
        except IzbenchError as failure:
            error = str(failure)
        return task, pool, error, self.cache.take_new(), self.runtime.stats.since(before)

    def run(self, cell: Cell, profile: Profile) -> WorkerOutcome:
        method, task, seed = cell
        store = RecordingStore()
        before = self.runtime.stats.counts()
        result, error = None, None
        try:
            result = run_cell(self.runtime, self.registry, method, task, seed, profile, store, rerun=True)
        except IzbenchError as failure:
            error = str(failure)
        calls = self.runtime.stats.since(before)
        return WorkerOutcome(cell, result, error, store.writes, self.cache.take_new(), calls)


@contextmanager
def _actors(
    runtime: Runtime, address: str | None, workers: int, jobs: int, on_lost: Callable[[str], None] | None = None
) -> Iterator[Fleet[Any]]:
    """A fleet of ``CellWorker`` actors on a Ray cluster (started here unless one is running)."""
    settings = runtime.settings
    if settings.max_calls is not None or settings.max_cost is not None:
        raise ConfigError("--max-calls/--max-cost are not supported with --executor ray; run in-process")
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'izbench[ray]'") from None
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no phoning home from a benchmark
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError) as error:
            raise ConfigError(f"cannot reach Ray at {address or 'a new local cluster'}: {error}") from None
    try:
        # Threads per worker from the cluster's size and --workers alone, never from the jobs left
        # or the CPUs free right now: a likelihood's last bits depend on the threads of a matrix
        # product, and a resumed run must compute each cell as the first run would have.
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))  # type: ignore[no-untyped-call]
        size = workers or cpus
        threads = max(1, cpus // size)
        actor = ray.remote(num_cpus=threads)(CellWorker)
        actors = [actor.remote(settings, threads) for _ in range(max(1, min(size, jobs)))]  # type: ignore[attr-defined]
        yield Fleet(actors, on_lost)
    finally:
        if started:
            ray.shutdown()


def _cell_name(cell: Cell) -> str:
    method, task, seed = cell
    return f"{method} {task} seed {seed}"


def _keep(runtime: Runtime, entries: dict[str, str], calls: CallCounts) -> None:
    """A worker's new cache entries into the central cache, its calls into the run's counts."""
    if runtime.settings.cache_mode.value != "off":
        for key, raw in entries.items():
            runtime.cache.put_raw(key, raw)
    runtime.stats.add(calls)


def run_cells_on_ray(
    runtime: Runtime,
    store: ResultStore,
    cells: Sequence[Cell],
    profile: Profile,
    *,
    address: str | None,
    workers: int,
    on_done: Callable[[CellResult], None],
    on_lost: Callable[[str], None] | None = None,
) -> list[CellResult]:
    """Run ``cells`` (not yet in the store) on Ray; write each one as it comes back. A lost
    worker's cell runs again on another (``on_lost`` hears of it)."""
    with _actors(runtime, address, workers, len(cells), on_lost) as fleet:
        done: dict[Cell, CellResult] = {}
        failure: str | None = None
        for outcome in fleet.run(lambda a, c: a.run.remote(c, profile), list(cells), name=_cell_name):
            _keep(runtime, outcome.entries, outcome.calls)
            store.replay(outcome.writes)
            if outcome.result is None:
                failure = failure or f"{'/'.join(map(str, outcome.cell))}: {outcome.error}"
                continue
            done[outcome.cell] = outcome.result
            on_done(outcome.result)
    if failure is not None:
        raise IzbenchError(f"a cell failed on Ray ({failure}); finished cells are stored, rerun to resume")
    return [done[c] for c in cells]


def build_pools_on_ray(
    runtime: Runtime,
    tasks: Sequence[str],
    params: PoolParams,
    *,
    address: str | None,
    workers: int,
    on_done: Callable[[PoolData], None],
    on_lost: Callable[[str], None] | None = None,
) -> list[PoolData]:
    """Build each task's pool on a Ray worker; each comes back whole, with its new cache entries.
    A lost worker's task is built again on another (``on_lost`` hears of it)."""
    with _actors(runtime, address, workers, len(tasks), on_lost) as fleet:
        built: list[PoolData] = []
        failure: str | None = None
        for task, pool, error, entries, calls in fleet.run(
            lambda a, t: a.build_pool.remote(t, params), list(tasks), name=lambda t: f"the pool of {t}"
        ):
            _keep(runtime, entries, calls)
            if pool is None:
                failure = failure or f"{task}: {error}"
                continue
            built.append(pool)
            on_done(pool)
    if failure is not None:
        raise IzbenchError(f"a pool failed on Ray ({failure}); finished pools are stored, rerun to resume")
    return built
