
import numpy as np
import pandas as pd
import pytest
import torch

from otcompanion.attention import ThesisTransformer, train_transformer
from otcompanion.data import thesis_split
from otcompanion.experiments import epochs_to_target
from otcompanion.geometry import dummy_means
from otcompanion.pretrain import (
    THESIS_3_CLASS_MEANS,
    HeadPretraining,
    convergence_summary,
    early_stopping_view,
    epochs_to_accuracy,
    pretrain_head,
    pretrained_transformer,
    pretraining_clouds,
    train_pretrained,
)

TINY = dict(n_blocks=2, n_heads=2, key_dim=4, ff_dim=8)
TRAIN = dict(epochs=15, attention_every=3)


@pytest.fixture(scope="module")
def easy():
    """Two classes (level 4), 12 training and 12 test instances of 6 tokens."""
    return thesis_split(2, 4, n_instances=24, n_tokens=6, seed=0)


@pytest.fixture(scope="module")
def clouds():
    return pretraining_clouds(2, 20, 6, 2, seed=0)


@pytest.fixture(scope="module")
def pretrained(clouds):
    X, y = clouds
    return pretrain_head(X, y, seed=0, max_epochs=60)


@pytest.fixture(scope="module")
def run(easy):
    X_train, X_test, y_train, y_test = easy
    return train_pretrained(X_train, y_train, X_test, y_test, seed=0,
                            pretraining=dict(max_epochs=60), **TINY, **TRAIN)


def _heads_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k].cpu(), sb[k].cpu()) for k in sa)


# ---------------------------------------------------------------------------- geometry


def test_pretraining_clouds_shape_means_covariance_and_seed():
    X, y = pretraining_clouds(3, 30, 40, 3, seed=1)
    assert X.shape == (30, 40, 3) and y.tolist() == [0] * 10 + [1] * 10 + [2] * 10
    for i, mean in enumerate(dummy_means(3, dim=3)):
        cloud = X[y == i].reshape(-1, 3)
        np.testing.assert_allclose(cloud.mean(axis=0), mean, atol=0.2)
        np.testing.assert_allclose(np.cov(cloud, rowvar=False), np.eye(3), atol=0.2)
    again, _ = pretraining_clouds(3, 30, 40, 3, seed=1)
    np.testing.assert_array_equal(again, X)
    assert not np.array_equal(pretraining_clouds(3, 30, 40, 3, seed=2)[0], X)
    scaled, _ = pretraining_clouds(3, 30, 40, 3, covariance_scale=4.0, seed=1)
    assert scaled[y == 0].reshape(-1, 3).std(axis=0).mean() == pytest.approx(2.0, abs=0.2)


def test_pretraining_clouds_explicit_geometry():
    X, y = pretraining_clouds(3, 300, 5, 2, means=THESIS_3_CLASS_MEANS,
                              covariances=np.stack([0.01 * np.eye(2)] * 3))
    for i, mean in enumerate(THESIS_3_CLASS_MEANS):
        np.testing.assert_allclose(X[y == i].reshape(-1, 2).mean(axis=0), mean, atol=0.02)
    X1, _ = pretraining_clouds(2, 4, 3, 1, means=[[-6.0], [6.0]])
    assert X1.shape == (4, 3, 1)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_instances=31), "multiple of n_classes"),
    (dict(n_instances=0), "n_instances"),
    (dict(n_tokens=0), "n_tokens"),
    (dict(n_classes=1), "n_classes"),
    (dict(n_features=1), "n_features"),
    (dict(means=np.zeros((2, 2))), r"means must have shape .*\(3, 2\)"),
    (dict(means=THESIS_3_CLASS_MEANS, radius=4.0), "geometry, radius and rotation"),
    (dict(means=[[0, 0], [1, 1], [2, np.nan]]), "means contains NaN"),
    (dict(covariances=np.stack([np.eye(2)] * 3), covariance_scale=2.0), "covariance_scale"),
    (dict(covariances=np.stack([-np.eye(2)] * 3)), "positive semi-definite"),
    (dict(covariances=np.eye(2)), "covariances must have shape"),
    (dict(covariance_scale=0.0), "covariance_scale"),
    (dict(radius=-2.0), "radius"),
    (dict(seed=-1), "seed"),
])
def test_pretraining_clouds_reject_bad_input(kwargs, match):
    args = dict(n_classes=3, n_instances=30, n_tokens=4, n_features=2) | kwargs
    with pytest.raises(ValueError, match=match):
        pretraining_clouds(**args)


