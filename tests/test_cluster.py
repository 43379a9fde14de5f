import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from modlib.sweep import PRESETS, SweepConfig, read_provenance, read_table, run_sweep
from modlib.sweep.cluster import ClusterExecutor

from tests.conftest import needs_mnist

ROOT = Path(__file__).resolve().parents[1]
TINY = SweepConfig(name="tiny", levels=2, seeds=1, epochs=1, train_images=2000, test_images=1000,
                   metrics=("correlation",))


def table(folder: Path) -> pd.DataFrame:
    return read_table(folder / "results.csv").drop(columns="job_seconds")


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as each array task has (cpus_per_job), for identical rows
    yield
    torch.set_num_threads(before)


@needs_mnist
def test_the_smoke_preset_as_a_submitit_array_gives_the_local_runners_table(tmp_path, one_thread):
    local = run_sweep(PRESETS["smoke"], tmp_path / "local", progress=False)
    array = run_sweep(PRESETS["smoke"], tmp_path / "array", progress=False,
                      executor=ClusterExecutor(cluster="local", array_parallelism=2))
    pd.testing.assert_frame_equal(table(local), table(array))
    provenance = read_provenance("smoke", tmp_path / "array")
    [run] = provenance["runs"]
    assert provenance["jobs_finished"] == 6 and len(run["worker_seconds"]) == 2  # one per task
    assert run["executor"]["name"] == "submitit-local" and len(run["executor"]["job_ids"]) == 2
    assert Path(run["executor"]["log_folder"]).is_dir() and run["command"]


def task_processes(folder: Path) -> list[int]:
    """The pids of submitit's local task processes whose logs are under ``folder``."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "submitit.core._submit" in command and str(folder) in command:
            pids.append(int(proc.name))
    return pids


def sweep_command(tmp_path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "modlib", "sweep", "--preset", "tiny", "--results", str(tmp_path),
            "--executor", "submitit-local", "--array-parallelism", "2", *extra]


@needs_mnist
def test_a_killed_task_is_named_with_its_log_and_resume_finishes_its_jobs(tmp_path):
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    run_sweep(TINY, tmp_path, progress=False, shard="0/4")  # one job done: the folder holds tiny
    first = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "tiny" / "jobs").glob("*.csv")}
    sweep = subprocess.Popen(sweep_command(tmp_path, "--resume"), env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (pids := task_processes(tmp_path / "tiny" / "logs")) and time.time() < deadline:
        time.sleep(0.1)
    os.kill(pids[0], signal.SIGKILL)
    _, err = sweep.communicate(timeout=300)
    assert sweep.returncode == 1
    error = err[err.index("error: "):].splitlines()
    assert "sweep task(s) failed" in error[0] and "--resume" in error[0]
    killed = r"task \S+ \(jobs (standard|bottleneck)-k\d+-s00(, \S+)?\): ended without a result .*; log: "
    assert re.match(killed, error[1])
    assert Path(error[1].split("log: ")[1]).parent.is_dir()
    finished = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "tiny" / "jobs").glob("*.csv")}
    assert len(finished) < 4 and first.items() <= finished.items()
    again = subprocess.run(sweep_command(tmp_path, "--resume"), env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert read_provenance("tiny", tmp_path)["jobs_finished"] == 4
    kept = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "tiny" / "jobs").glob("*.csv")}
    assert finished.items() <= kept.items()  # nothing finished was trained again


def test_a_slurm_array_without_sbatch_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="sbatch, which is not on this machine's PATH.*login node"):
        run_sweep(TINY, tmp_path, progress=False, executor=ClusterExecutor(cluster="slurm", partition="gpu"))
    assert not (tmp_path / "tiny").exists()


@pytest.mark.parametrize("options, message", [
    (dict(array_parallelism=0), "--array-parallelism must be >= 1"),
    (dict(gpus_per_job=-1), "--gpus-per-job must be >= 0"),
    (dict(cluster="ray"), "unknown submitit cluster 'ray'"),
])
def test_bad_cluster_settings_give_one_clear_error(options, message):
    with pytest.raises(ValueError, match=message):
        ClusterExecutor(**options)


def test_gpus_for_a_cpu_sweep_are_refused(tmp_path):
    with pytest.raises(ValueError, match="--gpus-per-job 1 asks for GPUs.*--device cuda"):
        ClusterExecutor(cluster="local", gpus_per_job=1).check(replace(TINY, device="cpu"))


@pytest.mark.parametrize("argv, message", [
    (["--partition", "gpu"], "--partition set.*add --executor slurm"),
    (["--task-minutes", "30", "--cpus-per-job", "4"], "--cpus-per-job, --task-minutes set"),
    (["--executor", "slurm", "--workers", "2"], "--array-parallelism divides them"),
])
def test_cluster_flags_without_a_cluster_are_refused(tmp_path, argv, message, capsys):
    from modlib.__main__ import main

    assert main(["sweep", "--preset", "smoke", "--results", str(tmp_path), *argv]) == 1
    assert re.search(message, capsys.readouterr().err)


@needs_mnist
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU, where a cuda task fails")
def test_tasks_that_fail_are_named_with_their_error_and_log(tmp_path, monkeypatch):
    with pytest.raises(RuntimeError) as failed:
        run_sweep(replace(TINY, device="cuda"), tmp_path, progress=False,
                  executor=ClusterExecutor(cluster="local", array_parallelism=2))
    summary, *tasks = str(failed.value).splitlines()
    assert summary.startswith("2 of 2 sweep task(s) failed") and "--resume" in summary
    assert [re.match(r"task \S+ \(jobs standard-k(00001|10000)-s00, bottleneck-k(00001|10000)-s00\): ValueError: "
                     r"device 'cuda' asked for, but PyTorch finds no CUDA GPU .*; log: (\S+)$", t).group(3)
            for t in tasks] == [str(p) for p in sorted((tmp_path / "tiny" / "logs").glob("*/*_log.err"))]
