"""Chapter 04's runs: the dummy-Gaussian OT classifier next to the thesis Transformer.

The thesis claims the OT classifier is comparable in accuracy to the Transformer, cheaper to
fit and scales more efficiently under standardized inputs (Quadrio & Candelieri, 2025, claim
4; :mod:`otcompanion.otclassifier`). This module runs both on the data of the thesis grid:

- :func:`classifier_comparison_run`: both models at the thesis's budgets (the Transformer read
  from the run cache, :func:`otcompanion.experiments.grid.traced_run`);
- :func:`stopping_rule_run`: both models under the same early-stopping rule, on the same
  held-out instances (:func:`validation_split`);
- :func:`ot_classifier_run`: the OT classifier alone on a run's data;
- :func:`scaling_run` and :func:`scaling_exponents`: the OT classifier's fit time against the
  training size;
- :func:`epochs_to_target`: the first epoch at a target validation accuracy (NaN if none);
- :data:`OT` and :data:`TRANSFORMER`, the two values of the runs' ``model`` column, and the
  chapter's summaries of the runs: :func:`ot_minus_transformer` (paired differences),
  :func:`model_difference_table` (those differences as text, with the speed-up) and
  :func:`traced_epoch_ratio` (the cost of tracing an epoch).

The verdicts on the claims are worded by :func:`otcompanion.claims.interval_outcome` and
:func:`otcompanion.claims.combined_verdict`.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd

from otcompanion import claims, stats
from otcompanion._training import stratified_split
from otcompanion._validation import check_choice, check_int, check_real
from otcompanion.attention import train_transformer
from otcompanion.data import thesis_split
from otcompanion.experiments.grid import run_seed, traced_run
from otcompanion.otclassifier import SOLVERS, DummyGaussianOTClassifier, _auto_batch_size
from otcompanion.pretrain import epochs_to_accuracy

#: The two models of the comparison, as the values of the ``model`` column of
#: :func:`classifier_comparison_run` and :func:`stopping_rule_run`.
OT, TRANSFORMER = "OT classifier", "Transformer"

#: Share of the training instances that both models of the OT-classifier comparison hold out
#: for early stopping (the Transformer's default, :func:`otcompanion.attention.train_transformer`).
VALIDATION_FRACTION = 0.2


def validation_split(y_train, seed, fraction=VALIDATION_FRACTION):
    """The held-out training instances of :func:`~otcompanion.attention.train_transformer`.

    The Transformer's split of ``validation=fraction`` with seed ``seed``
    (:func:`otcompanion._training.stratified_split` on the sorted labels' codes), so that another
    model can stop on exactly the same instances.

    Returns
    -------
    ndarray of int
        Indices into ``y_train``.
    """
    classes, codes = np.unique(np.asarray(y_train), return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"y_train has a single class {classes.tolist()}; two are needed.")
    return stratified_split(codes, fraction, check_int(seed, "seed", 0))[1]


def epochs_to_target(history, target, column="val_instance_accuracy"):
    """First epoch whose ``column`` reaches ``target`` (NaN if none does).

    :func:`otcompanion.pretrain.epochs_to_accuracy` with a tolerance of ``1e-12`` (an accuracy
    a rounding error below the target reaches it) and NaN instead of ``None`` for "never", so
    that the result can sit in a numeric table column.

    Parameters
    ----------
    history : pandas.DataFrame
        One row per epoch with ``epoch`` and ``column``.
    target : float in [0, 1]
    column : str, default "val_instance_accuracy"

    Returns
    -------
    float
    """
    reached = epochs_to_accuracy(history, target, column, tolerance=1e-12)
    return np.nan if reached is None else float(reached)


_WARMED_UP = set()


def _warm_up(*what):
    """Fit tiny models once per process before anything is timed.

    The first fit in a fresh worker process pays one-off costs (lazy imports, torch's first
    operations, the OT solvers' first calls: about a second), which would land on whichever
    run the process happens to start with. ``what``: solver names of the OT classifier and/or
    ``"transformer"``.
    """
    pending = [name for name in what if name not in _WARMED_UP]
    if not pending:
        return
    X, _, y, _ = thesis_split(2, 4, n_instances=40, n_tokens=5, seed=0)
    for name in pending:
        if name == "transformer":
            train_transformer(X, y, epochs=2, n_heads=2, seed=0, trace=False)
        else:
            DummyGaussianOTClassifier(solver=name, max_epochs=2, random_state=0).fit(X, y)
        _WARMED_UP.add(name)


def _ot_row(model, seconds, X_test, y_test, target):
    """Test metrics, fit time and time to ``target`` of a fitted OT classifier."""
    token_scores = model.predict_token_proba(X_test)
    predicted = model.predict(X_test)
    y_test = np.asarray(y_test)
    reached = epochs_to_target(model.history_, target)
    timings = model.fit_timings_
    # Every MLP epoch costs about the same (same minibatches): the time to reach an epoch is
    # the alignment plus that share of the training time.
    to_target = (timings["alignment"] + timings["training"] * reached / model.n_iter_
                 if np.isfinite(reached) else np.nan)
    return {"instance_accuracy": float(np.mean(predicted == y_test)),
            "token_accuracy": float(np.mean(model.classes_[token_scores.argmax(axis=-1)]
                                            == y_test[:, None])),
            **{f"recall_{label}": float(np.mean(predicted[y_test == label] == label))
               for label in model.classes_},
            "fit_seconds": seconds, "epochs_run": int(model.n_iter_),
            "best_epoch": int(model.best_epoch_), "epochs_to_target": reached,
            "seconds_to_target": to_target,
            **_cpu_times(model.step_seconds_, reached, model.fit_timings_["alignment_cpu"])}


def _cpu_times(step_seconds, reached, before=0.0):
    """``cpu_seconds`` and ``cpu_seconds_to_target``: the CPU time of the fitting thread in
    gradient steps (``step_seconds``, cumulative per epoch) over the whole fit and up to the
    end of epoch ``reached`` (NaN when never reached), plus ``before`` (the OT alignment's)."""
    return {"cpu_seconds": before + float(step_seconds[-1]),
            "cpu_seconds_to_target": (before + float(step_seconds[int(reached) - 1])
                                      if np.isfinite(reached) else np.nan)}


def _transformer_row(test_metrics, history, best_epoch, seconds, target, step_seconds):
    """The same columns for a Transformer fit (its history, test metrics and cumulative CPU
    seconds of gradient steps per epoch)."""
    reached = epochs_to_target(history, target)
    # Full-batch epochs cost about the same: the time to an epoch is that share of the fit.
    return {"instance_accuracy": test_metrics["instance_accuracy"],
            "token_accuracy": test_metrics["token_accuracy"],
            **{name: value for name, value in test_metrics.items()
               if name.startswith("recall_")},
            "fit_seconds": seconds, "epochs_run": int(len(history)),
            "best_epoch": int(best_epoch), "epochs_to_target": reached,
            "seconds_to_target": seconds * reached / len(history)
            if np.isfinite(reached) else np.nan, **_cpu_times(step_seconds, reached)}


def _check_target(target_accuracy):
    return check_real(target_accuracy, "target_accuracy", 0.0, 1.0, low_open=True)


def classifier_comparison_run(n_classes, level, repetition, *, seed=0, epochs=200, n_blocks=2,
                              n_heads=10, n_instances=90, n_tokens=20, ot_epochs=50,
                              target_accuracy=1.0, ot_options=None):
    """The OT classifier next to the thesis Transformer at the thesis's training budgets.

    The Transformer is chapter 02's traced run (:func:`traced_run`, read from the run cache:
    a traced fit trains exactly like an untraced one): ``epochs`` full-batch epochs, the
    weights of the best validation loss restored (the thesis's patience = epochs). The OT
    classifier is fitted on the same data with the run's seed and the thesis's budget,
    ``ot_epochs`` MLP epochs with patience ``ot_epochs`` (the best epoch restored), holding
    out the *same* training instances as the Transformer (:func:`validation_split`). Both
    histories give the epoch at which the held-out instances are first classified with
    accuracy ``target_accuracy`` and the time to it.

    Parameters
    ----------
    n_classes, level, repetition, seed, epochs, n_blocks, n_heads, n_instances, n_tokens
        As for :func:`traced_run`.
    ot_epochs : int, default 50
        The OT classifier's MLP epochs (the thesis: 50).
    target_accuracy : float in (0, 1], default 1.0
        Validation instance accuracy whose first epoch is the time to target.
    ot_options : dict, optional
        Further parameters of :class:`~otcompanion.otclassifier.DummyGaussianOTClassifier`.

    Returns
    -------
    list of dict
        Two rows, ``model`` "Transformer" and "OT classifier", with the run coordinates,
        ``protocol`` ("thesis budget"), test ``instance_accuracy``, ``token_accuracy`` and
        ``recall_<class>``, ``fit_seconds`` (wall clock, one thread; the Transformer's includes
        recording its trace), ``epochs_run``, ``best_epoch``, ``epochs_to_target`` and
        ``seconds_to_target`` (NaN when the target is never reached; the fit time up to that
        epoch, every epoch taken to cost the same).
    """
    ot_epochs = check_int(ot_epochs, "ot_epochs", 1)
    target = _check_target(target_accuracy)
    record = traced_run(n_classes, level, repetition, seed=seed, epochs=epochs,
                        n_blocks=n_blocks, n_heads=n_heads, n_instances=n_instances,
                        n_tokens=n_tokens)
    summary = record["summary"]
    run = summary["seed"]
    X_train, X_test, y_train, y_test = thesis_split(n_classes, level, n_instances=n_instances,
                                                    n_tokens=n_tokens, seed=run)
    keys = {"n_classes": n_classes, "level": level, "repetition": repetition, "seed": run,
            "n_instances": n_instances, "n_tokens": n_tokens, "protocol": "thesis budget"}
    test_metrics = {"instance_accuracy": summary["instance_accuracy"],
                    "token_accuracy": summary["token_accuracy"],
                    **{name: value for name, value in summary.items()
                       if name.startswith("recall_")}}
    rows = [{**keys, "model": TRANSFORMER,
             **_transformer_row(test_metrics, record["history"], summary["best_epoch"],
                                summary["fit_seconds"], target, record["step_seconds"])}]
    options = {"random_state": run, "max_epochs": ot_epochs, "n_iter_no_change": ot_epochs,
               **(ot_options or {})}
    model = DummyGaussianOTClassifier(**options)
    _warm_up(model.solver)
    started = time.perf_counter()
    model.fit(X_train, y_train, validation_indices=validation_split(y_train, run))
    seconds = time.perf_counter() - started
    rows.append({**keys, "model": OT,
                 **_ot_row(model, seconds, X_test, y_test, target)})
    return rows


def stopping_rule_run(n_classes, level, repetition, *, seed=0, patience=10, epochs=200,
                      n_blocks=2, n_heads=10, n_instances=90, n_tokens=20, n_features=2,
                      target_accuracy=1.0, ot_options=None):
    """The OT classifier and the thesis Transformer under the same early-stopping rule.

    Both models hold out the same training instances (the Transformer's split,
    :func:`validation_split`), stop once ``patience`` *gradient steps* have passed without a
    lower validation loss (keras ``EarlyStopping`` with ``min_delta = 0``; the OT classifier's
    ``tol = 0``), at the latest after ``epochs`` epochs, and keep the weights of their best
    epoch. Patience counts gradient steps because an epoch is one full-batch step for the
    Transformer and :math:`s = \\lceil n_\\text{fit} / b \\rceil` minibatch steps for the OT
    classifier's MLP (``n_fit`` training tokens, batch size ``b``): the Transformer's patience
    is ``patience`` epochs, the MLP's :math:`\\lceil \\text{patience} / s \\rceil` epochs.

    Both fits run here, in one process, in an order that alternates with the repetition (the
    Transformer first in even repetitions), and both are timed by the CPU time of the fitting
    thread in gradient steps (plus, for the OT classifier, its OT alignment): ``cpu_seconds``,
    and ``cpu_seconds_to_target`` read at the end of the first epoch that reaches the target.
    Data and seeds are those of :func:`traced_run` for the same coordinates and sizes;
    ``n_instances`` (half for training), ``n_tokens`` and ``n_features`` make the task harder.

    Parameters
    ----------
    n_classes, level, repetition, seed, n_blocks, n_heads, n_instances, n_tokens, n_features
        As for :func:`traced_run`.
    patience : int, default 10
        Early-stopping patience of both models, in gradient steps (10: the Transformer's 10
        epochs; the MLP's 2 epochs of 6 steps at the thesis's size).
    epochs : int, default 200
        Most epochs of either model (the Transformer's are full-batch steps, the OT
        classifier's passes of minibatches over the training tokens).
    target_accuracy : float in (0, 1], default 1.0
    ot_options : dict, optional
        Further parameters of :class:`~otcompanion.otclassifier.DummyGaussianOTClassifier`.

    Returns
    -------
    list of dict
        Two rows with the columns of :func:`classifier_comparison_run`, ``protocol`` "same
        stopping rule", ``n_features``, ``patience_epochs`` (each model's patience in its own
        epochs) and ``steps_per_epoch``; both fit times are measured here (the Transformer
        untraced).
    """
    options = dict(n_classes=check_choice(n_classes, "n_classes", (2, 3)),
                   level=check_int(level, "level", 1),
                   repetition=check_int(repetition, "repetition", 0))
    patience = check_int(patience, "patience", 1)
    epochs = check_int(epochs, "epochs", 1)
    target = _check_target(target_accuracy)
    run = run_seed(seed, n_classes, level, repetition)
    X_train, X_test, y_train, y_test = thesis_split(
        n_classes, level, n_instances=check_int(n_instances, "n_instances", 1),
        n_tokens=check_int(n_tokens, "n_tokens", 1), seed=run,
        n_features=check_int(n_features, "n_features", 2))
    keys = {**options, "seed": run, "n_instances": n_instances, "n_tokens": n_tokens,
            "n_features": n_features, "protocol": "same stopping rule"}
    held_out = validation_split(y_train, run)
    n_fit = (len(X_train) - len(held_out)) * n_tokens
    ot_options = {"random_state": run, "max_epochs": epochs, "tol": 0.0, **(ot_options or {})}
    steps = math.ceil(n_fit / (ot_options.get("batch_size") or _auto_batch_size(n_fit)))
    ot_options.setdefault("n_iter_no_change", math.ceil(patience / steps))
    _warm_up("transformer", ot_options.get("solver", "exact"))

    def transformer():
        fit = train_transformer(X_train, y_train, X_test, y_test, epochs=epochs,
                                n_blocks=n_blocks, n_heads=n_heads, seed=run, patience=patience,
                                validation=VALIDATION_FRACTION, trace=False)
        if not np.array_equal(np.sort(fit.validation_indices), np.sort(held_out)):
            raise RuntimeError("the Transformer held out other instances than "
                               "validation_split: the two models would not stop on the same.")
        return {**keys, "model": TRANSFORMER, "patience_epochs": patience,
                "steps_per_epoch": 1,
                **_transformer_row(fit.test_metrics, fit.history, fit.best_epoch,
                                   fit.fit_seconds, target, fit.step_seconds)}

    def ot_classifier():
        model = DummyGaussianOTClassifier(**ot_options)
        started = time.perf_counter()
        model.fit(X_train, y_train, validation_indices=held_out)
        seconds = time.perf_counter() - started
        return {**keys, "model": OT, "patience_epochs": ot_options["n_iter_no_change"],
                "steps_per_epoch": steps, **_ot_row(model, seconds, X_test, y_test, target)}

    if repetition % 2:
        second, first = ot_classifier(), transformer()
    else:
        first, second = transformer(), ot_classifier()
    return [first, second]


def ot_classifier_run(n_classes, level, repetition, *, seed=0, n_instances=90, n_tokens=20,
                      ot_options=None):
    """The OT classifier alone on the data of one run (e.g. for sensitivity studies).

    Data and seed are those of :func:`traced_run` with the same coordinates and sizes.

    Parameters
    ----------
    n_classes, level, repetition, seed, n_instances, n_tokens
        As for :func:`traced_run`.
    ot_options : dict, optional
        Parameters of :class:`~otcompanion.otclassifier.DummyGaussianOTClassifier` (its
        defaults otherwise; ``random_state`` is the run's seed).

    Returns
    -------
    dict
        The run coordinates, ``train_accuracy`` and ``instance_accuracy`` (test) and
        ``fit_seconds``.
    """
    run = run_seed(seed, check_choice(n_classes, "n_classes", (2, 3)), check_int(level, "level", 1),
                   check_int(repetition, "repetition", 0))
    X_train, X_test, y_train, y_test = thesis_split(
        n_classes, level, n_instances=check_int(n_instances, "n_instances", 1),
        n_tokens=check_int(n_tokens, "n_tokens", 1), seed=run)
    model = DummyGaussianOTClassifier(**{"random_state": run, **(ot_options or {})})
    _warm_up(model.solver)
    started = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - started
    return {"n_classes": n_classes, "level": level, "repetition": repetition, "seed": run,
            "train_accuracy": float(model.score(X_train, y_train)),
            "instance_accuracy": float(model.score(X_test, y_test)), "fit_seconds": seconds}


def scaling_run(solver, standardize, n_train_tokens, repetition, *, seed=0, n_classes=3,
                level=4, n_tokens=20, ot_options=None):
    """One fit of the OT classifier for the scaling study: fit time and accuracy by size.

    Fresh thesis data (:func:`otcompanion.data.thesis_split`) with ``n_train_tokens`` training
    tokens (instances of ``n_tokens`` tokens, half of the instances for training, the other
    half for testing), seeded by :func:`run_seed` ``(seed, n_classes, level, n_train_tokens,
    repetition)``: every solver, with and without standardization, sees the same data in a
    repetition, so their times pair.

    Parameters
    ----------
    solver : {"exact", "sinkhorn", "minibatch", "gaussian"}
    standardize : bool
        Step 1 of the classifier, or the raw features.
    n_train_tokens : int
        A multiple of ``n_classes * n_tokens``.
    repetition : int
    seed, n_classes, level, n_tokens
        The data, as for :func:`traced_run`.
    ot_options : dict, optional
        Further parameters of the classifier (the book's defaults otherwise: 50 epochs, early
        stopping with patience 5 on a tenth of the training instances).

    Returns
    -------
    dict
        ``solver``, ``inputs`` ("standardized" or "raw"), ``train_tokens``, ``repetition``,
        ``seed``, ``fit_seconds`` and its parts ``alignment_seconds`` and
        ``training_seconds`` (wall clock), ``cpu_seconds`` (CPU time of the fitting thread in
        the OT alignment and the MLP's gradient steps) and its part ``alignment_cpu_seconds``,
        ``epochs_run``, ``train_accuracy`` and ``test_accuracy``
        (instances).
    """
    solver = check_choice(solver, "solver", SOLVERS)
    if not isinstance(standardize, (bool, np.bool_)):
        raise TypeError(f"standardize must be True or False, got {standardize!r}.")
    n_classes = check_choice(n_classes, "n_classes", (2, 3))
    n_tokens = check_int(n_tokens, "n_tokens", 1)
    n_train_tokens = check_int(n_train_tokens, "n_train_tokens", 1)
    if n_train_tokens % (n_classes * n_tokens):
        raise ValueError(f"n_train_tokens={n_train_tokens} must be a multiple of n_classes * "
                         f"n_tokens = {n_classes * n_tokens} (whole instances, balanced "
                         f"classes).")
    run = run_seed(seed, n_classes, check_int(level, "level", 1), n_train_tokens,
                   check_int(repetition, "repetition", 0))
    X_train, X_test, y_train, y_test = thesis_split(
        n_classes, level, n_instances=2 * n_train_tokens // n_tokens, n_tokens=n_tokens,
        seed=run)
    model = DummyGaussianOTClassifier(**{"solver": solver, "standardize": bool(standardize),
                                         "random_state": run, **(ot_options or {})})
    _warm_up(solver)
    started = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - started
    return {"solver": solver, "inputs": "standardized" if standardize else "raw",
            "train_tokens": n_train_tokens, "repetition": repetition, "seed": run,
            "fit_seconds": seconds, "alignment_seconds": model.fit_timings_["alignment"],
            "training_seconds": model.fit_timings_["training"],
            "cpu_seconds": model.fit_timings_["alignment_cpu"] + float(model.step_seconds_[-1]),
            "alignment_cpu_seconds": model.fit_timings_["alignment_cpu"],
            "epochs_run": model.n_iter_,
            "train_accuracy": float(model.score(X_train, y_train)),
            "test_accuracy": float(model.score(X_test, y_test))}


def scaling_exponents(frame, x="train_tokens", y="fit_seconds",
                      by=("solver", "inputs", "repetition")):
    """Least-squares slope of ``log y`` against ``log x`` in every group: the empirical
    exponent ``b`` of ``y ~ a x^b``.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per fit (e.g. :func:`scaling_run`).
    x, y : str
        Size and cost columns (positive).
    by : sequence of str
        One exponent per group (e.g. per solver, inputs and repetition, so that the
        repetitions give an interval of the exponent).

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``exponent`` and ``sizes`` (distinct sizes in the group; a group
        with fewer than two has exponent NaN).
    """
    by = list(by)
    stats.check_columns(frame, [x, y, *by])
    if (frame[[x, y]] <= 0).any().any():
        raise ValueError(f"{x} and {y} must be positive for a log-log fit.")
    rows = []
    for keys, group in frame.groupby(by, sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        sizes = group[x].nunique()
        slope = (np.polyfit(np.log(group[x].to_numpy(float)), np.log(group[y].to_numpy(float)),
                            1)[0] if sizes >= 2 else np.nan)
        rows.append({**dict(zip(by, keys)), "exponent": float(slope), "sizes": sizes})
    return pd.DataFrame(rows)


def ot_minus_transformer(frame, by, columns, seed=0):
    """:func:`otcompanion.stats.paired_differences` of ``columns``, OT classifier minus
    Transformer, paired on the repetition (same data, same seeds) within each group of ``by``.
    """
    return stats.paired_differences(frame, by, ["repetition"], "model", OT, TRANSFORMER,
                                    columns, seed=seed)


def model_difference_table(differences, speed, by):
    """Chapter 04's paired table: OT minus Transformer as text, with the two means and the
    speed-up per group.

    Parameters
    ----------
    differences : pandas.DataFrame
        :func:`ot_minus_transformer` of one quantity.
    speed : pandas.DataFrame
        :func:`otcompanion.stats.speed_up` of the same groups, Transformer over OT classifier.
    by : list of str
        The groups.

    Returns
    -------
    pandas.DataFrame
        :func:`otcompanion.stats.difference_table` (column ``"OT − Transformer [95 % CI]"``,
        ``"OT mean"`` and ``"Transformer mean"``) without ``quantity``, with the column
        ``"speed-up [95 % CI]"`` (:func:`otcompanion.stats.with_speed_up`).
    """
    table = stats.difference_table(differences, label="OT − Transformer [95 % CI]",
                                   names=("OT", "Transformer"))
    return stats.with_speed_up(table.drop(columns="quantity"), speed, by)


def traced_epoch_ratio(traced, untraced, on=("n_classes", "repetition"), seed=0):
    """Time per epoch of traced fits divided by that of untraced fits of the same runs.

    ``traced`` and ``untraced`` hold one row per fit with ``fit_seconds`` and ``epochs_run``,
    paired on the columns ``on``. The ratio is the geometric mean over the pairs, with the
    95 % confidence interval of the mean log ratio, exponentiated (as in
    :func:`otcompanion.stats.speed_up`).

    Returns
    -------
    tuple (ratio, low, high, pairs) or None
        None when no run was fitted both ways.
    """
    per_epoch = traced.merge(untraced, on=list(on), suffixes=("_traced", ""))
    if not len(per_epoch):
        return None
    ratio = np.log((per_epoch["fit_seconds_traced"] / per_epoch["epochs_run_traced"])
                   / (per_epoch["fit_seconds"] / per_epoch["epochs_run"]))
    mean, low, high, n = stats.bootstrap_interval(ratio, seed=seed)
    return np.exp(mean), np.exp(low), np.exp(high), n


def geometry_differences(sensitivity, seed=0):
    """Each dummy-geometry setting of chapter 04 against the thesis's (the ``order`` 0 rows),
    paired on the repetition: the family of comparisons of the instance accuracy, each at its
    Holm level (:func:`otcompanion.stats.holm_paired_differences`), one row per setting
    (column ``setting``)."""
    stats.check_columns(sensitivity, ["order", "setting", "repetition", "instance_accuracy"])
    thesis = sensitivity.loc[sensitivity["order"] == 0, "setting"].iloc[0]
    others = [name for name in sensitivity["setting"].unique() if name != thesis]
    return stats.holm_paired_differences(sensitivity, ["repetition"], "setting", thesis, others,
                                         "instance_accuracy", seed=seed).assign(
        setting=lambda table: table["compared"])


def scaling_differences(exponents, seed=0):
    """Standardized minus raw inputs, per solver, of the fitted scaling exponents (rows of
    :func:`scaling_exponents`), paired on the repetition."""
    return stats.paired_differences(exponents, ["solver"], ["repetition"], "inputs",
                                    "standardized", "raw", ["exponent", "exponent_alignment"],
                                    seed=seed)


def comparison_verdicts(budget, rule, exponents, sensitivity, margin, seed=0):
    """Chapter 04's verdicts on thesis claim 4, computed from its runs, in the order of its
    findings: accuracy at the thesis budgets and under the same stopping rule; cost (CPU time
    of the fits, ``cpu_seconds``) at the budgets, to the target (``cpu_seconds_to_target``)
    and under the same rule; scaling; geometry. This is the rule the chapter applies, in one
    place, so that it can be recomputed on half of the repetitions
    (:func:`otcompanion.stats.split_half_verdicts`)."""
    at_budgets, by_variant = ["setup", "level"], ["setup", "variant"]
    words = [claims.combined_verdict(claims.accuracy_outcomes(
        ot_minus_transformer(frame, by, ["instance_accuracy"], seed=seed), margin))
        for frame, by in ((budget, at_budgets), (rule, by_variant))]
    words += [claims.combined_verdict(claims.cost_outcomes(ot_minus_transformer(frame, by, [column],
                                                                         seed=seed)))
              for frame, by, column in ((budget, at_budgets, "cpu_seconds"),
                                        (budget, at_budgets, "cpu_seconds_to_target"),
                                        (rule, by_variant, "cpu_seconds"))]
    scaling = scaling_differences(exponents, seed)
    words.append(claims.combined_verdict(claims.interval_outcomes(
        scaling[scaling["quantity"] == "exponent"], claims.SCALING_THRESHOLD, "below")))
    words.append(claims.geometry_verdict(claims.interval_outcomes(
        geometry_differences(sensitivity, seed), claims.GEOMETRY_THRESHOLD, "below")))
    return words
