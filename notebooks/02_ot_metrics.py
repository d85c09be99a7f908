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

# %% tags=["parameters"]
profile: str = "book"  # grid size: "book" (3 repetitions) or "thesis" (100 repetitions)
tasks: list[int] = [2, 3]  # numbers of classes (2 and/or 3)
levels: list[int] = [1, 2, 3, 4]  # difficulty levels, 1 (closest classes) to 4
n_repetitions: int = 0  # runs per setup; 0 means the profile's value
epochs: int = 0  # training epochs; 0 means the profile's value (200)
n_blocks: int = 0  # encoder blocks; 0 means the profile's value (2)
n_heads: int = 10  # attention heads per block (thesis: 10)
seed: int = 0  # chapter seed; every run derives its own seed from it
scheduler: str = "local"  # "local" (all cores), a number of worker processes, or a Dask address "tcp://host:8786"; results do not depend on it
curve_points: int = 20  # epochs at which the metric-versus-epoch curves are evaluated

# %%
import time

started = time.perf_counter()

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from otcompanion import engine, experiments, metrics, plots
from otcompanion.provenance import provenance

plots.use_book_style()
settings = experiments.resolve_profile(profile, n_repetitions=n_repetitions or None,
                                       epochs=epochs or None, n_blocks=n_blocks or None)
task_names = {2: "2 classes", 3: "3 classes"}
pd.DataFrame([settings | {"n_heads": n_heads, "tasks": tasks, "levels": levels,
                          "runs": len(tasks) * len(levels) * settings["n_repetitions"]}])

# %% [markdown]
# ## The runs
#
# Every run draws fresh data for its setup (90 instances of 20 tokens, half for training),
# initializes a fresh model and trains it with the thesis protocol of
# {doc}`01_attention_tracing`; its seed is derived from the chapter seed and the run's task,
# level and repetition ({func}`otcompanion.experiments.run_seed`), so a run gives the same
# numbers whatever else is in the grid and however many processes share the work. Each
# trajectory, from the standardized training tokens to the last block's output at the best
# epoch, is then measured ({func}`otcompanion.metrics.metric_curves`).

# %% tags=["remove-stderr"]
summary, curves = experiments.transformer_grid(
    tasks, levels, settings["n_repetitions"], seed=seed, scheduler=scheduler,
    epochs=settings["epochs"], n_blocks=settings["n_blocks"], n_heads=n_heads,
    curve_points=curve_points)
summary["setup"] = summary["n_classes"].map(task_names)
summary["runs time (s)"] = summary["fit_seconds"] + summary["metrics_seconds"]
print(f"{len(summary)} runs in {time.perf_counter() - started:.0f} s")

# %% [markdown]
# ## Accuracy and training
#
# Mean ± standard deviation over the repetitions of each setup: test accuracy per instance and
# per token, the best epoch (the one early stopping restored) and the time to train and trace
# one model on one thread.

# %%
by = ["setup", "level"]
experiments.mean_sd_table(
    summary, by, ["instance_accuracy", "token_accuracy", "best_epoch", "fit_seconds"],
    digits={"instance_accuracy": 3, "token_accuracy": 3, "best_epoch": 0, "fit_seconds": 2})

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
# give $\sum_c \sqrt{n_c} / n$, not 1 ({func}`otcompanion.metrics.equal_length_efficiency`;
# its value for every setup is the `equal_length_value` column further down). The book therefore also reports
# two scale-consistent measures of the path, both equal to 1 for a direct path:
# *straightness*, the tokens' net displacement over their path length, and the *W2 path
# efficiency*, $W_2(\mu_0, \mu_{e^\star}) / \sum_e W_2(\mu_e, \mu_{e+1})$ per class, which only
# looks at the class distributions, not at which token is which.

# %%
metric_columns = list(experiments.TRAJECTORY_METRICS)
digits = {name: 3 for name in metric_columns} | {"transformer_distance": 1, "wasserstein": 1,
                                                 "monge_gap": 3, "step_cost": 0}
