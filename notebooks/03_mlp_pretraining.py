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
# the gain depends on how the synthetic clouds are set up.
#
# This chapter reruns that experiment with {mod}`otcompanion.pretrain`: pretrained against
# unpretrained runs on the same data with the same initial blocks, then the sensitivity of the
# result to the pretraining geometry and to the seed.

# %% tags=["parameters"]
seed: int = 0  # chapter seed; every run derives its own seed from it
tasks: list[int] = [2, 3]  # numbers of classes (2 and/or 3)
level: int = 2  # difficulty level of the data, 1 (closest classes) to 4
n_seeds: int = 3  # repetitions (fresh data and model) per setting
epochs: int = 200  # Transformer training epochs (thesis: 200)
n_blocks: int = 2  # encoder blocks (thesis: 2)
n_heads: int = 10  # attention heads per block (thesis: 10)
target_accuracy: float = 1.0  # validation instance accuracy that counts as converged
sensitivity_task: int = 3  # number of classes of the geometry-sensitivity runs
radius_factors: list[float] = [0.5, 1.0, 2.0]  # pretraining radii, as multiples of 3k
rotations_deg: list[float] = [0.0, 60.0]  # rotations of the pretraining circle, in degrees
covariance_scales: list[float] = [0.25, 1.0, 4.0]  # pretraining covariances, as multiples of I
scheduler: str = "local"  # "local" (all cores), a number of worker processes, or a Dask address "tcp://host:8786"; results do not depend on it

# %%
import time

started = time.perf_counter()

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from otcompanion import data, engine, experiments, plots, pretrain, stats
from otcompanion.provenance import provenance

plots.use_book_style()
task_names = {2: "2 classes", 3: "3 classes"}
if not tasks or any(task not in task_names for task in tasks):
    raise ValueError(f"tasks must be a non-empty list of 2 and/or 3, got {tasks}.")
if sensitivity_task not in task_names:
    raise ValueError(f"sensitivity_task must be 2 or 3, got {sensitivity_task}.")

# %% [markdown]
# ## The pretraining data
#
# The synthetic clouds have the shape of the training data (as many instances, 20 tokens of 2
# features). Class $i$ of $k$ is drawn from $\mathcal N(m_i, I)$ with the means on the thesis's
# circle of radius $3k$, $m_i = 3k\,(\sin 2\pi i/k, \cos 2\pi i/k)$
# ({func}`otcompanion.geometry.dummy_means`, as the thesis code writes it): class 0 sits at
# $(0, 3k)$; for two classes the means are $(0, 6)$ and $(0, -6)$, perpendicular to the axis
# along which the two data classes lie. For its three-class run the thesis used the means
# $(-5, 0)$, $(5, 0)$, $(0, 5)$ instead, which resemble the layout of the three-class data
# (two classes left and right, one above). The head, a Dense(8)–ReLU–Dense($k$) network applied
# to every token, is trained on these clouds with Adam (learning rate $10^{-2}$) and early
# stopping with patience 5 on a held-out part of the clouds, then frozen.

# %%
conditions = {"none": None, "circle r=3k": {},
              "thesis means": {3: {"means": pretrain.THESIS_3_CLASS_MEANS}}}
frames = []
for k in tasks:
    for name, setting in conditions.items():
        if setting is None or (setting and k not in setting):
            continue
        geometry = setting.get(k, {}) if setting else {}
        X, y = pretrain.pretraining_clouds(k, n_instances=6 * 8, n_tokens=20, n_features=2,
                                           seed=seed, **geometry)
        frames.append(data.tokens_to_frame(X, y).assign(setting=f"{task_names[k]}: {name}"))
plots.token_scatter(pd.concat(frames, ignore_index=True), col="setting", height=2.8,
                    title="pretraining clouds").set_titles(col_template="{col_name}")
plt.show()

# %% [markdown]
# Note what the head sees inside the Transformer: not the standardized input, but the last
# block's output, which {doc}`01_attention_tracing` showed is the input translated by a few
# fixed vectors. A pretrained, frozen head fixes *where* each class must be carried; whether a
# given geometry is easy to reach with such translations is exactly what the runs test.
#
# ## Pretrained against unpretrained
#
# For each task and repetition, the runs share the data and the initial attention blocks
# ({func}`otcompanion.experiments.pretraining_run`); only the head differs. Convergence is
# measured by the best epoch (the one early stopping restores) and by the first epoch at which
# the validation instances reach the target accuracy (parameter `target_accuracy`; column
# `epochs_to_target`, empty when a run never reaches it).

