"""The thesis Transformer and its training protocol.

The model is the keras "Timeseries classification with a Transformer model" encoder that the thesis
used, with the classification head applied to every token (Quadrio & Candelieri, 2025):
:class:`~otcompanion.attention.EncoderBlock` and :class:`~otcompanion.attention.ThesisTransformer`.
Training (:func:`~otcompanion.attention.train_transformer`,
:class:`~otcompanion.attention.TransformerFit`, and the scikit-learn estimator
:class:`~otcompanion.attention.TransformerClassifier`) follows the thesis protocol (token-wise
cross-entropy, RMSprop, full batch, early stopping restoring the best weights) except that
validation data never comes from the test set by default, and the model is trained and traced on the
same standardized inputs (the thesis code trained on raw and traced on standardized inputs; this
module does not reproduce that defect).

References
----------
- A. Quadrio, A. Candelieri. *Transformers for Tabular Data: A Training Perspective of
  Self-Attention via Optimal Transport*. Univ. Milano-Bicocca, 2025. arXiv:2512.09530.
- keras.io example "Timeseries classification with a Transformer model" (T. Ntakouris),
  the encoder block of the thesis; keras ``LayerNormalization``, ``RMSprop`` and
  ``EarlyStopping`` for the defaults matched here.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils import metadata_routing
from torch import nn
from torch.nn import functional as F

from .._training import (
    EarlyStopping,
    check_training_data,
    encode_labels,
    resolve_device,
    resolve_validation,
    torch_session,
    train_epochs,
)
from .._validation import (
    as_units,
    check_bool,
    check_choice,
    check_fraction,
    check_int,
    check_positive,
)
from ..data import TokenStandardizer, check_tokens
from .layers import Dropout, KerasRMSprop, keras_dense
from .self_attention import MultiHeadSelfAttention
from .trace import ForwardTrace, Trace, stack_in_memory_order

#: Columns of :attr:`~otcompanion.attention.TransformerFit.history`.
HISTORY_COLUMNS = ["epoch", "train_loss", "train_token_accuracy", "train_instance_accuracy",
                   "val_loss", "val_token_accuracy", "val_instance_accuracy"]

#: The LayerNorm epsilon of :class:`~otcompanion.attention.EncoderBlock`: keras
#: ``LayerNormalization(epsilon=1e-6)`` in the thesis's encoder block.
LAYER_NORM_EPS = 1e-6
#: Optimizers :func:`~otcompanion.attention.train_transformer` can train with.
OPTIMIZERS = ("rmsprop", "adam", "sgd")


class EncoderBlock(nn.Module):
    """The thesis's encoder block (keras example, post-norm inside the residual branch).

    .. math::
        r = \\operatorname{LN}(\\operatorname{Dropout}(\\operatorname{MHA}(x))) + x, \\qquad
        y = \\operatorname{LN}\\big(W_2\\,\\operatorname{Dropout}(\\operatorname{ReLU}(W_1 r + b_1))
        + b_2\\big) + r

    with LayerNorm ``eps = 1e-6`` applied *before* the residual addition (as in the keras
    example). The keras block's ``Conv1D(kernel_size=1)`` layers are per-token linear maps,
    implemented as ``Linear`` layers ``ff_in`` (``d -> ff_dim``) and ``ff_out`` (``ff_dim -> d``).
    """

    def __init__(self, n_features, n_heads, key_dim, ff_dim, dropout):
        super().__init__()
        self.attention = MultiHeadSelfAttention(n_features, n_heads, key_dim, dropout)
        self.attention_dropout = Dropout(dropout)
        self.attention_norm = nn.LayerNorm(n_features, eps=LAYER_NORM_EPS)
        self.ff_in = keras_dense(n_features, ff_dim)
        self.ff_dropout = Dropout(dropout)
        self.ff_out = keras_dense(ff_dim, n_features)
        self.ff_norm = nn.LayerNorm(n_features, eps=LAYER_NORM_EPS)

    def forward(self, x, attention=True):
        """Returns ``(out, residual, weights, logits)``: the block output after feed-forward +
        residual, the intermediate output after attention + residual, and the attention weights
        and logits of :class:`MultiHeadSelfAttention` (``None`` without ``attention``, as in
        its ``forward``)."""
        attended, weights, logits = self.attention(x, attention)
        residual = self.attention_norm(self.attention_dropout(attended)) + x
        hidden = self.ff_out(self.ff_dropout(F.relu(self.ff_in(residual))))
        out = self.ff_norm(hidden) + residual
        return out, residual, weights, logits


class ThesisTransformer(nn.Module):
    """Transformer encoder with a per-token classification head (thesis configuration).

    ``n_blocks`` :class:`EncoderBlock` s followed by a head applied to every token:
    ``Dense(8, ReLU) -> Dropout(0.4) -> Dense(k)`` in the thesis (Quadrio & Candelieri, 2025).
    The head is the submodule :attr:`head` so that it can be pretrained, loaded and frozen on
    its own (thesis's MLP pretraining). Softmax is left to the loss and to :meth:`predict_proba`.

    Parameters
    ----------
    n_features : int
        Token dimension ``d`` (thesis: 2).
    n_classes : int
        Number of classes ``k`` (at least 2).
    n_blocks : int, default 2
    n_heads : int, default 10
    key_dim : int, default 16
        Width of each head; the attention's internal width is ``n_heads * key_dim``.
    ff_dim : int, default 32
        Hidden width of the per-token feed-forward part.
    head_units : sequence of int, default (8,)
        Hidden layer widths of the head (each ReLU, then dropout); ``()`` gives a linear head.
    dropout : float in [0, 1), default 0.1
        Dropout of the encoder blocks (attention weights, attention output, feed-forward).
    head_dropout : float in [0, 1), default 0.4
        Dropout after each hidden layer of the head.

    Attributes
    ----------
    blocks : nn.ModuleList of EncoderBlock
    head : nn.Sequential
    config : dict
        The constructor arguments (to rebuild the model).
    """

    def __init__(self, n_features, n_classes, n_blocks=2, n_heads=10, key_dim=16, ff_dim=32,
                 head_units=(8,), dropout=0.1, head_dropout=0.4):
        super().__init__()
        n_features = check_int(n_features, "n_features", 1)
        n_classes = check_int(n_classes, "n_classes", 2)
        n_blocks = check_int(n_blocks, "n_blocks", 1)
        n_heads = check_int(n_heads, "n_heads", 1)
        key_dim = check_int(key_dim, "key_dim", 1)
        ff_dim = check_int(ff_dim, "ff_dim", 1)
        head_units = tuple(check_int(u, f"head_units[{i}]", 1)
                           for i, u in enumerate(as_units(head_units)))
        dropout = check_fraction(dropout, "dropout", allow_zero=True)
        head_dropout = check_fraction(head_dropout, "head_dropout", allow_zero=True)
        self.config = dict(n_features=n_features, n_classes=n_classes, n_blocks=n_blocks,
                           n_heads=n_heads, key_dim=key_dim, ff_dim=ff_dim,
                           head_units=head_units, dropout=dropout, head_dropout=head_dropout)
        self.n_features, self.n_classes = n_features, n_classes
        self.n_blocks, self.n_heads, self.key_dim = n_blocks, n_heads, key_dim
        self.blocks = nn.ModuleList(
            EncoderBlock(n_features, n_heads, key_dim, ff_dim, dropout) for _ in range(n_blocks)
        )
        layers, width = [], n_features
        for units in head_units:
            layers += [keras_dense(width, units), nn.ReLU(), Dropout(head_dropout)]
            width = units
        layers.append(keras_dense(width, n_classes))
        self.head = nn.Sequential(*layers)

    def _check_input(self, x):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor of shape (batch, tokens, "
                            f"{self.n_features}), got {type(x).__name__}.")
        if x.ndim != 3 or x.shape[-1] != self.n_features or 0 in x.shape:
            raise ValueError(f"x must have shape (batch, tokens, {self.n_features}), got "
                             f"{tuple(x.shape)}.")

    def encode(self, x):
        """The last block's output, shape ``(B, T, d)``: the tokens the head classifies."""
        self._check_input(x)
        for block in self.blocks:
            x = block(x, attention=False)[0]
        return x

    def forward(self, x, return_trace=False, attention=True):
        """Token-wise class logits, optionally with every block's intermediate results.

        Parameters
        ----------
        x : Tensor of shape (B, T, d)
        return_trace : bool, default False
        attention : bool, default True
            With ``return_trace``, also return the attention weights and logits of every
            block. ``False`` leaves :attr:`ForwardTrace.attention` and
            :attr:`ForwardTrace.attention_logits` as ``None`` and skips copying them (two
            ``(n_blocks, B, H, T, T)`` tensors), for traces that record block outputs only.

        Returns
        -------
        Tensor of shape (B, T, n_classes), or a :class:`ForwardTrace` when ``return_trace``.
        """
        self._check_input(x)
        if not return_trace:
            return self.head(self.encode(x))
        outputs, weights, scores = [], [], []
        for block in self.blocks:
            x, residual, block_weights, block_logits = block(x, attention)
            outputs += [residual, x]
            weights.append(block_weights)
            scores.append(block_logits)
        block_outputs = torch.stack(outputs).view(self.n_blocks, 2, *x.shape)
        if not attention:
            return ForwardTrace(self.head(x), block_outputs, None, None)
        return ForwardTrace(self.head(x), block_outputs, stack_in_memory_order(weights),
                            stack_in_memory_order(scores))

    def trace(self, x, attention=True):
        """Shorthand for ``forward(x, return_trace=True, attention=attention)``
        (:class:`ForwardTrace`)."""
        return self.forward(x, return_trace=True, attention=attention)

    @torch.no_grad()
    def predict_proba(self, x):
        """Token-wise class probabilities ``softmax(logits)``, shape ``(B, T, n_classes)``,
        in inference mode (the module's mode is restored afterwards)."""
        was_training = self.training
        self.eval()
        try:
            return torch.softmax(self.forward(x), dim=-1)
        finally:
            self.train(was_training)


def layer_norm_jacobians(model, tokens):
    """Spectral norms of the Jacobians of every LayerNorm of the encoder at its actual inputs.

    For LayerNorm over ``d`` features, :math:`\\operatorname{LN}(z) = \\gamma \\odot \\hat z +
    \\beta` with :math:`\\hat z = (z - \\bar z) / \\sqrt{s^2 + \\varepsilon}`, the Jacobian is

    .. math::
        J(z) = \\frac{\\operatorname{diag}(\\gamma)}{\\sqrt{s^2 + \\varepsilon}}
        \\Big(I - \\tfrac1d \\mathbf 1 \\mathbf 1^\\top - \\tfrac1d \\hat z \\hat z^\\top\\Big).

    With ``d = 2`` the centred input is a multiple of :math:`(1, -1)`, so :math:`\\hat z \\approx
    \\pm(1, -1)` and the bracket vanishes up to :math:`\\varepsilon / (s^2 + \\varepsilon)`: the
    output is one of two fixed vectors and the Jacobian is nearly 0, so every sublayer of the
    thesis's encoder block adds one of two vectors to each token (Ba, Kiros & Hinton, "Layer
    normalization", 2016, for the layer; Quadrio & Candelieri, 2025, for the block with
    ``d = 2``). Only tokens whose two features are almost equal (:math:`s^2` near 0) sit near
    the switch between the two outputs, where the Jacobian is large; the median over the tokens
    says what a typical token sees. From ``d = 3`` on the bracket is a projection of rank
    ``d - 2``.

    The Jacobians are evaluated with this formula (in float64) at the inputs each LayerNorm
    receives when ``model`` (in eval mode) encodes ``tokens``; the tests check it against
    automatic differentiation.

    Parameters
    ----------
    model : ThesisTransformer
    tokens : array-like or Tensor of shape (B, T, d)
        Inputs of the model (standardized tokens for a :class:`TransformerFit`'s model).

    Returns
    -------
    pandas.DataFrame
        One row per LayerNorm: ``block`` (1-based), ``sublayer`` (``"attention"`` or
        ``"feed-forward"``), ``median`` and ``max`` of the spectral norms over the tokens.
    """
    if not isinstance(model, ThesisTransformer):
        raise TypeError(f"model must be a ThesisTransformer, got {type(model).__name__}.")
    parameter = next(model.parameters())
    x = torch.as_tensor(np.asarray(tokens, dtype=np.float32) if not torch.is_tensor(tokens)
                        else tokens, dtype=parameter.dtype, device=parameter.device)
    norms = [(block, "attention", block.attention_norm) for block in model.blocks]
    norms += [(block, "feed-forward", block.ff_norm) for block in model.blocks]
    inputs = {}
    hooks = [layer.register_forward_hook(
        lambda module, args, output, key=id(layer): inputs.__setitem__(key, args[0].detach()))
        for _, _, layer in norms]
    was_training = model.training
    model.eval()
    try:
        with torch_session(0), torch.no_grad():  # one thread: the same floats on every machine
            model.encode(x)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    rows = []
    for index, block in enumerate(model.blocks, start=1):
        for sublayer, layer in (("attention", block.attention_norm),
                                ("feed-forward", block.ff_norm)):
            z = inputs[id(layer)].double().reshape(-1, layer.normalized_shape[0]).cpu().numpy()
            d = z.shape[1]
            scale = np.sqrt(z.var(axis=1) + layer.eps)
            normalized = (z - z.mean(axis=1, keepdims=True)) / scale[:, None]
            bracket = (np.eye(d) - 1.0 / d
                       - normalized[:, :, None] * normalized[:, None, :] / d)
            gain = layer.weight.detach().double().cpu().numpy()
            jacobians = gain[None, :, None] * bracket / scale[:, None, None]
            spectral = np.linalg.norm(jacobians, ord=2, axis=(1, 2))
            rows.append({"block": index, "sublayer": sublayer,
                         "median": float(np.median(spectral)), "max": float(spectral.max())})
    return pd.DataFrame(rows)


def token_loss(logits, codes):
    """Mean token-wise cross-entropy with the instance label broadcast to every token."""
    n_tokens = logits.shape[1]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                           codes.repeat_interleave(n_tokens))


