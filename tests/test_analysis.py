import warnings

import numpy as np
import pandas as pd
import pytest

from modlib.analysis.bandwidth import compare_moduli, moduli_accuracy, moduli_levels, modulus_tables
from modlib.analysis.choices import (both_ways_effects, both_ways_table, both_ways_verdicts, choices_that_move,
                                     direction_disagreements, stored_both_ways, verdict_stability, choice_effect)
from modlib.analysis.claims import claim_figures, claims, summary_table, verdicts_side_by_side
from modlib.analysis.decisions import module_difference
from modlib.analysis.frames import (accurate_models, learning_curves, level_means, long_run_figures, models_per_level,
                                    module_level_means, paired_accuracy, paired_specialization, pooled,
                                    specialization_frame)
from modlib.analysis.masks import (calibrated_q, mask_accuracy_pairs, mask_q_search, mask_sensitivity,
                                   with_untrained_masks)
from modlib.analysis.onsets import bootstrap_onsets, onset_p, onset_table, onsets
from modlib.analysis.stats import bootstrap_means
from modlib.sweep import COLUMNS


def spec_table(spec_by_level: dict[float, list[float]], metric: str = "correlation") -> pd.DataFrame:
    """Sweep rows whose per-model specialization is the given value per seed (own = 1 + s,
    other = 1 - s in both modules)."""
    rows = []
    for p, specs in spec_by_level.items():
        for seed, s in enumerate(specs):
            for module in (0, 1):
                for subtask in (0, 1):
                    value = 1 + s if module == subtask else 1 - s
                    rows.append(dict(architecture="standard", n_hidden=100, k=round(p * 10_000), p=p, q=0.0,
                                     seed=seed, metric=metric, module=module, subtask=subtask, value=value))
    return pd.DataFrame(rows)


LEVELS = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]


def test_onset_is_the_largest_p_risen_a_quarter_of_the_way():
    curve = pd.Series([1.0, 0.5, 0.2, 0.0, 0.0], index=LEVELS)
    assert onset_p(curve) == 1e-3  # 0.5 > 0.25 of the rise; 0.2 is not
    assert onset_p(curve.iloc[::-1]) == 1e-3  # order of the index does not matter
    assert np.isnan(onset_p(pd.Series(0.3, index=LEVELS)))  # a flat curve never rises
    rows = np.array([[1.0, 0.5, 0.2, 0.0, 0.0], [1.0, 0.5, 0.3, 0.0, 0.0]])
    assert onsets(np.array(LEVELS), rows).tolist() == [1e-3, 1e-2]


PAPER_LEVELS = [1e-4, 3e-4, 8e-4, 2.2e-3, 6e-3, 1.67e-2, 4.64e-2, 0.129, 0.359, 1.0]


def noiseless(curve, levels=PAPER_LEVELS, metric="correlation", seeds=4) -> pd.DataFrame:
    return spec_table({p: [s] * seeds for p, s in zip(levels, curve)}, metric)


def test_the_minimum_baseline_reads_a_u_shaped_curve_from_its_lowest_level():
    u_shape = pd.Series([1.0, 0.8, 0.6, 0.4, 0.2, 0.1, 0.0, 0.0, 0.0, 0.6], index=PAPER_LEVELS)
    assert onset_p(u_shape) == 3e-4  # past 0.6 + 0.25 * 0.4 = 0.7: only 1.0 and 0.8
    assert onset_p(u_shape, baseline="minimum") == 2.2e-3  # past 0 + 0.25 * 1.0, sparser than the minimum: 0.4
    with pytest.raises(ValueError, match="baseline must be one of"):
        onset_p(u_shape, baseline="median")


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


def test_claim_c_fails_when_the_weight_mask_rises_before_p_011():
    others = noiseless([1.0, 0.9, 0.8, 0.7, 0.6, 0.0, 0.0, 0.0, 0.0, 0.0])
    rise = [1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7]  # down to p = 0.0464, the last level below 0.11
    in_window = pd.concat([others, noiseless(rise + [0.0, 0.0, 0.0], metric="weight_mask")])
    too_early = pd.concat([others, noiseless(rise + [0.6, 0.6, 0.0], metric="weight_mask")])
    assert claims(in_window, resamples=20).set_index("claim").loc["c", "verdict"] == "reproduced"
    assert claims(too_early, resamples=20).set_index("claim").loc["c", "verdict"] == "partly"  # earlier, not flat


def test_seeds_are_resampled_jointly_across_levels():
    # each seed is one initialisation at every level: a seed that is high everywhere moves every level of a resample
    values = np.array([[0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 3.0]])  # [levels, seeds]
    means = bootstrap_means(values, resamples=200, seed=3)
    assert means.shape == (200, 2)
    assert np.array_equal(means[:, 0], means[:, 1])
    assert means[:, 0].std() > 0  # but the draws do differ between resamples


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


def test_each_module_is_shown_apart():
    table = noiseless([1.0, 0.0], levels=[1e-4, 1.0])
    table.loc[(table.module == 1) & (table.subtask == 0), "value"] = 1.0  # module 1 reads digit 0 as well as its own
    means = module_level_means(table).loc["correlation"]
    assert means.loc[1e-4, "module 0"] == pytest.approx(1.0)
    assert means.loc[1e-4, "module 1"] == pytest.approx((2 - 1) / (2 + 1))  # own 1 + s = 2, other 1
    assert means.loc[1e-4, "difference"] == pytest.approx(1 - 1 / 3)


