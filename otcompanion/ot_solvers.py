"""Exact and entropic optimal-transport solvers shared by the metrics and the OT classifier.

Two solvers, both for uniform measures and the squared Euclidean cost:

- :func:`exact_ot_assignment`: the exact optimal assignment between two clouds of equal size, an
  optimal transport plan between their uniform measures (Peyré & Cuturi, 2019, Prop. 2.1). It
  takes a cheap certificate that the identity is optimal (the common case between consecutive
  epochs of a trajectory), else scipy's ``linear_sum_assignment`` near the identity, else POT's
  network simplex ``ot.emd`` with a large iteration budget; a run of ``ot.emd`` that stops
  before optimality raises an error instead of returning a non-optimal plan.
- :func:`sinkhorn_uniform_plan`: entropic plans with uniform marginals for a batch of small cost
  matrices, by Sinkhorn's iterations vectorized with numpy (Peyré & Cuturi, 2019, §4.2, §4.4).

:mod:`otcompanion.metrics` (the thesis's metrics, the Sinkformers view of attention) and
:mod:`otcompanion.alignment` (the OT classifier's alignments) both use them;
:mod:`otcompanion.metrics` re-exports the public names.

References
----------
- G. Peyré, M. Cuturi. *Computational Optimal Transport*. Foundations and Trends in Machine
  Learning 11(5-6), 2019. arXiv:1803.00567.
- M. E. Sander, P. Ablin, M. Blondel, G. Peyré. *Sinkformers: Transformers with Doubly
  Stochastic Attention*. AISTATS 2022. arXiv:2110.11773.
"""

from __future__ import annotations

import hashlib
import warnings
from collections import OrderedDict

import numpy as np
import ot
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from ._validation import check_int, check_positive
from .data import check_tokens

#: Largest cloud :func:`exact_ot_assignment` accepts by default: a dense 10,000 x 10,000 float
#: matrix takes 8 n^2 = 800 MB, and the solvers need several.
MAX_EXACT_POINTS = 10_000


def _check_cloud(X, name):
    """A point cloud ``(n, d)``, or a token array flattened to one point per token."""
    tokens = check_tokens(X, name)
    return tokens.reshape(-1, tokens.shape[-1])


def check_paired_clouds(source, other, other_name, purpose):
    """Two clouds with the same number of points and features, as ``(n, d)`` arrays."""
    x = _check_cloud(source, "source")
    y = _check_cloud(other, other_name)
    if x.shape != y.shape:
        raise ValueError(f"source and {other_name} must have the same number of points and "
                         f"features {purpose}; got {x.shape} and {y.shape}.")
    return x, y


