"""``--config FILE``: a TOML file holding settings (top level) and compare arguments (``[compare]``).

Precedence, highest first: flags, ``IZBENCH_*`` environment variables, the file, defaults. The
file only supplies values; every cell still records its resolved configuration in the store.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from izbench.errors import ConfigError
from izbench.settings import Settings

COMPARE_KEYS = (
    "tasks", "methods", "seeds", "profile", "budget", "n_validation", "n_test", "scale", "domain", "pool_file",
    "pool_setup",
)  # fmt: skip
"""Compare arguments a file may set (the scoring ones are settings: top level)."""


def _as_flag_value(value: Any) -> Any:
    """A TOML list as the comma list the flag takes (``methods = ["ape", "uniform"]``)."""
    return ",".join(str(v) for v in value) if isinstance(value, list) else value


def load_config_file(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings the environment does not already set, compare defaults) from ``path``."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--config {path}: no such file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"--config {path}: not valid TOML ({error})") from None
    compare = data.pop("compare", {})
    if not isinstance(compare, dict):
        raise ConfigError(f"--config {path}: [compare] must be a table")
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        raise ConfigError(f"--config {path}: unknown setting(s) {', '.join(unknown)}; see docs/reference.md")
    unknown = sorted(set(compare) - set(COMPARE_KEYS))
    if unknown:
        known = ", ".join(COMPARE_KEYS)
        raise ConfigError(f"--config {path}: unknown [compare] key(s) {', '.join(unknown)}; known: {known}")
    settings = {k: v for k, v in data.items() if f"IZBENCH_{k.upper()}" not in os.environ}
    return settings, {k: _as_flag_value(v) for k, v in compare.items()}