def test_accurate_models_keep_whole_models_above_the_threshold():
    table = noiseless([1.0, 0.0], levels=[1e-4, 1.0], seeds=2)
    accuracy = pd.DataFrame([dict(architecture="standard", k=k, seed=s, metric="accuracy", value=0.8 + 0.15 * s)
                             for k in (1, 10_000) for s in (0, 1)])
    kept = accurate_models(pd.concat([table, accuracy]), 0.9)
    assert set(kept["seed"]) == {1} and len(kept) == len(table) / 2 + 2
    assert models_per_level(kept).loc["standard"].tolist() == [1, 1]


def test_onsets_without_seed_noise_are_certain():
    table = spec_table({p: [s] * 4 for p, s in zip(LEVELS, [1.0, 0.5, 0.2, 0.0, 0.0])})
    assert (bootstrap_onsets(specialization_frame(table), "correlation", resamples=50) == 1e-3).all()
    verdicts = claims(table).set_index("claim")
    assert verdicts.loc["b", "verdict"] == "reproduced"
    assert "in 100% of seed resamples" in verdicts.loc["b", "we find"]


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


def test_an_onset_on_the_edge_is_uncertain_and_resampling_is_reproducible():
    # at p = 0.01 the seeds straddle the criterion (0.25 of the rise): 0.2 or 0.3
    table = spec_table({1e-4: [1.0] * 4, 1e-3: [0.5] * 4, 1e-2: [0.2, 0.3, 0.2, 0.3],
                        1e-1: [0.0] * 4, 1.0: [0.0] * 4})
    spec = specialization_frame(table)
    first = bootstrap_onsets(spec, "correlation", resamples=400, seed=1)
    assert set(first.tolist()) == {1e-3, 1e-2}
    assert 0.2 < (first <= 1e-3).mean() < 0.8
    assert np.array_equal(first, bootstrap_onsets(spec, "correlation", resamples=400, seed=1))
    with pytest.raises(ValueError, match="no 'bottleneck' rows"):
        bootstrap_onsets(spec, "bottleneck")


def test_onset_table_gives_each_measures_onset_and_its_resample_range():
    table = spec_table({p: [s] * 4 for p, s in zip(LEVELS, [1.0, 0.5, 0.2, 0.0, 0.0])})
    row = onset_table(table, resamples=50).set_index("metric").loc["correlation"]
    curve = level_means(table)["correlation"]
    assert (row["sparsest"], row["densest"]) == (curve.loc[1e-4], curve.loc[1.0])
    assert row["onset_p"] == row["onset_low"] == row["onset_high"] == 1e-3


def test_paired_accuracy_compares_the_models_both_sweeps_trained():
    def accuracies(values):
        rows = [dict(architecture="standard", k=k, seed=seed, metric="accuracy", value=value)
                for (k, seed), value in values.items()]
        return pd.DataFrame(rows)

    paper = accuracies({(1, 0): 0.80, (1, 1): 0.90, (10, 0): 0.5, (10, 1): 0.7})
    control = accuracies({(1, 0): 0.85, (1, 1): 0.88, (10, 0): 0.6, (10, 2): 0.1})  # seed 2: not in paper
    paired = paired_accuracy({"paper": paper, "control": control})
    one = paired.loc[("standard", 1)]
    assert (one["paper"], one["control"]) == pytest.approx((0.85, 0.865))
    assert one["difference"] == pytest.approx(0.015) and (one["higher"], one["models"]) == (1, 2)
    ten = paired.loc[("standard", 10)]  # only seed 0 is in both
    assert (ten["paper"], ten["control"], ten["models"]) == pytest.approx((0.5, 0.6, 1))
    with pytest.raises(ValueError, match="share no model"):
        paired_accuracy({"paper": paper, "other": accuracies({(100, 0): 0.9})})
    with pytest.raises(ValueError, match="two sweeps"):
        paired_accuracy({"paper": paper})


def test_paired_specialization_pairs_models_across_architectures():
    paper = spec_table({p: [s] * 3 for p, s in zip(LEVELS, [1.0, 0.5, 0.2, 0.0, 0.0])})
    control = spec_table({p: [s] * 2 for p, s in zip(LEVELS, [0.5, 0.5, 0.4, 0.0, 0.0])})  # seeds 0 and 1
    paired = paired_specialization({"paper": paper, "control": control})
    sparsest = paired.loc[("correlation", paper.k.min())]
    assert (sparsest["paper"], sparsest["control"], sparsest["models"]) == pytest.approx((1.0, 0.5, 2))
    assert sparsest["difference"] == pytest.approx(-0.5) and sparsest["higher"] == 0
    assert paired.xs("correlation").loc[paper.k.max(), "difference"] == pytest.approx(0.0)


def test_moduli_are_compared_by_onset_and_accuracy(tmp_path):
    paper = spec_table({p: [s] * 3 for p, s in zip(LEVELS, [1.0, 0.5, 0.2, 0.0, 0.0])})
    wider = spec_table({p: [s] * 3 for p, s in zip(LEVELS, [1.0, 0.9, 0.5, 0.0, 0.0])})
    accuracy = lambda value: pd.DataFrame([dict(architecture="standard", k=1, p=1e-4, seed=0, metric="accuracy",
                                                value=value)])
    for name, table in (("paper", pd.concat([paper, accuracy(0.8)])), ("modulus-10", wider)):
        (tmp_path / name).mkdir()
        table.to_csv(tmp_path / name / "results.csv", index=False)
    tables = modulus_tables(tmp_path)
    assert sorted(tables) == [2, 10]
    with pytest.raises(FileNotFoundError, match="modulus-2-long, modulus-10-long"):
        modulus_tables(tmp_path, long=True)  # the 15-epoch sweeps are others
    compared = compare_moduli(tables)
    assert compared.loc[("correlation", 2), "onset_p"] == 1e-3
    assert compared.loc[("correlation", 10), "onset_p"] == 1e-2
    assert compared.loc[("correlation", 10), "bits"] == pytest.approx(3.32, abs=0.01)
    assert moduli_accuracy(tables).loc[("standard", 2), 1] == 0.8
    levels = moduli_levels(tables)
    sparsest = levels.loc[("correlation", 1e-4)]
    assert sparsest[(2, "mean")] == sparsest[(2, "low")] == sparsest[(2, "high")]  # no seed noise
    assert list(levels.columns.get_level_values(0).unique()) == [2, 10]
    labelled = moduli_levels(tables, p_labels=True)
    assert labelled.loc[("correlation", "0.0001")].equals(sparsest)  # the same rows, p as printed
    (tmp_path / "modulus-10" / "results.csv").unlink()
    with pytest.raises(FileNotFoundError, match="fewer than two moduli stored"):
        modulus_tables(tmp_path)