# ---------------------------------------------------------------------------- head pretraining


def test_head_pretraining_reaches_high_accuracy(pretrained, clouds):
    X, y = clouds
    history = pretrained.history
    assert list(history.columns) == ["epoch", "loss", "accuracy", "instance_accuracy",
                                     "val_loss", "val_accuracy", "val_instance_accuracy"]
    assert history["epoch"].tolist() == list(range(1, len(history) + 1))
    assert history["val_accuracy"].iloc[pretrained.best_epoch - 1] >= 0.98
    assert (pretrained.predict(X) == y).mean() == 1.0
    assert pretrained.predict_proba(X).shape == (20, 6, 2)
    assert not pretrained.head.training and pretrained.fit_seconds > 0
    assert pretrained.params["head_units"] == (8,) and pretrained.params["head_dropout"] == 0.4
    assert pretrained.params["standardized"] is False
    # The head has the structure of the Transformer's head.
    reference = ThesisTransformer(2, 2).head
    assert [type(m) for m in pretrained.head] == [type(m) for m in reference]
    assert pretrained.head.state_dict().keys() == reference.state_dict().keys()
    assert all(v.shape == reference.state_dict()[k].shape
               for k, v in pretrained.head.state_dict().items())


def test_early_stopping_with_patience_restores_the_best_weights():
    # Overlapping clouds and a large step: the validation loss stops improving early.
    X, y = pretraining_clouds(2, 20, 5, 2, radius=0.5, seed=1)
    result = pretrain_head(X, y, lr=0.05, max_epochs=100, patience=5)
    history = result.history
    assert len(history) < 100
    assert len(history) - result.best_epoch == 5
    assert result.best_epoch == int(history["val_loss"].idxmin()) + 1
    val = result.validation_indices
    assert val is not None and len(val) == 4 and sorted(np.bincount(y[val])) == [2, 2]
    with torch.no_grad():
        logits = result.head(torch.as_tensor(X[val], dtype=torch.float32))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 2),
                                                 torch.as_tensor(y[val]).repeat_interleave(5))
    assert float(loss) == pytest.approx(history["val_loss"].min(), rel=1e-6)


def test_head_pretraining_is_deterministic_and_leaves_global_state(clouds, pretrained):
    X, y = clouds
    threads = torch.get_num_threads()
    torch.manual_seed(7)
    expected = torch.rand(2)
    torch.manual_seed(7)
    again = pretrain_head(X, y, seed=0, max_epochs=60)
    torch.testing.assert_close(torch.rand(2), expected)
    assert torch.get_num_threads() == threads
    pd.testing.assert_frame_equal(again.history, pretrained.history)
    assert _heads_equal(again.head, pretrained.head)
    other = pretrain_head(X, y, seed=1, max_epochs=60)
    assert not _heads_equal(other.head, pretrained.head)


def test_head_pretraining_without_validation_and_with_given_validation(clouds):
    X, y = clouds
    last = pretrain_head(X, y, validation=None, patience=None, max_epochs=4)
    assert last.best_epoch == 4 and last.validation_indices is None
    assert last.history["val_loss"].isna().all()
    given = pretrain_head(X[0::2], y[0::2] + 5, validation=(X[1::2], y[1::2] + 5),
                          max_epochs=4)
    assert given.classes.tolist() == [5, 6] and given.params["validation"] == "given"
    assert given.history["val_loss"].notna().all()


