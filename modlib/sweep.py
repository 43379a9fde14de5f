"""The sweep: train and measure one model per (level, seed, architecture), resumably.

Each finished job writes its rows to ``<results>/<name>/jobs/<job>.csv`` atomically;
``--resume`` skips jobs already there or already in the merged table; ``--shard i/n``
takes every n-th job, so several processes can share one sweep folder. At the end all
finished jobs are merged (under a file lock) into ``results.csv`` (one row per model, module, sub-task and metric,
plus each model's final test accuracy and its train and test accuracy after every epoch) and ``provenance.json``
(config, commit, versions, machine, timings).
"""

from __future__ import annotations

import fcntl
import io
import json
import math
import multiprocessing
import os
import platform
import subprocess
import sys
import threading
import time
from dataclasses import MISSING, asdict, dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from modlib.bench import flops_per_pair, matmul_throughput, processor, run_processes, threads_per_worker
from modlib.crossing import CROSSING, crossing_metric
from modlib.data import write_atomic
from modlib.metrics import (MASK_OPTIONS, METRIC_FUNCTIONS, METRICS, MetricData, applicable_metrics,
                            check_mask_options, metric_options, weight_mask_metric)
from modlib.model import ModelConfig, require, require_whole_numbers, whole_number
from modlib.native import check_engine
from modlib.structure import model_q
from modlib.train import TrainConfig, check_device, new_model, train_model

ARCHITECTURES = ("standard", "bottleneck")
BOTTLENECK_WIDTH = 5
BOOK_RESULTS = Path(__file__).resolve().parents[1] / "results"  # the stored results the book reads
COLUMNS = ["architecture", "n_hidden", "k", "p", "q", "seed", "metric", "module", "subtask", "epoch", "value",
           "job", "job_seconds"]
WHOLE_NUMBERS = {"module": "Int64", "subtask": "Int64", "epoch": "Int64"}  # may be empty (NA) in a row
CURVES = ("train_accuracy", "test_accuracy")  # per epoch, stored as metric "epoch_<name>"
MEASUREMENTS = (*METRICS, "crossing")  # what a sweep can measure: the metrics, and what crosses (modlib.crossing)


