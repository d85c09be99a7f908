"""Chapter 06's sweeps: multi-head attention runs over head counts and sample sizes.

The multi-head chapter tests the claim of Deora et al. (TMLR 2024) that gradient descent on
single-layer multi-head attention converges and generalizes, with guarantees that improve with
the number of heads :math:`H`. The model, its data and the margin solver are in
:mod:`otcompanion.multihead`; this module runs them over the chapter's grids:

- :func:`multihead_run`: one seeded run of :func:`otcompanion.multihead.train_multihead` with
  every measure of the chapter (losses, errors and their gaps, NTK margins, attention on the
  relevant tokens, the optimal-transport view through :mod:`otcompanion.metrics`), and
  :func:`multihead_jobs`, the jobs of a grid of them;
- :func:`thesis_heads_run`: one run of the thesis Transformer with a given number of heads
  (:func:`otcompanion.experiments.grid.traced_run`), and :func:`thesis_heads_jobs`, the jobs of
  a heads sweep.

The jobs are run by :func:`otcompanion.engine.run_jobs`; every run is seeded by
:func:`otcompanion.experiments.grid.run_seed` from its coordinates.

References
----------
- P. Deora, R. Ghaderi, H. Taheri, C. Thrampoulidis. *On the Optimization and Generalization
  of Multi-head Attention*. Transactions on Machine Learning Research, 2024. arXiv:2310.12680.
- M. E. Sander, P. Ablin, M. Blondel, G. Peyré. *Sinkformers: Transformers with Doubly
  Stochastic Attention*. AISTATS 2022. arXiv:2110.11773.
"""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.linear_model import LogisticRegression

from otcompanion import metrics
from otcompanion._validation import (
    check_choice,
    check_int,
    check_int_sequence,
    check_positive,
    check_real,
)
from otcompanion.experiments.grid import run_seed, traced_run
from otcompanion.multihead import (
    SCALINGS,
    _check_mixture,
    ntk_margin,
    relevant_attention,
    tokenized_mixture,
    train_multihead,
)
from otcompanion.pretrain import epochs_to_accuracy


def _check_run_options(*, seed=0, n_test=500, steps=200, lr=1.0, scaling="sqrt", n_tokens=8,
                       n_features=8, n_relevant=2, n_noise_clusters=4, signal=1.0,
                       noise_norm=1.0, sigma=0.5, readout_std=1.0, key_query_std=0.1,
                       trace_points=11, ot_instances=20, curve_every=5):
    """Every option of :func:`multihead_run` except the run's coordinates, validated."""
    return dict(
        seed=check_int(seed, "seed", 0), n_test=check_int(n_test, "n_test", 2),
        steps=check_int(steps, "steps", 1), lr=check_positive(lr, "lr"),
        scaling=check_choice(scaling, "scaling", SCALINGS),
        **_check_mixture(n_tokens, n_features, n_relevant, n_noise_clusters, signal, noise_norm,
                         sigma),
        readout_std=check_real(readout_std, "readout_std", 0.0),
        key_query_std=check_real(key_query_std, "key_query_std", 0.0),
        trace_points=check_int(trace_points, "trace_points", 2),
        ot_instances=check_int(ot_instances, "ot_instances", 2),
        curve_every=check_int(curve_every, "curve_every", 1))


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


