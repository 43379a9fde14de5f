"""Structural modularity: Newman's Q adapted to a directed graph (paper, section
"Structural modularity" and the appendix's derivation).

    Q = (1/M) sum_ij (A_ij - k_i^out k_j^in / M) delta(g_i, g_j)

with ``A[i, j] = 1`` for an edge i -> j and M the number of edges. For two dense modules
of N units (self-connections included) joined by k = p N^2 edges in each direction,
Q = (1 - p) / (2 (1 + p)) exactly.
"""

from __future__ import annotations

import numpy as np


def q_closed_form(p):
    """The paper's ``Q = (1 - p) / (2 (1 + p))`` (scalar or array)."""
    p = np.asarray(p, dtype=float)
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"p must lie in [0, 1], got {p}")
    q = (1 - p) / (2 * (1 + p))
    return float(q) if q.ndim == 0 else q


def q_directed(adjacency, groups) -> float:
    """Directed modularity of a square 0/1 or weighted ``adjacency`` for group labels ``groups``."""
    a = np.asarray(adjacency, dtype=np.float64)
    groups = np.asarray(groups)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"adjacency must be a square matrix, got shape {a.shape}")
    if groups.shape != (a.shape[0],):
        raise ValueError(f"groups needs one label per node ({a.shape[0]}), got shape {groups.shape}")
    m = a.sum()
    if m <= 0:
        raise ValueError("adjacency has no edges: Q is undefined")
    _, label = np.unique(groups, return_inverse=True)
    member = np.eye(label.max() + 1)[label]  # one-hot [nodes, groups]
    within = np.trace(member.T @ a @ member)
    expected = (a.sum(1) @ member) @ (a.sum(0) @ member) / m
    return float((within - expected) / m)


def model_adjacency(model) -> tuple[np.ndarray, np.ndarray]:
    """The model's neuron graph: ``(A, groups)`` with ``A[i, j] = 1`` for a connection
    from unit i to unit j. Within-module blocks are dense (self-connections included);
    between modules, the active interconnections."""
    n = model.config.n_hidden
    active = (model.theta.detach() > 0).cpu().numpy()  # active[d][target, source], d -> 1 - d
    a = np.ones((2 * n, 2 * n))
    a[:n, n:] = active[0].T  # module 0 -> module 1
    a[n:, :n] = active[1].T  # module 1 -> module 0
    return a, np.repeat([0, 1], n)


def model_q(model) -> float:
    """Q of a model's current connectivity."""
    return q_directed(*model_adjacency(model))
