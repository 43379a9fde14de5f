"""Functional specialization (paper, section "Functional modularity" and appendix).

Every metric returns a 2 x 2 table ``M[n, k]``: module n on sub-task k ("report digit
k"). `specialization` turns a table into the paper's normalised measure per module.
Metrics read a trained model and `MetricData` (pairs from both MNIST splits); they never
change the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call
from tqdm import tqdm

from modlib.model import INIT_BOUND, ModularRNN
from modlib.train import TEST_PAIR_SEED, Split, TrainConfig, outputs_in_batches

MEASURES = ("bottleneck", "weight_mask", "correlation")  # the paper's three measures of specialization
METRICS = (*MEASURES, "cka")  # and CKA, from its appendix
STACKED_METRICS = ("bottleneck", "weight_mask")  # their functions also measure stacked models, given a list of seeds


def specialization(table) -> np.ndarray:
    """``(M[n, n] - M[n, 1-n]) / (M[n, n] + M[n, 1-n])`` for n = 0, 1; in [-1, 1] for M >= 0.
    NaN for a module with M = 0 on both sub-tasks (say, a small mask that keeps none of its
    weights): it has no specialization, and means over models leave it out."""
    m = np.asarray(table, dtype=np.float64)
    if m.shape != (2, 2):
        raise ValueError(f"a metric table is 2 x 2 (module, sub-task), got shape {m.shape}")
    own, other = np.diag(m), m[[0, 1], [1, 0]]
    with np.errstate(invalid="ignore"):
        return (own - other) / (own + other)


@dataclass(frozen=True)
class MetricData:
    """Pairs for the metrics: one draw from the training split, the fixed test pairs."""

    train: Split
    train_pairs: tuple
    test: Split
    test_pairs: tuple

    @classmethod
    def load(cls, cfg: TrainConfig = TrainConfig(), seed: int = 0) -> "MetricData":
        train, test = Split.for_config("train", cfg), Split.for_config("test", cfg)
        return cls(train, train.pairs(10_000 + seed, cfg), test, test.pairs(TEST_PAIR_SEED, cfg))


def states(model: ModularRNN, split: Split, pairs):
    """Last hidden states ``[P, 2, N]``, bottleneck states (or None) and digits ``[P, 2]`` (stacked
    models: the states with a leading axis of models)."""
    outputs = [out for out, _, _ in outputs_in_batches(model, split, pairs)]
    hidden = torch.cat([out.hidden for out in outputs], dim=-3)
    bottleneck = torch.cat([out.bottleneck for out in outputs], dim=-3) if model.config.bottleneck else None
    i0, i1 = pairs
    return hidden, bottleneck, torch.stack([split.labels[i0], split.labels[i1]], dim=1)


# --- Bottleneck metric -----------------------------------------------------------------

def bottleneck_metric(model: ModularRNN, data: MetricData, epochs: int = 5, lr: float = 0.5,
                      batch_size: int = 128, seed: int | list[int] = 0, progress: bool = True) -> dict | list[dict]:
    """Retrain fresh bottleneck->readout weights of module n to report digit k (Adadelta,
    lr 0.5, 5 epochs), everything else frozen; ``M[n, k]`` is the test accuracy.

    The frozen bottleneck states are computed once, and the four (n, k) readouts train
    together as one batched linear layer: they share no parameters, so this is the same
    as training them one by one. The training pairs are reshuffled every epoch. With a list
    of seeds, ``model`` holds that many models stacked (`modlib.ensemble.stacked_model`), each
    measured as it would be alone with its own seed, and the result is each one's, in a list.
    """
    if not model.config.bottleneck:
        raise ValueError("the bottleneck metric needs a model with a bottleneck (bottleneck=5)")
    _, b_train, d_train = states(model, data.train, data.train_pairs)
    _, b_test, d_test = states(model, data.test, data.test_pairs)
    tables = readout_tables(b_train, d_train, b_test, d_test, model.config.n_classes, epochs, lr, batch_size, seed,
                            progress)
    results = [{"M": table, "specialization": specialization(table)} for table in tables.reshape(-1, 2, 2)]
    return results if isinstance(seed, list) else results[0]


def readout_tables(train_states: torch.Tensor, d_train: torch.Tensor, test_states: torch.Tensor,
                   d_test: torch.Tensor, classes: int = 10, epochs: int = 5, lr: float = 0.5, batch_size: int = 128,
                   seed: int | list[int] = 0, progress: bool = True) -> np.ndarray:
    """The bottleneck metric's tables ``[..., 2, 2]`` from frozen states ``[..., P, 2, width]``:
    fresh readouts of each module n for each digit k, trained together (`bottleneck_metric`).
    A leading axis of states (stacked models, or the steps of a trial) takes a list of seeds,
    one per entry, each entry's readouts drawn and shuffled as they would be alone."""
    drawn = per_seed(seed)
    width = train_states.shape[-1]
    w = drawn(lambda g: torch.empty(2, 2, classes, width).uniform_(-INIT_BOUND, INIT_BOUND, generator=g))
    b = drawn(lambda g: torch.empty(2, 2, classes).uniform_(-INIT_BOUND, INIT_BOUND, generator=g))
    w, b = w.to(train_states.device).requires_grad_(), b.to(train_states.device).requires_grad_()
    opt = torch.optim.Adadelta([w, b], lr=lr, rho=0.9)

    def logits(states_):  # [P, module n, sub-task k, classes]
        return torch.einsum("...pni,...nkoi->...pnko", states_, w) + b.unsqueeze(-4)

    for _ in tqdm(range(epochs), desc="bottleneck readouts", leave=False, disable=not progress):
        order = drawn(lambda g: torch.randperm(train_states.shape[-3], generator=g)).to(train_states.device)
        for start in range(0, order.shape[-1], batch_size):
            idx = order[..., start:start + batch_size]
            out = logits(train_states.take_along_dim(idx[..., None, None], dim=-3))
            target = d_train[idx].unsqueeze(-2).expand(*idx.shape, 2, 2)  # digit k for every module n
            loss = F.cross_entropy(out.reshape(-1, classes), target.reshape(-1), reduction="none")
            opt.zero_grad()
            (loss.view(*idx.shape, 4).mean(-2).sum()).backward()
            opt.step()
    with torch.no_grad():
        correct = logits(test_states).argmax(-1) == d_test.unsqueeze(-2)
    return correct.double().mean(-3).cpu().numpy()


