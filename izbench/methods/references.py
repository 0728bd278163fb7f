"""Reference points that appear in comparisons like methods but optimise nothing.

- ``human``: every gold human-written instruction of the task (where the data has them);
- ``empty``: no instruction at all;
- ``manual``: the open LLM's greedy instruction from the APE template, with no soft prompt.
"""

from __future__ import annotations

import random

from izbench.errors import ConfigError
from izbench.generation import InstructionGenerator, format_demos
from izbench.methods.base import Method, MethodContext, Tracker, register
from izbench.results import MethodResult
from izbench.templates import INDUCTION_TEMPLATE


class Human(Method):
    name = "human"
    version = 1
    score_all_on_test = True
    on_domain = True

    def optimize(self, context: MethodContext, budget: int, rng: random.Random) -> MethodResult:
        if not context.annotations:
            raise ConfigError(f"task {context.task} has no human instructions; drop `human` for it")
        tracker = Tracker(context)
        tracker.add(list(context.annotations), parents=["human"] * len(context.annotations))
        return tracker.result


class Empty(Method):
    name = "empty"
    version = 1
    on_domain = True

    def optimize(self, context: MethodContext, budget: int, rng: random.Random) -> MethodResult:
        tracker = Tracker(context)
        tracker.add([""], parents=["empty"])
        return tracker.result


class Manual(Method):
    name = "manual"
    version = 1

    def optimize(self, context: MethodContext, budget: int, rng: random.Random) -> MethodResult:
        writer = InstructionGenerator(context.generator.client, template=INDUCTION_TEMPLATE, max_new_tokens=50)
        demos = format_demos([(e.input, e.answers[0]) for e in context.split.demos(0)])
        tracker = Tracker(context)
        tracker.add(writer.generate([(None, demos)]), parents=["manual"])
        return tracker.result


register("human")(Human)
register("empty")(Empty)
register("manual")(Manual)
