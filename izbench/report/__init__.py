"""Reports from the results store: leaderboard, paired comparisons, curves, regression checks."""

from __future__ import annotations

from izbench.report.aggregate import Leaderboard, build_leaderboard, load_cells
from izbench.report.render import write_report

__all__ = ["Leaderboard", "build_leaderboard", "load_cells", "write_report"]
