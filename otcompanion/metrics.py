"""Optimal-transport metrics of token trajectories and of attention matrices.

A *trajectory* is a sequence of token arrays of one shape ``(n, T, d)`` (or ``(n, d)``, one token
per instance): ``trajectory[0]`` is the start ``S`` (the standardized training tokens) and
``trajectory[-1]`` the end ``E`` (the last block's output after the best epoch); the steps between
are the outputs after every recorded epoch (the thesis's tracing, Quadrio & Candelieri, 2025).
``labels`` holds one label per instance. The *cloud* of class ``c`` is the flattened set of all tokens of all instances of class
``c``; every token is a point of unit mass and keeps its index along the trajectory, so ``P_{t,i}``
is the position of point ``i`` at step ``t``.

Metrics (Quadrio & Candelieri, 2025, and this book's additions):

- the thesis's metrics (:func:`thesis_metrics`): transformer distance, Wasserstein distance,
  optimality, thesis Monge gap, matching, step cost and efficiency (Quadrio & Candelieri, 2025), and the value of that
  efficiency for straight paths of equal length (:func:`equal_length_efficiency`);
- scale-consistent companions: :func:`straightness` and :func:`w2_path_efficiency`;
- the Monge gap of Uscidda & Cuturi (2023) (:func:`monge_gap`), exact or entropic;
- all of them along training (:func:`metric_curves`);
- attention as a coupling, the Sinkformers view (Sander et al., 2022) (:func:`attention_coupling_metrics`).

Exact OT between two class clouds goes through one function,
:func:`~otcompanion.ot_solvers.exact_ot_assignment` (module :mod:`otcompanion.ot_solvers`,
re-exported here with :data:`~otcompanion.ot_solvers.MAX_EXACT_POINTS` and
:func:`~otcompanion.ot_solvers.sinkhorn_uniform_plan`): a cheap certificate that the identity
is optimal (the common case between consecutive epochs), else scipy's ``linear_sum_assignment``
near the identity, else POT's network simplex ``ot.emd`` with a large iteration budget; a run
of ``ot.emd`` that stops before optimality raises an error instead of returning a non-optimal
plan.

References
----------
- A. Quadrio, A. Candelieri. *Transformers for Tabular Data: A Training Perspective of
  Self-Attention via Optimal Transport*. Univ. Milano-Bicocca, 2025. arXiv:2512.09530.
- T. Uscidda, M. Cuturi. *The Monge Gap: A Regularizer to Learn All Transport Maps*.
  ICML 2023. arXiv:2302.04953.
- M. E. Sander, P. Ablin, M. Blondel, G. Peyré. *Sinkformers: Transformers with Doubly
  Stochastic Attention*. AISTATS 2022. arXiv:2110.11773.
- G. Peyré, M. Cuturi. *Computational Optimal Transport*. Foundations and Trends in Machine
  Learning 11(5-6), 2019. arXiv:1803.00567.
"""

from __future__ import annotations

import warnings

import numpy as np
import ot
import pandas as pd
from scipy.spatial.distance import cdist

from otcompanion._validation import check_int, check_positive
from otcompanion.data import check_tokens
from otcompanion.ot_solvers import (  # noqa: F401 (re-exported)
    MAX_EXACT_POINTS,
    check_paired_clouds,
    exact_assignment,
    exact_ot_assignment,
    sinkhorn_uniform_plan,
)

THESIS_METRICS = ("transformer_distance", "wasserstein", "optimality", "monge_gap", "matching",
                  "step_cost", "efficiency")


# ----------------------------------------------------------------------------------------------
# Input validation
# ----------------------------------------------------------------------------------------------

#: Below this share of the squared displacement, :func:`map_metrics` treats the residual of a
#: map after each class's mean move as rounding: float32 outputs of a map that translates each
#: class carry residuals of about 1e-7 of the displacement per coordinate.
TRANSLATION_TOLERANCE = 1e-6


def _check_trajectory(trajectory):
    """Validate a trajectory; return it as one array of shape ``(n_steps, n, T, d)``."""
    if isinstance(trajectory, (str, bytes)) or not hasattr(trajectory, "__len__"):
        raise ValueError("trajectory must be a sequence (list or array) of token arrays of shape "
                         f"(n, T, d) or (n, d); got {type(trajectory).__name__}.")
    if len(trajectory) < 2:
        raise ValueError("trajectory must have at least two steps (start and end); got "
                         f"{len(trajectory)}.")
    steps = [check_tokens(step, f"trajectory[{t}]") for t, step in enumerate(trajectory)]
    for t, step in enumerate(steps[1:], start=1):
        if step.shape != steps[0].shape:
            raise ValueError(f"trajectory[{t}] has shape {np.shape(trajectory[t])}, but "
                             f"trajectory[0] has shape {np.shape(trajectory[0])}: every step must "
                             "hold the same instances, tokens and features.")
    return np.stack(steps)