# %% tags=["remove-stderr"]
settings = dict(epochs=epochs, n_blocks=n_blocks, n_heads=n_heads,
                target_accuracy=target_accuracy)
summary, histories = experiments.pretraining_grid(
    conditions, tasks, level, n_seeds, seed=seed, scheduler=scheduler, **settings)
summary["setup"] = summary["n_classes"].map(task_names)
histories["setup"] = histories["n_classes"].map(task_names)

# %%
columns = ["best_epoch", "epochs_to_target", "min_val_loss", "instance_accuracy",
           "token_accuracy", "head_accuracy_on_inputs", "fit_seconds"]
table = stats.interval_table(summary, ["setup", "condition"], columns,
                                  digits={"best_epoch": 0, "epochs_to_target": 1,
                                          "fit_seconds": 1} | {c: 3 for c in columns[2:6]})
table.insert(3, "runs reaching the target",
             summary.groupby(["setup", "condition"])["epochs_to_target"].count().to_numpy())
table

# %% [markdown]
# `head_accuracy_on_inputs` is the pretrained head's token accuracy on the standardized
# training tokens themselves, before any block has moved them: it says whether the class
# regions the head learned on the synthetic clouds already lie where the data's classes are
# (high) or on the opposite side (low), whatever the pretraining's own accuracy.
#
# The learning curves, averaged over repetitions (bands: 95 % bootstrap intervals of the mean): validation
# loss (log scale) and validation instance accuracy.

# %%
for k in tasks:
    grid = plots.metric_panels(histories[histories["n_classes"] == k], "epoch",
                               ["val_loss", "val_instance_accuracy", "train_loss"],
                               hue="condition", col_wrap=3, height=2.6,
                               title=f"{task_names[k]}, level {level}")
    for name in ("val_loss", "train_loss"):
        grid.axes_dict[name].set_yscale("log")
    plt.show()

# %% [markdown]
# Repetition by repetition: the change that pretraining brings to each convergence measure
# (pretrained minus unpretrained, same data and initial blocks): negative epochs mean faster
# convergence, a negative accuracy difference means a less accurate model.

# %%
paired = summary.pivot_table(index=["setup", "repetition"], columns="condition",
                             values=["best_epoch", "epochs_to_target", "instance_accuracy"])
differences = pd.concat({
    name: paired.xs(name, axis=1, level="condition") - paired.xs("none", axis=1,
                                                                 level="condition")
    for name in conditions if name != "none" and name in paired.columns.get_level_values(1)
}, names=["pretraining"]).dropna(how="all")
differences.round(3)

# %% [markdown]
# The trajectories of pretrained runs can be measured like any other
# ({doc}`02_ot_metrics`): same metrics, per condition.

# %%
stats.interval_table(summary, ["setup", "condition"],
                          ["optimality", "matching", "efficiency", "straightness"])

# %% [markdown]
# ## Sensitivity to the pretraining geometry
#
# The default geometry (circle of radius $3k$, no rotation, covariance $I$) is varied one
# factor at a time on the setup chosen by `sensitivity_task`: the radius of the circle (as a
# multiple of $3k$), a rotation of the circle, and the covariance of the clouds (as a multiple
# of $I$). Each setting is run with the same repetitions as above; the default and the
# unpretrained runs are those of the previous section when that setup was among them.

# %% tags=["remove-stderr"]
k = sensitivity_task
defaults = {"radius": 1.0, "rotation": 0.0, "covariance": 1.0}
variations = {}  # condition name -> (factor, value, pretraining setting)
for factor in radius_factors:
    variations[f"radius {factor:g}"] = ("radius", factor, {"radius": 3 * k * factor})
for degrees in rotations_deg:
    variations[f"rotation {degrees:g}"] = ("rotation", degrees,
                                           {"rotation": float(np.deg2rad(degrees))})
for scale in covariance_scales:
    variations[f"covariance {scale:g}"] = ("covariance", scale, {"covariance_scale": scale})