@pytest.mark.parametrize("changes, error, match", [
    (dict(X=np.zeros((20, 6, 2, 1))), ValueError, "X"),
    (dict(y=np.zeros(5, int)), ValueError, "y must hold one label"),
    (dict(y=np.zeros(20, int)), ValueError, "single class"),
    (dict(n_classes=3), ValueError, "n_classes=3 but y has 2 classes"),
    (dict(patience=0), ValueError, "patience"),
    (dict(patience=2.5), TypeError, "patience"),
    (dict(validation=None), ValueError, "patience=None"),
    (dict(validation=1.0), ValueError, "validation"),
    (dict(validation="test"), ValueError, "validation"),
    (dict(validation=(np.zeros((4, 6, 3)), np.zeros(4))), ValueError, "features"),
    (dict(validation=(np.zeros((4, 6, 2)), np.full(4, 9))), ValueError, "do not occur"),
    (dict(lr=0.0), ValueError, "lr"),
    (dict(max_epochs=0), ValueError, "max_epochs"),
    (dict(head_units=(8, 0)), ValueError, r"head_units\[1\]"),
    (dict(head_dropout=1.0), ValueError, "head_dropout"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(n_threads=0), ValueError, "n_threads"),
    (dict(device="tpu"), ValueError, "device"),
])
def test_pretrain_head_rejects_bad_input(clouds, changes, error, match):
    X, y = clouds
    args = dict(X=X, y=y, max_epochs=2) | changes
    with pytest.raises(error, match=match):
        pretrain_head(**args)


# ---------------------------------------------------------------------------- loading


