"""The dummy-Gaussian OT classifier of the thesis, as a scikit-learn estimator.

The thesis's alternative to training attention (DESIGN §3, "Dummy-Gaussian OT classifier";
Quadrio & Candelieri, 2025): every class ``c`` gets a well-separated "dummy" Gaussian
:math:`\\mathcal N(m_c, s I)`; the training tokens of class ``c`` are aligned with a sample of
their class's dummy Gaussian by optimal transport (squared Euclidean cost), and a small MLP
:math:`f` learns to send every token to its matched dummy point. A new token is scored by its
distance to the dummy means, an instance by the sum of its tokens' log scores:

.. math::
    p(k \\mid x) = \\frac{e^{-\\lVert f(x) - m_k \\rVert}}{\\sum_j e^{-\\lVert f(x) - m_j \\rVert}},
    \\qquad
    \\hat y(x_1, \\dots, x_T) = \\arg\\max_k \\sum_{t=1}^T \\log p(k \\mid x_t).

Four alignments (``solver=``) trade exactness for size:

- ``"exact"``: exact OT per class (POT's network simplex, through
  :func:`otcompanion.metrics.exact_ot_assignment`), the thesis's choice; dense ``n_c x n_c``
  matrices, about ``n_c^{2.7}`` time (DESIGN §4);
- ``"sinkhorn"``: entropic OT (Cuturi, 2013), each token's target the barycentric projection
  of its row of the plan; dense as well;
- ``"minibatch"``: exact OT on random class-wise minibatches (Fatras et al., 2021), linear in
  ``n_c``;
- ``"gaussian"``: the closed-form Monge map between Gaussians fitted to the class's tokens and
  the dummy Gaussian (Peyré & Cuturi, 2019, Remark 2.31), ``O(n_c d^2)``, no sampling.

The thesis code's defects are not reproduced (DESIGN §3): test tokens are standardized with the
*training* statistics, and early stopping uses a validation split of the *training* instances,
never test labels.

References
----------
- A. Quadrio, A. Candelieri. *Transformers for Tabular Data: A Training
  Perspective of Self-Attention via Optimal Transport*. Univ. Milano-Bicocca, 2025.
  arXiv:2512.09530.
- G. Peyré, M. Cuturi. *Computational Optimal Transport*. Foundations
  and Trends in Machine Learning 11(5-6), 2019. arXiv:1803.00567.
- K. Fatras, Y. Zine, R. Flamary, R. Gribonval, N. Courty. *Learning with
  minibatch Wasserstein: asymptotic and gradient properties*. AISTATS 2020; K. Fatras et al.,
  *Minibatch optimal transport distances; analysis and applications*, arXiv:2101.01792, 2021.
- M. Cuturi. *Sinkhorn Distances: Lightspeed Computation of Optimal
  Transport*. NeurIPS 2013.
"""

from __future__ import annotations

import copy
import math
import numbers
import time
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from scipy.spatial.distance import cdist
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, metadata_routing
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y, validate_data
from torch import nn
from torch.nn import functional as F

from .attention import _keras_dense, _resolve_device
from .metrics import MAX_EXACT_POINTS, exact_ot_assignment, sinkhorn_uniform_plan

GEOMETRIES = ("circle", "simplex")
SOLVERS = ("exact", "sinkhorn", "minibatch", "gaussian")

#: Rows per forward pass at prediction time and for the validation loss (bounds the memory of
#: the hidden activations: 65,536 x 32 float32 = 8 MB per layer).
_CHUNK = 65_536

#: Sinkhorn budget and tolerance (L1 error of the token marginal, total mass 1; the dummy
#: marginal is exact after every iteration, and the barycentric projection renormalizes the rows).
_SINKHORN_MAX_ITER = 10_000
_SINKHORN_TOL = 1e-4


# ----------------------------------------------------------------------------------------------
# Geometry and the closed-form Gaussian map
# ----------------------------------------------------------------------------------------------

