"""The response cache: every model answer izbench gets is stored once and replayed after.

Key = sha256 of canonical JSON of everything that changes an output::

    {"format": CACHE_FORMAT_VERSION, "backend": kind, "model": model_id, "revision": revision,
     "request": <the full request: messages, generation parameters, seed, sample index,
                 soft-prompt bytes>}

and nothing that does not (API keys, base URLs, timeouts live on the backend, not the request).
Values are JSON text, never pickle, and the storage layer refuses any row stored otherwise
(``JSONOnlyDisk``) before reading it, so a cache can be shared and read without trusting its writer.
Eviction is off: a benchmark's cache is its record, not a performance hint.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import diskcache

from izbench.budget import Budget, BudgetExhausted
from izbench.choices import CacheMode
from izbench.errors import BackendError, CacheMissError, ConfigError, IzbenchError
from izbench.hashing import canonical_digest, canonical_json
from izbench.models.base import ModelBackend
from izbench.models.types import Completion, CompletionRequest

CACHE_FORMAT_VERSION = 2
"""Bump when the meaning of a stored entry changes; old entries then simply stop matching."""


def cache_key(backend: ModelBackend, request: CompletionRequest) -> str:
    """The sha256 hex key of one request to one backend."""
    material = {
        "format": CACHE_FORMAT_VERSION,
        "backend": backend.kind,
        "model": backend.model_id,
        "revision": backend.revision,
        "request": request.key_material(),
    }
    return canonical_digest(material)


class CallCounts(NamedTuple):
    """A snapshot of a ``CallStats``: what differences and sums are taken of."""

    served: int = 0
    made: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    work_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __sub__(self, other: tuple[int, ...]) -> CallCounts:  # type: ignore[override]
        return CallCounts(*(a - b for a, b in zip(self, other, strict=True)))


@dataclass
class CallStats:
    """Counts of calls served from the cache vs made to a model, and tokens and dollars spent on
    the latter. ``parent`` counts everything this does as well (a cell's black-box calls are
    also the cell's calls), so counts for one cell stay exact when cells interleave."""

    served: int = 0
    made: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    work_tokens: int = 0
    """Prompt and completion tokens of every call asked for, served or made (a cached answer
    keeps its counts): what the calls cost without a cache, the same on a warm rerun."""
    cost: float = 0.0
    lookups: int = 0
    """Answers read from a pool (counted as served; their tokens unknown)."""
    parent: CallStats | None = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, completion: Completion) -> None:
        with self._lock:
            self.work_tokens += completion.prompt_tokens + completion.completion_tokens
            if completion.cached:
                self.served += 1
            else:
                self.made += 1
                self.prompt_tokens += completion.prompt_tokens
                self.completion_tokens += completion.completion_tokens
        if self.parent is not None:
            self.parent.record(completion)

    def look_up(self, n: int) -> None:
        """Count ``n`` answers read from a pool: served, as from the cache, and never made."""
        with self._lock:
            self.served += n
            self.lookups += n
        if self.parent is not None:
            self.parent.look_up(n)

    def charge(self, dollars: float) -> None:
        """Add what calls cost (their answers are recorded separately; a failed call may cost too)."""
        if dollars:
            with self._lock:
                self.cost += dollars
        if self.parent is not None:
            self.parent.charge(dollars)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def requests(self) -> int:
        """Calls asked for, served or made: what a method costs without a cache."""
        with self._lock:
            return self.served + self.made

    def counts(self) -> CallCounts:
        """A snapshot to take differences of."""
        with self._lock:
            return CallCounts(self.served, self.made, self.prompt_tokens, self.completion_tokens, self.work_tokens)

    def since(self, before: CallCounts) -> CallCounts:
        """The counts added after the snapshot ``before``."""
        return self.counts() - before

    def add(self, counts: CallCounts) -> None:
        """Add counts made elsewhere (a Ray worker's calls) to these."""
        with self._lock:
            self.served += counts.served
            self.made += counts.made
            self.prompt_tokens += counts.prompt_tokens
            self.completion_tokens += counts.completion_tokens
            self.work_tokens += counts.work_tokens

    def so_far(self) -> str:
        """The calls part of a status line while a command runs."""
        return f"calls {self.made} made, {self.served} cached"

    def summary(self) -> str:
        """The line every model-calling command ends with."""
        return (
            f"calls: {self.served} served from cache, {self.made} made; "
            f"tokens spent: {self.tokens} ({self.prompt_tokens} prompt + "
            f"{self.completion_tokens} completion)"
        )


