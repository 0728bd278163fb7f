"""``izbench signal`` as a user runs it: verdicts printed, stored, reported, and heeded by compare."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from test_cli import izbench

from izbench.runtime import Runtime
from izbench.settings import Settings
from izbench.store import ResultStore

pytestmark = pytest.mark.slow

SETUP = ("--score", "likelihood", "--protocol", "raw")


def test_signal_prints_stores_and_reports_verdicts(tmp_path: Path) -> None:
    args = ("signal", "--tasks", "antonyms,larger_animal", "--n-examples", "8", *SETUP)
    cold = izbench(*args, tmp=tmp_path)
    assert cold.returncode == 0, cold.stderr
    assert "measures instructions on" in cold.stdout
    assert "core/antonyms" in cold.stdout and "core/larger_animal" in cold.stdout
    con = duckdb.connect(str(tmp_path / "izbench.duckdb"), read_only=True)
    rows = con.execute("SELECT task, n_examples, measures, vs_empty_low, vs_mismatched_low FROM signal").fetchall()
    con.close()
    assert sorted(r[0] for r in rows) == ["core/antonyms", "core/larger_animal"]
    for _, n, measures, low_empty, low_mismatch in rows:
        assert n == 8 and measures == (low_empty > 0 and low_mismatch > 0)
    # Scoring is cached: the same check again makes no model call and gives the same rows.
    warm = izbench("--cache-mode", "replay", *args, tmp=tmp_path)
    assert warm.returncode == 0, warm.stderr and " 0 made" in warm.stderr
    report = izbench("report", "--out", str(tmp_path / "report"), tmp=tmp_path)
    assert report.returncode == 0, report.stderr
    markdown = (tmp_path / "report" / "leaderboard.md").read_text()
    assert "## Signal check" in markdown and "score likelihood, protocol raw" in markdown


def test_compare_warns_where_the_set_up_measures_nothing(tmp_path: Path) -> None:
    settings = Settings(store=tmp_path / "izbench.duckdb", cache_dir=tmp_path / "cache", score="likelihood", protocol="raw")
    with Runtime(settings) as runtime, ResultStore.open(settings.store) as store:
        from izbench.runner import scoring_setup

        row = {
            "task": "core/sum", "n_examples": 4, "n_references": 1, "n_mismatched": 3, "reference_mean": -1.0,
            "empty_mean": -1.0, "mismatched_mean": -1.0, "vs_empty": 0.0, "vs_empty_low": -0.1,
            "vs_empty_high": 0.1, "vs_mismatched": 0.0, "vs_mismatched_low": -0.1, "vs_mismatched_high": 0.1,
            "chance": None, "measures": False,
        }  # fmt: skip
        store.put_signal(scoring_setup(runtime), [0], [row])
    result = izbench("compare", "--tasks", "sum", "--methods", "empty", "--profile", "smoke", *SETUP, tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "does not measure instructions on core/sum" in result.stderr
    other = izbench("compare", "--tasks", "sum", "--methods", "empty", "--profile", "smoke", tmp=tmp_path)
    assert other.returncode == 0 and "does not measure" not in other.stderr