def test_loaded_head_gives_identical_outputs_and_is_frozen(pretrained):
    model = pretrained_transformer(pretrained, 2, 2, seed=3, **TINY)
    assert isinstance(model, ThesisTransformer) and not model.training
    x = torch.randn(4, 6, 2)
    with torch.no_grad():
        torch.testing.assert_close(model.head(x), pretrained.head(x), rtol=0, atol=0)
    assert all(not p.requires_grad for p in model.head.parameters())
    assert all(p.requires_grad for p in model.blocks.parameters())
    # The blocks are those of an unpretrained model built with the same seed.
    torch.manual_seed(3)
    reference = ThesisTransformer(2, 2, **TINY)
    for key, value in reference.blocks.state_dict().items():
        torch.testing.assert_close(model.blocks.state_dict()[key], value, rtol=0, atol=0)
    # A bare nn.Sequential works too; freeze=False keeps the head trainable.
    loose = pretrained_transformer(pretrained.head, 2, 2, freeze=False, **TINY)
    assert all(p.requires_grad for p in loose.head.parameters())
    assert _heads_equal(loose.head, pretrained.head)


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((2, 3), dict(), ValueError, "n_classes=3 but the pretrained head has 2 outputs"),
    ((3, 2), dict(), ValueError, "n_features=3 but the pretrained head takes 2"),
    ((2, 2), dict(head_units=(16,)), ValueError, r"head_units=\(16,\) does not match"),
    ((2, 2), dict(head_units=()), ValueError, "does not match"),
    ((2, 2), dict(n_layers=2), TypeError, "unknown architecture argument"),
    ((2, 2), dict(seed=-1), ValueError, "seed"),
    ((2, 2), dict(freeze="yes"), TypeError, "freeze"),
    ((2, 2), dict(n_heads=0), ValueError, "n_heads"),
])
def test_pretrained_transformer_rejects_bad_input(pretrained, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        pretrained_transformer(pretrained, *args, **kwargs)
    with pytest.raises(TypeError, match="head_or_result"):
        pretrained_transformer(ThesisTransformer(2, 2), 2, 2)


def test_training_keeps_the_frozen_head_and_changes_attention(pretrained, easy):
    X_train, _, y_train, _ = easy
    start = pretrained_transformer(pretrained, 2, 2, seed=0, **TINY)
    before = {k: v.clone() for k, v in start.state_dict().items()}
    pretrained_before = {k: v.clone() for k, v in pretrained.head.state_dict().items()}
    fit = train_transformer(X_train, y_train, model=start, seed=0, trace=False, epochs=10,
                            validation=None)
    for key, value in fit.model.head.state_dict().items():
        assert torch.equal(value, before[f"head.{key}"]), key
    attention = fit.model.blocks[0].attention
    assert not torch.equal(attention.query.weight, before["blocks.0.attention.query.weight"])
    assert not torch.equal(attention.output.weight, before["blocks.0.attention.output.weight"])
    # Neither the starting model nor the pretraining result was modified.
    for key, value in start.state_dict().items():
        assert torch.equal(value, before[key]), key
    for key, value in pretrained.head.state_dict().items():
        assert torch.equal(value, pretrained_before[key]), key


# ---------------------------------------------------------------------------- whole protocol


def test_train_pretrained_freezes_head_and_traces_like_an_unpretrained_run(run, easy):
    fit, pre = run
    X_train, X_test, y_train, y_test = easy
    assert isinstance(pre, HeadPretraining)
    assert _heads_equal(fit.model.head, pre.head)
    assert fit.params["pretrained_model"] and fit.params["freeze_head"]
    assert fit.params["head_pretraining"]["clouds"]["means"] == [[0.0, 6.0], [0.0, -6.0]]
    assert fit.params["head_pretraining"]["clouds"]["n_instances"] == len(X_train)
    plain = train_transformer(X_train, y_train, X_test, y_test, seed=0, **TINY, **TRAIN)
    assert list(fit.history.columns) == list(plain.history.columns)
    assert set(fit.test_metrics) == set(plain.test_metrics)
    assert fit.validation == plain.validation == "split"
    np.testing.assert_array_equal(fit.validation_indices, plain.validation_indices)
    trace, reference = fit.trace, plain.trace
    assert trace is not None
    assert trace.block_outputs.shape[1:] == reference.block_outputs.shape[1:]
    assert trace.block_outputs.shape[0] == fit.best_epoch + 1
    assert trace.attention_logits.shape[1:] == reference.attention_logits.shape[1:]
    np.testing.assert_array_equal(trace.inputs, reference.inputs)
    np.testing.assert_array_equal(trace.is_validation, reference.is_validation)
    assert trace.trajectory.shape[1:] == reference.trajectory.shape[1:]
    # Same seed: the blocks started from the same weights; only the head differs.
    assert not np.array_equal(fit.history["train_loss"], plain.history["train_loss"])


def test_train_pretrained_is_deterministic(run, easy):
    fit, pre = run
    X_train, X_test, y_train, y_test = easy
    again, pre_again = train_pretrained(X_train, y_train, X_test, y_test, seed=0,
                                        pretraining=dict(max_epochs=60), **TINY, **TRAIN)
    pd.testing.assert_frame_equal(again.history, fit.history)
    pd.testing.assert_frame_equal(pre_again.history, pre.history)
    np.testing.assert_array_equal(again.trace.block_outputs, fit.trace.block_outputs)
    np.testing.assert_array_equal(again.trace.attention_logits, fit.trace.attention_logits)
    assert again.test_metrics == fit.test_metrics


def test_train_pretrained_geometry_and_unfrozen_head(easy):
    X_train, _, y_train, _ = easy
    fit, pre = train_pretrained(
        X_train, y_train, seed=1, freeze=False, head_units=(4,), trace=False, epochs=5,
        pretraining=dict(means=[[-5.0, 0.0], [5.0, 0.0]], max_epochs=10, n_instances=8),
        **(TINY | dict(n_blocks=1)))
    assert pre.params["head_units"] == (4,) and len(pre.history) <= 10
    assert pre.params["clouds"]["means"] == [[-5.0, 0.0], [5.0, 0.0]]
    assert pre.params["clouds"]["n_instances"] == 8
    assert not fit.params["freeze_head"]
    assert not _heads_equal(fit.model.head, pre.head)  # trained along with the blocks


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(pretraining=dict(head_units=(4,))), ValueError, "head_units"),
    (dict(pretraining=dict(radius=3.0, bogus=1)), ValueError, "unknown pretraining"),
    (dict(pretraining=[("radius", 3.0)]), TypeError, "pretraining must be a dict"),
    (dict(pretraining=dict(radius=0.0)), ValueError, "radius"),
    (dict(pretraining=dict(patience=0)), ValueError, "patience"),
    (dict(pretraining=dict(n_instances=13)), ValueError, "multiple of n_classes"),
    (dict(pretraining=dict(means=np.zeros((3, 2)))), ValueError, "means must have shape"),
    (dict(model=ThesisTransformer(2, 2)), TypeError, "model"),
    (dict(y_train=np.zeros(12, int)), ValueError, "single class"),
    (dict(y_train=np.zeros(5, int)), ValueError, "y_train"),
    (dict(X_train=np.zeros((12, 6, 2, 2))), ValueError, "X_train"),
    (dict(freeze=1), TypeError, "freeze"),
    (dict(epochs=0), ValueError, "epochs"),
])
def test_train_pretrained_rejects_bad_input(easy, kwargs, error, match):
    X_train, _, y_train, _ = easy
    args = dict(X_train=X_train, y_train=y_train, trace=False, epochs=1,
                pretraining=dict(max_epochs=2)) | kwargs
    with pytest.raises(error, match=match):
        train_pretrained(**args)