def logit_scores(logits, codes, loss=True):
    """Loss, token accuracy, instance accuracy and instance predictions from token logits.

    The instance prediction is the argmax of the mean of its tokens' probabilities (thesis §3).
    The probabilities are ``exp(z - max z) / sum exp(z - max z)`` written out, cheaper than
    torch's ``softmax`` over a last dimension of only two or three classes.
    Without ``loss`` the loss is ``None`` (not computed).
    """
    value = float(token_loss(logits, codes)) if loss else None
    token_accuracy = float((logits.argmax(-1) == codes[:, None]).float().mean())
    exps = (logits - logits.amax(-1, keepdim=True)).exp_()
    predictions = exps.div_(exps.sum(-1, keepdim=True)).mean(dim=1).argmax(-1)
    instance_accuracy = float((predictions == codes).float().mean())
    return value, token_accuracy, instance_accuracy, predictions


@dataclass
class TransformerFit:
    """Result of :func:`train_transformer`.

    Attributes
    ----------
    model : ThesisTransformer
        With the restored best weights, in eval mode.
    standardizer : TokenStandardizer
        Fitted on the training tokens; every input of the model goes through it.
    history : DataFrame
        One row per epoch run: ``epoch`` (1-based), ``train_loss``, ``train_token_accuracy``,
        ``train_instance_accuracy`` (keras convention: training mode, from the forward pass of
        the epoch's gradient step, i.e. before the update), ``val_loss``,
        ``val_token_accuracy``, ``val_instance_accuracy`` (inference mode, after the update;
        NaN without validation data). The same for every fit with the same arguments.
    step_seconds : ndarray
        Per epoch of the history, the CPU time of the fitting thread spent in gradient steps
        up to the end of that epoch (without evaluation or tracing;
        :func:`otcompanion._training.train_epochs`): what training cost, measured directly.
    best_epoch : int
        1-based epoch of the restored weights (lowest validation loss; the last epoch without
        validation data).
    fit_seconds : float
        Wall-clock time of model construction, training, evaluation and tracing.
    trace : Trace or None
    test_metrics : dict or None
        On the test set, with the restored weights: ``loss``, ``token_accuracy``,
        ``instance_accuracy`` and ``recall_<class>`` (instance-level recall of every class).
    classes : ndarray
        The sorted class labels; model output ``j`` is ``classes[j]``.
    validation : str
        Where validation data came from: ``"split"``, ``"test"``, ``"given"`` or ``"none"``.
    validation_indices : ndarray or None
        Indices into ``X_train`` of the held-out validation instances (``"split"`` only).
    params : dict
        The training settings.
    """

    model: ThesisTransformer
    standardizer: TokenStandardizer
    history: pd.DataFrame
    best_epoch: int
    fit_seconds: float
    trace: Trace | None
    test_metrics: dict | None
    classes: np.ndarray
    validation: str
    validation_indices: np.ndarray | None
    params: dict = field(default_factory=dict)
    step_seconds: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def _tensor(self, X, name):
        tokens = check_tokens(X, name)
        standardized = self.standardizer.transform(tokens)
        device = next(self.model.parameters()).device
        return torch.as_tensor(standardized, dtype=torch.float32, device=device)

    def predict_proba(self, X):
        """Token-wise class probabilities for raw (unstandardized) tokens, shape
        ``(n, T, n_classes)``."""
        return self.model.predict_proba(self._tensor(X, "X")).cpu().numpy()

    def predict(self, X):
        """Instance classes: argmax of the mean of the token probabilities (thesis §3)."""
        return self.classes[self.predict_proba(X).mean(axis=1).argmax(axis=1)]

    def evaluate(self, X, y):
        """Metrics of the model on raw tokens ``X`` with labels ``y``: ``loss``,
        ``token_accuracy``, ``instance_accuracy`` and ``recall_<class>`` per class."""
        tokens = check_tokens(X, "X")
        codes = encode_labels(y, self.classes, "y", len(tokens))
        return _evaluate(self.model, self._tensor(tokens, "X"),
                         torch.as_tensor(codes, device=next(self.model.parameters()).device),
                         self.classes)


