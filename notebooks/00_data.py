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
# # The data
#
# The thesis asks what self-attention *does* to a set of tokens while it learns to classify
# them, and answers with optimal transport. To see that clearly it uses data whose geometry is
# known exactly: every instance is a set of $T = 20$ tokens in $\mathbb{R}^2$, and every token
# of an instance of class $k$ is drawn independently from a Gaussian
# $\mathcal{N}(\mu_k, \Sigma_k)$. The class of an instance is therefore a property of the
# *distribution* of its tokens, which is exactly what a transport map can move around.
#
# This chapter builds those data sets with {mod}`otcompanion.data`, shows them at every
# difficulty level, explains how the standardization that precedes training changes their
# geometry, and introduces the real table used in the biomedical chapter. Every later chapter
# starts from the functions used here.

# %% [markdown]
# ````{admonition} What this chapter finds
# :class: tip
#
# ```{glue:md} chapter-findings
# :format: myst
# ```
# ````

# %% tags=["parameters"]
seed: int = 0  # random seed of the token clouds and of the breast-cancer split
n_instances: int = 90  # instances per setup, a multiple of 2 and 3 (thesis: 90)
n_tokens: int = 20  # tokens per instance (thesis: 20)
levels: list[int] = [1, 2, 3, 4]  # difficulty levels to show, from 1 (closest classes) to 4
standardization_level: int = 1  # level at which the effect of standardization is shown
breast_cancer_layout: str = "measurements"  # token layout: table, measurements or statistics

# %%
import numpy as np
import pandas as pd

from otcompanion import chapter, data, plots, prose, stats

chapter.begin("00_data")

# %% [markdown]
# ## The synthetic setups
#
# The thesis uses two tasks, each at four levels $L = 1, \dots, 4$, with covariance
# $\Sigma_k = 2I$ for every class:
#
# - **two classes**: $\mu_0 = (-L, 0)$, $\mu_1 = (L, 0)$;
# - **three classes**: with $x = 6L / \big(2(1 + \sqrt 2)\big)$, $\mu_0 = (-x, 0)$,
#   $\mu_1 = (x, 0)$, $\mu_2 = (0, x)$.
#
# The odd-looking $x$ is chosen so that both tasks are equally hard at the same level: the
# difficulty axis of the thesis ("gauss_dist") is the mean, over pairs of classes, of the
# closed-form 2-Wasserstein distance between the class Gaussians,
#
# $$
# W_2^2\big(\mathcal{N}(\mu_a, \Sigma_a), \mathcal{N}(\mu_b, \Sigma_b)\big)
# = \lVert \mu_a - \mu_b \rVert^2
# + \operatorname{Tr}\big(\Sigma_a + \Sigma_b - 2(\Sigma_a^{1/2} \Sigma_b \Sigma_a^{1/2})^{1/2}\big),
# $$
#
# which with equal covariances is just the distance between the means. The table lists it for
# every setup (closed form), together with the closest and farthest pair of classes and the
# same quantity estimated from the sampled training tokens.

# %%
splits = {
    (n_classes, level): data.thesis_split(n_classes, level, n_instances=n_instances,
                                          n_tokens=n_tokens, seed=seed)
    for n_classes in (2, 3)
    for level in levels
}
separations = data.separation_table(levels=levels)
separations["fitted_mean_w2"] = [
    data.fitted_mean_pairwise_w2(splits[k, level][0], splits[k, level][2])
    for k, level in zip(separations["n_classes"], separations["level"])
]
separations.round(3)

# %% tags=["remove-input"]
first_split = next(iter(splits.values()))
chapter.glue("n-instances", n_instances)
chapter.glue("n-tokens", n_tokens)
chapter.glue("n-train-instances", len(first_split[2]))
chapter.glue("n-train-tokens", int(first_split[0].shape[0] * first_split[0].shape[1]))
train_tokens = pd.concat([
    data.tokens_to_frame(X_train, y_train).assign(task=f"{k} classes", level=level)
    for (k, level), (X_train, _, y_train, _) in splits.items()
])
grid = plots.token_scatter(train_tokens, row="level", col="task")
chapter.glue_figure("fig-data-setups", grid.figure)

