"""The reproduction's command line: fetch MNIST, train and measure one model, benchmark training,
and run, check and plot sweeps. `python -m modlib COMMAND --help` describes each command."""

from __future__ import annotations

import argparse
import sys


def cmd_data(args):
    from modlib.data import ensure_mnist, raw_dir

    root = ensure_mnist(args.data_root)
    print(f"MNIST ready in {raw_dir(root)}")


def set_threads(args):
    threads = getattr(args, "threads", None)
    if threads is not None:
        import torch

        if threads < 1:
            raise ValueError(f"--threads must be >= 1 (the CPU threads to use), got {threads}")
        torch.set_num_threads(threads)


# Config fields and the command-line arguments that set them (None: not given, keep the default).
MODEL_SETTINGS = {"n_hidden": "hidden", "n_connections": "connections", "bottleneck": "bottleneck",
                  "decision": "decision", "message": "message", "init": "init", "n_steps": "steps",
                  "readout": "readout", "cell": "cell"}
TRAIN_SETTINGS = {"seed": "seed", "epochs": "epochs", "batch_size": "batch_size", "rule": "rule",
                  "modulus": "modulus", "exclude": "exclude", "exclusion": "exclusion", "balance": "balance",
                  "deepr_lr_range": "deepr_lr",
                  "train_readout": "train_readout", "stop_accuracy": "stop_accuracy", "train_images": "train_images",
                  "test_images": "test_images", "device": "device", "engine": "engine", "rewire": "rewire",
                  "optimizer": "optimizer", "lr": "lr", "lr_decay": "lr_decay", "normalize": "normalize",
                  "fixed_pairs": "fixed_pairs", "keep": "keep", "stop_min_epochs": "stop_min_epochs",
                  "noise": "noise", "onsets": "onsets"}
MASK_SETTINGS = {"mask_fraction": "mask_fraction", "mask_repeats": "mask_repeats",  # as MASK_OPTIONS in metrics
                 "mask_epochs": "mask_epochs", "mask_score_init": "mask_score_init",
                 "mask_interconnections": "mask_interconnections", "mask_selection": "mask_selection"}
# A sweep sets k and the architectures (with or without the bottleneck) itself, and numbers its seeds.
SWEEP_SETTINGS = {**{field: arg for field, arg in {**MODEL_SETTINGS, **TRAIN_SETTINGS}.items()
                     if field not in ("n_connections", "bottleneck", "seed")},
                  "name": "name", "levels": "levels", "k_values": "connections", "seeds": "seeds",
                  "architectures": "architectures", "metrics": "metrics", "random_masks": "random_masks",
                  "ensemble": "ensemble", "grid": "grid", **MASK_SETTINGS}


class ReadoutChoice(argparse.Action):
    """``--readout frozen`` is separate readouts left at their initial weights: it sets both the
    model's readout and training's ``train_readout``."""

    def __call__(self, parser, namespace, value, option_string=None):
        namespace.readout = "separate" if value == "frozen" else value
        if value == "frozen":
            namespace.train_readout = False


def given(args, settings: dict) -> dict:
    """The config fields that were set on the command line."""
    return {field: getattr(args, arg) for field, arg in settings.items() if getattr(args, arg, None) is not None}


def model_and_train_configs(args):
    from modlib.model import ModelConfig
    from modlib.train import TrainConfig

    return ModelConfig(**given(args, MODEL_SETTINGS)), TrainConfig(**given(args, TRAIN_SETTINGS))


def cmd_train(args):
    import json

    from modlib.train import save_run, train_model

    model_cfg, train_cfg = model_and_train_configs(args)
    model, record = train_model(model_cfg, train_cfg)
    out = save_run(args.out, model, record)
    print(json.dumps({"out": str(out), "test_accuracy": record["test_accuracy"],
                      "seconds": round(record["seconds"], 1)}))


def cmd_bench(args):
    from modlib.bench import measure_seconds, run_benchmark

    if args.measures:
        measure_seconds(*model_and_train_configs(args))
        return
    run_benchmark(*model_and_train_configs(args), workers=args.workers, ensemble=args.ensemble)


