import warnings

import numpy as np
import pandas as pd
import pytest

from modlib.analysis.claims import claim_figures, claims, summary_table, verdicts_side_by_side
from modlib.analysis.masks import mask_accuracy_pairs, with_untrained_masks
from tests.analysis_helpers import LEVELS, noiseless, spec_table


def test_a_verdict_that_flips_with_the_baseline_says_so():
    # flat at 0.1 above p = 0.0167, then a rise at p = 1: measured from p = 1 the rise starts below 0.01,
    # from the minimum at 0.0167 (but for the highest fraction)
    table = noiseless([1.0, 0.8, 0.6, 0.5, 0.45, 0.35, 0.1, 0.1, 0.1, 0.5])
    verdicts = claims(table, resamples=20).set_index(["claim", "the paper says"])
    b = verdicts.loc[("b", "correlation rises only for p < 0.01 (Q > 0.49)")]
    assert b["from p = 1 (0.1 / 0.25 / 0.5)"] == "yes / yes / yes"
    assert b["from the minimum (0.1 / 0.25 / 0.5)"] == "no / no / yes"
    assert b["verdict"] == "depends on the baseline"
    d = verdicts.loc[("d", "correlation: little or no specialization at Q = 0.35")]
    assert (d["from p = 1 (0.1 / 0.25 / 0.5)"].split(" / ")[0], d["verdict"]) == ("yes", "reproduced")


def test_a_verdict_that_flips_with_the_onset_fraction_says_so():
    table = noiseless([1.0, 0.9, 0.8, 0.7, 0.6, 0.3, 0.15, 0.05, 0.0, 0.0])  # 0.3 at 0.0167: above 0.1 and 0.25
    b = claims(table, resamples=20).set_index("claim").loc["b"]
    assert b["from p = 1 (0.1 / 0.25 / 0.5)"] == "no / no / yes"
    assert b["verdict"] == "depends on the fraction"


def test_claim_b_is_not_tested_without_a_level_between_001_and_the_densest():
    three = noiseless([1.0, 0.5, 0.0], levels=[1e-4, 5e-3, 1.0])  # the onset could only be at or below 0.005
    assert claims(three, resamples=20).set_index("claim").loc["b", "verdict"] == "not tested"
    four = noiseless([1.0, 0.5, 0.0, 0.0], levels=[1e-4, 5e-3, 0.1, 1.0])
    assert claims(four, resamples=20).set_index("claim").loc["b", "verdict"] == "reproduced"


def test_a_curve_that_never_rises_reads_no_rise_not_no():
    # flat correlation: nothing starts to rise, so (b) and (d) cannot be read; (a) is a plain no
    flat = claims(noiseless([0.2] * 10), resamples=20).set_index("claim")
    assert (flat.loc["b", "verdict"], flat.loc["d", "verdict"], flat.loc["a", "verdict"]) == (
        "no rise", "no rise", "not reproduced")
    assert flat.loc["b", "from p = 1 (0.1 / 0.25 / 0.5)"] == "no rise / no rise / no rise"
    rising = claims(noiseless([1.0, 0.5] + [0.0] * 8), resamples=20).set_index("claim")
    assert rising.loc["b", "verdict"] == "reproduced"


def test_claim_c_fails_when_the_weight_mask_rises_before_p_011():
    others = noiseless([1.0, 0.9, 0.8, 0.7, 0.6, 0.0, 0.0, 0.0, 0.0, 0.0])
    rise = [1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7]  # down to p = 0.0464, the last level below 0.11
    in_window = pd.concat([others, noiseless(rise + [0.0, 0.0, 0.0], metric="weight_mask")])
    too_early = pd.concat([others, noiseless(rise + [0.6, 0.6, 0.0], metric="weight_mask")])
    assert claims(in_window, resamples=20).set_index("claim").loc["c", "verdict"] == "reproduced"
    assert claims(too_early, resamples=20).set_index("claim").loc["c", "verdict"] == "partly"  # earlier, not flat


def test_claim_f_compares_masks_on_trained_and_untrained_models():
    rows = [dict(architecture="standard", k=k, p=k / 1e4, seed=seed, metric=metric, subtask=t, value=value)
            for k in (1, 10_000) for seed in range(4) for t in (0, 1)
            for metric, value in (("mask_accuracy", 0.8 + 0.01 * seed), ("mask_accuracy_untrained", 0.3))]
    table = pd.concat([noiseless([1.0, 0.0], levels=[1e-4, 1.0]), pd.DataFrame(rows)])
    pairs = mask_accuracy_pairs(table)
    assert pairs.loc[(1e-4, 2), "difference"] == pytest.approx(0.52)
    f = claim_figures(table, resamples=20)
    assert (f["mask_trained"], f["mask_untrained"], f["mask_pairs_higher"]) == pytest.approx((0.815, 0.3, 1.0))
    assert claims(table, resamples=20).set_index("claim").loc["f", "verdict"] == "reproduced"
    worse = table.assign(value=np.where(table.metric == "mask_accuracy_untrained", 0.9, table.value))
    assert claims(worse, resamples=20).set_index("claim").loc["f", "verdict"] == "not reproduced"


