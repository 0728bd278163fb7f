"""One canonical JSON form and its digest: what cache keys, config hashes and data digests share.

Equal values always give equal bytes (sorted keys, no whitespace, UTF-8 text as is), so a
digest identifies a value across processes, machines and Python versions.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace; values JSON cannot hold are refused, not guessed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_digest(value: Any) -> str:
    """The sha256 hex digest of ``value``'s canonical JSON."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def config_hash(config: dict[str, Any]) -> str:
    """A short, stable hash of a resolved configuration (canonical JSON)."""
    return canonical_digest(config)[:16]


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
