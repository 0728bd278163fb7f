"""A pool build's cost on this machine, against the fp32 roofline measured in the same run.

Builds the given tasks' pools into a fresh cache and store (``--out``), exactly as
``izbench pool build`` does, then reads what each kind of call cost from the cache
(``lower_bound.model_work``): writes, hidden-state passes, APE's samples and scoring, each as
calls, needed tokens, the roofline's bound and the time the model spent. The roofline (fp32
matmul GFLOP/s at the model's MLP shape) is measured before and after the build; the lower of
the two is used, so a rate is never flattered by a quiet moment.

Run: ``.venv/bin/python benchmarks/pool_build.py --tasks larger_animal,sum --size 64 --out /tmp/b``
(``--hidden pass`` for the second forward pass per point that pools before ``prefill`` made).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from backends import matmul_gflops  # `make bench`'s (this script's folder)
from lower_bound import model_work, print_work

from izbench.choices import HiddenSource
from izbench.models.local import LocalBackend
from izbench.pool.build import build_pools
from izbench.pool.data import PoolParams
from izbench.runtime import Runtime
from izbench.settings import Settings
from izbench.store import ResultStore
from izbench.tasks.registry import TaskRegistry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="larger_animal,sum")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--ape", type=int, default=18)
    parser.add_argument("--pipeline", type=int, default=2)
    parser.add_argument("--hidden", choices=[h.value for h in HiddenSource], default=HiddenSource.PREFILL.value)
    parser.add_argument("--out", type=Path, required=True, help="a new folder for the cache and the store")
    args = parser.parse_args()
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"{args.out} is not empty: a build's cost is read from a cache it alone wrote")
    local = LocalBackend()
    model = local._loaded.model
    params = sum(p.numel() for p in model.parameters())
    shape = (model.config.hidden_size, model.config.intermediate_size)
    before = matmul_gflops(*shape, 5)
    settings = Settings(cache_dir=args.out / "cache", store=args.out / "store.duckdb")
    pool_params = PoolParams(size=args.size, ape=args.ape, pipeline=args.pipeline, hidden=HiddenSource(args.hidden))
    registry = TaskRegistry()
    specs, _ = registry.resolve(args.tasks)
    began = time.perf_counter()
    with Runtime(settings) as runtime, ResultStore.open(settings.store) as store:
        pools = build_pools(runtime, registry, specs, pool_params, lambda *_: None)
        for pool in pools:
            store.put_pool(pool)
    wall = time.perf_counter() - began
    after = matmul_gflops(*shape, 5)
    roofline = min(before, after)
    print(f"{len(pools)} pools, {args.size} points + {args.ape} APE each, hidden {args.hidden}: {wall:.1f} s wall")
    for pool in pools:
        distinct = len(set(pool.soft_ids))
        print(f"  {pool.task}: {distinct} distinct of {args.size}, {len(pool.instructions)} instructions scored")
    print(f"roofline {before:.0f} GFLOP/s before, {after:.0f} after")
    print_work(model_work(settings.cache_dir, local), params, roofline)


if __name__ == "__main__":
    main()