@dataclass(frozen=True)
class SweepConfig:
    """One sweep. ``levels`` interconnection counts ``round(geomspace(1, N^2, levels))``, or
    the counts k listed in ``k_values`` when it is not empty (then ``levels`` is not used).
    The ``mask_*`` fields are the weight mask's settings (`modlib.metrics.MASK_OPTIONS`): q,
    masks averaged per sub-task, epochs, the bound of the scores' first draw, and whether the
    interconnections are scored. ``random_masks`` also trains the weight masks on each model
    as it was before training (the same seed's initial weights), for the paper's check that
    masks find more in trained networks than in random ones (claim (f))."""

    name: str
    n_hidden: int = 100
    levels: int = 10
    k_values: tuple[int, ...] = ()
    seeds: int = 10
    architectures: tuple[str, ...] = ARCHITECTURES
    metrics: tuple[str, ...] = METRICS
    epochs: int | None = None
    batch_size: int = 128
    train_images: int | None = None
    test_images: int | None = None
    decision: str = "max"
    message: str = "after"
    init: str = "uniform"
    rule: str = "prose"
    modulus: int = 2
    exclude: bool = True
    exclusion: str = "paper"
    balance: bool = True
    deepr_lr_range: tuple[float, float] = (0.1, 0.01)
    train_readout: bool = True
    stop_accuracy: float | None = None
    mask_fraction: float = 0.05
    mask_repeats: int = 1
    mask_epochs: int = 1
    mask_score_init: float = 0.1
    mask_interconnections: bool = False
    random_masks: bool = False
    device: str = "cpu"
    engine: str = "torch"
    rewire: bool = True

    def __post_init__(self):
        require_whole_numbers(self)
        object.__setattr__(self, "k_values", tuple(whole_number("each of k_values", k) for k in self.k_values))
        problems = [
            (self.name not in ("", ".", "..") and not {"/", "\\"} & set(self.name),
             f"a sweep's name is the folder it is written to under the results folder, so it cannot be empty, "
             f"'.', '..' or hold '/' or '\\': got {self.name!r} (e.g. --name n50; --results chooses the folder)"),
            (self.levels >= 1, f"levels must be >= 1, got {self.levels}"),
            (self.seeds >= 1, f"seeds must be >= 1, got {self.seeds}"),
            (set(self.architectures) <= set(ARCHITECTURES) and self.architectures,
             f"architectures must be among {ARCHITECTURES}, got {self.architectures}"),
            (set(self.metrics) <= set(MEASUREMENTS), f"metrics must be among {MEASUREMENTS}, got {self.metrics}"),
        ]
        require(problems)
        check_mask_options(**self.metric_options("weight_mask"))
        for arch in self.architectures:  # validates n_hidden, decision, message
            self.model_config(1, arch)
        for k in self.connections():  # each within 1 .. N^2
            self.model_config(k, self.architectures[0])
        self.train_config(0)
        check_engine(self.engine, self.message, self.device)

    def connections(self) -> list[int]:
        if self.k_values:
            return sorted(set(self.k_values))
        return sorted(set(np.round(np.geomspace(1, self.n_hidden ** 2, self.levels)).astype(int).tolist()))

    def jobs(self) -> list[tuple[str, int, int]]:
        """Every (architecture, k, seed), in a fixed order."""
        return [(a, k, s) for a in self.architectures for k in self.connections() for s in range(self.seeds)]

    def model_config(self, k: int, architecture: str) -> ModelConfig:
        return ModelConfig(n_connections=k, bottleneck=BOTTLENECK_WIDTH if architecture == "bottleneck" else None,
                           **self.shared_with(ModelConfig))

    def train_config(self, seed: int) -> TrainConfig:
        return TrainConfig(seed=seed, **self.shared_with(TrainConfig))

    def metric_options(self, metric: str) -> dict:
        """Keyword arguments of ``metric``'s function that this sweep sets: for the weight mask,
        the fraction q of weights kept and how many masks to average; none for the others."""
        return metric_options(metric, {field: getattr(self, field) for field in MASK_OPTIONS})

    def shared_with(self, config_class) -> dict:
        """This sweep's value of every field it shares with ``config_class``, so that each
        setting of a sweep reaches its models without being listed twice."""
        names = {f.name for f in fields(config_class)}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in names}

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, stored: dict) -> "SweepConfig":
        """The sweep a stored ``config.json`` describes (`to_dict` in reverse; fields added
        since it was written take their defaults, `with_later_fields`)."""
        return cls(**{key: tuple(value) if isinstance(value, list) else value
                      for key, value in with_later_fields(stored).items()})


PRESETS = {
    "paper": SweepConfig(name="paper"),
    "smoke": SweepConfig(name="smoke", levels=3, seeds=1, epochs=1, train_images=6000, test_images=2000),
    # Is the paper's 5-epoch budget what keeps the sparsest and densest models below 0.90?
    "long": SweepConfig(name="long", levels=3, seeds=3, architectures=("standard",), metrics=(), epochs=15),
    # Ten seeds per level leave claim (b) undecided for the correlation measure (book, intro):
    # the paper sweep's standard models with 30 seeds (the first ten are the paper's), correlation only.
    "correlation-30": SweepConfig(name="correlation-30", seeds=30, architectures=("standard",),
                                  metrics=("correlation",)),
    # The paper sweep on a GPU, whose rounding differs from the CPU's: do the verdicts depend on it?
    "paper-cuda": SweepConfig(name="paper-cuda", device="cuda"),
    # The paper sweep with the compiled training step (modlib.native), equal to "torch"'s only to
    # rounding: do the verdicts hold, and how much sooner is it done?
    "paper-native": SweepConfig(name="paper-native", engine="native"),
    # A control for Deep-R (modlib.deepr): what do its fixed signs and restarts cost, and does
    # specialization need connections that Deep-R chose? The paper sweep's models at four of its
    # levels, with the connections drawn at the start kept and free to change sign.
    "no-rewire": SweepConfig(name="no-rewire", levels=4, rewire=False),
    # Its counterpart: the fully connected models with the authors' Deep-R rate at p = 1 (0.001),
    # ten seeds and both architectures, paired with the paper sweep's; accuracy only.
    "dense-authors-rate": SweepConfig(name="dense-authors-rate", k_values=(10_000,), metrics=(),
                                      deepr_lr_range=(0.1, 0.001)),
    # Both changes at once: at the authors' rate, do the restarts still cost accuracy?
    "dense-authors-rate-no-rewire": SweepConfig(name="dense-authors-rate-no-rewire", k_values=(10_000,),
                                                metrics=(), deepr_lr_range=(0.1, 0.001), rewire=False),
}
# Beyond the paper (its discussion asks for it): the paper sweep on tasks that need more than one
# bit to cross between the modules, the other digit mod m (modlib.task; m = 2 is the paper sweep).
MODULUS_SWEEPS = (4, 10)
for _m in MODULUS_SWEEPS:
    PRESETS[f"modulus-{_m}"] = SweepConfig(name=f"modulus-{_m}", modulus=_m)
