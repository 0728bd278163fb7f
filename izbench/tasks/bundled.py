"""Where the task files that ship with izbench live, installed or in a source checkout.

The repository keeps them at top level (``tasks/``) so they read as data, not code; a wheel maps
that folder into the package as ``izbench/_tasks`` (see ``pyproject.toml``). Reading through
``importlib.resources`` finds the installed copy, and a checkout or editable install falls back
to the repository folder.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PACKAGED = "_tasks"


def bundled_tasks_dir() -> Path:
    """The folder of shipped task files (``core/``, ``ii/``, ``tables/``)."""
    packaged = resources.files("izbench").joinpath(PACKAGED)
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "tasks"