# ---------------------------------------------------------------------------- convergence


def test_epochs_to_accuracy(run, pretrained):
    history = pd.DataFrame(dict(epoch=[1, 2, 3, 4], acc=[0.2, 0.6, 0.9, 0.8]))
    assert epochs_to_accuracy(history, 0.9, column="acc") == 3
    assert epochs_to_accuracy(history, 0.5, column="acc") == 2
    assert epochs_to_accuracy(history, 0.0, column="acc") == 1
    assert epochs_to_accuracy(history, 0.95, column="acc") is None
    fit, _ = run
    reached = epochs_to_accuracy(fit, 0.5)
    expected = fit.history.loc[fit.history["val_instance_accuracy"] >= 0.5, "epoch"]
    assert reached == (int(expected.iloc[0]) if len(expected) else None)
    assert epochs_to_accuracy(pretrained, 0.9, column="val_accuracy") >= 1
    with pytest.raises(ValueError, match="column"):
        epochs_to_accuracy(history, 0.5, column="val_accuracy")
    with pytest.raises(ValueError, match="target"):
        epochs_to_accuracy(history, 1.5, column="acc")
    with pytest.raises(TypeError, match="history"):
        epochs_to_accuracy([0.1, 0.9], 0.5)


def test_epochs_to_accuracy_is_the_one_epochs_to_target():
    """experiments.epochs_to_target is epochs_to_accuracy with a 1e-12 tolerance and NaN."""
    history = pd.DataFrame({"epoch": [1, 2, 3, 4],
                            "val_instance_accuracy": [0.5, 1.0 - 1e-13, 0.8, 1.0]})
    assert epochs_to_accuracy(history, 1.0) == 4
    assert epochs_to_accuracy(history, 1.0, tolerance=1e-12) == 2
    assert epochs_to_target(history, 1.0) == 2.0 and isinstance(epochs_to_target(history, 1.0),
                                                                 float)
    assert np.isnan(epochs_to_target(history.iloc[[0, 2]], 0.9))
    with pytest.raises(ValueError, match="tolerance"):
        epochs_to_accuracy(history, 1.0, tolerance=-1.0)
    rng = np.random.default_rng(0)
    for _ in range(50):  # against the old implementation of epochs_to_target
        frame = pd.DataFrame({"epoch": np.arange(1, 9), "val_instance_accuracy":
                              rng.choice([0.5, 0.75, 1.0 - 1e-13, 1.0], size=8)})
        for target in (0.5, 0.75, 0.9, 1.0):
            reached = frame.loc[frame["val_instance_accuracy"] >= target - 1e-12, "epoch"]
            old = float(reached.iloc[0]) if len(reached) else np.nan
            new = epochs_to_target(frame, target)
            assert (np.isnan(old) and np.isnan(new)) or old == new


def _history(losses, accuracies=None):
    n = len(losses)
    return pd.DataFrame(dict(epoch=np.arange(1, n + 1), val_loss=losses,
                             val_instance_accuracy=accuracies if accuracies is not None
                             else np.zeros(n)))


