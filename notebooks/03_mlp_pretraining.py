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
# # Pretraining the MLP head
#
# The thesis's third claim is about speed: if the Transformer's classification head already
# knows where each class should end up, the attention blocks only have to carry the tokens
# there, and training should converge sooner. The thesis tested this by training the head alone
# on synthetic, well-separated Gaussian clouds, loading it into the Transformer, freezing it,
# and training the blocks; it found that pretraining *partially* improves convergence and that
# the gain depends on how the synthetic clouds are set up (Quadrio & Candelieri, 2025, MLP
# pretraining).
#
# This chapter tests the claim on both tasks at all four difficulty levels, with the data of
# every repetition held fixed while only the pretraining changes, and ends with a verdict
# computed from paired differences and their 95 % intervals. The thesis's R code knows two
# pretraining geometries. Its single-run function defaults to the *circle* of the OT model
# ({func}`otcompanion.geometry.dummy_means`); its simulation script passes *aligned* means,
# $(-5, 0)$, $(5, 0)$, $(0, 5)$ (the first two for two classes) with covariance $I$, where the
# data's classes lie (`simulation.R`, lines 244 and 274), although its Transformer simulation
# then loads whatever head file (`MLP.weights.h5`) is on disk (line 95), so which head its
# reported runs used cannot be told from the code. Both geometries are therefore tested, each
# in two ways, next to a control and to no pretraining:
#
# - **circle, one head** and **aligned means, one head**: one head is pretrained per task and
#   reused by every level and repetition (the thesis pretrained a head once, saved it and
#   loaded it into every run), so all its runs depend on that one head;
# - **circle, head per repetition** and **aligned means, head per repetition**: the same
#   geometries with a head pretrained afresh for every repetition, so that the intervals also
#   cover the randomness of the pretraining;
# - **random rotation, head per repetition**: the circle rotated by an angle drawn uniformly
#   for every repetition, a layout that carries no information about where the data's classes
#   lie.

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
seed: int = 0  # chapter seed; every run derives its own seed from it
tasks: list[int] = [2, 3]  # numbers of classes (2 and/or 3)
levels: list[int] = [1, 2, 3, 4]  # difficulty levels, 1 (closest classes) to 4
n_repetitions: int = 20  # repetitions (fresh data and model) per task and level
epochs: int = 20  # epoch budget of the compared runs (thesis: 200; see "Cost")
shorter_budgets: list[int] = [5, 10, 15]  # smaller budgets at which the verdict is recomputed from the same runs
patience: int = 10  # early-stopping patience on the validation loss (thesis: the number of epochs)
reference_epochs: int = 200  # length of chapter 02's unpretrained runs, cut to the same rule (at least epochs)
n_blocks: int = 2  # encoder blocks (thesis: 2)
n_heads: int = 10  # attention heads per block (thesis: 10)
target_accuracy: float = 1.0  # validation instance accuracy that counts as converged
sensitivity_task: int = 3  # number of classes of the exercises' runs
sensitivity_level: int = 2  # difficulty level of the exercises' runs
sensitivity_repetitions: int = 5  # repetitions of the exercises' runs
radius_factors: list[float] = [0.5, 2.0]  # pretraining radii of the sensitivity exercise, as multiples of 3k
rotations_deg: list[float] = [60.0]  # rotations of the pretraining circle in the exercises, in degrees
scheduler: str = "local"  # "local" (all cores), a number of worker processes, or a Dask address "tcp://host:8786"; results do not depend on it

# %%
import time

import numpy as np
import pandas as pd

from otcompanion import chapter, claims, data, experiments, plots, pretrain, prose, stats

chapter.begin("03_mlp_pretraining")

# %% tags=["remove-input"]
# The parameters checked, and what they imply (hidden on the page; it runs as any cell).
chapter.task_names(tasks)
task_names = chapter.TASK_NAMES
chapter.task_name(sensitivity_task, "sensitivity_task")
if reference_epochs < epochs:
    raise ValueError(f"reference_epochs ({reference_epochs}) must be at least epochs "
                     f"({epochs}): the unpretrained runs are cut from runs that long.")

