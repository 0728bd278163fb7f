"""A cell's identity: everything that decides its outcome, and the two hashes taken of it.

A cell is one (method, task, seed) run under one configuration. Its configuration holds the
profile, the scoring set-up (score function, protocol, template, the black box and its
revision), the generator and its revision, the task's spec and a digest of its data, and the
method's code version. Two hashes are taken of it, each with one name:

- ``RunKey.config_hash``: of the whole configuration; with (method, task, seed) it makes the
  cell's ``run_id`` (the store's key: a changed task file, data or method is a new cell, never a
  stale one read back);
- ``comparison_hash``: of the configuration without the task's and method's identity, i.e. what
  cells must share to stand in one leaderboard or regression check.

Building a configuration asks the runtime for its backends' identities (which never starts a
server or loads weights); reading identities back needs nothing but this module.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from izbench.hashing import config_hash

if TYPE_CHECKING:
    from izbench.pool.data import PoolParams
    from izbench.profiles import Profile
    from izbench.runtime import Runtime
    from izbench.tasks.registry import TaskRegistry

CONFIG_FORMAT = 4
"""Bump when the meaning of a run's configuration changes, so old runs are not reused."""
SIGNAL_VERSION = 3
"""Part of the set-up a signal verdict is stored under: bump when a change of the signal check
can change a verdict, so `compare` never heeds a verdict of an old rule. 2: wrong instructions
from the task's suite. 3: tasks without a human reference are checked against their own
description, and under choice some instruction must beat the chance level."""
SCORING_KEYS = ("score", "protocol", "scorer_template", "scorer_early_stop", "blackbox", "choice_norm")
"""The parts of a cell's configuration that make up its scoring set-up."""
IDENTITY_ONLY = ("task_identity", "method_identity")
"""Config keys that identify a cell but not its comparison group (cells of different tasks and
methods under one configuration share a leaderboard)."""


def comparison_hash(config: dict[str, Any]) -> str:
    """The hash of what cells must share to stand in one leaderboard or regression check."""
    return config_hash({k: v for k, v in config.items() if k not in IDENTITY_ONLY})


def run_id_for(method: str, task: str, seed: int, cfg_hash: str) -> str:
    return hashlib.sha256(f"{method}|{task}|{seed}|{cfg_hash}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class RunKey:
    """A cell as the store knows it."""

    method: str
    task: str
    seed: int
    config: dict[str, Any]

    @property
    def config_hash(self) -> str:
        return config_hash(self.config)

    @property
    def run_id(self) -> str:
        return run_id_for(self.method, self.task, self.seed, self.config_hash)


def scoring_setup(runtime: Runtime) -> dict[str, Any]:
    """What decides a score besides the instruction and the examples: the score function, the
    prompt protocol and template, and the black box (the signal check is keyed by this)."""
    from izbench.scoring import DEFAULT_TEMPLATE

    settings = runtime.settings
    blackbox = runtime.backend(settings.blackbox)
    setup: dict[str, Any] = {
        "score": settings.score,
        "protocol": settings.protocol,
        "scorer_template": DEFAULT_TEMPLATE,
        "scorer_early_stop": settings.scorer_early_stop,
        "blackbox": {"kind": blackbox.kind, "model": blackbox.model_id, "revision": blackbox.revision},
    }
    if settings.score == "choice":
        setup["choice_norm"] = settings.choice_norm
    return setup


def signal_setup(config: dict[str, Any]) -> dict[str, Any]:
    """What a signal verdict is stored and looked up under: the scoring set-up of a cell's
    configuration (or of ``scoring_setup``) and the signal rule's version."""
    return {**{k: config[k] for k in SCORING_KEYS if k in config}, "signal": SIGNAL_VERSION}


def cell_config(runtime: Runtime, profile: Profile) -> dict[str, Any]:
    """Everything that decides a cell's outcome besides (method, task, seed) and the identities
    of its task and method."""
    from izbench.runtime import prompt_protocol

    generator = runtime.generator_backend()
    return {
        "format": CONFIG_FORMAT,
        "profile": profile.model_dump(mode="json"),
        **scoring_setup(runtime),
        "generator": {
            "kind": generator.kind,
            "model": generator.model_id,
            "revision": generator.revision,
            "protocol": prompt_protocol(generator),
        },
    }


def cell_key(
    runtime: Runtime,
    registry: TaskRegistry,
    method: str,
    task: str,
    seed: int,
    profile: Profile,
    pool: PoolParams | None = None,
) -> RunKey:
    """The identity of a cell in the store: (method, task, seed) and its whole configuration,
    with the task's spec and a digest of its examples, and the method's code version (and, for
    a run on a pool's domain written live, that domain)."""
    from izbench.methods import get_method
    from izbench.methods.base import METHOD_PATH_VERSION
    from izbench.pool.data import POOL_FORMAT

    spec = registry.get(task)
    config = cell_config(runtime, profile)
    if pool is not None:
        config["domain"] = {"kind": "live", "pool": pool.model_dump(mode="json"), "format": POOL_FORMAT}
    config["task_identity"] = {
        "spec": spec.model_dump(mode="json", exclude={"path"}),
        "data": registry.digest(spec.key),
    }
    config["method_identity"] = {"version": get_method(method).version, "path": METHOD_PATH_VERSION}
    if owned := profile.owned_settings(method):
        config["method_identity"]["settings"] = owned
    return RunKey(method, spec.key, seed, config)
