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
# # A biomedical case
#
# The synthetic setups of the earlier chapters were built so that the geometry is known. The
# thesis closes with real data: a biomedical table, classified by the Transformer and by the
# dummy-Gaussian OT classifier. This chapter does the same, and adds what a practitioner would
# try first on a table: logistic regression, an RBF support-vector machine, gradient boosting
# and a plain multilayer perceptron, all evaluated on the same stratified cross-validation
# folds.
#
# By default the data are scikit-learn's bundled Wisconsin diagnostic breast-cancer table (569
# tumours, 30 measurements, malignant or benign), so the chapter runs without a download. The
# thesis used an EEG data set from Bangalore; to run this chapter on it, or on any table, point
# `data_path` at a CSV file with one row per instance, numeric feature columns and a class
# column named by `target` ({doc}`../rerunning` shows how).

# %% [markdown]
# ````{admonition} What this chapter finds
# :class: tip
#
# ```{glue:md} chapter-findings
# :format: myst
# ```
# ````

# %% tags=["parameters"]
data_path: str = ""  # CSV file to use instead of the bundled breast-cancer table (empty: bundled)
target: str = "target"  # name of the class column of the CSV file
csv_tokens: int = 1  # tokens per instance built from the CSV's feature columns, in column order
breast_cancer_layout: str = "measurements"  # tokens of the bundled table: measurements, statistics or table
n_splits: int = 5  # cross-validation folds
n_repeats: int = 1  # repetitions of the cross-validation with reshuffled folds (more: beyond the book's time budget)
seed: int = 0  # seed of the folds and of every model
transformer_epochs: int = 200  # Transformer training epochs (thesis: 200)
transformer_heads: int = 10  # attention heads per block (thesis: 10)
ot_epochs: int = 50  # training epochs of the OT classifier's MLP (thesis: 50)
scheduler: str = "local"  # "local" (all cores), a number of worker processes, or a Dask address "tcp://host:8786"; results do not depend on it

# %%
import numpy as np
import pandas as pd
from IPython.display import display
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from otcompanion import chapter, data, experiments, metrics, plots, prose, stats
from otcompanion.attention import TransformerClassifier, train_transformer
from otcompanion.otclassifier import DummyGaussianOTClassifier

chapter.begin("05_biomedical_case")

# %% [markdown]
# ## The data
#
# Every model sees the same instances and labels. The baselines and the OT classifier read a
# plain table (one row per instance). The Transformer reads each instance as a set of tokens:
# for the breast-cancer table, by default, one token per measured quantity of the cell nuclei
# (radius, texture, perimeter, …), whose three features are the mean, the standard error and
# the worst value of that quantity over the nuclei of an image. Since the tokens measure
# different quantities on different scales, the Transformer standardizes every token position
# separately ({class}`otcompanion.data.TokenStandardizer` with `per_token=True`).

# %%
if data_path:
    if csv_tokens < 1:
        raise ValueError(f"csv_tokens must be at least 1, got {csv_tokens}.")
    dataset = data.load_csv(data_path, target, n_tokens=csv_tokens if csv_tokens > 1 else None)
else:
    dataset = data.load_breast_cancer_tokens(breast_cancer_layout)
source = prose.data_source(data_path, target, breast_cancer_layout)
tokens = dataset.X if dataset.X.ndim == 3 else dataset.X[:, None, :]
table = tokens.reshape(len(tokens), -1)
labels = np.asarray(dataset.target_names)[dataset.y]
per_token = tokens.shape[1] > 1
counts = pd.Series(labels).value_counts().sort_index()
if counts.min() < n_splits:
    raise ValueError(f"class {counts.idxmin()!r} has {counts.min()} instances, fewer than "
                     f"n_splits={n_splits}; use fewer folds.")
pd.DataFrame([{"data": source, "instances": len(labels), "table columns": table.shape[1],
               "tokens x features": f"{tokens.shape[1]} x {tokens.shape[2]}",
               **{f"class {name}": count for name, count in counts.items()}}]).T.rename(
    columns={0: ""})

