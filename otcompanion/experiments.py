"""Repeated experiments: the thesis grid of tasks x levels x repetitions.

The thesis repeats every setup (two or three classes, difficulty levels 1-4) many times with
fresh data and a fresh model, and reports means and standard deviations (this book reports means with 95 %
intervals, :mod:`otcompanion.stats`). This module holds what the chapters need for that:

- :data:`PROFILES` and :func:`resolve_profile`: the ``"book"`` scale (sized for the book build)
  and the ``"thesis"`` scale (100 repetitions, 200 epochs, 2 blocks);
- :func:`run_seed`: one seed per run, derived from the chapter seed and the run's coordinates,
  so a run's numbers do not depend on which other runs are in the grid or on the scheduler;
- :func:`traced_run`: train and trace the thesis Transformer on one setup and measure its
  trajectory (:mod:`otcompanion.metrics`), once per build (the run cache of
  :mod:`otcompanion.engine`); :func:`trace_transformer_run` and :func:`transformer_grid` read it
  for one setup and for a whole grid;
- :func:`pretrained_head`, :func:`pretraining_run`, :func:`pretraining_grid`,
  :func:`budget_summaries` and :func:`pretraining_differences`: the same runs
  with a pretrained, frozen head (:mod:`otcompanion.pretrain`), one head shared by every run
  (the thesis's protocol) or one per repetition, paired with the unpretrained ones and measured
  under one epoch budget and early-stopping rule;
- :func:`classifier_comparison_run`, :func:`stopping_rule_run`: the OT classifier next to the
  Transformer on one setup, at the thesis's budgets (the Transformer read from the run cache)
  and under the same early-stopping rule; :func:`ot_classifier_run`: the OT classifier alone
  on a run's data; :func:`scaling_run` and :func:`scaling_exponents`:
  the OT classifier's fit time against the training size; :func:`interval_outcome` and
  :func:`combined_verdict`: a claim's verdict from the intervals of its tests;
- :func:`cross_validate_models`: several classifiers on the same stratified repeated folds;

Every grid function takes ``scheduler`` (:func:`otcompanion.engine.run_jobs`): ``"local"`` (all
cores of this machine), a number of worker processes, or a Dask scheduler address.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from otcompanion import engine, metrics, stats
from otcompanion._validation import (check_choice, check_int, check_int_sequence,
                                     check_positive, check_real, check_sequence)
from otcompanion.attention import OPTIMIZERS, TRAJECTORY_STARTS, train_transformer
from otcompanion.data import thesis_split
from otcompanion.engine import run_jobs

#: Grid sizes of the two profiles. ``"book"`` keeps each chapter within a few minutes on a
#: 2-core machine; ``"thesis"`` is the scale of the thesis's main runs.
PROFILES = {
    "book": {"n_repetitions": 20, "epochs": 200, "n_blocks": 2},
    "thesis": {"n_repetitions": 100, "epochs": 200, "n_blocks": 2},
}

#: Summary columns of a traced run that are OT metrics of its trajectory, in reading order.
TRAJECTORY_METRICS = metrics.THESIS_METRICS + ("straightness", "w2_path_efficiency")


def resolve_profile(profile, **overrides):
    """The grid settings of a profile, with explicit values taking precedence.

    Parameters
    ----------
    profile : {"book", "thesis"}
    **overrides
        Settings to use instead of the profile's; ``None`` means "the profile's value".

    Returns
    -------
    dict
        Every key of the profile, plus any other key given.

    Examples
    --------
    >>> resolve_profile("thesis", epochs=None, n_repetitions=5)
    {'n_repetitions': 5, 'epochs': 200, 'n_blocks': 2}
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}.")
    settings = dict(PROFILES[profile])
    settings.update({name: value for name, value in overrides.items() if value is not None})
    return settings


