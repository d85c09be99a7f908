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
# # Tracing self-attention
#
# The thesis reads the training of a Transformer as a *transport* problem. An encoder block
# maps every token of an instance to a new position; stacking blocks and watching the map
# change epoch after epoch gives every training token a **trajectory**, from its standardized
# input position to where the last block sends it once training has stopped. If
# self-attention learns to classify by moving the tokens of each class to a place where the
# classifier head can separate them, that movement is a map between two point clouds, and
# optimal transport tells us how economical it is.
#
# This chapter trains the thesis's Transformer on a two-class and a three-class setup of
# {doc}`00_data`, records the trajectory with {func}`otcompanion.attention.train_transformer`,
# and looks at it: the learning curves, the map from start to end, the paths in between, and
# the attention weights themselves. {doc}`02_ot_metrics` measures the same trajectories over
# all setups and many repetitions.

# %% [markdown]
# ````{admonition} What this chapter finds
# :class: tip
#
# ```{glue:md} chapter-findings
# :format: myst
# ```
#
# One traced run per setup: {doc}`02_ot_metrics` measures the same quantities over many runs
# and decides the thesis's claims on them.
# ````

# %% tags=["parameters"]
seed: int = 0  # seed of the data and of the model's initialization, dropout and validation split
tasks: list[int] = [2, 3]  # numbers of classes to train on (2 and/or 3)
level: int = 2  # difficulty level of the setups, 1 (closest classes) to 4
epochs: int = 200  # training epochs (thesis: 200)
n_blocks: int = 2  # encoder blocks (thesis main runs: 2)
n_heads: int = 10  # attention heads per block (thesis: 10)
n_instances: int = 90  # instances per setup, half for training (thesis: 90)
n_tokens: int = 20  # tokens per instance (thesis: 20)
n_paths: int = 60  # token paths drawn in the path figure
attention_instance: int = 0  # training instance whose attention weights are shown

# %%
import numpy as np
import pandas as pd
from IPython.display import display

from otcompanion import attention, chapter, data, metrics, plots, prose, stats

chapter.begin("01_attention_tracing")

# %% tags=["remove-input"]
# The parameters checked, and what they imply (hidden on the page; it runs as any cell).
task_names = chapter.task_names(tasks)
if not 0 <= attention_instance < n_instances // 2:
    raise ValueError(f"attention_instance must lie between 0 and {n_instances // 2 - 1} (the "
                     f"training instances), got {attention_instance}.")

# %% [markdown]
# ## The model and its training
#
# The architecture is the one of the keras example the thesis started from. A
# block computes multi-head self-attention $a = \mathrm{MHA}(x, x)$ with $H$ heads of key size
# 16, adds it back as $r = \mathrm{LayerNorm}(a) + x$, and applies a token-wise feed-forward
# network the same way, $\mathrm{out} = \mathrm{LayerNorm}(\mathrm{FF}(r)) + r$. Every block
# keeps the token dimension $d = 2$, so each block's output can be drawn in the plane of the
# input. A small head (Dense 8, ReLU, Dense $k$, softmax) classifies every token; an instance's
# prediction averages its tokens' probabilities.
#
# Training follows the thesis: inputs standardized with the training tokens' statistics,
# token-wise cross-entropy, RMSprop with learning rate $10^{-2}$ on the full batch, and the
# weights of the epoch with the lowest validation loss restored at the end. Unlike the thesis
# code, which validated on the test set, 20 % of the *training* instances are held out for
# that choice, so the test set plays no part in training.

# %%
runs = {}
for n_classes in tasks:
    X_train, X_test, y_train, y_test = data.thesis_split(
        n_classes, level, n_instances=n_instances, n_tokens=n_tokens, seed=seed)
    runs[n_classes] = attention.train_transformer(
        X_train, y_train, X_test, y_test, epochs=epochs, n_blocks=n_blocks, n_heads=n_heads,
        seed=seed)

pd.DataFrame([
    {"setup": f"{task_names[k]}, level {level}", "best epoch": fit.best_epoch,
     "test instance accuracy": fit.test_metrics["instance_accuracy"],
     "test token accuracy": fit.test_metrics["token_accuracy"],
     "fit time (s)": fit.fit_seconds, "parameters": sum(p.numel() for p in fit.model.parameters())}
    for k, fit in runs.items()
]).round(3)

