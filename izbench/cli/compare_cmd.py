"""``izbench compare``: a grid of (method, task, seed) cells into the store, and a leaderboard."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from izbench.choices import DomainKind, Executor, ScoreFunction
from izbench.cli._app import app, console, err_console, registry_of, settings_of
from izbench.cli._options import (
    AnytimeOption,
    BudgetOption,
    BudgetUnitOption,
    ChoiceNormOption,
    MaxCallsOption,
    MaxCostOption,
    ProfileOption,
    PromptOption,
    RerunOption,
    ScaleOption,
    ScoreOption,
    SelectOption,
    TestOption,
    ValOption,
    cell_flags,
    chosen_profile,
    parse_seeds,
    recompute,
    report_skipped,
    with_flags,
)
from izbench.cli._progress import ItemProgress
from izbench.cli._session import model_session
from izbench.errors import ConfigError

if TYPE_CHECKING:  # the model stack is imported by the commands that run cells, not by --help
    from collections.abc import Sequence

    from izbench.executors import Cell
    from izbench.profiles import Profile
    from izbench.results import CellResult
    from izbench.settings import Settings
    from izbench.store import ResultStore
    from izbench.tasks.registry import TaskRegistry
    from izbench.tasks.spec import TaskSpec


class _Events:
    """A comparison's cells as progress: a bar, or one line per finished cell in a log."""

    def __init__(self, progress: ItemProgress) -> None:
        self.progress = progress

    def status(self, text: str) -> None:
        self.progress.status(text)

    def warn(self, text: str) -> None:
        self.progress.warn(text)

    def finished(self, cell: Cell, result: CellResult | None, error: BaseException | None) -> None:
        name = "{} {} seed {}".format(*cell)
        if result is None:
            self.progress.done(name, note=f"failed: {type(error).__name__}: {error}")
        elif result.reused:
            self.progress.done(name, 0.0, note="read back from the store")
        else:
            self.progress.done(name, result.wall_s, result.calls_made, result.calls_served)


@app.command("compare")
def compare_command(
    ctx: typer.Context,
    tasks: Annotated[str, typer.Option(help="all, a suite, or a comma list.")] = "core",
    methods: Annotated[str, typer.Option(help="Comma list of methods.")] = "instructzero,ape,uniform",
    seeds: Annotated[str, typer.Option(help="Seeds: a comma list of integers and ranges (0-4, 0,2,5-7).")] = "0",
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
    workers: Annotated[
        int, typer.Option(min=0, help="Ray workers, or with --domain pool processes (0: one per CPU).")
    ] = 0,
    score: ScoreOption = None,
    protocol: PromptOption = None,
    choice_norm: ChoiceNormOption = None,
    anytime: AnytimeOption = None,
    select: SelectOption = None,
    budget_unit: BudgetUnitOption = None,
    domain: Annotated[
        DomainKind,
        typer.Option(
            help="live: the models write and score as the methods ask; pool: the methods choose among stored "
            "pools (izbench pool build / import) by lookup, with no model call."
        ),
    ] = DomainKind.LIVE,
    pool_setup: Annotated[
        str | None, typer.Option(help="With --domain pool: which stored pools (izbench pool list), when several.")
    ] = None,
    pool_file: Annotated[
        Path | None,
        typer.Option(help="With --domain pool: a pool file (izbench pool export) to import first, unless stored."),
    ] = None,
) -> None:
    """Run every (method, task, seed) cell into the store and print a leaderboard."""
    from izbench.executors import Grid, run_grid
    from izbench.identity import scoring_setup, signal_setup
    from izbench.methods import get_method
    from izbench.report.aggregate import budget_words
    from izbench.store import ResultStore

    method_names = [m.strip() for m in methods.split(",") if m.strip()]
    for name in method_names:
        get_method(name)
    seed_list = parse_seeds(seeds)
    chosen = chosen_profile(profile, budget, n_validation, n_test, scale, select, budget_unit)
    if domain is DomainKind.POOL:
        _compare_on_pools(ctx, tasks, method_names, seed_list, chosen, rerun, pool_setup, pool_file, workers)
        return
    settings = with_flags(ctx, **cell_flags(max_calls, max_cost, score, protocol, choice_norm, anytime))
    registry = registry_of(ctx)
    specs, skipped = registry.resolve(tasks)
    report_skipped(skipped)
    cells = [(m, s.key, seed) for s in specs for m in method_names for seed in seed_list]
    anchors = _anchor_cells(registry, specs, method_names, seed_list)
    if anchors:
        named = sorted({m for m, _, _ in anchors})
        err_console.print(
            f"adding {len(anchors)} anchor cells ({', '.join(named)}: 0 and 1 of the normalized score, "
            "one candidate each)",
            highlight=False,
            markup=False,
        )
        cells += anchors
    err_console.print(
        f"{len(cells)} cells: {len(specs)} tasks x {len(method_names)} methods x {len(seed_list)} seeds; "
        f"budget {budget_words(chosen.model_dump(mode='json'))}, validation {chosen.n_validation}, "
        f"test {chosen.n_test}; "
        f"{_projection(settings, registry, specs, chosen, method_names, len(seed_list))}",
        highlight=False,
        markup=False,
    )
    with (
        model_session(ctx) as runtime,
        ResultStore.open(settings.store) as store,
        ItemProgress(len(cells), "cells") as progress,
    ):
        verdicts = store.signal_verdicts(signal_setup(scoring_setup(runtime)))
        blind = [s.key for s in specs if verdicts.get(s.key) is False]
        if blind:
            err_console.print(
                f"warning: `izbench signal` found that --score {settings.score} --protocol {settings.protocol} "
                f"does not measure instructions on {', '.join(blind)}: scores there can tie whatever the method",
                highlight=False,
                markup=False,
            )
        grid = Grid(runtime, registry, store, cells, chosen, recompute(settings, rerun), _Events(progress))
        outcome = run_grid(grid, executor, ray_address, workers)
    if outcome.reused:
        err_console.print(f"{outcome.reused} cells read back from the store (--rerun recomputes them)")
    if outcome.results:
        _print_leaderboard(outcome.results, verdicts, tasks)
    err_console.print(f"store: {settings.store}", highlight=False, markup=False)
    if outcome.stopped is not None:
        err_console.print(
            f"stopped after {len(outcome.results)} of {len(cells)} cells: {outcome.stopped}", highlight=False,
            markup=False,
        )  # fmt: skip
        raise typer.Exit(3)


