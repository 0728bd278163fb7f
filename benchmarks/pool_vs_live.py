"""A stored pool against the real models: each method's pool cell next to a live run of the same
method and seed on the same domain and split, written and scored by the models with a cold cache.

The tests check this equality on a tiny random model; this script checks it on a pool built
with the real ones (the shipped ``results/pools/core.izpool``: SmolLM2-135M-Instruct writes and
answers), which is what says a user's pool comparison is the live comparison restricted to the
domain. Equal means: the same candidates in the same order with the same per-example validation
scores, the same selected instruction and the same per-example test scores.

Run: ``.venv/bin/python benchmarks/pool_vs_live.py STORE --task core/sum --seed 0`` on a store
holding the pools (``izbench --store STORE pool import results/pools/core.izpool``). It loads
SmolLM2 and makes real calls into a fresh cache in a temporary folder (minutes per method).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from izbench.pool.cells import run_pool_cell
from izbench.profiles import get_profile
from izbench.results import CellResult
from izbench.runner import run_cell
from izbench.runtime import Runtime
from izbench.settings import Settings
from izbench.store import ResultStore
from izbench.tasks.registry import TaskRegistry


def first_difference(pool: CellResult, live: CellResult) -> str | None:
    """None when the two cells agree candidate for candidate; else where they part."""
    assert pool.result is not None and live.result is not None
    mine = [(c.instruction, c.val_scores) for c in pool.result.candidates]
    theirs = [(c.instruction, c.val_scores) for c in live.result.candidates]
    for k, (a, b) in enumerate(zip(mine, theirs, strict=False)):
        if a != b:
            return f"candidate {k}: pool {a[0][:50]!r} {a[1][:3]} vs live {b[0][:50]!r} {b[1][:3]}"
    if len(mine) != len(theirs):
        return f"{len(mine)} candidates on the pool, {len(theirs)} live"
    if (pool.best_instruction, pool.test_scores) != (live.best_instruction, live.test_scores):
        return "the same candidates, a different selection or test scores"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store", type=Path)
    parser.add_argument("--task", default="core/sum")
    parser.add_argument("--methods", default="uniform,instructzero,instinct,ape")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", default="default")
    args = parser.parse_args()
    profile = get_profile(args.profile)
    with ResultStore.open(args.store, read_only=True) as store:
        (row,) = [r for r in store.pools() if r["task"] == args.task]
        pool = store.load_pool(row["pool_id"])
    with tempfile.TemporaryDirectory() as cold:
        settings = Settings(cache_dir=Path(cold) / "cache", store=Path(cold) / "store.duckdb")
        with Runtime(settings) as runtime:
            for method in args.methods.split(","):
                on_pool = run_pool_cell(pool, method, args.seed, profile)
                made = runtime.stats.made
                began = time.perf_counter()
                live = run_cell(runtime, TaskRegistry(), method, args.task, args.seed, profile, pool=pool.params)
                spent = time.perf_counter() - began
                difference = first_difference(on_pool, live)
                assert on_pool.result is not None
                verdict = "equal" if difference is None else f"DIFFERENT: {difference}"
                print(
                    f"{method} {args.task} seed {args.seed}: {verdict}; {len(on_pool.result.candidates)} candidates, "
                    f"pool 0 calls, live {runtime.stats.made - made} calls made in {spent:.0f} s",
                    flush=True,
                )


if __name__ == "__main__":
    main()
