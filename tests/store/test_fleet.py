"""``Fleet``'s requeue without a cluster: a fake ``ray`` module whose chosen calls fail as a dead
actor's do (the cluster test, ``test_ray_faults.py``, kills real workers)."""

from __future__ import annotations

import sys
from types import ModuleType, SimpleNamespace

import pytest

from izbench.distributed import Fleet, WorkersLost


class ActorDied(Exception):
    """Stands in for ``ray.exceptions.RayActorError``."""


class FakeRay(ModuleType):
    """Refs finish in submission order; a call to an actor in ``dead`` raises ``ActorDied``."""

    def __init__(self, dead: set[str]) -> None:
        super().__init__("ray")
        self.dead = dead
        self.exceptions = SimpleNamespace(RayActorError=ActorDied, WorkerCrashedError=OSError, NodeDiedError=OSError)

    def wait(self, refs: list[tuple[str, str]], num_returns: int) -> tuple[list[tuple[str, str]], list[object]]:
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref: tuple[str, str]) -> str:
        actor, job = ref
        if actor in self.dead:
            raise ActorDied(f"The actor {actor} died unexpectedly before finishing this task")
        return f"{job} by {actor}"


def test_a_dead_actors_job_runs_on_one_that_remains(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", FakeRay(dead={"b"}))
    said: list[str] = []
    fleet: Fleet[str] = Fleet(["a", "b"], on_lost=said.append)
    results = list(fleet.run(lambda actor, job: (actor, job), ["j1", "j2", "j3"], name=lambda j: j))
    # j2 went to b, which died: it runs again on a once a is free (after j3); every job is done once.
    assert results == ["j1 by a", "j3 by a", "j2 by a"]
    assert fleet.lost == 1
    assert said == [
        "a Ray worker was lost running j2 (ActorDied: The actor b died unexpectedly before finishing this task); "
        "retrying it on the 1 workers that remain"
    ]


def test_with_every_worker_lost_the_run_stops_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", FakeRay(dead={"a", "b"}))
    fleet: Fleet[str] = Fleet(["a", "b"])
    with pytest.raises(WorkersLost, match=r"^all 2 Ray workers were lost with 3 jobs left; .* rerun the same command"):
        list(fleet.run(lambda actor, job: (actor, job), ["j1", "j2", "j3"], name=lambda j: j))