class UnsafeCacheRow(IzbenchError):
    """The cache holds a row izbench did not write: pickled data is never loaded."""


class JSONOnlyDisk(diskcache.Disk):  # type: ignore[misc]
    """diskcache's storage with pickle removed: keys and values are text, and a row stored in
    any other mode (a pickled one, planted by another writer) is refused before it is read, so
    opening a cache someone sent you cannot run their code."""

    def put(self, key: object) -> tuple[object, bool]:
        if not isinstance(key, str):
            raise TypeError(f"cache keys are text, not {type(key).__name__}")
        return super().put(key)  # type: ignore[no-any-return]

    def get(self, key: object, raw: bool) -> object:
        if not raw:
            raise UnsafeCacheRow(self._refusal("a pickled key"))
        return super().get(key, raw)

    def store(self, value: object, read: bool, key: object = diskcache.core.UNKNOWN) -> object:
        if not isinstance(value, str):
            raise TypeError(f"cache values are JSON text, not {type(value).__name__}")
        return super().store(value, read, key=key)

    def fetch(self, mode: int, filename: str | None, value: object, read: bool) -> object:
        if mode not in (diskcache.core.MODE_RAW, diskcache.core.MODE_TEXT):
            raise UnsafeCacheRow(self._refusal("a pickled or binary value"))
        return super().fetch(mode, filename, value, read)

    def _refusal(self, what: str) -> str:
        return (
            f"the response cache at {self._directory} holds {what}, which izbench never writes and never loads; "
            "it was not read: delete that cache (izbench cache clear) or use another --cache-dir"
        )


