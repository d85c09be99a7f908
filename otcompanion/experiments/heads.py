"""Chapter 06's sweeps: multi-head attention runs over head counts, sample sizes, step sizes
and initialization scales.

The multi-head chapter tests the claim of Deora et al. (TMLR 2024) that gradient descent on
single-layer multi-head attention converges and generalizes, with guarantees that improve with
the number of heads :math:`H`, and the mechanism behind it: training close to the model's
linearization at the initialization. The model, its data, its linearization and the margin
solver are in :mod:`otcompanion.multihead`; this module runs them over the chapter's grids:

- :func:`multihead_run`: one seeded run of :func:`otcompanion.multihead.train_multihead` with
  every measure of the chapter (losses, errors and their gaps, the rates in the units of the
  bounds, NTK margins, the linearized model trained beside the network, attention on the
  relevant tokens), and :func:`multihead_jobs`, the jobs of a grid of them;
- :func:`pooling_baselines`: linear classifiers without attention on the same data;
- :data:`HEADS_PROFILES` and :func:`heads_profile`: the chapter's ``"book"`` and ``"thesis"``
  sizes;
- :func:`holm_differences`: the chapter's family of paired comparisons at Bonferroni-Holm
  levels;
- :func:`thesis_heads_run`: one run of the thesis Transformer with a given number of heads
  (:func:`otcompanion.experiments.grid.traced_run`), and :func:`thesis_heads_jobs`, the jobs of
  a heads sweep.

The jobs are run by :func:`otcompanion.engine.run_jobs`; every run is seeded by
:func:`otcompanion.experiments.grid.run_seed` from its coordinates, so its numbers do not
depend on the scheduler.

References
----------
- P. Deora, R. Ghaderi, H. Taheri, C. Thrampoulidis. *On the Optimization and Generalization
  of Multi-head Attention*. Transactions on Machine Learning Research, 2024. arXiv:2310.12680.
- H. Taheri, C. Thrampoulidis. *Generalization and Stability of Interpolating Neural Networks
  with Minimal Width*. Journal of Machine Learning Research 25, 2024. arXiv:2302.09235.
- S. Holm. *A simple sequentially rejective multiple test procedure*. Scandinavian Journal of
  Statistics 6(2):65-70, 1979.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from otcompanion import stats
from otcompanion._validation import (
    check_choice,
    check_int,
    check_int_sequence,
    check_positive,
    check_real,
)
from otcompanion.experiments.grid import run_seed, traced_run
from otcompanion.multihead import (
    FEATURE_MEASURES,
    RUN_MEASURES,
    SCALINGS,
    DivergedError,
    _check_mixture,
    hard_margin,
    linearized_output,
    loss_rate,
    multihead_output,
    ntk_features,
    ntk_margin,
    tokenized_mixture,
    train_linearized,
    train_multihead,
)
from otcompanion.pretrain import epochs_to_accuracy


def _check_run_options(*, seed=0, n_test=500, steps=200, lr=1.0, scaling="sqrt", n_tokens=8,
                       n_features=8, n_relevant=2, n_noise_clusters=4, signal=1.0,
                       noise_norm=1.0, sigma=0.5, readout_std=1.0, key_query_std=0.1,
                       curve_every=5, features=True):
    """Every option of :func:`multihead_run` except the run's coordinates, validated."""
    if not isinstance(features, bool):
        raise TypeError(f"features must be True or False, got {features!r}.")
    return dict(
        seed=check_int(seed, "seed", 0), n_test=check_int(n_test, "n_test", 2),
        steps=check_int(steps, "steps", 1), lr=check_positive(lr, "lr"),
        scaling=check_choice(scaling, "scaling", SCALINGS),
        **_check_mixture(n_tokens, n_features, n_relevant, n_noise_clusters, signal, noise_norm,
                         sigma),
        readout_std=check_real(readout_std, "readout_std", 0.0),
        key_query_std=check_real(key_query_std, "key_query_std", 0.0),
        curve_every=check_int(curve_every, "curve_every", 1), features=features)