# %% tags=["remove-input"]
figure = plots.training_curves({task_names[k]: (fit.history, fit.best_epoch)
                                for k, fit in runs.items()})
chapter.glue_figure("fig-tracing-curves", figure)
chapter.glue("level", level)
chapter.glue("token-accuracy", prose.setup_values(
    {task_names[k]: fit.test_metrics["token_accuracy"] for k, fit in runs.items()}))
accuracy_by_setup = {task_names[k]: fit.test_metrics["instance_accuracy"]
                     for k, fit in runs.items()}
chapter.glue("instance-accuracy", prose.setup_values(accuracy_by_setup))

# %% [markdown]
# {numref}`fig-tracing-curves` shows loss and accuracy on the training instances (in training
# mode, dropout on) and on the validation instances (inference mode). Token accuracy, the share
# of single tokens classified correctly, is the harder target: a token drawn between two class
# means cannot be classified alone, while an instance of many tokens usually can. On the test
# set, token accuracy is {glue:md}`token-accuracy` and instance accuracy
# {glue:md}`instance-accuracy`.
#
# ```{glue:figure} fig-tracing-curves
# :name: fig-tracing-curves
# :alt: Learning curves, one row per setup: the loss on a logarithmic scale, the token accuracy and the instance accuracy against the epoch, for the training and the validation instances, with a dotted vertical line at the best epoch.
#
# Training (dropout on) and validation loss and accuracy per epoch, one row per setup (level
# {glue:text}`level`). Dotted line: the best epoch, whose weights early stopping restored.
# ```

# %% [markdown]
# ## From start to end: the map the blocks learn
#
# The trace keeps, for every epoch up to the best one, every block's output on all training
# tokens. The thesis's trajectory is the sequence
#
# $$
# P_0 = \text{standardized inputs}, \quad P_e = \text{last block's output after epoch } e,
# \quad e = 1, \dots, e^\star ,
# $$
#
# where $e^\star$ is the best epoch. Each arrow of {numref}`fig-tracing-map` joins a token's
# start $P_{0,i}$ to its end $P_{e^\star, i}$.

# %% tags=["remove-input"]
figure, axes = plots.panel_row(len(runs))
for ax, (k, fit) in zip(axes, runs.items()):
    trajectory = fit.trace.trajectory
    plots.token_map(trajectory[0], trajectory[-1], fit.trace.labels, ax=ax,
                    title=f"{task_names[k]}, epoch {fit.best_epoch}")
plots.panel_legend(figure, axes)
chapter.glue_figure("fig-tracing-map", figure)

# %% [markdown]
# ```{glue:figure} fig-tracing-map
# :name: fig-tracing-map
# :alt: One panel per setup with an arrow for every training token, from its standardized input position to its position after the last block at the best epoch, coloured by class. Within each class the arrows are parallel and of equal length.
#
# The map the trained network applies: an arrow from every training token's start (the
# standardized input) to its end (the last block's output at the best epoch, named in the
# panel's title), coloured by class.
# ```
#
# Within a class the arrows look parallel: the tokens are *translated* rather than deformed.
# The table below gives every class's mean move (end minus start) next to the metrics; classes
# with the same mean move were not moved apart at all, and are separated, if at all, by the
# head from where they started. Why the map has this shape is the subject of the section
# "Inside the blocks" below.
#
# How far did every class move, and was the map economical? Per class $c$, the thesis compares
# the cost of the map the network chose, each token with its own image,
# $TD_c = \big(\sum_i \lVert S_i - E_i\rVert^2\big)^{1/2}$, with the cost of the optimal
# assignment between the same start and end clouds, $W_c$; their ratio is the *optimality*
# and the share of tokens that the optimal assignment sends to their own image is the
# *matching* ({func}`otcompanion.metrics.thesis_metrics`). A translation is an optimal map
# for the squared distance, so a class translated as one block has optimality and matching 1.

# %%
metric_tables = []
for k, fit in runs.items():
    totals, by_class = metrics.thesis_metrics(fit.trace.trajectory, fit.trace.labels,
                                              per_class=True)
    by_class.insert(0, "setup", task_names[k])
    trajectory = fit.trace.trajectory
    moves = (trajectory[-1] - trajectory[0]).mean(axis=1)  # mean move of every instance
    for axis in range(moves.shape[-1]):
        by_class.insert(2 + axis, f"mean move x{axis + 1}",
                        [moves[fit.trace.labels == c, axis].mean() for c in by_class["class"]])
    metric_tables.append(by_class)
