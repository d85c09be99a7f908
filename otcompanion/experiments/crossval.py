"""Chapter 05's cross-validation: several classifiers on the same stratified repeated folds.

The biomedical case study compares the thesis Transformer with tabular baselines on the same
folds (scikit-learn's ``RepeatedStratifiedKFold``), each fold on one BLAS/OpenMP thread so that
fit times are comparable: :func:`cross_validate_models`.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold
from threadpoolctl import threadpool_limits

from otcompanion import engine
from otcompanion._validation import check_int
from otcompanion.engine import run_jobs


def _cross_validation_fold(estimator, X, y, train, test, classes):
    """Fit a clone of ``estimator`` on ``train``, score it on ``test``."""
    model = clone(estimator)
    # One thread per fold (OpenMP/BLAS), as torch models get: folds run in parallel processes,
    # and thread oversubscription would make the fit times meaningless.
    with threadpool_limits(limits=1):
        started = time.perf_counter()
        model.fit(X[train], y[train])
        fit_seconds = time.perf_counter() - started
        probabilities = model.predict_proba(X[test])
    predicted = np.asarray(model.classes_)[probabilities.argmax(axis=1)]
    if len(classes) == 2:
        positive = list(model.classes_).index(classes[1])
        auc = roc_auc_score(y[test] == classes[1], probabilities[:, positive])
    else:
        order = [list(model.classes_).index(c) for c in classes]
        auc = roc_auc_score(y[test], probabilities[:, order], multi_class="ovr", labels=classes)
    return {"accuracy": accuracy_score(y[test], predicted),
            "balanced_accuracy": balanced_accuracy_score(y[test], predicted),
            "roc_auc": float(auc), "fit_seconds": fit_seconds}


def cross_validate_models(models, inputs, y, *, n_splits=5, n_repeats=2, seed=0,
                          scheduler="local", progress=True):
    """Stratified repeated cross-validation of several classifiers on the same folds.

    Every model is fitted on the same training folds (scikit-learn's
    ``RepeatedStratifiedKFold`` seeded by ``seed``), on one BLAS/OpenMP thread (torch models
    set their own thread count, by default one), and scored on the held-out fold by accuracy,
    balanced accuracy and ROC AUC (one-vs-rest, macro-averaged, for more than two classes).
    Models may read different representations of the same instances (a table for the
    baselines, token arrays for the Transformer), given in ``inputs``.

    Parameters
    ----------
    models : dict
        Name -> ``(estimator, input_name)``: an unfitted scikit-learn classifier with
        ``predict_proba`` (cloned for every fold) and the key of its data in ``inputs``.
    inputs : dict
        Input name -> array with one row (instance) per label.
    y : array-like of shape (n,)
    n_splits, n_repeats : int
        Folds per repetition (>= 2) and repetitions (>= 1).
    seed : int
    scheduler : "local", int or str, default "local"
        Where the (model, fold) pairs run (:func:`otcompanion.engine.run_jobs`).
    progress : bool

    Returns
    -------
    pandas.DataFrame
        One row per model and fold: ``model``, ``repeat``, ``fold``, ``accuracy``,
        ``balanced_accuracy``, ``roc_auc``, ``fit_seconds``.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}.")
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"y has a single class {classes[0].item()!r}; at least two are "
                         "needed.")
    n_splits = check_int(n_splits, "n_splits", 2)
    engine.check_scheduler(scheduler)
    n_repeats = check_int(n_repeats, "n_repeats", 1)
    if counts.min() < n_splits:
        smallest = classes[counts.argmin()].item()
        raise ValueError(f"class {smallest!r} has {counts.min()} instances, fewer than "
                         f"n_splits={n_splits}: every fold needs every class.")
    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict: name -> (estimator, input_name).")
    for name, spec in models.items():
        if not (isinstance(spec, tuple) and len(spec) == 2):
            raise ValueError(f"models[{name!r}] must be a pair (estimator, input_name).")
        if spec[1] not in inputs:
            raise ValueError(f"model {name!r} reads input {spec[1]!r}, which is not in inputs "
                             f"{sorted(inputs)}.")
    arrays = {key: np.asarray(value) for key, value in inputs.items()}
    for key, array in arrays.items():
        if len(array) != len(y):
            raise ValueError(f"input {key!r} has {len(array)} rows, y has {len(y)} labels.")
    splitter = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats,
                                       random_state=check_int(seed, "seed", 0))
    splits = list(splitter.split(np.zeros(len(y)), y))
    jobs, keys = [], []
    for name, (estimator, input_name) in models.items():
        for index, (train, test) in enumerate(splits):
            jobs.append(dict(estimator=estimator, X=arrays[input_name], y=y, train=train,
                             test=test, classes=classes))
            keys.append({"model": name, "repeat": index // n_splits, "fold": index % n_splits})
    results = run_jobs(_cross_validation_fold, jobs, scheduler=scheduler, progress=progress,
                       description="cross-validation folds")
    return pd.DataFrame([{**key, **result} for key, result in zip(keys, results)])
