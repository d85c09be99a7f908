"""Optimal-transport alignments of one class's tokens with its dummy Gaussian.

Step 3 of the dummy-Gaussian OT classifier (:class:`otcompanion.otclassifier.
DummyGaussianOTClassifier`; Quadrio & Candelieri, 2025): the tokens :math:`x_1, \\dots, x_n`
of a class are matched with its dummy Gaussian :math:`\\mathcal N(m, sI)` by optimal transport
for the cost :math:`\\lVert x - y \\rVert^2`, and each token's image :math:`t_i` becomes the
regression target of the classifier's MLP. Four alignments trade exactness for size:

- :func:`exact_alignment`: the optimal permutation onto ``n`` dummy draws (the thesis), dense
  ``n x n``, about ``n^{2.7}`` time;
- :func:`sinkhorn_alignment`: the barycentric projection of the entropic plan (Cuturi, 2013),
  dense as well;
- :func:`minibatch_alignment`: exact OT on random minibatches (Fatras et al., 2020, 2021),
  linear in ``n``;
- :func:`gaussian_alignment`: the closed-form Monge map between the Gaussian fitted to the
  tokens and the target Gaussian (Peyré & Cuturi, 2019, Remark 2.31), ``O(n d^2)``, no draws.

Tokens live in :math:`\\mathbb R^d` and dummy points in :math:`\\mathbb R^p`. When the two
dimensions differ, both are compared in :math:`\\mathbb R^{\\max(d, p)}` with zeros in the
coordinates they lack; the targets are always in :math:`\\mathbb R^p`.

References
----------
- A. Quadrio, A. Candelieri. *Transformers for Tabular Data: A Training Perspective of
  Self-Attention via Optimal Transport*. Univ. Milano-Bicocca, 2025. arXiv:2512.09530.
- G. Peyré, M. Cuturi. *Computational Optimal Transport*. Foundations and Trends in Machine
  Learning 11(5-6), 2019. arXiv:1803.00567.
- M. Cuturi. *Sinkhorn Distances: Lightspeed Computation of Optimal Transport*. NeurIPS 2013.
- K. Fatras, Y. Zine, R. Flamary, R. Gribonval, N. Courty. *Learning with minibatch
  Wasserstein: asymptotic and gradient properties*. AISTATS 2020; K. Fatras, Y. Zine,
  S. Majewski, R. Flamary, R. Gribonval, N. Courty. *Minibatch optimal transport distances;
  analysis and applications*. arXiv:2101.01792, 2021.
- M. Knott, C. S. Smith. *On the optimal mapping of distributions*. Journal of Optimization
  Theory and Applications 43, 1984.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import ot
from scipy.spatial.distance import cdist
from sklearn.exceptions import ConvergenceWarning

from ._validation import check_int, check_positive
from .ot_solvers import MAX_EXACT_POINTS, exact_ot_assignment, sinkhorn_uniform_plan

#: Iteration budget and tolerance of :func:`sinkhorn_alignment` (L1 error of the token
#: marginal of the plan, total mass 1).
SINKHORN_MAX_ITER = 10_000
SINKHORN_TOL = 1e-4


def _cloud(points, name):
    cloud = np.asarray(points, dtype=float)
    if cloud.ndim != 2 or 0 in cloud.shape:
        raise ValueError(f"{name} must have shape (n, dimension) with n >= 1, got "
                         f"{cloud.shape}.")
    if not np.all(np.isfinite(cloud)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return cloud


def _paired(tokens, dummy):
    """Tokens (n, d) and dummy points (n, p), both zero-padded to ``max(d, p)`` columns, and
    the dummy points as given."""
    x, y = _cloud(tokens, "tokens"), _cloud(dummy, "dummy")
    if len(x) != len(y):
        raise ValueError(f"tokens and dummy must have as many points: {len(x)} and {len(y)}.")
    q = max(x.shape[1], y.shape[1])
    padded = [np.pad(cloud, ((0, 0), (0, q - cloud.shape[1]))) for cloud in (x, y)]
    return padded[0], padded[1], y


def exact_alignment(tokens, dummy, max_points=MAX_EXACT_POINTS):
    """Targets of the optimal assignment of the tokens onto the dummy draws (the thesis).

    Between ``n`` tokens :math:`x_i` and ``n`` dummy draws :math:`y_j` with uniform weights,
    an optimal plan is a permutation (Birkhoff; Peyré & Cuturi, 2019, Prop. 2.1):

    .. math::
        \\sigma^\\star = \\arg\\min_{\\sigma \\in \\mathfrak S_n}
        \\sum_{i=1}^n \\lVert x_i - y_{\\sigma(i)} \\rVert^2, \\qquad t_i = y_{\\sigma^\\star(i)},

    solved with POT's network simplex through :func:`otcompanion.ot_solvers.exact_ot_assignment`
    (which raises rather than return a non-optimal plan). Dense ``n x n`` matrices, about
    ``n^{2.7}`` time.

    Parameters
    ----------
    tokens : array-like of shape (n, d)
    dummy : array-like of shape (n, p)
        Draws of the class's dummy Gaussian.
    max_points : int, default :data:`otcompanion.ot_solvers.MAX_EXACT_POINTS`
        Largest ``n`` accepted.

    Returns
    -------
    targets : ndarray of shape (n, p)
        A permutation of the rows of ``dummy``.
    """
    x, y, draws = _paired(tokens, dummy)
    assignment, _ = exact_ot_assignment(x, y, max_points=max_points)
    return draws[assignment]


def sinkhorn_alignment(tokens, dummy, epsilon, max_iter=SINKHORN_MAX_ITER, tol=SINKHORN_TOL):
    """Targets of the barycentric projection of the entropic OT plan (Cuturi, 2013).

    Both clouds are centred first, which changes the cost :math:`\\lVert x_i - y_j \\rVert^2`
    by a term :math:`a_i + b_j` and so changes no plan, exact or entropic; it removes the large
    offset between the tokens and the dummy mean. With the centred cost matrix :math:`C` and
    :math:`\\varepsilon' = \\varepsilon \\cdot \\operatorname{mean}(C)` (the mean is the sum of
    the traces of the two clouds' covariances, so one ``epsilon`` suits every scale), the plan

    .. math::
        P = \\arg\\min_{P \\mathbf 1 = \\mathbf 1/n,\\ P^\\top \\mathbf 1 = \\mathbf 1/n}
        \\langle P, C \\rangle - \\varepsilon' H(P)

    is computed by Sinkhorn's iterations (Peyré & Cuturi, 2019, §4.2) with
    :func:`otcompanion.ot_solvers.sinkhorn_uniform_plan`, and each token's target is its
    barycentric projection :math:`t_i = \\sum_j P_{ij} y_j / \\sum_j P_{ij}`. As
    :math:`\\varepsilon \\to 0` the targets approach those of :func:`exact_alignment`.

    Why the package's iterations and not POT's ``ot.sinkhorn``: they give the same plans for the
    same number of iterations, take less time per iteration, stop on the L1 error of the token
    marginal that ``tol`` states (POT's ``stopThr`` bounds the L2 norm of the other marginal's
    error, a looser rule in L1), and switch to the log domain only for kernels that underflow
    (where POT's scaling iterations stop with a warning). ``benchmarks/otclassifier_speed.py``,
    section 4, compares both, and POT's log-domain iterations, in time and in the resulting
    targets.

    Parameters
    ----------
    tokens : array-like of shape (n, d)
    dummy : array-like of shape (n, p)
        Draws of the class's dummy Gaussian.
    epsilon : float > 0
        Regularization relative to ``mean(C)``.
    max_iter : int, default :data:`SINKHORN_MAX_ITER`
    tol : float, default :data:`SINKHORN_TOL`
        Largest L1 error of the token marginal; the dummy marginal is exact after every
        iteration.

    Returns
    -------
    targets : ndarray of shape (n, p)

    Warns
    -----
    ConvergenceWarning
        ``max_iter`` iterations did not reach ``tol`` (raise ``epsilon``).

    Raises
    ------
    RuntimeError
        The plan is not finite or has an empty row (raise ``epsilon``).
    """
    epsilon = check_positive(epsilon, "epsilon")
    max_iter = check_int(max_iter, "max_iter", 1)
    tol = check_positive(tol, "tol")
    x, y, draws = _paired(tokens, dummy)
    cost = cdist(x - x.mean(axis=0), y - y.mean(axis=0), "sqeuclidean")
    scale = float(cost.mean())
    if scale == 0.0:  # one point, or two constant clouds: every plan is optimal
        return np.tile(draws.mean(axis=0), (len(x), 1))
    plan, error = sinkhorn_uniform_plan(cost, epsilon=epsilon * scale, max_iter=max_iter,
                                        tol=tol)
    row_mass = plan.sum(axis=1, keepdims=True)
    if not (np.all(np.isfinite(plan)) and np.all(row_mass > 0)):
        raise RuntimeError(f"Sinkhorn returned a degenerate plan with epsilon={epsilon}; raise "
                           f"epsilon.")
    if float(error) > tol:
        warnings.warn(f"Sinkhorn did not converge in {max_iter:,} iterations (epsilon="
                      f"{epsilon}: L1 marginal error {float(error):.1e} > {tol}); the targets "
                      f"are the barycentric projection of an approximate plan. Raise epsilon.",
                      ConvergenceWarning, stacklevel=2)
    return (plan @ draws) / row_mass


def minibatch_alignment(tokens, dummy, batch_size, rng):
    """Targets of exact OT on random minibatches (Fatras et al., 2020, 2021).

    The tokens are shuffled by ``rng`` and cut into :math:`B = \\lceil n / b \\rceil` batches
    :math:`I_1, \\dots, I_B` of nearly equal size at most ``b`` (``batch_size``); batch
    :math:`I_j` is matched exactly (:func:`exact_alignment`) with the next :math:`|I_j|`
    dummy draws :math:`J_j`:

    .. math::
        t_{I_j} = y_{J_j}\\big[\\sigma_j^\\star\\big], \\qquad
        \\sigma_j^\\star = \\arg\\min_{\\sigma} \\sum_{i \\in I_j}
        \\lVert x_i - y_{J_j(\\sigma(i))} \\rVert^2.

    Each batch costs about ``b^{2.7}``, so the time grows linearly with ``n``; the transport is
    optimal within batches only (the minibatch OT of Fatras et al.). With ``batch_size >= n``
    there is one batch and the targets are those of :func:`exact_alignment` (the assignment
    does not depend on the order of the tokens).

    Parameters
    ----------
    tokens : array-like of shape (n, d)
    dummy : array-like of shape (n, p)
        Draws of the class's dummy Gaussian (independent, so consecutive blocks are random
        batches of them).
    batch_size : int >= 1
    rng : numpy.random.Generator or int
        Shuffles the tokens.

    Returns
    -------
    targets : ndarray of shape (n, p)
    """
    batch_size = check_int(batch_size, "batch_size", 1)
    x, _, draws = _paired(tokens, dummy)
    order = np.random.default_rng(rng).permutation(len(x))
    targets = np.empty_like(draws)
    start = 0
    for batch in np.array_split(order, math.ceil(len(x) / batch_size)):
        stop = start + len(batch)
        targets[batch] = exact_alignment(x[batch], draws[start:stop], max_points=batch_size)
        start = stop
    return targets


def gaussian_alignment(tokens, target_mean, target_cov, reg=1e-8):
    """Closed-form OT map from the Gaussian fitted to the tokens onto a target Gaussian.

    With :math:`\\mu, \\Sigma_1` the mean and (biased) covariance of the tokens and
    :math:`\\mathcal N(m, \\Sigma_2)` the target, the Monge map for the squared Euclidean cost
    between the two Gaussians is affine (Knott & Smith, 1984; Peyré & Cuturi, 2019,
    Remark 2.31):

    .. math::
        t_i = A x_i + b, \\qquad
        A = \\Sigma_1^{-1/2} \\big(\\Sigma_1^{1/2} \\Sigma_2 \\Sigma_1^{1/2}\\big)^{1/2}
        \\Sigma_1^{-1/2}, \\qquad b = m - A\\mu,

    computed by POT's ``ot.gaussian.bures_wasserstein_mapping``. The mapped cloud has mean
    :math:`m` and covariance :math:`A \\Sigma_1 A = \\Sigma_2`. Cost ``O(n q^2 + q^3)``, no
    ``n x n`` matrix and no draws.

    POT inverts :math:`\\Sigma_1^{1/2}` and fails (``LinAlgError``) or loses all precision on a
    singular :math:`\\Sigma_1` (fewer tokens than dimensions, a constant feature, a zero-padded
    coordinate), so :math:`\\Sigma_1` is regularized to :math:`\\Sigma_1 + \\delta I` with
    :math:`\\delta = \\text{reg} \\cdot \\operatorname{tr}(\\Sigma_1) / q` (``reg`` when the
    trace is 0). A direction in which the tokens do not vary then goes to the target mean, and
    the moments are the target's up to a relative error of about ``reg``.

    Dimensions: tokens with fewer coordinates than the target (``d < p``) are zero-padded.
    With ``d > p`` the target, zero-padded to :math:`\\mathbb R^d`, has no variance in the
    last ``d - p`` coordinates; their cost term :math:`\\sum_{j > p} x_j^2` does not depend on
    the match, so the optimal map is the map of the first ``p`` coordinates (unique by
    Brenier's theorem), which is what is computed.

    Parameters
    ----------
    tokens : array-like of shape (n, d)
    target_mean : array-like of shape (p,)
    target_cov : array-like of shape (p, p)
        Symmetric positive definite.
    reg : float > 0, default 1e-8
        Relative regularization of the tokens' covariance.

    Returns
    -------
    targets : ndarray of shape (n, p)
    """
    x = _cloud(tokens, "tokens")
    m = np.asarray(target_mean, dtype=float)
    cov_target = np.asarray(target_cov, dtype=float)
    p = len(m) if m.ndim == 1 else 0
    if p == 0 or cov_target.shape != (p, p):
        raise ValueError(f"target_mean must have shape (p,) and target_cov (p, p) with p >= 1; "
                         f"got {m.shape} and {cov_target.shape}.")
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(cov_target))):
        raise ValueError("target_mean and target_cov must be finite.")
    if not np.allclose(cov_target, cov_target.T) or np.any(np.linalg.eigvalsh(cov_target) <= 0):
        raise ValueError("target_cov must be symmetric positive definite.")
    reg = check_positive(reg, "reg")
    x = np.pad(x, ((0, 0), (0, p - x.shape[1]))) if x.shape[1] < p else x[:, :p]
    mu = x.mean(axis=0)
    cov = (x - mu).T @ (x - mu) / len(x)
    trace = float(np.trace(cov))
    delta = reg * (trace / p if trace > 0 else 1.0)
    A, b = ot.gaussian.bures_wasserstein_mapping(mu, m, cov + delta * np.eye(p), cov_target)
    return x @ A + b
