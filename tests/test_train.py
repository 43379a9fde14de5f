import itertools
import json
from dataclasses import replace

import pytest
import torch

from modlib import train as train_mod
from modlib.model import ModelConfig
from modlib.model import ModularRNN
from modlib.task import reports_digit0
from modlib.train import (TEST_PAIR_SEED, Split, TrainConfig, accuracy, load_run, loss_and_gradients, save_run,
                          train_model)

from tests.conftest import DEVICES, needs_mnist

QUICK = TrainConfig(epochs=1, train_images=2000, test_images=500, seed=3)


@needs_mnist
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("engine", ["torch", "native"])
def test_same_seed_same_numbers(engine, device):
    if engine == "native" and device != "cpu":
        pytest.skip("the native engine runs on the CPU only")
    cfg = replace(QUICK, device=device, engine=engine)
    _, a = train_model(ModelConfig(n_connections=5), cfg, progress=False)
    _, b = train_model(ModelConfig(n_connections=5), cfg, progress=False)
    _, c = train_model(ModelConfig(n_connections=5), replace(cfg, seed=4), progress=False)
    strip = lambda r: [{k: v for k, v in h.items() if k != "seconds"} for h in r["history"]]
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


@needs_mnist
def test_loss_decreases_and_record_is_complete():
    cfg = TrainConfig(epochs=2, train_images=4000, test_images=1000)
    _, record = train_model(ModelConfig(n_connections=20), cfg, progress=False)
    losses = [h["loss"] for h in record["history"]]
    assert losses[1] < losses[0]
    assert set(record) >= {"model", "train", "history", "test_accuracy", "seconds", "threads"}
    assert 0.0 <= record["test_accuracy"] <= 1.0


@needs_mnist
def test_non_finite_loss_stops_with_the_step(monkeypatch):
    real = train_mod.F.nll_loss
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 3 else loss

    monkeypatch.setattr(train_mod.F, "nll_loss", poisoned)
    with pytest.raises(FloatingPointError, match="epoch 1, step 3"):
        train_model(ModelConfig(n_connections=5), QUICK, progress=False)


@needs_mnist
def test_saved_run_reloads_to_the_same_model(tmp_path):
    model, record = train_model(ModelConfig(n_connections=5, bottleneck=5), QUICK, progress=False)
    save_run(tmp_path, model, record)
    loaded, loaded_record = load_run(tmp_path)
    x = torch.rand(4, 2, 784)
    assert torch.equal(model(x).decided, loaded(x).decided)
    assert loaded_record == json.loads(json.dumps(record))


@needs_mnist
@pytest.mark.parametrize("bottleneck", [None, 5])
def test_a_frozen_readout_keeps_its_initial_weights_and_the_rest_learns(bottleneck):
    model_cfg = ModelConfig(n_connections=5, bottleneck=bottleneck)
    start = ModularRNN.from_config(model_cfg, seed=QUICK.seed).state_dict()
    trained, _ = train_model(model_cfg, replace(QUICK, train_readout=False), progress=False)
    last = {"w_br", "b_br"} if bottleneck else {"w_hr", "b_hr"}
    for name, value in trained.state_dict().items():
        if name != "sign":
            assert torch.equal(value, start[name]) == (name in last), name


def test_early_stopping_waits_for_the_second_epoch_or_the_one_set():
    from modlib.train import reached

    stop = TrainConfig(stop_accuracy=0.9)
    history = [{"test_accuracy": 0.95}]
    assert not reached(stop, history)  # the first epoch never stops training
    assert reached(stop, history + [{"test_accuracy": 0.90}])
    assert not reached(stop, history + [{"test_accuracy": 0.89}])
    assert not reached(TrainConfig(), history * 3)
    third = replace(stop, stop_min_epochs=3)  # the authors' main script: epoch index >= 2
    assert not reached(third, history * 2) and reached(third, history * 3)


