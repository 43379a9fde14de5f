"""The statistics every part of the analysis uses: the interval of a mean, the difference of two
sets of models, a rank correlation over seeds, and the one way an estimate is written."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


def bootstrap_means(values: np.ndarray, resamples: int, seed: int = 0) -> np.ndarray:
    """Means over the last axis (seeds; NaN where missing) of ``resamples`` bootstrap
    resamples of the seeds, the same draw of seeds for every leading index (level):
    ``[resamples, *values.shape[:-1]]``."""
    values = np.asarray(values, dtype=float)
    picks = np.random.default_rng(seed).integers(0, values.shape[-1], size=(resamples, values.shape[-1]))
    with warnings.catch_warnings():  # a resample of missing values only has no mean: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.moveaxis(np.nanmean(values[..., picks], axis=-1), -1, 0)


def mean_interval(values, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean and a 95% bootstrap interval of the mean."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float(values.mean()) if len(values) else np.nan, np.nan, np.nan
    means = bootstrap_means(values, n_boot, seed)
    return float(values.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def interval_text(value: float, low: float, high: float, mark: bool = False) -> str:
    """An estimate and its 95% interval as "+0.12 [+0.05, +0.20]"; with ``mark``, an asterisk
    after one whose interval excludes zero."""
    return f"{value:+.2f} [{low:+.2f}, {high:+.2f}]" + ("*" if mark and (low > 0 or high < 0) else "")


def seed_rank_correlation(frame: pd.DataFrame, x: str, y: str, resamples: int = 2000,
                          seed: int = 0) -> tuple[float, float, float]:
    """Spearman's rank correlation of columns ``x`` and ``y`` over the rows of ``frame``, with a
    95% interval from resampling its seeds (a seed's models share their initial weights across
    levels, so seeds, not models, are the independent draws)."""
    def spearman(rows: pd.DataFrame) -> float:
        return rows[x].rank().corr(rows[y].rank())

    seeds = frame["seed"].unique()
    by_seed = {s: frame[frame["seed"] == s] for s in seeds}
    rng = np.random.default_rng(seed)
    draws = [spearman(pd.concat([by_seed[s] for s in rng.choice(seeds, len(seeds))])) for _ in range(resamples)]
    rho = float(spearman(frame))
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return rho, float(low), float(high)


def graded(strong: bool, weak: bool) -> str:
    """The verdict on a finding: it holds (``strong``), holds in part (``weak``), or not."""
    return "agrees" if strong else "partly" if weak else "does not"


def estimate(interval: tuple[float, float, float]) -> dict:
    """A value and its 95% interval as the columns value, low and high (`step_findings`, `ends_against`)."""
    return dict(zip(("value", "low", "high"), interval))


def difference_interval(a, b, resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``a`` minus mean of ``b`` (two independent samples; NaN left out) and a 95%
    bootstrap interval, each sample resampled on its own."""
    a, b = (np.asarray(v, dtype=float) for v in (a, b))
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return np.nan, np.nan, np.nan
    draws = bootstrap_means(a, resamples, seed) - bootstrap_means(b, resamples, seed + 1)
    low, high = np.percentile(draws, [2.5, 97.5])
    return float(a.mean() - b.mean()), float(low), float(high)