def _checked_options(options, check, run):
    """``check(**options)``; an option ``check`` does not take is a TypeError naming ``run``."""
    unknown = sorted(set(options) - set(inspect.signature(check).parameters))
    if unknown:
        raise TypeError(f"unknown option(s) {unknown} for {run}.")
    return check(**options)


def multihead_jobs(heads, sample_sizes, n_repetitions, **options):
    """The jobs of a grid of :func:`multihead_run`: every head count, sample size and
    repetition, all options checked before any run starts.

    Parameters
    ----------
    heads : list of int >= 1
        Numbers of heads :math:`H`, no repeats.
    sample_sizes : list of int >= 2
        Training-set sizes :math:`n`, no repeats.
    n_repetitions : int >= 1
    **options
        Other arguments of :func:`multihead_run` (``seed``, ``steps``, ``lr``, data options…).

    Returns
    -------
    list of dict
        Keyword arguments of one :func:`multihead_run` each, ordered by sample size, head
        count, repetition; e.g. for :func:`otcompanion.engine.run_jobs`.
    """
    heads = check_int_sequence(heads, "heads", 1)
    sample_sizes = check_int_sequence(sample_sizes, "sample_sizes", 2)
    n_repetitions = check_int(n_repetitions, "n_repetitions", 1)
    options = _checked_options(options, _check_run_options, "multihead_run")
    return [dict(n_heads=n_heads, n_train=n_train, repetition=repetition, **options)
            for n_train in sample_sizes for n_heads in heads
            for repetition in range(n_repetitions)]


def _linearization(fit, X_train, y_train, X_test, y_test, features, options):
    """The measures of the linearized model trained beside ``fit`` (same data, start, steps
    and step size): its training loss, test error, distance travelled, and how far its test
    outputs are from the network's."""
    lin = train_linearized(X_train, y_train, fit.W0, fit.U0, steps=options["steps"],
                           lr=options["lr"], scaling=options["scaling"], features=features)
    network = multihead_output(X_test, fit.W, fit.U, options["scaling"])["output"]
    start = multihead_output(X_test, fit.W0, fit.U0, options["scaling"])["output"]
    linear = linearized_output(X_test, fit.W0, fit.U0, lin.W, lin.U, options["scaling"])
    distance = float(np.sqrt(np.mean((network - linear) ** 2)))
    moved = float(np.sqrt(np.mean((network - start) ** 2)))
    return {"lin_train_loss": float(lin.history["train_loss"].iloc[-1]),
            "lin_test_error": float(np.mean(y_test * linear <= 0)),
            "lin_distance": float(lin.history["distance"].iloc[-1]),
            "lin_output_distance": distance,
            "lin_relative_distance": distance / moved if moved > 0 else np.nan,
            "lin_agreement": float(np.mean(np.sign(network) == np.sign(linear)))}


