"""Thesis data: Gaussian token clouds, real tables as tokens, splits and standardization.

An instance is a set of ``T`` tokens in ``R^d``; a data set of ``n`` instances is a float array
of shape ``(n, T, d)`` with one integer label per instance. A plain table ``(n, d)`` is accepted
wherever a token array is, as one token per instance.

References
----------
- A. Quadrio, A. Candelieri. *Transformers for Tabular Data: A Training Perspective of
  Self-Attention via Optimal Transport*. Univ. Milano-Bicocca, 2025. arXiv:2512.09530.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import ot
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from ._validation import check_int

THESIS_LEVELS = (1, 2, 3, 4)
THESIS_N_CLASSES = (2, 3)


def check_tokens(X, name="X"):
    """Validate a token array and return it as a float array of shape ``(n, T, d)``.

    Parameters
    ----------
    X : array-like of shape (n, T, d) or (n, d)
        Token array, or a plain table read as one token per instance.
    name : str
        Name used in error messages.

    Returns
    -------
    tokens : ndarray of shape (n, T, d)
    """
    try:
        tokens = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a numeric array: {error}") from None
    if tokens.ndim == 2:
        tokens = tokens[:, None, :]
    if tokens.ndim != 3:
        raise ValueError(
            f"{name} must have shape (n_instances, n_tokens, n_features) or (n_instances, "
            f"n_features); got an array with {tokens.ndim} dimension(s), shape {tokens.shape}."
        )
    if 0 in tokens.shape:
        raise ValueError(f"{name} is empty: shape {tokens.shape}.")
    if not np.all(np.isfinite(tokens)):
        instance = int(np.argwhere(~np.isfinite(tokens))[0][0])
        raise ValueError(f"{name} contains NaN or infinite values (first in instance {instance}).")
    return tokens


def thesis_setup(n_classes, level, n_features=2):
    """Class means and covariances of the thesis's synthetic setups.

    Two classes at level ``L``: means ``(-L, 0)`` and ``(L, 0)``. Three classes: with
    ``x = 6L / (2 (1 + sqrt 2))``, means ``(-x, 0)``, ``(x, 0)`` and ``(0, x)``. Every class has
    covariance ``2 I``. Both setups have mean pairwise W2 distance ``2L`` between classes
    (thesis §3, "gauss_dist"), so a level means the same separation for either task.

    With ``n_features = d > 2`` (not in the thesis) the same means are padded with zeros and the
    covariance is ``2 I_d``: the classes stay as far apart, and the extra coordinates are pure
    noise. With ``d = 2`` the LayerNorm of the thesis's encoder block has only two possible
    outputs, so ``d >= 3`` is where a trained map can be more than a translation of each class
    (:func:`otcompanion.attention.layer_norm_jacobians`).

    Parameters
    ----------
    n_classes : {2, 3}
    level : {1, 2, 3, 4}
        Difficulty level; higher levels separate the classes more.
    n_features : int, default 2
        Token dimension ``d >= 2`` (thesis: 2).

    Returns
    -------
    means : ndarray of shape (n_classes, n_features)
    covariances : ndarray of shape (n_classes, n_features, n_features)
    """
    if n_classes not in THESIS_N_CLASSES:
        raise ValueError(f"n_classes must be one of {THESIS_N_CLASSES}, got {n_classes!r}.")
    if level not in THESIS_LEVELS:
        raise ValueError(f"level must be one of {THESIS_LEVELS}, got {level!r}.")
    if n_classes == 2:
        means = np.array([[-level, 0.0], [level, 0.0]])
    else:
        x = 6 * level / (2 * (1 + np.sqrt(2)))
        means = np.array([[-x, 0.0], [x, 0.0], [0.0, x]])
    n_features = check_int(n_features, "n_features", 2)
    means = np.pad(means, ((0, 0), (0, n_features - 2)))
    covariances = np.stack([2.0 * np.eye(n_features)] * n_classes)
    return means.astype(float), covariances


def make_token_clouds(means, covariances, n_instances=90, n_tokens=20, seed=0):
    """Sample instances whose tokens are i.i.d. Gaussian given the class.

    Instance ``i`` of class ``k`` has tokens ``x_{i,1..T} ~ N(mu_k, Sigma_k)`` i.i.d. Classes have
    equal numbers of instances and come in consecutive blocks (class 0 first), as in the thesis's
    code, so that the alternating split (:func:`alternating_split`) keeps every class balanced.

    Parameters
    ----------
    means : array-like of shape (k, d)
    covariances : array-like of shape (k, d, d)
        Symmetric positive semi-definite covariance per class.
    n_instances : int, default 90
        Total number of instances; must be a multiple of ``k``.
    n_tokens : int, default 20
        Tokens per instance.
    seed : int, default 0
        Seed of the random generator; the same arguments give the same arrays.

    Returns
    -------
    X : ndarray of shape (n_instances, n_tokens, d)
    y : ndarray of shape (n_instances,), int
    """
    means = np.asarray(means, dtype=float)
    covariances = np.asarray(covariances, dtype=float)
    if means.ndim != 2:
        raise ValueError(f"means must have shape (n_classes, n_features), got {means.shape}.")
    n_classes, n_features = means.shape
    if covariances.shape != (n_classes, n_features, n_features):
        raise ValueError(
            f"covariances must have shape {(n_classes, n_features, n_features)} to match means, "
            f"got {covariances.shape}."
        )
    for k, cov in enumerate(covariances):
        if not np.allclose(cov, cov.T) or np.linalg.eigvalsh(cov).min() < -1e-10:
            raise ValueError(f"covariances[{k}] must be symmetric positive semi-definite.")
    n_instances = check_int(n_instances, "n_instances", 1)
    n_tokens = check_int(n_tokens, "n_tokens", 1)
    seed = check_int(seed, "seed", 0)
    if n_classes < 2:
        raise ValueError(f"at least two classes are needed, got {n_classes}.")
    if n_instances % n_classes:
        raise ValueError(
            f"n_instances must be a multiple of the number of classes ({n_classes}) so that "
            f"classes are balanced, got {n_instances}."
        )
    per_class = n_instances // n_classes
    rng = np.random.default_rng(seed)
    X = np.concatenate([
        rng.multivariate_normal(mean, cov, size=(per_class, n_tokens))
        for mean, cov in zip(means, covariances)
    ])
    y = np.repeat(np.arange(n_classes), per_class)
    return X, y


def thesis_split(n_classes, level, n_instances=90, n_tokens=20, seed=0, n_features=2):
    """Thesis data for one setup, sampled and split as the thesis does.

    Shorthand for :func:`thesis_setup` (``n_features`` is its token dimension, thesis 2),
    :func:`make_token_clouds` and :func:`alternating_split`: 90 instances of 20 tokens give 45
    training and 45 test instances.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarrays
    """
    means, covariances = thesis_setup(n_classes, level, n_features)
    X, y = make_token_clouds(means, covariances, n_instances=n_instances, n_tokens=n_tokens,
                             seed=seed)
    return alternating_split(X, y)


def _check_labels(X, y):
    tokens = check_tokens(X)
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != len(tokens):
        raise ValueError(
            f"y must be one label per instance: X has {len(tokens)} instances, y has shape "
            f"{labels.shape}."
        )
    return tokens, labels


def alternating_split(X, y):
    """The thesis's split: even-numbered instances train, odd-numbered instances test.

    With classes in consecutive blocks (as :func:`make_token_clouds` produces) this gives 45/45
    instances for the thesis's 90, with every class on both sides.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarrays
    """
    tokens, labels = _check_labels(X, y)
    if len(tokens) < 2:
        raise ValueError("at least two instances are needed to split.")
    X = np.asarray(X)
    return X[0::2], X[1::2], labels[0::2], labels[1::2]


def stratified_indices(y, test_size, seed):
    """Seeded train and test indices that keep class proportions: the package's one stratified
    split (scikit-learn's ``train_test_split`` with ``stratify=y``).

    :func:`stratified_split` applies them to the data; the Transformer's and the OT classifier's
    validation split (:func:`otcompanion._training.stratified_split`) holds out the test indices.

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels (or class codes) to stratify by.
    test_size : float in (0, 1) or int
        Share or number of test instances.
    seed : int

    Returns
    -------
    train, test : ndarray of int
        Indices into ``y``, in scikit-learn's (shuffled) order.
    """
    return train_test_split(np.arange(len(y)), test_size=test_size, random_state=seed,
                            stratify=y)


def stratified_split(X, y, test_size=0.5, seed=0):
    """A random split that keeps class proportions (:func:`stratified_indices`).

    Parameters
    ----------
    X : array-like of shape (n, T, d) or (n, d)
    y : array-like of shape (n,)
    test_size : float in (0, 1) or int, default 0.5
    seed : int, default 0

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarrays
    """
    _check_labels(X, y)
    train, test = stratified_indices(y, test_size, seed)
    X, labels = np.asarray(X), np.asarray(y)
    return X[train], X[test], labels[train], labels[test]


class TokenStandardizer:
    """Per-feature standardization with statistics of training tokens only.

    ``fit`` computes the mean and standard deviation of every feature over all tokens of all
    training instances; ``transform`` applies ``(x - mean) / std`` to any token array with those
    statistics. A constant feature gets scale 1. The thesis code standardized test data with the
    test data's own statistics (Quadrio & Candelieri, 2025, the OT model's code); this class never
    does.

    Parameters
    ----------
    per_token : bool, default False
        ``False`` pools all tokens, which suits exchangeable tokens such as the thesis's
        Gaussian clouds. ``True`` keeps separate statistics for every (token position, feature)
        pair, which suits tokens built from the columns of a table (e.g. one token per
        measurement), where the same feature means different things in different tokens.

    Attributes
    ----------
    mean_ : ndarray of shape (d,), or (T, d) when ``per_token``
    scale_ : ndarray of the same shape as ``mean_``
    """

    def __init__(self, per_token=False):
        self.per_token = per_token

    def fit(self, X):
        tokens = check_tokens(X)
        if not self.per_token:
            tokens = tokens.reshape(-1, 1, tokens.shape[-1])
        self.mean_ = tokens.mean(axis=0)
        scale = tokens.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        if not self.per_token:
            self.mean_, self.scale_ = self.mean_[0], self.scale_[0]
        return self

    def _check_fitted(self, X):
        if not hasattr(self, "mean_"):
            raise RuntimeError("TokenStandardizer is not fitted yet: call fit(X_train) first.")
        tokens = np.asarray(X, dtype=float)
        check_tokens(tokens)
        expected = self.mean_.shape
        got = tokens.shape[-len(expected):] if self.per_token else tokens.shape[-1:]
        if self.per_token and tokens.ndim == 2:
            got = (1, tokens.shape[-1])
        if got != expected:
            what = "(tokens, features)" if self.per_token else "features"
            raise ValueError(f"X has {what} {got}, the standardizer was fitted on {expected}.")
        return tokens

    def transform(self, X):
        """Standardize ``X`` (any shape ending in the feature axis) with the fitted statistics."""
        return (self._check_fitted(X) - self.mean_) / self.scale_

    def inverse_transform(self, X):
        """Map standardized tokens back to the original units."""
        return self._check_fitted(X) * self.scale_ + self.mean_

    def fit_transform(self, X):
        return self.fit(X).transform(X)


def gaussian_w2(mean_a, cov_a, mean_b, cov_b):
    """Closed-form 2-Wasserstein distance between two Gaussians.

    .. math::
        W_2^2 = \\lVert m_a - m_b \\rVert^2
        + \\operatorname{Tr}\\big(\\Sigma_a + \\Sigma_b
        - 2 (\\Sigma_a^{1/2} \\Sigma_b \\Sigma_a^{1/2})^{1/2}\\big)

    (Peyré & Cuturi, *Computational Optimal Transport*, Remark 2.31), computed with POT's
    ``ot.gaussian.bures_wasserstein_distance``.
    """
    return float(ot.gaussian.bures_wasserstein_distance(
        np.asarray(mean_a, float), np.asarray(mean_b, float),
        np.asarray(cov_a, float), np.asarray(cov_b, float),
    ))


def mean_pairwise_w2(means, covariances):
    """Mean closed-form W2 over all pairs of class Gaussians: the thesis's difficulty axis."""
    means = np.asarray(means, float)
    covariances = np.asarray(covariances, float)
    pairs = list(itertools.combinations(range(len(means)), 2))
    if not pairs:
        raise ValueError("at least two classes are needed for a pairwise distance.")
    return float(np.mean([
        gaussian_w2(means[a], covariances[a], means[b], covariances[b]) for a, b in pairs
    ]))