# %% [markdown]
# Each instance has $T$ tokens and the instances alternate between the training and the test
# set (even-numbered instances train, odd-numbered ones test), so {glue:text}`n-instances`
# instances of {glue:text}`n-tokens` tokens (the thesis's 90 of 20) give
# {glue:text}`n-train-instances` training instances, that is {glue:text}`n-train-tokens`
# training tokens. {numref}`fig-data-setups` shows those training tokens, one point per token,
# coloured by the class of their instance.
#
# ```{glue:figure} fig-data-setups
# :name: fig-data-setups
# :alt: A grid of scatter plots, one row per difficulty level and one column for the two-class and the three-class task. Each shows the training tokens as dots coloured by class; the class clouds overlap almost completely at level 1 and are clearly apart at level 4.
#
# The training tokens of every setup (rows: difficulty level; columns: task), one dot per
# token, coloured by the class of its instance, on equal axes.
# ```

# %%
split_sizes = pd.DataFrame([
    {"task": f"{k} classes", "level": level, "train instances": len(y_train),
     "test instances": len(y_test), "train tokens": X_train.shape[0] * X_train.shape[1],
     "train instances per class": " / ".join(map(str, np.bincount(y_train)))}
    for (k, level), (X_train, X_test, y_train, y_test) in splits.items()
])
split_sizes

# %% [markdown]
# At level 1 the classes overlap heavily: a single token says little about its class, and an
# instance can only be classified by pooling its tokens. At level 4 the clouds barely touch.
# The chapters on attention and OT metrics ask how the transport that the trained Transformer
# performs on these tokens changes along this axis.
#
# ## Standardization and its effect on geometry
#
# Before training, every feature is standardized with the mean and standard deviation of the
# *training* tokens, and the same statistics are applied to the test tokens
# ({class}`~otcompanion.data.TokenStandardizer`). The thesis's own code differed in two places
# that this book does not reproduce: the Transformer was trained on unstandardized inputs but
# its trajectory was traced on standardized ones, and the OT classifier standardized test data
# with the test set's own statistics.
#
# Standardization is an affine map per feature, so it does not change which classes can be
# separated, but it does change Euclidean distances, and every OT cost in later chapters is
# computed in standardized coordinates.

# %% tags=["remove-input"]
standardized_tokens = []
for k in (2, 3):
    X_train, X_test, y_train, y_test = splits[k, standardization_level]
    scaler = data.TokenStandardizer().fit(X_train)
    for scale, tokens in (("raw", X_train), ("standardized", scaler.transform(X_train))):
        standardized_tokens.append(
            data.tokens_to_frame(tokens, y_train).assign(task=f"{k} classes", scale=scale))
grid = plots.token_scatter(pd.concat(standardized_tokens), row="task", col="scale")
chapter.glue_figure("fig-data-standardized", grid.figure)
chapter.glue("standardization-level", standardization_level)

# %% [markdown]
# ```{glue:figure} fig-data-standardized
# :name: fig-data-standardized
# :alt: Four scatter plots of training tokens coloured by class: the two-class and the three-class task in rows, raw and standardized coordinates in columns. The standardized clouds have the same shape as the raw ones, centred on the origin and rescaled per feature.
#
# Raw and standardized training tokens at level {glue:text}`standardization-level` (rows: task;
# columns: coordinates). Standardization centres and rescales every feature; the shape of the
# class clouds is unchanged up to a per-feature scale.
# ```
#
# {numref}`fig-data-standardized` shows the effect at level
# {glue:text}`standardization-level`.

# %% [markdown]
# The test tokens are standardized with the training statistics, so their means are close to,
# but not exactly, zero and their standard deviations close to one:

