"""Tests of chapter 06's new measures: the linearized (NTK) model of otcompanion.multihead, the
loss rate, and otcompanion.experiments.heads's profiles, Holm family and divergent runs."""

import numpy as np
import pandas as pd
import pytest
import torch

from otcompanion import claims, prose, stats
from otcompanion import multihead as mh
from otcompanion.experiments import heads


def _data(n=10, H=2, seed=0, key_query_std=0.3):
    X, y, _ = mh.tokenized_mixture(n, n_tokens=4, n_features=6, n_noise_clusters=3, seed=seed)
    W0, U0 = mh.init_parameters(H, 4, 6, key_query_std=key_query_std, seed=seed + 1)
    return X, y, W0, U0


def test_linearized_output_is_the_first_order_taylor_expansion():
    X, y, W0, U0 = _data()
    rng = np.random.default_rng(3)
    dW, dU = rng.standard_normal(W0.shape), rng.standard_normal(U0.shape)
    # At the expansion point it is the network.
    assert np.allclose(mh.linearized_output(X, W0, U0, W0, U0),
                       mh.multihead_output(X, W0, U0)["output"])
    # Along a direction, the network minus the linearization shrinks like t^2 (central check
    # with an independent derivative: the autograd Jacobian of ntk_features).
    jacobian = mh.ntk_features(X, y, W0, U0) * y[:, None]
    for t in (1e-2, 1e-3):
        lin = mh.linearized_output(X, W0, U0, W0 + t * dW, U0 + t * dU)
        expected = (mh.multihead_output(X, W0, U0)["output"]
                    + t * jacobian @ np.concatenate([dW.ravel(), dU.ravel()]))
        assert np.allclose(lin, expected, atol=1e-12)
        net = mh.multihead_output(X, W0 + t * dW, U0 + t * dU)["output"]
        assert np.max(np.abs(net - lin)) < 50 * t**2
    with pytest.raises(ValueError, match="shapes of"):
        mh.linearized_output(X, W0, U0, W0[:1], U0[:1])


def test_linearized_training_is_gradient_descent_on_the_linear_model():
    X, y, W0, U0 = _data()
    fit = mh.train_linearized(X, y, W0, U0, steps=3, lr=0.5)
    # The reported loss is the logistic loss of the jvp-defined model at the final parameters.
    final = y * mh.linearized_output(X, W0, U0, fit.W, fit.U)
    assert fit.history["train_loss"].iloc[-1] == pytest.approx(np.logaddexp(0, -final).mean())
    # One step equals torch autograd on the linear model's loss.
    one = mh.train_linearized(X, y, W0, U0, steps=1, lr=0.5)
    jacobian = torch.as_tensor(mh.ntk_features(X, y, W0, U0) * y[:, None])
    phi0 = torch.as_tensor(mh.multihead_output(X, W0, U0)["output"])
    delta = torch.zeros(jacobian.shape[1], dtype=torch.float64, requires_grad=True)
    labels = torch.as_tensor(y, dtype=torch.float64)
    torch.nn.functional.softplus(-labels * (phi0 + jacobian @ delta)).mean().backward()
    step = -0.5 * delta.grad.numpy()
    assert np.allclose(np.concatenate([(one.W - W0).ravel(), (one.U - U0).ravel()]), step)
    assert one.history["distance"].iloc[-1] == pytest.approx(np.linalg.norm(step))
    # The first step of the network is the linearized model's first step (same gradient).
    network = mh.train_multihead(X, y, n_heads=2, steps=1, lr=0.5, init=(W0, U0))
    assert np.allclose(network.W, one.W) and np.allclose(network.U, one.U)
    with pytest.raises(ValueError, match="features must have shape"):
        mh.train_linearized(X, y, W0, U0, features=np.zeros((3, 3)))


def test_more_heads_stay_closer_to_the_linearization():
    summaries = [heads.multihead_run(H, 20, 0, seed=2, steps=60, n_test=60)[0]
                 for H in (1, 16)]
    assert summaries[1]["lin_relative_distance"] < summaries[0]["lin_relative_distance"]


