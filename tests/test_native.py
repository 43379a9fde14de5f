import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from modlib import native
from modlib.deepr import DeepR, DeepRConfig, init_theta
from modlib.model import ModelConfig
from modlib.train import Split, TrainConfig, batch_step, new_model, train_model

from tests.conftest import needs_mnist

QUICK = TrainConfig(epochs=1, train_images=2000, test_images=500, seed=3, engine="native")


def one_step(model_cfg: ModelConfig, cfg: TrainConfig, split: Split):
    """A fresh model after one training step of ``cfg.engine`` on the first 128 pairs: its
    parameters and their gradients by name, the loss and the decided output."""
    model, dense, sparse = new_model(model_cfg, cfg)
    i0, i1 = (i[:128] for i in split.pairs(0, cfg))
    target = cfg.target(split.labels[i0], split.labels[i1])
    loss, decided, _ = batch_step(model, dense, sparse, split, i0, i1, target, cfg.engine)
    params = {name: p.detach().clone() for name, p in model.named_parameters()}
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    return params, grads, float(loss), decided


@needs_mnist
@pytest.mark.parametrize("options, train_readout", [({}, True), ({"bottleneck": 5}, True),
                                                    ({"decision": "absmax"}, True), ({"bottleneck": 5}, False),
                                                    ({"n_steps": 1}, True)])
def test_a_native_step_is_the_torch_step_to_float_rounding(options, train_readout):
    model_cfg = ModelConfig(n_connections=60, **options)
    split = Split.load("train", 2000)
    cfg = replace(QUICK, train_readout=train_readout)
    params, grads, loss, decided = one_step(model_cfg, replace(cfg, engine="torch"), split)
    n_params, n_grads, n_loss, n_decided = one_step(model_cfg, cfg, split)
    assert n_loss == pytest.approx(loss, rel=1e-6)
    torch.testing.assert_close(n_decided, decided, rtol=0, atol=1e-5)
    for name in grads:  # gradients, then the weights after Adadelta's and Deep-R's steps
        scale = float(grads[name].abs().max())
        torch.testing.assert_close(n_grads[name], grads[name], rtol=0, atol=1e-5 * scale, msg=name)
        torch.testing.assert_close(n_params[name], params[name], rtol=0, atol=1e-6, msg=name)
    assert not torch.equal(params["w_hh"], one_step(model_cfg, replace(cfg, seed=4), split)[0]["w_hh"])


def test_native_deepr_moves_dies_and_rewires_as_deepr():
    """Many steps of large random gradients, so that connections die and are replaced: the
    compiled Adam and random-walk step and rewiring keep the same set, state and thetas (the
    two break ties between random keys differently, too rarely to meet here)."""
    optimisers = []
    for kind in (DeepR, native.NativeDeepR):
        theta, _ = init_theta(10, 20, torch.Generator().manual_seed(1))
        theta = torch.nn.Parameter(theta)
        optimisers.append(kind(theta, 20, DeepRConfig(lr=0.05), generator=torch.Generator().manual_seed(2)))
    grads, rewired = torch.Generator().manual_seed(3), []
    for _ in range(200):
        grad = torch.randn(2, 10, 10, generator=grads)
        for opt in optimisers:
            opt.theta.grad = grad.clone()
        rewired.append([opt.step() for opt in optimisers])
    python, compiled = optimisers
    assert [a for a, _ in rewired] == [b for _, b in rewired] and sum(a for a, _ in rewired) > 20
    assert torch.equal(python.index, compiled.index) and torch.equal(python.steps, compiled.steps)
    for name in ("theta", "m", "v"):
        torch.testing.assert_close(getattr(compiled, name), getattr(python, name), rtol=1e-5, atol=1e-7)
    assert compiled.active_counts().tolist() == [20, 20]


def test_native_deepr_without_rewiring_flips_signs_as_deepr():
    """The control is `DeepR`'s own step, so the compiled class must not rewire in its place."""
    optimisers = []
    for kind in (DeepR, native.NativeDeepR):
        theta, sign = init_theta(10, 20, torch.Generator().manual_seed(1))
        optimisers.append(kind(torch.nn.Parameter(theta), 20, DeepRConfig(lr=0.05, walk=0.0, rewire=False), sign=sign))
    grads = torch.Generator().manual_seed(3)
    for _ in range(50):
        grad = torch.randn(2, 10, 10, generator=grads)
        for opt in optimisers:
            opt.theta.grad = grad * opt.sign
        assert [opt.step() for opt in optimisers] == [0, 0]
    python, compiled = optimisers
    assert torch.equal(python.index, compiled.index) and torch.equal(python.sign, compiled.sign)
    assert torch.equal(python.theta, compiled.theta)
    assert not torch.equal(compiled.sign, init_theta(10, 20, torch.Generator().manual_seed(1))[1])


@needs_mnist
def test_native_training_learns_like_the_torch_engine():
    """(Same seed, same numbers: `tests/test_train.py`, for both engines.)"""
    cfg = replace(QUICK, epochs=2, train_images=4000, test_images=1000)
    _, native_run = train_model(ModelConfig(n_connections=20), cfg, progress=False)
    assert native_run["train"]["engine"] == "native"
    _, torch_run = train_model(ModelConfig(n_connections=20), replace(cfg, engine="torch"), progress=False)
    assert native_run["history"][1]["loss"] < native_run["history"][0]["loss"]
    # the runs drift apart from rounding, but learn alike
    assert native_run["test_accuracy"] == pytest.approx(torch_run["test_accuracy"], abs=0.05)


@needs_mnist
def test_a_non_finite_loss_stops_the_native_step_before_any_weight_changes():
    model, dense, sparse = new_model(ModelConfig(n_connections=5), QUICK)
    with torch.no_grad():
        model.w_hr[0, 3, 7] = float("nan")
    before = [p.detach().clone() for p in model.parameters()]
    split = Split.load("train", 500)
    i0, i1 = (i[:64] for i in split.pairs(0, QUICK))
    with pytest.raises(FloatingPointError, match="loss became nan"):
        batch_step(model, dense, sparse, split, i0, i1, QUICK.target(split.labels[i0], split.labels[i1]), "native")
    for p, q in zip(before, model.parameters()):
        assert torch.equal(p.nan_to_num(), q.detach().nan_to_num())


@pytest.mark.parametrize("settings, message", [
    ({"engine": "fast"}, "engine must be one of"),
    ({"engine": "native", "device": "cuda"}, "CPU only"),
])
def test_an_engine_that_cannot_run_is_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**settings)


def test_native_refuses_the_authors_message_variant():
    with pytest.raises(ValueError, match="use engine 'torch' for message='before'"):
        new_model(ModelConfig(n_connections=5, message="before"), replace(QUICK, train_images=10))


def test_the_step_builds_with_the_ninja_pip_installed_when_the_venv_is_not_activated(tmp_path):
    """`make` runs .venv/bin/python without activating the venv, so pip's ninja is not on PATH:
    a PATH with the compiler's tools and no ninja must still build (into a fresh cache)."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("c++", "as", "ld"):
        (tools / tool).symlink_to(shutil.which(tool))
    env = {**os.environ, "PATH": str(tools), "TORCH_EXTENSIONS_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    code = ("import shutil; from modlib import native; assert shutil.which('ninja') is None; "
            "native.extension(); print(shutil.which('ninja'))")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).parent == Path(sysconfig.get_path("scripts"))