# In the paper's 5 (7) epochs the harder tasks end less accurate. Trained for 15, at three levels
# with five seeds: does the extra specialization at m = 10 outlast the accuracy gap?
LONG_MODULI = (2, 10)
for _m in LONG_MODULI:
    PRESETS[f"modulus-{_m}-long"] = SweepConfig(name=f"modulus-{_m}-long", levels=3, seeds=5, epochs=15, modulus=_m)
# The authors' code differs from the paper's text, or fills a gap in it, in ways that could
# matter (replication notes): each variant changes one such setting (noexclude: two), and is
# labelled for the book's comparison.
VARIANTS = {
    "text": ("the paper's text (reference)", {}),
    "absmax": ("decision by largest |readout|", {"decision": "absmax"}),
    "before": ("message enters before W_hh", {"message": "before"}),
    "equation": ("target by the paper's equation", {"rule": "equation"}),
    "noexclude": ("no exclusion rule, no balancing", {"exclude": False, "balance": False}),
    "deepr-lr": ("Deep-R lr 0.1 -> 0.001", {"deepr_lr_range": (0.1, 0.001)}),
    "frozen-readout": ("readout frozen at its initial weights", {"train_readout": False}),
    "early-stop": ("early stop at 0.90 test accuracy", {"stop_accuracy": 0.9}),
    "batch-256": ("batches of 256 pairs", {"batch_size": 256}),
    "batch-64": ("batches of 64 pairs", {"batch_size": 64}),
    "mask-repeats": ("3 weight masks averaged", {"mask_repeats": 3}),
}
# What crosses a handful of connections: more than the parity bit the task needs? And which module
# decides where? The standard models of the paper sweep at its four sparsest levels.
PRESETS["crossing"] = SweepConfig(name="crossing", k_values=(1, 3, 8, 22), architectures=("standard",),
                                  metrics=("crossing",))
# The authors' code's choices all at once (replication notes), where the variants above try each
# alone: is a disagreement with the paper the text's or the code's? The code's target is the prose
# reading, the default; its masks were averaged over several initialisations.
PRESETS["authors"] = SweepConfig(name="authors", decision="absmax", message="before", exclude=False, balance=False,
                                 init="pytorch", deepr_lr_range=(0.1, 0.001), batch_size=256, stop_accuracy=0.9,
                                 mask_repeats=3, random_masks=True)
# Claim (f): masks on the trained standard models against masks on the same models untrained.
PRESETS["random-masks"] = SweepConfig(name="random-masks", architectures=("standard",), metrics=("weight_mask",),
                                      random_masks=True)
# The paper's rule for q: as high as possible while M(n, n) = 1 at k = 1. Each candidate q on the
# sparsest models (analysis.calibrated_q picks), then the paper sweep's masks at the q it picks.
MASK_Q_CANDIDATES = (0.0025, 0.005, 0.01, 0.02, 0.03, 0.05)
for _q in MASK_Q_CANDIDATES:
    PRESETS[f"mask-q-{_q:g}"] = SweepConfig(name=f"mask-q-{_q:g}", k_values=(1,), architectures=("standard",),
                                            metrics=("weight_mask",), mask_fraction=_q)
# No candidate meets the rule (module 0's masks for digit 0 keep module 1's weights at every q), so
# this is the candidate that comes closest (analysis.calibrated_q, checked against the stored search).
MASK_Q_CALIBRATED = 0.0025
PRESETS["mask-q-calibrated"] = SweepConfig(name="mask-q-calibrated", architectures=("standard",),
                                           metrics=("weight_mask",), mask_fraction=MASK_Q_CALIBRATED)
