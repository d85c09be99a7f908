"""Single-layer multi-head self-attention on a tokenized mixture, after Deora et al. (2024).

Deora, Ghaderi, Taheri and Thrampoulidis (TMLR 2024, arXiv:2310.12680) derive convergence and
generalization guarantees for gradient-descent training of a *single-layer multi-head
self-attention* model for binary classification, under a realizability condition on the data;
they give conditions on the initialization under which it holds, show that a simple
*tokenized-mixture* data model satisfies them, and find guarantees that improve with the number
of heads :math:`H`, in the spirit of the results of Taheri & Thrampoulidis (JMLR 2024) for
two-layer networks (training loss :math:`O(g^2/K)` after :math:`K` steps and generalization gap
:math:`O(g^2/n)` when weights at distance :math:`g` from the initialization reach a small loss).

What is the paper's and what is this book's reconstruction. The paper's full text is not
reproduced in this book; this module follows its abstract and the model family it names. From
the paper: a single layer of :math:`H` softmax self-attention heads with trained key-query
matrices, a linear readout, binary labels, the logistic loss, full-batch gradient descent, a
:math:`1/\\sqrt{H}` output scaling, the tokenized-mixture data model in outline, and the role of
the margin of the gradient (NTK) features at initialization. This book's choices, which the
paper may make differently: the exact means of the mixture (scaled standard basis vectors),
the balanced labels, the Gaussian initialization and its scales, training the readout together
with the key-query matrices, the :math:`1/H` option and its step-size rule, the step size and
number of steps. The paper's own initialization (its construction for the tokenized mixture)
is not reproduced: its text was not found in the public material this book could read.

Contents:

- :func:`tokenized_mixture`: the data (tokens, labels +-1, relevant-token mask);
- :func:`init_parameters`, :func:`multihead_output`: the model
  :math:`\\Phi(X) = c_H \\sum_h \\langle U_h, A_h(X) X\\rangle`;
- :func:`train_multihead`: full-batch gradient descent on the logistic loss, with a per-step
  history and a trace of attention and token outputs (:class:`MultiHeadFit`);
- :func:`linearized_output`, :func:`train_linearized`: the first-order Taylor (NTK) model at
  the initialization, trained beside the network, and :func:`loss_rate`, the log-log slope
  of a training loss;
- :func:`ntk_features`, :func:`hard_margin`, :func:`ntk_margin`: the margin of the gradient
  features;
- :func:`relevant_attention`: attention mass on the relevant tokens;
- the runs of the chapter's grids (``multihead_run``, ``multihead_jobs``, ``thesis_heads_run``,
  ``thesis_heads_jobs``) moved to :mod:`otcompanion.experiments.heads`; they stay readable
  from this module under their old names.

References
----------
- P. Deora, R. Ghaderi, H. Taheri, C. Thrampoulidis. *On the Optimization and Generalization
  of Multi-head Attention*. Transactions on Machine Learning Research, 2024. arXiv:2310.12680.
- H. Taheri, C. Thrampoulidis. *Generalization and Stability of Interpolating Neural Networks
  with Minimal Width*. Journal of Machine Learning Research 25, 2024. arXiv:2302.09235.
- M. Jaggi. *Revisiting Frank-Wolfe: Projection-Free Sparse Convex Optimization*. ICML 2013.
- S. Lacoste-Julien, M. Jaggi. *On the Global Linear Convergence of Frank-Wolfe Optimization
  Variants*. NeurIPS 2015.
"""

from __future__ import annotations

import importlib
import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.special
import torch

from otcompanion._training import torch_session
from otcompanion._validation import check_choice, check_int, check_positive, check_real
from otcompanion.data import check_tokens

#: The two output scalings: ``"sqrt"`` is :math:`c_H = 1/\\sqrt{H}`, ``"mean"`` is
#: :math:`c_H = 1/H`.
SCALINGS = ("sqrt", "mean")

#: Summary columns of :func:`otcompanion.experiments.heads.multihead_run`, in reading order.
RUN_MEASURES = ("train_loss", "test_loss", "train_error", "test_error", "loss_gap", "error_gap",
                "distance", "head_movement", "key_query_movement", "relevant_attention_init",
                "relevant_attention_end", "peak_loss_ratio", "loss_slope", "normalized_loss",
                "gap_ratio", "ntk_margin_init", "ntk_margin_end", "lin_train_loss",
                "lin_test_error", "lin_distance", "lin_output_distance",
                "lin_relative_distance", "lin_agreement")

#: The measures of :data:`RUN_MEASURES` that need the gradient features (the NTK margins and
#: the linearized model): left out (NaN) of a run with ``features=False``.
FEATURE_MEASURES = ("ntk_margin_init", "ntk_margin_end", "lin_train_loss", "lin_test_error",
                    "lin_distance", "lin_output_distance", "lin_relative_distance",
                    "lin_agreement")


class DivergedError(RuntimeError):
    """Gradient descent reached a non-finite training loss (:func:`train_multihead`)."""


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------