def run_seed(seed, *coordinates):
    """A reproducible seed for one run, from the chapter seed and the run's coordinates.

    ``numpy.random.SeedSequence([seed, k, *coordinates])``, with ``k`` the number of
    coordinates, mixes the integers into a 32-bit seed, so runs with different coordinates get
    unrelated random streams and a run's seed does not depend on the rest of the grid. (Without
    ``k``, trailing zeros would not count: ``SeedSequence`` pads its entropy with zeros, so
    ``(2, 1)`` and ``(2, 1, 0)`` would share a seed.)

    Parameters
    ----------
    seed : int
        The chapter's seed, >= 0.
    *coordinates : int
        E.g. number of classes, level, repetition; each >= 0.

    Returns
    -------
    int
    """
    values = [check_int(seed, "seed", 0), len(coordinates)]
    values += [check_int(value, f"coordinate {i}", 0) for i, value in enumerate(coordinates)]
    return int(np.random.SeedSequence(values).generate_state(1)[0])


def curve_steps(last, n_points, horizon=None):
    """Evenly spaced steps for metric curves, shared by runs of different lengths.

    The grid has about ``n_points`` steps from 1 to ``horizon`` (default ``last``); the steps
    after ``last`` are dropped and ``last`` is always included. Runs trained for the same number
    of epochs but stopped at different best epochs thus share every grid step they reach.

    Parameters
    ----------
    last : int
        The last recorded step of the run (its best epoch), >= 1.
    n_points : int
        Grid size, >= 1.
    horizon : int, optional
        The largest step of the grid (e.g. the number of training epochs), >= ``last``.

    Returns
    -------
    list of int
    """
    last = check_int(last, "last", 1)
    n_points = check_int(n_points, "n_points", 1)
    horizon = last if horizon is None else check_int(horizon, "horizon", last)
    grid = np.linspace(1, horizon, min(n_points, horizon)).round().astype(int)
    return sorted({int(step) for step in grid if step <= last} | {last})


#: The maps :func:`reference_maps` gives, in reading order.
REFERENCE_MAPS = ("trained", "untrained network", "after epoch 1",
                  "random instance translations", "random smooth deformation")


def reference_maps(trace, seed=0):
    """The trained map of a traced run next to null maps on the same token clouds.

    What an optimality or matching value means depends on what other maps would score. On the
    standardized training tokens ``x`` (:attr:`otcompanion.attention.Trace.inputs`):

    - ``"trained"``: the last block's output at the best epoch (the map the thesis measures);
    - ``"untrained network"``: the output of the network before training (epoch 0);
    - ``"after epoch 1"``: the output after one epoch;
    - ``"random instance translations"``: every instance moved by its own random vector
      :math:`v_i \\sim N(0, I)`, all tokens of an instance alike;
    - ``"random smooth deformation"``: :math:`x + \\sum_{j=1}^{8} a_j \\cos(w_j \\cdot x + b_j)`
      with :math:`w_j \\sim N(0, I)`, :math:`a_j \\sim N(0, I)` (a vector per term) and
      :math:`b_j \\sim U[0, 2\\pi)`, a smooth random vector field (random Fourier features,
      Rahimi & Recht, 2007).

    The two random maps are scaled so that their mean displacement equals the trained map's.

    Parameters
    ----------
    trace : otcompanion.attention.Trace
    seed : int, default 0

    Returns
    -------
    dict
        Map name (:data:`REFERENCE_MAPS`) -> mapped tokens of shape ``(n, T, d)``.
    """
    rng = np.random.default_rng(check_int(seed, "seed", 0))
    start = np.asarray(trace.inputs, dtype=float)
    outputs = trace.block_outputs[:, -1, 1]
    trained = np.asarray(outputs[trace.best_epoch], dtype=float)
    size = np.linalg.norm(trained - start, axis=-1).mean()

    def scaled(move):
        length = np.linalg.norm(move, axis=-1).mean()
        return start + (move * size / length if length > 0 else move)

    n, _, d = start.shape
    translations = np.broadcast_to(rng.normal(size=(n, 1, d)), start.shape)
    w, a = rng.normal(size=(8, d)), rng.normal(size=(8, d))
    b = rng.uniform(0, 2 * np.pi, size=8)
    field = np.cos(start @ w.T + b) @ a  # (n, T, d)
    return {"trained": trained, "untrained network": np.asarray(outputs[0], dtype=float),
            "after epoch 1": np.asarray(outputs[min(1, len(outputs) - 1)], dtype=float),
            "random instance translations": scaled(translations),
            "random smooth deformation": scaled(field)}