def _check_labels(labels, n_instances):
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != n_instances:
        raise ValueError(f"labels must hold one label per instance: the trajectory has "
                         f"{n_instances} instances, labels has shape {labels.shape}.")
    if labels.dtype.kind in "fc" and not np.all(np.isfinite(labels)):
        row = int(np.flatnonzero(~np.isfinite(labels))[0])
        raise ValueError(f"labels contains NaN or infinite values (first at instance {row}).")
    return labels


def _check_step(step, last):
    step = check_int(step, "steps entry")
    if not 1 <= step <= last:
        raise ValueError(f"step {step} is outside the trajectory: steps must lie between 1 and "
                         f"{last} (the trajectory has {last + 1} recorded steps, 0 = start).")
    return int(step)


def _points(trajectory, labels):
    """Flattened points ``(n_steps, n * T, d)``, the label of every point and the classes."""
    steps = _check_trajectory(trajectory)
    n_steps, n, T, d = steps.shape
    points = steps.reshape(n_steps, n * T, d)
    if labels is None:
        point_labels = np.zeros(n * T, dtype=int)
    else:
        point_labels = np.repeat(_check_labels(labels, n), T)
    classes = np.unique(point_labels)
    return points, point_labels, classes


def _ratio(numerator, denominator, when_zero):
    return float(numerator / denominator) if denominator > 0 else when_zero



# ----------------------------------------------------------------------------------------------
# Per-class quantities shared by the thesis metrics, the W2 path efficiency and the curves
# ----------------------------------------------------------------------------------------------

def _class_curves(points, point_labels, classes, ends, with_path_w2):
    """Per-class sums for the prefixes ``points[0..t]``, ``t`` in ``ends``, as a long table.

    One row per (class, t) with ``n_points``, ``td2`` (sum of ``||P_t - P_0||^2``), ``w_cost``
    (exact OT cost between the class clouds at 0 and t), ``matched`` (points the OT partner of
    which is their own image), ``step_cost`` (path length), ``displacement`` (sum of
    ``||P_t - P_0||``) and, with ``with_path_w2``, ``w2_path`` (sum of W2 between consecutive
    uniform class measures up to t) and ``w2_start_end`` (W2 between the uniform measures at 0
    and t).
    """
    rows = []
    for c in classes:
        cloud = points[:, point_labels == c]  # (n_steps, n_c, d), a C-contiguous float copy
        n_c = cloud.shape[1]
        step_lengths = np.linalg.norm(np.diff(cloud, axis=0), axis=-1).sum(axis=1)
        path = np.concatenate([[0.0], np.cumsum(step_lengths)])
        if with_path_w2:
            steps = [exact_assignment(cloud[t], cloud[t + 1]) for t in range(max(ends))]
            w2_path = np.concatenate([[0.0], np.cumsum([np.sqrt(cost / n_c)
                                                        for _, cost in steps])])
        for t in ends:
            moved = cloud[t] - cloud[0]
            # W(mu_0, mu_1) is also the W2 path's first step: solved once (exact_assignment
            # remembers recent pairs).
            assignment, w_cost = exact_assignment(cloud[0], cloud[t])
            td2 = float(np.sum(moved ** 2))
            row = {
                "class": c, "t": t, "n_points": n_c, "td2": td2,
                # The identity is a feasible assignment, so the optimum is at most td2; the min
                # only removes rounding noise from ties between optimal permutations.
                "w_cost": min(w_cost, td2),
                "matched": int(np.sum(assignment == np.arange(n_c))),
                "step_cost": float(path[t]),
                "displacement": float(np.linalg.norm(moved, axis=-1).sum()),
            }
            if with_path_w2:
                row["w2_path"] = float(w2_path[t])
                row["w2_start_end"] = float(np.sqrt(row["w_cost"] / n_c))
            rows.append(row)
    return pd.DataFrame(rows)


def _thesis_per_class(table):
    """The thesis's quantities for every row of :func:`_class_curves`' table."""
    td = np.sqrt(table["td2"].to_numpy())
    w = np.sqrt(table["w_cost"].to_numpy())
    step = table["step_cost"].to_numpy()
    return pd.DataFrame({
        "class": table["class"].to_numpy(),
        "n_points": table["n_points"].to_numpy(),
        "transformer_distance": td,
        "wasserstein": w,
        "optimality": [_ratio(a, b, 1.0) for a, b in zip(w, td)],
        "monge_gap": td - w,
        "matching": table["matched"].to_numpy() / table["n_points"].to_numpy(),
        "step_cost": step,
        "efficiency": [_ratio(a, b, np.nan) for a, b in zip(td, step)],
    })


