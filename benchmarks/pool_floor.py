"""Where a pool comparison's time goes, and the least its NeuralUCB training can take here.

A pool cell makes no model call, so what it spends is the method's own surrogate: InstructZero's
GP fits (botorch L-BFGS on the marginal likelihood) and INSTINCT's and PRESTO's NeuralUCB
training (``instinct_train_steps`` full-batch Adam steps per refit of a 100-unit network on the
576-wide hidden states, in float64 as INSTINCT's code, float32 as PRESTO's). This script runs
the pool cells of the given methods and seeds one at a time on one thread (as a pool worker
does), records every GP
fit (L-BFGS steps) and every network refit (rows, steps), and prints per method: cells, seconds,
fits, and for NeuralUCB the FLOPs its matrix products need (forward ``x @ w1.T`` and the
weight gradient, 2 x 2 x rows x width x 100 per step; the small layer and Adam's elementwise
passes are left out, so the bound is generous) divided by this core's matmul rate on
the same shapes and dtype, measured in this run: a floor no implementation of that training in
that dtype beats (batching cells together removes per-step overhead, not these FLOPs).

Run: ``.venv/bin/python benchmarks/pool_floor.py STORE --seeds 0-1`` on a store holding the pools
(``izbench --store STORE pool import results/pools/core.izpool``). Scale by 10 / seeds for the
ten-seed comparison.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import botorch.optim.core as botorch_core
import torch

import izbench.methods.neural_ucb as neural_ucb
from izbench.cli._options import parse_seeds
from izbench.pool.cells import run_pool_cell
from izbench.profiles import get_profile
from izbench.store import ResultStore


def matmul_gflops(rows: int, width: int, dtype: torch.dtype, hidden: int = neural_ucb.HIDDEN) -> float:
    """This core's rate on the training's product, (rows x width) @ (width x hidden), in the
    network's dtype (float64 for INSTINCT, float32 for PRESTO)."""
    x = torch.randn(rows, width, dtype=dtype)
    w = torch.randn(hidden, width, dtype=dtype)
    for _ in range(20):
        x @ w.T
    times = []
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(50):
            x @ w.T
        times.append((time.perf_counter() - began) / 50)
    return 2 * rows * width * hidden / statistics.median(times) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store", type=Path)
    parser.add_argument("--methods", default="instructzero,instinct,presto")
    parser.add_argument("--seeds", default="0-1")
    parser.add_argument("--profile", default="default")
    parser.add_argument("--tasks", default="", help="comma list of tasks (default: every pool in the store)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    fits: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    """Per method, each refit's (rows, input width, Adam steps)."""
    dtypes: dict[str, torch.dtype] = {}
    lbfgs: dict[str, list[int]] = defaultdict(list)
    current = {"method": ""}

    original_fit = neural_ucb.NeuralUCB.fit

    def recording_fit(self: neural_ucb.NeuralUCB, contexts: torch.Tensor, rewards: torch.Tensor, *rest: Any) -> float:
        rows = len(contexts) + sum(len(g) for g in (rest[0] if rest else ()))  # PRESTO's groups train too
        fits[current["method"]].append((rows, contexts.shape[1], self.steps))
        dtypes[current["method"]] = self.recipe.dtype
        return original_fit(self, contexts, rewards, *rest)

    original_minimize = botorch_core.minimize_with_timeout

    def recording_minimize(*a: Any, **k: Any) -> Any:
        result = original_minimize(*a, **k)
        lbfgs[current["method"]].append(int(result.nfev))
        return result

    neural_ucb.NeuralUCB.fit = recording_fit  # type: ignore[method-assign]
    botorch_core.minimize_with_timeout = recording_minimize

    profile = get_profile(args.profile)
    seeds = parse_seeds(args.seeds)
    spent: dict[str, float] = defaultdict(float)
    cells: dict[str, int] = defaultdict(int)
    with ResultStore.open(args.store, read_only=True) as store:
        wanted = set(args.tasks.split(",")) if args.tasks else None
        pools = [store.load_pool(r["pool_id"]) for r in store.pools() if wanted is None or r["task"] in wanted]
        for method in args.methods.split(","):
            current["method"] = method
            for pool in pools:
                for seed in seeds:
                    began = time.perf_counter()
                    run_pool_cell(pool, method, seed, profile)
                    took = time.perf_counter() - began
                    spent[method] += took
                    cells[method] += 1
                    print(f"{method} {pool.task} seed {seed}: {took:.1f} s", flush=True)
    print(f"{len(pools)} pools x seeds {args.seeds}, profile {args.profile}, one thread")
    for method in args.methods.split(","):
        line = f"{method}: {cells[method]} cells, {spent[method]:.1f} s"
        if lbfgs[method]:
            evals = lbfgs[method]
            line += f"; {len(evals)} GP fits, median {statistics.median(evals):.0f} likelihood evaluations"
        if fits[method]:
            shapes = fits[method]
            flops = sum(4 * rows * width * neural_ucb.HIDDEN * steps for rows, width, steps in shapes)
            rows = int(statistics.median(r for r, _, _ in shapes))
            rate = matmul_gflops(rows, shapes[0][1], dtypes[method])
            kind = str(dtypes[method]).removeprefix("torch.")
            line += (
                f"; {len(shapes)} network refits, median {rows} rows, "
                f"{flops / 1e12:.2f} TFLOP {kind} -> floor {flops / rate / 1e9:.1f} s at {rate:.1f} GFLOP/s "
                f"({100 * flops / rate / 1e9 / spent[method]:.0f}% of the time spent)"
            )
        print(line)


if __name__ == "__main__":
    main()
