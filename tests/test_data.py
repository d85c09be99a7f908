import math

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from otcompanion import data
from otcompanion._training import stratified_split as validation_split


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_two_class_setup_is_the_thesis_one(level):
    means, covariances = data.thesis_setup(2, level)
    np.testing.assert_array_equal(means, [[-level, 0.0], [level, 0.0]])
    np.testing.assert_array_equal(covariances, [2 * np.eye(2)] * 2)


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_three_class_setup_is_the_thesis_one(level):
    means, covariances = data.thesis_setup(3, level)
    x = 6 * level / (2 * (1 + np.sqrt(2)))
    np.testing.assert_allclose(means, [[-x, 0.0], [x, 0.0], [0.0, x]], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(covariances, [2 * np.eye(2)] * 3)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_both_tasks_have_mean_pairwise_w2_two_times_level(n_classes, level):
    assert data.mean_pairwise_w2(*data.thesis_setup(n_classes, level)) == pytest.approx(2 * level)


@pytest.mark.parametrize("n_classes, level", [(1, 1), (4, 1), (2, 0), (2, 5), (3, 2.5)])
def test_thesis_setup_rejects_unknown_setups(n_classes, level):
    with pytest.raises(ValueError, match="n_classes|level"):
        data.thesis_setup(n_classes, level)


def test_gaussian_w2_matches_closed_form_for_isotropic_covariances():
    # W2(N(m, a^2 I_d), N(m', b^2 I_d))^2 = |m - m'|^2 + d (a - b)^2
    d, a, b = 3, 1.5, 0.5
    m, m2 = np.zeros(d), np.array([1.0, 2.0, 2.0])
    expected = np.sqrt(9.0 + d * (a - b) ** 2)
    assert data.gaussian_w2(m, a**2 * np.eye(d), m2, b**2 * np.eye(d)) == pytest.approx(expected)


def test_separation_table_lists_every_setup():
    table = data.separation_table()
    assert len(table) == 8
    np.testing.assert_allclose(table["mean_w2"], 2 * table["level"])
    three = table[table["n_classes"] == 3]
    assert (three["min_w2"] < three["mean_w2"]).all() and (three["mean_w2"] < three["max_w2"]).all()


def test_fitted_separation_approaches_closed_form_on_large_samples():
    X, y = data.make_token_clouds(*data.thesis_setup(3, 2), n_instances=300, n_tokens=50, seed=1)
    assert data.fitted_mean_pairwise_w2(X, y) == pytest.approx(4.0, abs=0.1)


def test_make_token_clouds_shapes_balance_and_blocks():
    X, y = data.make_token_clouds(*data.thesis_setup(3, 1), n_instances=90, n_tokens=20, seed=0)
    assert X.shape == (90, 20, 2) and y.shape == (90,)
    np.testing.assert_array_equal(np.bincount(y), [30, 30, 30])
    np.testing.assert_array_equal(y, np.repeat([0, 1, 2], 30))


def test_make_token_clouds_samples_the_given_gaussians():
    means = np.array([[0.0, 0.0, 0.0], [5.0, -1.0, 2.0]])
    covariances = np.stack([np.eye(3), np.diag([1.0, 4.0, 0.25])])
    X, y = data.make_token_clouds(means, covariances, n_instances=400, n_tokens=50, seed=3)
    for k in range(2):
        cloud = X[y == k].reshape(-1, 3)
        np.testing.assert_allclose(cloud.mean(axis=0), means[k], atol=0.05)
        np.testing.assert_allclose(np.cov(cloud, rowvar=False), covariances[k], atol=0.08)


def test_same_seed_same_data_other_seed_other_data():
    setup = data.thesis_setup(2, 2)
    X1, _ = data.make_token_clouds(*setup, seed=7)
    X2, _ = data.make_token_clouds(*setup, seed=7)
    X3, _ = data.make_token_clouds(*setup, seed=8)
    np.testing.assert_array_equal(X1, X2)
    assert not np.allclose(X1, X3)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_instances": 91}, "multiple of the number of classes"),
    ({"n_instances": 0}, "n_instances must be at least 1"),
    ({"n_tokens": 0}, "n_tokens must be at least 1"),
    ({"n_tokens": 2.5}, "n_tokens must be an integer"),
    ({"seed": -1}, "seed must be at least 0"),
])
def test_make_token_clouds_rejects_bad_sizes(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        data.make_token_clouds(*data.thesis_setup(2, 1), **kwargs)


def test_make_token_clouds_rejects_bad_covariances():
    means = np.zeros((2, 2))
    with pytest.raises(ValueError, match="covariances must have shape"):
        data.make_token_clouds(means, np.stack([np.eye(3)] * 2))
    with pytest.raises(ValueError, match=r"covariances\[1\] must be symmetric positive"):
        data.make_token_clouds(means, np.stack([np.eye(2), -np.eye(2)]))
    with pytest.raises(ValueError, match="at least two classes"):
        data.make_token_clouds(np.zeros((1, 2)), np.eye(2)[None])


def test_alternating_split_is_the_thesis_split():
    X, y = data.make_token_clouds(*data.thesis_setup(2, 1), seed=0)
    X_train, X_test, y_train, y_test = data.alternating_split(X, y)
    assert len(X_train) == len(X_test) == 45
    np.testing.assert_array_equal(X_train, X[0::2])
    np.testing.assert_array_equal(X_test, X[1::2])
    assert set(y_train) == set(y_test) == {0, 1}


def test_thesis_split_gives_900_training_tokens_per_setup():
    X_train, X_test, y_train, y_test = data.thesis_split(3, 4, seed=2)
    assert X_train.shape == (45, 20, 2) and X_test.shape == (45, 20, 2)
    assert np.bincount(y_train).tolist() == [15, 15, 15]


def test_stratified_split_keeps_class_proportions():
    X = np.arange(200.0).reshape(100, 2)
    y = np.array([0] * 80 + [1] * 20)
    X_train, X_test, y_train, y_test = data.stratified_split(X, y, test_size=0.25, seed=0)
    assert len(y_test) == 25 and np.bincount(y_test).tolist() == [20, 5]
    again = data.stratified_split(X, y, test_size=0.25, seed=0)
    np.testing.assert_array_equal(again[0], X_train)


def test_splits_reject_mismatched_labels():
    X = np.zeros((10, 3, 2))
    with pytest.raises(ValueError, match="one label per instance"):
        data.alternating_split(X, np.zeros(9))
    with pytest.raises(ValueError, match="one label per instance"):
        data.stratified_split(X, np.zeros((10, 2)))


def test_standardizer_uses_training_statistics_only():
    X_train, X_test, _, _ = data.thesis_split(2, 3, seed=0)
    scaler = data.TokenStandardizer().fit(X_train)
    flat = X_train.reshape(-1, 2)
    np.testing.assert_allclose(scaler.mean_, flat.mean(axis=0))
    np.testing.assert_allclose(scaler.scale_, flat.std(axis=0))
    np.testing.assert_allclose(scaler.transform(X_test), (X_test - flat.mean(0)) / flat.std(0))
    standardized = scaler.transform(X_train).reshape(-1, 2)
    np.testing.assert_allclose(standardized.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(standardized.std(axis=0), 1)
    # The test set is not standardized with its own statistics.
    assert not np.allclose(scaler.transform(X_test).reshape(-1, 2).mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(X_test)), X_test)


def test_standardizer_accepts_tables_and_keeps_constant_features():
    table = np.column_stack([np.arange(10.0), np.full(10, 3.0)])
    out = data.TokenStandardizer().fit_transform(table)
    assert out.shape == (10, 2)
    np.testing.assert_array_equal(out[:, 1], 0.0)


def test_per_token_standardizer_keeps_statistics_per_position():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3, 2)) * np.array([1.0, 100.0, 0.01])[None, :, None]
    scaler = data.TokenStandardizer(per_token=True).fit(X)
    assert scaler.mean_.shape == (3, 2)
    out = scaler.transform(X)
    np.testing.assert_allclose(out.std(axis=0), 1)
    with pytest.raises(ValueError, match="fitted on"):
        scaler.transform(np.zeros((4, 2, 2)))


