# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python (otcompanion)
#     language: python
#     name: otcompanion
# ---

# %% [markdown]
# # Measuring the trajectories with optimal transport
#
# {doc}`01_attention_tracing` followed one training run per setup. The thesis's first two
# claims are statements about many runs:
#
# 1. the final self-attention mapping often approximates the optimal transport coupling between
#    the initial and the final token distributions;
# 2. the training trajectory that reaches it is inefficient.
#
# This chapter repeats the traced training for both tasks and every difficulty level, measures
# each trajectory with the thesis's metrics and with this book's scale-consistent ones, and
# reads the two claims off the numbers. Everything runs through
# {func}`otcompanion.experiments.transformer_grid`.

# %% [markdown]
# ````{admonition} What this chapter finds
# :class: tip
#
# ```{glue:md} chapter-findings
# :format: myst
# ```
#
# The sections below show how each verdict was reached; the {doc}`../claims` collects the
# verdicts of every chapter.
# ````

# %% tags=["parameters"]
profile: str = "book"  # grid size: "book" (20 repetitions) or "thesis" (100 repetitions)
tasks: list[int] = [2, 3]  # numbers of classes (2 and/or 3)
levels: list[int] = [1, 2, 3, 4]  # difficulty levels, 1 (closest classes) to 4
n_repetitions: int = 0  # runs per setup; 0 means the profile's value
epochs: int = 0  # training epochs; 0 means the profile's value (200)
n_blocks: int = 0  # encoder blocks; 0 means the profile's value (2)
n_heads: int = 10  # attention heads per block (thesis: 10)
seed: int = 0  # chapter seed; every run derives its own seed from it
scheduler: str = "local"  # "local" (all cores), a number of worker processes, or a Dask address "tcp://host:8786"; results do not depend on it
curve_points: int = 10  # epochs at which the metric-versus-epoch curves are evaluated
trajectory_start: str = "input"  # "input" (this book) or "first_epoch" (the thesis code's indexing)
ablation_task: int = 3  # task of the optimizer ablation (2 or 3 classes)
ablation_level: int = 2  # level of the optimizer ablation
ablation_repetitions: int = 3  # runs per optimizer and learning rate in the ablation (more: e.g. -p ablation_repetitions 20, beyond the book's time budget)
ablation_lrs: list[float] = [0.001, 0.01, 0.1]  # learning rates of the ablation, for every optimizer
dimensions: list[int] = []  # token dimensions d > 2 of the claim-1 runs beyond translations; [] means the profile's: [3, 4] (book), [3, 4, 8] (thesis)
dimension_task: int = 3  # task of those runs (2 or 3 classes)
dimension_level: int = 2  # level of those runs

# %%
import time

import numpy as np
import pandas as pd

from otcompanion import chapter, claims, engine, experiments, metrics, plots, prose, stats

chapter.begin("02_ot_metrics")

# %% tags=["remove-input"]
# The parameters checked, and what they imply (hidden on the page; it runs as any cell).
settings = experiments.resolve_profile(profile, n_repetitions=n_repetitions or None,
                                       epochs=epochs or None, n_blocks=n_blocks or None)
task_names = chapter.task_names(tasks)
engine.check_scheduler(scheduler)
if ablation_task not in (2, 3):
    raise ValueError(f"ablation_task must be 2 or 3, got {ablation_task}.")
if not ablation_lrs or any(lr <= 0 for lr in ablation_lrs):
    raise ValueError(f"ablation_lrs must be a non-empty list of positive numbers, got {ablation_lrs}.")
dimensions = list(dimensions) or ([3, 4, 8] if profile == "thesis" else [3, 4])
if any(not isinstance(d, int) or d < 3 for d in dimensions):
    raise ValueError(f"dimensions must be integers of at least 3, got {dimensions}.")
if dimension_task not in (2, 3):
    raise ValueError(f"dimension_task must be 2 or 3, got {dimension_task}.")
if not isinstance(dimension_level, int) or dimension_level < 1:
    raise ValueError(f"dimension_level must be an integer of at least 1, got {dimension_level}.")

# %%
pd.DataFrame([settings | {"n_heads": n_heads, "tasks": prose.word_list(tasks),
                          "levels": prose.word_list(levels),
                          "runs": len(tasks) * len(levels) * settings["n_repetitions"]}])

# %% [markdown]
# ## The runs
#
# Every run draws fresh data for its setup (90 instances of 20 tokens, half for training),
# initializes a fresh model and trains it with the thesis protocol of
# {doc}`01_attention_tracing`; its seed is derived from the chapter seed and the run's task,
# level and repetition ({func}`otcompanion.experiments.run_seed`), so a run gives the same
# numbers whatever else is in the grid and wherever it runs. Each trajectory, from the
# standardized training tokens to the last block's output at the best epoch, is then measured
# ({func}`otcompanion.experiments.traced_run`). Every summary below is a mean over the
# repetitions of a setup with its 95 % confidence interval in brackets, and says how
# many runs it rests on ({mod}`otcompanion.stats`).

