import copy
import json

import numpy as np
import pytest
import torch

from modlib.model import ModelConfig, ModularRNN, Recurrence

from tests.conftest import needs_cuda


def reference_hidden(model: ModularRNN, x: torch.Tensor) -> torch.Tensor:
    """The paper's equation, module by module and step by step (slow, obviously right)."""
    c = model.interconnections()  # c[d]: from module d to module 1 - d
    w_ih = model.w_ih.transpose(1, 2)
    h = [torch.zeros(len(x), model.config.n_hidden, dtype=x.dtype) for _ in range(2)]
    for _ in range(model.config.n_steps):
        new = []
        for n in (0, 1):
            m = 1 - n
            message = c[m] @ h[m].T
            if model.config.message == "before":
                message = model.w_hh[n] @ message
            new.append(torch.tanh(x[:, n] @ w_ih[n].T + model.b_ih[n] + h[n] @ model.w_hh[n].T
                                  + model.b_hh[n] + message.T))
        h = new
    return torch.stack(h, dim=1)


@pytest.mark.parametrize("message", ["after", "before"])
@pytest.mark.parametrize("k", [1, 7, 64])
def test_fused_recurrence_matches_the_papers_equation(k, message):
    torch.manual_seed(0)
    model = ModularRNN(n_hidden=8, n_connections=k, n_inputs=12, message=message, seed=1).double()
    x = torch.rand(5, 2, 12, dtype=torch.float64)
    assert torch.allclose(model.hidden_states(x), reference_hidden(model, x), atol=1e-12)