# %%
moments = []
for k in (2, 3):
    X_train, X_test, _, _ = splits[k, standardization_level]
    scaler = data.TokenStandardizer().fit(X_train)
    for split_name, tokens in (("train", X_train), ("test", X_test)):
        flat = scaler.transform(tokens).reshape(-1, tokens.shape[-1])
        moments.append({"task": f"{k} classes", "split": split_name,
                        **{f"mean x{j + 1}": m for j, m in enumerate(flat.mean(axis=0))},
                        **{f"sd x{j + 1}": s for j, s in enumerate(flat.std(axis=0))}})
pd.DataFrame(moments).round(3)

# %% [markdown]
# What standardization does to the separation of the classes depends on the level. The
# pooled variance of the first feature grows with the distance between the class means, so
# dividing by it shrinks large separations more than small ones:

# %%
standardized_separation = pd.DataFrame([
    {"task": f"{k} classes", "level": level,
     "fitted mean W2, raw": data.fitted_mean_pairwise_w2(X_train, y_train),
     "fitted mean W2, standardized": data.fitted_mean_pairwise_w2(
         data.TokenStandardizer().fit_transform(X_train), y_train)}
    for (k, level), (X_train, _, y_train, _) in splits.items()
])
standardized_separation.round(3)

# %% tags=["remove-input"]
two_classes = standardized_separation[standardized_separation["task"] == "2 classes"]
lowest, highest = two_classes.iloc[0], two_classes.iloc[-1]
chapter.glue("sep-low-level", int(lowest["level"]))
chapter.glue("sep-high-level", int(highest["level"]))
chapter.glue("sep-raw-low", float(lowest["fitted mean W2, raw"]))
chapter.glue("sep-raw-high", float(highest["fitted mean W2, raw"]))
chapter.glue("sep-std-low", float(lowest["fitted mean W2, standardized"]))
chapter.glue("sep-std-high", float(highest["fitted mean W2, standardized"]))

# %% [markdown]
# In raw units the separation grows linearly with the level; after standardization it grows
# much more slowly: for two classes, from level {glue:text}`sep-low-level` to level
# {glue:text}`sep-high-level` the raw separation goes from {glue:text}`sep-raw-low:.2f` to
# {glue:text}`sep-raw-high:.2f`, the standardized one only from {glue:text}`sep-std-low:.2f` to
# {glue:text}`sep-std-high:.2f`, and it can never exceed 2 (see the exercise below). When
# later chapters plot results against "gauss_dist", the horizontal axis is the raw-unit
# separation of the thesis, while the model and every transport cost see the standardized one.
#
# ## A real table: Wisconsin breast cancer
#
# The biomedical chapter applies the same methods to real data. By default it uses the
# Wisconsin diagnostic breast-cancer table that ships with scikit-learn, so no download is
# needed ({func}`~otcompanion.data.load_breast_cancer_tokens`; your own CSV file can be used
# instead with {func}`~otcompanion.data.load_csv`). Each of its {glue:text}`cancer-instances`
# instances is an image of a fine-needle aspirate, described by {glue:text}`cancer-measurements`
# measurements of the cell nuclei (radius, texture, …), each summarized by three statistics over the
# nuclei of the image: the mean, the standard error and the worst value. That structure suggests
# tokens: one token per measurement with the three statistics as features (layout `"measurements"`),
# or one token per statistic with the ten measurements as features (layout `"statistics"`); layout
# `"table"` keeps the 30 columns as a single token.