experiments.mean_sd_table(summary, by, metric_columns, digits=digits)

# %% [markdown]
# The same numbers as a function of the level (the bands are ± one standard deviation over
# repetitions). The dotted line in the efficiency panel is the equal-length value of the
# thesis's efficiency for two classes; for three classes it is slightly higher.

# %%
shown = ["optimality", "matching", "monge_gap", "efficiency", "straightness",
         "w2_path_efficiency", "instance_accuracy", "best_epoch"]
references = {"optimality": 1.0, "matching": 1.0, "straightness": 1.0,
              "w2_path_efficiency": 1.0}
if 2 in tasks:
    references["efficiency"] = float(
        summary.loc[summary["n_classes"] == 2, "equal_length_efficiency"].mean())
plots.metric_panels(summary, "level", shown, hue="setup", references=references)
plt.show()

# %% [markdown]
# ## Claim 1: is the final mapping the optimal coupling?
#
# The map the network chose is optimal exactly when the identity assignment is an optimal
# assignment, i.e. optimality is 1 and the Monge gap is 0. Matching asks more: that the optimal
# assignment is (nearly) unique and equal to the identity. The summary below is computed from
# the runs above.

# %%
def share(mask):
    return f"{100 * np.mean(mask):.0f} %"


optimal_threshold = 0.99
claim_one = summary.groupby("setup").agg(
    runs=("optimality", "size"),
    mean_optimality=("optimality", "mean"),
    min_optimality=("optimality", "min"),
    mean_matching=("matching", "mean"),
    min_matching=("matching", "min"),
)
claim_one[f"runs with optimality >= {optimal_threshold}"] = (
    summary.groupby("setup")["optimality"].apply(lambda x: share(x >= optimal_threshold)))
level_trend = summary.groupby("setup")[["level", "optimality", "matching"]].corr(
    method="spearman").xs("level", level=1)[["optimality", "matching"]].rename(
    columns=lambda name: f"rank correlation of {name} with level")
claim_one.join(level_trend).round(3)

# %%
near = summary["optimality"] >= optimal_threshold
exact_matching = summary["matching"] >= 0.999
display(Markdown(
    f"Across all {len(summary)} runs, optimality averages {summary['optimality'].mean():.4f} "
    f"(lowest {summary['optimality'].min():.4f}); {share(near)} of the runs have optimality of "
    f"at least {optimal_threshold}, and in {share(exact_matching)} of the runs the optimal "
    f"assignment sends every token to its own image (matching 1). The mean matching is "
    f"{summary['matching'].mean():.3f}, lowest {summary['matching'].min():.3f}."
))

# %% [markdown]
# Read with {doc}`01_attention_tracing` in mind: with two features per token, every sublayer of
# the thesis's model adds to each token one of two fixed vectors, and all tokens of an instance
# get the same ones. A class whose instances all receive the same vectors is *translated*, and a
# translation is an optimal transport map (optimality 1, matching 1). Optimality falls below 1
# and matching below 1 when the instances of one class are moved by different vectors, so that
# the class cloud is split into translated pieces; the optimal assignment can then swap tokens
# between pieces. Matching is the more sensitive of the two: many tokens can swap partners
# while $W$ barely changes, because pieces translated by similar vectors overlap. The rank correlations say whether these
# departures from optimality grow or shrink with the separation of the classes in this grid.
#
# ## Claim 2: is the trajectory efficient?

# %%
claim_two = summary.groupby("setup").agg(
    efficiency=("efficiency", "mean"),
    equal_length_value=("equal_length_efficiency", "mean"),
    straightness=("straightness", "mean"),
    w2_path_efficiency=("w2_path_efficiency", "mean"),
    mean_best_epoch=("best_epoch", "mean"),
)
claim_two["efficiency / equal-length value"] = (claim_two["efficiency"]
                                                / claim_two["equal_length_value"])
claim_two.round(4)

