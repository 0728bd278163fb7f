"""The ``llamacpp`` backend: izbench's own OpenAI-compatible server for the embedded GGUF.

izbench starts ``python -m llama_cpp.server`` on 127.0.0.1 and a free port, waits until it
answers, talks to it with the same :class:`OpenAIBackend` a remote API gets, and stops it on
close, at interpreter exit, on Ctrl-C and on errors. The child also asks the kernel to kill it
if izbench dies (``PR_SET_PDEATHSIG``), so even a SIGKILL leaves no orphan server behind.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import importlib.metadata
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from izbench.errors import BackendError, ConfigError
from izbench.models.catalog import DEFAULT_MODEL, ModelSource, resolve
from izbench.models.openai_backend import OpenAIBackend
from izbench.models.types import Completion, CompletionRequest
from izbench.models.weights import load_tokenizer

_PR_SET_PDEATHSIG = 1
MISSING = (
    "the llamacpp backend needs llama-cpp-python, an optional extra that builds llama.cpp from source "
    "(about 10 minutes on 2 cores): pip install 'izbench[llamacpp]', or use --blackbox local"
)


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it when the parent process dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaCppServer:
    """A ``llama_cpp.server`` child process serving one GGUF on 127.0.0.1."""

    def __init__(
        self,
        model_path: Path,
        *,
        alias: str,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        startup_timeout_s: float = 120.0,
    ) -> None:
        self.model_path = model_path
        self.alias = alias
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.startup_timeout_s = startup_timeout_s
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: tempfile._TemporaryFileWrapper[bytes] | None = None
        self._proc_returncode: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        """Start the server and block until ``/v1/models`` answers (or raise BackendError)."""
        if self._proc is not None:
            return
        self.port = free_port()
        # Lives as long as the server; closed in stop().
        self._log = tempfile.NamedTemporaryFile(prefix="izbench-llamacpp-", suffix=".log")  # noqa: SIM115
        cmd = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", self.alias,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads),
            "--n_threads_batch", str(self.n_threads),
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            cmd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only sets the death signal
        )
        atexit.register(self.stop)
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = self._log_tail()
                self.stop()
                code = self._proc_returncode
                raise BackendError(f"llama_cpp.server exited with code {code} while starting: {tail}")
            if self.healthy():
                return
            time.sleep(0.2)
        self.stop()
        raise BackendError(
            f"llama_cpp.server did not answer within {self.startup_timeout_s:.0f} s on port "
            f"{self.port}; see if the machine is overloaded"
        )

    def healthy(self) -> bool:
        """True when the server answers ``GET /v1/models``."""
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        text = Path(self._log.name).read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-3:])[:400]

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def stop(self) -> None:
        """Terminate the server (kill it if it ignores SIGTERM for 10 s). Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            self._proc_returncode = proc.returncode
        if self._log is not None:
            self._log.close()
            self._log = None
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)


class LlamaCppBackend(OpenAIBackend):
    """The embedded GGUF behind a local llama.cpp server, spoken to as any OpenAI endpoint."""

    def __init__(self, info: ModelSource | None = None, *, concurrency: int = 1, model_dir: Path | None = None) -> None:
        info = info or resolve(DEFAULT_MODEL)
        if info.kind != "gguf":
            raise ConfigError(
                f"the llamacpp backend serves GGUF files; {info.path} is a transformers directory "
                "(use --blackbox local)"
            )
        self._info = info
        self._model_dir = model_dir
        # Started by the first call, not here: the backend's identity (its revision) comes from
        # the weights, so a run served entirely from the cache never starts a server.
        try:
            version = importlib.metadata.version("llama-cpp-python")
        except importlib.metadata.PackageNotFoundError:
            raise ConfigError(MISSING) from None
        self.server = LlamaCppServer(info.path, alias=info.model_id)
        super().__init__(
            "http://127.0.0.1/v1",  # replaced by the server's address once it is started
            info.model_id,
            kind="llamacpp",
            revision=f"{info.revision};llama-cpp-python-{version}",
            # llama_cpp.server answers one request at a time; more threads only queue.
            concurrency=concurrency,
        )

    @property
    def chat_template(self) -> bool:
        """Whether the GGUF has a chat template (a base model takes raw prompts only)."""
        return self._info.chat_template

    def start(self) -> None:
        """Start the server (once) and point the client at it."""
        if self.server.pid is None:
            self.server.start()
            self.base_url = self.server.base_url
            super().close()  # a client made before now would point at no server

    def complete(self, requests: Sequence[CompletionRequest]) -> list[Completion | BackendError]:
        if any(r.protocol == "chat" for r in requests):
            self._info.require_chat_template()
        self.start()
        return super().complete(requests)

    @functools.cached_property
    def _tokenizer(self) -> Any:
        """The model's own tokenizer (chat template, BOS), the one the local backend uses."""
        return load_tokenizer(self._info, self._model_dir)

    def prompt_text(self, request: CompletionRequest) -> str:
        """A prompt as text, chat-formatted the way the local backend formats it (for scoring,
        which goes through ``/v1/completions`` and so needs the template applied here)."""
        if request.protocol == "raw":
            return request.raw_text
        self._info.require_chat_template()
        messages = [m.model_dump() for m in request.messages]
        return str(self._tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))

    def close(self) -> None:
        super().close()
        self.server.stop()
