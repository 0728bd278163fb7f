"""From stored runs to a leaderboard: means with 95% intervals, ranks, wins, paired tests.

- Per (task, method): mean test score over seeds, with a Student-t 95% interval (none for
  a single seed).
- Rank: per task, methods ranked by mean test score (ties share the average rank); the
  leaderboard orders methods by average score, then average rank.
- Paired comparison of two methods uses only what both ran on the same (task, seed), and
  pairs their test predictions example by example (the test set is fixed per task and seed):
  a two-sided sign test over examples where they differ, and a paired bootstrap 95% interval
  of the mean difference (resampling examples).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from typing import Any

from scipy import stats

from izbench.identity import comparison_hash, signal_setup
from izbench.report.anytime import Anytime, anytime, by_unit
from izbench.report.pools import PoolSummary, pool_summaries, regrets
from izbench.report.seeds import SeedStatistics, normalize, seed_statistics
from izbench.results import CellResult
from izbench.stats import bootstrap_mean
from izbench.store import ResultStore


def curve(cell: CellResult) -> tuple[float, ...]:
    """Best validation score after each distinct candidate (score versus queries)."""
    points, best = [], float("-inf")
    for candidate in cell.result.candidates if cell.result else []:
        if candidate.new:
            best = max(best, candidate.val_score)
            points.append(best)
    return tuple(points)


def calls_curve(cell: CellResult) -> tuple[tuple[int, float], ...]:
    """(black-box calls so far, best validation score so far) after each distinct candidate
    that was scored on the whole validation set: score versus calls, where methods whose
    candidates cost different amounts (halving, writers that call the black box) compare fairly.
    Empty for cells stored before calls were recorded."""
    candidates = cell.result.candidates if cell.result else []
    if not candidates or any(c.calls is None for c in candidates):
        return ()
    most = max(c.examples for c in candidates)
    points, best = [], float("-inf")
    for c in candidates:
        if c.new and c.examples == most and c.calls is not None:
            best = max(best, c.val_score)
            points.append((c.calls, best))
    return tuple(points)


def cell_record(cell: CellResult, normalized: float | None = None) -> dict[str, Any]:
    """One machine-readable record per cell (``results.json``), with its normalized test score
    where its task has one."""
    return {
        "normalized": normalized,
        "run_id": cell.run_id,
        "method": cell.method,
        "task": cell.task,
        "seed": cell.seed,
        "budget": cell.budget,
        "proposals": cell.proposals,
        "distinct": cell.distinct,
        "val_score": cell.val_score,
        "test_score": cell.test_score,
        "mean_test_score": cell.mean_test_score,
        "best_instruction": cell.best_instruction,
        "test_scores": list(cell.test_scores),
        "chance": cell.chance,
        "comparison_hash": cell.comparison_hash,
        "curve": list(curve(cell)),
        "blackbox_calls": cell.blackbox_calls,
        "calls_curve": [list(p) for p in calls_curve(cell)],
    }


def load_cells(store: ResultStore) -> list[CellResult]:
    """Every finished run, read back as the runner would return it."""
    return [store.load_cell(run["run_id"]) for run in store.runs("done")]


def budget_words(profile: dict[str, Any]) -> str:
    """A stored profile's budget with its unit (distinct instructions unless it says
    evaluations) and any per-method budgets: ``150 evaluations (ape 90, instinct 165)``."""
    unit = profile.get("params", {}).get("budget_unit", "distinct")
    own = profile.get("budgets") or {}
    extra = f" ({', '.join(f'{m} {b}' for m, b in sorted(own.items()))})" if own else ""
    return f"{profile.get('budget')} {unit}{extra}"


def config_title(config: dict[str, Any]) -> str:
    """A configuration in a few words: score function, protocol, profile, black box."""
    profile = config.get("profile", {})
    blackbox = config.get("blackbox", {})
    norm = f" ({config['choice_norm']})" if "choice_norm" in config else ""
    domain = config.get("domain", {})
    pool = f", on pools of {domain['pool']['size']} soft prompts" if domain.get("kind") == "pool" else ""
    return (
        f"score {config.get('score', 'generate')}{norm}, protocol {config.get('protocol', 'chat')}, budget "
        f"{budget_words(profile)} / {profile.get('n_validation')} validation / {profile.get('n_test')} test, "
        f"black box {blackbox.get('kind')}:{blackbox.get('model')}{pool}"
    )


@dataclass
class Section:
    """The cells of one configuration: they, and only they, share a leaderboard."""

    title: str
    comparison_hash: str
    cells: list[CellResult]
    board: Leaderboard
    stats: SeedStatistics
    """The seed-level statistics the leaderboard leads with."""
    pools: list[PoolSummary] | None = None
    """For cells run on pools: what each task's pool holds."""
    anytime: Anytime | None = None
    """The cells' anytime results (None: no method has curves)."""
    units: dict[str, Anytime] = field(default_factory=dict)
    """The same against every other budget unit, by unit (``izbench.report.anytime.AXES``)."""

    @property
    def regret(self) -> dict[str, dict[str, Any]]:
        """For cells run on pools: each method's regret against the pools' oracles."""
        return regrets(self.cells, self.pools) if self.pools else {}


def section(
    title: str,
    comparison: str,
    cells: list[CellResult],
    verdicts: dict[str, bool] | None = None,
    oracle: dict[str, float] | None = None,
) -> Section:
    """One configuration's leaderboard and seed-level statistics (``verdicts``: the stored signal
    check of its set-up, per task; ``oracle``: for cells on pools, each task's best test score)."""
    statistics_ = seed_statistics(normalize(cells, verdicts))
    return Section(
        title,
        comparison,
        cells,
        build_leaderboard(cells),
        statistics_,
        anytime=anytime(cells, oracle),
        units=by_unit(cells, oracle),
    )


