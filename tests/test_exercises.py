"""Every graded answer depends on the student: no two seeds share an expected value.

Each check of every chapter is recorded (:func:`otcompanion.classroom.record_check`) for the
classroom parameters of 20 students; a check whose comparisons would all accept another
student's expected values would let one student copy another's numbers (or the book's).
"""

import itertools
import re

import nbformat
import numpy as np
import pytest

from otcompanion import book, classroom
from otcompanion.cli import main

#: The seeds of 20 students of a class list without seeds (derived from their ids).
SEEDS = [classroom.student_seed(f"student{i}", 0) for i in range(20)]

GRADED = [(chapter.name, label)
          for chapter in book.list_chapters()
          for label in classroom.graded_exercises(chapter)]


def collisions(records):
    """Pairs of seeds whose expected values each pass the other's comparisons."""
    found = []
    for (seed_a, a), (seed_b, b) in itertools.combinations(records.items(), 2):
        if all(x.accepts(y.expected) and y.accepts(x.expected) for x, y in zip(a, b)):
            found.append((seed_a, seed_b))
    return found


@pytest.mark.parametrize(("chapter", "label"), GRADED, ids=[label for _, label in GRADED])
def test_no_two_students_share_an_expected_value(chapter, label):
    exercise = classroom.graded_exercises(chapter)[label]
    parameters = classroom.assignment_parameters(chapter, 0)
    for check in exercise.checks:
        records = {seed: classroom.record_check(check, {**parameters, "seed": seed})
                   for seed in SEEDS}
        assert all(records.values()), f"{label}: the check compares nothing"
        assert collisions(records) == [], f"{label}: students share expected values"


def test_the_recorder_sees_what_a_check_compares():
    check = ('def check_x(env, table, value):\n'
             '    from otcompanion import classroom\n'
             '    seed = classroom.assigned_parameters(env)["seed"]\n'
             '    column = classroom.answer_column("table", table, "a", 2)\n'
             '    classroom.assert_close("table[a]", column, [seed, 1.0], rtol=1e-9)\n'
             '    classroom.assert_close("value", value, 2.0, atol=0.5)\n')
    first, second = classroom.record_check(check, {"seed": 3})
    assert first.what == "table[a]" and first.column == ("table", "a", 2)
    np.testing.assert_array_equal(first.expected, [3.0, 1.0])
    assert (second.atol, second.rtol, second.column) == (0.5, 0.0, None)
    assert second.accepts(2.4) and not second.accepts(2.6) and not second.accepts([2.0])
    assert first.tolerance == "rtol=1e-09" and second.tolerance == "atol=0.5"
    # the recorders are removed afterwards
    with pytest.raises(AssertionError, match="not answered"):
        classroom.assert_close("x", ..., 1.0)


def test_collisions_are_found():
    same = [classroom.Comparison("x", np.array(1.0), 0.0, 1e-9)]
    other = [classroom.Comparison("x", np.array(2.0), 0.0, 1e-9)]
    assert collisions({1: same, 2: same, 3: other}) == [(1, 2)]


def test_shared_answers_names_the_students_who_could_swap_answers():
    def records(value):
        return {"ex": [classroom.Comparison("x", np.array(value), 0.0, 1e-9)]}

    found = classroom.shared_answers({"alice": records(1.0), "bob": records(2.0),
                                      "carol": records(1.0 + 1e-12)})
    assert found == [("ex", "alice", "carol")]
    assert classroom.shared_answers({"alice": records(1.0), "bob": records(2.0)}) == []


@pytest.mark.parametrize("check", ["x = 1", "def a(env):\n    pass\ndef b(env):\n    pass"])
def test_record_check_refuses_what_is_not_one_function(check):
    with pytest.raises(classroom.AssignmentError, match="one function definition"):
        classroom.record_check(check, {"seed": 0})


def test_assignment_parameters_refuses_a_bad_seed():
    with pytest.raises(ValueError, match="seed"):
        classroom.assignment_parameters("00", -1)