def fitted_mean_pairwise_w2(X, y):
    """Mean pairwise W2 between Gaussians fitted to each class's tokens (sample mean and
    covariance): the empirical counterpart of :func:`mean_pairwise_w2`, in the units of ``X``."""
    tokens, labels = _check_labels(X, y)
    classes = np.unique(labels)
    clouds = [tokens[labels == c].reshape(-1, tokens.shape[-1]) for c in classes]
    if any(len(cloud) < 2 for cloud in clouds):
        raise ValueError("every class needs at least two tokens to fit a covariance.")
    means = np.stack([cloud.mean(axis=0) for cloud in clouds])
    covariances = np.stack([np.atleast_2d(np.cov(cloud, rowvar=False)) for cloud in clouds])
    return mean_pairwise_w2(means, covariances)


def separation_table(n_classes=THESIS_N_CLASSES, levels=THESIS_LEVELS):
    """Class separation of the thesis setups, one row per (task, level).

    Columns: ``n_classes``, ``level``, ``mean_w2`` (mean pairwise W2, "gauss_dist"), ``min_w2``
    and ``max_w2`` (closest and farthest pair of classes).
    """
    rows = []
    for k in n_classes:
        for level in levels:
            means, covs = thesis_setup(k, level)
            pairwise = [gaussian_w2(means[a], covs[a], means[b], covs[b])
                        for a, b in itertools.combinations(range(k), 2)]
            rows.append({"n_classes": k, "level": level, "mean_w2": float(np.mean(pairwise)),
                         "min_w2": min(pairwise), "max_w2": max(pairwise)})
    return pd.DataFrame(rows)


