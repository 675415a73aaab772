"""Statistics over seeds: power-law fits with bootstrap confidence intervals, seed counts.

A chapter trains every point of a sweep with several seeds.  What it prints
must not hinge on one chaotic run, so summaries are over seeds:

* :func:`fit_power_law_ci` fits log y = slope log x + c (the exponents of
  Theorem 1's T = Theta(alpha^{-2/3}), Theorem 3's Omega(R), Theorem 4's
  T = Theta(alpha^{-2} ...) and Theorem 5's l_ts = Omega((alpha' tau^f)^{-2}))
  and attaches a percentile-bootstrap interval obtained by resampling *seeds*
  (each resample keeps a seed's whole curve, so the interval reflects the
  spread between independent trainings);
* :func:`fit_linear_ci` fits a straight line y = slope x + c the same way (the
  margin lost against the fraction R of large neurons pruned, Theorem 3's
  Omega(R)); x may differ by seed;
* :func:`count_reached` counts, per sweep point, the seeds that reached a target;
* :func:`fmt_error` prints an error the way every machine agrees on it.

The bootstrap draws come from NumPy's PCG64 with a fixed seed, which gives
the same numbers on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .checks import check_float, check_int

#: The most bootstrap resamples a fit accepts (the book uses 2000).
MAX_BOOT = 1_000_000

__all__ = [
    "PowerLawFit",
    "fit_power_law_ci",
    "LinearFit",
    "fit_linear_ci",
    "DecayFits",
    "fit_decay",
    "count_reached",
    "NOT_LEARNED",
    "fmt_error",
]


@dataclass(frozen=True)
class _SlopeFit:
    """A fitted slope with its bootstrap interval (``lo``, ``hi``) at ``level``;
    ``n_points`` finite (x, y) pairs entered the fit, from ``n_seeds`` seeds."""

    slope: float
    intercept: float
    lo: float
    hi: float
    level: float
    n_points: int
    n_seeds: int

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies inside the confidence interval of the slope."""
        return bool(self.lo <= value <= self.hi)

    def __str__(self) -> str:
        return f"{self.slope:.2f} ({self.level:.0%} CI {self.lo:.2f} to {self.hi:.2f})"


@dataclass(frozen=True)
class PowerLawFit(_SlopeFit):
    """A fitted exponent: log y = slope log x + intercept, with its bootstrap interval."""

    def predict(self, x):
        """The fitted power law exp(c) x^slope."""
        return np.exp(self.intercept) * np.asarray(x, float) ** self.slope


def _fit(logx, logy) -> tuple[float, float]:
    if np.unique(logx).size < 2:
        return float("nan"), float("nan")
    slope, c = np.polyfit(logx, logy, 1)
    return float(slope), float(c)


def fit_power_law_ci(x, y, n_boot: int = 2000, level: float = 0.9, seed: int = 0) -> PowerLawFit:
    """Least-squares fit of log y = slope log x + c with a bootstrap interval over seeds.

    ``x`` (P,) are the sweep values; ``y`` (P, S) one measurement per sweep
    point and seed; entries that are not finite and positive (a seed that never
    reached a target, NaN) are left out of the fit -- the caller says so.
    The interval is the ``level`` percentile interval of the slope over
    ``n_boot`` resamples of the S seeds with replacement.  Fewer than two
    distinct x values with a finite y give NaN everywhere.
    """
    n_boot = check_int("n_boot", n_boot, 1, MAX_BOOT, allowed=f"integers in [1, {MAX_BOOT}] (bootstrap resamples)")
    level = check_float("level", level, 0.0, 1.0, lo_open=True, hi_open=True)
    seed = check_int("seed", seed, 0, allowed="integers >= 0")
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if y.ndim == 1:
        y = y[:, None]
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"parameter 'y' has shape {y.shape}: allowed (len(x), n_seeds) = ({x.shape[0]}, S)")
    if not 0 < level < 1:
        raise ValueError(f"parameter 'level' = {level!r} is invalid: allowed a number in (0, 1)")
    ok = np.isfinite(y) & (y > 0) & (x[:, None] > 0)
    X = np.broadcast_to(x[:, None], y.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        logx, logy = np.log(X), np.log(y)
    slope, c = _fit(logx[ok], logy[ok])
    S = y.shape[1]
    seeds_used = int(ok.any(axis=0).sum())
    if not np.isfinite(slope):
        return PowerLawFit(slope, c, float("nan"), float("nan"), level, int(ok.sum()), seeds_used)
    rng = np.random.default_rng(seed)
    slopes = []
    for _ in range(n_boot):
        pick = rng.integers(0, S, S)
        k = ok[:, pick]
        s, _ = _fit(logx[:, pick][k], logy[:, pick][k])
        if np.isfinite(s):
            slopes.append(s)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(slopes, [tail, 100 - tail]) if slopes else (float("nan"), float("nan"))
    return PowerLawFit(slope, c, float(lo), float(hi), level, int(ok.sum()), seeds_used)


@dataclass(frozen=True)
class LinearFit(_SlopeFit):
    """A fitted straight line y = slope x + intercept, with the bootstrap interval of its slope."""

    def predict(self, x):
        """The fitted line at ``x``."""
        return self.intercept + self.slope * np.asarray(x, float)


def fit_linear_ci(x, y, n_boot: int = 2000, level: float = 0.9, seed: int = 0) -> LinearFit:
    """Least-squares line y = slope x + c with a bootstrap interval of the slope over seeds.

    ``y`` (P, S): one measurement per sweep point and seed; ``x`` the sweep
    values, (P,) shared by all seeds or (P, S) when each seed has its own (for
    instance the fraction of a model's neurons a rate actually removes).
    Non-finite entries are left out.  The interval resamples the S seeds with
    replacement (whole curves), as :func:`fit_power_law_ci` does.
    """
    y = np.asarray(y, float)
    if y.ndim == 1:
        y = y[:, None]
    n_boot = check_int("n_boot", n_boot, 1, MAX_BOOT, allowed=f"integers in [1, {MAX_BOOT}] (bootstrap resamples)")
    level = check_float("level", level, 0.0, 1.0, lo_open=True, hi_open=True)
    seed = check_int("seed", seed, 0, allowed="integers >= 0")
    x = np.asarray(x, float)
    if x.ndim == 1:
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"parameter 'y' has shape {y.shape}: allowed (len(x), n_seeds) = ({x.shape[0]}, S)")
        x = np.broadcast_to(x[:, None], y.shape)
    if x.shape != y.shape:
        raise ValueError(f"parameter 'x' has shape {x.shape}: allowed (P,) or the shape of 'y' {y.shape}")
    if not 0 < level < 1:
        raise ValueError(f"parameter 'level' = {level!r} is invalid: allowed a number in (0, 1)")
    ok = np.isfinite(x) & np.isfinite(y)
    slope, c = _fit(x[ok], y[ok])
    seeds_used = int(ok.any(axis=0).sum())
    if not np.isfinite(slope):
        return LinearFit(slope, c, float("nan"), float("nan"), level, int(ok.sum()), seeds_used)
    S = y.shape[1]
    rng = np.random.default_rng(seed)
    slopes = []
    for _ in range(n_boot):
        pick = rng.integers(0, S, S)
        k = ok[:, pick]
        s, _ = _fit(x[:, pick][k], y[:, pick][k])
        if np.isfinite(s):
            slopes.append(s)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(slopes, [tail, 100 - tail]) if slopes else (float("nan"), float("nan"))
    return LinearFit(slope, c, float(lo), float(hi), level, int(ok.sum()), seeds_used)