# %% [markdown]
# ## The pretraining data
#
# The synthetic clouds have the shape of the training data (as many instances, 20 tokens of 2
# features). Class $i$ of $k$ is drawn from $\mathcal N(m_i, I)$ with the means on the thesis
# circle of radius $3k$, $m_i = 3k\,(\sin 2\pi i/k, \cos 2\pi i/k)$
# ({func}`otcompanion.geometry.dummy_means`, as the thesis code writes it): class 0 sits at
# $(0, 3k)$; for two classes the means are $(0, 6)$ and $(0, -6)$, perpendicular to the axis
# along which the two data classes lie; for three classes $(0, 9)$, $(7.79, -4.5)$ and
# $(-7.79, -4.5)$, while the data's classes lie left, right and above. The aligned means put
# each class's cloud on the side where that class's data lies. The random rotation
# turns the whole circle by an angle drawn for each repetition. The head, a
# Dense(8)–ReLU–Dense($k$) network applied to every token, is trained on these clouds with Adam
# (learning rate $10^{-2}$) and early stopping with patience 5 on a held-out part of the clouds
# ({func}`otcompanion.experiments.pretrained_head`), then frozen ({numref}`fig-pretraining-clouds`).

# %%
# In alphabetical order, the order of every table and figure legend.
conditions = {
    "aligned means, head per repetition": {"head": "per repetition", "geometry": "aligned"},
    "aligned means, one head": {"head": "shared", "geometry": "aligned"},
    "circle, head per repetition": {"head": "per repetition"},
    "circle, one head": {"head": "shared"},
    "random rotation, head per repetition": {"head": "per repetition", "rotation": "random"},
    "unpretrained": None,
}
pretrained_conditions = [name for name, setting in conditions.items() if setting is not None]

# %% [markdown]
# ```{glue:figure} pretraining-clouds
# :name: fig-pretraining-clouds
# :alt: Scatter plots of the synthetic pretraining tokens, one Gaussian cloud per class, on the thesis circle and on a randomly rotated circle.
#
# Pretraining clouds of the thesis circle and of one random rotation (the rotation of
# repetition 0), per task: every class is a Gaussian cloud with covariance $I$ around its mean.
# ```
#
# Note what the head sees inside the Transformer: not the standardized input, but the last
# block's output, which {doc}`01_attention_tracing` showed is the input translated by a few
# fixed vectors. A pretrained, frozen head fixes *where* each class must be carried; whether a
# given geometry is easy to reach with such translations is exactly what the runs test.
#
# ## One stopping rule for every run
#
# Every run, pretrained or not, is measured by the same rule: at most `epochs` epochs
# (default 20), early stopping on the validation loss with `patience` (default 10), the best
# epoch restored ({func}`otcompanion.pretrain.convergence_summary`). Convergence is the first
# epoch at which the validation instances reach the target accuracy (`target_accuracy`,
# default 1), with a run that does not reach it within the budget counted as `epochs` + 1: the
# *restricted* epochs to the target, whose paired differences understate a slowdown rather than
# exaggerate it. Next to it: the best epoch the rule restores, and the validation loss and
# accuracy of the restored model.
#
# The unpretrained runs are chapter 02's 200-epoch runs (the same data and initial blocks, read
# from the run cache), cut by this rule ({func}`otcompanion.pretrain.early_stopping_view`):
# early stopping does not change training before it stops, so the first epochs of a long run
# *are* the early-stopped run, and only the pretrained runs cost training time. What the cut
# cannot give is the test accuracy of the restored unpretrained model, whose weights the long
# run did not keep, so accuracy is compared on the validation instances (held out from the
# training instances, 9 per run).

# %% tags=["remove-stderr"]
settings = dict(epochs=epochs, patience=patience, reference_epochs=reference_epochs,
                n_blocks=n_blocks, n_heads=n_heads, target_accuracy=target_accuracy)
grid_started = time.perf_counter()
summary, histories = experiments.pretraining_grid(
    conditions, tasks, levels, n_repetitions, seed=seed, scheduler=scheduler, **settings)
grid_seconds = time.perf_counter() - grid_started
summary["setup"] = summary["n_classes"].map(task_names)
histories["setup"] = histories["n_classes"].map(task_names)
summary["log10_val_loss"] = np.log10(summary["val_loss"])
summary["reached"] = summary["reached"].astype(float)