pd.concat(metric_tables, ignore_index=True).round(4)

# %% [markdown]
# ## The paths in between
#
# The end points do not tell how the tokens got there. {numref}`fig-tracing-paths` follows a
# random sample of {glue:text}`n-paths` tokens through every recorded epoch.

# %% tags=["remove-input"]
figure, axes = plots.panel_row(len(runs))
for ax, (k, fit) in zip(axes, runs.items()):
    plots.token_paths(fit.trace.trajectory, fit.trace.labels, ax=ax, n_paths=n_paths, seed=seed,
                      title=task_names[k])
plots.panel_legend(figure, axes)
chapter.glue_figure("fig-tracing-paths", figure)
chapter.glue("n-paths", int(n_paths))

# %% [markdown]
# ```{glue:figure} fig-tracing-paths
# :name: fig-tracing-paths
# :alt: One panel per setup with the paths of randomly chosen training tokens through every recorded epoch, coloured by class, each starting at a hollow circle and ending at a dot. Many paths zigzag back and forth before reaching their end.
#
# Paths of {glue:text}`n-paths` randomly chosen training tokens per setup through every
# recorded epoch, from the input (hollow circle) to the best epoch (dot), coloured by class.
# ```

# %% [markdown]
# The table puts numbers on the paths: *straightness* is the net displacement over the path
# length, summed over tokens (1 for straight paths traversed once); the path lengths are what
# the thesis's *step cost* adds up. With a learning rate of $10^{-2}$ on the full batch the
# positions can jump back and forth between epochs, and every such jump adds to the path
# length without adding to the displacement.

# %% tags=["remove-input"]
path_rows = []
for k, fit in runs.items():
    trajectory = fit.trace.trajectory
    points = trajectory.reshape(len(trajectory), -1, trajectory.shape[-1])
    path_length = np.linalg.norm(np.diff(points, axis=0), axis=-1).sum(axis=0)
    displacement = np.linalg.norm(points[-1] - points[0], axis=-1)
    path_rows.append({"setup": task_names[k], "recorded epochs": len(trajectory) - 1,
                      "mean path length": path_length.mean(),
                      "mean displacement": displacement.mean(),
                      "straightness": metrics.straightness(trajectory)})
paths_table = pd.DataFrame(path_rows)
chapter.glue("straightness", prose.setup_values(
    dict(zip(paths_table["setup"], paths_table["straightness"]))))
paths_table.round(3)

# %% [markdown]
# Straightness is {glue:md}`straightness`: far from the 1 of straight paths.

# %% [markdown]
# ## Inside the blocks
#
# Each block moves the tokens twice: once by attention (plus residual) and once by the
# feed-forward network (plus residual). The trace records both, so the two moves can be told
# apart. {numref}`fig-tracing-sublayers` shows, at the best epoch, the model's input and the
# cloud after each sublayer of every block.

# %% tags=["remove-input"]
frame = pd.concat([data.tokens_to_frame(X, fit.trace.labels).assign(
                       stage="\n".join(name.rsplit(" ", 1)), setup=task_names[k])
                   for k, fit in runs.items() for name, X in fit.trace.sublayer_outputs()],
                  ignore_index=True)
grid = plots.token_scatter(frame, row="stage", col="setup", equal_axes=False, share="col",
                           aspect=1.2)
chapter.glue_figure("fig-tracing-sublayers", grid.figure)

# %% [markdown]
# ```{glue:figure} fig-tracing-sublayers
# :name: fig-tracing-sublayers
# :alt: Scatter plots of the training tokens coloured by class, one column per setup and one row per stage: the input, then the output of the attention and of the feed-forward sublayer of every block. From one row to the next the clouds keep their shape and only shift.
#
# The training tokens at the best epoch, stage by stage (rows: the input and the output of every
# sublayer; columns: setups), coloured by class. Axes are shared within a column.
# ```