def metric_config(args, record: dict):
    """The pairs a saved model was trained on (its exclusion, balancing and image counts, as
    far as its run.json says), with this command's device and image counts where given: a
    model is measured on the pairs it learned, as in a sweep."""
    from modlib.train import TrainConfig

    trained = {key: record["train"][key] for key in ("modulus", "exclude", "exclusion", "balance", "normalize",
                                                             "train_images", "test_images", "noise", "onsets")
               if key in record.get("train", {})}
    settings = {key: TRAIN_SETTINGS[key] for key in ("device", "train_images", "test_images")}
    return TrainConfig(**{**trained, **given(args, settings)})


def cmd_metrics(args):
    import json
    import time

    import numpy as np

    from modlib.metrics import METRIC_FUNCTIONS, MetricData, applicable_metrics, check_mask_options, metric_options
    from modlib.train import load_run

    settings = given(args, MASK_SETTINGS)
    check_mask_options(**metric_options("weight_mask", settings))  # before any metric is computed
    model, record = load_run(args.run, args.device)
    cfg = metric_config(args, record)
    names = args.metric or applicable_metrics(model, cfg.trial.static)
    if not cfg.trial.static and "weight_mask" in names:
        raise ValueError("the weight mask is measured on the paper's trial only (the same image at every step), and "
                         f"{args.run} was trained with noise {cfg.noise} and {cfg.onsets} onsets: ask for "
                         f"--metric correlation, cka or bottleneck")
    data = MetricData.load(cfg, seed=args.seed)
    results = {}
    for name in names:
        start = time.perf_counter()
        result = METRIC_FUNCTIONS[name](model, data, seed=args.seed, **metric_options(name, settings))
        results[name] = {key: getattr(v, "tolist", lambda: v)() for key, v in result.items()}
        results[name]["seconds"] = round(time.perf_counter() - start, 2)
        rounded = {key: np.round(results[name][key], 3).tolist() for key in ("M", "specialization")}
        print(f"{name}: M={rounded['M']} specialization={rounded['specialization']} ({results[name]['seconds']} s)")
    (args.run / "metrics.json").write_text(json.dumps(results, indent=2))
    print(f"metrics in {args.run / 'metrics.json'} (M[module][subtask], unrounded)")


def cmd_sweep(args):
    from pathlib import Path

    from modlib.sweep import base_config, config_with_overrides, read_provenance, run_sweep
    from modlib.sweep.presets import ABOUT

    if args.list:
        print_presets(args.results)
        return
    if args.preset is None:
        raise ValueError("sweep needs --preset NAME: a preset (python -m modlib sweep --list shows them) or a sweep "
                         "you ran")
    overrides = given(args, SWEEP_SETTINGS)
    if args.ensemble == "auto":
        from modlib.ensemble import auto_size

        overrides["ensemble"] = auto_size(overrides.get("device") or base_config(args.preset, args.results).device)
    if args.levels is not None:
        if args.connections is not None:
            raise ValueError("give --levels (that many levels, geometric in k) or --connections (a list of k), "
                             "not both")
        overrides["k_values"] = ()  # a preset's own list of k would otherwise win
    base = base_config(args.preset, args.results)
    cfg = config_with_overrides(base, **overrides)
    if args.show:
        if args.preset in ABOUT:
            group, about = ABOUT[args.preset]
            print(f"{'preset':>15}: {args.preset} ({group}): {about}")
        for key, value in cfg.to_dict().items():
            unused = " (not used: k_values are given)" if key == "levels" and cfg.k_values else ""
            print(f"{key:>15}: {value}{unused}")
        print(f"{'connections':>15}: {cfg.connections()}")
        print(f"{'jobs':>15}: {len(cfg.jobs())}")
        return
    before = base.to_dict()
    changed = [f"{key}={value}" for key, value in cfg.to_dict().items() if value != before[key]]
    if changed and args.name is None:
        raise ValueError(f"overriding {args.preset!r} ({', '.join(changed)}) needs --name NAME, "
                         f"so that its results do not mix with {Path(args.results) / args.preset}")
    folder = run_sweep(cfg, args.results, shard=args.shard, resume=args.resume, fresh=args.fresh,
                       workers=args.workers, executor=cluster_executor(args))
    stored = read_provenance(cfg.name, args.results)
    print(f"{stored['jobs_finished']} of {stored['jobs_total']} jobs finished; results in {folder / 'results.csv'}")


