"""Would training many cells' NeuralUCB networks as one batched computation be faster?

A pool comparison at the paper's budget spends its time refitting INSTINCT's and PRESTO's
100-unit networks (1,000 full-batch Adam steps per refit, ~125 refits a cell). izbench runs pool
cells in one single-threaded worker process per core (``run_pool_cells``). The alternative is
to train ``B`` cells' networks together: their weights stacked, every step one ``bmm`` and one
fused Adam update over all of them. This script measures both on one thread, at the row counts a
paper-budget cell trains on (``benchmarks/pool_floor.py``: median 102 rows for INSTINCT in
float64, 193 for PRESTO in float32), and prints seconds per network and the share of this
core's matmul rate on the same shape (the floor of ``pool_floor.py``). The batched case is its
best: every network has the same number of rows, so nothing is padded or masked.

Run: ``.venv/bin/python benchmarks/batched_fits.py`` (alone on the machine; about 2 minutes).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from pool_floor import matmul_gflops

from izbench.methods.neural_ucb import HIDDEN, INSTINCT_RECIPE, PRESTO_RECIPE, NeuralUCB, Recipe

WIDTH = 576
"""SmolLM2's hidden size: the contexts' width."""


def alone(recipe: Recipe, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    """Seconds for one refit by ``NeuralUCB.fit``, as a pool worker runs it."""
    bandit = NeuralUCB(x.shape[1], seed=1, steps=steps, recipe=recipe)
    began = time.perf_counter()
    bandit.fit(x, y)
    return time.perf_counter() - began


def batched(recipe: Recipe, x: torch.Tensor, y: torch.Tensor, steps: int, networks: int) -> float:
    """Seconds for ``networks`` refits trained as one computation (per network)."""
    dtype = recipe.dtype
    gen = torch.Generator().manual_seed(1)
    shapes = {"w1": (HIDDEN, x.shape[1]), "b1": (1, HIDDEN), "w2": (1, HIDDEN), "b2": (1, 1)}
    params = {k: torch.randn(networks, *s, generator=gen, dtype=dtype).requires_grad_(True) for k, s in shapes.items()}
    xs = x.to(dtype).expand(networks, *x.shape).contiguous()
    ys = y.to(dtype).expand(networks, len(y)).contiguous()
    optimizer = torch.optim.Adam(list(params.values()), lr=recipe.learning_rate, fused=True)
    began = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad()
        hidden = torch.relu(torch.bmm(xs, params["w1"].transpose(1, 2)) + params["b1"])
        out = (torch.bmm(hidden, params["w2"].transpose(1, 2)) + params["b2"]).squeeze(-1)
        loss = ((out - ys) ** 2).mean(dim=1).sum()  # each network's own mean: independent gradients
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    return (time.perf_counter() - began) / networks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000, help="Adam steps per refit (the paper's 1,000)")
    parser.add_argument("--batches", default="4,16", help="networks trained together")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    print("one thread; seconds per network refit (median of repeats), share of the matmul rate on the shape")
    for name, recipe, rows in (("INSTINCT", INSTINCT_RECIPE, 102), ("PRESTO", PRESTO_RECIPE, 193)):
        x = torch.randn(rows, WIDTH, generator=gen, dtype=torch.double)
        y = torch.randn(rows, generator=gen, dtype=torch.double)
        report(name, recipe, x, y, args.steps, [int(b) for b in args.batches.split(",")], args.repeats)


def report(
    name: str, recipe: Recipe, x: torch.Tensor, y: torch.Tensor, steps: int, batches: list[int], repeats: int
) -> None:
    """One network's lines: alone, then each batch size."""
    rows = len(x)
    rate = matmul_gflops(rows, WIDTH, recipe.dtype)
    floor = steps * 2 * 2 * rows * WIDTH * HIDDEN / rate / 1e9  # forward product and weight gradient
    alone(recipe, x, y, 20)  # warm-up
    print(f"{name}: {rows} rows, {recipe.dtype}, matmul {rate:.1f} GFLOP/s, floor {floor:.3f} s")
    for networks in [1, *batches]:
        label = "alone (NeuralUCB.fit)" if networks == 1 else f"{networks} batched"
        runs = [
            alone(recipe, x, y, steps) if networks == 1 else batched(recipe, x, y, steps, networks)
            for _ in range(repeats)
        ]
        seconds = statistics.median(runs)
        print(f"  {label:24s} {seconds:.3f} s  ({floor / seconds:.0%} of the floor's rate)")


if __name__ == "__main__":
    main()