def test_loss_rate_reads_a_power_law():
    steps = np.arange(0, 201)
    # Step 0 and the first 10 % of the steps are left out: their values do not count.
    losses = np.concatenate([[100.0], 3.0 / steps[1:]])
    losses[1:20] = 50.0
    assert mh.loss_rate(steps, losses) == pytest.approx(-1.0)
    assert mh.loss_rate(steps[1:], 2.0 * steps[1:] ** -0.5) == pytest.approx(-0.5)
    assert np.isnan(mh.loss_rate([0, 1], [1.0, 0.5]))  # one usable step
    assert np.isnan(mh.loss_rate(steps, np.zeros(201)))
    with pytest.raises(ValueError, match="same length"):
        mh.loss_rate([1, 2], [1.0])
    with pytest.raises(ValueError, match="start"):
        mh.loss_rate(steps, steps + 1.0, start=1.0)


def test_a_divergent_run_is_reported_not_raised(monkeypatch):
    def diverge(*args, **kwargs):
        raise mh.DivergedError("the training loss became inf")

    monkeypatch.setattr(heads, "train_multihead", diverge)
    summary, history = heads.multihead_run(2, 10, 0, steps=3, n_test=10)
    assert summary["diverged"] and history.empty and summary["lr"] == 1.0
    assert all(np.isnan(summary[name]) for name in mh.RUN_MEASURES)


def test_profiles_and_their_overrides():
    assert heads.heads_profile("book")["n_repetitions"] >= 10
    assert heads.heads_profile("thesis", n_repetitions=0, sweep_heads=[]) == {
        **heads.HEADS_PROFILES["thesis"]}
    assert heads.heads_profile("book", n_repetitions=12, bridge_heads=[2])["bridge_heads"] == [2]
    with pytest.raises(ValueError, match="profile"):
        heads.heads_profile("huge")
    with pytest.raises(TypeError, match="unknown setting"):
        heads.heads_profile("book", epochs=3)
    with pytest.raises(ValueError, match="n_repetitions"):
        heads.heads_profile("book", n_repetitions=1)


def test_holm_differences_widen_every_interval_but_the_strongest():
    rng = np.random.default_rng(0)
    rows = []
    for repetition in range(12):
        for H, shift in ((1, 0.0), (8, 1.0)):
            rows.append({"H": H, "repetition": repetition,
                         "strong": shift + 0.1 * rng.standard_normal(),
                         "weak": 0.3 * shift + rng.standard_normal(),
                         "none": rng.standard_normal()})
    runs = pd.DataFrame(rows)
    family = heads.holm_differences({name: (runs, name, 8, 1, "H")
                                     for name in ("strong", "weak", "none")})
    assert list(family.index) == ["strong", "weak", "none"]
    levels = stats.holm_levels(family["p_value"])
    assert np.allclose(family["confidence"], levels)
    assert family.loc["strong", "verdict"] == "first higher"
    plain = stats.paired_difference(runs, "weak", 8, 1, "H")
    weak = family.loc["weak"]
    assert weak["difference"] == pytest.approx(plain["difference"])
    assert weak["high"] - weak["low"] > plain["high"] - plain["low"]
    with pytest.raises(ValueError, match="at least one"):
        heads.holm_differences({})


def test_multi_head_verdict_and_its_words():
    lower, higher, open_ = "first lower", "first higher", "no difference detected"
    assert claims.multi_head_verdict(lower, higher, lower, lower) == "supported"
    assert claims.multi_head_verdict(lower, higher, lower, open_) == "partly supported"
    assert claims.multi_head_verdict(lower, open_, open_, open_) == "partly supported"
    assert claims.multi_head_verdict(open_, open_, open_, lower) == "inconclusive"
    assert claims.multi_head_verdict(higher, higher, lower, lower) == "not supported"
    assert claims.multi_head_verdict(lower, higher, higher, open_) == "not supported"
    with pytest.raises(ValueError, match="paired verdict"):
        claims.multi_head_verdict("lower", higher, lower, lower)
    assert prose.multi_head_summary(lower, higher, lower, open_) == (
        "More heads keep training closer to the linearized (NTK) model; the NTK margin at "
        "initialization is larger; the test error is lower; with the most heads the test error "
        "is not told apart from that of a logistic regression on the mean-pooled tokens")
    assert prose.multi_head_summary(open_, open_, higher, higher).startswith(
        "The distance to the linearized (NTK) model is not told apart between the head counts; "
        "the NTK margin at initialization is not told apart; the test error is higher; with the "
        "most heads the test error is above")


