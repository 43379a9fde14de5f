"""A sweep's table as each model's specialization, and the means, curves and paired comparisons
the chapters read from it (chapters "Results", "Raw metrics")."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modlib.analysis.stats import mean_interval
from modlib.metrics import METRICS, specialization
from modlib.sweep import CURVES
from modlib.timecourse import STEP_MEASURES


def specialization_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Per model and metric: each module's specialization and their mean (``spec``)."""
    rows = table[table["metric"].isin(METRICS)]
    keys = ["architecture", "k", "p", "q", "seed", "metric"]
    out = []
    for key, group in rows.groupby(keys):
        m = np.zeros((2, 2))
        m[group["module"].astype(int), group["subtask"].astype(int)] = group["value"]
        s = specialization(m)
        out.append(dict(zip(keys, key), spec_0=s[0], spec_1=s[1], spec=s.mean()))
    return pd.DataFrame(out, columns=keys + ["spec_0", "spec_1", "spec"])


ACCURACY_STEP_MEASURES = ("step_bottleneck", "step_probe", "step_ablation")  # tables of accuracies, chance 0.1


def step_frame(table: pd.DataFrame, chance: float = 0.0) -> pd.DataFrame:
    """Per model, step and per-step measure (`modlib.timecourse.STEP_MEASURES`): each module's
    specialization (``spec_0``, ``spec_1``) and their mean (``spec``), by the paper's formula. With
    ``chance`` > 0 the accuracy measures' tables are first corrected as the journal version does:
    ``a = clip((accuracy - chance) / (1 - chance), 0, 1)`` (its chance is 0.1, ten digits)."""
    keys = ["architecture", "k", "p", "seed", "metric", "step"]
    rows = table[table["metric"].isin(STEP_MEASURES)]
    if rows.empty:
        raise ValueError("this table has no per-step rows: run its sweep with --metrics steps")
    wide = rows.pivot_table(index=keys, columns=["module", "subtask"], values="value")
    m = wide[[(0, 0), (0, 1), (1, 0), (1, 1)]].to_numpy(float)
    accuracy = wide.index.get_level_values("metric").isin(ACCURACY_STEP_MEASURES)
    if chance:
        m[accuracy] = np.clip((m[accuracy] - chance) / (1 - chance), 0, 1)
    with np.errstate(invalid="ignore"):
        spec_0 = (m[:, 0] - m[:, 1]) / (m[:, 0] + m[:, 1])
        spec_1 = (m[:, 3] - m[:, 2]) / (m[:, 3] + m[:, 2])
    return wide.index.to_frame(index=False).assign(spec_0=spec_0, spec_1=spec_1, spec=(spec_0 + spec_1) / 2)


def level_means(table: pd.DataFrame) -> pd.DataFrame:
    """Mean specialization per metric (columns) and level p (rows)."""
    return spec_level_means(specialization_frame(table))


def spec_level_means(spec: pd.DataFrame) -> pd.DataFrame:
    """`level_means` from a `specialization_frame` already computed."""
    return spec.groupby(["p", "metric"])["spec"].mean().unstack("metric")


def module_level_means(table: pd.DataFrame) -> pd.DataFrame:
    """Mean specialization of each module per measure and level: rows (metric, p), columns
    ``module 0``, ``module 1`` and their ``difference`` (module 0 minus module 1)."""
    means = specialization_frame(table).groupby(["metric", "p"])[["spec_0", "spec_1"]].mean()
    means.columns = ["module 0", "module 1"]
    return means.assign(difference=means["module 0"] - means["module 1"])