# %% [markdown]
# ## The models
#
# The baselines use scikit-learn's defaults where those are sensible, with standardized
# inputs where the model needs them; the SVM's probabilities come from a Platt calibration
# on internal folds of the training data, which its ROC AUC needs. The OT classifier and the Transformer use the thesis's
# settings. Every model's randomness is seeded.

# %%
models = {
    "logistic regression": (make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
                            "table"),
    "RBF SVM": (make_pipeline(StandardScaler(),
                              CalibratedClassifierCV(SVC(), ensemble=False)), "table"),
    "gradient boosting": (HistGradientBoostingClassifier(random_state=seed), "table"),
    "MLP": (make_pipeline(StandardScaler(),
                          MLPClassifier(hidden_layer_sizes=(32, 32), max_iter=2000,
                                        random_state=seed)), "table"),
    "OT classifier": (DummyGaussianOTClassifier(max_epochs=ot_epochs, random_state=seed),
                      "table"),
    "Transformer": (TransformerClassifier(epochs=transformer_epochs, n_heads=transformer_heads,
                                          per_token_standardization=per_token,
                                          random_state=seed), "tokens"),
}
def describe_estimator(estimator):
    if hasattr(estimator, "steps"):
        return " → ".join(describe_estimator(step) for _, step in estimator.steps)
    inner = getattr(estimator, "estimator", None)
    return type(estimator).__name__ + (f"({type(inner).__name__})" if inner is not None else "")


pd.DataFrame([{"model": name, "input": kind, "estimator": describe_estimator(estimator)}
              for name, (estimator, kind) in models.items()])

# %% [markdown]
# ## Cross-validation
#
# {func}`otcompanion.experiments.cross_validate_models` fits every model on the same
# stratified folds (repeated with reshuffled folds when `n_repeats` is above 1), and scores it
# on the held-out fold:
# accuracy, balanced accuracy (the mean of the per-class recalls, which does not reward
# predicting the larger class) and ROC AUC (how well the predicted probabilities rank the
# classes), together with the fit time.

# %% tags=["remove-stderr"]
results = experiments.cross_validate_models(models, {"table": table, "tokens": tokens}, labels,
                                            n_splits=n_splits, n_repeats=n_repeats, seed=seed,
                                            scheduler=scheduler)

# %%
order = (results.groupby("model")["balanced_accuracy"].mean().sort_values(ascending=False)
         .index.tolist())
summary = stats.interval_table(results, ["model"], ["accuracy", "balanced_accuracy",
                                                         "roc_auc", "fit_seconds"],
                                    digits={"accuracy": 3, "balanced_accuracy": 3,
                                            "roc_auc": 3, "fit_seconds": 2})
summary.set_index("model").loc[order].rename(columns={"runs": "folds"})

# %% tags=["remove-input"]
long = results.melt(id_vars=["model"], value_vars=["accuracy", "balanced_accuracy", "roc_auc",
                                                   "fit_seconds"],
                    var_name="measure", value_name="value")
figure = plots.score_boxes(long, x="value", y="model", col="measure", order=order,
                           log_scale=["fit_seconds"])
chapter.glue_figure("fig-biomedical-scores", figure)
chapter.glue("n-folds", prose.fold_count(n_repeats, n_splits))

# %% [markdown]
# ```{glue:figure} fig-biomedical-scores
# :name: fig-biomedical-scores
# :alt: Four panels of horizontal box plots, one row per model ordered by mean balanced accuracy: accuracy, balanced accuracy, ROC AUC and the fit time on a logarithmic axis, over the cross-validation folds.
#
# Scores of every model on the held-out folds ({glue:md}`n-folds` folds; boxes: quartiles,
# whiskers: 1.5 times the interquartile range) and the fit time in seconds (logarithmic axis).
# Models are ordered by mean balanced accuracy.
# ```
#
# {numref}`fig-biomedical-scores` shows the spread over folds behind the table.

# %% [markdown]
# ## Tracing the Transformer on this data
#
# As in {doc}`02_ot_metrics`, the Transformer's training can be traced and its trajectory
# measured. One stratified split (half of the instances for training) is traced here; the
# metrics are those of the thesis and the straightness of the token paths. (The W2 path
# efficiency needs an exact OT problem per class and epoch between clouds of a thousand tokens
# or more; it is left out here for time.)

