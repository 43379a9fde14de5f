import networkx as nx
import numpy as np
import pytest

from modlib.model import ModularRNN
from modlib.structure import model_adjacency, model_q, q_closed_form, q_directed


def networkx_q(a, groups):
    graph = nx.from_numpy_array(a, create_using=nx.DiGraph)
    communities = [set(np.flatnonzero(groups == g)) for g in np.unique(groups)]
    return nx.community.modularity(graph, communities, weight="weight")


@pytest.mark.parametrize("seed, n_groups, density", [(0, 2, 0.1), (1, 3, 0.3), (2, 5, 0.05), (3, 4, 0.6)])
def test_q_directed_matches_networkx_on_random_graphs(seed, n_groups, density):
    rng = np.random.default_rng(seed)
    a = (rng.random((40, 40)) < density).astype(float)
    groups = rng.integers(0, n_groups, 40)
    assert q_directed(a, groups) == pytest.approx(networkx_q(a, groups), abs=1e-12)


def test_q_directed_matches_networkx_with_weights():
    rng = np.random.default_rng(7)
    a = rng.random((25, 25)) * (rng.random((25, 25)) < 0.4)
    groups = rng.integers(0, 3, 25)
    assert q_directed(a, groups) == pytest.approx(networkx_q(a, groups), abs=1e-12)


@pytest.mark.parametrize("k", [1, 8, 60, 463, 3590, 10000])
def test_closed_form_q_matches_adjacency_q(k):
    model = ModularRNN(n_connections=k, seed=k)
    a, groups = model_adjacency(model)
    assert a.sum() == 2 * 100 ** 2 + 2 * k
    assert model_q(model) == pytest.approx(q_closed_form(k / 100 ** 2), abs=1e-12)


def test_closed_form_endpoints():
    assert q_closed_form(0) == 0.5 and q_closed_form(1) == 0.0
    with pytest.raises(ValueError, match="p must lie in"):
        q_closed_form(1.5)


def test_without_self_connections_the_closed_form_is_only_approximate():
    model = ModularRNN(n_connections=60, seed=0)
    a, groups = model_adjacency(model)
    np.fill_diagonal(a, 0)
    assert q_directed(a, groups) != pytest.approx(q_closed_form(0.006), abs=1e-6)
    assert q_directed(a, groups) == pytest.approx(q_closed_form(0.006), abs=1e-2)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="square"):
        q_directed(np.ones((3, 4)), [0, 0, 1])
    with pytest.raises(ValueError, match="one label per node"):
        q_directed(np.ones((3, 3)), [0, 1])
    with pytest.raises(ValueError, match="no edges"):
        q_directed(np.zeros((3, 3)), [0, 1, 1])
