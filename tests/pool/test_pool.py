"""Instruction pools on the tiny model: a build stored whole, methods run on it by lookup with no
model call, and each pool cell equal to a live run on the same domain with a cold cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from izbench.choices import HiddenSource
from izbench.pool.build import build_pools
from izbench.pool.cells import run_pool_cell
from izbench.pool.data import PoolData, PoolParams
from izbench.profiles import get_profile
from izbench.report.units import cell_spend, spend_table, spending
from izbench.runner import run_cell
from izbench.runtime import Runtime
from izbench.settings import Settings
from izbench.store import INCUMBENT_SPLIT, ResultStore
from izbench.tasks.registry import TaskRegistry

PARAMS = PoolParams(size=16, ape=4, n_validation=4, n_test=6)
TASKS = ("core/larger_animal", "core/sum")
SMOKE = get_profile("smoke")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> tuple[Settings, list[PoolData]]:
    """Two tasks' pools built in lockstep into a store, and the settings that built them."""
    root = tmp_path_factory.mktemp("pool")
    settings = Settings(
        generator=str(tiny_model_dir),
        blackbox_model=str(tiny_model_dir),
        cache_dir=root / "cache",
        store=root / "s.duckdb",
    )
    registry = TaskRegistry()
    finished: list[str] = []
    with Runtime(settings) as runtime, ResultStore.open(settings.store) as store:
        pools = build_pools(
            runtime,
            registry,
            [registry.get(t) for t in TASKS],
            PARAMS,
            lambda spec, pool, error: finished.append(spec.key),
        )
        for pool in pools:
            store.put_pool(pool)
    assert sorted(finished) == sorted(TASKS)
    return settings, pools


def test_a_built_pool_holds_its_domain_and_every_score(built: tuple[Settings, list[PoolData]]) -> None:
    settings, pools = built
    pool = pools[0]
    assert len(pool.soft_ids) == PARAMS.size and len(pool.ape_ids) == PARAMS.ape
    assert pool.soft_z.shape == (PARAMS.size, PARAMS.intrinsic_dim) and pool.soft_hidden.shape[0] == PARAMS.size
    assert pool.instructions[pool.empty_id] == "" and pool.reference_ids
    assert len(pool.instructions) == len(set(pool.instructions))  # distinct: each scored once
    for k in range(len(pool.instructions)):
        assert len(pool.scores[(k, "validation")][1]) == PARAMS.n_validation
        assert len(pool.scores[(k, "test")][1]) == PARAMS.n_test
    with ResultStore.open(settings.store) as store:
        again = store.load_pool(pool.pool_id)
        listed = store.pools()
    assert again.instructions == pool.instructions and again.scores == pool.scores
    assert again.soft_ids == pool.soft_ids and (again.soft_z == pool.soft_z).all()
    assert again.identity == pool.identity and {r["task"] for r in listed} == set(TASKS)


def test_a_rebuild_is_served_from_the_cache(built: tuple[Settings, list[PoolData]]) -> None:
    settings, pools = built
    registry = TaskRegistry()
    with Runtime(settings.model_copy(update={"cache_mode": "replay"})) as runtime:
        (again,) = build_pools(runtime, registry, [registry.get(TASKS[1])], PARAMS, lambda *_: None)
        assert runtime.stats.made == 0
    assert again.pool_id == pools[1].pool_id and again.scores == pools[1].scores


def test_hidden_states_read_off_the_writes_equal_their_own_pass(built: tuple[Settings, list[PoolData]]) -> None:
    """A build with ``hidden = prefill`` writes the same instructions, computes no hidden-state
    pass (every call it makes is a write; the rest comes from the first build's cache) and holds
    hidden states equal to the pass's to float rounding."""
    settings, pools = built
    registry = TaskRegistry()
    params = PARAMS.model_copy(update={"hidden": HiddenSource.PREFILL})
    with Runtime(settings) as runtime:
        (fast,) = build_pools(runtime, registry, [registry.get(TASKS[1])], params, lambda *_: None)
        assert runtime.stats.made == PARAMS.size
    slow = pools[1]
    assert fast.pool_id != slow.pool_id and fast.identity["setup"]["pool"]["hidden"] == "prefill"
    assert "hidden" not in slow.identity["setup"]["pool"]  # pools built before the field keep their identity
    assert fast.instructions == slow.instructions and fast.scores == slow.scores
    assert fast.soft_hidden.shape == slow.soft_hidden.shape
    assert np.abs(fast.soft_hidden - slow.soft_hidden).max() <= 1e-5 * max(1.0, float(np.abs(slow.soft_hidden).max()))
    assert not np.array_equal(fast.soft_hidden, np.zeros_like(fast.soft_hidden))


