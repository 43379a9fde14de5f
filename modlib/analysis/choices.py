"""The authors' choices: the variant sweeps, and each choice both ways, added to the text and
taken from the authors' configuration (chapter "Replication notes")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from modlib.analysis.frames import level_means, specialization_frame
from modlib.analysis.matrix import verdict_cells
from modlib.analysis.stats import difference_interval, interval_text
from modlib.sweep import AUTHORS_VARIANTS, BOOK_RESULTS, VARIANTS, read_table


def compare_variants(results: str | Path = BOOK_RESULTS) -> pd.DataFrame:
    """Mean specialization per metric and level, and mean accuracy, for each stored variant."""
    frames = []
    for variant, (label, _) in VARIANTS.items():
        path = Path(results) / f"variant-{variant}" / "results.csv"
        if not path.exists():
            continue
        table = read_table(path)
        means = level_means(table).reset_index().melt(id_vars="p", var_name="metric", value_name="value")
        acc = table[table["metric"] == "accuracy"].groupby("p")["value"].mean().reset_index()
        acc["metric"] = "accuracy"
        frames.append(pd.concat([means, acc]).assign(variant=label))
    if not frames:
        raise FileNotFoundError("no stored variant results: run `python -m modlib sweep --preset variant-NAME` "
                                f"for NAME in {', '.join(VARIANTS)} (or `make reproduce`)")
    return pd.concat(frames).pivot_table(index=["metric", "p"], columns="variant", values="value", sort=False)


# Each of the authors' choices both ways (`modlib.sweep.presets.AUTHORS_VARIANTS`): its effect is
# "with it" minus "without it", added to the text or taken from the authors' configuration.
DIRECTIONS = {"added to the text": ("variant-{}", "variant-text"),
              "taken from the authors'": ("authors-reference", "authors-minus-{}")}


# The claims four levels can judge: (d) would rest on interpolating between p = 0.046 and 1 to
# Q = 0.35, and (f) needs masks on untrained models, which these sweeps do not train.
BOTH_WAYS_CLAIMS = ("a", "b", "c", "e")


def model_values(table: pd.DataFrame) -> pd.DataFrame:
    """Per model (p, seed): each module's specialization by each measure in the table
    (``quantity`` "weight_mask, module 0", ...) and its test accuracy (``accuracy``)."""
    spec = specialization_frame(table).melt(id_vars=["p", "seed", "metric"], value_vars=["spec_0", "spec_1"])
    spec["quantity"] = spec["metric"] + ", module " + spec["variable"].str[-1]
    accuracy = table.loc[table["metric"] == "accuracy", ["p", "seed", "value"]].assign(quantity="accuracy")
    return pd.concat([spec[["p", "seed", "quantity", "value"]], accuracy], ignore_index=True)


def choice_effect(with_choice: pd.DataFrame, without: pd.DataFrame) -> pd.DataFrame:
    """Mean of `model_values` in the sweep ``with_choice`` minus that in ``without``, per quantity
    and level p, with a 95% Welch t interval (`modlib.analysis.stats.difference_interval`: the two
    sweeps are separate trainings). Rows (quantity, p); columns effect, low, high."""
    a, b = model_values(with_choice), model_values(without)
    rows = []
    for (quantity, p), group in a.groupby(["quantity", "p"]):
        other = b.loc[(b["quantity"] == quantity) & np.isclose(b["p"], p), "value"]
        effect, low, high = difference_interval(group["value"], other)
        rows.append(dict(quantity=quantity, p=p, effect=effect, low=low, high=high))
    return pd.DataFrame(rows).set_index(["quantity", "p"])


def choice_pairs(tables) -> list[tuple[str, str, str, str]]:
    """``(choice, direction, with, without)`` for each authors' choice and `DIRECTIONS` whose two
    sweeps (their names ``with`` and ``without``) are both in ``tables``."""
    pairs = [(choice, direction, with_name.format(choice), without_name.format(choice))
             for choice in AUTHORS_VARIANTS for direction, (with_name, without_name) in DIRECTIONS.items()]
    return [pair for pair in pairs if pair[2] in tables and pair[3] in tables]


def both_ways_tables(results: str | Path = BOOK_RESULTS) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The stored tables of the both-ways sweeps (the two references, each authors' choice's
    variant and authors-minus sweep), by sweep name, and the names of those not stored."""
    names = ["variant-text", "authors-reference"] + [f"{stem}-{choice}" for choice in AUTHORS_VARIANTS
                                                      for stem in ("variant", "authors-minus")]
    tables, missing = {}, []
    for name in names:
        path = Path(results) / name / "results.csv"
        if path.exists():
            tables[name] = read_table(path)
        else:
            missing.append(name)
    return tables, missing


