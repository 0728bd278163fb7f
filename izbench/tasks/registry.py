"""The task registry: what ``--tasks`` can name, whether each task's data is here, and loading it.

Sources: every ``tasks/<suite>/<name>.yaml`` (suites ``core`` and ``ii``, Instruction Induction)
plus the tasks discovered in a BIG-bench directory when one is given (suite ``bigbench``).
A task's id is ``suite/name``; a bare name means the first suite that has it, in the order of
``SUITE_ORDER`` (so ``sum`` is ``core/sum``, always available, and ``ii/sum`` is upstream's).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from izbench.errors import ConfigError
from izbench.hashing import canonical_digest
from izbench.seeding import rng_for
from izbench.tasks import bigbench, core, datacache, instruction_induction
from izbench.tasks.bundled import bundled_tasks_dir
from izbench.tasks.options import with_options
from izbench.tasks.spec import Source, TaskSpec, load_spec
from izbench.tasks.types import TaskData

if TYPE_CHECKING:
    from izbench.settings import Settings

DEFAULT_TASKS_DIR = bundled_tasks_dir()
SUITE_ORDER = ("core", "ii", "bigbench")


@dataclass(frozen=True)
class Availability:
    available: bool
    hint: str
    """How to get the data when it is not available ("" when it is)."""


class TaskRegistry:
    """Every known task by name, loaded once and validated as a whole."""

    def __init__(
        self,
        tasks_dir: Path = DEFAULT_TASKS_DIR,
        data_dir: Path | None = None,
        bigbench_dir: Path | None = None,
        data_cache: Path | None = None,
    ) -> None:
        self.tasks_dir = tasks_dir
        self.data_dir = data_dir
        self.bigbench_dir = bigbench_dir
        self.data_cache = data_cache
        self._data: dict[str, TaskData] = {}
        self._digests: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> TaskRegistry:
        """The registry the resolved settings describe (CLI and Ray workers alike)."""
        s = settings
        return cls(s.tasks_dir or DEFAULT_TASKS_DIR, s.data_dir, s.bigbench_dir, s.data_cache)

    @cached_property
    def specs(self) -> dict[str, TaskSpec]:
        if not self.tasks_dir.is_dir():
            raise ConfigError(f"tasks directory {self.tasks_dir} does not exist; set IZBENCH_TASKS_DIR")
        specs: dict[str, TaskSpec] = {}
        for path in sorted(self.tasks_dir.glob("*/*.yaml"), key=_suite_rank):
            if path.parent.name == "tables":
                continue
            spec = load_spec(path)
            if spec.source is Source.CORE and spec.generator not in core.GENERATORS:
                known = ", ".join(sorted(core.GENERATORS))
                raise ConfigError(f"{path}: field 'generator': unknown {spec.generator!r}; fix: use one of {known}")
            specs[spec.key] = spec
        if self.bigbench_dir is not None:
            if not self.bigbench_dir.is_dir():
                raise ConfigError(f"BIG-bench directory {self.bigbench_dir} does not exist; fix --bigbench-dir")
            for spec in bigbench.discover(self.bigbench_dir):
                specs[spec.key] = spec
        return specs

    @property
    def suites(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for spec in self.specs.values():
            out.setdefault(spec.suite, []).append(spec.key)
        return out

    def availability(self, spec: TaskSpec) -> Availability:
        if spec.source is Source.INSTRUCTION_INDUCTION:
            if instruction_induction.has_task(self.data_dir, spec.name):
                return Availability(True, "")
            return Availability(False, instruction_induction.FETCH_HINT)
        if spec.source is Source.CORE and spec.generator in core.NEEDS_WORDNET and not core.wordnet_available():
            return Availability(False, core.WORDNET_HINT)
        return Availability(True, "")

    def get(self, name: str) -> TaskSpec:
        """A task by id (``suite/name``) or by bare name (first suite in SUITE_ORDER)."""
        if name in self.specs:
            return self.specs[name]
        for spec in self.specs.values():  # already in suite order
            if spec.name == name:
                return spec
        names = list(self.specs) + [s.name for s in self.specs.values()] + list(self.suites)
        close = list(dict.fromkeys(difflib.get_close_matches(name, names, n=5)))[:3]
        hint = f"; did you mean {', '.join(close)}?" if close else "; see `izbench tasks list`"
        raise ConfigError(f"unknown task {name!r}{hint}")

    def resolve(self, selection: str) -> tuple[list[TaskSpec], list[tuple[str, str]]]:
        """Tasks named by ``all``, a suite, or a comma list; plus the skipped ones with a hint.

        ``all`` and suites skip tasks whose data is not here; naming such a task is an error.
        """
        chosen: list[TaskSpec] = []
        skipped: list[tuple[str, str]] = []
        for part in [p.strip() for p in selection.split(",") if p.strip()]:
            if part == "all" or part in self.suites:
                names = list(self.specs) if part == "all" else self.suites[part]
                for name in names:
                    spec = self.specs[name]
                    avail = self.availability(spec)
                    if avail.available:
                        chosen.append(spec)
                    else:
                        skipped.append((name, avail.hint))
                continue
            spec = self.get(part)
            avail = self.availability(spec)
            if not avail.available:
                raise ConfigError(f"task {part} has no data here; {avail.hint}")
            chosen.append(spec)
        if not chosen and not skipped:
            raise ConfigError("no tasks selected; use all, a suite name or a comma list")
        unique = {s.key: s for s in chosen}
        return list(unique.values()), skipped

    def load(self, name: str) -> TaskData:
        """The task's examples (generated or read once per registry)."""
        spec = self.get(name)
        if spec.key not in self._data:
            self._data[spec.key] = self._load(spec)
        return self._data[spec.key]

    def _load(self, spec: TaskSpec) -> TaskData:
        if spec.source is Source.INSTRUCTION_INDUCTION:
            data = instruction_induction.load(spec, self.data_dir)
        elif spec.source is Source.BIGBENCH:
            data = bigbench.load(spec)
        else:
            data = datacache.load_or_build(spec, lambda: generate_core(spec), self.data_cache)
        if spec.options is not None:
            data = with_options(spec.options, data, f"task {spec.key}")
        return data

    def digest(self, name: str) -> str:
        """sha256 of the task's examples and annotations: changed data is a new cell identity."""
        key = self.get(name).key
        if key not in self._digests:
            self._digests[key] = canonical_digest(self.load(key).model_dump(mode="json"))
        return self._digests[key]

    def references(self, spec: TaskSpec) -> tuple[str, ...]:
        """Human-written instructions for the task: its annotations, else its file's reference."""
        annotations = self.load(spec.key).annotations
        if annotations:
            return annotations
        return (spec.reference,) if spec.reference else ()


def generate_core(spec: TaskSpec) -> TaskData:
    """Draw a core task's induce and execute pools from its generator's universe."""
    assert spec.generator is not None
    universe = core.GENERATORS[spec.generator]()
    n_execute = min(spec.execute_size, len(universe) // 5)
    n_induce = min(spec.induce_size, len(universe) - n_execute)
    drawn = rng_for("core", spec.name, spec.generator_seed).sample(universe, n_execute + n_induce)
    return TaskData(induce=tuple(drawn[n_execute:]), execute=tuple(drawn[:n_execute]))


def _suite_rank(path: Path) -> tuple[int, str]:
    suite = path.parent.name
    return (SUITE_ORDER.index(suite) if suite in SUITE_ORDER else len(SUITE_ORDER), str(path))