def sections(store: ResultStore) -> list[Section]:
    """One leaderboard per configuration in the store, most cells first."""
    configs = {comparison_hash(c): c for c in (json.loads(r["config_json"]) for r in store.runs("done"))}
    by_config: dict[str, list[CellResult]] = {}
    for cell in load_cells(store):
        by_config.setdefault(cell.comparison_hash, []).append(cell)
    ordered = sorted(by_config.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    out = []
    for h, cells in ordered:
        config = configs[h]
        domain = config.get("domain", {})
        pools = pool_summaries(store, domain["setup"]) if domain.get("kind") == "pool" else None
        # On a pool the runtime distribution's second target is the pool's own oracle.
        oracle = {p.task: p.oracle for p in pools} if pools is not None else None
        verdicts = store.signal_verdicts(signal_setup(config))
        part = section(f"{config_title(config)} (config {h})", h, cells, verdicts, oracle)
        part.pools = pools
        out.append(part)
    return out


@dataclass(frozen=True)
class Entry:
    mean: float
    low: float | None
    high: float | None
    n_seeds: int


@dataclass(frozen=True)
class Pairwise:
    a: str
    b: str
    n_examples: int
    mean_diff: float
    ci_low: float
    ci_high: float
    a_better: int
    b_better: int
    p_value: float


@dataclass
class Leaderboard:
    methods: list[str]
    tasks: list[str]
    table: dict[tuple[str, str], Entry] = field(default_factory=dict)
    average: dict[str, float] = field(default_factory=dict)
    rank: dict[str, float] = field(default_factory=dict)
    wins: dict[str, int] = field(default_factory=dict)
    pairwise: list[Pairwise] = field(default_factory=list)
    best_instruction: dict[tuple[str, str], str] = field(default_factory=dict)
    chance: dict[str, float] = field(default_factory=dict)
    """Per task, under choice scoring: the accuracy of random options (shown beside the scores)."""
    calls: dict[str, float] = field(default_factory=dict)
    """Per method: mean black-box calls per cell while optimising (served or made; the calls
    axis next to the candidates axis). Missing for cells stored before calls were recorded."""


def _interval(values: list[float]) -> tuple[float | None, float | None]:
    if len(values) < 2:
        return None, None
    mean = statistics.fmean(values)
    half = float(stats.t.ppf(0.975, len(values) - 1)) * statistics.stdev(values) / len(values) ** 0.5
    return mean - half, mean + half


def _pair(cells: list[CellResult], a: str, b: str, resamples: int = 2000) -> Pairwise | None:
    by_key = {(c.method, c.task, c.seed): c for c in cells}
    diffs: list[float] = []
    for (method, task, seed), cell in by_key.items():
        other = by_key.get((b, task, seed))
        if method != a or other is None or len(other.test_scores) != len(cell.test_scores):
            continue
        diffs.extend(x - y for x, y in zip(cell.test_scores, other.test_scores, strict=True))
    if not diffs:
        return None
    a_better = sum(d > 0 for d in diffs)
    b_better = sum(d < 0 for d in diffs)
    p = float(stats.binomtest(a_better, a_better + b_better).pvalue) if a_better + b_better else 1.0
    interval = bootstrap_mean(diffs, seed=0, resamples=resamples)
    return Pairwise(
        a=a,
        b=b,
        n_examples=len(diffs),
        mean_diff=interval.mean,
        ci_low=interval.low,
        ci_high=interval.high,
        a_better=a_better,
        b_better=b_better,
        p_value=p,
    )


def build_leaderboard(cells: list[CellResult]) -> Leaderboard:
    methods = sorted({c.method for c in cells})
    tasks = sorted({c.task for c in cells})
    board = Leaderboard(methods=methods, tasks=tasks)
    ranks: dict[str, list[float]] = {m: [] for m in methods}
    for task in tasks:
        chances = [c.chance for c in cells if c.task == task and c.chance is not None]
        if chances:
            board.chance[task] = statistics.fmean(chances)
        means = {}
        for method in methods:
            scores = [c.test_score for c in cells if c.task == task and c.method == method]
            if not scores:
                continue
            low, high = _interval(scores)
            board.table[(task, method)] = Entry(statistics.fmean(scores), low, high, len(scores))
            means[method] = statistics.fmean(scores)
            best = max(
                (c for c in cells if c.task == task and c.method == method),
                key=lambda c: c.val_score,
            )
            board.best_instruction[(task, method)] = best.best_instruction
        ordered = sorted(set(means.values()), reverse=True)
        for method, value in means.items():
            tied = [m for m in means if means[m] == value]
            position = sum(1 for v in means.values() if v > value)
            ranks[method].append(position + (len(tied) + 1) / 2)
        if ordered:
            for method, value in means.items():
                if value == ordered[0]:
                    board.wins[method] = board.wins.get(method, 0) + 1
    for method in methods:
        values = [board.table[(t, method)].mean for t in tasks if (t, method) in board.table]
        board.average[method] = statistics.fmean(values) if values else float("nan")
        board.rank[method] = statistics.fmean(ranks[method]) if ranks[method] else float("nan")
        board.wins.setdefault(method, 0)
        spent = [c.blackbox_calls for c in cells if c.method == method and c.blackbox_calls is not None]
        if spent:
            board.calls[method] = statistics.fmean(spent)
    board.methods = sorted(methods, key=lambda m: (-board.average[m], board.rank[m]))
    for i, a in enumerate(board.methods):
        for b in board.methods[i + 1 :]:
            pair = _pair(cells, a, b)
            if pair is not None:
                board.pairwise.append(pair)
    return board
