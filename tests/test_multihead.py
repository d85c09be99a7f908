"""Tests of otcompanion.multihead: the tokenized mixture, the multi-head model and its training,
the NTK margin; the run and job builders of otcompanion.experiments.heads; and the numeric
interval frame and interval panels the multi-head chapter summarizes them with."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from otcompanion import multihead as mh
from otcompanion import plots, stats
from otcompanion.experiments import heads
from otcompanion.multihead import multihead_run

# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------

def test_mixture_shapes_labels_and_balance():
    X, y, relevant = mh.tokenized_mixture(7, n_tokens=5, n_features=6, n_relevant=2,
                                          n_noise_clusters=3, seed=1)
    assert X.shape == (7, 5, 6) and y.shape == (7,) and relevant.shape == (7, 5)
    assert relevant.dtype == bool and set(y.tolist()) == {-1, 1}
    assert (y == 1).sum() == 4 and (y == -1).sum() == 3  # ceil(n/2) positives
    assert np.all(relevant.sum(axis=1) == 2)


def test_mixture_places_the_means_where_documented():
    signal, noise_norm = 2.0, 0.5
    X, y, relevant = mh.tokenized_mixture(40, n_tokens=6, n_features=7, n_relevant=3,
                                          n_noise_clusters=4, signal=signal,
                                          noise_norm=noise_norm, sigma=0.0, seed=3)
    for i in range(len(X)):
        for t in range(X.shape[1]):
            token = X[i, t]
            assert np.count_nonzero(token) == 1
            axis = int(np.flatnonzero(token)[0])
            if relevant[i, t]:
                assert axis == (0 if y[i] == 1 else 1) and token[axis] == signal
            else:
                assert 2 <= axis < 6 and token[axis] == noise_norm
    # Every noise cluster is used; no irrelevant token lands on a class axis.
    irrelevant = X[~relevant]
    assert set(np.flatnonzero(irrelevant.any(axis=0)).tolist()) == {2, 3, 4, 5}


def test_mixture_positions_are_random_and_noise_has_sigma():
    X, y, relevant = mh.tokenized_mixture(400, n_tokens=8, n_relevant=2, sigma=0.3, seed=0)
    share = relevant.mean(axis=0)
    assert np.all(np.abs(share - 2 / 8) < 0.08)  # every position, about k/T of the time
    assert len({tuple(row) for row in relevant}) > 20
    clean, _, _ = mh.tokenized_mixture(400, n_tokens=8, n_relevant=2, sigma=0.0, seed=0)
    noise = X - clean
    assert abs(noise.std() - 0.3) < 0.01 and abs(noise.mean()) < 0.01


def test_mixture_seeds():
    first = mh.tokenized_mixture(20, seed=5)
    again = mh.tokenized_mixture(20, seed=5)
    other = mh.tokenized_mixture(20, seed=6)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(first[2], other[2])


@pytest.mark.parametrize("kwargs, error, name", [
    (dict(n_instances=1), ValueError, "n_instances"),
    (dict(n_instances=10.0), TypeError, "n_instances"),
    (dict(n_instances=10, n_tokens=2.5), TypeError, "n_tokens"),
    (dict(n_instances=10, n_tokens=3, n_relevant=4), ValueError, "n_relevant"),
    (dict(n_instances=10, n_relevant=0), ValueError, "n_relevant"),
    (dict(n_instances=10, n_features=5, n_noise_clusters=4), ValueError, "n_features"),
    (dict(n_instances=10, sigma=-1.0), ValueError, "sigma"),
    (dict(n_instances=10, signal=0.0), ValueError, "signal"),
    (dict(n_instances=10, seed="a"), TypeError, "seed"),
    (dict(n_instances=True), TypeError, "n_instances"),
])
def test_mixture_rejects_bad_input(kwargs, error, name):
    with pytest.raises(error, match=name):
        mh.tokenized_mixture(**kwargs)


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------

def by_hand(X, W, U):
    """One head computed with numpy, straight from the formula."""
    outputs = []
    for x in X:
        logits = x @ W @ x.T
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        outputs.append(np.sum(U * (weights @ x)))
    return np.array(outputs)


def toy(n=6, T=4, d=3, H=1, seed=0, readout_std=1.0, key_query_std=1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, T, d))
    y = np.where(np.arange(n) % 2 == 0, 1, -1)
    W, U = mh.init_parameters(H, T, d, readout_std=readout_std, key_query_std=key_query_std,
                              seed=seed)
    return X, y, W, U


@pytest.mark.parametrize("scaling", ["sqrt", "mean"])
def test_one_head_equals_a_single_head_model_by_hand(scaling):
    X, _, W, U = toy(H=1)
    out = mh.multihead_output(X, W, U, scaling)
    np.testing.assert_allclose(out["output"], by_hand(X, W[0], U[0]), rtol=1e-12)
    np.testing.assert_allclose(out["attention"].sum(axis=-1), 1.0)
    np.testing.assert_allclose(out["logits"][:, 0], np.einsum("ntd,de,nse->nts", X, W[0], X))


def test_the_two_scalings_on_copies_of_one_head():
    X, _, W, U = toy(H=1)
    single = by_hand(X, W[0], U[0])
    for H in (2, 5):
        copies = np.repeat(W, H, axis=0), np.repeat(U, H, axis=0)
        np.testing.assert_allclose(mh.multihead_output(X, *copies, "sqrt")["output"],
                                   math.sqrt(H) * single, rtol=1e-12)
        np.testing.assert_allclose(mh.multihead_output(X, *copies, "mean")["output"], single,
                                   rtol=1e-12)
    assert mh.output_scale(4, "sqrt") == 0.5 and mh.output_scale(4, "mean") == 0.25
    assert mh.step_size(0.1, 4, "sqrt") == 0.1 and mh.step_size(0.1, 4, "mean") == 0.4


def test_ntk_features_match_finite_differences():
    X, y, W, U = toy(H=3, seed=2)
    features = mh.ntk_features(X, y, W, U, "sqrt")
    assert features.shape == (len(X), W.size + U.size)
    rng = np.random.default_rng(0)
    step = 1e-6
    for index in rng.choice(features.shape[1], size=12, replace=False):
        theta = np.concatenate([W.ravel(), U.ravel()])
        plus, minus = theta.copy(), theta.copy()
        plus[index] += step
        minus[index] -= step

        def output(vector):
            return mh.multihead_output(X, vector[:W.size].reshape(W.shape),
                                       vector[W.size:].reshape(U.shape), "sqrt")["output"]

        numeric = (output(plus) - output(minus)) / (2 * step) * y
        np.testing.assert_allclose(features[:, index], numeric, rtol=1e-6, atol=1e-8)


def test_a_training_step_is_a_gradient_step_of_the_logistic_loss():
    X, y, W, U = toy(H=2, seed=4)
    fit = mh.train_multihead(X, y, n_heads=2, steps=1, lr=0.3, init=(W, U))
    output = mh.multihead_output(X, W, U)["output"]
    # grad L = -(1/n) sum_i sigmoid(-y_i Phi_i) y_i grad Phi_i, with y_i grad Phi_i the features.
    features = mh.ntk_features(X, y, W, U)
    gradient = -(features * (1 / (1 + np.exp(y * output)))[:, None]).mean(axis=0)
    theta = np.concatenate([W.ravel(), U.ravel()]) - 0.3 * gradient
    np.testing.assert_allclose(fit.W.ravel(), theta[:W.size], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fit.U.ravel(), theta[W.size:], rtol=1e-10, atol=1e-12)
    loss = np.mean(np.log1p(np.exp(-y * output)))
    assert fit.history["train_loss"].iloc[0] == pytest.approx(loss, rel=1e-12)


def test_the_scaled_step_gives_both_scalings_the_same_first_step():
    # With zero readouts both outputs start at 0 and only the readouts move in the first step
    # (the output's gradient in W_h is proportional to U_h); the step H * lr under 1/H then
    # changes the output exactly as the step lr under 1/sqrt(H).
    X, y, W, _ = toy(H=4, seed=1)
    U = np.zeros((4,) + X.shape[1:])
    after = {}
    for scaling in ("sqrt", "mean"):
        fit = mh.train_multihead(X, y, n_heads=4, steps=1, lr=0.5, scaling=scaling, init=(W, U))
        after[scaling] = mh.multihead_output(X, fit.W, fit.U, scaling)["output"]
        assert fit.step == mh.step_size(0.5, 4, scaling)
    assert np.abs(after["sqrt"]).min() > 1e-6
    np.testing.assert_allclose(after["mean"], after["sqrt"], rtol=1e-12)
    # Without the factor H the mean-field output would move H times less.
    slow = mh.train_multihead(X, y, n_heads=4, steps=1, lr=0.5 / 4, scaling="mean",
                              init=(W, U))
    np.testing.assert_allclose(mh.multihead_output(X, slow.W, slow.U, "mean")["output"] * 4,
                               after["sqrt"], rtol=1e-12)


def test_training_history_trace_and_reproducibility():
    X, y, relevant = mh.tokenized_mixture(30, sigma=0.2, seed=0)
    X_test, y_test, _ = mh.tokenized_mixture(40, sigma=0.2, seed=1)
    options = dict(n_heads=3, steps=40, lr=1.0, seed=7, relevant=relevant, trace_points=5,
                   test_every=10)
    fit = mh.train_multihead(X, y, X_test, y_test, **options)
    again = mh.train_multihead(X, y, X_test, y_test, **options)
    history = fit.history
    assert list(history["step"]) == list(range(41))
    assert history["train_loss"].iloc[-1] < 0.5 * history["train_loss"].iloc[0]
    assert history["distance"].iloc[0] == 0 and history["distance"].iloc[-1] > 0
    assert history["test_loss"].notna().sum() == 5  # steps 0, 10, 20, 30, 40
    assert np.all((history["relevant_attention"] >= 0) & (history["relevant_attention"] <= 1))
    assert list(fit.trace_steps) == [0, 10, 20, 30, 40]
    assert fit.logits.shape == (5, 30, 3, 8, 8) and fit.token_outputs.shape == (5, 30, 8, 8)
    np.testing.assert_allclose(fit.attention.sum(axis=-1), 1.0)
    # The trace matches the model at the end, and a rerun gives the same numbers.
    np.testing.assert_allclose(fit.logits[-1], mh.multihead_output(X, fit.W, fit.U)["logits"])
    pd.testing.assert_frame_equal(history, again.history)
    first = mh.relevant_attention(fit.attention[0], relevant)
    assert first == pytest.approx(history["relevant_attention"].iloc[0])


def test_relevant_attention_of_uniform_and_focused_attention():
    relevant = np.array([[True, False, False, False], [False, True, True, False]])
    uniform = np.full((2, 3, 4, 4), 0.25)
    assert mh.relevant_attention(uniform, relevant) == pytest.approx((1 / 4 + 2 / 4) / 2)
    focused = np.zeros((2, 3, 4, 4))
    focused[0, :, :, 0] = 1.0
    focused[1, :, :, 2] = 1.0
    assert mh.relevant_attention(focused, relevant) == pytest.approx(1.0)


# ----------------------------------------------------------------------------------------------
# Margins
# ----------------------------------------------------------------------------------------------

def margin_of(features, **options):
    features = np.asarray(features, dtype=float)
    return mh.hard_margin(features @ features.T, **options)


def test_hard_margin_known_cases():
    assert margin_of([[1, 1], [1, -1]])["margin"] == pytest.approx(1.0, abs=1e-6)
    # Points on the line x = 1 around the x axis: the margin is the distance 1 of the line.
    line = [[1, t] for t in (-2.0, -0.5, 0.3, 1.5, 4.0)]
    assert margin_of(line)["margin"] == pytest.approx(1.0, abs=1e-6)
    # Orthonormal features: the nearest point of their hull is their mean, norm 1/sqrt(n).
    assert margin_of(np.eye(5))["margin"] == pytest.approx(1 / math.sqrt(5), abs=1e-6)
    # Not separable: the origin is in the hull.
    result = margin_of([[1, 0], [-1, 0], [0, 1]])
    assert result["margin"] == 0.0 and result["upper_bound"] < 1e-5


def test_hard_margin_bounds_and_an_independent_solver():
    rng = np.random.default_rng(3)
    features = rng.normal(size=(15, 4)) + np.array([1.5, 0.5, 0, 0])
    result = margin_of(features, tol=1e-9)
    assert result["converged"]
    assert result["margin"] <= result["upper_bound"] <= result["margin"] + 1e-6
    solved = minimize(lambda a: np.sum((a @ features) ** 2), np.full(15, 1 / 15),
                      method="SLSQP", bounds=[(0, 1)] * 15,
                      constraints={"type": "eq", "fun": lambda a: a.sum() - 1},
                      options={"ftol": 1e-14, "maxiter": 1000})
    assert result["margin"] == pytest.approx(math.sqrt(solved.fun), rel=1e-4)
    # The separator the weights define has the margin claimed.
    direction = result["weights"] @ features
    direction /= np.linalg.norm(direction)
    assert np.min(features @ direction) == pytest.approx(result["margin"], rel=1e-6)


def test_ntk_margin_of_a_one_token_model_is_the_data_margin():
    # With T = 1 the attention is the constant 1, so Phi(x) = c_H sum_h <U_h, x>: the gradient
    # in W vanishes and the gradient in U_h is c_H x. The features are c_H y x per head, and the
    # margin of the concatenation of H equal blocks is that of y x.
    t = np.array([-1.5, -0.2, 0.4, 2.0, 3.0, -0.7])
    y = np.array([1, -1, 1, -1, 1, -1])
    X = (y[:, None] * np.stack([np.ones_like(t), t], axis=1))[:, None, :]  # y_i x_i = (1, t_i)
    W, U = mh.init_parameters(3, 1, 2, seed=0)
    result = mh.ntk_margin(X, y, W, U, "sqrt")
    assert result["margin"] == pytest.approx(1.0, abs=1e-6)
    assert result["normalized_margin"] == pytest.approx(1.0 / math.hypot(1.0, 3.0), abs=1e-6)
    result = mh.ntk_margin(X, y, W, U, "mean")  # features shrink by 1/sqrt(H)
    assert result["margin"] == pytest.approx(1.0 / math.sqrt(3), abs=1e-6)


# ----------------------------------------------------------------------------------------------
# Runs, jobs, intervals
# ----------------------------------------------------------------------------------------------

SMALL = dict(steps=6, n_test=20, n_tokens=4, n_features=6, n_noise_clusters=3, curve_every=3)


def test_run_measures_and_pairing_across_heads():
    summary, history = heads.multihead_run(2, 12, 0, seed=1, **SMALL)
    assert set(mh.RUN_MEASURES) <= set(summary) and not summary["diverged"]
    assert 0 <= summary["ntk_margin_init"] <= 1 and 0 <= summary["lin_agreement"] <= 1
    assert summary["loss_gap"] == pytest.approx(summary["test_loss"] - summary["train_loss"])
    g = summary["distance"]
    assert summary["gap_ratio"] == pytest.approx(summary["loss_gap"] / (g**2 / 12))
    assert summary["normalized_loss"] == pytest.approx(summary["train_loss"] * 1.0 * 6 / g**2)
    assert summary["peak_loss_ratio"] >= 1
    assert list(history["step"]) == [0, 3, 6] and (history["n_heads"] == 2).all()
    # Another head count: the same data (seeded without H), another model seed; a rerun
    # gives the same numbers.
    other, _ = heads.multihead_run(3, 12, 0, seed=1, **SMALL)
    assert other["seed"] != summary["seed"]
    again, _ = heads.multihead_run(2, 12, 0, seed=1, **SMALL)
    assert again == {**summary, "fit_seconds": again["fit_seconds"]}
    # Without the gradient features the other measures are the same, those are NaN.
    light, _ = heads.multihead_run(2, 12, 0, seed=1, features=False, **SMALL)
    assert all(np.isnan(light[name]) for name in mh.FEATURE_MEASURES)
    assert light["test_error"] == summary["test_error"]


def test_jobs_are_checked_before_any_run():
    jobs = heads.multihead_jobs([1, 4], [10, 20], 2, seed=3, steps=5)
    assert len(jobs) == 8 and jobs[0]["steps"] == 5 and jobs[-1]["n_train"] == 20
    assert heads.thesis_heads_jobs([1, 2], 3, epochs=2)[-1] == dict(
        n_heads=2, repetition=2, seed=0, n_classes=3, level=1, epochs=2, n_blocks=2,
        target_accuracy=1.0)


@pytest.mark.parametrize("call, error, name", [
    (lambda: heads.multihead_jobs([], [10], 2), ValueError, "heads is empty"),
    (lambda: heads.multihead_jobs([0, 2], [10], 2), ValueError, r"heads\[0\]"),
    (lambda: heads.multihead_jobs([1.5], [10], 2), TypeError, r"heads\[0\]"),
    (lambda: heads.multihead_jobs([1, 1], [10], 2), ValueError, "heads has repeated"),
    (lambda: heads.multihead_jobs(4, [10], 2), TypeError, "heads must be a list"),
    (lambda: heads.multihead_jobs([1], [], 2), ValueError, "sample_sizes is empty"),
    (lambda: heads.multihead_jobs([1], [1], 2), ValueError, r"sample_sizes\[0\]"),
    (lambda: heads.multihead_jobs([1], [10], 0), ValueError, "n_repetitions"),
    (lambda: heads.multihead_jobs([1], [10], 2, n_relevant=9), ValueError, "n_relevant"),
    (lambda: heads.multihead_jobs([1], [10], 2, scaling="log"), ValueError, "scaling"),
    (lambda: heads.multihead_jobs([1], [10], 2, lr=0), ValueError, "lr"),
    (lambda: heads.multihead_jobs([1], [10], 2, head=2), TypeError, "unknown option"),
    (lambda: heads.multihead_jobs([1], [10], 2, features=1), TypeError, "features"),
    (lambda: heads.thesis_heads_jobs([], 2), ValueError, "heads is empty"),
    (lambda: heads.thesis_heads_jobs([1], 2, n_classes=4), ValueError, "n_classes"),
    (lambda: heads.thesis_heads_jobs([1], 2, epochs=2.0), TypeError, "epochs"),
    (lambda: heads.thesis_heads_jobs([1], 2, target_accuracy=2), ValueError, "target_accuracy"),
    (lambda: heads.multihead_run(0, 10, 0), ValueError, "n_heads"),
    (lambda: heads.multihead_run(2, 10.0, 0), TypeError, "n_train"),
    (lambda: heads.multihead_run(2, 10, 0, n_tokens=2, n_relevant=3), ValueError, "n_relevant"),
    (lambda: mh.output_scale(0), ValueError, "n_heads"),
    (lambda: mh.output_scale(2, "log"), ValueError, "scaling"),
    (lambda: mh.output_scale(2, 1), TypeError, "scaling"),
    (lambda: mh.step_size(-1.0, 2), ValueError, "lr"),
    (lambda: mh.init_parameters(0, 4, 3), ValueError, "n_heads"),
    (lambda: mh.init_parameters(2, "4", 3), TypeError, "n_tokens"),
    (lambda: mh.init_parameters(2, 4, 3, readout_std=-1.0), ValueError, "readout_std"),
    (lambda: mh.hard_margin(np.ones((2, 3))), ValueError, "gram"),
    (lambda: mh.hard_margin([[1.0, 2.0], [0.0, 1.0]]), ValueError, "symmetric"),
    (lambda: mh.hard_margin(np.eye(2), tol=0), ValueError, "tol"),
    (lambda: mh.relevant_attention(np.ones((2, 1, 3, 3)) / 3, np.ones((2, 4), bool)),
     ValueError, "attention"),
    (lambda: mh.relevant_attention(np.ones((2, 1, 3, 3)) / 3, np.ones((2, 3))), ValueError,
     "relevant"),
])
def test_bad_input_is_refused(call, error, name):
    with pytest.raises(error, match=name):
        call()


@pytest.mark.parametrize("kwargs, error, name", [
    (dict(n_heads=0), ValueError, "n_heads"),
    (dict(steps=2.5), TypeError, "steps"),
    (dict(y_train=np.array([0, 1, 0, 1, 0, 1])), ValueError, "y_train"),
    (dict(X_test=np.zeros((2, 4, 3))), ValueError, "X_test and y_test"),
    (dict(relevant=np.ones((6, 3), bool)), ValueError, "relevant"),
    (dict(init=np.zeros(3)), TypeError, "init"),
    (dict(init=(np.zeros((2, 3, 3)), np.zeros((2, 4, 3)))), ValueError, "init has 2 heads"),
    (dict(W_shape=True), ValueError, "parameters expect"),
    (dict(test_every=0), ValueError, "test_every"),
])
def test_train_multihead_refuses_bad_input_before_training(monkeypatch, kwargs, error, name):
    X, y, W, U = toy(H=1)
    monkeypatch.setattr(mh, "_forward", lambda *a: pytest.fail("training started"))
    arguments = dict(X_train=X, y_train=y, n_heads=1, steps=3)
    if kwargs.pop("W_shape", False):
        kwargs = dict(init=(np.zeros((1, 2, 2)), np.zeros((1, 4, 2))))
    arguments.update(kwargs)
    with pytest.raises(error, match=name):
        mh.train_multihead(**arguments)


def test_thesis_heads_run_refuses_bad_input_before_training(monkeypatch):
    monkeypatch.setattr(heads, "traced_run", lambda *a, **k: pytest.fail("training started"))
    for kwargs, error in ((dict(n_heads=0), ValueError), (dict(n_heads=2, level=0), ValueError),
                          (dict(n_heads=2, n_blocks=1.0), TypeError)):
        with pytest.raises(error, match=list(kwargs)[-1]):
            heads.thesis_heads_run(repetition=0, **kwargs)


def test_thesis_heads_run_measures_a_short_fit(monkeypatch, tmp_path):
    monkeypatch.setenv("OTCOMPANION_NO_CACHE", "1")
    row = heads.thesis_heads_run(2, 0, epochs=3, n_blocks=1, target_accuracy=0.0)
    assert row["n_heads"] == 2 and row["repetition"] == 0 and row["epochs_to_target"] == 1
    for name in ("optimality", "matching", "straightness", "w2_path_efficiency",
                 "instance_accuracy"):
        assert 0 <= row[name] <= 1 + 1e-9




def test_interval_frame_matches_the_bootstrap_and_feeds_the_panels():


    frame = pd.DataFrame({"H": [1, 1, 1, 8, 8, 8], "error": [0.3, 0.5, 0.4, 0.1, np.nan, 0.2],
                          "loss": [1.0, 2.0, 3.0, 0.5, 0.7, 0.9]})
    table = stats.interval_frame(frame, ["H"], ["error", "loss"])
    assert list(table.columns) == ["H", "metric", "runs", "mean", "low", "high"]
    row = table[(table["H"] == 8) & (table["metric"] == "error")].iloc[0]
    mean, low, high, n = stats.bootstrap_interval([0.1, 0.2])
    assert (row["runs"], row["mean"], row["low"], row["high"]) == (n, mean, low, high)
    assert n == 2 and mean == pytest.approx(0.15)
    assert low < 0.15 < high  # the t interval of two values: wide, not clipped ("error" is
    # not a bounded column of stats.BOUNDS)
    figure = plots.interval_panels(table, "H", ["error", "loss"], logx=True)
    assert [ax.get_title() for ax in figure.axes if ax.get_visible()] == ["error", "loss"]
    with pytest.raises(ValueError, match="not in the frame"):
        stats.interval_frame(frame, ["H"], ["accuracy"])


def test_the_runs_stay_readable_from_multihead():
    """The chapter's runs moved to otcompanion.experiments.heads; multihead forwards the names."""
    for name in ("multihead_run", "multihead_jobs", "thesis_heads_run", "thesis_heads_jobs"):
        assert getattr(mh, name) is getattr(heads, name)
    # The statement users write (PEP 562: ``from`` imports go through the module's __getattr__).

    assert multihead_run is heads.multihead_run
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        mh.nothing  # noqa: B018
