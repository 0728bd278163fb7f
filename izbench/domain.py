"""What a method may choose among, and how soft prompts are drawn and written: the interface both
the methods and the pools build on, so it sits below both.

A ``Domain`` is a finite set of points a method chooses among, live or looked up in a pool
(``izbench.pool.domain`` has both kinds). A ``SoftPipeline`` fixes the two things of the
soft-prompt path that upstream and izbench's first versions did differently: the box the
intrinsic soft prompts ``z`` are drawn in, and how many demos the generator sees.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SoftPipeline:
    """The box ``[low, 1]^d`` the soft prompts are drawn in, the box ``[search_low, 1]^d`` the
    acquisition is maximised over, and the generator's demo count."""

    version: int
    low: float
    demos: int
    search_low: float

    def scale(self, unit: torch.Tensor) -> torch.Tensor:
        """Points of the unit cube mapped into this pipeline's box."""
        return unit * (1.0 - self.low) + self.low

    def to_unit(self, z: torch.Tensor) -> torch.Tensor:
        """This pipeline's points mapped to the unit cube (what the kernels see)."""
        return (z - self.low) / (1.0 - self.low)


LEGACY = SoftPipeline(version=1, low=-1.0, demos=5, search_low=-1.0)
"""izbench's first pipeline: z in [-1, 1]^d, 5 demos (methods' older versions, ``core.izpool``)."""
UPSTREAM = SoftPipeline(version=2, low=0.0, demos=10, search_low=-1.0)
"""Upstream InstructZero's: Sobol z in [0, 1]^d (``SobolEngine.draw`` unscaled,
``run_instructzero.py:260``), CMA-ES bounded to [-1, 1]^d (``instruction_coupled_kernel.py:52``),
10 demos (``misc.py:62``)."""
PIPELINES = {p.version: p for p in (LEGACY, UPSTREAM)}
"""The pipelines a pool may be built with."""
INSTINCT = SoftPipeline(version=3, low=0.0, demos=5, search_low=0.0)
"""Upstream INSTINCT's: a Sobol domain in [0, 1]^d (``run_neural_bandits.py:322``), 5 demos
(``:289``); no CMA-ES search. Live only: a pool is written with one of ``PIPELINES``."""


class Domain(ABC):
    """The points a method chooses among, and what each one is."""

    soft: torch.Tensor
    """(points, intrinsic dim) soft prompts, double."""
    n_ape: int
    """How many APE proposals the domain holds."""
    pipeline: SoftPipeline
    """How the soft points were drawn and written (their box decides a surrogate's bounds)."""

    @abstractmethod
    def write_soft(self, points: Sequence[int]) -> list[str]:
        """The instruction each soft point writes."""

    @abstractmethod
    def hidden(self, points: Sequence[int]) -> torch.Tensor:
        """(points, hidden size) last-token hidden states of the soft points' prompts."""

    @abstractmethod
    def write_ape(self, points: Sequence[int]) -> list[str]:
        """The instruction each APE point is."""

    def distinct_soft(self) -> tuple[list[str], list[int]]:
        """The distinct instructions the soft points write, in order of their first point, and
        that point: the arms of a method that chooses among instructions, not soft prompts
        (TRIPLE, ZOPO), each represented by its first point's hidden state."""
        first: dict[str, int] = {}
        for point, text in enumerate(self.write_soft(range(len(self.soft)))):
            first.setdefault(text, point)
        return list(first), list(first.values())
