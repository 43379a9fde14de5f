import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import needs_mnist

ROOT = Path(__file__).resolve().parents[1]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "modlib", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize("args, message", [
    (["sweep", "--preset", "nope"], "unknown preset 'nope'"),
    (["sweep", "--preset", "paper", "--seeds", "3"], "overriding 'paper' (seeds=3) needs --name"),
    (["sweep", "--preset", "paper-cuda", "--device", "cpu"], "overriding 'paper-cuda' (device=cpu) needs --name"),
    (["sweep", "--preset", "smoke", "--name", "x", "--levels", "0"], "levels must be >= 1"),
    (["train", "-k", "0", "--out", "unused"], "n_connections must be between 1"),
    (["metrics", "no/such/run"], "holds no run.json"),
    (["train", "-k", "3", "--device", "cdua", "--out", "unused"], "unknown device 'cdua': use cpu or cuda"),
    (["train", "-k", "3", "--deepr-lr", "0.1", "--out", "unused"], "deepr_lr_range must be two positive"),
    (["sweep", "--preset", "paper", "--name", "x", "--levels", "3", "-k", "1,2"], "--levels (that many levels"),
    (["sweep", "--preset", "paper", "--rule", "equation"], "overriding 'paper' (rule=equation) needs --name"),
    (["sweep", "--preset", "smoke", "--name", "x", "--mask-fraction", "5"], "0 < q < 1 (--mask-fraction"),
    (["sweep", "--preset", "smoke", "--name", "x", "--mask-repeats", "0"], "repeats >= 1 (--mask-repeats)"),
    (["metrics", "no/such/run", "--mask-repeats", "0"], "repeats >= 1 (--mask-repeats)"),
    (["train", "-k", "3", "--modulus", "12", "--out", "unused"], "modulus must be a whole number from 2"),
    (["rerun", "--preset", "no-such-sweep"], "no stored provenance at results/no-such-sweep"),
    (["claims", "--preset", "no-such-sweep"], "no stored results at results/no-such-sweep"),
    (["rerun", "--preset", "paper", "--job", "standard-k00060"], "no job(s) standard-k00060 in sweep 'paper'"),
    (["rerun", "--preset", "paper", "--jobs", "0"], "--jobs must be >= 1"),
    (["bench", "--threads", "0"], "--threads must be >= 1"),
    (["reproduce", "--resume", "--results", "no/such/folder"], "no interrupted reproduce to resume"),
    (["train", "-k", "3", "--threads", "-2", "--out", "unused"], "--threads must be >= 1"),
    (["train", "-k", "3", "--engine", "native", "--message", "before", "--out", "unused"],
     "use engine 'torch' for message='before'"),
    (["sweep", "--preset", "smoke", "--name", "x", "--engine", "native", "--message", "before"],
     "use engine 'torch' for message='before'"),
    (["sweep", "--preset", "smoke", "--name", "x", "--engine", "native", "--ensemble", "4"],
     "an ensemble trains with the torch engine's step"),
])
def test_bad_input_gives_one_line_error_and_nonzero_exit(args, message):
    result = cli(*args)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error:") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_every_sweep_setting_can_be_set_from_the_command_line():
    from dataclasses import fields

    from modlib.__main__ import SWEEP_SETTINGS
    from modlib.sweep import SweepConfig

    assert set(SWEEP_SETTINGS) == {f.name for f in fields(SweepConfig)}
    result = cli("sweep", "--preset", "smoke", "--name", "x", "--connections", "60,1", "--batch-size", "64",
                 "--decision", "absmax", "--message", "before", "--rule", "equation", "--no-exclude",
                 "--no-balance", "--deepr-lr", "0.1,0.001", "--mask-fraction", "0.1", "--mask-repeats", "3",
                 "--modulus", "4", "--no-rewire", "--init", "pytorch", "--exclusion", "mirrored", "--random-masks",
                 "--mask-epochs", "2", "--mask-score-init", "0.5", "--mask-interconnections", "--ensemble", "3",
                 "--optimizer", "adam", "--lr", "0.002", "--lr-decay", "0.9", "--normalize", "--fixed-pairs",
                 "--keep", "best-loss", "--stop-min-epochs", "3", "--grid", "authors", "--mask-selection", "signed",
                 "--show")
    assert result.returncode == 0, result.stderr
    shown = dict(line.strip().split(": ", 1) for line in result.stdout.splitlines())
    assert shown["connections"] == "[1, 60]" and "not used" in shown["levels"]
    assert (shown["batch_size"], shown["decision"], shown["message"], shown["rule"]) == \
        ("64", "absmax", "before", "equation")
    assert (shown["exclude"], shown["balance"], shown["deepr_lr_range"]) == ("False", "False", "[0.1, 0.001]")
    assert (shown["mask_fraction"], shown["mask_repeats"], shown["modulus"]) == ("0.1", "3", "4")
    assert shown["rewire"] == "False"
    assert (shown["init"], shown["exclusion"], shown["random_masks"]) == ("pytorch", "mirrored", "True")
    assert (shown["mask_epochs"], shown["mask_score_init"], shown["mask_interconnections"]) == ("2", "0.5", "True")
    assert shown["ensemble"] == "3"
    assert (shown["optimizer"], shown["lr"], shown["lr_decay"], shown["normalize"], shown["fixed_pairs"]) == \
        ("adam", "0.002", "0.9", "True", "True")
    assert (shown["keep"], shown["stop_min_epochs"], shown["grid"], shown["mask_selection"]) == \
        ("best-loss", "3", "authors", "signed")


