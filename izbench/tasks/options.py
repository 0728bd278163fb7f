"""Answer options for choice scoring: where a task's closed set of answers comes from.

A task file declares one source (``options:`` in its YAML):

- ``fixed``: the same list for every example (sentiment: positive, negative);
- ``from_answers``: every distinct canonical answer in the task's data (first letters: a-z);
- ``from_input``: a regular expression whose groups, matched against the input, are the
  options (larger_animal ``"lion, mouse"``: ``^(.+), (.+)$``).

BIG-bench's ``target_scores`` keys are options already (set by its loader). Every example must
have its gold answer among its options, or the task file is refused: a choice score whose gold
answer cannot be chosen would measure nothing.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, model_validator

from izbench.errors import ConfigError
from izbench.tasks.metrics import normalize
from izbench.tasks.types import Example, TaskData


class OptionsSpec(BaseModel):
    """Where a task's options come from; exactly one field is set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fixed: tuple[str, ...] = ()
    from_answers: bool = False
    from_input: str | None = None
    """A regular expression with one group per option."""

    @model_validator(mode="after")
    def _one_source(self) -> OptionsSpec:
        given = sum([bool(self.fixed), self.from_answers, self.from_input is not None])
        if given != 1:
            raise ValueError("set exactly one of fixed, from_answers, from_input")
        if self.from_input is not None:
            try:
                pattern = re.compile(self.from_input)
            except re.error as error:
                raise ValueError(f"from_input is not a regular expression ({error})") from None
            if pattern.groups < 2:
                raise ValueError("from_input needs one group per option (at least two)")
        return self


def gold_in_options(example: Example) -> bool:
    """Whether one of the example's options is an acceptable answer (after normalisation)."""
    gold = {normalize(a) for a in example.answers}
    return any(normalize(o) in gold for o in example.options)


def with_options(spec: OptionsSpec, data: TaskData, where: str) -> TaskData:
    """The task's examples with their options attached, each checked to contain its answer."""
    closed = spec.fixed
    if spec.from_answers:
        closed = tuple(sorted({e.answers[0] for e in data.induce + data.execute}))
    pattern = re.compile(spec.from_input) if spec.from_input is not None else None

    def attach(example: Example) -> Example:
        options = closed
        if pattern is not None:
            match = pattern.match(example.input)
            if match is None:
                raise ConfigError(
                    f"{where}: options.from_input does not match the input {example.input[:60]!r}; fix the pattern"
                )
            options = tuple(dict.fromkeys(g.strip() for g in match.groups()))
        attached = example.model_copy(update={"options": options})
        if not gold_in_options(attached):
            raise ConfigError(
                f"{where}: the answer {example.answers[0]!r} of input {example.input[:60]!r} is not among its "
                f"options {list(options)[:6]}; fix the task's options"
            )
        return attached

    return data.model_copy(
        update={"induce": tuple(map(attach, data.induce)), "execute": tuple(map(attach, data.execute))}
    )


def chance(example: Example) -> float:
    """The accuracy of picking one of the example's options at random."""
    gold = {normalize(a) for a in example.answers}
    return sum(normalize(o) in gold for o in example.options) / len(example.options)