# %%
display(Markdown(
    f"The thesis's efficiency averages {summary['efficiency'].mean():.4f}, which is "
    f"{(summary['efficiency'] / summary['equal_length_efficiency']).mean():.2f} times the value "
    f"that perfectly straight paths of equal length would give. The scale-consistent measures "
    f"agree that the paths are far from direct: the tokens' paths are on average "
    f"{1 / summary['straightness'].mean():.1f} times longer than their net displacement "
    f"(straightness {summary['straightness'].mean():.3f}), and the class distributions travel "
    f"{1 / summary['w2_path_efficiency'].mean():.1f} times the Wasserstein distance between "
    f"their first and last position (W2 path efficiency "
    f"{summary['w2_path_efficiency'].mean():.3f})."
))

# %% [markdown]
# Why so indirect? The curves below show how the metrics of the trajectory *up to epoch $e$*
# evolve (mean over the repetitions of each setup). Straightness is 1 after one epoch by
# definition (a single step is straight); every later step that does not continue in the same
# direction lowers it. Optimality and matching only compare the end points, so they can rise
# while the path measures fall.
# Runs stop at their own best epoch, so the points near the right end average fewer runs than
# the others and can jump.

# %%
on_grid = curves[curves["on_grid"]].copy()
on_grid["setup"] = on_grid["n_classes"].map(task_names)
on_grid["setup, level"] = on_grid["setup"] + ", level " + on_grid["level"].astype(str)
plots.metric_panels(on_grid, "epoch",
                    ["optimality", "matching", "straightness", "w2_path_efficiency",
                     "efficiency", "step_cost"],
                    hue="setup, level", errorbar=None, col_wrap=3)
plt.show()

# %%
grid_epochs = sorted(on_grid["epoch"].unique())
early = grid_epochs[min(1, len(grid_epochs) - 1)]
at = on_grid.groupby("epoch")[["optimality", "matching", "straightness", "step_cost"]].mean()
late = at.index[at.index <= summary["best_epoch"].min()].max()
halfway = at.index[at.index <= late / 2].max() if at.index.min() <= late / 2 else at.index.min()
display(Markdown(
    f"Averaged over all runs, optimality goes from {at.loc[early, 'optimality']:.3f} at epoch "
    f"{early} to {at.loc[late, 'optimality']:.3f} at epoch {late}, matching from "
    f"{at.loc[early, 'matching']:.3f} to {at.loc[late, 'matching']:.3f}, while straightness "
    f"falls from {at.loc[early, 'straightness']:.3f} to {at.loc[late, 'straightness']:.3f}. "
    f"The paths keep growing after the classes are separated: the mean step cost at epoch "
    f"{late} is {at.loc[late, 'step_cost'] / at.loc[halfway, 'step_cost']:.2f} times its value "
    f"at epoch {halfway}, since full-batch RMSprop steps of size $10^{{-2}}$ keep moving the "
    f"tokens back and forth, adding path length without adding displacement."
))

# %% [markdown]
# ## What the numbers say

