import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import StratifiedKFold, cross_val_score

from otcompanion import attention
from otcompanion.attention import ThesisTransformer, Trace, train_transformer
from otcompanion.data import TokenStandardizer, thesis_split

TINY = dict(n_blocks=2, n_heads=2, key_dim=4, ff_dim=8, epochs=30, attention_every=1)


@pytest.fixture(scope="module")
def easy():
    """Two well-separated classes (level 4), 12 training and 12 test instances of 6 tokens."""
    return thesis_split(2, 4, n_instances=24, n_tokens=6, seed=0)


@pytest.fixture(scope="module")
def fit(easy):
    X_train, X_test, y_train, y_test = easy
    return train_transformer(X_train, y_train, X_test, y_test, seed=0, lr=1e-2, **TINY)


# ---------------------------------------------------------------------------- model


def test_forward_and_trace_shapes():
    torch.manual_seed(0)
    model = ThesisTransformer(n_features=3, n_classes=4, n_blocks=3, n_heads=5, key_dim=6)
    x = torch.randn(7, 11, 3)
    assert model(x).shape == (7, 11, 4)
    out = model.trace(x)
    assert out.logits.shape == (7, 11, 4)
    assert out.block_outputs.shape == (3, 2, 7, 11, 3)
    assert out.attention.shape == (3, 7, 5, 11, 11)
    assert out.attention_logits.shape == (3, 7, 5, 11, 11)
    # The attention's internal width is n_heads * key_dim, not d.
    mha = model.blocks[0].attention
    assert mha.query.weight.shape == (30, 3) and mha.output.weight.shape == (3, 30)
    assert isinstance(model.head, torch.nn.Sequential)


def test_attention_rows_sum_to_one_and_are_softmax_of_logits():
    torch.manual_seed(1)
    model = ThesisTransformer(2, 2).eval()
    with torch.no_grad():
        out = model.trace(torch.randn(4, 9, 2))
    torch.testing.assert_close(out.attention.sum(-1), torch.ones(2, 4, 10, 9))
    torch.testing.assert_close(out.attention, torch.softmax(out.attention_logits, -1))
    assert (out.attention >= 0).all()


def test_block_equals_the_thesis_formula_computed_by_hand():
    torch.manual_seed(2)
    # float64: with d = 2 the post-norm LayerNorm amplifies float32 rounding differences
    # between the model's factored attention and this direct formula.
    model = ThesisTransformer(2, 3, n_blocks=2, n_heads=3, key_dim=4, ff_dim=5,
                              dropout=0.0, head_dropout=0.0).double().eval()
    x = torch.randn(5, 7, 2, dtype=torch.float64)
    with torch.no_grad():
        out = model.trace(x)
        h = x
        for b, block in enumerate(model.blocks):
            mha = block.attention

            def heads(t):
                return t.view(5, 7, 3, 4).transpose(1, 2)

            q, k, v = heads(mha.query(h)), heads(mha.key(h)), heads(mha.value(h))
            logits = q @ k.transpose(-1, -2) / 2.0  # sqrt(key_dim = 4)
            weights = torch.softmax(logits, -1)
            a = mha.output((weights @ v).transpose(1, 2).reshape(5, 7, 12))
            ln = torch.nn.functional.layer_norm
            res = ln(a, (2,), block.attention_norm.weight, block.attention_norm.bias, 1e-6) + h
            ff = block.ff_out(torch.relu(block.ff_in(res)))
            h = ln(ff, (2,), block.ff_norm.weight, block.ff_norm.bias, 1e-6) + res
            torch.testing.assert_close(out.attention_logits[b], logits)
            torch.testing.assert_close(out.block_outputs[b, 0], res)
            torch.testing.assert_close(out.block_outputs[b, 1], h)
        torch.testing.assert_close(out.logits, model.head(h))
    assert model.blocks[0].attention_norm.eps == 1e-6 and model.blocks[0].ff_norm.eps == 1e-6


