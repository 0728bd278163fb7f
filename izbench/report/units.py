"""What each method spent, in every unit papers report budgets in, side by side.

Papers in this line count budgets differently: soft-prompt evaluations or proposals (InstructZero,
INSTINCT), distinct instructions, (instruction, example) evaluations (TRIPLE, CAPO), black-box
calls or metric calls (GEPA), tokens (CAPO). Two papers' figures compare only in a shared unit, so
every report shows all of them per method: the median per cell, with its range over cells.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from izbench.report.table import TextTable
from izbench.results import CellResult

UNITS = ("distinct", "proposals", "example_evals", "blackbox_calls", "blackbox_tokens", "wall_s")
"""The units, in the table's order."""
HEADERS = {
    "distinct": "distinct instructions",
    "proposals": "proposals",
    "example_evals": "(instruction, example) evals",
    "blackbox_calls": "black-box calls",
    "blackbox_tokens": "black-box tokens",
    "wall_s": "wall s",
}


def example_evals(cell: CellResult) -> int | None:
    """(instruction, example) evaluations on validation: each instruction's most examples (the
    ``Tracker``'s count, to which ``cell_spend`` adds off-validation ones); None for a cell
    stored without its candidates' examples."""
    if cell.result is None or not cell.result.candidates:
        return None
    most: dict[str, int] = {}
    for c in cell.result.candidates:
        most[c.instruction] = max(most.get(c.instruction, 0), c.examples)
    return sum(most.values()) or None


def cell_spend(cell: CellResult) -> dict[str, float | None]:
    """One cell's spend in every unit (None: not recorded for it)."""
    wall = cell.computed_wall_s if cell.reused else cell.wall_s
    return {
        "distinct": float(cell.tried if cell.tried is not None else cell.distinct),
        "proposals": float(cell.proposals),
        "example_evals": _float(_plus(example_evals(cell), cell.off_validation_evals)),
        "blackbox_calls": _float(cell.blackbox_calls),
        "blackbox_tokens": _float(cell.blackbox_tokens),
        "wall_s": wall,
    }


def _plus(on_validation: int | None, off: int | None) -> int | None:
    """Evaluations on validation plus those off it (GEPA's minibatches)."""
    return on_validation if not off else (on_validation or 0) + off


def _float(value: int | None) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float
    cells: int

    def text(self, unit: str) -> str:
        form = ".1f" if unit == "wall_s" else ".0f"
        if self.low == self.high:
            return f"{self.median:{form}}"
        return f"{self.median:{form}} ({self.low:{form}} .. {self.high:{form}})"


def spending(cells: Iterable[CellResult]) -> dict[str, dict[str, Spread | None]]:
    """Method -> unit -> the median per cell over its cells with that unit recorded."""
    by_method: dict[str, list[dict[str, float | None]]] = {}
    for cell in cells:
        by_method.setdefault(cell.method, []).append(cell_spend(cell))
    out: dict[str, dict[str, Spread | None]] = {}
    for method, rows in by_method.items():
        out[method] = {}
        for unit in UNITS:
            values = [v for r in rows if (v := r[unit]) is not None]
            out[method][unit] = (
                Spread(statistics.median(values), min(values), max(values), len(values)) if values else None
            )
    return out


def spend_table(spend: dict[str, dict[str, Spread | None]]) -> TextTable:
    """Per method, the median per cell (min .. max over cells) in every unit."""
    rows = [
        [method, *(("-" if (s := by[unit]) is None else s.text(unit)) for unit in UNITS)]
        for method, by in sorted(spend.items())
    ]
    return TextTable(["method", *(HEADERS[u] for u in UNITS)], rows, right=frozenset(range(1, len(UNITS) + 1)))


SPEND_NOTE = (
    "Median per cell (min .. max over cells). Proposals count repeats; (instruction, example) evals count "
    "each instruction's validation examples (TRIPLE: its pulls); black-box calls and tokens are those the "
    "method asked for while optimising, served from the cache or made (the same on a warm rerun; a pool's "
    "lookups count as calls and have no tokens); wall s is the run that computed the cell."
)


def spend_json(spend: dict[str, dict[str, Spread | None]]) -> dict[str, dict[str, dict[str, float] | None]]:
    return {
        m: {
            u: None if s is None else {"median": s.median, "low": s.low, "high": s.high, "cells": s.cells}
            for u, s in by.items()
        }
        for m, by in spend.items()
    }