to_run = {name: setting for name, (factor, value, setting) in variations.items()
          if value != defaults[factor]}
if k in tasks:  # the unpretrained and default runs of this setup are already done
    reused = summary[summary["n_classes"] == k]
    reused = reused[reused["condition"].isin(["none", "circle r=3k"])].copy()
else:
    to_run = {"none": None, "circle r=3k": {}, **to_run}
    reused = summary.iloc[:0]
new_runs, _ = (experiments.pretraining_grid(to_run, [k], level, n_seeds, seed=seed,
                                            scheduler=scheduler, **settings)
               if to_run else (summary.iloc[:0], None))
sensitivity = pd.concat([reused, new_runs], ignore_index=True)
baseline = sensitivity[sensitivity["condition"] == "none"]
parts = []
for name, (factor, value, _) in variations.items():
    source = "circle r=3k" if value == defaults[factor] else name
    parts.append(sensitivity[sensitivity["condition"] == source].assign(
        factor=factor, value=value, setting=name))
varied = pd.concat(parts, ignore_index=True)

# %%
figure, axes = plt.subplots(2, 3, figsize=(10, 5.4), sharey="row", constrained_layout=True)
for column, factor in enumerate(["radius", "rotation", "covariance"]):
    part = varied[varied["factor"] == factor]
    for row, measure in enumerate(["epochs_to_target", "instance_accuracy"]):
        ax = axes[row, column]
        ax.scatter(part["value"], part[measure], s=18, alpha=0.7)
        means = part.groupby("value")[measure].mean()
        ax.plot(means.index, means.to_numpy(), marker="o")
        ax.axhline(baseline[measure].mean(), color="0.3", linestyle=":", linewidth=1,
                   label="no pretraining (mean)")
        ax.set_xlabel({"radius": "radius (multiple of 3k)", "rotation": "rotation (degrees)",
                       "covariance": "covariance (multiple of I)"}[factor])
        ax.set_ylabel(measure.replace("_", " ") if column == 0 else "")
axes[0, 0].legend(fontsize="small")
figure.suptitle(f"{task_names[k]}, level {level}: one factor at a time", y=1.01)
plt.show()

# %%
stats.interval_table(varied, ["factor", "value"],
                          ["best_epoch", "epochs_to_target", "instance_accuracy"],
                          digits={"best_epoch": 0, "epochs_to_target": 1,
                                  "instance_accuracy": 3})

# %% [markdown]
# ## What the numbers say

# %%
def speed_sentence(frame, task):
    rows = frame[frame["n_classes"] == task]
    none = rows[rows["condition"] == "none"].set_index("repetition")
    parts = []
    for name in [c for c in rows["condition"].unique() if c != "none"]:
        other = rows[rows["condition"] == name].set_index("repetition")
        faster = (other["epochs_to_target"].fillna(np.inf)
                  < none["epochs_to_target"].fillna(np.inf)).mean()
        parts.append(
            f"with *{name}* pretraining the validation accuracy reached {target_accuracy:g} "
            f"sooner in {100 * faster:.0f} % of the repetitions (it reached it in "
            f"{other['epochs_to_target'].count()} of {len(other)} runs, after "
            f"{other['epochs_to_target'].mean():.1f} epochs on average, against "
            f"{none['epochs_to_target'].count()} of {len(none)} runs and "
            f"{none['epochs_to_target'].mean():.1f} epochs without), the best epoch moved from "
            f"{none['best_epoch'].mean():.0f} to "
            f"{other['best_epoch'].mean():.0f}, and the test accuracy from "
            f"{none['instance_accuracy'].mean():.3f} to {other['instance_accuracy'].mean():.3f}"
            f"; this head classified {other['head_accuracy_on_inputs'].mean():.3f} of the "
            f"standardized training tokens correctly before training the blocks")
    return f"**{task_names[task]}**: " + "; ".join(parts) + "."


spread = varied.groupby("condition")[["epochs_to_target", "instance_accuracy"]].mean()
fragility = (
    f"Across the {varied['condition'].nunique()} distinct pretraining settings of the "
    f"sensitivity study ({task_names[k]}), the mean epochs to the target (runs that reached "
    f"it) range from {spread['epochs_to_target'].min():.1f} to "
    f"{spread['epochs_to_target'].max():.1f} (no pretraining: "
    f"{baseline['epochs_to_target'].mean():.1f}) and the mean test accuracy from "
    f"{spread['instance_accuracy'].min():.3f} to {spread['instance_accuracy'].max():.3f} "
    f"(no pretraining: {baseline['instance_accuracy'].mean():.3f})."
)
display(Markdown("\n\n".join([speed_sentence(summary, k) for k in tasks] + [fragility])))

