"""Generated ``core`` task data kept on disk, so a replay reads it instead of rebuilding it.

Building the 13 core tasks from WordNet, wordfreq, inflect and the CMU dictionary takes
seconds, a quarter of a warm replay. The data is a pure function of the task file's generator
fields, the generator code and tables, and the data packages' versions, so all of those are
the key: a change to any of them builds afresh, and a stale file is never read.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from functools import cache
from importlib import metadata
from pathlib import Path

from izbench.hashing import canonical_digest
from izbench.paths import user_cache_dir
from izbench.tasks import core
from izbench.tasks.spec import TaskSpec
from izbench.tasks.types import TaskData

DATA_FORMAT = 1
"""Bump when the stored layout or the draw from a universe changes."""
PACKAGES = ("inflect", "nltk", "num2words", "pronouncing", "wordfreq")


def data_cache_dir() -> Path:
    """The default folder of generated data (``Settings.data_cache`` overrides it)."""
    return user_cache_dir("tasks")


@cache
def _code_fingerprint() -> str:
    """Hash of the generator code, its tables, the data packages and the WordNet files' sizes."""
    digest = hashlib.sha256()
    for path in [Path(core.__file__), *sorted(core.TABLES_DIR.glob("*"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for name in PACKAGES:
        try:
            digest.update(f"{name}={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}=absent".encode())
    if core.wordnet_available():
        for path in sorted(core.WORDNET_DIR.glob("data.*")):
            digest.update(f"{path.name}:{path.stat().st_size}".encode())
    return digest.hexdigest()


def key_of(spec: TaskSpec) -> str:
    """Everything the drawn data depends on, hashed."""
    fields = {
        "format": DATA_FORMAT,
        "name": spec.name,
        "generator": spec.generator,
        "generator_seed": spec.generator_seed,
        "induce_size": spec.induce_size,
        "execute_size": spec.execute_size,
        "code": _code_fingerprint(),
    }
    return canonical_digest(fields)


def load_or_build(spec: TaskSpec, build: Callable[[], TaskData], directory: Path | None = None) -> TaskData:
    """The stored data for ``spec``, or ``build()`` stored atomically for next time."""
    folder = directory or data_cache_dir()
    path = folder / f"{spec.name}-{key_of(spec)[:24]}.json"
    if path.is_file():
        try:
            return TaskData.model_validate_json(path.read_bytes())
        except ValueError:
            pass  # torn or foreign file: rebuild and overwrite it
    data = build()
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial.write_text(data.model_dump_json(), encoding="utf-8")
        os.replace(partial, path)  # readers see the whole file or none
    except OSError:
        partial.unlink(missing_ok=True)  # a read-only cache only costs the rebuild next time
    return data
