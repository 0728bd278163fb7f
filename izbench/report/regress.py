"""Regression checks: the store's cells against a saved ``results.json``.

Two checks. **Exact** (``compare``): a replay must reproduce every metric of every cell.
**Statistical** (``statistical``): after a change that legitimately alters a method's proposals,
each method's seed-level standing is compared with its baseline's (``Drift``).

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

import numpy as np

from izbench.errors import ConfigError
from izbench.report.aggregate import Section
from izbench.report.seeds import Estimate, intervals, probability_of_improvement
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
        metrics = ("val_score", "test_score") + (("blackbox_calls",) if base.get("blackbox_calls") is not None else ())
        for metric in metrics:
            value = None if cell is None else getattr(cell, metric)
            now = None if value is None else float(value)
            then = base.get(metric)
            if now is None or then is None or abs(now - float(then)) > tolerance:
                moved.append(Moved(key, metric, then, now))
    return moved


@dataclass(frozen=True)
class Drift:
    """A method's seed-level standing now against its baseline, under one configuration.

    A regression: its IQM fell below the baseline's 95% interval, or the probability that one
    of its runs beats one of its baseline's runs is below 0.5 with the interval excluding 0.5.
    This is the check for a change that legitimately alters what a method proposes, where the
    exact check (a replay moves nothing) cannot apply.
    """

    method: str
    comparison_hash: str
    baseline: Estimate
    """The baseline's IQM of the normalized score, with its interval."""
    current: float
    """The IQM now, on the same tasks."""
    improvement: Estimate
    """P(a run now beats a baseline run)."""
    area_baseline: Estimate | None = None
    """The baseline's IQM of the area under the anytime curve (None: it had no curves)."""
    area_current: float | None = None
    """That IQM now."""

    @property
    def area_fell(self) -> bool:
        """The area under the anytime curve fell below the baseline's interval: the method got
        slower to its answer even where its answer held."""
        return (
            self.area_baseline is not None
            and self.area_current is not None
            and (self.area_current < self.area_baseline.low)
        )

    @property
    def regression(self) -> bool:
        return self.current < self.baseline.low or self.improvement.high < 0.5 or self.area_fell

    @property
    def improved(self) -> bool:
        return self.current > self.baseline.high or self.improvement.low > 0.5


def _runs(cells: list[dict[str, Any]], method: str, tasks: list[str], seeds: list[int]) -> np.ndarray:
    """A method's (seeds, tasks) normalized scores from results.json records."""
    by_cell = {(c["method"], c["task"], int(c["seed"])): c.get("normalized") for c in cells}
    values = [[by_cell.get((method, t, s)) for t in tasks] for s in seeds]
    if any(v is None for row in values for v in row):
        return np.empty((0, len(tasks)))
    return np.array(values, dtype=float)


def statistical(baseline: dict[str, Any], sections: list[Section]) -> list[Drift]:
    """Every method of every configuration the baseline and the store share, as a ``Drift``."""
    from rliable import metrics

    by_hash = {s["comparison_hash"]: s for s in baseline.get("sections", [])}
    drifts = []
    for part in sections:
        base = by_hash.get(part.comparison_hash)
        if base is None:
            continue
        now = part.stats.normalized
        tasks = [t for t in base["tasks"] if t in now.tasks]
        for method in sorted(set(base["aggregates"]) & set(now.scores)):
            then = _runs(baseline["cells"], method, tasks, base["seeds"])
            current = now.scores[method][:, [now.tasks.index(t) for t in tasks]]
            if not len(then) or not len(current) or not tasks:
                continue
            point, interval = intervals(
                {"now": (current, then)}, probability_of_improvement, task_bootstrap=min(len(then), len(current)) < 2
            )
            iqm = base["aggregates"][method]["IQM"]
            drifts.append(
                Drift(
                    method,
                    part.comparison_hash,
                    Estimate(iqm["value"], iqm["low"], iqm["high"]),
                    float(metrics.aggregate_iqm(current)),
                    Estimate(float(point["now"][0]), float(interval["now"][0][0]), float(interval["now"][1][0])),
                    *_areas(base, part, method),
                )
            )
    return drifts


def _areas(base: dict[str, Any], part: Section, method: str) -> tuple[Estimate | None, float | None]:
    """The baseline's area IQM (with its interval) and the area IQM now, where both have curves
    of the same length (a curve of another length is another budget, not a drift)."""
    then = (base.get("anytime") or {}).get("area") or {}
    now = part.anytime
    if method not in then.get("aggregates", {}) or now is None or now.area is None or method not in now.area.aggregates:
        return None, None
    if base["anytime"].get("length") != now.length:
        return None, None
    iqm = then["aggregates"][method]["IQM"]
    return Estimate(iqm["value"], iqm["low"], iqm["high"]), now.area.aggregates[method]["IQM"].value
