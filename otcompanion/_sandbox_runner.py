"""What :mod:`otcompanion.sandbox` starts inside the sandbox: limits, change of user, the run.

``python -m otcompanion._sandbox_runner CONFIG [--probe | --notebook F --timeout S --answers
JSON]``: sets the resource limits (``setrlimit``; a process cannot raise them again), becomes
the unprivileged user when started as root (which also drops every capability), then executes
the notebook in a Jupyter kernel, cell by cell with a time limit, and prints one JSON report on
its standard output (a file of the grader's, outside the sandbox): the executed notebook, a log
of the cells that failed or were stopped, and the answers, which a hook in the kernel writes
after every cell. Nothing here is trusted by the grader: the student's kernel runs as the same
user and could tamper with the report; the grader only reads it as data.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from otcompanion import book, sandbox

_HARNESS = '''\
# Added by otcompanion grade: after every cell, the answers are written as JSON.
def _otc_install(names, path):
    import json, math
    import numpy, pandas

    def encode(value, depth=0):
        if depth > 8:
            return {"type": "unsupported", "value": "nested too deeply"}
        if value is Ellipsis:
            return {"type": "ellipsis"}
        if value is None or isinstance(value, (bool, int, float, str)):
            return {"type": "value", "value": value}
        if isinstance(value, numpy.generic) and value.dtype.kind in "biuf":
            return {"type": "value", "value": value.item()}
        if isinstance(value, numpy.ndarray) and value.dtype.kind in "biuf":
            return {"type": "ndarray", "dtype": value.dtype.str, "value": value.tolist()}
        if isinstance(value, numpy.ndarray):
            return {"type": "ndarray", "dtype": "object",
                    "value": [encode(item, depth + 1) for item in value.ravel().tolist()],
                    "shape": list(value.shape)}
        if isinstance(value, pandas.DataFrame):
            return {"type": "dataframe", "columns": [encode(c, depth + 1) for c in value.columns],
                    "index": encode(value.index.to_numpy(), depth + 1),
                    "data": [encode(value.iloc[:, i].to_numpy(), depth + 1)
                             for i in range(value.shape[1])]}
        if isinstance(value, pandas.Series):
            return {"type": "series", "name": encode(value.name, depth + 1),
                    "index": encode(value.index.to_numpy(), depth + 1),
                    "data": encode(value.to_numpy(), depth + 1)}
        if isinstance(value, (list, tuple)):
            return {"type": type(value).__name__,
                    "value": [encode(item, depth + 1) for item in value]}
        if isinstance(value, dict):
            return {"type": "dict", "value": [[encode(k, depth + 1), encode(v, depth + 1)]
                                              for k, v in value.items()]}
        return {"type": "unsupported", "value": type(value).__name__}

    def dump(result=None):
        namespace = get_ipython().user_ns
        answers = {}
        for name in names:
            if name in namespace:
                try:
                    answers[name] = encode(namespace[name])
                except Exception as error:  # a broken object is the student's answer
                    answers[name] = {"type": "unsupported", "value": repr(error)[:200]}
        with open(path + ".part", "w", encoding="utf-8") as handle:
            json.dump(answers, handle)
        import os
        os.replace(path + ".part", path)

    get_ipython().events.register("post_run_cell", dump)


_otc_install(__NAMES__, __PATH__)
del _otc_install
'''


def _confine(limits, run_as):
    """Set the resource limits, then become ``run_as`` (uid, gid) if given; exit on failure."""
    for name, value in ((resource.RLIMIT_AS, limits["memory"]),
                        (resource.RLIMIT_CPU, limits["cpu"]),
                        (resource.RLIMIT_NPROC, limits["processes"]),
                        (resource.RLIMIT_FSIZE, limits["file_size"]),
                        (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(name, (value, value))
    if run_as:
        uid, gid = run_as
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    if os.geteuid() == 0 and run_as:
        sys.exit("the sandbox could not drop root")


def _first_line(source):
    lines = [line for line in source.splitlines() if line.strip() and not line.startswith("#")]
    return (lines or [""])[0][:80]


def _run(notebook_name, timeout, answers):
    """Execute the notebook; print the report (log, answers, executed notebook) as JSON."""
    notebook = nbformat.read(notebook_name, as_version=4)
    harness = nbformat.v4.new_code_cell(_HARNESS.replace("__NAMES__", repr(answers)).replace(
        "__PATH__", repr(os.path.abspath(sandbox.ANSWERS))))
    notebook.cells.insert(0, harness)
    log = {"cells": [], "stopped": None}
    with book.project_kernel():
        client = NotebookClient(notebook, timeout=timeout, kernel_name=book.KERNEL_NAME,
                                allow_errors=True, interrupt_on_timeout=False,
                                shutdown_kernel="immediate",
                                kernel_manager_class=book.LocalSocketKernelManager,
                                resources={"metadata": {"path": os.getcwd()}})
        with client.setup_kernel():
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type != "code":
                    continue
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    log["stopped"] = (f"cell `{_first_line(cell.source)}` was stopped after the "
                                      f"time limit of {timeout:g} s; the cells after it did not "
                                      f"run.")
                    break
                except DeadKernelError:
                    log["stopped"] = (f"the kernel died in cell `{_first_line(cell.source)}` (a "
                                      f"memory, CPU-time or process limit, or os._exit); the "
                                      f"cells after it did not run.")
                    break
                for output in cell.get("outputs", []):
                    if output.get("output_type") == "error" and index:
                        log["cells"].append({"cell": _first_line(cell.source),
                                             "error": output.get("ename", "")[:80],
                                             "message": output.get("evalue", "")[:300]})
    notebook.cells.pop(0)
    report = {"log": log, "answers": _answers(), "executed": nbformat.writes(notebook)}
    sys.stdout.write(json.dumps(report))
    sys.stdout.flush()


def _answers():
    """The answers the kernel's hook wrote last, or None when missing or unreadable."""
    try:
        with open(sandbox.ANSWERS, encoding="utf-8") as handle:
            return json.loads(handle.read(sandbox.RESULT_LIMIT // 2))
    except (OSError, ValueError):
        return None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    config = json.loads(argv[0])
    parser = argparse.ArgumentParser(prog="otcompanion._sandbox_runner")
    parser.add_argument("--probe", action="store_true")
    parser.add_argument("--notebook")
    parser.add_argument("--timeout", type=float)
    parser.add_argument("--answers", type=json.loads)
    args = parser.parse_args(argv[1:])
    _confine(config["limits"], config["run_as"])
    os.chdir(config["work"])  # after the change of user, which may be the folder's owner
    if not args.probe:
        _run(args.notebook, args.timeout, args.answers)


if __name__ == "__main__":
    main()