def test_head_layers_follow_head_units():
    model = ThesisTransformer(2, 3, head_units=(8, 4), head_dropout=0.4)
    linear = [m for m in model.head if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(2, 8), (8, 4), (4, 3)]
    assert [m.p for m in model.head if isinstance(m, attention.Dropout)] == [0.4, 0.4]
    assert len(ThesisTransformer(2, 2, head_units=()).head) == 1


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_heads=0), "n_heads"), (dict(key_dim=0), "key_dim"), (dict(n_blocks=0), "n_blocks"),
    (dict(ff_dim=0), "ff_dim"), (dict(n_classes=1), "n_classes"), (dict(dropout=1.0), "dropout"),
    (dict(head_dropout=-0.1), "head_dropout"), (dict(head_units=(8, 0)), r"head_units\[1\]"),
])
def test_model_rejects_bad_arguments(kwargs, match):
    args = dict(n_features=2, n_classes=2) | kwargs
    with pytest.raises(ValueError, match=match):
        ThesisTransformer(**args)


def test_model_rejects_wrong_input_shape():
    model = ThesisTransformer(2, 2)
    with pytest.raises(ValueError, match=r"\(batch, tokens, 2\)"):
        model(torch.randn(3, 4, 5))


@pytest.mark.parametrize("p", [0.1, 0.4])
def test_dropout_noise_has_the_stated_drop_rate_values_and_seeding(p):
    shape = (50, 20, 10, 20)  # 200,000 elements
    torch.manual_seed(0)
    first = attention.dropout_noise(shape, p, "cpu")
    second = attention.dropout_noise(shape, p, "cpu")
    assert first.shape == shape and first.is_contiguous() and first.dtype == torch.float32
    values = torch.unique(first)
    torch.testing.assert_close(values, torch.tensor([0.0, 1 / (1 - p)]))
    rate, n = round(65536 * p) / 65536, first.numel()
    dropped = float((first == 0).float().mean())
    assert abs(dropped - rate) < 5 * math.sqrt(rate * (1 - rate) / n)
    agreement = float((first == second).float().mean())  # independent draws
    assert abs(agreement - (rate ** 2 + (1 - rate) ** 2)) < 0.01
    torch.manual_seed(0)  # the same torch seed gives the same masks, in the same order
    assert torch.equal(attention.dropout_noise(shape, p, "cpu"), first)
    assert torch.equal(attention.dropout_noise(shape, p, "cpu"), second)
    # Neighbouring elements are not correlated (the 16-bit lanes of one 64-bit output).
    flat = (first.reshape(-1) == 0).float()
    lag = float((flat[:-1] * flat[1:]).mean())
    assert abs(lag - rate ** 2) < 5 * math.sqrt(rate ** 2 / n)


def test_keras_rmsprop_puts_epsilon_inside_the_square_root():
    p = torch.nn.Parameter(torch.tensor([1.0, 1.0]))
    p.grad = torch.tensor([1e-3, 1.0])
    attention.KerasRMSprop([p], lr=0.01).step()
    v = 0.1 * p.grad**2
    expected = 1.0 - 0.01 * p.grad / torch.sqrt(v + 1e-7)
    torch.testing.assert_close(p.detach(), expected)


def test_keras_rmsprop_matches_the_formula_over_steps_and_leaves_parameters_without_gradient():
    generator = torch.Generator().manual_seed(0)
    p, unused = torch.nn.Parameter(torch.randn(3, 2)), torch.nn.Parameter(torch.randn(4))
    start = p.detach().clone(), unused.detach().clone()
    optimizer = attention.KerasRMSprop([p, unused], lr=0.05, rho=0.8, eps=1e-6)
    theta, v = start[0].double(), torch.zeros(3, 2, dtype=torch.float64)
    for _ in range(3):
        optimizer.zero_grad()
        assert torch.equal(p.grad, torch.zeros(3, 2))
        gradient = torch.randn(3, 2, generator=generator)
        p.grad = gradient.clone()  # replaced from outside: step copies it into the buffer
        optimizer.step()
        v = 0.8 * v + 0.2 * gradient.double() ** 2
        theta = theta - 0.05 * gradient.double() / torch.sqrt(v + 1e-6)
    torch.testing.assert_close(p.detach().double(), theta, rtol=1e-5, atol=1e-6)
    assert torch.equal(unused.detach(), start[1])