# %% tags=["remove-input"]
# The pretraining clouds of repetition 0 (figure above): the thesis circle and its random rotation.
frames = []
for k in tasks:
    own = summary[(summary["n_classes"] == k) & (summary["repetition"] == 0)]
    for name, condition in (("aligned means", "aligned means, head per repetition"),
                            ("thesis circle", "circle, head per repetition"),
                            ("random rotation", "random rotation, head per repetition")):
        rotation = float(own.loc[own["condition"] == condition, "rotation"].iloc[0])
        X, y = pretrain.pretraining_clouds(k, n_instances=6 * 8, n_tokens=20, n_features=2,
                                           seed=experiments.head_seed(seed, k, 0),
                                           rotation=rotation,
                                           geometry=conditions[condition].get("geometry",
                                                                              "circle"))
        angle = "" if name == "aligned means" else f" ({np.rad2deg(rotation):.0f}°)"
        frames.append(data.tokens_to_frame(X, y).assign(
            setting=f"{task_names[k]}\n{name}{angle}"))
grid = plots.token_scatter(pd.concat(frames, ignore_index=True), col="setting",
                           col_wrap=3)  # one row per task
grid.set_titles(col_template="{col_name}")
chapter.glue_figure("pretraining-clouds", grid.figure)

# %% [markdown]
# Why not the thesis's own convergence measure? The thesis trains for 200 epochs with a
# patience of 200 and reports the best epoch. In chapter 02's unpretrained runs, that epoch
# lies in the last tenth of training in {glue:text}`pretraining-late-best:.0f` % of the runs
# (median {glue:text}`pretraining-median-best:.0f`): the validation loss keeps falling long
# after the validation accuracy has reached 1, so the best epoch measures how long the loss
# keeps shrinking, not when the classes are separated.

# %% tags=["remove-input"]
none = summary[summary["condition"] == "unpretrained"]
late = none["reference_best_epoch"] > claims.LATE_BEST_EPOCH_SHARE * reference_epochs
chapter.glue("pretraining-late-best", 100 * float(late.mean()))
chapter.glue("pretraining-median-best", float(none["reference_best_epoch"].median()))

# %% [markdown]
# ## What the runs show
#
# Per task, level and condition: the mean of every measure with its 95 % confidence
# interval over the repetitions ({func}`otcompanion.stats.interval_table`); `reached` is the
# share of runs that reached the target within the budget, `head_accuracy_on_inputs` the
# pretrained head's token accuracy on the standardized training tokens themselves, before any
# block has moved them: high when the class regions the head learned already contain the data's
# classes, low when the blocks must carry the classes elsewhere.

# %%
columns = ["epochs_to_target_capped", "reached", "best_epoch", "val_accuracy",
           "log10_val_loss", "head_accuracy_on_inputs"]
table = stats.interval_table(summary, ["setup", "level", "condition"], columns,
                             digits={"epochs_to_target_capped": 1, "best_epoch": 1,
                                     "reached": 2, "val_accuracy": 3, "log10_val_loss": 2,
                                     "head_accuracy_on_inputs": 3}, seed=seed)
table

# %% [markdown]
# The learning curves ({numref}`fig-pretraining-curves`) show the same runs epoch by epoch.

# %% tags=["remove-input"]
panels = []
for k in tasks:
    part = histories[histories["n_classes"] == k]
    panels.append(part[["condition", "epoch"]].assign(**{
        f"validation loss, {task_names[k]}": part["val_loss"],
        f"validation accuracy, {task_names[k]}": part["val_instance_accuracy"]}))
curves = pd.concat(panels, ignore_index=True)
metric_names = [f"validation {what}, {task_names[k]}" for what in ("loss", "accuracy")
                for k in tasks]
grid = plots.metric_panels(curves, "epoch", metric_names, hue="condition", col_wrap=len(tasks),
                           logy=[name for name in metric_names if "loss" in name])
chapter.glue_figure("pretraining-curves", grid.figure)

# %% [markdown]
# ```{glue:figure} pretraining-curves
# :name: fig-pretraining-curves
# :alt: Validation loss on a log scale and validation instance accuracy against the epoch, one line per pretraining condition with its own colour, marker and line style, for each task.
#
# Validation loss (log scale) and validation instance accuracy along training, all levels
# together, per task and condition: mean over the runs with 95 % confidence bands. Runs that
# early stopping ended drop out of the later epochs.
# ```
#
# ## Paired differences
#
# Each pretrained run is paired with the unpretrained run of the same task, level and
# repetition (same data, same initial blocks); the differences *pretrained minus unpretrained*
# and their 95 % confidence intervals ({func}`otcompanion.stats.paired_differences`) are shown
# per level in {numref}`fig-pretraining-differences`: negative epochs mean faster convergence.

# %% tags=["remove-input"]
quantities = ["epochs_to_target_capped", "best_epoch", "val_accuracy", "log10_val_loss"]
by_level = experiments.pretraining_differences(summary, quantities, baseline="unpretrained",
                                               seed=seed)