# %% [markdown]
# The clouds keep their shape from one stage to the next and only shift. The reason is the
# LayerNorm at the end of each sublayer, applied over the $d = 2$ features of a token. For a
# vector $u = (u_1, u_2)$ the normalized vector is
#
# $$
# \frac{u - \bar u}{\sqrt{\operatorname{var}(u) + \epsilon}}
# = \frac{\delta}{\sqrt{\delta^2 + \epsilon}}\,(1, -1), \qquad \delta = \frac{u_1 - u_2}{2},
# $$
#
# which is $\pm(1, -1)$ up to $\epsilon = 10^{-6}$: after the learned scale $\gamma$ and shift
# $\beta$, a two-feature LayerNorm has essentially **two possible outputs**,
# $\beta \pm (\gamma_1, -\gamma_2)$. Every sublayer therefore adds to each token one of two
# fixed vectors, chosen by the sign of $u_1 - u_2$ of the sublayer's output, and its gradient
# with respect to everything before the LayerNorm is of order
# $\epsilon / \lvert\delta\rvert^3$, practically zero. The table counts, at the best epoch,
# the distinct displacement vectors each sublayer adds to the tokens (rounded to $10^{-3}$),
# overall and at most within one instance, and how much each block's attention logits
# $QK^\top / \sqrt{d_k}$ changed during training (relative Frobenius change from epoch 0 to
# the best epoch).

# %%
def logit_change(fit):
    logits = fit.trace.attention_logits  # (snapshots, n_blocks, n, H, T, T)
    return pd.DataFrame([
        {"block": b + 1, "relative change of the attention logits":
            np.linalg.norm(logits[-1, b] - logits[0, b]) / np.linalg.norm(logits[0, b])}
        for b in range(logits.shape[1])])


moves = pd.concat([fit.trace.sublayer_moves().assign(setup=task_names[k])
                   for k, fit in runs.items()], ignore_index=True)
logits = pd.concat([logit_change(fit).assign(setup=task_names[k]) for k, fit in runs.items()],
                   ignore_index=True)
display(moves.set_index(["setup", "sublayer"]).round(3))
logits.set_index(["setup", "block"]).round(3)

# %% tags=["remove-input"]
chapter.glue("moves-in-instance",
             prose.count(moves["most distinct moves in one instance"].max(), "distinct move"))
chapter.glue("moves-overall-max", int(moves["distinct moves"].max()))
chapter.glue("moves-single-share",
             prose.share_of((moves["distinct moves"] == 1).sum(), len(moves)))
change = logits["relative change of the attention logits"]
chapter.glue("logit-change-low", float(change.min()))
chapter.glue("logit-change-high", float(change.max()))

# %% [markdown]
# So, in the thesis's configuration, the whole network moves every token by a sum of a few
# fixed vectors, one per sublayer, and which vector a token gets depends on a sign computed
# from its attention-weighted values. In these runs no sublayer gives the tokens of one
# instance more than {glue:md}`moves-in-instance` (second column), and over
# the whole training set a sublayer makes at most {glue:text}`moves-overall-max` (first column;
# {glue:md}`moves-single-share` sublayers move every token by the same vector). Where a
# sublayer gives all tokens of an instance the same move, it translates the instance as a block,
# and the head only has to separate a few translated copies of the input. This is the structure
# behind the thesis's observation that the learned map is close to an optimal transport map: a
# translation is one.
#
# The attention logits do change during training (last table: relative changes from
# {glue:text}`logit-change-low:.3f` to {glue:text}`logit-change-high:.3f`): RMSprop divides every
# step by the running size of its gradient, so even the minute gradients that pass a two-feature
# LayerNorm move the weights at full learning rate. But their effect on the tokens changes only when
# a sign flips; between flips, the LayerNorm's $\gamma$ and $\beta$ decide how far
# the tokens move. The thesis's claims are about this model, so the book measures this model;
# {ref}`the second exercise <tracing-third-feature>` shows how the picture changes with one
# more feature.
#
# ## The attention weights
#
# Attention is where tokens of one instance look at each other. Head $h$ of a block turns the
# instance's tokens into a $T \times T$ matrix $A = \mathrm{softmax}(QK^\top / \sqrt{d_k})$,
# whose row $i$ says how much token $i$ draws from every other token. The trace stores these
# scores every 5 epochs. {numref}`fig-tracing-attention` shows training instance
# {glue:text}`attention-instance`, every head of every block, at epoch 0 (the initialization)
# and at the best epoch, on one common colour scale. The largest weight is
# {glue:text}`attention-max:.3f`, against {glue:text}`attention-uniform:.3f` for uniform
# averaging ($1/T$).