# %% tags=["remove-stderr"]
grid_started = time.perf_counter()
summary, tables = experiments.transformer_grid(
    tasks, levels, settings["n_repetitions"], seed=seed, scheduler=scheduler,
    epochs=settings["epochs"], n_blocks=settings["n_blocks"], n_heads=n_heads,
    curve_points=curve_points, trajectory_start=trajectory_start)
summary["setup"] = summary["n_classes"].map(task_names)
summary["runs time (s)"] = summary["fit_seconds"] + summary["metrics_seconds"]
for table in tables.values():
    table["setup"] = table["n_classes"].map(task_names)
curves = tables["curves"]
print(f"{len(summary)} runs in {time.perf_counter() - grid_started:.0f} s")

# %% [markdown]
# ## Accuracy and training
#
# Test accuracy per instance and per token, the recall of every class, the best epoch (the one
# early stopping restored) and the time to train and trace one model on one thread.

# %%
by = ["setup", "level"]
recalls = sorted(name for name in summary.columns if name.startswith("recall_"))
stats.interval_table(
    summary, by, ["instance_accuracy", "token_accuracy", *recalls, "best_epoch", "fit_seconds"],
    digits={"best_epoch": 0, "fit_seconds": 2}, bounds={"best_epoch": (0, settings["epochs"])})

# %% [markdown]
# ## The metrics
#
# Per class $c$, with start cloud $S$ (standardized training tokens) and end cloud $E$ (the
# last block's output at the best epoch), the thesis defines
# ({func}`otcompanion.metrics.thesis_metrics`):
#
# - the *transformer distance* $TD = \sum_c \big(\sum_i \lVert S_i - E_i\rVert^2\big)^{1/2}$,
#   the cost of the map the network chose, each token with its own image;
# - the *Wasserstein distance* $W = \sum_c \big(\min_\sigma \sum_i \lVert S_i -
#   E_{\sigma(i)}\rVert^2\big)^{1/2}$, the cost of the optimal assignment between the same clouds;
# - *optimality* $W / TD \in (0, 1]$ and the thesis's *Monge gap* $TD - W \ge 0$;
# - *matching*, the share of tokens that the optimal assignment sends to their own image;
# - the *step cost*, the total length of the token paths over all epochs, and
#   *efficiency* $= TD / \text{step cost}$.
#
# Efficiency mixes a root of a sum of squares with a plain sum: straight paths of equal length
# give $\sum_c \sqrt{n_c} / n$, not 1 ({func}`otcompanion.metrics.equal_length_efficiency`).
# The book therefore also reports two scale-consistent measures of the path, both equal to 1
# for a direct path: *straightness*, the tokens' net displacement over their path length, and
# the *W2 path efficiency*, $W_2(\mu_0, \mu_{e^\star}) / \sum_e W_2(\mu_e, \mu_{e+1})$ per
# class, which only looks at the class distributions, not at which token is which.

# %%
metric_columns = list(experiments.TRAJECTORY_METRICS)
digits = {name: 3 for name in metric_columns} | {"transformer_distance": 1, "wasserstein": 1,
                                                 "step_cost": 0}
stats.interval_table(summary, by, metric_columns, digits=digits)

# %% tags=["remove-input"]
shown = ["optimality", "matching", "monge_gap", "efficiency", "straightness",
         "w2_path_efficiency", "instance_accuracy", "best_epoch"]
references = {"optimality": 1.0, "matching": 1.0, "straightness": 1.0,
              "w2_path_efficiency": 1.0}
if 2 in tasks:
    references["efficiency"] = float(
        summary.loc[summary["n_classes"] == 2, "equal_length_efficiency"].mean())
grid = plots.metric_panels(summary, "level", shown, hue="setup", references=references)
chapter.glue_figure("fig-metrics-by-level", grid.figure)