by_level["setup"] = by_level["n_classes"].map(task_names)
figure = plots.paired_intervals(by_level[by_level["quantity"] == "epochs_to_target_capped"],
                                "level", hue="condition", col="setup",
                                xlabel="pretrained − unpretrained (epochs)")
chapter.glue_figure("pretraining-differences", figure)

# %% [markdown]
# ```{glue:figure} pretraining-differences
# :name: fig-pretraining-differences
# :alt: Horizontal interval plot of the paired difference in epochs to the target accuracy, per level and pretraining condition, for each task; the dotted line marks no difference.
#
# Paired difference in the restricted epochs to the target (pretrained minus unpretrained),
# mean and 95 % confidence interval over the repetitions, per level and condition. Left of the
# dotted line: pretraining converged sooner.
# ```
#
# Pooling the levels gives one difference per task and condition. A repetition's heads are
# shared by its levels, so the levels of one repetition are averaged first and the interval is
# taken over the repetitions ({glue:text}`pretraining-pairs` pairs per task and condition):

# %% tags=["remove-input"]
pooled = experiments.pretraining_differences(summary, quantities, baseline="unpretrained",
                                             pool_levels=True, seed=seed)
pooled["setup"] = pooled["n_classes"].map(task_names)
chapter.glue("pretraining-pairs", int(pooled["pairs"].min()))
pooled_table = pooled.assign(**{
    "pretrained": pooled["mean_first"].round(3), "unpretrained": pooled["mean_second"].round(3),
    "difference [95 % interval]": pooled.apply(stats.format_difference, axis=1, digits=3),
    "runs": pooled["pairs"]})
pooled_table[["setup", "condition", "quantity", "runs", "pretrained", "unpretrained",
              "difference [95 % interval]", "verdict"]]

# %% [markdown]
# "first lower" means lower with pretraining. The single head of the thesis's protocol is one
# draw: how far it can sit from a typical head shows in the paired difference between the two
# circle conditions (same data, one shared head against a head per repetition), for the
# restricted epochs to the target: {glue:md}`pretraining-head-draw`

# %% tags=["remove-input"]
circles = summary[summary["condition"].isin(["circle, one head", "circle, head per repetition"])]
draw = experiments.pretraining_differences(circles, ["epochs_to_target_capped"],
                                           baseline="circle, head per repetition",
                                           pool_levels=True, seed=seed)
draw["setup"] = draw["n_classes"].map(task_names)
draw_speed = draw[draw["quantity"] == "epochs_to_target_capped"]
chapter.glue("pretraining-head-draw", prose.head_draw(draw_speed))

# %% [markdown]
# What decides the outcome of a run? {numref}`fig-pretraining-head-fit` sets every run's
# paired difference against how well its frozen head already classifies the standardized
# inputs.

# %% tags=["remove-input"]
paired_runs = summary.merge(
    none[["n_classes", "level", "repetition", "epochs_to_target_capped"]],
    on=["n_classes", "level", "repetition"], suffixes=("", "_none"))
paired_runs = paired_runs[paired_runs["condition"] != "unpretrained"].assign(
    difference=lambda f: f["epochs_to_target_capped"] - f["epochs_to_target_capped_none"])
grid = plots.token_scatter(paired_runs, x="head_accuracy_on_inputs", y="difference",
                           hue="condition", col="setup", equal_axes=False)
grid.set_axis_labels("head accuracy on the inputs", "difference (epochs)")
for ax in grid.axes.flat:
    ax.axhline(0, color="0.3", linestyle=":", linewidth=1)
chapter.glue_figure("pretraining-head-fit", grid.figure)

