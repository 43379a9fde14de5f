import pandas as pd
import pytest

from modlib.analysis.decisions import module_difference
from tests.analysis_helpers import decision_rows, noiseless, spec_table


def test_module_difference_pools_the_sparsest_levels_per_sweep():
    table = noiseless([1.0, 0.5, 0.0], levels=[1e-4, 3e-4, 1.0])
    table.loc[(table.module == 1) & (table.subtask == 0), "value"] = 1.0  # module 1 no longer specialised
    row = module_difference({"paper": table}, ks=(1, 3)).loc[("paper", "correlation")]
    assert (row["models"], row["seeds"]) == (8, 4) and row["module 0"] == pytest.approx(0.75)
    assert row["difference"] == pytest.approx(row["module 0"] - row["module 1"])
    assert row["difference"] == pytest.approx(((1 - 1 / 3) + (0.5 - 0.2)) / 2)  # module 1: (1 + s - 1) / (1 + s + 1)
    assert row["low"] == row["high"] == pytest.approx(row["difference"])  # every seed alike: no spread to resample


def test_the_decision_frame_says_how_often_each_module_answers_for_the_other():
    from modlib.analysis.decisions import decision_frame

    frame = decision_frame(decision_rows({0: (0.3, 0.4, 0.2), 1: (0.5, 0.9, 0.1)}))
    seed0 = frame[(frame["seed"] == 0) & (frame["p"] == 1e-4)].iloc[0]
    assert seed0["module 0 decides"] == pytest.approx(0.3)
    assert seed0["module 0 answers for module 1"] == pytest.approx(0.2)  # pairs whose answer is digit 1
    assert seed0["module 1 answers for module 0"] == pytest.approx(0.6)  # 1 - 0.4 of digit 0's pairs
    assert len(frame) == 2 * 2
    with pytest.raises(ValueError, match="no decision shares"):
        decision_frame(spec_table({1e-4: [0.1]}))


def test_who_decides_is_read_from_either_kind_of_row_and_joined_to_the_module_difference():
    from modlib.analysis.decisions import asymmetry_and_decisions, module0_share
    from modlib.analysis.stats import seed_rank_correlation

    specs = {1e-4: [0.1, 0.2, 0.3, 0.4]}
    table = spec_table(specs)
    table.loc[table.module == 1, "value"] = 1.0  # module 1 not specialised: the difference is module 0's
    shares = [0.9, 0.7, 0.5, 0.3]  # module 0 decides less where it is more specialised
    decides = pd.DataFrame([dict(architecture="standard", k=1, seed=s, metric="decides", module=0, subtask=p,
                                 value=share + (0.05 if p else -0.05))
                            for s, share in enumerate(shares) for p in (0, 1)])
    assert module0_share(decides).tolist() == pytest.approx(shares)  # old sweeps: the mean over the parities
    frame = asymmetry_and_decisions(pd.concat([table, decides]), "correlation", (1,))
    assert frame["difference"].tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4])
    rho, low, high = seed_rank_correlation(frame, "difference", "module 0 decides")
    assert rho == pytest.approx(-1.0) and low <= -0.99 and high <= -0.99
    with pytest.raises(ValueError, match="which module decides"):
        module0_share(table)
