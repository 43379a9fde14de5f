import numpy as np
import pandas as pd
import pytest

from modlib.analysis.claims import claims
from modlib.analysis.frames import level_means, specialization_frame
from modlib.analysis.onsets import bootstrap_onsets, onset_p, onset_table, onsets
from tests.analysis_helpers import LEVELS, PAPER_LEVELS, spec_table


def test_onset_is_the_largest_p_risen_a_quarter_of_the_way():
    curve = pd.Series([1.0, 0.5, 0.2, 0.0, 0.0], index=LEVELS)
    assert onset_p(curve) == 1e-3  # 0.5 > 0.25 of the rise; 0.2 is not
    assert onset_p(curve.iloc[::-1]) == 1e-3  # order of the index does not matter
    assert np.isnan(onset_p(pd.Series(0.3, index=LEVELS)))  # a flat curve never rises
    rows = np.array([[1.0, 0.5, 0.2, 0.0, 0.0], [1.0, 0.5, 0.3, 0.0, 0.0]])
    assert onsets(np.array(LEVELS), rows).tolist() == [1e-3, 1e-2]


def test_the_minimum_baseline_reads_a_u_shaped_curve_from_its_lowest_level():
    u_shape = pd.Series([1.0, 0.8, 0.6, 0.4, 0.2, 0.1, 0.0, 0.0, 0.0, 0.6], index=PAPER_LEVELS)
    assert onset_p(u_shape) == 3e-4  # past 0.6 + 0.25 * 0.4 = 0.7: only 1.0 and 0.8
    assert onset_p(u_shape, baseline="minimum") == 2.2e-3  # past 0 + 0.25 * 1.0, sparser than the minimum: 0.4
    with pytest.raises(ValueError, match="baseline must be one of"):
        onset_p(u_shape, baseline="median")


def test_onsets_without_seed_noise_are_certain():
    table = spec_table({p: [s] * 4 for p, s in zip(LEVELS, [1.0, 0.5, 0.2, 0.0, 0.0])})
    assert (bootstrap_onsets(specialization_frame(table), "correlation", resamples=50) == 1e-3).all()
    verdicts = claims(table).set_index("claim")
    assert verdicts.loc["b", "verdict"] == "reproduced"
    assert "in 100% of seed resamples" in verdicts.loc["b", "we find"]


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