@needs_mnist
def test_early_stopping_ends_training_at_the_first_epoch_that_reaches_it():
    cfg = replace(QUICK, epochs=4, train_images=1000, test_images=300)
    _, stopped = train_model(ModelConfig(n_connections=5), replace(cfg, stop_accuracy=0.01), progress=False)
    _, full = train_model(ModelConfig(n_connections=5), replace(cfg, stop_accuracy=1.0), progress=False)
    assert len(stopped["history"]) == 2 and len(full["history"]) == 4
    assert stopped["history"] == [{**h, "seconds": s["seconds"]} for h, s in zip(full["history"], stopped["history"])]


@needs_mnist
def test_training_and_scoring_follow_the_modulus():
    cfg = replace(QUICK, epochs=1, modulus=10)
    model, record = train_model(ModelConfig(n_connections=5), cfg, progress=False)
    test = Split.load("test", cfg.test_images)
    pairs = test.pairs(TEST_PAIR_SEED, cfg)
    assert record["test_accuracy"] == accuracy(model, test, pairs, cfg)
    assert record["test_accuracy"] != accuracy(model, test, pairs, replace(cfg, modulus=2))
    first = reports_digit0(test.labels[pairs[0]], test.labels[pairs[1]], 10)
    assert int(first.sum()) == int((~first).sum())  # the pairs are balanced for m = 10, not for parity


def test_loading_an_empty_folder_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m modlib train"):
        load_run(tmp_path)


def test_paper_epochs_are_5_or_7_with_bottleneck():
    assert TrainConfig().n_epochs(ModelConfig()) == 5
    assert TrainConfig().n_epochs(ModelConfig(bottleneck=5)) == 7
    assert TrainConfig(epochs=2).n_epochs(ModelConfig(bottleneck=5)) == 2


@pytest.mark.parametrize("field, value", [("seed", 0.5), ("batch_size", "128"), ("train_images", 1e4),
                                          ("modulus", 2.0)])
def test_counts_must_be_whole_numbers(field, value):
    with pytest.raises(ValueError, match=f"{field} must be a whole number"):
        TrainConfig(**{field: value})


def test_flat_adadelta_matches_torch_adadelta_exactly():
    """Same arithmetic as torch.optim.Adadelta, so the same numbers, bit for bit; and
    gradients that something replaced (model.zero_grad) are pointed back into the buffer."""
    from modlib.model import ModularRNN
    from modlib.train import FlatAdadelta

    ours, ref = ModularRNN(10, 3, seed=1, n_inputs=20), ModularRNN(10, 3, seed=1, n_inputs=20)
    flat = FlatAdadelta(ours.module_parameters().values(), lr=0.5, rho=0.9)
    torch_opt = torch.optim.Adadelta(ref.module_parameters().values(), lr=0.5, rho=0.9)

    def before(step):
        if step == 2:
            ours.zero_grad(set_to_none=True)

    step_side_by_side(ours, ref, flat, torch_opt, 5, before)
    for (name, a), b in zip(ours.module_parameters().items(), ref.module_parameters().values()):
        assert torch.equal(a, b), name
    assert not torch.equal(ours.w_ih, ModularRNN(10, 3, seed=1, n_inputs=20).w_ih)  # it did train


def step_side_by_side(ours, ref, flat, torch_opt, steps: int, before) -> None:
    """``steps`` steps of our optimiser on ``ours`` and PyTorch's on ``ref`` from the same loss,
    ``before(step)`` called first at each."""
    x = torch.rand(16, 2, 20)
    for step in range(steps):
        before(step)
        flat.zero_grad()
        torch_opt.zero_grad()
        for model in (ours, ref):
            model(x).readouts.square().sum().backward()
        flat.step()
        torch_opt.step()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("bottleneck, decision, message, readout",
                         [(*settings, "separate") for settings in itertools.product([None, 5], ["max", "absmax"],
                                                                                    ["after", "before"])]
                         + [(None, "max", "after", "shared"), (5, "max", "before", "shared")])
