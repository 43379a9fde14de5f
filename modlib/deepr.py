"""Deep-R: training exactly k sparse interconnections per direction (Bellec et al. 2018),
as the paper's section "Training" describes it.

Each interconnection has a fixed sign ``s`` and a parameter ``theta``; its weight is
``s * theta`` while ``theta > 0`` (active) and 0 otherwise (dormant). At every step the
active thetas take an Adam step and a random-walk step; every theta that falls to
``<= 0`` becomes dormant, and for each one a dormant entry of the same direction, picked
at random, is activated with a small positive theta. So exactly k entries per direction are
active at all times. "Active" means ``theta > 0`` everywhere in this module.
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
    learning rate; it is annealed as ``(1 - p)`` so that it vanishes when p = 1."""

    lr: float = 0.1
    walk: float = 0.01
    betas: tuple[float, float] = (0.95, 0.999)  # the paper lists one Adam beta, 0.95
    eps: float = 1e-8


class DeepR:
    """Adam + random walk on the active thetas, with rewiring that keeps k active per direction."""

    def __init__(self, theta: torch.nn.Parameter, k: int, config: DeepRConfig = DeepRConfig(),
                 generator: torch.Generator | None = None):
        self.theta, self.k, self.config, self.generator = theta, k, config, generator
        p = k / theta[0].numel()
        self.noise_std = config.lr * config.walk * (1 - p)
        self.m = torch.zeros_like(theta)
        self.v = torch.zeros_like(theta)
        self.steps = torch.zeros_like(theta)  # per-entry Adam step counts, reset on activation

    @torch.no_grad()
    def step(self) -> int:
        """One update after ``backward()``; returns how many connections were rewired."""
        theta, cfg = self.theta, self.config
        if theta.grad is None:
            raise RuntimeError("DeepR.step() needs gradients: call loss.backward() first")
        active = theta > 0
        grad = theta.grad  # already 0 on dormant entries: the weight is where(theta > 0, theta, 0)
        b1, b2 = cfg.betas
        self.steps += active
        self.m.lerp_(grad, 1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        t = self.steps.clamp(min=1)
        update = cfg.lr * (self.m / (1 - b1 ** t)) / ((self.v / (1 - b2 ** t)).sqrt() + cfg.eps)
        if self.noise_std > 0:
            update -= self.noise_std * torch.randn(theta.shape, generator=self.generator, device=theta.device)
        theta.sub_(update * active)
        died = active & (theta <= 0)
        if not died.any():
            return 0
        theta.masked_fill_(died, 0.0)
        for state in (self.m, self.v, self.steps):  # dormant entries keep no Adam state
            state.masked_fill_(died, 0.0)
        return self.rewire(died)

    @torch.no_grad()
    def rewire(self, died: torch.Tensor) -> int:
        """Activate one random dormant entry, in the same direction, per entry that died."""
        need = died.flatten(1).sum(dim=1)
        n_rewired = int(need.sum())
        if n_rewired == 0:
            return 0
        flat = self.theta.view(2, -1)
        # Random keys on dormant entries, -1 on active ones: the top `need` keys are dormant.
        key = torch.rand(flat.shape, generator=self.generator, device=flat.device)
        key = torch.where(flat <= 0, key, -1.0)
        top = key.topk(int(need.max()), dim=1).indices
        take = torch.arange(top.shape[1], device=flat.device) < need.unsqueeze(1)
        chosen = torch.zeros_like(flat, dtype=torch.bool).scatter_(1, top, take)
        flat.masked_fill_(chosen, REACTIVATION_THETA)
        for state in (self.m, self.v, self.steps):
            state.view(2, -1).masked_fill_(chosen, 0.0)
        return n_rewired

    def active_counts(self) -> torch.Tensor:
        """Active entries per direction ``[2]``."""
        return (self.theta > 0).flatten(1).sum(dim=1)
