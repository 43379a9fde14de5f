import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modlib.bench import processor
from modlib.data import OFFICIAL_SHA256
from modlib.sweep import (PRESETS, SweepConfig, check_folder, config_with_overrides, job_id, load_results, made_on,
                          parse_shard, read_provenance, read_table, rerun_jobs, run_sweep, select_jobs, wall_seconds,
                          with_run)

from modlib.sweep.jobs import WHOLE_NUMBERS
from modlib.sweep.reproduce import IDENTICAL_TO, compare_rows
from modlib.sweep.store import merge, write_csv_atomic
from tests.conftest import needs_mnist

ROOT = Path(__file__).resolve().parents[1]
TINY = SweepConfig(name="tiny", levels=2, seeds=1, epochs=1, train_images=2000, test_images=1000,
                   metrics=("correlation", "bottleneck"))


def test_paper_preset_is_the_papers_sweep():
    cfg = PRESETS["paper"]
    assert cfg.connections() == [1, 3, 8, 22, 60, 167, 464, 1292, 3594, 10000]
    assert cfg.seeds == 10 and set(cfg.architectures) == {"standard", "bottleneck"}
    assert len(cfg.jobs()) == 200 and "cka" in cfg.metrics


def test_shards_partition_the_jobs():
    cfg = PRESETS["paper"]
    shards = [select_jobs(cfg, (i, 3)) for i in range(3)]
    assert sorted(j for s in shards for j in s) == sorted(cfg.jobs())
    assert not set(shards[0]) & set(shards[1])
    done = {job_id(j) for j in cfg.jobs()[:50]}
    assert len(select_jobs(cfg, (0, 1), done)) == 150


@pytest.mark.parametrize("preset, overrides, message", [
    ("nope", {}, "unknown preset 'nope'"),
    ("smoke", {"colour": "red"}, "unknown sweep setting"),
    ("smoke", {"levels": 0}, "levels must be >= 1"),
    ("smoke", {"name": "../paper"}, "a sweep's name is the folder.*got '../paper'"),
    ("smoke", {"name": ""}, "cannot be empty"),
    ("smoke", {"architectures": ("lstm",)}, "architectures must be among"),
    ("smoke", {"n_hidden": 1}, r"n_hidden \(--hidden, units per module N\) must be >= 2"),
    ("smoke", {"k_values": (1, 10001)}, "n_connections must be between 1 and n_hidden.*got 10001"),
    ("smoke", {"deepr_lr_range": (0.1,)}, "deepr_lr_range must be two positive learning rates"),
    ("smoke", {"rule": "eq"}, "rule must be one of"),
    ("smoke", {"modulus": 1}, "modulus must be a whole number from 2"),
    ("smoke", {"seeds": 2.5}, "seeds must be a whole number, got 2.5"),
    ("smoke", {"epochs": 3.0}, "epochs must be a whole number"),
    ("smoke", {"k_values": (1, 2.5)}, "each of k_values must be a whole number, got 2.5"),
    ("smoke", {"grid": "code"}, "grid must be one of"),
    ("smoke", {"optimizer": "sgd"}, "optimizer must be one of"),
    ("smoke", {"mask_selection": "abs"}, "ranks scores by one of"),
    ("smoke", {"keep": "first"}, "keep must be one of"),
    ("smoke", {"noise": 1.5}, r"--noise is the weight R .* in \[0, 1\]; got 1.5"),
    ("smoke", {"onsets": "late", "metrics": ("correlation",)}, "--onsets must be one of"),
    ("smoke", {"n_steps": 0}, r"--steps \(T\) must be >= 1"),
    ("smoke", {"onsets": "random", "n_steps": 1, "metrics": ("correlation",)}, "random onsets need T >= 2"),
    ("smoke", {"noise": 0.4}, "the weight mask and what crosses are measured on the paper's trial only"),
    ("smoke", {"noise": 0.4, "metrics": ("correlation",), "ensemble": 4}, "use --ensemble 1 for noise"),
    ("smoke", {"onsets": "random", "metrics": ("correlation",), "engine": "native"}, "use engine torch for noise"),
    ("smoke", {"cell": "transformer"}, "cell must be one of"),
    ("smoke", {"cell": "gru", "engine": "native"}, "engine 'native' trains the tanh RNN only"),
    ("smoke", {"cell": "lstm", "ensemble": 4}, "use --ensemble 1 and leave crossing out for cell 'lstm'"),
    ("smoke", {"cell": "leaky", "metrics": ("crossing",)}, "leave crossing out for cell 'leaky'"),
    ("smoke", {"readout": "joint"}, "readout must be one of"),
    ("smoke", {"readout": "shared", "engine": "native"}, "engine 'native' trains separate readouts only"),
])
def test_bad_settings_give_one_clear_error(preset, overrides, message):
    with pytest.raises(ValueError, match=message):
        config_with_overrides(preset, **overrides)


