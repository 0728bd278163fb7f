"""Reports from the results store: leaderboard, paired comparisons, curves, regression checks."""

from __future__ import annotations

from izbench.report.aggregate import Leaderboard, Section, build_leaderboard, load_cells, sections
from izbench.report.render import write_report

__all__ = ["Leaderboard", "Section", "build_leaderboard", "load_cells", "sections", "write_report"]
