"""The DuckDB results store: schema, locking, and what it refuses."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from izbench.errors import ConfigError
from izbench.identity import RunKey
from izbench.results import Candidate
from izbench.store import SCHEMA_VERSION, ResultStore


def test_new_store_has_the_schema_version(tmp_path: Path) -> None:
    with ResultStore.open(tmp_path / "s.duckdb") as store:
        (row,) = store.query("SELECT value FROM izbench_meta WHERE key = 'schema_version'")
        assert int(row["value"]) == SCHEMA_VERSION


def test_restarting_a_run_replaces_its_rows(tmp_path: Path) -> None:
    key = RunKey("uniform", "core/sum", 0, {"budget": 3})
    with ResultStore.open(tmp_path / "s.duckdb") as store:
        for _attempt in range(2):
            store.start_run(key, 3, None)
            store.add_candidates(key.run_id, [Candidate(0, "x", 0.5, (0.5,), soft_prompt=(0.1,))])
        assert store.query("SELECT count(*) AS n FROM runs")[0]["n"] == 1
        assert store.query("SELECT count(*) AS n FROM candidates")[0]["n"] == 1
        assert store.run_status(key.run_id) == "running"


def test_config_changes_the_run_id() -> None:
    assert RunKey("a", "t", 0, {"budget": 3}).run_id != RunKey("a", "t", 0, {"budget": 4}).run_id
    assert RunKey("a", "t", 0, {"budget": 3}).run_id == RunKey("a", "t", 0, {"budget": 3}).run_id


def test_a_locked_store_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with ResultStore.open(path):
        pass
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb, sys, time
                con = duckdb.connect({str(path)!r})
                print("locked", flush=True)
                time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with (
            pytest.raises(ConfigError, match="in use by another izbench process"),
            ResultStore.open(path),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_other_files_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE sales (x INTEGER)")
    con.close()
    with pytest.raises(ConfigError, match="not an izbench store"), ResultStore.open(other):
        pass
    text = tmp_path / "notes.duckdb"
    text.write_text("hello")
    with pytest.raises(ConfigError, match="not a DuckDB results store"), ResultStore.open(text):
        pass
    with (
        pytest.raises(ConfigError, match="no results store"),
        ResultStore.open(tmp_path / "none.duckdb", read_only=True),
    ):
        pass


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_export_takes_any_path_as_a_value_not_sql(tmp_path: Path, fmt: str) -> None:
    from typer.testing import CliRunner

    from izbench.cli import app

    store_path = tmp_path / "s.duckdb"
    with ResultStore.open(store_path) as store:
        store.start_run(RunKey("empty", "core/sum", 0, {"budget": 1}), 1, None)
    out = tmp_path / "it's here"  # a quote would end the SQL string of `COPY ... TO '...'`
    result = CliRunner().invoke(app, ["--store", str(store_path), "export", "--format", fmt, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / f"runs.{fmt}").stat().st_size > 0
    if fmt == "json":
        assert '"method": "empty"' in (out / "runs.json").read_text()


def test_rows_with_missing_values_and_lists_come_back_as_written(tmp_path: Path) -> None:
    # A column bound as one list: None beside lists, ints beside floats, quotes in text.
    key = RunKey("ape", "core/sum", 0, {"budget": 3})
    candidates = [
        Candidate(0, "Say 'yes'", 1, (1.0,), soft_prompt=None, parent=None, note="a; DROP TABLE runs", evals=4),
        Candidate(
            1, "two", -0.25, (-0.25,), soft_prompt=(0.1, -1.0), parent="Say 'yes'", new=False, evals=8, tokens=2**40
        ),
    ]
    with ResultStore.open(tmp_path / "s.duckdb") as store:
        store.start_run(key, 3, None)
        store.add_candidates(key.run_id, candidates)
        rows = store.query("SELECT * FROM candidates ORDER BY step")
    assert [
        (
            r["instruction"],
            r["val_score"],
            r["soft_prompt"],
            r["parent"],
            r["is_new"],
            r["note"],
            r["evals"],
            r["tokens"],
        )
        for r in rows
    ] == [
        ("Say 'yes'", 1.0, None, None, True, "a; DROP TABLE runs", 4, None),
        ("two", -0.25, [0.1, -1.0], "Say 'yes'", False, None, 8, 2**40),
    ]


def test_a_replayed_cell_lands_whole_or_not_at_all(tmp_path: Path) -> None:
    key = RunKey("uniform", "core/sum", 0, {"budget": 3})
    writes = [
        ("start_run", (key, 3, None)),
        ("add_candidates", (key.run_id, [Candidate(0, "x", 0.5, (0.5,))])),
        ("mark_failed", ()),  # a write that fails after the others: the cell must not half-land
    ]
    with ResultStore.open(tmp_path / "s.duckdb") as store:
        with pytest.raises(TypeError):
            store.replay(writes)
        assert store.query("SELECT count(*) AS n FROM runs")[0]["n"] == 0
        assert store.query("SELECT count(*) AS n FROM candidates")[0]["n"] == 0
        store.replay(writes[:2])
        assert store.run_status(key.run_id) == "running"
        assert store.query("SELECT instruction FROM candidates") == [{"instruction": "x"}]
