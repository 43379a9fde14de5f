"""Figures. Every function takes data or a results table and returns a matplotlib figure,
except `glue_numbers`, which hands a chapter's numbers to its prose."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator
import numpy as np
import torch

from modlib.metrics import MEASURES, METRICS
from modlib.structure import q_closed_form
from modlib.analysis.claims import FLAT_ABOVE
from modlib.analysis.decisions import ANSWERS_FOR_OTHER, decision_frame
from modlib.analysis.frames import decision_curves, learning_curves, specialization_frame
from modlib.analysis.stats import mean_interval
from modlib.sweep import load_results
from modlib.task import parity_difference, parity_target


def pair_grid(images: torch.Tensor, labels: torch.Tensor, i0: torch.Tensor, i1: torch.Tensor,
              n: int = 8):
    """The first ``n`` pairs side by side, titled with digits, parity difference and target."""
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 3.2))
    d0, d1 = labels[i0[:n]], labels[i1[:n]]
    p, target = parity_difference(d0, d1), parity_target(d0, d1)
    for j in range(n):
        for row, idx in enumerate((i0, i1)):
            ax = axes[row, j]
            ax.imshow(images[idx[j]], cmap="gray_r")
            ax.set_xticks([]), ax.set_yticks([])
        axes[0, j].set_title(f"P={int(p[j])}\ntarget {int(target[j])}", fontsize=9)
    axes[0, 0].set_ylabel("module 0")
    axes[1, 0].set_ylabel("module 1")
    fig.tight_layout()
    return fig


def trial_figure(trials: dict):
    """What each module sees at each step of one pair's trial, a pair of rows (module 0, module 1)
    per condition (``trials``: label to inputs ``[T, 2, 784]``, `modlib.trial.Trial.present`)."""
    steps = max(len(x) for x in trials.values())
    fig, axes = plt.subplots(2 * len(trials), steps, figsize=(1.2 * steps + 1.4, 2.5 * len(trials)), squeeze=False)
    for i, (label, x) in enumerate(trials.items()):
        x = x.cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        for module in (0, 1):
            row = axes[2 * i + module]
            for t, ax in enumerate(row):
                if t < len(x):
                    ax.imshow(x[t, module].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
                ax.set_xticks([]), ax.set_yticks([])
                ax.set_frame_on(t < len(x))
            row[0].set_ylabel(f"{label}\nmodule {module}", fontsize=8)
    for t, ax in enumerate(axes[0]):
        ax.set_title(f"t = {t + 1}", fontsize=9)
    fig.tight_layout()
    return fig


def combination_table(valid: np.ndarray, parity: np.ndarray):
    """The 10 x 10 digit combinations: excluded cells blank, kept cells coloured by P."""
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    shown = np.where(valid, parity, np.nan)
    ax.imshow(shown, cmap="coolwarm", vmin=-0.5, vmax=1.5)
    for (a, b), v in np.ndenumerate(shown):
        ax.text(b, a, "×" if np.isnan(v) else int(v), ha="center", va="center", fontsize=8)
    ax.set_xlabel("digit 1 ($D_1$)")
    ax.set_ylabel("digit 0 ($D_0$)")
    ax.set_xticks(range(10)), ax.set_yticks(range(10))
    ax.set_title("P for each combination (× excluded)")
    fig.tight_layout()
    return fig


# --- Figures of a sweep, from its stored table alone -------------------------------------

LABELS = {"bottleneck": "bottleneck", "weight_mask": "weight mask", "correlation": "correlation",
          "cka": "CKA (appendix)"}
COLORS = {"bottleneck": "tab:blue", "weight_mask": "tab:orange", "correlation": "tab:green", "cka": "tab:purple"}


def summary(frame, x: str, y: str):
    """Mean and 95% interval of column ``y`` for each value of ``x``."""
    rows = [(v, *mean_interval(g[y])) for v, g in frame.groupby(x)]
    return np.array(rows, dtype=float).reshape(-1, 4).T


def q_to_p(q):
    """The inverse of `modlib.structure.q_closed_form`."""
    return (1 - 2 * q) / (1 + 2 * q)


def draw_band(ax, x, mean, lo, hi, label, color):
    ax.plot(x, mean, "o-", color=color, label=label, ms=4)
    ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0)


def main_figure(table):
    """Specialization of the three measures against p (log axis, Q on top) and against Q."""
    spec = specialization_frame(table)
    fig, (ax_p, ax_q) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for metric in MEASURES:
        rows = spec[spec["metric"] == metric]
        if rows.empty:
            continue
        for ax, x in ((ax_p, "p"), (ax_q, "q")):
            draw_band(ax, *summary(rows, x, "spec"), LABELS[metric], COLORS[metric])
    ax_p.set_xscale("log")
    ax_p.set_xlabel("fraction of interconnections p (log scale)")
    ax_p.set_ylabel("specialization $\\mathcal{M}_{spec}$ (mean of both modules)")
    top = ax_p.secondary_xaxis("top", functions=(lambda p: q_closed_form(np.clip(p, 1e-12, 1)), q_to_p))
    top.set_xticks([0.4999, 0.499, 0.49, 0.4, 0.3, 0.15])
    top.xaxis.set_major_formatter(FuncFormatter(lambda q, _: f"{q:g}"))
    top.xaxis.set_minor_locator(NullLocator())
    top.set_xlabel("structural modularity Q")
    ax_q.set_xlabel("structural modularity Q")
    for ax in (ax_p, ax_q):
        ax.axhline(0, color="grey", lw=0.8)
        ax.grid(alpha=0.3)
    mark_thresholds(ax_p, ax_q)
    ax_q.legend(*ax_p.get_legend_handles_labels(), title="measure", loc="upper left")  # where no curve runs
    fig.suptitle("Functional specialization against structural modularity (mean, 95% interval over seeds)",
                 fontsize=11)
    fig.tight_layout()
    return fig


# Where the paper's claims put their lines (modlib.analysis.claims.claims): (b) a rise only below p = 0.01,
# (c) the weight mask's by p < 0.11, (d) little specialization at Q = 0.35.
PAPER_P_THRESHOLDS = {0.01: "p = 0.01 (b)", FLAT_ABOVE: "p = 0.11 (c)"}
PAPER_Q_THRESHOLD = (0.35, "Q = 0.35 (d)")


def mark_thresholds(ax_p, ax_q) -> None:
    """The paper's thresholds as dotted lines: its p in the p panel, its Q in the Q panel."""
    for p, label in PAPER_P_THRESHOLDS.items():
        ax_p.axvline(p, color="black", ls=":", lw=1)
        ax_p.annotate(label, (p, 1), xycoords=("data", "axes fraction"), xytext=(2, -10),
                      textcoords="offset points", fontsize=8, rotation=90, va="top")
    q, label = PAPER_Q_THRESHOLD
    ax_q.axvline(q, color="black", ls=":", lw=1)
    ax_q.annotate(label, (q, 1), xycoords=("data", "axes fraction"), xytext=(2, -10), textcoords="offset points",
                  fontsize=8, rotation=90, va="top")