@dataclass(frozen=True)
class DecayFits:
    """An exponential and a power-law fit of one decaying curve over seeds (:func:`fit_decay`):
    ``exponential`` fits log y = -rate t + c (its slope is -rate), ``power`` fits
    log y = slope log t + c; ``rss_exponential`` and ``rss_power`` are their residual sums of
    squares in log y over the same points."""

    exponential: LinearFit
    power: PowerLawFit
    rss_exponential: float
    rss_power: float

    @property
    def rate(self) -> tuple[float, float, float]:
        """The exponential rate and its interval (rate, lo, hi): the negated slope."""
        e = self.exponential
        return -e.slope, -e.hi, -e.lo

    @property
    def exponential_better(self) -> bool:
        return bool(self.rss_exponential < self.rss_power)


def fit_decay(t, y, n_boot: int = 2000, level: float = 0.9, seed: int = 0) -> DecayFits:
    """Fit y (P, S) -- one value per time t (P,) > 0 and seed -- with an exponential and a power law,
    both with bootstrap intervals over seeds (:func:`fit_linear_ci`, :func:`fit_power_law_ci`);
    entries that are not finite and > 0 are left out of both (the chapter 6 error curves)."""
    t = np.asarray(t, float)
    y = np.asarray(y, float)
    if y.ndim == 1:
        y = y[:, None]
    if t.ndim != 1 or t.shape[0] != y.shape[0] or not (t > 0).all():
        raise ValueError(f"parameter 't' = {t!r} is invalid: allowed one time > 0 per row of y ({y.shape[0]})")
    logy = np.where(np.isfinite(y) & (y > 0), np.log(np.where(y > 0, y, 1.0)), np.nan)
    exp_fit = fit_linear_ci(t, logy, n_boot, level, seed)
    pow_fit = fit_power_law_ci(t, np.exp(logy), n_boot, level, seed)
    T = np.broadcast_to(t[:, None], y.shape)
    ok = np.isfinite(logy)
    rss_e = float(((logy - exp_fit.predict(T))[ok] ** 2).sum())
    rss_p = float(((logy - np.log(pow_fit.predict(T)))[ok] ** 2).sum())
    return DecayFits(exp_fit, pow_fit, rss_e, rss_p)


def count_reached(values, target: float, axis: int = -1) -> np.ndarray:
    """How many seeds (entries along ``axis``) are finite and at most ``target``."""
    v = np.asarray(values, float)
    return (np.isfinite(v) & (v <= target)).sum(axis=axis)


#: Errors above this are printed as ``>0.1`` (see :func:`fmt_error`).
NOT_LEARNED = 0.1


def fmt_error(err: float, digits: int = 3, above: float = NOT_LEARNED) -> str:
    """An error rounded to ``digits``, or ``'>0.1'`` when it is above ``above``.

    A run that has learned sits still near its minimum, and its error is the
    same on every machine.  A run that has *not* learned keeps moving at lr =
    10 (ReLU and hinge kinks make the plateau dynamics chaotic): there the
    last bits in which two CPUs differ grow until the error differs in its
    first digit (chapter 1, alpha = 0.8, l_tr = 1: 0.368 here, 0.386 under
    ``ATEN_CPU_CAPABILITY=default``).  Such a value carries only "did not
    learn", and that is what is printed; the figures show the values measured.
    """
    err = float(err)
    digits = check_int("digits", digits, 0, 12, allowed="integers in [0, 12]")
    above = check_float("above", above, 0.0, 1.0)
    if not np.isfinite(err):
        return "nan"
    if not 0.0 <= err <= 1.0:
        raise ValueError(f"parameter 'err' = {err!r} is invalid: allowed an error rate in [0, 1] (or NaN)")
    return f">{above:g}" if err > above else f"{err:.{digits}f}"