def multihead_run(n_heads, n_train, repetition, *, seed=0, n_test=500, steps=200, lr=1.0,
                  scaling="sqrt", n_tokens=8, n_features=8, n_relevant=2, n_noise_clusters=4,
                  signal=1.0, noise_norm=1.0, sigma=0.5, readout_std=1.0, key_query_std=0.1,
                  curve_every=5, features=True):
    """One seeded run: data, training and every measure of the multi-head chapter.

    The data are drawn by :func:`~otcompanion.multihead.tokenized_mixture` with seeds
    :func:`~otcompanion.experiments.grid.run_seed` ``(seed, n_train, repetition, 0)``
    (training) and ``(seed, n_train, repetition, 1)`` (test), so runs with different
    ``n_heads`` (or step sizes, or initialization scales) see the same data and can be compared
    pair by pair; the model is initialized with ``run_seed(seed, n_train, repetition,
    n_heads)``. Every number depends on these seeds only, not on which worker ran the job.

    Measures, at the initialization (``_init``) or the last step :math:`K` (``_end`` and
    unmarked):

    - losses and errors and their test-minus-train gaps; the distances of
      :class:`~otcompanion.multihead.MultiHeadFit`'s history (``distance`` is
      :math:`g = \\lVert\\theta_K - \\theta_0\\rVert`); the attention mass on relevant tokens
      (:func:`~otcompanion.multihead.relevant_attention`);
    - the rates: ``peak_loss_ratio``, the largest training loss over the steps divided by the
      first (above 1 when the loss rose on the way); ``loss_slope``
      (:func:`~otcompanion.multihead.loss_rate`); ``normalized_loss``
      :math:`\\hat L_K\\, \\eta K / g^2` and ``gap_ratio``, the loss gap over :math:`g^2/n`:
      the training loss and the generalization gap in the units of the bounds
      :math:`O(g^2/(\\eta K))` and :math:`O(g^2/n)` of Taheri & Thrampoulidis (2024) and Deora
      et al. (2024), bounded across settings when the bounds' shapes hold;
    - with ``features=True``: the normalized NTK margins
      (:func:`~otcompanion.multihead.ntk_margin`), and the linearized model
      (:func:`~otcompanion.multihead.train_linearized`) trained beside the network from the
      same start: its final training loss and test error, its distance travelled, and on the
      test instances the root-mean-square distance between its outputs and the network's
      (``lin_output_distance``), that distance over the root-mean-square change of the
      network's outputs from the initialization (``lin_relative_distance``: 0 when the network
      moved exactly as its linearization, about 1 or more when the linearization misses the
      change), and the share of test instances both classify alike (``lin_agreement``).

    A run whose training loss becomes non-finite
    (:class:`~otcompanion.multihead.DivergedError`) returns ``diverged`` True, NaN measures
    and an empty history.

    Parameters
    ----------
    n_heads : int >= 1
    n_train : int >= 2
    repetition : int >= 0
    seed : int >= 0, default 0
    n_test : int >= 2, default 500
    steps, lr, scaling, readout_std, key_query_std
        See :func:`~otcompanion.multihead.train_multihead`.
    n_tokens, n_features, n_relevant, n_noise_clusters, signal, noise_norm, sigma
        See :func:`~otcompanion.multihead.tokenized_mixture`.
    curve_every : int >= 1, default 5
        Steps between the rows of the returned history (and between test evaluations,
        ``test_every`` of :func:`~otcompanion.multihead.train_multihead`); the last step is
        always kept.
    features : bool, default True
        Compute the :data:`~otcompanion.multihead.FEATURE_MEASURES` (NaN otherwise; the
        cheaper runs of a step-size sweep leave them out).

    Returns
    -------
    summary : dict
        ``n_heads``, ``n_train``, ``repetition``, ``scaling``, ``lr``, ``key_query_std``,
        ``seed`` (the model's), ``diverged``, ``fit_seconds`` and the
        :data:`~otcompanion.multihead.RUN_MEASURES`.
    history : pandas.DataFrame
        The training history at the kept steps, with ``n_heads``, ``n_train`` and
        ``repetition`` columns.
    """
    n_heads = check_int(n_heads, "n_heads", 1)
    n_train = check_int(n_train, "n_train", 2)
    repetition = check_int(repetition, "repetition", 0)
    options = _check_run_options(
        seed=seed, n_test=n_test, steps=steps, lr=lr, scaling=scaling, n_tokens=n_tokens,
        n_features=n_features, n_relevant=n_relevant, n_noise_clusters=n_noise_clusters,
        signal=signal, noise_norm=noise_norm, sigma=sigma, readout_std=readout_std,
        key_query_std=key_query_std, curve_every=curve_every, features=features)
    data_options = {name: options[name] for name in
                    ("n_tokens", "n_features", "n_relevant", "n_noise_clusters", "signal",
                     "noise_norm", "sigma")}
    X_train, y_train, relevant_train = tokenized_mixture(
        n_train, seed=run_seed(seed, n_train, repetition, 0), **data_options)
    X_test, y_test, _ = tokenized_mixture(n_test, seed=run_seed(seed, n_train, repetition, 1),
                                          **data_options)
    model_seed = run_seed(seed, n_train, repetition, n_heads)
    keys = {"n_heads": n_heads, "n_train": n_train, "repetition": repetition}
    head = {**keys, "scaling": scaling, "lr": float(lr),
            "key_query_std": float(key_query_std), "seed": model_seed}
    try:
        fit = train_multihead(X_train, y_train, X_test, y_test, n_heads=n_heads, steps=steps,
                              lr=lr, scaling=scaling, readout_std=readout_std,
                              key_query_std=key_query_std, seed=model_seed,
                              relevant=relevant_train, trace_points=2, test_every=curve_every)
    except DivergedError:
        return ({**head, "diverged": True, "fit_seconds": np.nan,
                 **dict.fromkeys(RUN_MEASURES, np.nan)},
                pd.DataFrame(columns=[*keys, "step", "train_loss", "test_loss"]))
    trained = fit.history
    first, last = trained.iloc[0], trained.iloc[-1]
    g = float(last["distance"])
    summary = {
        **head, "diverged": False, "fit_seconds": fit.fit_seconds,
        "train_loss": last["train_loss"], "test_loss": last["test_loss"],
        "train_error": last["train_error"], "test_error": last["test_error"],
        "loss_gap": last["test_loss"] - last["train_loss"],
        "error_gap": last["test_error"] - last["train_error"],
        "distance": g, "head_movement": last["head_movement"],
        "key_query_movement": last["key_query_movement"],
        "relevant_attention_init": first["relevant_attention"],
        "relevant_attention_end": last["relevant_attention"],
        "peak_loss_ratio": float(trained["train_loss"].max() / first["train_loss"]),
        "loss_slope": loss_rate(trained["step"], trained["train_loss"]),
        "normalized_loss": (last["train_loss"] * fit.step * steps / g**2 if g > 0
                            else np.nan),
        "gap_ratio": (last["test_loss"] - last["train_loss"]) / (g**2 / n_train) if g > 0
        else np.nan,
        **dict.fromkeys(FEATURE_MEASURES, np.nan),
    }
    if features:
        gradients = ntk_features(X_train, y_train, fit.W0, fit.U0, scaling)
        summary["ntk_margin_init"] = _normalized_margin(gradients)
        summary["ntk_margin_end"] = ntk_margin(X_train, y_train, fit.W, fit.U,
                                               scaling)["normalized_margin"]
        summary.update(_linearization(fit, X_train, y_train, X_test, y_test, gradients,
                                      options))
    history = trained[trained["test_loss"].notna()].reset_index(drop=True)
    for position, (name, value) in enumerate(keys.items()):
        history.insert(position, name, value)
    return summary, history


