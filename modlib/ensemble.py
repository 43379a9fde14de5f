"""Many models trained as one computation: an ensemble, to fill a GPU.

The members are independent models of one architecture (the same N, bottleneck and options;
their k and seeds may differ), each with its own data, initial weights, Adadelta state and
Deep-R state, exactly as `modlib.train.train_model` would train it alone. What they share is
the arithmetic: every parameter is stacked along a leading member axis, so that one step of
all of them is one batched product per matrix product of one model's step (the same
`modlib.train.loss_and_gradients`, with that axis), and Adadelta is one step over all of
their parameters at once. Each member's parameters stay views of the stacked ones, so after
training each member is an ordinary `modlib.model.ModularRNN` for the metrics.

Deep-R steps the members with the same k together (`modlib.deepr.DeepR` over a group), each
drawing its random walk and its new connections from its own generator, which keeps each
member's exactly k connections per direction and its numbers those of training it alone.

Members' epochs may differ in length (balancing keeps a seed-dependent number of pairs), and
with early stopping a member may stop before the others. A member with no pairs left in a
step takes no step at all: its rows are padding with no weight in the loss, and neither its
Adadelta nor its Deep-R state changes. The numbers are each member's alone to float rounding:
the batched products and a padded last batch sum in another order
(``tests/test_ensemble.py`` checks members against models trained one by one).
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, replace

import torch
from torch import nn
from tqdm import tqdm

from modlib.deepr import DeepR
from modlib.model import ModelConfig, ModularRNN, require
from modlib.train import (TEST_PAIR_SEED, FlatAdadelta, Split, TrainConfig, epoch_pairs, evaluate, loss_and_gradients,
                          new_model, reached, trained_parameters, training_record)

# `--ensemble auto` on a GPU: enough models to fill one (the paper sweep has 100 per architecture).
# On the CPU two worker processes are faster per model than an ensemble (`modlib.bench`), and an
# ensemble's numbers differ from the stored sweeps' in the last bits: 1 there.
GPU_ENSEMBLE = 128


def auto_size(device: str) -> int:
    """How many models `--ensemble auto` trains as one on ``device``."""
    return GPU_ENSEMBLE if str(device).startswith("cuda") else 1


class Ensemble:
    """Members ``(model_cfgs[i], train_cfgs[i])``, stacked (module docstring). ``models`` and
    ``sparse`` are each member's model and Deep-R optimiser; ``stacked`` holds every parameter
    with the member axis first, and ``dense`` is Adadelta over all of them."""

    def __init__(self, model_cfgs: list[ModelConfig], train_cfgs: list[TrainConfig]):
        check_members(model_cfgs, train_cfgs)
        members = [new_model(m, t) for m, t in zip(model_cfgs, train_cfgs)]
        self.train_cfgs = list(train_cfgs)
        self.models = [model for model, _, _ in members]
        self.sparse = [sparse for _, _, sparse in members]
        self.stacked = stacked_model(self.models)
        trained = {id(p) for p in trained_parameters(self.models[0], train_cfgs[0])}
        self.names = [name for name, p in self.models[0].module_parameters().items() if id(p) in trained]
        cfg = train_cfgs[0]
        self.dense = FlatAdadelta([getattr(self.stacked, name) for name in self.names], lr=cfg.dense_lr, rho=cfg.rho)
        self.stacked.theta.grad = torch.zeros_like(self.stacked.theta)
        for i, (model, sparse) in enumerate(zip(self.models, self.sparse)):
            for name, p in model.named_parameters():  # each member's weights are now views of the stack
                p.data = getattr(self.stacked, name).data[i]
            model.theta.grad = self.stacked.theta.grad[i]
            model.sign = self.stacked.sign[i]
            sparse.sign = model.sign  # Deep-R without rewiring flips the member's signs in the stack
        self.groups = [self.deepr_group(members) for members in same_k(model_cfgs)]

    def deepr_group(self, members: range):
        """Deep-R over the consecutive ``members`` (one k), stepping them as one; each member's own
        optimiser becomes a view of the group's state, to step it alone when the others rest."""
        first = self.sparse[members[0]]
        theta = nn.Parameter(self.stacked.theta.data[members.start:members.stop])
        theta.grad = self.stacked.theta.grad[members.start:members.stop]
        group = DeepR(theta, first.k, first.config, [self.sparse[i].generator for i in members],
                      sign=self.stacked.sign[members.start:members.stop])
        for j, i in enumerate(members):
            for state in ("index", "m", "v", "steps"):
                setattr(self.sparse[i], state, getattr(group, state)[j])
        return group, members

    def __len__(self) -> int:
        return len(self.models)

    def step(self, x: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, stepping: torch.Tensor):
        """One training step of the members in ``stepping`` (``[M]`` bool), the others unchanged:
        inputs ``x`` ``[M, B, 2, in]``, targets and loss weights ``[M, B]``. Returns each member's
        loss ``[M]``, decided outputs ``[M, B, classes]`` and how many connections each rewired."""
        loss, decided = loss_and_gradients(self.stacked, x, target, weight)
        if not bool(torch.isfinite(loss[stepping]).all()):  # one check for all: each would wait for a GPU
            raise FloatingPointError(f"loss became {loss.tolist()} (members in turn)")
        if bool(stepping.all()):
            self.dense.step()
        else:
            self.masked_dense_step(stepping)
        on = stepping.tolist()
        rewired = [0] * len(self)
        for group, members in self.groups:
            if all(on[i] for i in members):
                for i, n in zip(members, group.step()):
                    rewired[i] = n
            else:  # some members rest: the others step alone, on their views of the group's state
                for i in (i for i in members if on[i]):
                    rewired[i] = self.step_alone(group, self.sparse[i])
        return loss, decided, rewired

    @staticmethod
    def step_alone(group: DeepR, sparse: DeepR) -> int:
        """``sparse``'s step, a member of ``group``: both keep the longest table of Adam's bias
        corrections either needed, since a member's step counts are the group's."""
        if sparse.n_steps < group.n_steps:
            sparse.n_steps, sparse.corrections = group.n_steps, group.corrections
        rewired = sparse.step()
        if sparse.n_steps > group.n_steps:
            group.n_steps, group.corrections = sparse.n_steps, sparse.corrections
        return rewired

    def masked_dense_step(self, stepping: torch.Tensor) -> None:
        """Adadelta's step for the members in ``stepping`` only: the others' weights and state are
        put back as they were."""
        dense, resting = self.dense, ~stepping.to(self.dense.flat.device)
        sizes = [getattr(self.stacked, name).numel() for name in self.names]
        before = [t.clone() for t in (dense.flat, dense.square_avg, dense.acc_delta)]
        dense.step()
        for now, then in zip((dense.flat, dense.square_avg, dense.acc_delta), before):
            for part, old in zip(now.split(sizes), then.split(sizes)):
                part.view(len(self), -1)[resting] = old.view(len(self), -1)[resting]

    def train_epoch(self, split: Split, pairs: list, training: list[bool], epoch: int,
                    progress: bool = False, on_step=None) -> list[dict | None]:
        """One pass of each member in ``training`` over its own ``pairs`` (``(i0, i1)`` each), in
        batches of the shared batch size; the others rest. Returns per member its mean loss,
        running train accuracy and rewirings (`modlib.train.train_epoch`), or None if it rested.
        ``on_step(ensemble, step)``, when given, is called after every step."""
        batch, device = self.train_cfgs[0].batch_size, split.x.device
        lengths = torch.tensor([len(i0) if on else 0 for (i0, _), on in zip(pairs, training)], device=device)
        i0, i1 = (padded([p[side] for p in pairs], max(len(p[0]) for p in pairs)) for side in (0, 1))
        targets = torch.stack([cfg.target(split.labels[a], split.labels[b])
                               for cfg, a, b in zip(self.train_cfgs, i0, i1)])
        total_loss = torch.zeros(len(self), device=device)
        correct = torch.zeros(len(self), dtype=torch.long, device=device)
        rewired = [0] * len(self)
        starts = range(0, int(lengths.max()), batch)
        for start in tqdm(starts, desc=f"epoch {epoch + 1}", leave=False, disable=not progress):
            rows = torch.arange(start, start + batch, device=device).clamp_(max=i0.shape[1] - 1)
            sizes = (lengths - start).clamp(0, batch)
            real = torch.arange(batch, device=device) < sizes.unsqueeze(1)  # [M, B]; the rest is padding
            weight = real / sizes.clamp(min=1).unsqueeze(1)
            x = split.inputs(i0[:, rows].flatten(), i1[:, rows].flatten()).view(len(self), batch, 2, -1)
            target = targets[:, rows]
            loss, decided, n_rewired = self.step(x, target, weight, sizes > 0)
            total_loss += loss * sizes
            correct += ((decided.argmax(-1) == target) & real).sum(1)
            rewired = [r + n for r, n in zip(rewired, n_rewired)]
            if on_step is not None:
                on_step(self, start // batch)
        n = lengths.clamp(min=1)
        return [{"loss": float(total_loss[i] / n[i]), "train_accuracy": float(correct[i] / n[i]),
                 "rewired": rewired[i]} if on else None for i, on in enumerate(training)]


def stacked_model(models: list[ModularRNN]) -> ModularRNN:
    """One `ModularRNN` of ``models``' architecture whose every parameter, and the signs, are theirs
    stacked along a leading axis (copies): what `modlib.train.loss_and_gradients` trains and
    `modlib.metrics.weight_mask_metric` masks as many models at once."""
    stacked = copy.deepcopy(models[0])
    for name, _ in models[0].named_parameters():
        setattr(stacked, name, nn.Parameter(torch.stack([getattr(m, name).detach() for m in models])))
    stacked.sign = torch.stack([m.sign for m in models])
    return stacked


def same_k(model_cfgs: list[ModelConfig]) -> list[range]:
    """The runs of consecutive members with the same k, as ranges of their positions."""
    starts = [i for i, cfg in enumerate(model_cfgs) if i == 0 or cfg.n_connections != model_cfgs[i - 1].n_connections]
    return [range(a, b) for a, b in zip(starts, starts[1:] + [len(model_cfgs)])]


def padded(indices: list[torch.Tensor], length: int) -> torch.Tensor:
    """Index tensors of different lengths as rows of one ``[M, length]`` tensor, padded with 0
    (a real image: padding rows are computed, with no weight in the loss)."""
    out = torch.zeros(len(indices), length, dtype=indices[0].dtype, device=indices[0].device)
    for row, index in zip(out, indices):
        row[:len(index)] = index
    return out


def check_members(model_cfgs: list[ModelConfig], train_cfgs: list[TrainConfig]) -> None:
    """Refuse members that cannot be stacked, naming what differs."""
    require([(len(model_cfgs) == len(train_cfgs) and model_cfgs,
              f"an ensemble needs one training config per model, and at least one model; got "
              f"{len(model_cfgs)} and {len(train_cfgs)}")])
    shape = {replace(m, n_connections=1) for m in model_cfgs}
    how = {replace(t, seed=0) for t in train_cfgs}
    require([
        (len(shape) == 1, "an ensemble's models must share their architecture (all but k): got "
                          + "; ".join(sorted(str(asdict(s)) for s in shape))),
        (len(how) == 1, "an ensemble's models must be trained alike (all but the seed): got "
                        + "; ".join(sorted(str(asdict(h)) for h in how))),
        (train_cfgs[0].engine == "torch", f"an ensemble trains with the torch engine's step, not "
                                          f"{train_cfgs[0].engine!r}: use engine torch, or one model at a time"),
        (ensemble_trains(train_cfgs[0]), "an ensemble trains with Adadelta at a constant rate and keeps the last "
                                         "epoch: train models with optimizer adam, lr_decay < 1 or keep best-loss "
                                         "one at a time (--ensemble 1)"),
    ])


def ensemble_trains(cfg: TrainConfig) -> bool:
    """Whether an ensemble can train models configured so (its step is Adadelta's, at one rate)."""
    return cfg.optimizer == "adadelta" and cfg.lr_decay == 1 and cfg.keep == "last"


def train_ensemble(model_cfgs: list[ModelConfig], train_cfgs: list[TrainConfig], progress: bool = True,
                   splits: tuple[Split, Split] | None = None) -> list[tuple]:
    """Train the members together (module docstring). Returns, per member, ``(model, record)`` as
    `modlib.train.train_model` does; each record's ``seconds`` is the ensemble's time shared out
    equally, and ``ensemble`` says how many members it had."""
    ensemble = Ensemble(model_cfgs, train_cfgs)
    cfg = train_cfgs[0]
    train, test = splits or (Split.for_config("train", cfg), Split.for_config("test", cfg))
    test_pairs = test.pairs(TEST_PAIR_SEED, cfg)  # the same for every member: it depends on the task only
    histories = [[] for _ in ensemble.models]
    start = time.perf_counter()
    epochs = tqdm(range(cfg.n_epochs(model_cfgs[0])), desc=f"ensemble of {len(ensemble)}", disable=not progress)
    for epoch in epochs:
        training = [not reached(c, h) for c, h in zip(train_cfgs, histories)]
        if not any(training):
            break
        t0 = time.perf_counter()
        pairs = [epoch_pairs(train, c, epoch) for c in train_cfgs]
        stats = ensemble.train_epoch(train, pairs, training, epoch, progress)
        seconds = (time.perf_counter() - t0) / sum(training)
        for model, c, history, member in zip(ensemble.models, train_cfgs, histories, stats):
            if member is not None:
                history.append(member | {"seconds": seconds} | evaluate(model, test, test_pairs, c))
    seconds = (time.perf_counter() - start) / len(ensemble)
    return [(model, training_record(m, c, history, len(history),
                                    history[-1] if history else evaluate(model, test, test_pairs, c), seconds)
             | {"ensemble": len(ensemble)})
            for model, m, c, history in zip(ensemble.models, model_cfgs, train_cfgs, histories)]