# The weight mask's free choices that the paper leaves open, one at a time, on four levels and five
# seeds, against mask-reference (the paper's settings; the same models, trained on the same machine):
# how much does M depend on each?
MASK_SENSITIVITY = {"score-init-0.01": {"mask_score_init": 0.01}, "score-init-1": {"mask_score_init": 1.0},
                    "epochs-3": {"mask_epochs": 3}, "repeats-3": {"mask_repeats": 3},
                    "interconnections": {"mask_interconnections": True}}
for _name, _change in {"reference": {}, **MASK_SENSITIVITY}.items():
    PRESETS[f"mask-{_name}"] = SweepConfig(name=f"mask-{_name}", k_values=(1, 22, 464, 10_000), seeds=5,
                                           architectures=("standard",), metrics=("weight_mask",), **_change)
# Which of the task's two asymmetries (modlib.task) makes module 1 the less specialised at the
# sparsest levels: the target rule, the exclusion's direction, or both (a pure relabelling of the
# modules, which should swap them)?
MODULE_CONTROLS = {"equation": {"rule": "equation"}, "mirrored": {"exclusion": "mirrored"},
                   "swapped": {"rule": "equation", "exclusion": "mirrored"}}
for _name, _change in MODULE_CONTROLS.items():
    PRESETS[f"control-{_name}"] = SweepConfig(name=f"control-{_name}", k_values=(1, 3, 8),
                                              metrics=(*METRICS, "crossing"), **_change)
VARIANT_BASE = dict(levels=4, seeds=3, architectures=("standard",), metrics=("weight_mask", "correlation"))
for _name, (_, _change) in VARIANTS.items():
    PRESETS[f"variant-{_name}"] = SweepConfig(name=f"variant-{_name}", **VARIANT_BASE, **_change)


def job_id(job: tuple[str, int, int]) -> str:
    architecture, k, seed = job
    return f"{architecture}-k{k:05d}-s{seed:02d}"


def run_job(cfg: SweepConfig, job, data: MetricData) -> pd.DataFrame:
    """Train one model, measure it, and return its rows."""
    architecture, k, seed = job
    start = time.perf_counter()
    model, record = train_model(cfg.model_config(k, architecture), cfg.train_config(seed), progress=False,
                                splits=(data.train, data.test))
    base = dict(architecture=architecture, n_hidden=cfg.n_hidden, k=k, p=k / cfg.n_hidden ** 2,
                q=model_q(model), seed=seed)
    rows = [dict(base, metric="accuracy", value=record["test_accuracy"])]
    rows += [dict(base, metric=f"epoch_{curve}", epoch=epoch, value=stats[curve])
             for epoch, stats in enumerate(record["history"], start=1) for curve in CURVES]
    for name in applicable_metrics(model):
        if name not in cfg.metrics:
            continue
        result = METRIC_FUNCTIONS[name](model, data, seed=seed, progress=False, **cfg.metric_options(name))
        rows += [dict(base, metric=name, module=n, subtask=t, value=float(result["M"][n, t]))
                 for n in (0, 1) for t in (0, 1)]
        rows += [dict(base, metric="mask_accuracy", subtask=t, value=a)
                 for t, a in enumerate(result.get("mask_accuracy", []))]
    if cfg.random_masks and "weight_mask" in cfg.metrics and not model.config.bottleneck:
        rows += random_mask_rows(cfg, job, data, base)
    if "crossing" in cfg.metrics and not model.config.bottleneck:
        crossing = crossing_metric(model, data, seed=seed)
        rows += [dict(base, metric=name, module=n, subtask=1 - n, value=float(crossing[name][n]))
                 for name in CROSSING for n in (0, 1)]
        rows += [dict(base, metric="decides", module=n, subtask=p, value=float(crossing["decides"][n, p]))
                 for n in (0, 1) for p in (0, 1)]
    frame = pd.DataFrame(rows, columns=COLUMNS).astype(WHOLE_NUMBERS)
    frame["job"] = job_id(job)
    frame["job_seconds"] = time.perf_counter() - start
    return frame


