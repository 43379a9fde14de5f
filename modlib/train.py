"""Training (paper, section "Training"): Adadelta (lr 0.5) for the dense parameters, Deep-R
for the interconnections, cross-entropy on the decided output.

The loss is taken on the output of the module that decides (the paper does not say; the
authors' code does this), so only the deciding module's readout gets a gradient for each
sample. Batches are 128 pairs: in 5 epochs they reach a higher accuracy than the
authors' usual 256, for about 20% more time per epoch. Each epoch draws fresh
pairs (seed ``1000 * seed + epoch``); test pairs are drawn once from the MNIST test split
with a fixed seed, so every model is scored on the same pairs.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
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

TEST_PAIR_SEED = 2021


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
    engine)."""

    seed: int = 0
    epochs: int | None = None
    batch_size: int = 128
    lr: float = 0.5
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

    def __post_init__(self):
        require_whole_numbers(self)
        native.check_engine(self.engine, device=self.device)
        lr_range = self.deepr_lr_range
        require([
            (self.epochs is None or self.epochs >= 0, f"epochs must be >= 0 (or None: the paper's), got {self.epochs}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.lr > 0 and 0 <= self.rho < 1, f"Adadelta needs lr > 0 and 0 <= rho < 1, got {self.lr}, {self.rho}"),
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

    @classmethod
    def load(cls, name: str, n: int | None = None, device: str = "cpu") -> "Split":
        check_device(device)
        images, labels = load_mnist(name)
        images, labels = images[:n], labels[:n]
        return cls(images.reshape(len(images), -1).to(device, torch.float32) / 255, labels.to(device))

    def pairs(self, seed: int, cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
        i0, i1 = make_pairs(self.labels.cpu(), seed, exclude=cfg.exclude, balance=cfg.balance, modulus=cfg.modulus,
                            exclusion=cfg.exclusion)
        return i0.to(self.x.device), i1.to(self.x.device)

    def batch(self, i0: torch.Tensor, i1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`inputs` and the two digits for index pairs."""
        return self.inputs(i0, i1), self.labels[i0], self.labels[i1]

    def inputs(self, i0: torch.Tensor, i1: torch.Tensor) -> torch.Tensor:
        """Inputs ``[B, 2, 784]`` for index pairs. One ``index_select`` (3x faster than indexing
        here), stored module-major so that the model's per-module input projection reads
        contiguous memory."""
        index = torch.cat([i0, i1])
        return self.x.index_select(0, index).view(2, len(i0), -1).transpose(0, 1)


@torch.no_grad()
def outputs_in_batches(model: ModularRNN, split: Split, pairs, batch_size: int = 4096):
    """Evaluate ``model`` on all ``pairs`` in large batches: yields ``(output, d0, d1)``. Stacked
    models (`modlib.ensemble.stacked_model`) all see the same pairs."""
    i0, i1 = pairs
    for start in range(0, len(i0), batch_size):
        x, d0, d1 = split.batch(i0[start:start + batch_size], i1[start:start + batch_size])
        yield model(x.expand(*model.theta.shape[:-3], *x.shape)), d0, d1


def accuracy(model: ModularRNN, split: Split, pairs, cfg: TrainConfig = TrainConfig()) -> float:
    """Fraction of pairs whose decided output is the task's target (``cfg``'s rule and modulus)."""
    correct = sum(int((out.decided.argmax(1) == cfg.target(d0, d1)).sum())
                  for out, d0, d1 in outputs_in_batches(model, split, pairs))
    return correct / len(pairs[0])


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


def trained_parameters(model: ModularRNN, cfg: TrainConfig) -> list[torch.Tensor]:
    """The dense parameters Adadelta trains: every per-module one, less the last readout layer
    (into the classes) when ``cfg.train_readout`` is off."""
    frozen = [] if cfg.train_readout else list(model.readout_layers()[-1])
    return [p for p in model.module_parameters().values() if not any(p is f for f in frozen)]


def new_model(model_cfg: ModelConfig, cfg: TrainConfig) -> tuple[ModularRNN, FlatAdadelta, DeepR]:
    """A freshly initialised model on ``cfg.device`` and its two optimisers, seeded by ``cfg.seed``."""
    native.check_engine(cfg.engine, model_cfg.message, cfg.device)
    torch.manual_seed(cfg.seed)
    model = ModularRNN.from_config(model_cfg, seed=cfg.seed).to(cfg.device)
    dense = FlatAdadelta(trained_parameters(model, cfg), lr=cfg.lr, rho=cfg.rho)
    lr = deepr_lr(model_cfg.p, model_cfg.n_hidden, *cfg.deepr_lr_range)
    g = torch.Generator(device=model.theta.device).manual_seed(cfg.seed + 7919)
    deepr = native.NativeDeepR if cfg.engine == "native" else DeepR
    sparse = deepr(model.theta, model_cfg.n_connections, DeepRConfig(lr=lr, walk=cfg.walk, rewire=cfg.rewire),
                   generator=g, sign=model.sign)
    return model, dense, sparse


def loss_and_gradients(model: ModularRNN, x: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None):
    """Cross-entropy of the decided output, and every parameter's gradient worked out by hand
    and written into its ``.grad`` (replacing what was there). Returns ``(loss, decided)``.
    The same numbers as ``loss.backward()`` to rounding (``tests/test_train.py`` checks
    it), 15% faster per training step here: autograd's bookkeeping, and the copies it makes
    into gradient buffers, cost that much at these sizes. Stacked models (`modlib.ensemble`)
    take a leading axis on ``x`` ``[M, B, 2, in]`` and ``target`` ``[M, B]``, and ``weight``
    ``[M, B]``, each pair's share of its model's loss (1/B for a model's B pairs, 0 for padding);
    the loss is then each model's, ``[M]``."""
    batch = x.shape[:-2]
    with torch.no_grad():
        w = model.recurrent_matrix()
        hs = recurrence(model.input_drive(x), w, model.config.n_steps)
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
        grad = torch.zeros_like(states[-1])
        grad.scatter_(-2, decider[..., None, None].expand(*batch, 1, grad.shape[-1]), d_decided.unsqueeze(-2))
        grad = grad.transpose(-3, -2)  # module first, [2, B, out], like the weights
        for (layer, bias), state in zip(reversed(model.readout_layers()), reversed(states[:-1])):
            torch.bmm(per_module(grad.transpose(-1, -2)), per_module(state.transpose(-3, -2)),
                      out=per_module(grad_buffer(layer)))
            torch.sum(grad, -2, out=grad_buffer(bias))
            grad = grad @ layer
        d_drive, d_w = recurrence_backward(hs, w, grad.transpose(-3, -2).reshape(*batch, -1))
        d_drive = d_drive.view(*batch, 2, -1).transpose(-3, -2)  # [2, B, N], as the projection
        torch.bmm(per_module(x.transpose(-3, -2).transpose(-1, -2)), per_module(d_drive),
                  out=per_module(grad_buffer(model.w_ih)))
        torch.sum(d_drive, -2, out=grad_buffer(model.b_ih))
        grad_buffer(model.b_hh).copy_(model.b_ih.grad)
        d_w_hh, d_theta = model.recurrent_matrix_gradients(d_w)
        grad_buffer(model.w_hh).copy_(d_w_hh)
        grad_buffer(model.theta).copy_(d_theta)
    return loss, decided


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
               i1: torch.Tensor, target: torch.Tensor, engine: str = "torch", clock=None):
    """`train_step` on the pairs ``(i0, i1)`` of ``split``, whose answers are ``target``, by ``engine``
    (`modlib.native` for "native")."""
    if engine == "native":
        loss, decided = native.fused_step(model, dense, split.x, i0, i1, target)
        check_finite(loss)  # before Deep-R's step: the fused one changed nothing either
        tick(clock, "gradients and Adadelta")
        rewired = sparse.step()
        tick(clock, "Deep-R")
        return loss, decided, rewired
    x = split.inputs(i0, i1)
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
    for step, start in enumerate(bar):
        batch = slice(start, start + cfg.batch_size)
        target = targets[batch]
        try:
            loss, output, n_rewired = batch_step(model, dense, sparse, split, i0[batch], i1[batch], target,
                                                 cfg.engine, clock)
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


def reached(stop_accuracy: float | None, history: list[dict]) -> bool:
    """Whether early stopping ends training here: from the second epoch on, once the test
    accuracy is at least ``stop_accuracy`` (the authors' rule)."""
    return stop_accuracy is not None and len(history) >= 2 and history[-1]["test_accuracy"] >= stop_accuracy


def train_model(model_cfg: ModelConfig, cfg: TrainConfig, progress: bool = True, on_step=None,
                splits: tuple[Split, Split] | None = None):
    """Train one model from scratch. Returns ``(model, record)``; the record holds both
    configs, per-epoch loss, accuracies and Deep-R rewirings, and timings. Same seed and threads, same numbers
    (one thread and two round some small products differently: appendix "Computational reproducibility").
    ``splits``: the (train, test) splits already loaded for ``cfg``, to save reading MNIST again."""
    model, dense, sparse = new_model(model_cfg, cfg)
    train, test = splits or (Split.load("train", cfg.train_images, cfg.device),
                             Split.load("test", cfg.test_images, cfg.device))
    test_pairs = test.pairs(TEST_PAIR_SEED, cfg)
    history = []
    start = time.perf_counter()
    epochs = tqdm(range(cfg.n_epochs(model_cfg)), desc=f"k={model_cfg.n_connections} seed={cfg.seed}",
                  disable=not progress)
    for epoch in epochs:
        t0 = time.perf_counter()
        stats = train_epoch(model, dense, sparse, train, train.pairs(1000 * cfg.seed + epoch, cfg),
                            cfg, epoch, on_step, progress)
        stats["seconds"] = time.perf_counter() - t0
        stats["test_accuracy"] = accuracy(model, test, test_pairs, cfg)
        history.append(stats)
        epochs.set_postfix(loss=f"{stats['loss']:.3f}", test=f"{stats['test_accuracy']:.3f}")
        if reached(cfg.stop_accuracy, history):
            break
    record = {
        "model": model_cfg.to_dict(),
        "train": asdict(cfg),
        "history": history,
        "test_accuracy": history[-1]["test_accuracy"] if history else accuracy(model, test, test_pairs, cfg),
        "seconds": time.perf_counter() - start,
        "threads": torch.get_num_threads(),  # the numbers can depend on it (see above)
    }
    return model, record


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
    record = json.loads((path / "run.json").read_text())
    model = ModularRNN.from_config(ModelConfig(**record["model"]))
    model.load_state_dict(torch.load(path / "weights.pt", map_location=device))
    return model.to(device), record