# %% [markdown]
# ```{glue:figure} fig-metrics-by-level
# :name: fig-metrics-by-level
# :alt: Eight panels, one per metric, plotting its mean over the runs against the difficulty level for the two- and three-class setups, with shaded 95 % intervals.
#
# The thesis's metrics and this book's path measures against the level, one line per setup
# (bands: 95 % confidence intervals of the mean over the repetitions). Dotted lines: the value of
# an optimal map (1) and, for the thesis's efficiency, the value of straight equal-length paths
# for two classes.
# ```
#
# {numref}`fig-metrics-by-level` shows the same numbers as the table, level by level.
#
# ## Claim 1: is the final mapping the optimal coupling?
#
# The map the network chose is optimal exactly when the identity assignment is an optimal
# assignment: optimality 1 and Monge gap 0. Matching asks more: that the optimal assignment is
# the network's own map, token by token. What a value near 1 means depends on what other maps
# would score on the same clouds, so every run also measures five maps side by side
# ({func}`otcompanion.experiments.reference_maps`): the trained map; the untrained network's
# map; the map after one epoch; every instance moved by its own random vector; and a random
# smooth deformation, the last two as far on average as the trained map; and a sixth, described
# below, that keeps each class's mean move. Next to the thesis's
# quantities stands the Monge gap of {cite:t}`uscidda2023monge`, the mean squared cost of the
# map minus that of the optimal assignment ({func}`otcompanion.metrics.map_metrics`), which is
# 0 exactly for an optimal map.

# %%
reference_table = tables["references"]
stats.interval_table(reference_table, ["setup", "map"],
                     ["optimality", "matching", "uc_monge_gap", "mean_displacement"])

# %% [markdown]
# ### What is not a translation
#
# A near-1 optimality can come from a shared move. Split the map of each class $c$ into its mean
# move $t_c$ and a residual $R(x) = T(x) - t_c$. The optimal assignment of the squared cost does
# not change when a cloud is translated, so $W_c^2$ and $TD_c^2$ both contain the same term
# $n_c \lVert t_c \rVert^2$, and $W_c \ge \sqrt{n_c}\,\lVert t_c \rVert$: a large shared move
# pushes the optimality towards 1 whatever the residual does. The *residual optimality* removes
# that term from both (the same ratio for the map $x \mapsto R(x)$), the *translation share* is
# the part of the squared displacement that the class moves explain, and the Monge gap of
# {cite:t}`uscidda2023monge` is unchanged by the translations, so it measures the residual
# already ({func}`otcompanion.metrics.map_metrics`). The sixth null map keeps each class's
# move $t_c$ of the trained map and draws a random residual of the same mean length; it can
# reach the trained map's optimality, which random instance translations cannot.
#
# Two features per token are a special case for the thesis's block: LayerNorm over two
# features has only two possible outputs, and its Jacobian at the tokens it receives is almost
# 0 ({func}`otcompanion.attention.layer_norm_jacobians`). The runs below repeat the
# {glue:md}`c1-dimension-setup` setup with the same class means padded with zeros to
# $d$ = {glue:md}`c1-dimension-list` features ({func}`otcompanion.data.thesis_setup`), where
# the block can do more than translate each class.

# %% tags=["remove-stderr"]
dimension_frames = []
for n_features in dimensions:
    runs_d, tables_d = experiments.transformer_grid(
        [dimension_task], [dimension_level], settings["n_repetitions"], seed=seed,
        scheduler=scheduler, epochs=settings["epochs"], n_blocks=settings["n_blocks"],
        n_heads=n_heads, curve_points=0, trajectory_start=trajectory_start,
        n_features=n_features, progress=False)
    dimension_frames.append((runs_d, tables_d["references"]))
dimension_name = f"{task_names[dimension_task]}, level {dimension_level}"
in_grid = (summary["n_classes"] == dimension_task) & (summary["level"] == dimension_level)
by_dimension = pd.concat([summary[in_grid]] + [runs_d for runs_d, _ in dimension_frames],
                         ignore_index=True)
by_dimension["d"] = by_dimension["n_features"]
by_dimension["class translation"] = by_dimension["residual_optimality"].isna().astype(float)
stats.interval_table(by_dimension, ["d"], [
    "optimality", "residual_optimality", "translation_share", "uc_monge_gap", "matching",
    "class translation", "layer_norm_jacobian", "instance_accuracy"],
    digits={"optimality": 4, "layer_norm_jacobian": 6})

# %% tags=["remove-input"]
claim_one_runs = pd.concat([summary] + [
    runs_d.assign(setup=f"{dimension_name}, d = {n_features}")
    for n_features, (runs_d, _) in zip(dimensions, dimension_frames)], ignore_index=True)
claim_one_references = pd.concat([reference_table] + [
    references_d.assign(setup=f"{dimension_name}, d = {n_features}")
    for n_features, (_, references_d) in zip(dimensions, dimension_frames)], ignore_index=True)
jacobians = by_dimension.groupby("d")["layer_norm_jacobian"]
chapter.glue("c1-dimension-setup", dimension_name)
chapter.glue("c1-dimension-list", prose.word_list(dimensions))
two_features = by_dimension.loc[by_dimension["d"] == 2, "layer_norm_jacobian"]
mean, low, high, n = stats.bootstrap_interval(two_features, bounds=(0.0, np.inf))
chapter.glue("c1-jacobian-two", stats.format_interval(mean, low, high, 2, n=n, notation="g"))
chapter.glue("c1-jacobian-higher", stats.interval_text(
    by_dimension.loc[by_dimension["d"] == min(dimensions), "layer_norm_jacobian"]))