def per_seed(seed: int | list[int]):
    """``drawn(draw)``: ``draw(generator)`` from a generator seeded with ``seed``, or, for a list of
    seeds (stacked models), from one generator per seed, stacked; each generator draws in turn
    what it would draw alone."""
    generators = [torch.Generator().manual_seed(s) for s in (seed if isinstance(seed, list) else [seed])]

    def drawn(draw):
        draws = [draw(g) for g in generators]
        return torch.stack(draws) if isinstance(seed, list) else draws[0]

    return drawn


# --- Weight-mask metric ----------------------------------------------------------------

def scored_parameters(model: ModularRNN, interconnections: bool = False) -> list[str]:
    """Parameters the masks act on: all per-module weights and biases except the input
    weights and biases (as in the paper). The interconnections are not scored unless
    ``interconnections``: by default they stay as trained and belong to neither module (as in
    the authors' code)."""
    names = [name for name in model.module_parameters() if name not in ("w_ih", "b_ih")]
    return names + ["theta"] * interconnections


def score_value(score: torch.Tensor, selection: str = "magnitude") -> torch.Tensor:
    """What a mask ranks a weight by, and what its straight-through gradient flows through: the
    score's magnitude (edge-popup's, default), or the score itself (``"signed"``, the authors'
    code: no sign factor in the gradient)."""
    return score.abs() if selection == "magnitude" else score


def global_top_mask(scores: dict[str, torch.Tensor], q: float, eligible: dict | None = None,
                    stacked: bool = False, selection: str = "magnitude") -> dict[str, torch.Tensor]:
    """Keep the top fraction ``q`` of all scores together (by `score_value`). ``eligible`` (name to
    a boolean tensor) limits a tensor to the entries that exist as weights (the active
    interconnections): only they count towards q and only they can be kept. ``stacked``: the
    scores of several models, stacked along a leading axis (`modlib.ensemble`), each masked alone."""
    eligible = eligible or {}
    value = {name: score_value(s.detach(), selection) for name, s in scores.items()}
    magnitude = {name: v.masked_fill(~eligible[name], -torch.inf) if name in eligible else v
                 for name, v in value.items()}
    lead = int(stacked)
    flat = torch.cat([m.flatten(lead) for m in magnitude.values()], dim=-1)
    counts = sum(eligible[n].flatten(lead).sum(-1) if n in eligible else s[0].numel() if stacked else s.numel()
                 for n, s in scores.items())
    if not stacked:
        n_keep = max(1, round(q * int(counts)))
        threshold = flat.kthvalue(flat.numel() - n_keep + 1).values
        return {name: m >= threshold for name, m in magnitude.items()}
    n_keep = [max(1, round(q * int(c))) for c in torch.as_tensor(counts).expand(len(flat)).tolist()]
    if len(set(n_keep)) == 1:  # one call: the counts differ only where the interconnections are scored
        threshold = flat.kthvalue(flat.shape[1] - n_keep[0] + 1, dim=-1).values
    else:
        threshold = torch.stack([row.kthvalue(len(row) - n + 1).values for row, n in zip(flat, n_keep)])
    return {name: m >= threshold.view(-1, *[1] * (m.dim() - 1)) for name, m in magnitude.items()}


