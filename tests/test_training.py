"""The one training core (otcompanion._training)."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from otcompanion._training import (
    EarlyStopping,
    resolve_validation,
    stratified_split,
    torch_session,
    train_epochs,
)


def _linear():
    return nn.Linear(2, 1)


def test_early_stopping_keras_semantics_with_min_delta():
    stopping, model = EarlyStopping(patience=2, min_delta=0.1), _linear()
    # 1.0 improves on inf; 0.95 is not better by more than 0.1; 0.85 is; then two misses stop.
    decisions = [stopping.update(epoch, loss, model)
                 for epoch, loss in enumerate([1.0, 0.95, 0.85, 0.84, 0.9], start=1)]
    assert decisions == [False, False, False, False, True]
    assert stopping.best_epoch == 3 and stopping.best_loss == 0.85


def test_early_stopping_restores_the_best_weights_and_refuses_a_never_finite_loss():
    model, stopping = _linear(), EarlyStopping(patience=5)
    model.register_buffer("counter", torch.zeros(()))
    for epoch, (weight, loss) in enumerate([(1.0, 0.5), (3.0, 0.4), (7.0, 0.9)], start=1):
        with torch.no_grad():  # in place, as an optimizer updates
            model.weight.fill_(weight)
            model.counter.fill_(epoch)
        stopping.update(epoch, loss, model)
    # The second improvement was copied into the first one's copy, not aliased.
    assert all(value.data_ptr() != model.state_dict()[key].data_ptr()
               for key, value in stopping.best_state.items())
    assert stopping.restore(model) == 2
    assert torch.all(model.weight == 3.0) and model.counter == 2
    # A new module gets its own copy.
    other = _linear()
    stopping.update(4, 0.1, other)
    assert stopping.best_state["weight"].data_ptr() != model.weight.data_ptr()
    torch.testing.assert_close(stopping.best_state["weight"], other.weight.detach())
    never = EarlyStopping(patience=1)
    never.update(1, math.nan, model)
    with pytest.raises(RuntimeError, match="never finite"):
        never.restore(model, "the test fit")


@pytest.mark.parametrize("kwargs, error", [(dict(patience=0), ValueError),
                                           (dict(patience=1.5), TypeError),
                                           (dict(patience=1, min_delta=-1.0), ValueError)])
def test_early_stopping_bad_parameters(kwargs, error):
    with pytest.raises(error):
        EarlyStopping(**kwargs)


def test_torch_session_restores_threads_and_random_state():
    torch.set_num_threads(2)
    before = torch.get_rng_state()
    with torch_session(5, n_threads=1):
        assert torch.get_num_threads() == 1
        first = torch.rand(3)
    with torch_session(5, n_threads=1):
        assert torch.equal(torch.rand(3), first)
    assert torch.get_num_threads() == 2
    assert torch.equal(torch.get_rng_state(), before)
    torch.set_num_threads(1)


def _regression(n=64):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 2, generator=generator)
    return x, x @ torch.tensor([[1.0], [-2.0]]) + 0.5


@pytest.mark.parametrize("batch_size", [None, 16])
def test_train_epochs_is_reproducible_and_learns(batch_size):
    x, t = _regression()
    results = []
    for _ in range(2):
        with torch_session(3):
            model = _linear()
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            rows, best = train_epochs(model, optimizer, nn.functional.mse_loss, x, t, 30,
                                      batch_size=batch_size)
        results.append((rows, model.weight.detach().clone()))
    times = [[row.pop("step_seconds") for row in rows] for rows, _ in results]
    assert results[0][0] == results[1][0]  # everything but the measured times
    assert torch.equal(results[0][1], results[1][1])
    assert best == 30 and rows[-1]["train_loss"] < 1e-2 * rows[0]["train_loss"]
    assert all(np.all(np.diff(run) >= 0) and run[0] > 0 for run in times)  # cumulative


def test_train_epochs_full_batch_loss_is_the_step_loss_and_early_stopping_restores():
    x, t = _regression()
    with torch_session(0):
        model = _linear()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        losses = iter([3.0, 2.0, 2.5, 2.6, 2.7, 2.8])
        rows, best = train_epochs(model, optimizer, nn.functional.mse_loss, x, t, 6,
                                  evaluate=lambda epoch: {"val_loss": next(losses)},
                                  stopping=EarlyStopping(patience=2))
    assert best == 2 and len(rows) == 4  # stops after two epochs without improvement
    assert [row["epoch"] for row in rows] == [1, 2, 3, 4]
    with torch_session(0):  # the same initial weights: epoch 1 reports their loss exactly
        initial = float(nn.functional.mse_loss(_linear()(x), t).detach())
    assert rows[0]["train_loss"] == initial


def test_train_epochs_trains_in_training_mode_and_evaluates_in_inference_mode():
    # The loop switches the mode of every submodule (flat, without nn.Module.train): the
    # forward passes of the steps see training mode, evaluate sees inference mode, and the
    # model ends in inference mode.
    x, t = _regression()
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.0), nn.Linear(3, 1))

        def forward(self, inputs):
            seen.append(("step", [m.training for m in self.modules()]))
            return self.inner(inputs)

    model = Probe()
    modules = list(model.modules())

    def evaluate(epoch):
        seen.append(("evaluate", [m.training for m in modules]))
        return {}

    with torch_session(0):
        train_epochs(model, torch.optim.SGD(model.parameters(), lr=0.1),
                     nn.functional.mse_loss, x, t, 2, evaluate=evaluate)
    assert [where for where, _ in seen] == ["step", "evaluate"] * 2
    assert all(all(flags) == (where == "step") and len(set(flags)) == 1
               for where, flags in seen)
    assert not any(m.training for m in modules)


def test_train_epochs_diverging_loss():
    x, t = _regression()
    with torch_session(0):
        model = _linear()
        optimizer = torch.optim.SGD(model.parameters(), lr=1e6)
        with pytest.raises(RuntimeError, match="diverged"):
            train_epochs(model, optimizer, nn.functional.mse_loss, x, t, 50, what="the fit")
        model = _linear()
        optimizer = torch.optim.SGD(model.parameters(), lr=1e6)
        rows, best = train_epochs(model, optimizer, nn.functional.mse_loss, x, t, 50,
                                  evaluate=lambda epoch: {"val_loss": 1.0 / epoch},
                                  stopping=EarlyStopping(patience=50))
    # The non-finite epoch is never the best one: the last finite epoch with a better
    # validation loss is restored.
    assert not math.isfinite(rows[-1]["train_loss"]) and len(rows) < 50
    assert best == len(rows) - 1


def test_stratified_split_keeps_every_class_and_skips_when_too_small():
    codes = np.repeat([0, 1, 2], 10)
    fit, val = stratified_split(codes, 0.2, seed=0)
    assert len(val) == 6 and set(codes[val]) == {0, 1, 2} and set(codes[fit]) == {0, 1, 2}
    assert not set(fit) & set(val)
    np.testing.assert_array_equal(stratified_split(codes, 0.2, seed=0)[1], val)
    tiny = np.array([0, 1, 1])
    with pytest.raises(ValueError, match="cannot hold out"):
        stratified_split(tiny, 0.5, seed=0)
    everything, none = stratified_split(tiny, 0.5, seed=0, if_too_small="skip")
    assert none is None and everything.tolist() == [0, 1, 2]


def test_resolve_validation_sources_and_errors():
    tokens = np.zeros((10, 3, 2))
    codes = np.repeat([0, 1], 5)
    classes = np.array(["a", "b"])
    assert resolve_validation(None, tokens, codes, classes, 0)[0] == "none"
    source, fit, val, data = resolve_validation(0.2, tokens, codes, classes, 0)
    assert source == "split" and len(val) == 2 and data is None
    source, _, _, (val_tokens, val_codes) = resolve_validation(
        (np.ones((2, 3, 2)), ["b", "a"]), tokens, codes, classes, 0)
    assert source == "given" and val_codes.tolist() == [1, 0]
    with pytest.raises(ValueError, match="needs X_test"):
        resolve_validation("test", tokens, codes, classes, 0)
    with pytest.raises(ValueError, match="do not occur"):
        resolve_validation((np.ones((1, 3, 2)), ["c"]), tokens, codes, classes, 0)
    with pytest.raises(ValueError, match="features per token"):
        resolve_validation((np.ones((1, 3, 5)), ["a"]), tokens, codes, classes, 0)
    with pytest.raises(TypeError, match="validation must be a real number"):
        resolve_validation([0.2], tokens, codes, classes, 0)
