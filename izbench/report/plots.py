"""The report's figures, each drawn on its own matplotlib ``Figure`` (no pyplot global state) and
returned as PNG bytes.

- ``curves``/``calls``: best validation score so far against candidates and black-box calls;
- ``intervals``: each method's aggregates of the normalized score with their 95% intervals;
- ``improvement``: the probability that one method's run beats another's, with its interval;
- ``profile``: the performance profile, the share of runs whose normalized score exceeds tau;
- ``cd``: the critical-difference diagram of average ranks (Demsar 2006);
- ``anytime``/``runtime``: the incumbents' normalized test scores against k with bands, and the
  share of runs that reached each target after k (``izbench.report.anytime``).
- ``units``: the same curves against every other budget unit, one panel each.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import numpy as np

from izbench.report.aggregate import Leaderboard, calls_curve, curve
from izbench.report.anytime import Anytime
from izbench.report.seeds import AGGREGATES, BOOTSTRAP_SEED, REPS, SeedStatistics
from izbench.results import CellResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def curves_png(cells: list[CellResult], board: Leaderboard) -> bytes:
    fig, ax = _figure(3.6)
    for method in board.methods:
        curves = [curve(c) for c in cells if c.method == method and curve(c)]
        if not curves:
            continue
        length = max(len(c) for c in curves)
        padded = [list(c) + [c[-1]] * (length - len(c)) for c in curves]
        mean = [sum(col) / len(col) for col in zip(*padded, strict=True)]
        ax.plot(range(1, length + 1), mean, marker="o", markersize=3, label=method)
    return _progress_png(fig, ax, "distinct candidates scored (queries)", "queries")


def calls_png(cells: list[CellResult], board: Leaderboard) -> bytes | None:
    """Best validation score versus black-box calls, per method (each cell's steps, then the
    mean over cells at each call count); None when no cell recorded its calls."""
    fig, ax = _figure(3.6)
    drawn = False
    for method in board.methods:
        curves = [calls_curve(c) for c in cells if c.method == method and calls_curve(c)]
        if not curves:
            continue
        grid = sorted({x for curve_ in curves for x, _ in curve_})
        mean = []
        for x in grid:
            # Each cell's best so far at x: its last point at or before x (its first point before it).
            at = [max((p for p in curve_ if p[0] <= x), default=curve_[0])[1] for curve_ in curves]
            mean.append(sum(at) / len(at))
        ax.step(grid, mean, where="post", label=method)
        drawn = True
    if not drawn:
        return None
    return _progress_png(fig, ax, "black-box calls asked for (served or made)", "black-box calls")


def _progress_png(fig: Figure, ax: Any, xlabel: str, per: str) -> bytes:
    """Label a best-so-far plot (validation score against ``xlabel``) and render it."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel("best validation score so far")
    ax.set_title(f"score versus {per} (mean over tasks and seeds)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def _figure(height: float) -> tuple[Figure, Any]:
    """A figure drawn off screen, without pyplot's global state (imported only when plotting)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, height), dpi=100)
    return fig, fig.subplots()


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def intervals_png(stats: SeedStatistics) -> bytes:
    """One panel per aggregate: each method's estimate and its 95% interval."""
    methods = sorted(stats.aggregates, key=lambda m: stats.aggregates[m]["IQM"].value)
    fig = _new_figure(7.5, max(2.2, 0.9 + 0.35 * len(methods)))
    axes = fig.subplots(1, len(AGGREGATES), sharey=True)
    for ax, name in zip(axes, AGGREGATES, strict=True):
        for k, method in enumerate(methods):
            e = stats.aggregates[method][name]
            ax.plot([e.low, e.high], [k, k], color="#4c72b0", linewidth=6, alpha=0.6, solid_capstyle="butt")
            ax.plot([e.value], [k], "|", color="black", markersize=12)
        ax.set_title(name, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(labelsize=8)
    axes[0].set_yticks(range(len(methods)), methods)
    fig.supxlabel("normalized score (0 = no instruction, 1 = reference)", fontsize=9)
    return _png(fig)


def improvement_png(stats: SeedStatistics) -> bytes:
    """P(A > B) for every pair, with its 95% interval; 0.5 is a coin toss."""
    pairs = list(stats.improvement)
    fig = _new_figure(6, max(2.0, 0.9 + 0.35 * len(pairs)))
    ax = fig.subplots()
    for k, pair in enumerate(pairs):
        e = stats.improvement[pair]
        ax.plot([e.low, e.high], [k, k], color="#dd8452", linewidth=6, alpha=0.6, solid_capstyle="butt")
        ax.plot([e.value], [k], "|", color="black", markersize=12)
    ax.axvline(0.5, color="gray", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(pairs)), [f"P({a} > {b})" for a, b in pairs], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability of improvement")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def profile_png(stats: SeedStatistics) -> bytes:
    """The share of a method's runs (task, seed) whose normalized score exceeds tau, with a
    95% band from the stratified bootstrap of runs within tasks."""
    fig, ax = _figure(3.6)
    scores = stats.normalized.scores
    high = max([1.0, *(float(v.max()) for v in scores.values())])
    low = min([0.0, *(float(v.min()) for v in scores.values())])
    taus = np.linspace(low, high, 81)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    for method in sorted(scores, key=lambda m: -stats.aggregates[m]["IQM"].value):
        runs = scores[method]
        share = (runs[..., None] > taus).mean(axis=(0, 1))
        picks = rng.integers(0, runs.shape[0], size=(min(REPS, 500), *runs.shape))
        resampled = np.take_along_axis(runs[None], picks, axis=1)
        band = (resampled[..., None] > taus).mean(axis=(1, 2))
        (line,) = ax.plot(taus, share, label=method)
        ax.fill_between(taus, *np.quantile(band, [0.025, 0.975], axis=0), color=line.get_color(), alpha=0.15)
    ax.set_xlabel("normalized score tau")
    ax.set_ylabel("share of runs with score > tau")
    ax.set_title("performance profile (runs = task x seed)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def cd_png(stats: SeedStatistics) -> bytes | None:
    """Average ranks on an axis (best on the left), each method labelled at its rank, the
    critical difference as a bar, and a thick line under each group of methods no further apart
    than it (None without a critical difference: fewer than three methods)."""
    if stats.critical_difference is None:
        return None
    ranks, cd = stats.ranks, stats.critical_difference
    k = len(ranks)
    ordered = sorted(ranks, key=lambda m: ranks[m])
    half = (k + 1) // 2
    fig = _new_figure(6.5, max(2.4, 1.6 + 0.3 * (half + len(stats.groups))))
    ax = fig.subplots()
    ax.set_xlim(0.5, k + 0.5)
    ax.set_ylim(-(len(stats.groups) + 1) * 0.4, half * 0.45 + 1.6)
    ax.hlines(0, 1, k, color="black")
    for r in range(1, k + 1):
        ax.vlines(r, 0, 0.12, color="black")
        ax.text(r, 0.22, str(r), ha="center", fontsize=8)
    for i, method in enumerate(ordered):
        left = i < half
        height = 0.7 + (i if left else k - 1 - i) * 0.45
        edge = 1 if left else k
        ax.vlines(ranks[method], 0, height, color="gray", linewidth=0.8)
        ax.hlines(height, ranks[method], edge, color="gray", linewidth=0.8)
        label = f"{method} ({ranks[method]:.2f})"
        ax.text(edge - 0.05 if left else edge + 0.05, height, label, ha="right" if left else "left", va="center",
                fontsize=8)  # fmt: skip
    top = half * 0.45 + 1.1
    ax.hlines(top, 1, 1 + cd, color="black", linewidth=2)
    ax.text(1 + cd / 2, top + 0.15, f"CD = {cd:.2f}", ha="center", fontsize=8)
    for g, group in enumerate(stats.groups):
        y = -(g + 1) * 0.35
        ax.hlines(y, ranks[group[0]] - 0.03, ranks[group[-1]] + 0.03, color="black", linewidth=3)
    ax.axis("off")
    ax.set_title(f"average ranks over {stats.blocks} blocks (task x seed); Nemenyi, alpha 0.05", fontsize=9)
    return _png(fig)


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def anytime_png(out: Anytime) -> bytes:
    """Each method's IQM of the normalized score after k distinct instructions, with its band."""
    fig, ax = _figure(3.6)
    ks = np.arange(1, out.length + 1)
    for method in sorted(out.methods, key=lambda m: -out.iqm[m][-1].value):
        estimates = out.iqm[method]
        style = "-" if out.free[method] else "--"
        (line,) = ax.plot(ks, [e.value for e in estimates], style, label=method)
        ax.fill_between(ks, [e.low for e in estimates], [e.high for e in estimates], color=line.get_color(), alpha=0.15)
    ax.set_xlabel("distinct instructions scored (k)")
    ax.set_ylabel("normalized test score of the incumbent")
    ax.set_title(f"anytime: IQM over {len(out.tasks) * len(out.seeds)} runs, 95% bands", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def units_png(units: dict[str, Anytime]) -> bytes:
    """The anytime curves against each budget unit, one panel per unit, the same colour per
    method in every panel."""
    fig = _new_figure(3.0 * len(units), 3.2)
    axes = np.atleast_1d(fig.subplots(1, len(units), sharey=True))
    methods = sorted({m for out in units.values() for m in out.methods})
    colours = {m: f"C{k % 10}" for k, m in enumerate(methods)}
    for ax, (axis, out) in zip(axes, units.items(), strict=True):
        for method in out.methods:
            estimates = out.iqm[method]
            ax.step(out.grid, [e.value for e in estimates], where="post", color=colours[method], label=method)
            ax.fill_between(
                out.grid, [e.low for e in estimates], [e.high for e in estimates], step="post",
                color=colours[method], alpha=0.12,
            )  # fmt: skip
        ax.set_xlabel(axis, fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("normalized test score of the incumbent")
    axes[0].legend(fontsize=7)
    fig.suptitle("anytime against each budget unit: IQM over runs, 95% bands", fontsize=9)
    return _png(fig)


def runtime_png(out: Anytime) -> bytes:
    """COCO's runtime distribution: the share of runs at or above each target after k."""
    targets = list(out.reached)
    fig = _new_figure(7.5, 3.2)
    axes = fig.subplots(1, len(targets), sharey=True)
    ks = np.arange(1, out.length + 1)
    order = sorted(out.methods, key=lambda m: -out.iqm[m][-1].value)  # anytime_png's order and colours
    for ax, target in zip(np.atleast_1d(axes), targets, strict=True):
        for method in order:
            ax.step(ks, out.reached[target][method], where="post", label=method)
        ax.set_title(f"target: {target}", fontsize=9)
        ax.set_xlabel("distinct instructions scored (k)", fontsize=8)
        ax.grid(alpha=0.3)
    first = np.atleast_1d(axes)[0]
    first.set_ylabel("share of runs reached")
    first.legend(fontsize=7)
    return _png(fig)
