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
from otcompanion._validation import check_choice


# Shared
def share_of(count, total):
    """``"count of total"``, e.g. ``"3 of 8"``."""
    return f"{count} of {total}"


def word_list(items):
    """Items written as prose, e.g. ``"3, 4 and 8"`` (``"3 and 4"``, ``"3"``, ``""``).

    Parameters
    ----------
    items : sequence
        Anything with a ``str``; written in the order given.
    """
    words = [str(item) for item in items]
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def count(number, noun, plural=None):
    """A number with its noun in the right number, e.g. ``"1 block"``, ``"2 blocks"``.

    Parameters
    ----------
    number : int
    noun : str
        The singular.
    plural : str, optional
        The plural where it is not ``noun + "s"`` (e.g. ``"repetitions"`` is, ``"matrices"``
        is not).
    """
    number = int(number)
    return f"{number} {noun if number == 1 else (plural or noun + 's')}"


def setup_values(values, digits=3):
    """One value per setup, e.g. ``"0.950 (2 classes), 0.900 (3 classes)"``.

    Parameters
    ----------
    values : dict
        Setup name -> value, in the order to list them.
    digits : int, default 3
        Decimals (:func:`otcompanion.stats.format_value`).
    """
    return ", ".join(f"{stats.format_value(value, digits)} ({setup})"
                     for setup, value in values.items())


def setup_at_level(setup, level):
    """A setup and its level, e.g. ``"3 classes, level 2"``."""
    return f"{setup}, level {level}"


# Chapter 01: tracing self-attention
def blocks_accuracies(accuracies):
    """Test accuracy per model, e.g. ``"2 blocks 0.950, 1 block 0.933"``.

    Parameters
    ----------
    accuracies : dict
        Model name -> test instance accuracy.
    """
    return ", ".join(f"{name} {stats.format_value(value)}" for name, value in accuracies.items())


def blocks_reading(accuracies):
    """What the comparison of one- and two-block models says: no difference when their test
    accuracies lie within :data:`otcompanion.claims.SAME_ACCURACY`, otherwise which model is
    more accurate."""
    if max(accuracies.values()) - min(accuracies.values()) < claims.SAME_ACCURACY:
        return "the second block adds nothing measurable on this setup"
    return f"the {max(accuracies, key=accuracies.get)} model is more accurate here"


def third_feature_reading(matching):
    """What the optimal assignment does once a third feature lets the sublayers deform the
    clouds, from the matching of the three-feature run (at least
    :data:`otcompanion.claims.IDENTITY_MATCHING`: still the identity)."""
    if matching >= claims.IDENTITY_MATCHING:
        return "still sends almost every token to its own image"
    return ("no longer sends every token to its own image, although its cost stays close to "
            "that of the network's map")


# Chapter 02: measuring the trajectories with optimal transport
def beats_translations(beats):
    """Whether the trained map's optimality is above that of its null map (chapter 02: the
    trained map's class moves with a random residual)."""
    return "above" if beats else "not above"


def optimizer_setting(optimizer, lr):
    """An optimizer and its learning rate, e.g. ``"adam at learning rate 0.01"``."""
    return f"{optimizer} at learning rate {lr}"


def ablation_reading(straighter):
    """How the straightest setting of the optimizer ablation compares with the thesis's:
    ``straighter`` when the interval of their paired difference lies above 0 (at its Holm
    level, :func:`otcompanion.experiments.optimizer_ablation_reading`)."""
    if straighter:
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
    """The setups of a grid, for a finding, e.g. ``"2 classes and 3 classes; levels 1 and 2"``.

    Parameters
    ----------
    setups : list of str
        The tasks' names, in the order of the chapter's ``tasks``.
    levels : list of int
        The chapter's ``levels``.
    """
    noun = "level" if len(levels) == 1 else "levels"
    return f"{word_list(setups)}; {noun} {word_list(levels)}"


def final_map_evidence(optimality, runs, lowest_bound, matching, class_moves, residual):
    """Evidence of the "final map" finding: interval texts of the trained map's optimality, its
    matching, the optimality of its class moves with a random residual, and its residual
    optimality (:func:`otcompanion.metrics.map_metrics`), over ``runs`` runs."""
    return (f"optimality {optimality} over {runs} runs (lowest setup lower bound "
            f"{stats.format_value(lowest_bound, 4)}, threshold {claims.OPTIMALITY_THRESHOLD:g}); matching "
            f"{matching}; the same class moves with a random residual {class_moves}; "
            f"optimality of what is not a class translation {residual}")