def test_a_stored_sweep_of_your_own_settings_is_a_base_like_a_preset(tmp_path):
    mine = replace(PRESETS["smoke"], name="mine", seeds=2, k_values=(3, 30))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "config.json").write_text(json.dumps(mine.to_dict()))
    assert config_with_overrides("mine", tmp_path) == mine
    assert config_with_overrides("mine", tmp_path, name="more", seeds=4) == replace(mine, name="more", seeds=4)
    assert config_with_overrides("paper", tmp_path) == PRESETS["paper"]  # a preset wins over a folder
    with pytest.raises(ValueError, match=r"unknown preset 'mine', and no sweep stored at .*mine/config.json"):
        config_with_overrides("mine", tmp_path / "elsewhere")


def test_the_training_floor_counts_the_epochs_each_model_trained():
    from modlib.bench import flops_per_pair
    from modlib.sweep import training_floor

    cfg = SweepConfig(name="x", architectures=("standard",), train_images=1000)
    rows = [dict(architecture="standard", k=k, job=f"j{k}", metric="epoch_test_accuracy", epoch=e, value=0.5)
            for k, epochs in ((1, 2), (60, 5)) for e in range(1, epochs + 1)]
    rows.append(dict(architecture="standard", k=1, job="j1", metric="accuracy", value=0.5))
    floor = training_floor(cfg, pd.DataFrame(rows), throughput=1e9)
    per_pair = flops_per_pair(cfg.model_config(1, "standard"))["total"]  # the same for every k
    assert floor["training_gflop"] == round((2 + 5) * 800 * per_pair / 1e9, 1)
    assert floor["floor_seconds"] == round((2 + 5) * 800 * per_pair / 1e9, 1)


def test_numpy_k_values_are_kept_as_python_ints_so_the_config_writes_to_json():
    cfg = SweepConfig(name="x", k_values=tuple(np.array([5, 1])))
    assert json.loads(json.dumps(cfg.to_dict()))["k_values"] == [5, 1] and cfg.connections() == [1, 5]


def test_the_authors_grid_is_their_codes_levels():
    """The connection counts listed in the replication notes for the authors' sweep at N = 100."""
    assert SweepConfig(name="x", grid="authors").connections() == [1, 2, 8, 22, 60, 167, 463, 1291, 3590, 9990]
    assert SweepConfig(name="x").connections() == [1, 3, 8, 22, 60, 167, 464, 1292, 3594, 10000]
    assert SweepConfig(name="x", grid="authors", n_hidden=300).connections()[0] == 1  # 1/N^2 rounds to 0: kept at 1


def test_the_authors_preset_makes_every_choice_of_their_main_script():
    train = PRESETS["authors"].train_config(0)
    assert (train.optimizer, train.dense_lr, train.lr_decay, train.batch_size, train.n_epochs(None)) == \
        ("adam", 1e-3, 0.9, 64, 15)
    assert (train.normalize, train.fixed_pairs, train.keep, train.stop_accuracy, train.stop_min_epochs,
            train.train_readout) == (True, True, "best-loss", 0.9, 3, False)
    assert PRESETS["authors"].metric_options("weight_mask")["q"] == 0.1
    assert PRESETS["authors"].metric_options("weight_mask")["selection"] == "signed"


def test_each_authors_choice_is_one_variant_and_one_authors_minus_sweep():
    """The variants named as the authors' choices add up to their configuration (less its grid,
    which at a given k changes nothing), and each authors-minus sweep differs from
    authors-reference in that choice alone, set to the text's value."""
    from modlib.sweep import AUTHORS_VARIANTS, VARIANTS

    added = {key: value for name in AUTHORS_VARIANTS for key, value in VARIANTS[name][1].items()}
    authors = PRESETS["authors"].to_dict()
    assert {key: authors[key] for key in added} == json.loads(json.dumps(added))
    text, reference = PRESETS["variant-text"].to_dict(), PRESETS["authors-reference"].to_dict()
    assert {key for key in authors if authors[key] != text[key]} - set(added) == \
        {"name", "levels", "seeds", "architectures", "metrics", "grid", "random_masks"}
    for name in AUTHORS_VARIANTS:
        minus = PRESETS[f"authors-minus-{name}"].to_dict()
        changed = {key for key in minus if minus[key] != reference[key]} - {"name"}
        assert changed == set(VARIANTS[name][1]) and all(minus[key] == text[key] for key in changed), name
        assert PRESETS[f"variant-{name}"].connections() == PRESETS[f"authors-minus-{name}"].connections()