def curve_table(epochs=3):
    """Two architectures x two levels x two seeds; test accuracy after epoch e is 0.1 * e + 0.01 * seed."""
    rows = []
    for arch in ("standard", "bottleneck"):
        for k in (1, 100):
            for seed in (0, 1):
                base = dict(architecture=arch, n_hidden=10, k=k, p=k / 100, q=0.0, seed=seed, job=f"{arch}-{k}-{seed}")
                for e in range(1, epochs + 1):
                    rows.append(dict(base, metric="epoch_test_accuracy", epoch=e, value=0.1 * e + 0.01 * seed))
                    rows.append(dict(base, metric="epoch_train_accuracy", epoch=e, value=0.5))
                rows.append(dict(base, metric="accuracy", value=0.1 * epochs + 0.01 * seed))
    return pd.DataFrame(rows, columns=COLUMNS)


def test_learning_curves_average_over_seeds_per_epoch():
    curves = learning_curves(curve_table())
    assert list(curves.columns) == [1, 2, 3]
    assert curves.shape == (4, 3)
    assert curves.loc[("standard", 100), 2] == pytest.approx(0.205)
    assert (learning_curves(curve_table(), "train_accuracy") == 0.5).all().all()


def test_learning_curves_refuse_unknown_curves_and_old_tables():
    with pytest.raises(ValueError, match="curve must be one of"):
        learning_curves(curve_table(), "loss")
    old = curve_table()
    with pytest.raises(ValueError, match="rerun its sweep with --fresh"):
        learning_curves(old[old["metric"] == "accuracy"])


def test_long_run_figures_read_both_ends_from_the_budget_on():
    figures = long_run_figures(curve_table(), budget=2)
    assert figures["epochs"] == 3.0
    assert figures["sparsest_final"] == pytest.approx(0.305)  # k = 1 after epoch 3, mean of seeds 0 and 1
    assert (figures["dense_test_low"], figures["dense_test_high"]) == pytest.approx((0.205, 0.305))  # epochs 2, 3
    assert figures["dense_train_low"] == figures["dense_train_high"] == 0.5


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


def mask_rows(own: dict[int, list[float]], accuracy: float = 0.5) -> pd.DataFrame:
    """Weight-mask rows of k = 1 models: M(n, n) per module and seed, M(n, 1 - n) the rest."""
    rows = []
    for module, values in own.items():
        for seed, value in enumerate(values):
            base = dict(architecture="standard", k=1, p=1e-4, seed=seed)
            rows += [dict(base, metric="weight_mask", module=module, subtask=module, value=value),
                     dict(base, metric="weight_mask", module=1 - module, subtask=module, value=1 - value),
                     dict(base, metric="mask_accuracy", subtask=module, value=accuracy)]
    return pd.DataFrame(rows)


def test_q_is_calibrated_as_the_largest_whose_masks_keep_only_their_own_module():
    search = mask_q_search({0.01: mask_rows({0: [1.0, 1.0], 1: [1.0, 1.0]}),
                            0.02: mask_rows({0: [1.0, 1.0], 1: [1.0, 0.99]}),
                            0.005: mask_rows({0: [1.0, 1.0], 1: [1.0, 1.0]}, accuracy=0.3)})
    assert list(search.index) == [0.005, 0.01, 0.02]
    assert search.loc[0.02, "M(1,1) lowest"] == 0.99 and search.loc[0.02, "M(1,1) mean"] == pytest.approx(0.995)
    assert search.loc[0.005, "mask accuracy"] == 0.3
    assert calibrated_q(search) == (0.01, True)
    assert calibrated_q(search, threshold=0.99) == (0.02, True)
    never = mask_q_search({0.01: mask_rows({0: [0.7, 0.7], 1: [1.0, 1.0]}),
                           0.02: mask_rows({0: [0.6, 0.8], 1: [0.9, 0.9]}),
                           0.05: mask_rows({0: [0.6, 0.6], 1: [1.0, 1.0]})})
    assert calibrated_q(never) == (0.01, False)  # module 0's mean M(0, 0) is highest there


def test_mask_sensitivity_pairs_each_setting_with_the_same_models():
    reference = noiseless([0.8, 0.1], levels=[1e-4, 1.0], metric="weight_mask")
    setting = noiseless([0.6, 0.1], levels=[1e-4, 1.0], metric="weight_mask", seeds=2)
    table = mask_sensitivity(reference, {"other": setting})
    row = table.loc[("other", 1)]
    assert row["module 0 reference"] == pytest.approx(0.8) and row["module 1 setting"] == pytest.approx(0.6)
    assert row["difference"] == pytest.approx(-0.2) and (row["higher"], row["models"]) == (0, 2)


