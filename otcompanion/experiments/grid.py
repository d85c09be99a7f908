"""The thesis grid of chapters 01 and 02: profiles, run seeds and traced Transformer runs.

The thesis repeats every setup (two or three classes, difficulty levels 1-4) many times with
fresh data and a fresh model, and reports means and standard deviations (this book reports
means with 95 % intervals, :mod:`otcompanion.stats`). This module holds the grid itself:

- :data:`PROFILES` and :func:`resolve_profile`: the ``"book"`` scale (sized for the book build)
  and the ``"thesis"`` scale (100 repetitions, 200 epochs, 2 blocks);
- :func:`run_seed`: one seed per run, derived from the chapter seed and the run's coordinates,
  so a run's numbers do not depend on which other runs are in the grid or on the scheduler;
- :func:`traced_run`: train and trace the thesis Transformer on one setup and measure its
  trajectory (:mod:`otcompanion.metrics`), once per build (the run cache of
  :mod:`otcompanion.engine`); :func:`trace_transformer_run` and :func:`transformer_grid` read it
  for one setup and for a whole grid;
- :func:`curve_steps` (the epochs of the metric curves) and :func:`reference_maps` (null maps
  next to the trained one).

Every run of the later chapters (:mod:`otcompanion.experiments.pretraining`,
:mod:`otcompanion.experiments.comparison`, :mod:`otcompanion.experiments.heads`) is seeded by
:func:`run_seed` and reads its unpretrained Transformer from :func:`traced_run`.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from otcompanion import claims, engine, metrics, stats
from otcompanion._validation import (
    check_choice,
    check_columns,
    check_int,
    check_int_sequence,
    check_positive,
    check_sequence,
)
from otcompanion.attention import (
    OPTIMIZERS,
    TRAJECTORY_STARTS,
    layer_norm_jacobians,
    train_transformer,
)
from otcompanion.data import thesis_split
from otcompanion.engine import run_jobs
from otcompanion.pretrain import epochs_to_accuracy

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
                  "random instance translations", "random smooth deformation",
                  "class translations, random residual")


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
      Rahimi & Recht, 2007);
    - ``"class translations, random residual"``: the trained map's mean move of each class
      :math:`t_c` plus a random residual, i.i.d. :math:`N(0, I)` per token, centred in each class
      and scaled so that its mean length equals that of the trained map's residual
      :math:`T(x_i) - x_i - t_c`. It keeps what a translation of each class contributes to the
      optimality and asks whether the rest of the trained map is closer to optimal than chance
      (:func:`otcompanion.metrics.map_metrics`).

    The random instance translations and the smooth deformation are scaled so that their mean
    displacement equals the trained map's.

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
    labels = np.asarray(trace.labels)
    class_moves = np.zeros_like(start)
    for c in np.unique(labels):
        class_moves[labels == c] = (trained - start)[labels == c].reshape(-1, d).mean(axis=0)
    residual_size = np.linalg.norm(trained - start - class_moves, axis=-1).mean()
    noise = rng.normal(size=start.shape)
    for c in np.unique(labels):
        noise[labels == c] -= noise[labels == c].reshape(-1, d).mean(axis=0)
    noise *= residual_size / np.linalg.norm(noise, axis=-1).mean()
    return {"trained": trained, "untrained network": np.asarray(outputs[0], dtype=float),
            "after epoch 1": np.asarray(outputs[min(1, len(outputs) - 1)], dtype=float),
            "random instance translations": scaled(translations),
            "random smooth deformation": scaled(field),
            "class translations, random residual": start + class_moves + noise}


def traced_run(n_classes, level, repetition, *, seed=0, epochs=200, n_blocks=2, n_heads=10,
               n_instances=90, n_tokens=20, curve_points=10, trajectory_start="input",
               optimizer="rmsprop", lr=1e-2, n_features=2):
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
        class between the start and that epoch). 0 measures the final map only (its
        ``references``, and the summary's ``optimality``, ``matching`` and ``monge_gap``): no
        curves and no other trajectory metrics (NaN), which skips the costliest part, the
        exact OT between every two consecutive epochs of the W2 path.
    trajectory_start : {"input", "first_epoch"}, default "input"
        ``"input"``: the standardized training tokens, then the last block's output after every
        epoch up to the best one. ``"first_epoch"``: the thesis code's indexing, the outputs after
        epochs 1 to ``best_epoch - 1`` (the metrics are NaN when ``best_epoch < 3``).
    optimizer : {"rmsprop", "adam", "sgd"}, default "rmsprop"
    lr : float, default 1e-2
        The optimizer and its learning rate (thesis: keras RMSprop, 1e-2), for the optimizer
        ablation of chapter 02.
    n_features : int, default 2
        Token dimension (thesis: 2); larger values pad the class means with zeros
        (:func:`otcompanion.data.thesis_setup`).

    Returns
    -------
    dict
        ``summary``: ``n_classes``, ``level``, ``repetition``, ``n_features``, ``seed``,
        ``best_epoch``, ``layer_norm_jacobian`` (the largest, over the encoder's LayerNorms, of
        the median spectral norm of the LayerNorm's Jacobian at the training tokens,
        :func:`otcompanion.attention.layer_norm_jacobians`), ``residual_optimality``,
        ``translation_share`` and ``uc_monge_gap`` of the trained map
        (:func:`otcompanion.metrics.map_metrics`),
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
        And ``step_seconds``: :attr:`otcompanion.attention.TransformerFit.step_seconds`, the
        fit's CPU time in gradient steps up to the end of every epoch.
    """
    options = dict(n_classes=check_choice(n_classes, "n_classes", (2, 3)),
                   level=check_int(level, "level", 1),
                   repetition=check_int(repetition, "repetition", 0),
                   seed=check_int(seed, "seed", 0), epochs=check_int(epochs, "epochs", 1),
                   n_blocks=check_int(n_blocks, "n_blocks", 1),
                   n_heads=check_int(n_heads, "n_heads", 1),
                   n_instances=check_int(n_instances, "n_instances", 1),
                   n_tokens=check_int(n_tokens, "n_tokens", 1),
                   curve_points=check_int(curve_points, "curve_points", 0),
                   trajectory_start=check_choice(trajectory_start, "trajectory_start",
                                                 TRAJECTORY_STARTS),
                   optimizer=check_choice(optimizer, "optimizer", OPTIMIZERS),
                   lr=check_positive(lr, "lr"), n_features=check_int(n_features, "n_features", 2))
    return engine.cached(_traced_run, **options)