def print_presets(results: str) -> None:
    """The presets by group: name, models, minutes of the stored sweep (provenance) and what it asks."""
    from modlib.sweep.presets import PRESETS
    from modlib.sweep.store import preset_table

    table = preset_table(results)
    width = table["preset"].str.len().max()
    print(f"{'preset':<{width}}  models  minutes  what it asks (minutes: the stored sweep's wall time, 2 CPU cores "
          f"unless said)")
    for group, rows in table.groupby("group", observed=True, sort=False):
        print(f"\n{group}")
        for row in rows.itertuples():
            minutes = "" if row.minutes != row.minutes else f"{row.minutes:.0f}"  # NaN: not stored
            where = "" if PRESETS[row.preset].device == "cpu" else " (on a GPU)"
            print(f"{row.preset:<{width}}  {row.models:>6}  {minutes:>7}  {row.about}{where}")


def cmd_rerun(args):
    import torch

    from modlib.bench import processor
    from modlib.sweep import git_commit, made_on, read_provenance, rerun_jobs
    from modlib.sweep.reproduce import IDENTICAL_TO
    from modlib.train import check_device

    def short(commit: str) -> str:
        return commit[:12] + ("-dirty" if commit.endswith("-dirty") else "")

    stored = read_provenance(args.preset, args.results)
    threads = args.threads or stored["machine"]["torch_threads"]
    device = args.device or stored["config"]["device"]
    check_device(device)  # before naming its processor: a GPU sweep on a machine without one
    print(f"sweep {args.preset!r}\nstored: commit {short(stored['git_commit'])}, torch {stored['versions']['torch']}, "
          f"{stored['machine']['torch_threads']} thread(s), {made_on(stored)}\nrerun:  commit {short(git_commit())}, "
          f"torch {torch.__version__}, {threads} thread(s), {processor(device)}")
    compared = rerun_jobs(args.preset, args.job or args.jobs, args.results, seed=args.seed, threads=threads,
                          device=args.device)
    print(compared.to_string())
    if compared["new_rows"].any():
        print("new_rows: rows of measurements the stored sweep was made without, not compared")
    differing = int((compared["rows_differing"] > 0).sum())
    if differing:
        raise RuntimeError(f"{differing} of {len(compared)} rerun jobs differ from the stored rows: with the stored "
                           f"commit, torch, thread count and processor (above) this is a change in the code's "
                           f"arithmetic; otherwise rounding can differ, as on another kind of CPU (book chapter "
                           f"'Training', 'Speed')")
    print(f"all {len(compared)} rerun jobs are identical to the stored rows (every number within a relative "
          f"{IDENTICAL_TO:g} of the stored one; largest difference {compared['largest_difference'].max():.1e})")


def cmd_claims(args):
    import numpy as np
    import pandas as pd

    from modlib.analysis.claims import claims
    from modlib.analysis.frames import level_means
    from modlib.sweep import PRESETS, load_results

    table = load_results(args.preset, args.results)
    paper = PRESETS["paper"]
    paper_levels = [k / paper.n_hidden ** 2 for k in paper.connections()]  # the p the criteria were fixed on
    means = level_means(table)
    with pd.option_context("display.width", 200, "display.max_colwidth", 100):
        print(claims(table).to_string(index=False))
        if means.empty:
            print(f"\nno specialization metrics in sweep {args.preset!r} (it was run with --metrics \"\")")
        else:
            print("\nmean specialization per level p (rows) and measure (columns):")
            print(means.round(3).to_string())
            if len(means) != len(paper_levels) or not np.allclose(means.index, paper_levels):
                print(f"note: onsets can only fall on this sweep's {len(means)} levels of p; the criteria were "
                      f"fixed on the paper's {len(paper_levels)} (p = {paper_levels[0]:g} to {paper_levels[-1]:g})")


def cmd_reproduce(args):
    from modlib.sweep import reproduce, reproduced_sweeps

    reproduce(reproduced_sweeps(), args.results, workers=args.workers, resume=args.resume)


def cmd_figures(args):
    from modlib.plots import write_figures

    for path in write_figures(args.preset, args.results, readme=args.readme):
        print(path)