def test_ensemble_auto_is_one_model_at_a_time_on_the_cpu():
    result = cli("sweep", "--preset", "smoke", "--name", "x", "--ensemble", "auto", "--show")
    assert result.returncode == 0, result.stderr
    assert "ensemble: 1" in result.stdout


@needs_mnist
def test_train_with_the_native_engine_records_it(tmp_path):
    import json

    result = cli("train", "-k", "3", "--engine", "native", "--epochs", "1", "--train-images", "500",
                 "--test-images", "200", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["train"]["engine"] == "native" and len(record["history"]) == 1


@needs_mnist
def test_metrics_of_a_trained_run_are_printed_and_saved_beside_it(tmp_path):
    import json

    trained = cli("train", "-k", "3", "--epochs", "1", "--train-images", "500", "--test-images", "200",
                  "--out", str(tmp_path))
    assert trained.returncode == 0, trained.stderr
    result = cli("metrics", str(tmp_path), "--metric", "correlation", "--metric", "cka")
    assert result.returncode == 0, result.stderr
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert list(saved) == ["correlation", "cka"]
    for name, values in saved.items():
        assert np.shape(values["M"]) == (2, 2) and len(values["specialization"]) == 2
        printed = next(line for line in result.stdout.splitlines() if line.startswith(f"{name}: "))
        assert f"specialization={np.round(values['specialization'], 3).tolist()}" in printed
    assert result.stdout.strip().splitlines()[-1].startswith(f"metrics in {tmp_path / 'metrics.json'}")


def test_train_options_not_given_keep_the_defaults():
    from modlib.__main__ import build_parser, model_and_train_configs
    from modlib.model import ModelConfig
    from modlib.train import TrainConfig

    parse = build_parser().parse_args
    model, train = model_and_train_configs(parse(["train", "-k", "3", "--out", "x"]))
    assert (model, train) == (ModelConfig(n_connections=3), TrainConfig())
    model, train = model_and_train_configs(parse(["train", "-k", "3", "--out", "x", "--rule", "equation",
                                                  "--no-exclude", "--deepr-lr", "0.1,0.001", "--hidden", "20",
                                                  "--no-rewire"]))
    assert model == ModelConfig(n_hidden=20, n_connections=3)
    assert train == TrainConfig(rule="equation", exclude=False, deepr_lr_range=(0.1, 0.001), rewire=False)


def test_metrics_use_the_pairs_the_model_was_trained_on():
    from dataclasses import asdict

    from modlib.__main__ import build_parser, metric_config
    from modlib.train import TrainConfig

    trained = TrainConfig(exclude=False, balance=False, train_images=500, test_images=300, seed=4, modulus=4)
    record = {"train": asdict(trained)}
    parse = build_parser().parse_args
    def pairs(cfg):
        return cfg.exclude, cfg.balance, cfg.train_images, cfg.test_images, cfg.modulus

    normalised = {"train": asdict(TrainConfig(normalize=True))}  # measured on the inputs it learned
    assert metric_config(parse(["metrics", "run"]), normalised).normalize is True

    assert pairs(metric_config(parse(["metrics", "run"]), record)) == (False, False, 500, 300, 4)
    assert pairs(metric_config(parse(["metrics", "run", "--train-images", "800"]), record)) == \
        (False, False, 800, 300, 4)
    older = {"train": {"seed": 1, "a_setting_since_removed": 3}}  # a run.json of another version
    assert pairs(metric_config(parse(["metrics", "run"]), older)) == (True, True, None, None, 2)


def test_an_empty_metric_list_means_training_only():
    result = cli("sweep", "--preset", "smoke", "--name", "x", "--metrics", "", "--show")
    assert result.returncode == 0
    assert "metrics: []" in result.stdout


@needs_mnist
def test_a_sweep_of_your_own_settings_resumes_by_its_name(tmp_path):
    results = str(tmp_path)
    first = cli("sweep", "--preset", "smoke", "--name", "mine", "--connections", "3", "--architectures", "standard",
                "--metrics", "", "--train-images", "500", "--test-images", "200", "--results", results)
    assert first.returncode == 0, first.stderr
    again = cli("sweep", "--preset", "mine", "--resume", "--workers", "2", "--results", results)
    assert again.returncode == 0, again.stderr
    assert f"1 of 1 jobs finished; results in {tmp_path / 'mine' / 'results.csv'}" in again.stdout
    assert "model" not in again.stderr  # nothing left to do: no workers, no empty progress bars
    changed = cli("sweep", "--preset", "mine", "--seeds", "2", "--results", results)
    assert changed.returncode == 1 and "overriding 'mine' (seeds=2) needs --name" in changed.stderr
    shown = cli("sweep", "--preset", "mine", "--name", "mine2", "--seeds", "2", "--show", "--results", results)
    assert "connections: [3]" in shown.stdout and "jobs: 2" in shown.stdout


def test_paper_preset_is_printable():
    result = cli("sweep", "--preset", "paper", "--show")
    assert result.returncode == 0
    assert "[1, 3, 8, 22, 60, 167, 464, 1292, 3594, 10000]" in result.stdout and "200" in result.stdout


def test_claims_of_a_stored_sweep_give_each_verdict_and_every_levels_means():
    result = cli("claims", "--preset", "paper")
    assert result.returncode == 0
    verdicts, means = result.stdout.split("mean specialization per level")
    claim_rows = [line.split()[0] for line in verdicts.strip().splitlines()[1:]]
    assert sorted(set(claim_rows)) == list("abcde")
    assert len([line for line in means.splitlines() if line[:1].isdigit()]) == 10  # the paper's ten levels
    assert "note:" not in result.stdout


@pytest.mark.parametrize("levels", ["fewer", "other p"])
def test_claims_say_when_a_sweep_is_not_on_the_papers_levels(tmp_path, levels):
    table = pd.read_csv(ROOT / "results" / "paper" / "results.csv")
    if levels == "fewer":
        table = table[table["k"] != 3]
    else:  # ten levels, as a sweep with N = 50 has them
        table["p"] *= 4
    (tmp_path / "mine").mkdir()
    table.to_csv(tmp_path / "mine" / "results.csv", index=False)
    result = cli("claims", "--preset", "mine", "--results", str(tmp_path))
    assert result.returncode == 0
    count = 9 if levels == "fewer" else 10
    assert f"note: onsets can only fall on this sweep's {count} levels of p" in result.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_a_gpu_where_there_is_none_says_so_before_writing_anything(tmp_path):
    result = cli("sweep", "--preset", "paper-cuda", "--results", str(tmp_path))
    assert result.returncode == 1
    assert "finds no CUDA GPU on this machine: use --device cpu" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_rerunning_the_gpu_sweep_where_there_is_no_gpu_says_so():
    result = cli("rerun", "--preset", "paper-cuda", "--jobs", "1")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: device 'cuda' asked for, but PyTorch finds no CUDA GPU on this machine: use --device cpu, "
        "or run on a machine with an NVIDIA GPU"]


