import pandas as pd
import pytest

from modlib.analysis.masks import calibrated_q, mask_q_search, mask_sensitivity
from tests.analysis_helpers import noiseless


def mask_rows(own: dict[int, list[float]], accuracy: float = 0.5) -> pd.DataFrame:
    """Weight-mask rows of k = 1 models: M(n, n) per module and seed, M(n, 1 - n) the rest."""
    rows = []
    for module, values in own.items():
        for seed, value in enumerate(values):
            base = dict(architecture="standard", k=1, p=1e-4, seed=seed)
            rows += [dict(base, metric="weight_mask", module=module, subtask=module, value=value),
                     dict(base, metric="weight_mask", module=1 - module, subtask=module, value=1 - value),
                     dict(base, metric="mask_accuracy", subtask=module, value=accuracy)]
    return pd.DataFrame(rows)


def test_q_is_calibrated_as_the_largest_whose_masks_keep_only_their_own_module():
    search = mask_q_search({0.01: mask_rows({0: [1.0, 1.0], 1: [1.0, 1.0]}),
                            0.02: mask_rows({0: [1.0, 1.0], 1: [1.0, 0.99]}),
                            0.005: mask_rows({0: [1.0, 1.0], 1: [1.0, 1.0]}, accuracy=0.3)})
    assert list(search.index) == [0.005, 0.01, 0.02]
    assert search.loc[0.02, "M(1,1) lowest"] == 0.99 and search.loc[0.02, "M(1,1) mean"] == pytest.approx(0.995)
    assert search.loc[0.005, "mask accuracy"] == 0.3
    assert calibrated_q(search) == (0.01, True)
    assert calibrated_q(search, threshold=0.99) == (0.02, True)
    never = mask_q_search({0.01: mask_rows({0: [0.7, 0.7], 1: [1.0, 1.0]}),
                           0.02: mask_rows({0: [0.6, 0.8], 1: [0.9, 0.9]}),
                           0.05: mask_rows({0: [0.6, 0.6], 1: [1.0, 1.0]})})
    assert calibrated_q(never) == (0.01, False)  # module 0's mean M(0, 0) is highest there


def test_mask_sensitivity_pairs_each_setting_with_the_same_models():
    reference = noiseless([0.8, 0.1], levels=[1e-4, 1.0], metric="weight_mask")
    setting = noiseless([0.6, 0.1], levels=[1e-4, 1.0], metric="weight_mask", seeds=2)
    table = mask_sensitivity(reference, {"other": setting})
    row = table.loc[("other", 1)]
    assert row["module 0 reference"] == pytest.approx(0.8) and row["module 1 setting"] == pytest.approx(0.6)
    assert row["difference"] == pytest.approx(-0.2) and (row["higher"], row["models"]) == (0, 2)


def test_the_calibrated_q_preset_is_what_the_stored_search_gives():
    from modlib.sweep import BOOK_RESULTS, MASK_Q_CALIBRATED, MASK_Q_CANDIDATES, PRESETS, load_results

    search = mask_q_search({q: load_results(f"mask-q-{q:g}", BOOK_RESULTS) for q in MASK_Q_CANDIDATES})
    assert calibrated_q(search) == (MASK_Q_CALIBRATED, False)
    assert PRESETS["mask-q-calibrated"].mask_fraction == MASK_Q_CALIBRATED