def _thesis_totals(table):
    """The thesis's metrics of one prefix from the per-class rows of that prefix."""
    td = float(np.sqrt(table["td2"].to_numpy()).sum())
    w = float(np.sqrt(table["w_cost"].to_numpy()).sum())
    step = float(table["step_cost"].sum())
    return {
        "transformer_distance": td,
        "wasserstein": w,
        "optimality": _ratio(w, td, 1.0),
        "monge_gap": td - w,
        "matching": float(table["matched"].sum() / table["n_points"].sum()),
        "step_cost": step,
        "efficiency": _ratio(td, step, np.nan),
    }


def _w2_path_per_class(table):
    return np.array([_ratio(a, b, 1.0) for a, b in zip(table["w2_start_end"], table["w2_path"])])


# ----------------------------------------------------------------------------------------------
# Public metrics of trajectories
# ----------------------------------------------------------------------------------------------

def thesis_metrics(trajectory, labels, per_class=False):
    """The thesis's OT metrics of a trajectory (Quadrio & Candelieri, 2025).

    Per class ``c``, on the class cloud with start ``S = trajectory[0]`` and end
    ``E = trajectory[-1]`` (unit mass per point):

    .. math::
        TD_c = \\Big(\\sum_i \\lVert S_i - E_i \\rVert^2\\Big)^{1/2}, \\qquad
        W_c = \\Big(\\min_{s} \\sum_i \\lVert S_i - E_{s(i)} \\rVert^2\\Big)^{1/2}

    (``TD_c`` is the cost of the identity coupling, each token with its own image; ``W_c`` that of
    the exact optimal assignment, :func:`~otcompanion.ot_solvers.exact_ot_assignment`). Then

    - ``transformer_distance`` = :math:`\\sum_c TD_c`; ``wasserstein`` = :math:`\\sum_c W_c`;
    - ``optimality`` = wasserstein / transformer_distance, in (0, 1]; 1.0 when nothing moved
      (transformer_distance 0, hence wasserstein 0);
    - ``monge_gap`` (the thesis's) = transformer_distance - wasserstein >= 0;
    - ``matching`` = share of all points whose OT partner is their own image (``s(i) = i``);
    - ``step_cost`` = :math:`\\sum_i \\sum_t \\lVert P_{t+1,i} - P_{t,i} \\rVert` (Euclidean
      path length of every point through all recorded steps);
    - ``efficiency`` = transformer_distance / step_cost; ``nan`` when nothing moved at all
      (step_cost 0): the ratio is 0/0 and has no limit value, since shrinking straight paths of
      equal length keep the value :math:`\\sum_c \\sqrt{n_c} / n`.

    Efficiency mixes a root of a sum of squares with a sum of norms: straight paths of equal length
    give :math:`\\sum_c \\sqrt{n_c} / n` (about 0.047 for 900 points in two classes), not 1.
    Report it for fidelity and next to it :func:`straightness` and :func:`w2_path_efficiency`.

    Parameters
    ----------
    trajectory : sequence of array-like of shape (n, T, d) or (n, d)
        At least two steps of one shape; an array of shape ``(n_steps, n, T, d)`` also works.
    labels : array-like of shape (n,)
        One label per instance; each label value is a class.
    per_class : bool, default False
        Also return the per-class values.

    Returns
    -------
    metrics : dict
        The seven keys ``transformer_distance``, ``wasserstein``, ``optimality``,
        ``monge_gap``, ``matching``, ``step_cost``, ``efficiency``, as floats.
    per_class_table : pandas.DataFrame, only when ``per_class``
        One row per class (sorted): ``class``, ``n_points``, then the seven quantities of that
        class alone (``transformer_distance`` = TD_c, ``wasserstein`` = W_c, their ratio and
        difference, the class's share of matched points, its step cost and TD_c / step cost).
        The sums over classes of ``transformer_distance``, ``wasserstein`` and ``step_cost`` are
        the totals.
    """
    points, point_labels, classes = _points(trajectory, labels)
    last = len(points) - 1
    table = _class_curves(points, point_labels, classes, [last], with_path_w2=False)
    metrics = _thesis_totals(table)
    if per_class:
        return metrics, _thesis_per_class(table)
    return metrics


