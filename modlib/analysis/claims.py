"""The paper's claims (a)-(f) checked against a sweep, under every onset criterion (chapters
"Introduction", "Results", "Discussion")."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modlib.analysis.frames import spec_level_means, specialization_frame
from modlib.analysis.masks import untrained_mask_figures
from modlib.analysis.onsets import BASELINES, ONSET_FRACTION, ONSET_FRACTIONS, bootstrap_onsets, onset_p, spec_at
from modlib.metrics import MEASURES


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
            risen(onset, "reproduced" if onset <= LATE_ONSET else "not reproduced"),
            decidable(levels, lambda p: p <= LATE_ONSET),
            f"needs a level at or below p = {LATE_ONSET} and one between it and the densest; this sweep's are "
            f"{', '.join(f'{p:g}' for p in levels)}")
    if "weight_mask" in measures:
        onset = f["weight_mask_onset"]
        others = [f[f"{m}_onset"] for m in ("bottleneck", "correlation") if m in measures]
        earlier, window = all(onset > o for o in others), EARLY_ONSET <= onset < FLAT_ABOVE
        row("c", "weight_mask", "weight mask rises earlier, by p < 0.11 (Q > 0.4) but not before",
            f"onset at p = {onset:g} (in [{EARLY_ONSET}, {FLAT_ABOVE}) in {f['weight_mask_window_share']:.0%} of "
            f"seed resamples; others: {', '.join(f'{o:g}' for o in others) or 'not in this sweep'})",
            risen(onset, "reproduced" if earlier and window else "partly" if earlier or window else "not reproduced"),
            decidable(levels, lambda p: EARLY_ONSET <= p < FLAT_ABOVE),
            f"needs a level in [{EARLY_ONSET}, {FLAT_ABOVE}) and one outside it below the densest")
    for metric in measures:
        share = f[f"{metric}_q035_share"]
        row("d", metric, f"{metric}: little or no specialization at Q = 0.35",
            f"{f[f'{metric}_at_q035']:.2f} at p = {Q_035_P}, {100 * share:.0f}% of the rise",
            risen(share, "reproduced" if share < 0.1 else "not reproduced"), f["sparsest_p"] < Q_035_P < f["densest_p"],
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


def risen(figure: float, verdict: str) -> str:
    """``verdict``, unless the curve it reads never rises from its baseline (``figure``, its onset
    or its share of the rise, is NaN): then "no rise", since where a rise starts cannot be read."""
    return "no rise" if np.isnan(figure) else verdict


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
    is "not tested"; (b)-(d) on a curve that never rises from its baseline are "no rise"
    (`risen`). Seed resamples (`bootstrap_onsets`) say how firm each onset is.
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


SHORT = {"reproduced": "yes", "not reproduced": "no", "partly": "partly", "not tested": "untested",
         "no rise": "no rise"}


BASELINE_COLUMNS = {"densest": "from p = 1 (0.1 / 0.25 / 0.5)", "minimum": "from the minimum (0.1 / 0.25 / 0.5)"}


def overall_verdict(verdicts: dict[tuple[str, float], str]) -> str:
    """One verdict from those under each (baseline, fraction): the common one, else what it
    depends on (the baseline, when the two baselines differ at some fraction)."""
    if len(set(verdicts.values())) == 1:
        return next(iter(verdicts.values()))
    if any(len({verdicts[b, fraction] for b in BASELINES}) > 1 for fraction in ONSET_FRACTIONS):
        return "depends on the baseline"
    return "depends on the fraction"


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
