"""What crosses between the modules: how well the other module's digit can be read from what a
module receives from it, and from its own final state.

The task needs only the other digit's parity to cross, but a connection carries a real number at
each of T - 1 steps, so it may carry more. For the receiving module n, whose partner m = 1 - n
sees digit D_m:

- ``decode_message[n]``: test accuracy of a small decoder reading D_m from the message
  module n receives, the input ``C h_{t-1}^{(m)}`` of every unit with a connection from module
  m = 1 - n, at steps t = 1 .. T - 1 (the interconnections' whole time course; with
  ``message="before"`` it is taken before ``W_hh``, which holds the same information);
- ``decode_state[n]``: the same from module n's final state ``h_T^(n)``;
- ``parity_bound[n]``: the best accuracy at reading the other digit from module n's own digit
  and the other digit's parity alone, on the same pairs: what a message of one parity bit allows;
- ``decides[n, P]``: the share of the test pairs of parity difference P in which module n takes
  the decision. The competitive decision lets each module answer only with its own digit (module
  0 when the parities match, under the paper's prose); a module that also decides where the
  answer is the other digit must have read that digit from what crossed.

The decoder is a one-hidden-layer network (`decode`), trained on the training pairs, tested on
the test pairs; a decoder can only find a lower bound on what is there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from modlib.model import ModularRNN, recurrence
from modlib.task import parity_difference
from modlib.train import outputs_in_batches

DECODER_WIDTH, DECODER_EPOCHS, DECODER_LR, DECODER_BATCH = 128, 5, 1e-3, 256


def messages_and_states(model: ModularRNN, split, pairs, batch_size: int = 4096):
    """For each receiving module n, the messages ``[P, units_n * (T - 1)]`` it received (only
    its units that have a connection from the other, `message_units`); the final states
    ``[P, 2, N]``; and the digits ``[P, 2]``; on the CPU, where the decoders train."""
    n, steps = model.config.n_hidden, model.config.n_steps
    c = model.interconnections().detach()  # c[d]: from module d to module 1 - d, [receiving, sending]
    units = message_units(model)
    received, final = [], []
    i0, i1 = pairs
    with torch.no_grad():
        for start in range(0, len(i0), batch_size):
            x, _, _ = split.batch(i0[start:start + batch_size], i1[start:start + batch_size])
            hs = recurrence(model.input_drive(x), model.recurrent_matrix(), steps).view(steps, len(x), 2, n)
            per_module = []
            for receiver in (0, 1):
                sender = 1 - receiver
                inputs = hs[:-1, :, sender] @ c[sender][units[receiver]].t()  # [T - 1, B, units]
                per_module.append(inputs.permute(1, 0, 2).reshape(len(x), -1))
            received.append(per_module)
            final.append(hs[-1])
    messages = [torch.cat([batch[r] for batch in received]).cpu() for r in (0, 1)]
    digits = torch.stack([split.labels[i0], split.labels[i1]], dim=1).cpu()
    return messages, torch.cat(final).cpu(), digits


def message_units(model: ModularRNN) -> list[torch.Tensor]:
    """For each receiving module n, the units of n that have at least one connection from 1 - n."""
    c = model.interconnections().detach()
    return [torch.nonzero(c[1 - n].abs().sum(1) > 0).flatten() for n in (0, 1)]


def decode(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
           seed: int = 0, classes: int = 10) -> float:
    """Test accuracy of a one-hidden-layer ReLU network (`DECODER_WIDTH` units, Adam,
    `DECODER_EPOCHS` epochs) reading ``train_y`` from ``train_x``, features standardised on the
    training set."""
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-8)
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    g = torch.Generator().manual_seed(seed)
    width = train_x.shape[1]
    w1 = (torch.randn(width, DECODER_WIDTH, generator=g) / width ** 0.5).requires_grad_()
    w2 = (torch.randn(DECODER_WIDTH, classes, generator=g) / DECODER_WIDTH ** 0.5).requires_grad_()
    b1, b2 = torch.zeros(DECODER_WIDTH, requires_grad=True), torch.zeros(classes, requires_grad=True)
    opt = torch.optim.Adam([w1, b1, w2, b2], lr=DECODER_LR)

    def logits(x):
        return torch.relu(x @ w1 + b1) @ w2 + b2

    for _ in range(DECODER_EPOCHS):
        order = torch.randperm(len(train_x), generator=g)
        for start in range(0, len(order), DECODER_BATCH):
            idx = order[start:start + DECODER_BATCH]
            loss = F.cross_entropy(logits(train_x[idx]), train_y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return float((logits(test_x).argmax(1) == test_y).double().mean())


def parity_bound(digits: torch.Tensor, receiver: int) -> float:
    """The best accuracy at guessing the other digit from the receiver's own digit and the
    other digit's parity, on these pairs (the most frequent other digit of each combination)."""
    own, other = digits[:, receiver].long(), digits[:, 1 - receiver].long()
    counts = torch.zeros(10, 2, 10, dtype=torch.long)
    counts.index_put_((own, other % 2, other), torch.ones_like(own), accumulate=True)
    return float(counts.amax(-1).sum() / len(digits))