def trajectory_evidence(straightness, w2_path_efficiency, runs, after_plateau):
    """Evidence of the "trajectory" finding: interval texts of straightness, W2 path efficiency
    and the percentage of the path after the validation plateau, over ``runs`` runs."""
    return (f"straightness {straightness}, W2 path efficiency {w2_path_efficiency} over {runs} "
            f"runs (thresholds on the setups' upper bounds: below "
            f"{claims.TRAJECTORY_SUPPORTED_BELOW:g} supported, below "
            f"{claims.TRAJECTORY_PARTLY_BELOW:g} partly); {after_plateau} % of the path after the "
            f"validation plateau")


# Chapter 05: a biomedical case
def data_source(data_path, target, layout):
    """Which table the chapter classifies: the user's CSV file or the bundled table."""
    if data_path:
        return f"CSV file {data_path} (target column {target!r})"
    return f"scikit-learn breast-cancer table, layout {layout!r}"


def fold_count(n_repeats, n_splits):
    """The folds of a repeated cross-validation, e.g. ``"5"``, or ``"2 × 5"`` when it is
    repeated."""
    return str(n_splits) if int(n_repeats) == 1 else f"{n_repeats} × {n_splits}"


def standing_finding(name, rank, n_models, balanced, rival, difference, reading, seconds,
                     times):
    """Chapter 05's finding for one model, one sentence: its rank by mean balanced accuracy,
    the fold-by-fold difference to the best other model (``difference``: its interval text;
    ``reading``: :func:`standing_reading`) and its median fit time (``times`` that of the
    fastest baseline)."""
    return (f"The {name} ranks {rank} of {n_models} by mean balanced accuracy "
            f"({stats.format_value(balanced)}); minus the {rival}'s, fold by fold: "
            f"{difference}, {reading}. Median fit time {stats.format_value(seconds, 2)} s, "
            f"{stats.format_value(times, 0)} times the fastest baseline's.")


def standing_reading(low, high, rival):
    """What the interval ``[low, high]`` of a model's paired difference in balanced accuracy
    with its best ``rival`` says (:func:`otcompanion.claims.paired_verdict`): a lead, a deficit,
    or no ranking."""
    verdict = claims.paired_verdict(low, high)
    if verdict == "first higher":
        return "the interval lies above 0, a lead over every other model"
    if verdict == "first lower":
        return f"the interval lies below 0, so it trails the {rival}"
    return "the interval contains 0, so the folds do not rank the two"


def layout_scores(means):
    """Mean balanced accuracy per token layout, e.g. ``"0.950 with the statistics layout and
    ..."``."""
    return " and ".join(f"{stats.format_value(value)} with the {name} layout"
                        for name, value in means.items())


# Chapter 03


def cell_list(cells):
    """``"2 classes with *circle, one head*; ..."`` for (setup, condition) cells, or "none"
    (semicolons: the conditions' names hold commas)."""
    return "; ".join(f"{setup} with *{condition}*" for setup, condition in cells) or "none"


def head_draw(draw):
    """How the one shared head compares with a head per repetition, per task: the paired
    difference in epochs and its reading (rows of
    :func:`otcompanion.experiments.pretraining_differences`)."""
    words = {"first higher": "later with the one head", "first lower": "sooner with the one head"}
    return "; ".join(
        f"{row['setup']}: {stats.format_difference(row)} epochs "
        f"({words.get(row['verdict'], row['verdict'])})" for _, row in draw.iterrows()) + "."


#: The reading of a paired difference pretrained minus unpretrained in epochs to the target.
PRETRAINING_SPEED = {"first lower": "faster with pretraining",
                     "first higher": "slower with pretraining",
                     "no difference detected": "no difference detected",
                     "identical in every pair": "identical in every pair",
                     "too few pairs": "too few pairs"}


def pretraining_evidence(speed_rows, accuracy_rows, target_accuracy, epochs, n_levels):
    """One Markdown bullet per task and condition, led by its reading (faster, slower, no
    difference detected): epochs to the target with and without pretraining, their paired
    difference, and the paired difference in validation accuracy."""
    lines = []
    for _, row in speed_rows.iterrows():
        accuracy = accuracy_rows[(accuracy_rows["setup"] == row["setup"])
                                 & (accuracy_rows["condition"] == row["condition"])].iloc[0]
        lines.append(
            f"- {row['setup']}, *{row['condition']}*: **{PRETRAINING_SPEED[row['verdict']]}**;"
            f" epochs to a validation accuracy of {target_accuracy:g} (at most {epochs}): "
            f"{stats.format_value(row['mean_first'], 1)} pretrained against "
            f"{stats.format_value(row['mean_second'], 1)} unpretrained, paired difference {stats.format_difference(row)}; "
            f"validation accuracy {stats.format_difference(accuracy, 3)} ({int(row['pairs'])} "
            f"repetitions, each the mean of {count(n_levels, 'level')}).")
    return "\n".join(lines)


