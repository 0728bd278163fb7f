"""Shared fixtures: the real embedded model (loaded once per session) and a fresh cache per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from izbench.cache import CachedClient, CacheMode, CallStats, ResponseCache
from izbench.models.local import LocalBackend
from izbench.models.weights import LoadedModel, load_model


@pytest.fixture(scope="session")
def loaded_model() -> LoadedModel:
    return load_model()


@pytest.fixture(scope="session")
def local_backend(loaded_model: LoadedModel) -> LocalBackend:
    return LocalBackend(loaded_model, batch_size=16)


@pytest.fixture
def cache(tmp_path: Path) -> ResponseCache:
    c = ResponseCache(tmp_path / "cache", CacheMode.USE)
    yield c  # type: ignore[misc]
    c.close()


@pytest.fixture
def local_client(local_backend: LocalBackend, cache: ResponseCache) -> CachedClient:
    return CachedClient(local_backend, cache, CallStats())
