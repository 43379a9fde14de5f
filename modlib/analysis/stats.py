"""The statistics every part of the analysis uses, chosen to hold with the few seeds a sweep has
(3 to 10 models per mean): the interval of a mean, the difference of two sets of models, rank
correlations with their intervals, and the one way an estimate is written. Every interval is a
95% interval.

A percentile bootstrap of n values cannot reach beyond their range, so below about ten values
its interval is too narrow (at n = 3 it covers the mean about 75% of the time, not 95%); means
and differences here use Student's t instead, which is exact for normal values at any n >= 2.
The bootstrap stays only where no t interval exists: the onset of a curve (`bootstrap_means`,
`modlib.analysis.onsets.bootstrap_onsets`), read there as a share of seed resamples.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

LEVEL = 0.95
NO_INTERVAL = (np.nan, np.nan, np.nan)


def finite(values) -> np.ndarray:
    """``values`` as floats, NaN and infinities left out."""
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values)]


def variance(values: np.ndarray) -> float:
    """The sample variance (n - 1), exactly 0 where all values are equal (not a rounding's 1e-33)."""
    return 0.0 if np.ptp(values) == 0 else float(values.var(ddof=1))


def t_half_width(sem: float, df: float) -> float:
    """Half the width of the 95% t interval of an estimate with standard error ``sem``."""
    return float(stats.t.ppf((1 + LEVEL) / 2, df) * sem)


def mean_interval(values) -> tuple[float, float, float]:
    """Mean of ``values`` (NaN left out) and its Student t interval, mean +- t(n - 1) s / sqrt(n).
    Valid for n >= 2 values drawn independently (e.g. one per seed) from a roughly normal spread;
    with fewer than two, the mean alone (NaN bounds); equal values give a zero-width interval."""
    values = finite(values)
    if len(values) < 2:
        return (float(values.mean()) if len(values) else np.nan), np.nan, np.nan
    mean = values.mean()
    half = t_half_width(np.sqrt(variance(values) / len(values)), len(values) - 1)
    return float(mean), float(mean - half), float(mean + half)


def difference_interval(a, b) -> tuple[float, float, float]:
    """Mean of ``a`` minus mean of ``b``, two independent samples (NaN left out: e.g. the models of
    two designs), with Welch's t interval (no equal spreads assumed; Welch-Satterthwaite degrees
    of freedom). Valid for at least two values on each side; NaN otherwise. The difference is in
    the measure's own units, the effect size a reader can set against the measure's range."""
    a, b = finite(a), finite(b)
    if len(a) < 2 or len(b) < 2:
        return NO_INTERVAL
    va, vb = variance(a) / len(a), variance(b) / len(b)
    difference, sem = a.mean() - b.mean(), np.sqrt(va + vb)
    if sem == 0:
        return float(difference), float(difference), float(difference)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = t_half_width(sem, df)
    return float(difference), float(difference - half), float(difference + half)


def seed_rank_correlation(frame: pd.DataFrame, x: str, y: str) -> tuple[float, float, float]:
    """Spearman's rank correlation of columns ``x`` and ``y`` over all the models (rows) of
    ``frame``, with a Fisher z interval (Bonett and Wright's standard error for Spearman,
    sqrt((1 + rho^2 / 2) / (n - 3))) whose n is the number of seeds, not of models: a seed's
    models share their initial weights (and a frozen readout) across levels, so seeds are the
    independent draws. Valid for four seeds or more; NaN bounds with fewer."""
    rho = float(frame[x].rank().corr(frame[y].rank()))
    n = frame["seed"].nunique()
    if n < 4 or not np.isfinite(rho):
        return rho, np.nan, np.nan
    half = stats.norm.ppf((1 + LEVEL) / 2) * np.sqrt((1 + rho ** 2 / 2) / (n - 3))
    z = np.arctanh(np.clip(rho, -0.999999, 0.999999))
    return rho, float(np.tanh(z - half)), float(np.tanh(z + half))


def within_seed_rank_correlation(frame: pd.DataFrame, x: str, y: str) -> tuple[float, float, float]:
    """Spearman's rank correlation of ``x`` and ``y`` over each seed's own models (e.g. across the
    levels, where ``x`` is a design variable such as p), averaged over seeds, with the t interval
    of that mean (`mean_interval`, n = seeds). Valid for two seeds or more, each with three models
    or more; a seed whose ``x`` or ``y`` is constant has no correlation and is left out."""
    with np.errstate(invalid="ignore", divide="ignore"):
        per_seed = [group[x].rank().corr(group[y].rank()) for _, group in frame.groupby("seed")]
    return mean_interval(per_seed)


def bootstrap_means(values: np.ndarray, resamples: int, seed: int = 0) -> np.ndarray:
    """Means over the last axis (seeds; NaN where missing) of ``resamples`` bootstrap
    resamples of the seeds, the same draw of seeds for every leading index (level):
    ``[resamples, *values.shape[:-1]]``. For statistics with no t interval (an onset); a share
    of resamples read from it is as firm as the seeds allow, and no firmer."""
    values = np.asarray(values, dtype=float)
    picks = np.random.default_rng(seed).integers(0, values.shape[-1], size=(resamples, values.shape[-1]))
    with warnings.catch_warnings():  # a resample of missing values only has no mean: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.moveaxis(np.nanmean(values[..., picks], axis=-1), -1, 0)


def interval_text(value: float, low: float, high: float, mark: bool = False) -> str:
    """An estimate and its 95% interval as "+0.12 [+0.05, +0.20]"; with ``mark``, an asterisk
    after one whose interval excludes zero."""
    return f"{value:+.2f} [{low:+.2f}, {high:+.2f}]" + ("*" if mark and (low > 0 or high < 0) else "")


def estimate(interval: tuple[float, float, float]) -> dict:
    """A value and its 95% interval as the columns value, low and high."""
    return dict(zip(("value", "low", "high"), interval))


def graded(strong: bool, weak: bool) -> str:
    """The verdict on a finding: it holds (``strong``), holds in part (``weak``), or not."""
    return "agrees" if strong else "partly" if weak else "does not"
