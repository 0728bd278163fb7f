"""Instruction Induction (Honovich et al., 2022): reading the upstream files, and fetching them.

Upstream layout (``data/`` of the repository, pinned below): ``raw/induce/<task>.json`` (the pool
demos and validation come from), ``raw/execute/<task>.json`` (the test set) and
``annotations/<task>.json`` (human-written instructions). Each raw file is
``{"metadata": {"num_examples": N}, "examples": {"1": {...}, ...}}``.
The data is never committed: it is read from a directory or fetched with a checksum per file.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.request import urlopen

from izbench.errors import ConfigError
from izbench.seeding import rng_for
from izbench.tasks.spec import InputBuilder, TaskSpec
from izbench.tasks.types import Example, TaskData

UPSTREAM_BASE = "https://raw.githubusercontent.com"
FETCH_HINT = "izbench data fetch instruction-induction (or set --data-dir / IZBENCH_DATA_DIR)"


@cache
def manifest() -> dict[str, Any]:
    """The pinned upstream commit and the sha256 of every file izbench reads."""
    text = files("izbench.tasks").joinpath("instruction_induction_files.json").read_text()
    result: dict[str, Any] = json.loads(text)
    return result


def has_task(data_dir: Path | None, name: str) -> bool:
    """Whether both raw files of the task are in ``data_dir``."""
    if data_dir is None:
        return False
    return all((data_dir / "raw" / sub / f"{name}.json").is_file() for sub in ("induce", "execute"))


def _answers(record: dict[str, Any], fields: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for field in fields:
        value = record.get(field)
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            out.extend(str(v) for v in value)
    return tuple(dict.fromkeys(out))


def _input(spec: TaskSpec, record: dict[str, Any], key: str) -> str:
    if spec.input_builder is InputBuilder.CAUSE_EFFECT:
        cause, effect = record["cause"], record["effect"]
        # Upstream draws the order with the global RNG; a per-example seed keeps it fixed.
        if rng_for("cause_effect", spec.name, key).random() < 0.5:
            return f"Sentence 1: {cause} Sentence 2: {effect}"
        return f"Sentence 1: {effect} Sentence 2: {cause}"
    if spec.input_builder is InputBuilder.ITEMS_BUT_LAST:
        return ", ".join(record["items"][:-1])
    return str(record[spec.input_field])


def _read_split(path: Path, spec: TaskSpec) -> tuple[Example, ...]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        examples = raw["examples"]
        out = []
        for key in sorted(examples, key=int):
            record = examples[key]
            answers = _answers(record, spec.answer_fields)
            if not answers:
                raise KeyError(f"example {key} has none of {list(spec.answer_fields)}")
            out.append(Example(input=_input(spec, record, key), answers=answers))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{path}: not an Instruction Induction task file ({error}); re-fetch it") from None
    return tuple(out)


def load(spec: TaskSpec, data_dir: Path | None) -> TaskData:
    """The task's induce and execute examples and its human annotations."""
    if data_dir is None:
        raise ConfigError(f"task {spec.name} needs the Instruction Induction data; run {FETCH_HINT}")
    if not data_dir.is_dir():
        raise ConfigError(f"data directory {data_dir} does not exist; run {FETCH_HINT}")
    if not has_task(data_dir, spec.name):
        raise ConfigError(f"{data_dir} has no raw/induce|execute/{spec.name}.json; run {FETCH_HINT}")
    annotations: tuple[str, ...] = ()
    annotation_file = data_dir / "annotations" / f"{spec.name}.json"
    if annotation_file.is_file():
        annotations = tuple(json.loads(annotation_file.read_text(encoding="utf-8"))["annotations"])
    return TaskData(
        induce=_read_split(data_dir / "raw" / "induce" / f"{spec.name}.json", spec),
        execute=_read_split(data_dir / "raw" / "execute" / f"{spec.name}.json", spec),
        annotations=annotations,
    )


def fetch(dest: Path, base_url: str = UPSTREAM_BASE, timeout_s: float = 60.0) -> list[str]:
    """Download every pinned file into ``dest``, checking each sha256; returns the files written.

    Files already present with the right checksum are kept. A file whose checksum does not match
    is refused (never written), so ``dest`` only ever holds verified upstream bytes.
    """
    info = manifest()
    prefix = f"{base_url.rstrip('/')}/{info['repository']}/{info['commit']}/{info['upstream_prefix']}"
    written: list[str] = []
    for relative, expected in info["files"].items():
        target = dest / relative
        if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == expected:
            continue
        url = f"{prefix}/{relative}"
        try:
            with urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - https or a given URL
                content = response.read()
        except (URLError, OSError) as error:
            raise ConfigError(f"could not download {url}: {error}; check the network or --base-url") from None
        actual = hashlib.sha256(content).hexdigest()
        if actual != expected:
            raise ConfigError(
                f"{relative}: sha256 {actual[:12]}... does not match the pinned "
                f"{expected[:12]}...; "
                "refusing it (the source is not the pinned upstream commit)"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".json.part")
        partial.write_bytes(content)
        partial.replace(target)
        written.append(relative)
    return written