def module_figure(table, tables: dict | None = None):
    """Each module's specialization against p (log axis), a panel per measure: module 0 solid,
    module 1 dashed (mean, 95% interval over seeds). ``tables``: several sweeps by label, one
    colour each, to compare them; else ``table`` alone."""
    tables = tables or {"": table}
    spec = {label: specialization_frame(t) for label, t in tables.items()}
    measures = [m for m in MEASURES if any((s["metric"] == m).any() for s in spec.values())]
    fig, axes = plt.subplots(1, len(measures), figsize=(4.4 * len(measures), 3.8), sharey=True, squeeze=False)
    colors = plt.get_cmap("tab10").colors
    for ax, metric in zip(axes[0], measures):
        for (label, frame), color in zip(spec.items(), colors):
            rows = frame[frame["metric"] == metric]
            for module, style in ((0, "-"), (1, "--")):
                x, mean, lo, hi = summary(rows, "p", f"spec_{module}")
                ax.plot(x, mean, style, marker="o", ms=3, color=color, label=f"{label} module {module}".strip())
                ax.fill_between(x, lo, hi, color=color, alpha=0.12, lw=0)
        ax.set_xscale("log")
        ax.set_title(LABELS[metric])
        ax.set_xlabel("fraction of interconnections p")
        ax.axhline(0, color="grey", lw=0.8)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("specialization $\\mathcal{M}_{spec}(n)$")
    axes[0, -1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def learning_curve_figure(table, curve: str = "test_accuracy"):
    """Mean accuracy after each epoch, a line per level k (colour: log p), a panel per architecture."""
    return epoch_figure(learning_curves(table, curve), f"{curve.replace('_', ' ')} (mean over seeds)", 0.9)


def decision_curve_figure(table):
    """The share of the test pairs module 0 decides after each epoch (`learning_curve_figure`'s
    layout; the dashed line is an even split)."""
    return epoch_figure(decision_curves(table), "share of pairs module 0 decides", 0.5)


def epoch_figure(curves, ylabel: str, reference: float):
    """``curves`` (rows (architecture, k), columns epoch): a line per level k (colour: log p), a
    panel per architecture, a dashed line at ``reference``."""
    architectures = curves.index.unique("architecture")
    fig, axes = plt.subplots(1, len(architectures), figsize=(5.2 * len(architectures), 3.8), sharey=True,
                             squeeze=False)
    levels = curves.index.unique("k")
    colors = plt.get_cmap("viridis")(np.linspace(0, 1, len(levels)))
    for ax, arch in zip(axes[0], architectures):
        for k, color in zip(levels, colors):
            if (arch, k) in curves.index:
                row = curves.loc[(arch, k)].dropna()
                ax.plot(row.index, row.to_numpy(), "o-", ms=3, color=color, label=f"k = {k}")
        ax.axhline(reference, color="grey", ls="--", lw=0.8)
        ax.set_title(f"{arch} architecture")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(ylabel)
    axes[0, -1].legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def decider_share_figure(tables: dict):
    """Which module decides, against p: a panel per share of `modlib.analysis.decisions.decision_frame` (all
    pairs decided by module 0; each module answering for the other), a colour per sweep in
    ``tables`` (label to table), a line style per architecture (mean, 95% interval over seeds)."""
    frames = {label: decision_frame(table) for label, table in tables.items()}
    columns = ["module 0 decides", *ANSWERS_FOR_OTHER.values()]
    fig, axes = plt.subplots(1, len(columns), figsize=(4.4 * len(columns), 3.8), sharey=True)
    colors = plt.get_cmap("tab10").colors
    for ax, column in zip(axes, columns):
        for (label, frame), color in zip(frames.items(), colors):
            for arch, style in (("standard", "-"), ("bottleneck", "--")):
                rows = frame[frame["architecture"] == arch]
                if len(rows):
                    x, mean, lo, hi = summary(rows, "p", column)
                    ax.plot(x, mean, style, marker="o", ms=3, color=color, label=f"{label}, {arch}")
                    ax.fill_between(x, lo, hi, color=color, alpha=0.12, lw=0)
        ax.set_xscale("log")
        ax.set_title(column)
        ax.set_xlabel("fraction of interconnections p")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("share of test pairs")
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def asymmetry_figure(frames: dict, measure: str):
    """How much more specialised module 0 is than module 1 (``measure``) against the share of the
    pairs module 0 decides, a point per model, a colour per sweep (``frames``: label to
    `modlib.analysis.decisions.asymmetry_and_decisions`)."""
    fig, ax = plt.subplots(figsize=(5.6, 4.0))
    for (label, frame), color in zip(frames.items(), plt.get_cmap("tab10").colors):
        ax.scatter(frame["module 0 decides"], frame["difference"], s=14, color=color, alpha=0.8, label=label)
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("share of test pairs module 0 decides")
    ax.set_ylabel(f"{LABELS[measure]}: module 0 minus module 1")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def both_ways_figure(effects, ps: tuple[float, ...] = (1e-4, 1.0)):
    """Each choice's effect (with it minus without it, 95% interval) in both directions, from
    `modlib.analysis.choices.both_ways_effects`: a row of panels per level in ``ps`` (default: k = 1 and
    p = 1), a panel per quantity (each module by each measure, then accuracy), a row per choice.
    Where the two directions agree, the choice acts the same whatever else is set."""
    quantities = sorted(q for q in effects.index.unique("quantity") if q != "accuracy") + ["accuracy"]
    choices = list(dict.fromkeys(effects.index.get_level_values("choice")))
    directions = list(dict.fromkeys(effects.index.get_level_values("direction")))
    fig, axes = plt.subplots(len(ps), len(quantities), figsize=(2.6 * len(quantities) + 2.4, 0.32 * len(choices) * len(ps)
                                                                  + 1.2), sharey=True, squeeze=False)
    y = np.arange(len(choices))
    for row, p in zip(axes, ps):
        for ax, quantity in zip(row, quantities):
            for offset, direction, color in zip((-0.15, 0.15), directions, ("tab:blue", "tab:red")):
                part = effects.xs(direction, level="direction")
                at = part[(part.index.get_level_values("quantity") == quantity)
                          & np.isclose(part.index.get_level_values("p"), p)].droplevel(["quantity", "p"])
                at = at.reindex(choices)
                ax.errorbar(at["effect"], y + offset, xerr=[at["effect"] - at["low"], at["high"] - at["effect"]],
                            fmt="o", ms=3, lw=0.8, color=color, label=direction)
            ax.axvline(0, color="grey", lw=0.8)
            ax.set_title(f"{quantity.replace('_', ' ')}\nat p = {p:g}", fontsize=9)
            ax.grid(alpha=0.3)
        row[0].set_yticks(y, choices, fontsize=8)
    axes[0, 0].invert_yaxis()
    for ax in axes[-1]:
        ax.set_xlabel("with the choice minus without")
    axes[0, -1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def step_figure(frames: dict, measure):
    """Specialization against the step of the trial: a column per entry of ``frames`` (label to
    `modlib.analysis.frames.step_frame`), a row per module, a line per level p (mean over seeds),
    darker where sparser. ``measure``: the per-step measure of every column, or a label to
    measure mapping (e.g. every measure of one sweep)."""
    measures = measure if isinstance(measure, dict) else dict.fromkeys(frames, measure)
    fig, axes = plt.subplots(2, len(frames), figsize=(3.6 * len(frames) + 1, 6), sharex=True, sharey=True,
                             squeeze=False)
    for column, (label, frame) in enumerate(frames.items()):
        rows = frame[frame["metric"] == measures[label]]
        levels = sorted(rows["p"].unique())
        colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(levels)))
        for module, ax in enumerate(axes[:, column]):
            for p, color in zip(levels, colors):
                curve = rows[rows["p"] == p].groupby("step")[f"spec_{module}"].mean()
                ax.plot(curve.index, curve.to_numpy(), marker="o", ms=3, color=color, label=f"p = {p:.2g}")
            ax.set_title(f"{label}: module {module}", fontsize=10)
            ax.grid(alpha=0.3)
        axes[-1, column].set_xlabel("step t of the trial")
    shown = {m.removeprefix("step_") for m in measures.values()}
    for ax in axes[:, 0]:
        ax.set_ylabel(f"{shown.pop() if len(shown) == 1 else ''} specialization".strip())
    axes[0, -1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def phase_figure(phase, column: str = "mean"):
    """Specialization over module size N (rows) and the fraction of interconnections p (log scale),
    a heatmap per measure, from `modlib.analysis.designs.phase_frame`'s ``column`` (a module, or their mean)."""
    metrics = [m for m in MEASURES if m in phase.index.unique("metric")]
    sizes = sorted(phase.index.unique("n_hidden"))
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 0.5 * len(sizes) + 2.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for row, n in enumerate(sizes):
            curve = phase.xs((n, metric), level=("n_hidden", "metric"))[column].sort_index()
            logs = np.log10(curve.index.to_numpy(float))
            edges = np.concatenate([[logs[0] - 0.25], (logs[1:] + logs[:-1]) / 2, [logs[-1] + 0.25]])
            mesh = ax.pcolormesh(edges, [row, row + 1], curve.to_numpy()[None, :], vmin=-0.2, vmax=1, cmap="magma")
        ax.set_yticks(np.arange(len(sizes)) + 0.5, [f"N = {n}" for n in sizes])
        ax.set_xlabel("fraction of interconnections p (log10)")
        ax.set_title(f"{LABELS[metric]} ({column})")
    fig.colorbar(mesh, ax=axes[0].tolist(), label="specialization")
    return fig


def accuracy_figure(table):
    """Test accuracy on the parity task against p, per architecture (the paper's fig. 5)."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    acc = table[table["metric"] == "accuracy"]
    for arch, color in (("standard", "tab:red"), ("bottleneck", "tab:blue")):
        rows = acc[acc["architecture"] == arch]
        if len(rows):
            draw_band(ax, *summary(rows, "p", "value"), f"{arch} architecture", color)
            ax.scatter(rows["p"], rows["value"], s=6, color=color, alpha=0.4)
    ax.set_xscale("log")
    ax.set_xlabel("fraction of interconnections p (log scale)")
    ax.set_ylabel("test accuracy (parity task)")
    ax.axhline(0.9, color="grey", ls="--", lw=0.8, label="0.90")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def raw_metrics_figure(table):
    """The raw tables M(n, k): own digit (n = k) against the other digit (n != k)."""
    metrics = [m for m in METRICS if (table["metric"] == m).any()]
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3.5), squeeze=False)
    labels = {"bottleneck": "bottleneck accuracy", "weight_mask": "fraction of mask in module",
              "correlation": "mean Pearson correlation", "cka": "CKA distance (1 - CKA)"}
    for ax, metric in zip(axes[0], metrics):
        rows = table[table["metric"] == metric].copy()
        if metric == "cka":
            rows["value"] = 1 - rows["value"]
        rows["own"] = rows["module"] == rows["subtask"]
        for own, color, label in ((True, "black", "own digit, $\\mathcal{M}(n,n)$"),
                                  (False, "tab:gray", "other digit, $\\mathcal{M}(n,1-n)$")):
            draw_band(ax, *summary(rows[rows["own"] == own], "p", "value"), label, color)
        ax.set_xscale("log")
        ax.set_title(LABELS[metric])
        ax.set_xlabel("p (log scale)")
        ax.set_ylabel(labels[metric])
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def modulus_figure(tables: dict):
    """`sweeps_figure` of sweeps by modulus m (`modlib.task`)."""
    return sweeps_figure(tables, "modulus", lambda m: f"m = {m} ({np.log2(m):.1f} bits)")


def sweeps_figure(tables: dict, title: str, label=str):
    """Specialization against p, a panel per measure and a line per sweep (``tables``: key to
    table; ``label`` names a key in the legend, titled ``title``), and test accuracy against p
    per sweep (solid: standard architecture, dashed: bottleneck)."""
    specs = {m: specialization_frame(table) for m, table in tables.items()}
    metrics = [metric for metric in MEASURES if any((s["metric"] == metric).any() for s in specs.values())]
    n_rows = (len(metrics) + 2) // 2  # two panels a row, the accuracy last
    fig, axes = plt.subplots(n_rows, 2, figsize=(10, 3.6 * n_rows), squeeze=False)
    axes = axes.ravel()
    for ax in axes[len(metrics) + 1:]:
        ax.remove()
    axes = axes[:len(metrics) + 1]
    colors = dict(zip(tables, plt.get_cmap("plasma")(np.linspace(0, 0.85, len(tables)))))
    for ax, metric in zip(axes, metrics):
        for m, spec in specs.items():
            rows = spec[spec["metric"] == metric]
            if len(rows):
                draw_band(ax, *summary(rows, "p", "spec"), label(m), colors[m])
        ax.set_title(LABELS[metric])
        ax.set_ylabel("specialization $\\mathcal{M}_{spec}$")
        ax.axhline(0, color="grey", lw=0.8)
    acc_ax = axes[-1]
    for m, table in tables.items():
        acc = table[table["metric"] == "accuracy"]
        for arch, style in (("standard", "o-"), ("bottleneck", "s--")):
            mean = acc[acc["architecture"] == arch].groupby("p")["value"].mean()
            acc_ax.plot(mean.index, mean.to_numpy(), style, ms=3, color=colors[m])
    acc_ax.axhline(0.9, color="grey", ls=":", lw=0.8)
    acc_ax.set_title("test accuracy (mean over seeds)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("p (log scale)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, title=title)
    fig.tight_layout()
    return fig


# name: (figure, the rows it needs: any of these metrics)
FIGURES = {"main": (main_figure, MEASURES), "modules": (module_figure, MEASURES),
           "accuracy": (accuracy_figure, ("accuracy",)),
           "learning_curves": (learning_curve_figure, ("epoch_test_accuracy",)),
           "raw_metrics": (raw_metrics_figure, METRICS)}


def write_figures(name: str, results="results", readme: bool = False) -> list:
    """Write every figure of a stored sweep as PNG and SVG into ``results/<name>/figures``,
    leaving out those whose rows it lacks (a sweep without metrics has no specialization).
    With ``readme``, also refresh the one committed figure, ``results/<name>/main_figure.png``."""
    table = load_results(name, results)
    folder = Path(results) / name / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for fig_name, (make, needs) in FIGURES.items():
        if not table["metric"].isin(needs).any():
            continue
        fig = make(table)
        for ext in ("png", "svg"):
            fig.savefig(folder / f"{fig_name}.{ext}", dpi=120)
            written.append(folder / f"{fig_name}.{ext}")
        if readme and fig_name == "main":
            fig.savefig(Path(results) / name / "main_figure.png", dpi=100)
            written.append(Path(results) / name / "main_figure.png")
        plt.close(fig)
    return written


# --- Figures for single models ------------------------------------------------------------

def recurrent_matrix_figure(model):
    """The joint 2N x 2N recurrent matrix: dense module blocks, sparse interconnections."""
    w = model.recurrent_matrix().detach().cpu().numpy()
    n = model.config.n_hidden
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    image = ax.imshow(np.abs(w), cmap="magma_r", interpolation="nearest")
    ax.axhline(n - 0.5, color="tab:blue", lw=1), ax.axvline(n - 0.5, color="tab:blue", lw=1)
    ax.set_xlabel("sending unit (module 0 | module 1)")
    ax.set_ylabel("receiving unit (module 0 | module 1)")
    ax.set_title(f"|recurrent weights|, k = {model.config.n_connections} per direction")
    fig.colorbar(image, ax=ax, label="|weight|", shrink=0.8)
    fig.tight_layout()
    return fig


def decision_figure(readouts, decider, target=None):
    """Both modules' readouts for a few samples; the deciding module's bars are solid, the
    other's faded."""
    readouts = np.asarray(readouts)
    decider = np.asarray(decider)
    n = len(readouts)
    fig, axes = plt.subplots(1, n, figsize=(3.0 * n, 2.6), sharey=True, squeeze=False)
    digits = np.arange(readouts.shape[-1])
    for i, ax in enumerate(axes[0]):
        for module, offset, color in ((0, -0.2, "tab:red"), (1, 0.2, "tab:blue")):
            ax.bar(digits + offset, readouts[i, module], width=0.4, color=color,
                   alpha=1 if decider[i] == module else 0.3, label=f"module {module}")
        ax.set_xticks(digits)
        ax.set_xlabel("digit")
        title = f"module {decider[i]} decides: {int(readouts[i, decider[i]].argmax())}"
        ax.set_title(title + (f" (target {int(target[i])})" if target is not None else ""), fontsize=9)
    axes[0, 0].set_ylabel("readout $r^{(n)}$")
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the bars, not on them
    fig.tight_layout()
    return fig


def rewiring_figure(log, k):
    """Deep-R during training (a `modlib.deepr.RewiringLog`): the active count stays at k while
    the set of connections changes."""
    steps = np.arange(1, len(log.counts) + 1)
    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, values, scale in ((ax_a, log.counts, 1), (ax_b, log.still_first, 100)):
        ax.plot(steps, scale * np.asarray(values)[:, 0], label="module 0 -> 1")
        ax.plot(steps, scale * np.asarray(values)[:, 1], "--", label="module 1 -> 0")
        ax.set_xlabel("training step")
        ax.legend(fontsize=8)
    ax_a.set_ylim(0, 1.5 * k + 1)
    ax_a.set_ylabel("active interconnections")
    ax_a.set_title(f"count stays at k = {k}")
    ax_b.set_ylim(0, 105)
    ax_b.set_ylabel("% of step 1's connections still active")
    ax_b.set_title("while the connections rewire")
    fig.tight_layout()
    return fig


def accuracy_by_level_figure(ks, accuracies, n_hidden=100):
    """Test accuracy of a few quickly trained models against p."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(np.asarray(ks) / n_hidden ** 2, accuracies, "o-")
    ax.set_xscale("log")
    ax.set_xlabel("fraction of interconnections p (log scale)")
    ax.set_ylabel("test accuracy (parity task)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def glue_numbers(numbers: dict, prefix: str = "") -> None:
    """Glue each number (MyST-NB) as ``prefix + name``, a plain float, for the chapter's prose to
    paste with {glue:text}`name:.2f`: a number in the text then comes from the results, as the
    tables' do, and a rerun that moves it cannot leave the text behind."""
    from myst_nb import glue  # the book's tool, needed only where a chapter runs

    for name, value in numbers.items():
        glue(prefix + name, float(value), display=False)
