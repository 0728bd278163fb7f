"""What a method gets to work with: one cell's split, scorer, writers and domain. It sits below
the methods, the pools and the runtime, so the runtime builds it without reaching up into
either."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from izbench.cache import CallStats
from izbench.domain import Domain
from izbench.generation import InstructionGenerator
from izbench.offload import Offload, inline
from izbench.profiles import MethodSettings
from izbench.results import Candidate, Scored
from izbench.scoring import InstructionScorer
from izbench.tasks.splits import Split


@dataclass
class MethodContext:
    """What a method may use: the split, the scorer, the generator; nothing else calls models."""

    task: str
    split: Split
    scorer: InstructionScorer
    generator: InstructionGenerator
    blackbox_generator: InstructionGenerator
    """The black box used as an instruction writer (APE's default)."""
    annotations: tuple[str, ...]
    seed: int
    params: MethodSettings = field(default_factory=MethodSettings)
    """Method settings from the profile and flags (e.g. ``n_init``, ``scale``)."""
    on_candidates: Callable[[list[Candidate], list[Scored]], None] | None = None
    """Called with each batch of new candidates and their validation predictions (the store)."""
    blackbox_calls: CallStats = field(default_factory=CallStats)
    """The black-box calls this cell asked for (scorer and black-box writer), served or made."""
    cell_calls: CallStats = field(default_factory=CallStats)
    """Every call of this cell (generator too), with its tokens and cost: what the run reports."""
    offload: Offload = inline
    """Where a pure computation (a GP fit) runs: here, or in a worker while other cells run."""
    domain: Domain | None = None
    """A finite domain to choose among (a pool's, or the same domain written live); None: the
    method searches its own space. Only methods with ``on_domain`` accept one."""