def _compare_on_pools(
    ctx: typer.Context,
    tasks: str,
    methods: list[str],
    seeds: list[int],
    profile: Profile,
    rerun: bool,
    setup: str | None,
    pool_file: Path | None,
    workers: int,
) -> None:
    """Every cell looked up in the stored pools of one set-up (``pool_file``'s, imported first
    when the store lacks them): no model is loaded or called."""
    from izbench.identity import signal_setup
    from izbench.pool.cells import pool_cell_config, run_pool_cells
    from izbench.report.pools import pool_summaries, regrets
    from izbench.report.render import regret_table
    from izbench.store import ResultStore

    settings = settings_of(ctx)
    specs, skipped = registry_of(ctx).resolve(tasks)
    report_skipped(skipped)
    with ResultStore.open(settings.store) as store:
        if pool_file is not None:
            setup = setup or _import_once(store, pool_file, registry_of(ctx))
        pools = {spec.key: store.load_pool(pid) for spec, pid in _pools_for(store, specs, setup)}
        cells = [(m, s.key, seed) for s in specs for m in methods for seed in seeds]
        cells += [
            (anchor, task, seed)
            for task, pool in pools.items()
            for anchor in ("empty", "human")
            if anchor not in methods and (anchor == "empty" or pool.reference_ids)
            for seed in seeds
        ]
        err_console.print(
            f"{len(cells)} cells on pools: {len(pools)} tasks x {len(methods)} methods x {len(seeds)} seeds "
            "(with their anchors); every score a lookup, no model call",
            highlight=False,
            markup=False,
        )
        with ItemProgress(len(cells), "cells") as progress:

            def done(result: CellResult) -> None:
                note = "read back from the store" if result.reused else ""
                name = f"{result.method} {result.task} seed {result.seed}"
                progress.done(name, result.wall_s, result.calls_made, result.calls_served, note)

            processes = workers or os.cpu_count() or 1
            results = run_pool_cells(pools, cells, profile, store, rerun, processes, done)
        config = pool_cell_config(next(iter(pools.values())), profile)
        verdicts = store.signal_verdicts(signal_setup(config))
        summaries = pool_summaries(store, config["domain"]["setup"])
    _print_leaderboard(results, verdicts, tasks + " --domain pool", {p.task: p.oracle for p in summaries})
    console.print(regret_table(regrets(results, summaries)).rich("regret against each pool's best instruction"))
    err_console.print(f"store: {settings.store}", highlight=False, markup=False)


def _import_once(store: ResultStore, pool_file: Path, registry: TaskRegistry) -> str | None:
    """Import ``pool_file`` unless the store holds every pool in it; the set-up its pools share."""
    from izbench.pool.transfer import import_pools, read_manifest

    manifest = read_manifest(pool_file)
    held = {r["pool_id"] for r in store.pools()}
    if not {p["pool_id"] for p in manifest["pools"]} <= held:
        import_pools(store, pool_file, registry)
        err_console.print(f"{len(manifest['pools'])} pools imported from {pool_file}", highlight=False, markup=False)
    setups = {p["setup_hash"] for p in manifest["pools"]}
    return setups.pop() if len(setups) == 1 else None