def test_evidence_and_readings_quote_the_holm_rows():
    row = {"difference": -0.5, "low": -0.75, "high": -0.25, "pairs": 10,
           "verdict": "first lower", "confidence": 0.99}
    family = pd.DataFrame([row, {**row, "confidence": 0.95}], index=["a", "b"])
    evidence = prose.multi_head_evidence(32, 1, 10, family, ["a"])
    assert evidence.startswith("32 against 1 heads, paired over 10 repetitions, intervals at "
                               "Bonferroni-Holm levels for the chapter's 2 comparisons: a ")
    assert "(at 99 %)" in evidence
    claims.finding("multi-head", "partly supported", evidence)  # a valid finding
    assert "(Holm-adjusted 99 % confidence interval \u22120.750 to \u22120.250, 10 pairs)" in (
        prose.difference_reading(family.loc["a"], "up", "down"))
    assert "(95 % confidence interval" in prose.difference_reading(family.loc["b"], "up", "down")


def test_step_size_reading_counts_the_runs():
    runs = pd.DataFrame({"lr": [1.0, 1.0, 16.0, 16.0], "H": [1, 8, 1, 8],
                         "diverged": [False, False, True, False],
                         "train_error": [0.0, 0.0, np.nan, 0.1],
                         "peak_loss_ratio": [1.0, 1.0, np.nan, 1.5]})
    assert prose.step_size_reading(runs) == (
        "Of the 4 runs, 1 diverged and 1 ended with training instances still misclassified. "
        "The training loss rose above its starting value on the way in 1 runs (step size 16 "
        "with 8 heads: 1 of 1).")


def test_chapter_comparisons_read_the_counts_from_the_frames():
    rng = np.random.default_rng(1)
    columns = ["lin_relative_distance", "ntk_margin_init", "test_error", "train_loss",
               "loss_slope", "loss_gap", "head_movement", "key_query_movement",
               "relevant_attention_end", "gap_ratio"]

    def runs(key, values):
        return pd.DataFrame([{key: value, "H": value if key == "H" else 8, "repetition": r,
                              "model": f"{value} heads", "n_train": 50 if key == "H" else value,
                              **dict(zip(columns, rng.random(len(columns))))}
                             for value in values for r in range(4)])

    by_heads = runs("H", [1, 4, 16])
    pooled = pd.DataFrame({"model": ["mean pooling"] * 4 + ["relevant tokens (oracle)"] * 4,
                           "repetition": list(range(4)) * 2, "test_error": rng.random(8)})
    versus_pooling = pd.concat([by_heads, pooled], ignore_index=True)
    by_size = runs("n_train", [25, 200])
    bridge = pd.DataFrame({"H": [1] * 4 + [10] * 4, "repetition": list(range(4)) * 2,
                           "epochs_to_target": rng.random(8),
                           "instance_accuracy": rng.random(8)})
    family = heads.chapter_comparisons(by_heads, versus_pooling, by_size, by_heads, bridge)
    assert set(heads.DECISIVE) <= set(family)
    assert family["test error"][2:] == (16, 1, "H")
    assert family["test error against mean pooling"][2:] == ("16 heads", "mean pooling",
                                                             "model")
    assert family["NTK margin, most heads against H = 4"][2:] == (16, 4, "H")
    assert family["gap over g^2/n, n = 200 against 25, 8 heads"][2:] == (200, 25, "n_train")
    assert family["thesis Transformer, test accuracy"][2:] == (10, 1, "H")
    table = heads.holm_differences(family)
    assert (table["pairs"] == 4).all() and len(table) == len(family)