# %% tags=["remove-input"]
cancer = data.load_breast_cancer_tokens(layout=breast_cancer_layout)
chapter.glue("cancer-instances", len(cancer.y))
chapter.glue("cancer-measurements", int(np.prod(cancer.X.shape[1:]) // 3))
pd.DataFrame({
    "item": ["layout", "array shape", "tokens", "features per token", "classes"],
    "value": [breast_cancer_layout, str(cancer.X.shape),
              ", ".join(cancer.token_names) or "(one token per instance)",
              ", ".join(cancer.feature_names), ", ".join(cancer.target_names)],
})

# %% [markdown]
# The classes are unbalanced, which is why the biomedical chapter reports balanced accuracy
# next to accuracy. A stratified split (here 70/30) keeps the proportion on both sides
# ({numref}`fig-data-balance` and the table): {glue:text}`share-all:.1f` % of all instances are
# malignant, {glue:text}`share-train:.1f` % of the training and {glue:text}`share-test:.1f` % of
# the test instances.

# %%
X_train, X_test, y_train, y_test = data.stratified_split(cancer.X, cancer.y, test_size=0.3,
                                                         seed=seed)
balance = pd.concat([
    pd.DataFrame({"class": np.asarray(cancer.target_names)[labels], "split": split_name})
    for split_name, labels in (("all", cancer.y), ("train", y_train), ("test", y_test))
])
counts = balance.groupby(["split", "class"]).size().unstack().assign(
    share_malignant=lambda t: (t["malignant"] / t.sum(axis=1)).round(3))
counts

# %% tags=["remove-input"]
for split_name in ("all", "train", "test"):
    chapter.glue(f"share-{split_name}", float(100 * counts.loc[split_name, "share_malignant"]))
ax = plots.class_balance(balance, x="split", hue="class")
chapter.glue_figure("fig-data-balance", ax.figure)
share = {name: stats.format_value(100 * counts.loc[name, "share_malignant"], 1)
         for name in ("all", "train", "test")}
separation = {name: stats.format_value(value, 2) for name, value in (
    ("raw low", lowest["fitted mean W2, raw"]), ("raw high", highest["fitted mean W2, raw"]),
    ("std low", lowest["fitted mean W2, standardized"]),
    ("std high", highest["fitted mean W2, standardized"]))}
chapter.state_findings([
    f"Every setup has {n_instances} instances of {prose.count(n_tokens, 'token')} in "
    rf"$\mathbb{{R}}^2$; alternate instances train, so "
    f"{prose.count(len(first_split[2]), 'training instance')} per setup.",
    (f"The classes' separation (fitted mean $W_2$ between the classes' token distributions, "
     f"two classes) grows from {separation['raw low']} at level {int(lowest['level'])} to "
     f"{separation['raw high']} at level {int(highest['level'])} in raw units, but only from "
     f"{separation['std low']} to {separation['std high']} after the standardization that the "
     f"models see." if len(two_classes) > 1 else
     f"The classes' separation (fitted mean $W_2$, two classes) at level "
     f"{int(lowest['level'])} is {separation['raw low']} in raw units and "
     f"{separation['std low']} after the standardization that the models see."),
    f"The breast-cancer table has {len(cancer.y)} tumours, {share['all']} % malignant; the "
    f"stratified split keeps {share['train']} % and {share['test']} % on its two sides."])

# %% [markdown]
# ```{glue:figure} fig-data-balance
# :name: fig-data-balance
# :alt: Bar chart of the number of benign and malignant instances in the whole breast-cancer table, in the training split and in the test split; benign instances outnumber malignant ones in each by about the same ratio.
#
# Instances per class of the breast-cancer table: all of it, and the training and test sides of
# the stratified 70/30 split.
# ```

# %% [markdown]
# The columns live on very different scales (areas in the hundreds, smoothness around 0.1),
# so standardization is not optional here, and *how* to standardize matters. The thesis's
# Gaussian tokens are exchangeable, so every feature is standardized with statistics pooled
# over all tokens. Tokens built from table columns are not: the feature "mean" of the token
# "area" and the feature "mean" of the token "smoothness" differ by four orders of magnitude,
# and pooled statistics would leave every token except "area" squashed near a constant. For such
# tokens the statistics are kept per token position and feature
# (`TokenStandardizer(per_token=True)`), still from the training split only. After that, every
# column is comparable, and several separate the classes on their own
# ({numref}`fig-data-features`).

# %% tags=["remove-input"]
scaler = data.TokenStandardizer(per_token=True).fit(X_train)
long = data.tokens_to_frame(scaler.transform(X_train), y_train,
                            feature_names=cancer.feature_names,
                            class_names=cancer.target_names)
token_names = cancer.token_names or [""]
long["token"] = [token_names[t] for t in long["token"]]
long = long.melt(id_vars=["instance", "token", "label", "class"], var_name="feature",
                 value_name="standardized value")
long["column"] = (long["token"] + " · " + long["feature"]).str.strip(" ·")
grid = plots.feature_boxes(long, x="standardized value", y="column")
chapter.glue_figure("fig-data-features", grid.figure)

# %% [markdown]
# ```{glue:figure} fig-data-features
# :name: fig-data-features
# :alt: Horizontal box plots of every standardized column of the breast-cancer table, benign and malignant side by side. For several columns, such as the worst and mean radius, perimeter and area, the two boxes barely overlap; for others, such as the texture's standard error, they coincide.
#
# Every column of the breast-cancer table (token · feature) after per-token standardization
# with the training split's statistics, by class (training split). Boxes: quartiles; whiskers:
# 1.5 times the interquartile range.
# ```

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
# :label: data-equal-difficulty
#
# Show that at every level $L > 0$ the two-class and the three-class setups have the same mean
# pairwise $W_2$ distance between classes, and find its value. Check your answer with
# {func}`~otcompanion.data.mean_pairwise_w2` at four levels of your own,
# `drawn_levels = np.sort(np.random.default_rng(seed).uniform(0.5, 8, size=4))`: they are not
# the thesis's integer levels, so build the means with the formulas of the setup above
# (covariance $2I$ for every class). Store a table `equal_difficulty` with one row per drawn
# level, in that order, and the columns `"level"`, `"two classes"` and `"three classes"` (the
# mean pairwise $W_2$ of each setup).
# ```
#
# ```{solution-start} data-equal-difficulty
# :class: dropdown
# ```
#
# With equal covariances the Bures term vanishes and $W_2$ is the distance between means. Two
# classes: $\lVert(-L,0) - (L,0)\rVert = 2L$. Three classes: the pairs are at distances $2x$,
# $\sqrt 2\,x$ and $\sqrt 2\,x$, so the mean is $\tfrac{2x(1+\sqrt 2)}{3} = 2L$ for
# $x = 6L / (2(1+\sqrt 2))$. Both are $2L$:

# %%
def setup_means(n_classes, level):
    """The class means of the thesis's setups at any level (thesis_setup takes 1 to 4)."""
    if n_classes == 2:
        return np.array([[-level, 0.0], [level, 0.0]])
    x = 6 * level / (2 * (1 + np.sqrt(2)))
    return np.array([[-x, 0.0], [x, 0.0], [0.0, x]])


drawn_levels = np.sort(np.random.default_rng(seed).uniform(0.5, 8, size=4))
equal_difficulty = pd.DataFrame([
    {"level": level, "2L": 2 * level,
     **{f"{name} classes": data.mean_pairwise_w2(setup_means(k, level),
                                                 np.stack([2 * np.eye(2)] * k))
        for k, name in ((2, "two"), (3, "three"))}}
    for level in drawn_levels
])
equal_difficulty


# %% tags=["remove-cell", "check"]
def check_equal_difficulty(env, equal_difficulty):
    """Both columns against otcompanion.data.mean_pairwise_w2 at the four levels drawn from the
    assigned seed (rtol 1e-9)."""
    import numpy as np

    from otcompanion import classroom, data
    seed = classroom.assigned_parameters(env)["seed"]
    levels = np.sort(np.random.default_rng(seed).uniform(0.5, 8, size=4))
    classroom.assert_close("equal_difficulty['level']", classroom.answer_column(
        "equal_difficulty", equal_difficulty, "level", 4), levels, rtol=1e-9)
    unit_means = {2: np.array([[-1.0, 0.0], [1.0, 0.0]]),  # times L; three classes: times x
                  3: np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]) * 6 / (2 * (1 + np.sqrt(2)))}
    for column, k in (("two classes", 2), ("three classes", 3)):
        expected = [data.mean_pairwise_w2(unit_means[k] * level, np.stack([2 * np.eye(2)] * k))
                    for level in levels]
        actual = classroom.answer_column("equal_difficulty", equal_difficulty, column, 4)
        classroom.assert_close(f"equal_difficulty[{column!r}]", actual, expected, rtol=1e-9)