def _normalized_margin(features):
    """:func:`~otcompanion.multihead.ntk_margin`'s ``normalized_margin`` from features
    already computed."""
    largest = float(np.linalg.norm(features, axis=1).max())
    margin = hard_margin(features @ features.T)["margin"]
    return margin / largest if largest > 0 else 0.0


#: The baselines of :func:`pooling_baselines`, in reading order: what a linear classifier
#: reaches when it averages every token, reads every token, or reads only the relevant ones.
BASELINES = ("mean pooling", "flattened tokens", "relevant tokens (oracle)")


def pooling_baselines(n_train, repetition, *, seed=0, n_test=500, n_tokens=8, n_features=8,
                      n_relevant=2, n_noise_clusters=4, signal=1.0, noise_norm=1.0, sigma=0.5):
    """Test errors of linear classifiers on the data of :func:`multihead_run`, without attention.

    On the same training and test data as every run with ``n_train`` and ``repetition``
    (the seeds of :func:`multihead_run`), an L2-regularized logistic regression
    (scikit-learn's ``LogisticRegression``, ``C = 1``) reads

    - ``"mean pooling"``: the mean of the tokens, :math:`\\frac1T \\sum_t x_t` (what uniform
      attention gives the readout);
    - ``"flattened tokens"``: all :math:`T d` coordinates, in order;
    - ``"relevant tokens (oracle)"``: the mean of the relevant tokens only, their positions
      known (what attention that selects them perfectly would give).

    Multi-head attention that only averages matches the first; attention that learns to select
    the relevant tokens approaches the third (Deora et al., 2024, whose tokenized mixture
    rewards selection).

    Returns
    -------
    dict
        ``n_train``, ``repetition`` and the test error of each of :data:`BASELINES`.
    """
    n_train = check_int(n_train, "n_train", 2)
    repetition = check_int(repetition, "repetition", 0)
    data_options = dict(zip(
        ("n_tokens", "n_features", "n_relevant", "n_noise_clusters", "signal", "noise_norm",
         "sigma"),
        _check_mixture(n_tokens, n_features, n_relevant, n_noise_clusters, signal, noise_norm,
                       sigma).values()))
    X_train, y_train, relevant_train = tokenized_mixture(
        n_train, seed=run_seed(seed, n_train, repetition, 0), **data_options)
    X_test, y_test, relevant_test = tokenized_mixture(
        check_int(n_test, "n_test", 2), seed=run_seed(seed, n_train, repetition, 1),
        **data_options)

    def relevant_mean(X, relevant):
        return (X * relevant[..., None]).sum(axis=1) / relevant.sum(axis=1, keepdims=True)

    features = {"mean pooling": lambda X, relevant: X.mean(axis=1),
                "flattened tokens": lambda X, relevant: X.reshape(len(X), -1),
                "relevant tokens (oracle)": relevant_mean}
    errors = {}
    for name, read in features.items():
        model = LogisticRegression(max_iter=5000).fit(read(X_train, relevant_train), y_train)
        errors[name] = float(np.mean(model.predict(read(X_test, relevant_test)) != y_test))
    return {"n_train": n_train, "repetition": repetition, **errors}


