"""What a sweep's table says: each model's specialization, means per level, learning curves,
where specialization starts to rise (with seed resamples), the paper's claims checked, and
the comparisons of the variant and modulus sweeps. Everything here reads tables that
`modlib.sweep` wrote and returns numbers or tables; nothing trains."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from modlib.metrics import MEASURES, METRICS, specialization
from modlib.timecourse import STEP_MEASURES
from modlib.sweep import (AUTHORS_VARIANTS, BOOK_RESULTS, CELL_SWEEPS, CURVES, LONG_MODULI, MODULUS_SWEEPS,
                          READOUT_SWEEPS, SIZES, VARIANTS, load_results, read_table)


def specialization_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Per model and metric: each module's specialization and their mean (``spec``)."""
    rows = table[table["metric"].isin(METRICS)]
    keys = ["architecture", "k", "p", "q", "seed", "metric"]
    out = []
    for key, group in rows.groupby(keys):
        m = np.zeros((2, 2))
        m[group["module"].astype(int), group["subtask"].astype(int)] = group["value"]
        s = specialization(m)
        out.append(dict(zip(keys, key), spec_0=s[0], spec_1=s[1], spec=s.mean()))
    return pd.DataFrame(out, columns=keys + ["spec_0", "spec_1", "spec"])


ACCURACY_STEP_MEASURES = ("step_bottleneck", "step_probe", "step_ablation")  # tables of accuracies, chance 0.1


def step_frame(table: pd.DataFrame, chance: float = 0.0) -> pd.DataFrame:
    """Per model, step and per-step measure (`modlib.timecourse.STEP_MEASURES`): each module's
    specialization (``spec_0``, ``spec_1``) and their mean (``spec``), by the paper's formula. With
    ``chance`` > 0 the accuracy measures' tables are first corrected as the journal version does:
    ``a = clip((accuracy - chance) / (1 - chance), 0, 1)`` (its chance is 0.1, ten digits)."""
    keys = ["architecture", "k", "p", "seed", "metric", "step"]
    rows = table[table["metric"].isin(STEP_MEASURES)]
    if rows.empty:
        raise ValueError("this table has no per-step rows: run its sweep with --metrics steps")
    wide = rows.pivot_table(index=keys, columns=["module", "subtask"], values="value")
    m = wide[[(0, 0), (0, 1), (1, 0), (1, 1)]].to_numpy(float)
    accuracy = wide.index.get_level_values("metric").isin(ACCURACY_STEP_MEASURES)
    if chance:
        m[accuracy] = np.clip((m[accuracy] - chance) / (1 - chance), 0, 1)
    with np.errstate(invalid="ignore"):
        spec_0 = (m[:, 0] - m[:, 1]) / (m[:, 0] + m[:, 1])
        spec_1 = (m[:, 3] - m[:, 2]) / (m[:, 3] + m[:, 2])
    return wide.index.to_frame(index=False).assign(spec_0=spec_0, spec_1=spec_1, spec=(spec_0 + spec_1) / 2)


def level_means(table: pd.DataFrame) -> pd.DataFrame:
    """Mean specialization per metric (columns) and level p (rows)."""
    return spec_level_means(specialization_frame(table))


def spec_level_means(spec: pd.DataFrame) -> pd.DataFrame:
    """`level_means` from a `specialization_frame` already computed."""
    return spec.groupby(["p", "metric"])["spec"].mean().unstack("metric")


def module_level_means(table: pd.DataFrame) -> pd.DataFrame:
    """Mean specialization of each module per measure and level: rows (metric, p), columns
    ``module 0``, ``module 1`` and their ``difference`` (module 0 minus module 1)."""
    means = specialization_frame(table).groupby(["metric", "p"])[["spec_0", "spec_1"]].mean()
    means.columns = ["module 0", "module 1"]
    return means.assign(difference=means["module 0"] - means["module 1"])


def module_difference(tables: dict[str, pd.DataFrame], ks: tuple[int, ...] = (1, 3, 8)) -> pd.DataFrame:
    """How much more specialised module 0 is than module 1 (spec_0 - spec_1 per model), over
    the models at levels ``ks``, in each sweep (by label): each module's mean, and the
    difference's mean and 95% bootstrap interval per measure. A seed's models share their
    initial weights across levels, so the interval resamples seeds (each seed's mean over
    the levels), not models. Rows (sweep, metric)."""
    rows = []
    for label, table in tables.items():
        spec = specialization_frame(table[table["k"].isin(ks)])
        for metric, group in spec.groupby("metric", sort=False):
            per_seed = (group["spec_0"] - group["spec_1"]).groupby(group["seed"]).mean()
            mean, low, high = mean_interval(per_seed)
            rows.append(dict(sweep=label, metric=metric, **{"module 0": group["spec_0"].mean(),
                             "module 1": group["spec_1"].mean()}, difference=mean, low=low, high=high,
                             models=len(group), seeds=len(per_seed)))
    return pd.DataFrame(rows).set_index(["sweep", "metric"])