@needs_mnist
def test_rerun_names_the_processor_the_sweep_was_made_on_and_this_one(tmp_path):
    from modlib.bench import processor
    from modlib.sweep import SweepConfig, run_sweep

    tiny = SweepConfig(name="tiny", levels=1, seeds=1, epochs=1, train_images=1000, test_images=500,
                       architectures=("standard",), metrics=())
    run_sweep(tiny, tmp_path, progress=False)
    done = cli("rerun", "--preset", "tiny", "--results", str(tmp_path), "--jobs", "1")
    assert done.returncode == 0, done.stderr
    stored, rerun = done.stdout.splitlines()[1:3]
    assert stored.startswith("stored: ") and stored.endswith(f", {processor('cpu')}")
    assert rerun.startswith("rerun:  ") and rerun.endswith(f", {processor('cpu')}")
    assert done.stdout.splitlines()[-1] == ("all 1 rerun jobs are identical to the stored rows (every number "
                                            "within a relative 1e-11 of the stored one; largest difference "
                                            "0.0e+00)")


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"),
    ('{"train": {}}', "lacks the field(s) model"),
    ('[1, 2]', "lacks the field(s) model, train"),
    ('{"model": {"colour": 1}, "train": {}}', "model settings are not a model's"),
])
def test_metrics_of_a_broken_run_json_name_the_file_and_the_fix(tmp_path, content, message):
    (tmp_path / "run.json").write_text(content)
    result = cli("metrics", str(tmp_path))
    assert result.returncode == 1
    line = result.stderr.strip()
    assert line.startswith(f"error: {tmp_path / 'run.json'}") and message in line and "--out" in line
    assert len(line.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]  # nothing else written


