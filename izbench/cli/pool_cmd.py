"""``izbench pool build|list|export|import``: instruction pools, scored once, searched by lookup."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from izbench.choices import Executor, HiddenSource
from izbench.cli._app import app, console, err_console, registry_of, settings_of
from izbench.cli._options import ChoiceNormOption, PromptOption, ScoreOption, report_skipped, with_flags
from izbench.cli._progress import ItemProgress
from izbench.cli._session import model_session
from izbench.errors import ConfigError

if TYPE_CHECKING:
    from izbench.pool.data import PoolData
    from izbench.store import ResultStore
    from izbench.tasks.spec import TaskSpec

pool_app = typer.Typer(help="Build, list, export and import instruction pools.", no_args_is_help=True)
app.add_typer(pool_app, name="pool")


@pool_app.command("build")
def pool_build(
    ctx: typer.Context,
    tasks: Annotated[str, typer.Option(help="all, a suite, or a comma list.")] = "core",
    size: Annotated[int, typer.Option(min=1, help="Soft prompts in each task's domain.")] = 256,
    ape: Annotated[int, typer.Option(min=0, help="Instructions the black box samples from demo sets (APE's).")] = 16,
    pool_seed: Annotated[int, typer.Option(min=0, help="Seeds the domain and the split (never a run's seed).")] = 0,
    n_validation: Annotated[int, typer.Option(min=1, help="Validation examples every instruction is scored on.")] = 10,
    n_test: Annotated[int, typer.Option(min=1, help="Test examples every instruction is scored on.")] = 40,
    pipeline: Annotated[
        int,
        typer.Option(
            min=1,
            max=2,
            help="2: upstream's soft-prompt pipeline (Sobol in [0, 1]^d, 10 demos, APE's prompt and 3 demo sets); "
            "1: izbench's first ([-1, 1]^d, 5 demos), the shipped core.izpool's.",
        ),
    ] = 2,
    hidden: Annotated[
        HiddenSource,
        typer.Option(
            help="Where INSTINCT's features come from: pass, a forward pass of their own (batch-invariant); "
            "prefill, the pass that writes each point (free, but carries its batch's rounding).",
        ),
    ] = HiddenSource.PASS,
    rerun: Annotated[bool, typer.Option(help="Rebuild pools the store already has (from the cache).")] = False,
    executor: Annotated[
        Executor,
        typer.Option(help="lockstep: tasks in this process, their generator calls batched; ray: tasks as Ray tasks."),
    ] = Executor.LOCKSTEP,
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster to join (default: start a local one).")] = None,
    workers: Annotated[int, typer.Option(min=0, help="Ray workers (0: one per CPU of the cluster).")] = 0,
    score: ScoreOption = None,
    protocol: PromptOption = None,
    choice_norm: ChoiceNormOption = None,
) -> None:
    """Write each task's domain (soft prompts, APE proposals, references, no instruction) and score every
    distinct instruction once on a fixed validation and test set, into the store."""
    from izbench.pool.build import build_pools, pool_identity
    from izbench.pool.data import PoolParams, pool_id
    from izbench.store import ResultStore

    settings = with_flags(ctx, score=score, protocol=protocol, choice_norm=choice_norm)
    params = PoolParams(
        size=size,
        ape=ape,
        pool_seed=pool_seed,
        n_validation=n_validation,
        n_test=n_test,
        pipeline=pipeline,
        hidden=hidden,
    )
    registry = registry_of(ctx)
    specs, skipped = registry.resolve(tasks)
    report_skipped(skipped)
    with model_session(ctx) as runtime, ResultStore.open(settings.store) as store:
        stored = {r["pool_id"] for r in store.pools()}
        todo = [s for s in specs if rerun or pool_id(pool_identity(runtime, registry, s, params)) not in stored]
        if len(todo) < len(specs):
            err_console.print(f"{len(specs) - len(todo)} pools read back from the store (--rerun rebuilds them)")
        err_console.print(
            f"{len(todo)} pools (pipeline {pipeline}): {size} soft prompts and {ape} APE proposals per task, "
            "every distinct instruction "
            f"scored on {n_validation} validation and {n_test} test examples",
            highlight=False,
            markup=False,
        )
        with ItemProgress(len(todo), "pools") as progress:

            def done(spec: TaskSpec, pool: PoolData | None, error: Exception | None) -> None:
                if pool is None:
                    progress.done(spec.key, note=f"failed: {type(error).__name__}: {error}")
                    return
                store.put_pool(pool)
                distinct = len(set(pool.soft_ids))
                progress.done(spec.key, pool.wall_s, pool.calls_made, pool.calls_served, note=f"{distinct} distinct")

            if todo and executor is Executor.RAY:
                from izbench.distributed import build_pools_on_ray

                build_pools_on_ray(
                    runtime, [s.key for s in todo], params, address=ray_address, workers=workers,
                    on_done=lambda pool: done(registry.get(pool.task), pool, None), on_lost=progress.warn,
                )  # fmt: skip
            elif todo:

                def round_begins(number: int, parked: int, requests: int) -> None:
                    calls = runtime.stats.so_far()
                    progress.status(f"round {number}: {requests} requests from {parked} tasks | {calls}")

                build_pools(runtime, registry, todo, params, done, round_begins)
        _print_pools(store, [pool_id(pool_identity(runtime, registry, s, params)) for s in specs])


def _print_pools(store: ResultStore, ids: list[str]) -> None:
    """Per pool: its points, distinct instructions, and oracle, reference and empty test scores."""
    from izbench.report.pools import pool_summaries
    from izbench.report.render import pool_table

    setups = {r["setup_hash"] for r in store.pools() if r["pool_id"] in ids}
    summaries = [s for setup in sorted(setups) for s in pool_summaries(store, setup) if s.pool_id in ids]
    console.print(pool_table(summaries).rich("pools: what each domain holds (test scores: mean over the test set)"))


@pool_app.command("list")
def pool_list(ctx: typer.Context) -> None:
    """One line per stored pool: task, set-up, size and distinct instructions."""
    from izbench.report.pools import pool_summaries
    from izbench.report.render import pool_table
    from izbench.store import ResultStore

    with ResultStore.open(settings_of(ctx).store, read_only=True) as store:
        setups = sorted({r["setup_hash"] for r in store.pools()})
        if not setups:
            raise ConfigError(f"the store {settings_of(ctx).store} holds no pool; build one with `izbench pool build`")
        for setup in setups:
            console.print(pool_table(pool_summaries(store, setup)).rich(f"pools of set-up {setup}"))


@pool_app.command("export")
def pool_export(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The pool file to write (a zip of parquet parts and a manifest).")],
    tasks: Annotated[str | None, typer.Option(help="Only these tasks' pools (default: every pool).")] = None,
) -> None:
    """Write stored pools into one file another machine can import and run methods on with no model call."""
    from izbench.pool.transfer import export_pools
    from izbench.store import ResultStore

    with ResultStore.open(settings_of(ctx).store, read_only=True) as store:
        rows = store.pools()
        if tasks is not None:
            keys = {s.key for s in registry_of(ctx).resolve(tasks)[0]}
            rows = [r for r in rows if r["task"] in keys]
        manifest = export_pools(store, [r["pool_id"] for r in rows], file)
    err_console.print(
        f"{len(manifest['pools'])} pools written to {file} ({file.stat().st_size / 2**20:.1f} MiB)",
        highlight=False,
        markup=False,
    )


@pool_app.command("import")
def pool_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A pool file written by `izbench pool export`.")],
) -> None:
    """Check a pool file whole (every part's sha256, every task's data here) and store its pools."""
    from izbench.pool.transfer import import_pools
    from izbench.store import ResultStore

    with ResultStore.open(settings_of(ctx).store) as store:
        manifest = import_pools(store, file, registry_of(ctx))
    err_console.print(f"{len(manifest['pools'])} pools imported from {file}", highlight=False, markup=False)
