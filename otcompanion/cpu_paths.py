"""The processor code paths that decide torch's floating-point results, pinned.

torch's CPU kernels (ATen) and Intel MKL pick their code paths by processor: the vector width of
ATen's kernels (``ATEN_CPU_CAPABILITY``) and MKL's conditional numerical reproducibility branch
(``MKL_CBWR``; on AMD processors MKL takes another path by default than on Intel). Different
paths round differently in the last bit, and training amplifies the last bit into different
weights, best epochs and tables. So that the book gives the same numbers on every x86-64
processor with AVX2, importing :mod:`otcompanion` sets

- ``MKL_CBWR=AVX2`` (Intel, *Developer Reference for Intel oneMKL*, "Conditional Numerical
  Reproducibility"), and
- ``ATEN_CPU_CAPABILITY=avx2`` (PyTorch, ``aten/src/ATen/native/DispatchStub``),

in its own process, before torch is imported; worker processes (joblib, Dask's local cluster)
and papermill's kernels inherit them. Both settings are read when torch and MKL start, so when
torch was imported before :mod:`otcompanion` a warning says that fits may differ from the
book's. ``benchmarks/cpu_paths.py`` measures what pinning costs.

Set ``OTCOMPANION_NATIVE_CPU=1`` to keep the processor's own paths (faster on some machines,
not reproducible across machines). Only x86-64 is pinned: other processors have other paths.
numpy's OpenBLAS also chooses kernels by processor; it is left as it is.
"""

from __future__ import annotations

import os
import platform
import sys
import warnings

#: The settings :func:`pin` makes.
PINNED = {"MKL_CBWR": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}

#: The environment variable that turns pinning off (value ``1``).
OPT_OUT = "OTCOMPANION_NATIVE_CPU"

_warned = False


def applies():
    """Whether this process pins the code paths: an x86-64 processor, and no opt-out."""
    return (platform.machine().lower() in ("x86_64", "amd64")
            and os.environ.get(OPT_OUT, "").strip() != "1")


def pin():
    """Set :data:`PINNED` in this process's environment (see the module's docstring).

    Returns
    -------
    dict
        The settings that had another value before (name -> previous value or None).

    Warns
    -----
    RuntimeWarning
        Once per process, when torch was already imported with other settings: its code paths
        are fixed, and its fits may differ from the book's.
    """
    global _warned
    if not applies():
        return {}
    changed = {name: os.environ.get(name) for name, value in PINNED.items()
               if os.environ.get(name) != value}
    os.environ.update(PINNED)
    if changed and "torch" in sys.modules and not _warned:
        _warned = True
        warnings.warn(
            "torch was imported before otcompanion (directly, or by a library such as POT), "
            "with " + ", ".join(
                f"{name}={value!r}" for name, value in changed.items())
            + ": its processor code paths are already chosen, so fits may differ from the "
            "book's in the last bits and, through training, in their results. Import "
            f"otcompanion first, or set {', '.join(f'{k}={v}' for k, v in PINNED.items())} "
            "before starting Python.", RuntimeWarning, stacklevel=3)
    return changed


def settings():
    """The code-path settings of this process, as ``(name, value)`` rows for provenance."""
    rows = [(name, os.environ.get(name, "unset")) for name in PINNED]
    rows.append((OPT_OUT, os.environ.get(OPT_OUT, "unset")))
    torch = sys.modules.get("torch")
    if torch is not None:
        rows.append(("torch CPU capability", torch.backends.cpu.get_cpu_capability()))
    return rows