# --------------------------------------------------------------------------------------------
# A teacher's private exercises
# --------------------------------------------------------------------------------------------

PRIVATE = '''\
# %% [markdown]
# ## My exercises
#
# ```{exercise}
# :label: private-first-feature
#
# Store in `first_feature_mean` the mean of the first feature of the training tokens of
# `data.thesis_split(2, 1, n_instances=n_instances, n_tokens=n_tokens, seed=seed)`.
# ```
#
# ```{solution-start} private-first-feature
# :class: dropdown
# ```

# %%
first_feature_mean = float(data.thesis_split(2, 1, n_instances=n_instances, n_tokens=n_tokens,
                                             seed=seed)[0][..., 0].mean())


# %% tags=["remove-cell", "check"]
def check_first_feature_mean(env, first_feature_mean):
    """The mean first feature of the assigned split (rtol 1e-9)."""
    from otcompanion import classroom, data
    p = classroom.assigned_parameters(env)
    X = data.thesis_split(2, 1, n_instances=p["n_instances"], n_tokens=p["n_tokens"],
                          seed=p["seed"])[0]
    classroom.assert_close("first_feature_mean", first_feature_mean, X[..., 0].mean(),
                           rtol=1e-9)


# %% [markdown]
# ```{solution-end}
# ```
'''

PRIVATE_MD = '''\
---
jupytext:
  text_representation:
    format_name: myst
---

```{exercise}
:label: private-twice-seed

Store twice your seed in `twice`.
```

```{solution-start} private-twice-seed
```

```{code-cell} ipython3
twice = 2 * seed
```

```{code-cell} ipython3
:tags: [remove-cell, check]

def check_twice(env, twice):
    """Twice the seed (exact)."""
    from otcompanion import classroom
    classroom.assert_close("twice", twice, 2 * classroom.assigned_parameters(env)["seed"])
```

```{solution-end}
```
'''


def write(folder, name, text):
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_private_exercises_from_py_and_md(tmp_path):
    pieces, exercises = classroom.read_exercises(write(tmp_path, "mine.py", PRIVATE))
    exercise = exercises["private-first-feature"]
    assert exercise.answers == ["first_feature_mean"] and len(exercise.checks) == 1
    assert [kind for kind, _ in pieces] == ["cell", "exercise", "end"]
    _, exercises = classroom.read_exercises(write(tmp_path, "mine.md", PRIVATE_MD))
    assert exercises["private-twice-seed"].answers == ["twice"]


@pytest.mark.parametrize(("text", "message"), [
    (PRIVATE.replace(":label: private-first-feature\n", ""), "without a :label:"),
    (PRIVATE.replace('tags=["remove-cell", "check"]', 'tags=["remove-cell"]'), "no check cell"),
    (PRIVATE.replace("# ```{solution-start} private-first-feature\n# :class: dropdown\n# ```\n",
                     ""), "check cell outside any solution"),
    (PRIVATE.replace("# ```{solution-end}\n# ```\n", ""), "never closed"),
    (PRIVATE + PRIVATE.replace("## My exercises", "## Again"), "two exercises have the label"),
    (PRIVATE.replace("def check_first_feature_mean(env, first_feature_mean)",
                     "def check_first_feature_mean(env)"), "reads no answer"),
    ("# %% [markdown]\n# Nothing here.\n", "no exercise"),
    (PRIVATE + '\n# %% [raw] tags=["assignment-parameters"]\n# seed: 3\n', "belongs to the chapter"),
    (PRIVATE.replace("# %%\nfirst_feature_mean", "# %% [markdown]\n# first_feature_mean"),
     "no solution code"),
])
def test_bad_private_exercises_are_refused(tmp_path, text, message):
    with pytest.raises(classroom.AssignmentError, match=message):
        classroom.read_exercises(write(tmp_path, "mine.py", text))