def test_keras_rmsprop_keeps_parameters_and_gradients_in_one_buffer_through_backward():
    # The parameters become views of one flat tensor and backpropagation accumulates into
    # views of one flat gradient; the model computes and trains as before, also after
    # model.zero_grad() set the gradients to None and load_state_dict copied weights in.
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    twin = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    twin.load_state_dict(model.state_dict())
    x = torch.randn(5, 3)
    before = model(x)
    optimizer = attention.KerasRMSprop(model.parameters(), lr=0.01)
    torch.testing.assert_close(model(x), before, rtol=0, atol=0)
    buffer = optimizer.velocity.numel()
    assert buffer == sum(q.numel() for q in model.parameters())
    velocity = [torch.zeros_like(q) for q in twin.parameters()]
    for step in range(4):
        if step == 2:
            model.zero_grad()  # grads to None: the next step reattaches them
            twin.load_state_dict(model.state_dict())
        else:
            optimizer.zero_grad(set_to_none=step == 1)  # zeroes either way
        model(x).square().sum().backward()
        twin.zero_grad()
        twin(x).square().sum().backward()
        optimizer.step()
        with torch.no_grad():
            for q, v in zip(twin.parameters(), velocity):
                v.mul_(0.9).add_(0.1 * q.grad ** 2)
                q -= 0.01 * q.grad / torch.sqrt(v + 1e-7)
        for q, reference in zip(model.parameters(), twin.parameters()):
            torch.testing.assert_close(q, reference, rtol=1e-6, atol=1e-7)
    flat_start = optimizer._flat.data_ptr()
    ends = flat_start + 4 * buffer
    assert all(flat_start <= q.data_ptr() < ends for q in model.parameters())


def test_keras_rmsprop_rejects_parameters_of_different_dtypes():
    with pytest.raises(ValueError, match="one dtype and device"):
        attention.KerasRMSprop([torch.nn.Parameter(torch.zeros(2)),
                                torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))])


@pytest.mark.parametrize("params, error, match", [
    ([], ValueError, "non-empty"),
    (torch.zeros(2), TypeError, "iterable of tensors"),
    ([1.0], ValueError, "tensors"),
])
def test_keras_rmsprop_rejects_bad_parameters(params, error, match):
    with pytest.raises(error, match=match):
        attention.KerasRMSprop(params)


@pytest.mark.parametrize("kwargs, match", [({"lr": 0}, "lr"), ({"rho": 1.0}, "rho"),
                                           ({"eps": -1}, "eps")])
def test_keras_rmsprop_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        attention.KerasRMSprop([torch.nn.Parameter(torch.zeros(1))], **kwargs)


# ---------------------------------------------------------------------------- training


def test_history_and_loss_decrease(fit):
    history = fit.history
    assert isinstance(history, pd.DataFrame) and len(history) == TINY["epochs"]
    assert history["epoch"].tolist() == list(range(1, TINY["epochs"] + 1))
    assert {"train_loss", "val_loss", "train_token_accuracy", "train_instance_accuracy",
            "val_token_accuracy", "val_instance_accuracy"} <= set(history.columns)
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert history["val_loss"].min() < history["val_loss"].iloc[0]
    assert 1 <= fit.best_epoch <= TINY["epochs"]
    assert fit.best_epoch == int(history["val_loss"].idxmin()) + 1
    assert fit.fit_seconds > 0 and not fit.model.training
    assert set(fit.test_metrics) == {"loss", "token_accuracy", "instance_accuracy",
                                     "recall_0", "recall_1"}
    assert fit.test_metrics["instance_accuracy"] >= 0.75


