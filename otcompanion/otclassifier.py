"""The dummy-Gaussian OT classifier of the thesis, as a scikit-learn estimator.

The thesis's alternative to training attention: every class gets a well-separated "dummy"
Gaussian, its training tokens are aligned with it by optimal transport
(:mod:`otcompanion.alignment`), and a small MLP learns to send every token to its image
(:mod:`otcompanion._training`); see :class:`DummyGaussianOTClassifier`.

References
----------
- A. Quadrio, A. Candelieri. *Transformers for Tabular Data: A Training Perspective of
  Self-Attention via Optimal Transport*. Univ. Milano-Bicocca, 2025. arXiv:2512.09530.
- G. Peyré, M. Cuturi. *Computational Optimal Transport*. Foundations and Trends in Machine
  Learning 11(5-6), 2019. arXiv:1803.00567.
"""

from __future__ import annotations

import copy
import math
import numbers
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from scipy.spatial.distance import pdist
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils import check_random_state, metadata_routing
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y, validate_data
from torch import nn
from torch.nn import functional as F

from ._training import EarlyStopping, resolve_device, stratified_split, torch_session, train_epochs
from ._validation import (
    check_bool,
    check_choice,
    check_fraction,
    check_int,
    check_positive,
    check_real,
    check_sequence,
)
from .alignment import exact_alignment, gaussian_alignment, minibatch_alignment, sinkhorn_alignment
from .attention.layers import keras_dense
from .geometry import GEOMETRIES, dummy_means
from .ot_solvers import MAX_EXACT_POINTS

SOLVERS = ("exact", "sinkhorn", "minibatch", "gaussian")

#: Rows per forward pass at prediction time and for the validation loss (bounds the memory of
#: the hidden activations: 65,536 x 32 float32 = 8 MB per layer).
_CHUNK = 65_536


def _check_geometry(value, name):
    """A named layout of :func:`otcompanion.geometry.dummy_means`, or explicit class means."""
    if isinstance(value, str):
        return check_choice(value, name, GEOMETRIES)
    try:
        means = np.array(value, dtype=float)
    except (TypeError, ValueError):  # not numbers, or ragged
        means = np.array(np.nan)
    if means.ndim == 0:
        raise TypeError(f"{name} must be one of {list(GEOMETRIES)} or an array of class means "
                        f"of shape (n_classes, p), got {value!r}.")
    if means.ndim != 2 or len(means) < 2 or means.shape[1] < 1:
        raise ValueError(f"{name} as explicit means must have shape (n_classes, p) with "
                         f"n_classes >= 2, got shape {means.shape}.")
    if not np.all(np.isfinite(means)) or pdist(means).min() == 0:
        raise ValueError(f"{name} (explicit means) contains NaN or infinite values or two "
                         f"identical rows: every class needs its own finite mean.")
    return means


def _check_hidden(value, name):
    """Hidden widths: a sequence of positive integers (one integer is one layer)."""
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
        value = (value,)
    return tuple(check_sequence(value, name, lambda v, n: check_int(v, n, 1),
                                allow_empty=True, unique=False))


def _check_random_state(value, name):
    if isinstance(value, bool) or not (value is None or isinstance(
            value, (numbers.Integral, np.integer, np.random.RandomState))):
        raise TypeError(f"{name} must be None, an integer or a numpy RandomState, got "
                        f"{value!r}.")
    return check_random_state(value)


