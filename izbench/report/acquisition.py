"""What a BO method's acquisition did across its rounds, from the diagnostics each proposal
stores: a method whose EI is zero wherever CMA-ES looked optimizes nothing, however its code
reads, and a leaderboard should say so next to its score."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from izbench.results import CellResult


def flat(diagnostics: dict[str, Any]) -> bool:
    """Whether the acquisition did not decide this proposal: on a domain, its pick tied with
    other candidates (the tie draw chose); live, CMA-ES stopped after one generation for a reason
    other than its generation budget (it saw no differences, so the proposal is a draw near its
    start). Underflowed EI is not flat under LogEI, which still ranks where EI is 0."""
    if "ties" in diagnostics:
        return int(diagnostics["ties"]) > 1
    return int(diagnostics.get("generations", 0)) <= 1 and "maxiter" not in diagnostics.get("stop", [])


@dataclass(frozen=True)
class AcquisitionSummary:
    """One method's BO proposals: how many, how many saw a flat acquisition, and CMA-ES's work."""

    method: str
    kind: str
    proposals: int
    flat: int
    """Proposals the acquisition did not decide (``flat``)."""
    underflow: float
    """Median share of underflowed values per proposal."""
    generations: float | None
    """Median CMA-ES generations (None on a finite domain: no CMA-ES)."""
    moved: float | None
    """Median distance from the start point in the unit cube (None on a finite domain)."""
    stops: dict[str, int]
    """Why CMA-ES stopped, per reason (``maxiter``: the budget of generations)."""

    @property
    def flat_share(self) -> float:
        return self.flat / self.proposals if self.proposals else 0.0

    def line(self) -> str:
        """One line for a terminal: the figures a report's acquisition table shows."""
        cma = (
            f"; CMA-ES median {self.generations:g} generations, moved {self.moved:.3f}, stops "
            + ", ".join(f"{k} {v}" for k, v in self.stops.items())
            if self.generations is not None and self.moved is not None
            else ""
        )
        return (
            f"acquisition ({self.kind}): {self.proposals} BO proposals, {self.flat} ({self.flat_share:.0%}) "
            f"not decided by it (flat), median underflow {self.underflow:.3f}{cma}"
        )


def summarize(method: str, diagnostics: Iterable[str]) -> AcquisitionSummary | None:
    """The summary of one method's stored diagnostics (JSON strings); None when it has none."""
    seen = [json.loads(d) for d in diagnostics]
    if not seen:
        return None
    generations = [float(d["generations"]) for d in seen if "generations" in d]
    moved = [float(d["moved"]) for d in seen if "moved" in d]
    stops = Counter(str(s) for d in seen for s in d.get("stop", []))
    return AcquisitionSummary(
        method=method,
        kind="/".join(sorted({str(d["acquisition"]) for d in seen})),
        proposals=len(seen),
        flat=sum(flat(d) for d in seen),
        underflow=statistics.median(float(d["underflow"]) for d in seen),
        generations=statistics.median(generations) if generations else None,
        moved=statistics.median(moved) if moved else None,
        stops=dict(sorted(stops.items())),
    )


def by_method(cells: Iterable[CellResult]) -> list[AcquisitionSummary]:
    """Per method with stored diagnostics, its summary over all its cells' BO proposals."""
    found: dict[str, list[str]] = {}
    for cell in cells:
        if cell.result is None:
            continue
        rows = [c.acquisition for c in cell.result.candidates if c.acquisition is not None]
        if rows:
            found.setdefault(cell.method, []).extend(rows)
    out = [summarize(m, rows) for m, rows in sorted(found.items())]
    return [s for s in out if s is not None]
