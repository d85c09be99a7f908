"""The sentences the chapters build from their results, one function per sentence.

A chapter's prose quotes computed results through ``{glue:md}`` directives
(:func:`otcompanion.chapter.glue`). Where such a sentence or phrase is assembled from numbers,
or chosen among wordings by them, it is built here, with its numbers passed in, so that the
chapter only computes and glues, and so that the wording of every sentence can be read and
tested in one place. The rules that turn results into a claim's verdict are not here but in
:mod:`otcompanion.claims`.

Sections follow the chapters; the functions of the first section serve several chapters.
"""

from __future__ import annotations

from otcompanion import claims, stats


# Shared
def share_of(count, total):
    """``"count of total"``, e.g. ``"3 of 8"``."""
    return f"{count} of {total}"


def setup_values(values, spec=".3f"):
    """One value per setup, e.g. ``"0.950 (2 classes), 0.900 (3 classes)"``.

    Parameters
    ----------
    values : dict
        Setup name -> value, in the order to list them.
    spec : str, default ".3f"
        Format spec of the values.
    """
    return ", ".join(f"{value:{spec}} ({setup})" for setup, value in values.items())


def setup_at_level(setup, level):
    """A setup and its level, e.g. ``"3 classes, level 2"``."""
    return f"{setup}, level {level}"


# Chapter 01: tracing self-attention
def blocks_accuracies(accuracies):
    """Test accuracy per model, e.g. ``"2 block(s) 0.950, 1 block(s) 0.933"``.

    Parameters
    ----------
    accuracies : dict
        Model name -> test instance accuracy.
    """
    return ", ".join(f"{name} {value:.3f}" for name, value in accuracies.items())


def blocks_reading(accuracies):
    """What the comparison of one- and two-block models says: no difference when their test
    accuracies lie within 0.01, otherwise which model is more accurate."""
    if max(accuracies.values()) - min(accuracies.values()) < 0.01:
        return "the second block adds nothing measurable on this setup"
    return f"the {max(accuracies, key=accuracies.get)} model is more accurate here"


def third_feature_reading(matching):
    """What the optimal assignment does once a third feature lets the sublayers deform the
    clouds, from the matching of the three-feature run (at least 0.99: still the identity)."""
    if matching >= 0.99:
        return "still sends almost every token to its own image"
    return ("no longer sends every token to its own image, although its cost stays close to "
            "that of the network's map")


# Chapter 02: measuring the trajectories with optimal transport
def beats_translations(beats):
    """Whether the trained map's optimality is above that of random instance translations."""
    return "above" if beats else "not above"


def optimizer_setting(optimizer, lr):
    """An optimizer and its learning rate, e.g. ``"adam at learning rate 0.01"``."""
    return f"{optimizer} at learning rate {lr}"


def ablation_reading(best_low, thesis_high):
    """How the straightest setting of the optimizer ablation compares with the thesis's: its
    interval lies wholly above the thesis setting's (lower bound ``best_low`` above upper bound
    ``thesis_high``), or the two are not distinguishable."""
    if best_low > thesis_high:
        return ("straighter than the thesis's setting, so part of the inefficiency is the "
                "optimizer's")
    return "not distinguishable from the thesis's setting at this number of runs"


def ablation_overall(highest):
    """What the highest upper bound of straightness over the ablation's settings says about
    claim 2: the sentence for :func:`otcompanion.claims.trajectory_verdict`'s word."""
    return {"supported": "no optimizer and learning rate of this ablation makes the paths "
                         "direct: claim 2 does not rest on the thesis's choice of optimizer",
            "partly supported": "the paths stay indirect under every setting, though less so "
                                "under some",
            "not supported": "some settings give paths that are not far from direct, so the "
                             "inefficiency the thesis reports depends on its optimizer and step "
                             "size"}[claims.trajectory_verdict(highest)]


def pair_classes(first, second):
    """The classes of two instances, e.g. ``"0 and 1"``."""
    return f"{first} and {second}"


def rank_correlation(correlations):
    """Mean rank correlation over groups with its 95 % interval (:func:`stats.interval_text`,
    two digits), or why there is none."""
    if len(correlations):
        return stats.interval_text(correlations, digits=2)
    return "n/a (no group varies in both)"


def grid_setup(setups, levels):
    """The setups of a grid, for a finding, e.g. ``"2 classes, 3 classes; levels [1, 2]"``.

    Parameters
    ----------
    setups : list of str
        The tasks' names, in the order of the chapter's ``tasks``.
    levels : list of int
        The chapter's ``levels``.
    """
    return f"{', '.join(setups)}; levels {levels}"


def final_map_evidence(optimality, runs, lowest_bound, matching, translations):
    """Evidence of the "final map" finding: interval texts of the trained map's optimality,
    its matching and the optimality of random instance translations, over ``runs`` runs."""
    return (f"optimality {optimality} over {runs} runs (lowest setup lower bound "
            f"{lowest_bound:.4f}); matching {matching}; random instance translations of the "
            f"same size {translations}")


def trajectory_evidence(straightness, w2_path_efficiency, runs, after_plateau):
    """Evidence of the "trajectory" finding: interval texts of straightness, W2 path efficiency
    and the percentage of the path after the validation plateau, over ``runs`` runs."""
    return (f"straightness {straightness}, W2 path efficiency {w2_path_efficiency} over {runs} "
            f"runs; {after_plateau} % of the path after the validation plateau")


# Chapter 05: a biomedical case
def data_source(data_path, target, layout):
    """Which table the chapter classifies: the user's CSV file or the bundled table."""
    if data_path:
        return f"CSV file {data_path} (target column {target!r})"
    return f"scikit-learn breast-cancer table, layout {layout!r}"


def fold_count(n_repeats, n_splits):
    """The folds of a repeated cross-validation, e.g. ``"2 x 5"``."""
    return f"{n_repeats} x {n_splits}"


def standing_reading(low, high, rival):
    """What the interval ``[low, high]`` of a model's paired difference in balanced accuracy
    with its best ``rival`` says: a lead, a deficit, or no ranking."""
    if low > 0:
        return "the interval lies above 0, a lead over every other model"
    if high < 0:
        return f"the interval lies below 0, so it trails the {rival}"
    return "the interval contains 0, so the folds do not rank the two"


def layout_scores(means):
    """Mean balanced accuracy per token layout, e.g. ``"0.950 with the statistics layout and
    ..."``."""
    return " and ".join(f"{value:.3f} with the {name} layout" for name, value in means.items())