def test_hand_written_gradients_are_autograds(bottleneck, decision, message, readout, device):
    model = ModularRNN(n_hidden=8, n_connections=20, n_inputs=12, bottleneck=bottleneck,
                       decision=decision, message=message, readout=readout, seed=1).double().to(device)
    x = torch.rand(16, 2, 12, dtype=torch.float64, device=device)
    target = torch.randint(0, 10, (16,), device=device)
    loss = torch.nn.functional.cross_entropy(model(x).decided, target)
    loss.backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    for p in model.parameters():  # written over, not added to
        p.grad.fill_(123.0)
    hand_loss, decided = loss_and_gradients(model, x, target)
    assert torch.allclose(hand_loss, loss.detach(), rtol=0, atol=1e-14)
    assert torch.equal(decided, model(x).decided.detach())
    for name, p in model.named_parameters():
        assert torch.allclose(p.grad, expected[name], rtol=0, atol=1e-14), name


@pytest.mark.parametrize("bottleneck, message", [(None, "after"), (5, "before")])
def test_inputs_that_change_over_the_trial_get_the_gradients_of_plain_autograd(bottleneck, message):
    """One image per step ([T, B, 2, in]): the hand-written gradients and the model's own
    backward both equal autograd through a step-by-step loop written from the equation."""
    model = ModularRNN(n_hidden=8, n_connections=20, n_inputs=12, bottleneck=bottleneck, message=message,
                       seed=1).double()
    x = torch.rand(5, 16, 2, 12, dtype=torch.float64)
    target = torch.randint(0, 10, (16,))
    w, h = model.recurrent_matrix(), torch.zeros(16, 16, dtype=torch.float64)
    for t in range(5):
        drive = torch.einsum("bmi,min->bmn", x[t], model.w_ih) + model.b_ih + model.b_hh
        h = torch.tanh(drive.reshape(16, -1) + h @ w.T)
        if t == 0:
            h0 = h
    readouts, _ = model.readout(h.view(16, 2, 8))
    decided, _ = model.decide(readouts)
    torch.nn.functional.cross_entropy(decided, target).backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    assert torch.allclose(model.every_state(x)[0].reshape(16, -1), h0, atol=1e-14)
    loss_and_gradients(model, x, target)
    hand = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    torch.nn.functional.cross_entropy(model(x).decided, target).backward()
    for name, p in model.named_parameters():
        assert torch.allclose(hand[name], expected[name], rtol=0, atol=1e-13), name
        assert torch.allclose(p.grad, expected[name], rtol=0, atol=1e-13), name


def test_flat_adam_matches_torch_adam_as_its_rate_changes():
    """Adam's arithmetic as torch.optim.Adam's (to float rounding: the bias corrections are
    grouped differently), including a rate lowered between steps, as ``lr_decay`` does."""
    from modlib.train import FlatAdam

    ours, ref = ModularRNN(10, 3, seed=1, n_inputs=20), ModularRNN(10, 3, seed=1, n_inputs=20)
    flat = FlatAdam(ours.module_parameters().values(), lr=1e-3)
    torch_opt = torch.optim.Adam(ref.module_parameters().values(), lr=1e-3)

    def before(step):
        if step == 3:
            flat.lr = torch_opt.param_groups[0]["lr"] = 1e-3 * 0.9

    step_side_by_side(ours, ref, flat, torch_opt, 6, before)
    for (name, a), b in zip(ours.module_parameters().items(), ref.module_parameters().values()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7, msg=name)
    assert not torch.allclose(ours.w_hh, ModularRNN(10, 3, seed=1, n_inputs=20).w_hh)  # it did train


@needs_mnist
def test_the_dense_rate_decays_after_every_epoch(monkeypatch):
    rates = []
    epoch = train_mod.train_epoch

    def recording(model, dense, *args, **kwargs):
        rates.append(dense.lr)
        return epoch(model, dense, *args, **kwargs)

    monkeypatch.setattr(train_mod, "train_epoch", recording)
    cfg = replace(QUICK, epochs=3, train_images=500, test_images=200, optimizer="adam", lr_decay=0.9)
    train_model(ModelConfig(n_connections=5), cfg, progress=False)
    assert rates == pytest.approx([1e-3, 0.9e-3, 0.81e-3])
    rates.clear()
    train_model(ModelConfig(n_connections=5), replace(cfg, optimizer="adadelta", lr_decay=1.0), progress=False)
    assert rates == [0.5] * 3  # the paper's Adadelta, at its constant rate