# %%
X_train, X_test, y_train, y_test = data.stratified_split(tokens, labels, test_size=0.5,
                                                         seed=seed)
traced = train_transformer(X_train, y_train, X_test, y_test, epochs=transformer_epochs,
                           n_heads=transformer_heads, per_token_standardization=per_token,
                           seed=seed, attention_every=0)
trajectory = traced.trace.trajectory
totals, per_class = metrics.thesis_metrics(trajectory, traced.trace.labels, per_class=True)
totals["straightness"] = metrics.straightness(trajectory)
totals["equal-length efficiency"] = metrics.equal_length_efficiency(traced.trace.labels,
                                                                    tokens.shape[1])
display(pd.DataFrame([{"best epoch": traced.best_epoch,
                       "test accuracy": traced.test_metrics["instance_accuracy"],
                       **totals}]).round(4))
per_class.round(4)

# %% tags=["remove-input"]
chapter.glue("traced-optimality", float(totals["optimality"]))
chapter.glue("traced-matching", float(totals["matching"]))
chapter.glue("traced-straightness", float(totals["straightness"]))

# %% [markdown]
# On this split the trained map has optimality {glue:text}`traced-optimality:.4f` and matching
# {glue:text}`traced-matching:.3f`, and the token paths have straightness
# {glue:text}`traced-straightness:.3f` (1 for straight paths): the picture of
# {doc}`02_ot_metrics` can be compared with it directly.

# %% [markdown]
# ## The OT classifier's mapped space
#
# The OT classifier learns a map $f$ that sends every standardized instance towards the dummy
# Gaussian of its class, whose means lie on a circle of radius $3k$ ($k$ classes) in the first
# two coordinates of the mapped space. {numref}`fig-biomedical-mapped` shows the first two
# coordinates of $f$ on training and test instances, with the dummy means; a test instance is
# classified by the nearer mean.

# %%
ot_model = DummyGaussianOTClassifier(max_epochs=ot_epochs, random_state=seed)
table_train, table_test = (X.reshape(len(X), -1) for X in (X_train, X_test))
ot_model.fit(table_train, y_train)
pd.DataFrame([{"test accuracy": ot_model.score(table_test, y_test),
               "fit seconds": ot_model.fit_timings_["total"],
               "MLP epochs": ot_model.n_iter_, "best epoch": ot_model.best_epoch_}]).round(3)

# %% tags=["remove-input"]
frames = []
for split, X, y in (("training", table_train, y_train), ("test", table_test, y_test)):
    mapped = ot_model.transform(X)
    frames.append(pd.DataFrame({"f1": mapped[:, 0], "f2": mapped[:, 1], "class": y,
                                "split": split}))
grid = plots.token_scatter(pd.concat(frames, ignore_index=True), x="f1", y="f2", col="split",
                           equal_axes=False)
for ax in grid.axes.flat:
    ax.scatter(ot_model.dummy_means_[:, 0], ot_model.dummy_means_[:, 1], marker="X", s=120,
               color="black")
chapter.glue_figure("fig-biomedical-mapped", grid.figure)

# %% [markdown]
# ```{glue:figure} fig-biomedical-mapped
# :name: fig-biomedical-mapped
# :alt: Two scatter plots, training and test instances, of the first two coordinates of the OT classifier's mapped space, coloured by class, with a black cross at each class's dummy mean. Each class gathers around its own cross.
#
# The OT classifier's mapped space (first two coordinates $f_1, f_2$) on the training and the
# test instances of the traced split, coloured by class; black crosses: the dummy means.
# ```

# %% [markdown]
# ## Where the thesis's method stands

# %% tags=["remove-input"]
means = results.groupby("model")[["accuracy", "balanced_accuracy", "roc_auc"]].mean()
median_seconds = results.groupby("model")["fit_seconds"].median()
ranked = means["balanced_accuracy"].rank(ascending=False, method="min").astype(int)
baselines = [name for name in means.index if name not in ("OT classifier", "Transformer")]
fastest_baseline = median_seconds[baselines].min()
per_fold = results.pivot_table(index=["repeat", "fold"], columns="model",
                               values="balanced_accuracy")