def kept_per_module(masks: dict[str, torch.Tensor], stacked: bool = False) -> torch.Tensor:
    """How many weights each module keeps ``[2]`` (``[models, 2]`` for ``stacked`` masks): an
    interconnection counts for the module it feeds (``theta[d]`` runs from module d to module 1 - d)."""
    lead = int(stacked)
    return torch.stack([sum(m.select(lead, n if name != "theta" else 1 - n).flatten(lead).sum(-1)
                            for name, m in masks.items()) for n in (0, 1)], dim=-1).double()


def masked_forward(model: ModularRNN, scores: dict, q: float, x: torch.Tensor, stacked: bool = False,
                   selection: str = "magnitude"):
    """Forward pass with the top-q weights only; straight-through gradient to the scores.
    ``stacked``: a model of stacked models and their scores (`global_top_mask`)."""
    masks = global_top_mask(scores, q, active_interconnections(model, scores), stacked, selection)
    params = {name: p.detach() for name, p in model.named_parameters()}
    for name, s in scores.items():
        soft = score_value(s, selection)
        params[name] = params[name] * (masks[name] + soft - soft.detach())
    return functional_call(model, {**params, "sign": model.sign}, (x,))


def active_interconnections(model: ModularRNN, scores: dict) -> dict[str, torch.Tensor]:
    """The entries of ``theta`` that are weights (active), when the interconnections are scored."""
    return {"theta": model.theta.detach() > 0} if "theta" in scores else {}


