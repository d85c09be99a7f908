import pickle
import re
from functools import partial

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

import otcompanion
from otcompanion import alignment, metrics, ot_solvers, otclassifier
from otcompanion.attention import TransformerClassifier
from otcompanion.data import thesis_split
from otcompanion.geometry import dummy_means
from otcompanion.otclassifier import DummyGaussianOTClassifier

SOLVERS = ("exact", "sinkhorn", "minibatch", "gaussian")


@pytest.fixture(scope="module")
def thesis_data():
    """The thesis's two-class level-2 setup: 45 + 45 instances of 20 tokens in R^2."""
    return thesis_split(2, 2, seed=0)


@pytest.fixture(scope="module")
def small_tokens():
    """Three classes of 8 instances with 5 tokens each (40 tokens per class)."""
    X, y = make_tokens(n_per_class=8, n_tokens=5, n_classes=3, seed=1)
    return X, y


def make_tokens(n_per_class, n_tokens, n_classes, d=2, seed=0, separation=3.0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    centres = separation * rng.normal(size=(n_classes, d))
    X = centres[y][:, None, :] + rng.normal(size=(len(y), n_tokens, d))
    return X, y


def blobs(n=120, seed=0):
    return make_blobs(n_samples=n, centers=3, n_features=2, cluster_std=1.0, random_state=seed)


# ---------------------------------------------------------------------------------------------
# scikit-learn API
# ---------------------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")  # array-API check
def test_check_estimator_with_default_parameters():
    check_estimator(DummyGaussianOTClassifier())


def test_pipeline_and_cross_val_score():
    X, y = blobs(150)
    pipeline = make_pipeline(StandardScaler(), DummyGaussianOTClassifier(random_state=0))
    scores = cross_val_score(pipeline, X, np.array(["a", "b", "c"])[y], cv=3)
    assert scores.shape == (3,)
    assert scores.min() >= 0.85  # logistic regression: 0.88 to 0.92 on these blobs


def test_pickle_round_trip(thesis_data, tmp_path):
    X_train, X_test, y_train, _ = thesis_data
    model = DummyGaussianOTClassifier(random_state=0).fit(X_train, y_train)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    loaded = pickle.loads(path.read_bytes())
    np.testing.assert_array_equal(loaded.predict_proba(X_test), model.predict_proba(X_test))
    np.testing.assert_array_equal(loaded.transform(X_test), model.transform(X_test))
    assert loaded.get_params() == model.get_params()


def test_string_labels_on_tokens(small_tokens):
    X, y = small_tokens
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = DummyGaussianOTClassifier(random_state=0).fit(X, names)
    assert model.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    predicted = model.predict(X)
    assert set(predicted) <= set(names)
    assert model.score(X, names) > 0.9
    assert model.predict_proba(X).shape == (len(X), 3)


def test_get_set_params_and_dataframe_feature_names():
    X, y = blobs(90)
    frame = pd.DataFrame(X, columns=["width", "height"])
    model = DummyGaussianOTClassifier().set_params(max_epochs=5, random_state=3)
    assert model.get_params()["max_epochs"] == 5
    model.fit(frame, y)
    assert model.feature_names_in_.tolist() == ["width", "height"]
    assert model.n_features_in_ == 2


# ---------------------------------------------------------------------------------------------
# The thesis algorithm
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("solver", SOLVERS)
def test_every_solver_classifies_the_thesis_setup(thesis_data, solver):
    X_train, X_test, y_train, y_test = thesis_data
    model = DummyGaussianOTClassifier(solver=solver, random_state=0).fit(X_train, y_train)
    assert model.score(X_test, y_test) >= 0.95
    assert model.ot_targets_.shape == X_train.shape
    assert model.transform(X_test).shape == X_test.shape
    assert model.history_.columns.tolist() == ["epoch", "train_loss", "val_loss",
                                               "val_instance_accuracy"]
    assert len(model.step_seconds_) == model.n_iter_
    assert np.all(np.diff(model.step_seconds_) >= 0) and model.step_seconds_[0] > 0
    assert model.fit_timings_["alignment_cpu"] >= 0
    assert 1 <= model.best_epoch_ <= model.n_iter_ <= model.max_epochs


def test_instance_score_is_the_sum_of_token_log_scores(thesis_data):
    X_train, X_test, y_train, _ = thesis_data
    model = DummyGaussianOTClassifier(random_state=0).fit(X_train, y_train)
    mapped = model.transform(X_test)
    distances = np.linalg.norm(mapped[:, :, None, :] - model.dummy_means_, axis=-1)
    token_scores = np.exp(-distances) / np.exp(-distances).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(model.predict_token_proba(X_test), token_scores, rtol=1e-10)
    summed = np.log(token_scores).sum(axis=1)
    expected = np.exp(summed - summed.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict_proba(X_test), expected, rtol=1e-8, atol=1e-12)
    np.testing.assert_array_equal(model.predict(X_test), model.classes_[summed.argmax(axis=1)])


def test_training_statistics_are_used_at_prediction(thesis_data):
    X_train, X_test, y_train, _ = thesis_data
    model = DummyGaussianOTClassifier(random_state=0).fit(X_train, y_train)
    tokens = X_train.reshape(-1, 2)
    np.testing.assert_allclose(model.mean_, tokens.mean(axis=0))
    np.testing.assert_allclose(model.scale_, tokens.std(axis=0))
    # A single instance gets the prediction it gets within the whole test set: no statistics of
    # the test data enter (the thesis code standardized test data with their own statistics).
    batch = model.predict_proba(X_test)
    for i in (0, 7, 44):
        np.testing.assert_allclose(model.predict_proba(X_test[i:i + 1]), batch[i:i + 1],
                                   rtol=1e-12, atol=1e-15)
    # Shifting the other test instances changes nothing for instance 0.
    shifted = X_test.copy()
    shifted[1:] += 100.0
    np.testing.assert_allclose(model.predict_proba(shifted)[0], batch[0], rtol=1e-12)


def test_validation_holds_out_training_instances(thesis_data):
    X_train, _, y_train, _ = thesis_data
    model = DummyGaussianOTClassifier(random_state=0, validation_fraction=0.2).fit(
        X_train, y_train)
    held_out = model.validation_indices_
    assert len(held_out) == 9  # ceil(0.2 * 45) instances, all tokens of each
    assert set(np.unique(y_train[held_out])) == {0, 1}
    assert model.history_["val_loss"].notna().all()
    no_validation = DummyGaussianOTClassifier(random_state=0, validation_fraction=0.0,
                                              max_epochs=7).fit(X_train, y_train)
    assert no_validation.validation_indices_ is None
    assert no_validation.n_iter_ == no_validation.best_epoch_ == 7
    assert no_validation.history_["val_loss"].isna().all()


def test_given_validation_indices_replace_the_split(thesis_data):
    X_train, _, y_train, _ = thesis_data
    held_out = np.array([40, 3, 17, 22])
    model = DummyGaussianOTClassifier(random_state=0, validation_fraction=0.3).fit(
        X_train, y_train, validation_indices=held_out)
    np.testing.assert_array_equal(model.validation_indices_, np.sort(held_out))
    # The history's validation accuracy is the accuracy of the restored model on them.
    accuracy = model.history_.loc[model.best_epoch_ - 1, "val_instance_accuracy"]
    assert accuracy == pytest.approx(model.score(X_train[held_out], y_train[held_out]))
    assert model.history_["val_instance_accuracy"].between(0, 1).all()


@pytest.mark.parametrize("indices, error, message", [
    ([0, 45], ValueError, r"indices in \[0, 45\)"),
    ([], ValueError, "non-empty"),
    ([1, 1], ValueError, "repeated"),
    ([0.5], TypeError, "integer instance indices"),
    ("all", TypeError, "integer instance indices"),
])
def test_bad_validation_indices_are_refused(thesis_data, indices, error, message):
    X_train, _, y_train, _ = thesis_data
    with pytest.raises(error, match=message):
        DummyGaussianOTClassifier(random_state=0).fit(X_train, y_train,
                                                      validation_indices=indices)


def test_validation_indices_must_leave_every_class_for_training():
    X = np.random.default_rng(0).normal(size=(6, 3, 2))
    y = np.array([0, 0, 0, 0, 1, 1])
    with pytest.raises(ValueError, match=r"every instance of class\(es\) \[1\]"):
        DummyGaussianOTClassifier(random_state=0).fit(X, y, validation_indices=[4, 5])


def test_early_stopping_has_keras_semantics_with_tol_as_min_delta(thesis_data):
    X_train, _, y_train, _ = thesis_data
    tol, patience = 0.2, 3
    model = DummyGaussianOTClassifier(solver="gaussian", tol=tol, n_iter_no_change=patience,
                                      max_epochs=30, random_state=0).fit(X_train, y_train)
    losses = model.history_["val_loss"].to_numpy()
    # keras EarlyStopping(min_delta=tol, restore_best_weights=True): an epoch improves iff its
    # loss is below the best so far minus tol; stop after `patience` epochs without.
    best, best_epoch, wait, stop = np.inf, 0, 0, len(losses)
    for epoch, loss in enumerate(losses, start=1):
        if loss < best - tol:
            best, best_epoch, wait = loss, epoch, 0
        else:
            wait += 1
            if wait == patience:
                stop = epoch
                break
    assert model.best_epoch_ == best_epoch
    assert model.n_iter_ == stop < 30
    # tol is an absolute threshold: here a later epoch has a lower loss, by less than tol, and
    # is neither kept nor resets the patience (with tol = 0 it would be the best epoch).
    assert np.argmin(losses) + 1 != best_epoch
    assert losses.min() >= best - tol
    # The restored weights are those of the best epoch: their validation loss is its loss.
    rows = (model.validation_indices_[:, None] * X_train.shape[1]
            + np.arange(X_train.shape[1])).ravel()
    standardized = ((X_train.reshape(-1, 2) - model.mean_) / model.scale_)[rows]
    with torch.no_grad():
        mapped = model.mlp_(torch.as_tensor(standardized, dtype=torch.float32)).numpy()
    targets = model.ot_targets_.reshape(-1, 2)[rows]
    assert np.mean((mapped - targets) ** 2) == pytest.approx(losses[best_epoch - 1], rel=1e-5)


def test_same_random_state_same_model_and_different_seeds_differ(small_tokens):
    X, y = small_tokens
    first = DummyGaussianOTClassifier(random_state=5).fit(X, y)
    second = DummyGaussianOTClassifier(random_state=5).fit(X, y)
    other = DummyGaussianOTClassifier(random_state=6).fit(X, y)
    np.testing.assert_array_equal(first.ot_targets_, second.ot_targets_)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    assert first.history_.equals(second.history_)
    assert not np.array_equal(first.ot_targets_, other.ot_targets_)


def test_exact_and_minibatch_agree_on_a_tiny_problem(small_tokens):
    X, y = small_tokens  # 40 tokens per class
    exact = DummyGaussianOTClassifier(solver="exact", random_state=0).fit(X, y)
    one_batch = DummyGaussianOTClassifier(solver="minibatch", batch_size_ot=40,
                                          random_state=0).fit(X, y)
    # One batch per class holds the very dummy draws of the exact solver: same optimal
    # assignment, same targets, same model.
    np.testing.assert_array_equal(one_batch.ot_targets_, exact.ot_targets_)
    np.testing.assert_array_equal(one_batch.predict_proba(X), exact.predict_proba(X))
    small_batches = DummyGaussianOTClassifier(solver="minibatch", batch_size_ot=8,
                                              random_state=0).fit(X, y)
    assert not np.array_equal(small_batches.ot_targets_, exact.ot_targets_)
    assert abs(small_batches.score(X, y) - exact.score(X, y)) <= 0.05


def test_exact_targets_are_an_optimal_assignment_of_dummy_draws(small_tokens):
    X, y = small_tokens
    model = DummyGaussianOTClassifier(solver="exact", random_state=0).fit(X, y)
    standardized = (X - model.mean_) / model.scale_
    for c in range(3):
        source = standardized[y == c].reshape(-1, 2)
        targets = model.ot_targets_[y == c].reshape(-1, 2)
        # Targets are a permutation of the draws, and no other permutation is cheaper.
        _, optimal = metrics.exact_ot_assignment(source, targets)
        assert np.sum((source - targets) ** 2) == pytest.approx(optimal, rel=1e-12)


def test_sinkhorn_with_small_epsilon_approaches_the_exact_targets(small_tokens):
    X, y = small_tokens
    exact = DummyGaussianOTClassifier(solver="exact", random_state=0).fit(X, y)
    gaps = []
    for epsilon in (0.1, 0.01, 0.002):
        sinkhorn = DummyGaussianOTClassifier(solver="sinkhorn", epsilon=epsilon,
                                             random_state=0).fit(X, y)
        gaps.append(np.linalg.norm(sinkhorn.ot_targets_ - exact.ot_targets_, axis=-1).mean())
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < 0.1  # nearest dummy draws are about 0.4 apart (unit covariance, 40 draws)


def test_gaussian_solver_targets_have_the_dummy_moments(small_tokens):
    X, y = small_tokens
    model = DummyGaussianOTClassifier(solver="gaussian", covariance_scale=0.5,
                                      random_state=0).fit(X, y)
    for c in range(3):
        targets = model.ot_targets_[y == c].reshape(-1, 2)
        np.testing.assert_allclose(targets.mean(axis=0), model.dummy_means_[c], atol=1e-9)
        np.testing.assert_allclose(np.cov(targets, rowvar=False, bias=True), 0.5 * np.eye(2),
                                   atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Dummy geometry and dimension
# ---------------------------------------------------------------------------------------------

def test_default_geometry_is_the_thesis_circle(thesis_data, small_tokens):
    X_train, _, y_train, _ = thesis_data
    two = DummyGaussianOTClassifier(max_epochs=1, random_state=0).fit(X_train, y_train)
    np.testing.assert_array_equal(two.dummy_means_, [[0.0, 6.0], [0.0, -6.0]])
    X, y = small_tokens
    three = DummyGaussianOTClassifier(max_epochs=1, random_state=0).fit(X, y)
    np.testing.assert_allclose(three.dummy_means_, [[0.0, 9.0], [9 * np.sqrt(3) / 2, -4.5],
                                                   [-9 * np.sqrt(3) / 2, -4.5]], atol=1e-12)


@pytest.mark.parametrize("geometry", ["circle", "circle_cos_sin", "simplex"])
def test_named_geometries_come_from_geometry_dummy_means(small_tokens, geometry):
    X, y = small_tokens
    model = DummyGaussianOTClassifier(geometry=geometry, radius=5.0, dummy_dim=3, max_epochs=1,
                                      random_state=0).fit(X, y)
    np.testing.assert_array_equal(model.dummy_means_, dummy_means(3, geometry, 5.0, 3))


def test_default_dummy_dim_is_the_dimension_of_the_layout():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2, 3, 4], 8)
    X = rng.normal(size=(40, 1)) + y[:, None]  # one feature
    for geometry, dim in (("circle", 2), ("circle_cos_sin", 2), ("simplex", 4)):
        model = DummyGaussianOTClassifier(geometry=geometry, max_epochs=1,
                                          random_state=0).fit(X, y)
        assert model.dummy_dim_ == dim
    wide = rng.normal(size=(40, 6)) + y[:, None]  # more features than the layout needs
    assert DummyGaussianOTClassifier(max_epochs=1).fit(wide, y).dummy_dim_ == 6
    with pytest.raises(ValueError, match="dummy_dim=1: dim=1 is too small for geometry"):
        DummyGaussianOTClassifier(dummy_dim=1).fit(X, y)
    with pytest.raises(ValueError, match="dummy_dim=3: .* use dim >= 4"):
        DummyGaussianOTClassifier(geometry="simplex", dummy_dim=3).fit(X, y)


