"""Answer options for choice scoring, declared by task files and checked against the data."""

from __future__ import annotations

from pathlib import Path

import pytest

from izbench.errors import ConfigError
from izbench.tasks.options import OptionsSpec, chance, with_options
from izbench.tasks.registry import TaskRegistry
from izbench.tasks.spec import load_spec
from izbench.tasks.types import Example, TaskData


def _data(*examples: Example) -> TaskData:
    return TaskData(induce=examples, execute=examples[:1])


def test_fixed_from_answers_and_from_input() -> None:
    data = _data(Example(input="a, b", answers=("b",)), Example(input="c, d", answers=("c",)))
    fixed = with_options(OptionsSpec(fixed=("b", "c", "z")), data, "t")
    assert [e.options for e in fixed.induce] == [("b", "c", "z")] * 2
    closed = with_options(OptionsSpec(from_answers=True), data, "t")
    assert closed.induce[0].options == ("b", "c")
    parsed = with_options(OptionsSpec(from_input=r"^(.+), (.+)$"), data, "t")
    assert [e.options for e in parsed.induce] == [("a", "b"), ("c", "d")]
    assert chance(parsed.induce[0]) == 0.5 and chance(fixed.induce[0]) == pytest.approx(1 / 3)


def test_gold_answer_must_be_an_option() -> None:
    data = _data(Example(input="a, b", answers=("q",)))
    with pytest.raises(ConfigError, match="is not among its options"):
        with_options(OptionsSpec(fixed=("a", "b")), data, "task x")


def test_input_that_does_not_match_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="does not match the input"):
        with_options(OptionsSpec(from_input=r"^(\d+) (\d+)$"), _data(Example(input="a b", answers=("a",))), "t")


@pytest.mark.parametrize(
    "options, message",
    [
        ("{}", "set exactly one"),
        ("{from_input: '^(a'}", "not a regular expression"),
        ("{from_input: '^(.+)$'}", "one group per option"),
    ],
)
def test_bad_options_in_a_task_file(tmp_path: Path, options: str, message: str) -> None:
    path = tmp_path / "core" / "t.yaml"
    path.parent.mkdir()
    path.write_text(
        f"name: t\nsuite: core\nsource: core\nmetric: exact_match\ndescription: d\nlicense: l\ngenerator: sum\noptions: {options}\n"
    )
    with pytest.raises(ConfigError, match=message):
        load_spec(path)


def test_core_tasks_with_options_load_and_hold_their_answers() -> None:
    registry = TaskRegistry()
    for key in ("core/larger_animal", "core/first_word_letter"):
        data = registry.load(key)
        assert all(e.options and e.answers[0] in e.options for e in data.induce + data.execute)
    assert not registry.load("core/sum").induce[0].options
    assert all(registry.references(registry.specs[k]) for k in registry.suites["core"])
