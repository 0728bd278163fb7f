"""Handing a pure computation (a BO round's GP fit and acquisition) to whoever runs the cell.

A cell run on its own computes it in place (``inline``). Cells in lockstep (``izbench.lockstep``)
send it to a worker process, so one cell's single-threaded GP fit runs while the model serves the
other cells, and several cells' fits run side by side. Only functions whose result depends on
their arguments alone (they seed whatever they draw) may be offloaded: where they run then
cannot change what they return.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, Protocol, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class Offload(Protocol):
    """``offload(fn, *args)`` returns ``fn(*args)``, computed wherever the runner chooses."""

    def __call__(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...


def inline(fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """Compute it here and now (a cell that runs alone)."""
    return fn(*args, **kwargs)


def worker_init() -> None:
    """A worker's initializer. One torch thread: workers run side by side and beside the model,
    and more threads only fight over the cores. Results do not change with it: the fits'
    matrices are small. A lower priority: the model, which every cell waits for, keeps the cores
    and the fits take what it leaves idle (docs/speed.md has the figures). Ctrl-C is the
    parent's to handle (it stops the pool), so workers do not each print a traceback."""
    import os
    import signal

    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    if hasattr(os, "nice"):
        os.nice(10)
