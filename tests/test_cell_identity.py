"""A cell's identity holds its task's spec and data and its method's code version."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from izbench.identity import cell_key, comparison_hash
from izbench.methods import get_method
from izbench.profiles import get_profile
from izbench.runtime import Runtime
from izbench.settings import Settings
from izbench.tasks.registry import DEFAULT_TASKS_DIR, TaskRegistry


def _tasks(tmp: Path, edit: str = "") -> TaskRegistry:
    root = tmp / "tasks"
    (root / "core").mkdir(parents=True)
    shutil.copytree(DEFAULT_TASKS_DIR / "tables", root / "tables")
    text = (DEFAULT_TASKS_DIR / "core" / "sum.yaml").read_text()
    (root / "core" / "sum.yaml").write_text(text.replace("execute_size: 100", edit) if edit else text)
    return TaskRegistry(root)


def test_a_changed_task_or_method_is_a_new_cell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profile = get_profile("smoke")
    with Runtime(Settings(cache_dir=tmp_path / "c", store=tmp_path / "s.duckdb")) as runtime:
        same = [cell_key(runtime, _tasks(tmp_path / d), "empty", "sum", 0, profile) for d in ("a", "b")]
        data = cell_key(runtime, _tasks(tmp_path / "c", "execute_size: 90"), "empty", "sum", 0, profile)
        spec = cell_key(
            runtime, _tasks(tmp_path / "d", "execute_size: 100\ndescription: edited"), "empty", "sum", 0, profile
        )
        monkeypatch.setattr(type(get_method("empty")), "version", 2)
        method = cell_key(runtime, _tasks(tmp_path / "e"), "empty", "sum", 0, profile)
    assert same[0].run_id == same[1].run_id
    assert len({same[0].run_id, data.run_id, spec.run_id, method.run_id}) == 4
    # ... while they all still belong in one leaderboard (same configuration to compare under).
    assert len({comparison_hash(k.config) for k in (same[0], data, method)}) == 1