#: Chapter 06's sizes: ``"book"`` fits the book's build budget, ``"thesis"`` runs the full
#: step-size and selection sweeps with more repetitions (every head count of the heads sweep,
#: and the thesis Transformer at the thesis's 200 epochs and 2 blocks).
HEADS_PROFILES = {
    "book": {"n_repetitions": 10, "sweep_heads": [1, 8], "bridge_heads": [1, 10],
             "bridge_epochs": 100, "bridge_blocks": 1},
    "thesis": {"n_repetitions": 30, "sweep_heads": [1, 2, 4, 8, 16, 32],
               "bridge_heads": [1, 2, 5, 10, 20], "bridge_epochs": 200, "bridge_blocks": 2},
}


def heads_profile(profile, **overrides):
    """The settings of chapter 06 for ``profile`` (:data:`HEADS_PROFILES`), with explicit
    values taking precedence; ``None``, 0 or an empty list means "the profile's value".

    Returns
    -------
    dict
        Every key of the profile, checked.
    """
    if profile not in HEADS_PROFILES:
        raise ValueError(f"profile must be one of {sorted(HEADS_PROFILES)}, got {profile!r}.")
    unknown = sorted(set(overrides) - set(HEADS_PROFILES[profile]))
    if unknown:
        raise TypeError(f"unknown setting(s) {unknown}; the profiles set "
                        f"{sorted(HEADS_PROFILES[profile])}.")
    settings = {**HEADS_PROFILES[profile],
                **{name: value for name, value in overrides.items()
                   if value is not None and not (isinstance(value, (int, list)) and not value)}}
    return {"n_repetitions": check_int(settings["n_repetitions"], "n_repetitions", 2),
            "sweep_heads": check_int_sequence(settings["sweep_heads"], "sweep_heads", 1),
            "bridge_heads": check_int_sequence(settings["bridge_heads"], "bridge_heads", 1),
            "bridge_epochs": check_int(settings["bridge_epochs"], "bridge_epochs", 1),
            "bridge_blocks": check_int(settings["bridge_blocks"], "bridge_blocks", 1)}


