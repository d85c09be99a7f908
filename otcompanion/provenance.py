"""What produced a chapter's numbers: its parameters, package versions, threads and wall time."""

from __future__ import annotations

import os
import platform
import sys
import time
from importlib import metadata

import pandas as pd

from otcompanion import cpu_paths

PACKAGES = ("otcompanion", "numpy", "scipy", "pandas", "scikit-learn", "POT", "torch",
            "matplotlib", "seaborn", "papermill")


def provenance(parameters, started):
    """A two-column table describing one chapter run, for its closing cell.

    Parameters
    ----------
    parameters : dict
        The chapter's parameter values as used.
    started : float
        ``time.perf_counter()`` taken at the start of the chapter.

    Returns
    -------
    DataFrame
        Columns ``item`` and ``value``: every parameter, the Python and package versions, the
        thread settings (torch intra-op threads if torch is loaded) and the wall time.
    """
    rows = [(f"parameter {name}", repr(value)) for name, value in parameters.items()]
    rows.append(("python", platform.python_version()))
    for package in PACKAGES:
        try:
            rows.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            rows.append((package, "not installed"))
    torch = sys.modules.get("torch")
    if torch is not None:
        rows.append(("torch intra-op threads", str(torch.get_num_threads())))
    rows.extend(cpu_paths.settings())
    rows.append(("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "unset")))
    rows.append(("CPU cores", str(os.cpu_count())))
    rows.append(("platform", platform.platform()))
    rows.append(("wall time", f"{time.perf_counter() - started:.1f} s"))
    return pd.DataFrame(rows, columns=["item", "value"])