# %% [markdown]
# ```{glue:figure} pretraining-head-fit
# :name: fig-pretraining-head-fit
# :alt: Scatter plot of the paired difference in epochs to the target against the pretrained head's token accuracy on the standardized inputs, one point per run, per task.
#
# One point per pretrained run: the paired difference in restricted epochs to the target
# (pretrained minus unpretrained) against the frozen head's token accuracy on the standardized
# training tokens before training. Below the dotted line, pretraining converged sooner.
# ```
#
# ## Verdict
#
# Claim 3, *pretraining the head helps convergence only partly and is fragile*, at this
# chapter's budget (`epochs`): {glue:md}`pretraining-verdict`.
#
# ```{glue:md} pretraining-evidence
# :format: myst
# ```
#
# The rule behind the verdict ({func}`otcompanion.claims.pretraining_verdict`): a task and
# condition counts as *faster* when the interval of its restricted epochs to the target lies
# below 0 and its validation accuracy is not lower; as *harmed* when it converges later or
# ends less accurate. Faster somewhere and harmed elsewhere supports a partial, fragile gain;
# faster with no harm supports the gain only; harm without any gain does not support the
# claim; intervals that all contain 0 leave it open.
#
# How firm is it? With {glue:text}`pretraining-cells` intervals at 95 % each, one exclusion
# could be chance. Per level ({numref}`fig-pretraining-differences`), pretraining converged
# sooner in {glue:text}`pretraining-level-faster` and later in
# {glue:text}`pretraining-level-slower` of the {glue:text}`pretraining-level-cells` task, level
# and condition cells. And the budget is a choice: a run trained for `epochs` epochs contains
# the run that any shorter budget with the same patience would have trained, so the verdict can
# be recomputed at shorter budgets from the same runs
# ({func}`otcompanion.experiments.budget_summaries`, parameter `shorter_budgets`;
# {numref}`fig-pretraining-budgets`): {glue:md}`pretraining-budgets` Read over the whole
# range of budgets ({func}`otcompanion.claims.budget_range_verdict`: a verdict holds for the
# range only if it holds at every budget of it), the verdict on claim 3 is
# {glue:md}`pretraining-range-verdict`.

# %% tags=["remove-input"]
result = pretrain.pretraining_verdict(pooled, cell=("setup", "condition"))
speed_rows = pooled[pooled["quantity"] == "epochs_to_target_capped"]
accuracy_rows = pooled[pooled["quantity"] == "val_accuracy"]
evidence = prose.pretraining_evidence(speed_rows, accuracy_rows, target_accuracy, epochs,
                                      len(levels))
speed_by_level = by_level[by_level["quantity"] == "epochs_to_target_capped"]
chapter.glue("pretraining-level-faster", int((speed_by_level["high"] < 0).sum()))
chapter.glue("pretraining-level-slower", int((speed_by_level["low"] > 0).sum()))
chapter.glue("pretraining-level-cells", len(speed_by_level))
checks = experiments.budget_verdicts(
    histories, sorted({*[b for b in shorter_budgets if 1 <= b < epochs], epochs}), task_names,
    patience, target_accuracy, seed=seed)
budgets = pd.DataFrame([{"budget (epochs)": check["budget"], "verdict": check["verdict"],
                         "faster": prose.cell_list(check["faster"]),
                         "harmed": prose.cell_list(check["harmed"])} for check in checks])
verdicts = dict(zip(budgets["budget (epochs)"], budgets["verdict"]))
faster_rows = speed_rows[[(row["setup"], row["condition"]) in result["faster"]
                          for _, row in speed_rows.iterrows()]]
budget_sentence = prose.budget_sentence(verdicts, result["verdict"], faster_rows)
range_verdict = claims.budget_range_verdict(verdicts)
chapter.glue("pretraining-budgets", budget_sentence)
chapter.glue("pretraining-cells", len(speed_rows))
chapter.glue("pretraining-verdict", prose.strong(result["verdict"]))
chapter.glue("pretraining-range-verdict", prose.strong(range_verdict))
chapter.glue("pretraining-evidence", prose.pretraining_summary(result, evidence))

# %%
budgets

# %% tags=["remove-input"]
budget_curve = pd.concat([check["differences"].assign(budget=check["budget"])
                          for check in checks], ignore_index=True)
budget_curve = budget_curve[budget_curve["quantity"] == "epochs_to_target_capped"]
figure = plots.paired_intervals(budget_curve.assign(budget=budget_curve["budget"].astype(str)),
                                "budget", hue="condition", col="setup",
                                xlabel="pretrained − unpretrained (epochs)",
                                height=3.2, width=4.0)
chapter.glue_figure("pretraining-budgets-figure", figure)

# %% [markdown]
# ```{glue:figure} pretraining-budgets-figure
# :name: fig-pretraining-budgets
# :alt: Horizontal interval plot of the paired difference in epochs to the target, per epoch budget and pretraining condition, for each task; the dotted line marks no difference.
#
# The paired difference in restricted epochs to the target (pretrained minus unpretrained,
# levels pooled), mean and 95 % confidence interval, at every budget of the range, per
# condition and task. Left of the dotted line: pretraining converged sooner at that budget.
# ```