standings = []
for name, key in (("OT classifier", "ot"), ("Transformer", "tf")):  # where each model stands
    rival = per_fold.drop(columns=name).mean().idxmax()  # the best other model
    difference = per_fold[name] - per_fold[rival]
    _, low, high, _ = stats.bootstrap_interval(difference)
    standings.append(prose.standing_finding(
        name, ranked[name], len(means), means.loc[name, "balanced_accuracy"], rival,
        stats.interval_text(difference), prose.standing_reading(low, high, rival),
        median_seconds[name], median_seconds[name] / fastest_baseline))
    chapter.glue(f"{key}-rank", int(ranked[name]))
    chapter.glue(f"{key}-balanced", float(means.loc[name, "balanced_accuracy"]))
    chapter.glue(f"{key}-rival", str(rival))
    chapter.glue(f"{key}-difference", stats.interval_text(difference))
    chapter.glue(f"{key}-reading", prose.standing_reading(low, high, rival))
    chapter.glue(f"{key}-auc", float(means.loc[name, "roc_auc"]))
    chapter.glue(f"{key}-seconds", float(median_seconds[name]))
    chapter.glue(f"{key}-times", float(median_seconds[name] / fastest_baseline))
chapter.glue("data-source", source)
chapter.glue("n-models", int(len(means)))
chapter.glue("baseline-low", float(means.loc[baselines, "balanced_accuracy"].min()))
chapter.glue("baseline-high", float(means.loc[baselines, "balanced_accuracy"].max()))
chapter.state_findings([f"On the {source}, over {prose.fold_count(n_repeats, n_splits)} "
                        f"folds:", *standings])

# %% [markdown]
# On the {glue:md}`data-source`, over {glue:md}`n-folds` folds, the **OT classifier** ranks
# {glue:text}`ot-rank` of {glue:text}`n-models` by mean balanced accuracy
# ({glue:text}`ot-balanced:.3f`). Fold by fold, its balanced accuracy minus that of the best
# other model, the {glue:md}`ot-rival`, is {glue:md}`ot-difference` (mean and 95 %
# confidence interval over folds): {glue:md}`ot-reading`. Its ROC AUC is
# {glue:text}`ot-auc:.3f` and its median fit time {glue:text}`ot-seconds:.2f` s,
# {glue:text}`ot-times:.0f` times the fastest baseline's median.
#
# The **Transformer** ranks {glue:text}`tf-rank` of {glue:text}`n-models`
# ({glue:text}`tf-balanced:.3f`); against the {glue:md}`tf-rival` the paired difference is
# {glue:md}`tf-difference`: {glue:md}`tf-reading`. Its ROC AUC is {glue:text}`tf-auc:.3f`
# and its median fit time {glue:text}`tf-seconds:.2f` s, {glue:text}`tf-times:.0f` times the
# fastest baseline's. The baselines' mean balanced accuracies range from
# {glue:text}`baseline-low:.3f` to {glue:text}`baseline-high:.3f`.
#
# The paired differences compare two models fold by fold, which removes the variation that
# folds share; folds still share most of their training data, so even the interval of a paired
# difference understates the uncertainty. An interval that contains 0 is not a ranking.
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
# :label: biomedical-split-balance
#
# Split the bundled breast-cancer table, `data.load_breast_cancer_tokens(breast_cancer_layout)`,
# with `data.stratified_split(X, y, test_size=0.3, seed=seed)`. Store the number of test
# instances in `n_test` and the share of malignant instances (label 0) among them in
# `test_malignant_share`. How close is it to the share in the whole table? Which instances
# the split drew depends on the seed: store the mean of the first feature of the first token
# over the test instances, `X_test[:, 0, 0].mean()`, in `test_first_feature_mean`.
# ```
#
# ```{solution-start} biomedical-split-balance
# :class: dropdown
# ```

