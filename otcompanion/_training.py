"""The one training core of the package's torch models.

The thesis Transformer (:mod:`otcompanion.attention`), the head pretraining
(:mod:`otcompanion.pretrain`) and the OT classifier's MLP (:mod:`otcompanion.otclassifier`) all
train through this module:

- :func:`torch_session`: a seeded torch session (intra-op threads, a forked random state so a fit
  neither disturbs nor is disturbed by other draws, the device);
- :func:`check_training_data`, :func:`encode_labels`: tokens and labels checked once;
- :func:`stratified_split`: the seeded, stratified validation split of training instances;
- :class:`EarlyStopping`: keras ``EarlyStopping(restore_best_weights=True)`` semantics;
- :func:`train_epochs`: the epoch loop, full batch or minibatches, with a validation pass and
  early stopping.

The thesis trained with keras's ``fit`` and ``EarlyStopping`` (Quadrio & Candelieri, 2025,
arXiv:2512.09530); early stopping as a regularizer: L. Prechelt, *Early stopping - but when?*,
in *Neural Networks: Tricks of the Trade*, 1998.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager

import numpy as np
import torch

from ._validation import check_fraction, check_int, check_real
from .data import check_tokens, stratified_indices


def resolve_device(device):
    """A ``torch.device`` for ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Raises
    ------
    TypeError
        ``device`` is neither a string nor a ``torch.device``.
    ValueError
        Another string, or a CUDA index that does not exist.
    RuntimeError
        CUDA was asked for but is not available.
    """
    if isinstance(device, torch.device):
        text = str(device)
    elif isinstance(device, str):
        text = device.strip().lower()
    else:
        raise TypeError(f"device must be a string such as 'cpu' or 'cuda', got {device!r}.")
    kind, _, index = text.partition(":")
    if kind not in ("cpu", "cuda") or (index and (kind == "cpu" or not index.isdigit())):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:<index>', got {device!r}.")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device={device!r} was requested but CUDA is not available in this torch build "
                f"or on this machine (torch {torch.__version__}); use device='cpu'."
            )
        if index and int(index) >= torch.cuda.device_count():
            raise ValueError(f"device={device!r}: only {torch.cuda.device_count()} CUDA "
                             f"device(s) are available.")
    return torch.device(text)


@contextmanager
def torch_session(seed, n_threads=1, device="cpu"):
    """Run a block with ``n_threads`` intra-op threads and torch seeded with ``seed``.

    Torch's global random state (CPU, and the CUDA device in use) is saved before and restored
    after the block, and so is the thread count. Tiny models train much faster on one thread
    than on several, and the thread count changes floating-point results, so every fit of the
    package fixes it.

    Yields
    ------
    torch.device
        The resolved ``device``.
    """
    seed = check_int(seed, "seed", 0)
    n_threads = check_int(n_threads, "n_threads", 1)
    torch_device = resolve_device(device)
    previous = torch.get_num_threads()
    rng_devices = [torch_device.index or 0] if torch_device.type == "cuda" else []
    torch.set_num_threads(n_threads)
    try:
        with torch.random.fork_rng(devices=rng_devices):
            torch.manual_seed(seed)
            yield torch_device
    finally:
        torch.set_num_threads(previous)


def check_labels(y, name, n_instances, X_name="X"):
    """One label per instance, none missing; object labels become strings."""
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != n_instances:
        raise ValueError(f"{name} must hold one label per instance of {X_name}: {X_name} has "
                         f"{n_instances} instances, {name} has shape {labels.shape}.")
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
        raise ValueError(f"{name} contains NaN or infinite labels.")
    if labels.dtype == object:
        if any(label is None or (isinstance(label, float) and not math.isfinite(label))
               for label in labels):
            raise ValueError(f"{name} contains missing labels.")
        labels = labels.astype(str)
    return labels


def check_training_data(X, y, X_name="X", y_name="y", purpose=""):
    """Validated training tokens and labels: ``(tokens, labels, classes, codes)``.

    ``tokens`` has shape ``(n, T, d)``, ``classes`` are the sorted distinct labels (at least
    two) and ``codes[i]`` is the index of instance ``i``'s label in ``classes``.
    """
    tokens = check_tokens(X, X_name)
    labels = check_labels(y, y_name, len(tokens), X_name)
    classes, codes = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"{y_name} has a single class {classes.tolist()[0]!r}; at least two "
                         f"classes are needed{purpose}.")
    return tokens, labels, classes, codes


def encode_labels(y, classes, name, n_instances, X_name="X"):
    """Indices into ``classes`` of the labels ``y``; unknown labels are an error."""
    labels = check_labels(y, name, n_instances, X_name)
    unknown = sorted(set(labels.tolist()) - set(classes.tolist()), key=str)
    if unknown:
        raise ValueError(f"{name} has label(s) {unknown[:5]} that do not occur in the training "
                         f"labels (classes {classes.tolist()}).")
    return np.searchsorted(classes, labels).astype(np.int64)


def stratified_split(codes, fraction, seed, *, if_too_small="raise"):
    """Seeded, stratified ``(fit, validation)`` indices of the training instances.

    ``ceil(fraction * n)`` instances are held out by :func:`otcompanion.data.stratified_indices`
    (scikit-learn's ``train_test_split`` stratified by class), each side sorted. Both sides need
    every class.

    Parameters
    ----------
    codes : ndarray of int
        Class index of every instance.
    fraction : float in (0, 1)
    seed : int
    if_too_small : {"raise", "skip"}
        What to do when the classes are too small to hold out every class on both sides:
        raise a ValueError, or return ``(all indices, None)`` (no validation).
    """
    fraction = check_fraction(fraction, "validation fraction")
    n, n_classes = len(codes), int(codes.max()) + 1
    n_val = math.ceil(fraction * n)
    counts = np.bincount(codes, minlength=n_classes)
    if n_val < n_classes or n - n_val < n_classes or counts.min() < 2:
        if if_too_small == "skip":
            return np.arange(n), None
        raise ValueError(
            f"validation={fraction} cannot hold out a stratified validation set from "
            f"{n} training instances with class counts {counts.tolist()}: it needs at least one "
            f"instance of every class on both sides (here {n_val} held out). Use more training "
            f"instances, another fraction, explicit validation data or no validation."
        )
    fit, val = stratified_indices(codes, n_val, seed)
    return np.sort(fit), np.sort(val)


class EarlyStopping:
    """keras ``EarlyStopping(restore_best_weights=True)`` on a validation loss.

    An epoch improves when its loss is lower than the best so far by more than ``min_delta``
    (``loss < best - min_delta``); only an improving epoch becomes the best epoch and has its
    weights kept. :meth:`update` says to stop after ``patience`` epochs in a row without
    improvement, and :meth:`restore` loads the weights of the best epoch.

    Parameters
    ----------
    patience : int >= 1
    min_delta : float >= 0, default 0
    """

    def __init__(self, patience, min_delta=0.0):
        self.patience = check_int(patience, "patience", 1)
        self.min_delta = check_real(min_delta, "min_delta", 0.0)
        self.best_loss = math.inf
        self.best_epoch = 0
        self.best_state = None
        self.wait = 0
        self._module = self._state = None

    def update(self, epoch, loss, module):
        """Record epoch ``epoch`` with validation ``loss``; return True when training should
        stop.

        The first improvement copies ``module.state_dict()``; later ones copy the same tensors
        into that copy (one ``torch._foreach_copy_``; walking the submodules for
        ``state_dict`` took about half of a thesis-size copy), so training must update the
        parameters and buffers in place, as optimizers do.
        """
        if loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.wait = loss, epoch, 0
            if module is not self._module:
                self._module, self._state = module, module.state_dict(keep_vars=True)
                self.best_state = {key: value.detach().clone()
                                   for key, value in self._state.items()}
            else:
                torch._foreach_copy_(list(self.best_state.values()),
                                     [value.detach() for value in self._state.values()])
            return False
        self.wait += 1
        return self.wait >= self.patience

    def restore(self, module, what="training"):
        """Load the best weights into ``module`` and return the best epoch; no finite loss in
        any epoch is an error."""
        if self.best_state is None:
            raise RuntimeError(f"the validation loss was never finite; {what} diverged (try a "
                               f"smaller learning rate).")
        module.load_state_dict(self.best_state)
        return self.best_epoch


def _set_mode(modules, training):
    """``model.train(training)`` for the flat list ``list(model.modules())``.

    ``nn.Module.train`` recurses through the children and sets the flag through
    ``nn.Module.__setattr__`` at every level: called twice an epoch, that was a twentieth of a
    thesis-size fit. The flag is a plain instance attribute (``nn.Module.__setattr__`` stores
    it in the instance dictionary too), so it is written there directly. The package's models
    do not override ``train``.
    """
    for module in modules:
        module.__dict__["training"] = training


def train_epochs(model, optimizer, loss_fn, inputs, targets, epochs, *, batch_size=None,
                 train_metrics=None, evaluate=None, stopping=None, what="training"):
    """The epoch loop of every model of the package.

    Each epoch puts ``model`` in training mode and takes gradient steps on ``loss_fn(model(x),
    t)``: one full-batch step (``batch_size=None`` or at least the number of rows), or
    minibatches of ``batch_size`` rows in a fresh random order (``torch.randperm`` from the
    session's seed). Then ``evaluate(epoch)`` runs with the model in inference mode under
    ``torch.inference_mode()`` (no gradients; tensors it makes cannot enter a later backward
    pass) and adds its values (at least ``val_loss`` when ``stopping`` is given) to the
    epoch's row, and ``stopping`` (an :class:`EarlyStopping`) may end training; its best
    weights are restored at the end. A non-finite training loss ends training: with
    ``stopping`` the best weights are restored, without it the fit is an error.

    Parameters
    ----------
    model : torch.nn.Module
    optimizer : torch.optim.Optimizer or attention.KerasRMSprop
        Anything with ``zero_grad()`` and ``step()``.
    loss_fn : callable ``(outputs, targets) -> scalar tensor``
        A mean over the rows of the batch.
    inputs, targets : Tensor
        Training rows (first dimension), already on the model's device.
    epochs : int
    batch_size : int, optional
    train_metrics : callable ``(outputs, targets) -> dict``, optional
        Extra training values of the epoch from the detached outputs of its last gradient step
        (the keras convention: training mode, before the update); full batch only.
    evaluate : callable ``epoch -> dict``, optional
    stopping : EarlyStopping, optional
    what : str
        Names the fit in error messages.

    Returns
    -------
    rows : list of dict
        One per epoch run: ``epoch``, ``train_loss`` (mean over the epoch's rows),
        ``step_seconds`` (CPU time of the calling thread spent in gradient steps up to the end
        of this epoch, ``time.thread_time``: what training costs, without evaluation or
        recording, and little affected by other processes on the machine), then the values of
        ``train_metrics`` and ``evaluate``.
    best_epoch : int
        The restored epoch, or the last one without ``stopping``.
    """
    n_rows = len(inputs)
    batch = n_rows if batch_size is None else min(batch_size, n_rows)
    if train_metrics is not None and batch < n_rows:
        raise ValueError("train_metrics needs full-batch training.")
    rows, epoch, step_seconds = [], 0, 0.0
    modules = list(model.modules())
    for epoch in range(1, epochs + 1):
        started = time.thread_time()
        _set_mode(modules, True)
        if batch < n_rows:
            order = torch.randperm(n_rows, device=inputs.device)
            epoch_inputs, epoch_targets = inputs[order], targets[order]
        else:
            epoch_inputs, epoch_targets = inputs, targets
        total = torch.zeros((), device=inputs.device)
        for start in range(0, n_rows, batch):
            x, t = epoch_inputs[start:start + batch], epoch_targets[start:start + batch]
            optimizer.zero_grad()
            outputs = model(x)
            loss = loss_fn(outputs, t)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(x)
        # One full batch: its loss as is (a sum over batches would round it differently).
        train_loss = float(loss.detach()) if batch == n_rows else float(total) / n_rows
        step_seconds += time.thread_time() - started
        row = {"epoch": epoch, "train_loss": train_loss, "step_seconds": step_seconds}
        if train_metrics is not None:
            row.update(train_metrics(outputs.detach(), t))
        if evaluate is not None:
            _set_mode(modules, False)
            with torch.inference_mode():  # no_grad, and about a tenth less overhead per op
                row.update(evaluate(epoch))
        rows.append(row)
        if not math.isfinite(row["train_loss"]):
            if stopping is None:
                raise RuntimeError(f"the training loss became {row['train_loss']} at epoch "
                                   f"{epoch}; {what} diverged (try a smaller learning rate).")
            break
        if stopping is not None and stopping.update(epoch, row["val_loss"], model):
            break
    best_epoch = epoch if stopping is None else stopping.restore(model, what)
    model.eval()
    return rows, best_epoch


def resolve_validation(validation, tokens, codes, classes, seed, *, test=None):
    """Where the validation data of a fit come from.

    Parameters
    ----------
    validation : float in (0, 1), "test", (X_val, y_val) or None
        A fraction holds out that share of the training instances (:func:`stratified_split`);
        ``"test"`` uses ``test`` (only for reproducing the thesis, which validated on its test
        set); a pair gives explicit validation data; ``None``: no validation.
    tokens : ndarray of shape (n, T, d)
        The training tokens.
    codes : ndarray of int
        Class index of every training instance.
    classes : ndarray
        The sorted training labels.
    seed : int
        Seeds the split.
    test : (tokens, codes), optional
        Checked test data, for ``validation="test"``.

    Returns
    -------
    source : {"split", "test", "given", "none"}
    fit_index : ndarray of int
        Training instances used for the gradient steps.
    val_index : ndarray of int or None
        Held-out training instances (``"split"`` only).
    val_data : (tokens, codes) or None
        Separate validation data (``"test"`` and ``"given"``).
    """
    everything = np.arange(len(tokens))
    if validation is None:
        return "none", everything, None, None
    if isinstance(validation, str):
        if validation != "test" or test is None:
            allowed = ("a fraction in (0, 1), 'test', (X_val, y_val) or None" if test is not None
                       else "a fraction in (0, 1), (X_val, y_val) or None")
            if validation == "test":
                raise ValueError("validation='test' needs X_test and y_test.")
            raise ValueError(f"validation must be {allowed}, got {validation!r}.")
        return "test", everything, None, test
    if isinstance(validation, tuple):
        if len(validation) != 2:
            raise ValueError("validation as a tuple must be (X_val, y_val).")
        val_tokens = check_tokens(validation[0], "validation X_val")
        if val_tokens.shape[-1] != tokens.shape[-1]:
            raise ValueError(f"validation X_val has {val_tokens.shape[-1]} features per token, "
                             f"the training tokens have {tokens.shape[-1]}.")
        val_codes = encode_labels(validation[1], classes, "validation y_val", len(val_tokens),
                                  "validation X_val")
        return "given", everything, None, (val_tokens, val_codes)
    fit_index, val_index = stratified_split(codes, check_fraction(validation, "validation"),
                                            seed)
    return "split", fit_index, val_index, None
