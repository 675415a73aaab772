"""One seaborn theme for the whole book and helpers that draw the theory on a figure."""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

__all__ = [
    "set_theme",
    "mean_band",
    "mark_threshold",
    "draw_slope",
    "fit_band",
    "embedding_scatter",
    "plain_log_ticks",
    "THEORY_COLOR",
    "WIDTH",
    "WIDE",
    "DPI",
    "TEXT_PT",
    "text_px",
    "legend_below",
    "spaced_ticks",
]

THEORY_COLOR = "0.25"

#: Inline figures are drawn at DPI pixels per inch (and at twice that for high-DPI screens,
#: shown at the same size), so a figure ``w`` inches wide takes ``w * DPI`` CSS pixels.
DPI = 90
#: The widest figure, in inches, that the book's text column (672 CSS px at 1280 px) shows
#: without shrinking it.
WIDTH = 7.4
#: The widest figure of a cell tagged ``full-width`` (the column and its margin, 914 px):
#: multi-panel figures use it.
WIDE = 10.1
#: Every text of a figure (ticks, legends, labels, titles) is at least this size in points:
#: 13 pt at DPI 90 is 16.25 CSS px, the body text's 16 px, when the figure is not shrunk.
TEXT_PT = 13.0


def text_px(size) -> float:
    """The CSS pixel size of a matplotlib font size (points, or a name like ``"small"``) drawn
    at :data:`DPI`, under the current rcParams."""
    from matplotlib.font_manager import FontProperties

    return FontProperties(size=size).get_size_in_points() * DPI / 72

#: Environment variable naming the inline figure format of a notebook kernel (e.g. ``retina``:
#: PNGs at twice the pixels, shown at the same size); unset, matplotlib's default PNG.
FIGURE_FORMAT_ENV = "ICL_FIGURE_FORMAT"


def set_theme() -> None:
    """The book's figure style: seaborn ``whitegrid``, opaque white backgrounds
    (readable in light and dark page themes), colour-blind palette."""
    # Every text at least TEXT_PT (the body text's size once the figure is shown unshrunk: figures
    # are at most WIDTH inches wide, or WIDE in a full-width cell; on a phone they scroll).
    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind", font_scale=TEXT_PT / 11)
    plt.rcParams.update(
        {
            "figure.facecolor": "white",
            "axes.facecolor": "white",
            "savefig.facecolor": "white",
            "savefig.transparent": False,
            "figure.dpi": DPI,
            "figure.autolayout": False,
            "axes.titlesize": "medium",
            "legend.fontsize": TEXT_PT,
            "legend.title_fontsize": TEXT_PT,
            "legend.framealpha": 0.9,
        }
    )
    fmt = os.environ.get(FIGURE_FORMAT_ENV)
    if fmt:
        try:
            from matplotlib_inline.backend_inline import set_matplotlib_formats
        except ImportError:  # pragma: no cover - outside IPython
            return
        set_matplotlib_formats(fmt)


def legend_below(target, ncol: int = 1, gap_px: float = 6.0, **kw):
    """A legend under ``target`` -- an Axes, or a Figure for one legend under all its axes --
    below the tick labels and x label, so that it covers no data.  Call it once the layout is
    final (after ``tight_layout``); the saved figure grows to hold it.  ``kw`` go to
    ``legend`` (e.g. ``handles``, ``labels``).  Returns the legend."""
    fig = target if isinstance(target, plt.Figure) else target.figure
    renderer = fig.canvas.get_renderer()
    axes = fig.axes if target is fig else [target]
    boxes = [ax.get_tightbbox(renderer) for ax in axes if ax.get_visible()]
    bottom = min(b.y0 for b in boxes) - gap_px
    if target is fig:
        x0, x1 = min(b.x0 for b in boxes), max(b.x1 for b in boxes)
        anchor = fig.transFigure.inverted().transform(((x0 + x1) / 2, bottom))
        return fig.legend(loc="upper center", bbox_to_anchor=tuple(anchor), ncol=ncol, **kw)
    box = target.get_window_extent(renderer)
    anchor = target.transAxes.inverted().transform(((box.x0 + box.x1) / 2, bottom))
    return target.legend(loc="upper center", bbox_to_anchor=tuple(anchor), ncol=ncol, **kw)


def mean_band(ax, x, Y, label=None, color=None, spread="minmax", center="mean", **kw):
    """Plot the mean (or ``center="median"``) over the first axis of ``Y`` (runs x points)
    with a shaded spread.

    ``spread`` is ``"minmax"`` (the range over runs) or ``"std"`` (one
    standard deviation).  NaNs are ignored.  Returns the line.
    """
    Y = np.asarray(Y, float)
    mean = np.nanmedian(Y, axis=0) if center == "median" else np.nanmean(Y, axis=0)
    if spread == "std":
        sd = np.nanstd(Y, axis=0)
        lo, hi = mean - sd, mean + sd
    else:
        lo, hi = np.nanmin(Y, axis=0), np.nanmax(Y, axis=0)
    (line,) = ax.plot(x, mean, label=label, color=color, **kw)
    ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
    return line


