"""``python -m izbench`` runs the CLI."""

from __future__ import annotations

from izbench.cli import main

main()
