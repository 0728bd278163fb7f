"""Anytime results: how good each method's answer is after k distinct instructions, not only at
the end of its budget (COCO's runtime distributions, HPOBench's and Bayesmark's curves).

A cell's curve (``CellResult.anytime``) is the test score of its incumbent after each distinct
instruction. Here the curves are put on the seed-level statistics' normalized scale (the same
0 and 1 per (task, seed) as the leaderboard, ``izbench.report.seeds``) and summarized:

- **Curves with bands**: per method and k, the IQM over runs (task x seed) with a 95% stratified
  bootstrap interval (runs resampled within each task, one set of draws shared by every k, so a
  band is a band of curves).
- **Area under the curve**: each run's mean normalized score over k = 1 .. K, compared between
  methods by the seed-level statistics (IQM and P(A > B) with intervals).
- **Runtime distribution**: the share of runs whose answer has reached a target after k
  instructions: the reference (normalized 1), and the best any run of the comparison found on
  that (task, seed) (or the pool's oracle) minus a tolerance.
- **Budget table**: the IQM with its interval read off the curves at chosen budgets, in distinct
  instructions and in proposals (the papers' evaluations, repeats included).

The same curves can be drawn against any budget unit (``AXES``): proposals, (instruction,
example) evaluations, black-box calls or tokens, each recorded per candidate. There a run's
curve is a step function of what it had spent (0, the empty instruction, before its first
answer), read on a grid of ``GRID`` points up to the most any run spent, so a method whose
instructions cost less is seen to answer sooner.

A curve read off one run at budget B stands for runs at smaller budgets only when the method's
first k proposals do not depend on B (``Method.budget_free``): for the others the table takes the
value at k = b from runs planned for b, and shows nothing where there are none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from izbench.report.seeds import (
    ANCHORS,
    BOOTSTRAP_SEED,
    REPS,
    Estimate,
    Normalized,
    SeedStatistics,
    normalize,
    seed_statistics,
)
from izbench.results import CellResult

BUDGETS = (8, 16, 32, 64, 150)
"""The budget table's columns (those within the comparison's largest budget)."""
CHUNK = 16
"""Curve points resampled at once (bounds the bootstrap's memory: REPS x runs x CHUNK)."""
TOLERANCE = 0.05
"""How close to the best found (normalized units) a run must get to count as reaching it."""
AXES = ("distinct", "proposals", "example-evals", "calls", "tokens")
"""The units an anytime curve can be drawn against (``--budget-unit``'s and the spend table's)."""
GRID = 64
"""Points of a curve drawn against a unit other than distinct instructions."""
_FIELDS = {"example-evals": "evals", "calls": "calls", "tokens": "tokens"}
"""Axis -> the candidate's field holding the cell's spend by then."""


def spend(cell: CellResult, axis: str) -> list[int] | None:
    """What ``cell`` had spent in ``axis`` at each point of its anytime curve (each distinct
    instruction), or None when its candidates did not record it (a pool has no tokens; a store
    written before izbench recorded them) or do not match its curve."""
    if axis == "distinct":
        return list(range(1, len(cell.anytime) + 1))
    if cell.result is None:
        return None
    new = [c for c in cell.result.candidates if c.new]
    values = [c.step + 1 if axis == "proposals" else getattr(c, _FIELDS[axis]) for c in new]
    if len(values) != len(cell.anytime) or any(v is None for v in values):
        return None
    return [int(v) for v in values]


def on_grid(curve: Sequence[float], spent: Sequence[int], grid: Sequence[float]) -> list[float]:
    """A step curve read at each grid point: the answer after the last point spent by then,
    0 (the empty instruction, normalized) before the first."""
    out, i = [], 0
    for g in grid:
        while i < len(spent) and spent[i] <= g:
            i += 1
        out.append(curve[i - 1] if i else 0.0)
    return out


def budget_free(method: str, on_pool: bool) -> bool:
    """Whether a run's first k proposals are those of a run planned for k (so one run at the
    largest budget gives the whole curve): the method's own declaration, live or on a pool (where
    the points are fixed, so most methods are: measured, docs/anytime.md)."""
    from izbench.errors import ConfigError
    from izbench.methods import get_method

    try:
        found = get_method(method)
        return found.pool_budget_free if on_pool else found.budget_free
    except ConfigError:  # a method this checkout no longer has: take nothing on trust
        return False


def has_curve(method: str) -> bool:
    """Whether the method's recorded candidates are answers over time (``Method.anytime``)."""
    from izbench.errors import ConfigError
    from izbench.methods import get_method

    try:
        return get_method(method).anytime
    except ConfigError:  # a method this checkout no longer has: its stored curve stands
        return True


def padded(curve: Sequence[float], length: int) -> list[float]:
    """A curve carried to ``length`` points: a run that stopped proposing keeps its answer."""
    return [*curve, *([curve[-1]] * (length - len(curve)))]


@dataclass
class Anytime:
    """A comparison's anytime results on the normalized scale."""

    methods: list[str]
    tasks: list[str]
    seeds: list[int]
    length: int
    """K: the longest curve (distinct instructions), every curve carried to it."""
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    """Method -> (seeds, tasks, K) normalized curves."""
    iqm: dict[str, list[Estimate]] = field(default_factory=dict)
    """Method -> IQM with its interval at k = 1 .. K."""
    area: SeedStatistics | None = None
    """The seed-level statistics of each run's area under its curve."""
    reached: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    """Target name -> method -> share of runs at or above it after k = 1 .. K."""
    budgets: dict[str, dict[int, Estimate | None]] = field(default_factory=dict)
    """Method -> budget -> IQM at that budget (None: no run answers for it)."""
    free: dict[str, bool] = field(default_factory=dict)
    """Method -> whether one run's curve stands for every smaller budget."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Method -> why it has no curve."""
    axis: str = "distinct"
    """The unit on the x axis (``AXES``)."""
    grid: list[float] = field(default_factory=list)
    """The x value of each curve point (k = 1 .. K for distinct instructions)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "axis": self.axis,
            "grid": self.grid,
            "methods": self.methods,
            "tasks": self.tasks,
            "seeds": self.seeds,
            "length": self.length,
            "iqm": {m: [e.as_dict() for e in v] for m, v in self.iqm.items()},
            "area": None if self.area is None else self.area.as_dict(),
            "reached": self.reached,
            "budgets": {
                m: {str(b): None if e is None else e.as_dict() for b, e in by.items()} for m, by in self.budgets.items()
            },
            "budget_free": self.free,
            "skipped": self.skipped,
        }


def anytime(
    cells: Iterable[CellResult],
    oracle: dict[str, float] | None = None,
    budgets: Sequence[int] = BUDGETS,
    axis: str = "distinct",
) -> Anytime | None:
    """The anytime results of ``cells`` (any budgets; anchors included) against ``axis``, or
    None when no method has curves. ``oracle``: task -> the best test score its domain holds
    (given for cells on a pool, which also makes every method budget-free). The budget table is
    read in distinct instructions only."""
    cells = list(cells)
    largest: dict[tuple[str, str, int], CellResult] = {}
    for c in cells:
        key = (c.method, c.task, c.seed)
        if c.method in ANCHORS or key not in largest or c.budget > largest[key].budget:
            largest[key] = c
    normalized = normalize(largest.values())
    if not normalized.tasks or not normalized.seeds:
        return None
    out = Anytime([], normalized.tasks, normalized.seeds, 0)
    for method in normalized.methods:
        runs = [largest.get((method, t, s)) for s in normalized.seeds for t in normalized.tasks]
        if not has_curve(method):
            out.skipped[method] = "its answer exists only once its budget is spent (best-arm identification)"
            continue
        if any(r is None or not r.anytime for r in runs):
            out.skipped[method] = "some runs have no anytime curve (a live cell run without --anytime)"
            continue
        if any(r is None or spend(r, axis) is None for r in runs):
            out.skipped[method] = (
                f"some runs did not record their {axis} per candidate (a pool's lookups carry no tokens; "
                "a store before schema 8 kept no evaluations or tokens per candidate)"
            )
            continue
        out.methods.append(method)
        out.free[method] = budget_free(method, on_pool=oracle is not None)
    if not out.methods:
        return None
    out.axis = axis
    if axis == "distinct":
        out.length = max(len(largest[(m, t, s)].anytime) for m in out.methods for t in out.tasks for s in out.seeds)
        out.grid = [float(k) for k in range(1, out.length + 1)]
    else:
        top = max(
            (spend(largest[(m, t, s)], axis) or [0])[-1] for m in out.methods for t in out.tasks for s in out.seeds
        )
        if top <= 0:
            return None
        out.length = GRID
        out.grid = [top * (j + 1) / GRID for j in range(GRID)]
    for method in out.methods:
        out.curves[method] = np.array(
            [[_curve(largest[(method, t, s)], normalized, out) for t in out.tasks] for s in out.seeds]
        )
    _bands(out)
    _area(out)
    _reached(out, normalized, oracle)
    if axis in ("distinct", "proposals"):
        _budget_table(out, cells, largest, normalized, budgets)
    return out


def by_unit(cells: Iterable[CellResult], oracle: dict[str, float] | None = None) -> dict[str, Anytime]:
    """The anytime results against every unit but distinct instructions, where some method's
    runs recorded it (a pool's cells have no tokens)."""
    cells = list(cells)
    drawn = {axis: anytime(cells, oracle, axis=axis) for axis in AXES[1:]}
    return {axis: out for axis, out in drawn.items() if out is not None}


def _curve(cell: CellResult, normalized: Normalized, out: Anytime) -> list[float]:
    """``cell``'s normalized curve on ``out``'s x axis."""
    curve = _normal(normalized, cell.task, cell.seed, list(cell.anytime))
    if out.axis == "distinct":
        return padded(curve, out.length)
    spent = spend(cell, out.axis)
    assert spent is not None  # runs without it were skipped
    return on_grid(curve, spent, out.grid)


def _normal(normalized: Normalized, task: str, seed: int, curve: list[float]) -> list[float]:
    zero, one = normalized.zero_one[(task, seed)]
    return [(x - zero) / (one - zero) for x in curve]


def _iqm(values: np.ndarray) -> np.ndarray:
    """The interquartile mean over the last axis (rliable's: scipy's trim_mean, 25% each end)."""
    from scipy.stats import trim_mean

    return np.asarray(trim_mean(values, 0.25, axis=-1))


def _draws(seeds: int, tasks: int) -> np.ndarray:
    """(REPS, seeds, tasks) run indices: each task's runs resampled within it, seeded; with one
    seed the tasks are resampled instead (seed-to-seed variance is then unmeasured)."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    if seeds > 1:
        return rng.integers(0, seeds, size=(REPS, seeds, tasks))
    return rng.integers(0, tasks, size=(REPS, 1, tasks))


def _bands(out: Anytime) -> None:
    seeds, tasks = len(out.seeds), len(out.tasks)
    draws = _draws(seeds, tasks)
    for method in out.methods:
        curves = out.curves[method]  # (seeds, tasks, K)
        point = _iqm(curves.reshape(seeds * tasks, -1).T)
        reps = np.concatenate(
            [_iqm(_resampled(curves[:, :, k : k + CHUNK], draws)) for k in range(0, out.length, CHUNK)], axis=-1
        )  # (REPS, K)
        low, high = np.quantile(reps, 0.025, axis=0), np.quantile(reps, 0.975, axis=0)
        out.iqm[method] = [Estimate(float(p), float(lo), float(hi)) for p, lo, hi in zip(point, low, high, strict=True)]


def _resampled(curves: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """(REPS, k, runs) resamples of (seeds, tasks, k) curves under ``_draws``."""
    seeds, tasks = curves.shape[:2]
    # (REPS, seeds, tasks, k): runs resampled within each task, or (one seed) the tasks.
    out = curves[draws, np.arange(tasks)[None, None, :]] if seeds > 1 else curves[0][draws[:, 0, :]][:, None]
    return np.asarray(out.reshape(REPS, seeds * tasks, -1).transpose(0, 2, 1))


def _area(out: Anytime) -> None:
    areas = Normalized(
        list(out.methods), list(out.tasks), list(out.seeds), {m: out.curves[m].mean(axis=-1) for m in out.methods}
    )
    out.area = seed_statistics(areas)


def _reached(out: Anytime, normalized: Normalized, oracle: dict[str, float] | None) -> None:
    best = np.max(np.stack([out.curves[m][:, :, -1] for m in out.methods]), axis=0)  # (seeds, tasks)
    if oracle:
        for j, task in enumerate(out.tasks):
            if task in oracle:
                for i, seed in enumerate(out.seeds):
                    zero, one = normalized.zero_one[(task, seed)]
                    best[i, j] = (oracle[task] - zero) / (one - zero)
    label = "oracle" if oracle else "best found"
    targets = {"reference": np.ones_like(best), f"{label} - {TOLERANCE:g}": best - TOLERANCE}
    for name, target in targets.items():
        out.reached[name] = {
            m: [float(x) for x in (out.curves[m] >= target[:, :, None]).mean(axis=(0, 1))] for m in out.methods
        }


def _budget_table(
    out: Anytime,
    cells: list[CellResult],
    largest: dict[tuple[str, str, int], CellResult],
    normalized: Normalized,
    budgets: Sequence[int],
) -> None:
    """The IQM [95%] at each budget: after b distinct instructions, or (``out.axis`` proposals,
    the papers' evaluations, repeats included) after b proposals."""
    limit = out.length if out.axis == "distinct" else int(out.grid[-1])
    shown = [b for b in budgets if b <= limit] or [limit]
    for method in out.methods:
        row: dict[int, Estimate | None] = {}
        for b in shown:
            if out.free[method] and out.axis == "distinct":
                row[b] = out.iqm[method][b - 1]
                continue
            if out.free[method]:  # each run's incumbent once it had made b proposals
                at_b = [[_at(largest[(method, t, s)], normalized, b) for t in out.tasks] for s in out.seeds]
                row[b] = _iqm_interval(np.array(at_b))
                continue
            # A run planned for b answers with its own test score (its curve need not be stored);
            # in proposals, a run planned for b that made exactly b.
            planned = {
                (c.task, c.seed): c.test_score
                for c in cells
                if c.method == method and c.budget == b and (out.axis == "distinct" or c.proposals == b)
            }
            if all((t, s) in planned for t in out.tasks for s in out.seeds):
                final = np.array(
                    [[_normal(normalized, t, s, [planned[(t, s)]])[0] for t in out.tasks] for s in out.seeds]
                )
                row[b] = _iqm_interval(final)
            else:
                row[b] = None
        out.budgets[method] = row


def _at(cell: CellResult, normalized: Normalized, spent_by: int) -> float:
    """``cell``'s normalized answer once it had made ``spent_by`` proposals."""
    spent = spend(cell, "proposals")
    assert spent is not None  # runs without it were skipped
    return on_grid(_normal(normalized, cell.task, cell.seed, list(cell.anytime)), spent, [spent_by])[0]


def _iqm_interval(scores: np.ndarray) -> Estimate:
    """The IQM of a (seeds, tasks) matrix with its stratified-bootstrap interval."""
    reps = _iqm(_resampled(scores[:, :, None], _draws(*scores.shape)))[:, 0]
    return Estimate(float(_iqm(scores.reshape(-1))), float(np.quantile(reps, 0.025)), float(np.quantile(reps, 0.975)))
