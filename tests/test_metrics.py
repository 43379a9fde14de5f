import copy

import numpy as np
import pytest
import torch

from modlib.metrics import (METRIC_FUNCTIONS, MetricData, applicable_metrics, bottleneck_metric, cka,
                            correlation_table, derangement_within_classes, global_top_mask, kept_per_module,
                            pearson_rows, score_value, scored_parameters, specialization, weight_mask_metric)
from modlib.model import ModularRNN
from modlib.train import TrainConfig

from tests.conftest import DEVICES, needs_cuda, needs_mnist


def kornblith_demo_data():
    np.random.seed(1337)
    x = np.random.randn(100, 10)
    y = np.random.randn(100, 10) + x
    return x, y


def test_cka_matches_kornblith_demo_notebook():
    x, y = kornblith_demo_data()
    assert cka(x, y) == pytest.approx(0.55761, abs=5e-6)
    assert cka(x, y, debiased=True) == pytest.approx(0.51346, abs=5e-6)


def test_cka_matches_gram_matrix_definition():
    x, y = kornblith_demo_data()
    h = np.eye(100) - 1 / 100
    k, l = h @ x @ x.T @ h, h @ y @ y.T @ h
    expected = np.sum(k * l) / np.sqrt(np.sum(k * k) * np.sum(l * l))
    assert cka(x, y) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_is_one_under_orthogonal_transform_and_isotropic_scaling(debiased):
    x, _ = kornblith_demo_data()
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((10, 10)))
    assert cka(x, x @ q, debiased) == pytest.approx(1.0, abs=1e-10)
    assert cka(x, 3.7 * x, debiased) == pytest.approx(1.0, abs=1e-10)
    y = x @ np.random.default_rng(1).standard_normal((10, 10))
    assert cka(x, y, debiased) < 0.99  # not invariant to a general linear map


def test_specialization_formula_range_and_sign():
    assert specialization([[1.0, 0.0], [0.0, 1.0]]).tolist() == [1.0, 1.0]
    assert specialization([[0.0, 1.0], [1.0, 0.0]]).tolist() == [-1.0, -1.0]
    assert specialization([[0.3, 0.3], [0.5, 0.5]]).tolist() == [0.0, 0.0]
    assert specialization([[0.9, 0.3], [0.2, 0.4]]) == pytest.approx([0.5, 1 / 3])
    table = np.random.default_rng(0).random((2, 2))
    assert np.all(np.abs(specialization(table)) <= 1)
    with pytest.raises(ValueError, match="2 x 2"):
        specialization(np.ones(3))


def test_derangement_pairs_same_class_and_never_itself():
    classes = torch.randint(0, 10, (5000,), generator=torch.Generator().manual_seed(0))
    partner = derangement_within_classes(classes, torch.Generator().manual_seed(1))
    assert torch.equal(classes[partner], classes)
    assert not bool((partner == torch.arange(5000)).any())
    assert sorted(partner.tolist()) == list(range(5000))  # a permutation
    with pytest.raises(ValueError, match="single sample"):
        derangement_within_classes(torch.tensor([0, 0, 1]), torch.Generator())


def test_pearson_rows_matches_numpy():
    a, b = torch.randn(6, 30), torch.randn(6, 30)
    expected = [np.corrcoef(a[i], b[i])[0, 1] for i in range(6)]
    assert pearson_rows(a, b).numpy() == pytest.approx(expected, abs=1e-12)


def test_identical_hidden_states_give_no_specialization():
    hidden = torch.randn(1, 2, 50).expand(400, 2, 50)
    digits = torch.randint(0, 10, (400, 2), generator=torch.Generator().manual_seed(0))
    table = correlation_table(hidden, digits)
    assert table == pytest.approx(np.ones((2, 2)))
    assert specialization(table) == pytest.approx([0.0, 0.0])


def test_states_that_encode_only_their_own_digit_are_specialised_and_shuffling_removes_it():
    g = torch.Generator().manual_seed(0)
    digits = torch.randint(0, 10, (4000, 2), generator=g)
    prototypes = torch.randn(10, 40, generator=g)
    hidden = torch.stack([prototypes[digits[:, n]] + 0.5 * torch.randn(4000, 40, generator=g) for n in (0, 1)], 1)
    table = correlation_table(hidden, digits)
    assert np.all(specialization(table) > 0.8)
    shuffled = digits[torch.randperm(4000, generator=g)]  # control: labels no longer match the states
    assert np.all(np.abs(specialization(correlation_table(hidden, shuffled))) < 0.1)