def exact_ot_assignment(source, target, max_points=MAX_EXACT_POINTS, num_iter_max=None):
    """Exact optimal assignment between two clouds of equal size (squared Euclidean cost).

    Solves, with unit mass per point (uniform weights),

    .. math::
        \\min_{s \\in \\mathfrak{S}_n} \\sum_{i=1}^n \\lVert x_i - y_{s(i)} \\rVert^2
        = n \\, W_2^2(\\mu, \\nu),

    where :math:`\\mu, \\nu` are the uniform measures of the two clouds: between uniform measures
    of equal size an optimal plan is a permutation matrix (Birkhoff-von Neumann theorem; Peyré &
    Cuturi, 2019, Prop. 2.1), so the optimal assignment is an optimal transport plan and its cost
    the exact OT cost. Every exact OT of this module goes through this function. With
    :math:`C_{ij} = \\lVert x_i - y_j \\rVert^2` it takes the first of three routes that applies:

    1. **A certificate that the identity is optimal**, without a solver. Let ``c`` be the
       coordinate-wise median of the displacements :math:`y_i - x_i` and
       :math:`f_i = -2 \\langle x_i, c \\rangle`, :math:`g_j = C_{jj} - f_j`, so that
       :math:`f_j + g_j = C_{jj}`. If :math:`f_i + g_j \\le C_{ij}` for all ``i, j`` (a feasible
       point of the dual linear program; Peyré & Cuturi, 2019, Prop. 2.4), then every
       permutation ``s`` costs :math:`\\sum_i C_{i s(i)} \\ge \\sum_i (f_i + g_{s(i)}) =
       \\sum_j C_{jj}`, the cost of the identity, which is therefore optimal. Expanding the
       squares, the condition reads :math:`\\lVert x_i - (y_j - c) \\rVert \\ge \\lVert x_j -
       (y_j - c) \\rVert`: once the common shift ``c`` is removed, every target point is at
       least as close to its own source point as to any other. It holds for any translation
       ``y = x + c`` and, on the thesis's trajectories, for almost all consecutive epochs and
       often from the start to a later epoch. ``c`` is a median rather than the mean because a
       few points that jump far would move the mean away from the shift shared by all the
       others. That is a nearest-neighbour question: the check queries a k-d tree of the
       points ``x_i + c`` (scipy's ``cKDTree``) with every ``y_j``, in ``O(n log n)`` time
       without forming ``C``. In floating point, like the solvers below, it is exact up to
       rounding (a permutation cheaper than the identity by less than about ``n`` units in the
       last place of the entries of ``C`` can go unnoticed, as it can by ``ot.emd``, whose
       optimality test has a tolerance); a tie broken the other way by rounding only sends
       the pair to a solver.
    2. **scipy's** ``linear_sum_assignment`` (a shortest augmenting path algorithm of Jonker &
       Volgenant, 1987, in the variant of Crouse, 2016) on the reduced matrix
       :math:`C_{ij} - f_i - g_j`, when the check fails for at most a tenth of the columns
       ``j``. The reduction changes the cost of every permutation by the same constant
       :math:`\\sum_j C_{jj}`, so the optimal permutations are those of ``C``; near the
       identity most rows of the reduced matrix have their minimum, zero, on the diagonal,
       which keeps the augmenting paths short.
    3. **POT's network simplex** ``ot.emd`` (Bonneel et al., 2011) otherwise, the faster exact
       solver for clouds far from the identity. A run that stops before optimality raises
       an error (a non-optimal plan is never returned).

    Why three routes: on the thesis's trajectories the check costs about as much as computing
    ``C`` alone (which it avoids) and settles most pairs of consecutive epochs; when it fails
    for few columns the augmenting paths of ``linear_sum_assignment`` on the reduced matrix stay
    short, and far from the identity (or between unrelated clouds) the network simplex is the
    quicker solver. ``benchmarks/metrics_speed.py`` times the whole, :func:`metric_curves
    <otcompanion.metrics.metric_curves>`, against ``ot.emd`` on every pair.

    The three routes return optimal assignments of the same matrix ``C``. When the optimum is
    unique (points in general position) they return the permutation ``ot.emd`` alone would
    return, and the same ``cost`` to the last bit.

    Parameters
    ----------
    source, target : array-like of shape (n, d), or token arrays (flattened to one point per token)
        The two clouds; they must have the same number of points and features.
    max_points : int, default :data:`MAX_EXACT_POINTS`
        Largest ``n`` accepted. The solvers need dense ``n x n`` float matrices of ``8 n^2``
        bytes each; beyond this size use minibatch, entropic or closed-form Gaussian OT.
    num_iter_max : int, optional
        Iteration budget of ``ot.emd``; by default ``max(100000, 50 n^2)``. POT's own default
        (100,000) stops before optimality from about 2,000 points (POT 0.9).

    Returns
    -------
    assignment : ndarray of shape (n,), int
        An optimal permutation: ``target[assignment[i]]`` is matched to ``source[i]``.
    cost : float
        ``sum_i ||source[i] - target[assignment[i]]||^2`` (a sum over points, not a mean).

    Raises
    ------
    ValueError
        Clouds of different shapes, NaN, or more than ``max_points`` points.
    RuntimeError
        ``ot.emd`` stopped before optimality (a non-optimal plan is never returned).

    References
    ----------
    - R. Jonker, A. Volgenant. *A shortest augmenting path algorithm for dense and sparse linear
      assignment problems*. Computing 38(4):325-340, 1987.
    - D. F. Crouse. *On implementing 2D rectangular assignment algorithms*. IEEE Transactions on
      Aerospace and Electronic Systems 52(4):1679-1696, 2016.
    - N. Bonneel, M. van de Panne, S. Paris, W. Heidrich. *Displacement interpolation using
      Lagrangian mass transport*. ACM Transactions on Graphics 30(6):158, 2011.
    """
    x, y = check_paired_clouds(source, target, "target", "for an exact assignment")
    return exact_assignment(x, y, max_points, num_iter_max)


