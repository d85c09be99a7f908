"""Time of one thesis-size Transformer fit and of the OT metrics on its trace, side by side.

Usage::

    .venv/bin/python benchmarks/transformer_speed.py [--repeats 3] [--n-jobs 2]

For each task (2 and 3 classes, level 2, the thesis's 45 training instances of 20 tokens) it
measures, in one process and one run, on one torch thread:

- ``fit``: :func:`otcompanion.attention.train_transformer` with the thesis protocol (2 blocks,
  200 epochs, trace recorded);
- ``thesis_metrics``: the seven thesis metrics of the whole trajectory;
- ``w2_path_efficiency`` and ``straightness``: the scale-consistent path metrics;
- ``metric_curves (20 epochs)``: what chapter 02 computes per run;
- ``metric_curves (every epoch)``: the full curves, for comparison.

It prints the median over ``--repeats`` repetitions, the ratio of every step to the fit, and
the estimated wall time of chapter 02's thesis profile (2 tasks x 4 levels x 100 repetitions,
each run = fit + 20-epoch curves) with ``--n-jobs`` worker processes.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import pandas as pd

from otcompanion import data, experiments, metrics
from otcompanion.attention import train_transformer


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def measure(n_classes, level, seed):
    X_train, X_test, y_train, y_test = data.thesis_split(n_classes, level, seed=seed)
    fit, fit_seconds = timed(train_transformer, X_train, y_train, X_test, y_test, seed=seed,
                             n_threads=1)
    trajectory, labels = fit.trace.trajectory, fit.trace.labels
    last = len(trajectory) - 1
    times = {"fit": fit_seconds}
    _, times["thesis_metrics"] = timed(metrics.thesis_metrics, trajectory, labels)
    _, times["straightness"] = timed(metrics.straightness, trajectory)
    _, times["w2_path_efficiency"] = timed(metrics.w2_path_efficiency, trajectory, labels)
    _, times["metric_curves (20 epochs)"] = timed(
        metrics.metric_curves, trajectory, labels,
        steps=experiments.curve_steps(last, 20, horizon=200))
    _, times["metric_curves (every epoch)"] = timed(metrics.metric_curves, trajectory, labels)
    return times, fit.best_epoch


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="repetitions per task")
    parser.add_argument("--n-jobs", type=int, default=2,
                        help="worker processes assumed in the thesis-profile estimate")
    arguments = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"python {platform.python_version()}; one torch thread per fit")
    rows = []
    for n_classes in (2, 3):
        for repeat in range(arguments.repeats):
            times, best_epoch = measure(n_classes, 2, seed=repeat)
            rows += [{"task": f"{n_classes} classes", "step": step, "seconds": seconds,
                      "best_epoch": best_epoch} for step, seconds in times.items()]
    frame = pd.DataFrame(rows)
    table = frame.groupby(["task", "step"], sort=False)["seconds"].median().unstack("task")
    for task in table.columns:
        table[f"{task} / fit"] = table[task] / table.loc["fit", task]
    print(f"\nMedian seconds over {arguments.repeats} repetitions (level 2, thesis size), and "
          "the ratio of each step to the fit:\n")
    print(table.round(3).to_string())

    per_run = statistics.mean(
        table.loc["fit", task] + table.loc["metric_curves (20 epochs)", task]
        for task in ("2 classes", "3 classes"))
    runs = 2 * 4 * experiments.PROFILES["thesis"]["n_repetitions"]
    print(f"\nChapter 02 thesis profile: {runs} runs x {per_run:.2f} s per run "
          f"(fit + 20-epoch curves) / {arguments.n_jobs} processes = "
          f"{runs * per_run / arguments.n_jobs / 60:.1f} min "
          "(plus worker start-up; levels other than 2 differ slightly).")


if __name__ == "__main__":
    main()
