"""Methods on a pool: a cell whose every instruction and score is a lookup (0 model calls).

A pool cell runs the method's own code on the pool's domain (``PoolDomain``) with a scorer that
reads the pool's per-example scores (``PoolScorer``) on the pool's fixed validation and test
sets. The run's seed decides what the method draws and in which order; the pool decides what
each draw is worth. Its identity is the pool's set-up (models and revisions, score set-up, pool
parameters) with the task's and the method's, so pool cells never mix with live ones.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from izbench.cache import CachedClient, CallStats, ResponseCache
from izbench.choices import CacheMode, ScoreFunction
from izbench.errors import BackendError, ConfigError
from izbench.generation import InstructionGenerator
from izbench.identity import CONFIG_FORMAT, SCORING_KEYS, RunKey
from izbench.methods import get_method
from izbench.methods.base import METHOD_PATH_VERSION, METHODS, MethodContext
from izbench.models.types import Completion, CompletionRequest
from izbench.pool.data import PoolData, setup_hash
from izbench.pool.domain import PoolDomain
from izbench.profiles import Profile
from izbench.results import CellResult, Scored
from izbench.runner import Recorder, execute
from izbench.store import ResultStore, StoreWriter
from izbench.tasks.splits import Split
from izbench.tasks.types import Example


class PoolScorer:
    """Scores from the pool: one lookup per (instruction, example)."""

    def __init__(self, pool: PoolData, tally: CallStats) -> None:
        self.pool = pool
        self.tally = tally
        """Counts each (instruction, example) looked up as one call served (none is made)."""
        self.score_function = ScoreFunction(pool.identity["setup"]["score"])
        self._ids = {text: k for k, text in enumerate(pool.instructions)}
        self._where = {e: ("validation", k) for k, e in enumerate(pool.validation)}
        self._where |= {e: ("test", k) for k, e in enumerate(pool.test)}

    def score_many(self, instructions: Sequence[str], examples: Sequence[Example]) -> list[Scored]:
        return [self.score(i, examples) for i in instructions]

    def score(self, instruction: str, examples: Sequence[Example]) -> Scored:
        if instruction not in self._ids:
            raise ConfigError(f"the pool of {self.pool.task} does not hold the instruction {instruction[:60]!r}")
        predictions, scores = [], []
        for example in examples:
            split, index = self._where[example]
            found_predictions, found_scores = self.pool.scores[(self._ids[instruction], split)]
            predictions.append(found_predictions[index])
            scores.append(found_scores[index])
        self.tally.look_up(len(examples))
        return Scored(instruction, tuple(predictions), tuple(scores))

    def answered(self, instruction: str, examples: Sequence[Example]) -> list[tuple[str, float]]:
        """A pool's predictions are the black box's answers only under ``generate``."""
        if self.score_function != "generate":
            raise ConfigError(
                f"a {self.score_function} pool holds no answers of the black box; build one with --score generate"
            )
        scored = self.score(instruction, examples)
        return list(zip(scored.predictions, scored.scores, strict=True))


class NoModel:
    """The backend of a pool cell's writers: a method on a pool that asks a model for anything
    is a bug, and says so instead of calling one."""

    kind = "none"
    model_id = "none"
    revision = "none"

    def complete(self, requests: Sequence[CompletionRequest]) -> list[Completion | BackendError]:
        refusal = BackendError("a pool cell calls no model: the method asked one for text the pool holds")
        return [refusal] * len(requests)

    def close(self) -> None:
        pass


def pool_cell_config(pool: PoolData, profile: Profile) -> dict[str, Any]:
    """A pool cell's configuration without its task and method: what pool cells share to stand in
    one leaderboard (the scoring set-up's keys at the top, as a live cell's)."""
    setup = pool.identity["setup"]
    return {
        "format": CONFIG_FORMAT,
        "profile": profile.model_dump(mode="json"),
        **{k: setup[k] for k in SCORING_KEYS if k in setup},
        "generator": setup["generator"],
        "domain": {
            "kind": "pool",
            "pool": setup["pool"],
            "format": setup["format"],
            "setup": setup_hash(pool.identity),
        },
    }


def pool_cell_key(pool: PoolData, method: str, seed: int, profile: Profile) -> RunKey:
    config = pool_cell_config(pool, profile)
    config["task_identity"] = pool.identity["task"]
    config["method_identity"] = {"version": get_method(method).version, "path": METHOD_PATH_VERSION}
    if owned := profile.owned_settings(method):
        config["method_identity"]["settings"] = owned
    return RunKey(method, pool.task, seed, config)


def pool_profile(profile: Profile, pool: PoolData) -> Profile:
    """The profile a pool cell runs under: its budget and method settings, the pool's split sizes."""
    return profile.with_overrides(n_validation=len(pool.validation), n_test=len(pool.test))


