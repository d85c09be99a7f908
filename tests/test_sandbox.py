"""The sandbox that runs students' notebooks (otcompanion.sandbox): what a notebook inside it
can and cannot do, measured by running attacks through the real sandbox (bubblewrap).

The tests that start a sandbox skip where bubblewrap is missing, and fail instead when CI is
set (tests/conftest.py: require_sandbox).
"""

import os
import subprocess
import time

import nbformat
import numpy as np
import pandas as pd
import pytest

from otcompanion import grading, sandbox

pytest.importorskip("nbclient")


def notebook(*sources):
    result = nbformat.v4.new_notebook()
    result.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    return result


def run(tmp_path, *sources, answers=("answer",), timeout=20.0, **options):
    work = tmp_path / "work"
    work.mkdir()
    execution = sandbox.execute(notebook(*sources), work, answers=list(answers),
                                cell_timeout=timeout, **options)
    log = execution.part("log", dict)
    decoded, problems = grading.decode_answers(execution.part("answers", dict), answers)
    assert not problems
    return execution, log, decoded


def outputs(execution):
    executed = nbformat.reads(execution.part("executed", str), as_version=4)
    return "\n".join(str(output) for cell in executed.cells for output in cell.get("outputs", []))


def test_limits_are_checked():
    with pytest.raises(ValueError, match="limits.processes"):
        sandbox.Limits(processes=2)
    with pytest.raises(TypeError, match="limits.memory"):
        sandbox.Limits(memory=1.5)


