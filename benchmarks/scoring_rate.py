"""How fast a pool build scores, against the fp32 roofline measured in the same run.

Takes the first ``--instructions`` distinct instructions of each task's pool in a pool file (the
shipped ``results/pools/core.izpool`` by default), scores each on the pool's validation and test
examples exactly as ``izbench pool build`` does (one instruction per call, through the cache:
a fresh one per run), and prints the seconds, the needed tokens (``lower_bound``'s count: each
instruction's shared prefix once per call, every example's own tokens) and the rate as a share
of the fp32 matmul roofline measured before and after (the lower of the two). ``--check`` also
compares every score with the pool's stored one (nats per token).

Run: ``.venv/bin/python benchmarks/scoring_rate.py --tasks core/antonyms,core/sum --instructions 8``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import zipfile
from pathlib import Path

import duckdb
from backends import matmul_gflops, prompt_tokens_needed  # `make bench`'s (this script's folder)

from izbench.cache import CallStats, ResponseCache
from izbench.choices import CacheMode, PromptProtocol, ScoreFunction
from izbench.models.local import LocalBackend
from izbench.models.types import CompletionRequest
from izbench.runtime import Runtime
from izbench.settings import Settings
from izbench.tasks.registry import TaskRegistry
from izbench.tasks.types import Example


def pool_rows(
    pool_file: Path, task: str, limit: int
) -> tuple[list[str], dict[str, list[Example]], dict[tuple[str, str, int], float]]:
    """The first ``limit`` instructions of ``task``'s pool, its examples and stored scores."""
    with tempfile.TemporaryDirectory() as tmp:
        zipfile.ZipFile(pool_file).extractall(tmp)
        con = duckdb.connect()
        (pool,) = con.execute(f"SELECT pool_id FROM '{tmp}/pools.parquet' WHERE task = ?", [task]).fetchone() or (None,)
        if pool is None:
            raise SystemExit(f"{pool_file} has no pool for {task}")
        texts = con.execute(
            f"SELECT instruction_id, instruction FROM '{tmp}/pool_instructions.parquet' WHERE pool_id = ?"
            " ORDER BY instruction_id LIMIT ?",
            [pool, limit],
        ).fetchall()
        columns = [c[0] for c in con.execute(f"DESCRIBE SELECT * FROM '{tmp}/pool_examples.parquet'").fetchall()]
        examples = con.execute(f"SELECT * FROM '{tmp}/pool_examples.parquet' WHERE pool_id = ?", [pool]).fetchall()
        scores = con.execute(f"SELECT * FROM '{tmp}/pool_scores.parquet' WHERE pool_id = ?", [pool]).fetchall()
        score_columns = [c[0] for c in con.execute(f"DESCRIBE SELECT * FROM '{tmp}/pool_scores.parquet'").fetchall()]
    split: dict[str, list[tuple[int, Example]]] = {"validation": [], "test": []}
    for row in examples:
        r = dict(zip(columns, row, strict=True))
        split[r["split"]].append(
            (
                r["example_index"],
                Example(input=r["input"], answers=tuple(r["answers"]), options=tuple(r["options"] or ())),
            )
        )
    ordered = {name: [e for _, e in sorted(rows, key=lambda pe: pe[0])] for name, rows in split.items()}
    stored = {}
    ids = {k: t for k, t in texts}
    for row in scores:
        r = dict(zip(score_columns, row, strict=True))
        if r["instruction_id"] in ids:
            stored[(ids[r["instruction_id"]], r["split"], r["example_index"])] = r["score"]
    return [t for _, t in texts], ordered, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool-file", type=Path, default=Path("results/pools/core.izpool"))
    parser.add_argument("--tasks", default="core/antonyms,core/sum")
    parser.add_argument("--instructions", type=int, default=8)
    parser.add_argument("--check", action="store_true", help="compare every score with the pool's")
    args = parser.parse_args()
    local = LocalBackend()
    model = local._loaded.model
    params = sum(p.numel() for p in model.parameters())
    shape = (model.config.hidden_size, model.config.intermediate_size)
    before = matmul_gflops(*shape, 5)
    registry = TaskRegistry()
    worst = 0.0
    spent = 0.0
    needed = 0
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(cache_dir=Path(tmp) / "cache", score=ScoreFunction.LIKELIHOOD, protocol=PromptProtocol.RAW)
        with Runtime(settings) as runtime:
            for task in args.tasks.split(","):
                spec = registry.get(task)
                texts, split, stored = pool_rows(args.pool_file, task, args.instructions)
                scorer = runtime.scorer(
                    spec.key, spec.metric, registry.load(spec.key), CallStats(), per_instruction=True
                )
                began = time.perf_counter()
                for text in texts:
                    for name in ("validation", "test"):
                        scored = scorer.score(text, split[name])
                        for position, value in enumerate(scored.scores):
                            if (text, name, position) in stored:
                                worst = max(worst, abs(value - stored[(text, name, position)]))
                took = time.perf_counter() - began
                spent += took
                sizes = f"({len(split['validation'])} + {len(split['test'])})"
                print(f"{task}: {len(texts)} instructions x {sizes} in {took:.1f} s")
        cache = ResponseCache(settings.cache_dir, CacheMode.REPLAY)
        requests = [CompletionRequest.model_validate(e["request"]) for e in cache.entries()]
        needed = prompt_tokens_needed(local, requests)
    after = matmul_gflops(*shape, 5)
    roofline = min(before, after)
    bound = 2 * params * needed / (roofline * 1e9)
    print(f"roofline {before:.0f} GFLOP/s before, {after:.0f} after")
    rate = f"{bound / spent:.0%} of the roofline"
    print(f"scoring: {needed} needed tokens, bound {bound:.1f} s, spent {spent:.1f} s: {rate}")
    if args.check:
        print(f"largest difference from the pool's stored scores: {worst:.2e} nats per token")


if __name__ == "__main__":
    main()
