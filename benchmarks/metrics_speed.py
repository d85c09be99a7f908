"""Time of the OT metrics of one thesis-size run: the previous method against the current one.

Usage::

    .venv/bin/python benchmarks/metrics_speed.py [--repeats 5] [--n-jobs 2]

It trains the thesis Transformer once per task (level 2; 2 classes with seed 0, 3 classes with
seed 1; 45 training instances of 20 tokens, so classes of 300 to 460 points in d = 2, and up to
200 recorded epochs) and then measures, in one process, side by side and on one thread:

- ``previous``: the method the metrics used before, written out below as the reference: exact OT
  with ``ot.emd`` on the full ``n x n`` plan for every pair of consecutive recorded epochs (the
  W2 path) and for the start against every evaluated epoch;
- ``current``: :func:`otcompanion.metrics.metric_curves` at chapter 02's 20 evenly spaced epochs
  (:func:`otcompanion.experiments.curve_steps`), and :func:`otcompanion.metrics.w2_path_efficiency`
  of the whole trajectory, which compute the same W2 values and everything else besides.

The reference covers only the OT solves, the part that dominated; the current times are those of
the whole public functions. It prints the median time over ``--repeats`` repetitions (the first,
which warms caches up, is not counted), the ratio, and the largest relative difference between
the W2 values of the two methods (0 when both find the same optimal plans: the reference computes
every value with the same arithmetic as the metrics), then the curves' share of chapter 02's thesis
profile (2 tasks x 4 levels x 100 repetitions) with ``--n-jobs`` processes.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import ot
import pandas as pd
from scipy.spatial.distance import cdist

from otcompanion import data, experiments, metrics
from otcompanion.attention import train_transformer


def emd_cost(source, target):
    """Exact OT cost (a sum over points) with ``ot.emd`` on the full plan: the previous method."""
    n = len(source)
    cost_matrix = cdist(source, target, "sqeuclidean")
    ones = np.ones(n)
    plan = ot.emd(ones, ones, cost_matrix, numItermax=max(100_000, 50 * n * n))
    return float(cost_matrix[np.arange(n), np.argmax(plan, axis=1)].sum())


def previous_w2(trajectory, labels, ends):
    """Per class, the W2 path up to every step and the OT cost from the start to ``ends``.

    Returns ``{class: (w2_path, start_costs)}``: ``w2_path[t]`` is the sum of W2 between the
    uniform class measures of consecutive steps up to ``t``, and ``start_costs`` the OT cost (a sum
    over points) from the start to each step of ``ends``, capped by the identity's cost as the
    metrics do (the cap only removes rounding noise).
    """
    steps = np.asarray(trajectory, dtype=float)
    points = steps.reshape(len(steps), -1, steps.shape[-1])
    point_labels = np.repeat(labels, steps.shape[2])
    result = {}
    for c in np.unique(point_labels):
        cloud = points[:, point_labels == c]
        n_c = cloud.shape[1]
        w2_steps = [np.sqrt(emd_cost(cloud[t], cloud[t + 1]) / n_c) for t in range(max(ends))]
        start_costs = [min(emd_cost(cloud[0], cloud[t]), float(np.sum((cloud[t] - cloud[0]) ** 2)))
                       for t in ends]
        result[c] = (np.concatenate([[0.0], np.cumsum(w2_steps)]), np.array(start_costs))
    return result


def relative_difference(values, expected):
    values, expected = np.asarray(values, dtype=float), np.asarray(expected, dtype=float)
    return float(np.max(np.abs(values - expected) / np.maximum(np.abs(expected), 1e-300)))


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def measure(trajectory, labels, repeats):
    """Median seconds of the two methods for the curves and the W2 path efficiency."""
    last = len(trajectory) - 1
    ends = experiments.curve_steps(last, 20, horizon=200)
    seconds = {key: [] for key in ("curves previous", "curves current", "w2 previous",
                                   "w2 current")}
    for repeat in range(repeats + 1):
        previous_curves, curves_old = timed(previous_w2, trajectory, labels, ends)
        (curves, by_class), curves_new = timed(metrics.metric_curves, trajectory, labels,
                                               per_class=True, steps=ends)
        previous_path, w2_old = timed(previous_w2, trajectory, labels, [last])
        (value, table), w2_new = timed(metrics.w2_path_efficiency, trajectory, labels,
                                       per_class=True)
        if repeat > 0:
            for key, time_taken in zip(seconds, (curves_old, curves_new, w2_old, w2_new)):
                seconds[key].append(time_taken)
    # Same W2 values: the curves' W(mu_0, mu_t) and W2 path efficiency per class and step, and
    # the whole-trajectory W2 path length per class.
    difference = 0.0
    for c, (w2_path, start_costs) in previous_curves.items():
        rows = by_class[by_class["class"] == c]
        n_c = rows["n_points"].iloc[0]
        difference = max(difference,
                         relative_difference(rows["wasserstein"], np.sqrt(start_costs)),
                         relative_difference(rows["w2_path_efficiency"],
                                             np.sqrt(start_costs / n_c) / w2_path[ends]))
        w2_path, start_costs = previous_path[c]
        row = table[table["class"] == c]
        difference = max(difference,
                         relative_difference(row["w2_path_length"], w2_path[-1:]),
                         relative_difference(row["w2_start_end"], np.sqrt(start_costs / n_c)))
    return {key: statistics.median(values) for key, values in seconds.items()}, difference


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions per task")
    parser.add_argument("--n-jobs", type=int, default=2,
                        help="worker processes assumed in the thesis-profile estimate")
    arguments = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"python {platform.python_version()}, POT {ot.__version__}; one thread")
    rows = []
    for n_classes, seed in ((2, 0), (3, 1)):
        X_train, X_test, y_train, y_test = data.thesis_split(n_classes, 2, seed=seed)
        fit = train_transformer(X_train, y_train, X_test, y_test, seed=seed, n_threads=1,
                                attention_every=0)
        trajectory, labels = fit.trace.trajectory, np.asarray(fit.trace.labels)
        seconds, difference = measure(trajectory, labels, arguments.repeats)
        sizes = sorted({int(size) for size in np.bincount(labels) * np.shape(trajectory[0])[1]})
        task = (f"{n_classes} classes ({len(trajectory) - 1} epochs, "
                f"{'-'.join(map(str, sizes))} points per class)")
        for quantity, key in (("metric_curves (20 epochs)", "curves"),
                              ("w2_path_efficiency", "w2")):
            rows.append({"task": task, "quantity": quantity,
                         "previous s": seconds[f"{key} previous"],
                         "current s": seconds[f"{key} current"],
                         "max rel. diff. W2": difference})
    table = pd.DataFrame(rows).set_index(["task", "quantity"])
    table["ratio"] = table["previous s"] / table["current s"]
    print(f"\nMedian seconds over {arguments.repeats} repetitions; previous = ot.emd on every "
          "pair (OT solves only), current = the whole public function:\n")
    print(table[["previous s", "current s", "ratio", "max rel. diff. W2"]].to_string(
        float_format=lambda value: f"{value:.3g}"))

    curves = table.xs("metric_curves (20 epochs)", level="quantity")
    runs = 2 * 4 * experiments.PROFILES["thesis"]["n_repetitions"]
    for column in ("previous s", "current s"):
        per_run = curves[column].mean()
        print(f"\nChapter 02 thesis profile, {column.split()[0]} method: {runs} runs x "
              f"{per_run:.2f} s of 20-epoch curves / {arguments.n_jobs} processes = "
              f"{runs * per_run / arguments.n_jobs / 60:.1f} min", end="")
    print()


if __name__ == "__main__":
    main()
