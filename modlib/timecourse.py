"""Specialization over the steps of a trial (beyond the paper; its authors' journal version).

The paper measures specialization once, on the last state ``h_T``. Here the measures that read
states (the bottleneck readouts, correlation, CKA) are computed on the state of every step,
from one forward pass that keeps them all, and at ``t = T`` they are the paper's. Two measures
of the journal version are added, per step:

- **probes**: the network frozen, a small probe (linear 2N -> 30, ReLU, linear 30 -> 10) per
  digit k and set of units (module 0, module 1, both) trained on the state at step t to
  report digit k: ``probe[t, set, k]`` is its test accuracy, and module n's table
  ``M[n, k]`` is the probe on module n's units;
- **ablation**: the probe on both modules' units, tested with one module's units zeroed:
  ``M[n, k]`` is its accuracy on digit k when only module n's units are left.

Every probe of every step trains at once, as one batched computation (they share nothing).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from modlib.metrics import MetricData, cka, correlation_table, readout_tables
from modlib.model import ModularRNN, linear
from modlib.train import Split, trials_in_batches

PROBE_WIDTH, PROBE_EPOCHS, PROBE_LR, PROBE_BATCH = 30, 3, 1e-3, 128  # the journal version's probe: 3 epochs
UNIT_SETS = ("module 0", "module 1", "both")
STEP_MEASURES = ("step_bottleneck", "step_correlation", "step_cka", "step_probe", "step_ablation")


@torch.no_grad()
def trial_states(model: ModularRNN, split: Split, pairs) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every step's hidden states ``[T, P, 2, N]`` on ``pairs`` over the split's trial, the digits
    ``[P, 2]``, and the step from which each module saw its digit ``[P, 2]``; the inputs are those
    every evaluation sees (`modlib.train.trials_in_batches`), so the last step is `metrics.states`'."""
    batches = [(model.every_state(x), onset, torch.stack([d0, d1], 1))
               for x, onset, d0, d1 in trials_in_batches(split, pairs, model.config.n_steps)]
    hidden, onsets, digits = zip(*batches)
    return torch.cat(hidden, 1), torch.cat(digits), torch.cat(onsets)


def shown_shares(onsets: torch.Tensor, n_steps: int) -> np.ndarray:
    """The share of pairs whose digit module n sees at step t, ``[T, 2]``."""
    return (onsets.unsqueeze(0) <= torch.arange(n_steps).view(-1, 1, 1)).double().mean(1).cpu().numpy()


def step_tables(hidden: torch.Tensor, digits: torch.Tensor, seed: int = 0, measure=None) -> np.ndarray:
    """The correlation measure's table (or ``measure``'s, `metrics.correlation_table`) at every
    step, ``[T, 2, 2]``: the same partners at every step."""
    return np.stack([correlation_table(h, digits, seed, measure) for h in hidden])


def unit_masks(n_hidden: int, device) -> torch.Tensor:
    """Which of the 2N units each set of `UNIT_SETS` keeps, ``[3, 2N]``."""
    module = torch.arange(2 * n_hidden, device=device) // n_hidden
    return torch.stack([module == 0, module == 1, torch.ones_like(module, dtype=torch.bool)]).float()


