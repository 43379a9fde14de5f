"""Tasks that need more communication: the modulus sweeps side by side (chapter "Tasks that need
more than one bit")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from modlib.analysis.frames import condition_accuracy, specialization_frame
from modlib.analysis.onsets import onset_table
from modlib.analysis.stats import mean_interval
from modlib.sweep import BOOK_RESULTS, LONG_MODULI, MODULUS_SWEEPS, read_table


def modulus_sweep_names(long: bool = False) -> dict[int, str]:
    """The stored sweep of each modulus m: ``paper`` for m = 2 and ``modulus-m`` for the
    others; ``long``: the ``modulus-m-long`` sweeps (15 epochs)."""
    if long:
        return {m: f"modulus-{m}-long" for m in LONG_MODULI}
    return {2: "paper", **{m: f"modulus-{m}" for m in MODULUS_SWEEPS}}


def modulus_tables(results: str | Path = BOOK_RESULTS, long: bool = False) -> dict[int, pd.DataFrame]:
    """The paper sweep (m = 2) and each ``modulus-m`` sweep stored, by m: the same models and
    metrics on tasks that need log2(m) bits to cross between the modules. ``long``: the
    ``modulus-m-long`` sweeps instead (15 epochs)."""
    names = modulus_sweep_names(long)
    paths = {m: Path(results) / name / "results.csv" for m, name in names.items()}
    tables = {m: read_table(path) for m, path in paths.items() if path.exists()}
    if len(tables) < 2:
        raise FileNotFoundError(f"fewer than two moduli stored: run `python -m modlib sweep --preset NAME` for NAME "
                                f"in {', '.join(names.values())} (or `make reproduce`)")
    return tables


def compare_moduli(tables: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """`onset_table` of each modulus' sweep, indexed by (metric, m) with the bits the task needs."""
    frames = [onset_table(table).assign(m=m, bits=np.log2(m)) for m, table in tables.items()]
    return pd.concat(frames).set_index(["metric", "m"]).sort_index()


def moduli_levels(tables: dict[int, pd.DataFrame], p_labels: bool = False) -> pd.DataFrame:
    """Mean specialization per (metric, p) for each modulus m, with the 95% t
    interval of the mean over seeds (`mean_interval`): columns (m, mean / low / high).
    ``p_labels``: p as text to 4 significant digits, as a table prints it and a chapter looks
    rows up (a float p such as 0.0001 prints as 1e-04 and is awkward to look up)."""
    rows = [(metric, p, m, *mean_interval(group["spec"]))
            for m, table in tables.items()
            for (metric, p), group in specialization_frame(table).groupby(["metric", "p"])]
    wide = pd.DataFrame(rows, columns=["metric", "p", "m", "mean", "low", "high"]).set_index(
        ["metric", "p", "m"]).unstack("m").swaplevel(axis=1)
    if p_labels:
        wide.index = wide.index.set_levels([f"{p:.4g}" for p in wide.index.levels[1]], level="p")
    return wide[pd.MultiIndex.from_product([list(tables), ["mean", "low", "high"]])]


def moduli_accuracy(tables: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Mean test accuracy per (architecture, m) and level k (`condition_accuracy`, laid out by m)."""
    return condition_accuracy(tables).rename_axis(columns="m").stack().unstack("k")
