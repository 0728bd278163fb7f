"""Seed-level statistics: a run (task, seed), not a test example, is the unit of evidence.

Within a task every test example is scored with the one instruction a run found, so what decides
a ranking is which instruction each run finds, and only other seeds resample that. Following
rliable (Agarwal et al., NeurIPS 2021) and the HPO benchmarks:

- **Normalized score** per (task, seed, method) on test:
  ``(score - empty) / (reference - empty)`` with ``empty`` and ``reference`` the empty
  instruction's and the task's reference instruction's test scores on the same split (0 and 1
  of the scale). A task without a reference takes the best test score any instruction reached
  on that split in the comparison as its 1. A task where the reference does not clearly beat
  the empty instruction (its paired interval over the test examples reaches zero, or the stored
  signal check says the set-up does not measure instructions there) would divide by almost
  nothing: it is left out of the aggregates, and listed with the reason.
- **Aggregates** over runs x tasks (mean, median, interquartile mean, optimality gap) with 95%
  percentile intervals from a stratified bootstrap: runs are resampled within each task
  (``rliable``, seeded). With one seed per task, seed-to-seed variance is unmeasured: the
  intervals then resample tasks only, and say so.
- **Probability of improvement** ``P(X > Y) = 1/T sum_t P(X_t > Y_t)``, each term the
  Mann-Whitney statistic over the two methods' runs on task ``t`` (ties count half), with its
  stratified-bootstrap interval.
- **Average ranks** over blocks (task, seed), the Friedman test, and Nemenyi's critical
  difference ``CD = q_alpha sqrt(k (k + 1) / (6 N))`` (Demsar 2006), whose groups are the
  methods no further apart than CD.
- **Seeds needed** for a pair to resolve its observed difference ``d`` (80% power, two-sided
  alpha 0.05): ``n = (z_0.975 + z_0.8)^2 sum_t s_t^2 / (T^2 d^2)``, with ``s_t^2`` the
  between-seed variance of the paired difference on task ``t``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from izbench.results import CellResult

ANCHORS = ("empty", "human")
"""The cells a normalized score is measured against: 0 and 1 of its scale."""
REPS = 2000
"""Bootstrap resamples per interval."""
BOOTSTRAP_SEED = 0
ALPHA = 0.05
POWER = 0.8
AGGREGATES = ("IQM", "mean", "median", "optimality gap")
"""In the order a report shows them (IQM first: robust to outlier runs, efficient with few)."""


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% interval."""

    value: float
    low: float
    high: float

    def text(self, digits: int = 3) -> str:
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}


@dataclass
class Normalized:
    """Normalized test scores of a comparison, as complete runs x tasks matrices."""

    methods: list[str]
    tasks: list[str]
    seeds: list[int]
    scores: dict[str, np.ndarray]
    """Method -> (seeds, tasks) normalized scores (anchors excluded: they are 0 and 1)."""
    anchor: dict[str, str] = field(default_factory=dict)
    """Task -> what its 1 is: "reference", or "best in comparison" for a task without one."""
    left_out: dict[str, str] = field(default_factory=dict)
    """Task -> why it is not in the aggregates."""
    missing: list[tuple[str, str, int]] = field(default_factory=list)
    """(method, task, seed) cells the grid lacks (such seeds are left out of every aggregate)."""
    per_cell: dict[tuple[str, str, int], float] = field(default_factory=dict)
    """(method, task, seed) -> normalized score, for every cell that has one."""
    zero_one: dict[tuple[str, int], tuple[float, float]] = field(default_factory=dict)
    """(task, seed) -> the raw test scores that are 0 and 1 of its scale (aggregated tasks only)."""

    @property
    def single_seed(self) -> bool:
        return len(self.seeds) < 2


def _paired_gap(reference: Sequence[float], empty: Sequence[float]) -> Estimate:
    """Mean of reference - empty over test examples, with a seeded bootstrap interval."""
    diffs = np.asarray(reference, dtype=float) - np.asarray(empty, dtype=float)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    means = diffs[rng.integers(0, len(diffs), size=(REPS, len(diffs)))].mean(axis=1)
    return Estimate(float(diffs.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975)))


