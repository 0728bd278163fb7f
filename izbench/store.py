"""The results store: every run, candidate, prediction and metric in one DuckDB file.

It is izbench's memory and readable without izbench (``duckdb results/izbench.duckdb``).
Rows are written as a run goes, so a killed run keeps what it did; a run is identified by
(method, task, seed, config hash), so running the same cell again resumes or reuses it
instead of adding duplicates. The file carries a schema version and is migrated on open.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
import numpy as np

import izbench
from izbench.errors import ConfigError
from izbench.hashing import config_hash
from izbench.identity import RunKey, comparison_hash
from izbench.pool.data import PoolData, setup_hash
from izbench.results import Candidate, CellResult, MethodResult, Scored
from izbench.tasks.types import Example

SCHEMA_VERSION = 8

INCUMBENT_SPLIT = "test-incumbent"
"""The predictions split of an incumbent other than the run's best, scored on test for its anytime
curve (the best's own test rows keep split ``test``)."""

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS izbench_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    method VARCHAR, task VARCHAR, seed INTEGER, budget INTEGER,
    config_json VARCHAR, config_hash VARCHAR,
    izbench_version VARCHAR, git_commit VARCHAR,
    blackbox VARCHAR, blackbox_model VARCHAR, generator_model VARCHAR,
    status VARCHAR, started_at TIMESTAMP, ended_at TIMESTAMP,
    calls_made INTEGER, calls_served INTEGER, tokens BIGINT, cost DOUBLE,
    proposals INTEGER, distinct_candidates INTEGER,
    best_instruction VARCHAR, val_score DOUBLE, test_score DOUBLE, wall_s DOUBLE
);
CREATE TABLE IF NOT EXISTS candidates (
    run_id VARCHAR, step INTEGER, instruction VARCHAR, val_score DOUBLE,
    soft_prompt DOUBLE[], parent VARCHAR, is_new BOOLEAN
);
CREATE TABLE IF NOT EXISTS predictions (
    run_id VARCHAR, split VARCHAR, step INTEGER, example_index INTEGER,
    input VARCHAR, prediction VARCHAR, gold VARCHAR[], score DOUBLE
);
CREATE TABLE IF NOT EXISTS metrics (run_id VARCHAR, name VARCHAR, value DOUBLE);
"""

_SCHEMA_V2 = """
CREATE TABLE IF NOT EXISTS signal (
    setup_hash VARCHAR, setup_json VARCHAR, task VARCHAR, seeds VARCHAR, n_examples INTEGER,
    n_references INTEGER, n_mismatched INTEGER,
    reference_mean DOUBLE, empty_mean DOUBLE, mismatched_mean DOUBLE,
    vs_empty DOUBLE, vs_empty_low DOUBLE, vs_empty_high DOUBLE,
    vs_mismatched DOUBLE, vs_mismatched_low DOUBLE, vs_mismatched_high DOUBLE,
    chance DOUBLE, measures BOOLEAN, created_at TIMESTAMP
);
"""
"""The signal check's verdicts, one row per (set-up, task, seeds, examples); see signal_check."""

_SCHEMA_V3 = """
ALTER TABLE candidates ADD COLUMN IF NOT EXISTS note VARCHAR;
"""
"""A candidate's note: what went wrong proposing it without stopping the run (a failed GP fit)."""

_SCHEMA_V4 = """
ALTER TABLE candidates ADD COLUMN IF NOT EXISTS examples INTEGER;
ALTER TABLE candidates ADD COLUMN IF NOT EXISTS calls BIGINT;
"""
"""Validation examples a candidate was scored on (halving drops some early) and the black-box
calls the cell had asked for by then (the calls axis)."""

_SCHEMA_V5 = """
ALTER TABLE signal ADD COLUMN IF NOT EXISTS vs_chance DOUBLE;
ALTER TABLE signal ADD COLUMN IF NOT EXISTS vs_chance_low DOUBLE;
ALTER TABLE signal ADD COLUMN IF NOT EXISTS vs_chance_high DOUBLE;
"""
"""Under choice scoring: the best scored instruction's accuracy minus the chance level."""