def pooled(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Several sweeps' rows as one sweep, each sweep's seeds renumbered (1000 apart) so that
    no two sweeps share a seed: to pool sweeps that differ in a setting shown not to matter."""
    return pd.concat([table.assign(seed=table["seed"] + 1000 * i) for i, table in enumerate(tables)],
                     ignore_index=True)


def accurate_models(table: pd.DataFrame, threshold: float = 0.9) -> pd.DataFrame:
    """The rows of the models whose test accuracy on the task is at least ``threshold``: the
    curves of these alone are not read through how well each model trained."""
    acc = table[table["metric"] == "accuracy"]
    keep = acc.loc[acc["value"] >= threshold, ["architecture", "k", "seed"]]
    return table.merge(keep, on=["architecture", "k", "seed"])


def models_per_level(table: pd.DataFrame) -> pd.DataFrame:
    """How many models each architecture has at each level k (columns)."""
    acc = table[table["metric"] == "accuracy"]
    return acc.pivot_table(index="architecture", columns="k", values="value", aggfunc="size", fill_value=0)


def learning_curves(table: pd.DataFrame, curve: str = "test_accuracy") -> pd.DataFrame:
    """Mean accuracy over seeds after each epoch: rows (architecture, k), columns epoch.
    ``curve`` is "test_accuracy" or "train_accuracy" (the running mean over the epoch's batches)."""
    if curve not in CURVES:
        raise ValueError(f"curve must be one of {CURVES}, got {curve!r}")
    rows = table[table["metric"] == f"epoch_{curve}"]
    if rows.empty:
        raise ValueError("this table has no per-epoch rows (stored before they were recorded): "
                         "rerun its sweep with --fresh")
    return rows.pivot_table(index=["architecture", "k"], columns="epoch", values="value", aggfunc="mean")


def decision_curves(table: pd.DataFrame) -> pd.DataFrame:
    """Mean share of the test pairs module 0 decides after each epoch: rows (architecture, k),
    columns epoch (`learning_curves`' shape)."""
    rows = table[(table["metric"] == "epoch_decision_share") & (table["module"] == 0)]
    if rows.empty:
        raise ValueError("this table has no per-epoch decision shares (stored before they were recorded): "
                         "rerun its sweep with --fresh")
    return rows.pivot_table(index=["architecture", "k"], columns="epoch", values="value", aggfunc="mean")


ANSWERS_FOR_OTHER = {0: "module 0 answers for module 1", 1: "module 1 answers for module 0"}


def decision_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Per model (architecture, k, p, seed), which module decides, on the test pairs: the share
    of all pairs module 0 decides (``module 0 decides``), and for each module the share of the
    pairs whose answer is the other module's digit in which it decides anyway (`ANSWERS_FOR_OTHER`):
    under the competitive decision it can then answer right only with a digit that crossed."""
    rows = table[table["metric"] == "decision_share"]
    if rows.empty:
        raise ValueError("this table has no decision shares (stored before they were recorded): "
                         "rerun its sweep with --fresh")
    keys = ["architecture", "k", "p", "seed"]
    overall = rows[rows["subtask"].isna() & (rows["module"] == 0)].set_index(keys)["value"]
    by_answer = rows[rows["subtask"].notna() & (rows["module"] != rows["subtask"])]
    other = by_answer.pivot_table(index=keys, columns="module", values="value").rename(columns=ANSWERS_FOR_OTHER)
    return other.join(overall.rename("module 0 decides")).reset_index()


def long_run_figures(table: pd.DataFrame, budget: int = 5) -> dict[str, float]:
    """Whether more epochs help each end, from a long run's learning curves (standard
    architecture): ``epochs`` trained, ``sparsest_final`` (the sparsest level's test accuracy
    after the last), and the densest level's lowest and highest test and train accuracy from
    epoch ``budget`` (the paper's 5) on: ``dense_test_low``, ``dense_test_high``,
    ``dense_train_low``, ``dense_train_high``."""
    test, train = (learning_curves(table, curve).loc["standard"] for curve in ("test_accuracy", "train_accuracy"))
    figures = {"epochs": float(test.columns[-1]), "sparsest_final": float(test.iloc[0, -1])}
    for name, curve in (("test", test), ("train", train)):
        after = curve.iloc[-1].loc[budget:]
        figures |= {f"dense_{name}_low": float(after.min()), f"dense_{name}_high": float(after.max())}
    return figures


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


def spec_at(curve: pd.Series, p: float) -> float:
    """Specialization at ``p``, interpolated linearly in log p between sweep levels."""
    curve = curve.sort_index()
    return float(np.interp(np.log(p), np.log(curve.index.to_numpy(float)), curve.to_numpy(float)))


LATE_ONSET = 0.01   # claim (b): bottleneck and correlation rise only at or below this p
EARLY_ONSET = 0.046  # claim (c): the weight mask has risen by this p (the last level below 0.11) ...
FLAT_ABOVE = 0.11    # ... and not at this p or above ("without substantially increasing until p < 0.11")
Q_035_P = 0.176  # claim (d): the p at which Q = 0.35


def claim_figures(table: pd.DataFrame, resamples: int = 1000, fraction: float = ONSET_FRACTION,
                  baseline: str = "densest") -> dict[str, float]:
    """The numbers behind the verdicts of `claims` at one onset ``fraction`` and ``baseline``,
    by name, as plain floats (the book pastes them into its prose, so that no number there
    is typed by hand). Per measure ``m`` (those in the table): ``m_densest`` and
    ``m_sparsest`` (mean specialization at the densest level ``densest_p``, 1 in the paper's
    sweep, and at the sparsest level ``sparsest_p``), ``m_minimum`` and ``m_minimum_p`` (the
    curve's lowest mean and where), ``m_spearman`` (rank correlation with sparsity),
    ``m_onset`` (`onset_p`) with ``m_onset_value`` (the mean there) and ``m_threshold`` (the
    share of the rise it had to exceed), ``m_late_share`` / ``m_early_share`` /
    ``m_window_share`` (share of seed resamples whose onset is at or below `LATE_ONSET` / at
    or above `EARLY_ONSET` / in [`EARLY_ONSET`, `FLAT_ABOVE`)), ``m_at_q035`` and
    ``m_q035_share`` (specialization at Q = 0.35 and its share of the rise from the
    baseline). Then ``models``, ``accuracy_share`` (share at or above 0.90 test accuracy),
    ``accuracy_median`` and ``accuracy_min``, where the table has accuracies; and
    `untrained_mask_figures` where it has masks on untrained models."""
    spec = specialization_frame(table)
    means = spec_level_means(spec)
    figures = {}
    for metric in [m for m in MEASURES if m in means]:
        curve = means[metric].dropna().sort_index()
        base = curve.iloc[-1] if baseline == "densest" else curve.min()
        rise = curve.loc[:curve.idxmin()].max() - base if baseline == "minimum" else curve.max() - base
        log_sparsity = pd.Series(-np.log(curve.index.to_numpy(float)), index=curve.index)
        onset = onset_p(curve, fraction, baseline)
        resampled = bootstrap_onsets(spec, metric, resamples, fraction=fraction, baseline=baseline)
        at_q = spec_at(curve, Q_035_P)
        figures |= {f"{metric}_{name}": float(value) for name, value in dict(
            densest=curve.iloc[-1], sparsest=curve.iloc[0], minimum=curve.min(), minimum_p=curve.idxmin(),
            spearman=curve.rank().corr(log_sparsity.rank()) if len(curve) > 1 else np.nan,
            onset=onset, onset_value=curve.get(onset, np.nan), threshold=base + fraction * rise,
            late_share=(resampled <= LATE_ONSET).mean(), early_share=(resampled >= EARLY_ONSET).mean(),
            window_share=((resampled >= EARLY_ONSET) & (resampled < FLAT_ABOVE)).mean(),
            at_q035=at_q, q035_share=(at_q - base) / rise if rise > 0 else np.nan).items()}
        figures |= dict(sparsest_p=float(curve.index[0]), densest_p=float(curve.index[-1]))
    figures |= accuracy_figures(table)
    if (table["metric"] == "mask_accuracy_untrained").any():
        figures |= untrained_mask_figures(table)
    return figures


def accuracy_figures(table: pd.DataFrame) -> dict[str, float]:
    """``models``, ``accuracy_share`` (share at or above 0.90 test accuracy), ``accuracy_median`` and
    ``accuracy_min`` of the table's models; empty where it has no accuracies."""
    acc = table.loc[table["metric"] == "accuracy", "value"]
    if acc.empty:
        return {}
    return dict(models=float(len(acc)), accuracy_share=float((acc >= 0.9).mean()),
                accuracy_median=float(acc.median()), accuracy_min=float(acc.min()))


def mask_accuracy_pairs(table: pd.DataFrame) -> pd.DataFrame:
    """Each standard model's mask accuracy (mean over its two sub-tasks) when the masks are
    trained on the model (``trained``) and on the same model before training (``untrained``),
    per level p and seed, with their ``difference``."""
    rows = table[table["metric"].isin(["mask_accuracy", "mask_accuracy_untrained"])]
    wide = rows.pivot_table(index=["p", "seed"], columns="metric", values="value", aggfunc="mean")
    wide = wide.rename(columns={"mask_accuracy": "trained", "mask_accuracy_untrained": "untrained"})
    return wide.assign(difference=wide["trained"] - wide["untrained"])


def untrained_mask_figures(table: pd.DataFrame) -> dict[str, float]:
    """Claim (f)'s numbers: ``mask_trained`` and ``mask_untrained`` (mean mask accuracy over
    every model), ``mask_gap_low`` (the smallest, over levels, of the lower end of the 95%
    bootstrap interval of the mean paired difference) and ``mask_pairs_higher`` (the share
    of models whose masks do better trained)."""
    pairs = mask_accuracy_pairs(table)
    lows = [mean_interval(group["difference"])[1] for _, group in pairs.groupby(level="p")]
    return dict(mask_trained=float(pairs["trained"].mean()), mask_untrained=float(pairs["untrained"].mean()),
                mask_gap_low=float(np.nanmin(lows)), mask_pairs_higher=float((pairs["difference"] > 0).mean()))


def decidable(levels, holds) -> bool:
    """Whether an onset criterion ``holds(p)`` can go either way on these levels: an onset
    can fall on any level but the densest (never above its own baseline there), and the
    criterion must hold at one such level and fail at another."""
    outcomes = {bool(holds(p)) for p in sorted(levels)[:-1]}
    return outcomes == {True, False}


def claim_verdicts(f: dict[str, float]) -> list[tuple[str, str, str, str, str]]:
    """The paper's claims (a)-(f) checked against one criterion's `claim_figures` ``f``: rows
    (claim, what the paper says, what we find, verdict, the measure it is about; "models" for
    (e)). The criteria are `claims`'."""
    measures = [m for m in MEASURES if f"{m}_onset" in f]
    levels = f.get("levels", ())
    rows = []

    def row(claim: str, metric: str, says: str, finding: str, verdict: str, tested: bool, why: str) -> None:
        rows.append((claim, says, finding if tested else why, verdict if tested else "not tested", metric))

    for metric in measures:
        up = f[f"{metric}_sparsest"] > f[f"{metric}_densest"]
        row("a", metric, f"{metric} increases with sparsity",
            f"from {f[f'{metric}_densest']:.2f} at p={f['densest_p']:g} to {f[f'{metric}_sparsest']:.2f} at "
            f"p={f['sparsest_p']:g}; Spearman {f[f'{metric}_spearman']:.2f}",
            "reproduced" if up and f[f"{metric}_spearman"] >= 0.8 else "partly" if up else "not reproduced",
            f["sparsest_p"] != f["densest_p"], f"needs two levels or more; this sweep has one, p = {f['sparsest_p']:g}")
    for metric in [m for m in ("bottleneck", "correlation") if m in measures]:
        onset = f[f"{metric}_onset"]
        row("b", metric, f"{metric} rises only for p < 0.01 (Q > 0.49)",
            f"onset at p = {onset:g} (<= {LATE_ONSET} in {f[f'{metric}_late_share']:.0%} of seed resamples)",
            "reproduced" if onset <= LATE_ONSET else "not reproduced", decidable(levels, lambda p: p <= LATE_ONSET),
            f"needs a level at or below p = {LATE_ONSET} and one between it and the densest; this sweep's are "
            f"{', '.join(f'{p:g}' for p in levels)}")
    if "weight_mask" in measures:
        onset = f["weight_mask_onset"]
        others = [f[f"{m}_onset"] for m in ("bottleneck", "correlation") if m in measures]
        earlier, window = all(onset > o for o in others), EARLY_ONSET <= onset < FLAT_ABOVE
        row("c", "weight_mask", "weight mask rises earlier, by p < 0.11 (Q > 0.4) but not before",
            f"onset at p = {onset:g} (in [{EARLY_ONSET}, {FLAT_ABOVE}) in {f['weight_mask_window_share']:.0%} of "
            f"seed resamples; others: {', '.join(f'{o:g}' for o in others) or 'not in this sweep'})",
            "reproduced" if earlier and window else "partly" if earlier or window else "not reproduced",
            decidable(levels, lambda p: EARLY_ONSET <= p < FLAT_ABOVE),
            f"needs a level in [{EARLY_ONSET}, {FLAT_ABOVE}) and one outside it below the densest")
    for metric in measures:
        share = f[f"{metric}_q035_share"]
        row("d", metric, f"{metric}: little or no specialization at Q = 0.35",
            f"{f[f'{metric}_at_q035']:.2f} at p = {Q_035_P}, {100 * share:.0f}% of the rise",
            "reproduced" if share < 0.1 else "not reproduced", f["sparsest_p"] < Q_035_P < f["densest_p"],
            f"needs levels on both sides of p = {Q_035_P}")
    if "models" in f:
        rows.append(("e", "every trained model performs well",
                     f"{f['accuracy_share']:.0%} of {f['models']:.0f} models at >= 0.90; median "
                     f"{f['accuracy_median']:.3f}, min {f['accuracy_min']:.3f}",
                     accuracy_verdict(f), "models"))
    if "mask_trained" in f:
        rows.append(("f", "masks do better on trained networks than on random ones",
                     f"mask accuracy {f['mask_trained']:.2f} trained, {f['mask_untrained']:.2f} untrained; "
                     f"better trained in {f['mask_pairs_higher']:.0%} of models",
                     "reproduced" if f["mask_gap_low"] > 0 else "not reproduced", "weight_mask"))
    return rows


def accuracy_verdict(f: dict[str, float]) -> str:
    """Claim (e) from `claim_figures`' accuracies: every model at or above 0.90, or the median."""
    return "reproduced" if f["accuracy_min"] >= 0.9 else "partly" if f["accuracy_median"] >= 0.9 else "not reproduced"


def claims(table: pd.DataFrame, resamples: int = 1000) -> pd.DataFrame:
    """The paper's claims (a)-(f) checked against a sweep, under every onset criterion.

    An onset is the largest p at which mean specialization has risen a share ``fraction``
    of the way from its baseline to its highest value (`onset_p`). Criteria: (a) sparsest
    level above densest and Spearman rank correlation between sparsity and mean
    specialization >= 0.8 ("partly" if only the first holds);
    (b) the onset at or below p = 0.01 for the bottleneck and correlation measures; (c) the
    weight mask's onset earlier than theirs and in [0.046, 0.11): risen by the last level
    below 0.11, not above it ("partly" if only one holds); (d) at Q = 0.35 (p = 0.176) less
    than 10% of the rise; (e) every model at or above 0.90 test accuracy ("partly" if the
    median is); (f) where the table has masks trained on the untrained models too, the 95%
    interval of the mean paired difference in mask accuracy above zero at every level.

    (b)-(d) are judged at every baseline in `BASELINES` (p = 1, and the curve's minimum) and
    fraction in `ONSET_FRACTIONS`; a column per baseline gives the verdicts at the three
    fractions (yes: reproduced, no: not reproduced), "we find" the figures at p = 1 and
    0.25, and ``verdict`` is the common verdict, or "depends on the baseline" (the two
    differ at some fraction) / "depends on the fraction" when it is not the same under all.
    A claim that the sweep's levels cannot decide either way (b, c, d; (a) on a single level)
    is "not tested". Seed resamples (`bootstrap_onsets`) say how firm each onset is.
    """
    grid = verdict_grid(table, resamples)
    main = grid["densest", ONSET_FRACTION]
    out = []
    for i, (claim, says, finding, *_) in enumerate(main):
        verdicts = {key: rows[i][3] for key, rows in grid.items()}
        out.append(dict(claim=claim, **{"the paper says": says, "we find": finding},
                        **{BASELINE_COLUMNS[b]: " / ".join(SHORT[verdicts[b, fr]] for fr in ONSET_FRACTIONS)
                           for b in BASELINES},
                        verdict=overall_verdict(verdicts)))
    return pd.DataFrame(out, columns=["claim", "the paper says", "we find", *BASELINE_COLUMNS.values(), "verdict"])


def verdict_grid(table: pd.DataFrame, resamples: int = 1000,
                 baselines: tuple[str, ...] = BASELINES) -> dict[tuple[str, float], list]:
    """`claim_verdicts` under each (baseline, fraction) of ``baselines`` x `ONSET_FRACTIONS`."""
    levels = tuple(sorted(specialization_frame(table)["p"].unique()))
    return {(b, fraction): claim_verdicts(claim_figures(table, resamples, fraction, b) | {"levels": levels})
            for b in baselines for fraction in ONSET_FRACTIONS}


SHORT = {"reproduced": "yes", "not reproduced": "no", "partly": "partly", "not tested": "untested"}
BASELINE_COLUMNS = {"densest": "from p = 1 (0.1 / 0.25 / 0.5)", "minimum": "from the minimum (0.1 / 0.25 / 0.5)"}


def overall_verdict(verdicts: dict[tuple[str, float], str]) -> str:
    """One verdict from those under each (baseline, fraction): the common one, else what it
    depends on (the baseline, when the two baselines differ at some fraction)."""
    if len(set(verdicts.values())) == 1:
        return next(iter(verdicts.values()))
    if any(len({verdicts[b, fraction] for b in BASELINES}) > 1 for fraction in ONSET_FRACTIONS):
        return "depends on the baseline"
    return "depends on the fraction"


def with_untrained_masks(table: pd.DataFrame, random_masks: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the mask accuracies of a sweep that found each model's masks after and
    before training (``random-masks``) in place of its own, for claim (f): the two are
    compared on the very same models (a sweep rerun on another kind of CPU trains models that
    drift from the stored ones, as another seed's would)."""
    masks = ["mask_accuracy", "mask_accuracy_untrained"]
    return pd.concat([table[~table["metric"].isin(masks)], random_masks[random_masks["metric"].isin(masks)]],
                     ignore_index=True)


def summary_table(tables: dict[str, pd.DataFrame], resamples: int = 1000) -> pd.DataFrame:
    """The `claims` of several sweeps (by label) side by side, one screen: per claim, what each
    sweep finds (at p = 1 and fraction 0.25), and one ``verdict``: the common one, or each
    sweep's, labelled, where they differ."""
    found = {label: claims(table, resamples).set_index(["claim", "the paper says"]) for label, table in tables.items()}
    tables_found = list(found.values())
    index = tables_found[0].index
    for table in tables_found[1:]:
        index = index.append(table.index.difference(index, sort=False))
    side = pd.concat({f"ours, {label}": table["we find"].reindex(index).fillna("not in this sweep")
                      for label, table in found.items()}, axis=1)
    verdicts = pd.concat({label: table["verdict"].reindex(index).fillna("not tested")
                          for label, table in found.items()}, axis=1)
    side["verdict"] = [row.iloc[0] if row.nunique() == 1 else " / ".join(f"{v} ({label})" for label, v in row.items())
                       for _, row in verdicts.iterrows()]
    return side.reset_index()


def verdicts_side_by_side(ours: pd.DataFrame, theirs: pd.DataFrame, labels: tuple[str, str]) -> pd.DataFrame:
    """Two sweeps' `claims`, labelled ``labels``, side by side: what each finds, and whether their
    verdicts agree."""
    return ours[["claim", "the paper says"]].assign(**{labels[0]: ours["we find"], labels[1]: theirs["we find"],
                                                       "same verdict": ours["verdict"] == theirs["verdict"]})


def compare_variants(results: str | Path = BOOK_RESULTS) -> pd.DataFrame:
    """Mean specialization per metric and level, and mean accuracy, for each stored variant."""
    frames = []
    for variant, (label, _) in VARIANTS.items():
        path = Path(results) / f"variant-{variant}" / "results.csv"
        if not path.exists():
            continue
        table = read_table(path)
        means = level_means(table).reset_index().melt(id_vars="p", var_name="metric", value_name="value")
        acc = table[table["metric"] == "accuracy"].groupby("p")["value"].mean().reset_index()
        acc["metric"] = "accuracy"
        frames.append(pd.concat([means, acc]).assign(variant=label))
    if not frames:
        raise FileNotFoundError("no stored variant results: run `python -m modlib sweep --preset variant-NAME` "
                                f"for NAME in {', '.join(VARIANTS)} (or `make reproduce`)")
    return pd.concat(frames).pivot_table(index=["metric", "p"], columns="variant", values="value", sort=False)


# Each of the authors' choices both ways (`modlib.sweep.presets.AUTHORS_VARIANTS`): its effect is
# "with it" minus "without it", added to the text or taken from the authors' configuration.
DIRECTIONS = {"added to the text": ("variant-{}", "variant-text"),
              "taken from the authors'": ("authors-reference", "authors-minus-{}")}
# The claims four levels can judge: (d) would rest on interpolating between p = 0.046 and 1 to
# Q = 0.35, and (f) needs masks on untrained models, which these sweeps do not train.
BOTH_WAYS_CLAIMS = ("a", "b", "c", "e")


def model_values(table: pd.DataFrame) -> pd.DataFrame:
    """Per model (p, seed): each module's specialization by each measure in the table
    (``quantity`` "weight_mask, module 0", ...) and its test accuracy (``accuracy``)."""
    spec = specialization_frame(table).melt(id_vars=["p", "seed", "metric"], value_vars=["spec_0", "spec_1"])
    spec["quantity"] = spec["metric"] + ", module " + spec["variable"].str[-1]
    accuracy = table.loc[table["metric"] == "accuracy", ["p", "seed", "value"]].assign(quantity="accuracy")
    return pd.concat([spec[["p", "seed", "quantity", "value"]], accuracy], ignore_index=True)


def choice_effect(with_choice: pd.DataFrame, without: pd.DataFrame, n_boot: int = 2000,
                  seed: int = 0) -> pd.DataFrame:
    """Mean of `model_values` in the sweep ``with_choice`` minus that in ``without``, per quantity
    and level p, with a 95% bootstrap interval (each sweep's seeds resampled on their own: the two
    are separate trainings). Rows (quantity, p); columns effect, low, high."""
    a, b = model_values(with_choice), model_values(without)
    rows = []
    for (quantity, p), group in a.groupby(["quantity", "p"]):
        other = b.loc[(b["quantity"] == quantity) & np.isclose(b["p"], p), "value"]
        effect, low, high = difference_interval(group["value"], other, n_boot, seed)
        rows.append(dict(quantity=quantity, p=p, effect=effect, low=low, high=high))
    return pd.DataFrame(rows).set_index(["quantity", "p"])


def choice_pairs(tables) -> list[tuple[str, str, str, str]]:
    """``(choice, direction, with, without)`` for each authors' choice and `DIRECTIONS` whose two
    sweeps (their names ``with`` and ``without``) are both in ``tables``."""
    pairs = [(choice, direction, with_name.format(choice), without_name.format(choice))
             for choice in AUTHORS_VARIANTS for direction, (with_name, without_name) in DIRECTIONS.items()]
    return [pair for pair in pairs if pair[2] in tables and pair[3] in tables]


def both_ways_tables(results: str | Path = BOOK_RESULTS) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The stored tables of the both-ways sweeps (the two references, each authors' choice's
    variant and authors-minus sweep), by sweep name, and the names of those not stored."""
    names = ["variant-text", "authors-reference"] + [f"{stem}-{choice}" for choice in AUTHORS_VARIANTS
                                                      for stem in ("variant", "authors-minus")]
    tables, missing = {}, []
    for name in names:
        path = Path(results) / name / "results.csv"
        if path.exists():
            tables[name] = read_table(path)
        else:
            missing.append(name)
    return tables, missing


def both_ways_effects(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Each authors' choice's `choice_effect` in both `DIRECTIONS`, from `both_ways_tables`: rows
    (choice, direction, quantity, p), the choice labelled as in `VARIANTS`; a direction whose two
    sweeps are not both stored is left out."""
    frames = {(VARIANTS[choice][0], direction): choice_effect(tables[with_], tables[without])
              for choice, direction, with_, without in choice_pairs(tables)}
    return pd.concat(frames, names=["choice", "direction"])


def both_ways_table(effects: pd.DataFrame, p: float) -> pd.DataFrame:
    """`both_ways_effects` at level ``p`` as text, "effect [low, high]": a row per choice, a
    column per (quantity, direction), an asterisk after each effect whose interval excludes zero."""
    at = effects[np.isclose(effects.index.get_level_values("p"), p)].droplevel("p")
    text = [interval_text(e, lo, hi, mark=True) for e, lo, hi in at[["effect", "low", "high"]].to_numpy()]
    wide = pd.Series(text, index=at.index).unstack(["quantity", "direction"])
    choices = list(dict.fromkeys(effects.index.get_level_values("choice")))
    return wide.reindex(choices).sort_index(axis=1, level="quantity", sort_remaining=False).fillna("not stored")


def direction_disagreements(effects: pd.DataFrame) -> pd.DataFrame:
    """Where a choice's effect added to the text and taken from the authors' configuration
    (`both_ways_effects`) disagree: their 95% intervals do not overlap. Such a choice acts
    together with some other choice (which, single-choice sweeps cannot say). Rows (choice,
    quantity, p); columns each direction's effect."""
    wide = effects.unstack("direction")
    added, taken = DIRECTIONS
    apart = (wide["low", added] > wide["high", taken]) | (wide["low", taken] > wide["high", added])
    return wide.loc[apart, "effect"][[added, taken]]


def kept_last_share(table: pd.DataFrame) -> float:
    """The share of a sweep's models whose kept epoch (``keep="best-loss"``: the lowest test loss)
    is the last they trained: for those, keeping the best epoch changes nothing."""
    kept = table[table["metric"] == "kept_epoch"].set_index("job")["value"]
    last = table[table["metric"] == "epoch_test_accuracy"].groupby("job")["epoch"].max()
    return float((kept == last.reindex(kept.index)).mean())


def both_ways_verdicts(tables: dict[str, pd.DataFrame], resamples: int = 200) -> pd.DataFrame:
    """Each verdict an authors' choice moves, in each direction: the verdicts of `verdict_cells`
    (the paper's reading; the mean of the modules and each module), for the claims
    `BOTH_WAYS_CLAIMS` ((e), on accuracy alone, once), that differ between the sweep with the
    choice and the one without. A row per move: choice, direction, claim, measure, module ("both"
    for their mean), the verdict without and with the choice, and its ``kind``: a ``flip`` between
    yes and no, or a ``shift`` to or from partly or depends. The bootstrap ``resamples`` only enter
    the figures behind the verdicts, never the verdicts."""
    cells = {name: verdict_cells(table, resamples) for name, table in tables.items()}
    rows = []
    for choice, direction, with_name, without_name in choice_pairs(cells):
        with_, without = cells[with_name], cells[without_name]
        for (claim, metric), verdicts in with_.items():
            if claim not in BOTH_WAYS_CLAIMS or (claim == "e" and metric != "weight_mask") or verdicts[0] == "·":
                continue
            for module, before, after in zip(("both", "0", "1")[:1 if claim == "e" else 3], without[claim, metric],
                                             verdicts):
                if before != after:
                    rows.append(dict(choice=VARIANTS[choice][0], direction=direction, claim=claim,
                                     measure="accuracy" if claim == "e" else metric.replace("_", " "),
                                     module=module, without=before, with_choice=after,
                                     kind="flip" if {before, after} == {"yes", "no"} else "shift"))
    return pd.DataFrame(rows, columns=["choice", "direction", "claim", "measure", "module", "without", "with_choice",
                                       "kind"]).rename(columns={"with_choice": "with"})


def choices_that_move(moves: pd.DataFrame, stored: list[str], kind: str = "flip") -> dict[str, list[str]]:
    """The choices ``stored`` both ways whose `both_ways_verdicts` ``moves`` include one of ``kind``
    ("flip", or "any" move), by direction: in ``both``, only when ``added`` to the text, only when
    ``taken`` from the authors' configuration, or in ``neither``."""
    chosen = moves if kind == "any" else moves[moves["kind"] == kind]
    added, taken = (set(chosen.loc[chosen["direction"] == direction, "choice"]) for direction in DIRECTIONS)
    return {"both": [c for c in stored if c in added & taken], "added": [c for c in stored if c in added - taken],
            "taken": [c for c in stored if c in taken - added], "neither": [c for c in stored if c not in added | taken]}


def stored_both_ways(tables: dict[str, pd.DataFrame]) -> list[str]:
    """The authors' choices (labelled as in `VARIANTS`) whose four sweeps are all in ``tables``."""
    pairs = [choice for choice, *_ in choice_pairs(tables)]
    return [VARIANTS[choice][0] for choice in AUTHORS_VARIANTS if pairs.count(choice) == len(DIRECTIONS)]


def verdict_stability(table: pd.DataFrame, draws: int = 20, seed: int = 0) -> dict[str, float]:
    """How often reseeding alone moves a verdict: the share of the verdicts of `verdict_cells`
    (claims `BOTH_WAYS_CLAIMS`, each module and their mean) that differ from the whole table's
    when its seeds are drawn again with replacement, over ``draws`` draws (``any``), and the share
    that flip between yes and no (``flip``): the rates of moves a choice that changes nothing
    would show."""
    full = verdict_cells(table)
    seeds = np.sort(table["seed"].unique())
    rng = np.random.default_rng(seed)
    keys = [key for key, cell in full.items() if key[0] in BOTH_WAYS_CLAIMS and cell[0] != "·"]
    moved, flipped = [], []
    for _ in range(draws):
        drawn = pd.concat([table[table["seed"] == s].assign(seed=i) for i, s in enumerate(rng.choice(seeds, len(seeds)))])
        cells = verdict_cells(drawn, resamples=50)
        pairs = [(a, b) for key in keys for a, b in zip(cells[key], full[key])]
        moved += [a != b for a, b in pairs]
        flipped += [{a, b} == {"yes", "no"} for a, b in pairs]
    return {"any": float(np.mean(moved)), "flip": float(np.mean(flipped))}


def phase_frame(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Mean specialization per module size N, level p, measure and module, over sweeps of several
    N (their tables, each from `specialization_frame`'s measures): rows (n_hidden, p, metric),
    columns ``module 0``, ``module 1`` and ``mean``."""
    frames = [specialization_frame(table).assign(n_hidden=int(table["n_hidden"].iloc[0])) for table in tables]
    means = pd.concat(frames).groupby(["n_hidden", "p", "metric"])[["spec_0", "spec_1", "spec"]].mean()
    return means.set_axis(["module 0", "module 1", "mean"], axis=1)


def size_onsets(phase: pd.DataFrame, fraction: float = ONSET_FRACTION) -> pd.DataFrame:
    """Where specialization starts to rise at each module size N (`onset_p` of each module's and
    their mean's curve, from `phase_frame`), as a fraction p, a number of connections k = p N^2
    and a ratio of connections to units k / N. Rows (metric, n_hidden, column)."""
    rows = []
    for (n, metric), group in phase.groupby(["n_hidden", "metric"]):
        for column in phase.columns:
            p = onset_p(group[column].droplevel(["n_hidden", "metric"]), fraction)
            rows.append(dict(metric=metric, n_hidden=n, column=column, onset_p=p, onset_k=p * n ** 2,
                             onset_k_per_n=p * n))
    return pd.DataFrame(rows).set_index(["metric", "n_hidden", "column"])


def onset_spread(onsets: pd.DataFrame) -> pd.DataFrame:
    """How far each reading of the onset (p, k, k / N; `size_onsets`) moves across module sizes:
    the standard deviation of its log10 over N, per measure and column. The reading that moves
    least is the one an onset keeps as N changes; NaN onsets (no rise) are left out."""
    logs = np.log10(onsets[["onset_p", "onset_k", "onset_k_per_n"]])
    return logs.groupby(level=["metric", "column"]).std().set_axis(["p", "k", "k / N"], axis=1)


def paired_accuracy(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Two sweeps' test accuracy, per architecture and k, over the models both trained
    (`paired_means`)."""
    key = ["architecture", "k", "seed"]
    return paired_means({name: table[table["metric"] == "accuracy"].set_index(key)["value"]
                         for name, table in tables.items()}, by=["architecture", "k"])


def paired_specialization(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Two sweeps' specialization (each model's mean over its modules), per metric and k, both
    architectures together as in `level_means`, over the models both trained (`paired_means`)."""
    key = ["metric", "architecture", "k", "seed"]
    return paired_means({name: specialization_frame(table).set_index(key)["spec"]
                         for name, table in tables.items()}, by=["metric", "k"])


def paired_means(values: dict[str, pd.Series], by: list[str]) -> pd.DataFrame:
    """Two sweeps' values of the models both trained (each Series indexed by model: the same
    architecture, k and seed mean the same initial weights and pairs), grouped ``by`` index
    levels: each sweep's mean, the mean of the paired differences (second minus first), and in
    how many pairs the second is higher."""
    if len(values) != 2:
        raise ValueError(f"a paired comparison takes two sweeps, got {len(values)}: {list(values)}")
    first, second = values
    both = pd.concat(values.values(), axis=1, keys=[first, second], join="inner")
    if both.empty:
        raise ValueError(f"{first} and {second} share no model (architecture, k, seed): compare sweeps "
                         f"of the same levels and seeds")
    difference = both[second] - both[first]
    groups = both.assign(difference=difference, higher=difference > 0).groupby(level=by)
    return groups[[first, second, "difference"]].mean().assign(higher=groups["higher"].sum(),
                                                               models=groups.size())


# --- The weight mask's q and its other free choices --------------------------------------

def mask_q_search(tables: dict[float, pd.DataFrame]) -> pd.DataFrame:
    """Per candidate q (the sweeps of the sparsest models, by q): each module's mean and lowest
    (over seeds) share of its own digit's mask, M(n, n), and the masks' mean test accuracy."""
    rows = []
    for q, table in sorted(tables.items()):
        masks = table[table["metric"] == "weight_mask"]
        own = masks[masks["module"] == masks["subtask"]].pivot_table(index="seed", columns="module", values="value")
        accuracy = table.loc[table["metric"] == "mask_accuracy", "value"].mean()
        rows.append({"q": q, "M(0,0) mean": own[0].mean(), "M(0,0) lowest": own[0].min(),
                     "M(1,1) mean": own[1].mean(), "M(1,1) lowest": own[1].min(), "mask accuracy": accuracy})
    return pd.DataFrame(rows).set_index("q")


def calibrated_q(search: pd.DataFrame, threshold: float = 1.0) -> tuple[float, bool]:
    """The paper's rule for q: the largest q whose masks keep only the module's own weights,
    M(n, n) >= ``threshold`` (1: all of them) for both modules in every seed, at the sparsest
    level. Returns ``(q, True)``; when no candidate meets the rule, ``(q, False)`` with the q
    that comes closest: the highest mean M(n, n) of the less specialised module."""
    ok = (search["M(0,0) lowest"] >= threshold) & (search["M(1,1) lowest"] >= threshold)
    if ok.any():
        return float(search.index[ok].max()), True
    return float(search[["M(0,0) mean", "M(1,1) mean"]].min(axis=1).idxmax()), False


def mask_sensitivity(reference: pd.DataFrame, settings: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The weight-mask specialization of each module under other mask settings (sweeps of the
    same models, by label) against ``reference``'s, model by model: rows (setting, k), the
    reference's and the setting's mean per module, and the mean paired difference of the two
    modules' mean (`paired_means`)."""
    key = ["architecture", "k", "seed"]
    ref = specialization_frame(reference).query("metric == 'weight_mask'").set_index(key)
    frames = []
    for label, table in settings.items():
        other = specialization_frame(table).query("metric == 'weight_mask'").set_index(key)
        both = ref.join(other, how="inner", lsuffix=" reference", rsuffix=" setting")
        columns = ["spec_0 reference", "spec_1 reference", "spec_0 setting", "spec_1 setting"]
        means = both.groupby(level="k")[columns].mean()
        paired = paired_means({"reference": ref["spec"], "setting": other["spec"]}, by=["k"])
        frames.append(means.join(paired[["difference", "higher", "models"]]).assign(setting=label))
    table = pd.concat(frames).reset_index().set_index(["setting", "k"])
    table.columns = [c.replace("spec_", "module ") for c in table.columns]
    return table


# --- Tasks that need more communication (beyond the paper) --------------------------------

def modulus_sweep_names(long: bool = False) -> dict[int, str]:
    """The stored sweep of each modulus m: ``paper`` for m = 2 and ``modulus-m`` for the
    others; ``long``: the ``modulus-m-long`` sweeps (15 epochs)."""
    if long:
        return {m: f"modulus-{m}-long" for m in LONG_MODULI}
    return {2: "paper", **{m: f"modulus-{m}" for m in MODULUS_SWEEPS}}


def modulus_tables(results: str | Path = BOOK_RESULTS, long: bool = False) -> dict[int, pd.DataFrame]:
    """The paper sweep (m = 2) and each ``modulus-m`` sweep stored, by m: the same models and
    metrics on tasks that need log2(m) bits to cross between the modules. ``long``: the
    ``modulus-m-long`` sweeps instead (15 epochs)."""
    names = modulus_sweep_names(long)
    paths = {m: Path(results) / name / "results.csv" for m, name in names.items()}
    tables = {m: read_table(path) for m, path in paths.items() if path.exists()}
    if len(tables) < 2:
        raise FileNotFoundError(f"fewer than two moduli stored: run `python -m modlib sweep --preset NAME` for NAME "
                                f"in {', '.join(names.values())} (or `make reproduce`)")
    return tables


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


def compare_moduli(tables: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """`onset_table` of each modulus' sweep, indexed by (metric, m) with the bits the task needs."""
    frames = [onset_table(table).assign(m=m, bits=np.log2(m)) for m, table in tables.items()]
    return pd.concat(frames).set_index(["metric", "m"]).sort_index()


def moduli_levels(tables: dict[int, pd.DataFrame], p_labels: bool = False) -> pd.DataFrame:
    """Mean specialization per (metric, p) for each modulus m, with the 95% bootstrap
    interval of the mean over seeds (`mean_interval`): columns (m, mean / low / high).
    ``p_labels``: p as text to 4 significant digits, as a table prints it and a chapter looks
    rows up (a float p such as 0.0001 prints as 1e-04 and is awkward to look up)."""
    rows = [(metric, p, m, *mean_interval(group["spec"]))
            for m, table in tables.items()
            for (metric, p), group in specialization_frame(table).groupby(["metric", "p"])]
    wide = pd.DataFrame(rows, columns=["metric", "p", "m", "mean", "low", "high"]).set_index(
        ["metric", "p", "m"]).unstack("m").swaplevel(axis=1)
    if p_labels:
        wide.index = wide.index.set_levels([f"{p:.4g}" for p in wide.index.levels[1]], level="p")
    return wide[pd.MultiIndex.from_product([list(tables), ["mean", "low", "high"]])]


def moduli_accuracy(tables: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Mean test accuracy per (architecture, m) and level k (`condition_accuracy`, laid out by m)."""
    return condition_accuracy(tables).rename_axis(columns="m").stack().unstack("k")


def tidy_summary(tables: dict[str, pd.DataFrame], n_boot: int = 2000) -> pd.DataFrame:
    """One row per sweep, level, measure and module (0, 1, or ``mean`` of the two): the mean
    specialization over seeds with its 95% bootstrap interval (`mean_interval`), and how many
    models it is defined for. ``tables``: sweeps by name; those without a measure are left out."""
    rows = []
    for sweep, table in tables.items():
        spec = specialization_frame(table)
        for (metric, k, p), group in spec.groupby(["metric", "k", "p"]):
            for module, column in (("0", "spec_0"), ("1", "spec_1"), ("mean", "spec")):
                mean, low, high = mean_interval(group[column], n_boot)
                rows.append(dict(sweep=sweep, measure=metric, k=k, p=p, module=module, mean=mean, low=low, high=high,
                                 models=int(group[column].notna().sum())))
    return pd.DataFrame(rows, columns=["sweep", "measure", "k", "p", "module", "mean", "low", "high", "models"])


MATRIX_CLAIMS = {"a": "(a) rises with sparsity", "b": "(b) rises only for p < 0.01",
                 "c": "(c) the mask's rise by p < 0.11", "d": "(d) little at Q = 0.35",
                 "e": "(e) every model performs well", "f": "(f) masks do better on trained networks"}
MATRIX_KEY = ("yes: reproduced; partly: half of the claim holds; no: not reproduced; depends: the verdict changes "
              "with the share of the rise an onset needs (0.1, 0.25, 0.5); · : the claim says nothing of this "
              "measure. "
              "Where the modules disagree, each follows in brackets (0: module 0, 1: module 1).")


def one_module(table: pd.DataFrame, module: int) -> pd.DataFrame:
    """``table`` with the other module's metric rows replaced by ``module``'s mirrored (its row
    for sub-task t becomes the other module's for 1 - t), so that both modules' specialization
    is ``module``'s and every measure of their mean reads that module alone."""
    metric = table["metric"].isin(METRICS)
    own = table[metric & (table["module"] == module)]
    mirrored = own.assign(module=1 - module, subtask=1 - own["subtask"])
    return pd.concat([table[~metric], own, mirrored], ignore_index=True)


def primary_verdicts(table: pd.DataFrame, resamples: int = 1000) -> dict[tuple[str, str], str]:
    """Each claim's verdict per (claim, measure) under the paper's own reading, the rise measured
    from p = 1, in `SHORT` words: the same at every onset fraction, or "depends"."""
    out = {}
    for rows in zip(*verdict_grid(table, resamples, ("densest",)).values()):
        verdicts = {row[3] for row in rows}
        out[rows[0][0], rows[0][4]] = SHORT[verdicts.pop()] if len(verdicts) == 1 else "depends"
    return out


def verdict_cells(table: pd.DataFrame, resamples: int = 1000) -> dict[tuple[str, str], tuple[str, str, str]]:
    """Per (claim, measure) of `MATRIX_CLAIMS` x `MEASURES`: the verdict of `primary_verdicts` on the
    mean of the two modules, and on module 0 and module 1 alone (`one_module`); "·" where the claim
    says nothing of the measure or the table lacks it. (e) is judged per architecture: the
    bottleneck models under the bottleneck measure, the standard ones under the others."""
    both = primary_verdicts(table, resamples)
    modules = [primary_verdicts(one_module(table, n), resamples) for n in (0, 1)]
    accuracy = {arch: SHORT[accuracy_verdict(accuracy_figures(models))] for arch, models in table.groupby("architecture")}
    cells = {}
    for metric in MEASURES:
        for claim in MATRIX_CLAIMS:
            if claim == "e":
                verdict = accuracy.get("bottleneck" if metric == "bottleneck" else "standard", "·")
                cells[claim, metric] = (verdict, verdict, verdict)
            else:
                key = (claim, metric)
                cells[key] = (both.get(key, "·"), *(m.get(key, "·") for m in modules))
    return cells


def verdict_matrix(tables: dict[str, pd.DataFrame], resamples: int = 1000) -> pd.DataFrame:
    """The claims (rows, `MATRIX_CLAIMS`) against the three measures (columns), for each sweep of
    ``tables`` (label to table), judged as `verdict_cells`: the mean of the two modules, with each
    module's verdict beside it where the two modules' differ; `MATRIX_KEY` reads it."""
    columns = {}
    for label, table in tables.items():
        cells = verdict_cells(table, resamples)
        for metric in MEASURES:
            column = []
            for claim in MATRIX_CLAIMS:
                verdict, zero, one = cells[claim, metric]
                column.append(verdict if zero == one else f"{verdict} (0: {zero}, 1: {one})")
            columns[label, metric.replace("_", " ")] = column
    return pd.DataFrame(columns, index=list(MATRIX_CLAIMS.values()))


def module0_share(table: pd.DataFrame) -> pd.Series:
    """The share of the test pairs module 0 decides, per standard or bottleneck model
    (architecture, k, seed): its ``decision_share`` row, or, in sweeps stored before those
    rows, the mean over the two parity differences of its ``decides`` rows (the crossing
    measurement; the two parities are equally frequent when the pairs are balanced)."""
    keys = ["architecture", "k", "seed"]
    rows = table[(table["metric"] == "decision_share") & table["subtask"].isna() & (table["module"] == 0)]
    if len(rows):
        return rows.set_index(keys)["value"].rename("module 0 decides")
    rows = table[(table["metric"] == "decides") & (table["module"] == 0)]
    if rows.empty:
        raise ValueError("this table says nothing of which module decides: rerun its sweep with --fresh, or with "
                         "--metrics crossing")
    return rows.groupby(keys)["value"].mean().rename("module 0 decides")


def asymmetry_and_decisions(table: pd.DataFrame, measure: str, ks: tuple[int, ...]) -> pd.DataFrame:
    """Per model at the levels ``ks``: how much more specialised module 0 is than module 1 by
    ``measure`` (``difference``), the share of the pairs module 0 decides (`module0_share`) and,
    where the sweep records it, how much larger module 0's readout is than module 1's
    (``readout difference``, Frobenius norms; at their random initial values when the readout
    is frozen)."""
    spec = specialization_frame(table[table["k"].isin(ks)])
    spec = spec[spec["metric"] == measure].set_index(["architecture", "k", "seed"])
    out = (spec["spec_0"] - spec["spec_1"]).rename("difference").to_frame().join(module0_share(table), how="inner")
    norms = table[table["metric"] == "readout_norm"].pivot_table(index=["architecture", "k", "seed"],
                                                                 columns="module", values="value")
    if len(norms):
        out = out.join((norms[0] - norms[1]).rename("readout difference"))
    return out.reset_index()


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


# --- Specialization over a trial's steps (beyond the paper; modlib.timecourse) -------------

STEP_KS = (1, 22, 464, 10_000)  # the levels the per-step tables show: one connection to all
STEP_FINDINGS = {  # the journal version's four findings, in this book's words
    "collapse": "static inputs: specialization collapses once the modules communicate",
    "gradual": "noisy inputs: it decays gradually instead",
    "onsets": "random onsets: it follows whichever digit is on",
    "faster": "more interconnections: it collapses faster",
}
MODEL_KEYS = ["architecture", "k", "p", "seed"]


def step_curves(frame: pd.DataFrame) -> pd.DataFrame:
    """Each model's specialization at every step, from a `step_frame`: a row per model, measure
    and module (``MODEL_KEYS``, ``metric``, ``module``), a column per step."""
    long = frame.melt(id_vars=[*MODEL_KEYS, "metric", "step"], value_vars=["spec_0", "spec_1"],
                      var_name="module", value_name="module spec")
    long["module"] = long["module"].str[-1].astype(int)
    return long.pivot_table(index=[*MODEL_KEYS, "metric", "module"], columns="step", values="module spec")


def mean_curves(frame: pd.DataFrame) -> pd.DataFrame:
    """`step_curves` averaged over seeds: a row per measure, level k and module, a column per step."""
    return step_curves(frame).groupby(["metric", "k", "module"]).mean()


def peak_steps(curves: pd.DataFrame, metrics, sparsest: int = 1) -> pd.Series:
    """The step at which each of `mean_curves`' rows peaks, for the measures ``metrics`` at levels
    k >= ``sparsest``."""
    at = curves.idxmax(axis=1)
    return at[at.index.get_level_values("metric").isin(metrics) & (at.index.get_level_values("k") >= sparsest)]


def step_ends(frame: pd.DataFrame, ks: tuple[int, ...] = STEP_KS) -> pd.DataFrame:
    """Mean specialization (over seeds) at the first and the last step, per measure, level k and
    module: before the modules have exchanged anything (the state at t = 1 holds no message) and
    where the paper measures."""
    curves = mean_curves(frame[frame["k"].isin(ks)])
    first, last = curves.columns.min(), curves.columns.max()
    ends = curves[[first, last]].set_axis([f"t = {first:g}", f"t = {last:g}"], axis=1)
    return ends.unstack("module").swaplevel(axis=1).sort_index(axis=1)


def condition_accuracy(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Mean test accuracy (over seeds) per architecture and level k (rows) for each sweep's
    table (columns, by label)."""
    return pd.DataFrame({label: table[table["metric"] == "accuracy"].groupby(["architecture", "k"])["value"].mean()
                         for label, table in tables.items()})


def half_decline_step(curves: pd.DataFrame) -> pd.Series:
    """The first step at which each curve has lost half of what it loses from the first step to
    the last; NaN where it loses nothing."""
    first, last = curves.iloc[:, 0], curves.iloc[:, -1]
    below = curves.le(((first + last) / 2).to_numpy()[:, None])
    step = below.idxmax(axis=1).astype(float)
    return step.where(first > last)


def onset_tracking(curves: pd.DataFrame, table: pd.DataFrame) -> pd.Series:
    """Per model, measure and module: the correlation over the steps between the module's
    specialization and the share of test pairs whose digit it sees (``step_shown``)."""
    shown = table[table["metric"] == "step_shown"].pivot_table(index=[*MODEL_KEYS, "module"], columns="step",
                                                               values="value")
    shown = shown.reindex(curves.index.droplevel("metric")).set_axis(curves.index)
    with np.errstate(invalid="ignore", divide="ignore"):  # a flat curve has no correlation: NaN
        return curves.corrwith(shown, axis=1)


def graded(strong: bool, weak: bool) -> str:
    """The verdict on a finding: it holds (``strong``), holds in part (``weak``), or not."""
    return "agrees" if strong else "partly" if weak else "does not"


def step_findings(frames: dict[str, pd.DataFrame], onsets_table: pd.DataFrame, resamples: int = 2000) -> pd.DataFrame:
    """The journal version's four findings (`STEP_FINDINGS`) judged per per-step measure and
    module on the `step_frame`s of the ``static``, ``noise`` and ``onsets`` conditions
    (``onsets_table``: the random-onset sweep's table, for the shares shown). Intervals are 95%
    bootstrap intervals over models (over seeds for the rank correlation). The criteria:

    - collapse: at the densest level (p = 1 on the paper's grid), specialization at the last
      step is at most half of the first step's, and the loss's interval lies above 0 (partly:
      a loss, but of less than half);
    - gradual: with noise it also falls (the loss's interval above 0), and it has lost half of
      its fall at a later step than without noise (the difference's interval above 0; partly:
      a fall, but no later);
    - onsets: the correlation over the steps between a module's specialization and the share
      of pairs whose digit it sees is at least 0.5 on average, its interval above 0 (partly:
      above 0 but below 0.5);
    - faster: Spearman between p and the loss from the first step to the second (the first
      state that holds a message) has its interval above 0 (partly: positive, interval reaching 0).

    Columns: finding, metric, module, figure (the evidence in words), value, low and high (the
    quantity judged and its interval: the loss, the later half-way step, the correlation with
    the share shown, Spearman's rho) and verdict."""
    curves = {name: step_curves(frame) for name, frame in frames.items()}
    tracking = onset_tracking(curves["onsets"], onsets_table)
    rows = []
    for (metric, module), static in curves["static"].groupby(["metric", "module"]):
        at_one, noisy = (densest(curves[name].xs((metric, module), level=("metric", "module")))
                         for name in ("static", "noise"))
        p = at_one.index.get_level_values("p").max()
        loss = mean_interval(at_one.iloc[:, 0] - at_one.iloc[:, -1], resamples)
        first, last = at_one.iloc[:, 0].mean(), at_one.iloc[:, -1].mean()
        rows.append(dict(finding="collapse", metric=metric, module=module,
                         figure=f"p = {p:g}: {first:.2f} at t = 1, {last:.2f} at t = T; loss {loss[0]:.2f} "
                                f"[{loss[1]:.2f}, {loss[2]:.2f}]",
                         **estimate(loss), verdict=graded(loss[1] > 0 and last <= first / 2, loss[1] > 0)))
        noisy_loss = mean_interval(noisy.iloc[:, 0] - noisy.iloc[:, -1], resamples)
        later = difference_interval(half_decline_step(noisy), half_decline_step(at_one), resamples)
        rows.append(dict(finding="gradual", metric=metric, module=module,
                         figure=f"p = {p:g} with noise: loss {noisy_loss[0]:.2f} [{noisy_loss[1]:.2f}, "
                                f"{noisy_loss[2]:.2f}]; half of it {interval_text(*later)} "
                                f"steps later than without",
                         **estimate(later),
                         verdict=graded(noisy_loss[1] > 0 and later[1] > 0, noisy_loss[1] > 0)))
        follows = mean_interval(tracking.xs((metric, module), level=("metric", "module")), resamples)
        rows.append(dict(finding="onsets", metric=metric, module=module,
                         figure=f"correlation with the share shown {follows[0]:.2f} [{follows[1]:.2f}, "
                                f"{follows[2]:.2f}]",
                         **estimate(follows), verdict=graded(follows[1] > 0 and follows[0] >= 0.5, follows[1] > 0)))
        early = (static.iloc[:, 0] - static.iloc[:, 1]).rename("loss").reset_index()
        rho = seed_rank_correlation(early, "p", "loss", resamples)
        rows.append(dict(finding="faster", metric=metric, module=module,
                         figure=f"Spearman(p, loss by t = 2) {rho[0]:.2f} [{rho[1]:.2f}, {rho[2]:.2f}]",
                         **estimate(rho), verdict=graded(rho[1] > 0, rho[0] > 0)))
    out = pd.DataFrame(rows)
    out["finding"] = pd.Categorical(out["finding"], list(STEP_FINDINGS), ordered=True)
    return out.sort_values(["finding", "metric", "module"]).reset_index(drop=True)


def estimate(interval: tuple[float, float, float]) -> dict:
    """A value and its 95% interval as the columns value, low and high (`step_findings`, `ends_against`)."""
    return dict(zip(("value", "low", "high"), interval))


def densest(curves: pd.DataFrame) -> pd.DataFrame:
    """The rows of `step_curves` at their largest p."""
    p = curves.index.get_level_values("p")
    return curves[p == p.max()]


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


def finding_verdicts(findings: pd.DataFrame) -> pd.Series:
    """One verdict per finding over every measure and module: agrees where all agree, does not
    where none agrees even in part, partly otherwise."""
    def overall(verdicts: pd.Series) -> str:
        return graded((verdicts == "agrees").all(), (verdicts != "does not").any())

    return findings.groupby("finding", observed=True)["verdict"].agg(overall)


# --- Where specialization appears: module size, readout and cell (beyond the paper) --------

DESIGN_SEEDS = 5  # the design sweeps' seeds; the paper sweep's first five stand for its own design
DESIGN_SWEEPS = {  # each design's sweep, by axis; the paper's own design is the paper sweep
    "size": {**{n: f"size-{n}" for n in SIZES}, 100: "paper"},
    "readout": {"separate": "paper", **{name: f"readout-{name}" for name in READOUT_SWEEPS}},
    "cell": {"rnn": "paper", **{cell: f"cell-{cell}" for cell in CELL_SWEEPS}},
}
SPEC_COLUMNS = {"spec_0": "module 0", "spec_1": "module 1", "spec": "mean"}


def design_tables(axis: str, results: str | Path = BOOK_RESULTS) -> dict:
    """The stored tables of one axis of `DESIGN_SWEEPS`, by design, each with the seeds
    0..`DESIGN_SEEDS` - 1 (the paper sweep has ten)."""
    tables = {design: load_results(name, results) for design, name in DESIGN_SWEEPS[axis].items()}
    return {design: table[table["seed"] < DESIGN_SEEDS] for design, table in tables.items()}


def model_specs(table: pd.DataFrame) -> pd.DataFrame:
    """Each model's specialization per measure, long: rows (metric, column of `SPEC_COLUMNS`,
    architecture, k, p, seed), one value."""
    spec = specialization_frame(table).rename(columns=SPEC_COLUMNS)
    return spec.melt(id_vars=["metric", "architecture", "k", "p", "seed"], value_vars=list(SPEC_COLUMNS.values()),
                     var_name="column", value_name="value")


ENDS = ("one connection", "p = 1")  # the two ends of a sweep's grid: its smallest and its largest k


def end_rows(spec: pd.DataFrame, end: str) -> pd.DataFrame:
    """The rows of `model_specs` at one of `ENDS`."""
    k = spec["k"].min() if end == ENDS[0] else spec["k"].max()
    return spec[spec["k"] == k]


def design_ends(tables: dict) -> pd.DataFrame:
    """Mean specialization (over seeds) at one connection and at p = 1, per design (``tables``,
    label to table), measure and module (and their mean): rows (metric, column), columns
    (design, end)."""
    specs = {design: model_specs(table) for design, table in tables.items()}
    return pd.DataFrame({(design, end): end_rows(spec, end).groupby(["metric", "column"])["value"].mean()
                         for design, spec in specs.items() for end in ENDS})


def differences_by_measure(spec: pd.DataFrame, other: pd.DataFrame, resamples: int = 2000) -> dict:
    """Per (metric, column), the mean of ``spec``'s values minus ``other``'s and its 95% interval
    (`difference_interval`), for two sets of `model_specs` rows."""
    theirs = dict(list(other.groupby(["metric", "column"])["value"]))
    return {key: difference_interval(values, theirs.get(key, []), resamples)
            for key, values in spec.groupby(["metric", "column"])["value"]}


def ends_against(tables: dict, baseline, resamples: int = 2000) -> pd.DataFrame:
    """How much more specialised each design of ``tables`` is than ``baseline`` at one connection
    and at p = 1, per measure and column of `SPEC_COLUMNS`: the difference of the means over
    models and its 95% bootstrap interval (`differences_by_measure`). Rows (design, end, metric,
    column); columns value, low, high."""
    specs = {design: model_specs(table) for design, table in tables.items()}
    others = [design for design in tables if design != baseline]
    rows = [dict(design=design, end=end, metric=key[0], column=key[1], **estimate(interval))
            for design in others for end in ENDS
            for key, interval in differences_by_measure(end_rows(specs[design], end), end_rows(specs[baseline], end),
                                                        resamples).items()]
    out = pd.DataFrame(rows)
    out["design"] = pd.Categorical(out["design"], others)
    return out.set_index(["design", "end", "metric", "column"]).sort_index()  # sorted: designs in their order


def ends_against_table(against: pd.DataFrame) -> pd.DataFrame:
    """`ends_against` as text (`interval_text`, an asterisk where the interval excludes zero):
    rows (metric, column), columns (design, end)."""
    text = [interval_text(*row, mark=True) for row in against[["value", "low", "high"]].to_numpy()]
    return pd.Series(text, index=against.index).unstack(["design", "end"])


def dominance(table: pd.DataFrame) -> pd.Series:
    """How far one module dominates the decisions, per model: the share of the test pairs that
    the module deciding more of them decides (0.5: they share the pairs equally; 1: one decides all)."""
    share = module0_share(table)
    return np.maximum(share, 1 - share).rename("dominance")


def design_decisions(tables: dict) -> pd.DataFrame:
    """Per design, architecture and level k: the mean share of the test pairs module 0 decides
    and the mean `dominance`."""
    return pd.concat({design: pd.concat([module0_share(table), dominance(table)], axis=1)
                      .groupby(["architecture", "k"]).mean() for design, table in tables.items()},
                     names=["design"])


def seed_means(table: pd.DataFrame) -> pd.DataFrame:
    """Each seed's specialization averaged over the levels: rows (metric, column), a column per seed."""
    return model_specs(table).groupby(["metric", "column", "seed"])["value"].mean().unstack("seed")


def design_difference(tables: dict, design, baseline) -> pd.Series:
    """How much more specialised ``design`` is than ``baseline`` (keys of ``tables``), averaged
    over levels and seeds, per measure and column of `SPEC_COLUMNS`."""
    return seed_means(tables[design]).mean(axis=1) - seed_means(tables[baseline]).mean(axis=1)


def scarcity_findings(tables: dict, resamples: int = 2000) -> pd.DataFrame:
    """The journal version's "specialization appears mainly when both neurons and connections
    are scarce", per measure and module, on sweeps by module size N (``tables``): at one
    connection, the smallest N against the largest (neurons), and at the smallest N, one
    connection against p = 1 (connections); 95% intervals over models. Agrees where both
    differences are above zero with their intervals, partly where one is, does not otherwise."""
    specs = {n: model_specs(table) for n, table in tables.items()}
    small, large = min(specs), max(specs)
    corner = end_rows(specs[small], ENDS[0])
    neurons = differences_by_measure(corner, end_rows(specs[large], ENDS[0]), resamples)
    connections = differences_by_measure(corner, end_rows(specs[small], ENDS[1]), resamples)
    rows = [dict(metric=key[0], column=key[1], neurons=interval_text(*neurons[key]),
                 connections=interval_text(*connections[key]),
                 verdict=graded(neurons[key][1] > 0 and connections[key][1] > 0,
                                neurons[key][1] > 0 or connections[key][1] > 0)) for key in neurons]
    return pd.DataFrame(rows).rename(columns={"neurons": f"N = {small} minus N = {large}, one connection",
                                              "connections": f"one connection minus p = 1, N = {small}"})


def readout_findings(tables: dict, resamples: int = 2000) -> pd.DataFrame:
    """The journal version's "one shared readout gives more specialization than separate
    readouts with a winner-take-all decision, where one module dominates", per measure and
    module, on the readout sweeps (``tables`` with ``shared`` and ``separate``): shared minus
    separate specialization (each seed's mean over levels; interval over seeds), and the
    separate readouts' `dominance` minus the shared readout's (over models). Agrees where both
    are above zero with their intervals, partly where one is, does not otherwise."""
    shared, separate = seed_means(tables["shared"]), seed_means(tables["separate"])
    dominated = difference_interval(dominance(tables["separate"]), dominance(tables["shared"]), resamples)
    rows = []
    for key in shared.index:
        more = difference_interval(shared.loc[key], separate.loc[key], resamples)
        rows.append(dict(metric=key[0], column=key[1],
                         specialization=interval_text(*more),
                         dominance=interval_text(*dominated),
                         verdict=graded(more[1] > 0 and dominated[1] > 0, more[1] > 0 or dominated[1] > 0)))
    return pd.DataFrame(rows).rename(columns={"specialization": "shared minus separate specialization",
                                              "dominance": "separate minus shared dominance"})