def test_private_exercises_file_must_exist_and_be_py_or_md(tmp_path):
    with pytest.raises(classroom.AssignmentError, match="no file"):
        classroom.read_exercises(tmp_path / "missing.py")
    with pytest.raises(classroom.AssignmentError, match=r"\.py\) or a MyST"):
        classroom.read_exercises(write(tmp_path, "mine.ipynb", "{}"))


def test_private_exercises_follow_or_replace_the_chapters(tmp_path):
    pieces, exercises, _ = classroom.read_chapter("00")
    extra = classroom.read_exercises(write(tmp_path, "mine.py", PRIVATE))
    merged, labels = classroom.merge_exercises(pieces, exercises, extra)
    assert list(labels) == [*exercises, "private-first-feature"]
    kinds = [(kind, getattr(value, "label", None)) for kind, value in merged]
    last_own = max(i for i, kind in enumerate(kinds) if kind == ("end", "data-standardized-limit"))
    assert kinds[last_own + 2] == ("exercise", "private-first-feature")
    replaced, labels = classroom.merge_exercises(pieces, exercises, extra, replace=True)
    assert list(labels) == ["private-first-feature"]
    assert [value.label for kind, value in replaced if kind == "exercise"] == [
        "private-first-feature"]
    assert sum(kind == "cell" for kind, _ in replaced) == sum(
        kind == "cell" for kind, _ in pieces) + 1  # the chapter's narrative and the file's
    clash = classroom.read_exercises(write(tmp_path, "clash.py", PRIVATE.replace(
        "private-first-feature", "data-equal-difficulty")))
    with pytest.raises(classroom.AssignmentError, match="also exercises of the chapter"):
        classroom.merge_exercises(pieces, exercises, clash)
    assert classroom.merge_exercises(pieces, exercises, clash, replace=True)[1].keys() == {
        "data-equal-difficulty"}


def test_private_exercise_answers_depend_on_the_student(tmp_path):
    _, exercises = classroom.read_exercises(write(tmp_path, "mine.py", PRIVATE))
    parameters = classroom.assignment_parameters("00", 0)
    check = exercises["private-first-feature"].checks[0]
    records = {seed: classroom.record_check(check, {**parameters, "seed": seed})
               for seed in SEEDS[:5]}
    assert collisions(records) == []


# --------------------------------------------------------------------------------------------
# The student notebook: plain Markdown, self-checks
# --------------------------------------------------------------------------------------------

def test_for_students_quotes_glued_values_and_drops_directives():
    text = ("so {glue:text}`n-instances` instances of {glue:text}`share:.1%` and "
            "{glue:md}`verdict`; {numref}`fig-a` and {func}`~otcompanion.data.thesis_split`, "
            "{doc}`../rerunning`, {cite:p}`quadrio2025`, {glue:text}`unknown:.2f`.\n\n"
            "(fig-a)=\n```{glue:figure} fig-a\n:name: fig-a\n:alt: Dots.\n\nThe caption.\n```\n\n"
            "```{admonition} Careful\n:class: note\n\nA note.\n```\n")
    glued = {"n-instances": {"text/plain": "90"}, "share": {"text/plain": "0.25"},
             "verdict": {"text/markdown": "**yes**", "text/plain": "<Markdown>"}}
    plain = classroom.for_students(text, glued)
    assert plain.startswith("so 90 instances of 25.0% and **yes**; Figure fig-a and "
                            "`thesis_split`, the book's page *rerunning*, [quadrio2025], "
                            "`unknown` (computed when the notebook runs).")
    assert "**Figure fig-a** (drawn by the code cell above" in plain and "The caption." in plain
    assert "> **Careful.**" in plain and "> A note." in plain
    assert "{" not in plain.replace("{glue", "") and "```" not in plain and "(fig-a)=" not in plain


def test_for_students_opens_a_findings_box_with_its_glued_bullets():
    text = ("````{admonition} What this chapter finds\n:class: tip\n\n```{glue:md} chapter-findings"
            "\n:format: myst\n```\n\nThe sections below.\n````\n")
    glued = {"chapter-findings": {"text/markdown": "- Level 4 separates.\n- Scale shrinks."}}
    plain = classroom.for_students(text, glued)
    assert plain == ("> **What this chapter finds.**\n>\n> - Level 4 separates.\n"
                     "> - Scale shrinks.\n>\n> The sections below.\n")
    assert "computed when the notebook runs" in classroom.for_students(text)


