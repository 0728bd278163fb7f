"""Seeds derived from names, so every random choice depends only on what it is for.

``derive_seed("split", task, seed)`` is the same in every process and on every machine (it is a
hash, not Python's salted ``hash``), and changing the scheduling of work never changes it.
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from the parts' string forms."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") >> 1


def rng_for(*parts: object) -> random.Random:
    """A private ``random.Random`` seeded by :func:`derive_seed` of the parts."""
    return random.Random(derive_seed(*parts))