chapter.glue("c1-lowest-d", min(dimensions))
chapter.glue("c1-translation-runs", float(100 * summary["residual_optimality"].isna().mean()))
chapter.glue("c1-translation-share", stats.interval_text(summary["translation_share"], digits=4))
chapter.glue("c1-residual", stats.interval_text(summary["residual_optimality"].dropna()))
chapter.glue("c1-residual-runs", int(summary["residual_optimality"].notna().sum()))
residual_by_d = {n_features: stats.interval_text(
    by_dimension.loc[by_dimension["d"] == n_features, "residual_optimality"].dropna())
    for n_features in dimensions}
chapter.glue("c1-residual-higher", prose.word_list(
    [f"{text} at *d* = {n_features}" for n_features, text in residual_by_d.items()]))
null_residual = claim_one_references.loc[
    claim_one_references["map"] == "class translations, random residual"]
chapter.glue("c1-null-residual", stats.interval_text(
    null_residual.loc[null_residual["setup"].str.contains("d = "), "residual_optimality"]
    .dropna()))

# %% [markdown]
# With two features the median spectral norm of the LayerNorm Jacobian (the largest over the
# four LayerNorms of a run) is {glue:md}`c1-jacobian-two`; with {glue:text}`c1-lowest-d`
# features it is {glue:md}`c1-jacobian-higher`. Over the whole grid, class translations explain
# {glue:md}`c1-translation-share` of the squared displacement, and in
# {glue:text}`c1-translation-runs:.0f` % of the runs the map is a translation of each class up
# to rounding (column *class translation* above, as a share of runs). In the other
# {glue:text}`c1-residual-runs` runs the residual optimality is {glue:md}`c1-residual`; with
# more features it is {glue:md}`c1-residual-higher`, against {glue:md}`c1-null-residual` for a
# random residual of the same size on the same runs. The verdict below therefore also asks
# whether the trained map beats the null map that keeps its class moves, in every setup,
# including the runs with more features.

# %% tags=["remove-input"]
claim_one = experiments.final_map_reading(claim_one_runs, claim_one_references)
claim_one_halves = stats.split_half_verdicts(
    lambda *frames: experiments.final_map_reading(*frames)["verdict"], claim_one_runs,
    claim_one_references)
versus, lowest_bound, beats_null, claim_one_verdict = (
    claim_one[key] for key in ("versus", "lowest_bound", "beats_null", "verdict"))
optimality_text = stats.interval_text(summary["optimality"], digits=4)
matching_text = stats.interval_text(summary["matching"])
null_maps = {key: stats.interval_text(reference_table.loc[reference_table["map"] == name,
                                                          "optimality"], digits=4)
             for key, name in (("translations", "random instance translations"),
                               ("deformation", "random smooth deformation"),
                               ("untrained", "untrained network"),
                               ("class-moves", "class translations, random residual"))}
chapter.glue("c1-optimality", optimality_text)
chapter.glue("c1-runs", len(summary))
chapter.glue("c1-lowest-bound", float(lowest_bound))
chapter.glue("c1-matching", matching_text)
chapter.glue("c1-share-exact", float(100 * np.mean(summary["matching"] >= 0.999)))
for key, text in null_maps.items():
    chapter.glue(f"c1-{key}", text)
chapter.glue("c1-verdict", claim_one_verdict)
chapter.glue("c1-beats", prose.beats_translations(beats_null))

# %% [markdown]
# Over all {glue:text}`c1-runs` runs the trained map's optimality is
# {glue:md}`c1-optimality` and the lowest lower bound of a setup's interval is
# {glue:text}`c1-lowest-bound:.4f`; matching is {glue:md}`c1-matching`, and in
# {glue:text}`c1-share-exact:.0f` % of the runs every token is its own optimal partner. The
# null maps put these values in perspective: random instance translations of the same size
# reach optimality {glue:md}`c1-translations`, a random smooth deformation
# {glue:md}`c1-deformation`, the untrained network {glue:md}`c1-untrained`, and the trained
# map's class moves with a random residual {glue:md}`c1-class-moves`. Paired run by run, the
# trained map's optimality is {glue:md}`c1-beats` that of the class moves with a random
# residual in every setup, the runs with more features included (table below). Verdict on
# claim 1: **{glue:md}`c1-verdict`** (the rule: *supported* when the optimality interval of
# every setup lies above 0.99 and the trained map beats the class moves with a random residual
# in every setup; *partly supported* when only the first holds, or when some setups' intervals
# lie above 0.99 and others do not; *not supported* when none does and at least one lies
# wholly below; *inconclusive* when the intervals contain 0.99).