def test_module_difference_pools_the_sparsest_levels_per_sweep():
    table = noiseless([1.0, 0.5, 0.0], levels=[1e-4, 3e-4, 1.0])
    table.loc[(table.module == 1) & (table.subtask == 0), "value"] = 1.0  # module 1 no longer specialised
    row = module_difference({"paper": table}, ks=(1, 3)).loc[("paper", "correlation")]
    assert (row["models"], row["seeds"]) == (8, 4) and row["module 0"] == pytest.approx(0.75)
    assert row["difference"] == pytest.approx(row["module 0"] - row["module 1"])
    assert row["difference"] == pytest.approx(((1 - 1 / 3) + (0.5 - 0.2)) / 2)  # module 1: (1 + s - 1) / (1 + s + 1)
    assert row["low"] == row["high"] == pytest.approx(row["difference"])  # every seed alike: no spread to resample


def test_the_calibrated_q_preset_is_what_the_stored_search_gives():
    from modlib.sweep import BOOK_RESULTS, MASK_Q_CALIBRATED, MASK_Q_CANDIDATES, PRESETS, load_results

    search = mask_q_search({q: load_results(f"mask-q-{q:g}", BOOK_RESULTS) for q in MASK_Q_CANDIDATES})
    assert calibrated_q(search) == (MASK_Q_CALIBRATED, False)
    assert PRESETS["mask-q-calibrated"].mask_fraction == MASK_Q_CALIBRATED


def test_pooled_sweeps_keep_their_seeds_apart():
    one = noiseless([1.0, 0.0], levels=[1e-4, 1.0], seeds=2)
    both = pooled([one, one])
    assert len(both) == 2 * len(one) and sorted(both["seed"].unique()) == [0, 1, 1000, 1001]
    assert module_difference({"both": both}, ks=(1,)).loc[("both", "correlation"), "seeds"] == 4


def test_the_tidy_summary_gives_each_module_and_their_mean_per_sweep_and_level():
    from modlib.analysis.frames import tidy_summary

    table = noiseless([1.0, 0.0], levels=[1e-4, 1.0])
    table.loc[(table.module == 1) & (table.subtask == 0), "value"] = 1.0  # module 1 reads digit 0 as well
    tidy = tidy_summary({"a": table, "b": spec_table({1e-4: [0.2, 0.4]})}, n_boot=200)
    assert len(tidy) == 2 * 3 + 1 * 3  # sweep a: 2 levels x (0, 1, mean); sweep b: 1 level
    row = tidy.set_index(["sweep", "p", "module"]).loc[("a", 1e-4)]
    assert row.loc["0", "mean"] == pytest.approx(1.0) and row.loc["1", "mean"] == pytest.approx(1 / 3)
    assert row.loc["mean", "mean"] == pytest.approx((1 + 1 / 3) / 2)
    b = tidy[(tidy["sweep"] == "b") & (tidy["module"] == "0")].iloc[0]
    assert b["mean"] == pytest.approx(0.3) and b["low"] <= 0.3 <= b["high"] and b["models"] == 2


def decision_rows(shares: dict[int, tuple[float, float, float]], levels=(1e-4, 1.0)) -> pd.DataFrame:
    """A sweep's decision_share rows: per seed, module 0's share of all pairs, of the pairs whose
    answer is digit 0, and of those whose answer is digit 1 (module 1's are the rest)."""
    rows = []
    for p in levels:
        for seed, (overall, answer0, answer1) in shares.items():
            base = dict(architecture="standard", n_hidden=100, k=round(p * 10_000), p=p, q=0.0, seed=seed,
                        metric="decision_share")
            for module in (0, 1):
                flip = (lambda v: v) if module == 0 else (lambda v: 1 - v)
                rows.append(dict(base, module=module, subtask=np.nan, value=flip(overall)))
                rows += [dict(base, module=module, subtask=t, value=flip(v)) for t, v in enumerate((answer0, answer1))]
    return pd.DataFrame(rows)


def test_the_decision_frame_says_how_often_each_module_answers_for_the_other():
    from modlib.analysis.decisions import decision_frame

    frame = decision_frame(decision_rows({0: (0.3, 0.4, 0.2), 1: (0.5, 0.9, 0.1)}))
    seed0 = frame[(frame["seed"] == 0) & (frame["p"] == 1e-4)].iloc[0]
    assert seed0["module 0 decides"] == pytest.approx(0.3)
    assert seed0["module 0 answers for module 1"] == pytest.approx(0.2)  # pairs whose answer is digit 1
    assert seed0["module 1 answers for module 0"] == pytest.approx(0.6)  # 1 - 0.4 of digit 0's pairs
    assert len(frame) == 2 * 2
    with pytest.raises(ValueError, match="no decision shares"):
        decision_frame(spec_table({1e-4: [0.1]}))


def test_one_module_makes_both_modules_that_module():
    from modlib.analysis.matrix import one_module

    table = noiseless([1.0, 0.0], levels=[1e-4, 1.0])
    table.loc[(table.module == 1) & (table.subtask == 0), "value"] = 1.0  # module 1 less specialised
    for module, expected in ((0, 1.0), (1, 1 / 3)):
        spec = specialization_frame(one_module(table, module))
        sparse = spec[spec["p"] == 1e-4]
        assert np.allclose(sparse[["spec_0", "spec_1", "spec"]], expected)


