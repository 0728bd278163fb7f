"""Running a comparison's cells: here one after another, here taking turns, or on Ray.

Whatever the executor, cells the store has finished under the same identity are read back, the
rest are run and written as they go, and the results come back in the comparison's cell order.
Which executor ran a cell never changes what it proposes or scores (tested: lockstep, in
process and Ray leave the same rows).

- ``local``: one cell after another; a reached ``--max-calls``/``--max-cost`` stops between calls
  and the comparison ends there (what was answered is cached, finished cells are stored).
- ``lockstep``: the cells take turns in this process so their generator calls share batches
  (``izbench.lockstep``); under a call or cost limit, ``local`` is used instead, so a budget
  stops between whole cells.
- ``ray``: cells as Ray tasks; this process alone writes the store and the cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from izbench.budget import BudgetExhausted
from izbench.choices import Executor
from izbench.identity import cell_key
from izbench.profiles import Profile
from izbench.results import CellResult
from izbench.store import ResultStore

if TYPE_CHECKING:
    from izbench.lockstep import Lane, Outcome
    from izbench.runtime import Runtime
    from izbench.tasks.registry import TaskRegistry

Cell = tuple[str, str, int]
"""(method, task, seed)."""


class GridEvents(Protocol):
    """What a comparison tells whoever watches it (a progress bar, a log)."""

    def status(self, text: str) -> None:
        """What is happening now (between finished cells)."""

    def finished(self, cell: Cell, result: CellResult | None, error: BaseException | None) -> None:
        """A cell is done: run, read back from the store (``result.reused``) or failed."""

    def warn(self, text: str) -> None:
        """Something that went wrong and was mended (a lost Ray worker whose cell runs again)."""


@dataclass
class Grid:
    """The cells of one comparison and what running them needs."""

    runtime: Runtime
    registry: TaskRegistry
    store: ResultStore
    cells: list[Cell]
    profile: Profile
    rerun: bool
    events: GridEvents


@dataclass
class GridOutcome:
    """The finished cells in cell order, and the limit that stopped the rest, if one did."""

    results: list[CellResult] = field(default_factory=list)
    stopped: BudgetExhausted | None = None

    @property
    def reused(self) -> int:
        return sum(r.reused for r in self.results)


def run_grid(grid: Grid, executor: Executor, ray_address: str | None = None, workers: int = 0) -> GridOutcome:
    """Every cell of ``grid``, on ``executor``."""
    settings = grid.runtime.settings
    if executor is Executor.RAY:
        return _on_ray(grid, ray_address, workers)
    if executor is Executor.LOCKSTEP and settings.max_calls is None and settings.max_cost is None:
        return _lockstep(grid)
    return _one_by_one(grid)


def _stored(grid: Grid) -> tuple[dict[Cell, CellResult], list[Cell]]:
    """The cells the store has finished (read back, unless ``rerun``) and the ones left to run."""
    by_cell: dict[Cell, CellResult] = {}
    todo = []
    for cell in grid.cells:
        run_id = cell_key(grid.runtime, grid.registry, *cell, grid.profile).run_id
        if not grid.rerun and grid.store.run_status(run_id) == "done":
            by_cell[cell] = grid.store.load_cell(run_id)
            grid.events.finished(cell, by_cell[cell], None)
        else:
            todo.append(cell)
    return by_cell, todo


def _one_by_one(grid: Grid) -> GridOutcome:
    """Cells one after another in this process; stops at a call or cost limit."""
    from izbench.runner import run_cell

    outcome = GridOutcome()
    for cell in grid.cells:
        method, task, seed = cell
        grid.events.status(f"{method} {task} s{seed} | {grid.runtime.stats.so_far()}")
        try:
            result = run_cell(grid.runtime, grid.registry, *cell, grid.profile, grid.store, grid.rerun)
        except BudgetExhausted as error:
            outcome.stopped = error
            return outcome
        except Exception as error:
            grid.events.finished(cell, None, error)
            raise
        outcome.results.append(result)
        grid.events.finished(cell, result, None)
    return outcome


def _lockstep(grid: Grid) -> GridOutcome:
    """Cells the store has are read back; the rest take turns (``izbench.lockstep``), each
    written as it goes. A cell's error is raised once the others have finished (they are
    stored); a reached budget stops every cell cleanly."""
    from izbench.lockstep import run_lockstep
    from izbench.runner import run_cell

    by_cell, todo = _stored(grid)

    def job(cell: Cell) -> Callable[[Lane], CellResult]:
        return lambda lane: run_cell(
            grid.runtime, grid.registry, *cell, grid.profile, grid.store, grid.rerun, route=lane, offload=lane.offload
        )

    def done(index: int, result: Outcome[CellResult]) -> None:
        grid.events.finished(todo[index], result.value, result.error)

    def round_begins(number: int, parked: int, requests: int) -> None:
        grid.events.status(f"round {number}: {requests} requests from {parked} cells | {grid.runtime.stats.so_far()}")

    outcome = GridOutcome()
    failure: Exception | None = None
    results = run_lockstep([job(c) for c in todo], on_done=done, on_round=round_begins)
    for cell, result in zip(todo, results, strict=True):
        if result.value is not None:
            by_cell[cell] = result.value
        elif isinstance(result.error, BudgetExhausted):
            outcome.stopped = outcome.stopped or result.error
        else:
            failure = failure or result.error
    outcome.results = [by_cell[c] for c in grid.cells if c in by_cell]
    if failure is not None:
        raise failure
    return outcome


def _on_ray(grid: Grid, address: str | None, workers: int) -> GridOutcome:
    """Cells the store has are read back here; the rest run on Ray and are written as they finish."""
    from izbench.distributed import run_cells_on_ray

    by_cell, todo = _stored(grid)
    if todo:

        def done(result: CellResult) -> None:
            grid.events.finished((result.method, result.task, result.seed), result, None)

        ran = run_cells_on_ray(
            grid.runtime, grid.store, todo, grid.profile, address=address, workers=workers, on_done=done,
            on_lost=grid.events.warn,
        )  # fmt: skip
        by_cell.update(zip(todo, ran, strict=True))
    return GridOutcome([by_cell[c] for c in grid.cells])