def traced_run(n_classes, level, repetition, *, seed=0, epochs=200, n_blocks=2, n_heads=10,
               n_instances=90, n_tokens=20, curve_points=10, trajectory_start="input",
               optimizer="rmsprop", lr=1e-2):
    """Train and trace the thesis Transformer on one thesis setup; measure its trajectory.

    Data and model are seeded with :func:`run_seed` ``(seed, n_classes, level, repetition)``;
    the split, standardization and training follow the thesis protocol
    (:func:`otcompanion.data.thesis_split`, :func:`otcompanion.attention.train_transformer`, one
    thread). The trajectory (:meth:`otcompanion.attention.Trace.trajectory_from`
    ``trajectory_start``) is measured with :func:`otcompanion.metrics.metric_curves` at about
    ``curve_points`` epochs evenly spaced over the training length (the same epochs in every
    run, :func:`curve_steps`) and at its last epoch, whose row measures the whole trajectory.

    The result is computed once per build: it is read from the run cache
    (:func:`otcompanion.engine.cached`) when a chapter already computed the same run with the
    same code, so chapters 02 and 03 share their unpretrained runs.

    Parameters
    ----------
    n_classes : {2, 3}
    level : int, 1 to 4 in the thesis
    repetition : int
        Index of the repetition (>= 0); with ``seed`` it determines the run's seed.
    seed : int, default 0
    epochs, n_blocks, n_heads : int
        Training length and architecture (thesis: 200, 2, 10).
    n_instances, n_tokens : int
        Data size (thesis: 90 instances of 20 tokens, half for training).
    curve_points : int, default 10
        Number of epochs at which the metric curves are evaluated (each costs one exact OT per
        class between the start and that epoch).
    trajectory_start : {"input", "first_epoch"}, default "input"
        ``"input"``: the standardized training tokens, then the last block's output after every
        epoch up to the best one. ``"first_epoch"``: the thesis code's indexing, the outputs after
        epochs 1 to ``best_epoch - 1`` (the metrics are NaN when ``best_epoch < 3``).
    optimizer : {"rmsprop", "adam", "sgd"}, default "rmsprop"
    lr : float, default 1e-2
        The optimizer and its learning rate (thesis: keras RMSprop, 1e-2), for the optimizer
        ablation of chapter 02.

    Returns
    -------
    dict
        ``summary``: ``n_classes``, ``level``, ``repetition``, ``seed``, ``best_epoch``,
        ``fit_seconds``, ``metrics_seconds``, ``instance_accuracy``, ``token_accuracy`` and
        ``recall_<class>`` (test set), the :data:`TRAJECTORY_METRICS` of the whole trajectory
        and ``equal_length_efficiency`` (the thesis efficiency of straight, equal-length paths
        for these class sizes). Tables, each with the run coordinates: ``curves``, the metric
        curves (``epoch`` is the training epoch of the trajectory's end; ``on_grid`` is False
        only for a last epoch that is not a grid step); ``history``, the per-epoch training
        history; ``starts``, the :data:`TRAJECTORY_METRICS` of the whole trajectory for both
        starts (``"input"``, ``"first_epoch"``; the W2 path efficiency only for
        ``trajectory_start``); ``references``, :func:`otcompanion.metrics.
        map_metrics` of the trained map and the null maps of :func:`reference_maps`;
        ``sublayers``, :meth:`otcompanion.attention.Trace.sublayer_moves` at the best epoch.
    """
    options = dict(n_classes=check_choice(n_classes, "n_classes", (2, 3)),
                   level=check_int(level, "level", 1),
                   repetition=check_int(repetition, "repetition", 0),
                   seed=check_int(seed, "seed", 0), epochs=check_int(epochs, "epochs", 1),
                   n_blocks=check_int(n_blocks, "n_blocks", 1),
                   n_heads=check_int(n_heads, "n_heads", 1),
                   n_instances=check_int(n_instances, "n_instances", 1),
                   n_tokens=check_int(n_tokens, "n_tokens", 1),
                   curve_points=check_int(curve_points, "curve_points", 1),
                   trajectory_start=check_choice(trajectory_start, "trajectory_start",
                                                 TRAJECTORY_STARTS),
                   optimizer=check_choice(optimizer, "optimizer", OPTIMIZERS),
                   lr=check_positive(lr, "lr"))
    return engine.cached(_traced_run, **options)


