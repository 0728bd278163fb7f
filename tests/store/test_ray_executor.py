"""`compare --executor ray` on a local 2-worker Ray cluster equals the in-process run, row for row,
whatever order the cells run in and whether a cell runs alone or after others."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import duckdb
import pytest
from processes import izbench

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray not installed (pip install '.[ray]')"),
]

CELLS = ["compare", "--tasks", "sum,antonyms", "--methods", "instructzero,uniform,empty", "--profile", "smoke"]
REVERSED = ["compare", "--tasks", "antonyms,sum", "--methods", "empty,uniform,instructzero", "--profile", "smoke"]
ALONE = ["run", "--task", "sum", "--method", "instructzero", "--profile", "smoke"]


def _izbench(env: dict[str, str], cache: Path, store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A likelihood's last bits depend on how many threads share a matrix product: Ray's workers
    # run one thread each, so the process compared with them does too.
    env = env | {"IZBENCH_CACHE_DIR": str(cache), "IZBENCH_STORE": str(store), "RAY_USAGE_STATS_ENABLED": "0"}
    env |= {"OMP_NUM_THREADS": "1"}
    return izbench(*args, env=env, timeout=900)


def _contents(store: Path) -> dict[str, list[tuple[object, ...]]]:
    con = duckdb.connect(str(store), read_only=True)
    try:
        return {
            "runs": con.execute(
                "SELECT run_id, status, best_instruction, val_score, test_score, proposals, distinct_candidates,"
                " calls_made + calls_served FROM runs ORDER BY run_id"
            ).fetchall(),
            "candidates": con.execute("SELECT * FROM candidates ORDER BY ALL").fetchall(),
            "predictions": con.execute("SELECT * FROM predictions ORDER BY ALL").fetchall(),
            "metrics": con.execute("SELECT * FROM metrics ORDER BY ALL").fetchall(),
        }
    finally:
        con.close()


@pytest.mark.timeout(1800)  # four smoke compares, one on a Ray cluster
def test_ray_run_equals_in_process_run_and_replays(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    ray_cache, ray_store = tmp_path / "ray-cache", tmp_path / "ray.duckdb"
    ray = _izbench(tiny_env, ray_cache, ray_store, *CELLS, "--executor", "ray", "--workers", "2")
    assert ray.returncode == 0, ray.stderr[-2000:]
    assert "cells 8/8: " in ray.stderr  # each cell reported as it came back from its worker
    # In process, cells in the reverse order: every InstructZero cell after other cells' GP fits.
    here = _izbench(tiny_env, tmp_path / "cache", tmp_path / "here.duckdb", *REVERSED)
    assert here.returncode == 0, here.stderr[-2000:]

    ray_rows, here_rows = _contents(ray_store), _contents(tmp_path / "here.duckdb")
    assert len(ray_rows["runs"]) == 8 and all(r[1] == "done" for r in ray_rows["runs"])
    assert len(ray_rows["predictions"]) > 40
    assert ray_rows == here_rows
    # The driver wrote every worker's answers into the central cache: the next run replays it.
    replay = _izbench(tiny_env, ray_cache, tmp_path / "replay.duckdb", "--cache-mode", "replay", *CELLS)
    assert replay.returncode == 0, replay.stderr[-2000:]
    assert ", 0 made;" in replay.stderr
    assert _contents(tmp_path / "replay.duckdb") == ray_rows
    # One InstructZero cell alone in a fresh process and cache proposes exactly what it did among others.
    alone = _izbench(tiny_env, tmp_path / "alone-cache", tmp_path / "alone.duckdb", *ALONE)
    assert alone.returncode == 0, alone.stderr[-2000:]
    (alone_run,) = _contents(tmp_path / "alone.duckdb")["runs"]
    assert alone_run in ray_rows["runs"]
    alone_candidates = _contents(tmp_path / "alone.duckdb")["candidates"]
    assert len(alone_candidates) >= 3
    assert all(c in ray_rows["candidates"] for c in alone_candidates)  # same soft prompts, same instructions


@pytest.mark.timeout(900)
def test_pools_built_on_ray_equal_pools_built_here(tmp_path: Path, tiny_env: dict[str, str]) -> None:
    build = [
        "pool",
        "build",
        "--tasks",
        "sum,antonyms",
        "--size",
        "12",
        "--ape",
        "3",
        "--n-validation",
        "4",
        "--n-test",
        "5",
    ]
    ray = _izbench(
        tiny_env, tmp_path / "ray-cache", tmp_path / "ray.duckdb", *build, "--executor", "ray", "--workers", "2"
    )
    assert ray.returncode == 0, ray.stderr[-2000:]
    here = _izbench(tiny_env, tmp_path / "cache", tmp_path / "here.duckdb", *build)
    assert here.returncode == 0, here.stderr[-2000:]

    def pools(store: Path) -> dict[str, list[tuple[object, ...]]]:
        con = duckdb.connect(str(store), read_only=True)
        try:
            return {
                table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
                for table in ("pool_instructions", "pool_points", "pool_scores", "pool_examples")
            }
        finally:
            con.close()

    assert pools(tmp_path / "ray.duckdb") == pools(tmp_path / "here.duckdb")
    # The driver kept every worker's answers: a rebuild from the Ray run's cache makes no call.
    again = _izbench(tiny_env, tmp_path / "ray-cache", tmp_path / "again.duckdb", "--cache-mode", "replay", *build)
    assert again.returncode == 0 and ", 0 made;" in again.stderr, again.stderr[-2000:]
