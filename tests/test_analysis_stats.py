import numpy as np
import pandas as pd
import pytest
from scipy import stats

from modlib.analysis.stats import (bootstrap_means, difference_interval, mean_interval, seed_rank_correlation,
                                   within_seed_rank_correlation)


def test_seeds_are_resampled_jointly_across_levels():
    # each seed is one initialisation at every level: a seed that is high everywhere moves every level of a resample
    values = np.array([[0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 3.0]])  # [levels, seeds]
    means = bootstrap_means(values, resamples=200, seed=3)
    assert means.shape == (200, 2)
    assert np.array_equal(means[:, 0], means[:, 1])
    assert means[:, 0].std() > 0  # but the draws do differ between resamples


def test_a_mean_interval_is_students_t_on_fixed_values():
    # mean 2, s = 1, n = 3: t(0.975, 2) = 4.302652729911275, so 2 -+ 4.3027 / sqrt(3)
    mean, low, high = mean_interval([1.0, 2.0, 3.0, np.nan])
    assert mean == 2.0
    assert (low, high) == pytest.approx((2 - 4.302652729911275 / np.sqrt(3), 2 + 4.302652729911275 / np.sqrt(3)))
    one_sample = stats.ttest_1samp([0.1, 0.4, 0.35, 0.9, 0.2], 0).confidence_interval(0.95)
    assert mean_interval([0.1, 0.4, 0.35, 0.9, 0.2])[1:] == pytest.approx((one_sample.low, one_sample.high))
    assert mean_interval([0.5, 0.5]) == (0.5, 0.5, 0.5)
    assert mean_interval([0.5])[0] == 0.5 and np.isnan(mean_interval([0.5])[1])


@pytest.mark.parametrize("n", [3, 10])
def test_a_mean_interval_covers_the_mean_of_a_normal_sample_95_times_in_100(n):
    draws = np.random.default_rng(n).normal(1.0, 2.0, size=(4000, n))
    covered = np.mean([low <= 1.0 <= high for _, low, high in map(mean_interval, draws)])
    assert 0.935 <= covered <= 0.965  # a percentile bootstrap covers about 0.75 at n = 3
    boot = np.mean([np.percentile(m, 2.5) <= 1.0 <= np.percentile(m, 97.5)
                    for m in (bootstrap_means(d, 500, seed=i) for i, d in enumerate(draws[:400]))])
    assert boot < 0.9 if n == 3 else boot > 0.85


def test_a_difference_interval_is_welchs_t():
    a, b = [1.0, 2.0, 3.0, 4.0], [0.0, 0.5, 1.0]
    welch = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert difference_interval(a, b) == pytest.approx((2.0, welch.low, welch.high))
    assert np.isnan(difference_interval([1.0], b)).all()


def test_a_difference_interval_covers_the_true_difference_95_times_in_100():
    rng = np.random.default_rng(0)
    hits = [low <= 0.5 <= high for _, low, high in
            (difference_interval(rng.normal(0.5, 1.0, 3), rng.normal(0.0, 2.0, 5)) for _ in range(4000))]
    assert 0.935 <= np.mean(hits) <= 0.97


def test_a_rank_correlation_interval_counts_seeds_not_models():
    # 3 levels x 10 seeds of a strong relation: the interval is Fisher's with n = 10 seeds
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"seed": np.repeat(np.arange(10), 3), "x": rng.normal(size=30)})
    frame["y"] = frame["x"] + rng.normal(scale=0.5, size=30)
    rho, low, high = seed_rank_correlation(frame, "x", "y")
    assert rho == pytest.approx(frame["x"].rank().corr(frame["y"].rank()))
    half = 1.959963984540054 * np.sqrt((1 + rho ** 2 / 2) / 7)
    assert (low, high) == pytest.approx((np.tanh(np.arctanh(rho) - half), np.tanh(np.arctanh(rho) + half)))
    assert np.isnan(seed_rank_correlation(frame[frame["seed"] < 3], "x", "y")[1])


def test_a_within_seed_rank_correlation_is_the_mean_of_each_seeds_over_its_levels():
    levels = np.tile([1.0, 2.0, 3.0, 4.0], 3)
    frame = pd.DataFrame({"seed": np.repeat([0, 1, 2], 4), "p": levels,
                          "loss": [1, 2, 3, 4, 1, 3, 2, 4, 4, 3, 2, 1.0]})  # seeds: 1, 0.8, -1
    rho, low, high = within_seed_rank_correlation(frame, "p", "loss")
    assert rho == pytest.approx(0.8 / 3) and (low, high) == pytest.approx(mean_interval([1, 0.8, -1])[1:])