def test_recurrence_gradient_is_exact():
    drive = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    w = (0.5 * torch.randn(6, 6, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda d, m: Recurrence.apply(d, m, 5), (drive, w))


@pytest.mark.parametrize("message", ["after", "before"])
def test_recurrent_matrix_gradients_are_autograds(message):
    model = ModularRNN(n_hidden=6, n_connections=10, n_inputs=4, message=message, seed=2).double()
    d_w = torch.randn(12, 12, dtype=torch.float64)
    expected = torch.autograd.grad(model.recurrent_matrix(), (model.w_hh, model.theta), d_w)
    for got, want in zip(model.recurrent_matrix_gradients(d_w), expected):
        assert torch.allclose(got, want, rtol=0, atol=1e-14)
    assert not expected[1][model.theta <= 0].any()  # dormant connections get no gradient


@needs_cuda
@pytest.mark.parametrize("bottleneck", [None, 5])
def test_a_model_computes_on_the_gpu_what_it_computes_on_the_cpu(bottleneck):
    model = ModularRNN(n_connections=60, bottleneck=bottleneck, seed=0)
    x = torch.rand(64, 2, 784)
    cpu, gpu = model(x), copy.deepcopy(model).to("cuda")(x.to("cuda"))
    for name, value in cpu._asdict().items():
        if value is not None and value.is_floating_point():
            assert torch.allclose(getattr(gpu, name).cpu(), value, rtol=0, atol=1e-5), name


def test_modules_cannot_talk_without_interconnections():
    model = ModularRNN(n_hidden=10, n_connections=3, n_inputs=12, seed=0)
    with torch.no_grad():
        model.theta.zero_()
    x = torch.rand(4, 2, 12)
    x_changed = x.clone()
    x_changed[:, 1] = torch.rand(4, 12)
    h, h_changed = model.hidden_states(x), model.hidden_states(x_changed)
    assert torch.equal(h[:, 0], h_changed[:, 0])
    assert not torch.allclose(h[:, 1], h_changed[:, 1])


def test_weights_start_uniform_in_plus_minus_0_1():
    model = ModularRNN(n_connections=10000, seed=3)
    for name, p in model.named_parameters():
        values = p.detach().abs()
        assert float(values.max()) <= 0.1, name
    w = model.interconnections().detach()
    assert float(w.abs().max()) <= 0.1 and float(w.mean().abs()) < 0.01


def test_pytorch_init_bounds_each_layer_by_its_fan_in():
    """nn.RNN and nn.Linear draw from U(-1/sqrt(fan_in), 1/sqrt(fan_in)): at N = 100 that is the
    paper's 0.1 everywhere but in the bottleneck's readout (fan-in 5)."""
    standard = [ModularRNN(n_connections=60, seed=2, init=init) for init in ("uniform", "pytorch")]
    assert all(torch.equal(a, b) for a, b in zip(*(m.parameters() for m in standard)))
    uniform, pytorch = (ModularRNN(n_connections=60, bottleneck=5, seed=2, init=init)
                        for init in ("uniform", "pytorch"))
    assert torch.equal(uniform.w_hb, pytorch.w_hb)
    assert 0.1 < float(pytorch.w_br.detach().abs().max()) <= 5 ** -0.5
    assert torch.allclose(pytorch.w_br, uniform.w_br * 5 ** -0.5 / 0.1)  # the same draws, scaled
    small = ModularRNN(n_hidden=16, n_connections=1, seed=0, init="pytorch")
    assert 0.1 < float(small.w_hh.detach().abs().max()) <= 0.25


@pytest.mark.parametrize("decision", ["max", "absmax"])
def test_decision_picks_module_with_largest_readout(decision):
    model = ModularRNN(n_hidden=4, n_connections=1, decision=decision)
    readouts = torch.tensor([[[0.1, 0.5, 0.0], [0.2, 0.3, -0.9]],
                             [[0.7, -0.1, 0.0], [0.2, 0.6, 0.1]]])
    decided, decider = model.decide(readouts)
    expected = [1, 0] if decision == "absmax" else [0, 0]
    assert decider.tolist() == expected
    assert torch.equal(decided, readouts[torch.arange(2), decider])


def test_output_shapes_with_and_without_bottleneck():
    x = torch.rand(3, 2, 784)
    out = ModularRNN(n_connections=5)(x)
    assert out.decided.shape == (3, 10) and out.readouts.shape == (3, 2, 10)
    assert out.hidden.shape == (3, 2, 100) and out.bottleneck is None
    out = ModularRNN(n_connections=5, bottleneck=5)(x)
    assert out.bottleneck.shape == (3, 2, 5) and out.readouts.shape == (3, 2, 10)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_connections=0), "n_connections must be between 1 and"),
    (dict(n_connections=10001), "n_connections must be between 1 and"),
    (dict(n_connections=5, bottleneck=0), "bottleneck"),
    (dict(n_connections=5, decision="min"), "decision"),
    (dict(n_connections=5, message="during"), "message"),
    (dict(n_connections=1.5), "n_connections must be a whole number, got 1.5"),
    (dict(n_connections="60"), "n_connections must be a whole number, got '60'"),
    (dict(n_connections=True), "n_connections must be a whole number, got True"),
    (dict(n_hidden=50.0, n_connections=5), "n_hidden must be a whole number"),
    (dict(n_connections=5, bottleneck=2.5), "bottleneck must be a whole number"),
])
def test_invalid_configuration_is_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModularRNN(**kwargs)


def test_numpy_integers_are_stored_as_python_ones_so_the_config_writes_to_json():
    cfg = ModelConfig(n_hidden=np.int64(10), n_connections=np.int32(7))
    assert json.loads(json.dumps(cfg.to_dict()))["n_connections"] == 7 and type(cfg.n_hidden) is int


def test_p_is_k_over_n_squared():
    assert ModelConfig(n_hidden=100, n_connections=60).p == pytest.approx(0.006)


def test_same_seed_same_weights():
    a, b = ModularRNN(n_connections=9, seed=4), ModularRNN(n_connections=9, seed=4)
    c = ModularRNN(n_connections=9, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.w_hh, c.w_hh)


def test_a_shared_readout_adds_both_modules_and_names_the_one_that_adds_more_to_the_answer():
    model = ModularRNN(n_hidden=4, n_connections=2, n_inputs=6, readout="shared", seed=0)
    readouts = torch.tensor([[[1.0, 0.0, 0.5], [0.0, 2.0, 0.0]],    # class 1 wins (2.0): module 1 added it
                             [[3.0, 0.0, 0.0], [1.0, 0.0, 2.5]]])   # class 0 wins (4.0): module 0 added more
    decided, decider = model.decide(readouts)
    assert torch.equal(decided, readouts.sum(1)) and decider.tolist() == [1, 0]
    with pytest.raises(ValueError, match="readout must be one of"):
        ModularRNN(n_hidden=4, n_connections=2, readout="joint")


