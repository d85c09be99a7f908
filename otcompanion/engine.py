"""Where the runs of a grid execute, and the on-disk cache of runs.

Every grid of the book is a list of independent jobs (one training run each, seeded by its own
coordinates, see :func:`otcompanion.experiments.run_seed`), so it can run anywhere and give the
same numbers. :func:`run_jobs` sends the jobs to

- ``"local"``: joblib's ``loky`` process pool with one worker per CPU core of this machine;
- an integer ``n``: ``n`` local worker processes (``1`` runs the jobs one after the other in this
  process);
- a Dask scheduler address such as ``"tcp://10.0.0.5:8786"``: the workers of a Dask
  ``distributed`` cluster (started with ``dask scheduler`` and ``dask worker ADDRESS``; each
  worker needs this package installed).

Small torch models train fastest on one thread, and the thread count changes floating-point
results, so every fit of the package pins one torch thread (:func:`otcompanion._training.torch_session`)
and parallelism comes from processes. A job's result depends only on its arguments: the
scheduler changes the wall-clock time, never a number.

:func:`cached` wraps a run function in a ``joblib.Memory`` cache on disk, keyed by the run's
arguments and by a hash of the package's source code (:func:`code_hash`): a run that two
chapters need is computed once per build, and any change of a parameter or of the code misses
the cache. The folder is :func:`cache_dir`; setting ``OTCOMPANION_NO_CACHE=1`` (``otcompanion
build --no-cache``) turns the cache off.

References
----------
joblib (Parallel, Memory): https://joblib.readthedocs.io ; Dask distributed:
https://distributed.dask.org .
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

from joblib import Memory, Parallel, delayed
from tqdm import tqdm

from ._validation import check_bool, check_int

#: Dask scheduler addresses this module accepts (``protocol://host:port``).
_ADDRESS = re.compile(r"^(tcp|tls|ucx|inproc)://[^\s/]+$")

#: Seconds to wait for a Dask scheduler before reporting that none answered.
CONNECT_TIMEOUT = 10


def check_scheduler(scheduler):
    """Validate a ``scheduler`` value; returns ``"local"``, an ``int`` >= 1 or an address.

    Parameters
    ----------
    scheduler : "local", int or str
        ``"local"``, a number of worker processes (an ``int``, or a string of digits as given on
        the command line, ``-p scheduler 4``), or a Dask scheduler address ``"tcp://host:port"``.

    Raises
    ------
    TypeError
        Not a string or an integer.
    ValueError
        A number below 1, or a string that is neither ``"local"``, digits nor an address.
    """
    if isinstance(scheduler, str):
        text = scheduler.strip()
        if text == "local":
            return "local"
        if text.isdigit():
            return check_int(int(text), "scheduler", 1)
        if _ADDRESS.match(text):
            return text
        raise ValueError(f"scheduler must be 'local', a number of worker processes or a Dask "
                         f"scheduler address such as 'tcp://host:8786', got {scheduler!r}.")
    return check_int(scheduler, "scheduler", 1)


def local_cores():
    """CPU cores this process may use (its affinity mask where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def worker_count(scheduler):
    """Local worker processes of a scheduler: all cores for ``"local"``, ``n`` for ``n``, and
    ``None`` for a Dask address (the cluster decides)."""
    scheduler = check_scheduler(scheduler)
    if scheduler == "local":
        return local_cores()
    if isinstance(scheduler, int):
        return scheduler
    return None


def _labelled(function, job):
    return function(**job)


def _progress_bar(total, progress, description):
    # ``disable=None`` hides the bar where stderr is not a terminal: in a notebook executed by
    # papermill for the book, the rendered page shows no progress output.
    return tqdm(total=total, disable=None if progress else True, file=sys.stderr,
                desc=description, unit="run", leave=False)


def run_jobs(function, jobs, scheduler="local", progress=True, description=None):
    """Call ``function(**job)`` for every job, on the chosen scheduler; results in job order.

    Parameters
    ----------
    function : callable
        A module-level function (worker processes import it by name).
    jobs : list of dict
        Keyword arguments of every call.
    scheduler : "local", int or str, default "local"
        See :func:`check_scheduler`. With one job, or one worker, the jobs run in this process.
    progress : bool, default True
        A tqdm progress bar on stderr when stderr is a terminal (never in the rendered book).
    description : str, optional
        Label of the progress bar (default: the function's name).

    Returns
    -------
    list
        ``[function(**job) for job in jobs]``, whatever the scheduler.

    Raises
    ------
    ValueError
        A bad ``scheduler``, or a Dask address where no scheduler answers within
        :data:`CONNECT_TIMEOUT` seconds (the message names the address).
    """
    scheduler = check_scheduler(scheduler)
    progress = check_bool(progress, "progress")
    jobs = list(jobs)
    if not all(isinstance(job, dict) for job in jobs):
        raise TypeError("jobs must be a list of dicts of keyword arguments.")
    if not callable(function):
        raise TypeError(f"function must be callable, got {function!r}.")
    description = description or getattr(function, "__name__", "jobs")
    if isinstance(scheduler, str) and scheduler != "local":
        return _run_on_dask(function, jobs, scheduler, progress, description)
    workers = min(worker_count(scheduler), len(jobs))
    results = []
    with _progress_bar(len(jobs), progress, description) as bar:
        if workers <= 1:
            for job in jobs:
                results.append(function(**job))
                bar.update()
            return results

        parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator")
        for result in parallel(delayed(_labelled)(function, job) for job in jobs):
            results.append(result)
            bar.update()
    return results


def connect(address):
    """A ``distributed.Client`` for the Dask scheduler at ``address``, or a clear error."""
    try:
        from distributed import Client  # noqa: PLC0415  (optional: the dask extra)
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f"scheduler {address!r}: running on a Dask cluster needs the 'dask' extra "
            f"({error.name} is missing): pip install 'otcompanion[dask]'",
            name=error.name) from error
    try:
        return Client(address, timeout=f"{CONNECT_TIMEOUT}s", set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise ValueError(f"scheduler {address!r}: no Dask scheduler answered within "
                         f"{CONNECT_TIMEOUT} s ({error}). Start one with `dask scheduler` and "
                         f"workers with `dask worker {address}`.") from None


def _run_on_dask(function, jobs, address, progress, description):
    client = connect(address)
    from distributed import as_completed  # noqa: PLC0415  (optional: the dask extra)

    try:
        futures = [client.submit(_labelled, function, job, pure=False) for job in jobs]
        index = {future.key: i for i, future in enumerate(futures)}
        results = [None] * len(jobs)
        with _progress_bar(len(jobs), progress, description) as bar:
            for future in as_completed(futures, loop=client.loop):
                results[index[future.key]] = future.result()
                bar.update()
        return results
    finally:
        client.close()


# --- the run cache -----------------------------------------------------------------------------

def _hash_sources(package=Path(__file__).parent):
    """SHA-256 of every ``.py`` file of ``package`` and its subpackages, with its path."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# Hashed when the package is imported, so that the hash describes the code this process runs
# (not files edited while it runs).
_CODE_HASH = _hash_sources()


def code_hash():
    """SHA-256 (first 16 hex digits) of the package's source files, as they were when this
    process imported the package.

    Any edit of any module of ``otcompanion``, subpackages included, changes it, so cached runs
    computed by other code are never reused.
    """
    return _CODE_HASH


def cache_enabled():
    """False when the environment variable ``OTCOMPANION_NO_CACHE`` is set to a non-empty value
    other than ``0``."""
    return os.environ.get("OTCOMPANION_NO_CACHE", "") in ("", "0")


def cache_dir():
    """Folder of the run cache.

    ``OTCOMPANION_CACHE_DIR`` when set; otherwise ``.cache/runs`` in the project checkout that
    holds this package (git-ignored), or ``~/.cache/otcompanion`` for an installed package.
    """
    if os.environ.get("OTCOMPANION_CACHE_DIR"):
        return Path(os.environ["OTCOMPANION_CACHE_DIR"])
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "notebooks").is_dir():
        return checkout / ".cache" / "runs"
    return Path.home() / ".cache" / "otcompanion"


def cached(function, **arguments):
    """``function(**arguments)``, read from the run cache when it was computed before.

    The cache key is the function's name and module, ``arguments`` and :func:`code_hash`; the
    value is whatever ``function`` returns (it must be picklable). With the cache turned off
    (:func:`cache_enabled`) the function is simply called.
    """
    if not cache_enabled():
        return function(**arguments)

    memory = Memory(str(cache_dir()), verbose=0)
    return memory.cache(_keyed)(function, code_hash(), arguments)


def is_cached(function, **arguments):
    """Whether :func:`cached` would read ``function(**arguments)`` from the cache."""
    if not cache_enabled():
        return False

    memory = Memory(str(cache_dir()), verbose=0)
    return memory.cache(_keyed).check_call_in_cache(function, code_hash(), arguments)


def _keyed(function, code, arguments):
    # ``code`` is only part of the cache key.
    return function(**arguments)
