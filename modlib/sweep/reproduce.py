"""Checking stored sweeps: `rerun_jobs` retrains a few of a sweep's models and compares their rows,
`reproduce` recomputes them all, `results_for_book` gives a chapter its table."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from modlib.data import write_atomic
from modlib.metrics import MetricData
from modlib.model import require
from modlib.sweep.config import SweepConfig, job_id
from modlib.sweep.jobs import run_job
from modlib.sweep.presets import PRESETS
from modlib.sweep.runner import run_sweep
from modlib.sweep.store import BOOK_RESULTS, how_to_make, load_results, read_provenance, read_table
from modlib.train import check_device


# A rerun's number is the stored one when within this fraction of it. A sweep stored since tables
# are read exactly (`modlib.sweep.store.read_table`) comes back bit for bit on the machine kind
# that made it; one stored before went through a reader that kept about 16 decimal places, up to
# 1e-12 of a value (at 1e-4, where the decimal text is longest), so its numbers hold that much.
IDENTICAL_TO = 1e-11


def rerun_jobs(name: str, jobs: int | list[str] = 3, results: str | Path = BOOK_RESULTS, seed: int = 0,
               threads: int | None = None, device: str | None = None, progress: bool = True) -> pd.DataFrame:
    """Retrain and re-measure some jobs of stored sweep ``name`` from its stored config and
    compare them with its stored rows: in a minute, the check that `make reproduce` makes in
    hours. ``jobs``: how many, drawn at random with ``seed``, or a list of job ids. Rows are
    compared as ``results.csv`` holds them, and "identical" means every number within
    `IDENTICAL_TO` of the stored one. ``threads`` defaults to the sweep's own (its provenance):
    with other thread counts, devices or torch versions, some products round differently (chapter
    "Training"); ``device`` replaces the sweep's to measure by how much. Returns per job:
    rows, rows that differ, largest absolute difference, and rows of measurements the stored
    sweep predates (`compare_rows`)."""
    if isinstance(jobs, int):
        require([(jobs >= 1, f"--jobs must be >= 1 (how many stored models to retrain), got {jobs}")])
    table = load_results(name, results)
    threads = threads or read_provenance(name, results)["machine"]["torch_threads"]
    cfg = SweepConfig.from_dict(json.loads((Path(results) / name / "config.json").read_text()))
    cfg = replace(cfg, device=device or cfg.device)
    check_device(cfg.device)
    stored_ids = sorted(table["job"].unique())
    if isinstance(jobs, int):
        drawn = np.random.default_rng(seed).choice(len(stored_ids), size=min(jobs, len(stored_ids)), replace=False)
        ids = [stored_ids[i] for i in sorted(drawn)]
    else:
        unknown = sorted(set(jobs) - set(stored_ids))
        require([(not unknown, f"no job(s) {', '.join(unknown)} in sweep {name!r}; its jobs are named like "
                               f"{stored_ids[0]} (architecture-k-seed)")])
        ids = list(jobs)
    by_id = {job_id(job): job for job in cfg.jobs()}
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        data = MetricData.load(cfg.train_config(0))
        rows = [compare_rows(run_job(cfg, by_id[i], data), table[table["job"] == i], set(table["metric"]))
                for i in tqdm(ids, desc=f"rerun {name}", unit="model", disable=not progress)]
    finally:
        torch.set_num_threads(before)
    return pd.DataFrame(rows, index=pd.Index(ids, name="job"))


def compare_rows(fresh: pd.DataFrame, stored: pd.DataFrame, measured: set | None = None) -> dict:
    """How far a job's fresh rows are from its stored ones, both as ``results.csv`` holds them:
    ``rows_differing`` counts the rows with a number further than `IDENTICAL_TO` of its value
    from the stored one, ``largest_difference`` is the largest absolute difference of any.
    Rows of a measurement not among ``measured`` (those of the stored sweep; default: the stored
    job's), one the sweep predates, are not compared, only counted (``new_rows``)."""
    def as_stored(frame):
        written = read_table(io.StringIO(frame.to_csv(index=False))).drop(columns="job_seconds")
        return written.sort_values(["metric", "module", "subtask", "epoch", "step"], kind="stable", ignore_index=True)

    fresh, stored, numbers = as_stored(fresh), as_stored(stored), ["q", "value"]
    new = ~fresh["metric"].isin(stored["metric"] if measured is None else measured)
    fresh = fresh[~new].reset_index(drop=True)
    if len(fresh) != len(stored) or not fresh.drop(columns=numbers).equals(stored.drop(columns=numbers)):
        return dict(rows=len(stored), rows_differing=len(stored), largest_difference=np.nan, new_rows=int(new.sum()))
    difference = (fresh[numbers] - stored[numbers]).abs()
    same = (difference <= IDENTICAL_TO * stored[numbers].abs()) | (fresh[numbers].isna() & stored[numbers].isna())
    return dict(rows=len(stored), rows_differing=int((~same).any(axis=1).sum()),
                largest_difference=float(difference.max().max()), new_rows=int(new.sum()))


REPRODUCE_STATE = ".reproduce.json"  # in the results folder while `reproduce` runs



def reproduce(names: list[str], results: str | Path = "results", workers: int = 1, resume: bool = False,
              progress: bool = True) -> None:
    """Recompute the sweeps ``names`` (presets) from scratch, one after another. What is done is
    kept in ``<results>/.reproduce.json`` until the last one ends, so that ``resume`` goes on
    after an interruption: the sweeps that run finished are kept, the one it was in resumes,
    and the rest start afresh (stored results from before it are not taken as finished)."""
    state_path = Path(results) / REPRODUCE_STATE
    if resume:
        if not state_path.exists():
            raise ValueError(f"there is no interrupted reproduce to resume ({state_path} is missing): "
                             f"run it without --resume")
        state = json.loads(state_path.read_text())
        if state["names"] != list(names):
            raise ValueError(f"the interrupted reproduce in {results} was of other sweeps "
                             f"({', '.join(state['names'])}); run it without --resume to start again")
    else:
        state = {"names": list(names), "done": [], "current": None}
    for i, name in enumerate(names, 1):
        if name in state["done"]:
            continue
        again = resume and state["current"] == name
        print(f"[{i}/{len(names)}] sweep {name}" + (", resumed" if again else ""), flush=True)
        write_atomic(state_path, json.dumps(state | {"current": name}).encode())
        run_sweep(PRESETS[name], results, resume=again, fresh=not again, progress=progress, workers=workers)
        state = state | {"current": name, "done": state["done"] + [name]}
    state_path.unlink()




def results_for_book(name: str, results: str | Path = BOOK_RESULTS) -> tuple[pd.DataFrame, str]:
    """The stored table of sweep ``name`` for a chapter. When it is missing, say how to make
    it and fall back to the ``smoke`` preset (computed now if needed, about a minute), so
    the chapter still runs. Returns ``(table, name actually used)``."""
    try:
        return load_results(name, results), name
    except FileNotFoundError:
        print(f"No stored results for {name!r}: {how_to_make(name, results)} "
              f"(or `make reproduce`). Showing the quick 'smoke' preset instead.")
    if not (Path(results) / "smoke" / "results.csv").exists():
        run_sweep(PRESETS["smoke"], results, resume=True, progress=False)
    return load_results("smoke", results), "smoke"