def budget_sentence(verdicts, main, faster_rows):
    """Whether the pretraining verdict holds at every budget (``verdicts``: budget -> verdict;
    ``main``: the verdict at the chapter's budget), and how close to 0 the intervals of the
    gains (``faster_rows``, the faster cells' speed differences) end."""
    if len(set(verdicts.values())) == 1:
        sentence = (f"the verdict is *{main}* at every budget tried "
                    f"({word_list(list(verdicts))} epochs).")
    else:
        sentence = ("the verdict depends on the budget: " + "; ".join(
            f"*{verdict}* at {budget} epochs" for budget, verdict in verdicts.items())
            + ". It rests on intervals that end close to 0, and is no firmer than that.")
    if len(faster_rows):
        narrow = claims.gain_is_narrow(faster_rows["difference"], faster_rows["high"]).any()
        sentence += (" The gain's interval ends "
                     + ", ".join(f"{stats.format_value(-row['high'], 2)} epochs below 0 ({row['setup']}, "
                                 f"*{row['condition']}*)" for _, row in faster_rows.iterrows())
                     + (": close enough that other data or another budget could move it "
                        "to 0." if narrow else "."))
    return sentence


def strong(text):
    """``text`` in bold Markdown."""
    return f"**{text}**"


def pretraining_summary(result, evidence):
    """The cells pretraining made faster, slower and less accurate (``result`` of
    :func:`otcompanion.claims.pretraining_verdict`), then the ``evidence`` bullets."""
    return (f"Pretraining was faster in: {cell_list(result['faster'])}; slower in: "
            f"{cell_list(result['slower'])}; less accurate in: "
            f"{cell_list(result['less_accurate'])}.\n\n{evidence}")


def pretraining_finding(result, epochs, patience, budgets, evidence):
    """The evidence of chapter 03's finding for the claims ledger (``budgets``: the sentence
    of :func:`budget_sentence`)."""
    return (f"Paired differences pretrained minus unpretrained (same data and initial blocks), "
            f"95 % confidence intervals over repetitions, budget {epochs} epochs, patience "
            f"{patience}. Faster: {cell_list(result['faster'])}; slower: "
            f"{cell_list(result['slower'])}; less accurate: "
            f"{cell_list(result['less_accurate'])}. Recomputed from the same runs at shorter "
            f"budgets, {budgets}\n" + evidence)


def best_pretraining_cell(speed_rows, epochs):
    """The most favourable task and condition for pretraining (the lowest upper end of the
    interval of epochs to the target, pretrained minus unpretrained), for the findings table."""
    best = speed_rows.loc[speed_rows["high"].idxmin()]
    return (f"epochs to target, pretrained − unpretrained, at {epochs} epochs, most favourable: "
            f"{stats.format_difference(best, digits=1)} ({best['setup']}, {best['condition']})")


def pretraining_setup(task_names, levels, n_repetitions):
    """Where chapter 03's finding was measured."""
    noun = "level" if len(levels) == 1 else "levels"
    return f"{word_list(task_names)}; {noun} {word_list(levels)}; {count(n_repetitions, 'repetition')}"


# Chapter 04


def runs_text(pairs):
    """``"20 runs"``, or ``"18–20 runs"`` when the numbers of pairs differ between setups."""
    low, high = int(pairs.min()), int(pairs.max())
    return f"{low} runs" if low == high else f"{low}–{high} runs"


def group_name(row, by):
    """The group of ``row`` in words, e.g. ``"3 classes, level 1"``."""
    return ", ".join(f"level {row[name]}" if name == "level" else str(row[name]) for name in by)


def levels_text(levels):
    """``"level 1"`` or ``"levels 1 and 2"``."""
    return ("level " if len(levels) == 1 else "levels ") + word_list(levels)


def tasks_text(task_names, tasks):
    """``"2 classes and 3 classes"`` for ``tasks`` named by ``task_names``."""
    return word_list([task_names[k] for k in tasks])


