import pytest
import torch

from modlib.ensemble import Ensemble, train_ensemble
from modlib.model import ModelConfig
from modlib.train import Split, TrainConfig, new_model, train_epoch, train_model

from tests.conftest import DEVICES, needs_mnist

QUICK = dict(epochs=2, train_images=2000, test_images=1000)


def members(bottleneck=None, model=None, ks=(1, 22, 464), **options):
    """Three models of one architecture with different seeds and k (by default)."""
    model_cfgs = [ModelConfig(n_connections=k, bottleneck=bottleneck, **(model or {})) for k in ks]
    train_cfgs = [TrainConfig(seed=seed, **(QUICK | options)) for seed in (0, 1, 2)]
    return model_cfgs, train_cfgs


@pytest.fixture(scope="module")
def splits():
    return Split.load("train", QUICK["train_images"]), Split.load("test", QUICK["test_images"])


@needs_mnist
@pytest.mark.parametrize("device", DEVICES)
def test_an_ensemble_on_each_device_gives_each_member_as_trained_alone_there(device):
    model_cfgs, train_cfgs = members(ks=(22, 22, 464), device=device)
    splits = Split.load("train", QUICK["train_images"], device), Split.load("test", QUICK["test_images"], device)
    for (model, record), m, t in zip(train_ensemble(model_cfgs, train_cfgs, progress=False, splits=splits),
                                     model_cfgs, train_cfgs):
        alone, alone_record = train_model(m, t, progress=False, splits=splits)
        assert_same_model(model, alone)
        assert record["test_accuracy"] == pytest.approx(alone_record["test_accuracy"], abs=2e-3)


@needs_mnist
@pytest.mark.parametrize("bottleneck, options", [
    (None, {}), (5, {"train_readout": False}), (None, {"rewire": False}), (None, {"epochs": 4, "stop_accuracy": 0.3}),
    (5, {"model": {"message": "before", "decision": "absmax", "init": "pytorch"}, "batch_size": 100}),
    (None, {"ks": (22, 22, 22)}), (None, {"ks": (8, 8, 464), "rewire": False}),  # Deep-R steps a k's models as one
])
def test_each_member_is_the_model_trained_alone(splits, bottleneck, options):
    model_cfgs, train_cfgs = members(bottleneck, **options)
    together = train_ensemble(model_cfgs, train_cfgs, progress=False, splits=splits)
    if "stop_accuracy" in options:  # the sparsest member stops an epoch after the others
        assert [len(record["history"]) for _, record in together] == [3, 2, 2]
    for (model, record), m, t in zip(together, model_cfgs, train_cfgs):
        alone, alone_record = train_model(m, t, progress=False, splits=splits)
        assert torch.equal(model.theta > 0, alone.theta > 0)  # the same connections, after every rewiring
        for name, p in alone.state_dict().items():
            torch.testing.assert_close(model.state_dict()[name], p, rtol=1e-4, atol=1e-5, msg=name)
        assert len(record["history"]) == len(alone_record["history"])
        for ours, theirs in zip(record["history"], alone_record["history"]):
            assert ours["rewired"] == theirs["rewired"]
            assert ours["train_accuracy"] == pytest.approx(theirs["train_accuracy"], abs=2e-3)
            assert ours["loss"] == pytest.approx(theirs["loss"], rel=1e-4)
        assert record["test_accuracy"] == pytest.approx(alone_record["test_accuracy"], abs=2e-3)


@needs_mnist
def test_members_epochs_differ_in_length_and_deep_r_keeps_k_for_each_after_every_step(splits):
    model_cfgs, train_cfgs = members()
    ensemble = Ensemble(model_cfgs, train_cfgs)
    train = splits[0]
    pairs = [train.pairs(1000 * t.seed, t) for t in train_cfgs]
    assert len({len(i0) for i0, _ in pairs}) > 1  # so the last steps are padded for some members
    counts = []

    def check(ensemble, step):
        for model, k in zip(ensemble.models, (1, 22, 464)):
            counts.append((model.theta > 0).flatten(1).sum(1).tolist() == [k, k])
        for model, stacked_index in zip(ensemble.models, range(3)):  # members are views of the stack
            assert model.theta.data_ptr() == ensemble.stacked.theta[stacked_index].data_ptr()

    ensemble.train_epoch(train, pairs, [True, True, True], 0, on_step=check)
    assert len(counts) == 3 * -(-max(len(i0) for i0, _ in pairs) // 128) and all(counts)


def trained_alone(model_cfg, train_cfg, split, pairs):
    """A model trained alone on each of ``pairs`` (one epoch each)."""
    model, dense, sparse = new_model(model_cfg, train_cfg)
    for epoch, epoch_pairs in enumerate(pairs):
        train_epoch(model, dense, sparse, split, epoch_pairs, train_cfg, epoch, progress=False)
    return model


def assert_same_model(model, alone):
    assert torch.equal(model.theta > 0, alone.theta > 0)
    for name, p in alone.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], p, rtol=1e-4, atol=1e-5, msg=name)


@needs_mnist
def test_a_resting_member_does_not_change_and_the_others_of_its_k_step_alone(splits):
    model_cfgs, train_cfgs = members(ks=(22, 22, 464))  # members 0 and 1: one Deep-R group
    ensemble, train = Ensemble(model_cfgs, train_cfgs), splits[0]
    before = {name: p.clone() for name, p in ensemble.models[1].state_dict().items()}
    pairs = [[train.pairs(1000 * t.seed + epoch, t) for t in train_cfgs] for epoch in (0, 1)]
    stats = ensemble.train_epoch(train, pairs[0], [True, False, True], 0)
    assert stats[1] is None and stats[0]["rewired"] > 0
    assert all(torch.equal(before[name], p) for name, p in ensemble.models[1].state_dict().items())
    assert_same_model(ensemble.models[0], trained_alone(model_cfgs[0], train_cfgs[0], train, [pairs[0][0]]))
    ensemble.train_epoch(train, pairs[1], [True, True, True], 1)  # now the group steps as one
    assert_same_model(ensemble.models[0], trained_alone(model_cfgs[0], train_cfgs[0], train, [p[0] for p in pairs]))
    assert_same_model(ensemble.models[1], trained_alone(model_cfgs[1], train_cfgs[1], train, [pairs[1][1]]))


@pytest.mark.parametrize("change, message", [
    (lambda m, t: ([m[0], ModelConfig(n_connections=3, n_hidden=50)], t[:2]), "share their architecture"),
    (lambda m, t: (m[:2], [t[0], TrainConfig(seed=1, batch_size=64)]), "trained alike"),
    (lambda m, t: (m[:1], [TrainConfig(engine="native")]), "torch engine"),
    (lambda m, t: (m[:1], [TrainConfig(optimizer="adam")]), "Adadelta at a constant rate"),
    (lambda m, t: (m[:1], [TrainConfig(keep="best-loss")]), "keeps the last epoch"),
    (lambda m, t: (m, t[:2]), "one training config per model"),
])
def test_members_that_cannot_be_stacked_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        Ensemble(*change(*members()))
