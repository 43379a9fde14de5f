"""Where specialization starts to rise: the onset of a curve read from dense to sparse, and how
firmly a sweep's seeds place it (chapters "Results", "Beyond the paper")."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modlib.analysis.frames import spec_level_means, specialization_frame
from modlib.analysis.stats import bootstrap_means
from modlib.metrics import MEASURES


ONSET_FRACTION = 0.25  # a curve has "started to rise" once it is this share of the way up


ONSET_FRACTIONS = (0.1, 0.25, 0.5)  # every verdict is also shown at these


BASELINES = ("densest", "minimum")  # where the rise is measured from: p = 1, or the curve's lowest level


def onset_p(curve: pd.Series, fraction: float = ONSET_FRACTION, baseline: str = "densest") -> float:
    """The largest p at which specialization exceeds its baseline by ``fraction`` of its
    full rise: where the curve "starts to rise" when read from dense to sparse. The
    baseline is the densest level's value, or with ``baseline="minimum"`` the curve's lowest
    value, and then only levels at or below that lowest one's p count (a curve that rises
    again at the dense end has not started its rise towards sparsity there)."""
    curve = curve.sort_index()
    return float(onsets(curve.index.to_numpy(float), curve.to_numpy(float), fraction, baseline))


def onsets(p: np.ndarray, means: np.ndarray, fraction: float = ONSET_FRACTION,
           baseline: str = "densest") -> np.ndarray:
    """`onset_p` of each row of ``means`` ``[..., levels]``, levels in increasing ``p``
    (the last is the dense end); NaN where the curve never rises."""
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    means = np.asarray(means, dtype=float)
    if baseline == "densest":
        lowest = np.full((*means.shape[:-1], 1), means.shape[-1] - 1)
    else:
        lowest = np.nanargmin(means, axis=-1)[..., None]
    base = np.take_along_axis(means, lowest, axis=-1)
    counted = np.arange(means.shape[-1]) <= lowest  # the baseline's level and sparser ones
    top = np.where(counted, means, -np.inf).max(axis=-1, keepdims=True)
    risen = counted & (means - base > fraction * (top - base))
    largest = np.where(risen, p, -np.inf).max(axis=-1)
    return np.where(np.isinf(largest), np.nan, largest)


def seed_matrix(spec: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``metric``'s specialization per level (rows, increasing p) and seed (columns)."""
    values = spec[spec["metric"] == metric].pivot_table(index="p", columns="seed", values="spec")
    if values.empty:
        raise ValueError(f"no {metric!r} rows in this table: run the sweep with that metric")
    return values


def bootstrap_onsets(spec: pd.DataFrame, metric: str, resamples: int = 1000, seed: int = 0,
                     fraction: float = ONSET_FRACTION, baseline: str = "densest") -> np.ndarray:
    """`onset_p` of ``metric``'s mean curve in ``resamples`` bootstrap resamples of the seeds,
    from a sweep's `specialization_frame` ``spec``: how firmly the sweep places an onset. A
    seed is one initialisation and one draw of pairs at every level, so a resample draws
    seeds once for all levels. A criterion that holds in nearly all or nearly none of them
    would stand on another draw of seeds; one that holds in about half, the sweep cannot decide."""
    values = seed_matrix(spec, metric)
    return onsets(values.index.to_numpy(float), bootstrap_means(values.to_numpy(), resamples, seed),
                  fraction, baseline)


def spec_at(curve: pd.Series, p: float) -> float:
    """Specialization at ``p``, interpolated linearly in log p between sweep levels."""
    curve = curve.sort_index()
    return float(np.interp(np.log(p), np.log(curve.index.to_numpy(float)), curve.to_numpy(float)))


def onset_table(table: pd.DataFrame, resamples: int = 1000) -> pd.DataFrame:
    """Per measure: mean specialization at the sparsest and the densest level, the onset
    (`onset_p`) and the 2.5 and 97.5 percentiles of the onsets of seed resamples
    (`bootstrap_onsets`; NaN resamples, whose curve never rises, are left out)."""
    spec = specialization_frame(table)
    means = spec_level_means(spec)
    rows = []
    for metric in [m for m in MEASURES if m in means]:
        curve = means[metric].dropna().sort_index()
        resampled = bootstrap_onsets(spec, metric, resamples)
        low, high = np.nanpercentile(resampled, [2.5, 97.5]) if np.isfinite(resampled).any() else (np.nan,) * 2
        rows.append(dict(metric=metric, sparsest=curve.iloc[0], densest=curve.iloc[-1], onset_p=onset_p(curve),
                         onset_low=low, onset_high=high))
    return pd.DataFrame(rows)