def test_listed_k_values_replace_the_geometric_levels():
    cfg = config_with_overrides("paper", name="x", k_values=(60, 1, 60))
    assert cfg.connections() == [1, 60]
    assert len(cfg.jobs()) == 2 * 2 * 10


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_a_sweep_trains_with_its_own_settings(preset):
    """Every setting a sweep shares with the model or training reaches them (the noexclude
    variant once reached only half of what its label says)."""
    cfg = PRESETS[preset]
    shared = cfg.to_dict().items()
    for architecture in cfg.architectures:
        built = {**cfg.model_config(1, architecture).to_dict(), **json.loads(json.dumps(asdict(cfg.train_config(0))))}
        assert {key: value for key, value in shared if key in built} == \
            {key: built[key] for key, _ in shared if key in built}
    assert PRESETS["variant-noexclude"].train_config(0).balance is False


def test_a_sweeps_mask_settings_reach_the_weight_mask_and_only_it():
    import inspect

    from modlib.metrics import weight_mask_metric

    cfg = replace(PRESETS["smoke"], mask_fraction=0.1, mask_repeats=3)
    assert cfg.metric_options("weight_mask") == {"q": 0.1, "repeats": 3, "epochs": 1, "score_init": 0.1,
                                                 "interconnections": False, "selection": "magnitude"}
    assert set(cfg.metric_options("weight_mask")) <= set(inspect.signature(weight_mask_metric).parameters)
    assert all(cfg.metric_options(name) == {} for name in ("bottleneck", "correlation", "cka"))


@needs_mnist
def test_random_masks_are_the_weight_mask_of_the_model_before_training():
    from modlib.metrics import MetricData, weight_mask_metric
    from modlib.sweep import run_job
    from modlib.train import new_model

    cfg = replace(PRESETS["smoke"], architectures=("standard",), metrics=("weight_mask",), random_masks=True,
                  train_images=2000, test_images=500)
    data = MetricData.load(cfg.train_config(0))
    rows = run_job(cfg, ("standard", 1, 0), data)
    untrained = new_model(cfg.model_config(1, "standard"), cfg.train_config(0))[0]
    expected = weight_mask_metric(untrained, data, seed=0, progress=False)
    stored = rows[rows.metric == "weight_mask_untrained"].sort_values(["module", "subtask"])["value"]
    np.testing.assert_allclose(stored.to_numpy(), expected["M"].ravel())
    accuracy = rows[rows.metric == "mask_accuracy_untrained"].sort_values("subtask")["value"]
    np.testing.assert_allclose(accuracy.to_numpy(), expected["mask_accuracy"])
    trained = rows[rows.metric == "weight_mask"].sort_values(["module", "subtask"])["value"].to_numpy()
    assert not np.allclose(trained, expected["M"].ravel())  # the trained model's masks are others


def test_a_folder_from_before_a_setting_was_added_resumes_with_its_default(tmp_path):
    folder = tmp_path / "smoke"
    folder.mkdir()
    old = {key: value for key, value in PRESETS["smoke"].to_dict().items() if key not in ("k_values", "balance")}
    (folder / "config.json").write_text(json.dumps(old))
    check_folder(folder, PRESETS["smoke"], resume=True)  # the same sweep: no error
    with pytest.raises(ValueError, match="different config.*balance: stored True vs now False"):
        check_folder(folder, replace(PRESETS["smoke"], balance=False), resume=True)


@pytest.mark.parametrize("text", ["2", "a/b", "3/3", "-1/2"])
def test_bad_shard_is_rejected(text):
    with pytest.raises(ValueError, match="--shard"):
        parse_shard(text)


def test_missing_results_say_how_to_make_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="run `python -m modlib sweep --preset paper`"):
        load_results("paper", tmp_path)
    with pytest.raises(FileNotFoundError, match="--name n50"):
        load_results("n50", tmp_path)
    jobs = tmp_path / "n50" / "jobs"
    jobs.mkdir(parents=True)
    (jobs / "one.csv").write_text("job\n")
    with pytest.raises(FileNotFoundError, match="1 finished models .* again with --resume"):
        load_results("n50", tmp_path)


