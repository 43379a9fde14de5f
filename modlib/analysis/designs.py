"""Where specialization appears over module size, readout and cell (chapter "Where
specialization appears")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from modlib.analysis.decisions import dominance, module0_share
from modlib.analysis.frames import specialization_frame
from modlib.analysis.onsets import ONSET_FRACTION, onset_p
from modlib.analysis.stats import difference_interval, estimate, graded, interval_text
from modlib.sweep import BOOK_RESULTS, CELL_SWEEPS, READOUT_SWEEPS, SIZES, load_results


def phase_frame(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Mean specialization per module size N, level p, measure and module, over sweeps of several
    N (their tables, each from `specialization_frame`'s measures): rows (n_hidden, p, metric),
    columns ``module 0``, ``module 1`` and ``mean``."""
    frames = [specialization_frame(table).assign(n_hidden=int(table["n_hidden"].iloc[0])) for table in tables]
    means = pd.concat(frames).groupby(["n_hidden", "p", "metric"])[["spec_0", "spec_1", "spec"]].mean()
    return means.set_axis(["module 0", "module 1", "mean"], axis=1)


def size_onsets(phase: pd.DataFrame, fraction: float = ONSET_FRACTION) -> pd.DataFrame:
    """Where specialization starts to rise at each module size N (`onset_p` of each module's and
    their mean's curve, from `phase_frame`), as a fraction p, a number of connections k = p N^2
    and a ratio of connections to units k / N. Rows (metric, n_hidden, column)."""
    rows = []
    for (n, metric), group in phase.groupby(["n_hidden", "metric"]):
        for column in phase.columns:
            p = onset_p(group[column].droplevel(["n_hidden", "metric"]), fraction)
            rows.append(dict(metric=metric, n_hidden=n, column=column, onset_p=p, onset_k=p * n ** 2,
                             onset_k_per_n=p * n))
    return pd.DataFrame(rows).set_index(["metric", "n_hidden", "column"])


def onset_spread(onsets: pd.DataFrame) -> pd.DataFrame:
    """How far each reading of the onset (p, k, k / N; `size_onsets`) moves across module sizes:
    the standard deviation of its log10 over N, per measure and column. The reading that moves
    least is the one an onset keeps as N changes; NaN onsets (no rise) are left out."""
    logs = np.log10(onsets[["onset_p", "onset_k", "onset_k_per_n"]])
    return logs.groupby(level=["metric", "column"]).std().set_axis(["p", "k", "k / N"], axis=1)


DESIGN_SEEDS = 5  # the design sweeps' seeds; the paper sweep's first five stand for its own design


DESIGN_SWEEPS = {  # each design's sweep, by axis; the paper's own design is the paper sweep
    "size": {**{n: f"size-{n}" for n in SIZES}, 100: "paper"},
    "readout": {"separate": "paper", **{name: f"readout-{name}" for name in READOUT_SWEEPS}},
    "cell": {"rnn": "paper", **{cell: f"cell-{cell}" for cell in CELL_SWEEPS}},
}


SPEC_COLUMNS = {"spec_0": "module 0", "spec_1": "module 1", "spec": "mean"}


def design_tables(axis: str, results: str | Path = BOOK_RESULTS) -> dict:
    """The stored tables of one axis of `DESIGN_SWEEPS`, by design, each with the seeds
    0..`DESIGN_SEEDS` - 1 (the paper sweep has ten)."""
    tables = {design: load_results(name, results) for design, name in DESIGN_SWEEPS[axis].items()}
    return {design: table[table["seed"] < DESIGN_SEEDS] for design, table in tables.items()}


def model_specs(table: pd.DataFrame) -> pd.DataFrame:
    """Each model's specialization per measure, long: rows (metric, column of `SPEC_COLUMNS`,
    architecture, k, p, seed), one value."""
    spec = specialization_frame(table).rename(columns=SPEC_COLUMNS)
    return spec.melt(id_vars=["metric", "architecture", "k", "p", "seed"], value_vars=list(SPEC_COLUMNS.values()),
                     var_name="column", value_name="value")


ENDS = ("one connection", "p = 1")  # the two ends of a sweep's grid: its smallest and its largest k


def end_rows(spec: pd.DataFrame, end: str) -> pd.DataFrame:
    """The rows of `model_specs` at one of `ENDS`."""
    k = spec["k"].min() if end == ENDS[0] else spec["k"].max()
    return spec[spec["k"] == k]


def design_ends(tables: dict) -> pd.DataFrame:
    """Mean specialization (over seeds) at one connection and at p = 1, per design (``tables``,
    label to table), measure and module (and their mean): rows (metric, column), columns
    (design, end)."""
    specs = {design: model_specs(table) for design, table in tables.items()}
    return pd.DataFrame({(design, end): end_rows(spec, end).groupby(["metric", "column"])["value"].mean()
                         for design, spec in specs.items() for end in ENDS})


def differences_by_measure(spec: pd.DataFrame, other: pd.DataFrame) -> dict:
    """Per (metric, column), the mean of ``spec``'s values minus ``other``'s and its 95% interval
    (`difference_interval`), for two sets of `model_specs` rows."""
    theirs = dict(list(other.groupby(["metric", "column"])["value"]))
    return {key: difference_interval(values, theirs.get(key, []))
            for key, values in spec.groupby(["metric", "column"])["value"]}