def _traced_run(n_classes, level, repetition, seed, epochs, n_blocks, n_heads, n_instances,
                n_tokens, curve_points, trajectory_start, optimizer, lr, n_features):
    run = run_seed(seed, n_classes, level, repetition)
    X_train, X_test, y_train, y_test = thesis_split(n_classes, level, n_instances=n_instances,
                                                    n_tokens=n_tokens, seed=run,
                                                    n_features=n_features)
    fit = train_transformer(X_train, y_train, X_test, y_test, epochs=epochs, n_blocks=n_blocks,
                            n_heads=n_heads, seed=run, attention_every=0, optimizer=optimizer,
                            lr=lr)
    started = time.perf_counter()
    keys = {"n_classes": n_classes, "level": level, "repetition": repetition}
    until_best = fit.history[fit.history["epoch"] <= fit.best_epoch]
    plateau = epochs_to_accuracy(until_best, until_best["val_instance_accuracy"].max())
    summary = {
        **keys, "n_features": n_features, "seed": run, "best_epoch": fit.best_epoch,
        "layer_norm_jacobian": float(
            layer_norm_jacobians(fit.model, fit.trace.inputs)["median"].max()),
        "fit_seconds": fit.fit_seconds,
        "instance_accuracy": fit.test_metrics["instance_accuracy"],
        "token_accuracy": fit.test_metrics["token_accuracy"],
        "equal_length_efficiency": metrics.equal_length_efficiency(fit.trace.labels,
                                                                   X_train.shape[1]),
    }
    # Index t of the trajectory is the output after epoch t + offset.
    offset = 0 if trajectory_start == "input" else 1
    if curve_points == 0 or (trajectory_start == "first_epoch" and fit.best_epoch < 3):
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
    if curve_points > 0 and (other == "input" or fit.best_epoch >= 3):
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
    trained = references.set_index("map").loc["trained"]
    summary.update({name: float(trained[name])
                    for name in ("residual_optimality", "translation_share", "uc_monge_gap")})
    if curve_points == 0:  # the final map's own quantities (the same values as the curves')
        summary.update({name: float(trained[name])
                        for name in ("optimality", "matching", "monge_gap")})
    sublayers = fit.trace.sublayer_moves()
    summary["metrics_seconds"] = time.perf_counter() - started
    summary.update({"optimizer": optimizer, "lr": lr})
    summary.update({name: value for name, value in fit.test_metrics.items()
                    if name.startswith("recall_")})
    curves["on_grid"] = (curves["epoch"].isin(curve_steps(epochs, curve_points))
                         if curve_points else False)
    history = fit.history.copy()
    tables = {"curves": curves, "history": history, "starts": pd.DataFrame(starts),
              "references": references, "sublayers": sublayers}
    for table in tables.values():
        for position, (name, value) in enumerate(keys.items()):
            table.insert(position, name, value)
    return {"summary": summary, **tables, "step_seconds": fit.step_seconds}


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