def _pools_for(store: ResultStore, specs: list[TaskSpec], setup: str | None) -> list[tuple[TaskSpec, str]]:
    """The stored pool of each task under one set-up: ``setup`` when given, else the one set-up
    that covers every task; one line when there is none or several."""
    rows = store.pools()
    by_setup: dict[str, dict[str, str]] = {}
    for r in rows:
        by_setup.setdefault(r["setup_hash"], {})[r["task"]] = r["pool_id"]
    wanted = {s.key for s in specs}
    covering = sorted(h for h, pools in by_setup.items() if wanted <= set(pools))
    if setup is not None:
        covering = [h for h in covering if h.startswith(setup)]
    if not covering:
        have = ", ".join(f"{h} ({len(p)} tasks)" for h, p in sorted(by_setup.items())) or "none"
        raise ConfigError(
            f"no stored pool set-up covers {len(wanted)} selected tasks (pools here: {have}); build them with "
            "`izbench pool build --tasks ...` or import a pool file"
        )
    if len(covering) > 1:
        raise ConfigError(
            f"pools of {len(covering)} set-ups cover these tasks ({', '.join(covering)}); pick one with --pool-setup"
        )
    return [(s, by_setup[covering[0]][s.key]) for s in specs]


def _print_leaderboard(
    results: list[CellResult], verdicts: dict[str, bool], tasks: str, oracle: dict[str, float] | None = None
) -> None:
    """The seed-level headline (normalized aggregates over runs), what it rests on, the
    probabilities of improvement, the per-task raw scores, and the command that runs the seeds
    the comparison would need to resolve its closest pair."""
    from izbench.report.aggregate import section
    from izbench.report.render import headline_table, improvement_table, leaderboard_table, seed_notes
    from izbench.report.seeds import fill_command

    part = section("comparison", "", results, verdicts, oracle)
    stats = part.stats
    if stats.aggregates:
        console.print(headline_table(stats).rich("normalized test score over runs (task x seed) [95% interval]"))
        for note in seed_notes(stats):
            console.print(f"- {note}", highlight=False, markup=False)
        if stats.improvement:
            console.print(improvement_table(stats).rich("probability of improvement"))
    out = part.anytime
    if out is not None and out.methods:
        from izbench.report.anytime_text import area_improvement_table, area_table, budget_table

        console.print(budget_table(out).rich("anytime: IQM [95%]"))
        console.print(area_table(out).rich("anytime: area"))
        if out.area is not None and out.area.improvement:
            console.print(area_improvement_table(out).rich("anytime: P(area)"))
    if part.units:
        from izbench.report.anytime_text import area_improvement_table, budget_table, units_table

        console.print(units_table(part.units).rich("anytime against each budget unit: area IQM [95%]"))
        by_proposals = part.units.get("proposals")
        if by_proposals is not None and by_proposals.budgets:
            console.print(budget_table(by_proposals).rich("anytime after b proposals: IQM [95%]"))
            if by_proposals.area is not None and by_proposals.area.improvement:
                console.print(area_improvement_table(by_proposals).rich("anytime against proposals: P(area)"))
    console.print(leaderboard_table(part.board).rich("per task: raw test score (mean over seeds [95% interval])"))
    from izbench.report.units import spend_table, spending

    console.print(spend_table(spending(results)).rich("budget spent per cell, in every unit: median (min .. max)"))
    command = fill_command(stats.normalized, stats, tasks)
    if command:
        err_console.print(f"to resolve every pair (80% power): {command}", highlight=False, markup=False)


def _anchor_cells(registry: TaskRegistry, specs: list[TaskSpec], methods: list[str], seeds: list[int]) -> list[Cell]:
    """The cells a normalized score needs that the comparison lacks: ``empty`` (its 0) on every
    task and ``human`` (its 1) on every task with a reference instruction."""
    from izbench.report.seeds import ANCHORS

    cells: list[Cell] = []
    for spec in specs:
        for anchor in ANCHORS:
            if anchor not in methods and (anchor == "empty" or registry.references(spec)):
                cells += [(anchor, spec.key, seed) for seed in seeds]
    return cells


def _projection(
    settings: Settings,
    registry: TaskRegistry,
    specs: list[TaskSpec],
    profile: Profile,
    methods: Sequence[str],
    per: int,
) -> str:
    """'at most ~N model calls (fewer with the cache)', and the dollars where there are prices,
    each method at its own budget, ``per`` seeds; or one line for a task that cannot be scored
    as asked."""
    from izbench.budget import Budget
    from izbench.costs import continuations_per_example, projected_calls, projected_cost

    data = {s.key: registry.load(s.key) for s in specs}
    per_task = {task: continuations_per_example(settings.score, d) for task, d in data.items()}
    if settings.score == ScoreFunction.CHOICE and (no_options := [t for t, n in per_task.items() if n == 0]):
        raise ConfigError(
            f"--score choice needs answer options, and {', '.join(no_options)} have none: pick tasks that declare "
            "`options:` in their task files, or use --score likelihood"
        )
    calls = per * sum(projected_calls(profile, n, m) for n in per_task.values() for m in methods)
    text = f"at most ~{calls} model calls (fewer with the cache)"
    budget = Budget.from_settings(settings)
    costs = [
        projected_cost(budget, settings.blackbox, profile, settings.score, s.metric, data[s.key], m)
        for s in specs
        for m in methods
    ]
    if costs and all(c is not None for c in costs):
        limit = f" (--max-cost ${settings.max_cost:g})" if settings.max_cost is not None else ""
        text += f"; projected cost at most ~${per * sum(c for c in costs if c is not None):.2f}{limit}"
    return text
