"""Run an untrusted notebook in a sandbox: bubblewrap, an unprivileged user and kernel limits.

``otcompanion grade`` executes every submission here, only to produce its answers; the checks
run afterwards in the grader's own process (:mod:`otcompanion.grading`). The threat model: a
submission is untrusted code. It can patch any function in its kernel, set any environment
variable, read any file its process can see, ignore signals and fork. So each submission runs

* in its own bubblewrap sandbox (``bwrap``, Debian's ``bubblewrap`` package): a new mount,
  PID, network (no network at all), IPC and UTS namespace; the file system holds only the
  Python installation and the package, read-only, and two small in-memory folders (a private
  ``/tmp`` and the work folder, with a read-only copy of the notebook): nothing of the host is
  writable, and the disk cannot be filled. The autograder, the solutions, the other
  submissions and the teacher's files are not there;
* as an unprivileged user without capabilities: started as root, the sandbox keeps only the
  right to change user, which the launcher (:mod:`otcompanion._sandbox_runner`) uses to become
  a user id of its own (:data:`FIRST_UID` and up) before any student code runs; started as
  another user, bubblewrap runs unprivileged in a user namespace;
* under limits that the kernel enforces (``setrlimit``, which a process cannot raise again):
  address space, CPU time per process, number of processes of that user, size of a written
  file, size of the writable folders (:class:`Limits`); and under a wall-clock limit enforced from outside, where the whole
  sandbox is killed (``SIGKILL`` to its process group; ``--die-with-parent``).

Inside, the notebook runs cell by cell in a Jupyter kernel (nbclient), each cell with a time
limit; a cell that outlives it (say, one that ignores ``SIGINT`` and ``SIGALRM``) has its
kernel killed and the run ends there. After every cell the answers are written as JSON, so
that the answers of the cells before a killed one still count; the runner reports them, the
log and the executed notebook on its standard output (:class:`Execution`).

This replaces ``otter run``, which executes the checks inside the student's kernel and cannot
be confined this way; otter's test files and scoring are kept (:mod:`otcompanion.grading`).

Where bubblewrap is missing or cannot start (:func:`sandbox_problem` says why), grading
refuses unless ``unsafe=True`` (``--unsafe``): the notebook then runs with the same limits but
as the grader's user, with access to whatever that user can read.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from otcompanion._validation import check_int, check_positive, check_real

FIRST_UID = 61000
"""First user (and group) id given to a sandbox started as root; each run takes a free one."""

_UID_COUNT = 1000
_uids = itertools.count()
_uids_lock = threading.Lock()
#: The user ids this process gave its sandboxes (the tests check that none is left running).
used_uids = set()

WORK = "/submission"
"""The sandbox's work folder: its notebook, its answers and whatever it writes."""

NOTEBOOK, ANSWERS = "submission.ipynb", "answers.json"


class SandboxUnavailable(RuntimeError):
    """No sandbox can run here; the message says why and how to get one (or ``--unsafe``)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed run, enforced by the kernel (``setrlimit``).

    Attributes
    ----------
    memory : int
        Bytes of address space per process (``RLIMIT_AS``); an allocation beyond fails with
        ``MemoryError`` in the kernel.
    cpu : int
        Seconds of CPU time per process (``RLIMIT_CPU``); the kernel kills a process that uses
        more (``SIGKILL`` at the hard limit, which cannot be caught or ignored).
    processes : int
        Processes and threads of the sandbox's user (``RLIMIT_NPROC``); a fork beyond fails.
        Enforced for an unprivileged user only, hence the change of user.
    file_size : int
        Bytes of a written file (``RLIMIT_FSIZE``), also of the runner's report.
    disk : int
        Bytes of each writable folder (the work folder and ``/tmp``, size-limited ``tmpfs``
        file systems in memory): a notebook cannot fill the grader's disk.
    startup : int
        Seconds the whole run gets beyond its cells' time limits (starting the kernel, writing
        the report) before the grader stops it from outside (the wall clock of
        :func:`execute`).
    """

    memory: int = 4 * 2**30
    cpu: int = 900
    processes: int = 256
    file_size: int = 64 * 2**20
    disk: int = 256 * 2**20
    startup: int = 60

    def __post_init__(self):
        for name, minimum in (("memory", 2**28), ("cpu", 1), ("processes", 8),
                              ("file_size", 2**20), ("disk", 2**24), ("startup", 1)):
            check_int(getattr(self, name), f"limits.{name}", minimum=minimum)