def _traced_run(n_classes, level, repetition, seed, epochs, n_blocks, n_heads, n_instances,
                n_tokens, curve_points, trajectory_start, optimizer, lr):
    from otcompanion.pretrain import epochs_to_accuracy

    run = run_seed(seed, n_classes, level, repetition)
    X_train, X_test, y_train, y_test = thesis_split(n_classes, level, n_instances=n_instances,
                                                    n_tokens=n_tokens, seed=run)
    fit = train_transformer(X_train, y_train, X_test, y_test, epochs=epochs, n_blocks=n_blocks,
                            n_heads=n_heads, seed=run, attention_every=0, optimizer=optimizer,
                            lr=lr)
    started = time.perf_counter()
    keys = {"n_classes": n_classes, "level": level, "repetition": repetition}
    until_best = fit.history[fit.history["epoch"] <= fit.best_epoch]
    plateau = epochs_to_accuracy(until_best, until_best["val_instance_accuracy"].max())
    summary = {
        **keys, "seed": run, "best_epoch": fit.best_epoch, "fit_seconds": fit.fit_seconds,
        "instance_accuracy": fit.test_metrics["instance_accuracy"],
        "token_accuracy": fit.test_metrics["token_accuracy"],
        "equal_length_efficiency": metrics.equal_length_efficiency(fit.trace.labels,
                                                                   X_train.shape[1]),
    }
    # Index t of the trajectory is the output after epoch t + offset.
    offset = 0 if trajectory_start == "input" else 1
    if trajectory_start == "first_epoch" and fit.best_epoch < 3:
        curves = pd.DataFrame(columns=["epoch", *TRAJECTORY_METRICS])
        summary.update({name: np.nan for name in TRAJECTORY_METRICS})
        summary.update({"plateau_epoch": plateau, "path_after_plateau": np.nan})
    else:
        trajectory = fit.trace.trajectory_from(trajectory_start)
        last_epoch = len(trajectory) - 1 + offset
        steps = [epoch - offset
                 for epoch in sorted({*curve_steps(last_epoch, curve_points, horizon=epochs),
                                      plateau}) if epoch - offset >= 1]
        curves = metrics.metric_curves(trajectory, fit.trace.labels, steps=steps)
        curves["epoch"] += offset
        summary.update({name: float(curves.iloc[-1][name]) for name in TRAJECTORY_METRICS})
        cost = curves.set_index("epoch")["step_cost"]
        before = float(cost.get(plateau, 0.0))  # 0 when the plateau is the trajectory's start
        summary["plateau_epoch"] = plateau
        summary["path_after_plateau"] = (1.0 - before / cost.iloc[-1] if cost.iloc[-1] > 0
                                         else np.nan)
    # The other start's whole-trajectory metrics (how much the indexing moves the numbers).
    starts = [{"start": trajectory_start, **{name: summary[name] for name in TRAJECTORY_METRICS}}]
    other = "first_epoch" if trajectory_start == "input" else "input"
    if other == "input" or fit.best_epoch >= 3:
        # The thesis's metrics and straightness only: the W2 path would repeat the exact OT of
        # every pair of consecutive epochs, the costliest part of the metrics.
        alternative = fit.trace.trajectory_from(other)
        starts.append({"start": other,
                       **metrics.thesis_metrics(alternative, fit.trace.labels),
                       "straightness": metrics.straightness(alternative),
                       "w2_path_efficiency": np.nan})
    else:
        starts.append({"start": other, **{name: np.nan for name in TRAJECTORY_METRICS}})
    references = pd.DataFrame([
        {"map": name, **metrics.map_metrics(fit.trace.inputs, mapped, fit.trace.labels)}
        for name, mapped in reference_maps(fit.trace, seed=run).items()])
    sublayers = fit.trace.sublayer_moves()
    summary["metrics_seconds"] = time.perf_counter() - started
    summary.update({"optimizer": optimizer, "lr": lr})
    summary.update({name: value for name, value in fit.test_metrics.items()
                    if name.startswith("recall_")})
    curves["on_grid"] = curves["epoch"].isin(curve_steps(epochs, curve_points))
    history = fit.history.copy()
    tables = {"curves": curves, "history": history, "starts": pd.DataFrame(starts),
              "references": references, "sublayers": sublayers}
    for table in tables.values():
        for position, (name, value) in enumerate(keys.items()):
            table.insert(position, name, value)
    return {"summary": summary, **tables}