def tokens_to_frame(X, y=None, feature_names=None, class_names=None):
    """Flatten a token array into a tidy DataFrame: one row per token.

    Columns: ``instance``, ``token``, then ``label`` (the integer code) and ``class`` (its name
    from ``class_names``, else ``"class <code>"``) when ``y`` is given, and one column per
    feature (``x1``, ``x2``, … unless ``feature_names`` is given).
    """
    tokens = check_tokens(X)
    n, T, d = tokens.shape
    if feature_names is None:
        feature_names = [f"x{j + 1}" for j in range(d)]
    if len(feature_names) != d:
        raise ValueError(f"feature_names has {len(feature_names)} names for {d} features.")
    frame = pd.DataFrame(tokens.reshape(n * T, d), columns=list(feature_names))
    frame.insert(0, "token", np.tile(np.arange(T), n))
    frame.insert(0, "instance", np.repeat(np.arange(n), T))
    if y is not None:
        _, labels = _check_labels(tokens, y)
        frame.insert(2, "label", np.repeat(labels, T))
        if class_names is None:
            classes = [f"class {label}" for label in frame["label"]]
        else:
            classes = [str(class_names[code]) for code in frame["label"]]
        frame.insert(3, "class", classes)
    return frame


@dataclass
class TokenDataset:
    """A labelled token data set.

    Attributes
    ----------
    X : ndarray of shape (n, T, d) or (n, d)
    y : ndarray of shape (n,), int codes ``0 .. k-1``
    target_names : list of str
        Class name of each code.
    token_names : list of str
        One name per token (empty for a plain table).
    feature_names : list of str
        One name per feature of a token.
    """

    X: np.ndarray
    y: np.ndarray
    target_names: list
    token_names: list = field(default_factory=list)
    feature_names: list = field(default_factory=list)