class DummyGaussianOTClassifier(ClassifierMixin, TransformerMixin, BaseEstimator):
    """The thesis's dummy-Gaussian OT classifier (Quadrio & Candelieri, 2025), scikit-learn API.

    Fit:

    1. Standardize every feature with the mean and standard deviation of all *training* tokens
       (kept as :attr:`mean_`, :attr:`scale_`; a constant feature gets scale 1).
    2. Place the dummy means :math:`m_1, \\dots, m_k \\in \\mathbb R^p`
       (:func:`otcompanion.geometry.dummy_means`; the thesis: the circle
       :math:`m_i = 3k(\\sin(2\\pi i/k), \\cos(2\\pi i/k))`) with covariance :math:`sI`.
    3. Per class ``c``, align its tokens with :math:`\\mathcal N(m_c, sI)` by OT for the cost
       :math:`\\lVert x - y \\rVert^2` (``solver``, :mod:`otcompanion.alignment`); each
       token's regression target :math:`t_i` is its image.
    4. Fit an MLP :math:`f: \\mathbb R^d \\to \\mathbb R^p` (ReLU hidden layers, linear output,
       keras Glorot-uniform initialization) to :math:`f(x_i) \\approx t_i` with the mean squared
       error, Adam and shuffled minibatches, with keras early stopping on held-out *training
       instances* (the thesis validated on the test set) and restoring the best weights.

    Predict: tokens are standardized with the training statistics and mapped by ``f``; token
    scores :math:`p(k \\mid x) \\propto e^{-\\lVert f(x) - m_k \\rVert}`; an instance's class
    maximizes :math:`\\sum_t \\log p(k \\mid x_t)` (the thesis's product of token scores), and
    :meth:`predict_proba` returns the softmax over classes of these sums. For a plain table
    (``T = 1``) these are the token scores.

    Parameters
    ----------
    geometry : {"circle", "circle_cos_sin", "simplex"} or array-like of shape (n_classes, p), \
default "circle"
        Dummy means: a layout of :func:`otcompanion.geometry.dummy_means` (the thesis's circle,
        the ``(cos, sin)`` circle, a regular simplex), or explicit means, row ``i`` for class
        ``classes_[i]`` (rows must be distinct).
    radius : float, optional
        Distance of the layout's means from the origin; default ``3 * n_classes`` (the
        thesis). Not allowed with explicit means.
    covariance_scale : float, default 1.0
        ``s``: every dummy Gaussian has covariance ``s I`` (the thesis: ``I``).
    dummy_dim : int, optional
        Dimension ``p`` of the dummy space (the MLP's output). Default: the token dimension
        ``d``, but at least 2 for the circles and ``k - 1`` for the simplex (the dimensions the
        layouts lie in); with explicit means, their number of columns.
    solver : {"exact", "sinkhorn", "minibatch", "gaussian"}, default "exact"
        OT alignment of step 3, each against ``n_c`` draws of the dummy Gaussian except
        ``"gaussian"``:

        - ``"exact"``: the optimal assignment (:func:`~otcompanion.alignment.exact_alignment`,
          the thesis); classes above ``max_dense_points`` tokens are refused.
        - ``"sinkhorn"``: barycentric projection of the entropic plan
          (:func:`~otcompanion.alignment.sinkhorn_alignment`); dense, also limited to
          ``max_dense_points``.
        - ``"minibatch"``: exact OT on shuffled batches of at most ``batch_size_ot`` tokens
          (:func:`~otcompanion.alignment.minibatch_alignment`), linear in ``n_c``; with
          ``batch_size_ot >= n_c`` the targets of ``"exact"``.
        - ``"gaussian"``: the closed-form map between the Gaussian fitted to the class's tokens
          and :math:`\\mathcal N(m_c, sI)` (:func:`~otcompanion.alignment.gaussian_alignment`),
          no draws, no ``n x n`` matrix: the fastest for large data.
    epsilon : float, default 0.01
        Sinkhorn regularization relative to the mean of the centred cost matrix (see
        :func:`~otcompanion.alignment.sinkhorn_alignment`). Smaller values approach the exact
        targets and converge more slowly (a ``ConvergenceWarning`` says when 10,000 iterations
        do not reach an L1 marginal error of 1e-4).
    batch_size_ot : int, default 256
        Largest minibatch of ``solver="minibatch"`` (at most ``max_dense_points``). The
        alignment's time grows linearly with the number of tokens, by one exact OT of this size
        per minibatch (``benchmarks/otclassifier_speed.py``, sections 2 and 3, time it).
    max_dense_points : int, default :data:`otcompanion.ot_solvers.MAX_EXACT_POINTS` (10,000)
        Largest class that ``"exact"`` and ``"sinkhorn"`` accept: they need dense
        ``n_c x n_c`` float64 matrices of ``8 n_c^2`` bytes (800 MB at 10,000 tokens), about
        four at once (``ot.emd`` on 6,667 points raised the peak memory by 1.45 GB), and exact
        OT takes about ``n^{2.7}`` time (``benchmarks/otclassifier_speed.py``, section 3).
    hidden_layer_sizes : tuple of int, default (32, 32)
        Hidden widths of the MLP (the thesis: ``[32, 32]``); ``()`` gives an affine map.
    max_epochs : int, default 50
        Passes over the training tokens (the thesis: 50).
    learning_rate : float, default 0.01
        Adam's learning rate (the thesis: ``1e-2``).
    batch_size : int, optional
        Tokens per gradient step. Default: 128 for small data, ``n / 64`` tokens (at most
        4,096) for large data, where larger steps spread torch's fixed cost per step over more
        tokens.
    validation_fraction : float in [0, 1), default 0.1
        Share of the training *instances* (rows of a table) held out, stratified by class and
        seeded, for early stopping; all tokens of an instance stay on one side. 0 disables early
        stopping. When the data are too small to hold out at least one instance of every class
        (and keep one of every class for training), early stopping is skipped
        (:attr:`validation_indices_` is ``None``).
    n_iter_no_change : int, default 5
        Patience: training stops after this many epochs in a row without improvement; the
        weights of the best epoch are restored.
    tol : float, default 1e-4
        keras's ``min_delta``: an epoch improves when its validation loss (mean squared error in
        the dummy space) is below the best so far by more than ``tol``, an *absolute* amount;
        only an improving epoch becomes the best epoch.
    standardize : bool, default True
        Step 1. ``False`` keeps the raw features (``mean_`` 0, ``scale_`` 1): the dummy
        Gaussians then sit at the thesis's radius in raw units.
    device : {"cpu", "cuda", "cuda:<index>"}, default "cpu"
        Where the MLP trains and predicts. The fitted MLP is stored on the CPU (pickles load
        anywhere). Results on CUDA are not bitwise reproducible.
    n_threads : int, default 1
        Torch intra-op threads during fit and prediction (restored afterwards). One thread is
        the fastest for this MLP at the default batch sizes and fixes the floating-point
        results.
    random_state : int, RandomState instance or None, default None
        Seeds the dummy draws, the minibatches, the validation split, the MLP's initialization
        and its batch order. An integer gives the same model on every fit (on the CPU).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels (any labels: integers, strings).
    n_features_in_ : int
        Features per token ``d``.
    feature_names_in_ : ndarray of str
        Column names, when fitted on a DataFrame.
    mean_, scale_ : ndarray of shape (d,)
        Training statistics of the standardization.
    dummy_means_ : ndarray of shape (n_classes, p)
        :math:`m_k`, row ``k`` for ``classes_[k]``.
    dummy_dim_ : int
        ``p``.
    ot_targets_ : ndarray of shape (n, T, p), or (n, p) for a table
        The regression target of every training token (its OT image), in the order of ``X``.
    mlp_ : torch.nn.Sequential
        The fitted map :math:`f` (float32, on the CPU, eval mode); it takes standardized tokens.
    history_ : pandas.DataFrame
        One row per epoch: ``epoch``, ``train_loss`` (mean over the epoch's tokens),
        ``val_loss`` and ``val_instance_accuracy`` (the held-out instances classified by the
        rule of :meth:`predict` with the epoch's weights; both NaN without validation).
    step_seconds_ : ndarray
        Per epoch of ``history_``, the CPU time of the fitting thread in the MLP's gradient
        steps up to the end of that epoch.
    n_iter_ : int
        Epochs run.
    best_epoch_ : int
        Epoch whose weights were kept.
    validation_indices_ : ndarray of int or None
        Instances (rows) of ``X`` held out for early stopping (``validation_fraction``'s split,
        or those given to :meth:`fit`).
    fit_timings_ : dict
        Wall-clock seconds spent in ``"alignment"`` (step 3), ``"training"`` (step 4) and
        ``"total"``, and ``"alignment_cpu"``, the CPU time of the fitting thread in step 3
        (``time.thread_time``; the MLP's is ``step_seconds_``).

    Examples
    --------
    >>> from otcompanion.data import thesis_split
    >>> X_train, X_test, y_train, y_test = thesis_split(2, 2, seed=0)
    >>> model = DummyGaussianOTClassifier(random_state=0).fit(X_train, y_train)
    >>> model.score(X_test, y_test) > 0.9
    True
    """

    # score accepts sample_weight, but metadata routing is not asked for it: no generated
    # set_score_request, whose docstring breaks a warnings-as-errors build of the API pages.
    __metadata_request__score = {"sample_weight": metadata_routing.UNUSED}
    # ``validation_indices`` is this estimator's own argument, not metadata to route through a
    # meta-estimator: no ``set_fit_request`` method.
    __metadata_request__fit = {"validation_indices": metadata_routing.UNUSED}

    #: One check per constructor parameter, ``check(value, name) -> normalized value``; wrong
    #: types raise TypeError, bad values ValueError (:mod:`otcompanion._validation`).
    _parameter_checks = {
        "geometry": _check_geometry,
        "radius": lambda v, n: check_positive(v, n, allow_none=True),
        "covariance_scale": check_positive,
        "dummy_dim": lambda v, n: check_int(v, n, 1, allow_none=True),
        "solver": lambda v, n: check_choice(v, n, SOLVERS),
        "epsilon": check_positive,
        "batch_size_ot": lambda v, n: check_int(v, n, 1),
        "max_dense_points": lambda v, n: check_int(v, n, 1),
        "hidden_layer_sizes": _check_hidden,
        "max_epochs": lambda v, n: check_int(v, n, 1),
        "learning_rate": check_positive,
        "batch_size": lambda v, n: check_int(v, n, 1, allow_none=True),
        "validation_fraction": lambda v, n: check_fraction(v, n, allow_zero=True),
        "n_iter_no_change": lambda v, n: check_int(v, n, 1),
        "tol": lambda v, n: check_real(v, n, 0.0),
        "standardize": check_bool,
        "device": lambda v, n: resolve_device(v),
        "n_threads": lambda v, n: check_int(v, n, 1),
        "random_state": _check_random_state,
    }

    def __init__(self, geometry="circle", radius=None, covariance_scale=1.0, dummy_dim=None,
                 solver="exact", epsilon=0.01, batch_size_ot=256,
                 max_dense_points=MAX_EXACT_POINTS, hidden_layer_sizes=(32, 32), max_epochs=50,
                 learning_rate=1e-2, batch_size=None, validation_fraction=0.1,
                 n_iter_no_change=5, tol=1e-4, standardize=True, device="cpu", n_threads=1,
                 random_state=None):
        self.geometry = geometry
        self.radius = radius
        self.covariance_scale = covariance_scale
        self.dummy_dim = dummy_dim
        self.solver = solver
        self.epsilon = epsilon
        self.batch_size_ot = batch_size_ot
        self.max_dense_points = max_dense_points
        self.hidden_layer_sizes = hidden_layer_sizes
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.standardize = standardize
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True  # token arrays (n, T, d)
        # Fits on the CPU are reproducible with a fixed random_state; CUDA kernels are not.
        tags.non_deterministic = str(self.device).strip().lower().startswith("cuda")
        return tags

    def _validate_params(self):
        """Every parameter checked by :attr:`_parameter_checks`, then the rules between them;
        returns the normalized values by name."""
        p = {name: check(getattr(self, name), name)
             for name, check in self._parameter_checks.items()}
        if not isinstance(p["geometry"], str):
            if p["radius"] is not None:
                raise ValueError("radius scales the named geometries; it cannot be combined "
                                 "with explicit means (scale the means instead).")
            if p["dummy_dim"] not in (None, p["geometry"].shape[1]):
                raise ValueError(f"dummy_dim={p['dummy_dim']} does not match the explicit "
                                 f"means of shape {p['geometry'].shape}; leave dummy_dim=None.")
        if p["solver"] == "minibatch" and p["batch_size_ot"] > p["max_dense_points"]:
            raise ValueError(f"batch_size_ot={p['batch_size_ot']} exceeds max_dense_points="
                             f"{p['max_dense_points']}: every minibatch is solved with a dense "
                             f"matrix.")
        return p

    def fit(self, X, y, validation_indices=None):
        """Fit the classifier on training instances.

        Parameters
        ----------
        X : array-like of shape (n, T, d) or (n, d)
            Token array, or a table (one token per row).
        y : array-like of shape (n,)
            One label per instance; at least two classes.
        validation_indices : array-like of int, optional
            Instances (rows) of ``X`` to hold out for early stopping instead of the seeded
            split of ``validation_fraction`` (which is then ignored); e.g. the split of another
            model, so that two models stop on the same held-out instances. Distinct indices in
            ``[0, n)``, at least one and leaving at least one instance of every class for the
            MLP's training.

        Returns
        -------
        self
        """
        started = time.perf_counter()
        p = self._validate_params()
        tokens, y, is_tokens = self._check_tokens(X, y, reset=True)
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"y contains only one class ({classes.tolist()[0]!r}); the "
                             "classifier needs at least two classes.")
        n, T, d = tokens.shape
        if validation_indices is not None:
            _given_split(validation_indices, codes, classes)  # bad indices fail before OT
        means = self._dummy_means(p, classes, d)
        self._check_dense_size(p, np.bincount(codes) * T, classes)
        ot_seed, split_seed, torch_seed = p["random_state"].randint(0, 2**31 - 1, size=3)

        # 1. Standardization with the training statistics.
        flat = tokens.reshape(n * T, d)
        mean, scale = np.zeros(d), np.ones(d)
        if p["standardize"]:
            mean, scale = flat.mean(axis=0), flat.std(axis=0)
            scale[scale == 0] = 1.0
        standardized = (flat - mean) / scale

        # 2-3. OT alignment of every class with its dummy Gaussian.
        aligned, aligned_cpu = time.perf_counter(), time.thread_time()
        targets = np.empty((n * T, means.shape[1]))
        token_codes = np.repeat(codes, T)
        for c, label in enumerate(classes.tolist()):
            members = token_codes == c
            seeds = np.random.SeedSequence([int(ot_seed), c])
            targets[members] = self._align(p, standardized[members], means[c], seeds, label)
        alignment_seconds = time.perf_counter() - aligned
        alignment_cpu = time.thread_time() - aligned_cpu

        # 4. The MLP, with early stopping on held-out training instances.
        trained = time.perf_counter()
        fit_instances, val_instances = np.arange(n), None
        if validation_indices is not None:
            fit_instances, val_instances = _given_split(validation_indices, codes, classes)
        elif p["validation_fraction"] > 0:
            fit_instances, val_instances = stratified_split(
                codes, p["validation_fraction"], int(split_seed), if_too_small="skip")
        self.mlp_, self.history_, self.best_epoch_, self.step_seconds_ = self._train(
            p, standardized, targets, T, fit_instances, val_instances, int(torch_seed),
            means, codes)

        self.classes_, self.mean_, self.scale_ = classes, mean, scale
        self.dummy_means_, self.dummy_dim_ = means, int(means.shape[1])
        self.ot_targets_ = targets.reshape(n, T, -1) if is_tokens else targets
        self.n_iter_, self.validation_indices_ = len(self.history_), val_instances
        self.fit_timings_ = {"alignment": alignment_seconds,
                             "training": time.perf_counter() - trained,
                             "total": time.perf_counter() - started,
                             "alignment_cpu": alignment_cpu}
        return self

    def _dummy_means(self, p, classes, d):
        if not isinstance(p["geometry"], str):
            if len(p["geometry"]) != len(classes):
                raise ValueError(f"geometry has {len(p['geometry'])} explicit means but y has "
                                 f"{len(classes)} classes {classes.tolist()}.")
            return p["geometry"]
        k = len(classes)
        dim = p["dummy_dim"] or max(d, k - 1 if p["geometry"] == "simplex" else 2)
        try:
            return dummy_means(k, p["geometry"], p["radius"], dim)
        except ValueError as error:
            raise ValueError(f"dummy_dim={dim}: {error}") from None

    @staticmethod
    def _check_dense_size(p, class_sizes, classes):
        """The guard rail: dense solvers refuse classes too large for ``n x n`` matrices."""
        largest = int(np.argmax(class_sizes))
        n_c = int(class_sizes[largest])
        if p["solver"] in ("exact", "sinkhorn") and n_c > p["max_dense_points"]:
            raise ValueError(
                f"solver={p['solver']!r} aligns class {classes.tolist()[largest]!r} ({n_c:,} "
                f"training tokens) with a dense {n_c:,} x {n_c:,} OT problem: 8 n^2 = "
                f"{_format_bytes(8 * n_c * n_c)} per float64 matrix, and the solver holds "
                f"about four at once (~{_format_bytes(32 * n_c * n_c)}), over "
                f"max_dense_points={p['max_dense_points']:,} tokens per class. Use "
                f"solver='minibatch' (exact OT on batches of batch_size_ot tokens, linear in n) "
                f"or solver='gaussian' (closed-form map, no n x n matrix), or raise "
                f"max_dense_points.")

    @staticmethod
    def _align(p, x, mean, seeds, label):
        """OT targets in ``R^p`` of the standardized tokens ``x`` of one class. Independent
        streams for the dummy draws and the minibatches: every solver draws the same points."""
        draws, batches = (np.random.default_rng(seed) for seed in seeds.spawn(2))
        s = p["covariance_scale"]
        try:
            if p["solver"] == "gaussian":
                return gaussian_alignment(x, mean, s * np.eye(len(mean)))
            dummy = mean + math.sqrt(s) * draws.standard_normal((len(x), len(mean)))
            if p["solver"] == "exact":
                return exact_alignment(x, dummy, p["max_dense_points"])
            if p["solver"] == "sinkhorn":
                return sinkhorn_alignment(x, dummy, p["epsilon"])
            return minibatch_alignment(x, dummy, p["batch_size_ot"], batches)
        except RuntimeError as error:
            raise RuntimeError(f"{p['solver']} OT for class {label!r} failed: {error}") from error

    @staticmethod
    def _train(p, inputs, targets, T, fit_instances, val_instances, seed, means, codes):
        """Adam on the mean squared error through :func:`otcompanion._training.train_epochs`;
        returns the CPU MLP, its history, its best epoch and the cumulative CPU seconds of its
        gradient steps per epoch. ``means`` (dummy means) and
        ``codes`` (class index per instance) give the validation accuracy."""
        def rows(instances):  # the tokens of the instances
            return (instances[:, None] * T + np.arange(T)).ravel()

        fit_rows = rows(fit_instances)
        with torch_session(seed, p["n_threads"], p["device"]) as device:
            def tensor(array):
                return torch.as_tensor(array, dtype=torch.float32, device=device)

            mlp = _build_mlp(inputs.shape[1], p["hidden_layer_sizes"], targets.shape[1])
            mlp.to(device)
            optimizer = torch.optim.Adam(mlp.parameters(), lr=p["learning_rate"])
            evaluate = stopping = None
            if val_instances is not None:
                x_val = tensor(inputs[rows(val_instances)])
                t_val = tensor(targets[rows(val_instances)])
                val_codes = codes[val_instances]
                dummy = tensor(means)

                def evaluate(epoch):
                    return {"val_loss": _chunked_mse(mlp, x_val, t_val),
                            "val_instance_accuracy": _instance_accuracy(mlp, x_val, dummy,
                                                                        val_codes, T)}

                stopping = EarlyStopping(p["n_iter_no_change"], min_delta=p["tol"])
            history, best_epoch = train_epochs(
                mlp, optimizer, F.mse_loss, tensor(inputs[fit_rows]), tensor(targets[fit_rows]),
                p["max_epochs"], batch_size=p["batch_size"] or _auto_batch_size(len(fit_rows)),
                evaluate=evaluate, stopping=stopping, what="the OT classifier's MLP training")
        mlp.to("cpu").eval().requires_grad_(False)
        step_seconds = np.array([row["step_seconds"] for row in history])
        history = pd.DataFrame(history, columns=["epoch", "train_loss", "val_loss",
                                                 "val_instance_accuracy"])
        return mlp, history, int(best_epoch), step_seconds

    def _check_tokens(self, X, y=None, *, reset):
        """Validate ``X`` (and ``y``); return tokens ``(n, T, d)`` float64, labels and whether
        ``X`` was a token array (not a plain table)."""
        ndim = _ndim(X)
        if ndim < 3:
            # Plain tables: scikit-learn's own validation (messages, feature names, sparse).
            if y is None:
                table = validate_data(self, X, reset=reset, dtype=np.float64)
            else:
                table, y = validate_data(self, X, y, reset=reset, dtype=np.float64)
            return table[:, None, :], y, False
        if ndim > 3:
            raise ValueError(f"X must be a table (n_samples, n_features) or a token array "
                             f"(n_instances, n_tokens, n_features); got {ndim} dimensions, "
                             f"shape {np.shape(X)}.")
        if reset:
            tokens, y = check_X_y(X, y, allow_nd=True, dtype=np.float64)
        else:
            tokens = check_array(X, allow_nd=True, dtype=np.float64, input_name="X")
        if 0 in tokens.shape:
            raise ValueError(f"X is empty: shape {tokens.shape}.")
        d = tokens.shape[-1]
        if reset:
            self.n_features_in_ = d
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif d != self.n_features_in_:
            raise ValueError(f"X has {d} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input (per token).")
        return tokens, y, True

    def _mapped(self, X):
        """``f`` of the standardized tokens, shape (n, T, p), and whether X was a token array.

        Inference runs in float64: float32 matrix products depend on the batch's size in the
        last bits, so a token's image would depend on the other tokens predicted with it.
        """
        check_is_fitted(self)
        tokens, _, is_tokens = self._check_tokens(X, reset=False)
        n, T, d = tokens.shape
        inputs = torch.as_tensor((tokens.reshape(n * T, d) - self.mean_) / self.scale_)
        with torch_session(0, self.n_threads, self.device) as device, torch.no_grad():
            net = copy.deepcopy(self.mlp_).to(device=device, dtype=torch.float64)
            outputs = [net(inputs[start:start + _CHUNK].to(device)).cpu()
                       for start in range(0, len(inputs), _CHUNK)]
        return torch.cat(outputs).numpy().reshape(n, T, self.dummy_dim_), is_tokens

    def _token_log_scores(self, mapped):
        """``log p(k | x)`` per token, shape (n, T, k)."""
        distances = np.linalg.norm(mapped[:, :, None, :] - self.dummy_means_, axis=-1)
        return -distances - logsumexp(-distances, axis=-1, keepdims=True)

    def transform(self, X):
        """The mapped points :math:`f((x - \\text{mean}) / \\text{scale})` in the dummy space,
        shape (n, T, p), or (n, p) for a table, with p = ``dummy_dim_``."""
        mapped, is_tokens = self._mapped(X)
        return mapped if is_tokens else mapped[:, 0, :]

    def predict_token_proba(self, X):
        """Token scores :math:`p(k \\mid x_t) \\propto e^{-\\lVert f(x_t) - m_k \\rVert}`,
        shape (n, T, n_classes), or (n, n_classes) for a table."""
        mapped, is_tokens = self._mapped(X)
        scores = np.exp(self._token_log_scores(mapped))
        return scores if is_tokens else scores[:, 0, :]

    def predict_log_proba(self, X):
        """Log instance probabilities: the log-softmax over classes of
        :math:`\\sum_t \\log p(k \\mid x_t)`, shape (n, n_classes)."""
        summed = self._token_log_scores(self._mapped(X)[0]).sum(axis=1)
        return summed - logsumexp(summed, axis=1, keepdims=True)

    def predict_proba(self, X):
        """Instance probabilities: the softmax over classes of the summed token log scores
        (for a table, the token scores), shape (n, n_classes)."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """Instance classes :math:`\\arg\\max_k \\sum_t \\log p(k \\mid x_t)` (the thesis),
        labels from ``classes_``."""
        log_proba = self.predict_log_proba(X)  # checks that the model is fitted
        return self.classes_[np.argmax(log_proba, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Instance accuracy on ``(X, y)``; labels not seen in ``fit`` are an error (they could
        never be predicted)."""
        check_is_fitted(self)
        labels = np.asarray(y)
        if labels.ndim == 1:
            known = set(self.classes_.tolist())
            unseen = sorted({label for label in labels.tolist() if label not in known}, key=str)
            if unseen:
                raise ValueError(f"y contains label(s) {unseen[:5]} not seen in fit; the "
                                 f"classifier knows classes_ = {self.classes_.tolist()}.")
        return super().score(X, y, sample_weight=sample_weight)