# %% tags=["remove-cell"]
# The split-half check: the verdict at the chapter's budget on each half of the repetitions
# (the same rule as the chapter's verdict, from the histories).
assert verdicts[epochs] == result["verdict"]
halves = stats.split_half_verdicts(lambda runs: claims.budget_range_verdict({
    check["budget"]: check["verdict"] for check in experiments.budget_verdicts(
        runs, list(verdicts), task_names, patience, target_accuracy, seed=seed)}), histories)
chapter.publish([claims.finding(
    "pretraining", range_verdict,
    prose.pretraining_finding(result, epochs, patience, budget_sentence, evidence),
    prose.pretraining_setup([task_names[k] for k in tasks], levels, n_repetitions),
    halves=halves, key=prose.best_pretraining_cell(speed_rows, epochs))])

# %% [markdown]
# ## Cost
#
# The unpretrained runs are chapter 02's, read from the run cache; the pretraining grid
# itself trained {glue:text}`pretraining-runs` pretrained runs and
# {glue:text}`pretraining-heads` heads in {glue:text}`pretraining-grid-seconds:.0f` s of wall
# time here ({glue:text}`pretraining-epoch-ms:.1f` ms per training epoch of a pretrained run,
# {glue:text}`pretraining-head-s:.2f` s per head, on one core each). The thesis's scale, 200
# epochs with a patience of 200 and 100 repetitions for every task, level and condition, would
# add about {glue:text}`pretraining-thesis-minutes:.0f` minutes of training on one core (before
# dividing by the worker processes), for the best epoch of the thesis's rule and the test
# accuracy of the unpretrained runs' restored models, which this chapter's budget does not
# give; rerun with `-p epochs 200 -p patience 200 -p n_repetitions 100`.

# %% tags=["remove-input"]
pretrained_runs = summary[summary["condition"] != "unpretrained"]
epoch_seconds = pretrained_runs["fit_seconds"].sum() / pretrained_runs["stop_epoch"].sum()
heads = pretrained_runs.drop_duplicates(["n_classes", "head_seed", "condition"])
head_seconds = float(heads["head_seconds"].mean())
thesis_runs = len(pretrained_conditions) * len(task_names) * 4 * 100
heads_per_task = sum(100 if setting["head"] == "per repetition" else 1
                     for setting in conditions.values() if setting is not None)
thesis_heads = len(task_names) * heads_per_task
chapter.glue("pretraining-runs", len(pretrained_runs))
chapter.glue("pretraining-heads", len(heads))
chapter.glue("pretraining-grid-seconds", grid_seconds)
chapter.glue("pretraining-epoch-ms", 1000 * epoch_seconds)
chapter.glue("pretraining-head-s", head_seconds)
chapter.glue("pretraining-thesis-minutes",
             (thesis_runs * 200 * epoch_seconds + thesis_heads * head_seconds) / 60)

# %% [markdown]
# ## Summary
#
# ```{glue:md} chapter-findings
# :format: myst
# ```
#
# ## Exercises
#
# ```{exercise}
# :label: pretraining-rotated-circle
#
# Compute with {func}`otcompanion.geometry.dummy_means` the pretraining means of the
# `sensitivity_task` classes on the circle of radius `radius_factors[-1]` times $3k$, rotated
# by an angle of your own, `angle_deg = np.random.default_rng(seed).uniform(0, 360)` degrees
# (the function takes radians). Store them, a $k \times 2$ array, in `rotated_means`, and the
# distance between neighbouring means in `neighbour_distance`. Compare it with
# $2r\sin(\pi/k)$.
# ```
#
# ```{solution-start} pretraining-rotated-circle
# :class: dropdown
# ```

# %% tags=["remove-input"]
from otcompanion import geometry

k = sensitivity_task
radius = radius_factors[-1] * 3 * k
angle_deg = np.random.default_rng(seed).uniform(0, 360)
rotated_means = geometry.dummy_means(k, radius=radius, rotation=np.deg2rad(angle_deg))
neighbour_distance = float(np.linalg.norm(rotated_means[0] - rotated_means[1]))
chapter.glue("ex-neighbour-distance", neighbour_distance)
chapter.glue("ex-chord", float(2 * radius * np.sin(np.pi / k)))
rotated_means