def comma_separated(kind):
    """An argparse type for ``a,b,c``: a tuple of ``kind`` (empty for "")."""
    def parse(text: str) -> tuple:
        try:
            return tuple(kind(value) for value in text.split(",") if value.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {kind.__name__} values, got {text!r}") from None
    return parse


def add_mask_arguments(p):
    """The weight mask's settings, shared by sweep and metrics; one not given keeps the default."""
    from modlib.metrics import MASK_SELECTIONS

    p.add_argument("--mask-fraction", type=float,
                   help="weight mask: fraction q of the scored weights each mask keeps (the paper's 0.05)")
    p.add_argument("--mask-repeats", type=int,
                   help="weight mask: masks trained per sub-task from different random scores, averaged "
                        "(default 1; the authors' code used several)")
    p.add_argument("--mask-epochs", type=int, help="weight mask: epochs each mask trains (the paper's 1)")
    p.add_argument("--mask-score-init", type=float, metavar="B",
                   help="weight mask: scores start from U(-B, B) (default 0.1; the paper does not say)")
    p.add_argument("--mask-interconnections", action=argparse.BooleanOptionalAction,
                   help="weight mask: score the active interconnections too, each counted in its receiving "
                        "module (default: no, as in the authors' code)")
    p.add_argument("--mask-selection", choices=MASK_SELECTIONS,
                   help="weight mask: keep the top q by the score's magnitude (edge-popup's, default) or by the "
                        "signed score, whose gradient then has no sign factor (signed: the authors' code)")


def add_setting_arguments(p):
    """Settings of the model and its training that train, bench and sweep share; an argument not
    given keeps the default (for sweep: the preset's)."""
    from modlib.model import CELLS, DECISIONS, INITS, MESSAGES
    from modlib.native import ENGINES
    from modlib.task import EXCLUSIONS, RULES
    from modlib.train import KEEPS, OPTIMIZERS
    from modlib.trial import ONSETS

    p.add_argument("--hidden", type=int, help="units per module N (default 100)")
    p.add_argument("--epochs", type=int, help="training epochs (default: the paper's 5, or 7 with a bottleneck)")
    p.add_argument("--batch-size", type=int, help="pairs per training step (default 128)")
    p.add_argument("--decision", choices=DECISIONS, help="max (the paper's, default) or absmax (authors' code)")
    p.add_argument("--message", choices=MESSAGES,
                   help="after (the paper's, default) or before (enters before W_hh: authors' code)")
    p.add_argument("--init", choices=INITS, help="uniform: every weight from U(-0.1, 0.1), the paper's (default); "
                                                 "pytorch: PyTorch's default per layer, the authors' code")
    p.add_argument("--rule", choices=RULES, help="which digit is the target: prose (the paper's words, default) "
                                                 "or equation (its equation, the opposite)")
    p.add_argument("--modulus", type=int, metavar="M",
                   help="report digit 0 when (D0 + D1) mod M < M/2: 2 is the paper's parity task (default); "
                        "up to 10, the modules must share their digit mod M, log2(M) bits")
    p.add_argument("--exclude", action=argparse.BooleanOptionalAction,
                   help="leave out the paper's excluded digit pairs (default: yes; the authors' code: no)")
    p.add_argument("--exclusion", choices=EXCLUSIONS,
                   help="which pairs are excluded: paper, (D1 - D0) mod 10 in {0, 1} (default); mirrored, "
                        "(D0 - D1) mod 10 in {0, 1}, a control for what makes the two modules differ")
    p.add_argument("--balance", action=argparse.BooleanOptionalAction,
                   help="subsample pairs so that both answers (digit 0, digit 1) are equally frequent, "
                        "as are both parities for the paper's task (default: yes)")
    p.add_argument("--deepr-lr", type=comma_separated(float), metavar="SPARSEST,DENSEST",
                   help="Deep-R learning rates at p = 1/N^2 and p = 1 (default 0.1,0.01; authors' code 0.1,0.001)")
    p.add_argument("--train-readout", action=argparse.BooleanOptionalAction,
                   help="train the last readout layer (default: yes; the authors' April 2022 configs: no)")
    p.add_argument("--stop-accuracy", type=float, metavar="ACC",
                   help="stop once an epoch (from the second on) reaches this test accuracy (default: never; "
                        "the authors' code: 0.9)")
    p.add_argument("--stop-min-epochs", type=int, metavar="E",
                   help="early stopping is judged from epoch E on (default 2; the authors' main script: 3)")
    p.add_argument("--optimizer", choices=OPTIMIZERS,
                   help="optimiser of the dense weights: adadelta (the paper's, default) or adam (the authors' code)")
    p.add_argument("--lr", type=float, help="its learning rate (default: 0.5 for adadelta, 1e-3 for adam)")
    p.add_argument("--lr-decay", type=float, metavar="G",
                   help="multiply that rate by G after every epoch (default 1, constant; the authors' code: 0.9)")
    p.add_argument("--normalize", action=argparse.BooleanOptionalAction,
                   help="standardise pixels with MNIST's mean and std, 0.1307 and 0.3081 (default: no, pixels in "
                        "[0, 1]; the authors' code: yes)")
    p.add_argument("--fixed-pairs", action=argparse.BooleanOptionalAction,
                   help="draw the training pairs once, so each image keeps its partner (default: no, new pairs every "
                        "epoch; the authors' code: yes)")
    p.add_argument("--keep", choices=KEEPS,
                   help="which weights training ends with: last (default) or best-loss, the epoch with the lowest "
                        "test loss (the authors' code)")
    p.add_argument("--steps", type=int, metavar="T", help="steps of a trial T (default: the paper's 5)")
    p.add_argument("--cell", choices=CELLS,
                   help="the recurrent unit: rnn, tanh (the paper's, default); beyond the paper: leaky (half-way "
                        "to the tanh unit each step), gru or lstm, with the other module's message in every gate")
    p.add_argument("--readout", choices=("separate", "frozen", "shared"), action=ReadoutChoice,
                   help="separate: a trained readout per module and the competitive decision (the paper's, default); "
                        "frozen: the same left at their random initial weights (the authors' code); shared: one "
                        "readout over both modules (beyond the paper: the authors' journal version)")
    p.add_argument("--noise", type=float, metavar="R",
                   help="beyond the paper: mix structured noise of weight R in [0, 1] into every step's image "
                        "(other images of the batch, masked; default 0, the paper's trial)")
    p.add_argument("--onsets", choices=ONSETS,
                   help="beyond the paper: fixed, each digit shown from the first step (default), or random, from a "
                        "step drawn in 1..T-1 per pair and module, noise before it")
    p.add_argument("--rewire", action=argparse.BooleanOptionalAction,
                   help="Deep-R replaces a connection whose theta falls through zero (default: yes, the paper's); "
                        "--no-rewire is a control: the k connections drawn at the start are kept, and one that "
                        "crosses zero changes sign instead")
    p.add_argument("--train-images", type=int, help="use only the first n training images")
    p.add_argument("--test-images", type=int, help="use only the first n test images")
    p.add_argument("--device", help="cpu (default) or cuda")
    p.add_argument("--engine", choices=ENGINES,
                   help="torch (default; every stored result) or native: each step in compiled C++, faster on the "
                        "CPU, the same arithmetic to float rounding (compiled on first use, about 30 s)")
    p.add_argument("--threads", type=int, help="torch CPU threads (a sweep shares them among its workers)")


def add_model_arguments(p, connections_default=None):
    p.add_argument("--connections", "-k", type=int, required=connections_default is None,
                   default=connections_default, help="interconnections per direction, 1..N^2")
    p.add_argument("--bottleneck", type=int, default=None, help="bottleneck width (the paper's: 5)")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the initial weights, the training pairs and Deep-R's draws (default 0); "
                        "the test pairs are the same for every seed")
    add_setting_arguments(p)