def dummy_means(n_classes, geometry="circle", radius=None, dim=2):
    """Class means of the dummy Gaussians.

    - ``"circle"`` (the thesis's geometry): :math:`m_i = r\\,(\\cos(2\\pi i/k),
      \\sin(2\\pi i/k), 0, \\dots, 0)`, ``i = 0 .. k-1``, on a circle of radius ``r`` (default
      ``3k``) in the first two coordinates (Quadrio & Candelieri, 2025; DESIGN §3).
    - ``"simplex"``: the ``k`` vertices of a regular simplex centred at the origin with
      circumradius ``r`` (every pair of means equally far apart, :math:`r\\sqrt{2k/(k-1)}`), in
      the first ``k - 1`` coordinates. For ``k = 2, 3`` it is the circle.

    Parameters
    ----------
    n_classes : int
        ``k >= 2``.
    geometry : {"circle", "simplex"}, default "circle"
    radius : float, optional
        Distance ``r > 0`` of every mean from the origin; default ``3 * n_classes``.
    dim : int, default 2
        Dimension ``p`` of the dummy space; zeros fill the coordinates the geometry does not use.

    Returns
    -------
    means : ndarray of shape (n_classes, dim)

    Raises
    ------
    ValueError
        Bad arguments, or ``dim`` too small for the geometry: the means would coincide (a circle
        of three or more classes on one axis, a simplex of ``k`` vertices in fewer than ``k - 1``
        dimensions).
    """
    k = _check_integer(n_classes, "n_classes", 2)
    dim = _check_integer(dim, "dim", 1)
    radius = 3.0 * k if radius is None else _check_positive_number(radius, "radius")
    if geometry == "circle":
        angles = 2.0 * np.pi * np.arange(k) / k
        plane = np.stack([np.cos(angles), np.sin(angles)], axis=1)
        needed = 2 if k > 2 else 1  # two classes sit at +-r on the first axis
    elif geometry == "simplex":
        # The centred vertices e_i - 1/k in an orthonormal basis of their span chosen by
        # Gram-Schmidt on vertices 0, 1, ...: vertex 0 lies on the positive first axis and
        # vertex 1 in the upper half-plane, so that k = 2, 3 give the circle.
        vertices = np.eye(k) - 1.0 / k
        basis, upper = np.linalg.qr(vertices[:k - 1].T)
        basis *= np.sign(np.diag(upper))
        plane = vertices @ basis
        plane /= np.linalg.norm(plane, axis=1, keepdims=True)
        needed = k - 1
    else:
        raise ValueError(f"geometry must be one of {GEOMETRIES}, got {geometry!r}.")
    if dim < needed:
        raise ValueError(
            f"dummy dimension {dim} is too small for geometry {geometry!r} with {k} classes: "
            f"the class means would coincide or lose their shape; use a dummy dimension of at "
            f"least {needed}."
        )
    means = np.zeros((k, dim))
    used = min(dim, plane.shape[1])
    means[:, :used] = radius * plane[:, :used]
    means[np.abs(means) < 1e-12 * radius] = 0.0
    return means


def _min_pairwise_distance(means):
    if len(means) < 2:
        return math.inf
    distances = cdist(means, means)
    return float(distances[np.triu_indices(len(means), 1)].min())