# %% tags=["remove-cell", "check"]
def check_rotated_circle(env, rotated_means, neighbour_distance):
    """Means against otcompanion.geometry.dummy_means for the assigned parameters and the angle
    drawn from the assigned seed (atol 1e-9), and their neighbour distance (rtol 1e-9)."""
    import numpy as np

    from otcompanion import classroom, geometry
    p = classroom.assigned_parameters(env)
    k = p["sensitivity_task"]
    angle = np.deg2rad(np.random.default_rng(p["seed"]).uniform(0, 360))
    expected = geometry.dummy_means(k, radius=p["radius_factors"][-1] * 3 * k, rotation=angle)
    classroom.assert_close("rotated_means", rotated_means, expected, atol=1e-9)
    classroom.assert_close("neighbour_distance", neighbour_distance,
                           np.linalg.norm(expected[0] - expected[1]), rtol=1e-9)


from otcompanion import classroom

classroom.run_check(check_rotated_circle, globals())

# %% [markdown]
# Neighbouring means are {glue:text}`ex-neighbour-distance:.4f` apart, and
# $2r\sin(\pi/k) =$ {glue:text}`ex-chord:.4f`: a rotation moves the means along the circle and
# keeps their distances.
#
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: pretraining-cloud-means
#
# Draw the pretraining clouds of the default circle with
# `pretrain.pretraining_clouds(sensitivity_task, n_instances=48, n_tokens=20, n_features=2,
# seed=seed)` and store the mean token of each class, a $k \times 2$ array (row $i$ for class
# $i$), in `cloud_means`. How far are they from the dummy means?
# ```
#
# ```{solution-start} pretraining-cloud-means
# :class: dropdown
# ```

# %% tags=["remove-input"]
X_clouds, y_clouds = pretrain.pretraining_clouds(sensitivity_task, n_instances=48, n_tokens=20,
                                                 n_features=2, seed=seed)
cloud_means = np.stack([X_clouds[y_clouds == c].reshape(-1, 2).mean(axis=0)
                        for c in range(sensitivity_task)])
gap = np.linalg.norm(cloud_means - geometry.dummy_means(sensitivity_task), axis=1)
chapter.glue("ex-cloud-gaps", ", ".join(f"{stats.format_value(g)}" for g in gap))
cloud_means


# %% tags=["remove-cell", "check"]
def check_cloud_means(env, cloud_means):
    """Class means of the clouds otcompanion.pretrain draws for the assigned seed (atol 1e-9)."""
    import numpy as np

    from otcompanion import classroom, pretrain
    p = classroom.assigned_parameters(env)
    k = p["sensitivity_task"]
    X, y = pretrain.pretraining_clouds(k, n_instances=48, n_tokens=20, n_features=2,
                                       seed=p["seed"])
    expected = np.stack([X[y == c].reshape(-1, 2).mean(axis=0) for c in range(k)])
    classroom.assert_close("cloud_means", cloud_means, expected, atol=1e-9)


classroom.run_check(check_cloud_means, globals())

# %% [markdown]
# Each class's sample mean lies {glue:md}`ex-cloud-gaps` from its dummy mean (one number per
# class): the clouds are centred where the geometry puts them, up to sampling noise.
#
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: pretraining-unfrozen
#
# The thesis froze the pretrained head. Train `sensitivity_repetitions` runs of the task
# `sensitivity_task` at level `sensitivity_level` with the pretrained head left trainable
# (`freeze=False` in {func}`otcompanion.pretrain.train_pretrained`), under this chapter's
# budget and patience, and compare the epochs to the target and the validation accuracy with
# the same runs with a frozen head.
# ```
#
# ```{solution-start} pretraining-unfrozen
# :class: dropdown
# ```

# %%
rows = []
for repetition in range(sensitivity_repetitions):
    run = experiments.run_seed(seed, sensitivity_task, sensitivity_level, repetition)
    X_train, X_test, y_train, y_test = data.thesis_split(sensitivity_task, sensitivity_level,
                                                         seed=run)
    for freeze in (True, False):
        fit, _ = pretrain.train_pretrained(X_train, y_train, X_test, y_test, seed=run,
                                           freeze=freeze, epochs=epochs, patience=patience,
                                           n_blocks=n_blocks, n_heads=n_heads,
                                           attention_every=0, trace=False)
        rows.append({"repetition": repetition, "head": "frozen" if freeze else "trainable",
                     **pretrain.convergence_summary(fit, epochs=epochs, patience=patience,
                                                    target=target_accuracy)})
heads_table = pd.DataFrame(rows)
stats.interval_table(heads_table, ["head"], ["epochs_to_target_capped", "val_accuracy"],
                     seed=seed)

# %%
frozen_vs_trainable = stats.paired_differences(
    heads_table, [], ["repetition"], "head", "trainable", "frozen",
    ["epochs_to_target_capped", "val_accuracy"], seed=seed)