def random_mask_rows(cfg: SweepConfig, job, data: MetricData, base: dict) -> list[dict]:
    """The weight mask trained on the job's model as it was initialised, before any training
    (metrics ``weight_mask_untrained`` and ``mask_accuracy_untrained``), with the same seeds."""
    architecture, k, seed = job
    untrained = new_model(cfg.model_config(k, architecture), cfg.train_config(seed))[0]
    result = weight_mask_metric(untrained, data, seed=seed, progress=False, **cfg.metric_options("weight_mask"))
    return ([dict(base, metric="weight_mask_untrained", module=n, subtask=t, value=float(result["M"][n, t]))
             for n in (0, 1) for t in (0, 1)]
            + [dict(base, metric="mask_accuracy_untrained", subtask=t, value=a)
               for t, a in enumerate(result["mask_accuracy"])])


def write_csv_atomic(frame: pd.DataFrame, path: Path) -> None:
    write_atomic(path, frame.to_csv(index=False).encode())


def read_table(path: Path) -> pd.DataFrame:
    """A stored table with our columns (tables from before the per-epoch rows lack ``epoch``)."""
    return pd.read_csv(path).reindex(columns=COLUMNS).astype(WHOLE_NUMBERS)


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


def with_later_fields(stored: dict) -> dict:
    """A stored ``config.json`` with the fields added to `SweepConfig` since it was written, at
    their defaults: each new field's default keeps the old behaviour, so it is the same sweep."""
    defaults = {f.name: f.default for f in fields(SweepConfig) if f.default is not MISSING}
    return {**json.loads(json.dumps(defaults)), **stored}


def parse_shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard takes i/n with whole numbers, e.g. 0/4; got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"--shard i/n needs 0 <= i < n, got {text!r}")
    return i, n


def select_jobs(cfg: SweepConfig, shard: tuple[int, int] = (0, 1), done: set = frozenset()) -> list:
    """Shard i of n takes jobs i, i + n, i + 2n, ... of the fixed job list, minus finished ones."""
    i, n = shard
    return [job for j, job in enumerate(cfg.jobs()) if j % n == i and job_id(job) not in done]


def run_sweep(cfg: SweepConfig, results: str | Path = "results", shard: str = "0/1", resume: bool = False,
              fresh: bool = False, progress: bool = True, workers: int = 1, position: int = 0,
              started: str | None = None) -> Path:
    """Run (this shard of) a sweep into ``results/<name>/`` and merge what is finished.
    ``workers`` > 1 splits the shard among that many processes (`run_workers`);
    ``position`` is the line of this process's progress bar; ``started`` names the command
    this process is part of (its start time; `run_workers` passes its own to its workers).
    An interrupted or failing run still merges the jobs it finished, and records its time."""
    started = started or datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    i, n = parse_shard(shard)
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    check_device(cfg.device)
    folder = Path(results) / cfg.name
    if fresh:
        for path in [*folder.glob("jobs/*.csv"), folder / "results.csv", folder / "config.json",
                     folder / "provenance.json"]:
            path.unlink(missing_ok=True)
    check_folder(folder, cfg, resume)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / "config.json", json.dumps(cfg.to_dict(), indent=2).encode())
    todo = select_jobs(cfg, (i, n), done=set(stored_rows(folder)["job"]))
    if workers > 1 and todo:  # with nothing left, no workers to start
        run_workers(cfg, results, (i, n), workers, progress, started)
        return folder
    commit = git_commit()  # the code that computes this run's jobs
    data = MetricData.load(cfg.train_config(0)) if todo else None
    def throughput():
        return matmul_throughput(cfg.model_config(1, "standard"), cfg.batch_size, cfg.device)

    before = throughput() if todo else None
    run = {"started": started, "command": " ".join(sys.argv), "git_commit": commit}
    try:
        for job in tqdm(todo, desc=f"sweep {cfg.name} [{i}/{n}]", disable=not (progress and todo), unit="model",
                        position=position):
            write_csv_atomic(run_job(cfg, job, data), folder / "jobs" / f"{job_id(job)}.csv")
        # The shared machine's speed drifts over a long run: average a measurement at each end.
        average = (before + throughput()) / 2 if todo else None
    except BaseException:  # Ctrl-C or an error: keep what is finished
        merge(folder, cfg, run | {"seconds": seconds_since(started)}, throughput=before)
        raise
    # None: no job to do, no run to record
    merge(folder, cfg, run | {"seconds": seconds_since(started) if todo else None}, throughput=average)
    return folder


