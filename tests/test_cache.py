"""The response cache: keys, modes, counts and concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from izbench.cache import CachedClient, CacheMode, CallStats, ResponseCache, cache_key
from izbench.errors import CacheMissError
from izbench.models.local import LocalBackend
from izbench.models.types import Completion, CompletionRequest, SoftPrompt


@dataclass
class Identity:
    """A backend's identity as the cache sees it (the key never depends on anything else)."""

    kind: str = "local"
    model_id: str = "m"
    revision: str = "r1"


BASE = CompletionRequest.user("hello", max_tokens=8)


def _key(identity: Identity | None = None, request: CompletionRequest = BASE) -> str:
    return cache_key(identity or Identity(), request)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changed",
    [
        {"identity": Identity(kind="openai")},
        {"identity": Identity(model_id="other")},
        {"identity": Identity(revision="r2")},
        {"request": BASE.model_copy(update={"max_tokens": 9})},
        {"request": BASE.model_copy(update={"temperature": 0.5})},
        {"request": BASE.model_copy(update={"top_p": 0.9})},
        {"request": BASE.model_copy(update={"seed": 1})},
        {"request": BASE.model_copy(update={"sample_index": 1})},
        {"request": BASE.model_copy(update={"stop": ("\n",)})},
        {"request": CompletionRequest.user("hello!", max_tokens=8)},
        {"request": BASE.model_copy(update={"soft_prompt": SoftPrompt.from_tensor(torch.zeros(1, 2))})},
        {"request": BASE.model_copy(update={"hidden_state": True})},
    ],
)
def test_anything_that_changes_an_output_changes_the_key(changed: dict[str, object]) -> None:
    assert _key(**changed) != _key()  # type: ignore[arg-type]


def test_a_field_added_later_keeps_older_keys_at_its_default() -> None:
    # The key of BASE as computed before `hidden_state` existed (izbench at 62c1013).
    assert _key() == "e44875a64195aab1feca9146acfd7f4806ae6d169033530553fc7f4e58c59595"


def test_one_soft_prompt_bit_changes_the_key() -> None:
    values = torch.zeros(2, 3)
    nudged = values.clone()
    nudged[1, 2] = torch.nextafter(torch.tensor(0.0), torch.tensor(1.0))
    a = BASE.model_copy(update={"soft_prompt": SoftPrompt.from_tensor(values)})
    b = BASE.model_copy(update={"soft_prompt": SoftPrompt.from_tensor(nudged)})
    assert _key(request=a) != _key(request=b)


def test_key_ignores_how_the_backend_is_reached() -> None:
    from izbench.models.openai_backend import OpenAIBackend

    a = OpenAIBackend("http://127.0.0.1:1/v1", "gpt-x", api_key="k1", timeout_s=1)
    b = OpenAIBackend("http://127.0.0.1:1/v1", "gpt-x", api_key="k2", timeout_s=99)
    assert cache_key(a, BASE) == cache_key(b, BASE)
    # Another endpoint is another model unless a revision says they serve the same one.
    c = OpenAIBackend("http://127.0.0.1:2/v1", "gpt-x", api_key="k1", revision="gpt-x-0613")
    d = OpenAIBackend("http://127.0.0.1:3/v1", "gpt-x", api_key="k2", revision="gpt-x-0613")
    assert cache_key(a, BASE) != cache_key(c, BASE) and cache_key(c, BASE) == cache_key(d, BASE)


def test_second_identical_call_is_a_hit(local_backend: LocalBackend, cache: ResponseCache) -> None:
    stats = CallStats()
    client = CachedClient(local_backend, cache, stats)
    first = client.complete([BASE])[0]
    before = stats.counts()
    second = client.complete([BASE])[0]
    assert (stats.made, stats.served) == (1, 1)
    assert stats.tokens == first.prompt_tokens + first.completion_tokens
    assert second.cached and not first.cached
    assert second.text == first.text
    work = first.prompt_tokens + first.completion_tokens  # a hit costs its tokens as work, not as spend
    assert stats.since(before) == (1, 0, 0, 0, work)  # the hit, and no tokens spent on it
    elsewhere = CallStats()
    elsewhere.add(stats.counts())
    elsewhere.add(stats.since(before))
    assert elsewhere.counts() == (2, 1, first.prompt_tokens, first.completion_tokens, 3 * work)


def test_duplicates_in_a_batch_are_sent_once(local_backend: LocalBackend, cache: ResponseCache) -> None:
    stats = CallStats()
    out = CachedClient(local_backend, cache, stats).complete([BASE, BASE, BASE])
    assert len(out) == 3 and len({c.text for c in out}) == 1
    assert (stats.made, stats.served) == (1, 2)


