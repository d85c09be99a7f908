"""Speed-up of a grid of traced runs from 1 to 2 workers, on joblib and on a Dask LocalCluster.

Usage::

    .venv/bin/python benchmarks/grid_scaling.py [--repetitions 2] [--epochs 200]

Runs the same grid (both tasks, levels 1-4, ``--repetitions`` traced thesis-size runs per
setup, :func:`otcompanion.experiments.transformer_grid`) four times in one process: on 1 and 2
local joblib workers, and on a ``distributed.LocalCluster`` with 1 and 2 single-thread worker
processes (cluster start-up excluded, worker start-up included). The run cache is off, so every
run is computed. It prints a table of wall times and the 2-worker speed-ups, and checks that
every scheduler gave the same numbers. Run it on an otherwise idle machine with at least 2
cores: the ratio measures the machine as much as the code.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ["OTCOMPANION_NO_CACHE"] = "1"

import pandas as pd  # noqa: E402

from otcompanion import experiments  # noqa: E402  (the cache switch must be set first)

TIMES = ["fit_seconds", "metrics_seconds"]


def timed_grid(scheduler, arguments):
    started = time.perf_counter()
    summary, _ = experiments.transformer_grid(
        (2, 3), (1, 2, 3, 4), arguments.repetitions, seed=0, scheduler=scheduler,
        epochs=arguments.epochs, progress=False)
    return time.perf_counter() - started, summary.drop(columns=TIMES)


def main():
    from distributed import LocalCluster  # noqa: PLC0415  (optional: the dask extra)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=2, help="runs per setup")
    parser.add_argument("--epochs", type=int, default=200)
    arguments = parser.parse_args()
    rows, reference = [], None
    for engine_name, workers in (("joblib", 1), ("joblib", 2), ("dask", 1), ("dask", 2)):
        if engine_name == "joblib":
            seconds, summary = timed_grid(workers, arguments)
        else:
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None, silence_logs=40) as cluster:
                seconds, summary = timed_grid(cluster.scheduler_address, arguments)
        if reference is None:
            reference = summary
        pd.testing.assert_frame_equal(summary, reference)  # same numbers on every scheduler
        rows.append({"engine": engine_name, "workers": workers, "runs": len(summary),
                     "wall time (s)": round(seconds, 1)})
    table = pd.DataFrame(rows)
    one = table[table["workers"] == 1].set_index("engine")["wall time (s)"]
    table["speed-up vs 1 worker"] = [round(one[e] / s, 2) for e, s in
                                     zip(table["engine"], table["wall time (s)"])]
    print(f"{os.cpu_count()} cores; {arguments.repetitions} repetitions x 8 setups, "
          f"{arguments.epochs} epochs; every scheduler gave identical numbers")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