def test_trace_shapes_and_trajectory(fit, easy):
    X_train, _, y_train, _ = easy
    trace = fit.trace
    n, T, d = X_train.shape
    assert trace.block_outputs.shape == (fit.best_epoch + 1, 2, 2, n, T, d)
    assert trace.block_outputs.dtype == np.float32
    assert trace.attention_epochs.tolist() == list(range(fit.best_epoch + 1))
    assert trace.attention_logits.shape == (fit.best_epoch + 1, 2, n, 2, T, T)
    np.testing.assert_allclose(trace.attention.sum(-1), 1.0, rtol=1e-5)
    trajectory = trace.trajectory
    assert len(trajectory) == fit.best_epoch + 1 and trajectory.shape[1:] == (n, T, d)
    standardized = TokenStandardizer().fit_transform(X_train)
    np.testing.assert_array_equal(trajectory[0], standardized.astype(np.float32))
    np.testing.assert_array_equal(trajectory[1:], trace.block_outputs[1:, -1, 1])
    np.testing.assert_array_equal(trace.labels, y_train)
    assert trace.is_validation.sum() == len(fit.validation_indices)
    np.testing.assert_array_equal(trace.trajectory_from("input"), trajectory)
    # The thesis code's indexing: outputs after epochs 1 .. best_epoch - 1.
    thesis = trace.trajectory_from("first_epoch")
    assert len(thesis) == fit.best_epoch - 1
    np.testing.assert_array_equal(thesis, trajectory[1:fit.best_epoch])
    with pytest.raises(ValueError, match="start must be one of"):
        trace.trajectory_from("last")
    frame = trace.trajectory_frame()
    assert len(frame) == (fit.best_epoch + 1) * n * T
    assert {"step", "instance", "token", "label", "x1", "x2"} <= set(frame.columns)


def test_restored_weights_are_the_best_epoch(fit, easy):
    X_train, _, y_train, _ = easy
    val = fit.validation_indices
    metrics = fit.evaluate(X_train[val], y_train[val])
    expected = fit.history.loc[fit.best_epoch - 1, "val_loss"]
    assert metrics["loss"] == pytest.approx(expected, rel=1e-6)
    # The final model reproduces the trace's last recorded epoch.
    inputs = torch.as_tensor(fit.trace.inputs)
    with torch.no_grad():
        out = fit.model.trace(inputs)
    np.testing.assert_allclose(out.block_outputs.numpy(), fit.trace.block_outputs[-1], atol=1e-6)


def test_early_stopping_cuts_the_trace_at_the_best_epoch(easy):
    X_train, _, y_train, _ = easy
    # With this seed and a large step the validation loss stalls and training stops early.
    options = dict(seed=2, lr=0.05, patience=2) | TINY | dict(epochs=30)
    plain = train_transformer(X_train, y_train, **(options | dict(attention_every=0)))
    best = plain.best_epoch
    # Record attention every `every` epochs, with `every` not dividing the best epoch, so that
    # the best epoch's attention is recorded separately; recording changes no weight.
    every = next(k for k in (3, 4, 5, 7) if best % k)
    result = train_transformer(X_train, y_train, **(options | dict(attention_every=every)))
    assert result.best_epoch == best
    pd.testing.assert_frame_equal(result.history, plain.history)
    last = len(result.history)
    assert last < 30 and last - result.best_epoch == 2
    assert len(result.trace.trajectory) == result.best_epoch + 1
    assert len(result.trace.block_outputs) == result.best_epoch + 1
    epochs = result.trace.attention_epochs.tolist()
    assert epochs == list(range(0, result.best_epoch + 1, every)) + [result.best_epoch]
    with torch.no_grad():
        out = result.model.trace(torch.as_tensor(result.trace.inputs))
    np.testing.assert_allclose(result.trace.attention_at(result.best_epoch),
                               out.attention.numpy(), atol=1e-6)


def test_no_validation_keeps_the_last_epoch(easy):
    X_train, _, y_train, _ = easy
    result = train_transformer(X_train, y_train, validation=None, trace=False,
                               **(TINY | dict(epochs=5)))
    assert result.best_epoch == 5 and result.trace is None and result.test_metrics is None
    assert result.history["val_loss"].isna().all()


def test_predict_returns_class_labels(easy):
    X_train, X_test, y_train, y_test = easy
    labels = np.where(y_train == 0, "benign", "malignant")
    result = train_transformer(X_train, labels, trace=False, **(TINY | dict(epochs=8)))
    assert result.classes.tolist() == ["benign", "malignant"]
    assert set(result.predict(X_test)) <= {"benign", "malignant"}
    assert result.predict_proba(X_test).shape == (len(X_test), 6, 2)


