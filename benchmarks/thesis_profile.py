"""Wall time of chapter 02's grid at the thesis's scale, measured.

Usage::

    .venv/bin/python benchmarks/thesis_profile.py [--repetitions 100] [--scheduler local]

Runs what chapter 02 runs with ``profile="thesis"``: both tasks (2 and 3 classes) at levels 1-4,
``--repetitions`` traced thesis-size runs per setup (the thesis: 100, i.e. 800 runs), each a
200-epoch fit of the thesis Transformer followed by the thesis metrics and the metric curves
at the 10 epochs the chapter plots (:func:`otcompanion.experiments.transformer_grid`), on
``--scheduler`` (default ``"local"``: one worker process per core). The run cache is bypassed
(``OTCOMPANION_NO_CACHE=1``), so every run is computed. It prints the wall time, the time per
run, and the projection to 100 repetitions when fewer were run.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ["OTCOMPANION_NO_CACHE"] = "1"

from otcompanion import engine, experiments  # noqa: E402  (the cache switch must be set first)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=100,
                        help="runs per setup (the thesis: 100)")
    parser.add_argument("--scheduler", default="local",
                        help='"local", a number of worker processes, or a Dask address')
    arguments = parser.parse_args()
    scheduler = engine.check_scheduler(arguments.scheduler)
    settings = experiments.resolve_profile("thesis", n_repetitions=arguments.repetitions)
    workers = engine.worker_count(scheduler) or "cluster"
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"scheduler {scheduler!r} ({workers} workers); settings {settings}")
    started = time.perf_counter()
    summary, _ = experiments.transformer_grid(
        (2, 3), (1, 2, 3, 4), settings["n_repetitions"], seed=0, scheduler=scheduler,
        epochs=settings["epochs"], n_blocks=settings["n_blocks"])
    seconds = time.perf_counter() - started
    runs = len(summary)
    full = 8 * 100 * seconds / runs
    print(f"\n{'runs':>28}: {runs}")
    print(f"{'wall time':>28}: {seconds / 60:.2f} min")
    print(f"{'wall time per run':>28}: {seconds / runs:.2f} s")
    print(f"{'fit per run (median)':>28}: {summary['fit_seconds'].median():.2f} s")
    print(f"{'metrics per run (median)':>28}: {summary['metrics_seconds'].median():.2f} s")
    print(f"{'thesis profile (800 runs)':>28}: {full / 60:.1f} min "
          f"({'measured' if runs == 800 else 'projected from the runs above'}); target <= 15")


if __name__ == "__main__":
    main()
