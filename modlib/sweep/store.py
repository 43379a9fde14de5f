"""A sweep's folder: the finished jobs' files, the merged ``results.csv`` and ``provenance.json``
(config, commit, versions, machine, the commands that ran it and their timings)."""

from __future__ import annotations

import fcntl
import json
import math
import os
import platform
import subprocess
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from modlib.bench import flops_per_pair, processor
from modlib.data import write_atomic
from modlib.sweep.config import SweepConfig, with_later_fields
from modlib.sweep.jobs import COLUMNS, WHOLE_NUMBERS
from modlib.sweep.presets import ABOUT, GROUPS, PRESETS

BOOK_RESULTS = Path(__file__).resolve().parents[2] / "results"  # the stored results the book reads


def write_csv_atomic(frame: pd.DataFrame, path: Path) -> None:
    write_atomic(path, frame.to_csv(index=False).encode())


def read_table(path: Path) -> pd.DataFrame:
    """A stored table with our columns (tables from before the per-epoch rows lack ``epoch``).
    Numbers are read exactly: pandas' default reader keeps about 16 decimal places, so a value
    read and written again (a job's file merged into ``results.csv``, a merge on resume) moved
    in its last digits by up to 1e-12 of itself, and a stored job no longer matched the same
    job recomputed."""
    return pd.read_csv(path, float_precision="round_trip").reindex(columns=COLUMNS).astype(WHOLE_NUMBERS)


def stored_rows(folder: Path) -> pd.DataFrame:
    """All finished rows: the job files, plus merged rows of jobs with no file here
    (e.g. in a fresh clone, where only ``results.csv`` is stored)."""
    frames = [read_table(p) for p in sorted((folder / "jobs").glob("*.csv"))]
    if (folder / "results.csv").exists():
        merged = read_table(folder / "results.csv")
        loose = {f["job"].iloc[0] for f in frames if len(f)}
        frames.insert(0, merged[~merged["job"].isin(loose)])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)


def check_folder(folder: Path, cfg: SweepConfig, resume: bool) -> None:
    """Refuse to mix sweeps: a folder holds one config; finished work needs --resume."""
    config_file = folder / "config.json"
    if config_file.exists():
        stored = with_later_fields(json.loads(config_file.read_text()))
        if stored != cfg.to_dict():
            diff = ", ".join(f"{k}: stored {stored.get(k)!r} vs now {v!r}"
                             for k, v in cfg.to_dict().items() if stored.get(k) != v)
            raise ValueError(f"{folder} holds a sweep with a different config ({diff}); "
                             f"choose another --name, or --fresh to discard it")
        if not resume and len(stored_rows(folder)):
            raise ValueError(f"{folder} already holds finished jobs; pass --resume to continue them, "
                             f"or --fresh to start over")



def merge(folder: Path, cfg: SweepConfig, run: dict, throughput: float | None = None) -> pd.DataFrame:
    """Write the merged, sorted ``results.csv`` and ``provenance.json``; ``run`` is this
    process's part of a command: when it started, the command, the commit, its seconds."""
    with open(folder / ".merge.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return write_merged(folder, cfg, run, throughput)


def write_merged(folder: Path, cfg: SweepConfig, run: dict, throughput: float | None) -> pd.DataFrame:
    table = stored_rows(folder).sort_values(["architecture", "k", "seed", "metric", "module", "subtask", "epoch", "step"],
                                            kind="stable", ignore_index=True)
    write_csv_atomic(table, folder / "results.csv")
    provenance_path = folder / "provenance.json"
    previous = json.loads(provenance_path.read_text()) if provenance_path.exists() else {}
    job_seconds = table.groupby("job")["job_seconds"].first()
    # the latest command that trained something: a resume that found nothing to do changes nothing
    latest = previous if run["seconds"] is None and previous else {
        "command": run["command"], "git_commit": run["git_commit"], "versions": versions(),
        "machine": machine(cfg.device)}
    provenance = {
        "config": cfg.to_dict(),
        **{key: latest[key] for key in ("command", "git_commit", "versions", "machine")},
        "jobs_total": len(cfg.jobs()),
        "jobs_finished": int(len(job_seconds)),
        "job_seconds": {k: round(v, 3) for k, v in job_seconds.items()},
        "sum_job_seconds": round(float(job_seconds.sum()), 1),
        "runs": with_run(stored_runs(previous), run),
        "training_floor": training_floor(cfg, table, throughput) or previous.get("training_floor"),
    }
    write_atomic(provenance_path, json.dumps(provenance, indent=2).encode())
    return table


def stored_runs(provenance: dict) -> list[dict]:
    """The commands that made a sweep, as `with_run` records them. Provenance written before
    runs were recorded holds only its workers' seconds, all taken as one run."""
    if "shard_wall_seconds" in provenance:
        return [{"started": None, "command": provenance["command"], "git_commit": provenance["git_commit"],
                 "worker_seconds": provenance["shard_wall_seconds"]}]
    return provenance.get("runs", [])


def with_run(runs: list[dict], run: dict) -> list[dict]:
    """``runs`` with ``run``'s seconds added to the command it is part of (the run with its
    start time; a new one for a process that is the first of its command to finish), and its
    ``executor`` (where a cluster ran it: `modlib.sweep.cluster`) when it has one. A process
    that had no job to do (``seconds`` None) adds no seconds."""
    if run["seconds"] is None and "executor" not in run:
        return runs
    # to the ms, as "started": coarser, back-to-back runs would overlap
    seconds = [] if run["seconds"] is None else [round(run["seconds"], 3)]
    executor = {"executor": run["executor"]} if "executor" in run else {}
    for stored in runs:
        if stored["started"] == run["started"]:
            return [r | executor | {"worker_seconds": r["worker_seconds"] + seconds} if r is stored else r
                    for r in runs]
    return runs + [{k: v for k, v in run.items() if k != "seconds"} | {"worker_seconds": seconds}]


def wall_seconds(runs: list[dict]) -> float:
    """How long a sweep took: each run lasts as long as its slowest worker, from its start, and
    time when runs overlapped (shards run side by side) counts once. A run of unknown start
    (from before runs were recorded) is put at time 0, where it overlaps nothing."""
    spans = sorted((datetime.fromisoformat(r["started"]).timestamp() if r["started"] else 0.0,
                    max(r["worker_seconds"])) for r in runs if r["worker_seconds"])
    total, reach = 0.0, -math.inf
    for start, seconds in spans:
        total += max(0.0, start + seconds - max(start, reach))
        reach = max(reach, start + seconds)
    return total


def training_floor(cfg: SweepConfig, table: pd.DataFrame, throughput: float | None) -> dict | None:
    """Training FLOPs of all finished jobs and the time they need at the measured throughput."""
    if not throughput or table.empty:
        return None
    # about 80% of pairs are valid, and balancing trims a few more (make_pairs)
    pairs_per_epoch = (0.8 if cfg.exclude else 1.0) * (cfg.train_images or 60_000)
    total = 0.0
    trained = table[table["metric"] == "epoch_test_accuracy"]  # a row per epoch trained (fewer with early stops)
    for (architecture, k), group in trained.groupby(["architecture", "k"]):
        model = cfg.model_config(int(k), architecture)
        total += len(group) * pairs_per_epoch * flops_per_pair(model)["total"]
    return {"throughput_gflops": round(throughput / 1e9, 1), "training_gflop": round(total / 1e9, 1),
            "floor_seconds": round(total / throughput, 1)}


def git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                 capture_output=True, text=True).stdout.splitlines()
        # Stored results are outputs, not code: a --fresh rerun has just deleted its own.
        dirty = [line for line in changed if not line[3:].startswith("results/")]
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def versions() -> dict:
    import matplotlib

    import modlib

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "pandas": pd.__version__, "matplotlib": matplotlib.__version__, "modlib": modlib.__version__}


