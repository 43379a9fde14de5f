import numpy as np
import pandas as pd
import pytest


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
    findings = step_findings(frames, shown_rows(shares))
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
    findings = step_findings(frames, shown_rows([0.0, 0.25, 0.5, 0.75, 1.0]))
    verdicts = findings.groupby("finding", observed=True)["verdict"].first()
    assert verdicts["gradual"] == "partly"  # it falls with noise too, but as fast as without
    assert (findings.loc[findings["finding"] == "gradual", "value"] == 0).all()  # half-way at the same step
    assert verdicts["onsets"] == "does not"  # a flat curve does not follow the digits' onsets (no correlation)
    assert finding_verdicts(findings)["collapse"] == "agrees"
    # a curve that loses nothing has no half-way step; one that falls all at once, step 2
    steps = half_decline_step(step_curves(frames["static"]))
    assert (steps == 2).all()
    assert half_decline_step(step_curves(flat)).isna().all()


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