#: How many matched pairs (the total length of the remembered assignments) :func:`exact_assignment`
#: keeps of the solver runs it remembers: 2**18 pairs take 2 MB, the solver runs of several
#: thesis-size runs.
RECENT_PAIRS = 2 ** 18
_recent = OrderedDict()
_recent_pairs = 0  # the total length of the assignments in _recent


def _fingerprint(x, y, num_iter_max):
    """A key that identifies a pair of clouds by their exact bytes (shape and dtype included)."""
    digest = hashlib.blake2b(digest_size=20)
    for cloud in (x, y):
        cloud = np.ascontiguousarray(cloud)
        digest.update(repr((cloud.shape, cloud.dtype.str)).encode())
        digest.update(cloud.tobytes())
    return digest.digest(), num_iter_max


def exact_assignment(x, y, max_points=MAX_EXACT_POINTS, num_iter_max=None):
    """:func:`exact_ot_assignment` on validated float clouds ``(n, d)`` of the same shape.

    The results of the most recent solver runs (about :data:`RECENT_PAIRS` matched pairs in
    all) are remembered, keyed by the exact bytes of both clouds: a pair that several metrics
    need (the start and end of a trajectory for the thesis's metrics and for the trained map's
    Monge gap; its first step for the W2 path and the map after one epoch) is solved once. A
    remembered result is the one the solver returned for these very numbers, so memoizing never
    changes a value. Pairs settled by the identity certificate are not stored: checking again
    costs about as much as looking them up.
    """
    n = len(x)
    if n > max_points:
        raise ValueError(
            f"exact OT on a cloud of {n} points needs dense {n} x {n} float matrices of 8 n^2 = "
            f"{8 * n * n:,} bytes each, over the bound max_points={max_points} "
            f"({8 * max_points * max_points:,} bytes); use minibatch, entropic (monge_gap with "
            "epsilon) or closed-form Gaussian OT for clouds this large, or raise max_points."
        )
    key = _fingerprint(x, y, num_iter_max)
    if key in _recent:
        _recent.move_to_end(key)
        assignment, cost = _recent[key]
        return assignment.copy(), cost
    assignment, cost, solved = _solve(x, y, num_iter_max)
    if solved:
        _remember(key, assignment, cost)
    return assignment, cost


def _remember(key, assignment, cost):
    """Keep a solver run's result, forgetting the oldest beyond :data:`RECENT_PAIRS` pairs."""
    global _recent_pairs
    _recent[key] = (assignment.copy(), cost)
    _recent_pairs += len(assignment)
    while _recent_pairs > RECENT_PAIRS and len(_recent) > 1:
        forgotten, _ = _recent.popitem(last=False)[1]
        _recent_pairs -= len(forgotten)