def run_pool_cell(
    pool: PoolData,
    method_name: str,
    seed: int,
    profile: Profile,
    store: StoreWriter | None = None,
    rerun: bool = False,
    references: Sequence[str] = (),
) -> CellResult:
    """One (method, seed) cell on ``pool``, into ``store``; read back when the store has it."""
    method = get_method(method_name)
    if not method.on_domain:
        raise ConfigError(
            f"{method_name} writes instructions a pool does not hold; on a pool run one of the methods that choose "
            f"among a domain ({', '.join(sorted(n for n, make in METHODS.items() if make().on_domain))})"
        )
    profile = pool_profile(profile, pool)
    key = pool_cell_key(pool, method_name, seed, profile)
    if isinstance(store, ResultStore) and not rerun and store.run_status(key.run_id) == "done":
        return store.load_cell(key.run_id)
    began = time.perf_counter()
    split = Split(pool.task, seed, (), pool.validation, pool.test)
    cell = CallStats()
    calls = CallStats(parent=cell)
    # Off: a cache that is never opened. Any call the method made would fail in NoModel.
    silent = InstructionGenerator(CachedClient(NoModel(), ResponseCache(Path("."), CacheMode.OFF), cell))
    context = MethodContext(
        task=pool.task,
        split=split,
        scorer=PoolScorer(pool, calls),
        generator=silent,
        blackbox_generator=silent,
        annotations=tuple(references or (pool.instructions[k] for k in pool.reference_ids)),
        seed=seed,
        params=profile.params,
        on_candidates=Recorder(store, key.run_id, split, None),
        blackbox_calls=calls,
        cell_calls=cell,
        domain=PoolDomain(pool),
    )
    # Every incumbent's test score is a lookup here, so a pool cell always has its anytime curve.
    return execute(method, context, key, profile, store, began, None, anytime=True)


_POOLS: dict[str, PoolData] = {}
"""A worker process's pools, handed over once when it starts."""


def _start_worker(pools: dict[str, PoolData], parent: int) -> None:
    """A pool worker: one torch thread (pool cells are many small fits side by side; more
    threads per process only fight over the cores) and every pool of the comparison. It ends
    when the process that started it does, however that one ended (a SIGTERM or SIGKILL leaves
    no one to shut the executor down, and an orphan would compute for nobody)."""
    import signal
    import threading
    import time

    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    _POOLS.update(pools)

    def watch() -> None:  # ``parent`` comes from the parent: it may have died before this runs
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _job(task: str, method: str, seed: int, profile: Profile) -> tuple[CellResult, list[tuple[str, tuple[Any, ...]]]]:
    from izbench.distributed import RecordingStore

    store = RecordingStore()
    return run_pool_cell(_POOLS[task], method, seed, profile, store, rerun=True), store.writes


def run_pool_cells(
    pools: dict[str, PoolData],
    cells: Sequence[tuple[str, str, int]],
    profile: Profile,
    store: ResultStore,
    rerun: bool,
    workers: int,
    on_done: Callable[[CellResult], None],
) -> list[CellResult]:
    """Every (method, task, seed) cell on ``pools``: those the store has are read back, the rest
    run in ``workers`` processes (in this one when ``workers`` < 2) and are written here, by the
    one process that holds the store. Results come back in cell order."""
    done: dict[tuple[str, str, int], CellResult] = {}
    todo = []
    for method, task, seed in cells:
        key = pool_cell_key(pools[task], method, seed, pool_profile(profile, pools[task]))
        if not rerun and store.run_status(key.run_id) == "done":
            done[(method, task, seed)] = store.load_cell(key.run_id)
            on_done(done[(method, task, seed)])
        else:
            todo.append((method, task, seed))
    if workers < 2 or len(todo) < 2:
        for method, task, seed in todo:
            done[(method, task, seed)] = run_pool_cell(pools[task], method, seed, profile, store, rerun=True)
            on_done(done[(method, task, seed)])
        return [done[c] for c in cells]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")  # the parent may hold torch's thread pools
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(pools, os.getpid())
    ) as executor:
        futures = {c: executor.submit(_job, c[1], c[0], c[2], profile) for c in todo}
        for cell, future in futures.items():
            result, writes = future.result()
            store.replay(writes)
            done[cell] = result
            on_done(result)
    return [done[c] for c in cells]