def trace_transformer_run(n_classes, level, repetition, **options):
    """``(summary, curves)`` of :func:`traced_run` (same parameters)."""
    record = traced_run(n_classes, level, repetition, **options)
    return record["summary"], record["curves"]


def transformer_grid(tasks=(2, 3), levels=(1, 2, 3, 4), n_repetitions=3, *, seed=0,
                     scheduler="local", progress=True, **run_options):
    """:func:`traced_run` for every task, level and repetition.

    Parameters
    ----------
    tasks : sequence of {2, 3}
        Numbers of classes.
    levels : sequence of int
        Difficulty levels (>= 1).
    n_repetitions : int
    seed : int
    scheduler : "local", int or str, default "local"
        Where the runs execute (:func:`otcompanion.engine.run_jobs`); the numbers do not depend
        on it.
    progress : bool
    **run_options
        Passed to :func:`traced_run` (``epochs``, ``n_blocks``, ``n_heads``, ``n_instances``,
        ``n_tokens``, ``curve_points``, ``trajectory_start``).

    Returns
    -------
    summary : pandas.DataFrame
        One row per run (see :func:`traced_run`).
    tables : dict of pandas.DataFrame
        ``curves``, ``history``, ``starts``, ``references`` and ``sublayers`` of all runs
        (:func:`traced_run`), each concatenated over the runs.
    """
    tasks = check_sequence(tasks, "tasks", lambda v, n: check_choice(v, n, (2, 3)))
    levels = check_int_sequence(levels, "levels", 1)
    n_repetitions = check_int(n_repetitions, "n_repetitions", 1)
    engine.check_scheduler(scheduler)
    jobs = [dict(n_classes=n_classes, level=level, repetition=repetition, seed=seed,
                 **run_options)
            for n_classes in tasks for level in levels for repetition in range(n_repetitions)]
    results = run_jobs(traced_run, jobs, scheduler=scheduler, progress=progress,
                       description="traced runs")
    summary = pd.DataFrame([result["summary"] for result in results])
    tables = {name: pd.concat([result[name] for result in results], ignore_index=True)
              for name in ("curves", "history", "starts", "references", "sublayers")}
    return summary, tables


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
    from otcompanion.pretrain import CLOUD_KEYS, HEAD_KEYS

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
    from otcompanion.geometry import dummy_means
    from otcompanion.pretrain import CLOUD_KEYS, HEAD_KEYS, pretrain_head, pretraining_clouds

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
    from otcompanion.pretrain import convergence_summary

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
    from otcompanion.pretrain import convergence_summary, pretrained_transformer

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
    from otcompanion.pretrain import convergence_summary

    keys = list(keys)
    missing = [name for name in [*keys, "epoch"] if name not in histories.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the histories; they have "
                         f"{list(histories.columns)}.")
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
    missing = [name for name in ("n_classes", "level", "repetition", "condition", *quantities)
               if name not in summary.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the summary; it has "
                         f"{list(summary.columns)}.")
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
    from otcompanion._training import stratified_split

    classes, codes = np.unique(np.asarray(y_train), return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"y_train has a single class {classes.tolist()}; two are needed.")
    return stratified_split(codes, fraction, check_int(seed, "seed", 0))[1]


def epochs_to_target(history, target, column="val_instance_accuracy"):
    """First epoch whose ``column`` reaches ``target`` (NaN if none does).

    Parameters
    ----------
    history : pandas.DataFrame
        One row per epoch with ``epoch`` and ``column``.
    target : float
    column : str, default "val_instance_accuracy"

    Returns
    -------
    float
    """
    if column not in history.columns or "epoch" not in history.columns:
        raise ValueError(f"history needs the columns 'epoch' and {column!r}; it has "
                         f"{list(history.columns)}.")
    reached = history.loc[history[column] >= target - 1e-12, "epoch"]
    return float(reached.iloc[0]) if len(reached) else np.nan


