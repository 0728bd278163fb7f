"""Each method end to end on the tiny model and a small core task: budgets, calls, replay, seeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from izbench.cache import CacheMode
from izbench.errors import CacheMissError, ConfigError
from izbench.methods import get_method
from izbench.profiles import PROFILES
from izbench.results import CellResult
from izbench.runner import run_cell
from izbench.runtime import Runtime
from izbench.settings import Settings
from izbench.tasks.registry import TaskRegistry

SMOKE = PROFILES["smoke"]


def _run(
    settings: Settings, cache: Path, method: str, seed: int, mode: CacheMode = CacheMode.USE
) -> tuple[CellResult, int]:
    with Runtime(settings.model_copy(update={"cache_dir": cache, "cache_mode": mode})) as runtime:
        cell = run_cell(runtime, TaskRegistry(), method, "core/larger_animal", seed, SMOKE)
        return cell, runtime.stats.made


@pytest.mark.parametrize(
    "method", ["instructzero", "uniform", "ape", "opro", "evoprompt-ga", "instinct", "capo", "gepa"]
)
def test_method_is_within_budget_and_replays(method: str, tmp_path: Path, tiny_settings: Settings) -> None:
    cell, made = _run(tiny_settings, tmp_path / "cache", method, seed=0)
    assert cell.result is not None
    assert 1 <= cell.distinct <= SMOKE.budget and cell.proposals <= 3 * SMOKE.budget
    # GEPA's rejected children cost budget but are not candidates (tests/methods/test_gepa.py).
    assert method == "gepa" or SMOKE.budget <= cell.proposals
    assert made > 0 and all(c.instruction == c.instruction.strip() for c in cell.result.candidates)
    assert len(cell.test_predictions) == SMOKE.n_test
    # The calls axis: each candidate carries the black-box calls asked for up to it.
    calls = [c.calls for c in cell.result.candidates]
    assert cell.blackbox_calls is not None and cell.blackbox_calls > 0
    assert calls == sorted(calls) and calls[-1] <= cell.blackbox_calls
    assert method == "gepa" or calls[-1] == cell.blackbox_calls  # GEPA's last tries may be rejected
    # The example-evals and tokens axes likewise: what the cell had spent by each candidate.
    evals = [c.evals or 0 for c in cell.result.candidates]
    tokens = [c.tokens or 0 for c in cell.result.candidates]
    most: dict[str, int] = {}
    for c in cell.result.candidates:
        most[c.instruction] = max(most.get(c.instruction, 0), c.examples)
    assert evals == sorted(evals) and tokens == sorted(tokens) and evals[0] > 0 and tokens[0] > 0
    assert evals[-1] <= sum(most.values()) + (cell.off_validation_evals or 0)
    assert cell.blackbox_tokens is not None and tokens[-1] <= cell.blackbox_tokens
    assert method == "gepa" or (evals[-1], tokens[-1]) == (sum(most.values()), cell.blackbox_tokens)
    replayed, made_again = _run(tiny_settings, tmp_path / "cache", method, seed=0, mode=CacheMode.REPLAY)
    assert made_again == 0
    assert replayed.result is not None
    assert replayed.result.candidates == cell.result.candidates
    assert (replayed.val_score, replayed.test_score) == (cell.val_score, cell.test_score)
    # Tokens as a budget unit: every call's, cached or made, so a replay spends the same.
    assert cell.blackbox_tokens is not None and cell.blackbox_tokens > cell.blackbox_calls
    assert replayed.blackbox_tokens == cell.blackbox_tokens and replayed.blackbox_calls == cell.blackbox_calls
    other, _ = _run(tiny_settings, tmp_path / "cache", method, seed=1)
    assert other.result is not None
    if method == "gepa":  # the tiny writer's children are all rejected: the seed draws other demos
        assert other.blackbox_tokens != cell.blackbox_tokens
    else:
        assert [c.instruction for c in other.result.candidates] != [c.instruction for c in cell.result.candidates]


def test_references_run(tmp_path: Path, tiny_settings: Settings) -> None:
    for method in ("empty", "manual"):
        cell, _ = _run(tiny_settings, tmp_path / "cache", method, seed=0)
        assert cell.distinct == 1
    # A core task's human reference is the one-line `reference` of its task file.
    cell, _ = _run(tiny_settings, tmp_path / "cache", "human", seed=0)
    assert cell.distinct == 1 and cell.best_instruction.endswith(".")


def test_replay_without_a_cache_fails_clearly(tmp_path: Path, tiny_settings: Settings) -> None:
    with pytest.raises(CacheMissError):
        _run(tiny_settings, tmp_path / "empty-cache", "empty", seed=0, mode=CacheMode.REPLAY)


def test_unknown_method_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown method .instructzer.; choose from ape, capo, empty"):
        get_method("instructzer")


SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "instruction-induction"


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared data not beside the checkout")
def test_human_reference_scores_every_annotation(tiny_settings: Settings) -> None:
    with Runtime(tiny_settings) as runtime:
        registry = TaskRegistry(data_dir=SHARED)
        cell = run_cell(runtime, registry, "human", "ii/larger_animal", 0, SMOKE)
    annotations = registry.load("ii/larger_animal").annotations
    assert cell.distinct == len(set(annotations)) and cell.mean_test_score is not None
    assert cell.best_instruction in annotations


def test_a_budget_in_tokens_stops_once_spent(tmp_path: Path, tiny_settings: Settings) -> None:
    """``--budget-unit tokens``: a method that proposes as it goes stops once the black-box tokens
    it asked for reach the budget, and the last instruction is what crossed it; one that plans
    in instructions up front (APE) says it cannot."""
    profile = SMOKE.with_overrides(budget=1500, budget_unit="tokens")
    with Runtime(tiny_settings.model_copy(update={"cache_dir": tmp_path / "cache"})) as runtime:
        cell = run_cell(runtime, TaskRegistry(), "uniform", "core/larger_animal", 0, profile)
        assert cell.result is not None and cell.blackbox_tokens is not None
        assert cell.blackbox_tokens >= 1500 and cell.distinct >= 2
        per = cell.blackbox_tokens / cell.distinct
        assert cell.blackbox_tokens < 1500 + 2 * per
        with pytest.raises(ConfigError, match="plans its instructions before it spends a token"):
            run_cell(runtime, TaskRegistry(), "ape", "core/larger_animal", 0, profile)