from otcompanion import classroom

classroom.run_check(check_equal_difficulty, globals())

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: data-standardized-limit
#
# For the two-class setup at level $L$, compute the population mean and variance of the first
# feature when both classes are equally likely. Deduce where the class means land after
# standardization, and what happens as $L \to \infty$. Compare with a large sample: for
# $L = 1, 2, 4, 16$ draw 2,000 instances with
# `data.make_token_clouds(means, covariances, n_instances=2000, seed=seed)`, standardize them
# with {class}`~otcompanion.data.TokenStandardizer`, and store a table `comparison` with one row
# per $L$ and the columns `"L"`, `"predicted mean of class 1"` and `"sampled mean of class 1"`
# (the mean of the first standardized feature over the tokens of class 1).
# ```
#
# ```{solution-start} data-standardized-limit
# :class: dropdown
# ```
#
# The first feature is a balanced mixture of $\mathcal{N}(-L, 2)$ and $\mathcal{N}(L, 2)$: its
# mean is 0 and its variance $2 + L^2$. After standardization the class means sit at
# $\pm L / \sqrt{2 + L^2}$, which tends to $\pm 1$: however far apart the raw classes are, the
# standardized means are never more than 2 apart, while the within-class spread
# $\sqrt{2 / (2 + L^2)}$ shrinks instead.