def test_early_stopping_view_applies_the_keras_rule():
    history = _history([1.0, 0.8, 0.9, 0.8, 0.85, 0.7, 0.75, 0.76, 0.77, 0.6])
    cut, best = early_stopping_view(history)  # patience = epochs: the best of all epochs
    assert len(cut) == 10 and best == 10
    cut, best = early_stopping_view(history, patience=3)  # 0.8 at 4 does not improve on 0.8
    assert len(cut) == 5 and best == 2
    cut, best = early_stopping_view(history, patience=4)  # 7-9 wait 3, 10 improves
    assert len(cut) == 10 and best == 10
    cut, best = early_stopping_view(history.assign(val_loss=[*history["val_loss"][:9], 0.8]),
                                    patience=4)
    assert len(cut) == 10 and best == 6
    cut, best = early_stopping_view(history, epochs=7, patience=4)
    assert len(cut) == 7 and best == 6
    assert cut.equals(history.iloc[:7])
    # A history that early stopping already cut gives the same view under a longer budget.
    again, best_again = early_stopping_view(history.iloc[:5], epochs=10, patience=3)
    assert len(again) == 5 and best_again == 2
    # NaN never improves (as in keras); a loss that is never finite is a diverged run.
    cut, best = early_stopping_view(_history([np.nan, 0.5, np.nan, np.nan]), patience=2)
    assert (len(cut), best) == (4, 2)


@pytest.mark.parametrize("args, error, match", [
    (dict(history=[0.1, 0.2]), TypeError, "history must be a DataFrame"),
    (dict(history=_history([0.1, 0.2]), loss="loss"), ValueError, "no column 'loss'"),
    (dict(history=_history([0.1, 0.2]).assign(epoch=[0, 1])), ValueError, "1, 2, ..."),
    (dict(history=_history([0.3, 0.2]), epochs=3), ValueError, "fewer than epochs=3"),
    (dict(history=_history([0.3, 0.2]), epochs=0), ValueError, "epochs must be at least 1"),
    (dict(history=_history([0.3, 0.2]), patience=0), ValueError, "patience must be at least"),
    (dict(history=_history([np.nan, np.nan]), patience=1), ValueError, "diverged"),
    (dict(history=_history([])), ValueError, "empty"),
])
def test_early_stopping_view_rejects_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        early_stopping_view(**args)


def test_a_cut_long_run_is_the_early_stopped_run(easy):
    """Early stopping does not change training before it stops: the first epochs of a long
    run, cut by the rule, are the run trained with that rule (traced or not)."""
    X_train, X_test, y_train, y_test = easy
    long = train_transformer(X_train, y_train, X_test, y_test, seed=2, epochs=25, **TINY,
                             attention_every=0)
    short = train_transformer(X_train, y_train, X_test, y_test, seed=2, epochs=12, patience=2,
                              trace=False, **TINY)
    cut, best = early_stopping_view(long.history, epochs=12, patience=2)
    assert best == short.best_epoch and len(cut) == len(short.history)
    pd.testing.assert_frame_equal(cut.reset_index(drop=True), short.history, atol=1e-5)
    summary = convergence_summary(long.history, epochs=12, patience=2, target=0.5)
    assert summary == pytest.approx(convergence_summary(short, epochs=12, patience=2,
                                                        target=0.5), nan_ok=True, abs=1e-5)


def test_convergence_summary_caps_runs_that_miss_the_target():
    history = _history([1.0, 0.8, 0.6, 0.7, 0.75, 0.5], [0.2, 0.5, 1.0, 0.9, 1.0, 1.0])
    summary = convergence_summary(history, epochs=6, patience=2, target=1.0)
    assert summary == {"stop_epoch": 5, "best_epoch": 3, "epochs_to_target": 3.0,
                       "reached": True, "epochs_to_target_capped": 3.0, "val_loss": 0.6,
                       "val_accuracy": 1.0}
    missed = convergence_summary(history, epochs=2, target=1.0)
    assert np.isnan(missed["epochs_to_target"]) and not missed["reached"]
    assert missed["epochs_to_target_capped"] == 3.0  # the budget + 1
    assert missed["val_accuracy"] == 0.5 and missed["best_epoch"] == 2
    with pytest.raises(ValueError, match="target"):
        convergence_summary(history, target=2.0)
