"""Throughput of the embedded black-box backends and the instruction generator.

Prints a table (median of --repeats runs) of:
- calls/s of ``local`` and ``llamacpp`` on the same 64 short scoring prompts (cache off);
- generator instructions/s with a soft prompt at batch 1 and 16;
- cold vs warm wall time of one repeated batch through the cache.

Run: ``make bench`` or ``.venv/bin/python benchmarks/backends.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from izbench.cache import CachedClient, CacheMode, CallStats, ResponseCache
from izbench.models.generator import InstructionGenerator, format_demos
from izbench.models.llamacpp import LlamaCppBackend
from izbench.models.local import LocalBackend
from izbench.models.types import CompletionRequest

TEMPLATE = "Instruction: Add the two numbers.\n\nInput: {a} {b}\nOutput:"


def prompts(n: int = 64) -> list[CompletionRequest]:
    return [CompletionRequest.user(TEMPLATE.format(a=i * 7 % 50, b=i * 3 % 40), max_tokens=16) for i in range(n)]


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    reqs = prompts()
    print(f"machine: {os.cpu_count()} cores, torch threads {torch.get_num_threads()}")
    rows: list[tuple[str, str]] = []

    local = LocalBackend()
    local.complete(reqs[:4])  # warm-up
    t = median_time(lambda: local.complete(reqs), args.repeats)
    rows.append(("local black box, 64 prompts", f"{len(reqs) / t:.1f} calls/s ({t:.2f} s)"))

    llama = LlamaCppBackend()
    try:
        llama.complete(reqs[:4])
        t = median_time(lambda: llama.complete(reqs), args.repeats)
        rows.append(("llamacpp black box, 64 prompts", f"{len(reqs) / t:.1f} calls/s ({t:.2f} s)"))
    finally:
        llama.close()

    demos = format_demos([("cat", "cats"), ("dog", "dogs"), ("box", "boxes"), ("fly", "flies"), ("ox", "oxen")])
    with tempfile.TemporaryDirectory() as tmp:
        off = ResponseCache(Path(tmp) / "off", CacheMode.OFF)
        generator = InstructionGenerator(CachedClient(local, off, CallStats()))
        gen = torch.Generator().manual_seed(0)
        softs = [torch.rand((5, local.hidden_size), generator=gen) * 2 - 1 for _ in range(16)]
        for batch in (1, 16):
            items = [(s, demos) for s in softs[:batch]]
            t = median_time(lambda items=items: generator.generate(items), args.repeats)  # type: ignore[misc]
            rows.append((f"generator, batch {batch}", f"{batch / t:.2f} instructions/s ({t:.2f} s)"))

        cold_times, warm_times = [], []
        for r in range(args.repeats):
            cache = ResponseCache(Path(tmp) / f"c{r}", CacheMode.USE)
            client = CachedClient(local, cache, CallStats())
            cold_times.append(median_time(lambda client=client: client.complete(reqs), 1))  # type: ignore[misc]
            warm_times.append(median_time(lambda client=client: client.complete(reqs), 1))  # type: ignore[misc]
            cache.close()
        rows.append(("64-call batch through the cache, cold", f"{statistics.median(cold_times):.3f} s"))
        rows.append(("64-call batch through the cache, warm", f"{statistics.median(warm_times):.3f} s"))

    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