def _solve(x, y, num_iter_max):
    """The three routes of :func:`exact_ot_assignment`: ``(assignment, cost, solver_used)``."""
    n = len(x)
    if n == 1:
        return np.zeros(1, dtype=int), float(np.sum((x - y) ** 2)), False
    # cdist computes ||x - y||^2 from differences: exact zeros for identical points (the
    # expanded form ||x||^2 + ||y||^2 - 2<x, y> of ot.dist is not).
    rows = np.arange(n)
    shift = np.median(y - x, axis=0)
    # The certificate: is every y_j at least as close to its own x_j + c as to any other
    # x_i + c? A nearest-neighbour query, O(n log n), instead of a pass over C.
    moved = x + shift
    nearest_distance, nearest = cKDTree(moved).query(y)
    own_distance = np.sqrt(np.sum((moved - y) ** 2, axis=1))
    failing = int(np.count_nonzero((nearest != rows) & (nearest_distance < own_distance)))
    if failing == 0:
        return rows, float(np.sum((x - y) ** 2, axis=1).sum()), False
    cost_matrix = cdist(x, y, "sqeuclidean")
    if failing > n // 10:
        assignment = _emd_assignment(cost_matrix, num_iter_max)
        return assignment, float(cost_matrix[rows, assignment].sum()), True
    # Near the identity: the reduced matrix C_ij - f_i - g_j (g_j = C_jj - f_j), zero on the
    # diagonal, computed in a copy (C itself gives the cost below).
    f = -2.0 * (x @ shift)
    reduced = np.subtract(cost_matrix, f[:, None])
    reduced -= reduced[rows, rows][None, :]
    assignment = linear_sum_assignment(reduced)[1]
    return assignment, float(cost_matrix[rows, assignment].sum()), True


def _emd_assignment(cost_matrix, num_iter_max=None):
    """The optimal permutation of ``ot.emd`` on a square cost matrix, or an error."""
    n = len(cost_matrix)
    if num_iter_max is None:
        num_iter_max = max(100_000, 50 * n * n)
    ones = np.ones(n)
    with warnings.catch_warnings():
        # Non-convergence is raised below as an error; POT's warning would only repeat it.
        warnings.filterwarnings("ignore", message="numItermax reached", category=UserWarning)
        plan, log = ot.emd(ones, ones, cost_matrix, numItermax=int(num_iter_max), log=True)
    if log.get("warning") is not None or log.get("result_code") != 1:
        raise RuntimeError(
            f"exact OT (ot.emd) did not converge on {n} points with numItermax={num_iter_max}: "
            f"{log.get('warning')} (result_code={log.get('result_code')}). A non-optimal plan is "
            "not returned; raise num_iter_max."
        )
    assignment = np.argmax(plan, axis=1)
    rows = np.arange(n)
    if (len(np.unique(assignment)) != n
            or not np.allclose(plan[rows, assignment], 1.0, rtol=0, atol=1e-9)):
        raise RuntimeError(f"ot.emd returned a plan on {n} points that is not a permutation.")
    return assignment


def _logsumexp(values, axis):
    top = np.max(values, axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(values - top), axis=axis)) + np.squeeze(top, axis=axis)


def _sinkhorn_scaling(log_kernel, max_iter, tol):
    """Sinkhorn's scaling iterations ``u = a / Kv``, ``v = b / K^T u`` on a batch ``(B, T, S)``.

    ``K`` is normalized by its row maxima (absorbed in ``u``), so every row has a largest entry
    of 1. Returns the plans and the L1 row-marginal errors; plans of badly scaled kernels may be
    non-finite (the caller re-solves those in the log domain).
    """
    n_batch, T, S = log_kernel.shape
    kernel = np.exp(log_kernel - log_kernel.max(axis=2, keepdims=True))
    u = np.full((n_batch, T), 1.0 / T)
    v = np.ones((n_batch, S))
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        for iteration in range(max_iter + 1):
            kv = np.matmul(kernel, v[:, :, None])[:, :, 0]
            if iteration > 0:
                error = np.abs(u * kv - 1.0 / T).sum(axis=1)
                if not np.max(error) > tol:  # also stops on NaN, handled by the caller
                    break
            if iteration == max_iter:
                break
            u = (1.0 / T) / kv
            v = (1.0 / S) / np.matmul(u[:, None, :], kernel)[:, 0, :]
        plan = u[:, :, None] * kernel * v[:, None, :]
    return plan, error