def mark_threshold(ax, x, label, axis="x", color=THEORY_COLOR, **kw):
    """A dashed line at a theory threshold (vertical for ``axis="x"``), labelled in the legend."""
    style = dict(color=color, linestyle="--", linewidth=1.2, label=label)
    style.update(kw)
    return ax.axvline(x, **style) if axis == "x" else ax.axhline(x, **style)


def draw_slope(ax, x, slope, through, label, color=THEORY_COLOR, **kw):
    """A power law y = C x^slope through the point ``through`` = (x0, y0), on log-log axes."""
    x = np.asarray(x, float)
    x0, y0 = through
    style = dict(color=color, linestyle=":", linewidth=1.5, label=label)
    style.update(kw)
    return ax.plot(x, y0 * (x / x0) ** slope, **style)[0]


def fit_band(ax, fit, x, color="tab:orange", label="fit"):
    """A fitted power law (:class:`icl_utils.core.stats.PowerLawFit`) on log-log axes with its
    bootstrap interval: the band between the laws of slopes ``fit.lo`` and ``fit.hi``
    through the fitted value at the geometric mean of ``x``.  Returns the line."""
    x = np.asarray(x, float)
    grid = np.geomspace(x.min(), x.max(), 50)
    x0 = np.exp(np.log(x).mean())
    y0 = float(fit.predict(x0))
    (line,) = ax.plot(grid, fit.predict(grid), color=color, label=f"{label}: slope {fit}")
    lo, hi = y0 * (grid / x0) ** fit.lo, y0 * (grid / x0) ** fit.hi
    ax.fill_between(grid, np.minimum(lo, hi), np.maximum(lo, hi), color=color, alpha=0.18, linewidth=0)
    return line


def embedding_scatter(ax, angle, norm, iters, marker="o", label=None, cmap="viridis", **kw):
    """Figures A-10 / A-11: one point per neuron and recorded iteration, angle (degrees)
    against magnitude, coloured by iteration.  ``angle`` and ``norm`` are (R, m)."""
    angle, norm = np.asarray(angle), np.asarray(norm)
    colors = np.broadcast_to(np.asarray(iters, float)[:, None], angle.shape)
    return ax.scatter(norm.ravel(), angle.ravel(), c=colors.ravel(), cmap=cmap, s=14, marker=marker, label=label, **kw)


def _label_px(value) -> float:
    """A generous estimate of a plain-number tick label's width in CSS px."""
    return 0.65 * len(f"{value:g}") * text_px(plt.rcParams["xtick.labelsize"]) + 8


def spaced_ticks(ticks, lo: float, hi: float, length_px: float, axis: str = "x") -> list:
    """The ``ticks`` (sorted, within [lo, hi]) whose labels do not collide on a log axis from ``lo``
    to ``hi`` that is ``length_px`` long: left to right, a tick is kept when it is at least half its
    label and half the previous kept label away (the label height on a y axis), and the last
    tick replaces the previous kept one when only the two of them collide."""
    ticks = sorted(t for t in ticks if lo <= t <= hi)
    if len(ticks) < 2 or hi <= lo or length_px <= 0:
        return ticks
    per_decade = length_px / np.log10(hi / lo)
    size = _label_px if axis == "x" else (lambda v: 1.5 * text_px(plt.rcParams["ytick.labelsize"]))

    def apart(a, b):
        return np.log10(b / a) * per_decade >= (size(a) + size(b)) / 2

    kept = [ticks[0]]
    for t in ticks[1:]:
        if apart(kept[-1], t):
            kept.append(t)
    if kept[-1] != ticks[-1] and len(kept) >= 2 and apart(kept[-2], ticks[-1]):
        kept[-1] = ticks[-1]  # the axis' end reads better than the tick before it
    return kept


def plain_log_ticks(ax, ticks, axis="x"):
    """Put ``ticks`` on a log axis, written as plain numbers (1, 2, 5, 10 rather than 10^0),
    leaving out those whose labels would collide at the axes' current size
    (:func:`spaced_ticks`; call it after plotting, so that the limits are known)."""
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    target = ax.xaxis if axis == "x" else ax.yaxis
    ticks = [float(t) for t in ticks]
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    box = ax.get_window_extent()  # display pixels at the figure's dpi; CSS pixels at DPI
    # 90 %: tight_layout may still shrink the axes a little after this call
    length = 0.9 * (box.width if axis == "x" else box.height) * DPI / ax.figure.dpi
    if lo > 0:
        ticks = spaced_ticks(ticks, lo, hi, length, axis)
    target.set_major_locator(FixedLocator(list(ticks)))
    target.set_minor_locator(NullLocator())
    fmt = ScalarFormatter()
    fmt.set_scientific(False)
    target.set_major_formatter(fmt)
