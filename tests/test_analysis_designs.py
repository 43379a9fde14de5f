import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.analysis_helpers import decision_rows, size_table, spec_table


def test_phase_onsets_say_which_reading_of_the_onset_holds_across_module_sizes():
    from modlib.analysis.designs import onset_spread, phase_frame, size_onsets

    tables = [size_table(n, onset_k=2 * n) for n in (10, 25, 50)]  # the rise starts at k = 2N: a fixed k / N
    phase = phase_frame(tables)
    assert set(phase.index.get_level_values("n_hidden")) == {10, 25, 50}
    assert phase.loc[(10, 0.01, "correlation"), "mean"] == 1.0
    onsets = size_onsets(phase).xs("mean", level="column").loc["correlation"]
    k_per_n = onsets["onset_k_per_n"]
    assert (k_per_n <= 2).all() and (onsets["onset_k"] == onsets["onset_p"] * onsets.index.to_numpy() ** 2).all()
    spread = onset_spread(size_onsets(phase)).loc[("correlation", "mean")]
    assert spread["k / N"] < spread["p"] and spread["k / N"] < spread["k"]


def test_scarcity_agrees_only_where_both_fewer_units_and_fewer_connections_raise_specialization():
    from modlib.analysis.designs import scarcity_findings

    def sized(n, sparse, dense):  # five seeds around the given specialization at one connection and at p = 1
        table = spec_table({1 / n ** 2: [sparse + 0.01 * s for s in range(5)],
                            1.0: [dense + 0.01 * s for s in range(5)]})
        return table.assign(n_hidden=n, k=(table["p"] * n * n).round().astype(int))

    both = scarcity_findings({10: sized(10, 0.8, 0.1), 100: sized(100, 0.4, 0.1)})
    assert (both["verdict"] == "agrees").all() and set(both["column"]) == {"module 0", "module 1", "mean"}
    connections_only = scarcity_findings({10: sized(10, 0.4, 0.1), 100: sized(100, 0.4, 0.1)})
    assert (connections_only["verdict"] == "partly").all()
    neither = scarcity_findings({10: sized(10, 0.1, 0.1), 100: sized(100, 0.4, 0.1)})
    assert (neither["verdict"] == "does not").all()


def test_the_readout_finding_needs_more_specialization_and_less_dominance_with_one_shared_readout():
    from modlib.analysis.decisions import dominance
    from modlib.analysis.designs import design_decisions, readout_findings

    def design(spec, share):
        table = spec_table({p: [spec + 0.01 * s for s in range(5)] for p in (1e-4, 1.0)})
        return pd.concat([table, decision_rows({s: (share + 0.01 * s, 0.5, 0.5) for s in range(5)})])

    separate, shared = design(0.3, 0.9), design(0.6, 0.45)
    assert dominance(separate).round(2).tolist() == [0.9, 0.91, 0.92, 0.93, 0.94] * 2
    assert dominance(shared).min() >= 0.5  # whichever module decides more
    findings = readout_findings({"separate": separate, "shared": shared})
    assert (findings["verdict"] == "agrees").all()
    assert (readout_findings({"separate": separate, "shared": design(0.3, 0.45)})["verdict"]
            == "partly").all()  # as dominated as before is not enough
    decisions = design_decisions({"separate": separate, "shared": shared})
    assert decisions.loc[("shared", "standard", 1), "module 0 decides"] == pytest.approx(0.47)


def test_design_ends_are_each_designs_mean_at_one_connection_and_at_p_1():
    from modlib.analysis.designs import design_ends

    ends = design_ends({"a": spec_table({1e-4: [0.8, 0.6], 1.0: [0.1, 0.1]}), "b": spec_table({1e-4: [0.2, 0.2]})})
    assert ends.loc[("correlation", "mean"), ("a", "one connection")] == pytest.approx(0.7)
    assert ends.loc[("correlation", "module 1"), ("a", "p = 1")] == pytest.approx(0.1)
    assert ends.loc[("correlation", "module 0"), ("b", "p = 1")] == pytest.approx(0.2)  # one level: both ends


