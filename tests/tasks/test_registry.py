"""The task registry on real data: upstream files, generated suite, BIG-bench, bad inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from izbench.errors import ConfigError
from izbench.tasks import core, datacache
from izbench.tasks.metrics import Metric
from izbench.tasks.registry import DEFAULT_TASKS_DIR, TaskRegistry, generate_core
from izbench.tasks.spec import load_spec
from izbench.tasks.splits import make_split
from izbench.tasks.types import TaskData

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "instruction-induction"
needs_data = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared data not beside the checkout")


def _counts(path: Path) -> int:
    return int(json.loads(path.read_text())["metadata"]["num_examples"])


@needs_data
def test_every_upstream_task_loads_with_its_sizes() -> None:
    registry = TaskRegistry(data_dir=SHARED)
    ii = registry.suites["ii"]
    assert len(ii) == 24
    for key in ii:
        name = key.split("/")[1]
        data = registry.load(key)
        assert len(data.induce) == _counts(SHARED / "raw" / "induce" / f"{name}.json")
        assert len(data.execute) == _counts(SHARED / "raw" / "execute" / f"{name}.json")
        assert data.annotations, name
        assert all(e.answers and e.input for e in data.induce)


@needs_data
def test_upstream_answer_fields_and_metrics() -> None:
    registry = TaskRegistry(data_dir=SHARED)
    rhymes = registry.load("ii/rhymes").induce[0]
    assert rhymes.input == "pig" and {"big", "dig"} <= set(rhymes.answers)
    assert "Zeiten" in registry.load("ii/translation_en-de").induce[0].answers
    cause = registry.load("ii/cause_and_effect").induce[0]
    assert cause.input.startswith("Sentence 1:") and cause.answers == ("It started raining.",)
    assert registry.load("ii/common_concept").induce[0].input == "guitars, pendulums"
    assert registry.get("ii/synonyms").metric is Metric.CONTAINS
    assert registry.get("ii/taxonomy_animal").metric is Metric.EXACT_SET
    assert registry.get("ii/informal_to_formal").metric is Metric.F1


def test_generated_tasks_are_fixed_by_their_seed(tmp_path: Path) -> None:
    first = TaskRegistry().load("core/sum")
    again = TaskRegistry().load("core/sum")
    assert first == again
    shutil.copytree(DEFAULT_TASKS_DIR, tmp_path / "tasks")
    spec = tmp_path / "tasks" / "core" / "sum.yaml"
    spec.write_text(spec.read_text() + "generator_seed: 1\n")
    other = TaskRegistry(tasks_dir=tmp_path / "tasks").load("core/sum")
    assert other != first


def test_generated_data_is_kept_on_disk_and_rebuilt_when_its_inputs_change(tmp_path: Path) -> None:
    spec = TaskRegistry().get("core/diff")
    built: list[int] = []

    def build() -> TaskData:
        built.append(1)
        return generate_core(spec)

    first = datacache.load_or_build(spec, build, tmp_path)
    again = datacache.load_or_build(spec, build, tmp_path)
    assert built == [1] and again == first  # the second load read the file
    (stored,) = tmp_path.glob("diff-*.json")
    assert TaskData.model_validate_json(stored.read_bytes()) == first
    reseeded = spec.model_copy(update={"generator_seed": 7})
    assert datacache.key_of(reseeded) != datacache.key_of(spec)
    assert datacache.load_or_build(reseeded, lambda: generate_core(reseeded), tmp_path) != first
    stored.write_text('{"induce": [')  # torn by a crash: rebuilt, not an error
    assert datacache.load_or_build(spec, build, tmp_path) == first and built == [1, 1]


@pytest.mark.skipif(not core.wordnet_available(), reason="WordNet data not installed")
def test_core_suite_answers_are_right() -> None:
    registry = TaskRegistry()
    assert len(registry.suites["core"]) >= 13
    for key in registry.suites["core"]:
        data = registry.load(key)
        assert len(data.induce) >= 100 and len(data.execute) >= 20, key
        inputs = [e.input for e in data.induce + data.execute]
        assert len(set(inputs)) == len(inputs), f"{key} repeats inputs"
    for example in registry.load("core/sum").execute:
        x, y = map(int, example.input.split())
        assert example.answers == (str(x + y),)
    import inflect

    engine = inflect.engine()
    plural = {e.input: e.answers[0] for e in registry.load("core/singular_to_plural").induce}
    # inflect's plural and singular agree on all but a few abbreviations ("corp").
    disagree = [s for s, p in plural.items() if p != s and engine.singular_noun(p) != s]
    assert len(disagree) <= len(plural) // 100, disagree
    assert plural.get("woman", "women") == "women"


def test_splits_are_disjoint_and_seeded() -> None:
    registry = TaskRegistry()
    data = registry.load("core/sum")
    a, b = make_split("core/sum", data, 0), make_split("core/sum", data, 0)
    c = make_split("core/sum", data, 1)
    assert a == b and a.validation != c.validation
    assert len(a.validation) == 20 and len(a.test) == 100
    assert not set(a.validation) & set(a.demo_pool)
    assert a.demos(3) == b.demos(3) and a.demos(3) != a.demos(4) and len(a.demos(0)) == 5


def test_selection_by_all_suite_list_and_typo(tmp_path: Path) -> None:
    registry = TaskRegistry(data_dir=tmp_path / "nothing")
    chosen, skipped = registry.resolve("all")
    assert {s.suite for s in chosen} == {"core"} or not core.wordnet_available()
    assert len(skipped) == 24 and all("izbench data fetch" in hint for _, hint in skipped)
    assert [s.key for s in registry.resolve("sum,core/diff")[0]] == ["core/sum", "core/diff"]
    with pytest.raises(ConfigError, match="did you mean sum"):
        registry.resolve("summ")
    with pytest.raises(ConfigError, match="izbench data fetch"):
        registry.resolve("ii/sum")


def _broken(tmp_path: Path, text: str, name: str = "sum") -> Path:
    shutil.copytree(DEFAULT_TASKS_DIR, tmp_path / "tasks")
    (tmp_path / "tasks" / "core" / f"{name}.yaml").write_text(text)
    return tmp_path / "tasks"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: sum\nsuite: [core\n", r"sum\.yaml: line \d+ is not valid YAML"),
        ("name: sum\nsuite: core\nsource: core\n", r"field 'metric': field required; fix: add it"),
        (
            "name: sum\nsuite: core\nsource: core\nmetric: accuracy\ndescription: d\nlicense: l\ngenerator: sum\n",
            r"field 'metric': .*; fix: use one of the allowed values",
        ),
        (
            "name: sum\nsuite: core\nsource: core\nmetric: f1\ndescription: d\nlicense: l\ngenerator: sum\ncolour: red\n",
            r"field 'colour'.*fix: remove it",
        ),
        (
            "name: sum\nsuite: core\nsource: core\nmetric: f1\ndescription: d\nlicense: l\ngenerator: nope\n",
            r"field 'generator': unknown 'nope'",
        ),
    ],
)
def test_a_bad_task_file_is_one_line_and_nothing_loads(tmp_path: Path, text: str, message: str) -> None:
    registry = TaskRegistry(tasks_dir=_broken(tmp_path, text))
    with pytest.raises(ConfigError, match=message) as caught:
        registry.resolve("all")
    assert "\n" not in str(caught.value)


def test_missing_data_dir_is_one_line(tmp_path: Path) -> None:
    registry = TaskRegistry(data_dir=tmp_path / "absent")
    with pytest.raises(ConfigError, match="izbench data fetch instruction-induction"):
        registry.load("ii/sum")


def test_every_shipped_task_file_is_valid() -> None:
    for path in DEFAULT_TASKS_DIR.glob("*/*.yaml"):
        if path.parent.name != "tables":
            assert load_spec(path).name == path.stem


def test_generated_data_goes_where_the_settings_say(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from izbench.settings import Settings

    monkeypatch.setenv("IZBENCH_DATA_CACHE", str(tmp_path / "data-cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    registry = TaskRegistry.from_settings(Settings())
    assert registry.load("core/sum").execute
    assert [p.name.split("-")[0] for p in (tmp_path / "data-cache").glob("*.json")] == ["sum"]
    assert not (tmp_path / "xdg").exists()


@needs_data
def test_wrong_instructions_for_the_signal_check_come_from_the_task_suite() -> None:
    """A task's mismatched pool depends on the task alone (its stored verdict is keyed by the
    task), never on the selection; a same-named task of another suite is not 'wrong'."""
    from izbench.signal_check import mismatched_pool

    registry = TaskRegistry(data_dir=SHARED)
    core_pool = mismatched_pool(registry, registry.get("core/antonyms"))
    ii_pool = mismatched_pool(registry, registry.get("ii/antonyms"))
    available_core = {
        registry.specs[k].name for k in registry.suites["core"] if registry.availability(registry.specs[k]).available
    }
    assert set(core_pool) == available_core - {"antonyms"}
    assert set(ii_pool) == {registry.specs[k].name for k in registry.suites["ii"]} - {"antonyms"}
    assert ii_pool["sum"] == registry.references(registry.get("ii/sum"))[0]
    assert core_pool["sum"] == registry.references(registry.get("core/sum"))[0] != ii_pool["sum"]