def test_one_feature_gets_a_two_dimensional_dummy_space():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 30)
    X = (4.0 * y + rng.normal(size=90))[:, None]
    model = DummyGaussianOTClassifier(random_state=0).fit(X, y)
    assert model.dummy_dim_ == 2
    assert model.transform(X).shape == (90, 2)
    assert model.score(X, y) > 0.9


def test_dummy_dim_geometry_options(small_tokens):
    X, y = small_tokens
    wide = DummyGaussianOTClassifier(dummy_dim=4, random_state=0).fit(X, y)
    assert wide.transform(X).shape == X.shape[:2] + (4,)
    assert wide.score(X, y) > 0.9
    simplex = DummyGaussianOTClassifier(geometry="simplex", radius=5.0, random_state=0).fit(X, y)
    np.testing.assert_allclose(np.linalg.norm(simplex.dummy_means_, axis=1), 5.0)
    means = np.array([[0.0, 0.0, 8.0], [8.0, 0.0, 0.0], [0.0, 8.0, 0.0]])
    explicit = DummyGaussianOTClassifier(geometry=means, random_state=0).fit(X, y)
    np.testing.assert_array_equal(explicit.dummy_means_, means)
    assert explicit.dummy_dim_ == 3
    assert explicit.score(X, y) > 0.9
    with pytest.raises(ValueError, match="2 explicit means but y has 3 classes"):
        DummyGaussianOTClassifier(geometry=means[:2]).fit(X, y)