def test_ends_against_a_baseline_are_each_designs_ends_minus_the_baselines_with_an_interval():
    from modlib.analysis.designs import ends_against, ends_against_table

    tables = {"a": spec_table({1e-4: [0.8, 0.6], 1.0: [0.1, 0.1]}),
              "b": spec_table({1e-4: [0.2, 0.2], 1.0: [0.4, 0.0]}),
              "c": spec_table({1e-4: [0.5, 0.5], 1.0: [0.9, 0.1]})}
    against = ends_against(tables, "b")
    assert list(against.index.unique("design")) == ["a", "c"]  # the baseline is left out
    assert against.loc[("a", "one connection", "correlation", "mean"), "value"] == pytest.approx(0.7 - 0.2)
    row = against.loc[("c", "p = 1", "correlation", "module 0")]
    assert row["value"] == pytest.approx(0.5 - 0.2)  # the baseline's seeds: 0.4 and 0.0
    assert row["low"] < 0 < row["value"] < row["high"]  # seeds this spread: the interval reaches below zero
    row = against.loc[("a", "one connection", "correlation", "module 1")]
    welch = stats.ttest_ind([0.8, 0.6], [0.2, 0.2], equal_var=False).confidence_interval(0.95)
    assert (row["low"], row["high"]) == pytest.approx((welch.low, welch.high))  # two seeds a side: one degree
    table = ends_against_table(against)
    assert table.loc[("correlation", "module 1"), ("a", "one connection")] == "+0.50 [-0.77, +1.77]"
    assert table.loc[("correlation", "module 0"), ("c", "p = 1")].endswith("]")  # no asterisk: reaches below zero


def test_differences_by_measure_leave_a_measure_the_other_side_lacks_undecided():
    from modlib.analysis.designs import differences_by_measure, model_specs

    ours = model_specs(pd.concat([spec_table({1.0: [0.6, 0.8]}), spec_table({1.0: [0.6, 0.8]}, metric="cka")]))
    theirs = model_specs(spec_table({1.0: [0.2, 0.2]}))  # correlation only
    differences = differences_by_measure(ours, theirs)
    assert differences[("correlation", "mean")][0] == pytest.approx(0.7 - 0.2)
    assert np.isnan(differences[("cka", "mean")]).all()  # nothing to compare with: no difference, no interval


def test_design_tables_read_each_designs_sweep_with_the_design_seeds_only(tmp_path):
    from modlib.analysis.designs import DESIGN_SEEDS, DESIGN_SWEEPS, design_tables

    for design, name in DESIGN_SWEEPS["size"].items():
        (tmp_path / name).mkdir()
        spec_table({1e-4: [0.5] * 10}).assign(n_hidden=design).to_csv(tmp_path / name / "results.csv", index=False)
    tables = design_tables("size", tmp_path)
    assert sorted(tables) == [10, 25, 50, 100]
    assert all(set(table["seed"]) == set(range(DESIGN_SEEDS)) for table in tables.values())  # ten seeds stored
    assert tables[25]["n_hidden"].eq(25).all()
    (tmp_path / "size-25" / "results.csv").unlink()
    with pytest.raises(FileNotFoundError, match="size-25"):
        design_tables("size", tmp_path)


def test_design_difference_is_how_much_more_specialised_a_design_is_on_average():
    from modlib.analysis.designs import design_difference

    tables = {"a": spec_table({1e-4: [0.8, 0.6], 1.0: [0.2, 0.2]}),
              "b": spec_table({1e-4: [0.4, 0.4], 1.0: [0.0, 0.2]})}
    difference = design_difference(tables, "a", "b")
    assert difference[("correlation", "mean")] == pytest.approx(0.45 - 0.25)
    assert design_difference(tables, "b", "a")[("correlation", "module 0")] == pytest.approx(-0.2)


def test_seed_mean_differences_are_welchs_over_each_seeds_mean_over_the_levels():
    from modlib.analysis.designs import seed_mean_differences

    tables = {"a": spec_table({1e-4: [0.8, 0.6, 0.7], 1.0: [0.2, 0.0, 0.1]}),  # seed means 0.5, 0.3, 0.4
              "b": spec_table({1e-4: [0.3, 0.2, 0.4], 1.0: [0.1, 0.0, 0.0]})}  # seed means 0.2, 0.1, 0.2
    welch = stats.ttest_ind([0.5, 0.3, 0.4], [0.2, 0.1, 0.2], equal_var=False).confidence_interval(0.95)
    difference = seed_mean_differences(tables, "a", "b")[("correlation", "module 0")]
    assert difference == pytest.approx((0.4 - 0.5 / 3, welch.low, welch.high))
