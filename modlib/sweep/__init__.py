"""The sweep: train and measure one model per (level, seed, architecture), resumably.

What to run is `SweepConfig` and its jobs (`modlib.sweep.config`), the stored presets
(`modlib.sweep.presets`) and one job's rows (`modlib.sweep.jobs`); how to run it is the
local runner (`modlib.sweep.runner`: ``--workers``, ``--shard``) or a cluster through
submitit (`modlib.sweep.cluster`); the folder it fills is `modlib.sweep.store`; checking
stored sweeps again is `modlib.sweep.reproduce`.

Each finished job writes its rows to ``<results>/<name>/jobs/<job>.csv`` atomically, whoever
runs it; ``--resume`` skips jobs already there or already in the merged table. Whenever a
process ends, all finished jobs are merged (under a file lock) into ``results.csv`` (one row per
model, module, sub-task and metric, plus each model's final test accuracy, the epoch kept,
which module decides and each module's readout norm, and after every epoch its train and test
accuracy, test loss, decision shares and readout norms) and ``provenance.json`` (config, commit, versions, machine,
the commands and timings).
"""

from modlib.sweep.config import ARCHITECTURES, BOTTLENECK_WIDTH, MEASUREMENTS, SweepConfig, job_id
from modlib.sweep.jobs import COLUMNS, CURVES, run_job
from modlib.sweep.presets import (AUTHORS_VARIANTS, CELL_SWEEPS, LONG_MODULI, MASK_Q_CALIBRATED, MASK_Q_CANDIDATES,
                                  MASK_SENSITIVITY, MODULE_CONTROLS, MODULUS_SWEEPS, PRESETS, READOUT_SWEEPS, SIZES,
                                  STEP_CONDITIONS, VARIANTS, base_config, config_with_overrides, reproduced_sweeps)
from modlib.sweep.reproduce import REPRODUCE_STATE, reproduce, rerun_jobs, results_for_book
from modlib.sweep.runner import parse_shard, run_sweep, select_jobs
from modlib.sweep.store import (BOOK_RESULTS, check_folder, git_commit, load_results, made_on, read_provenance,
                                read_table, training_floor, wall_seconds, with_run)

__all__ = ["ARCHITECTURES", "AUTHORS_VARIANTS", "BOOK_RESULTS", "BOTTLENECK_WIDTH", "CELL_SWEEPS", "COLUMNS", "CURVES",
           "LONG_MODULI", "READOUT_SWEEPS", "SIZES", "STEP_CONDITIONS",
           "MASK_Q_CALIBRATED", "MASK_Q_CANDIDATES", "MASK_SENSITIVITY", "MEASUREMENTS", "MODULE_CONTROLS",
           "MODULUS_SWEEPS", "PRESETS", "REPRODUCE_STATE", "VARIANTS", "SweepConfig", "base_config", "check_folder",
           "config_with_overrides", "git_commit", "job_id", "load_results", "made_on", "parse_shard",
           "read_provenance", "read_table", "reproduce", "reproduced_sweeps", "rerun_jobs", "results_for_book",
           "run_job", "run_sweep", "select_jobs", "training_floor", "wall_seconds", "with_run"]