def _sinkhorn_log(log_kernel, max_iter, tol):
    """Sinkhorn in the log domain (stable for any kernel), same interface as the scaling one."""
    n_batch, T, S = log_kernel.shape
    f = np.zeros((n_batch, T))
    g = np.zeros((n_batch, S))
    for iteration in range(max_iter + 1):
        lse_rows = _logsumexp(log_kernel + g[:, None, :], axis=2)
        if iteration > 0:
            error = np.abs(np.exp(f + lse_rows) - 1.0 / T).sum(axis=1)
            if np.max(error) <= tol:
                break
        if iteration == max_iter:
            break
        f = -np.log(T) - lse_rows
        g = -np.log(S) - _logsumexp(log_kernel + f[:, :, None], axis=1)
    return np.exp(log_kernel + f[:, :, None] + g[:, None, :]), error


def sinkhorn_uniform_plan(cost, epsilon=1.0, max_iter=1000, tol=1e-9, chunk_size=None):
    """Entropic OT plans with uniform marginals for a batch of small cost matrices.

    For every matrix :math:`C` of shape ``(T, S)`` in the batch, the plan

    .. math::
        P = \\arg\\min_{P \\mathbf 1 = \\mathbf 1/T,\\ P^\\top \\mathbf 1 = \\mathbf 1/S}
        \\langle P, C \\rangle - \\varepsilon H(P), \\qquad
        P = \\operatorname{diag}(u)\\, e^{-C/\\varepsilon} \\operatorname{diag}(v),

    by Sinkhorn's iterations (Peyré & Cuturi, 2019, §4.2), vectorized over all leading axes with
    numpy: the plan ``ot.sinkhorn(1/T, 1/S, C, reg=epsilon)`` computes one matrix at a time.
    Iterations run in the scaling domain, and matrices whose kernel under- or overflows there
    are solved again in the log domain (§4.4). Every iteration makes the column marginals exact;
    iterations stop when the largest L1 error of the row marginals is at most ``tol``.

    Parameters
    ----------
    cost : array-like of shape (..., T, S)
    epsilon : float, default 1.0
    max_iter : int, default 1000
    tol : float, default 1e-9
    chunk_size : int, optional
        Matrices solved together (bounds the memory); by default about a million entries.

    Returns
    -------
    plan : ndarray of shape (..., T, S)
    marginal_error : ndarray of shape (...)
        L1 error of the row marginals of every plan (at most ``tol`` when converged; larger
        values mean ``max_iter`` was reached).
    """
    cost = np.asarray(cost, dtype=float)
    if cost.ndim < 2 or 0 in cost.shape:
        raise ValueError(f"cost must have shape (..., T, S) with T, S >= 1; got {cost.shape}.")
    if not np.all(np.isfinite(cost)):
        raise ValueError("cost contains NaN or infinite values.")
    epsilon = check_positive(epsilon, "epsilon")
    max_iter = check_int(max_iter, "max_iter", 1)
    T, S = cost.shape[-2:]
    batch = cost.reshape(-1, T, S)
    if chunk_size is None:
        chunk_size = max(1, 1_000_000 // (T * S))
    plans = np.empty_like(batch)
    errors = np.empty(len(batch))
    for start in range(0, len(batch), chunk_size):
        log_kernel = -batch[start:start + chunk_size] / epsilon
        plan, error = _sinkhorn_scaling(log_kernel, max_iter, tol)
        broken = ~(np.all(np.isfinite(plan), axis=(1, 2)) & np.isfinite(error))
        if broken.any():
            plan[broken], error[broken] = _sinkhorn_log(log_kernel[broken], max_iter, tol)
        plans[start:start + chunk_size] = plan
        errors[start:start + chunk_size] = error
    return plans.reshape(cost.shape), errors.reshape(cost.shape[:-2])