def test_a_sweeps_wall_time_is_its_slowest_workers(tmp_path):
    with pytest.raises(FileNotFoundError, match="--preset paper"):
        read_provenance("paper", tmp_path)
    (tmp_path / "paper").mkdir()
    old = {"command": "sweep", "git_commit": "abc", "shard_wall_seconds": [1158.5, 1162.9]}  # before runs
    (tmp_path / "paper" / "provenance.json").write_text(json.dumps(old))
    assert read_provenance("paper", tmp_path)["wall_seconds"] == 1162.9
    # a command killed before recording its time: its models' 1000 s, two workers, still count
    cut = {"command": "sweep", "git_commit": "abc", "sum_job_seconds": 1000.0,
           "runs": [{"started": "2026-11-23T10:00:00.000+00:00", "worker_seconds": [60.0, 61.0]}]}
    (tmp_path / "paper" / "provenance.json").write_text(json.dumps(cut))
    assert read_provenance("paper", tmp_path)["wall_seconds"] == 500.0


def test_a_sweeps_wall_time_adds_its_commands_and_counts_overlaps_once():
    def run(started, *seconds):
        return {"started": f"2026-11-23T10:{started}:00.000+00:00", "worker_seconds": list(seconds)}

    # 10:00 for 100 s (slowest worker), resumed 10:05 for 60 s: 160 s
    assert wall_seconds([run("05", 60.0), run("00", 90.0, 100.0)]) == 160
    # two shards side by side from 10:00 and 10:01, 120 s each: 10:00 to 10:03
    assert wall_seconds([run("00", 120.0), run("01", 120.0), run("02", 10.0)]) == 180
    assert wall_seconds([{"started": None, "worker_seconds": [50.0]}, run("00", 10.0)]) == 60
    records = with_run([], {"started": "s", "command": "c", "git_commit": "g", "seconds": 3.14159})
    records = with_run(records, {"started": "s", "command": "c", "git_commit": "g", "seconds": 2.0})
    records = with_run(records, {"started": "t", "command": "c", "git_commit": "h", "seconds": None})  # no job
    assert records == [{"started": "s", "command": "c", "git_commit": "g", "worker_seconds": [3.142, 2.0]}]
    quick = with_run(records, {"started": "u", "command": "c", "git_commit": "h", "seconds": 0.0004})  # a tiny job
    assert quick[-1] == {"started": "u", "command": "c", "git_commit": "h", "worker_seconds": [0.0]}


