"""A pool as plain data: what a build writes, the store keeps, an export carries and a pool cell
reads. Nothing here imports a model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, SerializationInfo, SerializerFunctionWrapHandler, model_serializer

from izbench.choices import HiddenSource
from izbench.hashing import canonical_digest
from izbench.tasks.types import Example

POOL_FORMAT = 1
"""Bump when what a pool holds, or how it is built, changes: pools of another format never match."""


class PoolParams(BaseModel):
    """What fixes a pool's domain and split besides the task and the models."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    size: int = Field(default=256, ge=1)
    """Soft prompts in the domain."""
    ape: int = Field(default=16, ge=0)
    """Instructions the black box samples from demo sets (APE's domain)."""
    pool_seed: int = Field(default=0, ge=0)
    """Seeds the domain and the split (a run's seed never does)."""
    n_validation: int = Field(default=10, ge=1)
    n_test: int = Field(default=40, ge=1)
    intrinsic_dim: int = Field(default=10, ge=1)
    n_tokens: int = Field(default=5, ge=1)
    scale: bool = False
    pipeline: int = Field(default=1, ge=1, le=2)
    """The soft-prompt pipeline (``izbench.domain``): 1 izbench's first ([-1, 1]^d, 5 demos, the
    Instruction Induction prompt for APE points), 2 upstream's ([0, 1]^d, 10 demos, APE's prompt
    with 3 demo sets of ``ape / 3`` samples)."""

    hidden: HiddenSource = HiddenSource.PASS
    """Where INSTINCT's features come from: ``pass``, a forward pass of its own per prompt (one
    prompt per pass, as a live INSTINCT computes them); ``prefill``, the prefill that writes the
    point's instruction (free, and equal to ``pass`` to float rounding: a batch's padding and
    shapes change the last bits)."""

    @model_serializer(mode="wrap")
    def _without_legacy_fields(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        """Pools built before a field existed keep the identity they had: its old value is left out."""
        data: dict[str, Any] = handler(self)
        for name, legacy in (("pipeline", 1), ("hidden", HiddenSource.PASS.value)):
            if data.get(name) == legacy:
                del data[name]
        return data


@dataclass
class PoolData:
    """One task's pool: its split, its points, its distinct instructions and every score."""

    task: str
    identity: dict[str, Any]
    """``{"task": {"spec", "data"}, "setup": {scoring set-up, generator, "pool": params, "format"}}``."""
    validation: tuple[Example, ...]
    test: tuple[Example, ...]
    instructions: list[str]
    """Distinct instructions; an id is an index into this list."""
    soft_z: np.ndarray
    """(points, intrinsic dim)."""
    soft_hidden: np.ndarray
    """(points, hidden size), float32."""
    soft_ids: list[int]
    """The instruction each soft point writes: its preimage is every point with the same id."""
    ape_ids: list[int]
    reference_ids: list[int]
    empty_id: int
    scores: dict[tuple[int, str], tuple[tuple[str, ...], tuple[float, ...]]] = field(default_factory=dict)
    """(instruction id, split) -> (predictions, per-example scores)."""
    calls_made: int = 0
    calls_served: int = 0
    wall_s: float = 0.0

    @property
    def pool_id(self) -> str:
        return pool_id(self.identity)

    @property
    def params(self) -> PoolParams:
        return PoolParams.model_validate(self.identity["setup"]["pool"])

    def split_of(self, name: str) -> tuple[Example, ...]:
        return self.validation if name == "validation" else self.test


def pool_id(identity: dict[str, Any]) -> str:
    return canonical_digest(identity)[:16]


def setup_hash(identity: dict[str, Any]) -> str:
    """What pools of different tasks share when built together (models, scoring, params)."""
    return canonical_digest(identity["setup"])[:16]
