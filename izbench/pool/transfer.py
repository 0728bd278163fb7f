"""One file per set of pools: export from a store, import into another, nothing half-imported.

The file is a zip holding ``manifest.json`` and one parquet part per pool table (``pools``,
``pool_examples``, ``pool_instructions``, ``pool_points``, ``pool_scores``): plain tables any
parquet reader opens. The manifest names the format, each pool's task and the digest of the
task's data, its models and their revisions and its score set-up, and the sha256 of every part.
An import checks every part against the manifest and every task's data against the registry of
the machine it lands on (a pool scored on other examples would be another identity), then writes
all pools in one transaction.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import izbench
from izbench.errors import ConfigError
from izbench.hashing import file_sha256
from izbench.pool.data import POOL_FORMAT, setup_hash
from izbench.store import ResultStore
from izbench.tasks.registry import TaskRegistry

TABLES = ("pools", "pool_examples", "pool_instructions", "pool_points", "pool_scores")
MANIFEST = "manifest.json"


def export_pools(store: ResultStore, pool_ids: list[str], target: Path) -> dict[str, Any]:
    """Write the pools ``pool_ids`` into ``target``; returns the manifest."""
    if not pool_ids:
        raise ConfigError(f"the store {store.path} holds no pool to export; build one with `izbench pool build`")
    rows = store.query(
        f"SELECT pool_id, task, identity_json FROM pools WHERE pool_id IN ({', '.join('?' * len(pool_ids))})",  # noqa: S608
        pool_ids,
    )
    manifest: dict[str, Any] = {
        "format": POOL_FORMAT,
        "izbench": izbench.__version__,
        "pools": [
            {
                "pool_id": r["pool_id"],
                "task": r["task"],
                "setup_hash": setup_hash(json.loads(r["identity_json"])),
                **_summary(json.loads(r["identity_json"])),
            }
            for r in rows
        ],
        "parts": {},
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for table in TABLES:
            part = Path(tmp) / f"{table}.parquet"
            # The relation API takes the path as a value, never as SQL text.
            relation = (
                store.db.cursor()
                .table(table)
                .filter(f"pool_id IN ({', '.join(repr(p) for p in pool_ids if p.isalnum())})")
            )
            relation.order("ALL").write_parquet(str(part), compression="zstd")
            manifest["parts"][f"{table}.parquet"] = file_sha256(part)
        partial = target.with_name(target.name + ".partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
            for name in manifest["parts"]:
                archive.write(Path(tmp) / name, name)
        partial.replace(target)  # a file that exists is whole
    return manifest


def _summary(identity: dict[str, Any]) -> dict[str, Any]:
    """What the manifest says of a pool: its task's data digest, its models, its score set-up."""
    setup = identity["setup"]
    return {
        "task_data": identity["task"]["data"],
        "generator": setup["generator"],
        "blackbox": setup["blackbox"],
        "score_setup": {k: v for k, v in setup.items() if k not in ("generator", "blackbox", "pool")},
        "pool": setup["pool"],
    }


def read_manifest(source: Path) -> dict[str, Any]:
    """The manifest of a pool file, or one line saying it is not one."""
    _require_file(source)
    try:
        with zipfile.ZipFile(source) as archive:
            manifest: dict[str, Any] = json.loads(archive.read(MANIFEST))
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as error:
        raise ConfigError(f"{source} is not an izbench pool file ({error})") from None
    return manifest


def _require_file(source: Path) -> None:
    """A missing pool file is one line saying how to make one."""
    if not source.is_file():
        raise ConfigError(
            f"no pool file at {source}: build the pools (izbench pool build), then write them there"
            f" (izbench pool export {source})"
        )


def import_pools(store: ResultStore, source: Path, registry: TaskRegistry) -> dict[str, Any]:
    """Check ``source`` whole, then write every pool in it into ``store`` in one transaction;
    returns the manifest. Any mismatch is one line, and nothing is written."""
    _require_file(source)
    try:
        archive = zipfile.ZipFile(source)
    except (OSError, zipfile.BadZipFile) as error:
        raise ConfigError(f"{source} is not an izbench pool file ({error})") from None
    with archive, tempfile.TemporaryDirectory() as tmp:
        try:
            manifest = json.loads(archive.read(MANIFEST))
        except (KeyError, ValueError) as error:
            raise ConfigError(f"{source} has no readable {MANIFEST} ({error}): not an izbench pool file") from None
        if manifest.get("format") != POOL_FORMAT:
            found = manifest.get("format")
            raise ConfigError(f"{source} holds pools of format {found}; this izbench reads format {POOL_FORMAT}")
        for name, expected in manifest["parts"].items():
            try:
                path = Path(archive.extract(name, tmp))
            except KeyError:
                raise ConfigError(f"{source} lacks its part {name}; the file is incomplete") from None
            if file_sha256(path) != expected:
                raise ConfigError(f"{source}: part {name} does not match its sha256 in the manifest; refused")
        for pool in manifest["pools"]:
            _check_task(registry, pool, source)
        ids = [p["pool_id"] for p in manifest["pools"]]
        store.db.begin()
        try:
            for table in TABLES:
                store.db.execute(
                    f"DELETE FROM {table} WHERE pool_id IN ({', '.join('?' * len(ids))})",  # noqa: S608
                    ids,
                )
                store.db.read_parquet(str(Path(tmp) / f"{table}.parquet")).insert_into(table)
            store.db.commit()
        except BaseException:
            store.db.rollback()
            raise
    return dict(manifest)


def _check_task(registry: TaskRegistry, pool: dict[str, Any], source: Path) -> None:
    """A pool lands only where its task's examples are the ones it was scored on."""
    task = pool["task"]
    try:
        spec = registry.get(task)
    except ConfigError:
        raise ConfigError(f"{source}: task {task} is not in this registry; add its task file first") from None
    available = registry.availability(spec)
    if not available.available:
        raise ConfigError(f"{source}: task {task} has no data here ({available.hint}); nothing was imported")
    here = registry.digest(spec.key)
    if here != pool["task_data"]:
        raise ConfigError(
            f"{source}: task {task}'s data here (digest {here[:12]}) is not what the pool was scored on "
            f"({pool['task_data'][:12]}); nothing was imported"
        )