BREAST_CANCER_LAYOUTS = ("table", "measurements", "statistics")


def load_breast_cancer_tokens(layout="measurements"):
    """scikit-learn's bundled Wisconsin diagnostic breast-cancer data (569 instances, 30 columns).

    The 30 columns are 10 measurements of cell nuclei (radius, texture, …), each summarized by
    three statistics over the nuclei of an image: mean, standard error and worst value.

    Parameters
    ----------
    layout : {"table", "measurements", "statistics"}, default "measurements"
        ``"table"``: a plain ``(569, 30)`` table (one token per instance). ``"measurements"``:
        ``(569, 10, 3)``, one token per measurement with features (mean, se, worst).
        ``"statistics"``: ``(569, 3, 10)``, one token per statistic with the 10 measurements as
        features.

    Returns
    -------
    TokenDataset
        ``y`` is 0 for malignant and 1 for benign (``target_names``).
    """
    if layout not in BREAST_CANCER_LAYOUTS:
        raise ValueError(f"layout must be one of {BREAST_CANCER_LAYOUTS}, got {layout!r}.")
    bunch = load_breast_cancer()
    names = list(bunch.feature_names)
    measurements = [name.removeprefix("mean ") for name in names[:10]]
    statistics = ["mean", "se", "worst"]
    # Columns come as 10 means, then 10 standard errors, then 10 worst values.
    grouped = bunch.data.reshape(len(bunch.data), 3, 10)
    if layout == "table":
        X, token_names, feature_names = bunch.data, [], names
    elif layout == "measurements":
        X, token_names, feature_names = grouped.transpose(0, 2, 1), measurements, statistics
    else:
        X, token_names, feature_names = grouped, statistics, measurements
    return TokenDataset(X=np.ascontiguousarray(X, dtype=float), y=bunch.target.astype(int),
                        target_names=[str(name) for name in bunch.target_names], token_names=token_names,
                        feature_names=feature_names)