# %%
versus.round(4)

# %% [markdown]
# Read with {doc}`01_attention_tracing` in mind: with two features per token, every sublayer of
# the thesis's model adds to each token one of two fixed vectors, and all tokens of an instance
# get the same ones. A class whose instances all receive the same vectors is *translated*, and a
# translation is an optimal transport map. Is that finding of chapter 01 general? The table
# counts, at the best epoch of every run, the distinct moves of each sublayer
# ({meth}`otcompanion.attention.Trace.sublayer_moves`).

# %%
sublayers = tables["sublayers"]
sublayer_table = stats.interval_table(
    sublayers, ["setup", "sublayer"],
    ["distinct moves", "most distinct moves in one instance", "mean move length"],
    digits={"distinct moves": 1, "most distinct moves in one instance": 1})
sublayer_table

# %% tags=["remove-input"]
per_run = sublayers.groupby(["n_classes", "level", "repetition"])["distinct moves"].max()
chapter.glue("c1-two-moves", float(100 * np.mean(per_run <= 2)))
chapter.glue("c1-most-moves", int(per_run.max()))

# %% [markdown]
# In {glue:text}`c1-two-moves:.0f` % of the runs no sublayer makes more than two distinct
# moves; the most any sublayer makes in one run is {glue:text}`c1-most-moves`. Where a
# sublayer splits a class into more pieces translated differently, the optimal assignment can
# swap tokens between pieces: that is where optimality and matching fall below 1.
#
# ## Claim 2: is the trajectory efficient?

# %%
claim_two = summary.assign(
    efficiency_ratio=summary["efficiency"] / summary["equal_length_efficiency"])
stats.interval_table(claim_two, ["setup"],
                     ["efficiency_ratio", "straightness", "w2_path_efficiency",
                      "plateau_epoch", "best_epoch", "path_after_plateau"],
                     digits={"plateau_epoch": 0, "best_epoch": 0},
                     bounds={name: (0, settings["epochs"]) for name in ("plateau_epoch",
                                                                        "best_epoch")})

# %% tags=["remove-input"]
trajectory_claim = experiments.trajectory_reading(summary)
upper, claim_two_verdict = trajectory_claim["upper"], trajectory_claim["verdict"]
claim_two_halves = stats.split_half_verdicts(
    lambda frame: experiments.trajectory_reading(frame)["verdict"], summary)
straightness_text = stats.interval_text(summary["straightness"])
w2_text = stats.interval_text(summary["w2_path_efficiency"])
after_text = stats.interval_text(100 * summary["path_after_plateau"], digits=0)
chapter.glue("c2-ratio", stats.interval_text(claim_two["efficiency_ratio"], digits=2))
chapter.glue("c2-straightness", straightness_text)
chapter.glue("c2-w2", w2_text)
chapter.glue("c2-upper", float(upper))
chapter.glue("c2-after", after_text)
chapter.glue("c2-verdict", claim_two_verdict)

# %% [markdown]
# The thesis's efficiency is {glue:md}`c2-ratio` times the value that straight paths of equal
# length would give (column `efficiency_ratio`), so its raw value is no evidence by itself. The
# scale-consistent measures agree that the paths are far from direct: straightness is
# {glue:md}`c2-straightness` and the W2 path efficiency {glue:md}`c2-w2`; no setup's upper
# bound exceeds {glue:text}`c2-upper:.3f`. Most of the path comes after the validation
# accuracy has reached its best value (`plateau_epoch`): {glue:md}`c2-after` % of the path
# length is travelled after it. Verdict on claim 2 in this grid: **{glue:md}`c2-verdict`**
# (the rule: *supported* when no setup's upper bound of straightness or W2 path efficiency
# reaches 0.5, *partly supported* below 0.9, *not supported* otherwise).
#
# Why so indirect? {numref}`fig-metric-curves` follows the metrics of the trajectory *up to
# epoch $e$*. Straightness is 1 after one epoch by definition (a single step is straight);
# every later step that does not continue in the same direction lowers it. Optimality and
# matching only compare the end points, so they can rise while the path measures fall. Runs
# stop at their own best epoch, so the points near the right end average fewer runs.

# %% tags=["remove-input"]
on_grid = curves[curves["on_grid"]].copy()
on_grid["setup, level"] = on_grid["setup"] + ", level " + on_grid["level"].astype(str)
grid = plots.metric_panels(on_grid, "epoch",
                           ["optimality", "matching", "straightness", "w2_path_efficiency",
                            "efficiency", "step_cost"],
                           hue="setup, level", errorbar=None, col_wrap=3)
chapter.glue_figure("fig-metric-curves", grid.figure)