def test_pretrained_model_is_copied_and_frozen_parameters_stay(easy):
    X_train, _, y_train, _ = easy
    torch.manual_seed(0)
    start = ThesisTransformer(2, 2, n_heads=2, key_dim=4, ff_dim=8)
    for p in start.head.parameters():
        p.requires_grad_(False)
    before = {k: v.clone() for k, v in start.state_dict().items()}
    result = train_transformer(X_train, y_train, model=start, epochs=5, trace=False)
    for key, value in start.state_dict().items():  # the caller's model is untouched
        torch.testing.assert_close(value, before[key])
    for key, value in result.model.head.state_dict().items():
        torch.testing.assert_close(value, before[f"head.{key}"])
    assert not torch.equal(result.model.blocks[0].ff_in.weight, before["blocks.0.ff_in.weight"])


# ---------------------------------------------------------------------------- reproducibility


def test_same_seed_same_numbers_other_seed_differs(easy, fit):
    X_train, X_test, y_train, y_test = easy
    again = train_transformer(X_train, y_train, X_test, y_test, seed=0, lr=1e-2, **TINY)
    pd.testing.assert_frame_equal(again.history, fit.history)
    np.testing.assert_array_equal(again.trace.block_outputs, fit.trace.block_outputs)
    np.testing.assert_array_equal(again.trace.attention_logits, fit.trace.attention_logits)
    other = train_transformer(X_train, y_train, X_test, y_test, seed=1, lr=1e-2, **TINY)
    assert not other.history["train_loss"].equals(fit.history["train_loss"])


def test_fit_restores_thread_count_and_global_rng(easy):
    X_train, _, y_train, _ = easy
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_transformer(X_train, y_train, trace=False, n_threads=1, **(TINY | dict(epochs=2)))
    assert torch.get_num_threads() == threads
    torch.testing.assert_close(torch.rand(3), expected)


def test_default_validation_ignores_test_labels(easy, fit):
    X_train, X_test, y_train, y_test = easy
    shuffled = np.random.default_rng(0).permutation(y_test)
    flipped = 1 - y_test
    for labels in (shuffled, flipped):
        other = train_transformer(X_train, y_train, X_test, labels, seed=0, lr=1e-2, **TINY)
        pd.testing.assert_frame_equal(other.history, fit.history)
        np.testing.assert_array_equal(other.trace.block_outputs, fit.trace.block_outputs)
        assert other.best_epoch == fit.best_epoch
    assert fit.validation == "split"
    assert set(fit.validation_indices) < set(range(len(X_train)))


def test_thesis_validation_on_test_set_is_explicit(easy):
    X_train, X_test, y_train, y_test = easy
    result = train_transformer(X_train, y_train, X_test, y_test, validation="test", trace=False,
                               **(TINY | dict(epochs=4)))
    assert result.validation == "test" and result.validation_indices is None
    loss = result.evaluate(X_test, y_test)["loss"]
    assert loss == pytest.approx(result.history.loc[result.best_epoch - 1, "val_loss"], rel=1e-6)
    with pytest.raises(ValueError, match="X_test"):
        train_transformer(X_train, y_train, validation="test", **TINY)


# ---------------------------------------------------------------------------- saving


def test_trace_save_load_round_trip(fit, tmp_path):
    path = fit.trace.save(tmp_path / "trace")
    assert path.name == "trace.npz" and path.is_file()
    loaded = Trace.load(path)
    for name in ("inputs", "labels", "block_outputs", "attention_logits", "attention_epochs",
                 "is_validation"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(fit.trace, name))
        assert getattr(loaded, name).dtype == getattr(fit.trace, name).dtype
    assert loaded.best_epoch == fit.trace.best_epoch
    np.testing.assert_array_equal(loaded.trajectory, fit.trace.trajectory)


def test_trace_without_attention_round_trips(easy, tmp_path):
    X_train, _, y_train, _ = easy
    result = train_transformer(X_train, y_train, **(TINY | dict(epochs=3, attention_every=None)))
    assert result.trace.attention_logits.shape[0] == 0
    loaded = Trace.load(result.trace.save(tmp_path / "t.npz"))
    assert loaded.attention_logits.shape == result.trace.attention_logits.shape
    with pytest.raises(ValueError, match="not recorded"):
        loaded.attention_at(0)


