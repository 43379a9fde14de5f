import numpy as np
import pandas as pd
import pytest

from modlib.analysis.decisions import module_difference
from modlib.analysis.frames import (accurate_models, learning_curves, long_run_figures, models_per_level,
                                    module_level_means, paired_accuracy, paired_specialization, pooled)
from tests.analysis_helpers import LEVELS, curve_table, noiseless, spec_table, step_rows, with_accuracy


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


def test_pooled_sweeps_keep_their_seeds_apart():
    one = noiseless([1.0, 0.0], levels=[1e-4, 1.0], seeds=2)
    both = pooled([one, one])
    assert len(both) == 2 * len(one) and sorted(both["seed"].unique()) == [0, 1, 1000, 1001]
    assert module_difference({"both": both}, ks=(1,)).loc[("both", "correlation"), "seeds"] == 4


def test_the_tidy_summary_gives_each_module_and_their_mean_per_sweep_and_level():
    from modlib.analysis.frames import tidy_summary

    table = noiseless([1.0, 0.0], levels=[1e-4, 1.0])
    table.loc[(table.module == 1) & (table.subtask == 0), "value"] = 1.0  # module 1 reads digit 0 as well
    tidy = tidy_summary({"a": table, "b": spec_table({1e-4: [0.2, 0.4]})})
    assert len(tidy) == 2 * 3 + 1 * 3  # sweep a: 2 levels x (0, 1, mean); sweep b: 1 level
    row = tidy.set_index(["sweep", "p", "module"]).loc[("a", 1e-4)]
    assert row.loc["0", "mean"] == pytest.approx(1.0) and row.loc["1", "mean"] == pytest.approx(1 / 3)
    assert row.loc["mean", "mean"] == pytest.approx((1 + 1 / 3) / 2)
    b = tidy[(tidy["sweep"] == "b") & (tidy["module"] == "0")].iloc[0]
    assert b["mean"] == pytest.approx(0.3) and b["low"] <= 0.3 <= b["high"] and b["models"] == 2


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


def test_condition_accuracy_is_each_sweeps_mean_per_architecture_and_level():
    from modlib.analysis.frames import condition_accuracy

    table = with_accuracy(spec_table({1e-4: [0.5, 0.5]}), 0.9)
    other = table.assign(value=np.where(table["metric"] == "accuracy", 0.7, table["value"]))
    accuracy = condition_accuracy({"static": table, "noise": other})
    assert list(accuracy.columns) == ["static", "noise"]
    assert accuracy.loc[("standard", 1)].tolist() == pytest.approx([0.9, 0.7])