# %% [markdown]
# ```{glue:figure} fig-metric-curves
# :name: fig-metric-curves
# :alt: Six panels of metric curves against the training epoch, one line per setup and level: optimality and matching stay near one while straightness and W2 path efficiency fall and the step cost grows.
#
# The metrics of the trajectory up to each epoch, averaged over the repetitions of every setup
# and level (no bands, for legibility).
# ```
#
# ### The thesis code's indexing
#
# The thesis's tracing callback stored the output after keras epoch $e$ (counted from 0) at list
# position $e + 1$, overwriting the inputs stored there, and kept the positions up to the
# 0-based best epoch: its trajectories most likely start *after the first epoch* and end *one
# epoch before* the restored weights ({meth}`otcompanion.attention.Trace.trajectory_from`).
# This book starts at the inputs (parameter `trajectory_start`). Every run measures both;
# the table gives the paired difference, thesis indexing minus this book's.

# %%
starts = tables["starts"]
indexing = stats.paired_differences(
    starts, ["setup"], ["level", "repetition"], "start", "first_epoch", "input",
    ["optimality", "matching", "efficiency", "straightness"])
indexing.round(4)

# %% tags=["remove-input"]
moved = indexing.set_index(["setup", "quantity"])
largest = moved["difference"].abs().groupby("quantity").max()
chapter.glue("idx-straightness", float(largest.get("straightness", np.nan)))
chapter.glue("idx-optimality", float(largest.get("optimality", np.nan)))
chapter.glue("idx-matching", float(largest.get("matching", np.nan)))

# %% [markdown]
# The indexing moves the mean optimality by at most {glue:text}`idx-optimality:.4f`, matching
# by at most {glue:text}`idx-matching:.3f` and straightness by at most
# {glue:text}`idx-straightness:.3f` in any setup: the first epoch's large step counts in this
# book's paths and not in the thesis's.
#
# ### Is the inefficiency the optimizer's?
#
# The thesis trains with RMSprop at learning rate $10^{-2}$, full batch. If the long paths were
# a property of self-attention, other optimizers and step sizes would trace them too; if they
# are the optimizer's, they would change with it. The ablation below retrains the
# {glue:md}`ab-setup` setup with RMSprop, Adam and plain gradient descent at every learning
# rate of `ablation_lrs` (the runs with RMSprop at $10^{-2}$ are the grid's own).

# %% tags=["remove-stderr"]
ablation_jobs = [dict(n_classes=ablation_task, level=ablation_level, repetition=r, seed=seed,
                      epochs=settings["epochs"], n_blocks=settings["n_blocks"],
                      n_heads=n_heads, curve_points=curve_points,
                      trajectory_start=trajectory_start, optimizer=optimizer, lr=float(lr))
                 for optimizer in ("rmsprop", "adam", "sgd") for lr in ablation_lrs
                 for r in range(ablation_repetitions)]
ablation = pd.DataFrame([record["summary"] for record in engine.run_jobs(
    experiments.traced_run, ablation_jobs, scheduler=scheduler, description="ablation")])
ablation["lr"] = ablation["lr"].map(lambda lr: f"{lr:g}")
stats.interval_table(ablation, ["optimizer", "lr"],
                     ["instance_accuracy", "best_epoch", "straightness", "w2_path_efficiency",
                      "path_after_plateau"], digits={"best_epoch": 0},
                     bounds={"best_epoch": (0, settings["epochs"])})

# %% tags=["remove-input"]
chapter.glue("ab-setup", prose.setup_at_level(chapter.TASK_NAMES[ablation_task],
                                              ablation_level))
reading = experiments.optimizer_ablation_reading(ablation, seed=seed)
chapter.glue("ab-best", prose.optimizer_setting(*reading["best"]) if reading["best"] else "none")
chapter.glue("ab-best-straightness", stats.interval_text(reading["best_values"]))
chapter.glue("ab-thesis-straightness", stats.interval_text(reading["thesis_values"]))
chapter.glue("ab-runs", int(ablation_repetitions))
chapter.glue("ab-settings", reading["settings"])
chapter.glue("ab-reading", prose.ablation_reading(reading["straighter"]))
chapter.glue("ab-highest", reading["highest"])
chapter.glue("ab-overall", prose.ablation_overall(reading["highest"]))

# %% [markdown]
# Among the {glue:text}`ab-settings` settings whose runs reach at least 90 % test accuracy on
# average, the straightest paths come from {glue:md}`ab-best` (straightness
# {glue:md}`ab-best-straightness`, against {glue:md}`ab-thesis-straightness` for the thesis's
# RMSprop at $10^{-2}$; {glue:text}`ab-runs` runs per setting): {glue:md}`ab-reading` (each
# setting against the thesis's, paired by repetition, the family's intervals at Holm-adjusted
# levels; {func}`otcompanion.experiments.optimizer_ablation_reading`). The highest upper bound
# of straightness over these settings, from simultaneous intervals (each at the Bonferroni
# level $1 - 0.05/m$ for $m$ settings), is {glue:text}`ab-highest:.3f`: {glue:md}`ab-overall`.