@needs_mnist
def test_an_interrupted_sweep_keeps_its_finished_jobs_and_time(tmp_path, monkeypatch):
    from modlib.sweep import runner

    real_job, calls = runner.run_job, []

    def job_then_ctrl_c(*args):
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_job(*args)

    monkeypatch.setattr(runner, "run_job", job_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(TINY, tmp_path, progress=False)
    provenance = read_provenance("tiny", tmp_path)
    assert provenance["jobs_finished"] == 2 and read_table(tmp_path / "tiny" / "results.csv")["job"].nunique() == 2
    [first] = provenance["runs"]
    run_sweep(TINY, tmp_path, resume=True, progress=False)
    provenance = read_provenance("tiny", tmp_path)
    assert provenance["jobs_finished"] == 4 and provenance["runs"][0] == first and len(provenance["runs"]) == 2
    assert provenance["wall_seconds"] == pytest.approx(sum(r["worker_seconds"][0] for r in provenance["runs"]))
    # a resume with nothing left to do changes nothing, and starts no workers
    monkeypatch.setattr(runner, "git_commit", lambda: "later")
    monkeypatch.setattr(runner, "run_workers", None)
    run_sweep(TINY, tmp_path, resume=True, progress=False, workers=2)
    assert read_provenance("tiny", tmp_path) == provenance


@needs_mnist
def test_a_runs_time_counts_from_its_command_s_start_not_from_its_first_job(tmp_path, monkeypatch):
    from modlib.sweep import runner

    def slow_throughput(*args):  # the measurements before the first job and after the last
        time.sleep(0.5)
        return 1e11

    monkeypatch.setattr(runner, "matmul_throughput", slow_throughput)
    run_sweep(replace(TINY, metrics=()), tmp_path, progress=False)
    provenance = read_provenance("tiny", tmp_path)
    [seconds] = provenance["runs"][0]["worker_seconds"]
    assert seconds >= provenance["sum_job_seconds"] + 0.9  # both measurements, less rounding to 0.1 s


@needs_mnist
def test_a_folder_of_another_config_is_refused_and_left_untouched(tmp_path):
    folder = run_sweep(TINY, tmp_path, progress=False)
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    with pytest.raises(ValueError, match="different config.*seeds"):
        run_sweep(SweepConfig(**{**TINY.__dict__, "seeds": 2}), tmp_path, progress=False)
    with pytest.raises(ValueError, match="--resume"):
        run_sweep(TINY, tmp_path, progress=False)
    assert before == {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    table = read_table(folder / "results.csv")
    # correlation on the standard models, the bottleneck metric on the bottleneck ones
    curves = {"epoch_train_accuracy", "epoch_test_accuracy", "epoch_test_loss", "epoch_decision_share",
              "epoch_readout_norm"}
    every = {"accuracy", "kept_epoch", "decision_share", "readout_norm", *curves}
    assert table.groupby("architecture")["metric"].agg(set).to_dict() == {
        "standard": {"correlation", *every}, "bottleneck": {"bottleneck", *every}}
    # 2 architectures x 2 levels x (accuracy, kept epoch, 6 decision shares, 2 readout norms, 3 curves x 1 epoch,
    # 2 per-module curves x 2 modules x 1 epoch, 2x2 table)
    assert len(table) == 2 * 2 * (1 + 1 + 6 + 2 + 3 + 4 + 4)
    shares = table[table["metric"] == "decision_share"]
    overall = shares[shares["subtask"].isna()].groupby("job")["value"].sum()
    assert np.allclose(overall, 1)  # one module or the other decides each pair
    # the last epoch's test accuracy is the model's accuracy
    last = table[table["metric"] == "epoch_test_accuracy"].set_index("job")
    assert (last["epoch"] == 1).all()
    final = table[table["metric"] == "accuracy"].set_index("job")
    pd.testing.assert_series_equal(last["value"].sort_index(), final["value"].sort_index())
    provenance = json.loads((folder / "provenance.json").read_text())
    assert provenance["jobs_finished"] == provenance["jobs_total"] == 4
    assert set(provenance) >= {"config", "git_commit", "versions", "machine", "job_seconds"}
    assert made_on(provenance) == processor("cpu")  # the floor's figures and the rounding depend on it


@needs_mnist
def test_a_rerun_of_a_stored_job_is_identical_and_finds_a_changed_value(tmp_path):
    folder = run_sweep(TINY, tmp_path, progress=False)
    job = "standard-k00001-s00"
    rows = 1 + 1 + 6 + 2 + 3 + 4 + 4  # accuracy, kept epoch, decision shares, readout norms, curves, correlations
    assert rerun_jobs("tiny", [job], tmp_path, progress=False).loc[job].tolist() == [rows, 0, 0.0, 0]
    table = read_table(folder / "results.csv")
    older = table[table["metric"] != "decision_share"]  # as stored before the decision shares were measured
    older.to_csv(folder / "results.csv", index=False)
    assert rerun_jobs("tiny", [job], tmp_path, progress=False).loc[job].tolist() == [rows - 6, 0, 0.0, 6]
    table.loc[(table["job"] == job) & (table["metric"] == "correlation"), "value"] += 0.001
    lost = "standard-k10000-s00"  # a row lost: the rows no longer match one to one
    table = table[~((table["job"] == lost) & (table["metric"] == "accuracy"))]
    table.to_csv(folder / "results.csv", index=False)
    changed = rerun_jobs("tiny", 10, tmp_path, progress=False)  # more than there are: all four
    assert changed.index.tolist() == sorted(job_id(j) for j in TINY.jobs())
    expected = {i: 4 if i == job else rows - 1 if i == lost else 0 for i in changed.index}  # 4: 2 modules x 2
    assert changed["rows_differing"].to_dict() == expected
    assert changed.loc[job, "largest_difference"] == pytest.approx(0.001)
    assert np.isnan(changed.loc[lost, "largest_difference"])
    with pytest.raises(ValueError, match="no job.s. standard-k00002-s00 in sweep 'tiny'"):
        rerun_jobs("tiny", ["standard-k00002-s00"], tmp_path)
    with pytest.raises(ValueError, match="--jobs must be >= 1"):
        rerun_jobs("tiny", 0, tmp_path)


def stored_job(values: np.ndarray) -> pd.DataFrame:
    """A job's rows as a sweep writes them, one row per value."""
    return pd.DataFrame({"architecture": "standard", "n_hidden": 100, "k": 1, "p": 1e-4, "q": values, "seed": 0,
                         "metric": "epoch_test_loss", "module": pd.NA, "subtask": pd.NA,
                         "epoch": np.arange(1, len(values) + 1), "step": pd.NA, "value": values,
                         "job": "standard-k00001-s00", "job_seconds": 1.0}).astype(WHOLE_NUMBERS)


def test_a_stored_value_comes_back_bit_for_bit_through_job_file_merge_and_resume(tmp_path):
    # Values of every size a sweep stores; the decimal text of 0.00010043402643899962 is the longest
    # there is, and pandas' default reader moved it by 1e-12 of itself (and a third of the others less).
    values = np.concatenate([[0.00010043402643899962, 2.3025851249694824, 0.0],
                             10 ** np.random.default_rng(0).uniform(-7, 4, 2000)])
    fresh, folder = stored_job(values), tmp_path / "tiny"
    write_csv_atomic(fresh, folder / "jobs" / "standard-k00001-s00.csv")
    run = {"started": None, "command": "test", "git_commit": "unknown", "seconds": None}
    merge(folder, TINY, run)
    stored = load_results("tiny", tmp_path)
    assert np.array_equal(stored["value"], values) and np.array_equal(stored["q"], values)
    assert compare_rows(fresh, stored) == dict(rows=len(values), rows_differing=0, largest_difference=0.0, new_rows=0)
    merged = (folder / "results.csv").read_bytes()
    (folder / "jobs" / "standard-k00001-s00.csv").unlink()  # as in a fresh clone: resume merges results.csv itself
    merge(folder, TINY, run)
    assert (folder / "results.csv").read_bytes() == merged


def test_a_rerun_counts_a_number_as_the_stored_one_within_identical_to_of_it():
    values = np.array([0.5, 2.0, 1e-5])
    for scale, differing in ((0.1, 0), (0.5, 0), (10, 3)):  # in units of IDENTICAL_TO
        stored = stored_job(values * (1 + scale * IDENTICAL_TO))
        compared = compare_rows(stored_job(values), stored)
        assert compared["rows_differing"] == differing
        assert compared["largest_difference"] == pytest.approx(2.0 * scale * IDENTICAL_TO, rel=1e-3)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_stored_config_gives_back_its_sweep(name):
    assert SweepConfig.from_dict(PRESETS[name].to_dict()) == PRESETS[name]


def test_a_table_from_before_the_epoch_rows_still_reads(tmp_path):
    from modlib.sweep import COLUMNS, read_table

    path = tmp_path / "old.csv"
    path.write_text("architecture,n_hidden,k,p,q,seed,metric,module,subtask,value,job,job_seconds\n"
                    "standard,100,1,0.0001,0.49,0,correlation,0,1,0.5,standard-k00001-s00,3.0\n")
    table = read_table(path)
    assert list(table.columns) == COLUMNS
    assert table["epoch"].isna().all() and table["subtask"].tolist() == [1]


def test_reproduce_recomputes_every_stored_cpu_sweep():
    from modlib.sweep import reproduced_sweeps

    stored = {path.parent.name for path in (ROOT / "results").glob("*/results.csv")}
    assert set(reproduced_sweeps()) == stored - {"paper-cuda"}


@needs_mnist
def test_an_interrupted_reproduce_resumes_where_it_stopped(tmp_path, monkeypatch):
    from modlib import sweep
    from modlib.sweep import runner

    quick = dict(levels=2, seeds=1, epochs=1, train_images=2000, test_images=1000, architectures=("standard",),
                 metrics=("correlation",))
    for name in ("one", "two", "three"):
        monkeypatch.setitem(sweep.PRESETS, name, SweepConfig(name=name, **quick))
    names = ["one", "two", "three"]
    with pytest.raises(ValueError, match="no interrupted reproduce to resume"):
        sweep.reproduce(names, tmp_path, resume=True, progress=False)
    real_job, calls = runner.run_job, []

    def ctrl_c_in_sweep_two(*args):
        calls.append(args)
        if len(calls) == 4:  # sweep one's two jobs, then one of sweep two's
            raise KeyboardInterrupt
        return real_job(*args)

    monkeypatch.setattr(runner, "run_job", ctrl_c_in_sweep_two)
    with pytest.raises(KeyboardInterrupt):
        sweep.reproduce(names, tmp_path, progress=False)
    first = (tmp_path / "one" / "results.csv").read_bytes()
    kept = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "two" / "jobs").glob("*.csv")}
    assert len(kept) == 1 and not (tmp_path / "three").exists()
    monkeypatch.setattr(runner, "run_job", real_job)
    with pytest.raises(ValueError, match="of other sweeps"):
        sweep.reproduce(names[:2], tmp_path, resume=True, progress=False)
    sweep.reproduce(names, tmp_path, resume=True, progress=False)
    assert (tmp_path / "one" / "results.csv").read_bytes() == first  # finished: not run again
    assert all((tmp_path / "two" / "jobs" / name).stat().st_mtime_ns == t for name, t in kept.items())
    assert [read_provenance(n, tmp_path)["jobs_finished"] for n in names] == [2, 2, 2]
    assert len(read_provenance("two", tmp_path)["runs"]) == 2  # interrupted, then resumed
    assert not (tmp_path / sweep.REPRODUCE_STATE).exists()


