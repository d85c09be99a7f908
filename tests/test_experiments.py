"""Repeated-experiment helpers: profiles, run seeds, the traced grid, the run cache."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from otcompanion import experiments, metrics, stats
from otcompanion.attention import train_transformer
from otcompanion.data import thesis_split
from otcompanion.experiments import comparison, crossval, grid, pretraining
from otcompanion.otclassifier import DummyGaussianOTClassifier

TINY_RUN = dict(epochs=3, n_heads=2, n_instances=30, n_tokens=4, curve_points=2)
TIMES = ["fit_seconds", "metrics_seconds"]


def test_profiles_and_overrides():
    assert grid.resolve_profile("thesis") == {"n_repetitions": 100, "epochs": 200,
                                                     "n_blocks": 2}
    book = grid.resolve_profile("book", n_repetitions=None, epochs=7, extra=1)
    assert book["epochs"] == 7 and book["extra"] == 1
    assert book["n_repetitions"] == grid.PROFILES["book"]["n_repetitions"]
    with pytest.raises(ValueError, match=r"profile must be one of \['book', 'thesis'\]"):
        grid.resolve_profile("paper")


def test_run_seeds_are_reproducible_and_distinct():
    assert grid.run_seed(0, 2, 1, 0) == grid.run_seed(0, 2, 1, 0)
    seeds = {grid.run_seed(0, k, level, r)
             for k in (2, 3) for level in (1, 2, 3, 4) for r in range(10)}
    assert len(seeds) == 80
    assert grid.run_seed(1, 2, 1, 0) != grid.run_seed(0, 2, 1, 0)
    # Trailing zero coordinates count (SeedSequence alone would pad them away).
    assert grid.run_seed(0, 2, 1) != grid.run_seed(0, 2, 1, 0)
    assert grid.run_seed(0) != grid.run_seed(0, 0)
    with pytest.raises(ValueError, match="seed must be at least 0"):
        grid.run_seed(-1)
    with pytest.raises(TypeError, match="coordinate 1 must be an integer"):
        grid.run_seed(0, 2, 1.5)


def test_curve_steps_share_a_grid_and_end_at_the_best_epoch():
    full = grid.curve_steps(200, 20)
    assert full[0] == 1 and full[-1] == 200 and len(full) == 20
    cut = grid.curve_steps(175, 20, horizon=200)
    assert cut[-1] == 175 and set(cut[:-1]) <= set(full)
    assert grid.curve_steps(3, 20) == [1, 2, 3]
    with pytest.raises(ValueError, match="horizon must be at least 10"):
        grid.curve_steps(10, 5, horizon=4)


def test_traced_run_summarizes_its_trajectory():
    summary, curves = grid.trace_transformer_run(2, 1, 0, seed=0, **TINY_RUN)
    assert summary["n_classes"] == 2 and summary["level"] == 1
    assert set(grid.TRAJECTORY_METRICS) <= set(summary)
    assert 0 < summary["optimality"] <= 1 + 1e-12
    assert 0 <= summary["instance_accuracy"] <= 1
    last = curves.iloc[-1]
    assert last["epoch"] == summary["best_epoch"]
    assert last["optimality"] == summary["optimality"]
    # 15 training instances of 4 tokens: classes of 32 and 28 points.
    assert summary["equal_length_efficiency"] == pytest.approx(
        (np.sqrt(32) + np.sqrt(28)) / 60)
    assert {"n_classes", "level", "repetition", "on_grid"} <= set(curves.columns)


def test_traced_run_records_both_starts_reference_maps_and_sublayers():
    record = grid.traced_run(3, 1, 0, seed=2, **{**TINY_RUN, "epochs": 6})
    summary = record["summary"]
    starts = record["starts"].set_index("start")
    assert list(starts.index) == ["input", "first_epoch"]
    assert starts.loc["input", "optimality"] == summary["optimality"]
    if summary["best_epoch"] >= 3:
        assert starts.loc["first_epoch"].drop("w2_path_efficiency").notna().all()
        assert np.isnan(starts.loc["first_epoch", "w2_path_efficiency"])
    references = record["references"].set_index("map")
    assert list(references.index) == list(grid.REFERENCE_MAPS)
    assert references.loc["trained", "optimality"] == pytest.approx(summary["optimality"])
    # The random maps move the tokens as far as the trained map, on average.
    for name in ("random instance translations", "random smooth deformation"):
        assert references.loc[name, "mean_displacement"] == pytest.approx(
            references.loc["trained", "mean_displacement"])
    assert (references["uc_monge_gap"] >= 0).all()
    assert references.loc["trained", "residual_optimality"] == pytest.approx(
        summary["residual_optimality"], nan_ok=True)
    assert 0 <= summary["translation_share"] <= 1 and summary["layer_norm_jacobian"] >= 0
    assert summary["n_features"] == 2
    assert len(record["sublayers"]) == 2 * 2 and {"n_classes", "level"} <= set(
        record["sublayers"].columns)
    assert 1 <= summary["plateau_epoch"] <= summary["best_epoch"]
    assert 0 <= summary["path_after_plateau"] <= 1
    assert {"recall_0", "recall_1", "recall_2"} <= set(summary)


def test_reference_maps_translate_instances_and_deform_smoothly():
    X, _, y, _ = thesis_split(2, 1, n_instances=20, n_tokens=5, seed=0)
    fit = train_transformer(X, y, epochs=3, n_heads=2, attention_every=0)
    maps = grid.reference_maps(fit.trace, seed=1)
    start = fit.trace.inputs
    moves = maps["random instance translations"] - start
    assert np.allclose(moves, moves[:, :1])  # one vector per instance
    assert not np.allclose(moves[0, 0], moves[1, 0])
    assert np.array_equal(maps["untrained network"], fit.trace.block_outputs[0, -1, 1])
    assert grid.reference_maps(fit.trace, seed=1)["random smooth deformation"] \
        == pytest.approx(maps["random smooth deformation"])


def test_class_move_null_keeps_the_trained_class_moves_and_the_residual_size():
    X, _, y, _ = thesis_split(3, 1, n_instances=30, n_tokens=4, seed=0, n_features=3)
    fit = train_transformer(X, y, epochs=3, n_heads=2, attention_every=0)
    maps = grid.reference_maps(fit.trace, seed=1)
    start, labels = fit.trace.inputs, fit.trace.labels
    trained, null = maps["trained"] - start, maps["class translations, random residual"] - start
    for c in np.unique(labels):
        assert np.allclose(null[labels == c].reshape(-1, 3).mean(axis=0),
                           trained[labels == c].reshape(-1, 3).mean(axis=0))

    def residual_size(moves):
        residual = moves.copy()
        for c in np.unique(labels):
            residual[labels == c] -= moves[labels == c].reshape(-1, 3).mean(axis=0)
        return np.linalg.norm(residual, axis=-1).mean()

    assert residual_size(null) == pytest.approx(residual_size(trained))
    assert not np.allclose(null, trained)


def test_traced_run_in_more_dimensions():
    record = grid.traced_run(3, 1, 0, seed=2, n_features=3, **{**TINY_RUN, "epochs": 4})
    assert record["summary"]["n_features"] == 3
    assert record["references"]["mean_displacement"].gt(0).all()
    with pytest.raises(ValueError, match="n_features"):
        grid.traced_run(3, 1, 0, n_features=1, **TINY_RUN)


def test_traced_run_trains_with_the_chosen_optimizer():
    rmsprop = grid.traced_run(2, 1, 0, **TINY_RUN)["summary"]
    adam = grid.traced_run(2, 1, 0, optimizer="adam", lr=1e-3, **TINY_RUN)["summary"]
    assert (adam["optimizer"], adam["lr"]) == ("adam", 1e-3)
    assert adam["optimality"] != rmsprop["optimality"]
    with pytest.raises(ValueError, match="optimizer must be one of"):
        grid.traced_run(2, 1, 0, optimizer="lbfgs", **TINY_RUN)
    with pytest.raises(ValueError, match="lr must be"):
        grid.traced_run(2, 1, 0, lr=0, **TINY_RUN)


@pytest.mark.slow
def test_grid_does_not_depend_on_the_scheduler_or_on_the_rest_of_the_grid():
    serial, serial_curves = grid.transformer_grid(
        (2, 3), (1,), 2, seed=5, scheduler=1, progress=False, **TINY_RUN)
    parallel, parallel_curves = grid.transformer_grid(
        (2, 3), (1,), 2, seed=5, scheduler=2, progress=False, **TINY_RUN)
    assert len(serial) == 4
    pd.testing.assert_frame_equal(serial.drop(columns=TIMES), parallel.drop(columns=TIMES))
    for name in serial_curves:
        pd.testing.assert_frame_equal(serial_curves[name], parallel_curves[name])
    alone, _ = grid.transformer_grid((3,), (1,), 2, seed=5, progress=False, **TINY_RUN)
    pd.testing.assert_frame_equal(
        alone.drop(columns=TIMES),
        serial[serial["n_classes"] == 3].drop(columns=TIMES).reset_index(drop=True))


@pytest.mark.parametrize("arguments, error, message", [
    (dict(tasks=[4]), ValueError, r"tasks\[0\] must be one of \[2, 3\], got 4"),
    (dict(tasks=[]), ValueError, "tasks"),
    (dict(tasks="23"), TypeError, "tasks must be a list"),
    (dict(levels=[1, 1]), ValueError, "levels"),
    (dict(levels=[0]), ValueError, r"levels\[0\] must be at least 1"),
    (dict(n_repetitions=0), ValueError, "n_repetitions must be at least 1"),
    (dict(scheduler="cluster"), ValueError, "scheduler must be 'local'"),
    (dict(scheduler=0), ValueError, "scheduler must be at least 1"),
    (dict(scheduler=2.5), TypeError, "scheduler must be an integer"),
])
def test_grid_rejects_bad_input_before_running(arguments, error, message):
    with pytest.raises(error, match=message):
        grid.transformer_grid(**{"progress": False, **arguments})


def test_equal_length_efficiency_matches_its_formula():
    labels = np.array([0] * 3 + [1] * 5)
    assert metrics.equal_length_efficiency(labels, 2) == pytest.approx(
        (np.sqrt(6) + np.sqrt(10)) / 16)


PRETRAINING_TINY = dict(epochs=3, n_heads=2)
HEADS_TINY = {"max_epochs": 3}


@pytest.mark.slow
def test_pretraining_runs_pair_with_unpretrained_runs():
    summary, histories = pretraining.pretraining_grid(
        {"none": None, "shared": {"head": "shared", **HEADS_TINY},
         "own": {"head": "per repetition", **HEADS_TINY},
         "random": {"rotation": "random", **HEADS_TINY},
         "thesis means": {3: {"means": ((-5.0, 0.0), (5.0, 0.0), (0.0, 5.0)), **HEADS_TINY}}},
        tasks=(2, 3), levels=(1, 2), n_repetitions=2, progress=False, **PRETRAINING_TINY)
    counts = summary.groupby(["condition", "n_classes"]).size()
    assert counts.drop(("thesis means", 3)).eq(4).all() and counts[("thesis means", 3)] == 4
    assert ("thesis means", 2) not in counts.index
    # Same data and seeds across conditions: the run seed depends on task, level, repetition.
    assert summary.groupby(["n_classes", "level", "repetition"])["seed"].nunique().eq(1).all()
    assert set(summary["head"]) == {"none", "shared", "per repetition"}
    heads = summary[summary["condition"] != "none"].groupby(["condition", "n_classes"])
    # The thesis's protocol: one head per task; otherwise one per repetition (across levels).
    assert heads["head_seed"].nunique()[("shared", 2)] == 1
    assert heads["head_seed"].nunique()[("own", 2)] == 2
    own = summary[summary["condition"] == "own"].groupby("repetition")["head_seed"].nunique()
    assert own.eq(2).all()  # one per task and repetition, shared by the levels
    random = summary[summary["condition"] == "random"]
    assert random["rotation"].between(0, 2 * np.pi).all() and random["rotation"].nunique() > 1
    assert (summary.loc[summary["condition"].isin(["shared", "own"]), "rotation"] == 0).all()
    assert summary.loc[summary["condition"] == "thesis means", "rotation"].isna().all()
    none = summary[summary["condition"] == "none"]
    assert none[["head_epochs", "head_accuracy_on_inputs", "head_seed"]].isna().all().all()
    pretrained = summary[summary["condition"] != "none"]
    assert pretrained["head_accuracy_on_inputs"].between(0, 1).all()
    assert (pretrained["head_epochs"] >= 1).all()
    assert set(histories["condition"]) == set(summary["condition"])
    assert (summary["stop_epoch"] <= 3).all() and (summary["best_epoch"] <= summary["stop_epoch"]).all()
    capped = summary["epochs_to_target_capped"]
    assert (capped == summary["epochs_to_target"].fillna(4)).all()
    # Without a longer reference run, the unpretrained run's restored model is the tested one.
    assert none["instance_accuracy"].notna().all()


@pytest.mark.slow
def test_unpretrained_runs_are_cut_from_the_longer_reference_run():
    cut, cut_history = pretraining.pretraining_run(2, 1, 0, epochs=3, patience=1,
                                                   reference_epochs=5, n_heads=2)
    record = grid.traced_run(2, 1, 0, epochs=5, n_heads=2)
    assert cut["reference_best_epoch"] == record["summary"]["best_epoch"]
    assert len(cut_history) == cut["stop_epoch"] <= 3
    pd.testing.assert_frame_equal(
        cut_history.drop(columns="condition").reset_index(drop=True),
        record["history"].iloc[:cut["stop_epoch"]].reset_index(drop=True))
    if cut["best_epoch"] != record["summary"]["best_epoch"]:
        assert np.isnan(cut["instance_accuracy"])  # that model's test accuracy is unknown


def test_pretrained_heads_follow_their_seed_and_geometry():
    head = pretraining.pretrained_head(2, head_seed=4, pretraining=HEADS_TINY)
    again = pretraining.pretrained_head(2, head_seed=4, pretraining=HEADS_TINY)
    other = pretraining.pretrained_head(2, head_seed=5, pretraining=HEADS_TINY)
    assert head.params["clouds"]["means"] == [[0.0, 6.0], [0.0, -6.0]]  # the thesis circle
    assert head.history.equals(again.history) and not head.history.equals(other.history)
    rotated = pretraining.pretrained_head(2, head_seed=4,
                                          pretraining={"rotation": "random", **HEADS_TINY})
    angle = rotated.params["clouds"]["rotation"]
    assert 0 <= angle < 2 * np.pi
    assert np.allclose(rotated.params["clouds"]["means"][0],
                       [6 * np.sin(angle), 6 * np.cos(angle)])
    assert pretraining.head_seed(0, 2) != pretraining.head_seed(0, 2, 0)


@pytest.mark.slow
def test_shorter_budgets_are_read_from_the_runs_already_trained():
    conditions = {"none": None, "circle": {"max_epochs": 3}}
    long, histories = pretraining.pretraining_grid(
        conditions, tasks=(2,), levels=(1,), n_repetitions=2, progress=False, epochs=6,
        patience=3, n_heads=2)
    short, _ = pretraining.pretraining_grid(
        conditions, tasks=(2,), levels=(1,), n_repetitions=2, progress=False, epochs=4,
        patience=3, reference_epochs=6, n_heads=2)
    cut = pretraining.budget_summaries(histories, 4, patience=3)
    columns = ["stop_epoch", "best_epoch", "epochs_to_target_capped", "val_accuracy"]
    keys = ["n_classes", "level", "repetition", "condition"]
    expected = short.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(cut[keys + columns], expected[keys + columns],
                                  check_dtype=False, atol=1e-5)
    same = pretraining.budget_summaries(histories, 6, patience=3)
    assert same["best_epoch"].tolist() == long.sort_values(keys)["best_epoch"].tolist()
    with pytest.raises(ValueError, match="columns \\['condition'\\]"):
        pretraining.budget_summaries(histories.drop(columns="condition"), 4)


def test_pretraining_differences_pair_runs_and_pool_levels_by_repetition():
    rows = [dict(n_classes=2, level=level, repetition=repetition, condition=condition,
                 epochs=10.0 + level + (offset if condition == "a" else 0.0))
            for level in (1, 2) for repetition in range(4)
            for condition, offset in (("none", 0), ("a", -2.0), ("b", 0.0))
            for offset in [(-2.0 if repetition % 2 else -4.0) if condition == "a" else 0.0]]
    summary = pd.DataFrame(rows)
    by_level = pretraining.pretraining_differences(summary, ["epochs"])
    assert sorted(set(by_level["condition"])) == ["a", "b"] and len(by_level) == 4
    a = by_level[by_level["condition"] == "a"]
    assert (a["difference"] == -3.0).all() and (a["pairs"] == 4).all()
    assert (a["verdict"] == "first lower").all()
    b = by_level[by_level["condition"] == "b"]
    assert (b["verdict"] == "identical in every pair").all()
    pooled = pretraining.pretraining_differences(summary, ["epochs"], pool_levels=True)
    assert "level" not in pooled.columns and (pooled["pairs"] == 4).all()
    assert pooled.loc[pooled["condition"] == "a", "difference"].item() == -3.0
    against_b = pretraining.pretraining_differences(summary[summary["condition"] != "none"],
                                                    ["epochs"], baseline="b")
    assert set(against_b["condition"]) == {"a"}
    with pytest.raises(ValueError, match="baseline='c' is not a condition"):
        pretraining.pretraining_differences(summary, ["epochs"], baseline="c")
    with pytest.raises(ValueError, match="columns \\['loss'\\]"):
        pretraining.pretraining_differences(summary, ["loss"])
    with pytest.raises(ValueError, match="no condition besides"):
        pretraining.pretraining_differences(summary[summary["condition"] == "none"], ["epochs"])


@pytest.mark.parametrize("call, error, match", [
    (lambda: pretraining.pretraining_grid({}, progress=False), ValueError,
     "conditions must be a non-empty dict"),
    (lambda: pretraining.pretraining_grid({"only 3": {3: {}}}, tasks=(2,), progress=False),
     ValueError, "no run to do"),
    (lambda: pretraining.pretraining_grid({"c": {"head": "each"}}, progress=False), ValueError,
     r"conditions\['c'\]\['head'\] must be one of"),
    (lambda: pretraining.pretraining_grid({"c": 3}, progress=False), TypeError,
     r"conditions\['c'\] must be None or a dict"),
    (lambda: pretraining.pretraining_grid({"c": None}, levels=(0,), progress=False),
     ValueError, "levels"),
    (lambda: pretraining.pretrained_head(2, pretraining={"rotation": "spin"}), ValueError,
     "rotation must be an angle in radians or 'random'"),
    (lambda: pretraining.pretrained_head(2, pretraining={"radious": 2}), ValueError,
     "unknown pretraining setting"),
    (lambda: pretraining.pretraining_run(2, 1, 0, epochs=5, reference_epochs=3), ValueError,
     "reference_epochs must be at least 5"),
    (lambda: pretraining.pretraining_run(2, 1, 0, target_accuracy=1.5), ValueError,
     "target_accuracy"),
])
def test_pretraining_runs_reject_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_cross_validation_uses_the_same_folds_for_every_model():
    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    labels = np.where(y == 1, "yes", "no")
    models = {"logistic": (LogisticRegression(), "table"),
              "prior": (DummyClassifier(strategy="prior"), "table"),
              "tokens": (LogisticRegression(), "first two")}
    inputs = {"table": X, "first two": X[:, :2]}
    results = crossval.cross_validate_models(models, inputs, labels, n_splits=3,
                                                n_repeats=2, seed=1, progress=False)
    assert len(results) == 3 * 6
    assert results.groupby("model").size().eq(6).all()
    prior = results[results["model"] == "prior"]
    assert np.allclose(prior["roc_auc"], 0.5) and np.allclose(prior["balanced_accuracy"], 0.5)
    assert results.loc[results["model"] == "logistic", "accuracy"].mean() > 0.8
    again = crossval.cross_validate_models(models, inputs, labels, n_splits=3, n_repeats=2,
                                              seed=1, scheduler=2, progress=False)
    columns = ["model", "repeat", "fold", "accuracy", "balanced_accuracy", "roc_auc"]
    pd.testing.assert_frame_equal(results[columns], again[columns])
    three = np.repeat([0, 1, 2], 20)
    multi = crossval.cross_validate_models({"logistic": (LogisticRegression(), "table")},
                                              {"table": X + three[:, None]}, three, n_splits=2,
                                              n_repeats=1, progress=False)
    assert (multi["roc_auc"] > 0.5).all()


@pytest.mark.parametrize("arguments, message", [
    (dict(y=np.zeros(10)), "single class"),
    (dict(y=np.array([0] * 8 + [1] * 2)), "class 1 has 2 instances, fewer than n_splits=3"),
    (dict(models={}), "models must be a non-empty dict"),
    (dict(models={"m": "not a pair"}), r"models\['m'\] must be a pair"),
    (dict(models={"m": (None, "other")}), "reads input 'other'"),
    (dict(inputs={"table": np.zeros((9, 2))}), "input 'table' has 9 rows, y has 10"),
])
def test_cross_validation_rejects_bad_input(arguments, message):
    options = dict(models={"m": (LogisticRegression(), "table")},
                   inputs={"table": np.zeros((10, 2))}, y=np.array([0, 1] * 5))
    options.update(arguments)
    with pytest.raises(ValueError, match=message):
        crossval.cross_validate_models(options["models"], options["inputs"], options["y"],
                                          n_splits=3, progress=False)


COMPARISON_TINY = dict(epochs=3, n_heads=2, n_instances=30, n_tokens=4)


def test_validation_split_is_the_transformers():
    X_train, _, y_train, _ = thesis_split(3, 2, n_instances=30, n_tokens=4, seed=7)
    fit = train_transformer(X_train, y_train, epochs=1, n_heads=2, seed=7, trace=False)
    np.testing.assert_array_equal(comparison.validation_split(y_train, 7),
                                  fit.validation_indices)
    with pytest.raises(ValueError, match="single class"):
        comparison.validation_split(np.zeros(10), 0)


def test_classifier_comparison_reads_the_traced_run_and_shares_its_split(tmp_path,
                                                                        monkeypatch):
    monkeypatch.setenv("OTCOMPANION_NO_CACHE", "0")  # the Transformer comes from the run cache
    monkeypatch.setenv("OTCOMPANION_CACHE_DIR", str(tmp_path / "runs"))
    rows = comparison.classifier_comparison_run(2, 3, 0, seed=1, ot_epochs=4, **COMPARISON_TINY)
    assert [row["model"] for row in rows] == ["Transformer", "OT classifier"]
    assert rows[0]["seed"] == rows[1]["seed"] == grid.run_seed(1, 2, 3, 0)
    record = grid.traced_run(2, 3, 0, seed=1, **COMPARISON_TINY)
    for name in ("instance_accuracy", "token_accuracy", "best_epoch", "fit_seconds"):
        assert rows[0][name] == record["summary"][name]
    assert rows[0]["recall_0"] == record["summary"]["recall_0"]
    assert rows[0]["epochs_run"] == 3 and rows[1]["epochs_run"] == 4  # thesis budgets
    for row in rows:
        assert row["protocol"] == "thesis budget"
        assert 0 <= row["instance_accuracy"] <= 1 and 0 <= row["token_accuracy"] <= 1
        assert {"recall_0", "recall_1"} <= set(row) and row["fit_seconds"] > 0
        if np.isfinite(row["epochs_to_target"]):
            assert 0 < row["seconds_to_target"] <= row["fit_seconds"]
        else:
            assert np.isnan(row["seconds_to_target"])


def test_stopping_rule_matches_patience_in_gradient_steps_and_alternates_the_order():
    rows = comparison.stopping_rule_run(3, 1, 2, patience=2, epochs=30, n_instances=30,
                                         n_tokens=4, n_heads=2)
    assert [row["model"] for row in rows] == ["Transformer", "OT classifier"]
    for row in rows:
        assert row["protocol"] == "same stopping rule" and row["n_tokens"] == 4
        # Stopped after its patience (in its own epochs) without improvement, or at the cap.
        assert row["epochs_run"] == 30 or row["epochs_run"] == (row["best_epoch"]
                                                                + row["patience_epochs"])
        assert row["patience_epochs"] * row["steps_per_epoch"] >= 2
        assert (row["patience_epochs"] - 1) * row["steps_per_epoch"] < 2
        assert {"recall_0", "recall_1", "recall_2"} <= set(row)
        assert 0 < row["cpu_seconds"]
        if np.isfinite(row["epochs_to_target"]):
            assert 0 < row["cpu_seconds_to_target"] <= row["cpu_seconds"]
    # Fewer tokens per instance: other data, same seed.
    fewer = comparison.stopping_rule_run(3, 1, 2, patience=2, epochs=30, n_instances=30,
                                          n_tokens=2, n_heads=2)
    assert fewer[0]["seed"] == rows[0]["seed"] and fewer[0]["n_tokens"] == 2
    # Odd repetitions fit the OT classifier first; the rows keep one order.
    odd = comparison.stopping_rule_run(3, 1, 1, patience=2, epochs=5, n_instances=30,
                                        n_tokens=4, n_heads=2, n_features=3)
    assert [row["model"] for row in odd] == ["Transformer", "OT classifier"]
    assert {row["n_features"] for row in odd} == {3}


@pytest.mark.parametrize("arguments, error, message", [
    (dict(n_classes=4), ValueError, "n_classes"),
    (dict(patience=0), ValueError, "patience"),
    (dict(target_accuracy=0.0), ValueError, "target_accuracy"),
    (dict(target_accuracy=1.5), ValueError, "target_accuracy"),
    (dict(n_tokens=0), ValueError, "n_tokens"),
])
def test_stopping_rule_rejects_bad_input(arguments, error, message):
    options = dict(n_classes=2, level=1, repetition=0, n_instances=30, n_tokens=4, epochs=2,
                   n_heads=2)
    options.update(arguments)
    with pytest.raises(error, match=message):
        comparison.stopping_rule_run(**options)


def test_ot_classifier_run_uses_the_runs_data_and_options():
    row = comparison.ot_classifier_run(3, 2, 1, seed=4, n_instances=30, n_tokens=4,
                                        ot_options={"radius": 3.0, "max_epochs": 3})
    run = grid.run_seed(4, 3, 2, 1)
    X_train, X_test, y_train, y_test = thesis_split(3, 2, n_instances=30, n_tokens=4, seed=run)
    model = DummyGaussianOTClassifier(radius=3.0, max_epochs=3, random_state=run).fit(
        X_train, y_train)
    assert row["seed"] == run
    assert row["instance_accuracy"] == model.score(X_test, y_test)
    assert row["train_accuracy"] == model.score(X_train, y_train)
    with pytest.raises(ValueError, match="level"):
        comparison.ot_classifier_run(3, 0, 1)


def test_epochs_to_target_is_the_first_epoch_at_the_target():
    history = pd.DataFrame({"epoch": [1, 2, 3, 4], "val_instance_accuracy": [0.5, 1.0, 0.8, 1.0]})
    assert comparison.epochs_to_target(history, 1.0) == 2
    assert comparison.epochs_to_target(history, 0.7) == 2
    assert np.isnan(comparison.epochs_to_target(history.iloc[[0, 2]], 0.9))
    with pytest.raises(ValueError, match="val_instance_accuracy"):
        comparison.epochs_to_target(history.drop(columns="val_instance_accuracy"), 1.0)


def test_scaling_runs_pair_standardized_and_raw_inputs_on_the_same_data():
    options = dict(n_train_tokens=60, repetition=1, n_tokens=5, ot_options={"max_epochs": 2})
    standardized = comparison.scaling_run("gaussian", True, **options)
    raw = comparison.scaling_run("gaussian", False, **options)
    assert standardized["seed"] == raw["seed"]
    assert (standardized["inputs"], raw["inputs"]) == ("standardized", "raw")
    for row in (standardized, raw):
        assert row["train_tokens"] == 60 and row["epochs_run"] == 2
        assert row["fit_seconds"] >= row["alignment_seconds"] + row["training_seconds"] > 0
        assert 0 <= row["test_accuracy"] <= 1


@pytest.mark.parametrize("arguments, error, message", [
    (dict(n_train_tokens=70), ValueError, "multiple of n_classes"),
    (dict(solver="newton"), ValueError, "solver"),
    (dict(standardize="yes"), TypeError, "standardize"),
    (dict(n_classes=5), ValueError, "n_classes"),
])
def test_scaling_run_rejects_bad_input(arguments, error, message):
    options = dict(solver="gaussian", standardize=True, n_train_tokens=60, repetition=0,
                   n_tokens=5)
    options.update(arguments)
    with pytest.raises(error, match=message):
        comparison.scaling_run(**options)


def test_scaling_exponents_recover_a_power_law():
    sizes = np.array([100, 200, 400, 800])
    frame = pd.DataFrame({"solver": "exact", "inputs": "raw", "repetition": 0,
                          "train_tokens": sizes, "fit_seconds": 0.003 * sizes ** 1.7})
    single = frame.iloc[:1].assign(repetition=1)
    exponents = comparison.scaling_exponents(pd.concat([frame, single]))
    assert exponents.loc[0, "exponent"] == pytest.approx(1.7)
    assert exponents["sizes"].tolist() == [4, 1] and np.isnan(exponents.loc[1, "exponent"])
    with pytest.raises(ValueError, match="positive"):
        comparison.scaling_exponents(frame.assign(fit_seconds=0.0))
    with pytest.raises(ValueError, match="not in the frame"):
        comparison.scaling_exponents(frame, by=["model"])


def test_the_old_import_paths_still_work():
    """``otcompanion.experiments`` was one module; every public name stays readable from it."""
    for module in (grid, pretraining, comparison, crossval):
        for name in vars(module):
            if not name.startswith("_") and callable(getattr(module, name)) \
                    and getattr(getattr(module, name), "__module__", "") == module.__name__:
                assert getattr(experiments, name) is getattr(module, name), name
    for name in ("PROFILES", "TRAJECTORY_METRICS", "REFERENCE_MAPS", "HEAD_SHARING",
                 "VALIDATION_FRACTION", "run_jobs", "train_transformer", "thesis_split",
                 "interval_outcome", "combined_verdict", "_traced_run"):
        assert hasattr(experiments, name), name
    assert experiments.traced_run is grid.traced_run


def _two_setups():
    """Two models, two setups, four repetitions; the Transformer twice as slow in setup a."""
    rows = []
    for setup, ratio in (("a", 2.0), ("b", 0.5)):
        for r in range(4):
            seconds = 1.0 + r
            rows.append({"setup": setup, "repetition": r, "model": experiments.OT,
                         "fit_seconds": seconds, "accuracy": 0.9})
            rows.append({"setup": setup, "repetition": r, "model": experiments.TRANSFORMER,
                         "fit_seconds": ratio * seconds, "accuracy": 0.9 + 0.01 * r})
    return pd.DataFrame(rows)


def test_ot_minus_transformer_and_its_table():
    OT, TRANSFORMER = experiments.OT, experiments.TRANSFORMER
    assert (OT, TRANSFORMER) == ("OT classifier", "Transformer")
    frame = _two_setups()
    differences = experiments.ot_minus_transformer(frame, ["setup"], ["accuracy"])
    expected = stats.paired_differences(frame, ["setup"], ["repetition"], "model", OT,
                                        TRANSFORMER, ["accuracy"])
    pd.testing.assert_frame_equal(differences, expected)
    speed = stats.speed_up(frame, ["setup"], "fit_seconds", TRANSFORMER, OT)
    table = experiments.model_difference_table(differences, speed.iloc[:1], ["setup"])
    assert list(table.columns) == ["setup", "pairs", "OT mean", "Transformer mean", "verdict",
                                   "OT − Transformer [95 % CI]", "speed-up [95 % CI]"]
    assert table["speed-up [95 % CI]"].tolist() == ["2.0", "n/a"]
    assert table["OT − Transformer [95 % CI]"].iloc[0].startswith("\u22120.015 [")


def test_traced_epoch_ratio():
    traced = pd.DataFrame({"n_classes": [3, 3], "repetition": [0, 1],
                           "fit_seconds": [4.0, 8.0], "epochs_run": [2, 4]})
    untraced = traced.assign(fit_seconds=[1.0, 2.0])
    ratio, low, _, n = experiments.traced_epoch_ratio(traced, untraced)
    assert n == 2 and ratio == pytest.approx(4.0) and low == pytest.approx(4.0)
    assert experiments.traced_epoch_ratio(traced, untraced.assign(repetition=[5, 6])) is None


def test_budget_verdicts_recompute_the_verdict_per_budget():
    histories = []
    for condition in ("unpretrained", "circle"):
        for repetition in range(3):
            for epoch in range(1, 5):
                accuracy = 1.0 if epoch >= (2 if condition == "circle" else 4) else 0.5
                histories.append({"n_classes": 2, "level": 1, "repetition": repetition,
                                  "condition": condition, "epoch": epoch,
                                  "val_loss": 1.0 / epoch, "val_instance_accuracy": accuracy})
    checks = experiments.budget_verdicts(pd.DataFrame(histories), [3, 4], {2: "2 classes"},
                                         patience=2, target_accuracy=1.0)
    assert [check["budget"] for check in checks] == [3, 4]
    assert all(check["faster"] == [("2 classes", "circle")] for check in checks)
    assert {check["verdict"] for check in checks} == {"partly supported"}
    assert all(set(check["differences"]["quantity"]) == {"epochs_to_target_capped", "val_accuracy"}
               for check in checks)


def test_chapter_02_readings_of_claims_one_and_two():
    rng = np.random.default_rng(0)
    runs = [{"setup": setup, "level": 1, "repetition": r,
             "optimality": 0.995 + 0.004 * rng.random(), "straightness": 0.3 + 0.1 * rng.random(),
             "w2_path_efficiency": 0.4 + 0.1 * rng.random()}
            for setup in ("2 classes", "3 classes") for r in range(6)]
    summary = pd.DataFrame(runs)
    references = pd.concat([
        summary.assign(map="trained", matching=1.0),
        summary.assign(map="class translations, random residual", matching=0.5,
                       optimality=summary["optimality"] - 0.1)])
    reading = experiments.final_map_reading(summary, references)
    assert reading["verdict"] == "supported" and reading["beats_null"]
    assert 0.99 < reading["lowest_bound"] < 0.999
    worse = references.assign(optimality=np.where(references["map"] == "trained", 0.5, 0.9))
    assert experiments.final_map_reading(summary, worse)["verdict"] == "partly supported"
    trajectory = experiments.trajectory_reading(summary)
    assert trajectory["verdict"] == "supported" and 0.45 < trajectory["upper"] < 0.5


def test_geometry_differences_pair_every_setting_with_the_thesis_geometry():
    rng = np.random.default_rng(1)
    settings = ["thesis", "radius: 1", "covariance: 4"]
    sensitivity = pd.DataFrame({
        "order": np.repeat([0, 1, 2], 5), "setting": np.repeat(settings, 5),
        "repetition": np.tile(range(5), 3),
        "instance_accuracy": np.r_[np.full(5, 0.9), rng.uniform(0.5, 0.6, 5), np.full(5, 0.9)]})
    table = experiments.geometry_differences(sensitivity)
    assert table["setting"].tolist() == ["radius: 1", "covariance: 4"]
    assert table["verdict"].tolist() == ["first lower", "identical in every pair"]
    with pytest.raises(ValueError, match=r"columns \['order'\] are not in"):
        experiments.geometry_differences(sensitivity.drop(columns="order"))


def test_optimizer_ablation_reading_compares_learned_settings_with_the_thesis():
    rng = np.random.default_rng(2)
    rows = []
    for r in range(8):
        base = rng.uniform(0.2, 0.3)
        for optimizer, lr, accuracy, shift in (("rmsprop", "0.01", 0.95, 0.0),
                                               ("adam", "0.01", 0.97, 0.3),
                                               ("sgd", "0.1", 0.5, 0.6)):
            rows.append({"optimizer": optimizer, "lr": lr, "repetition": r,
                         "instance_accuracy": accuracy,
                         "straightness": base + shift + rng.normal(0, 0.01)})
    reading = experiments.optimizer_ablation_reading(pd.DataFrame(rows))
    assert reading["best"] == ("adam", "0.01") and reading["straighter"]
    assert reading["settings"] == 2  # sgd did not learn: left out of the family
    assert reading["versus_thesis"]["compared"].tolist() == ["adam 0.01"]
    assert 0.5 < reading["highest"] < 0.7
    with pytest.raises(ValueError, match=r"columns \['straightness'\] are not in ablation"):
        experiments.optimizer_ablation_reading(pd.DataFrame(rows).drop(columns="straightness"))


def test_pooling_baselines_see_the_runs_data_and_order_the_readouts():
    values = [experiments.pooling_baselines(100, r, seed=3, n_test=400) for r in range(3)]
    assert all(set(row) == {"n_train", "repetition", *experiments.BASELINES} for row in values)
    oracle = np.mean([row["relevant tokens (oracle)"] for row in values])
    pooled = np.mean([row["mean pooling"] for row in values])
    assert oracle < pooled < 0.5  # selecting the relevant tokens beats averaging them
    assert values[0] == experiments.pooling_baselines(100, 0, seed=3, n_test=400)
    with pytest.raises(ValueError, match="n_train"):
        experiments.pooling_baselines(1, 0)


def test_traced_run_without_curves_measures_the_final_map_only():
    record = grid.traced_run(2, 1, 0, seed=2, **{**TINY_RUN, "curve_points": 0})
    assert record["curves"].empty
    assert np.isnan(record["summary"]["straightness"])
    assert record["references"]["optimality"].notna().all()
    full = grid.traced_run(2, 1, 0, seed=2, **TINY_RUN)
    assert record["summary"]["optimality"] == pytest.approx(full["summary"]["optimality"])
