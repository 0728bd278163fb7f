"""Tables as plain rows of text, built once and drawn three ways: the terminal, markdown, HTML.

Every table a report shows (the leaderboard, the paired comparisons, the signal check) is built
here from the aggregates, so the numbers in ``compare``'s output, ``leaderboard.md`` and
``index.html`` are the same strings.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TextTable:
    """A header and rows of cell texts; rows listed in ``strong`` are totals (drawn bold)."""

    header: list[str]
    rows: list[list[str]]
    strong: frozenset[int] = field(default_factory=frozenset)
    right: frozenset[int] = field(default_factory=frozenset)
    """Columns of numbers (right-aligned where the medium can)."""

    def markdown(self) -> str:
        align = ["---:" if k in self.right else "---" for k in range(len(self.header))]
        lines = ["| " + " | ".join(self.header) + " |", "| " + " | ".join(align) + " |"]
        for k, row in enumerate(self.rows):
            cells = [f"**{c}**" if k in self.strong and c and c != "-" else c for c in row]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def html(self, table_id: str | None = None, css_class: str | None = None) -> str:
        esc = html.escape
        attributes = f' id="{esc(table_id)}"' if table_id else ""
        attributes += f' class="{esc(css_class)}"' if css_class else ""
        head = "".join(f"<th>{esc(c)}</th>" for c in self.header)
        body = "".join(
            "<tr>" + "".join(f"<td>{f'<b>{esc(c)}</b>' if k in self.strong else esc(c)}</td>" for c in row) + "</tr>"
            for k, row in enumerate(self.rows)
        )
        return f"<table{attributes}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def rich(self, title: str) -> object:
        """A ``rich.table.Table`` (imported here: reports written to files never need rich)."""
        from rich.table import Table
        from rich.text import Text

        table = Table(title=title)
        for k, name in enumerate(self.header):  # the first column names the row: never wrapped
            table.add_column(name, justify="right" if k in self.right else "left", no_wrap=k == 0)
        for k, row in enumerate(self.rows):  # Text: a cell's brackets are text, never markup
            table.add_row(*(Text(c) for c in row), style="bold" if k in self.strong else None)
        return table
