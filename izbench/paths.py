"""izbench's per-user cache folders (converted weights, generated task data, the WordNet view).

Only the platform's own convention (``XDG_CACHE_HOME``) is read here; izbench's settings
(``IZBENCH_MODEL_DIR``, ``IZBENCH_DATA_CACHE``) reach code through ``Settings`` and are passed down.
"""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir(part: str) -> Path:
    """``$XDG_CACHE_HOME/izbench/<part>`` (``~/.cache`` when unset)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "izbench" / part