def test_glued_values_strip_myst_nbs_prefix():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("glue")])
    notebook.cells[0].outputs = [nbformat.v4.new_output(
        "display_data", data={"application/papermill.record/text/plain": "6"},
        metadata={"scrapbook": {"name": "n", "mime_prefix": "application/papermill.record/"}})]
    assert classroom.glued_values(notebook) == {"n": {"text/plain": "6"}}


def test_answer_forms_from_the_comparisons():
    exercise = classroom.Exercise("x", "statement", checks=[
        "def check_x(env, table, vector, count, other):\n    pass"])
    comparisons = [classroom.Comparison("t[a]", np.zeros(3), 0, 1e-9, ("table", "a", 3), "table"),
                   classroom.Comparison("t[b]", np.zeros(3), 0, 1e-9, ("table", "b", 3), "table"),
                   classroom.Comparison("v", np.zeros((2, 2)), 1e-9, 0, None, "vector"),
                   classroom.Comparison("n", np.array(3.0), 0, 0, None, "count")]
    assert classroom.answer_forms(exercise, comparisons) == {
        "table": {"type": "table", "columns": ["a", "b"], "rows": 3},
        "vector": {"type": "array", "shape": [2, 2]}, "count": {"type": "number"},
        "other": {"type": "any"}}


# --------------------------------------------------------------------------------------------
# A book without solutions
# --------------------------------------------------------------------------------------------

def solution_notebook():
    cells = [nbformat.v4.new_markdown_cell("Intro."),
             nbformat.v4.new_markdown_cell("```{exercise}\n:label: e\n\nDo it.\n```\n\n"
                                           "```{solution-start} e\n:class: dropdown\n```\n\n"
                                           "The explanation."),
             nbformat.v4.new_code_cell("answer = 42"),
             nbformat.v4.new_code_cell("def check_e(env, answer):\n    pass"),
             nbformat.v4.new_markdown_cell("It is 42.\n\n```{solution-end}\n```\n\nAfter."),
             nbformat.v4.new_code_cell("print('narrative')")]
    cells[2].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "42"},
                                               execution_count=1)]
    cells[3].metadata["tags"] = ["remove-cell", "check"]
    return nbformat.v4.new_notebook(cells=cells)


def test_strip_solutions_keeps_statements_and_narrative():
    notebook = solution_notebook()
    stripped = book.strip_solutions(notebook)
    assert [cell.source for cell in stripped.cells] == [
        "Intro.", "```{exercise}\n:label: e\n\nDo it.\n```", "After.", "print('narrative')"]
    assert len(notebook.cells) == 6  # the argument is left alone


@pytest.mark.parametrize(("edit", "message"), [
    (lambda cells: cells.pop(4), "never closed"),
    (lambda cells: cells.pop(1), "solution-end fence outside"),
])
def test_strip_solutions_refuses_unbalanced_fences(edit, message):
    notebook = solution_notebook()
    edit(notebook.cells)
    with pytest.raises(ValueError, match=message):
        book.strip_solutions(notebook)


@pytest.mark.parametrize("chapter", book.list_chapters(), ids=lambda chapter: chapter.name)
def test_a_chapter_without_solutions_keeps_every_glued_value_its_prose_quotes(chapter):
    notebook = book.chapter_notebook(chapter)
    stripped = book.strip_solutions(notebook)
    prose = " ".join(cell.source for cell in stripped.cells if cell.cell_type == "markdown")
    code = " ".join(cell.source for cell in stripped.cells if cell.cell_type == "code")
    quoted = set(re.findall(r"\{glue(?::\w+)?\}`([^`:]+)", prose))
    quoted |= set(re.findall(r"```\{glue:figure\}\s*(\S+)", prose))
    everywhere = " ".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    # no value the remaining prose quotes is glued only by a solution (names built at run time,
    # f"share-{split}", are glued by the narrative's code)
    assert not [name for name in quoted if f'"{name}"' in everywhere and f'"{name}"' not in code]
    assert not [cell for cell in stripped.cells if "check" in cell.metadata.get("tags", [])]
    # no cross-reference of the remaining prose points at a label only a solution defined
    full = " ".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    refs = set(re.findall(r"\{(?:numref|ref|eq)\}`(?:[^`<]*<)?([^`>]+)>?`", prose))
    assert not [ref for ref in refs if ref in labels(full) and ref not in labels(prose)]
    assert "solution-start" not in prose and "classroom.run_check" not in code


