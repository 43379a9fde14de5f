"""The digit-pair parity task (paper, section "Tasks").

Module ``j`` sees an image of digit ``D_j``. The parity difference is
``P = (D_0 + D_1) mod 2``; the network must report digit 0 when the parities match
(``P = 0``) and digit 1 otherwise. The sub-tasks are to report ``D_k`` itself.
Pairs with ``(D_1 - D_0) mod 10`` in ``{0, 1}`` are excluded: ``D_0 = D_1`` is ambiguous,
and removing the ``+1`` diagonal as well leaves 40 same-parity and 40 different-parity
combinations, so P is balanced.

The task is not symmetric between the modules: module 0's digit is the answer when the
parities match and module 1's when they differ, and the excluded diagonal ``D_1 = D_0 + 1``
has a direction. Swapping the modules' names turns the prose rule into the equation's and the
exclusion into its mirror image, ``(D_0 - D_1) mod 10`` in ``{0, 1}`` (``exclusion="mirrored"``),
so those two options are controls for which of the two makes the modules differ.

Beyond the paper, ``modulus`` m (2 to 10) sets how much the modules must tell each other,
as its discussion asks: with ``P_m = (D_0 + D_1) mod m``, report digit 0 when ``P_m < m/2``
and digit 1 otherwise. For m = 2 this is the paper's task. A module that knows its own
digit needs the other's digit mod m to decide (no two residues lead to the same decisions
for every digit of its own), so a one-way message must carry log2(m) bits: 1 for m = 2, the
whole digit (3.3 bits) for m = 10; beyond 10 nothing changes. The exclusion rule stays the
paper's for every m, and balancing (below) evens out the two targets, which for odd m or
m = 4, 6, 8 are not equally frequent among the combinations.
"""

from __future__ import annotations

import torch

RULES = ("prose", "equation")
EXCLUSIONS = ("paper", "mirrored")
MODULI = tuple(range(2, 11))


def check_modulus(modulus: int) -> None:
    """Refuse a modulus outside 2..10, saying which are allowed."""
    if modulus not in MODULI:
        raise ValueError(f"modulus must be a whole number from 2 (the paper's parity task) to 10 (the whole digit "
                         f"must be communicated), got {modulus!r}")


def valid_pair(d0: torch.Tensor, d1: torch.Tensor, exclusion: str = "paper") -> torch.Tensor:
    """False exactly when ``(d1 - d0) mod 10`` is 0 or 1 (20 of the 100 combinations); with
    ``exclusion="mirrored"``, when ``(d0 - d1) mod 10`` is."""
    if exclusion not in EXCLUSIONS:
        raise ValueError(f"exclusion must be one of {EXCLUSIONS}, got {exclusion!r}")
    d0, d1 = torch.as_tensor(d0), torch.as_tensor(d1)
    return torch.remainder(d1 - d0 if exclusion == "paper" else d0 - d1, 10) >= 2


def parity_difference(d0: torch.Tensor, d1: torch.Tensor, modulus: int = 2) -> torch.Tensor:
    """``P = (D_0 + D_1) mod 2``: 0 when the two parities are the same, 1 otherwise
    (``P_m = (D_0 + D_1) mod m`` for another ``modulus``)."""
    return torch.remainder(torch.as_tensor(d0) + torch.as_tensor(d1), modulus)


def reports_digit0(d0: torch.Tensor, d1: torch.Tensor, modulus: int = 2) -> torch.Tensor:
    """Where the paper's words make digit 0 the target: ``P_m < m/2`` (for m = 2: P = 0,
    the parities match)."""
    check_modulus(modulus)
    return 2 * parity_difference(d0, d1, modulus) < modulus


def parity_target(d0: torch.Tensor, d1: torch.Tensor, rule: str = "prose", modulus: int = 2) -> torch.Tensor:
    """The digit to report: ``d0`` when the parities match, ``d1`` otherwise (for another
    ``modulus``: ``d0`` when ``P_m < m/2``).

    ``rule="prose"`` follows the paper's words (and the authors' 2022 code);
    ``rule="equation"`` follows its equation ``Target = P D_0 + (1 - P) D_1``, which says
    the opposite. The book discusses the difference, and what it does to each module.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    d0, d1 = torch.as_tensor(d0), torch.as_tensor(d1)
    first = reports_digit0(d0, d1, modulus)
    return torch.where(first if rule == "prose" else ~first, d0, d1)


def subtask_target(d0: torch.Tensor, d1: torch.Tensor, k: int) -> torch.Tensor:
    """Sub-task ``k``: report digit ``D_k``."""
    if k not in (0, 1):
        raise ValueError(f"sub-task k must be 0 or 1, got {k!r}")
    return torch.as_tensor(d0 if k == 0 else d1)


def make_pairs(labels: torch.Tensor, seed: int, exclude: bool = True, balance: bool = True,
               modulus: int = 2, exclusion: str = "paper") -> tuple[torch.Tensor, torch.Tensor]:
    """Index pairs ``(i0, i1)`` into one split, reproducible from ``seed``.

    How pairs are drawn: every image becomes digit 0 of one pair, and its partner
    (digit 1) is taken from a random permutation of the same split, as in the authors'
    code. Invalid pairs (see `valid_pair`, by ``exclusion``) are then dropped (``exclude``), and the larger
    parity class is subsampled at random to the size of the smaller (``balance``), so
    P = 0 and P = 1 occur equally often (for another ``modulus``: both targets, digit 0
    and digit 1, by `reports_digit0`). On the 60,000 training images an epoch is
    therefore about 47,000 pairs (60,000 x 80% valid, trimmed to balance), in random order.
    Each epoch should draw new pairs with a new seed.
    """
    labels = torch.as_tensor(labels)
    g = torch.Generator().manual_seed(int(seed))
    n = labels.numel()
    i0 = torch.randperm(n, generator=g)
    i1 = torch.randperm(n, generator=g)
    d0, d1 = labels[i0], labels[i1]
    keep = valid_pair(d0, d1, exclusion) if exclude else torch.ones(n, dtype=torch.bool)
    if balance:
        first = reports_digit0(d0, d1, modulus)
        n_each = min(int((keep & first).sum()), int((keep & ~first).sum()))
        # Both pairings are random, so the first n_each of each class are a random subsample.
        position = torch.where(first, (keep & first).cumsum(0), (keep & ~first).cumsum(0))
        keep = keep & (position <= n_each)
    return i0[keep], i1[keep]