def _psd_power(matrix, power, floor=0.0):
    """``matrix ** power`` of a symmetric PSD matrix by eigendecomposition (eigenvalues are
    clipped at ``floor`` first)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    values = np.maximum(values, floor)
    return (vectors * values ** power) @ vectors.T


def gaussian_ot_map(source, target_mean, target_cov, reg=1e-8):
    """Closed-form OT map from the Gaussian fit of a point cloud to a target Gaussian.

    With :math:`\\mu, \\Sigma_1` the mean and (biased) covariance of ``source`` and
    :math:`\\mathcal N(m, \\Sigma_2)` the target, the Monge map for the squared Euclidean cost
    between the two Gaussians is affine (Peyré & Cuturi, 2019, Remark 2.31):

    .. math::
        T(x) = m + A (x - \\mu), \\qquad
        A = \\Sigma_1^{-1/2} \\big(\\Sigma_1^{1/2} \\Sigma_2 \\Sigma_1^{1/2}\\big)^{1/2}
        \\Sigma_1^{-1/2},

    so that the mapped cloud has mean exactly :math:`m` and covariance
    :math:`A \\Sigma_1 A = \\Sigma_2` (up to the regularization). A singular
    :math:`\\Sigma_1` (fewer points than dimensions, a constant or zero-padded coordinate) is
    regularized to :math:`\\Sigma_1 + \\delta I` with
    :math:`\\delta = \\text{reg} \\cdot \\operatorname{tr}(\\Sigma_1)/q` (``reg`` alone when the
    trace is 0). Coordinates in which the source does not vary are then sent to the target mean.
    Cost: ``O(n q^2 + q^3)`` for ``n`` points in ``R^q``, no ``n x n`` matrix.

    Parameters
    ----------
    source : array-like of shape (n, q)
    target_mean : array-like of shape (q,)
    target_cov : array-like of shape (q, q)
        Symmetric positive semi-definite.
    reg : float, default 1e-8
        Relative regularization of the source covariance.

    Returns
    -------
    mapped : ndarray of shape (n, q)
        ``T(source)``.
    """
    x = np.asarray(source, dtype=float)
    m = np.asarray(target_mean, dtype=float)
    cov_target = np.asarray(target_cov, dtype=float)
    if x.ndim != 2 or 0 in x.shape:
        raise ValueError(f"source must have shape (n, q) with n, q >= 1; got {x.shape}.")
    q = x.shape[1]
    if m.shape != (q,) or cov_target.shape != (q, q):
        raise ValueError(f"target_mean must have shape ({q},) and target_cov ({q}, {q}); got "
                         f"{m.shape} and {cov_target.shape}.")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(m))
            and np.all(np.isfinite(cov_target))):
        raise ValueError("source, target_mean and target_cov must be finite.")
    reg = _check_positive_number(reg, "reg")
    mu = x.mean(axis=0)
    centred = x - mu
    cov_source = centred.T @ centred / len(x)
    trace = float(np.trace(cov_source))
    delta = reg * (trace / q if trace > 0 else 1.0)
    cov_source = cov_source + delta * np.eye(q)
    root = _psd_power(cov_source, 0.5)
    inverse_root = _psd_power(cov_source, -0.5, floor=delta)
    middle = _psd_power(root @ cov_target @ root, 0.5)
    A = inverse_root @ middle @ inverse_root
    A = (A + A.T) / 2.0
    return m + centred @ A


# ----------------------------------------------------------------------------------------------
# Parameter checks (ValueError naming the parameter and what is allowed)
# ----------------------------------------------------------------------------------------------

def _check_integer(value, name, minimum, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}"
                         f"{' or None' if allow_none else ''}, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}.")
    return int(value)


def _check_positive_number(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(float(value)) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number"
                         f"{' or None' if allow_none else ''}, got {value!r}.")
    return float(value)


def _format_bytes(n_bytes):
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{n_bytes} bytes"


def _pad(points, width):
    """Zero-pad (or keep) the columns of ``points`` to ``width``."""
    if points.shape[1] == width:
        return points
    padded = np.zeros((len(points), width))
    padded[:, :points.shape[1]] = points
    return padded


def _auto_batch_size(n_fit):
    """Default minibatch size of the MLP training (``batch_size=None``).

    Small data: 128 (a few steps per epoch; at the thesis's size, 810 training tokens, 7 steps).
    Large data: ``n / 64`` up to 4,096 tokens, where one CPU thread reaches its best throughput
    per token (about 0.2 microseconds per token and step for the 32 x 32 MLP; smaller batches
    pay torch's fixed cost of about 0.25 ms per step).
    """
    return int(min(n_fit, max(128, min(4096, n_fit // 64))))


class DummyGaussianOTClassifier(ClassifierMixin, TransformerMixin, BaseEstimator):
    """The thesis's dummy-Gaussian OT classifier (Quadrio & Candelieri, 2025), scikit-learn API.

    Fit (DESIGN §3):

    1. Standardize every feature with the mean and standard deviation of all *training* tokens
       (kept as :attr:`mean_`, :attr:`scale_`; a constant feature gets scale 1).
    2. Place the dummy means :math:`m_1, \\dots, m_k \\in \\mathbb R^p` (``geometry``; the
       thesis: a circle of radius ``3k``) with covariance :math:`sI` (``covariance_scale``).
    3. Per class ``c`` (tokens :math:`x_1, \\dots, x_{n_c}`), align the tokens with the dummy
       Gaussian :math:`\\mathcal N(m_c, sI)` by OT for the cost
       :math:`\\lVert x - y \\rVert^2`; each token's regression target :math:`t_i` is its
       image. ``solver="exact"`` draws :math:`y_1, \\dots, y_{n_c}` and solves
       :math:`\\min_\\sigma \\sum_i \\lVert x_i - y_{\\sigma(i)} \\rVert^2`,
       :math:`t_i = y_{\\sigma(i)}` (the thesis); see ``solver`` for the others.
       When the token dimension ``d`` and the dummy dimension ``p`` differ, both are embedded in
       :math:`\\mathbb R^{\\max(d, p)}` by zero-padding for the cost.
    4. Fit an MLP :math:`f: \\mathbb R^d \\to \\mathbb R^p` (ReLU hidden layers, linear output,
       keras Glorot-uniform initialization) to :math:`f(x_i) \\approx t_i` with the mean squared
       error and Adam, early stopping on held-out *training instances* (the thesis validated on
       the test set; this estimator never sees test labels) and restoring the best weights.

    Predict: tokens are standardized with the training statistics and mapped by ``f``; token
    scores :math:`p(k \\mid x) \\propto e^{-\\lVert f(x) - m_k \\rVert}`; an instance's class
    maximizes :math:`\\sum_t \\log p(k \\mid x_t)` (the thesis's product of token scores), and
    :meth:`predict_proba` returns the softmax over classes of these sums. For a plain table
    (``T = 1``) these are the token scores.

    Parameters
    ----------
    geometry : {"circle", "simplex"} or array-like of shape (n_classes, p), default "circle"
        Dummy means (:func:`dummy_means`): the thesis's circle, a regular simplex, or explicit
        means, row ``i`` for class ``classes_[i]`` (rows must be distinct).
    radius : float, optional
        Distance of the circle or simplex means from the origin; default ``3 * n_classes``
        (the thesis). Not allowed with explicit means.
    covariance_scale : float, default 1.0
        ``s``: every dummy Gaussian has covariance ``s I`` (the thesis: ``I``).
    dummy_dim : int, optional
        Dimension ``p`` of the dummy space (the MLP's output). Default: the token dimension
        ``d``, but at least 2 for the circle and ``k - 1`` for the simplex, so that one feature
        does not fold the means onto each other; with explicit means, their number of columns.
        A value that makes means coincide is rejected.
    solver : {"exact", "sinkhorn", "minibatch", "gaussian"}, default "exact"
        OT alignment of step 3:

        - ``"exact"``: exact assignment per class (POT ``ot.emd`` via
          :func:`otcompanion.metrics.exact_ot_assignment`, which raises instead of returning a
          non-converged plan). Classes above ``max_dense_points`` tokens are refused.
        - ``"sinkhorn"``: entropic plan :math:`P` (uniform marginals, Sinkhorn's iterations,
          Cuturi 2013, with :func:`otcompanion.metrics.sinkhorn_uniform_plan`) between the
          tokens and ``n_c`` dummy draws ``Y``; targets are its
          barycentric projection :math:`t = n_c P Y` (rows of ``P`` renormalized to sum to
          ``1/n_c``). Dense, so also limited to ``max_dense_points``.
        - ``"minibatch"``: the class's tokens are shuffled and cut into batches of at most
          ``batch_size_ot``; each batch is matched exactly with as many dummy draws (minibatch
          OT, Fatras et al. 2020/2021). Time grows linearly with ``n_c``. With
          ``batch_size_ot >= n_c`` it gives the same targets as ``"exact"``.
        - ``"gaussian"``: the closed-form map between the Gaussian fitted to the class's tokens
          and :math:`\\mathcal N(m_c, sI)` (:func:`gaussian_ot_map`), no sampling, no
          ``n x n`` matrix: the fastest for large data.
    epsilon : float, default 0.01
        Sinkhorn regularization *relative to the cost scale*. Both clouds are centred first:
        that changes the cost :math:`\\lVert x_i - y_j \\rVert^2` by a term
        :math:`a_i + b_j`, which changes no plan, and it removes the large constant offset between
        the tokens and the dummy mean. The entropic regularization is then
        ``epsilon * mean(C)`` for the centred cost matrix ``C`` (``mean(C)`` is the sum of the
        traces of the two clouds' covariances), so one value suits any radius, scale or
        dimension. Smaller values approach the exact plan and converge more slowly (a
        ``ConvergenceWarning`` is issued when 10,000 iterations do not bring the L1 marginal
        error below 1e-4).
    batch_size_ot : int, default 256
        Largest minibatch of ``solver="minibatch"`` (at most ``max_dense_points``). Exact OT on
        256 points takes about 6 ms: 10^6 tokens align in about 23 s on one core.
    max_dense_points : int, default :data:`otcompanion.metrics.MAX_EXACT_POINTS` (10,000)
        Largest class that ``"exact"`` and ``"sinkhorn"`` accept: they need dense
        ``n_c x n_c`` float64 matrices of ``8 n_c^2`` bytes (800 MB at 10,000 tokens), about
        four at once (``ot.emd`` on 6,667 points raised the peak memory by 1.45 GB), and exact
        OT takes about ``n^{2.7}`` time (25 s for three classes of 6,667 tokens).
    hidden_layer_sizes : tuple of int, default (32, 32)
        Hidden widths of the MLP (the thesis: ``[32, 32]``); ``()`` gives an affine map.
    max_epochs : int, default 50
        Passes over the training tokens (the thesis: 50).
    learning_rate : float, default 0.01
        Adam's learning rate (the thesis: ``1e-2``).
    batch_size : int, optional
        Tokens per gradient step. Default: 128 for small data, ``n / 64`` tokens (at most
        4,096) for large data: 10^6 tokens train at about 0.4 s per epoch on one thread (two
        threads were ten times slower in our measurements, DESIGN §4).
    validation_fraction : float in [0, 1), default 0.1
        Share of the training *instances* (rows of a table) held out, stratified by class and
        seeded, for early stopping; all tokens of an instance stay on one side. 0 disables early
        stopping. When the data are too small to hold out at least one instance of every class
        (and keep one of every class for training), early stopping is skipped
        (:attr:`validation_indices_` is ``None``).
    n_iter_no_change : int, default 5
        Patience: training stops after this many epochs without a relative improvement of the
        validation loss by more than ``tol``; the weights of the best epoch are restored.
    tol : float, default 1e-4
        Relative improvement of the validation loss that resets the patience.
    device : {"cpu", "cuda", "cuda:<index>"}, default "cpu"
        Where the MLP trains and predicts. The fitted MLP is stored on the CPU (pickles load
        anywhere). Results on CUDA are not bitwise reproducible.
    n_threads : int, default 1
        Torch intra-op threads during fit and prediction (restored afterwards). One thread is
        the fastest for this MLP at the default batch sizes and fixes the floating-point
        results (DESIGN §4).
    standardize : bool, default True
        Step 1. ``False`` keeps the raw features (``mean_`` 0, ``scale_`` 1): the dummy
        Gaussians then sit at the thesis's radius in raw units, for measuring what
        standardization changes.
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
        One row per epoch: ``epoch``, ``train_loss`` (mean over the epoch's gradient steps),
        ``val_loss`` (NaN without validation).
    n_iter_ : int
        Epochs run.
    best_epoch_ : int
        Epoch whose weights were kept.
    validation_indices_ : ndarray of int or None
        Instances (rows) of ``X`` held out for early stopping.
    fit_timings_ : dict
        Seconds spent in ``"alignment"`` (step 3), ``"training"`` (step 4) and ``"total"``.

    Examples
    --------
    >>> from otcompanion.data import thesis_split
    >>> X_train, X_test, y_train, y_test = thesis_split(2, 2, seed=0)
    >>> model = DummyGaussianOTClassifier(random_state=0).fit(X_train, y_train)
    >>> model.score(X_test, y_test) > 0.9
    True
    """

    # score(X, y, sample_weight) accepts weights when called directly, but the estimator does
    # not ask metadata routing for them (fit takes none). This also keeps scikit-learn from
    # generating a set_score_request method, whose docstring links into scikit-learn's own
    # Sphinx glossary and breaks a warnings-as-errors build of this package's API pages.
    __metadata_request__score = {"sample_weight": metadata_routing.UNUSED}

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

    # ------------------------------------------------------------------------------------------
    # Validation
    # ------------------------------------------------------------------------------------------

    def _check_params(self):
        """Check every hyperparameter; return the normalized values."""
        p = {}
        geometry = self.geometry
        if isinstance(geometry, str):
            if geometry not in GEOMETRIES:
                raise ValueError(f"geometry must be one of {GEOMETRIES} or an array of class "
                                 f"means of shape (n_classes, p), got {geometry!r}.")
            p["means"] = None
        else:
            try:
                means = np.array(geometry, dtype=float)
            except (TypeError, ValueError):
                raise ValueError(f"geometry must be one of {GEOMETRIES} or an array of class "
                                 f"means of shape (n_classes, p), got {geometry!r}.") from None
            if means.ndim != 2 or means.shape[0] < 2 or means.shape[1] < 1:
                raise ValueError(f"geometry as explicit means must have shape (n_classes, p) "
                                 f"with n_classes >= 2, got shape {means.shape}.")
            if not np.all(np.isfinite(means)):
                raise ValueError("geometry (explicit means) contains NaN or infinite values.")
            if _min_pairwise_distance(means) == 0:
                raise ValueError("geometry (explicit means) has two identical rows: every class "
                                 "needs its own mean.")
            if self.radius is not None:
                raise ValueError("radius scales the 'circle' and 'simplex' geometries; it cannot "
                                 "be combined with explicit means (scale the means instead).")
            p["means"] = means
        p["radius"] = _check_positive_number(self.radius, "radius", allow_none=True)
        p["covariance_scale"] = _check_positive_number(self.covariance_scale, "covariance_scale")
        p["dummy_dim"] = _check_integer(self.dummy_dim, "dummy_dim", 1, allow_none=True)
        if p["means"] is not None and p["dummy_dim"] not in (None, p["means"].shape[1]):
            raise ValueError(f"dummy_dim={self.dummy_dim} does not match the explicit means of "
                             f"shape {p['means'].shape}; leave dummy_dim=None.")
        if not isinstance(self.standardize, (bool, np.bool_)):
            raise ValueError(f"standardize must be True or False, got {self.standardize!r}.")
        if not isinstance(self.solver, str) or self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}.")
        p["epsilon"] = _check_positive_number(self.epsilon, "epsilon")
        p["max_dense_points"] = _check_integer(self.max_dense_points, "max_dense_points", 1)
        p["batch_size_ot"] = _check_integer(self.batch_size_ot, "batch_size_ot", 1)
        if self.solver == "minibatch" and p["batch_size_ot"] > p["max_dense_points"]:
            raise ValueError(f"batch_size_ot={self.batch_size_ot} exceeds "
                             f"max_dense_points={self.max_dense_points}: every minibatch is "
                             f"solved with a dense matrix.")
        hidden = self.hidden_layer_sizes
        if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
            hidden = (hidden,)
        try:
            hidden = tuple(hidden)
        except TypeError:
            raise ValueError(f"hidden_layer_sizes must be a tuple of positive integers, got "
                             f"{self.hidden_layer_sizes!r}.") from None
        p["hidden"] = tuple(_check_integer(h, f"hidden_layer_sizes[{i}]", 1)
                            for i, h in enumerate(hidden))
        p["max_epochs"] = _check_integer(self.max_epochs, "max_epochs", 1)
        p["learning_rate"] = _check_positive_number(self.learning_rate, "learning_rate")
        p["batch_size"] = _check_integer(self.batch_size, "batch_size", 1, allow_none=True)
        fraction = self.validation_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) \
                or not 0 <= fraction < 1:
            raise ValueError(f"validation_fraction must be a number in [0, 1), got "
                             f"{fraction!r}.")
        p["validation_fraction"] = float(fraction)
        p["n_iter_no_change"] = _check_integer(self.n_iter_no_change, "n_iter_no_change", 1)
        tol = self.tol
        if isinstance(tol, bool) or not isinstance(tol, numbers.Real) \
                or not math.isfinite(tol) or tol < 0:
            raise ValueError(f"tol must be a non-negative number, got {tol!r}.")
        p["tol"] = float(tol)
        try:
            p["device"] = _resolve_device(self.device)
        except TypeError as error:
            raise ValueError(str(error)) from None
        p["n_threads"] = _check_integer(self.n_threads, "n_threads", 1)
        return p

    def _check_tokens(self, X, y=None, *, reset):
        """Validate ``X`` (and ``y``); return tokens ``(n, T, d)`` float64, labels and whether
        ``X`` was a plain table."""
        ndim = _ndim(X)
        is_tokens = ndim >= 3
        if not is_tokens:
            # Plain tables: scikit-learn's own validation (messages, feature names, sparse).
            if y is None:
                table = validate_data(self, X, reset=reset, dtype=np.float64)
            else:
                table, y = validate_data(self, X, y, reset=reset, dtype=np.float64)
            return table[:, None, :], y, False
        if ndim > 3:
            raise ValueError(f"X must be a table (n_samples, n_features) or a token array "
                             f"(n_instances, n_tokens, n_features); got {ndim} "
                             f"dimensions, shape {np.shape(X)}.")
        if y is None:
            if reset:
                raise ValueError(f"This {type(self).__name__} estimator requires y to be "
                                 "passed, but the target y is None.")
            tokens = check_array(X, allow_nd=True, dtype=np.float64, input_name="X")
        else:
            tokens, y = check_X_y(X, y, allow_nd=True, dtype=np.float64)
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

    # ------------------------------------------------------------------------------------------
    # Fit
    # ------------------------------------------------------------------------------------------

    def fit(self, X, y):
        """Fit the classifier on training instances.

        Parameters
        ----------
        X : array-like of shape (n, T, d) or (n, d)
            Token array, or a table (one token per row).
        y : array-like of shape (n,)
            One label per instance; at least two classes.

        Returns
        -------
        self
        """
        started = time.perf_counter()
        params = self._check_params()
        tokens, y, is_tokens = self._check_tokens(X, y, reset=True)
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"y contains only one class ({classes.tolist()[0]!r}); the "
                             "classifier needs at least two classes.")
        n, T, d = tokens.shape
        k = len(classes)

        # Dummy geometry.
        if params["means"] is not None:
            means = params["means"]
            if len(means) != k:
                raise ValueError(f"geometry has {len(means)} explicit means but y has {k} "
                                 f"classes {classes.tolist()}.")
        else:
            default = max(d, 2) if self.geometry == "circle" else max(d, k - 1)
            dim = default if params["dummy_dim"] is None else params["dummy_dim"]
            means = dummy_means(k, self.geometry, params["radius"], dim)
        p = means.shape[1]

        # Guard rail before any work: dense solvers refuse classes too large for n x n matrices.
        class_sizes = np.bincount(codes, minlength=k) * T
        if self.solver in ("exact", "sinkhorn"):
            largest = int(np.argmax(class_sizes))
            n_c = int(class_sizes[largest])
            if n_c > params["max_dense_points"]:
                raise ValueError(
                    f"solver={self.solver!r} aligns class {classes.tolist()[largest]!r} ({n_c:,} "
                    f"training tokens) with a dense {n_c:,} x {n_c:,} OT problem: 8 n^2 = "
                    f"{_format_bytes(8 * n_c * n_c)} per float64 matrix, and the solver holds "
                    f"about four at once (~{_format_bytes(32 * n_c * n_c)}), over "
                    f"max_dense_points={params['max_dense_points']:,} tokens per class. Use "
                    f"solver='minibatch' (exact OT on batches of batch_size_ot tokens, linear "
                    f"in n) or solver='gaussian' (closed-form map, no n x n matrix), or raise "
                    f"max_dense_points."
                )

        random_state = check_random_state(self.random_state)
        ot_seed, split_seed, torch_seed = (int(s) for s in
                                           random_state.randint(0, 2**31 - 1, size=3))

        # 1. Standardization with training statistics.
        flat = tokens.reshape(n * T, d)
        if self.standardize:
            mean = flat.mean(axis=0)
            scale = flat.std(axis=0)
            scale = np.where(scale > 0, scale, 1.0)
        else:
            mean, scale = np.zeros(d), np.ones(d)
        standardized = (flat - mean) / scale
        token_codes = np.repeat(codes, T)

        # 3. OT alignment per class.
        aligned = time.perf_counter()
        targets = np.empty((n * T, p))
        for c in range(k):
            members = np.flatnonzero(token_codes == c)
            # Independent streams per class for the dummy draws and for the minibatches, so
            # that every solver draws the same dummy points.
            draws, batches = (np.random.default_rng(seed) for seed in
                              np.random.SeedSequence([ot_seed, c]).spawn(2))
            targets[members] = self._align_class(standardized[members], means[c], draws,
                                                 batches, params, classes.tolist()[c])
        alignment_seconds = time.perf_counter() - aligned

        # 4. MLP with early stopping on held-out training instances.
        fit_instances, val_instances = self._validation_split(codes, params, split_seed)
        trained = time.perf_counter()
        net, history, best_epoch = self._train(standardized, targets, fit_instances,
                                               val_instances, T, params, torch_seed)
        training_seconds = time.perf_counter() - trained

        self.classes_ = classes
        self.mean_, self.scale_ = mean, scale
        self.dummy_means_ = means
        self.dummy_dim_ = int(p)
        self.ot_targets_ = targets.reshape(n, T, p) if is_tokens else targets
        self.mlp_ = net
        self.history_ = history
        self.n_iter_ = int(len(history))
        self.best_epoch_ = int(best_epoch)
        self.validation_indices_ = val_instances
        self.fit_timings_ = {"alignment": alignment_seconds, "training": training_seconds,
                             "total": time.perf_counter() - started}
        return self

    def _align_class(self, x, mean, draws, batches, params, label):
        """OT targets in ``R^p`` for the standardized tokens ``x`` (n_c, d) of one class."""
        n_c, d = x.shape
        p = len(mean)
        q = max(d, p)
        s = params["covariance_scale"]
        if self.solver == "gaussian":
            target_mean = _pad(mean[None], q)[0]
            target_cov = np.zeros((q, q))
            target_cov[np.arange(p), np.arange(p)] = s
            return gaussian_ot_map(_pad(x, q), target_mean, target_cov)[:, :p]
        dummy = mean + math.sqrt(s) * draws.standard_normal((n_c, p))
        source, sample = _pad(x, q), _pad(dummy, q)
        if self.solver == "exact":
            return dummy[self._exact(source, sample, params, label)]
        if self.solver == "minibatch":
            order = batches.permutation(n_c)
            targets = np.empty((n_c, p))
            start = 0
            for batch in np.array_split(order, math.ceil(n_c / params["batch_size_ot"])):
                stop = start + len(batch)
                assignment = self._exact(source[batch], sample[start:stop], params, label)
                targets[batch] = dummy[start:stop][assignment]
                start = stop
            return targets
        return self._sinkhorn_targets(source, sample, dummy, params, label)

    @staticmethod
    def _exact(source, sample, params, label):
        try:
            return exact_ot_assignment(source, sample, max_points=params["max_dense_points"])[0]
        except RuntimeError as error:  # never a non-converged plan
            raise RuntimeError(f"exact OT for class {label!r} failed: {error}") from error

    def _sinkhorn_targets(self, source, sample, dummy, params, label):
        n_c = len(source)
        if n_c == 1:
            return dummy.copy()
        # Centring both clouds changes the cost by a term a_i + b_j, which changes no plan
        # (exact or entropic); it keeps the kernel away from underflow and sets the scale of
        # epsilon: mean(cost) = tr Cov(tokens) + tr Cov(draws).
        cost = cdist(source - source.mean(axis=0), sample - sample.mean(axis=0), "sqeuclidean")
        reg = params["epsilon"] * float(cost.mean())
        plan, error = sinkhorn_uniform_plan(cost, epsilon=reg, max_iter=_SINKHORN_MAX_ITER,
                                            tol=_SINKHORN_TOL)
        row_mass = plan.sum(axis=1, keepdims=True)
        if not (np.all(np.isfinite(plan)) and np.all(row_mass > 0)):
            raise RuntimeError(f"Sinkhorn returned a degenerate plan for class {label!r} with "
                               f"epsilon={self.epsilon}; raise epsilon.")
        if float(error) > _SINKHORN_TOL:
            warnings.warn(f"Sinkhorn did not converge in {_SINKHORN_MAX_ITER:,} iterations for "
                          f"class {label!r} (epsilon={self.epsilon}: L1 marginal error "
                          f"{float(error):.1e} > {_SINKHORN_TOL}); the targets are the "
                          f"barycentric projection of an approximate plan. Raise epsilon.",
                          ConvergenceWarning, stacklevel=4)
        return (plan @ dummy) / row_mass

    def _validation_split(self, codes, params, seed):
        n, k = len(codes), int(codes.max()) + 1
        everything = np.arange(n)
        fraction = params["validation_fraction"]
        if fraction == 0:
            return everything, None
        n_val = math.ceil(fraction * n)
        if n_val < k or n - n_val < k or np.bincount(codes, minlength=k).min() < 2:
            return everything, None  # too small to hold out every class: no early stopping
        fit, val = train_test_split(everything, test_size=n_val, random_state=seed,
                                    stratify=codes)
        return np.sort(fit), np.sort(val)

    def _train(self, inputs, targets, fit_instances, val_instances, T, params, seed):
        """Adam on the MSE with early stopping; returns the CPU MLP, its history and best
        epoch."""
        device = params["device"]

        def token_rows(instances):
            return (instances[:, None] * T + np.arange(T)).ravel()

        def tensor(array):
            return torch.as_tensor(np.ascontiguousarray(array), dtype=torch.float32,
                                   device=device)

        if val_instances is None:
            x_fit, t_fit = tensor(inputs), tensor(targets)
            x_val = t_val = None
        else:
            fit_rows, val_rows = token_rows(fit_instances), token_rows(val_instances)
            x_fit, t_fit = tensor(inputs[fit_rows]), tensor(targets[fit_rows])
            x_val, t_val = tensor(inputs[val_rows]), tensor(targets[val_rows])
        n_fit = len(x_fit)
        batch = params["batch_size"] or _auto_batch_size(n_fit)
        batch = min(batch, n_fit)

        previous_threads = torch.get_num_threads()
        rng_devices = [device.index or 0] if device.type == "cuda" else []
        torch.set_num_threads(params["n_threads"])
        try:
            with torch.random.fork_rng(devices=rng_devices):
                torch.manual_seed(seed)
                net = _build_mlp(inputs.shape[1], params["hidden"], targets.shape[1])
                net.to(device)
                optimizer = torch.optim.Adam(net.parameters(), lr=params["learning_rate"])
                rows, best_loss, best_epoch, best_state, wait = [], math.inf, 0, None, 0
                reference = math.inf  # best loss by at least the relative tol
                for epoch in range(1, params["max_epochs"] + 1):
                    net.train()
                    if batch < n_fit:
                        order = torch.randperm(n_fit, device=device)
                        x_epoch, t_epoch = x_fit[order], t_fit[order]
                    else:
                        x_epoch, t_epoch = x_fit, t_fit
                    total = torch.zeros((), device=device)
                    for start in range(0, n_fit, batch):
                        xb, tb = x_epoch[start:start + batch], t_epoch[start:start + batch]
                        optimizer.zero_grad(set_to_none=True)
                        loss = F.mse_loss(net(xb), tb)
                        loss.backward()
                        optimizer.step()
                        total += loss.detach() * len(xb)
                    train_loss = float(total) / n_fit
                    val_loss = math.nan
                    if x_val is not None:
                        val_loss = _chunked_mse(net, x_val, t_val)
                    rows.append({"epoch": epoch, "train_loss": train_loss,
                                 "val_loss": val_loss})
                    if not math.isfinite(train_loss):
                        raise RuntimeError(f"the training loss became {train_loss} at epoch "
                                           f"{epoch}; lower learning_rate.")
                    if x_val is None:
                        best_epoch = epoch
                        continue
                    if val_loss < best_loss:
                        best_loss, best_epoch = val_loss, epoch
                        best_state = {key: value.detach().clone()
                                      for key, value in net.state_dict().items()}
                    if val_loss < reference * (1.0 - params["tol"]):
                        reference, wait = val_loss, 0
                    else:
                        wait += 1
                        if wait >= params["n_iter_no_change"]:
                            break
                if best_state is not None:
                    net.load_state_dict(best_state)
                elif x_val is not None:
                    raise RuntimeError("the validation loss was never finite; lower "
                                       "learning_rate.")
        finally:
            torch.set_num_threads(previous_threads)
        net.to("cpu").eval()
        for parameter in net.parameters():
            parameter.requires_grad_(False)
        return net, pd.DataFrame(rows, columns=["epoch", "train_loss", "val_loss"]), best_epoch

    # ------------------------------------------------------------------------------------------
    # Prediction
    # ------------------------------------------------------------------------------------------

    def _mapped(self, X):
        """``f`` of the standardized tokens: (n, T, p) and whether X was a table."""
        check_is_fitted(self)
        tokens, _, is_tokens = self._check_tokens(X, reset=False)
        n, T, d = tokens.shape
        standardized = (tokens.reshape(n * T, d) - self.mean_) / self.scale_
        device = _resolve_device(self.device)
        # Inference in float64: float32 matrix products depend on the batch's size in the last
        # bits, so a token's image would depend on the other tokens predicted with it.
        net = copy.deepcopy(self.mlp_).to(device=device, dtype=torch.float64)
        inputs = torch.as_tensor(standardized, dtype=torch.float64)
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(_check_integer(self.n_threads, "n_threads", 1))
        try:
            with torch.no_grad():
                outputs = [net(inputs[start:start + _CHUNK].to(device)).cpu()
                           for start in range(0, len(inputs), _CHUNK)]
        finally:
            torch.set_num_threads(previous_threads)
        mapped = torch.cat(outputs).numpy()
        return mapped.reshape(n, T, self.dummy_dim_), is_tokens

    def _token_log_scores(self, mapped):
        """``log p(k | x)`` per token, shape (n, T, k)."""
        distances = np.linalg.norm(mapped[:, :, None, :] - self.dummy_means_, axis=-1)
        return -distances - logsumexp(-distances, axis=-1, keepdims=True)

    def transform(self, X):
        """The mapped points :math:`f((x - \\text{mean}) / \\text{scale})` in the dummy space.

        Parameters
        ----------
        X : array-like of shape (n, T, d) or (n, d)

        Returns
        -------
        ndarray of shape (n, T, p), or (n, p) for a table, with p = ``dummy_dim_``
        """
        mapped, is_tokens = self._mapped(X)
        return mapped if is_tokens else mapped[:, 0, :]

    def predict_token_proba(self, X):
        """Token scores :math:`p(k \\mid x_t) \\propto e^{-\\lVert f(x_t) - m_k \\rVert}`.

        Returns
        -------
        ndarray of shape (n, T, n_classes), or (n, n_classes) for a table
        """
        mapped, is_tokens = self._mapped(X)
        scores = np.exp(self._token_log_scores(mapped))
        return scores if is_tokens else scores[:, 0, :]

    def predict_log_proba(self, X):
        """Log instance probabilities: log-softmax over classes of
        :math:`\\sum_t \\log p(k \\mid x_t)`.

        Returns
        -------
        ndarray of shape (n, n_classes)
        """
        mapped, _ = self._mapped(X)
        summed = self._token_log_scores(mapped).sum(axis=1)
        return summed - logsumexp(summed, axis=1, keepdims=True)

    def predict_proba(self, X):
        """Instance probabilities: the softmax over classes of the summed token log scores
        (for a table, the token scores).

        Returns
        -------
        ndarray of shape (n, n_classes)
        """
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """Instance classes: :math:`\\arg\\max_k \\sum_t \\log p(k \\mid x_t)` (the thesis).

        Returns
        -------
        ndarray of shape (n,), labels from ``classes_``
        """
        log_proba = self.predict_log_proba(X)
        return self.classes_[np.argmax(log_proba, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Instance accuracy on ``(X, y)``.

        Raises
        ------
        ValueError
            ``y`` holds labels that were not seen in ``fit`` (they could never be predicted).
        """
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
    """Number of dimensions of ``X`` without converting array-likes that are not lists (they
    go through scikit-learn's validation as tables)."""
    if sp.issparse(X):
        return 2
    ndim = getattr(X, "ndim", None)
    if isinstance(ndim, numbers.Integral):
        return int(ndim)
    if isinstance(X, (list, tuple)):
        try:
            return np.asarray(X).ndim
        except (TypeError, ValueError):
            return 2  # ragged: scikit-learn's validation reports it
    return 2


def _build_mlp(n_in, hidden, n_out):
    """ReLU MLP with a linear output, initialized like keras ``Dense`` layers."""
    layers, width = [], n_in
    for units in hidden:
        layers += [_keras_dense(width, units), nn.ReLU()]
        width = units
    layers.append(_keras_dense(width, n_out))
    return nn.Sequential(*layers)


def _chunked_mse(net, inputs, targets):
    net.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(inputs), _CHUNK):
            out = net(inputs[start:start + _CHUNK])
            total += float(F.mse_loss(out, targets[start:start + _CHUNK], reduction="sum"))
    return total / targets.numel()
