"""Shared fixtures: the tiny model (tests of logic) and the real SmolLM2 (tests whose number matters).

Two tiers:
- every test of logic runs on ``tiny_model_dir``, a random-weight transformers directory built
  once per session (``tests/tiny_model.py``) and reached as a user reaches their own model: its
  path as the generator and the black-box model;
- a test that needs what a real model knows, or a number only it produces, asks for
  ``real_model`` (or ``real_backend``/``real_client``) and is marked ``slow`` by that alone, so
  ``make test-fast`` (``-m "not slow"``) never loads it. Tests that start izbench processes on
  the real model carry the mark themselves.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tiny_model import build_tiny_model

from izbench.cache import CachedClient, CacheMode, CallStats, ResponseCache
from izbench.models.catalog import resolve
from izbench.models.local import LocalBackend
from izbench.models.weights import LoadedModel, load_model
from izbench.settings import Settings

REAL_FIXTURES = frozenset({"real_model", "real_backend", "real_client"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that loads the real model is slow, whether or not its author said so."""
    for item in items:
        if REAL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def require(module: str, install: str) -> None:
    """Skip a test whose optional extra is not installed here; in CI, which installs every
    extra, its absence is a failure, never a silent skip."""
    if importlib.util.find_spec(module) is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have {module} ({install}); make test installs it")
        pytest.skip(f"{module} not installed ({install})")


@pytest.fixture
def llamacpp() -> None:
    """The test needs the llamacpp extra (llama-cpp-python and its server)."""
    require("llama_cpp", "pip install 'izbench[llamacpp]'")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-llama")


@pytest.fixture(scope="session")
def loaded_model(tiny_model_dir: Path) -> LoadedModel:
    return load_model(resolve(str(tiny_model_dir)))


@pytest.fixture(scope="session")
def local_backend(loaded_model: LoadedModel) -> LocalBackend:
    return LocalBackend(loaded_model, batch_size=16)


@pytest.fixture(scope="session")
def real_model() -> LoadedModel:
    """SmolLM2-135M-Instruct, the default embedded model (slow tier only)."""
    return load_model()


@pytest.fixture(scope="session")
def real_backend(real_model: LoadedModel) -> LocalBackend:
    return LocalBackend(real_model, batch_size=16)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[ResponseCache]:
    c = ResponseCache(tmp_path / "cache", CacheMode.USE)
    yield c
    c.close()


@pytest.fixture
def local_client(local_backend: LocalBackend, cache: ResponseCache) -> CachedClient:
    return CachedClient(local_backend, cache, CallStats())


@pytest.fixture
def real_client(real_backend: LocalBackend, cache: ResponseCache) -> CachedClient:
    return CachedClient(real_backend, cache, CallStats())


@pytest.fixture
def tiny_settings(tiny_model_dir: Path, tmp_path: Path) -> Settings:
    """Settings of a user whose generator and black box are the tiny model's directory."""
    return Settings(
        generator=str(tiny_model_dir),
        blackbox_model=str(tiny_model_dir),
        cache_dir=tmp_path / "cache",
        store=tmp_path / "izbench.duckdb",
    )


@pytest.fixture
def tiny_env(tiny_model_dir: Path, tmp_path: Path) -> dict[str, str]:
    """The environment of an ``izbench`` process on the tiny model, with its own cache and store."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("IZBENCH_") or k == "IZBENCH_DATA_DIR"}
    return inherited | {
        "IZBENCH_GENERATOR": str(tiny_model_dir),
        "IZBENCH_BLACKBOX_MODEL": str(tiny_model_dir),
        "IZBENCH_CACHE_DIR": str(tmp_path / "cache"),
        "IZBENCH_STORE": str(tmp_path / "izbench.duckdb"),
    }