def test_changed_parameters_miss(local_backend: LocalBackend, cache: ResponseCache) -> None:
    stats = CallStats()
    client = CachedClient(local_backend, cache, stats)
    client.complete([BASE])
    client.complete([BASE.model_copy(update={"max_tokens": 4})])
    client.complete([BASE.model_copy(update={"temperature": 0.7, "seed": 3})])
    client.complete([BASE.model_copy(update={"temperature": 0.7, "seed": 3, "sample_index": 1})])
    assert (stats.made, stats.served) == (4, 0)


def test_replay_miss_is_a_clear_error(local_backend: LocalBackend, tmp_path: Path) -> None:
    recorder = ResponseCache(tmp_path / "c", CacheMode.USE)
    CachedClient(local_backend, recorder, CallStats()).complete([BASE])
    recorder.close()
    replay = ResponseCache(tmp_path / "c", CacheMode.REPLAY)
    stats = CallStats()
    client = CachedClient(local_backend, replay, stats)
    assert client.complete([BASE])[0].cached
    with pytest.raises(CacheMissError, match="replay: 1 of 1 requests .* not in the cache"):
        client.complete([CompletionRequest.user("never asked", max_tokens=8)])
    assert stats.made == 0


def test_refresh_recomputes_and_off_stores_nothing(local_backend: LocalBackend, tmp_path: Path) -> None:
    use = ResponseCache(tmp_path / "c", CacheMode.USE)
    CachedClient(local_backend, use, CallStats()).complete([BASE])
    use.close()
    stats = CallStats()
    CachedClient(local_backend, ResponseCache(tmp_path / "c", CacheMode.REFRESH), stats).complete([BASE])
    assert stats.made == 1
    off = ResponseCache(tmp_path / "off", CacheMode.OFF)
    CachedClient(local_backend, off, CallStats()).complete([BASE])
    assert len(off) == 0


def test_entries_are_json_with_the_request(local_backend: LocalBackend, cache: ResponseCache) -> None:
    CachedClient(local_backend, cache, CallStats()).complete([BASE])
    (entry,) = list(cache.entries())
    assert entry["request"]["messages"][0]["content"] == "hello"
    assert entry["backend"] == "local" and "cached" not in entry["completion"]
    # Stored as text, not pickle: the raw value in SQLite parses as JSON.
    raw = cache._db.get(cache_key(local_backend, BASE))
    assert isinstance(raw, str) and json.loads(raw)["completion"]["text"] == entry["completion"]["text"]


def _writer(directory: str, worker: int, count: int) -> None:
    cache = ResponseCache(Path(directory))
    identity = Identity(model_id=f"w{worker}")
    for i in range(count):
        request = CompletionRequest.user(f"prompt {i}")
        done = Completion(
            text=f"{worker}:{i}",
            finish_reason="stop",
            prompt_tokens=1,
            completion_tokens=1,
            latency_s=0.0,
        )
        cache.put(cache_key(identity, request), identity, request, done)  # type: ignore[arg-type]
    cache.close()


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path / "c"), w, 150)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    cache = ResponseCache(tmp_path / "c")
    texts = {e["completion"]["text"] for e in cache.entries()}
    assert len(cache) == 300
    assert texts == {f"{w}:{i}" for w in range(2) for i in range(150)}


def test_a_planted_pickled_row_is_refused_and_runs_no_code(tmp_path: Path) -> None:
    """diskcache unpickles rows stored in pickle mode; izbench's storage refuses them unread."""
    import diskcache

    from izbench.cache import UnsafeCacheRow

    marker = tmp_path / "pwned"
    cache = ResponseCache(tmp_path / "c", CacheMode.USE)
    cache.put_raw("good", '{"x": 1}')
    cache.close()
    planted = diskcache.Cache(str(tmp_path / "c"))  # an ordinary diskcache writer, pickle and all
    planted.set("evil", _Exploit(str(marker)))
    planted.set(("tuple", "key"), "text")
    planted.close()
    reopened = ResponseCache(tmp_path / "c", CacheMode.USE)
    assert reopened.get_raw("good") == '{"x": 1}'
    with pytest.raises(UnsafeCacheRow, match="never loads"):
        reopened.get_raw("evil")
    with pytest.raises(UnsafeCacheRow, match="never loads"):
        list(reopened.entries())
    reopened.close()
    assert not marker.exists()


class _Exploit:
    """Unpickling this writes a file: the code a malicious cache would run."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (Path(self.path),))


def test_importing_izbench_leaves_the_environment_alone() -> None:
    import subprocess
    import sys

    code = (
        "import os; import izbench.cli, izbench.models.weights, izbench.models.local; "
        "assert 'HF_HUB_OFFLINE' not in os.environ and 'TRANSFORMERS_OFFLINE' not in os.environ"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-500:]