# %% tags=["remove-input"]
weights, labels = [], []
for k, fit in runs.items():
    for b in range(n_blocks):
        for e in (0, fit.best_epoch):
            weights.append(fit.trace.attention_at(e)[b, attention_instance])
            labels.append(f"{task_names[k]}\nblock {b + 1}, epoch {e}")
weights = np.stack(weights)
figure = plots.attention_heads(weights, labels)
chapter.glue_figure("fig-tracing-attention", figure)
chapter.glue("attention-instance", int(attention_instance))
chapter.glue("attention-max", float(weights.max()))
chapter.glue("attention-uniform", 1 / n_tokens)

# %% [markdown]
# ```{glue:figure} fig-tracing-attention
# :name: fig-tracing-attention
# :alt: A grid of small heat maps, one column per attention head and one row per setup, block and epoch (the initialization and the best epoch), white where a weight equals the uniform 1/T, red above and blue below. Most maps are close to white.
#
# Attention weights of one training instance: every head (columns) of every block at epoch 0
# and at the best epoch (rows, per setup). Row $i$ of a map is how much token $i$ draws from
# every token of the instance; all maps share one colour scale, white at the uniform weight
# $1/T$ = {glue:text}`attention-uniform:.3f`, red above it and blue below.
# ```

# %% [markdown]
# How far are these weights from uniform averaging, and how close are they to a *transport
# plan*? This is the question of the Sinkformers view of attention (Sander et al., 2022). Read
# $A / T$ as a coupling: its rows have the uniform marginal $1/T$, so it is one half-step of
# Sinkhorn's algorithm for the cost $-QK^\top/\sqrt{d_k}$ with $\varepsilon = 1$; iterating to
# convergence gives the doubly stochastic Sinkhorn plan $P$. {numref}`fig-tracing-coupling`
# tracks, averaged over
# instances and heads, the total-variation distance of the column marginal of $A/T$ from
# uniform (0 iff $A$ is doubly stochastic) and the total-variation distance from $A/T$ to $P$
# ({func}`otcompanion.metrics.attention_coupling_metrics`).

# %%
coupling_frames = []
for k, fit in runs.items():
    trace = fit.trace
    frame = metrics.attention_coupling_metrics(
        trace.attention, trace.attention_logits,
        index_names=("snapshot", "block", "instance", "head"))
    frame["epoch"] = trace.attention_epochs[frame["snapshot"]]
    frame["block"] = "block " + (frame["block"] + 1).astype(str)
    frame["setup"] = task_names[k]
    coupling_frames.append(frame)
coupling = pd.concat(coupling_frames, ignore_index=True)
per_epoch = (coupling.groupby(["setup", "block", "epoch"], as_index=False)
             [["column_deviation", "tv_to_sinkhorn"]].mean())
per_epoch["setup, block"] = per_epoch["setup"] + ", " + per_epoch["block"]

# %% tags=["remove-input"]
grid = plots.metric_panels(per_epoch, "epoch", ["column_deviation", "tv_to_sinkhorn"],
                           hue="setup, block", errorbar=None)
chapter.glue_figure("fig-tracing-coupling", grid.figure)

# %% [markdown]
# ```{glue:figure} fig-tracing-coupling
# :name: fig-tracing-coupling
# :alt: Two line charts against the epoch, one line per setup and block: the column deviation of the attention coupling from uniform, and its total-variation distance to the Sinkhorn plan. The two charts look almost the same.
#
# How far attention is from a transport plan, per setup and block, averaged over instances and
# heads: the total-variation distance of the column marginal of $A/T$ from uniform (left)
# and from $A/T$ to the Sinkhorn plan $P$ (right).
# ```

# %%
coupling_table = coupling.groupby(["setup", "block"])[["column_deviation", "tv_to_sinkhorn"]].agg(
    ["mean", "max"])
coupling_table.round(4)

