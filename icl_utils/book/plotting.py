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
]

THEORY_COLOR = "0.25"

#: Environment variable naming the inline figure format of a notebook kernel (e.g. ``retina``:
#: PNGs at twice the pixels, shown at the same size); unset, matplotlib's default PNG.
FIGURE_FORMAT_ENV = "ICL_FIGURE_FORMAT"


def set_theme() -> None:
    """The book's figure style: seaborn ``whitegrid``, opaque white backgrounds
    (readable in light and dark page themes), colour-blind palette."""
    # Text a little larger than seaborn's "notebook" context: two-panel figures are shown
    # scaled down to the book's column width.
    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind", font_scale=1.15)
    plt.rcParams.update(
        {
            "figure.facecolor": "white",
            "axes.facecolor": "white",
            "savefig.facecolor": "white",
            "savefig.transparent": False,
            "figure.dpi": 90,
            "figure.autolayout": False,
            "axes.titlesize": "medium",
            "legend.fontsize": "small",
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


def plain_log_ticks(ax, ticks, axis="x"):
    """Put ``ticks`` on a log axis, written as plain numbers (1, 2, 5, 10 rather than 10^0)."""
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(FixedLocator(list(ticks)))
    target.set_minor_locator(NullLocator())
    fmt = ScalarFormatter()
    fmt.set_scientific(False)
    target.set_major_formatter(fmt)