def holm_differences(comparisons, confidence=stats.CONFIDENCE, seed=0):
    """A family of paired comparisons, each drawn at its Bonferroni-Holm level.

    Each comparison is ``(frame, column, first, second, by)``: the runs of ``frame`` with
    ``by == first`` minus those with ``by == second``, paired on the ``repetition`` (same data,
    :func:`multihead_run`). Its two-sided p-value is the paired t test's
    (:func:`otcompanion.stats.paired_p_value`); the levels of :func:`otcompanion.stats.holm_levels`
    (Holm, 1979) then keep the chance of any false "told apart" in the whole family at
    ``1 - confidence``, and every interval and verdict is drawn at its level
    (:func:`otcompanion.stats.paired_differences`).

    Parameters
    ----------
    comparisons : dict
        Name -> ``(frame, column, first, second, by)``.
    confidence : float, default 0.95
        The family's level.
    seed : int, default 0

    Returns
    -------
    pandas.DataFrame
        Indexed by name: the columns of :func:`otcompanion.stats.paired_differences`, with
        ``p_value`` and ``confidence`` (the comparison's Holm level).
    """
    if not comparisons:
        raise ValueError("comparisons must name at least one comparison.")
    p_values = []
    for frame, column, first, second, by in comparisons.values():
        left = frame[frame[by] == first].set_index("repetition")[column]
        right = frame[frame[by] == second].set_index("repetition")[column]
        p_values.append(stats.paired_p_value((left - right).dropna().to_numpy()))
    levels = stats.holm_levels(np.nan_to_num(p_values, nan=1.0), confidence)
    rows = [stats.paired_differences(frame, [], ["repetition"], by, first, second, [column],
                                     seed=seed, confidence=level).iloc[0]
            for (frame, column, first, second, by), level in zip(comparisons.values(), levels)]
    table = pd.DataFrame(rows, index=list(comparisons))
    table["p_value"], table["confidence"] = p_values, levels
    return table


#: The comparisons of chapter 06's family that decide its finding
#: (:func:`otcompanion.claims.multi_head_verdict`), in the verdict's order.
DECISIVE = ("distance to the linearized model", "NTK margin at initialization", "test error",
            "test error against mean pooling")


def _plural(H):
    return f"{H} head{'s' * (H > 1)}"