def test_the_verdict_matrix_shows_each_module_where_they_disagree():
    from modlib.analysis.matrix import MATRIX_CLAIMS, verdict_matrix

    rising = noiseless(np.linspace(1.0, 0.0, len(PAPER_LEVELS)))
    flat = noiseless([0.2] * len(PAPER_LEVELS))
    table = pd.concat([rising[rising.module == 0], flat[flat.module == 1]], ignore_index=True)
    accuracy = table[(table.metric == "correlation") & (table.module == 0) & (table.subtask == 0)].assign(
        metric="accuracy", module=np.nan, subtask=np.nan, value=0.95)
    matrix = verdict_matrix({"both rise": pd.concat([rising, accuracy]),
                             "module 0 rises": pd.concat([table, accuracy])}, resamples=50)
    assert list(matrix.index) == list(MATRIX_CLAIMS.values())
    assert matrix.loc["(a) rises with sparsity", ("both rise", "correlation")] == "yes"
    assert matrix.loc["(a) rises with sparsity", ("module 0 rises", "correlation")] == "yes (0: yes, 1: no)"
    assert matrix.loc["(a) rises with sparsity", ("both rise", "bottleneck")] == "·"  # no bottleneck rows
    assert matrix.loc["(e) every model performs well", ("both rise", "correlation")] == "yes"


def test_who_decides_is_read_from_either_kind_of_row_and_joined_to_the_module_difference():
    from modlib.analysis.decisions import asymmetry_and_decisions, module0_share
    from modlib.analysis.stats import seed_rank_correlation

    specs = {1e-4: [0.1, 0.2, 0.3, 0.4]}
    table = spec_table(specs)
    table.loc[table.module == 1, "value"] = 1.0  # module 1 not specialised: the difference is module 0's
    shares = [0.9, 0.7, 0.5, 0.3]  # module 0 decides less where it is more specialised
    decides = pd.DataFrame([dict(architecture="standard", k=1, seed=s, metric="decides", module=0, subtask=p,
                                 value=share + (0.05 if p else -0.05))
                            for s, share in enumerate(shares) for p in (0, 1)])
    assert module0_share(decides).tolist() == pytest.approx(shares)  # old sweeps: the mean over the parities
    frame = asymmetry_and_decisions(pd.concat([table, decides]), "correlation", (1,))
    assert frame["difference"].tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4])
    rho, low, high = seed_rank_correlation(frame, "difference", "module 0 decides", resamples=200)
    assert rho == pytest.approx(-1.0) and low <= -0.99 and high <= -0.99
    with pytest.raises(ValueError, match="which module decides"):
        module0_share(table)


def with_accuracy(table: pd.DataFrame, accuracy: float) -> pd.DataFrame:
    models = table.drop_duplicates(["p", "seed"]).assign(metric="accuracy", module=np.nan, subtask=np.nan,
                                                         value=accuracy)
    return pd.concat([table, models], ignore_index=True)


FOUR_LEVELS = [1e-4, 2.2e-3, 4.64e-2, 1.0]


def test_a_choices_effect_is_with_it_minus_without_it_per_module_and_level():
    without = with_accuracy(spec_table({p: [0.1, 0.3, 0.5] for p in FOUR_LEVELS}), 0.9)
    with_choice = with_accuracy(spec_table({p: [0.3, 0.5, 0.7] for p in FOUR_LEVELS}), 0.85)
    effect = choice_effect(with_choice, without)
    assert set(effect.index.get_level_values("quantity")) == {"correlation, module 0", "correlation, module 1",
                                                              "accuracy"}
    assert np.allclose(effect.loc["correlation, module 1", "effect"], 0.2)
    assert np.allclose(effect.loc["accuracy", "effect"], -0.05)
    assert np.allclose(effect.loc["accuracy", ["low", "high"]], -0.05)  # no spread, no uncertainty
    spread = effect.loc["correlation, module 0"]
    assert ((spread["low"] < 0.2) & (spread["high"] > 0.2) & (spread["low"] > -0.3)).all()
    assert np.allclose(choice_effect(without, without)["effect"], 0)


def test_both_ways_names_the_verdicts_a_choice_moves_in_each_direction():
    rising = with_accuracy(spec_table({p: [s] * 3 for p, s in zip(FOUR_LEVELS, [0.8, 0.6, 0.1, 0.0])}), 0.95)
    falling = with_accuracy(spec_table({p: [s] * 3 for p, s in zip(FOUR_LEVELS, [0.1, 0.15, 0.2, 0.25])}), 0.95)
    tables = {"variant-text": falling, "variant-before": rising, "authors-reference": rising,
              "authors-minus-before": rising, "variant-adam": falling}
    moves = both_ways_verdicts(tables)
    label = "message enters before W_hh"
    assert set(moves["choice"]) == {label} and set(moves["direction"]) == {"added to the text"}
    flip = moves[(moves["claim"] == "a") & (moves["module"] == "both")].iloc[0]
    assert (flip["measure"], flip["without"], flip["with"], flip["kind"]) == ("correlation", "no", "yes", "flip")
    assert stored_both_ways(tables) == [label]  # Adam is stored one way only
    assert choices_that_move(moves, [label]) == {"both": [], "added": [label], "taken": [], "neither": []}
    effects = both_ways_effects(tables)
    assert np.allclose(effects.loc[(label, "taken from the authors'"), "effect"], 0)
    assert np.isclose(effects.loc[(label, "added to the text", "correlation, module 0", 1e-4), "effect"], 0.7)
    apart = direction_disagreements(effects)  # +0.7 added to the text, 0 taken from the authors': apart
    assert ("message enters before W_hh", "correlation, module 0", 1e-4) in apart.index
    assert np.isclose(apart.loc[("message enters before W_hh", "correlation, module 0", 1e-4), "added to the text"], 0.7)
    table = both_ways_table(effects, 1e-4)
    assert table.loc[label, ("correlation, module 0", "added to the text")] == "+0.70 [+0.70, +0.70]*"
    assert table.loc[label, ("accuracy", "taken from the authors'")] == "+0.00 [+0.00, +0.00]"


