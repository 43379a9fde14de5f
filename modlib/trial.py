"""What each module sees at each step of a trial.

The paper shows each module its digit at every one of the T steps. Beyond the paper, its
authors' journal version varies this, and `Trial` does too:

- **structured noise** of weight R: at every step each image is mixed with a noise image,
  ``x_t = (1 - R) x + R n_t``, where ``n_t`` is the mean of `NOISE_IMAGES` images of the same
  module drawn from the batch, each keeping a random 1/`NOISE_IMAGES` of its pixels (the
  rest zero; which pixels, drawn per step, module and image slot, is the same for every pair
  of the batch, as in the journal version's code), drawn anew at every step: noise that
  looks like pieces of digits, not like static;
- **random onsets**: each module's digit appears at a step drawn from 1..T-1 (steps
  counted from 0) and the module sees only noise, ``n_t``, before it.

R = 0 with fixed onsets is the paper's trial, and gives its inputs, the same tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from modlib.model import require

ONSETS = ("fixed", "random")
NOISE_IMAGES = 5  # images mixed into one noise image (the journal version's code: 5, each keeping 1/5 of its pixels)


def check_trial(noise: float, onsets: str, n_steps: int) -> None:
    """One clear error for settings no trial can have."""
    require([(0 <= noise <= 1, f"--noise is the weight R of the noise in each step's image, in [0, 1]; got {noise}"),
             (onsets in ONSETS, f"--onsets must be one of {ONSETS}, got {onsets!r}"),
             (n_steps >= 1, f"--steps (T) must be >= 1, got {n_steps}"),
             (onsets == "fixed" or n_steps >= 2,
              f"random onsets need T >= 2 steps (a digit appears at a step from 1 to T-1); got T = {n_steps}")])


@dataclass(frozen=True)
class Trial:
    """How the digits are shown over the T steps: ``noise`` R in [0, 1] and ``onsets``
    ("fixed": from the first step; "random": from a step drawn per pair and module)."""

    noise: float = 0.0
    onsets: str = "fixed"

    @property
    def static(self) -> bool:
        """The paper's trial: the same image at every step."""
        return self.noise == 0 and self.onsets == "fixed"

    def present(self, x: torch.Tensor, n_steps: int, generator: torch.Generator) -> torch.Tensor:
        """The inputs of a batch of pairs ``x`` ``[B, 2, in]`` over the trial: ``x`` itself for
        the paper's trial, else one image per step, ``[T, B, 2, in]``."""
        return self.draw(x, n_steps, generator)[0]

    def draw(self, x: torch.Tensor, n_steps: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """`present`'s inputs, and the step ``[B, 2]`` from which each module sees its digit
        (`onset_steps`, drawn first from the same generator; 0 for the paper's trial)."""
        check_trial(self.noise, self.onsets, n_steps)
        onset = onset_steps(len(x), n_steps, self.onsets, generator).to(x.device)
        if self.static:
            return x, onset
        steps = []
        for t in range(n_steps):
            noise = noise_images(x, generator)
            on = (onset <= t).unsqueeze(-1)  # [B, 2, 1]: the digit is shown from its onset on
            steps.append(torch.where(on, torch.lerp(x, noise, self.noise), noise))
        return torch.stack(steps), onset


def onset_steps(batch: int, n_steps: int, onsets: str, generator: torch.Generator) -> torch.Tensor:
    """The step ``[B, 2]`` from which each pair's digit is shown to each module: 0 for fixed
    onsets, drawn uniformly from 1..T-1 for random ones."""
    if onsets == "fixed":
        return torch.zeros(batch, 2, dtype=torch.long)
    return torch.randint(1, n_steps, (batch, 2), generator=generator)


def noise_images(x: torch.Tensor, generator: torch.Generator, images: int = NOISE_IMAGES) -> torch.Tensor:
    """One noise image per pair and module, ``[B, 2, in]``: the mean of ``images`` images of the
    same module drawn from the batch ``x`` (with replacement), each keeping a random
    ``1/images`` of its pixels. The kept pixels of each of the ``images`` slots are drawn once
    for the whole batch (the journal version's code does so, and a draw per pair would cost
    more than the training step)."""
    batch = len(x)
    drawn = torch.randint(0, batch, (batch, images), generator=generator).to(x.device)
    kept = (torch.rand((images, *x.shape[1:]), generator=generator).to(x.device) < 1 / images) / images
    noise = x[drawn[:, 0]] * kept[0]
    for slot in range(1, images):  # one slot at a time: the batch's gathered images are not all held at once
        noise.addcmul_(x[drawn[:, slot]], kept[slot])
    return noise
