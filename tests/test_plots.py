import matplotlib
import numpy as np
import pandas as pd
import pytest

from modlib.plots import accuracy_figure, learning_curve_figure
from tests.analysis_helpers import curve_table

matplotlib.use("Agg")


def test_learning_curve_figure_draws_a_line_per_level_and_architecture():
    fig = learning_curve_figure(curve_table())
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["bottleneck architecture", "standard architecture"]
    for ax in axes:
        levels = [line for line in ax.lines if line.get_label().startswith("k = ")]
        assert len(levels) == 2
        assert list(levels[0].get_xdata()) == [1, 2, 3]


def test_accuracy_figure_has_a_band_per_architecture():
    fig = accuracy_figure(curve_table())
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert "standard architecture" in labels and "bottleneck architecture" in labels


def test_figures_of_a_sweep_without_metrics_leave_out_the_specialization_ones(tmp_path):
    from modlib.plots import write_figures

    (tmp_path / "curves").mkdir()
    curve_table().to_csv(tmp_path / "curves" / "results.csv", index=False)
    written = {path.name for path in write_figures("curves", tmp_path)}
    assert written == {f"{name}.{ext}" for name in ("accuracy", "learning_curves") for ext in ("png", "svg")}


def test_the_main_figure_needs_one_of_its_three_measures_not_just_cka(tmp_path):
    from modlib.plots import write_figures

    table = curve_table()
    cka = table[table["metric"] == "accuracy"].assign(metric="cka", module=0, subtask=0, value=0.5)
    (tmp_path / "cka").mkdir()
    pd.concat([table, cka]).to_csv(tmp_path / "cka" / "results.csv", index=False)
    written = {path.stem for path in write_figures("cka", tmp_path)}
    assert written == {"accuracy", "learning_curves", "raw_metrics"}


def test_modulus_figure_draws_a_line_per_modulus_in_each_measures_panel():
    from modlib.plots import modulus_figure
    from tests.analysis_helpers import spec_table

    levels = {1e-4: [1.0, 0.8], 1.0: [0.0, 0.1]}
    tables = {m: pd.concat([spec_table(levels, "correlation"), spec_table(levels, "weight_mask"), curve_table()])
              for m in (2, 10)}
    fig = modulus_figure(tables)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["weight mask", "correlation", "test accuracy (mean over seeds)"]
    assert [line.get_label() for line in fig.axes[0].lines if line.get_label().startswith("m =")] == \
        ["m = 2 (1.0 bits)", "m = 10 (3.3 bits)"]
    assert len(fig.axes[-1].lines) == 2 * 2 + 1  # both architectures per modulus, and the 0.90 line
    from modlib.plots import sweeps_figure

    named = sweeps_figure({"separate": tables[2], "shared": tables[10]}, "readout")
    assert named.axes[0].get_legend().get_title().get_text() == "readout"
    assert [t.get_text() for t in named.axes[0].get_legend().get_texts()] == ["separate", "shared"]


def test_numbers_are_glued_as_plain_floats_under_their_prefixed_names(monkeypatch):
    import myst_nb

    from modlib.plots import glue_numbers

    glued = []
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: glued.append((name, value, display)))
    glue_numbers({"onset": np.float64(0.0167), "models": 200}, prefix="thirty_")
    assert glued == [("thirty_onset", 0.0167, False), ("thirty_models", 200.0, False)]
    assert all(type(value) is float for _, value, _ in glued)  # numpy's repr would not paste


def test_rewiring_figure_plots_both_directions_of_a_log_against_the_step():
    from types import SimpleNamespace

    from modlib.plots import rewiring_figure

    log = SimpleNamespace(counts=[[3, 3]] * 4, still_first=[[1.0, 1.0], [1.0, 2 / 3], [1 / 3, 2 / 3], [1 / 3, 1.0]])
    count_axis, share_axis = rewiring_figure(log, k=3).axes
    assert [list(line.get_ydata()) for line in count_axis.lines] == [[3] * 4, [3] * 4]
    assert list(share_axis.lines[1].get_xdata()) == [1, 2, 3, 4]
    assert list(share_axis.lines[1].get_ydata()) == pytest.approx([100, 200 / 3, 200 / 3, 100])


