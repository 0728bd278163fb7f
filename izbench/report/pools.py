"""What a pool shows by itself, and how far each method's pick lands from its best.

Per task: the domain's points and distinct instructions, the spread of validation and test
scores over its distinct instructions, the best test score any of them reaches (the oracle)
beside the reference's and the empty instruction's. Per method, over its pool cells: the regret
(oracle test score - the test score of the instruction it picked) and the gap between the
validation score it selected on and the test score it got (how much selection flattered it).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from izbench.results import CellResult
from izbench.store import ResultStore


@dataclass(frozen=True)
class PoolSummary:
    task: str
    pool_id: str
    points: int
    distinct: int
    """Distinct instructions the soft points write."""
    ape: int
    validation: tuple[float, float, float]
    """(min, median, max) over the pool's distinct instructions of the mean validation score."""
    test: tuple[float, float, float]
    oracle: float
    """The best mean test score of any instruction in the pool."""
    reference: float | None
    empty: float


def pool_summaries(store: ResultStore, setup: str) -> list[PoolSummary]:
    """One summary per stored pool of the set-up ``setup`` (a ``pools.setup_hash``)."""
    out = []
    for pool in store.query("SELECT pool_id, task FROM pools WHERE setup_hash = ? ORDER BY task", [setup]):
        pid = pool["pool_id"]
        sql = "SELECT instruction_id, split, avg(score) AS mean FROM pool_scores WHERE pool_id = ? GROUP BY ALL"
        means = {(r["instruction_id"], r["split"]): r["mean"] for r in store.query(sql, [pid])}
        points = store.query("SELECT domain, instruction_id FROM pool_points WHERE pool_id = ?", [pid])
        soft = [p["instruction_id"] for p in points if p["domain"] == "soft"]
        references = [p["instruction_id"] for p in points if p["domain"] == "reference"]
        (empty,) = [p["instruction_id"] for p in points if p["domain"] == "empty"]
        ids = sorted({i for i, _ in means})
        out.append(
            PoolSummary(
                task=pool["task"],
                pool_id=pid,
                points=len(soft),
                distinct=len(set(soft)),
                ape=sum(p["domain"] == "ape" for p in points),
                validation=_spread([means[(i, "validation")] for i in ids]),
                test=_spread([means[(i, "test")] for i in ids]),
                oracle=max(means[(i, "test")] for i in ids),
                reference=max((means[(i, "test")] for i in references), default=None),
                empty=means[(empty, "test")],
            )
        )
    return out


def _spread(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def regrets(cells: list[CellResult], summaries: list[PoolSummary]) -> dict[str, dict[str, Any]]:
    """Per method: mean regret against each task's oracle, and mean validation - test gap."""
    oracle = {s.task: s.oracle for s in summaries}
    out: dict[str, dict[str, Any]] = {}
    for method in sorted({c.method for c in cells}):
        mine = [c for c in cells if c.method == method and c.task in oracle]
        if mine:
            out[method] = {
                "cells": len(mine),
                "regret": statistics.fmean(oracle[c.task] - c.test_score for c in mine),
                "selection_gap": statistics.fmean(c.val_score - c.test_score for c in mine),
            }
    return out