def final_map_reading(summary, references):
    """Claim 1 on chapter 02's runs: is the trained map near an optimal one?

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per traced run (:func:`traced_run`'s ``summary``), with ``setup``, ``level``,
        ``repetition`` and ``optimality``.
    references : pandas.DataFrame
        The runs' ``references`` tables (one row per run and map), with ``setup``.

    Returns
    -------
    dict
        ``verdict`` (:func:`otcompanion.claims.final_map_verdict` of the per-setup intervals of
        the optimality against :data:`otcompanion.claims.OPTIMALITY_THRESHOLD`),
        ``lowest_bound`` (the lowest lower end of those intervals), ``beats_null`` (the
        trained map's optimality above that of the null map that keeps its class moves,
        *class translations, random residual* of :func:`reference_maps`, in every setup,
        paired by run) and ``versus`` (those paired differences, optimality and matching).
    """
    versus = stats.paired_differences(
        references, ["setup"], ["level", "repetition"], "map", "trained",
        "class translations, random residual", ["optimality", "matching"])
    intervals = stats.interval_frame(summary, ["setup"], ["optimality"])
    near_one = claims.interval_outcomes(intervals, claims.OPTIMALITY_THRESHOLD, "above")
    beats_null = bool((versus.loc[versus["quantity"] == "optimality", "low"] > 0).all())
    return {"verdict": claims.final_map_verdict(near_one, beats_null),
            "lowest_bound": float(intervals["low"].min()), "beats_null": beats_null,
            "versus": versus}


def trajectory_reading(summary):
    """Claim 2 on chapter 02's runs: is the trajectory inefficient?

    Returns
    -------
    dict
        ``verdict`` (:func:`otcompanion.claims.trajectory_verdict` of ``upper``) and
        ``upper``, the largest upper end over the setups of the 95 % intervals of the
        straightness and of the W2 path efficiency.
    """
    intervals = stats.interval_frame(summary, ["setup"], ["straightness", "w2_path_efficiency"])
    upper = float(intervals["high"].max())
    return {"verdict": claims.trajectory_verdict(upper), "upper": upper}


#: Chapter 02's optimizer ablation: the thesis's setting, and the least mean test accuracy of
#: a setting whose paths are compared (a setting that did not learn says nothing about paths).
THESIS_OPTIMIZER, THESIS_LR, LEARNED_ACCURACY = "rmsprop", "0.01", 0.9


def optimizer_ablation_reading(ablation, seed=0):
    """What chapter 02's optimizer ablation says about the straightness of the paths.

    The settings (optimizer, learning rate) whose runs reach a mean test accuracy of at least
    :data:`LEARNED_ACCURACY` form a family. Each is compared with the thesis's setting
    (RMSprop at ``0.01``), paired on the repetition (same data and initial weights), at its
    Holm-adjusted level (:func:`otcompanion.stats.holm_paired_differences`); the highest
    upper end of straightness over the family comes from simultaneous (Bonferroni) intervals,
    each at the level :math:`1 - 0.05 / m` for :math:`m` settings.

    Parameters
    ----------
    ablation : pandas.DataFrame
        One row per run, with ``optimizer``, ``lr`` (text, e.g. ``"0.01"``), ``repetition``,
        ``instance_accuracy`` and ``straightness``.
    seed : int, default 0

    Returns
    -------
    dict
        ``best`` (the (optimizer, lr) of the straightest learned setting, or None),
        ``best_values`` and ``thesis_values`` (their straightness per run), ``straighter``
        (whether the best setting's paths are straighter than the thesis's at its Holm level),
        ``versus_thesis`` (the family's paired differences), ``settings`` (its size) and
        ``highest`` (the highest simultaneous upper end, NaN for an empty family).
    """
    check_columns(ablation, ["optimizer", "lr", "repetition", "instance_accuracy",
                             "straightness"], "ablation")
    runs = ablation.assign(setting=ablation["optimizer"] + " " + ablation["lr"].astype(str))
    thesis = f"{THESIS_OPTIMIZER} {THESIS_LR}"
    accuracy = runs.groupby("setting")["instance_accuracy"].mean()
    learned = [name for name in accuracy.index if accuracy[name] >= LEARNED_ACCURACY]
    by_setting = runs[runs["setting"].isin(learned)].groupby("setting")["straightness"]
    bounds, m = stats.bounds_of("straightness"), max(len(learned), 1)
    highest = max((stats.bootstrap_interval(values, confidence=1 - 0.05 / m, bounds=bounds,
                                            seed=seed)[2] for _, values in by_setting),
                  default=np.nan)
    others = [name for name in learned if name != thesis]
    versus = (stats.holm_paired_differences(runs, ["repetition"], "setting", thesis, others,
                                            "straightness", seed=seed) if others
              else pd.DataFrame(columns=["compared", "difference", "low", "high"]))
    best = max(learned, key=lambda name: by_setting.get_group(name).mean(), default=None)
    row = versus[versus["compared"] == best]
    key = tuple(runs.loc[runs["setting"] == best, ["optimizer", "lr"]].iloc[0]) if best else None
    return {"best": key, "best_values": by_setting.get_group(best) if best else pd.Series(
                dtype=float),
            "thesis_values": runs.loc[runs["setting"] == thesis, "straightness"],
            "straighter": bool(len(row) and row["low"].iloc[0] > 0),
            "versus_thesis": versus, "settings": len(learned), "highest": float(highest)}
