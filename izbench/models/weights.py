"""Loading a model's weights for the in-process (transformers) backend, once per identity.

A GGUF (an embedded model or a user's file) is dequantised by transformers, which takes ~20 s
for 135M parameters, so the first load converts it once into safetensors under
``<model_dir>/<gguf sha256>/`` and later loads read that directory. A transformers directory is
read where it is. Loaded models are shared by every caller in the process (generator and
``local`` black box alike) and keyed by content digest, device and dtype.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from izbench.choices import Device, DType
from izbench.errors import ConfigError
from izbench.models.catalog import DEFAULT_MODEL, ModelSource, resolve
from izbench.paths import user_cache_dir

DEVICES = tuple(Device)
DTYPES = tuple(DType)


def _offline() -> None:
    """Nothing in izbench may fetch weights at run time: make the Hugging Face libraries fail
    loudly instead. Set just before they load anything, not at import (importing izbench must
    not change a user's environment)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _quiet() -> None:
    """No progress bars or warnings from transformers: they would interleave with izbench's own
    display, and a converting GGUF would fill a log with a redrawn bar."""
    import transformers

    transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]


def default_model_dir() -> Path:
    """Where converted weights live by default (``Settings.model_dir`` overrides it)."""
    return user_cache_dir("models")


def converted_dir(sha256: str, model_dir: Path | None = None) -> Path:
    """Where the GGUF with this checksum is kept once converted to safetensors."""
    return (model_dir or default_model_dir()) / sha256


def placement(device: str = "auto", dtype: str = "auto") -> tuple[str, str]:
    """The concrete (device, dtype): ``auto`` takes CUDA with bfloat16 where present, else the
    CPU with float32; an explicit device that is absent is one clear error."""
    import torch

    if device not in DEVICES or dtype not in DTYPES:
        raise ConfigError(f"--device {device} --dtype {dtype}: choose from {'|'.join(DEVICES)} and {'|'.join(DTYPES)}")
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if device == "auto":
        device = "cuda" if cuda else "cpu"
    if (device == "cuda" and not cuda) or (device == "mps" and not mps):
        raise ConfigError(f"--device {device}: no such device on this machine; use --device cpu or auto")
    if dtype == "auto":
        dtype = "bfloat16" if device == "cuda" else "float32"
    return device, dtype


@dataclass
class LoadedModel:
    """A transformers model and tokenizer, loaded once and shared by generator and black box."""

    model: Any
    tokenizer: Any
    info: ModelSource
    lock: threading.Lock
    """Held around every forward pass: one model, many callers."""
    device: str = "cpu"
    dtype: str = "float32"


_loaded: dict[tuple[str, str, str], LoadedModel] = {}
_load_lock = threading.Lock()


def _convert(info: ModelSource, target: Path) -> None:
    """Dequantise the GGUF with transformers once and save it as safetensors in ``target``."""
    _offline()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet()
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    tokenizer = AutoTokenizer.from_pretrained(str(info.path.parent), gguf_file=info.path.name)
    model = AutoModelForCausalLM.from_pretrained(str(info.path.parent), gguf_file=info.path.name, dtype="float32")
    # The tensors are already plain fp32 (transformers dequantised them); only the GGUF
    # "quantizer" bookkeeping blocks saving, so drop it and save an ordinary checkpoint.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    (tmp / "izbench-source.json").write_text(json.dumps({"gguf": str(info.path), "sha256": info.digest}, indent=2))
    # Rename last so a half-written conversion is never mistaken for a finished one.
    try:
        tmp.rename(target)
    except OSError:
        if not target.exists():
            raise


def weights_dir(info: ModelSource, model_dir: Path | None = None, convert: bool = True) -> Path | None:
    """The transformers directory of the weights (converting a GGUF on first use), or None when
    ``convert`` is off and no converted copy exists yet."""
    if info.kind == "directory":
        return info.path
    target = converted_dir(info.digest, model_dir)
    if not (target / "izbench-source.json").is_file():
        if not convert:
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        _convert(info, target)
    return target


def hidden_size(info: ModelSource, model_dir: Path | None = None) -> int | None:
    """The model's hidden size from its config, without loading weights (None if not converted yet)."""
    where = weights_dir(info, model_dir, convert=False)
    if where is None:
        return None
    config = json.loads((where / "config.json").read_text())
    return int(config.get("hidden_size") or config["text_config"]["hidden_size"])


def load_tokenizer(info: ModelSource | None = None, model_dir: Path | None = None) -> Any:
    """The model's tokenizer alone: from its transformers directory when there is one (the copy
    the local backend reads), else straight from the GGUF (no conversion, no weights)."""
    _offline()
    from transformers import AutoTokenizer

    info = info or resolve(DEFAULT_MODEL)
    where = weights_dir(info, model_dir, convert=False)
    if where is not None:
        return AutoTokenizer.from_pretrained(str(where))
    return AutoTokenizer.from_pretrained(str(info.path.parent), gguf_file=info.path.name)


def load_model(
    info: ModelSource | None = None, model_dir: Path | None = None, device: str = "cpu", dtype: str = "float32"
) -> LoadedModel:
    """The shared model for these weights, device and dtype. Thread-safe; loads each at most once."""
    info = info or resolve(DEFAULT_MODEL)
    key = (info.digest, device, dtype)
    with _load_lock:
        if key in _loaded:
            return _loaded[key]
        _offline()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        _quiet()
        where = weights_dir(info, model_dir)
        assert where is not None
        tokenizer = AutoTokenizer.from_pretrained(str(where))
        tokenizer.padding_side = "left"
        model = AutoModelForCausalLM.from_pretrained(str(where), dtype=getattr(torch, dtype))
        model.to(device)  # type: ignore[arg-type]
        model.eval()  # type: ignore[no-untyped-call]
        _loaded[key] = LoadedModel(model, tokenizer, info, threading.Lock(), device, dtype)
        return _loaded[key]