def machine(device: str = "cpu") -> dict:
    """Where a sweep ran: ``device`` names what did the products (`modlib.bench.processor`),
    which the stored throughput and floor depend on."""
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "device": processor(device), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()}



def load_results(name: str, results: str | Path = "results") -> pd.DataFrame:
    """The merged table of a sweep, with a clear error when it has not been run."""
    path = Path(results) / name / "results.csv"
    if not path.exists():
        raise FileNotFoundError(f"no stored results at {path}: {how_to_make(name, results)}")
    return read_table(path)


def read_provenance(name: str, results: str | Path = BOOK_RESULTS) -> dict:
    """Stored sweep ``name``'s provenance.json, plus ``wall_seconds``: how long the sweep took
    (`wall_seconds`), over every command that ran it. A command killed before it recorded its
    time leaves its models but not its seconds, so the figure is at least the models' own time
    shared among the most workers any recorded command had."""
    path = Path(results) / name / "provenance.json"
    if not path.exists():
        raise FileNotFoundError(f"no stored provenance at {path}: {how_to_make(name, results)}")
    provenance = json.loads(path.read_text())
    runs = stored_runs(provenance)
    most_workers = max((len(r["worker_seconds"]) for r in runs), default=1) or 1
    at_least = provenance.get("sum_job_seconds", 0.0) / most_workers
    return provenance | {"wall_seconds": max(wall_seconds(runs), at_least)}


def made_on(provenance: dict) -> str:
    """The processor a stored sweep ran on (`modlib.bench.processor`), from its provenance;
    sweeps stored before it was recorded say so."""
    return provenance["machine"].get("device", "processor not recorded")




def how_to_make(name: str, results: str | Path = "results") -> str:
    """What to run to get sweep ``name``'s table: finish an interrupted run, run the preset
    of that name, or run a sweep under that name."""
    finished = len(list((Path(results) / name / "jobs").glob("*.csv")))
    if finished:
        return (f"{finished} finished models of an unfinished sweep are in its jobs/ folder; "
                f"run the same sweep command again with --resume to finish and merge it")
    if name in PRESETS:
        return f"run `python -m modlib sweep --preset {name}`"
    return f"run a sweep with `--name {name}`, e.g. `python -m modlib sweep --preset paper --name {name} --seeds 3`"


def preset_table(results: str | Path | None = None) -> pd.DataFrame:
    """Every preset with its group, what it asks, how many models it trains, and, where its sweep
    is stored in ``results`` (default: the results the book reads), its wall time in minutes and
    the processor it ran on (its provenance; NaN and "not stored" where it is not): what
    ``sweep --list`` prints and the book's appendix shows."""
    results = BOOK_RESULTS if results is None else results

    rows = []
    for name, cfg in PRESETS.items():
        try:
            provenance = read_provenance(name, results)
            minutes, processor = provenance["wall_seconds"] / 60, made_on(provenance)
        except FileNotFoundError:
            minutes, processor = float("nan"), "not stored"
        rows.append(dict(group=ABOUT[name][0], preset=name, about=ABOUT[name][1], models=len(cfg.jobs()),
                         minutes=minutes, processor=processor))
    table = pd.DataFrame(rows)
    table["group"] = pd.Categorical(table["group"], GROUPS, ordered=True)
    return table.sort_values("group", kind="stable").reset_index(drop=True)