# %% tags=["remove-input"]
gap = (coupling["tv_to_sinkhorn"] - coupling["column_deviation"]).abs()
chapter.glue("coupling-mean-max", float(coupling_table[("tv_to_sinkhorn", "mean")].max()))
chapter.glue("coupling-gap", stats.format_value(gap.mean(), 2, notation="g"))
class_metrics = pd.concat(metric_tables, ignore_index=True)
chapter.state_findings([
    f"Test instance accuracy {prose.setup_values(accuracy_by_setup)} at level {level}.",
    f"The final map translates each class almost as one block: per class, the optimality "
    f"$W_c / TD_c$ lies between {stats.format_value(class_metrics['optimality'].min())} and "
    f"{stats.format_value(class_metrics['optimality'].max())} (1 for a translation).",
    f"The paths in between are not straight: straightness (net move over path length) "
    f"{prose.setup_values(dict(zip(paths_table['setup'], paths_table['straightness'])))}.",
    f"Attention stays close to uniform averaging: the largest weight of the instance shown "
    f"is {stats.format_value(weights.max())} against $1/T$ = {stats.format_value(1 / n_tokens)}, "
    f"and every block's mean distance to the doubly stochastic Sinkhorn plan is at most "
    f"{stats.format_value(coupling_table[('tv_to_sinkhorn', 'mean')].max())}."])

# %% [markdown]
# Both distances lie between 0 and 1; their means stay at most {glue:text}`coupling-mean-max:.4f` in
# every block, and the two differ on average by {glue:md}`coupling-gap`: the distance to the
# Sinkhorn plan is essentially the failure of the column sums, because the attention is close to
# uniform and Sinkhorn's normalization only has to rebalance the columns a little. Where attention
# becomes less uniform during training, the matrices drift away from doubly stochastic; compare the
# blocks in the table. For these data uniform averaging is a sensible solution: every token of an
# instance carries the same class information, and averaging over the instance is what reduces the
# within-class spread.
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
# :label: tracing-layernorm-points
#
# The LayerNorm argument above says that with $d = 2$ a LayerNorm without its affine part sends
# almost every token to $(1, -1)$ or $(-1, 1)$. Check it on your data: take the training tokens
# of the first task, `data.thesis_split(tasks[0], level, n_instances=n_instances,
# n_tokens=n_tokens, seed=seed)`, standardize them with
# {class}`~otcompanion.data.TokenStandardizer`, and normalize every token with
# `torch.nn.functional.layer_norm` over its two features (no weights, the default `eps`). Store
# the normalized tokens, an array of the training tokens' shape, in `normalized`, and the share
# of tokens whose first normalized feature is positive in `share_first_positive`. Which tokens
# land far from the two points?
# ```
#
# ```{solution-start} tracing-layernorm-points
# :class: dropdown
# ```
#
# With two features the mean is $(a + b)/2$ and the normalized token is
# $\pm (a - b) / \sqrt{(a - b)^2 + 4\varepsilon}$: $\pm 1$ up to $\varepsilon$, except for the
# few tokens with $a \approx b$, which sit near the diagonal of the plane.

# %% tags=["remove-input"]
import torch

X_train, _, _, _ = data.thesis_split(tasks[0], level, n_instances=n_instances,
                                     n_tokens=n_tokens, seed=seed)
standardized = torch.as_tensor(data.TokenStandardizer().fit_transform(X_train))
normalized = torch.nn.functional.layer_norm(standardized, (standardized.shape[-1],)).numpy()
share_first_positive = float((normalized[..., 0] > 0).mean())
distance = np.abs(np.abs(normalized[..., 0]) - 1)
chapter.glue("ex-ln-share", share_first_positive)
chapter.glue("ex-ln-close", float((distance < 0.01).mean()))
chapter.glue("ex-ln-farthest", float(distance.max()))
chapter.glue("ex-ln-gap", float(np.abs(np.diff(standardized.numpy(), axis=-1)).reshape(-1)[
    distance.argmax()]))
share_first_positive


# %% tags=["remove-cell", "check"]
def check_layernorm_points(env, normalized, share_first_positive):
    """The normalized tokens and the share on (1, -1), against otcompanion.data and torch for
    the assigned parameters (atol 1e-9)."""
    import torch

    from otcompanion import classroom, data
    p = classroom.assigned_parameters(env)
    X, _, _, _ = data.thesis_split(p["tasks"][0], p["level"], n_instances=p["n_instances"],
                                   n_tokens=p["n_tokens"], seed=p["seed"])
    tokens = torch.as_tensor(data.TokenStandardizer().fit_transform(X))
    expected = torch.nn.functional.layer_norm(tokens, (tokens.shape[-1],)).numpy()
    classroom.assert_close("normalized", normalized, expected, atol=1e-9)
    classroom.assert_close("share_first_positive", share_first_positive,
                           (expected[..., 0] > 0).mean(), atol=1e-9)