def torch_cell(cell: str, model: ModularRNN, module: int) -> torch.nn.Module:
    """PyTorch's own GRU or LSTM cell with one module's weights (the same gate order)."""
    reference = {"gru": torch.nn.GRUCell, "lstm": torch.nn.LSTMCell}[cell](model.config.n_inputs, model.config.n_hidden)
    with torch.no_grad():
        reference.weight_ih.copy_(model.w_ih[module].T)
        reference.weight_hh.copy_(model.w_hh[module])
        reference.bias_ih.copy_(model.b_ih[module])
        reference.bias_hh.copy_(model.b_hh[module])
    return reference.double()


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_without_interconnections_each_module_is_pytorchs_own_cell(cell):
    model = ModularRNN(n_hidden=5, n_connections=4, n_inputs=3, cell=cell, seed=2).double()
    with torch.no_grad():
        model.theta.zero_()  # no active interconnection: the modules are two separate networks
    x = torch.rand(6, 2, 3, dtype=torch.float64)
    states = model.every_state(x)
    for module in (0, 1):
        reference, h = torch_cell(cell, model, module), None
        for t in range(model.config.n_steps):
            h = reference(x[:, module], h)
            assert torch.allclose(states[t, :, module], h[0] if cell == "lstm" else h, atol=1e-12), (module, t)


@pytest.mark.parametrize("cell", ["leaky", "gru", "lstm"])
def test_a_cell_step_adds_the_other_modules_message_to_every_gates_recurrent_input(cell):
    """The second step from the first, by the cell's equation written out here."""
    from modlib.model import LEAK

    model = ModularRNN(n_hidden=5, n_connections=10, n_inputs=3, cell=cell, seed=3).double()
    x = torch.rand(4, 2, 3, dtype=torch.float64)
    states = model.every_state(x)
    c = model.interconnections()  # c[d]: from module d to module 1 - d
    first = states[0]
    for n in (0, 1):
        h, message = first[:, n], first[:, 1 - n] @ c[1 - n].T
        inputs, recurrent = x[:, n] @ model.w_ih[n] + model.b_ih[n], h @ model.w_hh[n].T + model.b_hh[n]
        sig = torch.sigmoid
        if cell == "leaky":
            expected = (1 - LEAK) * h + LEAK * torch.tanh(inputs + recurrent + message)
        elif cell == "gru":
            (x_r, x_z, x_n), (h_r, h_z, h_n) = inputs.chunk(3, -1), recurrent.chunk(3, -1)
            r, z = sig(x_r + h_r + message), sig(x_z + h_z + message)
            expected = (1 - z) * torch.tanh(x_n + r * (h_n + message)) + z * h
        else:
            i, f, g, o = (x[:, n] @ model.w_ih[n] + model.b_ih[n] + model.b_hh[n]).chunk(4, -1)
            memory = sig(i) * torch.tanh(g)  # the first step, from h = 0 and memory 0
            i, f, g, o = (inputs + recurrent + torch.cat([message] * 4, -1)).chunk(4, -1)
            memory = sig(f) * memory + sig(i) * torch.tanh(g)
            expected = sig(o) * torch.tanh(memory)
        assert torch.allclose(states[1, :, n], expected, atol=1e-12), n


@pytest.mark.parametrize("cell", ["leaky", "gru", "lstm"])
def test_cells_train_by_autograd_into_the_optimisers_buffers(cell):
    from modlib.model import ModelConfig
    from modlib.train import TrainConfig, loss_and_gradients, new_model

    model, dense, _ = new_model(ModelConfig(n_hidden=6, n_connections=8, n_inputs=784, cell=cell), TrainConfig())
    x, target = torch.rand(16, 2, 784), torch.randint(0, 10, (16,))
    dense.zero_grad()
    loss, _ = loss_and_gradients(model, x, target)
    reference = torch.nn.functional.cross_entropy(model(x).decided, target)
    expected = torch.autograd.grad(reference, dense.params)
    assert torch.isclose(loss, reference.detach())
    for view, grad in zip(dense.grad_views, expected):  # written where Adadelta reads
        assert torch.allclose(view, grad) and grad.abs().sum() > 0
    with pytest.raises(ValueError, match="message enters before W_hh only in the tanh RNN"):
        ModelConfig(cell=cell, message="before")
