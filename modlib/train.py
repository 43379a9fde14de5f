"""Training (paper, section "Training"): Adadelta (lr 0.5) for the dense parameters, Deep-R
for the interconnections, cross-entropy on the decided output.

The loss is taken on the output of the module that decides (the paper does not say; the
authors' code does this), so only the deciding module's readout gets a gradient for each
sample. Batches are 128 pairs: in 5 epochs they reach a higher accuracy than the 256 of
the authors' earlier configs, for about 20% more time per epoch. Each epoch draws fresh
pairs (seed ``1000 * seed + epoch``); test pairs are drawn once from the MNIST test split
with a fixed seed, so every model is scored on the same pairs.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from modlib import native
from modlib.data import load_mnist
from modlib.deepr import DeepR, DeepRConfig, deepr_lr
from modlib.model import (ModelConfig, ModularRNN, grad_buffer, linear, per_module, recurrence, recurrence_backward,
                          require, require_whole_numbers)
from modlib.task import EXCLUSIONS, RULES, check_modulus, make_pairs, parity_target
from modlib.trial import ONSETS, Trial, check_trial

TEST_PAIR_SEED = 2021
TEST_NOISE_SEED = 2022  # the noise and onsets of every evaluation: each model sees the same test trials
OPTIMIZERS = ("adadelta", "adam")
DEFAULT_LR = {"adadelta": 0.5, "adam": 1e-3}  # the paper's Adadelta; the authors' code's Adam
KEEPS = ("last", "best-loss")
EVALUATED = ("test_accuracy", "test_loss", "decision_share", "decision_share_by_answer", "readout_norm")  # evaluate's
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # the authors' normalisation (normalize=True)


@dataclass(frozen=True)
class TrainConfig:
    """How one model is trained. ``epochs=None`` means the paper's: 5, or 7 with a bottleneck.
    ``train_images`` / ``test_images`` keep only the first n images of each split (for
    quick runs); ``None`` uses them all. Deep-R's learning rate falls geometrically over
    ``deepr_lr_range`` from p = 1/N^2 to p = 1: the paper's (0.1, 0.01) by default; the
    authors' code used (0.1, 0.001). ``train_readout=False`` leaves the last readout layer
    at its random initial weights, as the authors' configs of April 2022 did.
    ``stop_accuracy`` ends training after the first epoch, from the second on, whose test
    accuracy reaches it (the authors' code stopped at 0.90, judged on the test pairs);
    ``None`` trains every epoch, as the paper's text says. ``modulus`` m > 2 asks the modules to
    communicate more than the paper's one parity bit (`modlib.task`; 2: the paper's task).
    ``exclusion="mirrored"`` excludes ``(D_0 - D_1) mod 10`` in {0, 1} instead of the paper's
    ``(D_1 - D_0) mod 10``: a control for what makes the two modules differ (`modlib.task`).
    ``engine="native"`` takes each step in compiled C++ (`modlib.native`): the same arithmetic
    to float rounding, about 30% less time per step on the CPU; the stored results but
    ``paper-native`` are ``"torch"``'s. ``rewire=False`` is a control, not the paper's method:
    Deep-R keeps the k connections it starts with, and one whose theta falls through zero
    changes sign instead of being replaced (`modlib.deepr`; that step is Python on either
    engine).

    The authors' main script differs from the text in more of training, each a switch here
    (default: the text's). ``optimizer="adam"`` trains the dense weights with Adam instead of
    Adadelta; ``lr`` is the dense optimiser's rate (``None``: 0.5 for Adadelta, the paper's;
    1e-3 for Adam, the code's), multiplied by ``lr_decay`` after every epoch (the code's 0.9).
    ``normalize`` standardises the pixels with MNIST's mean and std (0.1307, 0.3081).
    ``fixed_pairs`` draws the training pairs once, so each image keeps its partner for the
    whole training (in a new order every epoch). ``keep="best-loss"`` keeps, at the end, the
    weights of the epoch with the lowest test loss instead of the last. Early stopping is
    judged from epoch ``stop_min_epochs`` on (2: the second; the code's is the third).

    Beyond the paper, ``noise`` and ``onsets`` change what the modules see over the trial
    (`modlib.trial`): structured noise of weight R in every step's image, digits that appear
    at random steps. 0 and "fixed" are the paper's trial."""

    seed: int = 0
    epochs: int | None = None
    batch_size: int = 128
    lr: float | None = None
    rho: float = 0.9
    deepr_lr_range: tuple[float, float] = (0.1, 0.01)
    train_readout: bool = True
    stop_accuracy: float | None = None
    walk: float = 0.01
    rule: str = "prose"
    modulus: int = 2
    exclude: bool = True
    exclusion: str = "paper"
    balance: bool = True
    train_images: int | None = None
    test_images: int | None = None
    device: str = "cpu"
    engine: str = "torch"
    rewire: bool = True
    optimizer: str = "adadelta"
    lr_decay: float = 1.0
    normalize: bool = False
    fixed_pairs: bool = False
    keep: str = "last"
    stop_min_epochs: int = 2
    noise: float = 0.0
    onsets: str = "fixed"

    def __post_init__(self):
        require_whole_numbers(self)
        native.check_engine(self.engine, device=self.device)
        lr_range = self.deepr_lr_range
        require([(self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")])
        require([
            (self.epochs is None or self.epochs >= 0, f"epochs must be >= 0 (or None: the paper's), got {self.epochs}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.dense_lr > 0 and 0 <= self.rho < 1, f"the dense optimiser needs lr > 0 and Adadelta's "
                                                       f"0 <= rho < 1, got {self.lr}, {self.rho}"),
            (0 < self.lr_decay <= 1, f"lr_decay must be in (0, 1] (1: a constant rate; the authors' 0.9), "
                                     f"got {self.lr_decay}"),
            (self.keep in KEEPS, f"keep must be one of {KEEPS}, got {self.keep!r}"),
            (0 <= self.noise <= 1, f"noise is the weight R of the noise in each step's image, in [0, 1]; "
                                   f"got {self.noise}"),
            (self.onsets in ONSETS, f"onsets must be one of {ONSETS}, got {self.onsets!r}"),
            (self.engine == "torch" or self.trial.static,
             f"engine {self.engine!r} shows the same image at every step: use engine torch for noise or "
             f"random onsets"),
            (self.stop_min_epochs >= 1, f"stop_min_epochs must be >= 1, got {self.stop_min_epochs}"),
            (self.engine == "torch" or self.optimizer == "adadelta",
             f"engine {self.engine!r} steps Adadelta only: use engine torch for optimizer {self.optimizer!r}"),
            (len(lr_range) == 2 and all(v > 0 for v in lr_range),
             f"deepr_lr_range must be two positive learning rates (sparsest, densest), e.g. (0.1, 0.01); "
             f"got {tuple(lr_range)}"),
            (self.rule in RULES, f"rule must be one of {RULES}, got {self.rule!r}"),
            (self.exclusion in EXCLUSIONS, f"exclusion must be one of {EXCLUSIONS}, got {self.exclusion!r}"),
            (self.stop_accuracy is None or 0 < self.stop_accuracy <= 1,
             f"stop_accuracy must be in (0, 1] (or None: no early stop), got {self.stop_accuracy}"),
            (all(n is None or n >= 1 for n in (self.train_images, self.test_images)),
             f"train_images and test_images must be >= 1 (or None: all), got {self.train_images}, {self.test_images}"),
        ])
        check_modulus(self.modulus)

    @property
    def trial(self) -> Trial:
        return Trial(self.noise, self.onsets)

    @property
    def dense_lr(self) -> float:
        """The dense optimiser's rate at the first epoch: ``lr``, or the optimiser's default."""
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    def n_epochs(self, model: ModelConfig) -> int:
        return self.epochs if self.epochs is not None else (7 if model.bottleneck else 5)

    def target(self, d0: torch.Tensor, d1: torch.Tensor) -> torch.Tensor:
        """The digit to report for each pair, by this config's rule and modulus."""
        return parity_target(d0, d1, self.rule, self.modulus)


def check_device(device: str) -> None:
    """Refuse, with the fix, a device that this machine's PyTorch cannot use."""
    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}: use cpu or cuda (cuda:0, cuda:1, ... for one of several GPUs)") \
            from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but PyTorch finds no CUDA GPU on this machine: "
                         f"use --device cpu, or run on a machine with an NVIDIA GPU")


@dataclass(frozen=True)
class Split:
    """A split on the device: flattened images in [0, 1] and labels."""

    x: torch.Tensor
    labels: torch.Tensor
    trial: Trial = Trial()

    @classmethod
    def load(cls, name: str, n: int | None = None, device: str = "cpu", normalize: bool = False) -> "Split":
        """The first ``n`` images of split ``name``; ``normalize``: standardised with MNIST's
        mean and std, as the authors' code did, instead of in [0, 1]."""
        check_device(device)
        images, labels = load_mnist(name)
        images, labels = images[:n], labels[:n]
        x = images.reshape(len(images), -1).to(device, torch.float32) / 255
        return cls((x - MNIST_MEAN) / MNIST_STD if normalize else x, labels.to(device))

    @classmethod
    def for_config(cls, name: str, cfg: "TrainConfig") -> "Split":
        """Split ``name`` as ``cfg`` trains on it: its image count, device, normalisation and trial."""
        split = cls.load(name, cfg.test_images if name == "test" else cfg.train_images, cfg.device, cfg.normalize)
        return replace(split, trial=cfg.trial)

    def pairs(self, seed: int, cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
        i0, i1 = make_pairs(self.labels.cpu(), seed, exclude=cfg.exclude, balance=cfg.balance, modulus=cfg.modulus,
                            exclusion=cfg.exclusion)
        return i0.to(self.x.device), i1.to(self.x.device)

    def batch(self, i0: torch.Tensor, i1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`inputs` and the two digits for index pairs."""
        return self.inputs(i0, i1), self.labels[i0], self.labels[i1]

    def trial_inputs(self, i0: torch.Tensor, i1: torch.Tensor, n_steps: int,
                     generator: torch.Generator) -> torch.Tensor:
        """`inputs` over the split's trial (`modlib.trial.Trial.present`): the same tensor for the
        paper's trial, else one image per step ``[T, B, 2, 784]``."""
        return self.trial.present(self.inputs(i0, i1), n_steps, generator)

    def inputs(self, i0: torch.Tensor, i1: torch.Tensor) -> torch.Tensor:
        """Inputs ``[B, 2, 784]`` for index pairs. One ``index_select`` (3x faster than indexing
        here), stored module-major so that the model's per-module input projection reads
        contiguous memory."""
        index = torch.cat([i0, i1])
        return self.x.index_select(0, index).view(2, len(i0), -1).transpose(0, 1)


def trials_in_batches(split: Split, pairs, n_steps: int, batch_size: int = 4096):
    """All ``pairs`` of ``split`` over its trial, in large batches, with the same noise and onsets
    every time (seed `TEST_NOISE_SEED`): yields ``(inputs, onset, d0, d1)`` (`modlib.trial.Trial.draw`)."""
    i0, i1 = pairs
    noise = torch.Generator().manual_seed(TEST_NOISE_SEED)
    for start in range(0, len(i0), batch_size):
        batch = slice(start, start + batch_size)
        yield (*split.trial.draw(split.inputs(i0[batch], i1[batch]), n_steps, noise), split.labels[i0[batch]],
               split.labels[i1[batch]])


@torch.no_grad()
def outputs_in_batches(model: ModularRNN, split: Split, pairs, batch_size: int = 4096):
    """Evaluate ``model`` on all ``pairs`` in large batches (`trials_in_batches`): yields ``(output,
    d0, d1)``. Stacked models (`modlib.ensemble.stacked_model`) all see the same pairs."""
    for x, _, d0, d1 in trials_in_batches(split, pairs, model.config.n_steps, batch_size):
        yield model(x.expand(*model.theta.shape[:-3], *x.shape)), d0, d1


def accuracy(model: ModularRNN, split: Split, pairs, cfg: TrainConfig = TrainConfig()) -> float:
    """Fraction of pairs whose decided output is the task's target (``cfg``'s rule and modulus)."""
    return evaluate(model, split, pairs, cfg)["test_accuracy"]


@torch.no_grad()
def evaluate(model: ModularRNN, split: Split, pairs, cfg: TrainConfig = TrainConfig()) -> dict:
    """What training records of a model after each epoch, on ``pairs``: accuracy on the task,
    mean cross-entropy of the decided output (the loss that ``keep="best-loss"`` minimises), the
    share of the pairs each module decides (``decision_share[n]``), and the same among the pairs
    whose answer is digit t (``decision_share_by_answer[n][t]``: the competitive decision lets a
    module answer for the other's digit), and each module's last readout layer's weight norm."""
    correct, loss, decider, answer = 0, 0.0, [], []
    for out, d0, d1 in outputs_in_batches(model, split, pairs):
        target = cfg.target(d0, d1)
        correct += int((out.decided.argmax(1) == target).sum())
        loss += float(F.cross_entropy(out.decided, target, reduction="sum"))
        decider.append(out.decider)
        answer.append((target != d0).long())  # 0 where the answer is digit 0 (both, if d0 = d1)
    decider, answer, n = torch.cat(decider), torch.cat(answer), len(pairs[0])
    by_answer = [[float((decider[answer == t] == m).double().mean()) if bool((answer == t).any()) else float("nan")
                  for t in (0, 1)] for m in (0, 1)]
    weight = model.readout_layers()[-1][0]
    return {"test_accuracy": correct / n, "test_loss": loss / n,
            "decision_share": [float((decider == m).double().mean()) for m in (0, 1)],
            "decision_share_by_answer": by_answer,
            "readout_norm": weight.flatten(-2).norm(dim=-1).tolist()}


class FlatAdadelta:
    """Adadelta (Zeiler 2012), the same arithmetic as ``torch.optim.Adadelta`` (so the same
    numbers), on all dense parameters at once. The parameters and their gradients become
    views of one flat buffer each, so a step is a few whole-buffer operations instead of a
    few per parameter (twice as fast here), and backward accumulates straight into the buffer."""

    def __init__(self, params, lr: float = 0.5, rho: float = 0.9, eps: float = 1e-6):
        self.params, self.lr, self.rho, self.eps = list(params), lr, rho, eps
        self.flat = torch.cat([p.detach().flatten() for p in self.params])
        self.grad = torch.zeros_like(self.flat)
        self.square_avg = torch.zeros_like(self.flat)
        self.acc_delta = torch.zeros_like(self.flat)
        sizes = [p.numel() for p in self.params]
        self.grad_views = [g.view_as(p) for g, p in zip(self.grad.split(sizes), self.params)]
        for p, value in zip(self.params, self.flat.split(sizes)):
            p.data = value.view_as(p)
        self.zero_grad()

    def zero_grad(self) -> None:
        """Zero the gradient buffer, and point each ``.grad`` back into it (in case
        something, e.g. ``model.zero_grad()``, replaced it)."""
        self.grad.zero_()
        for p, g in zip(self.params, self.grad_views):
            p.grad = g

    @torch.no_grad()
    def step(self) -> None:
        rho, g = self.rho, self.grad
        self.square_avg.mul_(rho).addcmul_(g, g, value=1 - rho)
        std = self.square_avg.add(self.eps).sqrt_()
        delta = self.acc_delta.add(self.eps).sqrt_().div_(std).mul_(g)
        self.acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
        self.flat.add_(delta, alpha=-self.lr)


class FlatAdam(FlatAdadelta):
    """Adam (Kingma & Ba 2015) with PyTorch's defaults (betas 0.9, 0.999, eps 1e-8; the same
    arithmetic as ``torch.optim.Adam``), on the same flat buffer: the authors' code trains the
    dense weights so (``optimizer="adam"``)."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr=lr, eps=eps)
        self.betas, self.steps = betas, 0
        self.exp_avg, self.exp_avg_sq = self.square_avg, self.acc_delta  # Adadelta's buffers, renamed

    @torch.no_grad()
    def step(self) -> None:
        (b1, b2), g = self.betas, self.grad
        self.steps += 1
        self.exp_avg.lerp_(g, 1 - b1)
        self.exp_avg_sq.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = (self.exp_avg_sq.sqrt() / (1 - b2 ** self.steps) ** 0.5).add_(self.eps)
        self.flat.addcdiv_(self.exp_avg, denom, value=-self.lr / (1 - b1 ** self.steps))


def trained_parameters(model: ModularRNN, cfg: TrainConfig) -> list[torch.Tensor]:
    """The dense parameters Adadelta trains: every per-module one, less the last readout layer
    (into the classes) when ``cfg.train_readout`` is off."""
    frozen = [] if cfg.train_readout else list(model.readout_layers()[-1])
    return [p for p in model.module_parameters().values() if not any(p is f for f in frozen)]


def new_model(model_cfg: ModelConfig, cfg: TrainConfig) -> tuple[ModularRNN, FlatAdadelta, DeepR]:
    """A freshly initialised model on ``cfg.device`` and its two optimisers, seeded by ``cfg.seed``."""
    native.check_engine(cfg.engine, model_cfg.message, cfg.device, model_cfg.readout, model_cfg.cell)
    torch.manual_seed(cfg.seed)
    model = ModularRNN.from_config(model_cfg, seed=cfg.seed).to(cfg.device)
    dense = dense_optimizer(trained_parameters(model, cfg), cfg)
    lr = deepr_lr(model_cfg.p, model_cfg.n_hidden, *cfg.deepr_lr_range)
    g = torch.Generator(device=model.theta.device).manual_seed(cfg.seed + 7919)
    deepr = native.NativeDeepR if cfg.engine == "native" else DeepR
    sparse = deepr(model.theta, model_cfg.n_connections, DeepRConfig(lr=lr, walk=cfg.walk, rewire=cfg.rewire),
                   generator=g, sign=model.sign)
    return model, dense, sparse


def dense_optimizer(params, cfg: TrainConfig) -> FlatAdadelta:
    """``cfg``'s optimiser of the dense weights, at its first epoch's rate."""
    if cfg.optimizer == "adam":
        return FlatAdam(params, lr=cfg.dense_lr)
    return FlatAdadelta(params, lr=cfg.dense_lr, rho=cfg.rho)


def loss_and_gradients(model: ModularRNN, x: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None):
    """Cross-entropy of the decided output, and every parameter's gradient worked out by hand
    and written into its ``.grad`` (replacing what was there). Returns ``(loss, decided)``.
    The same numbers as ``loss.backward()`` to rounding (``tests/test_train.py`` checks
    it), 15% faster per training step here: autograd's bookkeeping, and the copies it makes
    into gradient buffers, cost that much at these sizes. Stacked models (`modlib.ensemble`)
    take a leading axis on ``x`` ``[M, B, 2, in]`` and ``target`` ``[M, B]``, and ``weight``
    ``[M, B]``, each pair's share of its model's loss (1/B for a model's B pairs, 0 for padding);
    the loss is then each model's, ``[M]``."""
    if model.config.cell != "rnn":
        return autograd_loss_and_gradients(model, x, target)
    per_step = model.per_step(x)  # inputs that change over the trial: [T, B, 2, in]
    batch = x.shape[per_step:-2]
    with torch.no_grad():
        w = model.recurrent_matrix()
        hs = recurrence(model.input_drive(x), w, model.config.n_steps, per_step)
        states = [hs[-1].view(*batch, 2, -1)]
        for layer, bias in model.readout_layers():
            states.append(linear(states[-1], layer, bias))
        decided, decider = model.decide(states[-1])
        log_p = F.log_softmax(decided, dim=-1)
        if weight is None:
            loss = F.nll_loss(log_p, target)
        else:
            loss = -(log_p.gather(-1, target.unsqueeze(-1)).squeeze(-1) * weight).sum(-1)
        # d loss / d decided = (softmax - one-hot) / B, and it reaches only the decider's readout
        d_decided = log_p.exp_().sub_(F.one_hot(target, log_p.shape[-1]))
        d_decided = d_decided.div_(batch[-1]) if weight is None else d_decided.mul_(weight.unsqueeze(-1))
        if model.config.readout == "shared":  # the output is the sum of both readouts: both get its gradient
            grad = d_decided.unsqueeze(-2).expand_as(states[-1]).clone()
        else:
            grad = torch.zeros_like(states[-1])
            grad.scatter_(-2, decider[..., None, None].expand(*batch, 1, grad.shape[-1]), d_decided.unsqueeze(-2))
        grad = grad.transpose(-3, -2)  # module first, [2, B, out], like the weights
        for (layer, bias), state in zip(reversed(model.readout_layers()), reversed(states[:-1])):
            torch.bmm(per_module(grad.transpose(-1, -2)), per_module(state.transpose(-3, -2)),
                      out=per_module(grad_buffer(layer)))
            torch.sum(grad, -2, out=grad_buffer(bias))
            grad = grad @ layer
        d_drive, d_w = recurrence_backward(hs, w, grad.transpose(-3, -2).reshape(*batch, -1), per_step)
        if per_step:  # every step's image is projected by the same weights: the steps join the batch
            x, batch = x.flatten(0, 1), (-1,)
        d_drive = d_drive.reshape(*batch, 2, model.config.n_hidden).transpose(-3, -2)  # [2, B, N], as the projection
        torch.bmm(per_module(x.transpose(-3, -2).transpose(-1, -2)), per_module(d_drive),
                  out=per_module(grad_buffer(model.w_ih)))
        torch.sum(d_drive, -2, out=grad_buffer(model.b_ih))
        grad_buffer(model.b_hh).copy_(model.b_ih.grad)
        d_w_hh, d_theta = model.recurrent_matrix_gradients(d_w)
        grad_buffer(model.w_hh).copy_(d_w_hh)
        grad_buffer(model.theta).copy_(d_theta)
    return loss, decided


def autograd_loss_and_gradients(model: ModularRNN, x: torch.Tensor, target: torch.Tensor):
    """`loss_and_gradients` by autograd, for the cells with no hand-written backward: every
    parameter's gradient written into its ``.grad``, where the optimisers read it."""
    out = model(x)
    loss = F.cross_entropy(out.decided, target)
    params = list(model.parameters())
    with torch.no_grad():
        for p, g in zip(params, torch.autograd.grad(loss, params, allow_unused=True)):
            grad_buffer(p).copy_(g) if g is not None else grad_buffer(p).zero_()
    return loss.detach(), out.decided.detach()


def train_step(model: ModularRNN, dense: FlatAdadelta, sparse: DeepR, x: torch.Tensor,
               target: torch.Tensor, clock=None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Forward, loss, backward, Adadelta step and Deep-R step on one batch. Returns the loss,
    the decided output and how many connections were rewired. A non-finite loss raises
    ``FloatingPointError`` before any weight changes. ``clock``, when given, is called with
    each phase's name as it ends (the benchmark's breakdown)."""
    dense.zero_grad()  # points each .grad back into Adadelta's flat buffer
    loss, decided = loss_and_gradients(model, x, target)
    check_finite(loss)
    tick(clock, "gradients")
    dense.step()
    tick(clock, "Adadelta")
    rewired = sparse.step()
    tick(clock, "Deep-R")
    return loss, decided, rewired


def batch_step(model: ModularRNN, dense: FlatAdadelta, sparse: DeepR, split: Split, i0: torch.Tensor,
               i1: torch.Tensor, target: torch.Tensor, engine: str = "torch", clock=None,
               noise: torch.Generator | None = None):
    """`train_step` on the pairs ``(i0, i1)`` of ``split``, whose answers are ``target``, by ``engine``
    (`modlib.native` for "native"); ``noise`` draws the split's trial's noise and onsets."""
    if engine == "native":
        loss, decided = native.fused_step(model, dense, split.x, i0, i1, target)
        check_finite(loss)  # before Deep-R's step: the fused one changed nothing either
        tick(clock, "gradients and Adadelta")
        rewired = sparse.step()
        tick(clock, "Deep-R")
        return loss, decided, rewired
    x = split.inputs(i0, i1) if split.trial.static else split.trial_inputs(i0, i1, model.config.n_steps, noise)
    tick(clock, "batch")
    return train_step(model, dense, sparse, x, target, clock)


def check_finite(loss: torch.Tensor) -> None:
    if not torch.isfinite(loss):
        raise FloatingPointError(f"loss became {float(loss)}")


def tick(clock, phase: str) -> None:
    if clock is not None:
        clock(phase)


def train_epoch(model, dense, sparse, split: Split, pairs, cfg: TrainConfig, epoch: int,
                on_step=None, progress: bool = True, clock=None) -> dict:
    """One pass over ``pairs``; returns mean loss, running train accuracy and rewirings."""
    i0, i1 = pairs
    targets = cfg.target(split.labels[i0], split.labels[i1])
    total_loss = torch.zeros((), device=split.x.device)
    decided = []  # each step's, scored at the end: one pass instead of a few small operations per step
    rewired = 0
    starts = range(0, len(i0), cfg.batch_size)
    bar = tqdm(starts, desc=f"epoch {epoch + 1}", leave=False, disable=not progress)
    # the trials' noise and onsets, for a trial that has them
    noise = None if split.trial.static else torch.Generator().manual_seed(1000 * cfg.seed + epoch)
    for step, start in enumerate(bar):
        batch = slice(start, start + cfg.batch_size)
        target = targets[batch]
        try:
            loss, output, n_rewired = batch_step(model, dense, sparse, split, i0[batch], i1[batch], target,
                                                 cfg.engine, clock, noise)
        except FloatingPointError as error:
            raise FloatingPointError(
                f"{error} at epoch {epoch + 1}, step {step + 1} (seed {cfg.seed}, "
                f"k={model.config.n_connections}); try a smaller learning rate") from None
        rewired += n_rewired
        total_loss += loss * len(target)
        decided.append(output)
        if on_step is not None:
            on_step(model, sparse, step)
    n, correct = len(i0), int((torch.cat(decided).argmax(1) == targets).sum())
    return {"loss": float(total_loss) / n, "train_accuracy": correct / n, "rewired": rewired}


def reached(cfg: TrainConfig, history: list[dict]) -> bool:
    """Whether early stopping ends training here: from epoch ``cfg.stop_min_epochs`` on, once the
    test accuracy is at least ``cfg.stop_accuracy`` (the authors' rule)."""
    return (cfg.stop_accuracy is not None and len(history) >= cfg.stop_min_epochs
            and history[-1]["test_accuracy"] >= cfg.stop_accuracy)


def epoch_pairs(split: Split, cfg: TrainConfig, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The training pairs of ``epoch``: drawn anew every epoch (seed ``1000 * seed + epoch``), or,
    with ``cfg.fixed_pairs``, the first epoch's pairs again, in that epoch's random order."""
    if not cfg.fixed_pairs:
        return split.pairs(1000 * cfg.seed + epoch, cfg)
    i0, i1 = split.pairs(1000 * cfg.seed, cfg)
    if epoch == 0:
        return i0, i1
    order = torch.randperm(len(i0), generator=torch.Generator().manual_seed(1000 * cfg.seed + epoch)).to(i0.device)
    return i0[order], i1[order]


def train_model(model_cfg: ModelConfig, cfg: TrainConfig, progress: bool = True, on_step=None,
                splits: tuple[Split, Split] | None = None):
    """Train one model from scratch. Returns ``(model, record)``; the record holds both
    configs, per-epoch loss, accuracies and Deep-R rewirings, and timings. Same seed and threads, same numbers
    (one thread and two round some small products differently: appendix "Computational reproducibility").
    ``splits``: the (train, test) splits already loaded for ``cfg``, to save reading MNIST again."""
    check_trial(cfg.noise, cfg.onsets, model_cfg.n_steps)
    model, dense, sparse = new_model(model_cfg, cfg)
    train, test = splits or (Split.for_config("train", cfg), Split.for_config("test", cfg))
    test_pairs = test.pairs(TEST_PAIR_SEED, cfg)
    history, best = [], None
    start = time.perf_counter()
    epochs = tqdm(range(cfg.n_epochs(model_cfg)), desc=f"k={model_cfg.n_connections} seed={cfg.seed}",
                  disable=not progress)
    for epoch in epochs:
        t0 = time.perf_counter()
        dense.lr = cfg.dense_lr * cfg.lr_decay ** epoch
        stats = train_epoch(model, dense, sparse, train, epoch_pairs(train, cfg, epoch), cfg, epoch, on_step, progress)
        stats["seconds"] = time.perf_counter() - t0
        stats |= evaluate(model, test, test_pairs, cfg)
        history.append(stats)
        epochs.set_postfix(loss=f"{stats['loss']:.3f}", test=f"{stats['test_accuracy']:.3f}")
        if cfg.keep == "best-loss" and (best is None or stats["test_loss"] < history[best - 1]["test_loss"]):
            best, kept = epoch + 1, copy.deepcopy(model.state_dict())
        if reached(cfg, history):
            break
    if best is not None:
        model.load_state_dict(kept)
    kept_epoch = best or len(history)
    final = history[kept_epoch - 1] if history else evaluate(model, test, test_pairs, cfg)
    return model, training_record(model_cfg, cfg, history, kept_epoch, final, time.perf_counter() - start)


def training_record(model_cfg: ModelConfig, cfg: TrainConfig, history: list[dict], kept_epoch: int,
                    final: dict, seconds: float) -> dict:
    """What `train_model` returns beside the model: both configs, each epoch's figures, the epoch
    whose weights were kept (``kept_epoch``: the last, unless ``keep="best-loss"``; 0 if none
    trained) with its `evaluate` figures, and the ``seconds`` it took."""
    return {
        "model": model_cfg.to_dict(),
        "train": asdict(cfg),
        "history": history,
        "kept_epoch": kept_epoch,
        **{key: final[key] for key in EVALUATED},
        "seconds": seconds,
        "threads": torch.get_num_threads(),  # the numbers can depend on it (see above)
    }


def save_run(out: str | Path, model: ModularRNN, record: dict) -> Path:
    """Write ``weights.pt`` and ``run.json`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "weights.pt")
    (out / "run.json").write_text(json.dumps(record, indent=2))
    return out


def load_run(path: str | Path, device: str = "cpu") -> tuple[ModularRNN, dict]:
    """Load a model saved by `save_run`."""
    path = Path(path)
    if not (path / "run.json").exists():
        raise FileNotFoundError(f"{path} holds no run.json: train a model there first "
                                f"(python -m modlib train --out {path})")
    record = read_record(path / "run.json")
    model = ModularRNN.from_config(ModelConfig(**record["model"]))
    model.load_state_dict(torch.load(path / "weights.pt", map_location=device))
    return model.to(device), record


def read_record(file: Path) -> dict:
    """A ``run.json`` written by `save_run`, refused in one line that names it if it is not JSON
    or lacks what a model is rebuilt from."""
    fix = f"train the model again into {file.parent} (python -m modlib train --out {file.parent})"
    try:
        record = json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{file} is not valid JSON ({error}): {fix}") from None
    missing = [key for key in ("model", "train")
               if not isinstance(record, dict) or not isinstance(record.get(key), dict)]
    if missing:
        raise ValueError(f"{file} lacks the field(s) {', '.join(missing)} that save_run writes: {fix}")
    try:
        ModelConfig(**record["model"])
    except TypeError as error:
        raise ValueError(f"{file}'s model settings are not a model's ({error}): {fix}") from None
    return record