# %% [markdown]
# ## How long the thesis scale takes
#
# The thesis ran 100 repetitions of every setup. The estimate below uses the per-run time
# measured in this chapter (training and metrics) and assumes the same machine and scheduler.

# %%
per_run = summary["runs time (s)"].mean()
workers = engine.worker_count(scheduler) or 1  # a Dask cluster: estimate per worker
thesis_runs = 2 * 4 * experiments.PROFILES["thesis"]["n_repetitions"]
pd.DataFrame([{
    "measured runs": len(summary), "mean time per run (s)": per_run, "workers": workers,
    "thesis-profile runs": thesis_runs,
    "estimated thesis-profile time (min)": thesis_runs * per_run / workers / 60,
}]).round(2)

# %% [markdown]
# To run it: `otcompanion run 02_ot_metrics -p profile thesis -o thesis.ipynb` (all cores of this machine),
# or on a Dask cluster `-p scheduler tcp://HOST:8786` ({doc}`../rerunning`).
#
# ## Summary
#
# ```{glue:md} chapter-findings
# :format: myst
# ```
#
# ## Exercises
#
# ```{exercise}
# :label: metrics-efficiency-scale
#
# The thesis's efficiency depends on the number of tokens even for perfectly straight paths.
# Take the start cloud of a two-class setup, move every token by a straight path of the same
# length in a random direction, and compute the thesis's efficiency and the straightness for
# three numbers of tokens per instance of your own,
# `sizes = np.sort(np.random.default_rng(seed).choice(np.arange(5, 61), 3, replace=False))`.
# Which of the two measures could compare runs on data of different sizes? Draw the directions
# with `rng = np.random.default_rng(seed + 1)` and `rng.normal(size=X_train.shape)` (normalized
# to unit length) for the sizes in this order, on
# `data.thesis_split(2, 2, n_tokens=n_tokens, seed=seed)`, and store a table
# `efficiency_scale` with one row per size and the columns `"tokens per instance"`,
# `"efficiency"` and `"straightness"`.
# ```
#
# ```{solution-start} metrics-efficiency-scale
# :class: dropdown
# ```

# %%
from otcompanion import data

sizes = np.sort(np.random.default_rng(seed).choice(np.arange(5, 61), 3, replace=False))
rng = np.random.default_rng(seed + 1)
rows = []
for n_tokens in sizes:
    X_train, _, y_train, _ = data.thesis_split(2, 2, n_tokens=n_tokens, seed=seed)
    directions = rng.normal(size=X_train.shape)
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    path = [X_train + s * directions for s in np.linspace(0, 1, 11)]
    rows.append({"tokens per instance": n_tokens,
                 "efficiency": metrics.thesis_metrics(path, y_train)["efficiency"],
                 "equal-length value": metrics.equal_length_efficiency(y_train, n_tokens),
                 "straightness": metrics.straightness(path)})
efficiency_scale = pd.DataFrame(rows)
efficiency_scale.round(4)


# %% tags=["remove-cell", "check"]
def check_efficiency_scale(env, efficiency_scale):
    """Sizes drawn from the assigned seed (exact) and efficiencies against
    otcompanion.metrics.equal_length_efficiency of that seed's labels (rtol 1e-9)."""
    import numpy as np

    from otcompanion import classroom, data, metrics
    seed = classroom.assigned_parameters(env)["seed"]
    sizes = np.sort(np.random.default_rng(seed).choice(np.arange(5, 61), 3, replace=False))
    classroom.assert_close("efficiency_scale['tokens per instance']", classroom.answer_column(
        "efficiency_scale", efficiency_scale, "tokens per instance", 3), sizes)
    expected = []
    for n_tokens in sizes:
        _, _, y_train, _ = data.thesis_split(2, 2, n_tokens=int(n_tokens), seed=seed)
        expected.append(metrics.equal_length_efficiency(y_train, int(n_tokens)))
    actual = classroom.answer_column("efficiency_scale", efficiency_scale, "efficiency", 3)
    classroom.assert_close("efficiency_scale['efficiency']", actual, expected, rtol=1e-9)


from otcompanion import classroom

classroom.run_check(check_efficiency_scale, globals())