def seconds_since(started: str) -> float:
    """Wall seconds since the ISO time ``started``: a run's time counts from its command's start,
    so that starting workers, loading MNIST and measuring the throughput count too."""
    return datetime.now(timezone.utc).timestamp() - datetime.fromisoformat(started).timestamp()


def run_workers(cfg: SweepConfig, results: str | Path, shard: tuple[int, int], workers: int, progress: bool,
                started: str) -> None:
    """Shard ``i/n`` run by ``workers`` processes, which share this process's threads: worker
    w takes shard ``(i + n*w) / (n*workers)``. On 2 cores, two one-thread workers took 15-30%
    less time for a sweep than one two-thread process, because the element-wise work and
    Python between the products use one core and leave the other idle. Each worker merges
    when it ends (under the lock), so the last one leaves the whole table. Plain processes,
    not a pool: a pool's idle workers die of Ctrl-C with tracebacks, and once left a sweep
    hanging on a GPU machine."""
    i, n = shard
    # spawn, not fork: a forked child of a process that has started OpenMP threads can hang
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=run_worker, args=(cfg, results, f"{i + n * w}/{n * workers}", progress, w,
                                                          started, threads_per_worker(workers), os.getpid()))
                 for w in range(workers)]
    failed = run_processes(processes, grace=60)  # time for each to merge what it finished
    if failed:
        raise RuntimeError(f"sweep worker(s) {failed} failed (see above); the jobs they finished are kept, "
                           f"and the same command with --resume goes on")


def run_worker(cfg: SweepConfig, results: str | Path, shard: str, progress: bool, position: int, started: str,
               threads: int, parent: int) -> None:
    """One worker of `run_workers`: its shard, with a one-line error (the parent reports the failure)."""
    start_worker(threads, parent)
    try:
        run_sweep(cfg, results, shard, resume=True, progress=progress, position=position, started=started)
    except KeyboardInterrupt:
        sys.exit(130)  # the parent says so, once
    except (ValueError, RuntimeError, OSError, FloatingPointError) as error:
        # one write, line and newline together: print's two writes interleave with the other workers'
        sys.stderr.write(f"error in sweep worker {position}: {error}\n")
        sys.exit(1)


def start_worker(threads: int, parent: int) -> None:
    """Set a worker's threads, and end it when the sweep that started it is killed: its
    workers would otherwise go on training, orphaned, on the cores a rerun needs."""
    torch.set_num_threads(threads)
    threading.Thread(target=exit_with_parent, args=(parent,), daemon=True).start()


def exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)  # jobs are written atomically, so at most the one in progress is lost