@needs_mnist
def test_train_with_the_authors_training_choices_records_them(tmp_path):
    import json

    result = cli("train", "-k", "3", "--epochs", "2", "--train-images", "500", "--test-images", "200",
                 "--optimizer", "adam", "--lr-decay", "0.9", "--normalize", "--fixed-pairs", "--keep", "best-loss",
                 "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "run.json").read_text())
    assert (record["train"]["optimizer"], record["train"]["keep"], record["train"]["normalize"]) == \
        ("adam", "best-loss", True)
    assert record["kept_epoch"] in (1, 2) and len(record["history"]) == 2


def test_every_preset_has_a_group_and_a_description_and_the_list_shows_them_all():
    from modlib.sweep import PRESETS
    from modlib.sweep.presets import ABOUT, GROUPS
    from modlib.sweep.store import preset_table

    assert set(ABOUT) == set(PRESETS)
    assert all(group in GROUPS and len(about) > 20 for group, about in ABOUT.values())
    result = cli("sweep", "--list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    listed = [line.split()[0] for line in lines[1:] if line and line.split()[0] in PRESETS]
    assert sorted(listed) == sorted(PRESETS)
    headers = [line for line in lines if line in GROUPS]
    assert headers == list(GROUPS)  # every group, in order, each once
    table = preset_table().set_index("preset")
    paper = next(line for line in lines if line.startswith("paper "))
    assert paper.split()[1:3] == ["200", f"{table.loc['paper', 'minutes']:.0f}"]  # models, minutes from provenance


def test_the_help_names_the_groups_and_show_gives_the_description():
    from modlib.sweep.presets import ABOUT, GROUPS

    helped = cli("sweep", "--help")
    assert "--list" in helped.stdout and all(group.split()[-1] in helped.stdout for group in GROUPS)
    shown = cli("sweep", "--preset", "crossing", "--show")
    assert shown.returncode == 0 and ABOUT["crossing"][1] in shown.stdout
    missing = cli("sweep")
    assert missing.returncode == 1 and "sweep --list" in missing.stderr


def test_modlib_alone_lists_its_commands_and_where_to_start():
    result = cli()
    assert result.returncode == 0, result.stderr
    for command in ("data", "train", "metrics", "bench", "sweep", "claims", "rerun", "reproduce", "figures"):
        assert any(line.split()[:1] == [command] for line in result.stdout.splitlines()), command
    assert "sweep --list" in result.stdout and "claims --preset paper" in result.stdout
