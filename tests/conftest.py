import os
import textwrap

import pytest

# Before any test module imports torch (POT imports it too): the processor code paths are
# pinned as in the book (otcompanion.cpu_paths).
import otcompanion  # noqa: F401

# Tests compute every run: the run cache (otcompanion.engine) is off in this process, in the
# worker processes it starts and in the kernels of the chapters it runs. The cache's own tests
# turn it on in-process with monkeypatch.
os.environ["OTCOMPANION_NO_CACHE"] = "1"

FAILING_CHAPTER = '''\
# %% [markdown]
# # A chapter that can fail

# %% tags=["parameters"]
fail: bool = False  # raise an error in the second cell
value: int = 1  # a number to print

# %%
print("value is", value)

# %%
if fail:
    raise ValueError("the chapter was asked to fail")
'''


@pytest.fixture(scope="session")
def course00(tmp_path_factory):
    """A class set of chapter 00 at tiny sizes for alice, bob and carol (seeds 11, 12, 13;
    Canvas user ids 101, 102, 10232), solutions executed: made once per test process and
    shared by the classroom and grading tests, which leave its files as they are."""
    from test_classroom import TINY_00  # noqa: PLC0415 (a test module: import when used)

    from otcompanion import classroom  # noqa: PLC0415 (the classroom extra may be missing)

    folder = tmp_path_factory.mktemp("course00")
    roster = folder / "class.csv"
    roster.write_text("id,seed,name,email,lms_id\nalice,11,Alice Smith,alice@uni.edu,101\n"
                      "bob,12,Bob Jones,bob@uni.edu,102\ncarol,13,Carol King,carol@uni.edu,"
                      "10232\n", encoding="utf-8")
    classroom.make_assignment("00", folder / "hw", students=roster, parameters=TINY_00,
                              echo=None)
    return folder / "hw"


@pytest.fixture
def toy_project(tmp_path, monkeypatch):
    """A minimal project (``_toc.yml`` and one chapter) that ``OTCOMPANION_ROOT`` points at."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (tmp_path / "notebooks" / "00_toy.py").write_text(textwrap.dedent(FAILING_CHAPTER))
    monkeypatch.setenv("OTCOMPANION_ROOT", str(tmp_path))
    return tmp_path


@pytest.fixture
def book_style():
    """Figures drawn in the book's style (as chapter.begin sets it), then closed; the modules
    that draw figures use it for every test (``pytestmark``)."""
    import matplotlib  # noqa: PLC0415 - only for the tests that draw
    import matplotlib.pyplot as plt  # noqa: PLC0415

    from otcompanion import plots  # noqa: PLC0415

    with matplotlib.rc_context():
        plots.use_book_style()
        yield
        plt.close("all")


@pytest.fixture
def require_sandbox():
    """Skip when no bubblewrap sandbox can run here, unless ``CI`` is set: then fail.

    A CI run installs bubblewrap (``.ci/run``) and must not pass with its sandbox tests
    skipped (as tests/browser/site_checks.py does for Chromium).
    """
    from otcompanion import sandbox  # noqa: PLC0415 - only for the tests that need it

    problem = sandbox.sandbox_problem()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"the sandbox tests cannot run, and CI is set so they fail instead of "
                    f"skipping: {problem}")
    pytest.skip(f"no sandbox here: {problem}")