# %% tags=["remove-input"]
bundled = data.load_breast_cancer_tokens(breast_cancer_layout)
X_train, X_test, y_train, y_test = data.stratified_split(bundled.X, bundled.y, test_size=0.3,
                                                         seed=seed)
n_test = len(y_test)
test_malignant_share = float(np.mean(y_test == 0))
test_first_feature_mean = float(X_test[:, 0, 0].mean())
chapter.glue("ex-n-test", n_test)
chapter.glue("ex-test-share", test_malignant_share)
chapter.glue("ex-table-share", float(np.mean(bundled.y == 0)))
test_malignant_share


# %% tags=["remove-cell", "check"]
def check_split_balance(env, n_test, test_malignant_share, test_first_feature_mean):
    """Test size, malignant share and mean first feature of the test instances of
    otcompanion.data.stratified_split for the assigned seed and layout (exact count, atol
    1e-12 on the share, rtol 1e-9 on the mean)."""
    import numpy as np

    from otcompanion import classroom, data
    p = classroom.assigned_parameters(env)
    table = data.load_breast_cancer_tokens(p["breast_cancer_layout"])
    _, X_test, _, y_test = data.stratified_split(table.X, table.y, test_size=0.3,
                                                 seed=p["seed"])
    classroom.assert_close("test_first_feature_mean", test_first_feature_mean,
                           X_test[:, 0, 0].mean(), rtol=1e-9)
    classroom.assert_close("n_test", n_test, len(y_test))
    classroom.assert_close("test_malignant_share", test_malignant_share, np.mean(y_test == 0),
                           atol=1e-12)


from otcompanion import classroom

classroom.run_check(check_split_balance, globals())

# %% [markdown]
# The test split holds {glue:text}`ex-n-test` instances, {glue:text}`ex-test-share:.4f`
# malignant, against {glue:text}`ex-table-share:.4f` in the whole table: a stratified split
# keeps the proportion up to the rounding of one instance.
#
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: biomedical-test-standardization
#
# With the split of the previous exercise, fit `data.TokenStandardizer(per_token=True)` on the
# training tokens, standardize the test tokens with it, and store the mean of every standardized
# test feature, an array of shape (tokens, features per token), in `test_feature_means`. Why are
# they not exactly zero?
# ```
#
# ```{solution-start} biomedical-test-standardization
# :class: dropdown
# ```

# %% tags=["remove-input"]
test_feature_means = data.TokenStandardizer(per_token=True).fit(X_train).transform(
    X_test).mean(axis=0)
chapter.glue("ex-test-mean-min", float(test_feature_means.min()))
chapter.glue("ex-test-mean-max", float(test_feature_means.max()))
test_feature_means


# %% tags=["remove-cell", "check"]
def check_test_standardization(env, test_feature_means):
    """Means of the standardized test tokens against otcompanion.data for the assigned seed
    and layout (atol 1e-9)."""
    from otcompanion import classroom, data
    p = classroom.assigned_parameters(env)
    table = data.load_breast_cancer_tokens(p["breast_cancer_layout"])
    X_train, X_test, _, _ = data.stratified_split(table.X, table.y, test_size=0.3,
                                                  seed=p["seed"])
    expected = data.TokenStandardizer(per_token=True).fit(X_train).transform(X_test).mean(axis=0)
    classroom.assert_close("test_feature_means", test_feature_means, expected, atol=1e-9)


classroom.run_check(check_test_standardization, globals())

# %% [markdown]
# The means range from {glue:text}`ex-test-mean-min:+.3f` to
# {glue:text}`ex-test-mean-max:+.3f`: the statistics come from the training split only, so the
# test split is centred only up to sampling noise.
#
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: biomedical-layout
#
# The token layout is a modelling choice. Cross-validate the Transformer with the other layout
# of the breast-cancer table, `"statistics"` (three tokens, mean, standard error and worst
# value, of ten features each), and compare it with the default.
# ```
#
# ```{solution-start} biomedical-layout
# :class: dropdown
# ```