from otcompanion import classroom

classroom.run_check(check_layernorm_points, globals())

# %% [markdown]
# A share of {glue:text}`ex-ln-share:.1%` of the tokens land on $(1, -1)$;
# {glue:text}`ex-ln-close:.1%` of all tokens lie within 0.01 of one of the two points, and the
# farthest, {glue:text}`ex-ln-farthest:.3f` away, has its two standardized features
# {glue:text}`ex-ln-gap:.4f` apart.
#
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: tracing-untrained-attention
#
# How uniform is attention before any training? Call `torch.manual_seed(seed)`, build an
# untrained model `attention.ThesisTransformer(2, tasks[0], n_blocks=n_blocks,
# n_heads=n_heads).eval()`, and trace the standardized training instance `attention_instance`
# of the previous exercise (as a `float32` tensor of shape $(1, T, 2)$) with its
# {meth}`~otcompanion.attention.ThesisTransformer.trace`. Store the first block's attention
# weights averaged over the heads, a $T \times T$ array, in `untrained_attention`, and compare
# its entries with the uniform $1/T$.
# ```
#
# ```{solution-start} tracing-untrained-attention
# :class: dropdown
# ```
#
# Glorot-initialized queries and keys give small scores, so the softmax is close to uniform:

# %% tags=["remove-input"]
torch.manual_seed(seed)
untrained = attention.ThesisTransformer(2, tasks[0], n_blocks=n_blocks, n_heads=n_heads).eval()
instance = standardized[attention_instance:attention_instance + 1].to(torch.float32)
with torch.no_grad():
    untrained_attention = untrained.trace(instance).attention[0, 0].mean(0).numpy()
chapter.glue("ex-untrained-min", float(untrained_attention.min()))
chapter.glue("ex-untrained-max", float(untrained_attention.max()))
chapter.glue("ex-uniform", 1 / n_tokens)
untrained_attention.sum(axis=1)


# %% tags=["remove-cell", "check"]
def check_untrained_attention(env, untrained_attention):
    """Head-averaged first-block attention of the untrained model, against
    otcompanion.attention for the assigned parameters (atol 1e-6, float32)."""
    import torch

    from otcompanion import attention, classroom, data
    p = classroom.assigned_parameters(env)
    X, _, _, _ = data.thesis_split(p["tasks"][0], p["level"], n_instances=p["n_instances"],
                                   n_tokens=p["n_tokens"], seed=p["seed"])
    tokens = torch.as_tensor(data.TokenStandardizer().fit_transform(X), dtype=torch.float32)
    torch.manual_seed(p["seed"])
    model = attention.ThesisTransformer(2, p["tasks"][0], n_blocks=p["n_blocks"],
                                        n_heads=p["n_heads"]).eval()
    index = p["attention_instance"]
    with torch.no_grad():
        expected = model.trace(tokens[index:index + 1]).attention[0, 0].mean(0).numpy()
    classroom.assert_close("untrained_attention", untrained_attention, expected, atol=1e-6)


classroom.run_check(check_untrained_attention, globals())

# %% [markdown]
# Every row sums to 1 and its entries lie between {glue:text}`ex-untrained-min:.4f` and
# {glue:text}`ex-untrained-max:.4f`, against the uniform {glue:text}`ex-uniform:.4f`: the
# table of entries says how close to uniform attention is before training.
#
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: tracing-blocks
#
# Rerun the chapter with `n_blocks = 1` (for example
# `otcompanion run 01_attention_tracing -p n_blocks 1 -o one_block.ipynb`). Compare the test
# accuracy and the moves of the sublayers with the two-block model. Does the second block add
# anything on this setup?
# ```
#
# ```{solution-start} tracing-blocks
# :class: dropdown
# ```
#
# Train the other model on the same data and seed and put the two sublayer tables side by
# side:

# %% tags=["remove-input"]
first_task = tasks[0]
X_train, X_test, y_train, y_test = data.thesis_split(first_task, level, n_instances=n_instances,
                                                     n_tokens=n_tokens, seed=seed)
