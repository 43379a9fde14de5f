import numpy as np
import pytest
import torch

from modlib.crossing import decode, decoded_levels, messages_and_states, parity_bound
from modlib.model import ModularRNN
from modlib.train import Split


def test_the_parity_bound_is_the_best_guess_from_own_digit_and_the_other_s_parity():
    # own digit 0 always; the other digit is 1 (twice) or 3 (once): both odd, so the best guess, 1, is right 2 of 3
    digits = torch.tensor([[0, 1], [0, 1], [0, 3]])
    assert parity_bound(digits, 0) == pytest.approx(2 / 3)
    assert parity_bound(digits.flip(1), 1) == pytest.approx(2 / 3)
    every = torch.tensor([[a, b] for a in range(10) for b in range(10)])
    assert parity_bound(every, 0) == pytest.approx(0.2)  # five equally likely digits of each parity


def test_the_decoder_reads_a_label_that_is_there_and_not_one_that_is_not():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (4000,), generator=g)
    informative = torch.nn.functional.one_hot(labels, 10).float() + 0.1 * torch.randn(4000, 10, generator=g)
    noise = torch.randn(4000, 10, generator=g)
    assert decode(informative[:3000], labels[:3000], informative[3000:], labels[3000:]) > 0.95
    assert decode(noise[:3000], labels[:3000], noise[3000:], labels[3000:]) < 0.2


def test_the_message_is_each_connection_s_input_at_steps_1_to_t_minus_1():
    model = ModularRNN(n_hidden=6, n_connections=1, seed=3, n_inputs=4)
    split = Split(x=torch.randn(5, 4), labels=torch.arange(5))
    with torch.no_grad():
        model.w_ih.mul_(10)
        model.theta.copy_(torch.where(model.theta > 0, model.theta + 0.5, model.theta))  # strong enough to matter
    pairs = (torch.arange(5), torch.arange(5).flip(0))
    messages, states, digits = messages_and_states(model, split, pairs)
    assert [m.shape for m in messages] == [(5, 4), (5, 4)]  # one connection each way, T - 1 = 4 steps
    assert states.shape == (5, 2, 6) and digits.tolist() == [[0, 4], [1, 3], [2, 2], [3, 1], [4, 0]]
    c = model.interconnections().detach()
    (receiver,), (sender,) = torch.nonzero(c[0], as_tuple=True)  # from module 0 to module 1
    h = []
    x = split.inputs(*pairs)
    with torch.no_grad():
        state = torch.zeros(5, 12)
        for _ in range(model.config.n_steps):
            state = torch.tanh(model.input_drive(x) + state @ model.recurrent_matrix().t())
            h.append(state)
    expected = torch.stack([c[0, receiver, sender] * h[t][:, sender] for t in range(4)], dim=1)
    assert torch.allclose(messages[1], expected, atol=1e-6)


def test_decoded_levels_refuse_a_table_without_crossing_rows():
    import pandas as pd

    with pytest.raises(ValueError, match="--metrics crossing"):
        decoded_levels(pd.DataFrame(dict(metric=["accuracy"], value=[0.9], k=[1])))
    rows = pd.DataFrame([dict(architecture="standard", k=1, seed=s, metric=m, module=n, subtask=1 - n, value=v)
                         for s in (0, 1) for n in (0, 1)
                         for m, v in (("decode_message", 0.5 + 0.1 * s), ("decode_state", 0.3), ("parity_bound", 0.25))]
                        + [dict(architecture=a, k=1, seed=s, metric="accuracy", value=v)
                           for s in (0, 1) for a, v in (("standard", 0.9), ("bottleneck", 0.5))])
    levels = decoded_levels(rows)
    assert levels.loc[(1, 0), "decode_message"] == pytest.approx(0.55)
    assert levels.loc[(1, 1), "task accuracy"] == pytest.approx(0.9)
    assert np.isclose(levels["parity_bound"], 0.25).all()


def test_each_pair_is_decided_by_exactly_one_module():
    from modlib.crossing import decider_shares

    g = torch.Generator().manual_seed(0)
    split = Split(x=torch.rand(40, 784, generator=g), labels=torch.arange(40) % 10)
    pairs = (torch.arange(40), torch.randperm(40, generator=g))
    shares = decider_shares(ModularRNN(n_connections=1, seed=0), split, pairs)
    assert shares.shape == (2, 2)
    assert np.allclose(shares.sum(0), 1.0)  # for either parity difference, module 0 or module 1 decides


def test_decision_shares_average_over_seeds_per_level_and_parity():
    import pandas as pd

    from modlib.crossing import decision_shares

    rows = pd.DataFrame([dict(k=1, seed=s, metric="decides", module=n, subtask=p, value=v if n == 0 else 1 - v)
                         for s, v in ((0, 0.9), (1, 0.7)) for n in (0, 1) for p in (0, 1)])
    shares = decision_shares(rows)
    assert list(shares.columns) == ["module 0 decides", "module 1 decides"]
    assert shares.loc[(1, 0), "module 0 decides"] == pytest.approx(0.8)
    with pytest.raises(ValueError, match="--metrics crossing"):
        decision_shares(rows.assign(metric="accuracy"))