frozen_vs_trainable

# %% [markdown]
# Trainable minus frozen, paired on the repetition: with only
# `sensitivity_repetitions` repetitions the intervals are wide; raise it for a firmer answer.
#
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: pretraining-radius
#
# The thesis found the gain sensitive to how the clouds are set up. Rerun the paired
# comparison of the task `sensitivity_task` at level `sensitivity_level` with the circle's
# radius scaled by each of `radius_factors` (a head per repetition), and compare the paired
# differences with those of the default radius $3k$.
# ```
#
# ```{solution-start} pretraining-radius
# :class: dropdown
# ```

# %%
k = sensitivity_task
# The default radius is the main grid's "circle, head per repetition" (same runs, read from
# the run cache).
radius_conditions = {"unpretrained": None, "circle, head per repetition": {}}
radius_conditions |= {f"radius {factor:g} x 3k": {"radius": 3 * k * factor}
                      for factor in radius_factors if factor != 1}
radius_runs, _ = experiments.pretraining_grid(
    radius_conditions, [k], [sensitivity_level], sensitivity_repetitions, seed=seed,
    scheduler=scheduler, **settings)
radius_runs["condition"] = radius_runs["condition"].replace(
    {"circle, head per repetition": "radius 1 x 3k"})
experiments.pretraining_differences(radius_runs, ["epochs_to_target_capped", "val_accuracy"],
                                   baseline="unpretrained", seed=seed)

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: pretraining-head-regions
#
# Draw the class regions of a head pretrained on the three-class circle rotated by
# `rotations_deg[-1]` degrees: classify a grid of points of the plane with
# {meth}`otcompanion.pretrain.HeadPretraining.predict` and colour the plane by the predicted
# class. Where must the blocks carry each class?
# ```
#
# ```{solution-start} pretraining-head-regions
# :class: dropdown
# ```

# %% tags=["remove-input"]
rotation = float(np.deg2rad(rotations_deg[-1]))
X, y = pretrain.pretraining_clouds(3, n_instances=48, n_tokens=20, n_features=2, seed=seed,
                                   rotation=rotation)
head = pretrain.pretrain_head(X, y, seed=seed)
limit = 12
axis = np.linspace(-limit, limit, 121)
grid_points = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 1, 2)
regions = head.predict(grid_points).reshape(len(axis), len(axis))
figure, (ax,) = plots.panel_row(1)
styles = plots.series_styles(range(3))
ax.contourf(axis, axis, regions, levels=[-0.5, 0.5, 1.5, 2.5], alpha=0.3,
            colors=[styles[c]["color"] for c in range(3)])
for c in range(3):
    tokens = X[y == c].reshape(-1, 2)
    ax.scatter(tokens[:, 0], tokens[:, 1], s=4, color=styles[c]["color"],
               marker=styles[c]["marker"], label=f"class {c}")
ax.set_aspect("equal")
ax.set(xlabel="feature 1", ylabel="feature 2",
       title=f"circle rotated by {rotations_deg[-1]:g}°")
plots.panel_legend(figure, [ax])
chapter.glue_figure("fig-ex-head-regions", figure)

# %% [markdown]
# ```{glue:figure} fig-ex-head-regions
# :name: fig-ex-head-regions
# :alt: The plane coloured by the class a pretrained head predicts, three sectors meeting near the centre, with the three pretraining clouds on a rotated circle.
#
# Class regions of a head pretrained on the rotated circle, with its pretraining clouds.
# ```
#
# The head splits the plane into three sectors ({numref}`fig-ex-head-regions`) that meet near
# the circle's centre, one around
# each pretraining mean; class $i$'s sector surrounds $m_i$, wherever class $i$ lies in the
# data. A frozen head therefore asks the blocks to carry each class into *its* sector: in the
# three-class data class 0 lies on the left, class 1 on the right and class 2 above, so unless
# the sectors happen to contain them, classes must be carried across the plane with the few
# fixed translations of {doc}`01_attention_tracing`.
#
# ```{solution-end}
# ```
#
# ## Provenance

# %% [raw] tags=["remove-cell", "assignment-parameters"]
# tasks: [2]
# levels: [1]
# n_repetitions: 2
# epochs: 5
# shorter_budgets: [3]
# patience: 3
# reference_epochs: 5
# n_heads: 4
# sensitivity_repetitions: 2
# radius_factors: [2.0]
# scheduler: "1"

# %% tags=["provenance"]
chapter.provenance(globals())