def normalize(cells: Iterable[CellResult], verdicts: dict[str, bool] | None = None) -> Normalized:
    """The comparison's cells on the normalized scale, and the tasks and seeds that can be
    aggregated (``verdicts``: the stored signal check per task for the same set-up)."""
    by_cell = {(c.method, c.task, c.seed): c for c in cells}
    methods = sorted({m for m, _, _ in by_cell} - set(ANCHORS))
    tasks = sorted({t for _, t, _ in by_cell})
    seeds = sorted({s for _, _, s in by_cell})
    out = Normalized(methods, [], [], {})
    zero_one: dict[tuple[str, int], tuple[float, float]] = {}
    for task in tasks:
        here = [s for s in seeds if ("empty", task, s) in by_cell]
        if (verdicts or {}).get(task) is False:
            out.left_out[task] = "the signal check found this set-up does not measure instructions here"
            continue
        if not here:
            out.left_out[task] = "no empty-instruction cell (the 0 of the scale); rerun compare"
            continue
        reference = all(("human", task, s) in by_cell for s in here)
        out.anchor[task] = "reference" if reference else "best in comparison"
        for seed in here:
            zero = by_cell[("empty", task, seed)].test_score
            if reference:
                one = by_cell[("human", task, seed)].test_score
            else:
                one = max(c.test_score for (_, t, s), c in by_cell.items() if t == task and s == seed)
            zero_one[(task, seed)] = (zero, one)
        if reference:
            gap = _paired_gap(
                [x for s in here for x in by_cell[("human", task, s)].test_scores],
                [x for s in here for x in by_cell[("empty", task, s)].test_scores],
            )
            if gap.low <= 0 or any(one <= zero for (t, _), (zero, one) in zero_one.items() if t == task):
                out.left_out[task] = (
                    f"the reference does not clearly beat the empty instruction (reference - empty {gap.text(2)} "
                    "over test examples), so a normalized score would divide by almost nothing"
                )
        elif any(one <= zero for (t, _), (zero, one) in zero_one.items() if t == task):
            out.left_out[task] = "no instruction beats the empty one on some seed (nothing to normalize by)"
    for (method, task, seed), c in by_cell.items():
        if (task, seed) in zero_one and task not in out.left_out:
            zero, one = zero_one[(task, seed)]
            out.per_cell[(method, task, seed)] = (c.test_score - zero) / (one - zero)
    out.tasks = [t for t in tasks if t not in out.left_out]
    out.zero_one = {k: v for k, v in zero_one.items() if k[0] in out.tasks}
    needed = [*methods, *(a for a in ANCHORS if any((a, t, s) in by_cell for t in out.tasks for s in seeds))]
    out.missing = [(m, t, s) for t in out.tasks for s in seeds for m in needed if (m, t, s) not in by_cell]
    gaps = {s for _, _, s in out.missing}
    out.seeds = [s for s in seeds if s not in gaps]
    out.scores = {
        m: np.array([[out.per_cell[(m, t, s)] for t in out.tasks] for s in out.seeds], dtype=float).reshape(
            len(out.seeds), len(out.tasks)
        )
        for m in methods
    }
    return out


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``P(X > Y)`` of two (runs, tasks) score matrices: per task, the share of run pairs in
    which X's run beats Y's (ties half), averaged over tasks."""
    greater = (x[:, None, :] > y[None, :, :]).mean(axis=(0, 1))
    ties = (x[:, None, :] == y[None, :, :]).mean(axis=(0, 1))
    return np.array([float(np.mean(greater + 0.5 * ties))])


def _aggregate(scores: np.ndarray) -> np.ndarray:
    from rliable import metrics

    return np.array(
        [
            metrics.aggregate_iqm(scores),
            metrics.aggregate_mean(scores),
            metrics.aggregate_median(scores),
            metrics.aggregate_optimality_gap(scores),
        ]
    )


def _seeded_bootstraps() -> tuple[type, type]:
    """rliable's stratified bootstraps, drawing their indices from their own seeded generator
    (rliable 1.2 draws them from numpy's global one, whatever generator it is given); the
    independent one also resamples tasks, jointly for both methods, when asked."""
    from rliable.library import StratifiedBootstrap, StratifiedIndependentBootstrap

    class Stratified(StratifiedBootstrap):  # type: ignore[misc]
        def update_indices(self) -> tuple[np.ndarray, ...]:
            runs = self.generator.choice(self._num_items, self._args_shape, replace=True)
            if self._task_bootstrap:
                tasks = self.generator.choice(self._num_tasks, self._strata_indices[0].shape, replace=True)
                return (runs, tasks, *self._strata_indices[1:])
            return (runs, *self._strata_indices)

    class Independent(StratifiedIndependentBootstrap):  # type: ignore[misc]
        task_bootstrap = False

        def update_indices(self) -> tuple[list[tuple[np.ndarray, ...]], dict[str, Any]]:
            tasks = None
            if self.task_bootstrap:
                width = self._args_shapes[0][1]
                tasks = self.generator.choice(width, (1, width), replace=True)
            indices = []
            arrays = zip(self._args_shapes, self._num_arg_items, self._args_strata_indices, strict=True)
            for shape, items, strata in arrays:
                runs = self.generator.choice(items, shape, replace=True)
                indices.append((runs, strata[0] if tasks is None else tasks, *strata[1:]))
            return indices, {}

    return Stratified, Independent


def intervals(
    scores: dict[str, Any], func: Callable[..., np.ndarray], task_bootstrap: bool
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Point estimates and 95% percentile intervals of ``func`` for each entry of ``scores`` (an
    array, or a tuple of arrays resampled independently), every draw from a generator seeded
    with ``BOOTSTRAP_SEED``."""
    stratified, independent = _seeded_bootstraps()
    point, interval = {}, {}
    for key, value in scores.items():
        seed = np.random.default_rng(BOOTSTRAP_SEED)
        if isinstance(value, np.ndarray):
            bootstrap = stratified(value, task_bootstrap=task_bootstrap, seed=seed)
            point[key] = func(value)
        else:
            bootstrap = independent(*value, seed=seed)
            bootstrap.task_bootstrap = task_bootstrap
            point[key] = func(*value)
        interval[key] = bootstrap.conf_int(func, reps=REPS, size=0.95, method="percentile")
    return point, interval


@dataclass
class SeedStatistics:
    """Everything the headline of a report rests on."""

    normalized: Normalized
    aggregates: dict[str, dict[str, Estimate]] = field(default_factory=dict)
    """Method -> aggregate name -> estimate."""
    improvement: dict[tuple[str, str], Estimate] = field(default_factory=dict)
    """(A, B) -> P(A > B)."""
    ranks: dict[str, float] = field(default_factory=dict)
    friedman: tuple[float, float] | None = None
    """(chi-squared, p) over the blocks, with three methods or more."""
    critical_difference: float | None = None
    groups: list[list[str]] = field(default_factory=list)
    """Methods whose average ranks lie within the critical difference of each other."""
    seeds_needed: dict[tuple[str, str], int | None] = field(default_factory=dict)
    """(A, B) -> seeds per task to resolve A - B (None: unmeasured with one seed, or no difference)."""

    @property
    def blocks(self) -> int:
        n = self.normalized
        return len(n.tasks) * len(n.seeds)

    def as_dict(self) -> dict[str, Any]:
        n = self.normalized
        return {
            "methods": n.methods,
            "tasks": n.tasks,
            "seeds": n.seeds,
            "single_seed": n.single_seed,
            "anchors": n.anchor,
            "left_out": n.left_out,
            "missing": [list(c) for c in n.missing],
            "aggregates": {m: {a: e.as_dict() for a, e in by.items()} for m, by in self.aggregates.items()},
            "probability_of_improvement": [{"a": a, "b": b, **e.as_dict()} for (a, b), e in self.improvement.items()],
            "average_ranks": self.ranks,
            "friedman": None if self.friedman is None else {"chi2": self.friedman[0], "p": self.friedman[1]},
            "critical_difference": self.critical_difference,
            "groups": self.groups,
            "seeds_needed": [{"a": a, "b": b, "seeds": k} for (a, b), k in self.seeds_needed.items()],
        }


def seed_statistics(normalized: Normalized) -> SeedStatistics:
    """Aggregates, probabilities of improvement, ranks and seeds needed of a normalized comparison."""
    out = SeedStatistics(normalized)
    n = normalized
    if not n.methods or not n.tasks or not n.seeds:
        return out
    point, interval = intervals(n.scores, _aggregate, task_bootstrap=n.single_seed)
    for m in n.methods:
        out.aggregates[m] = {
            name: Estimate(float(point[m][k]), float(interval[m][0][k]), float(interval[m][1][k]))
            for k, name in enumerate(AGGREGATES)
        }
    order = sorted(n.methods, key=lambda m: -out.aggregates[m]["IQM"].value)
    pairs = [(a, b) for i, a in enumerate(order) for b in order[i + 1 :]]
    if pairs:
        point, interval = intervals(
            {f"{a},{b}": (n.scores[a], n.scores[b]) for a, b in pairs}, probability_of_improvement, n.single_seed
        )
        for a, b in pairs:
            key = f"{a},{b}"
            low, high = float(interval[key][0][0]), float(interval[key][1][0])
            out.improvement[(a, b)] = Estimate(float(point[key][0]), low, high)
            out.seeds_needed[(a, b)] = seeds_needed(n.scores[a] - n.scores[b])
    _rank(out, order)
    return out


def seeds_needed(differences: np.ndarray, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Seeds per task for a (seeds, tasks) matrix of paired differences to resolve its mean
    (two-sided test of the mean over tasks and seeds at ``alpha`` with ``power``), from the
    between-seed variance on each task; None with one seed (unmeasured) or a zero difference.
    At least 2: one seed cannot measure the variance the answer rests on."""
    from scipy.stats import norm

    seeds, tasks = differences.shape
    mean = float(differences.mean())
    if seeds < 2 or mean == 0.0:
        return None
    variance = float(differences.var(axis=0, ddof=1).sum()) / tasks**2
    z = float(norm.ppf(1 - alpha / 2) + norm.ppf(power))
    return max(2, int(math.ceil(z * z * variance / mean**2)))


def _rank(out: SeedStatistics, order: list[str]) -> None:
    """Average ranks over (task, seed) blocks, Friedman's test and Nemenyi's critical difference."""
    from scipy.stats import friedmanchisquare, rankdata, studentized_range

    n = out.normalized
    blocks = np.stack([n.scores[m].reshape(-1) for m in order], axis=1)  # (blocks, methods)
    ranks = np.apply_along_axis(lambda row: rankdata(-row), 1, blocks)
    out.ranks = {m: float(ranks[:, k].mean()) for k, m in enumerate(order)}
    k, blocks_n = len(order), blocks.shape[0]
    if k < 3 or blocks_n < 2:
        return
    if np.ptp(blocks, axis=1).max() > 0:
        statistic, p = friedmanchisquare(*(blocks[:, j] for j in range(k)))
        out.friedman = (float(statistic), float(p))
    q = float(studentized_range.ppf(1 - ALPHA, k, np.inf)) / math.sqrt(2)
    out.critical_difference = q * math.sqrt(k * (k + 1) / (6 * blocks_n))
    by_rank = sorted(order, key=lambda m: out.ranks[m])
    groups: list[list[str]] = []
    for i, first in enumerate(by_rank):
        group = [m for m in by_rank[i:] if out.ranks[m] - out.ranks[first] <= out.critical_difference]
        if len(group) > 1 and not any(set(group) <= set(g) for g in groups):
            groups.append(group)
    out.groups = groups


def fill_command(normalized: Normalized, statistics_: SeedStatistics, tasks: str) -> str | None:
    """The compare line that runs the seeds the least resolved pair needs (None: nothing to add)."""
    wanted = [k for k in statistics_.seeds_needed.values() if k is not None]
    have = len(normalized.seeds)
    if not wanted or max(wanted) <= have:
        return None
    top = max(wanted)
    methods = ",".join(normalized.methods)
    return f"izbench compare --tasks {tasks} --methods {methods} --seeds 0-{top - 1}"