def test_reseeding_a_sweep_whose_seeds_agree_moves_no_verdict():
    same = with_accuracy(spec_table({p: [s] * 3 for p, s in zip(FOUR_LEVELS, [0.8, 0.6, 0.1, 0.0])}), 0.95)
    assert verdict_stability(same, draws=3) == {"any": 0.0, "flip": 0.0}
    rng = np.random.default_rng(0)
    spread = with_accuracy(spec_table({p: list(s + rng.normal(0, 0.3, 3)) for p, s in zip(FOUR_LEVELS, [0.2, 0.1, 0, 0])}),
                           0.95)
    assert verdict_stability(spread, draws=10)["any"] > 0


def step_rows(values: dict[int, float], metric: str = "step_probe", p: float = 1e-4, seeds: int = 2) -> pd.DataFrame:
    """Per-step rows whose tables are own = a, other = b for both modules: values[step] = (a, b)."""
    rows = [dict(architecture="standard", n_hidden=100, k=round(p * 10_000), p=p, q=0.0, seed=seed, metric=metric,
                 module=n, subtask=t, step=step, value=own if n == t else other)
            for step, (own, other) in values.items() for seed in range(seeds) for n in (0, 1) for t in (0, 1)]
    return pd.DataFrame(rows, columns=COLUMNS)


def test_each_steps_specialization_is_the_papers_formula_with_an_optional_chance_correction():
    from modlib.analysis.frames import step_frame

    table = step_rows({1: (0.9, 0.1), 2: (0.55, 0.1)})
    frame = step_frame(table).groupby("step")[["spec_0", "spec_1", "spec"]].mean()
    assert np.allclose(frame.loc[1], 0.8) and np.allclose(frame.loc[2], 0.45 / 0.65)
    corrected = step_frame(table, chance=0.1).groupby("step")["spec"].mean()
    assert np.allclose(corrected, [1.0, 1.0])  # the other digit at chance: no information, fully specialised
    correlation = step_frame(step_rows({1: (0.55, 0.1)}, metric="step_correlation"), chance=0.1)
    assert np.allclose(correlation["spec"], 0.45 / 0.65)  # correlations are not accuracies: never corrected
    with pytest.raises(ValueError, match="--metrics steps"):
        step_frame(spec_table({1e-4: [0.5]}))


def size_table(n: int, onset_k: float, seeds: int = 2) -> pd.DataFrame:
    """A sweep at module size n whose correlation specialization is 1 at k <= onset_k and 0 above."""
    ks = np.unique(np.round(np.geomspace(1, n * n, 40)).astype(int))
    table = spec_table({k / n ** 2: [1.0 if k <= onset_k else 0.0] * seeds for k in ks})
    return table.assign(n_hidden=n, k=(table["p"] * n * n).round().astype(int))


def test_phase_onsets_say_which_reading_of_the_onset_holds_across_module_sizes():
    from modlib.analysis.designs import onset_spread, phase_frame, size_onsets

    tables = [size_table(n, onset_k=2 * n) for n in (10, 25, 50)]  # the rise starts at k = 2N: a fixed k / N
    phase = phase_frame(tables)
    assert set(phase.index.get_level_values("n_hidden")) == {10, 25, 50}
    assert phase.loc[(10, 0.01, "correlation"), "mean"] == 1.0
    onsets = size_onsets(phase).xs("mean", level="column").loc["correlation"]
    k_per_n = onsets["onset_k_per_n"]
    assert (k_per_n <= 2).all() and (onsets["onset_k"] == onsets["onset_p"] * onsets.index.to_numpy() ** 2).all()
    spread = onset_spread(size_onsets(phase)).loc[("correlation", "mean")]
    assert spread["k / N"] < spread["p"] and spread["k / N"] < spread["k"]


def test_the_kept_last_share_counts_models_whose_best_epoch_was_their_last():
    from modlib.analysis.choices import kept_last_share

    table = curve_table(epochs=3)
    jobs = table["job"].unique()
    kept = pd.DataFrame({"job": jobs, "metric": "kept_epoch", "value": [3] + [2] * (len(jobs) - 1)})
    assert kept_last_share(pd.concat([table, kept])) == pytest.approx(1 / len(jobs))


def step_spec_frame(curve, levels=(1e-4, 1e-2, 1.0), seeds: int = 3, metric: str = "step_probe") -> pd.DataFrame:
    """A `step_frame` whose every model and module has specialization ``curve(p, seed)[t - 1]``."""
    rows = [dict(architecture="standard", k=round(p * 10_000), p=p, seed=seed, metric=metric, step=t + 1,
                 spec_0=s, spec_1=s, spec=s)
            for p in levels for seed in range(seeds) for t, s in enumerate(curve(p, seed))]
    return pd.DataFrame(rows)


def shown_rows(shares, levels=(1e-4, 1e-2, 1.0), seeds: int = 3) -> pd.DataFrame:
    """A random-onset sweep's ``step_shown`` rows: ``shares[t - 1]`` of pairs shown at step t."""
    return pd.DataFrame([dict(architecture="standard", k=round(p * 10_000), p=p, seed=seed, metric="step_shown",
                              module=n, subtask=n, step=t + 1, value=v)
                         for p in levels for seed in range(seeds) for n in (0, 1) for t, v in enumerate(shares)])


def collapsing(p, seed):
    """Specialised at t = 1; afterwards a loss that grows with p, all of it at the second step."""
    loss = 0.3 + 0.2 * np.log10(p) / 4 + 0.5 + 0.01 * seed  # 0.31.. at p = 1e-4, 0.81.. at p = 1
    return [1.0] + [1.0 - loss] * 4