def ensemble_size(text: str):
    """``--ensemble``: a whole number of models, or "auto"."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a whole number of models or auto, got {text!r}") from None


def cluster_executor(args):
    """The executor ``--executor`` names with its settings, or None for the local runner."""
    from modlib.sweep.cluster import EXECUTORS, ClusterExecutor

    if EXECUTORS[args.executor] is None:
        cluster_only = [f"--{name.replace('_', '-')}" for name in ("partition", "array_parallelism", "gpus_per_job",
                                                                   "cpus_per_job", "task_minutes")
                        if getattr(args, name) is not None]
        if cluster_only:
            raise ValueError(f"{', '.join(cluster_only)} set(s) how a cluster runs the sweep: add --executor slurm "
                             f"(or submitit-local), or leave it out")
        return None
    if args.workers != 1 or args.shard != "0/1":
        raise ValueError("--workers and --shard divide the jobs among local processes; with --executor "
                         f"{args.executor}, --array-parallelism divides them among the array's tasks")
    options = dict(partition=args.partition, array_parallelism=args.array_parallelism,
                   gpus_per_job=args.gpus_per_job, cpus_per_job=args.cpus_per_job, timeout_min=args.task_minutes)
    return ClusterExecutor(cluster=EXECUTORS[args.executor], **{k: v for k, v in options.items() if v is not None})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m modlib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="fetch and verify MNIST")
    p.add_argument("--data-root", help="MNIST folder (default $MODLIB_DATA or ~/.cache/modlib)")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("train", help="train one model and save it")
    add_model_arguments(p)
    p.add_argument("--out", required=True, help="folder for weights.pt and run.json")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("bench", help="training speed against the matmul floor")
    add_model_arguments(p, connections_default=60)
    p.add_argument("--workers", type=int, default=1,
                   help="also time this many models (seeds --seed, --seed + 1, ...) trained at once, "
                        "sharing the threads (as sweep --workers)")
    p.add_argument("--ensemble", type=int, default=1,
                   help="also time this many models (seeds --seed, --seed + 1, ...) trained as one ensemble")
    p.add_argument("--measures", action="store_true",
                   help="instead, time every per-step measure against the paper's metrics on one trained model of "
                        "each architecture (with --noise, --onsets, --steps: on that trial)")
    p.set_defaults(func=cmd_bench)

    from pathlib import Path

    from modlib.metrics import METRICS
    from modlib.sweep import MEASUREMENTS
    from modlib.sweep.config import GRIDS
    from modlib.sweep.presets import GROUPS
    from modlib.sweep.cluster import EXECUTORS

    p = sub.add_parser("sweep", help="train and measure every (level, seed, architecture)")
    p.add_argument("--preset", help=f"a preset, in groups: {'; '.join(GROUPS)} (--list shows them all, with what "
                   f"each asks and costs); or the name of a sweep you ran (in --results), to resume or change it; "
                   f"--show lists its settings")
    p.add_argument("--list", action="store_true",
                   help="print the presets by group, with their models and times, and exit")
    p.add_argument("--show", action="store_true", help="print the settings (and a preset's description) and exit")
    p.add_argument("--resume", action="store_true", help="skip finished jobs")
    p.add_argument("--fresh", action="store_true", help="discard stored results of this sweep first")
    p.add_argument("--shard", default="0/1", help="i/n: run every n-th job starting at i")
    p.add_argument("--workers", type=int, default=1,
                   help="processes sharing the threads (2 on 2 cores: 15-30%% less time than 1)")
    p.add_argument("--results", default="results", help="results folder (default results/)")
    p.add_argument("--name", help="output folder name (needed when overriding a preset)")
    p.add_argument("--executor", default="local", choices=list(EXECUTORS),
                   help="who runs the jobs: local (this machine's processes, --workers), slurm (a SLURM job array "
                        "through submitit, from the cluster's login node), submitit-local (the same array as "
                        "processes here), submitit-debug (its tasks one by one in this process, pdb on a failure)")
    p.add_argument("--ensemble", type=ensemble_size, metavar="M|auto",
                   help="train up to M models of one architecture at a time as one computation (default 1); auto: "
                        "as many as fill a GPU on cuda, 1 on the CPU")
    p.add_argument("--partition", help="SLURM partition for --executor slurm")
    p.add_argument("--array-parallelism", type=int, help="tasks in the array, each taking every n-th job (default 50)")
    p.add_argument("--gpus-per-job", type=int, help="GPUs per array task (with --device cuda)")
    p.add_argument("--cpus-per-job", type=int, help="CPU cores (and torch threads) per array task (default 1)")
    p.add_argument("--task-minutes", type=int, help="time limit of each array task (default 240)")
    p.add_argument("--levels", type=int, help="number of interconnection levels, geometric in k from 1 to N^2")
    p.add_argument("--grid", choices=GRIDS,
                   help="where the levels lie: paper, round(geomspace(1, N^2)) (default); authors, the code's "
                        "geomspace(1/N^2, 0.999).round(4) times N^2, truncated")
    p.add_argument("--connections", "-k", type=comma_separated(int), metavar="K1,K2,...",
                   help="the interconnection counts k to train, instead of --levels")
    p.add_argument("--seeds", type=int, help="seeds per level")
    p.add_argument("--architectures", type=comma_separated(str), help="comma-separated: standard,bottleneck")
    p.add_argument("--metrics", type=comma_separated(str),
                   help="comma-separated among " + ",".join(MEASUREMENTS) + '; "" for none (training only); '
                        'crossing: how well each digit can be read from what crosses (modlib.crossing)')
    p.add_argument("--random-masks", action=argparse.BooleanOptionalAction,
                   help="also train the weight masks on each model before training (claim (f): masks find more in "
                        "trained networks than in random ones; default: no)")
    add_setting_arguments(p)
    add_mask_arguments(p)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("reproduce",
                       help="recompute every stored CPU sweep from scratch (hours: sweep --list gives each one's time)")
    p.add_argument("--resume", action="store_true", help="go on from where an interrupted reproduce stopped")
    p.add_argument("--workers", type=int, default=1, help="processes per sweep, sharing --threads (see sweep)")
    p.add_argument("--threads", type=int, help="torch CPU threads in all")
    p.add_argument("--results", default="results", help="results folder (default results/)")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("rerun", help="retrain a few jobs of a stored sweep and compare them with its rows")
    p.add_argument("--preset", required=True, help="sweep name under results/")
    p.add_argument("--results", default="results", help="results folder (default results/)")
    p.add_argument("--jobs", type=int, default=3, help="how many jobs, drawn at random (default 3; ~12 s each)")
    p.add_argument("--job", action="append", help="a job id to rerun, e.g. standard-k00060-s03 (repeatable)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random draw of jobs")
    p.add_argument("--threads", type=int, help="torch threads (default: as the sweep was made, for identical rows)")
    p.add_argument("--device", help="cpu or cuda (default: the sweep's own, for identical rows)")
    p.set_defaults(func=cmd_rerun)

    p = sub.add_parser("claims", help="the paper's claims checked against a stored sweep, and its level means")
    p.add_argument("--preset", required=True, help="sweep name under results/")
    p.add_argument("--results", default="results", help="results folder (default results/)")
    p.set_defaults(func=cmd_claims)

    p = sub.add_parser("figures", help="figures of a stored sweep")
    p.add_argument("--preset", required=True, help="sweep name under results/")
    p.add_argument("--results", default="results")
    p.add_argument("--readme", action="store_true", help="also refresh the README's main figure")
    p.set_defaults(func=cmd_figures)

    p = sub.add_parser("metrics", help="specialization metrics of a saved model")
    p.add_argument("run", type=Path, help="folder written by `train`")
    p.add_argument("--metric", action="append", choices=METRICS, help="default: all that apply")
    p.add_argument("--seed", type=int, default=0, help="seed of the metrics' own random draws")
    p.add_argument("--train-images", type=int, default=None, help="default: as many as the model was trained on")
    p.add_argument("--test-images", type=int, default=None, help="default: as many as the model was tested on")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    add_mask_arguments(p)
    p.set_defaults(func=cmd_metrics)
    return parser


FIRST_COMMANDS = (
    ("python -m modlib sweep --list", "the stored sweeps by group: what each asks, its models and minutes"),
    ("python -m modlib claims --preset paper", "the paper's claims checked against the stored paper sweep"),
    ("python -m modlib train -k 22 --out runs/k22", "train one model (about a minute), then: metrics runs/k22"),
)


def overview(parser: argparse.ArgumentParser) -> str:
    """What ``python -m modlib`` alone prints: each command in a line, and where to start."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    lines = ["usage: python -m modlib COMMAND [options]   (python -m modlib COMMAND --help for its options)", ""]
    lines += [f"  {choice.dest:<10} {choice.help}" for choice in commands._choices_actions]
    lines += ["", "to start:"] + [f"  {command:<44} # {what}" for command, what in FIRST_COMMANDS]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):
        print(overview(parser))
        return 0
    args = parser.parse_args(argv)
    try:
        set_threads(args)
        if getattr(args, "device", None):
            from modlib.train import check_device

            check_device(args.device)  # before anything is written or computed
        args.func(args)
    except (ValueError, RuntimeError, OSError, FloatingPointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback from wherever it landed
        kept = {cmd_sweep: "; its finished models are merged: run it again with --resume (not --fresh) to go on",
                cmd_reproduce: "; finished sweeps and models are kept: the same command with --resume goes on",
                }.get(args.func, "")
        print(f"interrupted{kept}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