def test_claims_about_a_p_outside_the_sweeps_levels_are_not_tested():
    sparse = {p: [s] * 4 for p, s in zip(LEVELS[:3], [1.0, 0.5, 0.0])}  # levels stop at p = 0.01
    table = pd.concat([spec_table(sparse), spec_table(sparse, metric="weight_mask")])
    verdicts = claims(table).set_index(["claim", "the paper says"])["verdict"]
    assert verdicts.loc["a"].eq("reproduced").all()
    assert verdicts.loc[["b", "c", "d"]].eq("not tested").all()  # about p = 0.01, 0.046, 0.176
    assert "at p=0.01 to 1.00 at p=0.0001" in claims(table).set_index("claim").loc["a", "we find"].iloc[0]
    full = claims(spec_table({p: [s] * 4 for p, s in zip(LEVELS, [1.0, 0.5, 0.2, 0.0, 0.0])}))
    assert "not tested" not in full["verdict"].tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no correlation of a single point
        single = claims(spec_table({1e-2: [0.5] * 4})).set_index("claim")
    assert single.loc["a", "verdict"] == "not tested" and "this sweep has one, p = 0.01" in single.loc["a", "we find"]


def test_verdicts_side_by_side_say_where_two_sweeps_agree():
    late = claims(spec_table({p: [s] * 4 for p, s in zip(LEVELS, [1.0, 0.5, 0.2, 0.0, 0.0])}))
    early = claims(spec_table({p: [s] * 4 for p, s in zip(LEVELS, [1.0, 0.9, 0.8, 0.7, 0.0])}))
    side = verdicts_side_by_side(late, early, ("late", "early")).set_index("claim")
    assert list(side.columns) == ["the paper says", "late", "early", "same verdict"]
    assert side.loc["b", "late"].startswith("onset at p = 0.001")
    assert side.loc["b", "early"].startswith("onset at p = 0.1")
    assert not side.loc["b", "same verdict"] and side.loc["a", "same verdict"]
    assert verdicts_side_by_side(late, late, ("x", "y"))["same verdict"].all()


def test_claim_figures_are_the_numbers_behind_the_verdicts():
    table = spec_table({p: [s] * 4 for p, s in zip(LEVELS, [1.0, 0.5, 0.2, 0.0, 0.0])})
    accuracy = pd.DataFrame(dict(metric="accuracy", value=[0.95, 0.85, 0.92]))
    figures = claim_figures(pd.concat([table, accuracy]), resamples=50)
    assert all(type(value) is float for value in figures.values())  # what the book's glue can paste
    assert figures["sparsest_p"] == 1e-4
    assert (figures["correlation_densest"], figures["correlation_sparsest"]) == (0.0, 1.0)
    assert figures["correlation_onset"] == 1e-3 and figures["correlation_onset_value"] == 0.5
    assert figures["correlation_threshold"] == 0.25  # a quarter of the way from 0 to 1
    assert figures["correlation_late_share"] == 1.0 and figures["correlation_early_share"] == 0.0
    assert figures["correlation_at_q035"] == figures["correlation_q035_share"] == 0.0  # between two zeros
    assert figures["accuracy_share"] == pytest.approx(2 / 3) and figures["accuracy_median"] == 0.92
    assert (figures["models"], figures["accuracy_min"]) == (3.0, 0.85)
    assert "bottleneck_onset" not in figures  # only the measures the table has


def test_the_summary_puts_each_configuration_s_verdict_side_by_side():
    late = noiseless([1.0, 0.9, 0.8, 0.7, 0.6, 0.0, 0.0, 0.0, 0.0, 0.0])
    early = noiseless([1.0, 0.95, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.0])
    summary = summary_table({"text": late, "code": early}, resamples=20).set_index("claim")
    assert list(summary.columns) == ["the paper says", "ours, text", "ours, code", "verdict"]
    assert summary.loc["b", "ours, text"].startswith("onset at p = 0.006")
    assert summary.loc["b", "verdict"] == "reproduced (text) / not reproduced (code)"
    assert summary.loc["a", "verdict"] == "reproduced"
    masks = pd.DataFrame([dict(architecture="standard", k=k, p=k / 1e4, seed=s, metric=m, subtask=t, value=v)
                          for k in (1, 10_000) for s in range(4) for t in (0, 1)
                          for m, v in (("mask_accuracy", 0.8), ("mask_accuracy_untrained", 0.2))])
    stale = masks[masks.metric == "mask_accuracy"].assign(value=0.1)  # the table's own, replaced by the sweep's
    assert len(with_untrained_masks(pd.concat([late, stale]), masks)) == len(late) + len(masks)
    with_f = summary_table({"text": with_untrained_masks(pd.concat([late, masks]), masks), "code": early},
                           resamples=20).set_index("claim")
    assert with_f.loc["f", "verdict"] == "reproduced (text) / not tested (code)"
    assert with_f.loc["f", "ours, code"] == "not in this sweep"