def test_a_module_without_weights_in_either_mask_has_no_specialization():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = specialization([[1.0, 1.0], [0.0, 0.0]])
    assert spec[0] == 0.0 and np.isnan(spec[1])


def test_global_top_mask_keeps_exactly_q_of_all_scores():
    scores = {"a": torch.randn(2, 30, 30), "b": torch.randn(2, 10)}
    masks = global_top_mask(scores, 0.05)
    kept = sum(int(m.sum()) for m in masks.values())
    assert kept == round(0.05 * (1800 + 20))
    smallest_kept = min(float(s.abs()[m].min()) for s, m in zip(scores.values(), masks.values()) if m.any())
    largest_dropped = max(float(s.abs()[~m].max()) for s, m in zip(scores.values(), masks.values()))
    assert smallest_kept > largest_dropped


def test_a_signed_mask_keeps_the_highest_scores_and_its_gradient_has_no_sign_factor():
    scores = {"a": torch.tensor([[-5.0, 4.0, 0.5, -0.1]])}
    assert global_top_mask(scores, 0.5)["a"].tolist() == [[True, True, False, False]]  # by magnitude
    assert global_top_mask(scores, 0.5, selection="signed")["a"].tolist() == [[False, True, True, False]]
    score = torch.tensor([-2.0, 3.0], requires_grad=True)
    for selection, expected in (("magnitude", [-1.0, 1.0]), ("signed", [1.0, 1.0])):
        score.grad = None
        score_value(score, selection).sum().backward()
        assert score.grad.tolist() == expected


def test_scored_interconnections_count_only_the_active_ones_for_their_receiving_module():
    model = ModularRNN(n_hidden=10, n_connections=3, seed=1)
    scores = {name: torch.rand(p.shape) + 1 for name, p in model.named_parameters()
              if name in scored_parameters(model, interconnections=True)}
    scores["theta"] = torch.full_like(model.theta, 100.0)  # the highest scores: kept first where they exist
    masks = global_top_mask(scores, 0.05, {"theta": model.theta.detach() > 0})
    assert int(masks["theta"].sum()) == 6  # the 3 active connections each way, not the 194 dormant entries
    assert bool((masks["theta"] <= (model.theta.detach() > 0)).all())
    n_scored = sum(s.numel() for name, s in scores.items() if name != "theta") + 6
    assert sum(int(m.sum()) for m in masks.values()) == round(0.05 * n_scored)
    only_theta = {name: torch.zeros_like(m) for name, m in masks.items()} | {"theta": masks["theta"]}
    only_theta["theta"][1] = False  # keep the connections from module 0 to module 1 alone
    assert kept_per_module(only_theta).tolist() == [0.0, 3.0]  # counted in module 1, which receives them


@pytest.mark.parametrize("options", [{"epochs": 0}, {"score_init": 0.0}])
def test_weight_mask_refuses_no_training_and_scores_that_start_at_zero(options):
    with pytest.raises(ValueError, match="epochs >= 1 .* score bound > 0"):
        weight_mask_metric(ModularRNN(n_connections=1), data=None, **options)


@pytest.fixture(scope="module", params=DEVICES)
def small_data(request):
    return MetricData.load(TrainConfig(train_images=6000, test_images=2000, device=request.param))


def isolated(data: MetricData, bottleneck=None, seed=0):
    """A model whose modules cannot communicate (every interconnection dormant), on the data's device."""
    model = ModularRNN(n_connections=1, bottleneck=bottleneck, seed=seed)
    with torch.no_grad():
        model.theta.zero_()
    return model.to(data.test.x.device)


@needs_mnist
def test_isolated_modules_cannot_report_the_other_digit_through_the_bottleneck(small_data):
    result = bottleneck_metric(isolated(small_data, bottleneck=5), small_data, progress=False)
    m = result["M"]
    assert m[0, 1] < 0.16 and m[1, 0] < 0.16  # chance is about 0.1
    assert m[0, 0] > 0.18 and m[1, 1] > 0.18  # an untrained 5-unit bottleneck still carries its digit
    assert np.all(result["specialization"] > 0.2)


@needs_mnist
def test_isolated_modules_masks_select_the_module_that_sees_the_digit(small_data):
    result = weight_mask_metric(isolated(small_data), small_data, progress=False)
    m = result["M"]
    assert m[:, 0].sum() == pytest.approx(1.0) and m[:, 1].sum() == pytest.approx(1.0)
    assert m[0, 0] > m[1, 0] and m[1, 1] > m[0, 1]