# %% tags=["remove-input"]
layouts = {"statistics (3 tokens of 10)": data.load_breast_cancer_tokens("statistics")}
default_layout = "measurements (10 tokens of 3)"
reuse = not data_path and breast_cancer_layout == "measurements"
if not reuse:
    layouts[default_layout] = data.load_breast_cancer_tokens("measurements")
layout_results = pd.concat([
    experiments.cross_validate_models(
        {name: (TransformerClassifier(epochs=transformer_epochs, n_heads=transformer_heads,
                                      per_token_standardization=True, random_state=seed),
                "tokens")},
        {"tokens": dataset_of_layout.X},
        np.asarray(dataset_of_layout.target_names)[dataset_of_layout.y],
        n_splits=n_splits, n_repeats=1, seed=seed, scheduler=scheduler, progress=False)
    for name, dataset_of_layout in layouts.items()], ignore_index=True)
if reuse:  # the chapter's own Transformer runs: the first repetition has the same folds
    first_repeat = results[(results["model"] == "Transformer") & (results["repeat"] == 0)]
    layout_results = pd.concat([layout_results, first_repeat.assign(model=default_layout)],
                               ignore_index=True)
layout_table = stats.interval_table(layout_results, ["model"],
                                         ["accuracy", "balanced_accuracy", "roc_auc"])
display(layout_table)
layout_means = layout_results.groupby("model")["balanced_accuracy"].mean()
chapter.glue("layout-scores", prose.layout_scores(layout_means))
chapter.glue("layout-best", layout_means.idxmax().split(" (")[0])

# %% [markdown]
# On the same folds (one repetition of the cross-validation), the Transformer's balanced
# accuracy is {glue:md}`layout-scores`: the {glue:md}`layout-best` layout has the higher
# mean here (compare the intervals in the table before reading it as a ranking).
#
# ```{solution-end}
# ```
#
# ```{exercise}
# :label: biomedical-radius
#
# The thesis found the OT classifier sensitive to the dummy geometry. Vary the radius of the
# dummy circle on this data and report the cross-validated balanced accuracy.
# ```
#
# ```{solution-start} biomedical-radius
# :class: dropdown
# ```

# %% tags=["remove-input"]
radii = [1.0, 3.0, 6.0, 12.0]
radius_results = experiments.cross_validate_models(
    {f"radius {r:g}": (DummyGaussianOTClassifier(radius=r, max_epochs=ot_epochs,
                                                 random_state=seed), "table") for r in radii},
    {"table": table}, labels, n_splits=n_splits, n_repeats=1, seed=seed, scheduler=scheduler,
    progress=False)
radius_results["radius"] = radius_results["model"].str.split().str[1].astype(float)
by_radius = radius_results.groupby("radius")[["balanced_accuracy", "roc_auc"]].agg(
    ["mean", "std"])
display(by_radius.round(3))
best_radius = by_radius[("balanced_accuracy", "mean")].idxmax()
chapter.glue("radius-first", float(radii[0]))
chapter.glue("radius-last", float(radii[-1]))
chapter.glue("radius-first-score", float(by_radius[("balanced_accuracy", "mean")].iloc[0]))
chapter.glue("radius-last-score", float(by_radius[("balanced_accuracy", "mean")].iloc[-1]))
chapter.glue("radius-best", float(best_radius))
chapter.glue("radius-best-score", float(by_radius.loc[best_radius, ("balanced_accuracy", "mean")]))
chapter.glue("radius-default", int(3 * len(counts)))

# %% [markdown]
# The mean balanced accuracy goes from {glue:text}`radius-first-score:.3f` at radius
# {glue:text}`radius-first:g` to {glue:text}`radius-last-score:.3f` at radius
# {glue:text}`radius-last:g`, best at radius {glue:text}`radius-best:g`
# ({glue:text}`radius-best-score:.3f`); the thesis's default, $3k$, is
# {glue:text}`radius-default` here.
#
# ```{solution-end}
# ```
#
# ## Provenance

# %% [raw] tags=["remove-cell", "assignment-parameters"]
# n_splits: 2
# n_repeats: 1
# transformer_epochs: 5
# transformer_heads: 2
# ot_epochs: 5
# scheduler: "1"

# %% tags=["provenance"]
chapter.provenance(globals())