# %%
rows = []
for level in (1, 2, 4, 16):  # level 16 lies beyond the thesis's range, to show the limit
    means = np.array([[-level, 0.0], [level, 0.0]])
    X_big, y_big = data.make_token_clouds(means, np.stack([2 * np.eye(2)] * 2),
                                          n_instances=2000, seed=seed)
    standardized = data.TokenStandardizer().fit_transform(X_big)
    rows.append({"L": level, "predicted mean of class 1": level / np.sqrt(2 + level**2),
                 "sampled mean of class 1": standardized[y_big == 1][..., 0].mean()})
comparison = pd.DataFrame(rows)
comparison.round(3)


# %% tags=["remove-cell", "check"]
def check_standardized_limit(env, comparison):
    """Sampled class-1 means against otcompanion.data for the assigned seed (atol 1e-9) and
    predicted means against L / sqrt(2 + L^2) (rtol 1e-9)."""
    import numpy as np

    from otcompanion import classroom, data
    seed = classroom.assigned_parameters(env)["seed"]
    levels = [1, 2, 4, 16]
    sampled = []
    for level in levels:
        X, y = data.make_token_clouds(np.array([[-level, 0.0], [level, 0.0]]),
                                      np.stack([2 * np.eye(2)] * 2), n_instances=2000, seed=seed)
        sampled.append(data.TokenStandardizer().fit_transform(X)[y == 1][..., 0].mean())
    actual = classroom.answer_column("comparison", comparison, "sampled mean of class 1", 4)
    classroom.assert_close("comparison['sampled mean of class 1']", actual, sampled, atol=1e-9)
    predicted = [level / np.sqrt(2 + level**2) for level in levels]
    actual = classroom.answer_column("comparison", comparison, "predicted mean of class 1", 4)
    classroom.assert_close("comparison['predicted mean of class 1']", actual, predicted,
                           rtol=1e-9)


classroom.run_check(check_standardized_limit, globals())

# %% [markdown]
# ```{solution-end}
# ```
#
# ## Provenance

# %% [raw] tags=["remove-cell", "assignment-parameters"]
# n_instances: 30

# %% tags=["provenance"]
chapter.provenance(globals())