def merge(folder: Path, cfg: SweepConfig, run: dict, throughput: float | None = None) -> pd.DataFrame:
    """Write the merged, sorted ``results.csv`` and ``provenance.json``; ``run`` is this
    process's part of a command: when it started, the command, the commit, its seconds."""
    with open(folder / ".merge.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return write_merged(folder, cfg, run, throughput)


def write_merged(folder: Path, cfg: SweepConfig, run: dict, throughput: float | None) -> pd.DataFrame:
    table = stored_rows(folder).sort_values(["architecture", "k", "seed", "metric", "module", "subtask", "epoch"],
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
    start time; a new one for a process that is the first of its command to finish). A
    process that had no job to do (``seconds`` None) adds nothing."""
    if run["seconds"] is None:
        return runs
    seconds = round(run["seconds"], 3)  # to the ms, as "started": coarser, back-to-back runs would overlap
    for stored in runs:
        if stored["started"] == run["started"]:
            return [r | {"worker_seconds": r["worker_seconds"] + [seconds]} if r is stored else r for r in runs]
    return runs + [{k: v for k, v in run.items() if k != "seconds"} | {"worker_seconds": [seconds]}]


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


def base_config(name: str, results: str | Path = "results") -> SweepConfig:
    """Preset ``name``, or else the sweep stored in ``results/<name>`` (its ``config.json``): a
    sweep run with your own settings resumes by its name alone, and new sweeps can start from it."""
    if name in PRESETS:
        return PRESETS[name]
    stored = Path(results) / name / "config.json"
    if not stored.exists():
        raise ValueError(f"unknown preset {name!r}, and no sweep stored at {stored}; choose one of "
                         f"{', '.join(PRESETS)}, or a sweep you ran (its --name)")
    return replace(SweepConfig.from_dict(json.loads(stored.read_text())), name=name)


def config_with_overrides(preset: str | SweepConfig, results: str | Path = "results", **overrides) -> SweepConfig:
    """A preset (or a sweep stored in ``results``, `base_config`; or a config already looked up)
    with some fields replaced; unknown presets and fields raise a clear error."""
    names = {f.name for f in fields(SweepConfig)}
    unknown = set(overrides) - names
    if unknown:
        raise ValueError(f"unknown sweep setting(s) {sorted(unknown)}; valid: {sorted(names)}")
    base = preset if isinstance(preset, SweepConfig) else base_config(preset, results)
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


def load_results(name: str, results: str | Path = "results") -> pd.DataFrame:
    """The merged table of a sweep, with a clear error when it has not been run."""
    path = Path(results) / name / "results.csv"
    if not path.exists():
        raise FileNotFoundError(f"no stored results at {path}: {how_to_make(name, results)}")
    return read_table(path)


def read_provenance(name: str, results: str | Path = BOOK_RESULTS) -> dict:
    """Stored sweep ``name``'s provenance.json, plus ``wall_seconds``: how long the sweep took
    (`wall_seconds`), over every command that ran it."""
    path = Path(results) / name / "provenance.json"
    if not path.exists():
        raise FileNotFoundError(f"no stored provenance at {path}: {how_to_make(name, results)}")
    provenance = json.loads(path.read_text())
    return provenance | {"wall_seconds": wall_seconds(stored_runs(provenance))}


def made_on(provenance: dict) -> str:
    """The processor a stored sweep ran on (`modlib.bench.processor`), from its provenance;
    sweeps stored before it was recorded say so."""
    return provenance["machine"].get("device", "processor not recorded")


def rerun_jobs(name: str, jobs: int | list[str] = 3, results: str | Path = BOOK_RESULTS, seed: int = 0,
               threads: int | None = None, device: str | None = None, progress: bool = True) -> pd.DataFrame:
    """Retrain and re-measure some jobs of stored sweep ``name`` from its stored config and
    compare them with its stored rows: in a minute, the check that `make reproduce` makes in
    hours. ``jobs``: how many, drawn at random with ``seed``, or a list of job ids. Rows are
    compared as they would be written to ``results.csv``, so "identical" means the stored file
    would not change. ``threads`` defaults to the sweep's own (its provenance): with other
    thread counts, devices or torch versions, some products round differently (chapter
    "Training"); ``device`` replaces the sweep's to measure by how much. Returns per job:
    rows, rows that differ, largest absolute difference."""
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
        rows = [compare_rows(run_job(cfg, by_id[i], data), table[table["job"] == i])
                for i in tqdm(ids, desc=f"rerun {name}", unit="model", disable=not progress)]
    finally:
        torch.set_num_threads(before)
    return pd.DataFrame(rows, index=pd.Index(ids, name="job"))


def compare_rows(fresh: pd.DataFrame, stored: pd.DataFrame) -> dict:
    """How far a job's fresh rows are from its stored ones, both as ``results.csv`` holds them."""
    def as_stored(frame):
        written = read_table(io.StringIO(frame.to_csv(index=False))).drop(columns="job_seconds")
        return written.sort_values(["metric", "module", "subtask", "epoch"], kind="stable", ignore_index=True)

    fresh, stored, numbers = as_stored(fresh), as_stored(stored), ["q", "value"]
    if len(fresh) != len(stored) or not fresh.drop(columns=numbers).equals(stored.drop(columns=numbers)):
        return dict(rows=len(stored), rows_differing=len(stored), largest_difference=np.nan)
    same = (fresh[numbers] == stored[numbers]) | (fresh[numbers].isna() & stored[numbers].isna())
    return dict(rows=len(stored), rows_differing=int((~same).any(axis=1).sum()),
                largest_difference=float((fresh[numbers] - stored[numbers]).abs().max().max()))


REPRODUCE_STATE = ".reproduce.json"  # in the results folder while `reproduce` runs


def reproduced_sweeps() -> list[str]:
    """The stored sweeps that `reproduce` (``make reproduce``) recomputes: every preset but the
    quick ``smoke`` one and the GPU's, which needs a GPU."""
    return [name for name, cfg in PRESETS.items() if name != "smoke" and cfg.device == "cpu"]


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
