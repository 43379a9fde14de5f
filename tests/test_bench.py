import subprocess
import sys
from pathlib import Path

import pytest
import torch

from modlib.bench import conventional_flops_per_pair, flops_per_pair, processor, run_benchmark
from modlib.model import ModelConfig
from modlib.train import TrainConfig

from tests.conftest import DEVICES, needs_mnist

ROOT = Path(__file__).resolve().parents[1]


def test_flop_count_of_the_paper_model():
    counts = flops_per_pair(ModelConfig())
    # forward: 2 x 784 x 200 input projection + 4 x 2 x 200^2 recurrence + 2 x 200 x 10 readout
    assert counts["forward"] == 313_600 + 320_000 + 4_000
    assert counts["backward"] == 313_600 + 640_000 + 8_000
    assert counts["total"] == counts["forward"] + counts["backward"]


def test_conventional_flop_count_is_three_forwards_over_every_step():
    # forward with all 5 recurrent products: 313,600 + 5 x 80,000 + 4,000; backward twice that
    assert conventional_flops_per_pair(ModelConfig()) == 3 * (313_600 + 400_000 + 4_000)
    assert conventional_flops_per_pair(ModelConfig(n_steps=1)) == 3 * (313_600 + 80_000 + 4_000)


@needs_mnist
@pytest.mark.parametrize("device", DEVICES)
def test_benchmark_runs_and_ends_with_the_ratio(device):
    lines = []
    figures = run_benchmark(ModelConfig(n_connections=10), TrainConfig(train_images=1500, device=device),
                            print_=lines.append)
    ratio = figures["ratio"]
    assert ratio > 0
    assert lines[1] == f"processor: {processor(device)}"
    assert lines[-1] == f"ratio measured / floor: {ratio:.2f}"
    # one model: the last lines are its own figures, and the ratio is its seconds over its floor
    assert (figures["ratio"], figures["common_ratio"]) == (figures["alone_ratio"], figures["alone_common_ratio"])
    assert figures["alone_seconds"] / figures["alone_floor"] == pytest.approx(ratio)
    assert not any(name.startswith("side_") for name in figures)
    conventional = float(lines[-2].split("ratio ")[1])
    cfg = ModelConfig(n_connections=10)
    assert conventional == pytest.approx(ratio * flops_per_pair(cfg)["total"] / conventional_flops_per_pair(cfg),
                                         abs=0.006)
    assert any("GFLOP/s" in line for line in lines)


@needs_mnist
def test_benchmark_of_models_side_by_side_ends_with_their_ratio():
    lines = []
    figures = run_benchmark(ModelConfig(n_connections=10), TrainConfig(train_images=12_000), print_=lines.append,
                            workers=2)
    ratio = figures["ratio"]
    at = next(i for i, line in enumerate(lines) if "2 models side by side" in line)
    seconds = float(lines[at].split(": ")[1].split(" s per model-epoch")[0])
    floor = float(lines[at + 1].split("floor ")[1].split(" s")[0])
    # the floor is the FLOPs over the throughput the workers measured side by side
    throughput = float(lines[at + 1].split("products ")[1].split(" GFLOP/s")[0]) * 1e9
    n_pairs = int(next(line for line in lines if line.startswith("FLOPs")).split(" x ")[1].split()[0].replace(",", ""))
    flops = flops_per_pair(ModelConfig(n_connections=10))["total"] * n_pairs
    assert floor == pytest.approx(flops / throughput, abs=0.0005 + 0.05e9 / throughput * floor)  # rounding
    assert lines[-1] == f"ratio measured / floor: {ratio:.2f}"
    rounding = 0.0005 / seconds + 0.0005 / floor  # both are printed to 3 decimals
    assert ratio == pytest.approx(seconds / floor, rel=rounding)
    assert (figures["side_seconds"], figures["side_floor"]) == pytest.approx((seconds, floor), abs=0.0005)
    assert figures["common_ratio"] == figures["side_common_ratio"] < figures["side_ratio"] == ratio
    assert f"one model alone: ratio {figures['alone_ratio']:.2f}" in "\n".join(lines)


