import pytest

from modlib.bench import flops_per_pair, run_benchmark
from modlib.model import ModelConfig
from modlib.train import TrainConfig

from tests.conftest import needs_mnist


def test_flop_count_of_the_paper_model():
    counts = flops_per_pair(ModelConfig())
    # forward: 2 x 784 x 200 input projection + 4 x 2 x 200^2 recurrence + 2 x 200 x 10 readout
    assert counts["forward"] == 313_600 + 320_000 + 4_000
    assert counts["backward"] == 313_600 + 640_000 + 8_000
    assert counts["total"] == counts["forward"] + counts["backward"]


@needs_mnist
def test_benchmark_runs_and_ends_with_the_ratio():
    lines = []
    ratio = run_benchmark(ModelConfig(n_connections=10), TrainConfig(train_images=1500), print_=lines.append)
    assert ratio > 0
    assert lines[-1].startswith("ratio measured / floor:")
    assert any("GFLOP/s" in line for line in lines)