def labels(markdown):
    """The figure names and reference targets a chapter's markdown defines."""
    return (set(re.findall(r"^:(?:name|label):\s*(\S+)", markdown, re.M))
            | set(re.findall(r"^\(([\w.-]+)\)=", markdown, re.M)))


def test_build_without_solutions_strips_while_building_and_restores(toy_project, monkeypatch):
    executed = book.list_chapters()[0].executed
    executed.parent.mkdir(parents=True)
    nbformat.write(solution_notebook(), executed)
    seen = []
    with book._without_solutions(toy_project, True, echo=print):
        seen.append(len(nbformat.read(executed, as_version=4).cells))
    assert seen == [4] and len(nbformat.read(executed, as_version=4).cells) == 6
    # an interrupted build is repaired by the next one
    backup = toy_project / "book" / "_generated" / "with-solutions"
    backup.mkdir(parents=True)
    nbformat.write(solution_notebook(), backup / executed.name)
    nbformat.write(book.strip_solutions(solution_notebook()), executed)
    with book._without_solutions(toy_project, False, echo=print):
        assert len(nbformat.read(executed, as_version=4).cells) == 6
    assert not backup.exists()


def test_build_command_passes_no_solutions(monkeypatch):
    calls = []
    monkeypatch.setattr(book, "build_book", lambda *args, **kwargs: calls.append(kwargs))
    assert main(["build", "--no-execute", "--no-solutions"]) == 0
    assert main(["build", "--no-execute"]) == 0
    assert [call["solutions"] for call in calls] == [False, True]


def test_build_book_refuses_a_bad_solutions_flag(toy_project):
    with pytest.raises(TypeError, match="solutions"):
        book.build_book(execute=False, solutions="no")


# --------------------------------------------------------------------------------------------
# The command line of the assignment options
# --------------------------------------------------------------------------------------------

def test_assignment_command_passes_the_new_options(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(classroom, "make_assignment",
                        lambda *args, **kwargs: calls.append(kwargs))
    assert main(["assignment", "00", "-o", str(tmp_path), "--exercises", "mine.py",
                 "--replace-exercises", "--no-wheel"]) == 0
    assert main(["assignment", "00", "-o", str(tmp_path), "--only", "bob"]) == 0
    assert (calls[0]["exercises"], calls[0]["replace_exercises"], calls[0]["wheel"]) == (
        "mine.py", True, False)
    assert (calls[1]["only"], calls[1]["wheel"], calls[1]["exercises"]) == ("bob", True, None)


@pytest.mark.parametrize(("arguments", "message"), [
    (["--only", "bob", "--seed", "3"], "--only: regenerates with the recorded seed"),
    (["--only", "bob", "-p", "n_tokens", "3"], "--only: regenerates one student's notebook"),
    (["--only", "bob"], "holds no assignment"),
    (["--replace-exercises"], "--replace-exercises: needs --exercises"),
    (["--exercises", "missing.py"], "--exercises: no file"),
])
def test_bad_assignment_options_are_reported(tmp_path, capsys, arguments, message):
    pytest.importorskip("otter", reason="the classroom extra (otter-grader) is not installed")
    assert main(["assignment", "00", "-o", str(tmp_path / "hw"), "--no-wheel",
                 *arguments]) == 2
    assert message in capsys.readouterr().err
