"""MLP pretraining: train the Transformer's head alone on synthetic token clouds, then freeze it.

The thesis's pretraining experiment (Quadrio & Candelieri, 2025, "MLP pretraining") in four
steps:

1. Sample synthetic token clouds of the training shape from well-separated Gaussians
   (:func:`pretraining_clouds`): by default class ``i`` of ``k`` has mean
   ``3k (sin(2 pi i / k), cos(2 pi i / k), 0, ..., 0)``, the thesis circle
   (:func:`otcompanion.geometry.dummy_means`), and covariance
   ``I``; the thesis's own 3-class run used the means ``(-5, 0), (5, 0), (0, 5)``
   (:data:`THESIS_3_CLASS_MEANS`).
2. Train the classification head of :class:`~otcompanion.attention.ThesisTransformer` alone on
   those clouds, token by token (:func:`pretrain_head`: Adam, ``lr = 1e-2``, early stopping with
   patience 5 on a seeded validation split, best weights restored).
3. Load the head into a fresh, seeded Transformer and freeze it (:func:`pretrained_transformer`).
4. Train the attention blocks only with the unchanged Transformer protocol
   (:func:`~otcompanion.attention.train_transformer` with ``model=``), so that the history, the
   trace and the test metrics are exactly those of an unpretrained run.

:func:`train_pretrained` does the four steps in one call. Convergence is measured by
:func:`epochs_to_accuracy` and, under an epoch budget and an early-stopping rule, by
:func:`convergence_summary`; :func:`early_stopping_view` cuts a longer run's history by that rule
(early stopping does not change training before it stops), so an unpretrained run trained once
for 200 epochs also serves as the early-stopped run it contains.
:func:`otcompanion.claims.pretraining_verdict` (also importable from here) turns paired
differences with their intervals into a verdict on the thesis's claim.

Why the pretraining clouds are *not* standardized. The Transformer standardizes its *inputs*,
but its head never sees them: it sees the last block's output ``x + LN(...) + LN(...)``, whose
scale is set by the LayerNorm gains and biases the blocks learn, not by the input statistics.
The pretraining geometry (radius ``3k``, covariance ``I``) is therefore specified directly in the
head's input coordinates, as the thesis did (it trained the head on the raw synthetic clouds):
the pretrained head marks out class regions around those means and the blocks have to carry the
standardized tokens into them. Standardizing the clouds with their own statistics would not
change what the head can represent but would distort the stated geometry (for two classes on a
circle the first coordinate's spread is dominated by the means, the second's by the noise), and
the radius, the parameter the book varies, would lose its meaning.

The correspondence between pretraining classes and data classes is by position: pretraining
class ``i`` (mean ``means[i]``) is the head's output ``i``, which
:func:`~otcompanion.attention.train_transformer` uses for the ``i``-th of the *sorted* training
labels. Whether the pretraining means sit where the standardized data of that class already lies
(the thesis's 3-class geometry) or elsewhere (the default circle) is part of the geometry being
compared.

References
----------
- A. Quadrio, A. Candelieri. *Transformers for Tabular Data: A Training
  Perspective of Self-Attention via Optimal Transport*. Univ. Milano-Bicocca, 2025.
  arXiv:2512.09530 (MLP pretraining of the Transformer's head on synthetic clouds).
- D. P. Kingma, J. Ba. *Adam: A Method for Stochastic Optimization*. ICLR 2015.
- L. Prechelt. *Early Stopping -- But When?* In *Neural Networks: Tricks of the
  Trade*, Springer, 1998 (early stopping on a held-out validation set).
- P. Royston, M. K. B. Parmar. Restricted mean survival time: an alternative to the hazard
  ratio for the design and analysis of randomized trials with a time-to-event outcome. *BMC
  Medical Research Methodology* 13, 152, 2013 (times capped at a horizon).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from ._training import (
    EarlyStopping,
    check_labels,
    check_training_data,
    resolve_device,
    resolve_validation,
    torch_session,
    train_epochs,
)
from ._validation import as_units, check_bool, check_int, check_positive, check_real
from .attention import Dropout, ThesisTransformer, TransformerFit, train_transformer
from .attention.transformer import logit_scores, token_loss

# Moved to the claims module, the home of every verdict; still importable from here.
from .claims import pretraining_verdict as pretraining_verdict
from .data import check_tokens, make_token_clouds
from .geometry import dummy_means

#: Pretraining means of the thesis's 3-class run (Quadrio & Candelieri, 2025), covariance ``I``.
THESIS_3_CLASS_MEANS = ((-5.0, 0.0), (5.0, 0.0), (0.0, 5.0))

#: Architecture arguments of :class:`~otcompanion.attention.ThesisTransformer` (besides
#: ``n_features`` and ``n_classes``).
ARCHITECTURE_KEYS = ("n_blocks", "n_heads", "key_dim", "ff_dim", "head_units", "dropout",
                     "head_dropout")

#: Keys of ``pretraining=`` in :func:`train_pretrained` that go to :func:`pretraining_clouds`.
CLOUD_KEYS = ("means", "covariances", "geometry", "radius", "rotation", "covariance_scale",
              "n_instances", "n_tokens", "seed")

#: Keys of ``pretraining=`` in :func:`train_pretrained` that go to :func:`pretrain_head`.
HEAD_KEYS = ("lr", "max_epochs", "patience", "validation")

#: Columns of :attr:`HeadPretraining.history`.
HISTORY_COLUMNS = ["epoch", "train_loss", "accuracy", "instance_accuracy", "val_loss",
                   "val_accuracy", "val_instance_accuracy"]

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-7  # keras Adam's epsilon (torch's default is 1e-8)


# --------------------------------------------------------------------------------------------
# Geometry and clouds
# --------------------------------------------------------------------------------------------

def pretraining_clouds(n_classes, n_instances, n_tokens, n_features, means=None,
                       covariances=None, geometry="circle", radius=None, rotation=0.0,
                       covariance_scale=1.0, seed=0):
    """Synthetic token clouds for head pretraining (thesis: well-separated Gaussians).

    Instance ``j`` of class ``i`` has tokens ``x_{j,1..T} ~ N(m_i, Sigma_i)`` i.i.d., sampled
    with :func:`~otcompanion.data.make_token_clouds` (classes in consecutive, equal blocks).
    By default ``m_i`` are the thesis circle (:func:`otcompanion.geometry.dummy_means`: class
    ``i`` at ``3k (sin(2 pi i / k), cos(2 pi i / k), 0, ..., 0)``) and ``Sigma_i = s I`` with
    ``s = covariance_scale`` (Quadrio & Candelieri, 2025).

    Parameters
    ----------
    n_classes : int
        At least 2.
    n_instances : int
        A multiple of ``n_classes`` (balanced classes).
    n_tokens, n_features : int
        The training shape ``(T, d)``.
    means : array-like of shape (n_classes, n_features), optional
        Explicit class means (e.g. :data:`THESIS_3_CLASS_MEANS`); then ``geometry``,
        ``radius`` and ``rotation`` must keep their defaults.
    covariances : array-like of shape (n_classes, n_features, n_features), optional
        Explicit symmetric positive semi-definite covariances; then ``covariance_scale`` must
        stay 1.
    geometry : {"circle", "circle_cos_sin", "simplex"}, default "circle"
        Layout of the means (:func:`otcompanion.geometry.dummy_means`); the thesis's circle by
        default.
    radius : float, optional
        Distance of the means from the origin; default ``3 * n_classes``.
    rotation : float, default 0.0
        Rotation of the circle means (radians).
    covariance_scale : float, default 1.0
        ``s > 0`` in ``Sigma_i = s I``.
    seed : int, default 0

    Returns
    -------
    X : ndarray of shape (n_instances, n_tokens, n_features)
    y : ndarray of shape (n_instances,), int codes ``0 .. n_classes - 1``
    """
    n_classes = check_int(n_classes, "n_classes", 2)
    n_instances = check_int(n_instances, "n_instances", 1)
    n_tokens = check_int(n_tokens, "n_tokens", 1)
    n_features = check_int(n_features, "n_features", 1)
    seed = check_int(seed, "seed", 0)
    if n_instances % n_classes:
        raise ValueError(f"n_instances must be a multiple of n_classes ({n_classes}) so that "
                         f"classes are balanced, got {n_instances}.")
    if means is None:
        if n_features < 2:
            raise ValueError(f"n_features must be at least 2 for the default means (the "
                             f"circle lies in the first two coordinates), got {n_features}; "
                             f"for one-feature tokens give explicit means, e.g. "
                             f"means=[[-6.0], [6.0]].")
        means = dummy_means(n_classes, geometry, radius, n_features, rotation)
    else:
        if (geometry != "circle" or radius is not None
                or check_real(rotation, "rotation") != 0.0):
            raise ValueError("geometry, radius and rotation shape the default means; they "
                             "cannot be combined with explicit means.")
        try:
            means = np.asarray(means, dtype=float)
        except (TypeError, ValueError) as error:
            raise ValueError(f"means must be a numeric array: {error}") from None
        if means.shape != (n_classes, n_features):
            raise ValueError(f"means must have shape (n_classes, n_features) = "
                             f"{(n_classes, n_features)}, got {means.shape}.")
        if not np.all(np.isfinite(means)):
            raise ValueError("means contains NaN or infinite values.")
    scale = check_positive(covariance_scale, "covariance_scale")
    if covariances is None:
        covariances = np.stack([scale * np.eye(n_features)] * n_classes)
    else:
        if scale != 1.0:
            raise ValueError("covariance_scale scales the default identity covariance; it "
                             "cannot be combined with explicit covariances.")
        try:
            covariances = np.asarray(covariances, dtype=float)
        except (TypeError, ValueError) as error:
            raise ValueError(f"covariances must be a numeric array: {error}") from None
        if not np.all(np.isfinite(covariances)):
            raise ValueError("covariances contains NaN or infinite values.")
    return make_token_clouds(means, covariances, n_instances=n_instances, n_tokens=n_tokens,
                             seed=seed)


# --------------------------------------------------------------------------------------------
# Head pretraining
# --------------------------------------------------------------------------------------------

def _new_head(n_features, n_classes, head_units, head_dropout):
    """A freshly initialized head, built by :class:`ThesisTransformer` itself so that its
    structure (and keras-style initialization) is by construction that of the Transformer's
    head. The tiny encoder built alongside is discarded."""
    return ThesisTransformer(n_features, n_classes, n_blocks=1, n_heads=1, key_dim=1, ff_dim=1,
                             head_units=head_units, head_dropout=head_dropout).head


def _head_structure(head):
    """``(in, out)`` of every Linear layer of a head, and its dropout rate (or None)."""
    linear = [m for m in head.modules() if isinstance(m, nn.Linear)]
    dropout = [m.p for m in head.modules() if isinstance(m, (nn.Dropout, Dropout))]
    return [(m.in_features, m.out_features) for m in linear], (dropout[0] if dropout else None)


@dataclass
class HeadPretraining:
    """Result of :func:`pretrain_head`.

    Attributes
    ----------
    head : nn.Sequential
        The trained head with the restored best weights, in eval mode; the same structure as
        ``ThesisTransformer(n_features, n_classes, head_units=..., head_dropout=...).head``.
        It maps tokens ``(..., d)`` to class logits ``(..., k)`` and takes raw (unstandardized)
        coordinates.
    history : DataFrame
        One row per epoch run: ``epoch`` (1-based), ``loss``, ``accuracy`` (token-wise),
        ``instance_accuracy`` (keras convention: training mode, from the forward pass of the
        epoch's gradient step), ``val_loss``, ``val_accuracy``, ``val_instance_accuracy``
        (inference mode, after the update; NaN without validation data).
    best_epoch : int
        1-based epoch of the restored weights (lowest validation loss; the last epoch without
        validation data).
    fit_seconds : float
    classes : ndarray
        The sorted labels of ``y``; head output ``j`` is ``classes[j]``.
    validation_indices : ndarray or None
        Indices into ``X`` of the held-out validation instances.
    params : dict
        The settings, including ``n_features``, ``n_classes``, ``head_units``,
        ``head_dropout`` (and, from :func:`train_pretrained`, the cloud geometry).
    """

    head: nn.Sequential
    history: pd.DataFrame
    best_epoch: int
    fit_seconds: float
    classes: np.ndarray
    validation_indices: np.ndarray | None
    params: dict = field(default_factory=dict)

    def predict_proba(self, X):
        """Token-wise class probabilities ``softmax(head(x))`` for raw tokens ``X``, shape
        ``(n, T, k)``, in inference mode."""
        tokens = check_tokens(X, "X")
        n_features = self.params["n_features"]
        if tokens.shape[-1] != n_features:
            raise ValueError(f"X has {tokens.shape[-1]} features per token, the head takes "
                             f"{n_features}.")
        device = next(self.head.parameters()).device
        was_training = self.head.training
        self.head.eval()
        try:
            with torch.no_grad():
                logits = self.head(torch.as_tensor(tokens, dtype=torch.float32, device=device))
        finally:
            self.head.train(was_training)
        return torch.softmax(logits, dim=-1).cpu().numpy()

    def predict(self, X):
        """Instance classes: argmax of the mean token probability (thesis §3)."""
        return self.classes[self.predict_proba(X).mean(axis=1).argmax(axis=1)]


def pretrain_head(X, y, *, n_classes=None, head_units=(8,), head_dropout=0.4, lr=1e-2,
                  max_epochs=200, patience=5, validation=0.2, seed=0, n_threads=1,
                  device="cpu"):
    """Train the Transformer's classification head alone, token by token (thesis pretraining).

    The head ``f`` (``Dense(8, ReLU) -> Dropout(0.4) -> Dense(k)`` by default) is applied to
    every token and trained with the token-wise cross-entropy against the instance label,

    .. math::
        \\mathcal{L} = -\\frac{1}{nT} \\sum_{j=1}^{n} \\sum_{t=1}^{T}
        \\log \\operatorname{softmax}\\big(f(x_{j,t})\\big)_{y_j},

    full batch, with Adam (Kingma & Ba, 2015; ``lr = 1e-2``, ``betas = (0.9, 0.999)``,
    keras's ``epsilon = 1e-7``) and early stopping on the validation loss: an epoch improves
    when its loss is strictly lower than the best so far, training stops after ``patience``
    epochs without improvement and the best weights are restored (Quadrio & Candelieri, 2025;
    Prechelt, 1998). The tokens are used as given, not standardized (see the module notes:
    the head's input space is where the pretraining geometry is defined).

    Parameters
    ----------
    X : array-like of shape (n, T, d) or (n, d)
        Pretraining tokens, usually from :func:`pretraining_clouds`.
    y : array-like of shape (n,)
        Instance labels; head output ``j`` is the ``j``-th sorted label.
    n_classes : int, optional
        Expected number of classes; an error if ``y`` has another number.
    head_units : sequence of int, default (8,)
        Hidden widths of the head (as in :class:`~otcompanion.attention.ThesisTransformer`).
    head_dropout : float in [0, 1), default 0.4
    lr : float, default 1e-2
    max_epochs : int, default 200
    patience : int or None, default 5
        Early-stopping patience; ``None`` never stops early (but still restores the best
        weights). Must be ``None`` when ``validation`` is ``None``.
    validation : float in (0, 1), (X_val, y_val) or None, default 0.2
        A fraction holds out that share of the instances (stratified by class, seeded by
        ``seed``); a tuple gives explicit validation data; ``None`` trains for ``max_epochs``
        and keeps the last epoch.
    seed : int, default 0
        Seeds the initialization, the dropout masks and the validation split; torch's global
        random state is saved and restored.
    n_threads : int, default 1
        Torch intra-op threads during the fit, restored afterwards.
    device : {"cpu", "cuda", "cuda:<index>"}, default "cpu"

    Returns
    -------
    HeadPretraining
    """
    started = time.perf_counter()
    tokens, labels, classes, codes = check_training_data(
        X, y, "X", "y", " to pretrain a classification head")
    if n_classes is not None:
        n_classes = check_int(n_classes, "n_classes", 2)
        if n_classes != len(classes):
            raise ValueError(f"n_classes={n_classes} but y has {len(classes)} classes "
                             f"{classes.tolist()}.")
    n_classes, n_features = len(classes), tokens.shape[-1]
    lr = check_positive(lr, "lr")
    max_epochs = check_int(max_epochs, "max_epochs", 1)
    seed = check_int(seed, "seed", 0)
    n_threads = check_int(n_threads, "n_threads", 1)
    torch_device = resolve_device(device)
    source, fit_index, val_index, val_data = resolve_validation(validation, tokens, codes,
                                                                classes, seed)
    if source == "none" and patience is not None:
        raise ValueError("patience needs validation data: with validation=None training "
                         "runs all max_epochs and keeps the last epoch; pass patience=None.")
    patience = check_int(max_epochs if patience is None else patience, "patience", 1)

    def as_tensor(array, dtype=torch.float32):
        return torch.as_tensor(array, dtype=dtype, device=torch_device)

    inputs, all_codes = as_tensor(tokens), as_tensor(codes, torch.int64)
    if val_index is not None:
        val_inputs, val_codes = inputs[val_index], all_codes[val_index]
    elif val_data is not None:
        val_inputs, val_codes = as_tensor(val_data[0]), as_tensor(val_data[1], torch.int64)

    def train_scores(logits, fit_codes):
        _, token_accuracy, instance_accuracy, _ = logit_scores(logits, fit_codes, loss=False)
        return dict(accuracy=token_accuracy, instance_accuracy=instance_accuracy)

    def evaluate(epoch):
        if source == "none":
            return {}
        loss, token_accuracy, instance_accuracy, _ = logit_scores(head(val_inputs), val_codes)
        return dict(val_loss=loss, val_accuracy=token_accuracy,
                    val_instance_accuracy=instance_accuracy)

    with torch_session(seed, n_threads, torch_device):
        head = _new_head(n_features, n_classes, head_units, head_dropout).to(torch_device)
        optimizer = torch.optim.Adam(head.parameters(), lr=lr, betas=ADAM_BETAS, eps=ADAM_EPS)
        rows, best_epoch = train_epochs(
            head, optimizer, token_loss, inputs[fit_index], all_codes[fit_index], max_epochs,
            train_metrics=train_scores, evaluate=evaluate,
            stopping=None if source == "none" else EarlyStopping(patience),
            what="head pretraining")
    history = pd.DataFrame(rows, columns=HISTORY_COLUMNS).rename(columns={"train_loss": "loss"})

    units, rate = _head_structure(head)
    params = dict(n_features=n_features, n_classes=n_classes,
                  head_units=tuple(out for _, out in units[:-1]), head_dropout=rate,
                  lr=lr, max_epochs=max_epochs, patience=patience,
                  validation=validation if not isinstance(validation, tuple) else "given",
                  seed=seed, n_threads=n_threads, device=str(torch_device), optimizer="Adam",
                  betas=ADAM_BETAS, eps=ADAM_EPS, standardized=False)
    return HeadPretraining(head=head, history=history, best_epoch=int(best_epoch),
                           fit_seconds=time.perf_counter() - started, classes=classes,
                           validation_indices=val_index, params=params)


# --------------------------------------------------------------------------------------------
# Loading into the Transformer
# --------------------------------------------------------------------------------------------

def pretrained_transformer(head_or_result, n_features, n_classes, *, freeze=True, seed=0,
                           **architecture):
    """A fresh, seeded :class:`~otcompanion.attention.ThesisTransformer` with a pretrained head.

    The Transformer is built exactly as :func:`~otcompanion.attention.train_transformer` builds
    it for the same ``seed`` (``torch.manual_seed(seed)``, then the constructor), so its blocks
    start from the same weights as an unpretrained run with that seed and only the head
    differs. The head's weights are copied in; with ``freeze`` its parameters get
    ``requires_grad = False``, so ``train_transformer(..., model=this)`` trains the attention
    blocks only (Quadrio & Candelieri, 2025: "freeze the MLP, train the attention"). A frozen
    head's dropout still acts in training mode, as with a frozen keras ``Dropout`` layer.

    Parameters
    ----------
    head_or_result : HeadPretraining or nn.Sequential
        The pretrained head (or the result holding it); it is copied, not modified.
    n_features, n_classes : int
        Must match the head's input and output widths.
    freeze : bool, default True
    seed : int, default 0
        Seeds the blocks' initialization; torch's global random state is saved and restored.
    **architecture
        ``n_blocks``, ``n_heads``, ``key_dim``, ``ff_dim``, ``dropout``, ``head_units``,
        ``head_dropout`` (see :class:`~otcompanion.attention.ThesisTransformer`).
        ``head_units`` defaults to the pretrained head's and must match it if given;
        ``head_dropout`` defaults to the pretrained head's rate.

    Returns
    -------
    ThesisTransformer
        In eval mode.
    """
    if isinstance(head_or_result, HeadPretraining):
        head = head_or_result.head
    elif isinstance(head_or_result, nn.Sequential):
        head = head_or_result
    else:
        raise TypeError(f"head_or_result must be a HeadPretraining or the nn.Sequential head, "
                        f"got {type(head_or_result).__name__}.")
    freeze = check_bool(freeze, "freeze")
    seed = check_int(seed, "seed", 0)
    unknown = sorted(set(architecture) - set(ARCHITECTURE_KEYS))
    if unknown:
        raise TypeError(f"unknown architecture argument(s) {unknown}; allowed: "
                        f"{list(ARCHITECTURE_KEYS)}.")
    shapes, rate = _head_structure(head)
    if not shapes:
        raise ValueError("the pretrained head has no Linear layers.")
    n_features = check_int(n_features, "n_features", 1)
    n_classes = check_int(n_classes, "n_classes", 2)
    if shapes[0][0] != n_features:
        raise ValueError(f"n_features={n_features} but the pretrained head takes "
                         f"{shapes[0][0]} features.")
    if shapes[-1][1] != n_classes:
        raise ValueError(f"n_classes={n_classes} but the pretrained head has {shapes[-1][1]} "
                         f"outputs.")
    pretrained_units = tuple(out for _, out in shapes[:-1])
    architecture = dict(architecture)
    units = as_units(architecture.setdefault("head_units", pretrained_units))
    if units != pretrained_units:
        raise ValueError(f"head_units={units} does not match the pretrained head's hidden "
                         f"widths {pretrained_units}.")
    architecture["head_units"] = units
    if rate is not None:
        architecture.setdefault("head_dropout", rate)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ThesisTransformer(n_features, n_classes, **architecture)
    if _head_structure(model.head)[0] != shapes or len(model.head) != len(head):
        raise ValueError(f"the pretrained head's layers {shapes} do not match the "
                         f"Transformer's head {_head_structure(model.head)[0]}.")
    state = {key: value.detach().to("cpu").clone() for key, value in head.state_dict().items()}
    model.head.load_state_dict(state)
    if freeze:
        for parameter in model.head.parameters():
            parameter.requires_grad_(False)
    return model.eval()


# --------------------------------------------------------------------------------------------
# The whole protocol and convergence
# --------------------------------------------------------------------------------------------

def train_pretrained(X_train, y_train, X_test=None, y_test=None, *, pretraining=None, seed=0,
                     freeze=True, **train_kwargs):
    """The thesis's pretraining protocol in one call: clouds, head, frozen head, attention.

    1. :func:`pretraining_clouds` of the training shape: as many instances as ``X_train`` has
       (rounded up to a multiple of the number of classes), its tokens per instance and
       features; circle means of radius ``3k`` and covariance ``I`` unless ``pretraining``
       says otherwise.
    2. :func:`pretrain_head` on them (Adam ``lr = 1e-2``, patience 5).
    3. :func:`pretrained_transformer` (seeded with ``seed``, head loaded and frozen).
    4. :func:`~otcompanion.attention.train_transformer` with ``model=`` that Transformer: the
       same protocol, history, trace and test metrics as an unpretrained run with ``seed``.

    Parameters
    ----------
    X_train, y_train, X_test, y_test
        As for :func:`~otcompanion.attention.train_transformer`. Pretraining class ``i`` is the
        ``i``-th sorted label of ``y_train``.
    pretraining : dict, optional
        Settings of the pretraining: cloud keys ``means``, ``covariances``, ``radius``,
        ``rotation``, ``covariance_scale``, ``n_instances``, ``n_tokens``, ``seed`` (default:
        ``seed``) and head keys ``lr``, ``max_epochs``, ``patience``, ``validation``. The head's
        architecture (``head_units``, ``head_dropout``) is the Transformer's, set through
        ``train_kwargs``.
    seed : int, default 0
        Seeds the clouds, the head's pretraining, the Transformer and its training.
    freeze : bool, default True
        Freeze the pretrained head (the thesis). ``False`` fine-tunes it with the blocks.
    **train_kwargs
        Architecture (``n_blocks``, ``n_heads``, ``key_dim``, ``ff_dim``, ``head_units``,
        ``dropout``, ``head_dropout``) and training settings of
        :func:`~otcompanion.attention.train_transformer` (``epochs``, ``lr``, ``patience``,
        ``validation``, ``device``, ``n_threads``, ``trace``, ...), except ``model``.
        ``device`` and ``n_threads`` also apply to the head's pretraining.

    Returns
    -------
    fit : TransformerFit
        ``fit.params["head_pretraining"]`` holds the pretraining settings and
        ``fit.params["freeze_head"]`` the freeze flag.
    pretraining : HeadPretraining
    """
    if "model" in train_kwargs:
        raise TypeError("train_pretrained builds the model itself; call train_transformer("
                        "..., model=pretrained_transformer(...)) to start from your own.")
    seed = check_int(seed, "seed", 0)
    freeze = check_bool(freeze, "freeze")
    settings = {} if pretraining is None else pretraining
    if not isinstance(settings, dict):
        raise TypeError(f"pretraining must be a dict of settings, got "
                        f"{type(pretraining).__name__}.")
    misplaced = sorted({"head_units", "head_dropout"} & set(settings))
    if misplaced:
        raise ValueError(f"pretraining sets {misplaced}, but the head's architecture is the "
                         f"Transformer's: pass them as keyword arguments of train_pretrained.")
    unknown = sorted(set(settings) - set(CLOUD_KEYS) - set(HEAD_KEYS))
    if unknown:
        raise ValueError(f"unknown pretraining setting(s) {unknown}; allowed: "
                         f"{list(CLOUD_KEYS + HEAD_KEYS)}.")

    tokens = check_tokens(X_train, "X_train")
    labels = check_labels(y_train, "y_train", len(tokens), "X_train")
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError(f"y_train has a single class {classes.tolist()[0]!r}; at least two "
                         f"classes are needed.")
    n, n_tokens, n_features = tokens.shape
    k = len(classes)

    architecture = {key: train_kwargs.pop(key) for key in ARCHITECTURE_KEYS
                    if key in train_kwargs}
    head_architecture = {key: architecture[key] for key in ("head_units", "head_dropout")
                         if key in architecture}
    shared = {key: train_kwargs[key] for key in ("device", "n_threads") if key in train_kwargs}

    cloud_args = dict(n_instances=k * math.ceil(n / k), n_tokens=n_tokens, seed=seed)
    cloud_args.update({key: settings[key] for key in CLOUD_KEYS if key in settings})
    X_pre, y_pre = pretraining_clouds(k, n_features=n_features, **cloud_args)
    head_args = {key: settings[key] for key in HEAD_KEYS if key in settings}
    result = pretrain_head(X_pre, y_pre, n_classes=k, seed=seed, **head_architecture,
                           **shared, **head_args)
    geometry = {key: settings[key] for key in ("means", "covariances", "geometry", "radius",
                                               "rotation", "covariance_scale") if key in settings}
    if "means" not in geometry:
        geometry["means"] = dummy_means(k, settings.get("geometry", "circle"),
                                        settings.get("radius"), n_features,
                                        settings.get("rotation", 0.0))
    geometry = {key: (np.asarray(value).tolist() if isinstance(value, (np.ndarray, list, tuple))
                      else value) for key, value in geometry.items()}
    result.params.update(clouds=dict(geometry, n_instances=cloud_args["n_instances"],
                                     n_tokens=cloud_args["n_tokens"],
                                     seed=cloud_args["seed"]))

    model = pretrained_transformer(result, n_features, k, freeze=freeze, seed=seed,
                                   **architecture)
    fit = train_transformer(X_train, y_train, X_test, y_test, seed=seed, model=model,
                            **train_kwargs)
    fit.params.update(head_pretraining=copy.deepcopy(result.params), freeze_head=bool(freeze))
    return fit, result


def epochs_to_accuracy(history, target, column="val_instance_accuracy", *, tolerance=0.0):
    """First epoch whose accuracy reaches ``target``: a convergence measure.

    .. math::
        e^\\star = \\min\\{\\, e : a_e \\ge \\text{target} - \\text{tolerance} \\,\\}

    over the rows of ``history`` (``None`` when no epoch reaches it). Used with ``best_epoch``
    to compare pretrained and unpretrained runs (Quadrio & Candelieri, 2025, "MLP pretraining").
    The one implementation of "epochs to a target accuracy" in the package:
    :func:`otcompanion.experiments.epochs_to_target` is this function with ``tolerance=1e-12``
    and NaN for "never reached".

    Parameters
    ----------
    history : DataFrame, TransformerFit or HeadPretraining
        A history with an ``epoch`` column (or a result whose ``.history`` it is).
    target : float in [0, 1]
    column : str, default "val_instance_accuracy"
        Accuracy column. For :class:`~otcompanion.attention.TransformerFit` histories
        ``train_instance_accuracy`` is measured in training mode (dropout on) before the
        epoch's update, the validation columns in inference mode after it; for
        :class:`HeadPretraining` use ``accuracy`` or ``val_accuracy``.
    tolerance : float >= 0, default 0.0
        Slack below ``target`` that still counts as reaching it (e.g. ``1e-12``, so that an
        accuracy computed as a mean that lands a rounding error below 1 reaches 1).

    Returns
    -------
    int or None
    """
    if isinstance(history, (TransformerFit, HeadPretraining)):
        history = history.history
    if not isinstance(history, pd.DataFrame):
        raise TypeError(f"history must be a DataFrame or a fit result with .history, got "
                        f"{type(history).__name__}.")
    target = check_real(target, "target", 0.0, 1.0)
    if not isinstance(column, str) or column not in history.columns:
        raise ValueError(f"column must be one of the history's columns "
                         f"{list(history.columns)}, got {column!r}.")
    if "epoch" not in history.columns:
        raise ValueError("history has no 'epoch' column.")
    tolerance = check_real(tolerance, "tolerance", 0.0)
    reached = history.loc[history[column] >= target - tolerance, "epoch"]
    return int(reached.iloc[0]) if len(reached) else None


def early_stopping_view(history, *, epochs=None, patience=None, loss="val_loss"):
    """The part of a training history that early stopping would have run, and its best epoch.

    Early stopping only decides *when* training ends: up to that epoch the weights, the dropout
    masks and every recorded number are those of the longer run. A run trained for ``epochs``
    epochs with patience ``patience`` is therefore the first rows of a longer run with the same
    seed, cut by the rule of :class:`keras.callbacks.EarlyStopping` that
    :func:`~otcompanion.attention.train_transformer` applies (an epoch improves when its loss is
    strictly below the best so far; training stops after ``patience`` epochs in a row without
    improvement; the best epoch's weights are restored):

    .. math::
        b_e = \\operatorname*{arg\\,min}_{j \\le e} \\ell_j \\ (\\text{first minimum}), \\qquad
        s = \\min\\{\\, e \\le E : e - b_e \\ge p \\,\\} \\ (\\text{else } E),

    where :math:`\\ell_j` is the validation loss after epoch :math:`j`, :math:`E` the epoch
    budget and :math:`p` the patience; the run stops after epoch :math:`s` and restores
    :math:`b_s` (Prechelt, 1998; the thesis trains with patience = epochs, Quadrio & Candelieri,
    2025). This lets an early-stopped run be compared with a longer run's history without
    training the longer one again.

    Parameters
    ----------
    history : DataFrame, TransformerFit or HeadPretraining
        Per-epoch history with an ``epoch`` column numbered 1, 2, ... and the ``loss`` column.
    epochs : int, optional
        Epoch budget ``E``; default all epochs of ``history``. It may exceed them only when
        the rule stops within them (a history that early stopping already cut).
    patience : int, optional
        Patience ``p``; default ``E`` (never stop early, restore the best epoch: the thesis).
    loss : str, default "val_loss"
        The monitored column.

    Returns
    -------
    history : DataFrame
        The rows of epochs ``1 .. s`` (a copy).
    best_epoch : int
        The restored epoch ``b_s``.

    Raises
    ------
    ValueError
        A missing column, epochs that are not ``1, 2, ...``, a budget longer than a history
        that the rule does not stop, or a loss that is never finite up to the stop (the run diverged).
    """
    if isinstance(history, (TransformerFit, HeadPretraining)):
        history = history.history
    if not isinstance(history, pd.DataFrame):
        raise TypeError(f"history must be a DataFrame or a fit result with .history, got "
                        f"{type(history).__name__}.")
    for column in ("epoch", loss):
        if not isinstance(column, str) or column not in history.columns:
            raise ValueError(f"history has no column {column!r}; it has "
                             f"{list(history.columns)}.")
    if len(history) == 0:
        raise ValueError("history is empty.")
    if not np.array_equal(history["epoch"].to_numpy(), np.arange(1, len(history) + 1)):
        raise ValueError("history['epoch'] must be 1, 2, ..., one row per epoch in order.")
    budget = check_int(len(history) if epochs is None else epochs, "epochs", 1)
    patience = check_int(budget if patience is None else patience, "patience", 1)
    losses = history[loss].to_numpy(dtype=float)
    best, best_epoch, wait, stop = math.inf, 0, 0, None
    for epoch in range(1, min(budget, len(history)) + 1):
        value = losses[epoch - 1]
        if value < best:  # NaN never improves, as in keras
            best, best_epoch, wait = value, epoch, 0
            continue
        wait += 1
        if wait >= patience:
            stop = epoch
            break
    if stop is None:
        if budget > len(history):
            raise ValueError(f"history has {len(history)} epochs, fewer than epochs={budget}, and "
                             f"the rule does not stop within them.")
        stop = budget
    if best_epoch == 0:
        raise ValueError(f"the monitored {loss!r} is never finite in epochs 1 to {stop}: "
                         f"the run diverged.")
    return history.iloc[:stop].copy(), best_epoch


def convergence_summary(history, *, epochs=None, patience=None, target=1.0,
                        accuracy="val_instance_accuracy", loss="val_loss"):
    """Convergence of one run under an epoch budget and an early-stopping rule.

    The run is cut by :func:`early_stopping_view` (budget ``E``, patience ``p``; stop epoch
    ``s``, restored epoch ``b``). Measured on what that run saw:

    - ``epochs_to_target``: the first epoch ``<= s`` whose ``accuracy`` reaches ``target``
      (:func:`epochs_to_accuracy`), NaN if none; ``reached`` says whether it did;
    - ``epochs_to_target_capped``: the same with a run that never reached it counted as
      ``E + 1``, the *restricted* time to the target (its mean is the restricted mean time of
      survival analysis, Royston & Parmar, 2013): a paired difference of these values is a
      lower bound on the true difference in magnitude when the slower run did not reach it;
    - ``stop_epoch`` ``s`` and ``best_epoch`` ``b``;
    - ``val_loss`` and ``val_accuracy``: the monitored loss and the accuracy at ``b`` (the
      restored model).

    Parameters
    ----------
    history : DataFrame, TransformerFit or HeadPretraining
    epochs, patience, loss
        As for :func:`early_stopping_view`.
    target : float in [0, 1], default 1.0
    accuracy : str, default "val_instance_accuracy"

    Returns
    -------
    dict
    """
    if isinstance(history, (TransformerFit, HeadPretraining)):
        history = history.history
    cut, best_epoch = early_stopping_view(history, epochs=epochs, patience=patience, loss=loss)
    budget = len(history) if epochs is None else int(epochs)
    reached = epochs_to_accuracy(cut, target, column=accuracy)
    best = cut.iloc[best_epoch - 1]
    return {"stop_epoch": len(cut), "best_epoch": best_epoch,
            "epochs_to_target": np.nan if reached is None else float(reached),
            "reached": reached is not None,
            "epochs_to_target_capped": float(budget + 1 if reached is None else reached),
            "val_loss": float(best[loss]), "val_accuracy": float(best[accuracy])}