@needs_mnist
def test_masks_that_score_the_interconnections_still_split_between_the_modules(small_data):
    model = ModularRNN(n_connections=10_000, seed=0).to(small_data.test.x.device)
    result = weight_mask_metric(model, small_data, q=0.05, interconnections=True, progress=False)
    assert result["M"].sum(0) == pytest.approx([1.0, 1.0])


@needs_mnist
def test_repeated_masks_average_the_single_masks_of_their_seeds(small_data):
    from modlib.metrics import MASK_REPEAT_SEED

    model = isolated(small_data, seed=3)
    both = weight_mask_metric(model, small_data, q=0.1, repeats=2, seed=4, progress=False)
    singles = [weight_mask_metric(model, small_data, q=0.1, seed=seed, progress=False)
               for seed in (4, 4 + MASK_REPEAT_SEED)]
    np.testing.assert_allclose(both["M"], (singles[0]["M"] + singles[1]["M"]) / 2, rtol=1e-12)
    np.testing.assert_allclose(both["mask_accuracy"], np.mean([s["mask_accuracy"] for s in singles], axis=0))
    assert not np.array_equal(singles[0]["M"], singles[1]["M"])  # the repeats did start from other scores


@pytest.mark.parametrize("options", [{"q": 0.0}, {"q": 1.0}, {"repeats": 0}])
def test_weight_mask_refuses_an_empty_or_full_mask_and_no_repeats(options):
    with pytest.raises(ValueError, match="0 < q < 1 .* repeats >= 1"):
        weight_mask_metric(ModularRNN(n_connections=1), data=None, **options)


def test_bottleneck_metric_rejects_a_model_without_bottleneck():
    with pytest.raises(ValueError, match="bottleneck=5"):
        bottleneck_metric(ModularRNN(n_connections=1), data=None)


@needs_mnist
@needs_cuda
@pytest.mark.parametrize("bottleneck", [None, 5])
def test_the_same_weights_give_the_same_metrics_on_the_gpu_and_the_cpu(bottleneck):
    """So a GPU sweep differs from a CPU sweep through its training alone."""
    model = ModularRNN(n_connections=60, bottleneck=bottleneck, seed=0)
    data = {d: MetricData.load(TrainConfig(train_images=6000, test_images=2000, device=d)) for d in ("cpu", "cuda")}
    for name in applicable_metrics(model):
        cpu, gpu = (METRIC_FUNCTIONS[name](copy.deepcopy(model).to(d), data[d], progress=False)["M"] for d in data)
        assert np.allclose(cpu, gpu, rtol=0, atol=2e-3), name  # a few of ~1,600 test pairs at most (0 on an H100)


@needs_mnist
@pytest.mark.parametrize("options", [{}, {"interconnections": True}])  # with it, each model keeps its own count
def test_weight_masks_of_stacked_models_are_each_model_s_own(options):
    from modlib.ensemble import stacked_model
    from modlib.model import ModelConfig
    from modlib.train import train_model

    data = MetricData.load(TrainConfig(train_images=1000, test_images=1000))
    models = [train_model(ModelConfig(n_connections=k), TrainConfig(seed=seed, epochs=1, train_images=1000),
                          progress=False, splits=(data.train, data.test))[0] for k, seed in [(1, 0), (22, 1), (464, 2)]]
    together = weight_mask_metric(stacked_model(models), data, seed=[0, 1, 2], progress=False, **options)
    for model, seed, result in zip(models, (0, 1, 2), together):
        alone = weight_mask_metric(model, data, seed=seed, progress=False, **options)
        np.testing.assert_allclose(result["M"], alone["M"], atol=1e-3)  # a weight or two at the margin, at most
        np.testing.assert_allclose(result["mask_accuracy"], alone["mask_accuracy"], atol=2e-3)


@needs_mnist
def test_bottleneck_readouts_of_stacked_models_are_each_model_s_own():
    from modlib.ensemble import stacked_model
    from modlib.model import ModelConfig
    from modlib.train import train_model

    data = MetricData.load(TrainConfig(train_images=1000, test_images=1000))
    models = [train_model(ModelConfig(n_connections=k, bottleneck=5), TrainConfig(seed=seed, epochs=1,
                                                                                  train_images=1000),
                          progress=False, splits=(data.train, data.test))[0] for k, seed in [(1, 0), (22, 1), (464, 2)]]
    together = bottleneck_metric(stacked_model(models), data, seed=[0, 1, 2], epochs=2, progress=False)
    for model, seed, result in zip(models, (0, 1, 2), together):
        np.testing.assert_allclose(result["M"], bottleneck_metric(model, data, seed=seed, epochs=2,
                                                                  progress=False)["M"], atol=2e-3)