def test_standardizer_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        data.TokenStandardizer().transform(np.zeros((3, 2)))
    scaler = data.TokenStandardizer().fit(np.ones((4, 5, 2)))
    with pytest.raises(ValueError, match="X has features"):
        scaler.transform(np.ones((4, 5, 3)))


@pytest.mark.parametrize("bad, message", [
    (np.zeros(5), "1 dimension"),
    (np.zeros((2, 2, 2, 2)), "4 dimension"),
    (np.zeros((0, 3, 2)), "empty"),
    (np.array([[[0.0, np.nan]]]), "NaN"),
    ([["a", "b"]], "numeric"),
])
def test_check_tokens_rejects_bad_arrays(bad, message):
    with pytest.raises(ValueError, match=message):
        data.check_tokens(bad)


def test_tokens_to_frame_has_one_row_per_token():
    X = np.arange(12.0).reshape(2, 3, 2)
    frame = data.tokens_to_frame(X, [0, 1], class_names=["a", "b"])
    assert list(frame.columns) == ["instance", "token", "label", "class", "x1", "x2"]
    assert len(frame) == 6 and frame["class"].tolist() == ["a"] * 3 + ["b"] * 3
    assert frame["x2"].tolist() == [1.0, 3.0, 5.0, 7.0, 9.0, 11.0]
    with pytest.raises(ValueError, match="feature_names"):
        data.tokens_to_frame(X, feature_names=["only one"])


def test_one_stratified_split_gives_what_both_old_splits_gave():
    """data.stratified_split and _training.stratified_split share data.stratified_indices; the
    old implementations (copied here) are the reference."""
    def old_data_split(X, y, test_size, seed):
        return train_test_split(np.asarray(X), np.asarray(y), test_size=test_size,
                                random_state=seed, stratify=y)

    def old_validation_split(codes, fraction, seed):
        n_val = math.ceil(fraction * len(codes))
        fit, val = train_test_split(np.arange(len(codes)), test_size=n_val, random_state=seed,
                                    stratify=codes)
        return np.sort(fit), np.sort(val)

    rng = np.random.default_rng(0)
    for n, k in ((10, 2), (45, 2), (45, 3), (91, 3), (200, 4)):
        y = np.repeat(np.arange(k), math.ceil(n / k))[:n]
        rng.shuffle(y)
        labels = np.array(["benign", "malignant", "other", "x"])[y]
        X = rng.normal(size=(n, 5, 2))
        for seed in (0, 3, 17):
            for test_size in (0.2, 0.25, 0.5, 4):
                for got, expected in zip(data.stratified_split(X, labels, test_size, seed),
                                         old_data_split(X, labels, test_size, seed)):
                    np.testing.assert_array_equal(got, expected)
            for fraction in (0.1, 0.2, 0.5):
                if math.ceil(fraction * n) < k:  # too small: the validation split refuses
                    continue
                for got, expected in zip(validation_split(y, fraction, seed),
                                         old_validation_split(y, fraction, seed)):
                    np.testing.assert_array_equal(got, expected)