def accuracy_evidence(differences, by, margin, found):
    """Evidence for "comparable accuracy": the paired accuracy differences OT minus Transformer
    against ``-margin`` (``found``: the outcome per setup), the lowest, and the ceiling."""
    worst = differences.loc[differences["difference"].idxmin()]
    ceiling = found.count("uninformative")
    return (
        f"Test instance accuracy of the OT classifier minus the Transformer's, paired over "
        f"{runs_text(differences['pairs'])} per setup: "
        + (f"both models at 1.000 in every run in {ceiling} of {len(found)} setups "
           "(uninformative: they cannot tell the models apart); among the others, "
           if ceiling else "")
        + f"the 95 % interval lies above −{margin:g} (at most {margin:g} lower) in "
        f"{found.count('support')} of {len(found) - ceiling} setups and wholly below it in "
        f"{found.count('contradict')}; lowest mean difference {group_name(worst, by)}: "
        f"{stats.format_interval(worst['difference'], worst['low'], worst['high'])}.")


def deciding_interval(differences, by, claim, digits=3, every=True):
    """The interval that decides a claim read on groups (:func:`otcompanion.claims.
    interval_outcomes`), e.g. ``"−0.034 [−0.061, −0.009] (3 classes, level 1)"``, shown as
    the key number of the findings table.

    When ``every`` group must support the claim, the least favourable group decides: for a
    claim ``"above"`` a threshold the one with the lowest lower end, for ``"below"`` the one
    with the highest upper end. When one group suffices (``every=False``), the most favourable
    one: the highest lower end, or the lowest upper end.
    """
    check_choice(claim, "claim", claims.SIDES)
    if not len(differences):
        return "n/a (no groups)"
    column = "low" if claim == "above" else "high"
    lowest = (claim == "above") == every
    index = differences[column].idxmin() if lowest else differences[column].idxmax()
    row = differences.loc[index]
    return (f"{stats.format_interval(row['difference'], row['low'], row['high'], digits)} "
            f"({group_name(row, by).replace('  ', ' ')})")


def accuracy_finding(differences, by, margin, where):
    """The finding "comparable accuracy" (:func:`accuracy_evidence`): each setup's interval of
    OT minus Transformer accuracy above ``-margin``, setups where both models score 1 in every
    run being uninformative; returns it with the outcome per setup."""
    found = claims.accuracy_outcomes(differences, margin)
    key = "accuracy, OT − Transformer, lowest " + deciding_interval(differences, by, "above")
    return claims.finding("ot classifier accuracy", claims.combined_verdict(found),
                          accuracy_evidence(differences, by, margin, found), where,
                          key=key), found


def worst_shortfall(differences):
    """The lowest paired accuracy difference with its setup and variant."""
    worst = differences.loc[differences["difference"].idxmin()]
    return (f"{stats.format_interval(worst['difference'], worst['low'], worst['high'])}"
            f" ({worst['setup']}, {worst['variant'].replace('  ', ' ')})")


def cost_evidence(differences, speed, by, what, found):
    """Evidence for "cheaper": the paired time differences OT minus Transformer (``found``: the
    outcome per setup) and the lowest and highest speed-up (:func:`otcompanion.stats.speed_up`)."""
    speed = speed.dropna(subset=["speed_up"])
    extremes = (speed.loc[sorted({speed["speed_up"].idxmin(), speed["speed_up"].idxmax()},
                                 key=lambda i: speed.loc[i, "speed_up"])] if len(speed)
                else speed)
    return (
        f"{what}, OT classifier minus Transformer, paired over "
        f"{runs_text(differences['pairs'])} per setup: lower for the OT classifier in "
        f"{found.count('support')} of {len(found)} setups, higher in "
        f"{found.count('contradict')}; speed-up (Transformer time / OT time, geometric mean "
        f"with 95 % interval) "
        + ("from " if len(extremes) > 1 else "" if len(extremes) else "not defined (no pair)")
        + " to ".join(f"{stats.format_interval(row['speed_up'], row['low'], row['high'], 1)} "
                      f"({group_name(row, by)})" for _, row in extremes.iterrows())
        + ".")


def cost_finding(differences, speed, by, where, what):
    """The finding "cheaper" (:func:`cost_evidence`): each setup's interval of OT minus
    Transformer seconds below :data:`otcompanion.claims.COST_THRESHOLD`; returns it with the
    outcome per setup."""
    found = claims.cost_outcomes(differences)
    key = "CPU seconds, OT − Transformer, highest " + deciding_interval(differences, by, "below")
    return claims.finding("ot classifier cost", claims.combined_verdict(found),
                          cost_evidence(differences, speed, by, what, found), where,
                          key=key), found