def test_load_rejects_other_files(tmp_path):
    np.savez_compressed(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a Trace"):
        Trace.load(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError):
        Trace.load(tmp_path / "missing.npz")


# ---------------------------------------------------------------------------- bad input


def _bad_call(easy, **changes):
    X_train, X_test, y_train, y_test = easy
    args = dict(X_train=X_train, y_train=y_train, epochs=1, trace=False) | changes
    return lambda: train_transformer(**args)


@pytest.mark.parametrize("changes, error, match", [
    (dict(y_train=np.zeros(5, int)), ValueError, "y_train"),
    (dict(X_train=np.zeros((12, 6, 2, 1))), ValueError, "X_train"),
    (dict(X_train=np.full((12, 6, 2), np.nan)), ValueError, "X_train.*NaN"),
    (dict(y_train=np.zeros(12, int)), ValueError, "single class"),
    (dict(device="tpu"), ValueError, "device"),
    (dict(n_heads=0), ValueError, "n_heads"),
    (dict(epochs=0), ValueError, "epochs"),
    (dict(lr=-1.0), ValueError, "lr"),
    (dict(validation=1.5), ValueError, "validation"),
    (dict(validation="train"), ValueError, "validation"),
    (dict(validation=None, patience=3), ValueError, "patience"),
    (dict(validation=0.05), ValueError, "validation"),
    (dict(n_threads=0), ValueError, "n_threads"),
    (dict(optimizer="lbfgs"), ValueError, "optimizer must be one of"),
])
def test_train_rejects_bad_input(easy, changes, error, match):
    with pytest.raises(error, match=match):
        _bad_call(easy, **changes)()


def test_train_rejects_bad_test_data(easy):
    X_train, X_test, y_train, y_test = easy
    with pytest.raises(ValueError, match="y_test"):
        train_transformer(X_train, y_train, X_test, y_test[:-1], epochs=1)
    with pytest.raises(ValueError, match="y_test.*do not occur"):
        train_transformer(X_train, y_train, X_test, y_test + 5, epochs=1)
    with pytest.raises(ValueError, match="X_test"):
        train_transformer(X_train, y_train, X_test[..., :1], y_test, epochs=1)
    with pytest.raises(ValueError, match="together"):
        train_transformer(X_train, y_train, X_test, epochs=1)


def test_cuda_without_cuda_is_a_clear_error(easy, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        _bad_call(easy, device="cuda")()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fit_matches_the_cpu_fit(easy):
    X_train, X_test, y_train, y_test = easy
    options = dict(TINY, epochs=5, dropout=0.0, head_dropout=0.0, seed=0)
    cpu = train_transformer(X_train, y_train, X_test, y_test, device="cpu", **options)
    gpu = train_transformer(X_train, y_train, X_test, y_test, device="cuda", **options)
    assert next(gpu.model.parameters()).device.type == "cuda"
    np.testing.assert_allclose(gpu.history["train_loss"], cpu.history["train_loss"], rtol=1e-3)
    np.testing.assert_allclose(gpu.trace.trajectory, cpu.trace.trajectory, atol=1e-3)
    assert gpu.predict(X_test).tolist() == cpu.predict(X_test).tolist()


def test_transformer_classifier_is_a_scikit_learn_classifier(easy):
    X_train, X_test, y_train, y_test = easy
    options = dict(n_heads=2, key_dim=4, ff_dim=8, epochs=30)
    classifier = attention.TransformerClassifier(**options, random_state=3)
    with pytest.raises(NotFittedError, match="not fitted"):
        classifier.predict(X_test)
    assert clone(classifier).get_params() == classifier.get_params()
    classifier.fit(X_train, np.where(y_train == 0, "healthy", "sick"))
    probabilities = classifier.predict_proba(X_test)
    assert probabilities.shape == (len(X_test), 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert set(classifier.predict(X_test)) <= {"healthy", "sick"}
    same = train_transformer(X_train, np.where(y_train == 0, "healthy", "sick"), seed=3,
                             trace=False, **options)
    assert classifier.predict(X_test).tolist() == same.predict(X_test).tolist()
    scores = cross_val_score(attention.TransformerClassifier(**options), X_train, y_train,
                             cv=StratifiedKFold(3))
    assert scores.shape == (3,) and np.all((0 <= scores) & (scores <= 1))
    with pytest.raises(ValueError, match="X has 3 features per token, but the classifier was"):
        classifier.predict(np.zeros((2, 6, 3)))


def test_thesis_trajectory_needs_two_steps_after_the_first_epoch():
    n, T, d = 2, 3, 2
    trace = Trace(inputs=np.zeros((n, T, d), np.float32), labels=np.array([0, 1]),
                  block_outputs=np.zeros((3, 1, 2, n, T, d), np.float32),
                  attention_logits=np.zeros((0, 1, n, 1, T, T), np.float32),
                  attention_epochs=np.zeros(0, np.int64), is_validation=np.zeros(n, bool),
                  best_epoch=2)
    assert len(trace.trajectory_from("input")) == 3
    with pytest.raises(ValueError, match="best_epoch >= 3"):
        trace.trajectory_from("first_epoch")


def test_sublayer_moves_count_the_displacements_of_each_sublayer(fit):
    table = fit.trace.sublayer_moves()
    n_blocks = fit.model.n_blocks
    assert list(table["sublayer"]) == [f"block {b} {part}" for b in range(1, n_blocks + 1)
                                       for part in ("attention", "feed-forward")]
    stages = fit.trace.sublayer_outputs()
    first_move = np.round(stages[1][1] - stages[0][1], 3).reshape(-1, stages[0][1].shape[-1])
    assert table.loc[0, "distinct moves"] == len(np.unique(first_move, axis=0))
    assert (table["most distinct moves in one instance"] <= table["distinct moves"]).all()
    epoch_zero = fit.trace.sublayer_outputs(0)
    assert np.array_equal(epoch_zero[1][1], fit.trace.block_outputs[0, 0, 0])
    with pytest.raises(ValueError, match="epoch must be at most"):
        fit.trace.sublayer_outputs(fit.trace.best_epoch + 1)


def test_optimizers_other_than_rmsprop(easy):
    X, _, y, _ = easy
    adam = attention.train_transformer(X, y, epochs=3, n_heads=2, optimizer="adam", lr=1e-3,
                                       attention_every=0)
    sgd = attention.train_transformer(X, y, epochs=3, n_heads=2, optimizer="sgd", lr=1e-1,
                                      attention_every=0)
    assert adam.params["optimizer"] == "adam" and sgd.params["optimizer"] == "sgd"
    assert not np.allclose(adam.trace.block_outputs[-1], sgd.trace.block_outputs[-1])


def test_layer_norm_jacobians_match_autograd_and_vanish_with_two_features():
    for n_features in (2, 3):
        X, _, y, _ = thesis_split(3, 1, n_instances=30, n_tokens=4, seed=0, n_features=n_features)
        fit = train_transformer(X, y, epochs=2, n_heads=2, attention_every=0)
        table = attention.layer_norm_jacobians(fit.model, fit.trace.inputs)
        assert len(table) == 4 and set(table["sublayer"]) == {"attention", "feed-forward"}
        # Automatic differentiation at the inputs of the first block's attention LayerNorm.
        model = fit.model.eval()
        x = torch.as_tensor(fit.trace.inputs, dtype=torch.float32)
        with torch.no_grad():
            attended = model.blocks[0].attention(x, False)[0]
        layer = model.blocks[0].attention_norm.double()
        jacobians = torch.func.vmap(torch.func.jacrev(layer))(
            attended.double().reshape(-1, n_features))
        norms = torch.linalg.matrix_norm(jacobians.detach(), ord=2).numpy()
        model.float()
        first = table[(table["block"] == 1) & (table["sublayer"] == "attention")].iloc[0]
        assert first["median"] == pytest.approx(np.median(norms), rel=1e-4, abs=1e-9)
        assert first["max"] == pytest.approx(norms.max(), rel=1e-4, abs=1e-9)
        if n_features == 2:
            assert table["median"].max() < 1e-2
        else:
            assert table["median"].min() > 1e-2
    with pytest.raises(TypeError, match="ThesisTransformer"):
        attention.layer_norm_jacobians(torch.nn.Linear(2, 2), X)