def test_module_figure_draws_both_modules_of_each_sweep_per_measure():
    from modlib.plots import module_figure
    from tests.analysis_helpers import noiseless

    table = pd.concat([noiseless([1.0, 0.0], levels=[1e-4, 1.0]),
                       noiseless([0.5, 0.0], levels=[1e-4, 1.0], metric="weight_mask")])
    fig = module_figure(table, {"paper": table, "control": table})
    assert [ax.get_title() for ax in fig.axes] == ["weight mask", "correlation"]
    labels = [line.get_label() for line in fig.axes[0].lines if not line.get_label().startswith("_")]
    assert labels == ["paper module 0", "paper module 1", "control module 0", "control module 1"]
    assert list(fig.axes[0].lines[0].get_ydata()) == [0.5, 0.0]


def test_the_main_figure_marks_the_papers_thresholds():
    from modlib.plots import main_figure
    from tests.analysis_helpers import spec_table

    fig = main_figure(spec_table({0.001: [0.5, 0.4], 0.1: [0.2, 0.1], 1.0: [0.0, 0.1]}))
    ax_p, ax_q = fig.axes[:2]
    dotted = lambda ax: sorted(line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == ":")
    assert dotted(ax_p) == [0.01, 0.11] and dotted(ax_q) == [0.35]
    labels = {text.get_text() for ax in (ax_p, ax_q) for text in ax.texts}
    assert labels == {"p = 0.01 (b)", "p = 0.11 (c)", "Q = 0.35 (d)"}


def test_the_decider_share_figure_draws_each_sweep_in_each_panel():
    from modlib.plots import decider_share_figure
    from tests.analysis_helpers import decision_rows

    fig = decider_share_figure({"a": decision_rows({0: (0.3, 0.4, 0.2), 1: (0.5, 0.9, 0.1)}),
                                "b": decision_rows({0: (0.6, 0.7, 0.5)})})
    assert [ax.get_title() for ax in fig.axes] == ["module 0 decides", "module 0 answers for module 1",
                                                   "module 1 answers for module 0"]
    for ax in fig.axes:
        assert [line.get_label() for line in ax.lines] == ["a, standard", "b, standard"]
    assert list(fig.axes[0].lines[1].get_ydata()) == pytest.approx([0.6, 0.6])


def test_the_decision_curve_figure_draws_module_0s_share_per_level_and_epoch():
    from modlib.plots import decision_curve_figure

    rows = [dict(architecture="standard", k=k, p=k / 1e4, seed=0, metric="epoch_decision_share", module=n, epoch=e,
                 value=share if n == 0 else 1 - share)
            for k, share in ((1, 0.2), (100, 0.6)) for e in (1, 2) for n in (0, 1)]
    fig = decision_curve_figure(pd.DataFrame(rows))
    lines = [line for line in fig.axes[0].lines if line.get_label().startswith("k = ")]
    assert [list(line.get_ydata()) for line in lines] == [[0.2, 0.2], [0.6, 0.6]]


def test_the_asymmetry_figure_puts_a_point_per_model_and_a_colour_per_sweep():
    from modlib.plots import asymmetry_figure

    frames = {"a": pd.DataFrame({"module 0 decides": [0.2, 0.4], "difference": [0.5, 0.1]}),
              "b": pd.DataFrame({"module 0 decides": [0.7], "difference": [-0.2]})}
    ax = asymmetry_figure(frames, "weight_mask").axes[0]
    assert [c.get_label() for c in ax.collections] == ["a", "b"]
    assert ax.collections[0].get_offsets().tolist() == [[0.2, 0.5], [0.4, 0.1]]


