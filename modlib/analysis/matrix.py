"""The verdict matrix: each claim against each measure, for the mean of the two modules and for
each module alone (chapter "Introduction")."""

from __future__ import annotations

import pandas as pd

from modlib.analysis.claims import SHORT, accuracy_figures, accuracy_verdict, verdict_grid
from modlib.metrics import MEASURES, METRICS


MATRIX_CLAIMS = {"a": "(a) rises with sparsity", "b": "(b) rises only for p < 0.01",
                 "c": "(c) the mask's rise by p < 0.11", "d": "(d) little at Q = 0.35",
                 "e": "(e) every model performs well", "f": "(f) masks do better on trained networks"}


MATRIX_KEY = ("yes: reproduced; partly: half of the claim holds; no: not reproduced; depends: the verdict changes "
              "with the share of the rise an onset needs (0.1, 0.25, 0.5); no rise: the curve never rises from its "
              "value at p = 1, so where a rise starts cannot be read; · : the claim says nothing of this "
              "measure. "
              "Where the modules disagree, each follows in brackets (0: module 0, 1: module 1).")


def one_module(table: pd.DataFrame, module: int) -> pd.DataFrame:
    """``table`` with the other module's metric rows replaced by ``module``'s mirrored (its row
    for sub-task t becomes the other module's for 1 - t), so that both modules' specialization
    is ``module``'s and every measure of their mean reads that module alone."""
    metric = table["metric"].isin(METRICS)
    own = table[metric & (table["module"] == module)]
    mirrored = own.assign(module=1 - module, subtask=1 - own["subtask"])
    return pd.concat([table[~metric], own, mirrored], ignore_index=True)


def primary_verdicts(table: pd.DataFrame, resamples: int = 1000) -> dict[tuple[str, str], str]:
    """Each claim's verdict per (claim, measure) under the paper's own reading, the rise measured
    from p = 1, in `SHORT` words: the same at every onset fraction, or "depends"."""
    out = {}
    for rows in zip(*verdict_grid(table, resamples, ("densest",)).values()):
        verdicts = {row[3] for row in rows}
        out[rows[0][0], rows[0][4]] = SHORT[verdicts.pop()] if len(verdicts) == 1 else "depends"
    return out


def verdict_cells(table: pd.DataFrame, resamples: int = 1000) -> dict[tuple[str, str], tuple[str, str, str]]:
    """Per (claim, measure) of `MATRIX_CLAIMS` x `MEASURES`: the verdict of `primary_verdicts` on the
    mean of the two modules, and on module 0 and module 1 alone (`one_module`); "·" where the claim
    says nothing of the measure or the table lacks it. (e) is judged per architecture: the
    bottleneck models under the bottleneck measure, the standard ones under the others."""
    both = primary_verdicts(table, resamples)
    modules = [primary_verdicts(one_module(table, n), resamples) for n in (0, 1)]
    accuracy = {arch: SHORT[accuracy_verdict(accuracy_figures(models))] for arch, models in table.groupby("architecture")}
    cells = {}
    for metric in MEASURES:
        for claim in MATRIX_CLAIMS:
            if claim == "e":
                verdict = accuracy.get("bottleneck" if metric == "bottleneck" else "standard", "·")
                cells[claim, metric] = (verdict, verdict, verdict)
            else:
                key = (claim, metric)
                cells[key] = (both.get(key, "·"), *(m.get(key, "·") for m in modules))
    return cells


def verdict_matrix(tables: dict[str, pd.DataFrame], resamples: int = 1000) -> pd.DataFrame:
    """The claims (rows, `MATRIX_CLAIMS`) against the three measures (columns), for each sweep of
    ``tables`` (label to table), judged as `verdict_cells`: the mean of the two modules, with each
    module's verdict beside it where the two modules' differ; `MATRIX_KEY` reads it."""
    columns = {}
    for label, table in tables.items():
        cells = verdict_cells(table, resamples)
        for metric in MEASURES:
            column = []
            for claim in MATRIX_CLAIMS:
                verdict, zero, one = cells[claim, metric]
                column.append(verdict if zero == one else f"{verdict} (0: {zero}, 1: {one})")
            columns[label, metric.replace("_", " ")] = column
    return pd.DataFrame(columns, index=list(MATRIX_CLAIMS.values()))