def test_the_journal_versions_findings_hold_on_curves_built_to_show_them():
    from modlib.analysis.timecourse import finding_verdicts, step_ends, step_findings

    shares = [0.0, 0.25, 0.5, 0.75, 1.0]
    frames = {"static": step_spec_frame(collapsing),
              "noise": step_spec_frame(lambda p, seed: [1.0, 0.8, 0.6, 0.4 - 0.01 * seed, 0.2]),
              "onsets": step_spec_frame(lambda p, seed: [s * (0.9 + 0.01 * seed) for s in shares])}
    findings = step_findings(frames, shown_rows(shares), resamples=200)
    assert list(findings["finding"].unique()) == ["collapse", "gradual", "onsets", "faster"]
    assert (findings["verdict"] == "agrees").all(), findings
    assert finding_verdicts(findings).eq("agrees").all()
    # the quantity judged: curves proportional to the share shown correlate with it perfectly
    onsets = findings[findings["finding"] == "onsets"]
    assert onsets["value"].to_numpy() == pytest.approx(1.0)
    assert (findings["low"] <= findings["value"]).all() and (findings["value"] <= findings["high"]).all()
    ends = step_ends(frames["static"], ks=(1, 10_000))
    assert ends.loc[("step_probe", 1), (0, "t = 1")] == 1.0
    assert ends.loc[("step_probe", 10_000), (1, "t = 5")] == pytest.approx(1 - 0.81)


def test_findings_that_do_not_hold_are_said_not_to():
    from modlib.analysis.timecourse import finding_verdicts, half_decline_step, step_curves, step_findings

    flat = step_spec_frame(lambda p, seed: [0.9 + 0.01 * seed] * 5)
    frames = {"static": step_spec_frame(collapsing), "noise": step_spec_frame(collapsing), "onsets": flat}
    findings = step_findings(frames, shown_rows([0.0, 0.25, 0.5, 0.75, 1.0]), resamples=200)
    verdicts = findings.groupby("finding", observed=True)["verdict"].first()
    assert verdicts["gradual"] == "partly"  # it falls with noise too, but as fast as without
    assert (findings.loc[findings["finding"] == "gradual", "value"] == 0).all()  # half-way at the same step
    assert verdicts["onsets"] == "does not"  # a flat curve does not follow the digits' onsets (no correlation)
    assert finding_verdicts(findings)["collapse"] == "agrees"
    # a curve that loses nothing has no half-way step; one that falls all at once, step 2
    steps = half_decline_step(step_curves(frames["static"]))
    assert (steps == 2).all()
    assert half_decline_step(step_curves(flat)).isna().all()


def test_condition_accuracy_is_each_sweeps_mean_per_architecture_and_level():
    from modlib.analysis.frames import condition_accuracy

    table = with_accuracy(spec_table({1e-4: [0.5, 0.5]}), 0.9)
    other = table.assign(value=np.where(table["metric"] == "accuracy", 0.7, table["value"]))
    accuracy = condition_accuracy({"static": table, "noise": other})
    assert list(accuracy.columns) == ["static", "noise"]
    assert accuracy.loc[("standard", 1)].tolist() == pytest.approx([0.9, 0.7])


def test_scarcity_agrees_only_where_both_fewer_units_and_fewer_connections_raise_specialization():
    from modlib.analysis.designs import scarcity_findings

    def sized(n, sparse, dense):  # five seeds around the given specialization at one connection and at p = 1
        table = spec_table({1 / n ** 2: [sparse + 0.01 * s for s in range(5)], 1.0: [dense + 0.01 * s for s in range(5)]})
        return table.assign(n_hidden=n, k=(table["p"] * n * n).round().astype(int))

    both = scarcity_findings({10: sized(10, 0.8, 0.1), 100: sized(100, 0.4, 0.1)}, resamples=200)
    assert (both["verdict"] == "agrees").all() and set(both["column"]) == {"module 0", "module 1", "mean"}
    connections_only = scarcity_findings({10: sized(10, 0.4, 0.1), 100: sized(100, 0.4, 0.1)}, resamples=200)
    assert (connections_only["verdict"] == "partly").all()
    neither = scarcity_findings({10: sized(10, 0.1, 0.1), 100: sized(100, 0.4, 0.1)}, resamples=200)
    assert (neither["verdict"] == "does not").all()


def test_the_readout_finding_needs_more_specialization_and_less_dominance_with_one_shared_readout():
    from modlib.analysis.decisions import dominance
    from modlib.analysis.designs import design_decisions, readout_findings

    def design(spec, share):
        table = spec_table({p: [spec + 0.01 * s for s in range(5)] for p in (1e-4, 1.0)})
        return pd.concat([table, decision_rows({s: (share + 0.01 * s, 0.5, 0.5) for s in range(5)})])

    separate, shared = design(0.3, 0.9), design(0.6, 0.45)
    assert dominance(separate).round(2).tolist() == [0.9, 0.91, 0.92, 0.93, 0.94] * 2
    assert dominance(shared).min() >= 0.5  # whichever module decides more
    findings = readout_findings({"separate": separate, "shared": shared}, resamples=200)
    assert (findings["verdict"] == "agrees").all()
    assert (readout_findings({"separate": separate, "shared": design(0.3, 0.45)}, resamples=200)["verdict"]
            == "partly").all()  # as dominated as before is not enough
    decisions = design_decisions({"separate": separate, "shared": shared})
    assert decisions.loc[("shared", "standard", 1), "module 0 decides"] == pytest.approx(0.47)


