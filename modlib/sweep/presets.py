"""The stored sweeps, by name: the paper's and the controls and variants the book reads, and how
a preset, or a sweep stored under a name, is looked up and changed."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path

from modlib.metrics import METRICS
from modlib.sweep.config import SweepConfig


# Presets by group, in the order `python -m modlib sweep --list` shows them.
GROUPS = ("the paper", "the authors' code", "controls and variants", "the metric's choices", "beyond the paper",
          "engines and devices")
PRESETS: dict[str, SweepConfig] = {}
ABOUT: dict[str, tuple[str, str]] = {}  # name -> (group, one line on what the sweep asks)


def preset(cfg: SweepConfig, group: str, about: str) -> None:
    """Register ``cfg`` as the preset of its name, in ``group``, described by ``about``."""
    assert group in GROUPS and cfg.name not in PRESETS, (group, cfg.name)
    PRESETS[cfg.name] = cfg
    ABOUT[cfg.name] = (group, about)


preset(SweepConfig(name="paper"), "the paper", "the paper's sweep: 10 levels, 10 seeds, both architectures")
preset(SweepConfig(name="smoke", levels=3, seeds=1, epochs=1, train_images=6000, test_images=2000),
       "engines and devices", "a quick check that everything runs (1 epoch on a tenth of MNIST)")
preset(SweepConfig(name="long", levels=3, seeds=3, architectures=("standard",), metrics=(), epochs=15),
       "the paper", "is the 5-epoch budget what keeps the sparsest and densest models below 0.90? 15 epochs")
preset(SweepConfig(name="correlation-30", seeds=30, architectures=("standard",), metrics=("correlation",)),
       "the paper", "claim (b) for the correlation measure with 30 seeds (the first ten are the paper's)")
preset(SweepConfig(name="paper-cuda", device="cuda"), "engines and devices",
       "the paper sweep on a GPU, whose rounding differs: do the verdicts depend on it?")
preset(SweepConfig(name="paper-native", engine="native"), "engines and devices",
       "the paper sweep with the compiled training step (the same to rounding): verdicts and time")
preset(SweepConfig(name="no-rewire", levels=4, rewire=False), "controls and variants",
       "Deep-R keeps the connections it starts with, free to change sign: does specialization need its choice?")
preset(SweepConfig(name="dense-authors-rate", k_values=(10_000,), metrics=(), deepr_lr_range=(0.1, 0.001)),
       "the authors' code", "the fully connected models with the authors' Deep-R rate at p = 1 (0.001); accuracy")
preset(SweepConfig(name="dense-authors-rate-no-rewire", k_values=(10_000,), metrics=(), deepr_lr_range=(0.1, 0.001),
                   rewire=False),
       "the authors' code", "both changes at once: at the authors' rate, do Deep-R's restarts still cost accuracy?")
# Beyond the paper (its discussion asks for it): the paper sweep on tasks that need more than one
# bit to cross between the modules, the other digit mod m (modlib.task; m = 2 is the paper sweep).
MODULUS_SWEEPS = (4, 10)
for _m in MODULUS_SWEEPS:
    preset(SweepConfig(name=f"modulus-{_m}", modulus=_m), "beyond the paper",
           f"the paper sweep on a task that needs the other digit mod {_m} to cross")
# In the paper's 5 (7) epochs the harder tasks end less accurate. Trained for 15, at three levels
# with five seeds: does the extra specialization at m = 10 outlast the accuracy gap?
LONG_MODULI = (2, 10)
for _m in LONG_MODULI:
    preset(SweepConfig(name=f"modulus-{_m}-long", levels=3, seeds=5, epochs=15, modulus=_m), "beyond the paper",
           f"modulus {_m} trained for 15 epochs at three levels: does the difference outlast the accuracy gap?")
# Beyond the paper (its authors' journal version): specialization at every step of a trial
# (modlib.timecourse), for the paper's static trial, structured noise of weight 0.4 at every step,
# and random onsets, where each module sees noise alone until its digit appears and the digit alone
# after (R = 0 then, so the onset is the one change from the static trial); and the static trial
# twice as long, at four levels.
STEP_CONDITIONS = {"static": {}, "noise": {"noise": 0.4}, "onsets": {"onsets": "random"}}
for _name, _change in STEP_CONDITIONS.items():
    preset(SweepConfig(name=f"steps-{_name}", seeds=5, metrics=("steps",), **_change), "beyond the paper",
           f"every measure at every step of a trial, 10 levels x 5 seeds: {_name} inputs")
preset(SweepConfig(name="steps-long", k_values=(1, 22, 464, 10_000), seeds=5, metrics=("steps",), n_steps=10),
       "beyond the paper", "every measure at every step of a static trial of T = 10 steps, 4 levels x 5 seeds")
# Where specialization appears: modules of N units (the paper's N = 100 is its sweep's seeds 0-4),
# each at the paper's grid from one connection to all N^2, with the paper's Deep-R rates, q and
# bottleneck width, which the text does not scale with N; then the readout, and the cell, changed
# alone at the paper's levels (the paper's own, separate trained readouts and the tanh RNN, is its
# sweep's seeds 0-4).
SIZES = (10, 25, 50)
for _n in SIZES:
    preset(SweepConfig(name=f"size-{_n}", n_hidden=_n, seeds=5), "beyond the paper",
           f"modules of N = {_n} units, k from 1 to N^2 on the paper's grid, 5 seeds, every measure")
READOUT_SWEEPS = {"frozen": {"train_readout": False}, "shared": {"readout": "shared"}}
for _name, _change in READOUT_SWEEPS.items():
    preset(SweepConfig(name=f"readout-{_name}", seeds=5, **_change), "beyond the paper",
           f"the paper sweep with 5 seeds and the {_name} readout")
CELL_SWEEPS = ("leaky", "gru", "lstm")
for _cell in CELL_SWEEPS:
    preset(SweepConfig(name=f"cell-{_cell}", seeds=5, cell=_cell), "beyond the paper",
           f"the paper sweep with 5 seeds and {_cell} cells")
VARIANT_BASE = dict(levels=4, seeds=3, architectures=("standard",), metrics=("weight_mask", "correlation"))
# The authors' code differs from the paper's text, or fills a gap in it, in ways that could
# matter (replication notes): each variant changes one such setting (noexclude: two), and is
# labelled for the book's comparison.
VARIANTS = {
    "text": ("the paper's text (reference)", {}),
    "absmax": ("decision by largest |readout|", {"decision": "absmax"}),
    "before": ("message enters before W_hh", {"message": "before"}),
    "equation": ("target by the paper's equation", {"rule": "equation"}),
    "noexclude": ("no exclusion rule, no balancing", {"exclude": False, "balance": False}),
    "deepr-lr": ("Deep-R lr 0.1 -> 0.001", {"deepr_lr_range": (0.1, 0.001)}),
    "frozen-readout": ("readout frozen at its initial weights", {"train_readout": False}),
    "early-stop": ("early stop at 0.90 test accuracy", {"stop_accuracy": 0.9}),
    "batch-256": ("batches of 256 pairs", {"batch_size": 256}),
    "batch-64": ("batches of 64 pairs", {"batch_size": 64}),
    "mask-repeats": ("3 weight masks averaged", {"mask_repeats": 3}),
    "pytorch-init": ("PyTorch's default initialisation", {"init": "pytorch"}),
    "adam": ("Adam 1e-3, x0.9 per epoch", {"optimizer": "adam", "lr_decay": 0.9}),
    "normalize": ("inputs normalised", {"normalize": True}),
    "fixed-pairs": ("each image keeps one partner", {"fixed_pairs": True}),
    "best-loss": ("the epoch of lowest test loss kept", {"keep": "best-loss"}),
    "length": ("up to 15 epochs, stop at 0.90 from epoch 3", {"epochs": 15, "stop_accuracy": 0.9,
                                                               "stop_min_epochs": 3}),
    "mask-fraction": ("masks keep 10% of the weights", {"mask_fraction": 0.1}),
    "signed-masks": ("masks keep the top scores by sign", {"mask_selection": "signed"}),
}
# What crosses a handful of connections: more than the parity bit the task needs? And which module
# decides where? The standard models of the paper sweep at its four sparsest levels.
preset(SweepConfig(name="crossing", k_values=(1, 3, 8, 22), architectures=("standard",), metrics=("crossing",)),
       "controls and variants", "how much of the other digit crosses 1 to 22 connections, beyond the parity bit")
# The authors' main script's choices all at once (replication notes), where the variants below try
# each alone: is a disagreement with the paper the text's or the code's? The code's target is the
# prose reading, the default; its masks were averaged over several initialisations.
AUTHORS_CHOICES = dict(decision="absmax", message="before", exclude=False, balance=False, init="pytorch",
                       deepr_lr_range=(0.1, 0.001), batch_size=64, epochs=15, stop_accuracy=0.9, stop_min_epochs=3,
                       optimizer="adam", lr_decay=0.9, normalize=True, fixed_pairs=True, keep="best-loss",
                       train_readout=False, grid="authors", mask_fraction=0.1, mask_selection="signed",
                       mask_repeats=3)
preset(SweepConfig(name="authors", random_masks=True, **AUTHORS_CHOICES), "the authors' code",
       "every choice of the authors' main script at once, on its levels: the text's results or the code's?")
# Each choice of the authors' code both ways, on the variants' four levels and three seeds: added
# alone to the text (the variants), and taken alone out of the authors' configuration (below), for
# a choice that matters only together with another. The variants named here are the authors'
# choices, together AUTHORS_CHOICES but for its grid of levels, which at a given k changes nothing.
AUTHORS_VARIANTS = ("absmax", "before", "noexclude", "pytorch-init", "deepr-lr", "batch-64", "length", "adam",
                    "normalize", "fixed-pairs", "best-loss", "frozen-readout", "mask-fraction", "signed-masks",
                    "mask-repeats")
AUTHORS_REFERENCE = {key: value for key, value in AUTHORS_CHOICES.items() if key != "grid"}
preset(SweepConfig(name="authors-reference", **VARIANT_BASE, **AUTHORS_REFERENCE), "the authors' code",
       "the authors' configuration at the variants' 4 levels x 3 seeds: the reference its choices are taken from")
for _name in AUTHORS_VARIANTS:
    _text = {key: getattr(SweepConfig(name="text"), key) for key in VARIANTS[_name][1]}
    preset(SweepConfig(name=f"authors-minus-{_name}", **VARIANT_BASE, **{**AUTHORS_REFERENCE, **_text}),
           "the authors' code", f"the authors' configuration but for one choice, the text's instead: {VARIANTS[_name][0]}")
preset(SweepConfig(name="random-masks", architectures=("standard",), metrics=("weight_mask",), random_masks=True),
       "the paper", "claim (f): masks on the trained standard models against the same models untrained")
# The paper's rule for q: as high as possible while M(n, n) = 1 at k = 1. Each candidate q on the
# sparsest models (modlib.analysis.masks.calibrated_q picks), then the paper sweep's masks at the q it picks.
MASK_Q_CANDIDATES = (0.0025, 0.005, 0.01, 0.02, 0.03, 0.05)
for _q in MASK_Q_CANDIDATES:
    preset(SweepConfig(name=f"mask-q-{_q:g}", k_values=(1,), architectures=("standard",), metrics=("weight_mask",),
                       mask_fraction=_q),
           "the metric's choices", f"the paper's rule for q: masks keeping {_q:g} of the weights at one connection")
# No candidate meets the rule (module 0's masks for digit 0 keep module 1's weights at every q), so
# this is the candidate that comes closest (analysis.calibrated_q, checked against the stored search).
MASK_Q_CALIBRATED = 0.0025
preset(SweepConfig(name="mask-q-calibrated", architectures=("standard",), metrics=("weight_mask",),
                   mask_fraction=MASK_Q_CALIBRATED),
       "the metric's choices", "the paper sweep's masks at the q closest to the paper's rule")
# The weight mask's free choices that the paper leaves open, one at a time, on four levels and five
# seeds, against mask-reference (the paper's settings; the same models, trained on the same machine):
# how much does M depend on each?
MASK_SENSITIVITY = {"score-init-0.01": {"mask_score_init": 0.01}, "score-init-1": {"mask_score_init": 1.0},
                    "epochs-3": {"mask_epochs": 3}, "repeats-3": {"mask_repeats": 3},
                    "interconnections": {"mask_interconnections": True}}
for _name, _change in {"reference": {}, **MASK_SENSITIVITY}.items():
    _setting = ", ".join(f"{key} = {value}" for key, value in _change.items()) or "the paper's settings"
    preset(SweepConfig(name=f"mask-{_name}", k_values=(1, 22, 464, 10_000), seeds=5, architectures=("standard",),
                       metrics=("weight_mask",), **_change),
           "the metric's choices", f"the weight mask's free choices, 4 levels x 5 seeds: {_setting}")
# Which of the task's two asymmetries (modlib.task) makes module 1 the less specialised at the
# sparsest levels: the target rule, the exclusion's direction, or both (a pure relabelling of the
# modules, which should swap them)?
MODULE_CONTROLS = {"equation": {"rule": "equation"}, "mirrored": {"exclusion": "mirrored"},
                   "swapped": {"rule": "equation", "exclusion": "mirrored"}}
CONTROL_ABOUT = {"equation": "the target rule swapped", "mirrored": "the exclusion mirrored",
                 "swapped": "both, the paper's task with the modules renamed"}
for _name, _change in MODULE_CONTROLS.items():
    preset(SweepConfig(name=f"control-{_name}", k_values=(1, 3, 8), metrics=(*METRICS, "crossing"), **_change),
           "controls and variants", f"which asymmetry makes the modules differ: {CONTROL_ABOUT[_name]}")
for _name, (_label, _change) in VARIANTS.items():
    preset(SweepConfig(name=f"variant-{_name}", **VARIANT_BASE, **_change), "controls and variants",
           f"one choice of the authors' code alone, 4 levels x 3 seeds: {_label}")


def base_config(name: str, results: str | Path = "results") -> SweepConfig:
    """Preset ``name``, or else the sweep stored in ``results/<name>`` (its ``config.json``): a
    sweep run with your own settings resumes by its name alone, and new sweeps can start from it."""
    if name in PRESETS:
        return PRESETS[name]
    stored = Path(results) / name / "config.json"
    if not stored.exists():
        raise ValueError(f"unknown preset {name!r}, and no sweep stored at {stored}; choose one of "
                         f"{', '.join(PRESETS)}, or a sweep you ran (its --name)")
    return replace(SweepConfig.from_dict(json.loads(stored.read_text())), name=name)


def config_with_overrides(preset: str | SweepConfig, results: str | Path = "results", **overrides) -> SweepConfig:
    """A preset (or a sweep stored in ``results``, `base_config`; or a config already looked up)
    with some fields replaced; unknown presets and fields raise a clear error."""
    names = {f.name for f in fields(SweepConfig)}
    unknown = set(overrides) - names
    if unknown:
        raise ValueError(f"unknown sweep setting(s) {sorted(unknown)}; valid: {sorted(names)}")
    base = preset if isinstance(preset, SweepConfig) else base_config(preset, results)
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})



def reproduced_sweeps() -> list[str]:
    """The stored sweeps that `reproduce` (``make reproduce``) recomputes: every preset but the
    quick ``smoke`` one and the GPU's, which needs a GPU."""
    return [name for name, cfg in PRESETS.items() if name != "smoke" and cfg.device == "cpu"]