other_blocks = 1 if n_blocks != 1 else 2
other = attention.train_transformer(X_train, y_train, X_test, y_test, epochs=epochs,
                                    n_blocks=other_blocks, n_heads=n_heads, seed=seed)
display(pd.concat([fit.trace.sublayer_moves().assign(model=prose.count(fit.model.n_blocks, "block"))
                   for fit in (runs[first_task], other)],
                  ignore_index=True).set_index(["model", "sublayer"]).round(3))
models = {prose.count(fit.model.n_blocks, "block"): fit for fit in (runs[first_task], other)}
display(pd.DataFrame([{"model": name, "best epoch": fit.best_epoch, **fit.test_metrics}
                      for name, fit in models.items()]).round(3))
accuracies = {name: fit.test_metrics["instance_accuracy"] for name, fit in models.items()}
chapter.glue("blocks-accuracies", prose.blocks_accuracies(accuracies))
chapter.glue("blocks-reading", prose.blocks_reading(accuracies))

# %% [markdown]
# Test accuracy: {glue:md}`blocks-accuracies`; {glue:md}`blocks-reading`. Every sublayer of
# either model adds one of at most a few fixed vectors, so a second block can only add further
# fixed translations.
#
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: tracing-third-feature
#
# The LayerNorm argument above needs $d = 2$. Append to every token a third feature of pure
# noise, $\mathcal N(0, 1)$, independent of the class, and train the same model. How many
# distinct moves does each sublayer make now, how much do the attention logits change, and what
# happens to the optimality of the map?
# ```
#
# ```{solution-start} tracing-third-feature
# :class: dropdown
# ```
#
# With three features the normalized vector lies on a circle (zero mean, unit variance), not on
# two points, so the LayerNorm no longer quantizes the moves and gradients flow through it:

# %%
rng = np.random.default_rng(seed)
X_train, X_test, y_train, y_test = data.thesis_split(first_task, level, n_instances=n_instances,
                                                     n_tokens=n_tokens, seed=seed)
with_noise = [np.concatenate([X, rng.normal(size=X.shape[:2] + (1,))], axis=-1)
              for X in (X_train, X_test)]
three = attention.train_transformer(with_noise[0], y_train, with_noise[1], y_test,
                                    epochs=epochs, n_blocks=n_blocks, n_heads=n_heads, seed=seed)
display(three.trace.sublayer_moves().round(3), logit_change(three).round(3))
pd.DataFrame([
    {"features": fit.trace.inputs.shape[-1],
     "test accuracy": fit.test_metrics["instance_accuracy"],
     **metrics.thesis_metrics(fit.trace.trajectory, fit.trace.labels)}
    for fit in (runs[first_task], three)
]).round(4)

# %% tags=["remove-input"]
two_d, three_d = (metrics.thesis_metrics(fit.trace.trajectory, fit.trace.labels)
                  for fit in (runs[first_task], three))
chapter.glue("third-moves", int(three.trace.sublayer_moves()["distinct moves"].iloc[0]))
chapter.glue("two-moves", int(runs[first_task].trace.sublayer_moves()["distinct moves"].iloc[0]))
chapter.glue("two-optimality", float(two_d["optimality"]))
chapter.glue("third-optimality", float(three_d["optimality"]))
chapter.glue("two-matching", float(two_d["matching"]))
chapter.glue("third-matching", float(three_d["matching"]))
chapter.glue("third-reading", prose.third_feature_reading(three_d["matching"]))

# %% [markdown]
# With a third feature the first sublayer makes {glue:text}`third-moves` distinct moves instead
# of {glue:text}`two-moves`. Optimality goes from {glue:text}`two-optimality:.4f` to
# {glue:text}`third-optimality:.4f` and matching from {glue:text}`two-matching:.3f` to
# {glue:text}`third-matching:.3f`: once the sublayers can deform the clouds, the optimal
# assignment {glue:md}`third-reading`.
#
# ```{solution-end}
# ```
#
# ## Provenance

# %% [raw] tags=["remove-cell", "assignment-parameters"]
# tasks: [2]
# epochs: 10
# n_instances: 30
# n_heads: 4
# n_paths: 20

# %% tags=["provenance"]
chapter.provenance(globals())
