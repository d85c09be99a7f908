"""Where a traced run's metrics spend their time, part by part, for this tree and another.

Usage::

    .venv/bin/python benchmarks/metrics_parts.py [--runs 6] [--against DIR]

For ``--runs`` thesis-size traced runs (chapter 02's setups in turn: 2 and 3 classes, levels
1-4, 200 epochs, one thread) it fits the Transformer, then times each part of the metrics of
:func:`otcompanion.experiments.traced_run`, in its order:

- ``curves``: :func:`otcompanion.metrics.metric_curves` at the chapter's grid of epochs (the
  exact OT from the start to every grid epoch, and between every pair of consecutive epochs
  for the W2 path);
- ``other start``: the thesis's metrics and straightness of the trajectory from the first epoch;
- ``references``: :func:`otcompanion.metrics.map_metrics` of the trained map and the null maps
  of :func:`otcompanion.experiments.reference_maps`;
- ``sublayers``: :meth:`otcompanion.attention.Trace.sublayer_moves`;

and counts the exact solver runs (scipy's ``linear_sum_assignment``, POT's ``ot.emd``) behind
them. With ``--against DIR`` (a git worktree of another commit, e.g. ``git worktree add
../base a77d9c7``) every run is measured by both trees in turn, each in a fresh process, the
same run one after the other, so that both see the same machine load; the metric values of
both trees are compared, and the table prints both and their ratio.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ["OTCOMPANION_NO_CACHE"] = "1"

import ot  # noqa: E402  (the cache switch must be set first)
import scipy.optimize  # noqa: E402

from otcompanion import attention, data, experiments, metrics  # noqa: E402

SETUPS = [(n_classes, level) for level in (1, 2, 3, 4) for n_classes in (2, 3)]
PARTS = ("fit", "curves", "other start", "references", "sublayers", "metrics")


def measure(n_classes, level, repetition):
    """Part timings (seconds), solver calls and metric values of one traced run."""
    # The module that calls the solvers: metrics itself before ot_solvers existed.
    solvers = (metrics if hasattr(metrics, "linear_sum_assignment")
               else importlib.import_module("otcompanion.ot_solvers"))
    calls = {"linear_sum_assignment": 0, "emd": 0}

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return wrapper

    solvers.linear_sum_assignment = counted("linear_sum_assignment",
                                            scipy.optimize.linear_sum_assignment)
    ot.emd = counted("emd", ot.emd)
    run = experiments.run_seed(0, n_classes, level, repetition)
    X_train, X_test, y_train, y_test = data.thesis_split(n_classes, level, seed=run)
    seconds = {}
    started = time.perf_counter()
    fit = attention.train_transformer(X_train, y_train, X_test, y_test, epochs=200,
                                      n_blocks=2, n_heads=10, seed=run, attention_every=0)
    seconds["fit"] = time.perf_counter() - started
    trace = fit.trace
    values = {}
    started = time.perf_counter()
    trajectory = trace.trajectory_from("input")
    steps = sorted(set(experiments.curve_steps(len(trajectory) - 1, 10, horizon=200)))
    curves = metrics.metric_curves(trajectory, trace.labels, steps=steps)
    values["curves"] = curves.to_numpy().tolist()
    seconds["curves"] = time.perf_counter() - started
    started = time.perf_counter()
    if trace.best_epoch >= 3:
        other = trace.trajectory_from("first_epoch")
        values["other start"] = [metrics.thesis_metrics(other, trace.labels),
                                 metrics.straightness(other)]
    seconds["other start"] = time.perf_counter() - started
    started = time.perf_counter()
    values["references"] = [metrics.map_metrics(trace.inputs, mapped, trace.labels)
                            for mapped in experiments.reference_maps(trace, seed=run).values()]
    seconds["references"] = time.perf_counter() - started
    started = time.perf_counter()
    values["sublayers"] = trace.sublayer_moves().to_numpy().tolist()
    seconds["sublayers"] = time.perf_counter() - started
    seconds["metrics"] = sum(seconds[part] for part in PARTS[1:5])
    return {"seconds": seconds, "calls": calls,
            "values": json.loads(json.dumps(values, default=float).replace("NaN", "null"))}


def in_fresh_process(tree, setup):
    """:func:`measure` run by the package of ``tree``, in a new process."""
    environment = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    output = subprocess.run([sys.executable, __file__, "--one", *map(str, setup)],
                            env=environment, check=True, capture_output=True, text=True).stdout
    return json.loads(output.splitlines()[-1])


def table(results):
    """Median seconds per part and total solver calls, per tree."""
    names = list(results)
    print(f"\n{'part (median s per run)':<26}" + "".join(f"{name:>14}" for name in names)
          + ("   ratio" if len(names) == 2 else ""))
    for part in PARTS:
        medians = [statistics.median(r["seconds"][part] for r in results[name])
                   for name in names]
        ratio = f"   {medians[1] / medians[0]:.2f}" if len(names) == 2 and medians[0] else ""
        print(f"{part:<26}" + "".join(f"{m:>14.3f}" for m in medians) + ratio)
    for solver in ("linear_sum_assignment", "emd"):
        totals = [sum(r["calls"][solver] for r in results[name]) for name in names]
        print(f"{solver + ' calls (all runs)':<26}" + "".join(f"{t:>14d}" for t in totals))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6, help="traced runs (default 6)")
    parser.add_argument("--against", metavar="DIR", help="another tree to measure beside this")
    parser.add_argument("--one", nargs=3, type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.one:
        print(json.dumps(measure(*arguments.one)))
        return
    this = Path(__file__).resolve().parents[1]
    trees = {"this tree": this}
    if arguments.against:
        trees = {"other tree": Path(arguments.against).resolve(), "this tree": this}
    results = {name: [] for name in trees}
    for index in range(arguments.runs):
        n_classes, level = SETUPS[index % len(SETUPS)]
        setup = (n_classes, level, index // len(SETUPS))
        for name, tree in trees.items():
            results[name].append(in_fresh_process(tree, setup))
        line = "  ".join(f"{name} {results[name][-1]['seconds']['metrics']:.2f} s"
                         for name in trees)
        print(f"run {index + 1}/{arguments.runs} {setup}: metrics {line}", flush=True)
    if arguments.against:
        same = all(a["values"] == b["values"] for a, b in zip(*results.values()))
        print("metric values of both trees identical on every run:", same)
    table(results)


if __name__ == "__main__":
    main()
