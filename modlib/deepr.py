"""Deep-R: training exactly k sparse interconnections per direction (Bellec et al. 2018),
as the paper's section "Training" describes it.

Each interconnection has a fixed sign ``s`` and a parameter ``theta``; its weight is
``s * theta`` while ``theta > 0`` (active) and 0 otherwise (dormant). At every step the
active thetas take an Adam step and a random-walk step; every theta that falls to
``<= 0`` becomes dormant, and for each one a dormant entry of the same direction, picked
at random, is activated with a small positive theta. So exactly k entries per direction are
active at all times. "Active" means ``theta > 0`` everywhere in this module.

``rewire=False`` is a control, not the paper's method: a theta that falls through zero
changes its connection's sign instead of dying, so the k connections drawn at the start
are kept and each is an ordinary weight of either sign trained by Adam (at k = N^2, a fully
connected interconnection). It separates what the fixed signs and restarts cost from what
Adam's rate costs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

REACTIVATION_THETA = 1e-4  # small, strictly positive: a reactivated weight starts near 0


def init_theta(n_hidden: int, k: int, generator: torch.Generator | None = None):
    """Exactly ``k`` active entries per direction, drawn without replacement.

    Active thetas are ``|U(-0.1, 0.1)|`` (so weights are U(-0.1, 0.1) with a random fixed
    sign), strictly positive; dormant thetas are 0. Returns ``(theta, sign)``, each ``[2, N, N]``.
    """
    n2 = n_hidden * n_hidden
    order = torch.rand(2, n2, generator=generator).argsort(dim=1)
    active = torch.zeros(2, n2, dtype=torch.bool).scatter_(1, order[:, :k], True)
    magnitude = 0.1 * (1 - torch.rand(2, n2, generator=generator))  # in (0, 0.1]
    theta = torch.where(active, magnitude, torch.zeros(()))
    sign = torch.where(torch.rand(2, n2, generator=generator) < 0.5, -1.0, 1.0)
    return theta.view(2, n_hidden, n_hidden), sign.view(2, n_hidden, n_hidden)


def deepr_lr(p: float, n_hidden: int, lr_sparse: float = 0.1, lr_dense: float = 0.01) -> float:
    """Learning rate decreasing geometrically in p from ``lr_sparse`` (p = 1/N^2) to ``lr_dense`` (p = 1)."""
    p_min = 1 / n_hidden ** 2
    if p_min == 1:
        return lr_dense
    fraction = math.log(p / p_min) / math.log(1 / p_min)
    return lr_sparse * (lr_dense / lr_sparse) ** fraction


@dataclass(frozen=True)
class DeepRConfig:
    """``walk`` is the random walk's standard deviation per step at p -> 0, in units of the
    learning rate; it is annealed as ``(1 - p)`` so that it vanishes when p = 1. ``rewire``:
    the paper's Deep-R (True), or the control that flips signs instead (module docstring)."""

    lr: float = 0.1
    walk: float = 0.01
    betas: tuple[float, float] = (0.95, 0.999)  # the paper lists one Adam beta, 0.95
    eps: float = 1e-8
    rewire: bool = True


