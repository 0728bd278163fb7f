"""Progress of a long command: a bar on a terminal, one plain line per finished item elsewhere.

A bar redraws in place, so a log (``make compare | tee log``, a CI job) would show nothing
between the first line and the last. When stderr is not a terminal, each finished item (a
comparison's cell, a signal check's task, a run's candidate) prints one line with its seconds
and the calls it made and had served, and what is happening meanwhile (a lockstep round) at
most once every ``STATUS_EVERY`` seconds: cells in lockstep finish together near the end.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from izbench.cli._app import err_console

STATUS_EVERY = 30.0
"""Seconds between two status lines in a log."""


class ItemProgress:
    """``total`` items: ``status`` says what happens now, ``done`` that one more item finished."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label = total, label
        self.finished = 0
        self.began = time.perf_counter()
        self._said = self.began
        self._bar: Progress | None = None
        if err_console.is_terminal:
            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                console=err_console,
            )  # fmt: skip
            self._task = self._bar.add_task(label, total=total)

    def __enter__(self) -> ItemProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def status(self, text: str) -> None:
        """What is happening now: the bar's text, or now and then a line of a log."""
        if self._bar is not None:
            self._bar.update(self._task, description=f"{self.label} | {text}")
            return
        now = time.perf_counter()
        if now - self._said >= STATUS_EVERY:
            self._said = now
            err_console.print(
                f"{self.label} {self.finished}/{self.total} done, {now - self.began:.0f} s: {text}",
                highlight=False,
                markup=False,
            )

    def done(self, item: str, seconds: float | None = None, made: int = 0, served: int = 0, note: str = "") -> None:
        """One more item finished: the bar advances, or a log gets its line."""
        self.finished += 1
        if self._bar is not None:
            self._bar.update(self._task, description=f"{self.label} | {item} {note or 'done'}".rstrip())
            self._bar.advance(self._task)
            return
        took = f"{seconds:.1f} s" if seconds is not None else f"{time.perf_counter() - self.began:.0f} s in all"
        tail = f"; {note}" if note else ""
        err_console.print(
            f"{self.label} {self.finished}/{self.total}: {item}, {took}, calls {made} made / {served} served{tail}",
            highlight=False,
            markup=False,
        )

    def warn(self, text: str) -> None:
        """Something the user should see now, bar or log (a lost worker): one line, kept."""
        err_console.print(text, highlight=False, markup=False)
