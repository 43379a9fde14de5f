"""Specialization over a trial's steps (`modlib.timecourse`) and the journal version's four
findings about it (chapter "Specialization over time")."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modlib.analysis.stats import (difference_interval, estimate, graded, interval_text, mean_interval,
                                   within_seed_rank_correlation)


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


def step_findings(frames: dict[str, pd.DataFrame], onsets_table: pd.DataFrame) -> pd.DataFrame:
    """The journal version's four findings (`STEP_FINDINGS`) judged per per-step measure and
    module on the `step_frame`s of the ``static``, ``noise`` and ``onsets`` conditions
    (``onsets_table``: the random-onset sweep's table, for the shares shown). Intervals are 95% t
    intervals over models (`modlib.analysis.stats`; over seeds for the rank correlation). The criteria:

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
      state that holds a message), over each seed's levels and averaged over seeds, has its
      interval above 0 (partly: positive, interval reaching 0).

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
        loss = mean_interval(at_one.iloc[:, 0] - at_one.iloc[:, -1])
        first, last = at_one.iloc[:, 0].mean(), at_one.iloc[:, -1].mean()
        rows.append(dict(finding="collapse", metric=metric, module=module,
                         figure=f"p = {p:g}: {first:.2f} at t = 1, {last:.2f} at t = T; loss {loss[0]:.2f} "
                                f"[{loss[1]:.2f}, {loss[2]:.2f}]",
                         **estimate(loss), verdict=graded(loss[1] > 0 and last <= first / 2, loss[1] > 0)))
        noisy_loss = mean_interval(noisy.iloc[:, 0] - noisy.iloc[:, -1])
        later = difference_interval(half_decline_step(noisy), half_decline_step(at_one))
        rows.append(dict(finding="gradual", metric=metric, module=module,
                         figure=f"p = {p:g} with noise: loss {noisy_loss[0]:.2f} [{noisy_loss[1]:.2f}, "
                                f"{noisy_loss[2]:.2f}]; half of it {interval_text(*later)} "
                                f"steps later than without",
                         **estimate(later),
                         verdict=graded(noisy_loss[1] > 0 and later[1] > 0, noisy_loss[1] > 0)))
        follows = mean_interval(tracking.xs((metric, module), level=("metric", "module")))
        rows.append(dict(finding="onsets", metric=metric, module=module,
                         figure=f"correlation with the share shown {follows[0]:.2f} [{follows[1]:.2f}, "
                                f"{follows[2]:.2f}]",
                         **estimate(follows), verdict=graded(follows[1] > 0 and follows[0] >= 0.5, follows[1] > 0)))
        early = (static.iloc[:, 0] - static.iloc[:, 1]).rename("loss").reset_index()
        rho = within_seed_rank_correlation(early, "p", "loss")
        rows.append(dict(finding="faster", metric=metric, module=module,
                         figure=f"Spearman(p, loss by t = 2) {rho[0]:.2f} [{rho[1]:.2f}, {rho[2]:.2f}]",
                         **estimate(rho), verdict=graded(rho[1] > 0, rho[0] > 0)))
    out = pd.DataFrame(rows)
    out["finding"] = pd.Categorical(out["finding"], list(STEP_FINDINGS), ordered=True)
    return out.sort_values(["finding", "metric", "module"]).reset_index(drop=True)


def densest(curves: pd.DataFrame) -> pd.DataFrame:
    """The rows of `step_curves` at their largest p."""
    p = curves.index.get_level_values("p")
    return curves[p == p.max()]


def finding_verdicts(findings: pd.DataFrame) -> pd.Series:
    """One verdict per finding over every measure and module: agrees where all agree, does not
    where none agrees even in part, partly otherwise."""
    def overall(verdicts: pd.Series) -> str:
        return graded((verdicts == "agrees").all(), (verdicts != "does not").any())

    return findings.groupby("finding", observed=True)["verdict"].agg(overall)
