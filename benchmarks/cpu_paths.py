"""What pinning the processor code paths costs a thesis-size fit (otcompanion.cpu_paths).

Usage::

    .venv/bin/python benchmarks/cpu_paths.py [--rounds 5]

Each round fits the thesis Transformer (3 classes, level 1, 200 epochs, one thread) twice, each
time in a fresh process: once with the code paths :mod:`otcompanion.cpu_paths` pins, once with
the processor's own (``OTCOMPANION_NATIVE_CPU=1``, ``MKL_CBWR`` and ``ATEN_CPU_CAPABILITY``
unset), alternating which goes first. It prints the median fit time of both and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

FIT = """
import time
import otcompanion, torch
torch.set_num_threads(1)
from otcompanion import attention, data
X_train, X_test, y_train, y_test = data.thesis_split(3, 1, seed=5)
started = time.perf_counter()
attention.train_transformer(X_train, y_train, X_test, y_test, epochs=200, n_blocks=2,
                            n_heads=10, seed=1, attention_every=0)
print(time.perf_counter() - started)
"""


def fit_seconds(native):
    environment = {name: value for name, value in os.environ.items()
                   if name not in ("MKL_CBWR", "ATEN_CPU_CAPABILITY")}
    environment["OTCOMPANION_NATIVE_CPU"] = "1" if native else "0"
    output = subprocess.run([sys.executable, "-c", FIT], env=environment, check=True,
                            capture_output=True, text=True).stdout
    return float(output.split()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    times = {"pinned": [], "native": []}
    for index in range(rounds):
        order = ("pinned", "native") if index % 2 == 0 else ("native", "pinned")
        for name in order:
            times[name].append(fit_seconds(native=name == "native"))
        print(f"round {index + 1}/{rounds}: pinned {times['pinned'][-1]:.2f} s, "
              f"native {times['native'][-1]:.2f} s", flush=True)
    pinned, native = (statistics.median(times[name]) for name in ("pinned", "native"))
    print(f"\nmedian fit: pinned {pinned:.2f} s, native {native:.2f} s, "
          f"pinned / native {pinned / native:.2f}")


if __name__ == "__main__":
    main()