# ---------------------------------------------------------------------------------------------
# Guard rails
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("solver", ["exact", "sinkhorn"])
def test_dense_solvers_refuse_a_class_too_large(small_tokens, solver):
    X, y = small_tokens
    labels = np.array(["small", "large", "other"])[y]
    labels[labels == "other"] = "large"  # 80 tokens in class "large"
    model = DummyGaussianOTClassifier(solver=solver, max_dense_points=50)
    message = (r"class 'large' \(80 training tokens\).*8 n\^2 = 51\.2 kB.*"
               r"max_dense_points=50.*solver='minibatch'.*solver='gaussian'")
    with pytest.raises(ValueError, match=message):
        model.fit(X, labels)
    # The linear-time solvers handle it.
    for other in ("minibatch", "gaussian"):
        DummyGaussianOTClassifier(solver=other, max_dense_points=50, batch_size_ot=50,
                                  max_epochs=2).fit(X, labels)


def test_exact_ot_never_returns_a_non_converged_plan(small_tokens, monkeypatch):
    X, y = small_tokens

    def stopped_early(a, b, M, numItermax, log):
        return np.eye(len(a)), {"warning": "numItermax reached before optimality",
                                "result_code": 2}

    monkeypatch.setattr(ot_solvers.ot, "emd", stopped_early)
    with pytest.raises(RuntimeError, match="exact OT for class 0 failed.*did not converge"):
        DummyGaussianOTClassifier(solver="exact").fit(X, y)