def multihead_run(n_heads, n_train, repetition, *, seed=0, n_test=500, steps=200, lr=1.0,
                  scaling="sqrt", n_tokens=8, n_features=8, n_relevant=2, n_noise_clusters=4,
                  signal=1.0, noise_norm=1.0, sigma=0.5, readout_std=1.0, key_query_std=0.1,
                  trace_points=11, ot_instances=20, curve_every=5):
    """One seeded run: data, training and every measure of the multi-head chapter.

    The data are drawn by :func:`~otcompanion.multihead.tokenized_mixture` with seeds
    :func:`~otcompanion.experiments.grid.run_seed` ``(seed, n_train, repetition, 0)`` (training) and
    ``(seed, n_train, repetition, 1)`` (test), so runs with different ``n_heads`` see the same
    data and can be compared pair by pair; the model is initialized with ``run_seed(seed,
    n_train, repetition, n_heads)``.

    Measures, at the initialization (``_init``) or the last step (``_end`` and unmarked):
    losses and errors, their test-minus-train gaps, the distances of
    :class:`~otcompanion.multihead.MultiHeadFit`'s history, the NTK margin
    (:func:`~otcompanion.multihead.ntk_margin`, normalized), the attention mass on relevant
    tokens (:func:`~otcompanion.multihead.relevant_attention`), and the optimal-transport
    view on the first ``ot_instances`` training instances: the total-variation distance from
    :math:`A_h/T` to the Sinkhorn plan of the cost :math:`-X W_h X^\\top`
    (:func:`otcompanion.metrics.attention_coupling_metrics`, Sander et al., 2022), averaged over
    instances and heads, and the :func:`~otcompanion.metrics.straightness` and
    :func:`~otcompanion.metrics.w2_path_efficiency` of the token trajectory (the head-averaged
    outputs at the traced steps, from the initialization to the last step).

    Parameters
    ----------
    n_heads : int >= 1
    n_train : int >= 2
    repetition : int >= 0
    seed : int >= 0, default 0
    n_test : int >= 2, default 500
    steps, lr, scaling, readout_std, key_query_std, trace_points
        See :func:`~otcompanion.multihead.train_multihead`.
    n_tokens, n_features, n_relevant, n_noise_clusters, signal, noise_norm, sigma
        See :func:`~otcompanion.multihead.tokenized_mixture`.
    ot_instances : int >= 2, default 20
        Training instances measured in the OT view (capped at ``n_train``).
    curve_every : int >= 1, default 5
        Steps between the rows of the returned history (and between test evaluations,
        ``test_every`` of :func:`~otcompanion.multihead.train_multihead`); the last step is
        always kept.

    Returns
    -------
    summary : dict
        ``n_heads``, ``n_train``, ``repetition``, ``scaling``, ``seed`` (the model's),
        ``fit_seconds`` and the :data:`~otcompanion.multihead.RUN_MEASURES`.
    history : pandas.DataFrame
        The training history at the kept steps, with ``n_heads``, ``n_train`` and
        ``repetition`` columns.
    coupling : pandas.DataFrame
        Per traced step: ``step``, mean ``column_deviation`` and ``tv_to_sinkhorn``, and
        ``relevant_attention``, with the run's coordinates.
    """
    n_heads = check_int(n_heads, "n_heads", 1)
    n_train = check_int(n_train, "n_train", 2)
    repetition = check_int(repetition, "repetition", 0)
    options = _check_run_options(
        seed=seed, n_test=n_test, steps=steps, lr=lr, scaling=scaling, n_tokens=n_tokens,
        n_features=n_features, n_relevant=n_relevant, n_noise_clusters=n_noise_clusters,
        signal=signal, noise_norm=noise_norm, sigma=sigma, readout_std=readout_std,
        key_query_std=key_query_std, trace_points=trace_points, ot_instances=ot_instances,
        curve_every=curve_every)
    data_options = {name: options[name] for name in
                    ("n_tokens", "n_features", "n_relevant", "n_noise_clusters", "signal",
                     "noise_norm", "sigma")}
    X_train, y_train, relevant_train = tokenized_mixture(
        n_train, seed=run_seed(seed, n_train, repetition, 0), **data_options)
    X_test, y_test, _ = tokenized_mixture(n_test, seed=run_seed(seed, n_train, repetition, 1),
                                          **data_options)
    model_seed = run_seed(seed, n_train, repetition, n_heads)
    fit = train_multihead(X_train, y_train, X_test, y_test, n_heads=n_heads, steps=steps, lr=lr,
                          scaling=scaling, readout_std=readout_std,
                          key_query_std=key_query_std, seed=model_seed,
                          relevant=relevant_train, trace_points=trace_points,
                          test_every=curve_every)
    first, last = fit.history.iloc[0], fit.history.iloc[-1]
    margin_init = ntk_margin(X_train, y_train, fit.W0, fit.U0, scaling)
    margin_end = ntk_margin(X_train, y_train, fit.W, fit.U, scaling)
    shown = slice(0, min(ot_instances, n_train))
    attention = fit.attention[:, shown]
    coupling = metrics.attention_coupling_metrics(
        attention, fit.logits[:, shown], index_names=("trace", "instance", "head"),
        max_iter=10_000)
    coupling = coupling.groupby("trace", as_index=False)[["column_deviation",
                                                          "tv_to_sinkhorn"]].mean()
    coupling.insert(0, "step", fit.trace_steps[coupling["trace"]])
    coupling = coupling.drop(columns="trace")
    coupling["relevant_attention"] = relevant_attention(attention, relevant_train[shown])
    trajectory = fit.token_outputs[:, shown]
    keys = {"n_heads": n_heads, "n_train": n_train, "repetition": repetition}
    summary = {
        **keys, "scaling": scaling, "seed": model_seed, "fit_seconds": fit.fit_seconds,
        "train_loss": last["train_loss"], "test_loss": last["test_loss"],
        "train_error": last["train_error"], "test_error": last["test_error"],
        "loss_gap": last["test_loss"] - last["train_loss"],
        "error_gap": last["test_error"] - last["train_error"],
        "distance": last["distance"], "head_movement": last["head_movement"],
        "key_query_movement": last["key_query_movement"],
        "ntk_margin_init": margin_init["normalized_margin"],
        "ntk_margin_end": margin_end["normalized_margin"],
        "relevant_attention_init": first["relevant_attention"],
        "relevant_attention_end": last["relevant_attention"],
        "tv_to_sinkhorn_init": float(coupling["tv_to_sinkhorn"].iloc[0]),
        "tv_to_sinkhorn_end": float(coupling["tv_to_sinkhorn"].iloc[-1]),
        "straightness": metrics.straightness(trajectory),
        "w2_path_efficiency": metrics.w2_path_efficiency(trajectory, y_train[shown]),
    }
    history = fit.history[fit.history["test_loss"].notna()].reset_index(drop=True)
    for frame in (history, coupling):
        for position, (name, value) in enumerate(keys.items()):
            frame.insert(position, name, value)
    return summary, history, coupling


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