def scaling_per_solver(differences):
    """Per solver: the exponents with standardized and raw inputs and their paired difference."""
    return "; ".join(
        f"{row['solver']}: {stats.format_value(row['mean_first'], 2)} vs "
        f"{stats.format_value(row['mean_second'], 2)}, difference "
        f"{stats.format_interval(row['difference'], row['low'], row['high'], 2)} "
        f"({count(row['pairs'], 'pair')})"
        for _, row in differences.iterrows())


def scaling_evidence(differences, scaling_tokens, found):
    """Evidence for "scales better with standardized inputs" (``found``: outcome per solver)."""
    return (rf"Exponent $b$ of fit time $t \approx a\,n^b$ over {len(scaling_tokens)} training "
            f"sizes "
            f"({min(scaling_tokens)}–{max(scaling_tokens)} tokens), standardized vs raw inputs, "
            f"paired over {runs_text(differences['pairs'])} (repetitions, each fitted "
            f"at every size): {scaling_per_solver(differences)}. Lower with standardized "
            f"inputs in {found.count('support')} of {len(found)} solvers, higher in "
            f"{found.count('contradict')}.")


def scaling_setup(n_solvers, scaling_tokens):
    """Where the scaling finding was measured."""
    return (f"3 classes, level 4; {n_solvers} solvers; "
            f"{min(scaling_tokens)}–{max(scaling_tokens)} tokens")


def lowering_settings(differences, found, parentheses=True):
    """The geometry settings whose interval lies below 0 (``found``: outcome per setting),
    each with its interval, or "none"."""
    return ", ".join(
        f"{row['setting']} ({stats.format_interval(row['difference'], row['low'], row['high'])})"
        if parentheses else
        f"{row['setting']} {stats.format_interval(row['difference'], row['low'], row['high'])}"
        for row, outcome in zip(differences.to_dict("records"), found)
        if outcome == "support") or "none"


def geometry_evidence(differences, found):
    """Evidence for "the accuracy depends on the dummy geometry"."""
    lowered = found.count("support")
    return (f"Test instance accuracy of each geometry setting minus the thesis geometry's, "
            f"paired over {runs_text(differences['pairs'])}: {lowered} of {len(found)} "
            f"settings lower it with an interval below 0 ("
            + lowering_settings(differences, found, parentheses=False) + ").")


# Chapter 06


def _percent(confidence):
    """A confidence level as a percentage, three significant digits at most: ``"99"``,
    ``"99.5"``, ``"99.75"`` is ``"99.8"``."""
    text = stats.format_value(100 * float(confidence), 3, notation="g")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _level_words(result):
    """"95 %", or for a row drawn at a Holm level (a ``confidence`` other than 0.95,
    :func:`otcompanion.experiments.heads.holm_differences`) e.g. "Holm-adjusted 99.7 %"."""
    confidence = float(result.get("confidence", stats.CONFIDENCE))
    if confidence == stats.CONFIDENCE:
        return "95 %"
    return f"Holm-adjusted {_percent(confidence)} %"


def difference_reading(result, larger, smaller):
    """A paired difference (a row of :func:`otcompanion.stats.paired_differences`) in words
    that say no more than its interval: ``larger`` or ``smaller`` when the interval excludes 0,
    "not told apart" otherwise, then the numbers (with the interval's level: 95 %, or its Holm
    level when the row has a ``confidence``)."""
    keys = ("difference", "low", "high")
    decimals = stats.shared_decimals([result[key] for key in keys])
    value, low, high = (stats.format_value(result[key], signed=True, decimals=decimals)
                        for key in keys)
    span = (f"{value} ({_level_words(result)} confidence interval {low} to {high}, "
            f"{count(result['pairs'], 'pair')})")
    words = {"first higher": larger, "first lower": smaller}.get(
        result["verdict"], f"not told apart by these runs ({result['verdict']})")
    return f"{words}: the difference is {span}"


def size_gap(results, n_high):
    """The loss gap from the smallest to the largest training size, per number of heads
    (``results``: heads -> paired difference)."""
    return "; ".join(
        f"with {H} head{'s' if H > 1 else ''} it is "
        + difference_reading(result, f"larger at n = {n_high}", f"smaller at n = {n_high}")
        for H, result in results.items())