def map_metrics(source, mapped, labels):
    """How far the token-by-token map ``source -> mapped`` is from an optimal transport map.

    Per class, with :math:`TD_c` and :math:`W_c` of :func:`thesis_metrics` for the two-step
    trajectory ``[source, mapped]``: the thesis's ``optimality`` :math:`\\sum_c W_c / \\sum_c
    TD_c`, ``matching`` and ``monge_gap`` :math:`\\sum_c (TD_c - W_c)`, and the Monge gap of
    Uscidda & Cuturi (2023) with class-wise optimal transport,

    .. math::
        \\mathcal{M} = \\frac{1}{n} \\sum_c \\big(TD_c^2 - W_c^2\\big)
        = \\frac1n \\sum_i \\lVert x_i - T(x_i) \\rVert^2
          - \\frac1n \\sum_c \\min_\\sigma \\sum_{i \\in c} \\lVert x_i - T(x_{\\sigma(i)}) \\rVert^2 ,

    a difference of mean squared costs (:func:`monge_gap` on each class, weighted by its size),
    0 exactly for an optimal map; and the ``mean_displacement`` :math:`\\frac1n \\sum_i \\lVert
    x_i - T(x_i) \\rVert`, to compare maps of similar size.

    **What is not a translation.** Every map splits, class by class, into the class's mean
    move :math:`t_c = \\frac{1}{n_c} \\sum_{i \\in c} (T(x_i) - x_i)` and a residual
    :math:`R(x_i) = T(x_i) - t_c`. A shared move inflates both :math:`TD_c` and :math:`W_c`, so
    it pushes the optimality towards 1 whatever the residual does (:math:`W_c \\ge \\sqrt{n_c}
    \\lVert t_c \\rVert`). For the squared cost the optimal assignment does not change under a
    translation of one cloud, which gives the residual's quantities in closed form,

    .. math::
        TD_c'^2 = TD_c^2 - n_c \\lVert t_c \\rVert^2, \\qquad
        W_c'^2 = W_c^2 - n_c \\lVert t_c \\rVert^2 ,

    so ``residual_optimality`` :math:`\\sum_c W_c' / \\sum_c TD_c'` (NaN when the residual
    carries less than :data:`TRANSLATION_TOLERANCE` of the squared displacement: the map is a
    translation of each class up to rounding), ``translation_share`` :math:`\\sum_c n_c \\lVert
    t_c \\rVert^2 / \\sum_c TD_c^2` (1 for a pure translation of each class) and the same
    assignment for ``matching``; :math:`\\mathcal{M}` is unchanged by the translations, so it
    already measures the residual.

    Parameters
    ----------
    source, mapped : array-like of shape (n, T, d) or (n, d)
    labels : array-like of shape (n,)

    Returns
    -------
    dict
        ``optimality``, ``matching``, ``monge_gap``, ``uc_monge_gap``, ``mean_displacement``,
        ``residual_optimality``, ``translation_share``.

    References
    ----------
    Quadrio & Candelieri (2025), §3 (optimality); Uscidda & Cuturi, "The Monge gap: a regularizer
    to learn all transport maps", ICML 2023.
    """
    totals, per_class = thesis_metrics([source, mapped], labels, per_class=True)
    n_points = per_class["n_points"].sum()
    td2 = per_class["transformer_distance"].to_numpy() ** 2
    w2 = per_class["wasserstein"].to_numpy() ** 2
    points, point_labels, classes = _points([source, mapped], labels)
    moves = points[1] - points[0]
    shift2 = np.array([per_class["n_points"].iloc[k]
                       * np.sum(moves[point_labels == c].mean(axis=0) ** 2)
                       for k, c in enumerate(classes)])
    td2_residual = np.maximum(td2 - shift2, 0.0)
    w2_residual = np.clip(w2 - shift2, 0.0, td2_residual)
    residual_optimality = (float(np.sqrt(w2_residual).sum() / np.sqrt(td2_residual).sum())
                           if td2_residual.sum() > TRANSLATION_TOLERANCE * td2.sum() else np.nan)
    source, mapped = np.asarray(source, dtype=float), np.asarray(mapped, dtype=float)
    return {"optimality": totals["optimality"], "matching": totals["matching"],
            "monge_gap": totals["monge_gap"],
            "uc_monge_gap": float(max((td2 - w2).sum(), 0.0) / n_points),
            "mean_displacement": float(np.linalg.norm(mapped - source, axis=-1).mean()),
            "residual_optimality": residual_optimality,
            "translation_share": _ratio(shift2.sum(), td2.sum(), np.nan)}