def chapter_comparisons(by_heads, versus_pooling, by_size, selection, bridge):
    """Chapter 06's family of comparisons, for :func:`holm_differences`.

    The head counts and sizes are read from the frames: the most against the fewest heads of
    the heads sweep (``by_heads``, one training size) on the :data:`DECISIVE` measures, the
    final training loss, the loss slope, the loss gap, the movements and the relevant-token
    mass, and the NTK margin of the most heads against the middle head count (its plateau,
    with at least three head counts); the most heads against mean pooling and the oracle
    (``versus_pooling``, with a ``model`` column, :func:`pooling_baselines`); per head count of
    ``by_size``, the loss gap and the gap over :math:`g^2/n` at the largest against the
    smallest size; the relevant-token mass and test error of the selection regime
    (``selection``); and the thesis Transformer's epochs to target and test accuracy
    (``bridge``).

    Returns
    -------
    dict
        Name -> ``(frame, column, first, second, by)``.
    """
    counts = sorted(set(by_heads["H"]))
    low, high = counts[0], counts[-1]
    family = {name: (by_heads, column, high, low, "H") for name, column in (
        ("distance to the linearized model", "lin_relative_distance"),
        ("NTK margin at initialization", "ntk_margin_init"), ("test error", "test_error"))}
    family.update({
        "test error against mean pooling": (versus_pooling, "test_error", _plural(high),
                                            "mean pooling", "model"),
        "test error against the oracle": (versus_pooling, "test_error", _plural(high),
                                          "relevant tokens (oracle)", "model")})
    family.update({name: (by_heads, column, high, low, "H") for name, column in (
        ("final training loss", "train_loss"), ("loss slope", "loss_slope"),
        ("loss gap", "loss_gap"), ("movement per head", "head_movement"),
        ("key-query movement per head", "key_query_movement"),
        ("relevant-token mass", "relevant_attention_end"))})
    if len(counts) >= 3:
        middle = counts[len(counts) // 2]
        family[f"NTK margin, most heads against H = {middle}"] = (
            by_heads, "ntk_margin_init", high, middle, "H")
    sizes = sorted(set(by_size["n_train"]))
    for H in sorted(set(by_size["H"])):
        runs = by_size[by_size["H"] == H]
        family[f"loss gap, n = {sizes[-1]} against {sizes[0]}, {_plural(H)}"] = (
            runs, "loss_gap", sizes[-1], sizes[0], "n_train")
        family[f"gap over g^2/n, n = {sizes[-1]} against {sizes[0]}, {_plural(H)}"] = (
            runs, "gap_ratio", sizes[-1], sizes[0], "n_train")
    fewest, most = min(selection["H"]), max(selection["H"])
    family["relevant-token mass, selection regime"] = (selection, "relevant_attention_end",
                                                       most, fewest, "H")
    family["test error, selection regime"] = (selection, "test_error", most, fewest, "H")
    fewest, most = min(bridge["H"]), max(bridge["H"])
    family["thesis Transformer, epochs to target"] = (bridge, "epochs_to_target", most,
                                                      fewest, "H")
    family["thesis Transformer, test accuracy"] = (bridge, "instance_accuracy", most, fewest,
                                                   "H")
    return family


def _check_thesis_options(*, seed=0, n_classes=3, level=1, epochs=200, n_blocks=2,
                          target_accuracy=1.0):
    """Every option of :func:`thesis_heads_run` except the run's coordinates, validated."""
    return dict(seed=check_int(seed, "seed", 0),
                n_classes=check_choice(n_classes, "n_classes", (2, 3)),
                level=check_int(level, "level", 1), epochs=check_int(epochs, "epochs", 1),
                n_blocks=check_int(n_blocks, "n_blocks", 1),
                target_accuracy=check_real(target_accuracy, "target_accuracy", 0.0, 1.0))


def thesis_heads_jobs(heads, n_repetitions, **options):
    """The jobs of a heads sweep of :func:`thesis_heads_run`, all options checked first.

    Parameters
    ----------
    heads : list of int >= 1
    n_repetitions : int >= 1
    **options
        Other arguments of :func:`thesis_heads_run`.

    Returns
    -------
    list of dict
        Ordered by head count, then repetition.
    """
    heads = check_int_sequence(heads, "heads", 1)
    n_repetitions = check_int(n_repetitions, "n_repetitions", 1)
    options = _checked_options(options, _check_thesis_options, "thesis_heads_run")
    return [dict(n_heads=n_heads, repetition=repetition, **options)
            for n_heads in heads for repetition in range(n_repetitions)]


def thesis_heads_run(n_heads, repetition, *, seed=0, n_classes=3, level=1, epochs=200,
                     n_blocks=2, target_accuracy=1.0):
    """The thesis Transformer with ``n_heads`` heads on one thesis setup, measured.

    One :func:`otcompanion.experiments.traced_run` (the thesis protocol, Quadrio & Candelieri,
    2025; read from the run cache when a chapter computed it before) for ``(n_classes, level,
    repetition)``: its data depend on ``(seed, n_classes, level, repetition)`` only, so every
    number of heads sees the same data and head counts can be compared pair by pair. Adds the
    first epoch whose validation instance accuracy reaches ``target_accuracy``
    (:func:`otcompanion.pretrain.epochs_to_accuracy`).

    Parameters
    ----------
    n_heads : int >= 1
    repetition : int >= 0
    seed : int >= 0, default 0
    n_classes : {2, 3}, default 3
    level : int >= 1, default 1
    epochs, n_blocks : int >= 1
    target_accuracy : float in [0, 1], default 1.0

    Returns
    -------
    dict
        ``n_heads``, ``epochs_to_target`` (NaN when never reached) and the summary of
        :func:`~otcompanion.experiments.traced_run` (``repetition``, ``best_epoch``, test
        ``instance_accuracy``, ``optimality``, ``matching``, ``straightness``,
        ``w2_path_efficiency``, ``fit_seconds``, …).
    """
    n_heads = check_int(n_heads, "n_heads", 1)
    repetition = check_int(repetition, "repetition", 0)
    options = _check_thesis_options(seed=seed, n_classes=n_classes, level=level, epochs=epochs,
                                    n_blocks=n_blocks, target_accuracy=target_accuracy)
    target_accuracy = options.pop("target_accuracy")
    record = traced_run(repetition=repetition, n_heads=n_heads, **options)
    reached = epochs_to_accuracy(record["history"], target_accuracy)
    return {"n_heads": n_heads, "epochs_to_target": np.nan if reached is None else reached,
            **record["summary"]}