_WARMED_UP = set()


def _warm_up(*what):
    """Fit tiny models once per process before anything is timed.

    The first fit in a fresh worker process pays one-off costs (lazy imports, torch's first
    operations, the OT solvers' first calls: about a second), which would land on whichever
    run the process happens to start with. ``what``: solver names of the OT classifier and/or
    ``"transformer"``.
    """
    from otcompanion.otclassifier import DummyGaussianOTClassifier

    todo = [name for name in what if name not in _WARMED_UP]
    if not todo:
        return
    X, _, y, _ = thesis_split(2, 4, n_instances=40, n_tokens=5, seed=0)
    for name in todo:
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
            "seconds_to_target": to_target}


def _transformer_row(test_metrics, history, best_epoch, seconds, target):
    """The same columns for a Transformer fit (its history and test metrics)."""
    reached = epochs_to_target(history, target)
    # Full-batch epochs cost about the same: the time to an epoch is that share of the fit.
    return {"instance_accuracy": test_metrics["instance_accuracy"],
            "token_accuracy": test_metrics["token_accuracy"],
            **{name: value for name, value in test_metrics.items()
               if name.startswith("recall_")},
            "fit_seconds": seconds, "epochs_run": int(len(history)),
            "best_epoch": int(best_epoch), "epochs_to_target": reached,
            "seconds_to_target": seconds * reached / len(history)
            if np.isfinite(reached) else np.nan}


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
    from otcompanion.otclassifier import DummyGaussianOTClassifier

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
    rows = [{**keys, "model": "Transformer",
             **_transformer_row(test_metrics, record["history"], summary["best_epoch"],
                                summary["fit_seconds"], target)}]
    options = {"random_state": run, "max_epochs": ot_epochs, "n_iter_no_change": ot_epochs,
               **(ot_options or {})}
    model = DummyGaussianOTClassifier(**options)
    _warm_up(model.solver)
    started = time.perf_counter()
    model.fit(X_train, y_train, validation_indices=validation_split(y_train, run))
    seconds = time.perf_counter() - started
    rows.append({**keys, "model": "OT classifier",
                 **_ot_row(model, seconds, X_test, y_test, target)})
    return rows