# %% [markdown]
# These sentences are the chapter's test of the thesis's third claim. Reading them together
# with the heads' accuracy on the inputs shows what decides the outcome here: a geometry whose
# class regions already contain the data's classes gives the blocks little to do, one that puts
# them on the wrong side makes the blocks carry classes across the plane. Pretraining helps when
# the sentences report faster convergence at no loss of accuracy, and it is fragile when the
# sensitivity range is wide, when the sign of the gain changes between geometries, or when
# the gain varies between repetitions of one geometry. With a few repetitions per setting the
# differences are indicative only; `n_seeds` raises the number of repetitions.
#
# ## Exercises
#
# ```{exercise}
# :label: pretraining-rotated-circle
#
# Compute with {func}`otcompanion.geometry.dummy_means` the pretraining means of the
# `sensitivity_task` classes on the circle of radius `radius_factors[-1]` times $3k$, rotated
# by `rotations_deg[-1]` degrees (the function takes radians). Store them, a $k \times 2$
# array, in `rotated_means`, and the distance between neighbouring means in
# `neighbour_distance`. Compare it with $2r\sin(\pi/k)$.
# ```
#
# ```{solution-start} pretraining-rotated-circle
# :class: dropdown
# ```

# %%
from otcompanion import geometry

k = sensitivity_task
radius = radius_factors[-1] * 3 * k
rotated_means = geometry.dummy_means(k, radius=radius, rotation=np.deg2rad(rotations_deg[-1]))
neighbour_distance = float(np.linalg.norm(rotated_means[0] - rotated_means[1]))
display(Markdown(f"Neighbouring means are {neighbour_distance:.4f} apart, and "
                 f"$2r\\sin(\\pi/k) = {2 * radius * np.sin(np.pi / k):.4f}$."))


# %% tags=["remove-cell", "check"]
def check_rotated_circle(env, rotated_means, neighbour_distance):
    """Means against otcompanion.geometry.dummy_means for the assigned parameters (atol 1e-9)
    and their neighbour distance (rtol 1e-9)."""
    import numpy as np

    from otcompanion import classroom, geometry
    p = classroom.assigned_parameters(env)
    k = p["sensitivity_task"]
    expected = geometry.dummy_means(k, radius=p["radius_factors"][-1] * 3 * k,
                                    rotation=np.deg2rad(p["rotations_deg"][-1]))
    classroom.assert_close("rotated_means", rotated_means, expected, atol=1e-9)
    classroom.assert_close("neighbour_distance", neighbour_distance,
                           np.linalg.norm(expected[0] - expected[1]), rtol=1e-9)


from otcompanion import classroom

classroom.run_check(check_rotated_circle, globals())

# %% [markdown]
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

# %%
X_clouds, y_clouds = pretrain.pretraining_clouds(sensitivity_task, n_instances=48, n_tokens=20,
                                                 n_features=2, seed=seed)
cloud_means = np.stack([X_clouds[y_clouds == c].reshape(-1, 2).mean(axis=0)
                        for c in range(sensitivity_task)])
gap = np.linalg.norm(cloud_means - geometry.dummy_means(sensitivity_task), axis=1)
display(Markdown("Distance of each class's sample mean from its dummy mean: "
                 + ", ".join(f"{g:.3f}" for g in gap) + "."))


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
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: pretraining-unfrozen
#
# The thesis froze the pretrained head. Train the same three-class runs with the pretrained
# head left trainable (`freeze=False` in {func}`otcompanion.pretrain.train_pretrained`) and
# compare the epochs to the target and the test accuracy with the frozen runs.
# ```
#
# ```{solution-start} pretraining-unfrozen
# :class: dropdown
# ```