def bridge_findings(results, heads):
    """Per quantity of the thesis Transformer (``results``: name -> paired difference between
    ``heads`` and the fewest heads), its reading."""
    return "; ".join(
        f"{name.replace('_', ' ')} is " + difference_reading(
            result, f"higher with {heads} heads", f"lower with {heads} heads")
        for name, result in results.items())


def lazier_answer(lazier):
    """The answer to "do more heads make each head lazier?"."""
    return "Yes, in this model" if lazier else "Not shown by these runs"


def multi_head_summary(lazier, margin, test_error, versus_pooling):
    """What chapter 06's runs say about the multi-head claim, in one sentence, from four paired
    verdicts, more minus fewer heads: the distance to the linearized model (``lazier``), the
    NTK margin at initialization, the test error, and the test error with the most heads minus
    mean pooling's (``versus_pooling``). Each part says no more than its verdict."""
    lazier_words = {"first lower": "more heads keep training closer to the linearized (NTK) "
                                   "model",
                    "first higher": "more heads move training further from the linearized "
                                    "(NTK) model"}.get(
        lazier, "the distance to the linearized (NTK) model is not told apart between the "
                "head counts")
    margin_words = {"first higher": "the NTK margin at initialization is larger",
                    "first lower": "the NTK margin at initialization is smaller"}.get(
        margin, "the NTK margin at initialization is not told apart")
    error_words = {"first lower": "the test error is lower",
                   "first higher": "the test error is higher"}.get(
        test_error, "the test error is not told apart")
    pooling_words = {"first lower": "below", "first higher": "above"}.get(
        versus_pooling, "not told apart from")
    text = (f"{lazier_words}; {margin_words}; {error_words}; with the most heads the test error "
            f"is {pooling_words} that of a logistic regression on the mean-pooled tokens")
    return text[0].upper() + text[1:]


def multi_head_evidence(h_high, h_low, n_repetitions, family, names):
    """Evidence of chapter 06's finding: the paired differences that decide it (``names``, rows
    of ``family``, the chapter's comparisons at Holm levels), with their intervals."""
    def quoted(name):
        row = family.loc[name]
        return (f"{name} {stats.format_difference(row, 3, notation='g')} "
                f"(at {_percent(row['confidence'])} %)")

    return (f"{h_high} against {h_low} heads, paired over {n_repetitions} repetitions, "
            f"intervals at Bonferroni-Holm levels for the chapter's "
            f"{count(len(family), 'comparison')}: "
            + "; ".join(quoted(name) for name in names)
            + ". This book's reconstruction of the model and data, not the paper's theorems.")


def pooling_reading(pooling, oracle):
    """Where multi-head attention sits between averaging and selecting the tokens: its test
    error minus mean pooling's (``pooling``) and minus the relevant-token oracle's
    (``oracle``), rows of :func:`otcompanion.stats.paired_difference`."""
    against_pooling = {"first lower": "below that of mean pooling",
                       "first higher": "above that of mean pooling"}.get(
        pooling["verdict"], "not told apart from that of mean pooling")
    against_oracle = {"first higher": "above that of the oracle that reads the relevant tokens",
                      "first lower": "below that of the oracle"}.get(
        oracle["verdict"], "not told apart from that of the oracle")
    return f"the error of multi-head attention is {against_pooling} and {against_oracle}"


def step_size_reading(runs):
    """Chapter 06's step-size sweep in words: how many runs diverged, how many ended with
    training data left misclassified, and in which settings the training loss rose above its
    start on the way (``runs``: one row per run with ``lr``, ``H``, ``diverged``,
    ``train_error`` and ``peak_loss_ratio``)."""
    total = len(runs)
    diverged = int(runs["diverged"].astype(bool).sum())
    unfit = int((runs["train_error"] > 0).sum())
    rose = runs[runs["peak_loss_ratio"] > 1]
    settings = "; ".join(
        f"step size {lr:g} with {H} head{'s' * (H > 1)}: {len(group)} of "
        f"{int(((runs['lr'] == lr) & (runs['H'] == H)).sum())}"
        for (lr, H), group in rose.groupby(["lr", "H"]))
    return (f"Of the {total} runs, {diverged} diverged and {unfit} ended with training "
            f"instances still misclassified. The training loss rose above its starting value "
            f"on the way in {len(rose)} runs" + (f" ({settings})." if settings else "."))


def multi_head_setup(n_train, steps, scaling):
    """Where chapter 06's finding was measured."""
    scale = r"1/\sqrt{H}" if scaling == "sqrt" else "1/H"
    return f"tokenized mixture, $n$ = {n_train}, {steps} steps, $c_H = {scale}$"