def crossing_metric(model: ModularRNN, data, seed: int = 0, **_) -> dict[str, np.ndarray]:
    """``decode_message``, ``decode_state`` and ``parity_bound``, each per receiving module n,
    on the test pairs, decoders trained on the metric's training pairs (module docstring)."""
    train_messages, train_states, train_digits = messages_and_states(model, data.train, data.train_pairs)
    test_messages, test_states, test_digits = messages_and_states(model, data.test, data.test_pairs)

    def read(n, train, test):  # the other module's digit
        return decode(train, train_digits[:, 1 - n], test, test_digits[:, 1 - n], seed=seed)

    return {"decode_message": np.array([read(n, train_messages[n], test_messages[n]) for n in (0, 1)]),
            "decode_state": np.array([read(n, train_states[:, n], test_states[:, n]) for n in (0, 1)]),
            "parity_bound": np.array([parity_bound(test_digits, n) for n in (0, 1)]),
            "decides": decider_shares(model, data.test, data.test_pairs)}


def decider_shares(model: ModularRNN, split, pairs) -> np.ndarray:
    """``[module n, parity difference P]``: the share of the pairs of parity difference P in
    which module n decides."""
    deciders, digits = [], []
    with torch.no_grad():
        for out, d0, d1 in outputs_in_batches(model, split, pairs):
            deciders.append(out.decider)
            digits.append(torch.stack([d0, d1], 1))
    decider, digits = torch.cat(deciders).cpu(), torch.cat(digits).cpu()
    parity = parity_difference(digits[:, 0], digits[:, 1])
    return np.array([[float((decider[parity == p] == n).double().mean()) for p in (0, 1)] for n in (0, 1)])


CROSSING = ("decode_message", "decode_state", "parity_bound")  # a sweep's rows: module n, subtask 1 - n


def decision_shares(table: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds, per level k and parity difference P (rows), of the share of pairs in
    which each module decides (columns)."""
    rows = table[table["metric"] == "decides"]
    if rows.empty:
        raise ValueError("no decision rows in this table: run its sweep with --metrics crossing")
    shares = rows.pivot_table(index=["k", "subtask"], columns="module", values="value", aggfunc="mean")
    shares.index = shares.index.set_names(["k", "P"])
    shares.columns = [f"module {int(n)} decides" for n in shares.columns]
    return shares


def decoded_levels(table) -> pd.DataFrame:
    """Mean over seeds, per level k and receiving module n, of the other digit's decoding
    accuracy from the message and from the final state, the parity bound, and the same
    models' test accuracy on the task."""
    rows = table[table["metric"].isin(CROSSING)]
    if rows.empty:
        raise ValueError("no crossing rows in this table: run its sweep with --metrics crossing")
    means = rows.pivot_table(index=["k", "module"], columns="metric", values="value", aggfunc="mean")[list(CROSSING)]
    models = table[table["metric"] == "accuracy"]
    accuracy = models[models["architecture"].isin(rows["architecture"].unique())].groupby("k")["value"].mean()
    return means.join(accuracy.rename("task accuracy"), on="k")
