"""What a sweep is: its settings (`SweepConfig`) and its jobs, one model per (architecture, k, seed)."""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, fields

import numpy as np

from modlib.metrics import MASK_OPTIONS, METRICS, check_mask_options, metric_options
from modlib.model import ModelConfig, require, require_whole_numbers, whole_number
from modlib.native import check_engine
from modlib.train import TrainConfig
from modlib.trial import check_trial

ARCHITECTURES = ("standard", "bottleneck")
BOTTLENECK_WIDTH = 5
GRIDS = ("paper", "authors")
# What a sweep can measure: the metrics, what crosses (modlib.crossing), and every per-step measure
# (modlib.timecourse: the bottleneck readouts, correlation, CKA, probes and ablation at each step).
MEASUREMENTS = (*METRICS, "crossing", "steps")

@dataclass(frozen=True)
class SweepConfig:
    """One sweep. ``levels`` interconnection counts ``round(geomspace(1, N^2, levels))``, or
    the counts k listed in ``k_values`` when it is not empty (then ``levels`` is not used).
    The ``mask_*`` fields are the weight mask's settings (`modlib.metrics.MASK_OPTIONS`): q,
    masks averaged per sub-task, epochs, the bound of the scores' first draw, and whether the
    interconnections are scored. ``random_masks`` also trains the weight masks on each model
    as it was before training (the same seed's initial weights), for the paper's check that
    masks find more in trained networks than in random ones (claim (f)). ``ensemble`` M > 1
    trains up to M models of one architecture at a time as one computation (`modlib.ensemble`):
    on a GPU many times sooner, the same numbers to float rounding but not bit for bit, so it is
    a setting of the sweep, as the engine is. ``grid="authors"`` takes the ``levels`` from the
    authors' code instead (`connections`). The other fields are the model's (`ModelConfig`), its
    training's (`modlib.train.TrainConfig`) and the weight mask's, for every model of the sweep."""

    name: str
    n_hidden: int = 100
    levels: int = 10
    k_values: tuple[int, ...] = ()
    seeds: int = 10
    architectures: tuple[str, ...] = ARCHITECTURES
    metrics: tuple[str, ...] = METRICS
    epochs: int | None = None
    batch_size: int = 128
    train_images: int | None = None
    test_images: int | None = None
    decision: str = "max"
    message: str = "after"
    init: str = "uniform"
    rule: str = "prose"
    modulus: int = 2
    exclude: bool = True
    exclusion: str = "paper"
    balance: bool = True
    deepr_lr_range: tuple[float, float] = (0.1, 0.01)
    train_readout: bool = True
    stop_accuracy: float | None = None
    mask_fraction: float = 0.05
    mask_repeats: int = 1
    mask_epochs: int = 1
    mask_score_init: float = 0.1
    mask_interconnections: bool = False
    random_masks: bool = False
    device: str = "cpu"
    engine: str = "torch"
    rewire: bool = True
    ensemble: int = 1
    optimizer: str = "adadelta"
    lr: float | None = None
    lr_decay: float = 1.0
    normalize: bool = False
    fixed_pairs: bool = False
    keep: str = "last"
    stop_min_epochs: int = 2
    grid: str = "paper"
    mask_selection: str = "magnitude"
    n_steps: int = 5
    noise: float = 0.0
    onsets: str = "fixed"
    readout: str = "separate"
    cell: str = "rnn"

    def __post_init__(self):
        require_whole_numbers(self)
        object.__setattr__(self, "k_values", tuple(whole_number("each of k_values", k) for k in self.k_values))
        problems = [
            (self.name not in ("", ".", "..") and not {"/", "\\"} & set(self.name),
             f"a sweep's name is the folder it is written to under the results folder, so it cannot be empty, "
             f"'.', '..' or hold '/' or '\\': got {self.name!r} (e.g. --name n50; --results chooses the folder)"),
            (self.levels >= 1, f"levels must be >= 1, got {self.levels}"),
            (self.grid in GRIDS, f"grid must be one of {GRIDS}, got {self.grid!r}"),
            (self.seeds >= 1, f"seeds must be >= 1, got {self.seeds}"),
            (self.ensemble >= 1, f"ensemble must be >= 1 (models trained as one computation), got {self.ensemble}"),
            (self.ensemble == 1 or self.engine == "torch",
             f"an ensemble trains with the torch engine's step: use --engine torch, or --ensemble 1 for "
             f"{self.engine!r}"),
            (set(self.architectures) <= set(ARCHITECTURES) and self.architectures,
             f"architectures must be among {ARCHITECTURES}, got {self.architectures}"),
            (set(self.metrics) <= set(MEASUREMENTS), f"metrics must be among {MEASUREMENTS}, got {self.metrics}"),
            (self.static_trial or not {"weight_mask", "crossing"} & set(self.metrics),
             f"the weight mask and what crosses are measured on the paper's trial only (the same image at every "
             f"step): leave them out of --metrics for noise {self.noise} and {self.onsets} onsets"),
            (self.static_trial or self.ensemble == 1,
             "an ensemble shows the same image at every step: use --ensemble 1 for noise or random onsets"),
            (self.cell == "rnn" or (self.ensemble == 1 and "crossing" not in self.metrics),
             f"ensembles and what crosses (--metrics crossing) use the tanh RNN's own step: use --ensemble 1 and "
             f"leave crossing out for cell {self.cell!r}"),
        ]
        check_trial(self.noise, self.onsets, self.n_steps)  # first: a bad trial makes the metrics' check misleading
        require(problems)
        check_mask_options(**self.metric_options("weight_mask"))
        for arch in self.architectures:  # validates n_hidden, decision, message
            self.model_config(1, arch)
        for k in self.connections():  # each within 1 .. N^2
            self.model_config(k, self.architectures[0])
        self.train_config(0)
        check_engine(self.engine, self.message, self.device, self.readout, self.cell)

    @property
    def static_trial(self) -> bool:
        """The paper's trial: the same image at every step (`modlib.trial`)."""
        return self.noise == 0 and self.onsets == "fixed"

    def connections(self) -> list[int]:
        """The k of each level: ``k_values`` when given; else the paper's grid, ``levels`` counts
        ``round(geomspace(1, N^2))``; or the authors' code's (``grid="authors"``): the fractions
        ``geomspace(1/N^2, 0.999).round(4)``, times N^2 and truncated (at N = 100: 1, 2, 8, 22, 60,
        167, 463, 1291, 3590, 9990), at least 1."""
        if self.k_values:
            return sorted(set(self.k_values))
        n2 = self.n_hidden ** 2
        if self.grid == "authors":
            fractions = np.geomspace(1 / n2, 0.999, self.levels).round(4)
            return sorted(set(np.maximum(1, (fractions * n2).astype(int)).tolist()))
        return sorted(set(np.round(np.geomspace(1, n2, self.levels)).astype(int).tolist()))

    def jobs(self) -> list[tuple[str, int, int]]:
        """Every (architecture, k, seed), in a fixed order."""
        return [(a, k, s) for a in self.architectures for k in self.connections() for s in range(self.seeds)]

    def groups(self, jobs: list) -> list[list]:
        """``jobs`` in the groups trained together: one by one, or with ``ensemble`` M > 1, runs of up
        to M consecutive jobs of one architecture."""
        groups = []
        for job in jobs:
            if groups and len(groups[-1]) < self.ensemble and groups[-1][0][0] == job[0]:
                groups[-1].append(job)
            else:
                groups.append([job])
        return groups

    def model_config(self, k: int, architecture: str) -> ModelConfig:
        return ModelConfig(n_connections=k, bottleneck=BOTTLENECK_WIDTH if architecture == "bottleneck" else None,
                           **self.shared_with(ModelConfig))

    def train_config(self, seed: int) -> TrainConfig:
        return TrainConfig(seed=seed, **self.shared_with(TrainConfig))

    def metric_options(self, metric: str) -> dict:
        """Keyword arguments of ``metric``'s function that this sweep sets: for the weight mask,
        the fraction q of weights kept and how many masks to average; none for the others."""
        return metric_options(metric, {field: getattr(self, field) for field in MASK_OPTIONS})

    def shared_with(self, config_class) -> dict:
        """This sweep's value of every field it shares with ``config_class``, so that each
        setting of a sweep reaches its models without being listed twice."""
        names = {f.name for f in fields(config_class)}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in names}

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, stored: dict) -> "SweepConfig":
        """The sweep a stored ``config.json`` describes (`to_dict` in reverse; fields added
        since it was written take their defaults, `with_later_fields`)."""
        return cls(**{key: tuple(value) if isinstance(value, list) else value
                      for key, value in with_later_fields(stored).items()})

def job_id(job: tuple[str, int, int]) -> str:
    architecture, k, seed = job
    return f"{architecture}-k{k:05d}-s{seed:02d}"



def with_later_fields(stored: dict) -> dict:
    """A stored ``config.json`` with the fields added to `SweepConfig` since it was written, at
    their defaults: each new field's default keeps the old behaviour, so it is the same sweep."""
    defaults = {f.name: f.default for f in fields(SweepConfig) if f.default is not MISSING}
    return {**json.loads(json.dumps(defaults)), **stored}

