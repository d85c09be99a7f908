"""Time of a traced thesis-size Transformer fit against the code it replaced, and of the OT
metrics on its trace, side by side in one run.

Usage::

    .venv/bin/python benchmarks/transformer_speed.py [--repeats 3] [--baseline REV]

Table 1, the fit. A traced thesis-size fit (``thesis_split(k, 2, seed)``: 45 training instances
of 20 tokens, d = 2; 2 blocks, 10 heads, key_dim 16, 200 epochs, validation split, the trace
recorded every epoch), one torch thread, each variant in a fresh subprocess, alternating:

- ``baseline``: the package as it was at git revision ``--baseline`` (default ``0931502``, the
  last revision before the factored attention and the shared training loop), exported with
  ``git archive`` into a temporary folder;
- ``reference model``: today's training loop with the reference formulation of the attention
  (``tests/reference_transformer.py``: projections of width ``H * key_dim``), which the
  equivalence tests compare with the factored one;
- ``current``: the package as it is.

Each subprocess fits twice: the first fit pays the process's one-off costs (lazy imports, the
first calls into torch's kernels), the second does not; both are shown.

Table 2, the metrics on the trace of a current fit: the thesis metrics, straightness, the W2
path efficiency, the metric curves at the 10 epochs chapter 02 evaluates and everything else
chapter 02 measures per run, with their ratio
to the fit, and the resulting estimate of chapter 02's thesis profile per worker.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import pandas as pd
import torch

from otcompanion import data, experiments, metrics
from otcompanion.attention import train_transformer

ROOT = Path(__file__).resolve().parents[1]

#: Times one traced fit in the interpreter that runs it; prints JSON.
FIT_SCRIPT = """
import json, sys, time, torch
torch.set_num_threads(1)
from otcompanion import data
from otcompanion.attention import train_transformer
n_classes, seed, variant = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
X_train, X_test, y_train, y_test = data.thesis_split(n_classes, 2, seed=seed)
options = dict(seed=seed, attention_every=0)
if variant == "reference model":
    sys.path.insert(0, sys.argv[4])
    from reference_transformer import ReferenceThesisTransformer
    torch.manual_seed(seed)
    options["model"] = ReferenceThesisTransformer(2, n_classes)
seconds = []
for _ in range(2):  # the first fit in a fresh process, then the same fit again
    started = time.perf_counter()
    fit = train_transformer(X_train, y_train, X_test, y_test, **options)
    seconds.append(time.perf_counter() - started)
print(json.dumps({"first fit": seconds[0], "next fit": seconds[1]}))
"""


def export_revision(revision, folder):
    """Write the package as it was at ``revision`` into ``folder`` (``git archive``)."""
    archive = subprocess.run(["git", "archive", revision, "otcompanion"], cwd=ROOT,
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")


def time_fit(variant, n_classes, seed, baseline_folder):
    environment = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if variant == "baseline":
        environment["PYTHONPATH"] = str(baseline_folder)
        cwd = baseline_folder
    else:
        environment.pop("PYTHONPATH", None)
        cwd = ROOT
    result = subprocess.run(
        [sys.executable, "-c", FIT_SCRIPT, str(n_classes), str(seed), variant,
         str(ROOT / "tests")], cwd=cwd, env=environment, check=True, capture_output=True,
        text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def metric_times(n_classes, seed):
    torch.set_num_threads(1)
    X_train, X_test, y_train, y_test = data.thesis_split(n_classes, 2, seed=seed)
    fit, fit_seconds = timed(train_transformer, X_train, y_train, X_test, y_test, seed=seed,
                             attention_every=0)
    trajectory, labels = fit.trace.trajectory, fit.trace.labels
    last = len(trajectory) - 1
    times = {"fit": fit_seconds}
    _, times["thesis_metrics"] = timed(metrics.thesis_metrics, trajectory, labels)
    _, times["straightness"] = timed(metrics.straightness, trajectory)
    _, times["w2_path_efficiency"] = timed(metrics.w2_path_efficiency, trajectory, labels)
    _, times["metric_curves (10 epochs)"] = timed(
        metrics.metric_curves, trajectory, labels,
        steps=experiments.curve_steps(last, 10, horizon=200))
    # Everything chapter 02 computes for one run besides the fit (curves, both trajectory
    # starts, the reference maps, the sublayer moves), without the run cache; the run times
    # its metrics itself (another fit: chapter 02's seeds).
    run = experiments._traced_run(
        n_classes=n_classes, level=2, repetition=seed, seed=0, epochs=200, n_blocks=2,
        n_heads=10, n_instances=90, n_tokens=20, curve_points=10, trajectory_start="input",
        optimizer="rmsprop", lr=1e-2)
    times["chapter 02 run, all metrics"] = run["summary"]["metrics_seconds"]
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="fits per variant and task")
    parser.add_argument("--baseline", default="0931502",
                        help="git revision of the code the fit is compared with")
    arguments = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"python {platform.python_version()}; one torch thread per fit\n")
    variants = ["baseline", "reference model", "current"]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        export_revision(arguments.baseline, folder)
        for repeat in range(arguments.repeats):
            for n_classes in (2, 3):
                for variant in variants:
                    result = time_fit(variant, n_classes, repeat, folder)
                    rows.append({"task": f"{n_classes} classes", "variant": variant,
                                 **result})
    fits = pd.DataFrame(rows).melt(["task", "variant"], var_name="fit", value_name="seconds")
    table = fits.groupby(["variant", "fit", "task"], sort=False)["seconds"].median()
    table = table.unstack("task").loc[variants]
    for task in list(table.columns):
        baseline = table.loc["baseline", task]
        table[f"{task}: baseline / variant"] = [
            baseline.loc[fit] / seconds for (_, fit), seconds in table[task].items()]
    print(f"Traced thesis-size fit (200 epochs, trace every epoch), median seconds over "
          f"{arguments.repeats} seeds; baseline = revision {arguments.baseline}. 'first fit': "
          "the first in a fresh process (what one fit costs a user), 'next fit': the same fit "
          "again in that process (what every further fit of a worker costs):\n")
    print(table.round(2).to_string())

    rows = []
    for n_classes in (2, 3):
        for repeat in range(arguments.repeats):
            rows += [{"task": f"{n_classes} classes", "step": step, "seconds": seconds}
                     for step, seconds in metric_times(n_classes, repeat).items()]
    frame = pd.DataFrame(rows)
    steps = frame.groupby(["task", "step"], sort=False)["seconds"].median().unstack("task")
    for task in list(steps.columns):
        steps[f"{task} / fit"] = steps[task] / steps.loc["fit", task]
    print(f"\nCurrent code: a fit and the metrics of its trace, median seconds over "
          f"{arguments.repeats} seeds (level 2):\n")
    print(steps.round(3).to_string())
    per_run = statistics.mean(steps.loc["fit", task]
                              + steps.loc["chapter 02 run, all metrics", task]
                              for task in ("2 classes", "3 classes"))
    print(f"\nChapter 02's thesis profile: 800 runs x {per_run:.2f} s (fit + its metrics) "
          f"= {800 * per_run / 60:.1f} min on one worker, {800 * per_run / 2 / 60:.1f} min on "
          "two (benchmarks/thesis_profile.py measures it).")


if __name__ == "__main__":
    main()