def _uids_in_use():
    """The user ids of the processes running on this machine."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                found.add(os.stat(f"/proc/{entry}").st_uid)
            except OSError:
                continue
    return found


def leftover_processes(wait=0.0):
    """The processes still running under a user id this process gave one of its sandboxes
    (empty once every sandbox has ended and been reaped), after waiting up to ``wait``
    seconds for killed ones to be reaped."""
    deadline = time.monotonic() + check_real(wait, "wait", 0.0)
    while True:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.stat(f"/proc/{entry}").st_uid in used_uids:
                        found.append(int(entry))
                except OSError:
                    continue
        if not found or time.monotonic() >= deadline:
            return found
        time.sleep(0.2)


def _run_as():
    """(uid, gid) for the next sandbox when the grader is root, else None (stay as is).

    Each sandbox gets a user id of its own: process-count limits are per user, so two
    sandboxes that shared one (two graders at once, or parallel jobs) would share a budget.
    The search starts at a place that depends on this process and skips the ids that running
    processes have.
    """
    if os.geteuid() != 0:
        return None
    with _uids_lock:
        busy = _uids_in_use()
        start = (os.getpid() * 7 + next(_uids)) % _UID_COUNT
        for step in range(_UID_COUNT):
            uid = FIRST_UID + (start + step) % _UID_COUNT
            if uid not in busy and uid not in used_uids:
                break
        else:
            uid = FIRST_UID + start  # every id is taken: share one rather than refuse
        used_uids.add(uid)
    return uid, uid


def _real(path):
    return str(Path(path).resolve())


def _binds():
    """Read-only binds: the Python installation(s) and the package (not the repository)."""
    prefixes = {_real(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    prefixes.add(str(Path(_real(sys.executable)).parent.parent))
    package = Path(__file__).resolve().parent  # this module's package
    binds = [(p, p) for p in sorted(prefixes) if not p.startswith("/usr")]
    binds.append((str(package), f"/opt/otcompanion/{package.name}"))
    return binds


def _directories(targets):
    """bwrap arguments that create the parent folders of ``targets`` readable by everyone."""
    parents = sorted({str(parent) for target in targets for parent in Path(target).parents
                      if str(parent) not in ("/", "/usr", "/tmp")})
    return [argument for parent in parents for argument in ("--perms", "0755", "--dir", parent)]


def bwrap_command(notebook, run_as, disk=None):
    """The ``bwrap`` command line (without the program) of a run of the file ``notebook``.

    ``run_as``: the (uid, gid) the launcher becomes (the grader is root), or None (bubblewrap
    then runs unprivileged in a user namespace). ``disk``: bytes of each of the two writable
    folders, ``/tmp`` and the work folder (both ``tmpfs``, in memory).
    """
    disk = str(disk or Limits().disk)
    binds = _binds()
    privileged = run_as is not None
    command = ["bwrap", "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid",
               "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
               "--cap-drop", "ALL"]
    if privileged:  # only to become the unprivileged user; the launcher drops it at once
        command += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        command += ["--unshare-user"]
    command += ["--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
                "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                "--symlink", "usr/sbin", "/sbin", "--proc", "/proc", "--dev", "/dev",
                "--size", disk, "--perms", "1777", "--tmpfs", "/tmp"]
    for extra in ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts",
                  "/sys/devices/system/cpu"):
        command += ["--ro-bind-try", extra, extra]
    command += _directories([target for _, target in binds] + [WORK])
    for source, target in binds:
        command += ["--ro-bind", source, target]
    command += ["--size", disk, "--perms", "1777", "--tmpfs", WORK,
                "--ro-bind", str(notebook), f"{WORK}/{NOTEBOOK}", "--chdir", "/", "--clearenv"]
    environment = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "USER": "student",
                   "PYTHONPATH": "/opt/otcompanion", "LANG": "C.UTF-8",
                   "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                   "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
                   "OTCOMPANION_NO_CACHE": "1"}  # the run cache is the teacher's, not mounted
    for name, value in environment.items():
        command += ["--setenv", name, value]
    return command


@functools.lru_cache(maxsize=1)
def sandbox_problem():
    """Why no sandbox can run here, or None when one can.

    Starts a trivial sandbox with the options a grading run uses (``python -c pass`` inside
    ``bwrap``, as the unprivileged user) and reports what failed.
    """
    if shutil.which("bwrap") is None:
        return ("bubblewrap (bwrap) is not installed; install it (Debian/Ubuntu: apt-get install "
                "bubblewrap; Fedora: dnf install bubblewrap) or grade with --unsafe in a "
                "disposable machine.")
    with tempfile.TemporaryDirectory() as folder:
        run_as = _run_as()
        probe = Path(folder) / NOTEBOOK
        probe.write_text("{}", encoding="utf-8")
        probe.chmod(0o644)
        command = bwrap_command(probe, run_as) + _launcher(run_as, Limits(), ["--probe"])
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"bubblewrap could not start a sandbox: {error}"
    if result.returncode:
        return (f"bubblewrap could not start a sandbox here (exit status {result.returncode}: "
                f"{result.stderr.strip()[-300:]}); unprivileged user namespaces may be "
                f"disabled (run as root, or enable them: sysctl kernel.unprivileged_userns_clone"
                f"=1), or grade with --unsafe in a disposable machine.")
    return None


def _launcher(run_as, limits, arguments, work=WORK):
    """The sandbox's program: the launcher, which sets the limits, changes user and folder."""
    return [sys.executable, "-m", "otcompanion._sandbox_runner",
            json.dumps({"limits": asdict(limits), "run_as": run_as, "work": work}), *arguments]