def both_ways_effects(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Each authors' choice's `choice_effect` in both `DIRECTIONS`, from `both_ways_tables`: rows
    (choice, direction, quantity, p), the choice labelled as in `VARIANTS`; a direction whose two
    sweeps are not both stored is left out."""
    frames = {(VARIANTS[choice][0], direction): choice_effect(tables[with_], tables[without])
              for choice, direction, with_, without in choice_pairs(tables)}
    return pd.concat(frames, names=["choice", "direction"])


def both_ways_table(effects: pd.DataFrame, p: float) -> pd.DataFrame:
    """`both_ways_effects` at level ``p`` as text, "effect [low, high]": a row per choice, a
    column per (quantity, direction), an asterisk after each effect whose interval excludes zero."""
    at = effects[np.isclose(effects.index.get_level_values("p"), p)].droplevel("p")
    text = [interval_text(e, lo, hi, mark=True) for e, lo, hi in at[["effect", "low", "high"]].to_numpy()]
    wide = pd.Series(text, index=at.index).unstack(["quantity", "direction"])
    choices = list(dict.fromkeys(effects.index.get_level_values("choice")))
    return wide.reindex(choices).sort_index(axis=1, level="quantity", sort_remaining=False).fillna("not stored")


def direction_disagreements(effects: pd.DataFrame) -> pd.DataFrame:
    """Where a choice's effect added to the text and taken from the authors' configuration
    (`both_ways_effects`) disagree: their 95% intervals do not overlap. Such a choice acts
    together with some other choice (which, single-choice sweeps cannot say). Rows (choice,
    quantity, p); columns each direction's effect."""
    wide = effects.unstack("direction")
    added, taken = DIRECTIONS
    apart = (wide["low", added] > wide["high", taken]) | (wide["low", taken] > wide["high", added])
    return wide.loc[apart, "effect"][[added, taken]]


def kept_last_share(table: pd.DataFrame) -> float:
    """The share of a sweep's models whose kept epoch (``keep="best-loss"``: the lowest test loss)
    is the last they trained: for those, keeping the best epoch changes nothing."""
    kept = table[table["metric"] == "kept_epoch"].set_index("job")["value"]
    last = table[table["metric"] == "epoch_test_accuracy"].groupby("job")["epoch"].max()
    return float((kept == last.reindex(kept.index)).mean())


def both_ways_comparisons(tables: dict[str, pd.DataFrame], resamples: int = 200) -> pd.DataFrame:
    """Every verdict an authors' choice could move, in each direction: the verdicts of
    `verdict_cells` (the paper's reading; the mean of the modules and each module), for the
    claims `BOTH_WAYS_CLAIMS` ((e), on accuracy alone, once), in the sweep with the choice and the
    one without. A row per comparison: choice, direction, claim, measure, module ("both" for their
    mean), the verdict without and with the choice, its ``kind`` (``same``, a ``flip`` between yes
    and no, or a ``shift`` to or from partly, depends or no rise), and ``same_models``: whether the
    two sweeps hold the same rows of that measure, so that the verdict cannot move. The bootstrap
    ``resamples`` only enter the figures behind the verdicts, never the verdicts."""
    cells = {name: verdict_cells(table, resamples) for name, table in tables.items()}
    rows = []
    for choice, direction, with_name, without_name in choice_pairs(cells):
        with_, without = cells[with_name], cells[without_name]
        same = {measure: same_rows(tables[with_name], tables[without_name], measure)
                for measure in ("accuracy", *{metric for _, metric in with_})}
        for (claim, metric), verdicts in with_.items():
            if claim not in BOTH_WAYS_CLAIMS or (claim == "e" and metric != "weight_mask") or verdicts[0] == "·":
                continue
            measure = "accuracy" if claim == "e" else metric
            for module, before, after in zip(("both", "0", "1")[:1 if claim == "e" else 3], without[claim, metric],
                                             verdicts):
                kind = "same" if before == after else "flip" if {before, after} == {"yes", "no"} else "shift"
                rows.append(dict(choice=VARIANTS[choice][0], direction=direction, claim=claim,
                                 measure=measure.replace("_", " "), module=module, without=before,
                                 with_choice=after, kind=kind, same_models=same[measure]))
    return pd.DataFrame(rows, columns=["choice", "direction", "claim", "measure", "module", "without", "with_choice",
                                       "kind", "same_models"]).rename(columns={"with_choice": "with"})


def same_rows(a: pd.DataFrame, b: pd.DataFrame, metric: str) -> bool:
    """Whether two sweeps hold the same values of ``metric`` for the same models."""
    keys = ["architecture", "k", "seed", "module", "subtask"]

    def rows(table):
        return table.loc[table["metric"] == metric, [*keys, "value"]].sort_values(keys, ignore_index=True)

    return rows(a).equals(rows(b))


def both_ways_verdicts(comparisons: pd.DataFrame) -> pd.DataFrame:
    """The verdicts the choices move: the rows of `both_ways_comparisons` whose kind is not ``same``."""
    return comparisons[comparisons["kind"] != "same"].reset_index(drop=True)


def moves_by_chance(comparisons: pd.DataFrame, rates: dict[str, dict[str, float]]) -> pd.DataFrame:
    """The moves of `both_ways_comparisons` per direction against those reseeding alone would
    give: ``rates`` maps each direction to `verdict_stability`'s shares (``any``, ``flip``) of the
    sweep it starts from. Verdicts of two sweeps with the same models are left out (they cannot
    move). Per direction and kind (``flip``, ``any`` move): the verdicts ``compared``, the moves
    ``observed``, those ``expected`` from reseeding (rate times compared) and a 95% Poisson
    interval of that count (``low``, ``high``). A count within it is what another draw of seeds
    makes; the comparison of two sweeps holds two draws, so the expectation is a lower bound."""
    rows = []
    for direction, group in comparisons[~comparisons["same_models"]].groupby("direction", sort=False):
        for kind, moved in (("flip", group["kind"] == "flip"), ("any", group["kind"] != "same")):
            expected = rates[direction][kind] * len(group)
            low, high = stats.poisson.ppf([0.025, 0.975], expected) if expected > 0 else (0.0, 0.0)
            rows.append(dict(direction=direction, kind=kind, compared=len(group), observed=int(moved.sum()),
                             expected=expected, low=low, high=high))
    return pd.DataFrame(rows).set_index(["direction", "kind"])


def choices_that_move(moves: pd.DataFrame, stored: list[str], kind: str = "flip") -> dict[str, list[str]]:
    """The choices ``stored`` both ways whose `both_ways_verdicts` ``moves`` include one of ``kind``
    ("flip", or "any" move), by direction: in ``both``, only when ``added`` to the text, only when
    ``taken`` from the authors' configuration, or in ``neither``."""
    chosen = moves if kind == "any" else moves[moves["kind"] == kind]
    added, taken = (set(chosen.loc[chosen["direction"] == direction, "choice"]) for direction in DIRECTIONS)
    return {"both": [c for c in stored if c in added & taken], "added": [c for c in stored if c in added - taken],
            "taken": [c for c in stored if c in taken - added], "neither": [c for c in stored if c not in added | taken]}


def stored_both_ways(tables: dict[str, pd.DataFrame]) -> list[str]:
    """The authors' choices (labelled as in `VARIANTS`) whose four sweeps are all in ``tables``."""
    pairs = [choice for choice, *_ in choice_pairs(tables)]
    return [VARIANTS[choice][0] for choice in AUTHORS_VARIANTS if pairs.count(choice) == len(DIRECTIONS)]


def verdict_stability(table: pd.DataFrame, draws: int = 20, seed: int = 0) -> dict[str, float]:
    """How often reseeding alone moves a verdict: the share of the verdicts of `verdict_cells`
    (claims `BOTH_WAYS_CLAIMS`, each module and their mean) that differ from the whole table's
    when its seeds are drawn again with replacement, over ``draws`` draws (``any``), and the share
    that flip between yes and no (``flip``): the rates of moves a choice that changes nothing
    would show."""
    full = verdict_cells(table)
    seeds = np.sort(table["seed"].unique())
    rng = np.random.default_rng(seed)
    keys = [key for key, cell in full.items() if key[0] in BOTH_WAYS_CLAIMS and cell[0] != "·"]
    moved, flipped = [], []
    for _ in range(draws):
        drawn = pd.concat([table[table["seed"] == s].assign(seed=i) for i, s in enumerate(rng.choice(seeds, len(seeds)))])
        cells = verdict_cells(drawn, resamples=50)
        pairs = [(a, b) for key in keys for a, b in zip(cells[key], full[key])]
        moved += [a != b for a, b in pairs]
        flipped += [{a, b} == {"yes", "no"} for a, b in pairs]
    return {"any": float(np.mean(moved)), "flip": float(np.mean(flipped))}
