"""The README's front door holds: its worked method runs as written, and it stays short."""

from __future__ import annotations

import re
import types
from pathlib import Path

from izbench.methods.base import METHODS
from izbench.profiles import get_profile
from izbench.runner import run_cell
from izbench.runtime import Runtime
from izbench.settings import Settings
from izbench.tasks.registry import TaskRegistry

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_is_a_front_door() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 250
    assert not re.search(r"\bissue \d+|\bstop \d+", text)  # no tracker history
    for linked in re.findall(r"\]\((docs/[^)]+)\)", text):
        assert (README.parent / linked).is_file(), linked


def test_the_worked_method_runs_within_budget_and_replays(tiny_settings: Settings) -> None:
    (source,) = [
        block for block in re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if "register(" in block
    ]
    module = types.ModuleType("greedy_demos")
    try:
        exec(compile(source, "README.md", "exec"), module.__dict__)  # registers greedy-demos
        smoke = get_profile("smoke")
        with Runtime(tiny_settings) as runtime:
            cell = run_cell(runtime, TaskRegistry(), "greedy-demos", "sum", 0, smoke)
            made = runtime.stats.made
        assert cell.result is not None and 1 <= cell.distinct <= smoke.budget and made > 0
        assert len(cell.test_scores) == smoke.n_test
        with Runtime(tiny_settings.model_copy(update={"cache_mode": "replay"})) as runtime:
            again = run_cell(runtime, TaskRegistry(), "greedy-demos", "sum", 0, smoke)
            assert runtime.stats.made == 0
        assert again.result is not None and again.result.candidates == cell.result.candidates
    finally:
        METHODS.pop("greedy-demos", None)