def stopping_rule_run(n_classes, level, repetition, *, seed=0, patience=10, epochs=200,
                      n_blocks=2, n_heads=10, n_instances=90, n_tokens=20,
                      target_accuracy=1.0, ot_options=None):
    """The OT classifier and the thesis Transformer under the same early-stopping rule.

    Both models hold out the same training instances (the Transformer's split,
    :func:`validation_split`), stop after ``patience`` epochs in a row without a lower
    validation loss (keras ``EarlyStopping`` with ``min_delta = 0``; the OT classifier's
    ``tol = 0``), at the latest after ``epochs`` epochs, and keep the weights of their best
    epoch. Data and seeds are those of :func:`traced_run` for the same coordinates and sizes;
    ``n_instances`` (half for training) and ``n_tokens`` make the task harder.

    Parameters
    ----------
    n_classes, level, repetition, seed, n_blocks, n_heads, n_instances, n_tokens
        As for :func:`traced_run`.
    patience : int, default 10
        Early-stopping patience of both models.
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
        stopping rule"; both fit times are measured here (the Transformer untraced).
    """
    from otcompanion.otclassifier import DummyGaussianOTClassifier

    options = dict(n_classes=check_choice(n_classes, "n_classes", (2, 3)),
                   level=check_int(level, "level", 1),
                   repetition=check_int(repetition, "repetition", 0))
    patience = check_int(patience, "patience", 1)
    epochs = check_int(epochs, "epochs", 1)
    target = _check_target(target_accuracy)
    run = run_seed(seed, n_classes, level, repetition)
    X_train, X_test, y_train, y_test = thesis_split(
        n_classes, level, n_instances=check_int(n_instances, "n_instances", 1),
        n_tokens=check_int(n_tokens, "n_tokens", 1), seed=run)
    keys = {**options, "seed": run, "n_instances": n_instances, "n_tokens": n_tokens,
            "protocol": "same stopping rule"}
    ot_options = {"random_state": run, "max_epochs": epochs, "n_iter_no_change": patience,
                  "tol": 0.0, **(ot_options or {})}
    _warm_up("transformer", ot_options.get("solver", "exact"))
    fit = train_transformer(X_train, y_train, X_test, y_test, epochs=epochs, n_blocks=n_blocks,
                            n_heads=n_heads, seed=run, patience=patience,
                            validation=VALIDATION_FRACTION, trace=False)
    rows = [{**keys, "model": "Transformer",
             **_transformer_row(fit.test_metrics, fit.history, fit.best_epoch, fit.fit_seconds,
                                target)}]
    model = DummyGaussianOTClassifier(**ot_options)
    started = time.perf_counter()
    model.fit(X_train, y_train, validation_indices=fit.validation_indices)
    seconds = time.perf_counter() - started
    rows.append({**keys, "model": "OT classifier",
                 **_ot_row(model, seconds, X_test, y_test, target)})
    return rows


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
    from otcompanion.otclassifier import DummyGaussianOTClassifier

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
        ``training_seconds``, ``epochs_run``, ``train_accuracy`` and ``test_accuracy``
        (instances).
    """
    from otcompanion.otclassifier import SOLVERS, DummyGaussianOTClassifier

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
            "training_seconds": model.fit_timings_["training"], "epochs_run": model.n_iter_,
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


def interval_outcome(low, high, threshold, claim):
    """Whether an interval supports a one-sided claim about a quantity.

    Parameters
    ----------
    low, high : float
        The 95 % interval of the quantity (e.g. a paired difference); NaN when it could not be
        formed.
    threshold : float
    claim : {"above", "below"}
        The claim says the quantity is above (or below) ``threshold``.

    Returns
    -------
    str
        ``"support"`` when the whole interval is on the claim's side of ``threshold``,
        ``"contradict"`` when it is wholly on the other side, ``"undecided"`` when it contains
        ``threshold`` or is NaN.

    Examples
    --------
    The OT classifier's accuracy minus the Transformer's, claimed to be above -0.05 (at most
    five points lower):

    >>> interval_outcome(-0.02, 0.01, -0.05, "above")
    'support'
    """
    claim = check_choice(claim, "claim", ("above", "below"))
    threshold = check_real(threshold, "threshold")
    for value, name in ((low, "low"), (high, "high")):
        if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value,
                                                                                      bool):
            raise TypeError(f"{name} must be a real number or NaN, got {value!r}.")
    if np.isnan(low) or np.isnan(high):
        return "undecided"
    if low > high:
        raise ValueError(f"low={low} is above high={high}.")
    above, below = low > threshold, high < threshold
    if claim == "below":
        above, below = below, above
    return "support" if above else "contradict" if below else "undecided"


def combined_verdict(outcomes):
    """A claim's verdict (:data:`otcompanion.claims.VERDICTS`) from the outcomes of its tests.

    Each outcome is ``"support"``, ``"contradict"`` or ``"undecided"`` (the interval of one
    setup on one side of the claim's threshold, on the other, or across it).

    Returns
    -------
    str
        ``"supported"`` when every test supports the claim; ``"partly supported"`` when some
        do and others do not; ``"not supported"`` when none does and at least one contradicts
        it; ``"inconclusive"`` when every test is undecided.
    """
    outcomes = list(outcomes)
    allowed = ("support", "contradict", "undecided")
    bad = [value for value in outcomes if value not in allowed]
    if not outcomes or bad:
        raise ValueError(f"outcomes must be a non-empty list of {allowed}, got {outcomes!r}.")
    if all(value == "support" for value in outcomes):
        return "supported"
    if "support" in outcomes:
        return "partly supported"
    return "not supported" if "contradict" in outcomes else "inconclusive"


def _cross_validation_fold(estimator, X, y, train, test, classes):
    """Fit a clone of ``estimator`` on ``train``, score it on ``test``."""
    from sklearn.base import clone
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score

    from threadpoolctl import threadpool_limits

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
    from sklearn.model_selection import RepeatedStratifiedKFold

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