def _ndim(X):
    """Number of dimensions of ``X``; anything unusual (sparse, ragged) is a table for
    scikit-learn's validation to report on."""
    if sp.issparse(X):
        return 2
    try:
        return np.ndim(X)
    except (TypeError, ValueError):
        return 2


def _format_bytes(n_bytes):
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{n_bytes} bytes"


def _auto_batch_size(n_fit):
    """Default minibatch size of the MLP training: 128 for small data (7 steps per epoch at the
    thesis's 810 training tokens); ``n / 64`` up to 4,096 tokens for large data, where larger
    steps spread torch's fixed cost per step over more tokens (smaller batches of the
    32 x 32 MLP spend more of each step on it)."""
    return int(min(n_fit, max(128, min(4096, n_fit // 64))))


def _build_mlp(n_in, hidden, n_out):
    """ReLU MLP with a linear output, initialized like keras ``Dense`` layers."""
    layers, width = [], n_in
    for units in hidden:
        layers += [keras_dense(width, units), nn.ReLU()]
        width = units
    layers.append(keras_dense(width, n_out))
    return nn.Sequential(*layers)


def _given_split(indices, codes, classes):
    """``(fit, validation)`` instances from explicit validation indices, checked."""
    n = len(codes)
    try:
        held_out = np.asarray(indices)
    except (TypeError, ValueError):
        held_out = np.array(None)
    if held_out.ndim == 1 and len(held_out) == 0:
        held_out = held_out.astype(int)
    if held_out.ndim != 1 or held_out.dtype.kind not in "iu":
        raise TypeError(f"validation_indices must be a 1-D sequence of integer instance "
                        f"indices, got {indices!r}.")
    if len(held_out) == 0 or held_out.min() < 0 or held_out.max() >= n:
        raise ValueError(f"validation_indices must be non-empty indices in [0, {n}) (X has {n} "
                         f"instances), got {held_out.tolist()[:10]}.")
    if len(np.unique(held_out)) != len(held_out):
        raise ValueError("validation_indices contains repeated indices.")
    fit = np.setdiff1d(np.arange(n), held_out)
    missing = sorted(set(range(len(classes))) - set(codes[fit].tolist()))
    if missing:
        raise ValueError(f"validation_indices holds out every instance of class(es) "
                         f"{classes[missing].tolist()}; the MLP needs every class in training.")
    return fit, np.sort(held_out)


def _instance_accuracy(mlp, inputs, means, codes, T):
    """Instance accuracy of the rule of :meth:`DummyGaussianOTClassifier.predict` on
    standardized tokens ``inputs`` (instances' tokens consecutive, ``T`` each)."""
    distances = torch.cdist(torch.cat([mlp(inputs[start:start + _CHUNK])
                                       for start in range(0, len(inputs), _CHUNK)]), means)
    log_scores = -distances - torch.logsumexp(-distances, dim=1, keepdim=True)
    predicted = log_scores.reshape(-1, T, len(means)).sum(dim=1).argmax(dim=1).cpu().numpy()
    return float(np.mean(predicted == codes))


def _chunked_mse(mlp, inputs, targets):
    """Mean squared error over all entries, ``_CHUNK`` rows per forward pass."""
    total = sum(float(F.mse_loss(mlp(inputs[start:start + _CHUNK]),
                                 targets[start:start + _CHUNK], reduction="sum"))
                for start in range(0, len(inputs), _CHUNK))
    return total / targets.numel()
