"""The weight mask's free choices: its q, masks on untrained networks (claim (f)) and the other
mask settings (chapters "Weight mask", "Results", "Discussion")."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modlib.analysis.frames import paired_means, specialization_frame
from modlib.analysis.stats import mean_interval


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
    t interval of the mean paired difference) and ``mask_pairs_higher`` (the share
    of models whose masks do better trained)."""
    pairs = mask_accuracy_pairs(table)
    lows = [mean_interval(group["difference"])[1] for _, group in pairs.groupby(level="p")]
    return dict(mask_trained=float(pairs["trained"].mean()), mask_untrained=float(pairs["untrained"].mean()),
                mask_gap_low=float(np.nanmin(lows)), mask_pairs_higher=float((pairs["difference"] > 0).mean()))


def with_untrained_masks(table: pd.DataFrame, random_masks: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the mask accuracies of a sweep that found each model's masks after and
    before training (``random-masks``) in place of its own, for claim (f): the two are
    compared on the very same models (a sweep rerun on another kind of CPU trains models that
    drift from the stored ones, as another seed's would)."""
    masks = ["mask_accuracy", "mask_accuracy_untrained"]
    return pd.concat([table[~table["metric"].isin(masks)], random_masks[random_masks["metric"].isin(masks)]],
                     ignore_index=True)


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