@dataclass
class Execution:
    """What a sandboxed run sent back (all of it data written by untrusted code).

    Attributes
    ----------
    result : dict or None
        The runner's report, read from its output (at most :data:`RESULT_LIMIT` bytes):
        ``log`` (``cells``: the cells that raised, ``stopped``: why the run ended early),
        ``answers`` (the JSON of :mod:`otcompanion._sandbox_runner`'s hook) and ``executed``
        (the executed notebook as text). None when the runner sent nothing readable.
    stopped : str or None
        Why the run was stopped from outside (the wall-clock limit), else None.
    output : str
        The end of what the sandbox printed on its standard error, for messages.
    """

    result: dict | None
    stopped: str | None
    output: str

    def part(self, name, kind):
        """``result[name]`` when it is a ``kind``, else None."""
        value = (self.result or {}).get(name)
        return value if isinstance(value, kind) else None


RESULT_LIMIT = 64 * 2**20
"""The most bytes of a runner's report that the grader reads."""


def execute(notebook, work, *, answers, cell_timeout=60.0, limits=None, unsafe=False):
    """Execute ``notebook`` in a sandbox; never raises for what the notebook does.

    The sandbox's work folder is a size-limited ``tmpfs`` (:attr:`Limits.disk`) that holds a
    read-only copy of the notebook; nothing of the host is writable from inside. The runner
    reports on its standard output, which goes to a file of ``work`` that the sandbox cannot
    see (its size is capped by ``RLIMIT_FSIZE``).

    Parameters
    ----------
    notebook : nbformat.NotebookNode
        The submission.
    work : path
        An empty folder of the grader's for this run only.
    answers : list of str
        The variables the runner reports, written after every cell.
    cell_timeout : float, default 60
        Seconds allowed to each cell; the whole run gets ``cell_timeout`` times the number of
        code cells plus a minute.
    limits : Limits, optional
        Resource limits (default :class:`Limits`).
    unsafe : bool, default False
        Run without bubblewrap, as the grader's user, in ``work`` (same rlimits). Without it,
        a missing sandbox raises :class:`SandboxUnavailable`.

    Returns
    -------
    Execution
    """
    import nbformat  # noqa: PLC0415 - the classroom extra

    cell_timeout = check_positive(cell_timeout, "timeout")
    limits = limits or Limits()
    if not unsafe and (problem := sandbox_problem()):
        raise SandboxUnavailable(f"no sandbox for student code: {problem}")
    work = Path(work)
    (work / "run").mkdir()
    nbformat.write(notebook, work / "run" / NOTEBOOK)
    os.chmod(work / "run" / NOTEBOOK, 0o644)
    arguments = ["--notebook", NOTEBOOK, "--timeout", str(cell_timeout),
                 "--answers", json.dumps(list(answers))]
    if unsafe:
        command = _launcher(None, limits, arguments, work=str(work / "run"))
    else:
        run_as = _run_as()
        command = (bwrap_command(work / "run" / NOTEBOOK, run_as, limits.disk)
                   + _launcher(run_as, limits, arguments))
    cells = sum(cell.cell_type == "code" for cell in notebook.cells)
    wall = cell_timeout * (cells + 1) + limits.startup
    with open(work / "result.json", "wb") as result, open(work / "errors.txt", "wb") as errors:
        process = subprocess.Popen(command, cwd=work, stdout=result, stderr=errors,
                                   stdin=subprocess.DEVNULL, start_new_session=True,
                                   env=_unsafe_environment() if unsafe else
                                   {"PATH": "/usr/bin:/bin"})
        stopped = None
        try:
            process.wait(timeout=wall)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            stopped = f"the run did not finish within {wall:g} s and was stopped."
    return Execution(_read_result(work / "result.json"), stopped,
                     _tail(work / "errors.txt"))


def _read_result(path):
    if path.stat().st_size > RESULT_LIMIT:
        return None
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return result if isinstance(result, dict) else None


def _tail(path, size=4000):
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - size))
        return handle.read().decode("utf-8", "replace")


def _unsafe_environment():
    """The grader's environment with ``PYTHONPATH`` absolute (the run's folder differs)."""
    environment = dict(os.environ)
    if environment.get("PYTHONPATH"):
        environment["PYTHONPATH"] = os.pathsep.join(
            _real(entry) for entry in environment["PYTHONPATH"].split(os.pathsep))
    return environment