class DeepR:
    """Adam + random walk on the active thetas, with rewiring that keeps k active per direction.

    The optimiser state lives on the k active entries only (``index`` ``[2, k]`` holds their
    flat positions), so a step costs O(k) rather than O(N^2) element-wise work. ``theta``
    must not be changed by anything else while this optimiser trains it. ``sign``, the
    model's signs, is needed only without rewiring, which changes them.

    A group of G models with the same k, stacked (`modlib.ensemble`), is stepped as one: their
    ``theta`` ``[G, 2, N, N]``, one generator each in ``generator`` (a list), and every state
    with the leading axis G. Each model draws from its own generator what it would draw alone,
    so each keeps its own numbers; `step` then returns the rewirings per model.
    """

    def __init__(self, theta: torch.nn.Parameter, k: int, config: DeepRConfig = DeepRConfig(),
                 generator: torch.Generator | None = None, sign: torch.Tensor | None = None):
        if not config.rewire and sign is None:
            raise ValueError("DeepR without rewiring flips the signs of the connections that cross zero: "
                             "pass the model's signs, DeepR(..., sign=model.sign)")
        self.theta, self.k, self.config, self.generator, self.sign = theta, k, config, generator, sign
        self.group = tuple(theta.shape[:-3])  # (G,) for a group of models, () for one
        active = self.flat(theta.detach()) > 0
        counts = active.sum(dim=-1)
        if not bool((counts == k).all()):
            raise ValueError(f"theta has {counts.tolist()} active entries per direction, expected exactly k = {k}: "
                             f"initialise it with modlib.deepr.init_theta")
        p = k / (theta.shape[-2] * theta.shape[-1])
        self.noise_std = config.lr * config.walk * (1 - p)
        self.index = active.nonzero()[:, -1].view(*self.group, 2, k)
        self.m = torch.zeros(*self.group, 2, k, device=theta.device)
        self.v = torch.zeros_like(self.m)
        # Adam step count per connection, reset when a new connection takes the slot
        self.steps = torch.zeros(*self.group, 2, k, dtype=torch.long, device=theta.device)
        self.n_steps = 0
        self.corrections = self.bias_corrections(1024)

    def flat(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` ``[..., 2, N, N]`` (theta, its gradient or the signs) as ``[..., 2, N^2]``."""
        return t.view(*self.group, 2, -1)

    def draw(self, sample, shape, models: list[bool] | None = None) -> torch.Tensor:
        """``sample`` (``torch.rand`` or ``torch.randn``) of ``shape`` from the generator; for a group,
        from each model's, stacked, and only for the ``models`` marked True (zeros for the rest,
        which draw nothing)."""
        if not self.group:
            return sample(shape, generator=self.generator, device=self.m.device)
        models = models or [True] * len(self.generator)
        return torch.stack([sample(shape, generator=g, device=self.m.device) if drawn
                            else torch.zeros(shape, device=self.m.device) for g, drawn in zip(self.generator, models)])

    @torch.no_grad()
    def step(self) -> int | list[int]:
        """One update after ``backward()``; returns how many connections were rewired (per model,
        for a group)."""
        if self.theta.grad is None:
            raise RuntimeError("DeepR.step() needs gradients: call loss.backward() or "
                               "modlib.train.loss_and_gradients() first")
        self.n_steps += 1
        if self.n_steps >= self.corrections.shape[1]:
            self.corrections = self.bias_corrections(2 * self.corrections.shape[1])
        noise = None
        if self.noise_std > 0:  # dormant entries do not move, so only the k active ones draw noise
            noise = self.draw(torch.randn, self.m.shape[-2:])
        died = self.move(self.flat(self.theta.grad).gather(-1, self.index), noise)
        return self.rewire(died)

    def move(self, grad: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        """The Adam step and the random walk (``noise``, standard normal) of the active thetas,
        given their gradients ``grad`` ``[2, k]``; those that reach ``<= 0`` are set to 0, their
        Adam state too (the connection that takes the slot starts afresh), and returned as a
        mask ``[2, k]``. Without rewiring, `flip` takes over from there."""
        cfg, flat = self.config, self.flat(self.theta)
        b1, b2 = cfg.betas
        self.steps += 1
        self.m.lerp_(grad, 1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        c1, c2 = self.corrections[:, self.steps]
        update = cfg.lr * (self.m / c1) / ((self.v / c2).sqrt() + cfg.eps)
        if noise is not None:
            update -= self.noise_std * noise
        value = flat.gather(-1, self.index) - update
        if not cfg.rewire:
            return self.flip(value)
        died = value <= 0
        flat.scatter_(-1, self.index, value.masked_fill_(died, 0.0))
        for state in (self.m, self.v, self.steps):
            state.masked_fill_(died, 0.0)
        return died

    def flip(self, value: torch.Tensor) -> torch.Tensor:
        """Without rewiring: write the new thetas ``value`` ``[2, k]``, those below zero as their
        magnitude with the connection's sign and Adam's first moment negated, which is Adam on
        the signed weight ``sign * theta`` itself. Returns the mask of connections that died: none."""
        crossed = value < 0
        flip = torch.where(crossed, -1.0, 1.0)
        sign = self.flat(self.sign)
        sign.scatter_(-1, self.index, sign.gather(-1, self.index) * flip)
        self.m.mul_(flip)
        # a weight that lands exactly on 0 stays active, at the smallest positive theta
        value = value.abs_().clamp_(min=torch.finfo(value.dtype).tiny)
        self.flat(self.theta).scatter_(-1, self.index, value)
        return torch.zeros_like(crossed)

    def bias_corrections(self, length: int) -> torch.Tensor:
        """Adam's ``1 - beta**t`` for t = 0 .. length - 1, both betas ``[2, length]``, looked up
        by each connection's own step count: cheaper than a power per connection per step."""
        t = torch.arange(length, dtype=torch.float32, device=self.m.device)
        return torch.stack([1 - beta ** t for beta in self.config.betas])

    @torch.no_grad()
    def rewire(self, died: torch.Tensor) -> int | list[int]:
        """Activate one random dormant entry, in the same direction, per connection that died
        (``died`` ``[2, k]``, over ``index``); the new entry takes the dead one's slot.
        Returns how many were rewired (per model, for a group, of which only those with a
        connection that died draw their keys)."""
        if not self.group:
            return self.activate(died, self.draw(torch.rand, self.flat(self.theta).shape)) if died.any() else 0
        dying = died.flatten(1).any(1).tolist()
        if not any(dying):
            return [0] * len(dying)
        return self.activate(died, self.draw(torch.rand, self.flat(self.theta).shape[1:], dying))

    def activate(self, died: torch.Tensor, key: torch.Tensor) -> int | list[int]:
        """`rewire` with the random ``key`` ``[2, N^2]`` drawn: in each direction, the dormant
        entries with the largest keys take the dead connections' slots, in slot order."""
        need = died.sum(dim=-1)
        flat = self.flat(self.theta)
        key = torch.where(flat <= 0, key, -1.0)  # -1 on active entries: the top `need` keys are dormant
        most = int(need.max())
        top = key.topk(most, dim=-1).indices
        take = torch.arange(most, device=flat.device) < need.unsqueeze(-1)
        flat.masked_fill_(torch.zeros_like(flat, dtype=torch.bool).scatter_(-1, top, take), REACTIVATION_THETA)
        slots = died.float().argsort(dim=-1, descending=True, stable=True)[..., :most]  # dead slots first
        self.index.scatter_(-1, slots, torch.where(take, top, self.index.gather(-1, slots)))
        return need.sum(-1).tolist() if self.group else int(need.sum())

    def active_counts(self) -> torch.Tensor:
        """Active entries per direction ``[2]`` (``[G, 2]`` for a group)."""
        return (self.theta > 0).flatten(-2).sum(dim=-1)


class RewiringLog:
    """An ``on_step`` callback for `modlib.train.train_model` that records, after every step, the
    active connections per direction (``counts``, ``[steps][2]``) and the fraction of the
    connections active after the first step that are still active (``still_first``): the count
    must stay at k while the set itself moves."""

    def __init__(self):
        self.counts, self.still_first = [], []
        self.first = None

    def __call__(self, model, sparse: DeepR, step: int) -> None:
        active = model.theta.detach() > 0
        if self.first is None:
            self.first = active.clone()
        self.counts.append(sparse.active_counts().tolist())
        self.still_first.append(((active & self.first).flatten(1).sum(1) / sparse.k).tolist())
