"""Figures. Every function takes data or a results table and returns a matplotlib figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from modlib.task import parity_difference, parity_target


def pair_grid(images: torch.Tensor, labels: torch.Tensor, i0: torch.Tensor, i1: torch.Tensor,
              n: int = 8):
    """The first ``n`` pairs side by side, titled with digits, parity difference and target."""
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 3.2))
    d0, d1 = labels[i0[:n]], labels[i1[:n]]
    p, target = parity_difference(d0, d1), parity_target(d0, d1)
    for j in range(n):
        for row, idx in enumerate((i0, i1)):
            ax = axes[row, j]
            ax.imshow(images[idx[j]], cmap="gray_r")
            ax.set_xticks([]), ax.set_yticks([])
        axes[0, j].set_title(f"P={int(p[j])}\ntarget {int(target[j])}", fontsize=9)
    axes[0, 0].set_ylabel("module 0")
    axes[1, 0].set_ylabel("module 1")
    fig.tight_layout()
    return fig


def combination_table(valid: np.ndarray, parity: np.ndarray):
    """The 10 x 10 digit combinations: excluded cells blank, kept cells coloured by P."""
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    shown = np.where(valid, parity, np.nan)
    ax.imshow(shown, cmap="coolwarm", vmin=-0.5, vmax=1.5)
    for (a, b), v in np.ndenumerate(shown):
        ax.text(b, a, "×" if np.isnan(v) else int(v), ha="center", va="center", fontsize=8)
    ax.set_xlabel("digit 1 ($D_1$)")
    ax.set_ylabel("digit 0 ($D_0$)")
    ax.set_xticks(range(10)), ax.set_yticks(range(10))
    ax.set_title("P for each combination (× excluded)")
    fig.tight_layout()
    return fig