def _evaluate(model, inputs, codes, classes):
    model.eval()
    with torch.no_grad():
        loss, token_accuracy, instance_accuracy, predictions = logit_scores(model(inputs), codes)
    metrics = dict(loss=loss, token_accuracy=token_accuracy, instance_accuracy=instance_accuracy)
    predictions, codes = predictions.cpu().numpy(), codes.cpu().numpy()
    for j, label in enumerate(classes):
        members = codes == j
        metrics[f"recall_{label}"] = (float((predictions[members] == j).mean()) if members.any()
                                      else float("nan"))
    return metrics


def train_transformer(X_train, y_train, X_test=None, y_test=None, *, n_blocks=2, n_heads=10,
                      key_dim=16, ff_dim=32, head_units=(8,), dropout=0.1, head_dropout=0.4,
                      epochs=200, lr=1e-2, seed=0, patience=None, validation=0.2,
                      device="cpu", n_threads=1, trace=True, attention_every=5, model=None,
                      per_token_standardization=False, optimizer="rmsprop"):
    """Train the thesis Transformer with the thesis protocol and trace the token trajectory.

    Protocol (Quadrio & Candelieri, 2025, §3): inputs standardized per feature with statistics
    of the training tokens (training *and* tracing use the standardized inputs); token-wise
    cross-entropy with the instance label broadcast to every token; keras RMSprop
    (:class:`KerasRMSprop`: ``rho = 0.9``, ``epsilon = 1e-7``) with learning rate ``lr``; full
    batch, no shuffling; early stopping on the validation loss (keras ``EarlyStopping``: an epoch
    improves when its loss is strictly lower than the best so far; training stops after
    ``patience`` epochs without improvement) and the best weights restored. The loop is the
    package's one training core (:func:`otcompanion._training.train_epochs`). After every
    epoch one inference-mode pass over all training instances records the trace and gives the
    validation scores of the held-out ones.

    Parameters
    ----------
    X_train : array-like of shape (n, T, d) or (n, d)
    y_train : array-like of shape (n,)
        At least two classes.
    X_test, y_test : optional
        Test data, used only for :attr:`TransformerFit.test_metrics` after training (and for
        validation only with ``validation="test"``).
    n_blocks, n_heads, key_dim, ff_dim, head_units, dropout, head_dropout
        Architecture, see :class:`ThesisTransformer`. Ignored when ``model`` is given.
    epochs : int, default 200
    lr : float, default 1e-2
    optimizer : {"rmsprop", "adam", "sgd"}, default "rmsprop"
        ``"rmsprop"`` is the thesis's keras RMSprop (:class:`KerasRMSprop`); ``"adam"`` is
        ``torch.optim.Adam`` with keras's defaults (``betas=(0.9, 0.999)``, ``eps=1e-7``;
        Kingma & Ba, 2015) and ``"sgd"`` plain gradient descent (``torch.optim.SGD``), both for
        the optimizer ablation of chapter 02.
    seed : int, default 0
        Seeds the weight initialization, the dropout masks and the validation split. Torch's
        global random state is saved and restored around the fit, so a fit does not disturb
        (and is not disturbed by) other random draws.
    patience : int, optional
        Early-stopping patience; default ``epochs`` (never stop early, but restore the best
        weights), as in the thesis.
    validation : float in (0, 1), "test", (X_val, y_val) or None, default 0.2
        Validation data for early stopping. A fraction holds out that share of the training
        instances (stratified by class, seeded by ``seed``, at least one instance of every
        class). The thesis validated on the test set, which lets test labels choose the model;
        ``"test"`` reproduces that for fidelity only. ``None``: no validation, no early stopping,
        the last epoch is kept.
    device : {"cpu", "cuda", "cuda:<index>"}, default "cpu"
        Results on CUDA are not bitwise reproducible across machines.
    n_threads : int, default 1
        Torch intra-op threads during the fit (restored afterwards). Models this small gain
        nothing from more threads, and a fixed count fixes the floating-point results.
    trace : bool, default True
        Record the :class:`Trace`.
    attention_every : int or None, default 5
        Record attention logits every this many epochs (from epoch 0) and at the best epoch;
        ``None`` or 0 records none. Attention takes ``n_blocks * n * H * T^2 * 4`` bytes per
        recorded epoch (1.4 MB at thesis size, 290 MB for all 200 epochs); every 5th epoch keeps
        a thesis-size trace near 60 MB. Use 1 for per-epoch attention curves.
    model : ThesisTransformer, optional
        A model to start from (e.g. with a pretrained, frozen head); it is copied, not modified.
        Only parameters with ``requires_grad`` are trained.
    per_token_standardization : bool, default False
        Passed to :class:`~otcompanion.data.TokenStandardizer` as ``per_token``.

    Returns
    -------
    TransformerFit
    """
    started = time.perf_counter()
    tokens, labels, classes, codes = check_training_data(X_train, y_train, "X_train", "y_train")
    n_classes, n_features = len(classes), tokens.shape[-1]

    if (X_test is None) != (y_test is None):
        raise ValueError("X_test and y_test must be given together.")
    test = None
    if X_test is not None:
        test_tokens = check_tokens(X_test, "X_test")
        if test_tokens.shape[-1] != n_features:
            raise ValueError(f"X_test has {test_tokens.shape[-1]} features per token, X_train "
                             f"has {n_features}.")
        test = (test_tokens, encode_labels(y_test, classes, "y_test", len(test_tokens),
                                           "X_test"))

    epochs = check_int(epochs, "epochs", 1)
    lr = check_positive(lr, "lr")
    optimizer_name = check_choice(optimizer, "optimizer", OPTIMIZERS)
    seed = check_int(seed, "seed", 0)
    n_threads = check_int(n_threads, "n_threads", 1)
    torch_device = resolve_device(device)
    trace = check_bool(trace, "trace")
    attention_every = check_int(attention_every or 0, "attention_every", 0)
    if model is not None:
        if not isinstance(model, ThesisTransformer):
            raise TypeError(f"model must be a ThesisTransformer, got {type(model).__name__}.")
        if model.n_features != n_features or model.n_classes != n_classes:
            raise ValueError(f"model has n_features={model.n_features}, "
                             f"n_classes={model.n_classes}; the data has {n_features} features "
                             f"and {n_classes} classes.")
    source, fit_index, val_index, val_data = resolve_validation(validation, tokens, codes,
                                                                classes, seed, test=test)
    if source == "none" and patience is not None:
        raise ValueError("patience needs validation data; validation=None trains for all "
                         "epochs and keeps the last one.")
    patience = check_int(epochs if patience is None else patience, "patience", 1)

    standardizer = TokenStandardizer(per_token=per_token_standardization).fit(tokens)
    standardized = standardizer.transform(tokens)

    def as_tensor(array, dtype=torch.float32):
        return torch.as_tensor(array, dtype=dtype, device=torch_device)

    inputs, all_codes = as_tensor(standardized), as_tensor(codes, torch.int64)
    if val_data is not None:
        val_inputs = as_tensor(standardizer.transform(val_data[0]))
        val_codes = as_tensor(val_data[1], torch.int64)
    elif val_index is not None:
        val_codes = all_codes[val_index]

    with torch_session(seed, n_threads, torch_device):
        if model is None:
            net = ThesisTransformer(n_features, n_classes, n_blocks=n_blocks, n_heads=n_heads,
                                    key_dim=key_dim, ff_dim=ff_dim, head_units=head_units,
                                    dropout=dropout, head_dropout=head_dropout)
        else:
            net = copy.deepcopy(model)
        net.to(torch_device)
        trainable = [p for p in net.parameters() if p.requires_grad]
        if not trainable:
            raise ValueError("model has no trainable parameters (all are frozen).")
        if optimizer_name == "rmsprop":
            optimizer = KerasRMSprop(trainable, lr=lr)
        elif optimizer_name == "adam":
            optimizer = torch.optim.Adam(trainable, lr=lr, betas=(0.9, 0.999), eps=1e-7)
        else:
            optimizer = torch.optim.SGD(trainable, lr=lr)
        block_record, attention_record = [], {}

        def record(epoch):
            """One inference pass over all training instances: the trace, and the logits of
            the held-out ones."""
            with_attention = bool(attention_every) and epoch % attention_every == 0
            out = net.trace(inputs, attention=with_attention)
            block_record.append(out.block_outputs.cpu().numpy())
            if with_attention:
                attention_record[epoch] = out.attention_logits.cpu().numpy()
            return out.logits

        def evaluate(epoch):
            logits = record(epoch) if trace else None
            if val_data is not None:
                logits = net(val_inputs)
            elif val_index is None:
                return {}
            elif logits is None:
                logits = net(inputs[val_index])
            else:
                logits = logits[val_index]
            loss, token_accuracy, instance_accuracy, _ = logit_scores(logits, val_codes)
            return dict(val_loss=loss, val_token_accuracy=token_accuracy,
                        val_instance_accuracy=instance_accuracy)

        def train_scores(logits, fit_codes):
            _, token_accuracy, instance_accuracy, _ = logit_scores(logits, fit_codes, loss=False)
            return dict(train_token_accuracy=token_accuracy,
                        train_instance_accuracy=instance_accuracy)

        if trace:
            net.eval()
            with torch.no_grad():
                record(0)
        rows, best_epoch = train_epochs(
            net, optimizer, token_loss, inputs[fit_index], all_codes[fit_index], epochs,
            train_metrics=train_scores, evaluate=evaluate,
            stopping=None if source == "none" else EarlyStopping(patience), what="training")

        trace_result = None
        if trace:
            kept = {epoch: logits for epoch, logits in attention_record.items()
                    if epoch <= best_epoch}
            if attention_every and best_epoch not in kept:
                # The restored weights are those of best_epoch: record its attention now.
                with torch.no_grad():
                    kept[best_epoch] = net.trace(inputs).attention_logits.cpu().numpy()
            n, n_tokens = standardized.shape[:2]
            empty = (0, net.n_blocks, n, net.n_heads, n_tokens, n_tokens)
            is_validation = np.zeros(len(tokens), dtype=bool)
            if val_index is not None:
                is_validation[val_index] = True
            trace_result = Trace(
                inputs=standardized.astype(np.float32),
                labels=labels,
                block_outputs=np.stack(block_record[:best_epoch + 1]),
                attention_logits=(np.stack(list(kept.values())) if kept
                                  else np.zeros(empty, dtype=np.float32)),
                attention_epochs=np.asarray(list(kept), dtype=np.int64),
                is_validation=is_validation,
                best_epoch=int(best_epoch),
            )
        test_metrics = None
        if test is not None:
            test_metrics = _evaluate(net, as_tensor(standardizer.transform(test[0])),
                                     as_tensor(test[1], torch.int64), classes)

    history = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    step_seconds = np.array([row["step_seconds"] for row in rows])
    params = dict(net.config, epochs=epochs, lr=lr, seed=seed, patience=patience,
                  validation=validation if not isinstance(validation, tuple) else "given",
                  device=str(torch_device), n_threads=n_threads, optimizer=optimizer_name,
                  attention_every=attention_every,
                  per_token_standardization=per_token_standardization,
                  pretrained_model=model is not None)
    return TransformerFit(
        model=net, standardizer=standardizer, history=history, best_epoch=int(best_epoch),
        fit_seconds=time.perf_counter() - started, trace=trace_result, test_metrics=test_metrics,
        classes=classes, validation=source, validation_indices=val_index, params=params,
        step_seconds=step_seconds,
    )


