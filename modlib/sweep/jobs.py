"""One job of a sweep: train one model, measure it, and return its rows of ``results.csv``."""

from __future__ import annotations

import time

import pandas as pd

from modlib.crossing import CROSSING, crossing_metric
from modlib.ensemble import stacked_model, train_ensemble
from modlib.metrics import METRIC_FUNCTIONS, STACKED_METRICS, MetricData, applicable_metrics, weight_mask_metric
from modlib.structure import model_q
from modlib.timecourse import timecourse_metric
from modlib.sweep.config import SweepConfig, job_id
from modlib.train import new_model, train_model

COLUMNS = ["architecture", "n_hidden", "k", "p", "q", "seed", "metric", "module", "subtask", "epoch", "step", "value",
           "job", "job_seconds"]
WHOLE_NUMBERS = {"module": "Int64", "subtask": "Int64", "epoch": "Int64", "step": "Int64"}  # may be empty (NA)
CURVES = ("train_accuracy", "test_accuracy", "test_loss")  # per epoch, stored as metric "epoch_<name>"
PER_MODULE_CURVES = ("decision_share", "readout_norm")  # per epoch and module, the same


def run_job(cfg: SweepConfig, job, data: MetricData) -> pd.DataFrame:
    """Train one model, measure it, and return its rows."""
    architecture, k, seed = job
    start = time.perf_counter()
    model, record = train_model(cfg.model_config(k, architecture), cfg.train_config(seed), progress=False,
                                splits=(data.train, data.test))
    return measured_rows(cfg, job, model, record, data, start)


def run_ensemble(cfg: SweepConfig, jobs: list, data: MetricData) -> list[pd.DataFrame]:
    """Train the models of ``jobs`` (one architecture) as one ensemble (`modlib.ensemble`), then
    measure each; returns each job's rows. The metrics that can (`modlib.metrics.STACKED_METRICS`:
    the weight masks, the bottleneck readouts) measure all of them at once too, each as it would
    be alone. A job's seconds are its share of the training and of those, and its own other measuring."""
    start = time.perf_counter()
    trained = train_ensemble([cfg.model_config(k, architecture) for architecture, k, _ in jobs],
                             [cfg.train_config(seed) for _, _, seed in jobs], progress=False,
                             splits=(data.train, data.test))
    models, seeds = [model for model, _ in trained], [seed for _, _, seed in jobs]
    names = [name for name in STACKED_METRICS if name in cfg.metrics and name in applicable_metrics(models[0])]
    stacked = stacked_model(models) if names else None  # one copy of the stack for every such metric
    together = {name: METRIC_FUNCTIONS[name](stacked, data, seed=seeds, progress=False, **cfg.metric_options(name))
                for name in names}
    share = (time.perf_counter() - start) / len(jobs)
    return [measured_rows(cfg, job, model, record, data, time.perf_counter() - share,
                          {name: results[i] for name, results in together.items()})
            for i, (job, (model, record)) in enumerate(zip(jobs, trained))]


def measured_rows(cfg: SweepConfig, job, model, record: dict, data: MetricData, start: float,
                  measured: dict | None = None) -> pd.DataFrame:
    """A trained model's rows: its accuracy and learning curves, and what ``cfg`` measures;
    ``start`` is when its job started (`time.perf_counter`); ``measured``: metrics' results
    already computed, by name."""
    architecture, k, seed = job
    base = dict(architecture=architecture, n_hidden=cfg.n_hidden, k=k, p=k / cfg.n_hidden ** 2,
                q=model_q(model), seed=seed)
    rows = [dict(base, metric="accuracy", value=record["test_accuracy"]),
            dict(base, metric="kept_epoch", value=record["kept_epoch"])]
    rows += decision_rows(record, base)
    rows += [dict(base, metric=f"epoch_{curve}", epoch=epoch, value=stats[curve])
             for epoch, stats in enumerate(record["history"], start=1) for curve in CURVES]
    rows += [dict(base, metric=f"epoch_{curve}", epoch=epoch, module=n, value=stats[curve][n])
             for epoch, stats in enumerate(record["history"], start=1) for curve in PER_MODULE_CURVES for n in (0, 1)]
    for name in applicable_metrics(model):
        if name not in cfg.metrics:
            continue
        result = (measured or {}).get(name) or METRIC_FUNCTIONS[name](model, data, seed=seed, progress=False,
                                                                       **cfg.metric_options(name))
        rows += [dict(base, metric=name, module=n, subtask=t, value=float(result["M"][n, t]))
                 for n in (0, 1) for t in (0, 1)]
        rows += [dict(base, metric="mask_accuracy", subtask=t, value=a)
                 for t, a in enumerate(result.get("mask_accuracy", []))]
    if cfg.random_masks and "weight_mask" in cfg.metrics and not model.config.bottleneck:
        rows += random_mask_rows(cfg, job, data, base)
    if "steps" in cfg.metrics:
        rows += step_rows(timecourse_metric(model, data, seed=seed), base)
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


def step_rows(measured: dict, base: dict) -> list[dict]:
    """`modlib.timecourse.timecourse_metric`'s results as rows with their step t = 1..T: each
    table's M[n, k] as module n, sub-task k; ``step_probe_both`` per digit k (sub-task, no module);
    ``step_shown`` per module."""
    rows = []
    for name, values in measured.items():
        for t, value in enumerate(values, start=1):
            if name == "step_shown":
                rows += [dict(base, metric=name, step=t, module=n, value=float(value[n])) for n in (0, 1)]
            elif name == "step_probe_both":
                rows += [dict(base, metric=name, step=t, subtask=k, value=float(value[k])) for k in (0, 1)]
            else:
                rows += [dict(base, metric=name, step=t, module=n, subtask=k, value=float(value[n, k]))
                         for n in (0, 1) for k in (0, 1)]
    return rows


def decision_rows(record: dict, base: dict) -> list[dict]:
    """Which module decides, in the kept model (`modlib.train.evaluate`): metric
    ``decision_share``, module n, on all test pairs (no sub-task) and on those whose answer is
    digit t (sub-task t); and ``readout_norm``, module n."""
    return ([dict(base, metric="decision_share", module=n, value=record["decision_share"][n]) for n in (0, 1)]
            + [dict(base, metric="decision_share", module=n, subtask=t, value=record["decision_share_by_answer"][n][t])
               for n in (0, 1) for t in (0, 1)]
            + [dict(base, metric="readout_norm", module=n, value=record["readout_norm"][n]) for n in (0, 1)])


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