@pytest.mark.parametrize("method", ["uniform", "instructzero", "ape", "instinct", "presto", "zopo", "empty", "human"])
def test_a_pool_cell_makes_no_call_and_equals_a_live_run_on_its_domain(
    built: tuple[Settings, list[PoolData]], method: str, tmp_path: Path
) -> None:
    settings, pools = built
    pool = pools[0]
    on_pool = run_pool_cell(pool, method, 3, SMOKE)
    assert on_pool.calls_made == 0 and on_pool.result is not None
    assert 1 <= on_pool.distinct <= SMOKE.budget and len(on_pool.test_scores) == PARAMS.n_test
    if method == "presto":
        return  # it writes the whole domain first: its live run is the build itself, tested above
    cold = settings.model_copy(update={"cache_dir": tmp_path / "cold", "anytime": True})
    with Runtime(cold) as runtime:
        live = run_cell(runtime, TaskRegistry(), method, pool.task, 3, SMOKE, pool=PARAMS)
        assert runtime.stats.made > 0  # computed, not replayed
    assert live.result is not None
    assert [(c.instruction, c.val_score, c.val_scores) for c in live.result.candidates] == [
        (c.instruction, c.val_score, c.val_scores) for c in on_pool.result.candidates
    ]
    assert (live.best_instruction, live.test_scores) == (on_pool.best_instruction, on_pool.test_scores)
    # The anytime curve: the same live (incumbents scored on test) as by lookup, to the last bit.
    assert live.anytime == on_pool.anytime and len(on_pool.anytime) == on_pool.distinct
    assert on_pool.anytime[-1] == on_pool.test_score


def test_triple_on_a_pool_pulls_single_examples_within_its_budget(
    built: tuple[Settings, list[PoolData]], tmp_path: Path
) -> None:
    """TRIPLE's budget is (instruction, example) evaluations: the cell's budget times the
    validation set's size, each pull a lookup; its best is the arm it pulled most. The store
    keeps one prediction per pull, on the example it drew."""
    _, pools = built
    pool = pools[0]
    with ResultStore.open(tmp_path / "s.duckdb") as store:
        cell = run_pool_cell(pool, "triple", 2, SMOKE, store)
        rows = store.query(
            "SELECT example_index, input FROM predictions WHERE run_id = ? AND split = 'validation'", [cell.run_id]
        )
    assert cell.result is not None and len(rows) == sum(c.examples for c in cell.result.candidates)
    assert all(pool.validation[r["example_index"]].input == r["input"] for r in rows)
    assert cell.calls_made == 0 and cell.result is not None
    pulls = [c.examples for c in cell.result.candidates]
    assert sum(pulls) <= SMOKE.budget * PARAMS.n_validation and sum(pulls) > 0
    assert cell.result.best.examples == max(pulls)
    arms = {pool.instructions[k] for k in pool.soft_ids}
    assert {c.instruction for c in cell.result.candidates} <= arms
    assert cell.result.candidates[-1].examples == max(pulls)
    again = run_pool_cell(pool, "triple", 2, SMOKE)
    assert again.result is not None and again.result.candidates == cell.result.candidates


def test_a_budget_in_example_evaluations_buys_whole_validation_sets_or_single_pulls(
    built: tuple[Settings, list[PoolData]],
) -> None:
    """``--budget-unit example-evals``: 10 evaluations on 4 validation examples buy 3 scored
    instructions (the last rounded up) for a method that scores whole sets, 10 pulls for TRIPLE."""
    _, pools = built
    unit = SMOKE.with_overrides(budget=10, budget_unit="example-evals")
    whole = run_pool_cell(pools[0], "uniform", 1, unit)
    assert whole.result is not None and whole.distinct == 3
    assert sum(c.examples for c in whole.result.candidates if c.new) == 12
    planned = run_pool_cell(pools[0], "ape", 1, unit)  # APE plans its proposals in instructions
    assert planned.result is not None and planned.distinct <= 3
    pulls = run_pool_cell(pools[0], "triple", 1, unit)
    assert pulls.result is not None and sum(c.examples for c in pulls.result.candidates) == 10
    by_distinct = run_pool_cell(pools[0], "triple", 1, SMOKE)
    assert by_distinct.result is not None
    assert sum(c.examples for c in by_distinct.result.candidates) == SMOKE.budget * PARAMS.n_validation