class TransformerClassifier(ClassifierMixin, BaseEstimator):
    """The thesis Transformer as a scikit-learn classifier of token arrays.

    A thin estimator around :func:`train_transformer` so that the Transformer can sit next to
    other classifiers in cross-validation loops: ``fit(X, y)`` trains with the thesis protocol
    (standardization with training statistics, keras RMSprop, full batch, early stopping on a
    seeded training-only validation split); ``predict_proba`` returns *instance* probabilities,
    the mean of the token probabilities (thesis §3), and ``predict`` their argmax.

    Parameters
    ----------
    n_blocks, n_heads, key_dim, ff_dim, head_units, dropout, head_dropout
        Architecture, see :class:`ThesisTransformer` (defaults: the thesis configuration).
    epochs, lr, patience, validation
        Training, see :func:`train_transformer`.
    per_token_standardization : bool, default False
        Standardize every token position separately (for tokens built from table columns).
    random_state : int, default 0
        The ``seed`` of :func:`train_transformer`.
    device : str, default "cpu"
    n_threads : int, default 1

    Attributes
    ----------
    fit_ : TransformerFit
        The result of :func:`train_transformer` (no trace is recorded).
    classes_ : ndarray
        The sorted class labels.
    n_features_in_ : int
        Features per token.
    """

    # score() takes no sample weights; declaring that keeps scikit-learn from generating a
    # set_score_request method whose docstring links into its own Sphinx docs (breaks -W).
    __metadata_request__score = {"sample_weight": metadata_routing.UNUSED}

    def __init__(self, n_blocks=2, n_heads=10, key_dim=16, ff_dim=32, head_units=(8,),
                 dropout=0.1, head_dropout=0.4, epochs=200, lr=1e-2, patience=None,
                 validation=0.2, per_token_standardization=False, random_state=0,
                 device="cpu", n_threads=1):
        self.n_blocks = n_blocks
        self.n_heads = n_heads
        self.key_dim = key_dim
        self.ff_dim = ff_dim
        self.head_units = head_units
        self.dropout = dropout
        self.head_dropout = head_dropout
        self.epochs = epochs
        self.lr = lr
        self.patience = patience
        self.validation = validation
        self.per_token_standardization = per_token_standardization
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads

    def fit(self, X, y):
        """Train on token array ``X`` of shape (n, T, d) (or a table (n, d)) and labels ``y``."""
        self.fit_ = train_transformer(
            X, y, n_blocks=self.n_blocks, n_heads=self.n_heads, key_dim=self.key_dim,
            ff_dim=self.ff_dim, head_units=self.head_units, dropout=self.dropout,
            head_dropout=self.head_dropout, epochs=self.epochs, lr=self.lr,
            patience=self.patience, validation=self.validation,
            per_token_standardization=self.per_token_standardization,
            seed=self.random_state, device=self.device, n_threads=self.n_threads, trace=False)
        self.classes_ = self.fit_.classes
        self.n_features_in_ = check_tokens(X, "X").shape[-1]
        return self

    def _check_fitted_tokens(self, X):
        if not hasattr(self, "fit_"):
            raise NotFittedError("This TransformerClassifier is not fitted yet; call fit first.")
        tokens = check_tokens(X, "X")
        if tokens.shape[-1] != self.n_features_in_:
            raise ValueError(f"X has {tokens.shape[-1]} features per token, but the classifier "
                             f"was fitted with {self.n_features_in_}.")
        return tokens

    def predict_proba(self, X):
        """Instance probabilities ``(n, n_classes)``: the mean of the token probabilities."""
        tokens = self._check_fitted_tokens(X)
        previous = torch.get_num_threads()
        torch.set_num_threads(self.n_threads)
        try:
            return self.fit_.predict_proba(tokens).mean(axis=1)
        finally:
            torch.set_num_threads(previous)

    def predict(self, X):
        """Instance classes: the argmax of :meth:`predict_proba`."""
        probabilities = self.predict_proba(X)
        return self.classes_[probabilities.argmax(axis=1)]
