"""The anytime results as text: the budget table, the area-under-the-curve table and the notes
that say what a curve stands for (``izbench.report.anytime`` computes them)."""

from __future__ import annotations

from izbench.report.anytime import TOLERANCE, Anytime
from izbench.report.table import TextTable


def budget_table(out: Anytime) -> TextTable:
    """Per method, the IQM of the normalized score [95%] after b distinct instructions (or b
    proposals, on that axis)."""
    budgets = sorted({b for row in out.budgets.values() for b in row})
    rows = []
    for method in sorted(out.methods, key=lambda m: -out.iqm[m][-1].value):
        cells = [out.budgets[method][b] for b in budgets]
        label = method if out.free[method] else f"{method} (planned per budget)"
        rows.append([label, *("-" if e is None else e.text() for e in cells)])
    return TextTable(["method", *(f"b = {b}" for b in budgets)], rows, right=frozenset(range(1, len(budgets) + 1)))


def area_table(out: Anytime) -> TextTable:
    """Per method, the IQM of each run's area under its normalized curve, with its interval."""
    assert out.area is not None
    aggregates = out.area.aggregates
    rows = [
        [m, aggregates[m]["IQM"].text(), aggregates[m]["mean"].text()]
        for m in sorted(aggregates, key=lambda m: -aggregates[m]["IQM"].value)
    ]
    return TextTable(["method", "area IQM [95%]", "area mean [95%]"], rows, right=frozenset({1, 2}))


PROPOSALS_TITLE = "Anytime after b proposals (the papers' evaluations, repeats included)"
PROPOSALS_NOTE = (
    "The same runs read after b proposals: a proposal that repeats an instruction counts (the papers' "
    "budget of 150 evaluations is one of proposals), so a method whose proposals repeat fewer instructions "
    "has tried more of them by b. Areas over 0 .. the most proposals any run made."
)


def area_improvement_table(out: Anytime) -> TextTable:
    assert out.area is not None
    rows = [[f"{a} vs {b}", e.text()] for (a, b), e in out.area.improvement.items()]
    return TextTable(["A vs B", "P(area A > area B) [95%]"], rows, right=frozenset({1}))


UNITS_NOTE = (
    "The same curves against each budget unit: a run's incumbent as a step function of what it had spent "
    "(normalized 0, the empty instruction, before its first answer), read at 64 points up to the most any run "
    "spent; the area is a run's mean over them, so a method whose instructions cost less scores higher where "
    "it answers sooner. The tokens of one batch of instructions are shared out equally among them."
)


def units_table(units: dict[str, Anytime]) -> TextTable:
    """Per method, the IQM [95%] of each run's area under its normalized curve against each unit
    (``-``: its runs did not record that unit)."""
    methods = sorted({m for out in units.values() for m in out.methods})
    axes = list(units)
    rows = []
    for m in methods:
        row = [m]
        for axis in axes:
            area = units[axis].area
            row.append(area.aggregates[m]["IQM"].text() if area is not None and m in area.aggregates else "-")
        rows.append(row)
    header = [f"{axis} (0 .. {units[axis].grid[-1]:,.0f})" for axis in axes]
    return TextTable(["method", *header], rows, right=frozenset(range(1, len(axes) + 1)))


def anytime_notes(out: Anytime) -> list[str]:
    runs = len(out.tasks) * len(out.seeds)
    notes = [
        f"Anytime curves: the normalized test score of each run's incumbent (its best on validation so far) "
        f"after k = 1 .. {out.length} distinct instructions, {len(out.tasks)} tasks x {len(out.seeds)} seeds = "
        f"{runs} runs per method; a run that stopped early keeps its answer. Bands: stratified bootstrap, 95%.",
        "Area under the curve: a run's mean normalized score over k (1 = the reference at every k).",
        f"Runtime distribution targets: the reference (1), and the best found on the run's (task, seed) minus "
        f"{TOLERANCE:g} (the pool's oracle where the cells ran on a pool).",
    ]
    planned = sorted(m for m in out.methods if not out.free[m])
    if planned:
        notes.append(
            f"{', '.join(planned)}: the budget shapes the plan, so its curve is one run's at the largest budget "
            "and the budget table reads it only from runs planned for each budget."
        )
    notes += [f"{m}: no curve ({why})." for m, why in sorted(out.skipped.items())]
    return notes
