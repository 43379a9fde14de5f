import numpy as np
import pandas as pd

from modlib.sweep import COLUMNS


def spec_table(spec_by_level: dict[float, list[float]], metric: str = "correlation") -> pd.DataFrame:
    """Sweep rows whose per-model specialization is the given value per seed (own = 1 + s,
    other = 1 - s in both modules)."""
    rows = []
    for p, specs in spec_by_level.items():
        for seed, s in enumerate(specs):
            for module in (0, 1):
                for subtask in (0, 1):
                    value = 1 + s if module == subtask else 1 - s
                    rows.append(dict(architecture="standard", n_hidden=100, k=round(p * 10_000), p=p, q=0.0,
                                     seed=seed, metric=metric, module=module, subtask=subtask, value=value))
    return pd.DataFrame(rows)


LEVELS = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]


PAPER_LEVELS = [1e-4, 3e-4, 8e-4, 2.2e-3, 6e-3, 1.67e-2, 4.64e-2, 0.129, 0.359, 1.0]


def noiseless(curve, levels=PAPER_LEVELS, metric="correlation", seeds=4) -> pd.DataFrame:
    return spec_table({p: [s] * seeds for p, s in zip(levels, curve)}, metric)


def curve_table(epochs=3):
    """Two architectures x two levels x two seeds; test accuracy after epoch e is 0.1 * e + 0.01 * seed."""
    rows = []
    for arch in ("standard", "bottleneck"):
        for k in (1, 100):
            for seed in (0, 1):
                base = dict(architecture=arch, n_hidden=10, k=k, p=k / 100, q=0.0, seed=seed, job=f"{arch}-{k}-{seed}")
                for e in range(1, epochs + 1):
                    rows.append(dict(base, metric="epoch_test_accuracy", epoch=e, value=0.1 * e + 0.01 * seed))
                    rows.append(dict(base, metric="epoch_train_accuracy", epoch=e, value=0.5))
                rows.append(dict(base, metric="accuracy", value=0.1 * epochs + 0.01 * seed))
    return pd.DataFrame(rows, columns=COLUMNS)


def decision_rows(shares: dict[int, tuple[float, float, float]], levels=(1e-4, 1.0)) -> pd.DataFrame:
    """A sweep's decision_share rows: per seed, module 0's share of all pairs, of the pairs whose
    answer is digit 0, and of those whose answer is digit 1 (module 1's are the rest)."""
    rows = []
    for p in levels:
        for seed, (overall, answer0, answer1) in shares.items():
            base = dict(architecture="standard", n_hidden=100, k=round(p * 10_000), p=p, q=0.0, seed=seed,
                        metric="decision_share")
            for module in (0, 1):
                flip = (lambda v: v) if module == 0 else (lambda v: 1 - v)
                rows.append(dict(base, module=module, subtask=np.nan, value=flip(overall)))
                rows += [dict(base, module=module, subtask=t, value=flip(v)) for t, v in enumerate((answer0, answer1))]
    return pd.DataFrame(rows)


def with_accuracy(table: pd.DataFrame, accuracy: float) -> pd.DataFrame:
    models = table.drop_duplicates(["p", "seed"]).assign(metric="accuracy", module=np.nan, subtask=np.nan,
                                                         value=accuracy)
    return pd.concat([table, models], ignore_index=True)


FOUR_LEVELS = [1e-4, 2.2e-3, 4.64e-2, 1.0]


def step_rows(values: dict[int, float], metric: str = "step_probe", p: float = 1e-4, seeds: int = 2) -> pd.DataFrame:
    """Per-step rows whose tables are own = a, other = b for both modules: values[step] = (a, b)."""
    rows = [dict(architecture="standard", n_hidden=100, k=round(p * 10_000), p=p, q=0.0, seed=seed, metric=metric,
                 module=n, subtask=t, step=step, value=own if n == t else other)
            for step, (own, other) in values.items() for seed in range(seeds) for n in (0, 1) for t in (0, 1)]
    return pd.DataFrame(rows, columns=COLUMNS)


def size_table(n: int, onset_k: float, seeds: int = 2) -> pd.DataFrame:
    """A sweep at module size n whose correlation specialization is 1 at k <= onset_k and 0 above."""
    ks = np.unique(np.round(np.geomspace(1, n * n, 40)).astype(int))
    table = spec_table({k / n ** 2: [1.0 if k <= onset_k else 0.0] * seeds for k in ks})
    return table.assign(n_hidden=n, k=(table["p"] * n * n).round().astype(int))