def test_the_budget_in_every_unit_survives_the_store(built: tuple[Settings, list[PoolData]], tmp_path: Path) -> None:
    """The spend table's units for pool cells read back from a store: example evaluations are the
    validation examples of each distinct instruction (TRIPLE: its pulls), a pool has no tokens,
    and the wall time is the computing run's."""
    _, pools = built
    with ResultStore.open(tmp_path / "s.duckdb") as store:
        fresh = [run_pool_cell(pools[0], m, 0, SMOKE, store) for m in ("uniform", "triple")]
        loaded = [store.load_cell(c.run_id) for c in fresh]
    spend = spending(loaded)
    uniform, triple = spend["uniform"], spend["triple"]
    assert uniform["example_evals"] is not None and uniform["distinct"] is not None
    assert uniform["example_evals"].median == uniform["distinct"].median * PARAMS.n_validation
    assert triple["example_evals"] is not None and triple["example_evals"].median == SMOKE.budget * PARAMS.n_validation
    assert uniform["blackbox_tokens"] is None and uniform["blackbox_calls"] is not None
    assert [cell_spend(c)["wall_s"] for c in loaded] == [c.wall_s for c in fresh]
    assert "(instruction, example) evals" in spend_table(spend).markdown()


def test_a_pool_cells_anytime_curve_is_its_incumbents_test_scores_and_survives_the_store(
    built: tuple[Settings, list[PoolData]], tmp_path: Path
) -> None:
    _, pools = built
    pool = pools[0]
    with ResultStore.open(tmp_path / "s.duckdb") as store:
        cell = run_pool_cell(pool, "uniform", 1, SMOKE, store)
        again = store.load_cell(cell.run_id)
    assert cell.result is not None
    incumbents = cell.result.incumbents()
    ids = {text: k for k, text in enumerate(pool.instructions)}
    by_lookup = [pool.scores[(ids[c.instruction], "test")][1] for c in incumbents]
    assert cell.anytime == tuple(sum(s) / len(s) for s in by_lookup)
    assert again.reused and again.anytime == cell.anytime


def test_a_live_cell_without_anytime_scores_only_its_best_on_test(
    built: tuple[Settings, list[PoolData]], tmp_path: Path
) -> None:
    settings, pools = built
    plain = settings.model_copy(update={"cache_dir": tmp_path / "plain"})
    with Runtime(plain) as runtime, ResultStore.open(tmp_path / "s.duckdb") as store:
        live = run_cell(runtime, TaskRegistry(), "uniform", pools[0].task, 3, SMOKE, store, pool=PARAMS)
        stored = store.load_cell(live.run_id)
        kinds = store.query("SELECT DISTINCT split FROM predictions WHERE run_id = ?", [live.run_id])
    assert live.anytime == () and stored.anytime == ()
    assert "test" in {k["split"] for k in kinds} and INCUMBENT_SPLIT not in {k["split"] for k in kinds}


def test_a_method_that_writes_its_own_instructions_is_refused(built: tuple[Settings, list[PoolData]]) -> None:
    from izbench.errors import ConfigError

    with pytest.raises(ConfigError, match="opro writes instructions a pool does not hold"):
        run_pool_cell(built[1][0], "opro", 0, SMOKE)


def test_the_seed_changes_the_draws_not_the_scores(built: tuple[Settings, list[PoolData]]) -> None:
    pool = built[1][0]
    runs = [run_pool_cell(pool, "uniform", seed, SMOKE) for seed in range(4)]
    assert len({tuple(c.instruction for c in r.result.candidates) for r in runs if r.result}) > 1
    scores = {}
    for r in runs:
        for c in r.result.candidates if r.result else []:
            scores.setdefault(c.instruction, c.val_score)
            assert scores[c.instruction] == c.val_score


def test_cells_in_worker_processes_equal_cells_here(built: tuple[Settings, list[PoolData]], tmp_path: Path) -> None:
    """Pool cells are pure functions of the pool and the seed: two single-threaded worker
    processes leave the same rows as this process, one cell after another."""
    import duckdb

    from izbench.pool.cells import run_pool_cells

    pools = {p.task: p for p in built[1]}
    cells = [(m, t, s) for m in ("instructzero", "instinct", "presto", "uniform") for t in pools for s in (0, 1)]
    rows = []
    for workers in (1, 2):
        path = tmp_path / f"w{workers}.duckdb"
        with ResultStore.open(path) as store:
            results = run_pool_cells(pools, cells, SMOKE, store, rerun=False, workers=workers, on_done=lambda _: None)
        assert [(r.method, r.task, r.seed) for r in results] == cells
        con = duckdb.connect(str(path), read_only=True)
        rows.append(
            [
                con.execute(f"SELECT * EXCLUDE (started_at, ended_at, wall_s) FROM {t} ORDER BY ALL").fetchall()
                if t == "runs"
                else con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                for t in ("runs", "candidates", "predictions", "metrics")
            ]
        )
        con.close()
    assert rows[0] == rows[1]