# %% [markdown]
# The efficiency of straight paths shrinks like $1/\sqrt{n}$ and equals the equal-length value;
# straightness is 1 for every size. Only straightness (or the W2 path efficiency) compares
# runs of different sizes.
#
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: metrics-instance-w2
#
# The exact transport between two instances is a permutation of their tokens. On the training
# split `data.thesis_split(tasks[0], levels[0], seed=seed)`, match the tokens of the first two
# training instances with {func}`~otcompanion.ot_solvers.exact_ot_assignment` and store their
# $W_2$ distance, $\sqrt{\text{cost} / T}$, in `instance_w2`. Are the two instances of the same
# class, and how does the distance compare with the class separation $2L$?
# ```
#
# ```{solution-start} metrics-instance-w2
# :class: dropdown
# ```

# %% tags=["remove-input"]
X_pair, _, y_pair, _ = data.thesis_split(tasks[0], levels[0], seed=seed)
assignment, cost = metrics.exact_ot_assignment(X_pair[0], X_pair[1])
instance_w2 = float(np.sqrt(cost / X_pair.shape[1]))
chapter.glue("ex-pair-classes", prose.pair_classes(y_pair[0], y_pair[1]))
chapter.glue("ex-pair-w2", instance_w2)
chapter.glue("ex-pair-separation", float(2 * levels[0]))
instance_w2


# %% tags=["remove-cell", "check"]
def check_instance_w2(env, instance_w2):
    """W2 of the first two training instances against otcompanion.ot_solvers.exact_ot_assignment
    for the assigned parameters (rtol 1e-9)."""
    import numpy as np

    from otcompanion import classroom, data, metrics
    p = classroom.assigned_parameters(env)
    X, _, _, _ = data.thesis_split(p["tasks"][0], p["levels"][0], seed=p["seed"])
    _, cost = metrics.exact_ot_assignment(X[0], X[1])
    classroom.assert_close("instance_w2", instance_w2, np.sqrt(cost / X.shape[1]), rtol=1e-9)


classroom.run_check(check_instance_w2, globals())

# %% [markdown]
# The two instances are of classes {glue:md}`ex-pair-classes`; their $W_2$ distance is
# {glue:text}`ex-pair-w2:.3f`, against $2L =$ {glue:text}`ex-pair-separation:.0f` between the
# class distributions. A sample of a few tokens is far from its distribution, so even two
# instances of one class are at a positive distance.
#
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: metrics-accuracy-optimality
#
# Is a more optimal map a better classifier? Use the `summary` table of this chapter to relate,
# run by run, the optimality and the matching with the test accuracy.
# ```
#
# ```{solution-start} metrics-accuracy-optimality
# :class: dropdown
# ```

# %% tags=["remove-input"]
within = []
for (setup, level), runs_of_setup in summary.groupby(["setup", "level"]):
    if runs_of_setup[["instance_accuracy", "optimality"]].nunique().min() > 1:
        within.append({"setup": setup, "level": level, "rank correlation":
                       runs_of_setup[["optimality", "instance_accuracy"]].corr(
                           method="spearman").iloc[0, 1]})
within = pd.DataFrame(within, columns=["setup", "level", "rank correlation"])
chapter.glue("ex-groups", prose.share_of(len(within),
                                         summary.groupby(["setup", "level"]).ngroups))
chapter.glue("ex-correlation", prose.rank_correlation(within["rank correlation"]))
within.round(3)

# %% [markdown]
# Within a setup and level (so that the difficulty does not drive both quantities), accuracy
# and optimality both vary in {glue:md}`ex-groups` groups; there, the rank correlation
# between them averages {glue:md}`ex-correlation` (mean over groups with its 95 % interval).
# An interval that contains 0 means the runs do not relate a more optimal map to a better
# classifier.
#
# ```{solution-end}
# ```

# %% tags=["remove-cell"]
grid_setup = prose.grid_setup([task_names[k] for k in tasks], levels)
chapter.publish([
    claims.finding("final map", claim_one_verdict,
                   prose.final_map_evidence(optimality_text, len(summary), lowest_bound,
                                            matching_text, null_maps["class-moves"],
                                            stats.interval_text(
                                                summary["residual_optimality"].dropna())),
                   setup=grid_setup, halves=claim_one_halves,
                   key=f"optimality {optimality_text}; lowest setup lower bound "
                       f"{stats.format_value(lowest_bound, 4)}"),
    claims.finding("trajectory", claim_two_verdict,
                   prose.trajectory_evidence(straightness_text, w2_text, len(summary),
                                             after_text),
                   setup=grid_setup, halves=claim_two_halves,
                   key=f"straightness {straightness_text}; W2 path efficiency {w2_text}"),
])

# %% [markdown]
# ## Provenance

# %% [raw] tags=["remove-cell", "assignment-parameters"]
# tasks: [2]
# levels: [2]
# n_repetitions: 1
# epochs: 10
# scheduler: "1"
# curve_points: 5
# ablation_repetitions: 1
# ablation_lrs: [0.01]

# %% tags=["provenance"]
chapter.provenance(globals() | settings)  # the profile's values of the grid settings
