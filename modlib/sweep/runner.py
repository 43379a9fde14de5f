"""Running a sweep: the jobs still to do, run by local processes (``--workers``, ``--shard``) or
handed to another executor (`modlib.sweep.cluster`), each finished job written atomically and
merged under a lock, so that any run can be interrupted and resumed."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from tqdm import tqdm

from modlib.bench import matmul_throughput, run_processes, threads_per_worker
from modlib.data import write_atomic
from modlib.metrics import MetricData
from modlib.sweep.config import SweepConfig, job_id
from modlib.sweep.jobs import run_ensemble, run_job
from modlib.sweep.store import check_folder, git_commit, merge, stored_rows, write_csv_atomic
from modlib.train import check_device


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
              started: str | None = None, executor=None) -> Path:
    """Run (this shard of) a sweep into ``results/<name>/`` and merge what is finished.
    ``workers`` > 1 splits the shard among that many processes (`run_workers`);
    ``executor`` (e.g. `modlib.sweep.cluster.ClusterExecutor`) hands the jobs to it instead;
    ``position`` is the line of this process's progress bar; ``started`` names the command
    this process is part of (its start time; `run_workers` passes its own to its workers).
    An interrupted or failing run still merges the jobs it finished, and records its time."""
    started = started or datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    i, n = parse_shard(shard)
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    if executor is None:
        check_device(cfg.device)
    else:  # a cluster's tasks check the device where they run
        executor.check(cfg)
    folder = prepared_folder(cfg, results, resume, fresh)
    todo = select_jobs(cfg, (i, n), done=set(stored_rows(folder)["job"]))
    run = {"started": started, "command": " ".join(sys.argv), "git_commit": git_commit()}
    if not todo:  # nothing to train, no run to record
        merge(folder, cfg, run | {"seconds": None})
    elif executor is not None:
        executor.run(cfg, folder, [job_id(job) for job in todo], run, progress)
    elif workers > 1:
        run_workers(cfg, results, (i, n), workers, progress, started)
    else:
        run_jobs(cfg, folder, todo, run, progress, desc=f"sweep {cfg.name} [{i}/{n}]", position=position)
    return folder


def prepared_folder(cfg: SweepConfig, results: str | Path, resume: bool, fresh: bool) -> Path:
    """The sweep's folder, emptied first when ``fresh``, checked to hold this sweep (`check_folder`),
    with its ``config.json``."""
    folder = Path(results) / cfg.name
    if fresh:
        for path in [*folder.glob("jobs/*.csv"), folder / "results.csv", folder / "config.json",
                     folder / "provenance.json"]:
            path.unlink(missing_ok=True)
    check_folder(folder, cfg, resume)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / "config.json", json.dumps(cfg.to_dict(), indent=2).encode())
    return folder


def run_jobs(cfg: SweepConfig, folder: Path, todo: list, run: dict, progress: bool = True, desc: str = "",
             position: int = 0) -> None:
    """Train and measure the jobs ``todo`` in this process, writing each one's rows as it ends, and
    merge at the end, also when interrupted. ``run``: the command this is part of (`merge`)."""
    data = MetricData.load(cfg.train_config(0))

    def throughput():
        return matmul_throughput(cfg.model_config(1, "standard"), cfg.batch_size, cfg.device)

    before = throughput()
    bar = tqdm(total=len(todo), desc=desc or f"sweep {cfg.name}", disable=not progress, unit="model",
               position=position)
    try:
        for group in cfg.groups(todo):  # an ensemble's models are written when all of them are done
            frames = run_ensemble(cfg, group, data) if len(group) > 1 else [run_job(cfg, group[0], data)]
            for job, frame in zip(group, frames):
                write_csv_atomic(frame, folder / "jobs" / f"{job_id(job)}.csv")
            bar.update(len(group))
        # The shared machine's speed drifts over a long run: average a measurement at each end.
        average = (before + throughput()) / 2
    except BaseException:  # Ctrl-C or an error: keep what is finished
        merge(folder, cfg, run | {"seconds": seconds_since(run["started"])}, throughput=before)
        raise
    finally:
        bar.close()
    merge(folder, cfg, run | {"seconds": seconds_since(run["started"])}, throughput=average)


def run_task(cfg: SweepConfig, results: str, ids: list[str], run: dict, threads: int) -> None:
    """One task of an executor (`modlib.sweep.cluster`), wherever it runs: the jobs ``ids`` of the sweep
    in ``results``, those not finished yet, with ``threads`` torch threads."""
    torch.set_num_threads(threads)
    check_device(cfg.device)
    folder = Path(results) / cfg.name
    wanted = set(ids) - set(stored_rows(folder)["job"])
    todo = [job for job in cfg.jobs() if job_id(job) in wanted]
    if todo:
        run_jobs(cfg, folder, todo, run, progress=False)


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