def test_missing_bubblewrap_is_explained(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    sandbox.sandbox_problem.cache_clear()
    try:
        assert "apt-get install bubblewrap" in sandbox.sandbox_problem()
        with pytest.raises(sandbox.SandboxUnavailable, match="--unsafe"):
            sandbox.execute(notebook("answer = 1"), "/nonexistent", answers=["answer"])
    finally:
        monkeypatch.undo()
        sandbox.sandbox_problem.cache_clear()


@pytest.mark.slow
def test_answers_come_back_as_data(tmp_path, require_sandbox):
    execution, log, answers = run(
        tmp_path,
        "import numpy as np, pandas as pd\n"
        "table = pd.DataFrame({'a': [1.5, 2.0], 'name': ['x', 'y']}, index=[3, 4])\n"
        "array = np.arange(6.0).reshape(2, 3)\n"
        "nested = {'k': [1, (2.5, None)], 'ellipsis': ...}\n"
        "series = pd.Series([1, 2], name='s')\n"
        "class Odd:\n    pass\nodd = Odd()",
        answers=("table", "array", "nested", "series", "odd", "undefined"))
    assert log == {"cells": [], "stopped": None}
    pd.testing.assert_frame_equal(answers["table"], pd.DataFrame(
        {"a": [1.5, 2.0], "name": ["x", "y"]}, index=[3, 4]), check_dtype=False)
    np.testing.assert_array_equal(answers["array"], np.arange(6.0).reshape(2, 3))
    assert answers["nested"] == {"k": [1, (2.5, None)], "ellipsis": Ellipsis}
    assert list(answers["series"]) == [1, 2] and answers["series"].name == "s"
    assert "Odd" in repr(answers["odd"]) and "undefined" not in answers


def test_malformed_answers_are_refused():
    data = {"a": {"type": "pickle", "value": "gASV"}, "b": {"type": "ndarray", "dtype": "<M8[s]",
                                                           "value": [1]},
            "c": {"type": "value", "value": {"nested": 1}}, "d": {"type": "value", "value": 3}}
    answers, problems = grading.decode_answers(data, ["a", "b", "c", "d"])
    assert answers == {"d": 3}
    assert len(problems) == 3 and all("could not be read" in p for p in problems)


@pytest.mark.slow
def test_notebook_sees_only_its_own_folder(tmp_path, require_sandbox):
    secret = tmp_path / "secret.txt"  # beside the run's folder: the teacher's files
    secret.write_text("teacher's secret")
    escaped = tmp_path / "escaped.txt"
    execution, log, answers = run(
        tmp_path,
        "import os, socket\nanswer = 1\n"
        "print('uid', os.getuid(), 'root', sorted(os.listdir('/')))",
        f"open({str(secret)!r}).read()",
        f"open({str(escaped)!r}, 'w').write('out')",
        "open('/opt/otcompanion/otcompanion/planted.py', 'w')",
        "socket.create_connection(('1.1.1.1', 80), timeout=2)",
        "open('inside.txt', 'w').write('mine')\nanswer = open('inside.txt').read()",
        "open('submission.ipynb', 'a').write('tampered')")
    assert answers == {"answer": "mine"}  # its own folder works
    errors = [entry["error"] for entry in log["cells"]]
    assert errors[:2] == ["FileNotFoundError", "FileNotFoundError"]
    assert errors[2] == "OSError" and "Read-only" in log["cells"][2]["message"]
    assert errors[3] in ("OSError", "gaierror", "TimeoutError")
    assert errors[4] in ("OSError", "PermissionError") and len(errors) == 5  # its copy is fixed
    assert not escaped.exists() and "teacher's secret" not in outputs(execution)
    # nothing of the host was writable: the run's folder holds what the grader wrote only
    assert sorted(p.name for p in (tmp_path / "work").rglob("*")) == [
        "errors.txt", "result.json", "run", "submission.ipynb"]
    text = outputs(execution)
    if os.geteuid() == 0:
        assert "uid 0" not in text  # an unprivileged user, not root
    assert not sandbox.leftover_processes(wait=10)


@pytest.mark.slow
def test_cell_that_ignores_signals_is_stopped_and_earlier_answers_kept(tmp_path,
                                                                       require_sandbox):
    started = time.perf_counter()
    execution, log, answers = run(
        tmp_path, "answer = 42",
        "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\nsignal.setitimer(signal.ITIMER_REAL, 0)\n"
        "while True:\n    pass",
        "answer = 0", timeout=5.0)
    assert time.perf_counter() - started < 45
    assert answers == {"answer": 42}
    assert "stopped after the time limit of 5 s" in log["stopped"]
    assert not sandbox.leftover_processes(wait=10)


@pytest.mark.slow
def test_cpu_time_limit_kills_a_process_that_ignores_sigxcpu(tmp_path, require_sandbox):
    execution, log, answers = run(
        tmp_path, "answer = 1",
        "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass",
        timeout=120.0, limits=sandbox.Limits(cpu=8))
    assert answers == {"answer": 1}
    assert "the kernel died" in log["stopped"]
    assert not sandbox.leftover_processes(wait=10)


@pytest.mark.slow
def test_fork_bomb_and_memory_hog_stay_within_limits(tmp_path, require_sandbox):
    execution, log, answers = run(
        tmp_path,
        "import subprocess\nchildren = []\ntry:\n    for _ in range(500):\n"
        "        children.append(subprocess.Popen(['sleep', '600']))\n"
        "except OSError as error:\n    failed = repr(error)\nprint('started', len(children))",
        "hog = bytearray(16 * 2**30)",
        "answer = len(children)",
        limits=sandbox.Limits(processes=40, memory=2**31))
    assert 0 < answers["answer"] < 40
    assert [entry["error"] for entry in log["cells"]] == ["MemoryError"]
    # The sleeping children died with the sandbox.
    assert not sandbox.leftover_processes(wait=10)


@pytest.mark.slow
def test_writable_folders_are_small(tmp_path, require_sandbox):
    execution, log, answers = run(
        tmp_path, "answer = 1\nblock = b'x' * 2**20",
        "with open('big', 'wb') as handle:\n    for _ in range(40):\n"
        "        handle.write(block)\nanswer = 2",
        "with open('/tmp/big', 'wb') as handle:\n    for _ in range(40):\n"
        "        handle.write(block)\nanswer = 3",
        limits=sandbox.Limits(disk=2**25))
    assert answers == {"answer": 1}
    # each cell fails, and so does the answers' hook after it (the answers before stay)
    assert {entry["error"] for entry in log["cells"]} == {"OSError"}
    assert all("No space left" in entry["message"] for entry in log["cells"])


@pytest.mark.slow
def test_unsafe_runs_without_the_sandbox(tmp_path):
    execution, log, answers = run(tmp_path, "import os\nanswer = os.getcwd()", unsafe=True)
    assert answers["answer"] == str((tmp_path / "work" / "run").resolve())
    assert log["stopped"] is None


def test_the_sandbox_command_confines(tmp_path):
    notebook = tmp_path / "submission.ipynb"
    command = sandbox.bwrap_command(notebook, (61000, 61000), disk=2**25)
    for option in ("--unshare-net", "--unshare-pid", "--die-with-parent", "--clearenv"):
        assert option in command
    assert command[command.index("--cap-drop") + 1] == "ALL"
    assert "--bind" not in command  # nothing of the host is writable
    assert [command[i + 4:i + 6] for i, word in enumerate(command) if word == "--size"] == [
        ["--tmpfs", "/tmp"], ["--tmpfs", sandbox.WORK]]
    read_only = [command[i + 1] for i, word in enumerate(command) if word == "--ro-bind"]
    assert str(notebook) in read_only and str(tmp_path) not in read_only


def test_probe_failure_is_explained(monkeypatch):
    monkeypatch.setattr(sandbox.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a, 1, "", "bwrap: No permissions to create new namespace"))
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: "/usr/bin/bwrap")
    sandbox.sandbox_problem.cache_clear()
    try:
        problem = sandbox.sandbox_problem()
        assert "No permissions to create new namespace" in problem and "--unsafe" in problem
    finally:
        monkeypatch.undo()
        sandbox.sandbox_problem.cache_clear()


@pytest.mark.slow
def test_a_frozen_runner_is_killed_from_outside(tmp_path, require_sandbox):
    # the kernel stops the runner that watches it (same user): only the wall-clock limit,
    # enforced by the grader outside the sandbox, ends the run; nothing survives it
    started = time.perf_counter()
    execution = sandbox.execute(notebook("answer = 1", "import os, signal\n"
                                         "os.kill(os.getppid(), signal.SIGSTOP)"),
                                tmp_path, answers=["answer"], cell_timeout=2.0,
                                limits=sandbox.Limits(startup=10))
    assert execution.result is None
    assert execution.stopped == "the run did not finish within 16 s and was stopped."
    assert time.perf_counter() - started < 40
    assert not sandbox.leftover_processes(wait=10)