def pooled(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Several sweeps' rows as one sweep, each sweep's seeds renumbered (1000 apart) so that
    no two sweeps share a seed: to pool sweeps that differ in a setting shown not to matter."""
    return pd.concat([table.assign(seed=table["seed"] + 1000 * i) for i, table in enumerate(tables)],
                     ignore_index=True)


def accurate_models(table: pd.DataFrame, threshold: float = 0.9) -> pd.DataFrame:
    """The rows of the models whose test accuracy on the task is at least ``threshold``: the
    curves of these alone are not read through how well each model trained."""
    acc = table[table["metric"] == "accuracy"]
    keep = acc.loc[acc["value"] >= threshold, ["architecture", "k", "seed"]]
    return table.merge(keep, on=["architecture", "k", "seed"])


def models_per_level(table: pd.DataFrame) -> pd.DataFrame:
    """How many models each architecture has at each level k (columns)."""
    acc = table[table["metric"] == "accuracy"]
    return acc.pivot_table(index="architecture", columns="k", values="value", aggfunc="size", fill_value=0)


def learning_curves(table: pd.DataFrame, curve: str = "test_accuracy") -> pd.DataFrame:
    """Mean accuracy over seeds after each epoch: rows (architecture, k), columns epoch.
    ``curve`` is "test_accuracy" or "train_accuracy" (the running mean over the epoch's batches)."""
    if curve not in CURVES:
        raise ValueError(f"curve must be one of {CURVES}, got {curve!r}")
    rows = table[table["metric"] == f"epoch_{curve}"]
    if rows.empty:
        raise ValueError("this table has no per-epoch rows (stored before they were recorded): "
                         "rerun its sweep with --fresh")
    return rows.pivot_table(index=["architecture", "k"], columns="epoch", values="value", aggfunc="mean")


def decision_curves(table: pd.DataFrame) -> pd.DataFrame:
    """Mean share of the test pairs module 0 decides after each epoch: rows (architecture, k),
    columns epoch (`learning_curves`' shape)."""
    rows = table[(table["metric"] == "epoch_decision_share") & (table["module"] == 0)]
    if rows.empty:
        raise ValueError("this table has no per-epoch decision shares (stored before they were recorded): "
                         "rerun its sweep with --fresh")
    return rows.pivot_table(index=["architecture", "k"], columns="epoch", values="value", aggfunc="mean")


def long_run_figures(table: pd.DataFrame, budget: int = 5) -> dict[str, float]:
    """Whether more epochs help each end, from a long run's learning curves (standard
    architecture): ``epochs`` trained, ``sparsest_final`` (the sparsest level's test accuracy
    after the last), and the densest level's lowest and highest test and train accuracy from
    epoch ``budget`` (the paper's 5) on: ``dense_test_low``, ``dense_test_high``,
    ``dense_train_low``, ``dense_train_high``."""
    test, train = (learning_curves(table, curve).loc["standard"] for curve in ("test_accuracy", "train_accuracy"))
    figures = {"epochs": float(test.columns[-1]), "sparsest_final": float(test.iloc[0, -1])}
    for name, curve in (("test", test), ("train", train)):
        after = curve.iloc[-1].loc[budget:]
        figures |= {f"dense_{name}_low": float(after.min()), f"dense_{name}_high": float(after.max())}
    return figures


def paired_accuracy(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Two sweeps' test accuracy, per architecture and k, over the models both trained
    (`paired_means`)."""
    key = ["architecture", "k", "seed"]
    return paired_means({name: table[table["metric"] == "accuracy"].set_index(key)["value"]
                         for name, table in tables.items()}, by=["architecture", "k"])


def paired_specialization(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Two sweeps' specialization (each model's mean over its modules), per metric and k, both
    architectures together as in `level_means`, over the models both trained (`paired_means`)."""
    key = ["metric", "architecture", "k", "seed"]
    return paired_means({name: specialization_frame(table).set_index(key)["spec"]
                         for name, table in tables.items()}, by=["metric", "k"])


def paired_means(values: dict[str, pd.Series], by: list[str]) -> pd.DataFrame:
    """Two sweeps' values of the models both trained (each Series indexed by model: the same
    architecture, k and seed mean the same initial weights and pairs), grouped ``by`` index
    levels: each sweep's mean, the mean of the paired differences (second minus first), and in
    how many pairs the second is higher."""
    if len(values) != 2:
        raise ValueError(f"a paired comparison takes two sweeps, got {len(values)}: {list(values)}")
    first, second = values
    both = pd.concat(values.values(), axis=1, keys=[first, second], join="inner")
    if both.empty:
        raise ValueError(f"{first} and {second} share no model (architecture, k, seed): compare sweeps "
                         f"of the same levels and seeds")
    difference = both[second] - both[first]
    groups = both.assign(difference=difference, higher=difference > 0).groupby(level=by)
    return groups[[first, second, "difference"]].mean().assign(higher=groups["higher"].sum(),
                                                               models=groups.size())


def tidy_summary(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per sweep, level, measure and module (0, 1, or ``mean`` of the two): the mean
    specialization over seeds with its 95% t interval (`mean_interval`), and how many
    models it is defined for. ``tables``: sweeps by name; those without a measure are left out."""
    rows = []
    for sweep, table in tables.items():
        spec = specialization_frame(table)
        for (metric, k, p), group in spec.groupby(["metric", "k", "p"]):
            for module, column in (("0", "spec_0"), ("1", "spec_1"), ("mean", "spec")):
                mean, low, high = mean_interval(group[column])
                rows.append(dict(sweep=sweep, measure=metric, k=k, p=p, module=module, mean=mean, low=low, high=high,
                                 models=int(group[column].notna().sum())))
    return pd.DataFrame(rows, columns=["sweep", "measure", "k", "p", "module", "mean", "low", "high", "models"])


def condition_accuracy(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Mean test accuracy (over seeds) per architecture and level k (rows) for each sweep's
    table (columns, by label)."""
    return pd.DataFrame({label: table[table["metric"] == "accuracy"].groupby(["architecture", "k"])["value"].mean()
                         for label, table in tables.items()})