_SCHEMA_V7 = """
ALTER TABLE candidates ADD COLUMN IF NOT EXISTS acquisition VARCHAR;
"""
"""A BO proposal's acquisition diagnostics (JSON; ``Candidate.acquisition``)."""

_SCHEMA_V8 = """
ALTER TABLE candidates ADD COLUMN IF NOT EXISTS evals BIGINT;
ALTER TABLE candidates ADD COLUMN IF NOT EXISTS tokens BIGINT;
"""
"""The cell's example evaluations and black-box tokens by each candidate (the example-evals
and tokens axes of the anytime curves)."""

SIGNAL_COLUMNS = (
    "setup_hash", "setup_json", "task", "seeds", "n_examples", "n_references", "n_mismatched", "reference_mean",
    "empty_mean", "mismatched_mean", "vs_empty", "vs_empty_low", "vs_empty_high", "vs_mismatched",
    "vs_mismatched_low", "vs_mismatched_high", "chance", "measures", "created_at", "vs_chance", "vs_chance_low",
    "vs_chance_high",
)  # fmt: skip

_SCHEMA_V6 = """
CREATE TABLE IF NOT EXISTS pools (
    pool_id VARCHAR PRIMARY KEY, task VARCHAR, identity_json VARCHAR, setup_hash VARCHAR,
    size INTEGER, ape INTEGER, pool_seed INTEGER, distinct_instructions INTEGER,
    calls_made BIGINT, calls_served BIGINT, wall_s DOUBLE, created_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS pool_examples (
    pool_id VARCHAR, split VARCHAR, example_index INTEGER, input VARCHAR, answers VARCHAR[], options VARCHAR[]
);
CREATE TABLE IF NOT EXISTS pool_instructions (pool_id VARCHAR, instruction_id INTEGER, instruction VARCHAR);
CREATE TABLE IF NOT EXISTS pool_points (
    pool_id VARCHAR, domain VARCHAR, point INTEGER, z DOUBLE[], hidden FLOAT[], instruction_id INTEGER
);
CREATE TABLE IF NOT EXISTS pool_scores (
    pool_id VARCHAR, instruction_id INTEGER, split VARCHAR, example_index INTEGER, prediction VARCHAR, score DOUBLE
);
"""
"""Instruction pools (``izbench.pool``): a finite domain per task, every instruction in it
written once and scored once on a fixed validation and test set. Plain tables: a pool is
readable without izbench."""

MIGRATIONS: dict[int, str] = {
    1: _SCHEMA_V1, 2: _SCHEMA_V2, 3: _SCHEMA_V3, 4: _SCHEMA_V4, 5: _SCHEMA_V5, 6: _SCHEMA_V6, 7: _SCHEMA_V7,
    8: _SCHEMA_V8,
}  # fmt: skip
"""Schema version -> SQL that brings a store from the previous version to it."""


_ROWS_PER_INSERT = 5000
"""Rows per ``INSERT`` statement (bounds the lists bound to one)."""


class StoreWriter(Protocol):
    """What a running cell writes through: the store itself, or a recorder on a Ray worker."""

    def start_run(self, key: RunKey, budget: int, commit: str | None) -> None: ...
    def add_candidates(self, run_id: str, candidates: Sequence[Candidate]) -> None: ...
    def add_predictions(
        self, run_id: str, split: str, step: int, examples: Sequence[Example], scored: Scored
    ) -> None: ...
    def finish_run(self, cell: CellResult) -> None: ...
    def mark_failed(self, run_id: str) -> None: ...


