import pytest
import torch

from modlib.deepr import DeepR, DeepRConfig, deepr_lr, init_theta
from modlib.model import ModelConfig
from modlib.train import TrainConfig, train_model

from tests.conftest import DEVICES, needs_mnist


@pytest.mark.parametrize("k", [1, 37, 10000])
def test_initial_count_is_exactly_k_per_direction(k):
    theta, sign = init_theta(100, k, torch.Generator().manual_seed(k))
    assert (theta > 0).flatten(1).sum(1).tolist() == [k, k]
    assert float(theta.max()) <= 0.1 and set(sign.unique().tolist()) == {-1.0, 1.0}


def test_learning_rate_decreases_geometrically_from_0_1_to_0_01():
    assert deepr_lr(1e-4, 100) == pytest.approx(0.1)
    assert deepr_lr(1.0, 100) == pytest.approx(0.01)
    assert deepr_lr(1e-2, 100) == pytest.approx(0.1 * 0.1 ** 0.5)


def test_a_dying_connection_is_replaced_by_a_dormant_one():
    theta = torch.nn.Parameter(torch.zeros(2, 4, 4))
    with torch.no_grad():
        theta[0, 0, 0] = 0.01
        theta[1, 2, 3] = 0.5
    opt = DeepR(theta, k=1, config=DeepRConfig(lr=0.1, walk=0.0), generator=torch.Generator().manual_seed(0))
    theta.grad = torch.zeros_like(theta)
    theta.grad[0, 0, 0] = 1.0  # pushes the only active theta of direction 0 below zero
    assert opt.step() == 1
    assert opt.active_counts().tolist() == [1, 1]
    theta = theta.detach()
    assert float(theta[0, 0, 0]) == 0.0 and float(theta[1, 2, 3]) > 0.4
    assert float(theta[0].max()) > 0  # the replacement is strictly positive


def test_dense_limit_reactivates_in_place():
    theta = torch.nn.Parameter(torch.full((2, 3, 3), 0.01))
    opt = DeepR(theta, k=9, config=DeepRConfig(lr=0.1), generator=torch.Generator().manual_seed(0))
    assert opt.noise_std == 0  # random walk annealed to zero at p = 1
    theta.grad = torch.ones_like(theta)
    opt.step()
    assert opt.active_counts().tolist() == [9, 9]


@needs_mnist
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("engine", ["torch", "native"])
@pytest.mark.parametrize("k", [1, 10000])
@pytest.mark.parametrize("rewire", [True, False])
def test_deepr_invariants_after_every_step(rewire, k, engine, device):
    """Deep-R keeps every sign while connections move; its no-rewire control keeps every
    connection while signs flip. In both, weights carry the model's signs, dormant ones are 0,
    and the optimiser's list of active connections is the active set."""
    if engine == "native" and device != "cpu":
        pytest.skip("the native engine runs on the CPU only")
    first, steps = [], []

    def check(model, sparse, step):
        active = model.theta > 0
        if not first:
            first.extend([active.clone(), model.sign.clone()])
        assert active.flatten(1).sum(1).tolist() == [k, k], f"step {step}"
        kept, at_first = (model.sign, first[1]) if rewire else (active, first[0])
        assert torch.equal(kept, at_first), f"step {step}"
        w = model.interconnections().detach()
        assert torch.equal(torch.sign(w[active]), model.sign[active])
        assert bool((w[~active] == 0).all())
        for d in range(2):
            assert sparse.index[d].sort().values.tolist() == active[d].flatten().nonzero()[:, 0].tolist()
        steps.append(step)

    cfg = TrainConfig(epochs=1, train_images=3000, test_images=500, device=device, engine=engine, rewire=rewire)
    model, record = train_model(ModelConfig(n_connections=k), cfg, progress=False, on_step=check)
    assert len(steps) > 5
    if not rewire:
        assert record["history"][0]["rewired"] == 0
        if k == 10000:  # at the paper's dense-end rate many weights cross zero
            assert int((model.sign != first[1]).sum()) > 100


def test_without_rewiring_deepr_is_adam_on_the_signed_weights():
    """The control flips a sign where Deep-R would restart: the same steps as torch's Adam on
    the free weights w = sign * theta of the connections drawn at the start."""
    g = torch.Generator().manual_seed(3)
    theta, sign = init_theta(4, 5, g)
    theta, weight = torch.nn.Parameter(theta), torch.nn.Parameter(sign * theta)
    support = theta.detach() > 0
    config = DeepRConfig(lr=0.05, walk=0.0, rewire=False)
    control = DeepR(theta, k=5, config=config, sign=sign)
    adam = torch.optim.Adam([weight], lr=config.lr, betas=config.betas, eps=config.eps)
    first_sign = sign.clone()
    for _ in range(40):
        grad = torch.randn(theta.shape, generator=g) * support
        weight.grad, theta.grad = grad, grad * sign  # d loss / d theta = sign * d loss / d w
        adam.step()
        assert control.step() == 0
        assert torch.equal(theta.detach() > 0, support)  # the same connections, none restarted
    assert not torch.equal(sign, first_sign)  # some crossed zero, so the test saw flips
    assert torch.allclose(sign * theta.detach(), weight.detach(), atol=1e-6)


def test_without_rewiring_deepr_needs_the_signs():
    theta, _ = init_theta(10, 5)
    with pytest.raises(ValueError, match="sign=model.sign"):
        DeepR(torch.nn.Parameter(theta), k=5, config=DeepRConfig(rewire=False))


def test_theta_without_exactly_k_active_is_refused():
    theta, _ = init_theta(10, 5)
    with pytest.raises(ValueError, match="exactly k = 6"):
        DeepR(torch.nn.Parameter(theta), k=6)


@needs_mnist
def test_rewiring_log_records_the_count_and_the_share_of_the_first_connections_still_active():
    from modlib.deepr import RewiringLog

    log, k = RewiringLog(), 5
    model, record = train_model(ModelConfig(n_connections=k), TrainConfig(epochs=1, train_images=3000,
                                                                          test_images=500), progress=False, on_step=log)
    assert len(log.counts) == len(log.still_first) > 5  # one record per step
    assert all(count == [k, k] for count in log.counts)
    assert log.still_first[0] == [1.0, 1.0]
    assert all(0 <= share <= 1 for shares in log.still_first for share in shares)
    still = ((model.theta.detach() > 0) & log.first).flatten(1).sum(1) / k
    assert log.still_first[-1] == still.tolist()