def test_sinkhorn_warns_when_it_does_not_converge(small_tokens, monkeypatch):
    X, y = small_tokens
    monkeypatch.setattr(otclassifier, "sinkhorn_alignment",
                        partial(alignment.sinkhorn_alignment, max_iter=2))
    with pytest.warns(ConvergenceWarning, match="Sinkhorn did not converge in 2 iterations"):
        DummyGaussianOTClassifier(solver="sinkhorn", epsilon=0.01, max_epochs=1).fit(X, y)


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fitted_table():
    X, y = blobs(60)
    return DummyGaussianOTClassifier(random_state=0, max_epochs=3).fit(X, y), X, y


def test_one_class_is_refused(small_tokens):
    X, y = small_tokens
    with pytest.raises(ValueError, match="only one class"):
        DummyGaussianOTClassifier().fit(X, np.zeros(len(X), dtype=int))


@pytest.mark.parametrize("shape", [(10, 2), (10, 4, 2)])
def test_nan_is_refused(shape):
    X = np.ones(shape)
    X[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        DummyGaussianOTClassifier().fit(X, np.arange(10) % 2)


def test_wrong_dimensions_are_refused(fitted_table):
    model, X, y = fitted_table
    with pytest.raises(ValueError, match="got 4 dimensions"):
        DummyGaussianOTClassifier().fit(np.ones((6, 2, 2, 2)), np.arange(6) % 2)
    with pytest.raises(ValueError, match="2D array"):
        DummyGaussianOTClassifier().fit(np.ones(6), np.arange(6) % 2)
    with pytest.raises(ValueError, match="X has 3 features, but DummyGaussianOTClassifier is "
                                         "expecting 2 features"):
        model.predict(np.ones((4, 3)))
    with pytest.raises(ValueError, match="X has 3 features, but DummyGaussianOTClassifier is "
                                         "expecting 2 features"):
        model.predict(np.ones((4, 5, 3)))
    # A table-fitted model reads a token array of the same features (one class per instance).
    assert model.predict(np.ones((4, 5, 2))).shape == (4,)


@pytest.mark.parametrize("shape", [(10, 2), (10, 4, 2)])
def test_mismatched_lengths_are_refused(shape):
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        DummyGaussianOTClassifier().fit(np.ones(shape), np.arange(9) % 2)


def test_unseen_labels_in_score_are_named(fitted_table):
    model, X, y = fitted_table
    wrong = y.copy()
    wrong[:2] = [7, 9]
    with pytest.raises(ValueError, match=re.escape("label(s) [7, 9] not seen in fit")):
        model.score(X, wrong)
    assert 0 <= model.score(X, y) <= 1


def test_predict_before_fit_raises():
    with pytest.raises(NotFittedError):
        DummyGaussianOTClassifier().predict(np.ones((3, 2)))


@pytest.mark.parametrize("params, match", [
    (dict(solver="hungarian"), "solver must be one of"),
    (dict(geometry="sphere"), "geometry must be one of"),
    (dict(geometry=[[0.0, 1.0]]), "n_classes >= 2"),
    (dict(geometry=[[0.0, 1.0], [0.0, 1.0], [2.0, 0.0]]), "two identical rows"),
    (dict(geometry=[[0.0, 1.0], [1.0, np.nan], [2.0, 0.0]]), "NaN or infinite"),
    (dict(geometry=[[0.0, 1.0], [1.0, 0.0], [2.0, 0.0]], radius=2.0), "radius scales"),
    (dict(geometry=[[0.0, 1.0], [1.0, 0.0], [2.0, 0.0]], dummy_dim=3), "does not match"),
    (dict(radius=-1.0), r"radius must be a finite number in \(0.0, inf\)"),
    (dict(covariance_scale=0), "covariance_scale must be a finite number"),
    (dict(dummy_dim=0), "dummy_dim must be at least 1"),
    (dict(dummy_dim=1), "dummy_dim=1: dim=1 is too small"),
    (dict(epsilon=-0.1), "epsilon must be a finite number"),
    (dict(batch_size_ot=0), "batch_size_ot must be at least 1"),
    (dict(solver="minibatch", batch_size_ot=200, max_dense_points=100),
     "exceeds max_dense_points"),
    (dict(hidden_layer_sizes=(32, 0)), r"hidden_layer_sizes\[1\] must be at least 1"),
    (dict(max_epochs=0), "max_epochs must be at least 1"),
    (dict(learning_rate=0), "learning_rate must be a finite number"),
    (dict(learning_rate=float("inf")), "learning_rate must be a finite number"),
    (dict(batch_size=0), "batch_size must be at least 1"),
    (dict(validation_fraction=1.0), r"validation_fraction must be a finite number in \[0.0, "
                                    r"1.0\)"),
    (dict(n_iter_no_change=0), "n_iter_no_change must be at least 1"),
    (dict(tol=-1), r"tol must be a finite number in \[0.0, inf\)"),
    (dict(device="tpu"), "device must be 'cpu', 'cuda'"),
    (dict(n_threads=0), "n_threads must be at least 1"),
    (dict(random_state=-1), "Seed must be between"),
])
def test_bad_parameter_values_are_named(small_tokens, params, match):
    X, y = small_tokens
    with pytest.raises(ValueError, match=match):
        DummyGaussianOTClassifier(**params).fit(X, y)


@pytest.mark.parametrize("params, match", [
    (dict(solver=1), "solver must be one of"),
    (dict(geometry=None), "geometry must be one of .* or an array of class means"),
    (dict(geometry=3), "geometry must be one of"),
    (dict(radius="large"), "radius must be a real number or None"),
    (dict(covariance_scale=True), "covariance_scale must be a real number"),
    (dict(dummy_dim=2.0), "dummy_dim must be an integer or None"),
    (dict(epsilon="small"), "epsilon must be a real number"),
    (dict(hidden_layer_sizes="wide"), "hidden_layer_sizes must be a list"),
    (dict(hidden_layer_sizes=(32, 1.5)), r"hidden_layer_sizes\[1\] must be an integer"),
    (dict(max_epochs=2.5), "max_epochs must be an integer"),
    (dict(batch_size="auto"), "batch_size must be an integer or None"),
    (dict(validation_fraction=None), "validation_fraction must be a real number"),
    (dict(n_iter_no_change=None), "n_iter_no_change must be an integer"),
    (dict(tol="1e-4"), "tol must be a real number"),
    (dict(standardize="yes"), "standardize must be True or False"),
    (dict(device=3), "device must be a string"),
    (dict(n_threads=1.0), "n_threads must be an integer"),
    (dict(random_state="seed"), "random_state must be None, an integer or a numpy RandomState"),
])
def test_bad_parameter_types_are_named(small_tokens, params, match):
    X, y = small_tokens
    with pytest.raises(TypeError, match=match):
        DummyGaussianOTClassifier(**params).fit(X, y)


def test_a_single_hidden_width_and_no_hidden_layer(small_tokens):
    X, y = small_tokens
    one = DummyGaussianOTClassifier(hidden_layer_sizes=16, max_epochs=1).fit(X, y)
    assert [layer.out_features for layer in one.mlp_ if hasattr(layer, "out_features")] == [16, 2]
    affine = DummyGaussianOTClassifier(hidden_layer_sizes=(), max_epochs=1).fit(X, y)
    assert len(affine.mlp_) == 1


def test_estimators_are_available_at_the_top_level():
    assert otcompanion.DummyGaussianOTClassifier is DummyGaussianOTClassifier
    assert otcompanion.TransformerClassifier is TransformerClassifier
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        otcompanion.Nothing


def test_standardize_false_keeps_raw_features():
    X_train, X_test, y_train, y_test = thesis_split(2, 4, seed=0)
    raw = DummyGaussianOTClassifier(standardize=False, random_state=0).fit(X_train, y_train)
    np.testing.assert_array_equal(raw.mean_, [0.0, 0.0])
    np.testing.assert_array_equal(raw.scale_, [1.0, 1.0])
    assert raw.score(X_test, y_test) > 0.9
    standardized = DummyGaussianOTClassifier(random_state=0).fit(X_train, y_train)
    assert not np.allclose(standardized.mean_, 0.0)