def probe_tables(train_states: torch.Tensor, d_train: torch.Tensor, test_states: torch.Tensor,
                 d_test: torch.Tensor, seed: int = 0, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Probes and ablation at every step from frozen states ``[T, P, 2, N]``: the test accuracy
    ``[T, 3, 2]`` of the probe on each set of `UNIT_SETS` for each digit k, and the ablation
    tables ``[T, 2, 2]``: the "both" probe's accuracy on digit k when only module n's units are
    left. Adam (lr 1e-3), batches of 128, 3 epochs; each probe starts from PyTorch's default
    initialisation, drawn with ``seed``."""
    n_steps, _, _, n = train_states.shape
    x_train, x_test = train_states.flatten(-2), test_states.flatten(-2)
    masks = unit_masks(n, x_train.device)
    g = torch.Generator().manual_seed(seed)

    def layer(out: int, fan_in: int):  # [T, set, digit, out, in] and its bias
        bound = fan_in ** -0.5
        return [torch.empty(n_steps, 3, 2, *shape).uniform_(-bound, bound, generator=g).to(x_train.device)
                .requires_grad_() for shape in ((out, fan_in), (out,))]

    (w1, b1), (w2, b2) = layer(PROBE_WIDTH, 2 * n), layer(classes, PROBE_WIDTH)

    def logits(x: torch.Tensor, sets: list[int]) -> torch.Tensor:  # x [T, B, 2N] -> [T, B, set, digit, classes]
        inputs = x.unsqueeze(2) * masks[sets]  # each set sees its own units only
        hidden = torch.einsum("tbsi,tskhi->tbskh", inputs, w1[:, sets]) + b1[:, None, sets]
        return torch.einsum("tbskh,tskoh->tbsko", hidden.relu(), w2[:, sets]) + b2[:, None, sets]

    def accuracy(x: torch.Tensor, sets: list[int]) -> torch.Tensor:  # [T, set, digit]
        return (logits(x, sets).argmax(-1) == d_test.view(1, -1, 1, 2)).double().mean(1)

    every = [0, 1, 2]
    optimizer = torch.optim.Adam([w1, b1, w2, b2], lr=PROBE_LR)
    for _ in range(PROBE_EPOCHS):
        order = torch.randperm(x_train.shape[1], generator=g).to(x_train.device)
        for start in range(0, len(order), PROBE_BATCH):
            idx = order[start:start + PROBE_BATCH]
            out = logits(x_train[:, idx], every)
            target = d_train[idx].view(1, -1, 1, 2).expand(n_steps, -1, 3, 2)
            loss = F.cross_entropy(out.reshape(-1, classes), target.reshape(-1), reduction="none")
            optimizer.zero_grad()
            loss.view(n_steps, -1, 3 * 2).mean(1).sum().backward()  # each probe's mean loss
            optimizer.step()
    with torch.no_grad():
        probe = accuracy(x_test, every)
        ablated = torch.stack([accuracy(x_test * masks[n], [2])[:, 0] for n in (0, 1)], dim=1)  # only module n left
    return probe.cpu().numpy(), ablated.cpu().numpy()


def timecourse_metric(model: ModularRNN, data: MetricData, seed: int = 0, **_) -> dict[str, np.ndarray]:
    """Every per-step measure that applies to ``model``, by name (`STEP_MEASURES`): each a table
    ``[T, 2, 2]`` (module n, digit k), and ``step_probe_both`` ``[T, 2]`` (the probe on both
    modules) and ``step_shown`` ``[T, 2]`` (`shown_shares` of the test pairs). The bottleneck
    readouts for models with a bottleneck; correlation, CKA, probes and ablation on the others."""
    n_steps = model.config.n_steps
    test, d_test, onsets = trial_states(model, data.test, data.test_pairs)
    out = {"step_shown": shown_shares(onsets, n_steps)}
    if model.config.bottleneck:
        train, d_train, _ = trial_states(model, data.train, data.train_pairs)
        layer, bias = model.readout_layers()[0]
        with torch.no_grad():
            b_train, b_test = (linear(h, layer, bias) for h in (train, test))
        out["step_bottleneck"] = readout_tables(b_train, d_train, b_test, d_test, model.config.n_classes,
                                                seed=[seed] * n_steps, progress=False)
        return out
    train, d_train, _ = trial_states(model, data.train, data.train_pairs)
    probe, ablation = probe_tables(train, d_train, test, d_test, seed, model.config.n_classes)
    return out | {"step_correlation": step_tables(test, d_test, seed),
                  "step_cka": step_tables(test, d_test, seed, measure=lambda a, b: cka(a, b)),
                  "step_probe": probe[:, :2], "step_probe_both": probe[:, 2], "step_ablation": ablation}