# %%
rows = []
for repetition in range(n_seeds):
    run = experiments.run_seed(seed, sensitivity_task, level, repetition)
    X_train, X_test, y_train, y_test = data.thesis_split(sensitivity_task, level, seed=run)
    for freeze in (True, False):
        fit, _ = pretrain.train_pretrained(X_train, y_train, X_test, y_test, seed=run,
                                           freeze=freeze, epochs=epochs, n_blocks=n_blocks,
                                           n_heads=n_heads, attention_every=0, trace=False)
        rows.append({"repetition": repetition, "head": "frozen" if freeze else "trainable",
                     "epochs to target": pretrain.epochs_to_accuracy(fit, target_accuracy),
                     "best epoch": fit.best_epoch,
                     "test accuracy": fit.test_metrics["instance_accuracy"]})
pd.DataFrame(rows)

# %%
heads = pd.DataFrame(rows).astype({"epochs to target": float})
frozen_vs_trainable = heads.groupby("head").agg(
    reached=("epochs to target", "count"), epochs=("epochs to target", "mean"),
    accuracy=("test accuracy", "mean"))
display(Markdown(
    "Frozen head: reached the target in {0} of {1} runs ({2:.1f} epochs on average), test "
    "accuracy {3:.3f}. Trainable head: {4} of {1} runs ({5:.1f} epochs), test accuracy "
    "{6:.3f}. The frozen rows repeat the \"circle r=3k\" runs above (same seeds).".format(
        frozen_vs_trainable.loc["frozen", "reached"], n_seeds,
        frozen_vs_trainable.loc["frozen", "epochs"], frozen_vs_trainable.loc["frozen", "accuracy"],
        frozen_vs_trainable.loc["trainable", "reached"],
        frozen_vs_trainable.loc["trainable", "epochs"],
        frozen_vs_trainable.loc["trainable", "accuracy"])))

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: pretraining-head-regions
#
# Draw the class regions of a head pretrained on the default three-class circle: classify a
# grid of points of the plane with {meth}`otcompanion.pretrain.HeadPretraining.predict` and
# colour the plane by the predicted class. Where must the blocks carry each class?
# ```
#
# ```{solution-start} pretraining-head-regions
# :class: dropdown
# ```

# %%
X, y = pretrain.pretraining_clouds(3, n_instances=48, n_tokens=20, n_features=2, seed=seed)
head = pretrain.pretrain_head(X, y, seed=seed)
limit = 12
axis = np.linspace(-limit, limit, 121)
grid_points = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 1, 2)
regions = head.predict(grid_points).reshape(len(axis), len(axis))
figure, ax = plt.subplots(figsize=(4.2, 4))
ax.contourf(axis, axis, regions, levels=[-0.5, 0.5, 1.5, 2.5], alpha=0.3,
            colors=plt.rcParams["axes.prop_cycle"].by_key()["color"][:3])
for c in range(3):
    tokens = X[y == c].reshape(-1, 2)
    ax.scatter(tokens[:, 0], tokens[:, 1], s=3, label=f"class {c}")
ax.set_aspect("equal")
ax.legend(fontsize="small")
ax.set_title("class regions of the pretrained head")
plt.show()

# %% [markdown]
# The head splits the plane into three sectors that meet near the circle's centre, one around
# each dummy mean; class $i$'s sector surrounds $m_i$, wherever class $i$ lies in the data. A
# frozen head therefore asks the blocks to carry each class into *its* sector: in the thesis
# data class 0 lies on the left and its sector is at the top, class 1 lies on the right and
# its sector at the lower right, class 2 lies at the top and its sector at the lower left, so
# classes must be carried across the plane, with the few fixed translations of
# {doc}`01_attention_tracing`.
#
# ```{solution-end}
# ```
#
# ## Provenance

# %% [raw] tags=["remove-cell", "assignment-parameters"]
# tasks: [2]
# n_seeds: 1
# epochs: 10
# n_heads: 4
# radius_factors: [1.0]
# covariance_scales: [1.0]
# n_jobs: 1

# %% tags=["provenance"]
provenance({"seed": seed, "tasks": tasks, "level": level, "n_seeds": n_seeds, "epochs": epochs,
            "n_blocks": n_blocks, "n_heads": n_heads, "target_accuracy": target_accuracy,
            "sensitivity_task": sensitivity_task, "radius_factors": radius_factors,
            "rotations_deg": rotations_deg, "covariance_scales": covariance_scales,
            "scheduler": scheduler}, started)
