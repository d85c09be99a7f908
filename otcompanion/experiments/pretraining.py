"""Chapter 03's runs: the thesis Transformer with a pretrained, frozen head.

The thesis pretrains the classification head on synthetic Gaussian clouds, freezes it and
trains the attention blocks in front of it (Quadrio & Candelieri, 2025, "MLP pretraining";
:mod:`otcompanion.pretrain`). This module runs that protocol over the thesis grid:

- :func:`head_seed`, :func:`pretrained_head`: one head shared by every run of a task (the
  thesis's protocol) or one per repetition, each pretrained once per build (the run cache of
  :mod:`otcompanion.engine`);
- :func:`pretraining_run`, :func:`pretraining_grid`: the pretrained runs, paired with the
  unpretrained ones of :func:`otcompanion.experiments.grid.traced_run` (same data, same
  initial blocks) and measured under one epoch budget and early-stopping rule;
- :func:`budget_summaries`: the same runs under a smaller budget, from their histories;
- :func:`pretraining_differences`: paired differences against the unpretrained runs, with
  95 % intervals (:func:`otcompanion.stats.paired_differences`);
- :func:`budget_verdicts`: the verdict of :func:`otcompanion.claims.pretraining_verdict`
  recomputed at shorter budgets from the same runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from otcompanion import claims, engine, stats
from otcompanion._validation import (
    check_choice,
    check_int,
    check_int_sequence,
    check_real,
    check_sequence,
)
from otcompanion.attention import train_transformer
from otcompanion.data import thesis_split
from otcompanion.engine import run_jobs
from otcompanion.experiments.grid import run_seed, traced_run
from otcompanion.geometry import dummy_means
from otcompanion.pretrain import (
    CLOUD_KEYS,
    HEAD_KEYS,
    convergence_summary,
    pretrain_head,
    pretrained_transformer,
    pretraining_clouds,
)

#: How a pretraining condition of :func:`pretraining_grid` gets its head: ``"shared"``, one head
#: per task reused by every level and repetition (the thesis's protocol: it pretrained one head,
#: saved it and loaded it into every run), or ``"per repetition"``, a head of its own for every
#: repetition (seeded by the task and the repetition, reused across levels).
HEAD_SHARING = ("shared", "per repetition")

#: Extra seed coordinates that keep the seeds of pretrained heads apart from run seeds (and a
#: task's shared head apart from its repetitions' heads).
_SHARED_HEAD_TAG, _OWN_HEAD_TAG = 1000, 1001


def head_seed(seed, n_classes, repetition=None):
    """Seed of a pretrained head (clouds, initialization, validation split).

    ``run_seed(seed, 1000, n_classes)`` for the head a task shares (``repetition=None``),
    ``run_seed(seed, 1001, n_classes, repetition)`` for a repetition's own head; the tags keep
    these seeds apart from each other and from the run seeds :func:`run_seed` ``(seed,
    n_classes, level, repetition)``.
    """
    if repetition is None:
        return run_seed(seed, _SHARED_HEAD_TAG, n_classes)
    return run_seed(seed, _OWN_HEAD_TAG, n_classes, repetition)


def _resolve_pretraining(pretraining, seed):
    """Copy of a pretraining setting with ``rotation="random"`` replaced by an angle in
    ``[0, 2 pi)`` drawn from ``seed``."""
    settings = dict(pretraining or {})
    if isinstance(settings.get("rotation"), str):
        if settings["rotation"] != "random":
            raise ValueError(f"rotation must be an angle in radians or 'random', got "
                             f"{settings['rotation']!r}.")
        settings["rotation"] = float(np.random.default_rng(seed).uniform(0.0, 2.0 * np.pi))
    return settings


def pretrained_head(n_classes, *, pretraining=None, head_seed=0, n_instances=46, n_tokens=20,
                    n_features=2, head_units=(8,), head_dropout=0.4):
    """A head pretrained on synthetic clouds (thesis protocol), computed once per build.

    :func:`otcompanion.pretrain.pretraining_clouds` of ``n_instances`` instances of
    ``n_tokens`` tokens, then :func:`otcompanion.pretrain.pretrain_head` on them (Adam,
    ``lr = 1e-2``, patience 5), both seeded with ``head_seed``; read from the run cache
    (:func:`otcompanion.engine.cached`) when it was computed before.

    Parameters
    ----------
    n_classes : int
    pretraining : dict, optional
        Cloud and head settings (the keys :data:`otcompanion.pretrain.CLOUD_KEYS` but ``seed``,
        n_instances and n_tokens, and :data:`otcompanion.pretrain.HEAD_KEYS`); ``"rotation":
        "random"`` rotates the circle by an angle drawn uniformly from ``[0, 2 pi)`` with
        ``head_seed``, a layout that carries no information about the data's classes.
        Default: the thesis circle, covariance ``I``.
    head_seed : int, default 0
    n_instances, n_tokens, n_features : int
        Shape of the clouds (the training data's).
    head_units, head_dropout
        The head's architecture (the Transformer's).

    Returns
    -------
    otcompanion.pretrain.HeadPretraining
        ``params["clouds"]`` holds the means and the rotation used.
    """
    settings = pretraining or {}
    if not isinstance(settings, dict):
        raise TypeError(f"pretraining must be a dict of settings or None, got "
                        f"{type(pretraining).__name__}.")
    allowed = set(CLOUD_KEYS + HEAD_KEYS) - {"seed", "n_instances", "n_tokens"}
    unknown = sorted(set(settings) - allowed)
    if unknown:
        raise ValueError(f"unknown pretraining setting(s) {unknown}; allowed: {sorted(allowed)}.")
    settings = {key: (np.asarray(value, dtype=float).tolist()
                      if key in ("means", "covariances") else value)
                for key, value in settings.items()}
    return engine.cached(
        _pretrained_head, n_classes=check_int(n_classes, "n_classes", 2), pretraining=settings,
        head_seed=check_int(head_seed, "head_seed", 0),
        n_instances=check_int(n_instances, "n_instances", 1),
        n_tokens=check_int(n_tokens, "n_tokens", 1),
        n_features=check_int(n_features, "n_features", 1),
        head_units=tuple(head_units), head_dropout=head_dropout)


def _pretrained_head(n_classes, pretraining, head_seed, n_instances, n_tokens, n_features,
                     head_units, head_dropout):
    settings = _resolve_pretraining(pretraining, head_seed)
    cloud_args = {key: settings[key] for key in CLOUD_KEYS if key in settings}
    X, y = pretraining_clouds(n_classes, n_instances, n_tokens, n_features, seed=head_seed,
                              **cloud_args)
    head = pretrain_head(X, y, n_classes=n_classes, seed=head_seed, head_units=head_units,
                         head_dropout=head_dropout,
                         **{key: settings[key] for key in HEAD_KEYS if key in settings})
    means = (np.asarray(settings["means"], dtype=float) if "means" in settings else
             dummy_means(n_classes, settings.get("geometry", "circle"), settings.get("radius"),
                         n_features, settings.get("rotation", 0.0)))
    head.params["clouds"] = {"means": means.tolist(), "rotation": settings.get("rotation", 0.0),
                             "seed": head_seed, "n_instances": n_instances,
                             "n_tokens": n_tokens}
    return head


def pretraining_run(n_classes, level, repetition, *, condition="none", pretraining=None,
                    head_seed=None, seed=0, epochs=200, patience=None, reference_epochs=None,
                    n_blocks=2, n_heads=10, target_accuracy=1.0):
    """One thesis-protocol run with or without a pretrained, frozen head, and its convergence.

    The data and the Transformer's initial blocks are those of :func:`traced_run` with the
    same ``(seed, n_classes, level, repetition)``: a pretrained run and an unpretrained run of
    one repetition differ only in the head, so they can be compared pair by pair.

    Both are measured by the same rule (:func:`otcompanion.pretrain.convergence_summary`): at
    most ``epochs`` epochs, early stopping with ``patience`` on the validation loss, the best
    epoch restored. A pretrained run is trained with that rule. An unpretrained run is
    :func:`traced_run` with ``reference_epochs`` epochs (chapter 02's run, read from the run
    cache) cut by the same rule (:func:`otcompanion.pretrain.early_stopping_view`): early
    stopping does not change training before it stops, so this is the run that the rule would
    have trained, at no cost.

    Parameters
    ----------
    n_classes, level, repetition, seed, n_blocks, n_heads
        As for :func:`traced_run`.
    condition : str, default "none"
        A name for the pretraining setting, copied into the results.
    pretraining : dict or None
        ``None`` trains without pretraining; a dict (possibly empty, for the thesis default:
        circle of radius ``3k``, covariance ``I``) sets the head's pretraining
        (:func:`pretrained_head`).
    head_seed : int, optional
        Seed of the pretrained head (:func:`head_seed`); default the run's seed (a head of its
        own for this run). Runs with the same ``head_seed`` and ``pretraining`` share one head.
    epochs : int, default 200
        Epoch budget of the compared runs.
    patience : int, optional
        Early-stopping patience; default ``epochs`` (the thesis: never stop early, restore the
        best epoch).
    reference_epochs : int, optional
        Length of the unpretrained run that is read and cut (>= ``epochs``); default
        ``epochs``. Chapter 02's runs have 200.
    target_accuracy : float, default 1.0
        Validation instance accuracy whose first epoch measures convergence.

    Returns
    -------
    summary : dict
        Run coordinates, ``condition``, ``seed``, ``head_seed`` and ``rotation`` (radians, NaN
        without pretraining or with explicit means); the fields of
        :func:`~otcompanion.pretrain.convergence_summary` (``stop_epoch``, ``best_epoch``,
        ``epochs_to_target``, ``reached``, ``epochs_to_target_capped``, ``val_loss``,
        ``val_accuracy``); ``instance_accuracy`` and ``token_accuracy`` of the restored model on
        the test set (for an unpretrained run only when the rule restores the reference run's
        best epoch, whose weights are the ones tested; NaN otherwise);
        ``reference_best_epoch`` (the unpretrained reference run's best epoch, NaN with
        pretraining); ``fit_seconds`` (the Transformer's training; for an unpretrained run the
        reference run's, scaled by the share of its epochs that the rule keeps);
        ``head_seconds``, ``head_epochs``, ``head_val_accuracy`` of the pretraining and
        ``head_accuracy_on_inputs``, the pretrained head's token accuracy on the standardized
        training tokens before any block moves them (NaN without pretraining).
    history : pandas.DataFrame
        The Transformer's per-epoch history up to the stop, with the run coordinates and
        ``condition``.
    """
    n_classes = check_choice(n_classes, "n_classes", (2, 3))
    level, repetition = check_int(level, "level", 1), check_int(repetition, "repetition", 0)
    seed, epochs = check_int(seed, "seed", 0), check_int(epochs, "epochs", 1)
    patience = check_int(epochs if patience is None else patience, "patience", 1)
    reference_epochs = check_int(epochs if reference_epochs is None else reference_epochs,
                                 "reference_epochs", epochs)
    n_blocks, n_heads = check_int(n_blocks, "n_blocks", 1), check_int(n_heads, "n_heads", 1)
    target_accuracy = check_real(target_accuracy, "target_accuracy", 0.0, 1.0)
    if not isinstance(condition, str):
        raise TypeError(f"condition must be a string, got {condition!r}.")
    keys = {"n_classes": n_classes, "level": level, "repetition": repetition,
            "condition": condition}
    rule = dict(epochs=epochs, patience=patience, target=target_accuracy)
    if pretraining is None:
        # The unpretrained run is chapter 02's traced run: read it from the run cache.
        record = traced_run(n_classes, level, repetition, seed=seed, epochs=reference_epochs,
                            n_blocks=n_blocks, n_heads=n_heads)
        reference = record["summary"]
        convergence = convergence_summary(record["history"], **rule)
        same_model = convergence["best_epoch"] == reference["best_epoch"]
        summary = {
            **keys, "seed": reference["seed"], "head_seed": np.nan, "rotation": np.nan,
            **convergence,
            "instance_accuracy": reference["instance_accuracy"] if same_model else np.nan,
            "token_accuracy": reference["token_accuracy"] if same_model else np.nan,
            "reference_best_epoch": reference["best_epoch"],
            "fit_seconds": reference["fit_seconds"] * convergence["stop_epoch"]
            / reference_epochs,
            "head_seconds": np.nan, "head_epochs": np.nan, "head_val_accuracy": np.nan,
            "head_accuracy_on_inputs": np.nan,
        }
        history = record["history"].iloc[:convergence["stop_epoch"]].copy()
        history.insert(3, "condition", condition)
        return summary, history
    run = run_seed(seed, n_classes, level, repetition)
    return engine.cached(
        _pretrained_run, n_classes=n_classes, level=level, repetition=repetition,
        condition=condition, pretraining=pretraining,
        head_seed=run if head_seed is None else check_int(head_seed, "head_seed", 0), run=run,
        rule=rule, n_blocks=n_blocks, n_heads=n_heads)


def _head_arguments(n_classes, pretraining, head_seed, n_train=45, n_tokens=20, n_features=2):
    """Arguments of :func:`pretrained_head` for runs on data of the thesis's shape: clouds of
    the training shape, as many instances as training instances rounded up to a multiple of the
    number of classes (as :func:`otcompanion.pretrain.train_pretrained` does)."""
    return dict(n_classes=n_classes, pretraining=pretraining, head_seed=head_seed,
                n_instances=n_classes * -(-n_train // n_classes), n_tokens=n_tokens,
                n_features=n_features)


def _pretrained_run(n_classes, level, repetition, condition, pretraining, head_seed, run, rule,
                    n_blocks, n_heads):
    X_train, X_test, y_train, y_test = thesis_split(n_classes, level, seed=run)
    n, n_tokens, n_features = X_train.shape
    head = pretrained_head(**_head_arguments(n_classes, pretraining, head_seed, n, n_tokens,
                                             n_features))
    model = pretrained_transformer(head, n_features, n_classes, seed=run, n_blocks=n_blocks,
                                   n_heads=n_heads)
    fit = train_transformer(X_train, y_train, X_test, y_test, epochs=rule["epochs"],
                            patience=rule["patience"], seed=run, model=model, trace=False,
                            attention_every=0)
    convergence = convergence_summary(fit.history, **rule)
    if convergence["best_epoch"] != fit.best_epoch:  # the rule is early stopping's own
        raise RuntimeError(f"early_stopping_view restores epoch {convergence['best_epoch']}, "
                           f"training restored {fit.best_epoch}.")
    codes = np.searchsorted(fit.classes, y_train)
    on_inputs = head.predict_proba(fit.standardizer.transform(X_train)).argmax(axis=-1)
    summary = {
        "n_classes": n_classes, "level": level, "repetition": repetition,
        "condition": condition, "seed": run, "head_seed": head_seed,
        "rotation": (np.nan if "means" in (pretraining or {})
                     else float(head.params["clouds"]["rotation"])),
        **convergence,
        "instance_accuracy": fit.test_metrics["instance_accuracy"],
        "token_accuracy": fit.test_metrics["token_accuracy"],
        "reference_best_epoch": np.nan, "fit_seconds": fit.fit_seconds,
        "head_seconds": head.fit_seconds, "head_epochs": head.best_epoch,
        "head_val_accuracy": float(head.history["val_accuracy"].max()),
        # Does the pretrained head's class layout already fit the data? Its token accuracy on
        # the standardized training inputs, before any block moves them.
        "head_accuracy_on_inputs": float(np.mean(on_inputs == codes[:, None])),
    }
    history = fit.history.copy()
    for position, (name, value) in enumerate(
            {"n_classes": n_classes, "level": level, "repetition": repetition,
             "condition": condition}.items()):
        history.insert(position, name, value)
    return summary, history


def pretraining_grid(conditions, tasks=(2, 3), levels=(2,), n_repetitions=3, *, seed=0,
                     scheduler="local", progress=True, **run_options):
    """:func:`pretraining_run` for every condition, task, level and repetition.

    The data of a (task, level, repetition) are the same in every condition, so conditions
    can be compared pair by pair. The heads are pretrained first, each once
    (:func:`pretrained_head`, in parallel, into the run cache), then the runs read them.

    Parameters
    ----------
    conditions : dict
        Condition name -> ``None`` (no pretraining) or a dict: the pretraining settings of
        :func:`pretrained_head` plus, optionally, ``"head"``: one of :data:`HEAD_SHARING`
        (default ``"per repetition"``). A dict ``{n_classes: settings}`` gives settings per
        task (a task missing from it is skipped for that condition).
    tasks : sequence of {2, 3}
    levels : sequence of int
    n_repetitions : int
    seed, scheduler, progress
        As for :func:`transformer_grid`.
    **run_options
        Passed to :func:`pretraining_run` (``epochs``, ``patience``, ``reference_epochs``,
        ``n_blocks``, ``n_heads``, ``target_accuracy``).

    Returns
    -------
    summary : pandas.DataFrame
        One row per run, with ``head`` (``"none"`` or one of :data:`HEAD_SHARING`).
    histories : pandas.DataFrame
        The per-epoch histories of all runs.
    """
    if not isinstance(conditions, dict) or not conditions:
        raise ValueError("conditions must be a non-empty dict: name -> pretraining setting "
                         "(None for no pretraining).")
    tasks = check_sequence(tasks, "tasks", lambda v, n: check_choice(v, n, (2, 3)))
    levels = check_int_sequence(levels, "levels", 1)
    n_repetitions = check_int(n_repetitions, "n_repetitions", 1)
    seed = check_int(seed, "seed", 0)
    engine.check_scheduler(scheduler)
    jobs, heads, sharing = [], {}, {}
    for name, setting in conditions.items():
        for n_classes in tasks:
            if isinstance(setting, dict) and setting and set(setting) <= {2, 3}:
                if n_classes not in setting:
                    continue
                setting_for_task = setting[n_classes]
            else:
                setting_for_task = setting
            if setting_for_task is not None and not isinstance(setting_for_task, dict):
                raise TypeError(f"conditions[{name!r}] must be None or a dict of settings, got "
                                f"{setting_for_task!r}.")
            pretraining = None
            if setting_for_task is not None:
                pretraining = dict(setting_for_task)
                share = check_choice(pretraining.pop("head", "per repetition"),
                                     f"conditions[{name!r}]['head']", HEAD_SHARING)
                sharing[name] = share
            else:
                sharing[name] = "none"
            for level in levels:
                for repetition in range(n_repetitions):
                    job = dict(n_classes=n_classes, level=level, repetition=repetition,
                               condition=name, pretraining=pretraining, seed=seed,
                               **run_options)
                    if pretraining is not None:
                        job["head_seed"] = head_seed(
                            seed, n_classes, None if sharing[name] == "shared" else repetition)
                        heads[(n_classes, repr(sorted(pretraining.items())), job["head_seed"])] = \
                            _head_arguments(n_classes, pretraining, job["head_seed"])
                    jobs.append(job)
    if not jobs:
        raise ValueError("no run to do: no condition applies to the given tasks.")
    if heads and engine.cache_enabled():
        # Pretrain every head once, in parallel; the runs then read them from the cache.
        run_jobs(pretrained_head, list(heads.values()), scheduler=scheduler, progress=progress,
                 description="pretrained heads")
    results = run_jobs(pretraining_run, jobs, scheduler=scheduler, progress=progress,
                       description="pretraining runs")
    summary = pd.DataFrame([summary for summary, _ in results])
    summary.insert(4, "head", summary["condition"].map(sharing))
    histories = pd.concat([history for _, history in results], ignore_index=True)
    return summary, histories


def budget_summaries(histories, epochs, *, patience=None, target_accuracy=1.0,
                     keys=("n_classes", "level", "repetition", "condition")):
    """Every run's convergence under a smaller epoch budget, from the histories already run.

    A run trained with budget ``E`` and patience ``p`` contains, epoch for epoch, the run that
    budget ``E' <= E`` with the same patience would have trained (early stopping does not change
    training before it stops), so the comparison can be repeated at shorter budgets for free
    (:func:`otcompanion.pretrain.convergence_summary` on each run's history).

    Parameters
    ----------
    histories : pandas.DataFrame
        Per-epoch histories of several runs (as :func:`pretraining_grid` returns them), each
        with its epochs ``1, 2, ...`` up to where it stopped.
    epochs : int
        The budget ``E'``; no run may have stopped at its own budget below it.
    patience : int, optional
        Patience (default ``epochs``).
    target_accuracy : float, default 1.0
    keys : sequence of str
        Columns that identify a run.

    Returns
    -------
    pandas.DataFrame
        One row per run: the ``keys`` and the fields of
        :func:`~otcompanion.pretrain.convergence_summary`.
    """
    keys = list(keys)
    stats.check_columns(histories, [*keys, "epoch"], "the histories")
    rows = []
    for values, history in histories.groupby(keys, sort=True, observed=True):
        history = history.sort_values("epoch")
        rows.append({**dict(zip(keys, values)),
                     **convergence_summary(history, epochs=epochs, patience=patience,
                                           target=target_accuracy)})
    return pd.DataFrame(rows)


def pretraining_differences(summary, quantities, *, baseline="none", pool_levels=False,
                            seed=0):
    """Paired differences of every pretraining condition against ``baseline``, with intervals.

    Rows of :func:`pretraining_grid`'s summary are paired on the task, the level and the
    repetition (same data and initial blocks, :func:`otcompanion.stats.paired_differences`).
    With ``pool_levels`` every repetition's levels are averaged first and the pairs are the
    repetitions: a repetition's pretrained head is shared by its levels
    (:func:`head_seed`), so its levels are not independent runs and the interval is taken over
    repetitions.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per run with ``n_classes``, ``level``, ``repetition``, ``condition`` and the
        ``quantities``.
    quantities : list of str
        Numeric columns to compare.
    baseline : str, default "none"
        The condition every other one is compared with (differences are *other minus
        baseline*).
    pool_levels : bool, default False
    seed : int, default 0
        Seed of the bootstrap resampling.

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`otcompanion.stats.paired_differences`, grouped by ``n_classes``
        (and ``level`` unless pooled), with the compared ``condition``.
    """
    quantities = list(quantities)
    stats.check_columns(summary, ["n_classes", "level", "repetition", "condition", *quantities],
                        "the summary")
    frame = summary.assign(condition=summary["condition"].astype(str))
    if baseline not in set(frame["condition"]):
        raise ValueError(f"baseline={baseline!r} is not a condition of the summary: "
                         f"{sorted(set(frame['condition']))}.")
    by = ["n_classes"]
    if pool_levels:
        frame = frame.groupby(["n_classes", "condition", "repetition"],
                              as_index=False)[quantities].mean()
    else:
        by.append("level")
    others = [name for name in dict.fromkeys(frame["condition"]) if name != baseline]
    if not others:
        raise ValueError(f"the summary has no condition besides the baseline {baseline!r}.")
    return pd.concat([
        stats.paired_differences(frame, by, ["repetition"], "condition", name, baseline,
                                 quantities, seed=seed).assign(condition=name)
        for name in others], ignore_index=True)


def budget_verdicts(histories, budgets, task_names, patience, target_accuracy, seed=0):
    """The pretraining verdict recomputed at shorter budgets from the same runs.

    Each budget cuts the runs' histories to the runs that budget would have trained
    (:func:`budget_summaries`), pools the levels (:func:`pretraining_differences`) and applies
    :func:`otcompanion.claims.pretraining_verdict` per task and condition.

    Parameters
    ----------
    histories : pandas.DataFrame
        Per-epoch histories of the runs (:func:`pretraining_grid`), with ``n_classes``,
        ``level``, ``repetition`` and ``condition``; the unpretrained runs have condition
        ``"unpretrained"``.
    budgets : sequence of int
        Epoch budgets (each at most the runs' own).
    task_names : dict
        Name of each task (``n_classes``), e.g. ``{2: "2 classes"}``: the ``setup`` column.
    patience : int
    target_accuracy : float
        As for :func:`budget_summaries`.
    seed : int, default 0
        Seed of the bootstrap resampling.

    Returns
    -------
    list of dict
        Per budget, in the order of ``budgets``: ``budget``, the verdict's dict and
        ``differences``, the pooled paired differences the verdict read.
    """
    checks = []
    for budget in budgets:
        cut = budget_summaries(histories, budget, patience=patience,
                               target_accuracy=target_accuracy)
        cut["setup"] = cut["n_classes"].map(task_names)
        differences = pretraining_differences(
            cut, ["epochs_to_target_capped", "val_accuracy"], baseline="unpretrained",
            pool_levels=True, seed=seed)
        differences["setup"] = differences["n_classes"].map(task_names)
        checks.append({"budget": budget, **claims.pretraining_verdict(
            differences, cell=("setup", "condition")), "differences": differences})
    return checks