def equal_length_efficiency(labels, n_tokens=1):
    """The thesis's efficiency of straight paths of equal length: :math:`\\sum_c \\sqrt{n_c} / n`.

    If every point moves along a straight segment and all segments have the same length
    :math:`\\ell`, then :math:`TD_c = \\sqrt{n_c}\\,\\ell` and the step cost is
    :math:`n \\ell`, so :func:`thesis_metrics`' ``efficiency`` is :math:`\\sum_c \\sqrt{n_c} / n`
    whatever :math:`\\ell`. This is the reference value against which the thesis's
    efficiency should be read; straight paths of unequal lengths give values between it and 1.

    Parameters
    ----------
    labels : array-like of shape (n_instances,)
        One label per instance.
    n_tokens : int, default 1
        Tokens per instance: class ``c`` has ``n_c = n_tokens * (instances of c)`` points.

    Returns
    -------
    float
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {labels.shape}.")
    n_tokens = check_int(n_tokens, "n_tokens", 1)
    _, counts = np.unique(labels, return_counts=True)
    points = counts * int(n_tokens)
    return float(np.sqrt(points).sum() / points.sum())


def straightness(trajectory, labels=None, per_class=False):
    """Straightness of the point paths: net displacement over path length.

    .. math::
        \\text{straightness} = \\frac{\\sum_i \\lVert E_i - S_i \\rVert}
        {\\sum_i \\sum_t \\lVert P_{t+1,i} - P_{t,i} \\rVert} \\in [0, 1]

    (this project's scale-consistent companion of the thesis's efficiency). It is 1
    exactly when every path is a straight segment traversed monotonically, and 1.0 by definition
    when nothing moves (a constant path is straight). Unlike the thesis's efficiency it does not
    depend on the number of points.

    Parameters
    ----------
    trajectory : sequence of array-like of shape (n, T, d) or (n, d)
    labels : array-like of shape (n,), optional
        Needed only for ``per_class``; the overall value pools all points either way.
    per_class : bool, default False

    Returns
    -------
    value : float
        The ratio over all points.
    per_class_table : pandas.DataFrame, only when ``per_class``
        Columns ``class``, ``n_points``, ``displacement``, ``path_length``, ``straightness``.
    """
    if per_class and labels is None:
        raise ValueError("labels are needed for per_class=True.")
    points, point_labels, classes = _points(trajectory, labels)
    displacement = np.linalg.norm(points[-1] - points[0], axis=-1)
    path_length = np.linalg.norm(np.diff(points, axis=0), axis=-1).sum(axis=0)
    value = _ratio(displacement.sum(), path_length.sum(), 1.0)
    if not per_class:
        return value
    rows = []
    for c in classes:
        mask = point_labels == c
        rows.append({"class": c, "n_points": int(mask.sum()),
                     "displacement": float(displacement[mask].sum()),
                     "path_length": float(path_length[mask].sum()),
                     "straightness": _ratio(displacement[mask].sum(), path_length[mask].sum(),
                                            1.0)})
    return value, pd.DataFrame(rows)


def w2_path_efficiency(trajectory, labels, per_class=False):
    """W2 path efficiency of the class distributions along the trajectory.

    For class ``c`` with uniform empirical measures :math:`\\mu_t` of its cloud at every step,

    .. math::
        \\text{eff}_c = \\frac{W_2(\\mu_0, \\mu_K)}{\\sum_{t=0}^{K-1} W_2(\\mu_t, \\mu_{t+1})}
        \\in [0, 1]

    by the triangle inequality of :math:`W_2` (up to rounding), and 1 iff the recorded
    distributions lie, in this order, on one geodesic of Wasserstein space, e.g. a
    constant-speed displacement (McCann) interpolation (Peyré & Cuturi, 2019, ch. 7).
    Every :math:`W_2` is exact (:func:`~otcompanion.ot_solvers.exact_ot_assignment`, uniform
    weights ``1/n_c``). A class that never changes distribution (denominator 0) gets 1.0. The
    value does not depend on which point is which (only on the distributions), so it
    complements :func:`straightness`.

    Parameters
    ----------
    trajectory : sequence of array-like of shape (n, T, d) or (n, d)
    labels : array-like of shape (n,)
    per_class : bool, default False

    Returns
    -------
    value : float
        Unweighted mean of the per-class efficiencies (every class counts the same, as the
        thesis's per-class sums do).
    per_class_table : pandas.DataFrame, only when ``per_class``
        Columns ``class``, ``n_points``, ``w2_start_end`` (:math:`W_2(\\mu_0, \\mu_K)`),
        ``w2_path_length`` (the denominator) and ``w2_path_efficiency``.
    """
    points, point_labels, classes = _points(trajectory, labels)
    table = _class_curves(points, point_labels, classes, [len(points) - 1], with_path_w2=True)
    efficiency = _w2_path_per_class(table)
    value = float(np.mean(efficiency))
    if not per_class:
        return value
    return value, pd.DataFrame({
        "class": table["class"].to_numpy(), "n_points": table["n_points"].to_numpy(),
        "w2_start_end": table["w2_start_end"].to_numpy(),
        "w2_path_length": table["w2_path"].to_numpy(), "w2_path_efficiency": efficiency,
    })


def metric_curves(trajectory, labels, per_class=False, steps=None):
    """All trajectory metrics along training: one row per recorded step ``t >= 1``.

    Row ``t`` holds the metrics of the prefix ``trajectory[0..t]`` (start ``trajectory[0]``,
    end ``trajectory[t]``): the seven :func:`thesis_metrics`, :func:`straightness` and
    :func:`w2_path_efficiency`. The last row equals the metrics of the whole trajectory.

    Path lengths are cumulated once, and each class needs one exact OT per evaluated step for
    :math:`W(\\mu_0, \\mu_t)` and one per recorded step for :math:`W_2(\\mu_t, \\mu_{t+1})`
    (:func:`~otcompanion.ot_solvers.exact_ot_assignment`, which solves a pair needed twice,
    such as ``(0, 1)``, once). Most pairs of consecutive epochs need no solver, as the identity
    is certified optimal: 391 of 400 in a thesis 2-class run, 177 of 327 in a 3-class run, where subsets of
    tokens jump in some epochs; this is what makes the curves cheaper than ``ot.emd`` on every
    pair (``benchmarks/metrics_speed.py`` prints both). Evaluating fewer steps never changes
    the values: path lengths and the W2 path are always summed over every recorded step
    (thinning the trajectory itself would shorten the paths and change the metrics).

    Parameters
    ----------
    trajectory : sequence of array-like of shape (n, T, d) or (n, d)
        With the thesis's tracing, ``trajectory[t]`` is the output after epoch ``t``.
    labels : array-like of shape (n,)
    per_class : bool, default False
        Also return the per-class curves.
    steps : iterable of int, optional
        The steps ``t`` (1 <= t <= len(trajectory) - 1) to evaluate; default every step.

    Returns
    -------
    curves : pandas.DataFrame
        Columns ``epoch`` (the index ``t`` in the trajectory), ``transformer_distance``,
        ``wasserstein``, ``optimality``, ``monge_gap``, ``matching``, ``step_cost``,
        ``efficiency``, ``straightness``, ``w2_path_efficiency``.
    class_curves : pandas.DataFrame, only when ``per_class``
        One row per (epoch, class): ``epoch``, ``class``, ``n_points``, the seven thesis
        quantities of the class, its ``straightness`` and ``w2_path_efficiency``.
    """
    points, point_labels, classes = _points(trajectory, labels)
    last = len(points) - 1
    if steps is None:
        ends = list(range(1, last + 1))
    else:
        ends = sorted({_check_step(t, last) for t in steps})
        if not ends:
            raise ValueError("steps is empty; give at least one step between 1 and "
                             f"{last}, or None for every step.")
    table = _class_curves(points, point_labels, classes, ends, with_path_w2=True)
    table["w2_path_efficiency"] = _w2_path_per_class(table)
    rows = []
    for t, prefix in table.groupby("t", sort=True):
        row = {"epoch": int(t), **_thesis_totals(prefix)}
        row["straightness"] = _ratio(prefix["displacement"].sum(), prefix["step_cost"].sum(), 1.0)
        row["w2_path_efficiency"] = float(prefix["w2_path_efficiency"].mean())
        rows.append(row)
    curves = pd.DataFrame(rows)
    if not per_class:
        return curves
    class_curves = _thesis_per_class(table)
    class_curves.insert(0, "epoch", table["t"].to_numpy())
    class_curves["straightness"] = [_ratio(a, b, 1.0) for a, b in
                                    zip(table["displacement"], table["step_cost"])]
    class_curves["w2_path_efficiency"] = table["w2_path_efficiency"].to_numpy()
    class_curves = class_curves.sort_values(["epoch", "class"], kind="stable")
    return curves, class_curves.reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# Monge gap of Uscidda & Cuturi
# ----------------------------------------------------------------------------------------------

def monge_gap(source, mapped, epsilon=None, max_iter=10_000, tol=1e-9):
    """Monge gap of a map on an empirical measure (Uscidda & Cuturi, 2023).

    For points :math:`x_1, \\dots, x_n` with images :math:`T(x_i)` and uniform weights,

    .. math::
        \\mathcal{M}(T) = \\frac{1}{n} \\sum_i c(x_i, T(x_i)) - W_c(\\mu_n, T_\\sharp \\mu_n),
        \\qquad c(x, y) = \\lVert x - y \\rVert^2 ,

    where :math:`W_c` is the OT *cost* (not its square root) between the uniform empirical
    measures of the sources and the images. It is >= 0 and 0 iff :math:`T` is an optimal map on
    the sample. Unlike the thesis's Monge gap (:func:`thesis_metrics`, a difference of square
    roots of sums) it is a difference of mean costs.

    With ``epsilon`` the OT term is entropic: the plan :math:`P_\\varepsilon` is computed with
    POT's log-domain Sinkhorn (``ot.sinkhorn``, ``method="sinkhorn_log"``, ``reg=epsilon`` on
    the cost matrix :math:`C_{ij} = \\lVert x_i - T(x_j) \\rVert^2`), and the term used is its
    transport cost :math:`\\langle P_\\varepsilon, C \\rangle` (what ``ot.sinkhorn2`` returns),
    *without* the entropy term of Uscidda & Cuturi's :math:`W_{c,\\varepsilon}`. Since
    :math:`P_\\varepsilon` is a coupling and, comparing its entropic objective with that of an
    optimal permutation (entropy :math:`\\log n`, against at most :math:`2 \\log n`),

    .. math::
        W_c \\le \\langle P_\\varepsilon, C \\rangle \\le W_c + \\varepsilon \\log n ,

    the entropic gap lies in :math:`[\\mathcal{M}(T) - \\varepsilon \\log n, \\mathcal{M}(T)]`:
    it can be slightly negative (an optimal map gets a value in :math:`[-\\varepsilon \\log n, 0]`)
    and tends to the exact gap as :math:`\\varepsilon \\to 0`.

    Parameters
    ----------
    source : array-like of shape (n, d), or a token array (flattened to one point per token)
    mapped : array-like of the same shape
        The images ``T(x_i)``, in the same order as ``source``.
    epsilon : float, optional
        Entropic regularization, in the units of the cost (squared distance). ``None`` (default)
        gives the exact gap (``ot.emd``, :func:`~otcompanion.ot_solvers.exact_ot_assignment`).
    max_iter : int, default 10000
        Sinkhorn iterations (entropic only).
    tol : float, default 1e-9
        Sinkhorn stopping threshold (POT's ``stopThr``, a norm of the marginal error; entropic
        only).

    Returns
    -------
    gap : float

    Raises
    ------
    ValueError
        Shapes differ, NaN, or ``epsilon`` not a positive number.
    RuntimeError
        ``ot.emd`` did not converge (exact), or Sinkhorn returned a non-finite plan (entropic).

    Warns
    -----
    RuntimeWarning
        Sinkhorn stopped at ``max_iter`` before reaching ``tol`` (entropic). The gap is then
        returned with the measured marginal error in the warning: unlike an unfinished network
        simplex, whose plan can be far from optimal, an unfinished Sinkhorn plan is a near-coupling
        whose cost is off by at most about (marginal error) x (largest cost). Small ``epsilon``
        relative to the squared distances converges slowly (thousands of iterations at
        ``epsilon = 0.1`` on unit-variance data).
    """
    x, y = check_paired_clouds(source, mapped, "mapped", "(one image per point)")
    n = len(x)
    transport_cost = float(np.mean(np.sum((x - y) ** 2, axis=1)))
    if epsilon is None:
        return transport_cost - exact_ot_assignment(x, y)[1] / n
    epsilon = check_positive(epsilon, "epsilon")
    cost_matrix = cdist(x, y, "sqeuclidean")
    weights = np.full(n, 1.0 / n)
    with warnings.catch_warnings(), np.errstate(over="ignore"):
        # Non-convergence is reported below with the measured marginal error.
        warnings.filterwarnings("ignore", message="Sinkhorn did not converge",
                                category=UserWarning)
        plan, log = ot.sinkhorn(weights, weights, cost_matrix, reg=float(epsilon),
                                method="sinkhorn_log", numItermax=int(max_iter), stopThr=tol,
                                log=True)
    if not np.all(np.isfinite(plan)):
        raise RuntimeError(f"Sinkhorn returned a non-finite plan with epsilon={epsilon} on {n} "
                           "points; raise epsilon.")
    error = float(np.abs(plan.sum(axis=0) - weights).sum()
                  + np.abs(plan.sum(axis=1) - weights).sum())
    if log["err"] and log["err"][-1] > tol:
        warnings.warn(
            f"Sinkhorn did not converge in max_iter={max_iter} iterations with "
            f"epsilon={epsilon} on {n} points: the plan's marginals are off by {error:.2e} in L1 "
            f"(tol={tol}), so the entropic term is approximate; raise max_iter or epsilon (small "
            "epsilon against the squared distances converges slowly).",
            RuntimeWarning, stacklevel=2,
        )
    return transport_cost - float(np.sum(plan * cost_matrix))


# ----------------------------------------------------------------------------------------------
# Attention as a coupling (Sinkformers)
# ----------------------------------------------------------------------------------------------


def attention_coupling_metrics(attention, logits=None, index_names=None, max_iter=1000,
                               tol=1e-9, row_tol=1e-4):
    """Attention matrices read as couplings: distance from doubly stochastic and from Sinkhorn.

    A row-stochastic attention matrix :math:`A = \\operatorname{softmax}(L)` of shape
    ``(T, T)``, with logits :math:`L = QK^\\top / \\sqrt{d_k}`, divided by ``T`` is a coupling
    whose rows have the uniform marginal ``1/T``: one step of Sinkhorn's algorithm for the cost
    :math:`-L` with :math:`\\varepsilon = 1`. Sinkformers (Sander et al., 2022) iterate to the
    doubly stochastic plan :math:`P` with both marginals uniform. Per matrix:

    - ``column_deviation`` = :math:`\\tfrac12 \\sum_j \\big| \\tfrac1T \\sum_i A_{ij} -
      \\tfrac1T \\big|`: the total-variation distance between the column marginal of
      :math:`A/T` and the uniform one, in :math:`[0, 1 - 1/T]`; 0 iff :math:`A` is doubly
      stochastic (chosen over a max deviation because it has the same units as the next one);
    - ``tv_to_sinkhorn`` (with ``logits``) = :math:`\\tfrac12 \\sum_{ij} |A_{ij}/T - P_{ij}|`,
      in [0, 1], where :math:`P` is the Sinkhorn plan for cost :math:`-L`, :math:`\\varepsilon =
      1` and uniform marginals (:func:`~otcompanion.ot_solvers.sinkhorn_uniform_plan`).
      Projecting a coupling on its column marginal does not increase total variation, so it is
      >= ``column_deviation``;
    - ``sinkhorn_error`` (with ``logits``): the L1 marginal error of :math:`P` (at most ``tol``
      unless ``max_iter`` was reached, in which case a ``RuntimeWarning`` is also issued).

    Parameters
    ----------
    attention : array-like of shape (..., T, S)
        Row-stochastic matrices (softmax over the last axis), e.g. ``(epochs, instances, heads,
        T, T)``; self-attention has ``S = T``, the uniform column marginal is ``1/S``.
    logits : array-like of the same shape, optional
        The pre-softmax scores :math:`QK^\\top / \\sqrt{d_k}` the attention came from.
    index_names : sequence of str, optional
        Names of the leading axes (e.g. ``("epoch", "instance", "head")``); by default
        ``axis_0``, ``axis_1``, ….
    max_iter, tol : Sinkhorn settings, see :func:`~otcompanion.ot_solvers.sinkhorn_uniform_plan`.
    row_tol : float, default 1e-4
        Tolerance on the row sums of ``attention`` (float32 softmax is exact to about 1e-7).

    Returns
    -------
    pandas.DataFrame
        One row per matrix (C order of the leading axes): one column per leading axis with the
        matrix's index, then ``column_deviation`` and, with ``logits``, ``tv_to_sinkhorn`` and
        ``sinkhorn_error``.
    """
    A = np.asarray(attention, dtype=float)
    if A.ndim < 2 or 0 in A.shape:
        raise ValueError(f"attention must have shape (..., T, T) with T >= 1; got {A.shape}.")
    if not np.all(np.isfinite(A)):
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(A))[0][:-2])
        raise ValueError(f"attention contains NaN or infinite values (first in matrix {first}).")
    negative = A < -row_tol
    row_sums = A.sum(axis=-1)
    bad_rows = np.abs(row_sums - 1.0) > row_tol
    if negative.any() or bad_rows.any():
        where = np.argwhere(negative)[0][:-1] if negative.any() else np.argwhere(bad_rows)[0]
        matrix, row = tuple(int(i) for i in where[:-1]), int(where[-1])
        raise ValueError(
            f"attention must be row-stochastic (non-negative, rows summing to 1: a softmax over "
            f"the last axis); matrix {matrix} row {row} has sum {row_sums[tuple(where)]:.6g}"
            f"{' and negative entries' if negative.any() else ''}."
        )
    lead = A.shape[:-2]
    T, S = A.shape[-2:]
    if index_names is None:
        index_names = [f"axis_{k}" for k in range(len(lead))]
    index_names = list(index_names)
    if len(index_names) != len(lead):
        raise ValueError(f"index_names has {len(index_names)} names for the {len(lead)} leading "
                         f"axes of attention with shape {A.shape}.")
    coupling = A / T
    indices = np.indices(lead).reshape(len(lead), -1) if lead else []
    frame = pd.DataFrame({name: index for name, index in zip(index_names, indices)},
                         index=pd.RangeIndex(int(np.prod(lead))))  # prod(()) = 1 matrix
    frame["column_deviation"] = (0.5 * np.abs(coupling.sum(axis=-2) - 1.0 / S).sum(axis=-1)
                                 ).ravel()
    if logits is not None:
        L = np.asarray(logits, dtype=float)
        if L.shape != A.shape:
            raise ValueError(f"logits must have the shape of attention {A.shape}; got {L.shape}.")
        if not np.all(np.isfinite(L)):
            first = tuple(int(i) for i in np.argwhere(~np.isfinite(L))[0][:-2])
            raise ValueError(f"logits contain NaN or infinite values (first in matrix {first}).")
        plan, error = sinkhorn_uniform_plan(-L, epsilon=1.0, max_iter=max_iter, tol=tol)
        frame["tv_to_sinkhorn"] = (0.5 * np.abs(coupling - plan).sum(axis=(-2, -1))).ravel()
        frame["sinkhorn_error"] = np.asarray(error).ravel()
        if np.max(error) > tol:
            warnings.warn(f"Sinkhorn did not reach tol={tol} in max_iter={max_iter} iterations "
                          f"for {int(np.sum(error > tol))} of {error.size} matrices (largest "
                          f"marginal error {np.max(error):.2e}); see the sinkhorn_error column.",
                          RuntimeWarning, stacklevel=2)
    return frame
