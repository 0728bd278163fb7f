"""A finite domain a method chooses among, live or looked up in a pool.

InstructZero and Uniform search a continuous soft-prompt space, INSTINCT a fixed set of 10,000
soft prompts, APE a pool of sampled instructions. Fixed once per task and pool seed (never by a
run's seed), such a domain can be written and scored once and then searched by any method by
lookup (``izbench.pool``). A method in domain mode asks only this interface for instructions:

- ``soft``: the soft prompts ``z`` (scrambled Sobol in the intrinsic space, as InstructZero and
  INSTINCT draw them), each written into an instruction with the pool's projection and demos;
- ``hidden``: the generator's last-token hidden state of each soft prompt's prompt (INSTINCT's
  features);
- ``ape``: instructions the black box sampled from seeded demo sets (APE's proposals).

``LiveDomain`` writes them with the models (through the cache, like any call);
``PoolDomain`` reads what a pool build wrote. The same method on either proposes the same
candidates, which is what makes a pool comparison a comparison of the methods.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from izbench.choices import HiddenSource
from izbench.domain import PIPELINES, Domain, SoftPipeline
from izbench.generation import InstructionGenerator, format_demos
from izbench.methods.ape import fresh_set, shared_sets
from izbench.methods.bo import sobol_points
from izbench.methods.soft_prompt import SoftPromptWriter
from izbench.pool.data import PoolData, PoolParams
from izbench.profiles import MethodSettings
from izbench.seeding import derive_seed
from izbench.tasks.splits import Split
from izbench.templates import APE_TEMPLATE, INDUCTION_TEMPLATE

__all__ = ["Domain", "LiveDomain", "PoolDomain", "ape_demo_set", "soft_points"]


def ape_demo_set(point: int, n_ape: int, pipeline: SoftPipeline) -> int:
    """The demo set APE sample ``point`` of ``n_ape`` is written from: its own (pipeline 1), or
    one of upstream's 3 shared sets (pipeline 2, as APE's version 2 does live)."""
    return fresh_set(point) if pipeline.version == 1 else shared_sets(n_ape)(point)


def soft_points(params: PoolParams, task: str) -> torch.Tensor:
    """The pool's soft prompts: scrambled Sobol, seeded by the task and the pool seed alone."""
    seed = derive_seed("pool-sobol", task, params.pool_seed) % 2**31
    return sobol_points(params.size, params.intrinsic_dim, seed, PIPELINES[params.pipeline])


def ape_seed(params: PoolParams, task: str) -> int:
    return derive_seed("pool-ape", task, params.pool_seed) % 2**31


class LiveDomain(Domain):
    """A pool's domain written by the models, call by call (each call cached)."""

    def __init__(
        self, task: str, split: Split, params: PoolParams, generator: InstructionGenerator, writer: InstructionGenerator
    ) -> None:
        self.task, self.split, self.params = task, split, params
        self.pipeline = PIPELINES[params.pipeline]
        self.soft = soft_points(params, task)
        self.n_ape = params.ape
        settings = MethodSettings(intrinsic_dim=params.intrinsic_dim, n_tokens=params.n_tokens, scale=params.scale)
        seed = derive_seed("pool-projection", task, params.pool_seed) % 2**31
        self._soft_writer = SoftPromptWriter(generator, split.demos(0, self.pipeline.demos), settings, seed)
        template = INDUCTION_TEMPLATE if self.pipeline.version == 1 else APE_TEMPLATE
        self._ape = InstructionGenerator(writer.client, template=template, max_new_tokens=50, protocol=writer.protocol)

    def write_soft(self, points: Sequence[int]) -> list[str]:
        if not points:
            return []
        if self.params.hidden is HiddenSource.PREFILL:
            return [text for text, _ in self._soft_writer.written_states(self.soft[list(points)])]
        return self._soft_writer.write(self.soft[list(points)])

    def hidden(self, points: Sequence[int]) -> torch.Tensor:
        """The points' hidden states; with ``hidden = "prefill"`` read off their writes (served
        from the cache once written, so a build's second look costs nothing)."""
        if not points:
            return torch.empty((0, 0), dtype=torch.double)
        zs = self.soft[list(points)]
        if self.params.hidden is HiddenSource.PREFILL:
            states = [state for _, state in self._soft_writer.written_states(zs)]
        else:
            states = self._soft_writer.hidden(zs)
        return torch.tensor(states, dtype=torch.double)

    def write_ape(self, points: Sequence[int]) -> list[str]:
        sets = [ape_demo_set(k, self.n_ape, self.pipeline) for k in points]
        demos = [format_demos([(e.input, e.answers[0]) for e in self.split.demos(k)]) for k in sets]
        return self._ape.generate(
            [(None, d) for d in demos],
            seed=ape_seed(self.params, self.task),
            temperature=0.9,
            top_p=0.9,
            sample_indices=list(points),
        )


class PoolDomain(Domain):
    """A built pool's domain: every instruction and hidden state looked up, no model called."""

    def __init__(self, pool: PoolData) -> None:
        self.pool = pool
        self.pipeline = PIPELINES[pool.params.pipeline]
        self.soft = torch.tensor(pool.soft_z, dtype=torch.double)
        self.n_ape = len(pool.ape_ids)

    def write_soft(self, points: Sequence[int]) -> list[str]:
        return [self.pool.instructions[self.pool.soft_ids[p]] for p in points]

    def hidden(self, points: Sequence[int]) -> torch.Tensor:
        return torch.tensor(self.pool.soft_hidden[list(points)], dtype=torch.double)

    def write_ape(self, points: Sequence[int]) -> list[str]:
        return [self.pool.instructions[self.pool.ape_ids[p]] for p in points]