def _check_mixture(n_tokens, n_features, n_relevant, n_noise_clusters, signal, noise_norm,
                   sigma):
    """The data options of :func:`tokenized_mixture`, validated, as a dict."""
    n_tokens = check_int(n_tokens, "n_tokens", 1)
    n_features = check_int(n_features, "n_features", 1)
    n_relevant = check_int(n_relevant, "n_relevant", 1)
    n_noise_clusters = check_int(n_noise_clusters, "n_noise_clusters", 1)
    if n_relevant > n_tokens:
        raise ValueError(f"n_relevant must be at most n_tokens={n_tokens} (the relevant tokens "
                         f"are among the instance's tokens), got {n_relevant}.")
    if n_features < 2 + n_noise_clusters:
        raise ValueError(f"n_features must be at least 2 + n_noise_clusters = "
                         f"{2 + n_noise_clusters} (two class means and one mean per noise "
                         f"cluster, all orthogonal), got {n_features}.")
    return dict(n_tokens=n_tokens, n_features=n_features, n_relevant=n_relevant,
                n_noise_clusters=n_noise_clusters, signal=check_positive(signal, "signal"),
                noise_norm=check_positive(noise_norm, "noise_norm"),
                sigma=check_real(sigma, "sigma", 0.0))


def tokenized_mixture(n_instances, n_tokens=8, n_features=8, n_relevant=2, n_noise_clusters=4,
                      signal=1.0, noise_norm=1.0, sigma=0.5, seed=0):
    """A tokenized mixture: binary labels, a few relevant tokens at random positions.

    Instance :math:`i` has label :math:`y_i \\in \\{-1, +1\\}` and :math:`T` tokens. At
    ``n_relevant`` positions drawn without replacement, the token is *relevant*,
    :math:`x_t = \\mu_{y} + z_t`; every other token is *irrelevant*,
    :math:`x_t = \\nu_{\\ell_t} + z_t` with a cluster :math:`\\ell_t` drawn uniformly from
    ``n_noise_clusters`` clusters; :math:`z_t \\sim N(0, \\sigma^2 I_d)`, all independent.

    The outline (relevant tokens from a label-dependent mean, irrelevant ones from noise
    clusters, Gaussian noise) is the tokenized-mixture model of Deora et al. (2024,
    arXiv:2310.12680). The means are this book's reconstruction: orthogonal and scaled
    standard basis vectors, :math:`\\mu_{+1} = s\\, e_1`, :math:`\\mu_{-1} = s\\, e_2` and
    :math:`\\nu_\\ell = r\\, e_{2 + \\ell}` with :math:`s` = ``signal`` and :math:`r` =
    ``noise_norm`` (so ``n_features`` must be at least ``2 + n_noise_clusters``). The labels are
    balanced: ``ceil(n/2)`` instances have label +1, the rest -1, in a random order.

    Parameters
    ----------
    n_instances : int >= 2
    n_tokens : int >= 1, default 8
        :math:`T`.
    n_features : int, default 8
        :math:`d`, at least ``2 + n_noise_clusters``.
    n_relevant : int in [1, n_tokens], default 2
        Relevant tokens per instance.
    n_noise_clusters : int >= 1, default 4
        :math:`M`.
    signal, noise_norm : float > 0, default 1.0
        Norms of the relevant and irrelevant means.
    sigma : float >= 0, default 0.5
        Standard deviation of every coordinate of the token noise.
    seed : int >= 0, default 0
        Seeds every draw (labels, positions, clusters, noise) through one
        ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray of shape (n_instances, n_tokens, n_features)
    y : ndarray of shape (n_instances,), int, values -1 and +1
    relevant : ndarray of shape (n_instances, n_tokens), bool
        True at the relevant positions.
    """
    n_instances = check_int(n_instances, "n_instances", 2)
    n_tokens, n_features, n_relevant, n_noise_clusters, signal, noise_norm, sigma = (
        _check_mixture(n_tokens, n_features, n_relevant, n_noise_clusters, signal, noise_norm,
                       sigma).values())
    seed = check_int(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    y = np.where(np.arange(n_instances) < math.ceil(n_instances / 2), 1, -1)
    y = rng.permutation(y)
    order = rng.random((n_instances, n_tokens)).argsort(axis=1)
    relevant = np.zeros((n_instances, n_tokens), dtype=bool)
    np.put_along_axis(relevant, order[:, :n_relevant], True, axis=1)
    clusters = rng.integers(n_noise_clusters, size=(n_instances, n_tokens))
    means = np.zeros((n_instances, n_tokens, n_features))
    rows, columns = np.nonzero(~relevant)
    means[rows, columns, 2 + clusters[rows, columns]] = noise_norm
    rows, columns = np.nonzero(relevant)
    means[rows, columns, np.where(y[rows] == 1, 0, 1)] = signal
    X = means + sigma * rng.standard_normal((n_instances, n_tokens, n_features))
    return X, y.astype(np.int64), relevant


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------

def output_scale(n_heads, scaling="sqrt"):
    """The output scaling :math:`c_H`: :math:`1/\\sqrt{H}` (``"sqrt"``) or :math:`1/H`
    (``"mean"``).

    :math:`1/\\sqrt{H}` is the scaling of Deora et al. (2024, arXiv:2310.12680) and of the
    neural-tangent regime; :math:`1/H` is the mean-field scaling, an option of this book.
    """
    n_heads = check_int(n_heads, "n_heads", 1)
    scaling = check_choice(scaling, "scaling", SCALINGS)
    return 1.0 / math.sqrt(n_heads) if scaling == "sqrt" else 1.0 / n_heads


def step_size(lr, n_heads, scaling="sqrt"):
    """The gradient step actually taken: ``lr`` for ``"sqrt"``, ``lr * H`` for ``"mean"``.

    With per-head parameters :math:`\\theta_h` and :math:`\\Phi = c_H \\sum_h f_h(\\theta_h)`, a
    gradient step of size :math:`\\eta` moves the output, to first order, by
    :math:`-\\eta\\, c_H^2 \\sum_h \\lVert \\nabla f_h \\rVert^2 \\ell'`. Multiplying the step
    by :math:`H` under :math:`c_H = 1/H` makes this :math:`-\\eta\\, H^{-1} \\sum_h \\lVert
    \\nabla f_h \\rVert^2 \\ell'`, the same as under :math:`c_H = 1/\\sqrt{H}` with step
    :math:`\\eta`: both scalings then change the output equally fast (this book's rule).
    """
    lr = check_positive(lr, "lr")
    n_heads = check_int(n_heads, "n_heads", 1)
    scaling = check_choice(scaling, "scaling", SCALINGS)
    return lr * n_heads if scaling == "mean" else lr


def init_parameters(n_heads, n_tokens, n_features, *, readout_std=1.0, key_query_std=0.1,
                    seed=0):
    """Gaussian initial parameters: key-query matrices :math:`W_h` and readouts :math:`U_h`.

    Every entry is independent: :math:`(W_h)_{ab} \\sim N(0, \\sigma_W^2 / d)` and
    :math:`(U_h)_{ta} \\sim N(0, \\sigma_U^2)`, with :math:`\\sigma_W` = ``key_query_std``
    and :math:`\\sigma_U` = ``readout_std`` (this book's choice; Deora et al., 2024, state
    conditions on the initialization rather than one distribution).

    Parameters
    ----------
    n_heads, n_tokens, n_features : int >= 1
    readout_std : float >= 0, default 1.0
    key_query_std : float >= 0, default 0.1
    seed : int >= 0, default 0

    Returns
    -------
    W : ndarray of shape (n_heads, n_features, n_features)
    U : ndarray of shape (n_heads, n_tokens, n_features)
    """
    n_heads = check_int(n_heads, "n_heads", 1)
    n_tokens = check_int(n_tokens, "n_tokens", 1)
    n_features = check_int(n_features, "n_features", 1)
    readout_std = check_real(readout_std, "readout_std", 0.0)
    key_query_std = check_real(key_query_std, "key_query_std", 0.0)
    seed = check_int(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    W = key_query_std / math.sqrt(n_features) * rng.standard_normal(
        (n_heads, n_features, n_features))
    U = readout_std * rng.standard_normal((n_heads, n_tokens, n_features))
    return W, U


def _forward(X, W, U, scale):
    """Torch forward pass: output, logits, attention and per-head token outputs."""
    logits = torch.einsum("ntd,hde,nse->nhts", X, W, X)
    # The row softmax written out: torch.softmax over a last axis of a few entries is about
    # four times slower on CPU (measured for 50 x 32 x 8 x 8 logits on one thread).
    weights = (logits - logits.amax(dim=-1, keepdim=True)).exp()
    attention = weights / weights.sum(dim=-1, keepdim=True)
    head_outputs = torch.einsum("nhts,nsd->nhtd", attention, X)
    phi = scale * torch.einsum("nhtd,htd->n", head_outputs, U)
    return phi, logits, attention, head_outputs


def _check_parameters(W, U, tokens=None):
    """Validated ``(W, U)`` float arrays with matching heads, features and tokens."""
    W = np.asarray(W, dtype=float)
    U = np.asarray(U, dtype=float)
    if W.ndim != 3 or W.shape[1] != W.shape[2] or 0 in W.shape:
        raise ValueError(f"W must have shape (n_heads, d, d) with n_heads, d >= 1; got "
                         f"{W.shape}.")
    if U.ndim != 3 or U.shape[0] != W.shape[0] or U.shape[2] != W.shape[1] or 0 in U.shape:
        raise ValueError(f"U must have shape (n_heads, T, d) = ({W.shape[0]}, T, {W.shape[1]}) "
                         f"to match W of shape {W.shape}; got {U.shape}.")
    for name, array in (("W", W), ("U", U)):
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} contains NaN or infinite values.")
    if tokens is not None and tokens.shape[1:] != U.shape[1:]:
        raise ValueError(f"X has tokens of shape (T, d) = {tokens.shape[1:]}, the parameters "
                         f"expect {U.shape[1:]} (U has shape {U.shape}).")
    return W, U


def _check_binary_labels(y, name, n_instances):
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != n_instances:
        raise ValueError(f"{name} must hold one label per instance ({n_instances}); got shape "
                         f"{labels.shape}.")
    if labels.dtype.kind not in "iuf" or not np.all(np.isin(labels, (-1, 1))):
        raise ValueError(f"{name} must contain only the labels -1 and +1; got "
                         f"{sorted(set(np.unique(labels).tolist()), key=str)[:5]}.")
    return labels.astype(float)


def multihead_output(X, W, U, scaling="sqrt"):
    """The multi-head self-attention classifier's output and intermediate values.

    .. math::
        A_h(X) = \\operatorname{softmax}_{\\text{row}}(X W_h X^\\top), \\qquad
        \\Phi(X) = c_H \\sum_{h=1}^{H} \\langle U_h, A_h(X) X \\rangle,

    with :math:`X \\in \\mathbb R^{T \\times d}`, key-query matrices :math:`W_h \\in \\mathbb
    R^{d \\times d}`, readouts :math:`U_h \\in \\mathbb R^{T \\times d}`, the Frobenius inner
    product and :math:`c_H` from :func:`output_scale`: the single-layer model family of Deora
    et al. (2024, arXiv:2310.12680). The prediction is :math:`\\operatorname{sign}\\Phi(X)`.

    Parameters
    ----------
    X : array-like of shape (n, T, d)
    W : array-like of shape (H, d, d)
    U : array-like of shape (H, T, d)
    scaling : {"sqrt", "mean"}, default "sqrt"

    Returns
    -------
    dict
        ``output`` (n,), ``logits`` :math:`X W_h X^\\top` (n, H, T, T), ``attention``
        (n, H, T, T), ``head_outputs`` :math:`A_h(X) X` (n, H, T, d), all float64 arrays.
    """
    tokens = check_tokens(X, "X")
    W, U = _check_parameters(W, U, tokens)
    scale = output_scale(W.shape[0], scaling)
    with torch.no_grad():
        values = _forward(*(torch.as_tensor(a, dtype=torch.float64) for a in (tokens, W, U)),
                          scale)
    return dict(zip(("output", "logits", "attention", "head_outputs"),
                    (value.numpy() for value in values)))


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------

@dataclass
class MultiHeadFit:
    """A trained multi-head model (:func:`train_multihead`) with its history and trace.

    Attributes
    ----------
    W0, U0 : ndarray
        Initial parameters, shapes (H, d, d) and (H, T, d).
    W, U : ndarray
        Parameters after the last step.
    history : pandas.DataFrame
        One row per step ``0..steps`` (step 0 is the initialization; row ``k`` holds the
        values *before* update ``k + 1``): ``step``, ``train_loss``, ``train_error``,
        ``distance`` (:math:`\\lVert\\theta_k - \\theta_0\\rVert_2` over all parameters),
        ``head_movement`` (mean over heads of :math:`\\lVert \\theta_{h,k} - \\theta_{h,0}
        \\rVert_2`), ``key_query_movement`` (mean over heads of :math:`\\lVert W_{h,k} -
        W_{h,0}\\rVert_F`), then ``test_loss`` and ``test_error`` with test data and
        ``relevant_attention`` with a relevant-token mask.
    trace_steps : ndarray of int
        Steps at which the trace was recorded.
    logits : ndarray of shape (n_trace, n, H, T, T)
        Attention logits :math:`X W_h X^\\top` of the training instances at ``trace_steps``.
    token_outputs : ndarray of shape (n_trace, n, T, d)
        The head average :math:`\\frac1H \\sum_h A_h(X) X` of the training instances at
        ``trace_steps``: the token trajectory of the attention layer.
    scaling : str
    lr : float
        The step size given; ``step`` is the one taken (:func:`step_size`).
    step : float
    fit_seconds : float
    """

    W0: np.ndarray
    U0: np.ndarray
    W: np.ndarray
    U: np.ndarray
    history: pd.DataFrame
    trace_steps: np.ndarray
    logits: np.ndarray
    token_outputs: np.ndarray
    scaling: str
    lr: float
    step: float
    fit_seconds: float

    @property
    def attention(self):
        """Attention weights at ``trace_steps``: the row softmax of :attr:`logits`."""
        shifted = self.logits - self.logits.max(axis=-1, keepdims=True)
        weights = np.exp(shifted)
        return weights / weights.sum(axis=-1, keepdims=True)

    @property
    def n_heads(self):
        return self.W.shape[0]


def _trace_steps(steps, trace_points):
    grid = np.linspace(0, steps, min(trace_points, steps + 1)).round().astype(int)
    return np.unique(np.concatenate([[0], grid, [steps]]))


def train_multihead(X_train, y_train, X_test=None, y_test=None, *, n_heads=4, steps=200, lr=1.0,
                    scaling="sqrt", readout_std=1.0, key_query_std=0.1, seed=0,
                    relevant=None, trace_points=11, test_every=1, init=None):
    """Train the multi-head classifier by full-batch gradient descent on the logistic loss.

    The empirical risk :math:`\\hat L(\\theta) = \\frac1n \\sum_i \\log(1 +
    e^{-y_i \\Phi(X_i; \\theta)})` over :math:`\\theta = (W_h, U_h)_{h \\le H}`
    (:func:`multihead_output`) is minimized by :math:`\\theta_{k+1} = \\theta_k - \\eta
    \\nabla \\hat L(\\theta_k)` for ``steps`` steps, gradients by torch's autograd in float64
    on one thread; both the key-query matrices and the readouts are trained (Deora et al.,
    2024, arXiv:2310.12680: logistic loss, full-batch gradient descent; training the readout
    too is this book's choice). :math:`\\eta` is :func:`step_size` (``lr``, times :math:`H`
    for the :math:`1/H` scaling).

    Parameters
    ----------
    X_train : array-like of shape (n, T, d)
    y_train : array-like of shape (n,)
        Labels -1 and +1.
    X_test, y_test : optional
        Test data, evaluated every ``test_every`` steps and at the last step.
    n_heads : int >= 1, default 4
    steps : int >= 1, default 200
    lr : float > 0, default 1.0
    scaling : {"sqrt", "mean"}, default "sqrt"
    readout_std, key_query_std, seed
        The initialization (:func:`init_parameters`); ``seed`` seeds it.
    relevant : array-like of bool, shape (n, T), optional
        Relevant-token mask of the training instances (:func:`tokenized_mixture`): adds the
        ``relevant_attention`` column to the history.
    trace_points : int >= 2, default 11
        About this many evenly spaced steps (always 0 and ``steps``) at which attention logits
        and token outputs of the training instances are recorded.
    test_every : int >= 1, default 1
        Steps between test evaluations (the test columns are NaN at the other steps).
    init : (W0, U0), optional
        Initial parameters instead of a random draw.

    Returns
    -------
    MultiHeadFit
    """
    started = time.perf_counter()
    tokens = check_tokens(X_train, "X_train")
    labels = _check_binary_labels(y_train, "y_train", len(tokens))
    if (X_test is None) != (y_test is None):
        raise ValueError("X_test and y_test must be given together.")
    n_heads = check_int(n_heads, "n_heads", 1)
    steps = check_int(steps, "steps", 1)
    eta = step_size(lr, n_heads, scaling)
    scale = output_scale(n_heads, scaling)
    trace_points = check_int(trace_points, "trace_points", 2)
    seed = check_int(seed, "seed", 0)
    test_every = check_int(test_every, "test_every", 1)
    if X_test is not None:
        test_tokens = check_tokens(X_test, "X_test")
        if test_tokens.shape[1:] != tokens.shape[1:]:
            raise ValueError(f"X_test has tokens of shape {test_tokens.shape[1:]}, X_train of "
                             f"shape {tokens.shape[1:]}.")
        test_labels = _check_binary_labels(y_test, "y_test", len(test_tokens))
    if relevant is not None:
        relevant = np.asarray(relevant)
        if relevant.shape != tokens.shape[:2] or relevant.dtype != bool:
            raise ValueError(f"relevant must be a boolean mask of shape (n, T) = "
                             f"{tokens.shape[:2]}; got {relevant.dtype} of shape "
                             f"{relevant.shape}.")
    if init is None:
        W0, U0 = init_parameters(n_heads, tokens.shape[1], tokens.shape[2],
                                 readout_std=readout_std, key_query_std=key_query_std, seed=seed)
    else:
        if not isinstance(init, tuple) or len(init) != 2:
            raise TypeError(f"init must be a pair (W0, U0), got {type(init).__name__}.")
        W0, U0 = _check_parameters(*init, tokens)
        if W0.shape[0] != n_heads:
            raise ValueError(f"init has {W0.shape[0]} heads, n_heads is {n_heads}.")
    recorded = set(_trace_steps(steps, trace_points).tolist())

    def as_tensor(array):
        return torch.as_tensor(array, dtype=torch.float64)

    rows, logits_trace, outputs_trace = [], [], []
    test_columns = {"test_loss": np.nan, "test_error": np.nan} if X_test is not None else {}
    with torch_session(seed, n_threads=1):
        X, y = as_tensor(tokens), as_tensor(labels)
        if X_test is not None:
            X_t, y_t = as_tensor(test_tokens), as_tensor(test_labels)
        W_init, U_init = as_tensor(W0), as_tensor(U0)
        W = W_init.clone().requires_grad_(True)
        U = U_init.clone().requires_grad_(True)
        mask = None if relevant is None else as_tensor(relevant)
        for k in range(steps + 1):
            phi, logits, attention, head_outputs = _forward(X, W, U, scale)
            loss = torch.nn.functional.softplus(-y * phi).mean()
            with torch.no_grad():
                dW, dU = W - W_init, U - U_init
                per_head = (dW.square().sum(dim=(1, 2)) + dU.square().sum(dim=(1, 2))).sqrt()
                row = {"step": k, "train_loss": float(loss),
                       "train_error": float((y * phi <= 0).double().mean()),
                       "distance": float(per_head.square().sum().sqrt()),
                       "head_movement": float(per_head.mean()),
                       "key_query_movement": float(dW.square().sum(dim=(1, 2)).sqrt().mean()),
                       **test_columns}
                if X_test is not None and (k % test_every == 0 or k == steps):
                    phi_t = _forward(X_t, W, U, scale)[0]
                    row["test_loss"] = float(torch.nn.functional.softplus(-y_t * phi_t).mean())
                    row["test_error"] = float((y_t * phi_t <= 0).double().mean())
                if mask is not None:
                    row["relevant_attention"] = float(
                        torch.einsum("nhts,ns->nht", attention, mask).mean())
                if k in recorded:
                    logits_trace.append(logits.numpy().copy())
                    outputs_trace.append(head_outputs.mean(dim=1).numpy().copy())
            rows.append(row)
            if not math.isfinite(row["train_loss"]):
                raise DivergedError(f"the training loss became {row['train_loss']} at step {k}; "
                                   f"gradient descent diverged (try a smaller lr).")
            if k == steps:
                break
            W.grad, U.grad = None, None
            loss.backward()
            with torch.no_grad():
                W -= eta * W.grad
                U -= eta * U.grad
        W_end, U_end = W.detach().numpy().copy(), U.detach().numpy().copy()
    return MultiHeadFit(W0=W0, U0=U0, W=W_end, U=U_end, history=pd.DataFrame(rows),
                        trace_steps=np.array(sorted(recorded)), logits=np.stack(logits_trace),
                        token_outputs=np.stack(outputs_trace), scaling=scaling, lr=float(lr),
                        step=eta, fit_seconds=time.perf_counter() - started)


# ----------------------------------------------------------------------------------------------
# The linearized model
# ----------------------------------------------------------------------------------------------

def linearized_output(X, W0, U0, W, U, scaling="sqrt"):
    """The first-order Taylor expansion of :func:`multihead_output` at :math:`\\theta_0`.

    .. math::
        \\Phi_{\\text{lin}}(X; \\theta) = \\Phi(X; \\theta_0)
        + \\langle \\nabla_\\theta \\Phi(X; \\theta_0), \\theta - \\theta_0 \\rangle,

    with :math:`\\theta_0 = (W_0, U_0)` and :math:`\\theta = (W, U)`: the neural-tangent
    (linearized) model that the analysis of Deora et al. (2024, arXiv:2310.12680) and of Taheri
    & Thrampoulidis (2024) compares the network with. The directional derivative is one
    forward-mode product (``torch.func.jvp``) in float64.

    Parameters
    ----------
    X : array-like of shape (n, T, d)
    W0, U0 : the expansion point (:func:`init_parameters`)
    W, U : parameters of the same shapes
    scaling : {"sqrt", "mean"}

    Returns
    -------
    ndarray of shape (n,)
    """
    tokens = check_tokens(X, "X")
    W0, U0 = _check_parameters(W0, U0, tokens)
    W, U = _check_parameters(W, U, tokens)
    if W.shape != W0.shape or U.shape != U0.shape:
        raise ValueError(f"(W, U) must have the shapes of (W0, U0), {W0.shape} and {U0.shape}; "
                         f"got {W.shape} and {U.shape}.")
    scale = output_scale(W0.shape[0], scaling)
    X_, W0_, U0_, W_, U_ = (torch.as_tensor(a, dtype=torch.float64)
                            for a in (tokens, W0, U0, W, U))
    with torch.no_grad():
        phi0, tangent = torch.func.jvp(lambda w, u: _forward(X_, w, u, scale)[0], (W0_, U0_),
                                       (W_ - W0_, U_ - U0_))
    return (phi0 + tangent).numpy()


@dataclass
class LinearizedFit:
    """The linearized model trained by :func:`train_linearized`.

    Attributes
    ----------
    W, U : ndarray
        Parameters after the last step (the expansion point is the ``W0``, ``U0`` given).
    history : pandas.DataFrame
        One row per step ``0..steps``: ``step``, ``train_loss``, ``train_error``,
        ``distance`` (:math:`\\lVert\\theta_k - \\theta_0\\rVert_2`).
    step : float
        The step size taken (:func:`step_size`).
    """

    W: np.ndarray
    U: np.ndarray
    history: pd.DataFrame
    step: float


def train_linearized(X_train, y_train, W0, U0, *, steps=200, lr=1.0, scaling="sqrt",
                     features=None):
    """Gradient descent on the logistic loss of the linearized model, from :math:`\\theta_0`.

    The model :math:`\\Phi_{\\text{lin}}` of :func:`linearized_output` is linear in
    :math:`\\delta = \\theta - \\theta_0`: with the Jacobian :math:`J` (row :math:`i` is
    :math:`\\nabla_\\theta \\Phi(X_i; \\theta_0)`) the outputs are :math:`\\Phi_0 + J\\delta`,
    and the step of :func:`train_multihead`, same :math:`\\eta` (:func:`step_size`) and same
    number of steps, is

    .. math::
        \\delta_{k+1} = \\delta_k + \\frac{\\eta}{n} J^\\top \\big(y \\odot
        \\sigma(-y \\odot (\\Phi_0 + J\\delta_k))\\big),

    with :math:`\\sigma` the logistic function. Run beside :func:`train_multihead` from the
    same initialization, it tests the regime of Deora et al. (2024, arXiv:2310.12680): the
    closer the network's outputs stay to this model's, the lazier the training.

    Parameters
    ----------
    X_train : array-like of shape (n, T, d)
    y_train : array-like of shape (n,), labels -1 and +1
    W0, U0 : the initialization (:func:`init_parameters`, or :attr:`MultiHeadFit.W0`,
        :attr:`MultiHeadFit.U0`)
    steps : int >= 1, default 200
    lr : float > 0, default 1.0
    scaling : {"sqrt", "mean"}, default "sqrt"
    features : ndarray of shape (n, P), optional
        :func:`ntk_features` of the same data at ``(W0, U0)``, when already computed.

    Returns
    -------
    LinearizedFit
    """
    tokens = check_tokens(X_train, "X_train")
    labels = _check_binary_labels(y_train, "y_train", len(tokens))
    W0, U0 = _check_parameters(W0, U0, tokens)
    steps = check_int(steps, "steps", 1)
    eta = step_size(lr, W0.shape[0], scaling)
    if features is None:
        features = ntk_features(tokens, labels, W0, U0, scaling)
    features = np.asarray(features, dtype=float)
    if features.shape != (len(tokens), W0.size + U0.size):
        raise ValueError(f"features must have shape (n, P) = ({len(tokens)}, "
                         f"{W0.size + U0.size}); got {features.shape}.")
    jacobian = features * labels[:, None]
    phi0 = multihead_output(tokens, W0, U0, scaling)["output"]
    delta = np.zeros(jacobian.shape[1])
    rows = []
    for k in range(steps + 1):
        margins = labels * (phi0 + jacobian @ delta)
        rows.append({"step": k, "train_loss": float(np.logaddexp(0.0, -margins).mean()),
                     "train_error": float(np.mean(margins <= 0)),
                     "distance": float(np.linalg.norm(delta))})
        if k == steps:
            break
        delta += eta / len(tokens) * jacobian.T @ (labels * scipy.special.expit(-margins))
    W = W0 + delta[:W0.size].reshape(W0.shape)
    U = U0 + delta[W0.size:].reshape(U0.shape)
    return LinearizedFit(W=W, U=U, history=pd.DataFrame(rows), step=eta)


def loss_rate(steps, losses, start=0.1):
    """The log-log slope of the training loss against the step: the exponent :math:`p` of
    :math:`\\hat L_k \\approx c\\, k^{p}`.

    The least-squares slope of :math:`\\log \\hat L_k` on :math:`\\log k` over the steps
    :math:`k \\ge` ``start`` times the last step (and :math:`k \\ge 1`). A bound
    :math:`\\hat L_K = O(g^2/K)` (Taheri & Thrampoulidis, 2024; Deora et al., 2024) allows
    :math:`p = -1` or faster.

    Parameters
    ----------
    steps, losses : array-like of the same length
    start : float in [0, 1), default 0.1

    Returns
    -------
    float
        NaN with fewer than two usable steps or a non-positive loss.
    """
    steps = np.asarray(steps, dtype=float)
    losses = np.asarray(losses, dtype=float)
    if steps.shape != losses.shape or steps.ndim != 1:
        raise ValueError(f"steps and losses must be 1-d of the same length; got {steps.shape} "
                         f"and {losses.shape}.")
    start = check_real(start, "start", 0.0, 1.0, high_open=True)
    kept = (steps >= max(1.0, start * steps.max())) if len(steps) else steps.astype(bool)
    if kept.sum() < 2 or np.any(losses[kept] <= 0) or np.ptp(steps[kept]) == 0:
        return np.nan
    return float(np.polyfit(np.log(steps[kept]), np.log(losses[kept]), 1)[0])


# ----------------------------------------------------------------------------------------------
# Measures
# ----------------------------------------------------------------------------------------------

def ntk_features(X, y, W, U, scaling="sqrt"):
    """The gradient (neural-tangent) features :math:`y_i \\nabla_\\theta \\Phi(X_i; \\theta)`.

    One row per instance: the gradient of :func:`multihead_output` with respect to all
    parameters :math:`\\theta = (W_1, \\dots, W_H, U_1, \\dots, U_H)` (flattened in that
    order), by torch's autograd in float64, times the label. The linearized model
    :math:`\\Phi(X; \\theta_0) + \\langle \\nabla_\\theta \\Phi(X; \\theta_0), \\theta -
    \\theta_0\\rangle` separates the training data with a positive margin iff these features
    do (Deora et al., 2024, arXiv:2310.12680; Taheri & Thrampoulidis, 2024).

    Parameters
    ----------
    X : array-like of shape (n, T, d)
    y : array-like of shape (n,), labels -1 and +1
    W, U : parameters (:func:`init_parameters`)
    scaling : {"sqrt", "mean"}

    Returns
    -------
    ndarray of shape (n, H d^2 + H T d)
    """
    tokens = check_tokens(X, "X")
    labels = _check_binary_labels(y, "y", len(tokens))
    W, U = _check_parameters(W, U, tokens)
    scale = output_scale(W.shape[0], scaling)
    X_, W_, U_ = (torch.as_tensor(a, dtype=torch.float64) for a in (tokens, W, U))

    def output(x, w, u):  # one instance
        return _forward(x[None], w, u, scale)[0][0]

    per_instance = torch.func.vmap(torch.func.grad(output, argnums=(1, 2)), in_dims=(0, None, None))
    jW, jU = per_instance(X_, W_, U_)
    features = torch.cat([jW.reshape(len(tokens), -1), jU.reshape(len(tokens), -1)], dim=1)
    return features.numpy() * labels[:, None]


def hard_margin(gram, tol=1e-6, max_iter=100_000):
    """Hard margin of features given by their Gram matrix, by away-step Frank-Wolfe.

    For features :math:`g_1, \\dots, g_n` with Gram matrix :math:`K = (\\langle g_i, g_j
    \\rangle)`, the hard margin (a separator through the origin, no bias)

    .. math::
        \\gamma = \\max_{\\lVert v \\rVert = 1} \\min_i \\langle v, g_i \\rangle
        = \\min_{\\alpha \\in \\Delta_n} \\Big\\lVert \\sum_i \\alpha_i g_i \\Big\\rVert
        = \\min_{\\alpha \\in \\Delta_n} \\sqrt{\\alpha^\\top K \\alpha}

    when it is positive (the distance from the origin to the convex hull of the features, by
    duality); when the features are not separable the right-hand side is 0, which is returned.
    The quadratic over the simplex :math:`\\Delta_n` is minimized by Frank-Wolfe with away steps
    and exact line search (Jaggi, 2013; Lacoste-Julien & Jaggi, 2015), which only needs
    :math:`K`. Every iterate :math:`\\alpha` certifies bounds

    .. math::
        \\frac{\\min_i (K\\alpha)_i}{\\sqrt{\\alpha^\\top K \\alpha}} \\le \\gamma \\le
        \\sqrt{\\alpha^\\top K \\alpha}

    (the left side is the margin of the separator :math:`v \\propto \\sum_i \\alpha_i g_i`), and
    iterations stop when they are within ``tol`` times the largest feature norm.

    Parameters
    ----------
    gram : array-like of shape (n, n)
        Symmetric positive semi-definite.
    tol : float > 0, default 1e-6
    max_iter : int >= 1, default 100000

    Returns
    -------
    dict
        ``margin`` (the certified lower bound, at least 0), ``upper_bound``, ``iterations``,
        ``converged`` (bounds within the tolerance) and ``weights`` :math:`\\alpha`.
    """
    K = np.asarray(gram, dtype=float)
    if K.ndim != 2 or K.shape[0] != K.shape[1] or K.shape[0] == 0:
        raise ValueError(f"gram must be a non-empty square matrix; got shape {K.shape}.")
    if not np.all(np.isfinite(K)):
        raise ValueError("gram contains NaN or infinite values.")
    if not np.allclose(K, K.T, rtol=1e-8, atol=1e-12 * max(1.0, np.abs(K).max())):
        raise ValueError("gram must be symmetric.")
    tol = check_positive(tol, "tol")
    max_iter = check_int(max_iter, "max_iter", 1)
    diagonal = np.diag(K)
    scale = math.sqrt(max(diagonal.max(), 0.0))
    n = len(K)
    alpha = np.zeros(n)
    first = int(np.argmin(diagonal))
    alpha[first] = 1.0
    Ka = K[:, first].copy()
    lower = upper = 0.0
    converged = False
    for iteration in range(max_iter + 1):
        norm2 = max(float(alpha @ Ka), 0.0)
        upper = math.sqrt(norm2)
        lower = float(Ka.min()) / upper if upper > 0 else 0.0
        if upper - max(lower, 0.0) <= tol * scale:
            converged = True
            break
        if iteration == max_iter:
            break
        toward = int(np.argmin(Ka))
        active = np.flatnonzero(alpha > 0)
        away = int(active[np.argmax(Ka[active])])
        if norm2 - Ka[toward] >= Ka[away] - norm2:  # Frank-Wolfe step towards a vertex
            direction = -alpha.copy()
            direction[toward] += 1.0
            K_direction = K[:, toward] - Ka
            largest = 1.0
        else:  # away step: shift weight off the worst active vertex
            direction = alpha.copy()
            direction[away] -= 1.0
            K_direction = Ka - K[:, away]
            largest = alpha[away] / (1.0 - alpha[away]) if alpha[away] < 1.0 else 0.0
        curvature = float(direction @ K_direction)
        slope = float(Ka @ direction)
        if curvature <= 0 or largest <= 0:
            break
        t = min(max(-slope / curvature, 0.0), largest)
        alpha += t * direction
        alpha[alpha < 1e-15] = 0.0
        alpha /= alpha.sum()
        Ka = K @ alpha if iteration % 100 == 99 else Ka + t * K_direction
    return {"margin": max(lower, 0.0), "upper_bound": upper, "iterations": iteration,
            "converged": converged, "weights": alpha}


def ntk_margin(X, y, W, U, scaling="sqrt", tol=1e-6):
    """Margin of the gradient features at parameters ``(W, U)``: :func:`hard_margin` of the
    Gram matrix of :func:`ntk_features`.

    Returns
    -------
    dict
        ``margin``, ``normalized_margin`` (the margin over the largest feature norm, in [0, 1]:
        it does not depend on the scale of the features), ``upper_bound`` and ``converged``.
    """
    features = ntk_features(X, y, W, U, scaling)
    result = hard_margin(features @ features.T, tol=tol)
    largest = float(np.linalg.norm(features, axis=1).max())
    return {"margin": result["margin"],
            "normalized_margin": result["margin"] / largest if largest > 0 else 0.0,
            "upper_bound": result["upper_bound"], "converged": result["converged"]}


def relevant_attention(attention, relevant):
    """Mean attention mass on the relevant tokens.

    .. math::
        m = \\frac{1}{n H T} \\sum_{i, h, t} \\sum_{s \\in R_i} A_h(X_i)_{ts} \\in [0, 1],

    with :math:`R_i` the relevant positions of instance :math:`i`; uniform attention gives
    :math:`|R_i| / T`.

    Parameters
    ----------
    attention : array-like of shape (..., n, H, T, T)
        Row-stochastic attention (e.g. :attr:`MultiHeadFit.attention`).
    relevant : array-like of bool, shape (n, T)

    Returns
    -------
    float or ndarray of the leading shape
    """
    A = np.asarray(attention, dtype=float)
    mask = np.asarray(relevant)
    if mask.dtype != bool or mask.ndim != 2:
        raise ValueError(f"relevant must be a boolean mask of shape (n, T); got {mask.dtype} of "
                         f"shape {mask.shape}.")
    if A.ndim < 4 or A.shape[-4] != mask.shape[0] or A.shape[-1] != mask.shape[1]:
        raise ValueError(f"attention must have shape (..., n, H, T, T) = (..., {mask.shape[0]}, "
                         f"H, {mask.shape[1]}, {mask.shape[1]}) to match relevant; got "
                         f"{A.shape}.")
    mass = np.einsum("...nhts,ns->...nht", A, mask.astype(float))
    return mass.mean(axis=(-3, -2, -1))


# The chapter's runs, moved to :mod:`otcompanion.experiments.heads`; still readable here
# (``otcompanion.multihead.multihead_run``) through :func:`__getattr__`.
_MOVED = ("multihead_jobs", "multihead_run", "thesis_heads_jobs", "thesis_heads_run",
          "_check_run_options", "_check_thesis_options")


def __getattr__(name):
    """The runs of the chapter's grids, which moved to :mod:`otcompanion.experiments.heads`.

    ``otcompanion.multihead.multihead_run`` (and ``multihead_jobs``, ``thesis_heads_run``,
    ``thesis_heads_jobs``) keep working: they are read from
    their new module on first use. The import happens here, not at the top of this module,
    because :mod:`otcompanion.experiments.heads` imports this module (the model and the data).
    """
    if name in _MOVED:
        return getattr(importlib.import_module("otcompanion.experiments.heads"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["SCALINGS", "RUN_MEASURES", "FEATURE_MEASURES", "DivergedError", "tokenized_mixture",
           "output_scale", "step_size", "init_parameters", "multihead_output", "MultiHeadFit",
           "train_multihead", "linearized_output", "LinearizedFit", "train_linearized",
           "loss_rate", "ntk_features", "hard_margin", "ntk_margin", "relevant_attention"]