def train_mask(model: ModularRNN, data: MetricData, k: int, q: float = 0.05, epochs: int = 1,
               lr: float = 0.1, momentum: float = 0.9, weight_decay: float = 5e-4,
               batch_size: int = 128, seed: int | list[int] = 0, score_init: float = INIT_BOUND,
               interconnections: bool = False, selection: str = "magnitude", progress: bool = True):
    """Edge-popup supermask (Ramanujan et al. 2020) for sub-task k on a frozen model, scores
    starting from U(-``score_init``, ``score_init``); ``interconnections`` scores the active
    interconnections too (`scored_parameters`); ``selection``: `score_value`. Returns the final masks and their test
    accuracy on sub-task k (decision rule applied). With a list of seeds, ``model`` holds that
    many models stacked (`modlib.ensemble.stacked_model`), each masked as it would be alone
    with its own seed: the masks then have a leading axis of models, and the accuracies are a
    tensor."""
    stacked = isinstance(seed, list)
    drawn = per_seed([s * 2 + k for s in seed] if stacked else seed * 2 + k)
    params = dict(model.named_parameters())
    scores = {name: drawn(lambda g: torch.empty(params[name].shape[stacked:]).uniform_(-score_init, score_init,
                                                                                         generator=g))
              .to(params[name].device).requires_grad_() for name in scored_parameters(model, interconnections)}
    opt = torch.optim.SGD(scores.values(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    i0, i1 = data.train_pairs
    for epoch in range(epochs):
        order = drawn(lambda g: torch.randperm(len(i0), generator=g)).to(i0.device)
        starts = range(0, order.shape[-1], batch_size)
        for start in tqdm(starts, desc=f"mask for digit {k}", leave=False, disable=not progress):
            idx = order[..., start:start + batch_size]
            x, d0, d1 = data.train.batch(i0[idx].flatten(), i1[idx].flatten())
            decided = masked_forward(model, scores, q, x.view(*idx.shape, 2, -1), stacked, selection).decided
            loss = F.cross_entropy(decided.flatten(0, -2), (d0, d1)[k], reduction="none").view(idx.shape).mean(-1)
            opt.zero_grad()
            loss.sum().backward()  # the models' scores are apart: each gets its own mean's gradient
            opt.step()
    masks = global_top_mask(scores, q, active_interconnections(model, scores), stacked, selection)
    with torch.no_grad():
        x, d0, d1 = data.test.batch(*data.test_pairs)
        if stacked:
            x = x.expand(len(seed), *x.shape)
        correct = masked_forward(model, scores, q, x, stacked, selection).decided.argmax(-1) == (d0, d1)[k]
        accuracy = correct.double().mean(-1)
    return masks, (accuracy if stacked else float(accuracy))


MASK_REPEAT_SEED = 1000  # repeat r of a mask trains from seed + 1000 r: repeat 0 is the single mask's
# Settings of a sweep (and of the metrics command) that reach weight_mask_metric, and its argument for each.
MASK_OPTIONS = {"mask_fraction": "q", "mask_repeats": "repeats", "mask_epochs": "epochs",
                "mask_score_init": "score_init", "mask_interconnections": "interconnections",
                "mask_selection": "selection"}
MASK_SELECTIONS = ("magnitude", "signed")


def metric_options(metric: str, settings: dict) -> dict:
    """Keyword arguments of ``metric``'s function from ``settings`` named as a sweep's fields
    (`MASK_OPTIONS`): the weight mask's, for the weight mask; none for the other metrics."""
    if metric != "weight_mask":
        return {}
    return {MASK_OPTIONS[field]: value for field, value in settings.items() if field in MASK_OPTIONS}


def check_mask_options(q: float = 0.05, repeats: int = 1, epochs: int = 1, score_init: float = INIT_BOUND,
                       interconnections: bool = False, selection: str = "magnitude") -> None:
    """Refuse a mask that keeps no weight or all of them, no mask at all, no training, scores
    that all start at zero, or an unknown way of ranking scores."""
    if selection not in MASK_SELECTIONS:
        raise ValueError(f"the weight mask ranks scores by one of {MASK_SELECTIONS} (--mask-selection), "
                         f"got {selection!r}")
    if not 0 < q < 1 or repeats < 1 or epochs < 1 or not score_init > 0:
        raise ValueError(f"the weight mask needs 0 < q < 1 (--mask-fraction; the paper's 0.05), repeats >= 1 "
                         f"(--mask-repeats), epochs >= 1 (--mask-epochs) and a score bound > 0 "
                         f"(--mask-score-init), got q = {q}, repeats = {repeats}, epochs = {epochs}, "
                         f"score bound = {score_init}")


def weight_mask_metric(model: ModularRNN, data: MetricData, q: float = 0.05, repeats: int = 1, epochs: int = 1,
                       score_init: float = INIT_BOUND, interconnections: bool = False, selection: str = "magnitude",
                       seed: int | list[int] = 0, progress: bool = True) -> dict | list[dict]:
    """``M[n, k]``: the fraction of the weights kept by the mask for digit k that lie in
    module n. Also returns each mask's test accuracy on its sub-task. ``repeats`` > 1 trains
    that many masks per sub-task from different random scores and averages their fractions
    and accuracies (the authors' code used several; the paper does not say). ``epochs``,
    ``score_init``, ``interconnections`` and ``selection`` are `train_mask`'s (the paper gives one
    epoch and leaves the others open). With a list of seeds, ``model`` holds that many models stacked
    (`train_mask`), and the result is each model's, in a list."""
    check_mask_options(q, repeats, epochs, score_init, interconnections, selection)
    stacked = isinstance(seed, list)
    models = len(seed) if stacked else 1
    table, accuracies = np.zeros((models, 2, 2)), np.zeros((models, 2))
    for k in (0, 1):
        for r in range(repeats):
            seeds = [s + MASK_REPEAT_SEED * r for s in seed] if stacked else seed + MASK_REPEAT_SEED * r
            masks, acc = train_mask(model, data, k, q=q, epochs=epochs, seed=seeds, score_init=score_init,
                                    interconnections=interconnections, selection=selection, progress=progress)
            kept = kept_per_module(masks, stacked).view(models, 2)
            table[:, :, k] += (kept / kept.sum(-1, keepdim=True)).cpu().numpy() / repeats
            accuracies[:, k] += (acc.cpu().numpy() if stacked else acc) / repeats
    results = [{"M": m, "specialization": specialization(m), "mask_accuracy": a.tolist()}
               for m, a in zip(table, accuracies)]
    return results if stacked else results[0]


# --- Correlation metric and CKA --------------------------------------------------------

def derangement_within_classes(classes: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A partner for every sample: another sample of the same class, never itself
    (a random cyclic shift within each class). Classes need at least two members."""
    classes = classes.cpu()
    order = torch.argsort(classes * 2.0 + torch.rand(len(classes), generator=generator))  # random within class
    sorted_classes = classes[order]
    values, counts = torch.unique_consecutive(sorted_classes, return_counts=True)
    if bool((counts < 2).any()):
        raise ValueError(f"class {int(values[counts < 2][0])} has a single sample: no partner exists")
    starts = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    sizes = torch.repeat_interleave(counts, counts)
    position = torch.arange(len(classes)) - starts
    partner = torch.empty_like(order)
    partner[order] = order[starts + (position + 1) % sizes]
    return partner


def pearson_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of each row of ``a`` with the same row of ``b``."""
    a = a.double() - a.double().mean(1, keepdim=True)
    b = b.double() - b.double().mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))


def cka(x, y, debiased: bool = False) -> float:
    """Linear CKA between ``[samples, features]`` arrays (Kornblith et al. 2019), in float64.

    Biased: ``||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)`` on centred features. Debiased:
    the same ratio with the unbiased HSIC estimator (Song et al. 2012), written with
    feature-space products so that no n x n Gram matrix is formed.
    """
    x, y = torch.as_tensor(x).double(), torch.as_tensor(y).double()
    x, y = x - x.mean(0), y - y.mean(0)

    def hsic(a, b):
        cross = (a.T @ b).square().sum()
        if not debiased:
            return cross
        n = a.shape[0]
        na, nb = a.square().sum(1), b.square().sum(1)  # Gram diagonals
        ka, kb = a @ a.sum(0) - na, b @ b.sum(0) - nb  # row sums of Gram matrices without diagonals
        return (cross - (na * nb).sum() + ka.sum() * kb.sum() / ((n - 1) * (n - 2))
                - 2 * (ka * kb).sum() / (n - 2)) / (n * (n - 3))

    return float(hsic(x, y) / (hsic(x, x) * hsic(y, y)).sqrt())


def paired_states(hidden: torch.Tensor, digits: torch.Tensor, seed: int = 0):
    """For each sub-task k, a partner index sharing digit k with every sample."""
    g = torch.Generator().manual_seed(seed)
    return [derangement_within_classes(digits[:, k], g).to(hidden.device) for k in (0, 1)]


def correlation_table(hidden: torch.Tensor, digits: torch.Tensor, seed: int = 0, measure=None) -> np.ndarray:
    """``M[n, k]``: mean Pearson correlation (or ``measure(x, x')``) between module n's
    states for pairs of samples that share digit k."""
    partners = paired_states(hidden, digits, seed)
    table = np.zeros((2, 2))
    for k, partner in enumerate(partners):
        for n in (0, 1):
            h = hidden[:, n]
            table[n, k] = float(pearson_rows(h, h[partner]).mean()) if measure is None else measure(h, h[partner])
    return table


def correlation_metric(model: ModularRNN, data: MetricData, seed: int = 0, **_) -> dict:
    """The paper's correlation metric on the test pairs."""
    hidden, _, digits = states(model, data.test, data.test_pairs)
    table = correlation_table(hidden, digits, seed)
    return {"M": table, "specialization": specialization(table)}


def cka_metric(model: ModularRNN, data: MetricData, seed: int = 0, debiased: bool = False, **_) -> dict:
    """The appendix's variant: linear CKA instead of Pearson correlation, across all pairs
    at once. ``M`` holds CKA similarities; the paper plots the distance ``1 - M``."""
    hidden, _, digits = states(model, data.test, data.test_pairs)
    table = correlation_table(hidden, digits, seed, measure=lambda a, b: cka(a, b, debiased))
    return {"M": table, "distance": 1 - table, "specialization": specialization(table)}


METRIC_FUNCTIONS = {"bottleneck": bottleneck_metric, "weight_mask": weight_mask_metric,
                    "correlation": correlation_metric, "cka": cka_metric}


def applicable_metrics(model: ModularRNN, static_trial: bool = True) -> tuple[str, ...]:
    """The bottleneck metric needs the bottleneck architecture; the others use the standard one,
    and the weight mask the paper's trial (the same image at every step, `modlib.trial`)."""
    if model.config.bottleneck:
        return ("bottleneck",)
    return ("weight_mask", "correlation", "cka") if static_trial else ("correlation", "cka")
