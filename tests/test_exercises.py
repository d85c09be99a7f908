"""Every graded answer depends on the student: no two seeds share an expected value.

Each check of every chapter is recorded (:func:`otcompanion.classroom.record_check`) for the
classroom parameters of 20 students; a check whose comparisons would all accept another
student's expected values would let one student copy another's numbers (or the book's).
"""

import itertools

import numpy as np
import pytest

from otcompanion import book, classroom

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


@pytest.mark.parametrize("check", ["x = 1", "def a(env):\n    pass\ndef b(env):\n    pass"])
def test_record_check_refuses_what_is_not_one_function(check):
    with pytest.raises(classroom.AssignmentError, match="one function definition"):
        classroom.record_check(check, {"seed": 0})


def test_assignment_parameters_refuses_a_bad_seed():
    with pytest.raises(ValueError, match="seed"):
        classroom.assignment_parameters("00", -1)