@needs_mnist
def test_normalised_inputs_are_standardised_pixels():
    from modlib.train import MNIST_MEAN, MNIST_STD

    raw, normalised = Split.load("train", 3000), Split.load("train", 3000, normalize=True)
    torch.testing.assert_close(normalised.x, (raw.x - MNIST_MEAN) / MNIST_STD)
    assert abs(float(normalised.x.mean())) < 0.05 and abs(float(normalised.x.std()) - 1) < 0.05
    assert torch.equal(Split.for_config("train", replace(QUICK, normalize=True)).x[:10], normalised.x[:10])


@needs_mnist
def test_fixed_pairs_keep_each_images_partner_in_a_new_order():
    from modlib.train import epoch_pairs

    split = Split.load("train", 2000)
    fixed = replace(QUICK, fixed_pairs=True)
    first, later = epoch_pairs(split, fixed, 0), epoch_pairs(split, fixed, 3)
    partner = lambda pairs: dict(zip(pairs[0].tolist(), pairs[1].tolist()))
    assert partner(first) == partner(later) and not torch.equal(first[0], later[0])
    assert partner(epoch_pairs(split, QUICK, 0)) != partner(epoch_pairs(split, QUICK, 3))  # the text: new pairs
    assert torch.equal(first[0], epoch_pairs(split, QUICK, 0)[0])  # the first epoch's pairs are the same


@needs_mnist
def test_keeping_the_best_loss_restores_that_epochs_weights():
    cfg = replace(QUICK, epochs=4, train_images=600, test_images=300, optimizer="adam", lr=0.05)
    model, record = train_model(ModelConfig(n_connections=5), replace(cfg, keep="best-loss"), progress=False)
    losses = [h["test_loss"] for h in record["history"]]
    assert record["kept_epoch"] == 1 + losses.index(min(losses))
    test = Split.for_config("test", cfg)
    kept = train_mod.evaluate(model, test, test.pairs(TEST_PAIR_SEED, cfg), cfg)
    assert kept["test_loss"] == pytest.approx(min(losses), rel=1e-6)
    assert record["test_accuracy"] == record["history"][record["kept_epoch"] - 1]["test_accuracy"]
    _, last = train_model(ModelConfig(n_connections=5), cfg, progress=False)
    assert last["kept_epoch"] == 4 and last["test_loss"] == last["history"][-1]["test_loss"]


@needs_mnist
def test_evaluate_knows_which_module_decides():
    """A module whose readout is pushed far down never decides: the other decides every pair,
    whatever its answer; the shares by answer then agree with the overall share."""
    model = ModularRNN.from_config(ModelConfig(n_connections=5), seed=0)
    test = Split.load("test", 500)
    pairs = test.pairs(TEST_PAIR_SEED, QUICK)
    with torch.no_grad():
        model.b_hr[1] -= 100.0
    figures = train_mod.evaluate(model, test, pairs, QUICK)
    assert figures["decision_share"] == [1.0, 0.0]
    assert figures["decision_share_by_answer"] == [[1.0, 1.0], [0.0, 0.0]]
    torch.testing.assert_close(torch.tensor(figures["readout_norm"]), model.w_hr.detach().flatten(1).norm(dim=1))
    with torch.no_grad():
        model.b_hr[1] += 100.0
    shares = train_mod.evaluate(model, test, pairs, QUICK)
    assert sum(shares["decision_share"]) == pytest.approx(1.0)
    assert 0 < shares["decision_share"][0] < 1  # an untrained model: both modules decide some pairs


def test_unsupported_combinations_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        TrainConfig(optimizer="sgd")
    with pytest.raises(ValueError, match="engine 'native' steps Adadelta only"):
        TrainConfig(optimizer="adam", engine="native")
    with pytest.raises(ValueError, match="lr_decay must be in"):
        TrainConfig(lr_decay=0)
    with pytest.raises(ValueError, match="keep must be one of"):
        TrainConfig(keep="best")
    assert TrainConfig().dense_lr == 0.5 and TrainConfig(optimizer="adam").dense_lr == 1e-3