class ResponseCache:
    """A directory of stored completions, safe to share between processes (diskcache/SQLite)."""

    def __init__(self, directory: Path, mode: CacheMode = CacheMode.USE) -> None:
        self.directory = Path(directory)
        self.mode = CacheMode(mode)
        self._store: diskcache.Cache | None = None

    @property
    def _db(self) -> diskcache.Cache:
        if self._store is None:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise ConfigError(
                    f"the response cache {self.directory} is a file, not a directory; point --cache-dir "
                    "(IZBENCH_CACHE_DIR) at a directory"
                ) from None
            self._store = diskcache.Cache(str(self.directory), eviction_policy="none", timeout=120, disk=JSONOnlyDisk)
        return self._store

    def get_raw(self, key: str) -> str | None:
        """The stored JSON text of ``key``, or None."""
        raw = self._db.get(key)
        if raw is not None and not isinstance(raw, str):
            raise UnsafeCacheRow(f"the response cache at {self.directory} holds a non-text value; it was not used")
        return raw

    def put_raw(self, key: str, raw: str) -> None:
        """Store an entry's JSON text as it is (how a driver writes what its workers computed)."""
        self._db.set(key, raw)

    def get(self, key: str) -> Completion | None:
        """The stored completion for ``key`` (as a fresh copy marked cached), or None."""
        raw = self.get_raw(key)
        if raw is None:
            return None
        entry = json.loads(raw)
        return Completion.model_validate({**entry["completion"], "cached": True})

    def put(self, key: str, backend: ModelBackend, request: CompletionRequest, c: Completion) -> None:
        """Store a successful completion with the request that produced it, as JSON text."""
        entry = {
            "format": CACHE_FORMAT_VERSION,
            "backend": backend.kind,
            "model": backend.model_id,
            "revision": backend.revision,
            "request": request.model_dump(mode="json"),
            "completion": c.model_dump(mode="json", exclude={"cached"}),
        }
        self.put_raw(key, canonical_json(entry))

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every stored entry as a dict, for inspection and statistics."""
        db = self._db
        for key in db.iterkeys():
            raw = db.get(key)
            if raw is not None:
                yield json.loads(raw)

    def __len__(self) -> int:
        return len(self._db)

    def volume(self) -> int:
        """Bytes on disk."""
        return int(self._db.volume())

    def clear(self) -> int:
        """Remove every entry; returns how many there were."""
        return int(self._db.clear())

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


class OverlayCache(ResponseCache):
    """A worker's view of a central cache it must not write: reads the central directory (when
    this machine can see it) and keeps new entries in memory, for the driver to store."""

    def __init__(self, directory: Path, mode: CacheMode = CacheMode.USE) -> None:
        super().__init__(directory, mode)
        self.new: dict[str, str] = {}
        self._sent: set[str] = set()

    def get_raw(self, key: str) -> str | None:
        if key in self.new:
            return self.new[key]
        return super().get_raw(key) if (self.directory / "cache.db").exists() else None

    def put_raw(self, key: str, raw: str) -> None:
        self.new[key] = raw

    def take_new(self) -> dict[str, str]:
        """The entries written since the last call (each handed over once; all stay readable)."""
        fresh = {k: v for k, v in self.new.items() if k not in self._sent}
        self._sent.update(fresh)
        return fresh


class CachedClient:
    """A backend seen through the cache: the only way izbench code calls a model.

    Identical requests in one batch are sent once. Only complete successes are stored; when
    some requests of a batch fail, the successes are stored first and then the first failure
    is raised, so a rerun resumes instead of paying for them again. ``tally`` counts this
    client's answers a second time, for one cell (the black-box calls a method spends).
    """

    def __init__(
        self,
        backend: ModelBackend,
        cache: ResponseCache,
        stats: CallStats,
        budget: Budget | None = None,
        tally: CallStats | None = None,
    ) -> None:
        self.backend = backend
        self.cache = cache
        self.stats = stats
        self.budget = budget
        self.tally = tally

    def complete(self, requests: Sequence[CompletionRequest]) -> list[Completion]:
        mode = self.cache.mode
        keys = [cache_key(self.backend, r) for r in requests]
        found: dict[str, Completion] = {}
        if mode in (CacheMode.USE, CacheMode.REPLAY):
            for key in dict.fromkeys(keys):
                hit = self.cache.get(key)
                if hit is not None:
                    found[key] = hit
        missing = {k: r for k, r in zip(keys, requests, strict=True) if k not in found}
        if missing and mode is CacheMode.REPLAY:
            raise CacheMissError(
                f"--cache-mode replay: {len(missing)} of {len(set(keys))} requests to "
                f"{self.backend.kind}:{self.backend.model_id} are not in the cache at "
                f"{self.cache.directory} (first key {next(iter(missing))[:16]}); "
                "run once with --cache-mode use to record them"
            )
        first_error: BackendError | None = None
        exhausted = False
        dollars = 0.0
        if missing and self.budget is not None:
            allowed = self.budget.reserve(self.backend.kind, list(missing.values()))
            exhausted = allowed < len(missing)
            missing = dict(list(missing.items())[:allowed])
        if missing:
            answers = self.backend.complete(list(missing.values()))
            for key, request, answer in zip(missing, missing.values(), answers, strict=True):
                if self.budget is not None:
                    dollars += self.budget.settle(
                        self.backend.kind, request, None if isinstance(answer, BackendError) else answer
                    )
                if isinstance(answer, BackendError):
                    first_error = first_error or answer
                    continue
                if mode is not CacheMode.OFF:
                    self.cache.put(key, self.backend, request, answer)
                found[key] = answer
        out: list[Completion] = []
        counted: set[str] = set()
        for key in keys:
            if key not in found:
                continue
            completion = found[key]
            if key in counted:
                # A duplicate inside the batch costs nothing: it is served, not made.
                completion = completion.model_copy(update={"cached": True})
            counted.add(key)
            self.stats.record(completion)
            if self.tally is not None:
                self.tally.record(completion)
            out.append(completion)
        for counter in (self.stats, self.tally):
            if counter is not None:
                counter.charge(dollars)
        if first_error is not None:
            raise first_error
        if exhausted:
            assert self.budget is not None
            raise BudgetExhausted(
                f"budget reached ({self.budget.describe()}); every answered call is cached and finished "
                "cells are stored: rerun with a larger budget to resume"
            )
        return out
