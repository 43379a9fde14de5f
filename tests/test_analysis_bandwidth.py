import pandas as pd
import pytest

from modlib.analysis.bandwidth import compare_moduli, moduli_accuracy, moduli_levels, modulus_tables
from tests.analysis_helpers import LEVELS, spec_table


def test_moduli_are_compared_by_onset_and_accuracy(tmp_path):
    paper = spec_table({p: [s] * 3 for p, s in zip(LEVELS, [1.0, 0.5, 0.2, 0.0, 0.0])})
    wider = spec_table({p: [s] * 3 for p, s in zip(LEVELS, [1.0, 0.9, 0.5, 0.0, 0.0])})
    accuracy = lambda value: pd.DataFrame([dict(architecture="standard", k=1, p=1e-4, seed=0, metric="accuracy",
                                                value=value)])
    for name, table in (("paper", pd.concat([paper, accuracy(0.8)])), ("modulus-10", wider)):
        (tmp_path / name).mkdir()
        table.to_csv(tmp_path / name / "results.csv", index=False)
    tables = modulus_tables(tmp_path)
    assert sorted(tables) == [2, 10]
    with pytest.raises(FileNotFoundError, match="modulus-2-long, modulus-10-long"):
        modulus_tables(tmp_path, long=True)  # the 15-epoch sweeps are others
    compared = compare_moduli(tables)
    assert compared.loc[("correlation", 2), "onset_p"] == 1e-3
    assert compared.loc[("correlation", 10), "onset_p"] == 1e-2
    assert compared.loc[("correlation", 10), "bits"] == pytest.approx(3.32, abs=0.01)
    assert moduli_accuracy(tables).loc[("standard", 2), 1] == 0.8
    levels = moduli_levels(tables)
    sparsest = levels.loc[("correlation", 1e-4)]
    assert sparsest[(2, "mean")] == sparsest[(2, "low")] == sparsest[(2, "high")]  # no seed noise
    assert list(levels.columns.get_level_values(0).unique()) == [2, 10]
    labelled = moduli_levels(tables, p_labels=True)
    assert labelled.loc[("correlation", "0.0001")].equals(sparsest)  # the same rows, p as printed
    (tmp_path / "modulus-10" / "results.csv").unlink()
    with pytest.raises(FileNotFoundError, match="fewer than two moduli stored"):
        modulus_tables(tmp_path)