def ends_against(tables: dict, baseline) -> pd.DataFrame:
    """How much more specialised each design of ``tables`` is than ``baseline`` at one connection
    and at p = 1, per measure and column of `SPEC_COLUMNS`: the difference of the means over
    models and its 95% Welch t interval (`differences_by_measure`). Rows (design, end, metric,
    column); columns value, low, high."""
    specs = {design: model_specs(table) for design, table in tables.items()}
    others = [design for design in tables if design != baseline]
    rows = [dict(design=design, end=end, metric=key[0], column=key[1], **estimate(interval))
            for design in others for end in ENDS
            for key, interval in differences_by_measure(end_rows(specs[design], end),
                                                        end_rows(specs[baseline], end)).items()]
    out = pd.DataFrame(rows)
    out["design"] = pd.Categorical(out["design"], others)
    return out.set_index(["design", "end", "metric", "column"]).sort_index()  # sorted: designs in their order


def ends_against_table(against: pd.DataFrame) -> pd.DataFrame:
    """`ends_against` as text (`interval_text`, an asterisk where the interval excludes zero):
    rows (metric, column), columns (design, end)."""
    text = [interval_text(*row, mark=True) for row in against[["value", "low", "high"]].to_numpy()]
    return pd.Series(text, index=against.index).unstack(["design", "end"])


def design_decisions(tables: dict) -> pd.DataFrame:
    """Per design, architecture and level k: the mean share of the test pairs module 0 decides
    and the mean `dominance`."""
    return pd.concat({design: pd.concat([module0_share(table), dominance(table)], axis=1)
                      .groupby(["architecture", "k"]).mean() for design, table in tables.items()},
                     names=["design"])


def seed_means(table: pd.DataFrame) -> pd.DataFrame:
    """Each seed's specialization averaged over the levels: rows (metric, column), a column per seed."""
    return model_specs(table).groupby(["metric", "column", "seed"])["value"].mean().unstack("seed")


def seed_mean_differences(tables: dict, design, baseline) -> dict:
    """How much more specialised ``design`` is than ``baseline`` (keys of ``tables``), per
    (metric, column): each seed's mean over the levels (`seed_means`), the difference of their
    means and its 95% Welch t interval over seeds (a seed's models share their initial weights)."""
    ours, theirs = seed_means(tables[design]), seed_means(tables[baseline])
    return {key: difference_interval(ours.loc[key], theirs.loc[key]) for key in ours.index}


def design_difference(tables: dict, design, baseline) -> pd.Series:
    """How much more specialised ``design`` is than ``baseline`` (keys of ``tables``), averaged
    over levels and seeds, per measure and column of `SPEC_COLUMNS`."""
    return seed_means(tables[design]).mean(axis=1) - seed_means(tables[baseline]).mean(axis=1)


def scarcity_findings(tables: dict) -> pd.DataFrame:
    """The journal version's "specialization appears mainly when both neurons and connections
    are scarce", per measure and module, on sweeps by module size N (``tables``): at one
    connection, the smallest N against the largest (neurons), and at the smallest N, one
    connection against p = 1 (connections); 95% intervals over models. Agrees where both
    differences are above zero with their intervals, partly where one is, does not otherwise."""
    specs = {n: model_specs(table) for n, table in tables.items()}
    small, large = min(specs), max(specs)
    corner = end_rows(specs[small], ENDS[0])
    neurons = differences_by_measure(corner, end_rows(specs[large], ENDS[0]))
    connections = differences_by_measure(corner, end_rows(specs[small], ENDS[1]))
    rows = [dict(metric=key[0], column=key[1], neurons=interval_text(*neurons[key]),
                 connections=interval_text(*connections[key]),
                 verdict=graded(neurons[key][1] > 0 and connections[key][1] > 0,
                                neurons[key][1] > 0 or connections[key][1] > 0)) for key in neurons]
    return pd.DataFrame(rows).rename(columns={"neurons": f"N = {small} minus N = {large}, one connection",
                                              "connections": f"one connection minus p = 1, N = {small}"})


def readout_findings(tables: dict) -> pd.DataFrame:
    """The journal version's "one shared readout gives more specialization than separate
    readouts with a winner-take-all decision, where one module dominates", per measure and
    module, on the readout sweeps (``tables`` with ``shared`` and ``separate``): shared minus
    separate specialization (each seed's mean over levels; interval over seeds), and the
    separate readouts' `dominance` minus the shared readout's (each seed's mean over levels;
    interval over seeds). Agrees where both
    are above zero with their intervals, partly where one is, does not otherwise."""
    dominated = difference_interval(*(dominance(tables[design]).groupby("seed").mean()  # a seed's models share
                                      for design in ("separate", "shared")))              # their initial weights
    rows = []
    for key, more in seed_mean_differences(tables, "shared", "separate").items():
        rows.append(dict(metric=key[0], column=key[1],
                         specialization=interval_text(*more),
                         dominance=interval_text(*dominated),
                         verdict=graded(more[1] > 0 and dominated[1] > 0, more[1] > 0 or dominated[1] > 0)))
    return pd.DataFrame(rows).rename(columns={"specialization": "shared minus separate specialization",
                                              "dominance": "separate minus shared dominance"})