class ResultStore:
    """One DuckDB file; open it with :meth:`open` (a context manager) and write through it."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.db = connection
        self.path = path
        self._pending: dict[tuple[str, str], list[Sequence[Any]]] | None = None
        """Rows held back by ``replay`` to go in one statement per table."""

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything written inside lands whole or not at all (a Ctrl-C rolls it back)."""
        self.db.begin()
        try:
            yield
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: str = "") -> None:
        """``rows`` into ``table``, one statement per ``_ROWS_PER_INSERT`` rows, each column bound
        as one list and unnested: DuckDB runs ``executemany`` as one statement per row (~1 ms
        each) and binds a multi-row ``VALUES`` value by value, which made the store's writes the
        slowest part of a pool comparison (910 cells: 157 s; this way, with ``replay``'s one
        statement per table, 11-19 s)."""
        if self._pending is not None:
            self._pending.setdefault((table, columns), []).extend(rows)
            return
        if not rows:
            return
        select = ", ".join(["unnest(?)"] * len(rows[0]))
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start : start + _ROWS_PER_INSERT]
            by_column = [list(c) for c in zip(*chunk, strict=True)]
            self.db.execute(f"INSERT INTO {table} {columns} SELECT {select}", by_column)  # noqa: S608

    def replay(self, writes: Sequence[tuple[str, tuple[Any, ...]]]) -> None:
        """A cell's writes recorded elsewhere (a worker process, a Ray actor), in one transaction,
        its rows one statement per table (nothing in a cell's writes reads the rows it inserts)."""
        with self.transaction():
            self._pending = {}
            try:
                for name, args in writes:
                    getattr(self, name)(*args)
                pending, self._pending = self._pending, None
                for (table, columns), rows in pending.items():
                    self.insert(table, rows, columns)
            finally:
                self._pending = None

    @classmethod
    @contextmanager
    def open(cls, path: Path, read_only: bool = False) -> Iterator[ResultStore]:
        path = Path(path)
        if read_only and not path.exists():
            raise ConfigError(f"no results store at {path}; run `izbench compare` first or pass --store")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as error:
            if "lock" in str(error).lower():
                raise ConfigError(
                    f"results store {path} is in use by another izbench process; wait for it or use another --store"
                ) from None
            raise ConfigError(f"{path} is not a DuckDB results store ({str(error)[:120]})") from None
        except duckdb.Error as error:
            raise ConfigError(f"{path} is not a DuckDB results store ({str(error)[:120]})") from None
        store = cls(connection, path)
        try:
            if not read_only:
                store._migrate()
            store._check()
            yield store
        finally:
            connection.close()

    def _version(self) -> int | None:
        tables = {r[0] for r in self.db.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "izbench_meta" not in tables:
            return None if tables else 0
        row = self.db.execute("SELECT value FROM izbench_meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        version = self._version()
        if version is None:
            raise ConfigError(f"{self.path} holds other tables, not an izbench store; use another --store")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            self.db.execute(MIGRATIONS[target])
            self.db.execute("INSERT OR REPLACE INTO izbench_meta VALUES ('schema_version', ?)", [str(target)])

    def _check(self) -> None:
        version = self._version()
        if version is None or version == 0:
            raise ConfigError(f"{self.path} is not an izbench store (no schema version)")
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"{self.path} has schema version {version}, newer than this izbench ({SCHEMA_VERSION}); upgrade izbench"
            )

    # --- writing -------------------------------------------------------------------------

    def run_status(self, run_id: str) -> str | None:
        row = self.db.execute("SELECT status FROM runs WHERE run_id = ?", [run_id]).fetchone()
        return str(row[0]) if row else None

    def start_run(self, key: RunKey, budget: int, commit: str | None) -> None:
        """Begin (or restart) a run: a previous unfinished attempt's rows are replaced."""
        run_id = key.run_id
        blackbox, generator = key.config.get("blackbox", {}), key.config.get("generator", {})
        if self.run_status(run_id) is not None:  # the runs row goes last, so none means no rows
            for table in ("candidates", "predictions", "metrics", "runs"):
                self.db.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])  # noqa: S608
        self.db.execute(
            """INSERT INTO runs (run_id, method, task, seed, budget, config_json, config_hash,
               izbench_version, git_commit, blackbox, blackbox_model, generator_model, status,
               started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)""",
            [
                run_id, key.method, key.task, key.seed, budget,
                json.dumps(key.config, sort_keys=True, default=str), key.config_hash,
                izbench.__version__, commit, blackbox.get("kind"), blackbox.get("model"), generator.get("model"),
                _now(),
            ],
        )  # fmt: skip

    def add_candidates(self, run_id: str, candidates: Sequence[Candidate]) -> None:
        self.insert(
            "candidates",
            [
                [
                    run_id, c.step, c.instruction, c.val_score, list(c.soft_prompt) if c.soft_prompt else None,
                    c.parent, c.new, c.note, c.examples, c.calls, c.acquisition, c.evals, c.tokens,
                ]
                for c in candidates
            ],
            "(run_id, step, instruction, val_score, soft_prompt, parent, is_new, note, examples, calls, acquisition,"
            " evals, tokens)",
        )  # fmt: skip

    def add_predictions(self, run_id: str, split: str, step: int, examples: Sequence[Example], scored: Scored) -> None:
        """One row per example an instruction was scored on (per pull, when it drew examples at
        random: ``example_index`` is then the drawn example's)."""
        indices = range(len(examples)) if scored.examples is None else scored.examples
        rows = zip(indices, examples, scored.predictions, scored.scores, strict=True)
        self.insert("predictions", [[run_id, split, step, i, e.input, p, list(e.answers), s] for i, e, p, s in rows])

    def finish_run(self, cell: CellResult) -> None:
        self.db.execute(
            """UPDATE runs SET status = 'done', ended_at = ?, calls_made = ?, calls_served = ?,
               tokens = ?, cost = ?, proposals = ?, distinct_candidates = ?, best_instruction = ?,
               val_score = ?, test_score = ?, wall_s = ? WHERE run_id = ?""",
            [
                _now(), cell.calls_made, cell.calls_served, cell.tokens, cell.cost, cell.proposals, cell.distinct,
                cell.best_instruction, cell.val_score, cell.test_score, cell.wall_s, cell.run_id,
            ],
        )  # fmt: skip
        self.insert("metrics", [[cell.run_id, k, v] for k, v in sorted(cell.metrics.items())])

    def mark_failed(self, run_id: str) -> None:
        self.db.execute("UPDATE runs SET status = 'failed', ended_at = ? WHERE run_id = ?", [_now(), run_id])

    def put_signal(self, setup: dict[str, Any], seeds: Sequence[int], rows: Sequence[dict[str, Any]]) -> None:
        """Store signal results of one set-up, replacing earlier ones for the same tasks, seeds
        and example count (one transaction: a check is stored whole or not at all)."""
        setup_hash = config_hash(setup)
        seed_text = ",".join(str(s) for s in seeds)
        with self.transaction():
            for r in rows:
                self.db.execute(
                    "DELETE FROM signal WHERE setup_hash = ? AND task = ? AND seeds = ? AND n_examples = ?",
                    [setup_hash, r["task"], seed_text, r["n_examples"]],
                )
                self.db.execute(
                    f"INSERT INTO signal ({', '.join(SIGNAL_COLUMNS)}) VALUES ({', '.join('?' * len(SIGNAL_COLUMNS))})",
                    [
                        setup_hash, json.dumps(setup, sort_keys=True), r["task"], seed_text, r["n_examples"],
                        r["n_references"], r["n_mismatched"], r["reference_mean"], r["empty_mean"],
                        r["mismatched_mean"], r["vs_empty"], r["vs_empty_low"], r["vs_empty_high"],
                        r["vs_mismatched"], r["vs_mismatched_low"], r["vs_mismatched_high"], r["chance"],
                        r["measures"], _now(), r.get("vs_chance"), r.get("vs_chance_low"), r.get("vs_chance_high"),
                    ],
                )  # fmt: skip

    def signal_rows(self) -> list[dict[str, Any]]:
        """Every stored signal result (none in a store written before the signal check existed)."""
        if (self._version() or 0) < 2:
            return []
        return self.query("SELECT * FROM signal ORDER BY setup_hash, task, seeds, n_examples")

    def signal_verdicts(self, setup: dict[str, Any]) -> dict[str, bool]:
        """The newest verdict per task for this set-up (any seeds and example count)."""
        rows = self.query(
            "SELECT task, measures FROM signal WHERE setup_hash = ? ORDER BY created_at",
            [config_hash(setup)],
        )
        return {r["task"]: bool(r["measures"]) for r in rows}

    # --- pools -------------------------------------------------------------------------------

    POOL_TABLES = ("pool_scores", "pool_points", "pool_instructions", "pool_examples", "pools")

    def put_pool(self, pool: PoolData) -> None:
        """Store a built pool whole (one transaction), replacing one of the same identity."""
        pid = pool.pool_id
        with self.transaction():
            for table in self.POOL_TABLES:
                self.db.execute(f"DELETE FROM {table} WHERE pool_id = ?", [pid])  # noqa: S608
            params = pool.params
            self.db.execute(
                "INSERT INTO pools VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    pid, pool.task, json.dumps(pool.identity, sort_keys=True), setup_hash(pool.identity), params.size,
                    params.ape, params.pool_seed, len(pool.instructions), pool.calls_made, pool.calls_served,
                    pool.wall_s, _now(),
                ],
            )  # fmt: skip
            self.insert(
                "pool_examples",
                [
                    [pid, split, k, e.input, list(e.answers), list(e.options)]
                    for split in ("validation", "test")
                    for k, e in enumerate(pool.split_of(split))
                ],
            )
            self.insert("pool_instructions", [[pid, k, text] for k, text in enumerate(pool.instructions)])
            points = [
                [pid, "soft", p, [float(v) for v in pool.soft_z[p]], [float(v) for v in pool.soft_hidden[p]], i]
                for p, i in enumerate(pool.soft_ids)
            ]
            points += [[pid, "ape", p, None, None, i] for p, i in enumerate(pool.ape_ids)]
            points += [[pid, "reference", p, None, None, i] for p, i in enumerate(pool.reference_ids)]
            points += [[pid, "empty", 0, None, None, pool.empty_id]]
            self.insert("pool_points", points)
            self.insert(
                "pool_scores",
                [
                    [pid, i, split, k, prediction, score]
                    for (i, split), (predictions, scores) in sorted(pool.scores.items())
                    for k, (prediction, score) in enumerate(zip(predictions, scores, strict=True))
                ],
            )

    def pools(self) -> list[dict[str, Any]]:
        """One row per stored pool (none in a store written before pools existed)."""
        if (self._version() or 0) < 6:
            return []
        return self.query("SELECT * EXCLUDE (identity_json) FROM pools ORDER BY setup_hash, task")

    def load_pool(self, pid: str) -> PoolData:
        """A stored pool, whole."""
        (row,) = self.query("SELECT * FROM pools WHERE pool_id = ?", [pid])
        examples: dict[str, list[Example]] = {"validation": [], "test": []}
        for r in self.query("SELECT * FROM pool_examples WHERE pool_id = ? ORDER BY split, example_index", [pid]):
            example = Example(input=r["input"], answers=tuple(r["answers"]), options=tuple(r["options"]))
            examples[r["split"]].append(example)
        texts = self.query("SELECT instruction FROM pool_instructions WHERE pool_id = ? ORDER BY instruction_id", [pid])
        instructions = [r["instruction"] for r in texts]
        points = self.query("SELECT * FROM pool_points WHERE pool_id = ? ORDER BY domain, point", [pid])
        soft = [p for p in points if p["domain"] == "soft"]
        scores: dict[tuple[int, str], tuple[list[str], list[float]]] = {}
        rows = self.db.execute(
            "SELECT instruction_id, split, prediction, score FROM pool_scores WHERE pool_id = ? "
            "ORDER BY instruction_id, split, example_index",
            [pid],
        ).fetchall()
        for instruction_id, split, prediction, score in rows:
            predictions, values = scores.setdefault((instruction_id, split), ([], []))
            predictions.append(prediction)
            values.append(score)
        return PoolData(
            task=row["task"],
            identity=json.loads(row["identity_json"]),
            validation=tuple(examples["validation"]),
            test=tuple(examples["test"]),
            instructions=instructions,
            soft_z=np.array([p["z"] for p in soft], dtype=float).reshape(len(soft), -1),
            soft_hidden=np.array([p["hidden"] for p in soft], dtype=np.float32).reshape(len(soft), -1),
            soft_ids=[p["instruction_id"] for p in soft],
            ape_ids=[p["instruction_id"] for p in points if p["domain"] == "ape"],
            reference_ids=[p["instruction_id"] for p in points if p["domain"] == "reference"],
            empty_id=next(p["instruction_id"] for p in points if p["domain"] == "empty"),
            scores={key: (tuple(p), tuple(s)) for key, (p, s) in scores.items()},
            calls_made=row["calls_made"],
            calls_served=row["calls_served"],
            wall_s=row["wall_s"],
        )

    # --- reading -------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.db.execute(sql, list(params))
        names = [d[0] for d in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def load_cell(self, run_id: str) -> CellResult:
        """A finished cell read back from the store."""
        (run,) = self.query("SELECT * FROM runs WHERE run_id = ?", [run_id])
        tests = self.query(
            "SELECT prediction, score FROM predictions WHERE run_id = ? AND split = 'test' ORDER BY example_index",
            [run_id],
        )
        incumbent_rows = self.query(
            "SELECT step, score FROM predictions WHERE run_id = ? AND split = ? ORDER BY step, example_index",
            [run_id, INCUMBENT_SPLIT],
        )
        incumbent_scores: dict[int, list[float]] = {}
        for r in incumbent_rows:
            incumbent_scores.setdefault(r["step"], []).append(r["score"])
        metric_rows = self.query("SELECT name, value FROM metrics WHERE run_id = ?", [run_id])
        metrics = {m["name"]: m["value"] for m in metric_rows}
        rows = self.query("SELECT * FROM candidates WHERE run_id = ? ORDER BY step", [run_id])
        result = MethodResult(
            [
                Candidate(
                    step=r["step"],
                    instruction=r["instruction"],
                    val_score=r["val_score"],
                    val_scores=(),
                    soft_prompt=tuple(r["soft_prompt"]) if r["soft_prompt"] else None,
                    parent=r["parent"],
                    new=r["is_new"],
                    note=r["note"],
                    examples=r["examples"] or 0,
                    calls=r["calls"],
                    evals=r.get("evals"),
                    tokens=r.get("tokens"),
                    acquisition=r.get("acquisition"),
                )
                for r in rows
            ]
        )
        return CellResult(
            method=run["method"],
            task=run["task"],
            seed=run["seed"],
            budget=run["budget"],
            proposals=run["proposals"],
            distinct=run["distinct_candidates"],
            best_instruction=run["best_instruction"],
            val_score=run["val_score"],
            test_score=run["test_score"],
            test_predictions=tuple(t["prediction"] for t in tests),
            calls_made=0,
            calls_served=0,
            wall_s=0.0,
            mean_test_score=metrics.get("mean_test_score"),
            result=result,
            run_id=run_id,
            reused=True,
            test_scores=tuple(t["score"] for t in tests),
            chance=metrics.get("chance"),
            comparison_hash=comparison_hash(json.loads(run["config_json"])),
            blackbox_calls=int(metrics["blackbox_calls"]) if "blackbox_calls" in metrics else None,
            blackbox_tokens=int(metrics["blackbox_tokens"]) if "blackbox_tokens" in metrics else None,
            off_validation_evals=int(metrics["off_validation_evals"]) if "off_validation_evals" in metrics else None,
            tried=int(metrics["tried"]) if "tried" in metrics else None,
            computed_wall_s=run["wall_s"],
            anytime=_anytime(
                result, {k: Scored("", (), tuple(v)).mean for k, v in incumbent_scores.items()}, run["test_score"]
            ),
        )

    def runs(self, status: str | None = "done") -> list[dict[str, Any]]:
        where = "WHERE status = ?" if status else ""
        return self.query(f"SELECT * FROM runs {where} ORDER BY task, method, seed", [status] if status else [])  # noqa: S608


def _anytime(result: MethodResult, test_means: dict[int, float], test_score: float) -> tuple[float, ...]:
    """The stored anytime curve: each incumbent's test mean, or empty when an incumbent was never
    scored on test (a live cell run without ``anytime``). The last point is the run's own test
    score, so the curve ends where the leaderboard's figure is."""
    incumbents = result.incumbents()
    if not incumbents:
        return ()
    means = {**test_means, incumbents[-1].step: test_score}
    if any(c.step not in means for c in incumbents):
        return ()
    return tuple(means[c.step] for c in incumbents)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