def load_csv(path, target, features=None, n_tokens=None):
    """Load a user's own table (e.g. the Bangalore EEG data of the thesis) from a CSV file.

    Parameters
    ----------
    path : str or Path
        CSV file with a header row.
    target : str
        Name of the class-label column; labels may be numbers or strings.
    features : list of str, optional
        Feature columns, in order; by default every column except ``target``.
    n_tokens : int, optional
        Group the feature columns, in order, into this many tokens of equal size (the number of
        features must be a multiple of it). By default the data is a plain table.

    Returns
    -------
    TokenDataset
        ``y`` holds codes ``0 .. k-1`` of the sorted distinct labels (``target_names``).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        Missing target or feature column, a missing or non-numeric value (the message names the
        column and row), fewer than two classes, or features that cannot form ``n_tokens`` tokens.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no CSV file at {path}")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty: a header row and data rows are needed.") from None
    if target not in table.columns:
        raise ValueError(f"{path} has no target column {target!r}; its columns are "
                         f"{list(table.columns)}.")
    if features is None:
        features = [column for column in table.columns if column != target]
    else:
        features = list(features)
        missing = [column for column in features if column not in table.columns]
        if missing:
            raise ValueError(f"{path} has no feature column(s) {missing}; its columns are "
                             f"{list(table.columns)}.")
        if target in features:
            raise ValueError(f"the target column {target!r} cannot also be a feature.")
    if not features:
        raise ValueError(f"{path} has no feature columns besides the target {target!r}.")
    if table.empty:
        raise ValueError(f"{path} has a header but no data rows.")

    def row_text(row):  # data rows count from 1; the file's line also counts the header
        return f"row {row + 1} (line {row + 2} of the file)"

    labels = table[target].str.strip()
    blank = labels == ""
    if blank.any():
        raise ValueError(f"target column {target!r} has a missing value in "
                         f"{row_text(int(np.flatnonzero(blank)[0]))}.")
    values = np.empty((len(table), len(features)))
    for j, column in enumerate(features):
        text = table[column].str.strip()
        missing = text.isin(["", "NA", "NaN", "nan", "null", "None"])
        if missing.any():
            raise ValueError(f"column {column!r} has a missing value in "
                             f"{row_text(int(np.flatnonzero(missing)[0]))}.")
        numbers = pd.to_numeric(text, errors="coerce")
        bad = numbers.isna() | ~np.isfinite(numbers.to_numpy(dtype=float))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"column {column!r} has a non-numeric value {text.iloc[row]!r} in "
                             f"{row_text(row)}.")
        values[:, j] = numbers.to_numpy(dtype=float)
    classes, codes = np.unique(labels.to_numpy(), return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"target column {target!r} has a single class {classes[0]!r}; at least "
                         f"two classes are needed.")
    token_names = []
    if n_tokens is not None:
        n_tokens = check_int(n_tokens, "n_tokens", 1)
        if len(features) % n_tokens:
            raise ValueError(f"{len(features)} feature columns cannot form n_tokens={n_tokens} "
                             f"tokens of equal size.")
        size = len(features) // n_tokens
        values = values.reshape(len(values), n_tokens, size)
        token_names = [f"token {t + 1}" for t in range(n_tokens)]
        features = [f"feature {j + 1}" for j in range(size)]
    return TokenDataset(X=values, y=codes.astype(int), target_names=[str(c) for c in classes],
                        token_names=token_names, feature_names=features)
