import numpy as np
import pytest
import torch

from modlib.timecourse import UNIT_SETS, probe_tables, shown_shares, step_tables
from tests.conftest import needs_mnist


def held_digit_states(n_pairs, n_steps=2, n=20, seed=0):
    """States [T, P, 2, N] whose module 0 holds digit 0 (one-hot, in its first 10 units) at step 0
    only; everything else is noise."""
    g = torch.Generator().manual_seed(seed)
    digits = torch.randint(0, 10, (n_pairs, 2), generator=g)
    states = torch.randn(n_steps, n_pairs, 2, n, generator=g) * 0.1
    states[0, :, 0, :10] += 3 * torch.nn.functional.one_hot(digits[:, 0], 10)
    return states, digits


def test_probes_and_ablation_find_a_digit_where_and_when_a_module_holds_it():
    train, d_train = held_digit_states(3000)
    test, d_test = held_digit_states(1000, seed=1)
    probe, ablation = probe_tables(train, d_train, test, d_test)
    assert probe.shape == (2, len(UNIT_SETS), 2) and ablation.shape == (2, 2, 2)
    assert probe[0, 0, 0] > 0.9 and probe[0, 2, 0] > 0.9  # module 0's units, and both modules', at step 0
    assert probe[0, 1, 0] < 0.25 and probe[0, 0, 1] < 0.25  # module 1 has it not; digit 1 is nowhere
    assert (probe[1] < 0.25).all()  # at step 1 nothing holds a digit
    assert ablation[0, 0, 0] > 0.9 and ablation[0, 1, 0] < 0.25  # only module 0 left: still there; only module 1: gone


def test_the_shown_share_counts_the_pairs_whose_digit_is_on_at_each_step():
    onsets = torch.tensor([[0, 1], [2, 1], [1, 3], [3, 3]])
    assert shown_shares(onsets, 4).tolist() == [[0.25, 0.0], [0.5, 0.5], [0.75, 0.5], [1.0, 1.0]]


def test_each_steps_correlation_table_uses_the_same_partners():
    _, digits = held_digit_states(400)
    h = torch.randn(1, 400, 2, 8).expand(3, -1, -1, -1)  # the same state at every step
    tables = step_tables(h, digits)
    assert tables.shape == (3, 2, 2) and np.array_equal(tables[0], tables[2])


@needs_mnist
@pytest.mark.parametrize("bottleneck, noise, onsets", [(None, 0.0, "fixed"), (5, 0.0, "fixed"), (None, 0.4, "random")])
def test_the_last_step_is_todays_measure_exactly(bottleneck, noise, onsets):
    from modlib.metrics import MetricData, bottleneck_metric, cka_metric, correlation_metric
    from modlib.model import ModelConfig
    from modlib.timecourse import timecourse_metric
    from modlib.train import TrainConfig, train_model

    cfg = TrainConfig(epochs=0, train_images=2000, test_images=1000, noise=noise, onsets=onsets)
    model, _ = train_model(ModelConfig(n_connections=22, bottleneck=bottleneck, n_steps=4), cfg, progress=False)
    data = MetricData.load(cfg)
    steps = timecourse_metric(model, data, seed=3)
    today = ({"step_bottleneck": bottleneck_metric} if bottleneck else
             {"step_correlation": correlation_metric, "step_cka": cka_metric})
    for name, metric in today.items():
        assert steps[name].shape == (4, 2, 2)
        assert np.array_equal(steps[name][-1], metric(model, data, seed=3, progress=False)["M"]), name
    assert (steps["step_shown"][-1] == 1).all() and ((steps["step_shown"][0] == 0) if onsets == "random" else
                                                     (steps["step_shown"] == 1)).all()
