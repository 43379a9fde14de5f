import numpy as np
import pandas as pd
import pytest

from modlib.analysis.choices import (both_ways_comparisons, both_ways_effects, both_ways_table, both_ways_verdicts,
                                     choice_effect, choices_that_move, direction_disagreements, moves_by_chance,
                                     stored_both_ways, verdict_stability)
from tests.analysis_helpers import FOUR_LEVELS, curve_table, spec_table, with_accuracy


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
    comparisons = both_ways_comparisons(tables)
    moves = both_ways_verdicts(comparisons)
    assert len(comparisons) > len(moves) and (comparisons["kind"] == "same").any()  # all compared, moved or not
    taken = comparisons["direction"] == "taken from the authors'"  # the two sweeps there are the same table
    changed = (comparisons["choice"] == "message enters before W_hh") & (comparisons["measure"] == "correlation")
    assert comparisons.loc[taken, "same_models"].all() and not comparisons.loc[changed & ~taken, "same_models"].any()
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
    assert np.isclose(apart.loc[("message enters before W_hh", "correlation, module 0", 1e-4), "added to the text"],
                      0.7)
    table = both_ways_table(effects, 1e-4)
    assert table.loc[label, ("correlation, module 0", "added to the text")] == "+0.70 [+0.70, +0.70]*"
    assert table.loc[label, ("accuracy", "taken from the authors'")] == "+0.00 [+0.00, +0.00]"


def test_reseeding_a_sweep_whose_seeds_agree_moves_no_verdict():
    same = with_accuracy(spec_table({p: [s] * 3 for p, s in zip(FOUR_LEVELS, [0.8, 0.6, 0.1, 0.0])}), 0.95)
    assert verdict_stability(same, draws=3) == {"any": 0.0, "flip": 0.0}
    rng = np.random.default_rng(0)
    spread = with_accuracy(spec_table({p: list(s + rng.normal(0, 0.3, 3))
                                       for p, s in zip(FOUR_LEVELS, [0.2, 0.1, 0, 0])}), 0.95)
    assert verdict_stability(spread, draws=10)["any"] > 0


def test_the_kept_last_share_counts_models_whose_best_epoch_was_their_last():
    from modlib.analysis.choices import kept_last_share

    table = curve_table(epochs=3)
    jobs = table["job"].unique()
    kept = pd.DataFrame({"job": jobs, "metric": "kept_epoch", "value": [3] + [2] * (len(jobs) - 1)})
    assert kept_last_share(pd.concat([table, kept])) == pytest.approx(1 / len(jobs))


def test_moves_by_chance_set_each_directions_moves_against_its_reseeding_rates():
    kinds = ["flip", "flip"] + ["same"] * 7 + ["shift"]
    comparisons = pd.DataFrame({"direction": "added", "kind": kinds + ["flip"], "same_models": [False] * 10 + [True]})
    chance = moves_by_chance(comparisons, {"added": {"flip": 0.1, "any": 0.2}})
    assert chance.loc[("added", "flip")].tolist() == [10, 2, 1.0, 0.0, 3.0]  # the same models' flip left out
    assert chance.loc[("added", "any")].tolist() == [10, 3, 2.0, 0.0, 5.0]
