"""Regression check: the store's cells against a saved ``results.json``.

A cell regresses when its validation or test score, or the black-box calls it spent, moved by
more than the tolerance (exact by default: a replayed run must reproduce every metric) or when
it is missing from the store. Cells
are matched by (method, task, seed, config hash), so a cell is never checked against one run
under another score function, protocol, profile or model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from izbench.errors import ConfigError
from izbench.results import CellResult


@dataclass(frozen=True)
class Moved:
    cell: CellKey
    metric: str
    baseline: float | None
    current: float | None

    @property
    def regression(self) -> bool:
        if self.current is None or self.baseline is None:
            return True
        # Spending more calls for the same candidates is the regression; scores must not drop.
        return self.current > self.baseline if self.metric in COSTS else self.current < self.baseline


COSTS = frozenset({"blackbox_calls"})
"""Metrics where lower is better."""

CellKey = tuple[str, str, int, str]
"""(method, task, seed, config hash): a cell is only ever compared with one of equal config."""


def load_baseline(path: Path) -> dict[CellKey, dict[str, Any]]:
    try:
        cells = json.loads(path.read_text())["cells"]
        # Baselines written before the hash had one name keep it under "config_hash".
        return {(c["method"], c["task"], int(c["seed"]), c.get("comparison_hash") or c["config_hash"]): c
                for c in cells}  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{path} is not an izbench results.json ({error}); write one with `izbench report`") from None


def compare(baseline: dict[CellKey, dict[str, Any]], cells: list[CellResult], tolerance: float = 0.0) -> list[Moved]:
    """Every metric of every baseline cell that moved by more than ``tolerance``; a baseline cell
    with no cell of the same configuration in the store counts as missing."""
    current = {(c.method, c.task, c.seed, c.comparison_hash): c for c in cells}
    moved = []
    for key, base in sorted(baseline.items()):
        cell = current.get(key)
        # Calls are checked where the baseline recorded them (older baselines did not).
        metrics = ("val_score", "test_score", "blackbox_calls") if base.get("blackbox_calls") is not None else (
            "val_score",
            "test_score",
        )
        for metric in metrics:
            value = None if cell is None else getattr(cell, metric)
            now = None if value is None else float(value)
            then = base.get(metric)
            if now is None or then is None or abs(now - float(then)) > tolerance:
                moved.append(Moved(key, metric, then, now))
    return moved
