import pytest
import torch

from modlib.trial import NOISE_IMAGES, Trial, check_trial, noise_images, onset_steps


def batch(b=64, inputs=30, seed=0):
    return torch.rand(b, 2, inputs, generator=torch.Generator().manual_seed(seed))


def test_the_papers_trial_is_todays_inputs_the_same_tensor():
    x = batch()
    assert Trial().present(x, 5, torch.Generator()) is x
    assert Trial(noise=0.0, onsets="fixed").static


def test_noise_comes_from_the_same_modules_images_each_keeping_a_fifth_of_its_pixels():
    x = torch.stack([torch.zeros(50, 2000), torch.ones(50, 2000)], dim=1)  # module 0 sees 0, module 1 sees 1
    noise = noise_images(x, torch.Generator().manual_seed(1))
    assert torch.equal(noise[:, 0], torch.zeros(50, 2000))
    kept = noise[:, 1] * NOISE_IMAGES  # how many of the five images kept each pixel
    assert torch.equal(kept, kept.round()) and kept.min() >= 0 and kept.max() <= NOISE_IMAGES
    assert abs(float(noise[:, 1].mean()) - 1 / NOISE_IMAGES) < 0.02
    assert torch.equal(noise[:, 1], noise[:1, 1].expand(50, -1))  # the same pixels kept for every pair
    digits = torch.arange(50.0).view(50, 1, 1).expand(50, 2, 3)  # each pair's images hold its own index
    mixed = noise_images(digits, torch.Generator().manual_seed(2), images=1)  # one image keeps every pixel
    assert not torch.equal(mixed, digits) and set(mixed.unique().tolist()) <= set(range(50))  # other pairs' images


def test_noisy_steps_mix_the_image_with_fresh_noise_of_weight_r():
    x = torch.stack([torch.zeros(200, 40), torch.ones(200, 40)], dim=1)
    steps = Trial(noise=0.4).present(x, 5, torch.Generator().manual_seed(2))
    assert steps.shape == (5, 200, 2, 40)
    # module 1: 0.6 * 1 + 0.4 * (kept / 5); module 0: all zero
    assert torch.equal(steps[:, :, 0], torch.zeros(5, 200, 40))
    assert torch.allclose(((steps[:, :, 1] - 0.6) / 0.4 * NOISE_IMAGES).round(), (steps[:, :, 1] - 0.6) / 0.4 * 5,
                          atol=1e-5)
    assert not torch.equal(steps[0], steps[1])  # drawn anew every step


def test_a_random_onset_shows_noise_only_before_it_and_the_digit_from_it_on():
    x, T = batch(300), 6
    generator = torch.Generator().manual_seed(3)
    steps = Trial(onsets="random").present(x, T, generator)
    onset = onset_steps(300, T, "random", torch.Generator().manual_seed(3))  # drawn first, from the same stream
    assert onset.min() == 1 and onset.max() == T - 1
    for t in range(T):
        on = onset <= t
        assert torch.equal(steps[t][on], x[on])  # R = 0: the digit itself
        assert not torch.isclose(steps[t][~on], x[~on]).all(-1).any()  # noise, not the digit
    assert torch.equal(onset_steps(10, T, "fixed", generator), torch.zeros(10, 2, dtype=torch.long))


@pytest.mark.parametrize("noise, onsets, steps, message", [
    (1.5, "fixed", 5, r"--noise .* in \[0, 1\]"), (-0.1, "fixed", 5, "--noise"),
    (0.0, "sometimes", 5, "--onsets must be one of"), (0.0, "fixed", 0, r"--steps \(T\) must be >= 1"),
    (0.0, "random", 1, "random onsets need T >= 2")])
def test_bad_trial_settings_give_one_clear_error(noise, onsets, steps, message):
    with pytest.raises(ValueError, match=message):
        check_trial(noise, onsets, steps)