QUICK = "quick"  # the smoke preset with one metric and fewer images: these tests are about stopping and resuming


def sweep_command(results, *extra):
    return [sys.executable, "-m", "modlib", "sweep", "--preset", "smoke", "--name", QUICK, "--metrics", "correlation",
            "--train-images", "3000", "--test-images", "1000", "--results", str(results), *extra]


def comparable(folder):
    table = read_table(folder / "results.csv")
    return table.drop(columns=["job_seconds"]).sort_values(["job", "metric", "module", "subtask", "epoch"],
                                                            ignore_index=True)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    results = tmp_path_factory.mktemp("uninterrupted")
    subprocess.run(sweep_command(results), check=True, cwd=ROOT, capture_output=True)
    return comparable(results / QUICK)


def wait_for_job_files(jobs: Path, count: int, timeout: float = 120) -> None:
    """Until a running sweep has written ``count`` job files (or ``timeout`` seconds pass)."""
    deadline = time.time() + timeout
    while time.time() < deadline and len(list(jobs.glob("*.csv"))) < count:
        time.sleep(0.05)


@needs_mnist
def test_killed_sweep_resumes_to_the_same_table(tmp_path, uninterrupted):
    proc = subprocess.Popen(sweep_command(tmp_path), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    jobs = tmp_path / QUICK / "jobs"
    wait_for_job_files(jobs, 2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = len(list(jobs.glob("*.csv")))
    assert 2 <= finished < 6, "the kill should land mid-sweep"
    subprocess.run(sweep_command(tmp_path, "--resume"), check=True, cwd=ROOT, capture_output=True)
    pd.testing.assert_frame_equal(comparable(tmp_path / QUICK), uninterrupted)


@needs_mnist
@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_ends_a_sweep_with_one_line_and_its_finished_jobs_merged(tmp_path, workers):
    # A shell without job control starts background commands with SIGINT ignored, and the sweep would
    # inherit that (the suite run as `make test &` failed here): give it the terminal's default.
    proc = subprocess.Popen(sweep_command(tmp_path, "--workers", workers), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    jobs = tmp_path / QUICK / "jobs"
    wait_for_job_files(jobs, 2)
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in a terminal: to the sweep and its workers
    _, stderr = proc.communicate(timeout=60)
    finished = len(list(jobs.glob("*.csv")))
    assert proc.returncode == 130 and finished < 6, "the interrupt should land mid-sweep"
    assert stderr.strip().splitlines()[-1].startswith("interrupted; its finished models are merged")
    assert "Traceback" not in stderr
    assert read_provenance(QUICK, tmp_path)["jobs_finished"] == finished


@needs_mnist
def test_shards_merge_into_the_same_table(tmp_path, uninterrupted):
    for shard in ("1/2", "0/2"):
        subprocess.run(sweep_command(tmp_path, "--shard", shard, "--resume"), check=True, cwd=ROOT,
                       capture_output=True)
    pd.testing.assert_frame_equal(comparable(tmp_path / QUICK), uninterrupted)


@needs_mnist
def test_workers_split_the_sweep_and_merge_into_the_same_table(tmp_path, uninterrupted):
    subprocess.run(sweep_command(tmp_path, "--workers", "2"), check=True, cwd=ROOT, capture_output=True)
    # one-thread workers may round float64 reductions differently (1e-11 seen): compare to 1e-5
    pd.testing.assert_frame_equal(comparable(tmp_path / QUICK), uninterrupted)
    provenance = json.loads((tmp_path / QUICK / "provenance.json").read_text())
    [run] = provenance["runs"]  # one command, two workers
    assert len(run["worker_seconds"]) == 2 and provenance["jobs_finished"] == 6


def test_a_failing_worker_is_reported_in_one_line_each_without_a_traceback(tmp_path):
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in OFFICIAL_SHA256:
        (raw / name).write_bytes(b"\0" * 100)  # truncated: the workers, not the parent, load MNIST
    result = subprocess.run(sweep_command(tmp_path / "results", "--workers", "2"), cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, "MODLIB_DATA": str(tmp_path / "data")})
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert lines[-1].startswith("error: sweep worker(s) [0, 1] failed")
    assert sum(line.startswith("error in sweep worker") and "corrupt or truncated" in line for line in lines) == 2


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@needs_mnist
def test_killing_a_sweep_ends_its_workers(tmp_path):
    command = sweep_command(tmp_path, "--workers", "2", "--name", "slow", "--epochs", "3")
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    jobs = tmp_path / "slow" / "jobs"
    wait_for_job_files(jobs, 1)
    children = [int(pid) for pid in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(children) >= 2 and len(list(jobs.glob("*.csv"))) < 6, "the kill should land mid-sweep"
    deadline = time.time() + 10
    while time.time() < deadline and any(map(alive, children)):
        time.sleep(0.1)
    assert not any(map(alive, children))


def test_zero_workers_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="--workers must be >= 1"):
        run_sweep(TINY, tmp_path, workers=0)
    assert not any(tmp_path.iterdir())


def test_commit_is_dirty_for_changed_code_but_not_for_changed_results(tmp_path, monkeypatch):
    from modlib.sweep import git_commit

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True,
                       capture_output=True)

    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "r.csv").write_text("a\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "c")
    (tmp_path / "results" / "r.csv").unlink()  # what --fresh does
    assert not git_commit().endswith("-dirty")
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit().endswith("-dirty")


def test_a_sweep_stored_before_the_processor_was_recorded_says_so():
    assert made_on({"machine": {"platform": "Linux-x86_64", "processor": "x86_64"}}) == "processor not recorded"
    assert made_on(read_provenance("paper")) == "AMD EPYC, AVX512"  # made again where it is recorded
    assert made_on({"machine": {"device": "Some CPU, AVX2"}}) == "Some CPU, AVX2"


def test_an_ensemble_sweep_groups_consecutive_jobs_of_one_architecture():
    cfg = replace(PRESETS["paper"], ensemble=8)
    groups = cfg.groups(cfg.jobs())
    assert [job for group in groups for job in group] == cfg.jobs()
    assert all(len(group) <= 8 and len({a for a, _, _ in group}) == 1 for group in groups)
    assert [len(g) for g in groups] == [8] * 12 + [4] + [8] * 12 + [4]  # 100 jobs per architecture
    assert [len(g) for g in replace(cfg, ensemble=1).groups(cfg.jobs()[:3])] == [1, 1, 1]


@pytest.mark.parametrize("overrides, message", [
    ({"ensemble": 0}, "ensemble must be >= 1"),
    ({"ensemble": 4, "engine": "native"}, "an ensemble trains with the torch engine"),
])
def test_bad_ensembles_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        config_with_overrides("smoke", **overrides)


@needs_mnist
def test_an_ensemble_sweep_gives_the_one_by_one_table_to_rounding(tmp_path):
    cfg = replace(TINY, levels=3, metrics=("bottleneck", "weight_mask"))
    alone = load_results("tiny", run_sweep(cfg, tmp_path / "alone", progress=False).parent)
    together = load_results("tiny", run_sweep(replace(cfg, ensemble=3), tmp_path / "together", progress=False).parent)
    numbers = ["value", "q", "job_seconds"]
    assert together.drop(columns=numbers).equals(alone.drop(columns=numbers))
    np.testing.assert_allclose(together[["value", "q"]], alone[["value", "q"]], atol=1e-4)


def test_the_preset_table_reads_the_books_results_from_any_folder(tmp_path, monkeypatch):
    """A chapter runs in book/, not at the repository's root: the table must still find the sweeps."""
    from modlib.sweep.store import preset_table

    monkeypatch.chdir(tmp_path)
    paper = preset_table().set_index("preset").loc["paper"]
    assert paper["minutes"] == pytest.approx(read_provenance("paper")["wall_seconds"] / 60)
    assert preset_table(tmp_path).set_index("preset").loc["paper", "processor"] == "not stored"


@needs_mnist
def test_a_sweep_stores_every_step_and_its_last_is_todays_measure(tmp_path):
    cfg = SweepConfig(name="steps", levels=1, seeds=1, epochs=1, train_images=2000, test_images=1000,
                      metrics=("bottleneck", "correlation", "steps"), n_steps=3, noise=0.4)
    table = read_table(run_sweep(cfg, tmp_path, progress=False) / "results.csv")
    steps = table[table["metric"].str.startswith("step_")]
    assert set(steps["step"]) == {1, 2, 3} and table.loc[~table.index.isin(steps.index), "step"].isna().all()
    for measure in ("bottleneck", "correlation"):
        key = ["architecture", "module", "subtask"]
        last = steps[(steps["metric"] == f"step_{measure}") & (steps["step"] == 3)].set_index(key)["value"]
        assert last.sort_index().equals(table[table["metric"] == measure].set_index(key)["value"].sort_index())
    assert len(steps[steps["metric"] == "step_probe_both"]) == 3 * 2  # per step and digit, standard models only