# %%
optimal_share = float(np.mean(near))
ratio = (summary["efficiency"] / summary["equal_length_efficiency"]).mean()
claim_one_text = (
    f"**Claim 1** (the final map approximates the OT coupling) "
    + ("holds in this grid" if optimal_share >= 0.8 else "holds only in part of this grid")
    + f" in the thesis's sense: {100 * optimal_share:.0f} % of the runs have optimality of at "
    f"least {optimal_threshold} (mean {summary['optimality'].mean():.3f}). Matching, the "
    f"stricter test, averages {summary['matching'].mean():.3f}: "
    + ("the optimal assignment is usually the network's own map." if
       summary["matching"].mean() >= 0.9 else
       "in a good share of runs the optimal assignment differs from the network's map, "
       "although its cost is almost the same.")
    + " Optimality near 1 is a weak test: in the thesis's architecture with two features, "
    "the LayerNorms make every block translate whole instances (chapter 1), and a translated "
    "class has optimality 1 by construction; matching, which asks whether the network's map "
    "*is* the optimal assignment, is the stricter of the two."
)
path_measures = [summary["straightness"].mean(), summary["w2_path_efficiency"].mean(), ratio]
claim_two_text = (
    f"**Claim 2** (the trajectory is inefficient) "
    + ("holds under every measure used here" if max(path_measures) < 0.5 else
       "is not supported by every measure used here")
    + f": straightness {path_measures[0]:.3f}, W2 path efficiency {path_measures[1]:.3f}, "
    f"and the thesis's efficiency at {ratio:.2f} times its straight-path value (the raw value, "
    f"{summary['efficiency'].mean():.4f}, is no evidence by itself, since even straight paths "
    f"would give about {summary['equal_length_efficiency'].mean():.3f}). The mean step cost "
    f"still grows by a factor {at.loc[late, 'step_cost'] / at.loc[halfway, 'step_cost']:.2f} "
    f"between epochs {halfway} and {late}, while the optimality of the end point changes little: "
    f"most of the path is spent after the classes are in place."
)
display(Markdown(claim_one_text + "\n\n" + claim_two_text))

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
# ## Exercises
#
# ```{exercise}
# :label: metrics-efficiency-scale
#
# The thesis's efficiency depends on the number of tokens even for perfectly straight paths.
# Take the start cloud of a two-class setup, move every token by a straight path of the same
# length in a random direction, and compute the thesis's efficiency and the straightness for
# 10, 20 and 40 tokens per instance. Which of the two measures could compare runs on data of
# different sizes?
# ```
#
# ```{solution-start} metrics-efficiency-scale
# :class: dropdown
# ```

# %%
from otcompanion import data

rng = np.random.default_rng(seed)
rows = []
for n_tokens in (10, 20, 40):
    X_train, _, y_train, _ = data.thesis_split(2, 2, n_tokens=n_tokens, seed=seed)
    directions = rng.normal(size=X_train.shape)
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    path = [X_train + s * directions for s in np.linspace(0, 1, 11)]
    rows.append({"tokens per instance": n_tokens,
                 "efficiency": metrics.thesis_metrics(path, y_train)["efficiency"],
                 "equal-length value": metrics.equal_length_efficiency(y_train, n_tokens),
                 "straightness": metrics.straightness(path)})
pd.DataFrame(rows).round(4)

# %% [markdown]
# The efficiency of straight paths shrinks like $1/\sqrt{n}$ and equals the equal-length value;
# straightness is 1 for every size. Only straightness (or the W2 path efficiency) compares
# runs of different sizes.
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

# %%
within = []
for (setup, level), runs_of_setup in summary.groupby(["setup", "level"]):
    if runs_of_setup[["instance_accuracy", "optimality"]].nunique().min() > 1:
        within.append({"setup": setup, "level": level, "rank correlation":
                       runs_of_setup[["optimality", "instance_accuracy"]].corr(
                           method="spearman").iloc[0, 1]})
within = pd.DataFrame(within, columns=["setup", "level", "rank correlation"])
display(within.round(3))
varying = len(within)
display(Markdown(
    f"Within a setup and level (so that the difficulty does not drive both quantities), "
    f"accuracy and optimality both vary in {varying} of "
    f"{summary.groupby(['setup', 'level']).ngroups} groups"
    + (f"; the rank correlation there averages {within['rank correlation'].mean():+.2f} "
       f"(from {within['rank correlation'].min():+.2f} to "
       f"{within['rank correlation'].max():+.2f}) over {summary['repetition'].nunique()} runs "
       f"per group" + (", too few to conclude." if summary["repetition"].nunique() < 10 else ".")
       if varying else
       ": in every group all runs have the same accuracy or the same optimality, so this grid "
       "cannot relate the two; more repetitions (`n_repetitions`) or harder levels are "
       "needed.")))

# %% [markdown]
# ```{solution-end}
# ```
#
# ## Provenance

# %% tags=["provenance"]
provenance({"profile": profile, "tasks": tasks, "levels": levels,
            "n_repetitions": settings["n_repetitions"], "epochs": settings["epochs"],
            "n_blocks": settings["n_blocks"], "n_heads": n_heads, "seed": seed, "scheduler": scheduler,
            "curve_points": curve_points}, started)