def test_design_ends_are_each_designs_mean_at_one_connection_and_at_p_1():
    from modlib.analysis.designs import design_ends

    ends = design_ends({"a": spec_table({1e-4: [0.8, 0.6], 1.0: [0.1, 0.1]}), "b": spec_table({1e-4: [0.2, 0.2]})})
    assert ends.loc[("correlation", "mean"), ("a", "one connection")] == pytest.approx(0.7)
    assert ends.loc[("correlation", "module 1"), ("a", "p = 1")] == pytest.approx(0.1)
    assert ends.loc[("correlation", "module 0"), ("b", "p = 1")] == pytest.approx(0.2)  # one level: both ends


def test_ends_against_a_baseline_are_each_designs_ends_minus_the_baselines_with_an_interval():
    from modlib.analysis.designs import ends_against, ends_against_table

    tables = {"a": spec_table({1e-4: [0.8, 0.6], 1.0: [0.1, 0.1]}),
              "b": spec_table({1e-4: [0.2, 0.2], 1.0: [0.4, 0.0]}),
              "c": spec_table({1e-4: [0.5, 0.5], 1.0: [0.9, 0.1]})}
    against = ends_against(tables, "b", resamples=200)
    assert list(against.index.unique("design")) == ["a", "c"]  # the baseline is left out
    assert against.loc[("a", "one connection", "correlation", "mean"), "value"] == pytest.approx(0.7 - 0.2)
    row = against.loc[("c", "p = 1", "correlation", "module 0")]
    assert row["value"] == pytest.approx(0.5 - 0.2)  # the baseline's seeds: 0.4 and 0.0
    assert row["low"] < 0 < row["value"] < row["high"]  # seeds this spread: the interval reaches below zero
    row = against.loc[("a", "one connection", "correlation", "module 1")]
    assert 0 < row["low"] <= row["value"] <= row["high"]  # both of a's seeds above both of b's
    table = ends_against_table(against)
    assert table.loc[("correlation", "module 1"), ("a", "one connection")] == "+0.50 [+0.40, +0.60]*"
    assert table.loc[("correlation", "module 0"), ("c", "p = 1")].endswith("]")  # no asterisk: reaches below zero


def test_differences_by_measure_leave_a_measure_the_other_side_lacks_undecided():
    from modlib.analysis.designs import differences_by_measure, model_specs

    ours = model_specs(pd.concat([spec_table({1.0: [0.6, 0.8]}), spec_table({1.0: [0.6, 0.8]}, metric="cka")]))
    theirs = model_specs(spec_table({1.0: [0.2, 0.2]}))  # correlation only
    differences = differences_by_measure(ours, theirs, resamples=200)
    assert differences[("correlation", "mean")][0] == pytest.approx(0.7 - 0.2)
    assert np.isnan(differences[("cka", "mean")]).all()  # nothing to compare with: no difference, no interval


def test_design_tables_read_each_designs_sweep_with_the_design_seeds_only(tmp_path):
    from modlib.analysis.designs import DESIGN_SEEDS, DESIGN_SWEEPS, design_tables

    for design, name in DESIGN_SWEEPS["size"].items():
        (tmp_path / name).mkdir()
        spec_table({1e-4: [0.5] * 10}).assign(n_hidden=design).to_csv(tmp_path / name / "results.csv", index=False)
    tables = design_tables("size", tmp_path)
    assert sorted(tables) == [10, 25, 50, 100]
    assert all(set(table["seed"]) == set(range(DESIGN_SEEDS)) for table in tables.values())  # ten seeds stored
    assert tables[25]["n_hidden"].eq(25).all()
    (tmp_path / "size-25" / "results.csv").unlink()
    with pytest.raises(FileNotFoundError, match="size-25"):
        design_tables("size", tmp_path)


def test_design_difference_is_how_much_more_specialised_a_design_is_on_average():
    from modlib.analysis.designs import design_difference

    tables = {"a": spec_table({1e-4: [0.8, 0.6], 1.0: [0.2, 0.2]}),
              "b": spec_table({1e-4: [0.4, 0.4], 1.0: [0.0, 0.2]})}
    difference = design_difference(tables, "a", "b")
    assert difference[("correlation", "mean")] == pytest.approx(0.45 - 0.25)
    assert design_difference(tables, "b", "a")[("correlation", "module 0")] == pytest.approx(-0.2)


def test_mean_curves_average_each_level_and_modules_curve_over_seeds():
    from modlib.analysis.timecourse import mean_curves

    curves = mean_curves(step_spec_frame(lambda p, seed: [1.0 - 0.1 * seed] * 5))  # seeds 0, 1, 2
    assert curves.index.names == ["metric", "k", "module"]
    assert np.allclose(curves.to_numpy(), 0.9) and curves.shape == (3 * 2, 5)  # 3 levels x 2 modules, 5 steps


def test_peak_steps_are_where_each_chosen_curve_is_highest():
    from modlib.analysis.timecourse import mean_curves, peak_steps

    rising_then_falling = {1: [0.1, 0.2, 0.9, 0.3, 0.1], 100: [0.1, 0.8, 0.2, 0.1, 0.1],
                           10_000: [0.0, 0.1, 0.2, 0.3, 0.4]}
    curves = mean_curves(step_spec_frame(lambda p, seed: rising_then_falling[round(p * 10_000)]))
    peaks = peak_steps(curves, ["step_probe"])
    assert peaks.xs(1, level="k").eq(3).all() and peaks.xs(100, level="k").eq(2).all()
    assert peaks.xs(10_000, level="k").eq(5).all()
    assert set(peak_steps(curves, ["step_probe"], sparsest=100).index.get_level_values("k")) == {100, 10_000}
    assert peak_steps(curves, ["step_cka"]).empty  # a measure not asked for