def test_the_both_ways_figure_draws_each_direction_per_quantity_and_level():
    from modlib.analysis.choices import both_ways_effects
    from modlib.plots import both_ways_figure
    from tests.analysis_helpers import FOUR_LEVELS, spec_table, with_accuracy

    table = with_accuracy(spec_table({p: [0.1, 0.3, 0.5] for p in FOUR_LEVELS}), 0.9)
    tables = {name: table for name in ("variant-text", "variant-before", "authors-reference", "authors-minus-before",
                                       "variant-adam")}
    fig = both_ways_figure(both_ways_effects(tables))
    assert len(fig.axes) == 2 * 3  # k = 1 and p = 1; module 0, module 1, accuracy
    assert fig.axes[0].get_title() == "correlation, module 0\nat p = 0.0001"
    first = fig.axes[0]
    assert [c.get_label() for c in first.containers] == ["added to the text", "taken from the authors'"]
    assert [t.get_text() for t in first.get_yticklabels()] == ["message enters before W_hh", "Adam 1e-3, x0.9 per epoch"]


def test_the_step_figure_draws_a_line_per_level_for_each_condition_and_module():
    from modlib.analysis.frames import step_frame
    from modlib.plots import step_figure
    from tests.analysis_helpers import step_rows

    table = pd.concat([step_rows({1: (0.9, 0.1), 2: (0.5, 0.3)}, p=p) for p in (1e-4, 1.0)])
    fig = step_figure({"static": step_frame(table), "noisy": step_frame(table)}, "step_probe")
    assert len(fig.axes) == 4 and fig.axes[1].get_title() == "noisy: module 0"
    lines = fig.axes[0].lines
    assert [line.get_label() for line in lines] == ["p = 0.0001", "p = 1"]
    assert list(lines[0].get_xdata()) == [1, 2] and np.allclose(lines[0].get_ydata(), [0.8, 0.25])
    both = pd.concat([table, table.assign(metric="step_ablation", value=table["value"] / 2)])
    fig = step_figure({"probe": step_frame(both), "ablation": step_frame(both)},
                      {"probe": "step_probe", "ablation": "step_ablation"})  # a column per measure of one sweep
    assert fig.axes[1].get_title() == "ablation: module 0" and fig.axes[0].get_ylabel() == "specialization"
    assert np.allclose(fig.axes[1].lines[0].get_ydata(), [0.8, 0.25])  # the formula is a ratio: halving changes nothing


def test_the_phase_figure_draws_a_row_per_module_size_for_each_measure():
    from modlib.analysis.designs import phase_frame
    from modlib.plots import phase_figure
    from tests.analysis_helpers import size_table

    fig = phase_figure(phase_frame([size_table(n, onset_k=2 * n) for n in (10, 25)]))
    heat = fig.axes[0]
    assert heat.get_title() == "correlation (mean)" and len(heat.collections) == 2
    assert [t.get_text() for t in heat.get_yticklabels()] == ["N = 10", "N = 25"]
    assert heat.collections[0].get_array().max() == 1.0


def test_the_trial_figure_shows_each_module_at_each_step_per_condition():
    import torch

    from modlib.plots import trial_figure
    from modlib.trial import Trial

    x = torch.rand(16, 2, 784)
    trials = {name: trial.present(x, 4, torch.Generator().manual_seed(0))[:, 0] if not trial.static
              else x[0].expand(4, 2, 784) for name, trial in
              {"static": Trial(), "noise 0.4": Trial(noise=0.4), "random onsets": Trial(onsets="random")}.items()}
    fig = trial_figure(trials)
    assert len(fig.axes) == 6 * 4 and fig.axes[0].get_title() == "t = 1"
    assert fig.axes[4].get_ylabel() == "static\nmodule 1"
    assert np.array_equal(fig.axes[0].images[0].get_array(), x[0, 0].reshape(28, 28).numpy())
