"""Sweeps on a cluster: a sweep's jobs as a SLURM job array, through submitit.

`ClusterExecutor` is an executor for `modlib.sweep.runner.run_sweep`: it splits the jobs still to
do into ``array_parallelism`` tasks (task i takes jobs i, i + n, ... as ``--shard`` does), submits
them as one array, and waits. Each task runs `modlib.sweep.runner.run_task`, which writes every
finished job's rows atomically into the sweep's folder and merges under the folder's lock, exactly
as local workers do; so the folder must be on a file system that the login node and the compute
nodes share, ``--resume`` and the merge work whoever ran a job, and a failed or cancelled task
loses only the job it was in. submitit's own logs (each task's output, errors and pickled call) go
under ``<results>/<name>/logs/<start time>/``, and ``provenance.json`` records that folder, the array's
job ids and the command for the run.

Another engine (Ray, Dask, ...) is another class with the same ``check`` and ``run`` methods:
it runs `modlib.sweep.runner.run_task` on groups of job ids somewhere, waits, and says which
failed.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from modlib.model import require
from modlib.sweep.config import SweepConfig
from modlib.sweep.runner import run_task
from modlib.sweep.store import merge

# --executor names: what each hands the jobs to. "local" (the default) is modlib.sweep.runner's own
# processes; "submitit-local" is the cluster path run on this machine, each task a process, for
# trying it without a cluster; "submitit-debug" runs the tasks one by one in this process and opens
# the debugger (pdb) where one fails.
EXECUTORS = {"local": None, "slurm": "slurm", "submitit-local": "local", "submitit-debug": "debug"}


@dataclass(frozen=True)
class ClusterExecutor:
    """How to submit: submitit's ``cluster`` ("slurm", "local" or "debug"), the SLURM
    ``partition``, how many tasks (``array_parallelism``, all of which may run at once), GPUs and
    CPU threads per task, and each task's time limit in minutes."""

    cluster: str = "slurm"
    partition: str | None = None
    array_parallelism: int = 50
    gpus_per_job: int = 0
    cpus_per_job: int = 1
    timeout_min: int = 240

    def __post_init__(self):
        require([
            (self.cluster in EXECUTORS.values(), f"unknown submitit cluster {self.cluster!r}: "
                                                 f"use one of slurm, local, debug"),
            (self.array_parallelism >= 1, f"--array-parallelism must be >= 1 (tasks in the array), "
                                          f"got {self.array_parallelism}"),
            (self.gpus_per_job >= 0, f"--gpus-per-job must be >= 0, got {self.gpus_per_job}"),
            (self.cpus_per_job >= 1, f"--cpus-per-job must be >= 1, got {self.cpus_per_job}"),
            (self.timeout_min >= 1, f"--task-minutes must be >= 1, got {self.timeout_min}"),
        ])

    def check(self, cfg: SweepConfig) -> None:
        """Refuse, before anything is submitted, what would fail in every task."""
        require([(not (self.gpus_per_job and cfg.device == "cpu"),
                  f"--gpus-per-job {self.gpus_per_job} asks for GPUs that sweep {cfg.name!r} would not use "
                  f"(its device is cpu): add --device cuda, or leave --gpus-per-job out")])
        if self.cluster == "slurm" and not shutil.which("sbatch"):
            raise ValueError("--executor slurm submits with SLURM's sbatch, which is not on this machine's PATH: "
                             "run the command on the cluster's login node, or use --executor local")

    def executor(self, logs: Path):
        import submitit

        executor = submitit.AutoExecutor(folder=logs, cluster=self.cluster)
        executor.update_parameters(timeout_min=self.timeout_min, gpus_per_node=self.gpus_per_job,
                                   cpus_per_task=self.cpus_per_job, name="modlib-sweep")
        if self.cluster == "slurm":
            executor.update_parameters(slurm_array_parallelism=self.array_parallelism,
                                       **({"slurm_partition": self.partition} if self.partition else {}))
        return executor

    def run(self, cfg: SweepConfig, folder: Path, ids: list[str], run: dict, progress: bool = True) -> None:
        """Run the jobs ``ids`` of sweep ``cfg`` (stored in ``folder``) as an array; ``run`` is the command
        (`modlib.sweep.store.merge`). Raises one error naming every failed task and its log."""
        from submitit.core.utils import FailedSubmissionError

        tasks = [ids[i::self.array_parallelism] for i in range(min(self.array_parallelism, len(ids)))]
        logs = folder / "logs" / run["started"].replace(":", "-")
        results = str(folder.parent)
        try:
            array = self.executor(logs).map_array(run_task, [cfg] * len(tasks), [results] * len(tasks), tasks,
                                                  [run] * len(tasks), [self.cpus_per_job] * len(tasks))
        except FailedSubmissionError as error:
            raise ValueError(f"sbatch refused the sweep's array ({error}); check --partition and the cluster's "
                             f"limits, then run the same command again") from None
        name = next(flag for flag, cluster in EXECUTORS.items() if cluster == self.cluster)
        record = {"name": name, "log_folder": str(logs), "job_ids": [job.job_id for job in array], "tasks": len(tasks)}
        merge(folder, cfg, run | {"seconds": None, "executor": record})
        try:
            failed = wait_for(array, tasks, progress, f"sweep {cfg.name} [{name}]")
        finally:  # the tasks merged what they finished; this merge sees all of it, also after Ctrl-C
            merge(folder, cfg, run | {"seconds": None})
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(tasks)} sweep task(s) failed; the jobs finished are kept, and "
                               f"the same command with --resume runs the others again.\n" + "\n".join(failed))


def wait_for(array: list, tasks: list[list[str]], progress: bool, desc: str) -> list[str]:
    """Wait for every task of ``array`` (running ``tasks``' job ids); returns a line per failed task,
    naming it, its jobs, its last error line and its log. Ctrl-C cancels the tasks still running."""
    failed = []
    try:
        for job, ids in tqdm(zip(array, tasks), total=len(array), desc=desc, unit="task", disable=not progress):
            try:
                job.result()
            except Exception as error:  # a task's own error, or submitit's (killed, timed out, preempted)
                failed.append(f"task {job.job_id} (jobs {', '.join(ids)}): {failure(job, error)}; "
                              f"log: {job.paths.stderr}")
    except KeyboardInterrupt:
        for job in array:
            if not job.done():
                job.cancel(check=False)
        raise
    return failed


def failure(job, error: Exception) -> str:
    """What went wrong in a task, in a line: the last exception its error stream or traceback
    shows, or else that it ended without a result (killed, say)."""
    lines = [line.strip() for line in str(error).splitlines()]
    raised = [line for line in lines if re.match(r"[\w.]*(Error|Exception|Interrupt)\b", line)]
    return raised[-1] if raised else f"ended without a result (state {job.state}: killed, cancelled or out of time)"