@needs_mnist
def test_a_failing_side_by_side_worker_is_reported_and_does_not_leave_the_other_waiting():
    # worker 1's seed (one more than worker 0's) overflows torch's 64-bit generator seed, so only it fails,
    # while worker 0 trains its warm-up epoch and waits for it at the common start
    seed = 2 ** 64 - 1 - 7919  # new_model seeds Deep-R's generator with seed + 7919
    script = ("from modlib.bench import seconds_side_by_side\n"
              "from modlib.model import ModelConfig\n"
              "from modlib.train import TrainConfig\n"
              "if __name__ == '__main__':\n"
              f"    config = TrainConfig(train_images=1500, seed={seed})\n"
              "    seconds_side_by_side(ModelConfig(n_connections=10), config, workers=2, epochs=1)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    lines = done.stderr.splitlines()
    assert [line for line in lines if line.startswith("error in")] == [  # worker 0 stops without a word
        "error in benchmark worker 1: Overflow when unpacking long long"]
    assert lines[-1] == "RuntimeError: benchmark worker(s) [0, 1] failed (see above)"


def test_side_by_side_workers_train_successive_seeds_from_the_given_one():
    from modlib.bench import worker_configs

    configs = worker_configs(TrainConfig(seed=5, batch_size=64), 3)
    assert [cfg.seed for cfg in configs] == [5, 6, 7]
    assert all(cfg.batch_size == 64 for cfg in configs)


def test_processor_names_the_cpu_and_its_vector_instructions():
    described = processor("cpu")
    assert described.endswith(", " + torch.backends.cpu.get_cpu_capability())
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists() and "model name" in cpuinfo.read_text():
        model = next(line for line in cpuinfo.read_text().splitlines() if line.startswith("model name"))
        assert described.startswith(model.split(":", 1)[1].strip() + ", ")


@pytest.mark.parametrize("options, message", [
    (dict(workers=0), "--workers must be >= 1"),
    (dict(ensemble=0), "--ensemble must be >= 1"),
    (dict(workers=2, ensemble=2), "not both"),
])
def test_benchmark_refuses_bad_counts(options, message):
    with pytest.raises(ValueError, match=message):
        run_benchmark(ModelConfig(), TrainConfig(), print_=lambda line: None, **options)


@needs_mnist
def test_an_ensemble_benchmark_reports_its_models_per_model_epoch():
    from modlib.bench import seconds_as_ensemble

    seconds, n_pairs, throughput = seconds_as_ensemble(ModelConfig(n_connections=10), TrainConfig(train_images=1500),
                                                       3, epochs=1)
    one_epoch = TrainConfig(train_images=1500)
    from modlib.train import Split

    split = Split.load("train", 1500)
    expected = sum(len(split.pairs(1000 * seed + 1, one_epoch)[0]) for seed in (0, 1, 2))
    assert n_pairs == expected and seconds > 0 and throughput > 0


def test_phase_clock_adds_the_time_since_the_previous_phase(monkeypatch):
    from modlib import bench

    now = iter([10.0, 10.5, 11.75, 12.0, 13.0])
    monkeypatch.setattr(bench.time, "perf_counter", lambda: next(now))
    clock = bench.PhaseClock("cpu")  # starts at 10.0
    for phase in ("forward", "backward", "forward", "backward"):
        clock(phase)
    assert clock.seconds == {"forward": 0.5 + 0.25, "backward": 1.25 + 1.0}


@needs_mnist
def test_epoch_timing_reports_every_phase_of_a_step():
    from modlib.bench import seconds_per_epoch

    seconds, n_pairs, phases = seconds_per_epoch(ModelConfig(n_connections=10), TrainConfig(train_images=1500),
                                                 epochs=1)
    assert list(phases) == ["batch", "gradients", "Adadelta", "Deep-R"]
    assert all(s > 0 for s in phases.values()) and seconds > 0 and n_pairs > 1000


@needs_mnist
def test_benchmark_of_an_ensemble_ends_with_its_ratio():
    lines = []
    figures = run_benchmark(ModelConfig(n_connections=10), TrainConfig(train_images=3000), print_=lines.append,
                            ensemble=2)
    at = next(i for i, line in enumerate(lines) if line.startswith("2 models as one ensemble: "))
    seconds = float(lines[at].split(": ")[1].split(" s per model-epoch")[0])
    assert figures["ensemble_seconds"] == pytest.approx(seconds, abs=0.0005)
    ratio = figures["ensemble_seconds"] / figures["ensemble_floor"]
    assert figures["ratio"] == figures["ensemble_ratio"] == pytest.approx(ratio)
    assert lines[-1] == f"ratio measured / floor: {figures['ratio']:.2f}"


@needs_mnist
def test_the_measure_benchmark_times_the_per_step_measures_against_the_papers():
    from modlib.bench import measure_seconds

    lines = []
    figures = measure_seconds(ModelConfig(n_connections=10, n_steps=3),
                              TrainConfig(epochs=0, train_images=1500, test_images=500, noise=0.4), print_=lines.append)
    for architecture in ("standard", "bottleneck"):
        assert figures[f"{architecture}_ratio"] == pytest.approx(figures[f"{architecture}_steps"] /
                                                                 figures[f"{architecture}_today"])
    assert "(correlation, cka)" in lines[1]  # with noise the weight mask is not measured
    assert lines[2].startswith("bottleneck: the paper's metrics (bottleneck)")
