"""``izbench run`` (one cell) and ``izbench compare`` (a grid of cells with a leaderboard)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from izbench.cache import CacheMode
from izbench.cli._app import app, console, err_console, one_line, registry_of
from izbench.cli._options import ChoiceNormOption, PromptOption, ScoreOption, with_flags
from izbench.cli._session import model_session
from izbench.errors import ConfigError
from izbench.profiles import Profile, get_profile
from izbench.scoring import MAX_ANSWERS
from izbench.settings import Settings
from izbench.store import ResultStore

if TYPE_CHECKING:  # the model stack is imported by the commands that run cells, not by --help
    from izbench.budget import BudgetExhausted
    from izbench.results import CellResult
    from izbench.runtime import Runtime
    from izbench.tasks.registry import TaskRegistry
    from izbench.tasks.types import TaskData

ProfileOption = Annotated[str, typer.Option(help="Budget preset: smoke | default | paper.")]
BudgetOption = Annotated[int | None, typer.Option(min=1, help="Distinct candidates (overrides the profile).")]
ValOption = Annotated[int | None, typer.Option(min=1, help="Validation examples (overrides).")]
TestOption = Annotated[int | None, typer.Option(min=1, help="Test examples (overrides).")]
ScaleOption = Annotated[
    bool | None,
    typer.Option(help="Rescale soft prompts to the embedding std (upstream does not)."),
]
RerunOption = Annotated[bool, typer.Option(help="Recompute cells the store already has (replay/refresh always do).")]
MaxCallsOption = Annotated[
    int | None, typer.Option(min=0, help="Stop cleanly before making more model calls [env IZBENCH_MAX_CALLS].")
]
MaxCostOption = Annotated[
    float | None,
    typer.Option(min=0, help="Stop cleanly before spending more dollars; needs prices [env IZBENCH_MAX_COST]."),
]


class Executor(StrEnum):
    LOCKSTEP = "lockstep"
    LOCAL = "local"
    RAY = "ray"


class Selection(StrEnum):
    FULL = "full"
    HALVING = "halving"


SelectOption = Annotated[
    Selection | None,
    typer.Option(help="APE, Uniform: full validation, or successive halving (fewer black-box calls)."),
]


def _profile(
    name: str,
    budget: int | None,
    n_val: int | None,
    n_test: int | None,
    scale: bool | None,
    select: Selection | None = None,
) -> Profile:
    return get_profile(name).with_overrides(
        budget=budget, n_validation=n_val, n_test=n_test, scale=scale, select=select.value if select else None
    )


def _rerun(settings: Settings, flag: bool) -> bool:
    """Replay and refresh exist to recompute, so they never reuse stored cells."""
    return flag or settings.cache_mode in (CacheMode.REPLAY, CacheMode.REFRESH)


@app.command("run")
def run_command(
    ctx: typer.Context,
    method: Annotated[str, typer.Option(help="instructzero | ape | uniform | human | empty | ...")],
    task: Annotated[str, typer.Option(help="Task id or name (e.g. sum, ii/sum).")],
    seed: Annotated[int | None, typer.Option(help="Run seed (default: the global --seed).")] = None,
    profile: ProfileOption = "default",
    budget: BudgetOption = None,
    n_validation: ValOption = None,
    n_test: TestOption = None,
    scale: ScaleOption = None,
    rerun: RerunOption = False,
    show: Annotated[int, typer.Option(min=0, help="How many top candidates to list.")] = 5,
    max_calls: MaxCallsOption = None,
    max_cost: MaxCostOption = None,
    score: ScoreOption = None,
    protocol: PromptOption = None,
    choice_norm: ChoiceNormOption = None,
    select: SelectOption = None,
) -> None:
    """Run one (method, task, seed) cell, store it, and print its candidates and scores."""
    from izbench.methods import get_method
    from izbench.runner import run_cell

    get_method(method)  # fail fast on a typo, before any model loads
    chosen = _profile(profile, budget, n_validation, n_test, scale, select)
    registry = registry_of(ctx)
    settings = with_flags(
        ctx, max_calls=max_calls, max_cost=max_cost, score=score, protocol=protocol, choice_norm=choice_norm
    )
    run_seed = settings.seed if seed is None else seed
    with model_session(ctx) as runtime, ResultStore.open(settings.store) as store:
        cell = run_cell(runtime, registry, method, task, run_seed, chosen, store, _rerun(settings, rerun))
    assert cell.result is not None
    table = Table(title=f"{cell.method} on {cell.task} (seed {cell.seed}, budget {cell.budget})")
    for column in ("step", "val", "instruction"):
        table.add_column(column)
    ranked = sorted(cell.result.candidates, key=lambda c: (-c.val_score, c.step))
    for c in [c for c in ranked if c.new][:show]:
        table.add_row(str(c.step), f"{c.val_score:.3f}", one_line(c.instruction))
    console.print(table)
    extra = ""
    if cell.mean_test_score is not None:
        extra = f", mean over annotations {cell.mean_test_score:.3f}"
    reused = " (read back from the store; --rerun recomputes)" if cell.reused else ""
    console.print(
        f"best: val {cell.val_score:.3f}, test {cell.test_score:.3f}{extra}; "
        f"{cell.distinct} distinct of {cell.proposals} proposals; "
        f"{cell.calls_made} calls made, {cell.calls_served} served"
        f"{'' if cell.blackbox_calls is None else f' ({cell.blackbox_calls} black-box calls to optimise)'}; "
        f"{cell.wall_s:.1f} s{reused}",
        highlight=False,
    )


@app.command("compare")
def compare_command(
    ctx: typer.Context,
    tasks: Annotated[str, typer.Option(help="all, a suite, or a comma list.")] = "core",
    methods: Annotated[str, typer.Option(help="Comma list of methods.")] = "instructzero,ape,uniform",
    seeds: Annotated[str, typer.Option(help="Comma list of seeds.")] = "0",
    profile: ProfileOption = "default",
    budget: BudgetOption = None,
    n_validation: ValOption = None,
    n_test: TestOption = None,
    scale: ScaleOption = None,
    rerun: RerunOption = False,
    max_calls: MaxCallsOption = None,
    max_cost: MaxCostOption = None,
    executor: Annotated[
        Executor,
        typer.Option(
            help="lockstep: cells in this process taking turns, their model calls batched together in cell "
            "order (under --max-calls/--max-cost, one after another, so a budget stops between whole cells); "
            "local: one cell after another; ray: cells as Ray tasks, this process writes."
        ),
    ] = Executor.LOCKSTEP,
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster to join (default: start a local one).")] = None,
    workers: Annotated[int, typer.Option(min=0, help="Ray workers (0: one per CPU of the cluster).")] = 0,
    score: ScoreOption = None,
    protocol: PromptOption = None,
    choice_norm: ChoiceNormOption = None,
    select: SelectOption = None,
) -> None:
    """Run every (method, task, seed) cell into the store and print a leaderboard."""
    from izbench.methods import get_method
    from izbench.signal_check import signal_setup

    method_names = [m.strip() for m in methods.split(",") if m.strip()]
    for name in method_names:
        get_method(name)
    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise typer.BadParameter(f"--seeds {seeds!r}: use a comma list of integers") from None
    chosen = _profile(profile, budget, n_validation, n_test, scale, select)
    settings = with_flags(
        ctx, max_calls=max_calls, max_cost=max_cost, score=score, protocol=protocol, choice_norm=choice_norm
    )
    registry = registry_of(ctx)
    specs, skipped = registry.resolve(tasks)
    for name, hint in skipped:
        err_console.print(f"skipped {name}: no data here ({hint})", highlight=False)
    cells = [(m, s.key, seed) for s in specs for m in method_names for seed in seed_list]
    per_task = {s.key: continuations_per_example(settings, registry.load(s.key)) for s in specs}
    if settings.score == "choice" and (no_options := [t for t, n in per_task.items() if n == 0]):
        raise ConfigError(
            f"--score choice needs answer options, and {', '.join(no_options)} have none: pick tasks that declare "
            "`options:` in their task files, or use --score likelihood"
        )
    calls = sum(projected_calls(chosen, per_task[task]) for _, task, _ in cells)
    err_console.print(
        f"{len(cells)} cells: {len(specs)} tasks x {len(method_names)} methods x "
        f"{len(seed_list)} seeds; budget {chosen.budget}, validation {chosen.n_validation}, "
        f"test {chosen.n_test}; at most ~{calls} model calls (fewer with the cache)"
        f"{projected_cost_text(settings, calls)}",
        highlight=False,
    )
    results: list[CellResult] = []
    stopped: BudgetExhausted | None = None
    with (
        model_session(ctx) as runtime,
        ResultStore.open(settings.store) as store,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
        ) as progress,
    ):
        verdicts = store.signal_verdicts(signal_setup(runtime))
        blind = [s.key for s in specs if verdicts.get(s.key) is False]
        if blind:
            err_console.print(
                f"warning: `izbench signal` found that --score {settings.score} --protocol {settings.protocol} "
                "does not "
                f"measure instructions on {', '.join(blind)}: scores there can tie whatever the method",
                highlight=False,
            )
        bar = progress.add_task("cells", total=len(cells))
        grid = _Grid(runtime, registry, store, cells, chosen, _rerun(settings, rerun), progress, bar)
        if executor is Executor.RAY:
            results = _compare_on_ray(grid, ray_address, workers)
        elif executor is Executor.LOCKSTEP and settings.max_calls is None and settings.max_cost is None:
            stopped = _compare_lockstep(grid, results)
        else:
            stopped = _compare_here(grid, results)
    reused = sum(r.reused for r in results)
    if reused:
        err_console.print(f"{reused} cells read back from the store (--rerun recomputes them)")
    if results:
        console.print(leaderboard(results))
    err_console.print(f"store: {settings.store}", highlight=False)
    if stopped is not None:
        err_console.print(f"stopped after {len(results)} of {len(cells)} cells: {stopped}", highlight=False)
        raise typer.Exit(3)


@dataclass
class _Grid:
    """The cells of one comparison and what running them needs."""

    runtime: Runtime
    registry: TaskRegistry
    store: ResultStore
    cells: list[tuple[str, str, int]]
    profile: Profile
    rerun: bool
    progress: Progress
    bar: TaskID

    def stored(self) -> tuple[dict[tuple[str, str, int], CellResult], list[tuple[str, str, int]]]:
        """The cells the store has finished (read back, unless ``rerun``) and the ones left to run."""
        from izbench.runner import cell_key

        by_cell: dict[tuple[str, str, int], CellResult] = {}
        todo = []
        for cell in self.cells:
            run_id = cell_key(self.runtime, self.registry, *cell, self.profile).run_id
            if not self.rerun and self.store.run_status(run_id) == "done":
                by_cell[cell] = self.store.load_cell(run_id)
                self.progress.advance(self.bar)
            else:
                todo.append(cell)
        return by_cell, todo


def _compare_here(grid: _Grid, results: list[CellResult]) -> BudgetExhausted | None:
    """Cells one after another in this process, appended to ``results``; stops at the budget."""
    from izbench.budget import BudgetExhausted
    from izbench.runner import run_cell

    g = grid
    for method, task, seed in g.cells:
        stats = g.runtime.stats
        calls = f"calls {stats.made} made, {stats.served} cached"
        g.progress.update(g.bar, description=f"{method} {task} s{seed} | {calls}")
        try:
            results.append(run_cell(g.runtime, g.registry, method, task, seed, g.profile, g.store, g.rerun))
        except BudgetExhausted as error:
            return error
        g.progress.advance(g.bar)
    return None


def _compare_lockstep(grid: _Grid, results: list[CellResult]) -> BudgetExhausted | None:
    """Cells the store has are read back; the rest take turns (``izbench.lockstep``), each
    written as it goes. Appends to ``results`` in cell order. A cell's error is raised once the
    others have finished (they are stored); a reached budget stops every cell cleanly."""
    from izbench.budget import BudgetExhausted
    from izbench.lockstep import Lane, Outcome, run_lockstep
    from izbench.runner import run_cell

    g = grid
    by_cell, todo = g.stored()

    def job(cell: tuple[str, str, int]) -> Callable[[Lane], CellResult]:
        return lambda lane: run_cell(
            g.runtime, g.registry, *cell, g.profile, g.store, g.rerun, route=lane, offload=lane.offload
        )

    def done(index: int, outcome: Outcome[CellResult]) -> None:
        method, task, seed = todo[index]
        status = "done" if outcome.error is None else "failed"
        g.progress.update(g.bar, description=f"lockstep | {method} {task} s{seed} {status}")
        g.progress.advance(g.bar)

    def round_begins(number: int, parked: int, requests: int) -> None:
        stats = g.runtime.stats
        g.progress.update(
            g.bar,
            description=f"lockstep | round {number}: {requests} requests from {parked} cells | "
            f"calls {stats.made} made, {stats.served} cached",
        )

    outcomes = run_lockstep([job(c) for c in todo], on_done=done, on_round=round_begins)
    stopped: BudgetExhausted | None = None
    failure: Exception | None = None
    for cell, outcome in zip(todo, outcomes, strict=True):
        if outcome.value is not None:
            by_cell[cell] = outcome.value
        elif isinstance(outcome.error, BudgetExhausted):
            stopped = stopped or outcome.error
        else:
            failure = failure or outcome.error
    results.extend(by_cell[c] for c in g.cells if c in by_cell)
    if failure is not None:
        raise failure
    return stopped


def _compare_on_ray(grid: _Grid, address: str | None, workers: int) -> list[CellResult]:
    """Cells the store has are read back here; the rest run on Ray and are written as they finish."""
    from izbench.distributed import run_cells_on_ray

    g = grid
    by_cell, todo = g.stored()

    def done(result: CellResult) -> None:
        g.progress.update(g.bar, description=f"ray | {result.method} {result.task} s{result.seed} done")
        g.progress.advance(g.bar)

    if todo:
        ran = run_cells_on_ray(g.runtime, g.store, todo, g.profile, address=address, workers=workers, on_done=done)
        by_cell.update(zip(todo, ran, strict=True))
    return [by_cell[c] for c in g.cells]


def continuations_per_example(settings: Settings, data: TaskData) -> int:
    """Black-box calls per scored example: 1 generation, or one scored answer/option each."""
    examples = data.induce + data.execute
    if settings.score == "likelihood":
        return max(min(len(e.answers), MAX_ANSWERS) for e in examples)
    if settings.score == "choice":
        return max(len(e.options) for e in examples)
    return 1


def projected_calls(profile: Profile, per_example: int = 1) -> int:
    """An upper estimate of one cell's model calls: scoring every candidate on validation, the
    best on test (``per_example`` calls each), and one generation per candidate."""
    return (profile.budget * profile.n_validation + profile.n_test) * per_example + profile.budget


def projected_cost_text(settings: Settings, calls: int) -> str:
    """'; projected ≤ $X' when the black box has prices, else nothing."""
    if settings.blackbox != "openai" or settings.openai_price_prompt is None:
        return ""
    # ~120 prompt tokens (template + a generated instruction + input) and up to 50 output tokens.
    cost = calls * (120 * settings.openai_price_prompt + 50 * (settings.openai_price_completion or 0.0)) / 1e6
    limit = f" (--max-cost ${settings.max_cost:g})" if settings.max_cost is not None else ""
    return f"; projected cost at most ~${cost:.2f}{limit}"


def leaderboard(results: list[CellResult]) -> Table:
    """The rich form of the report's leaderboard: mean [95% interval], average, rank, wins."""
    from izbench.report import build_leaderboard
    from izbench.report.render import calls_text, chance_text, entry_text

    board = build_leaderboard(results)
    table = Table(title="test score (mean over seeds [95% interval])")
    table.add_column("task")
    for m in board.methods:
        table.add_column(m, justify="right")
    chance = ["chance"] if board.chance else []
    for column in chance:
        table.add_column(column, justify="right")
    for task in board.tasks:
        scores = [entry_text(board, task, m) for m in board.methods]
        table.add_row(task, *scores, *[chance_text(board, task) for _ in chance])
    table.add_row("[bold]average[/bold]", *[f"[bold]{board.average[m]:.3f}[/bold]" for m in board.methods])
    table.add_row("average rank", *[f"{board.rank[m]:.2f}" for m in board.methods])
    table.add_row("wins", *[str(board.wins[m]) for m in board.methods])
    if board.calls:
        table.add_row("black-box calls/cell", *[calls_text(board, m) for m in board.methods])
    return table
