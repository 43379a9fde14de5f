"""Which module decides under the competitive decision, and how that goes with one module being
more specialised than the other (chapter "Results")."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modlib.analysis.frames import specialization_frame
from modlib.analysis.stats import mean_interval


def module_difference(tables: dict[str, pd.DataFrame], ks: tuple[int, ...] = (1, 3, 8)) -> pd.DataFrame:
    """How much more specialised module 0 is than module 1 (spec_0 - spec_1 per model), over
    the models at levels ``ks``, in each sweep (by label): each module's mean, and the
    difference's mean and 95% t interval per measure. A seed's models share their initial
    weights across levels, so the interval is over seeds (each seed's mean over the levels),
    not models. Rows (sweep, metric)."""
    rows = []
    for label, table in tables.items():
        spec = specialization_frame(table[table["k"].isin(ks)])
        for metric, group in spec.groupby("metric", sort=False):
            per_seed = (group["spec_0"] - group["spec_1"]).groupby(group["seed"]).mean()
            mean, low, high = mean_interval(per_seed)
            rows.append(dict(sweep=label, metric=metric, **{"module 0": group["spec_0"].mean(),
                             "module 1": group["spec_1"].mean()}, difference=mean, low=low, high=high,
                             models=len(group), seeds=len(per_seed)))
    return pd.DataFrame(rows).set_index(["sweep", "metric"])


ANSWERS_FOR_OTHER = {0: "module 0 answers for module 1", 1: "module 1 answers for module 0"}


def decision_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Per model (architecture, k, p, seed), which module decides, on the test pairs: the share
    of all pairs module 0 decides (``module 0 decides``), and for each module the share of the
    pairs whose answer is the other module's digit in which it decides anyway (`ANSWERS_FOR_OTHER`):
    under the competitive decision it can then answer right only with a digit that crossed."""
    rows = table[table["metric"] == "decision_share"]
    if rows.empty:
        raise ValueError("this table has no decision shares (stored before they were recorded): "
                         "rerun its sweep with --fresh")
    keys = ["architecture", "k", "p", "seed"]
    overall = rows[rows["subtask"].isna() & (rows["module"] == 0)].set_index(keys)["value"]
    by_answer = rows[rows["subtask"].notna() & (rows["module"] != rows["subtask"])]
    other = by_answer.pivot_table(index=keys, columns="module", values="value").rename(columns=ANSWERS_FOR_OTHER)
    return other.join(overall.rename("module 0 decides")).reset_index()


def module0_share(table: pd.DataFrame) -> pd.Series:
    """The share of the test pairs module 0 decides, per standard or bottleneck model
    (architecture, k, seed): its ``decision_share`` row, or, in sweeps stored before those
    rows, the mean over the two parity differences of its ``decides`` rows (the crossing
    measurement; the two parities are equally frequent when the pairs are balanced)."""
    keys = ["architecture", "k", "seed"]
    rows = table[(table["metric"] == "decision_share") & table["subtask"].isna() & (table["module"] == 0)]
    if len(rows):
        return rows.set_index(keys)["value"].rename("module 0 decides")
    rows = table[(table["metric"] == "decides") & (table["module"] == 0)]
    if rows.empty:
        raise ValueError("this table says nothing of which module decides: rerun its sweep with --fresh, or with "
                         "--metrics crossing")
    return rows.groupby(keys)["value"].mean().rename("module 0 decides")


def asymmetry_and_decisions(table: pd.DataFrame, measure: str, ks: tuple[int, ...]) -> pd.DataFrame:
    """Per model at the levels ``ks``: how much more specialised module 0 is than module 1 by
    ``measure`` (``difference``), the share of the pairs module 0 decides (`module0_share`) and,
    where the sweep records it, how much larger module 0's readout is than module 1's
    (``readout difference``, Frobenius norms; at their random initial values when the readout
    is frozen)."""
    spec = specialization_frame(table[table["k"].isin(ks)])
    spec = spec[spec["metric"] == measure].set_index(["architecture", "k", "seed"])
    out = (spec["spec_0"] - spec["spec_1"]).rename("difference").to_frame().join(module0_share(table), how="inner")
    norms = table[table["metric"] == "readout_norm"].pivot_table(index=["architecture", "k", "seed"],
                                                                 columns="module", values="value")
    if len(norms):
        out = out.join((norms[0] - norms[1]).rename("readout difference"))
    return out.reset_index()


def dominance(table: pd.DataFrame) -> pd.Series:
    """How far one module dominates the decisions, per model: the share of the test pairs that
    the module deciding more of them decides (0.5: they share the pairs equally; 1: one decides all)."""
    share = module0_share(table)
    return np.maximum(share, 1 - share).rename("dominance")
