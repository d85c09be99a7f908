"""The one rule of otcompanion._validation: wrong type -> TypeError, wrong value -> ValueError."""

import math

import numpy as np
import pytest

from otcompanion._validation import (
    as_units,
    check_bool,
    check_choice,
    check_fraction,
    check_int,
    check_int_sequence,
    check_positive,
    check_real,
)


def test_check_int_accepts_numpy_integers_and_returns_int():
    value = check_int(np.int64(3), "epochs", 1)
    assert value == 3 and type(value) is int


@pytest.mark.parametrize("value", [True, 2.0, "2", None, np.float64(2)])
def test_check_int_wrong_type_is_a_type_error_naming_the_parameter(value):
    with pytest.raises(TypeError, match="epochs must be an integer"):
        check_int(value, "epochs", 1)


def test_check_int_bounds_are_value_errors():
    with pytest.raises(ValueError, match="epochs must be at least 1, got 0"):
        check_int(0, "epochs", 1)
    with pytest.raises(ValueError, match="level must be at most 4, got 5"):
        check_int(5, "level", 1, 4)
    assert check_int(None, "batch", 1, allow_none=True) is None


@pytest.mark.parametrize("value", [math.nan, math.inf, -1e-9])
def test_check_real_rejects_non_finite_and_out_of_range(value):
    with pytest.raises(ValueError, match=r"tol must be a finite number in \[0"):
        check_real(value, "tol", 0.0)


def test_check_real_open_and_closed_bounds():
    assert check_real(0.0, "x", 0.0) == 0.0
    with pytest.raises(ValueError, match=r"\(0.0, 1.0\)"):
        check_real(0.0, "x", 0.0, 1.0, low_open=True, high_open=True)
    assert check_real(np.float32(0.5), "x", 0.0, 1.0) == 0.5
    with pytest.raises(TypeError, match="x must be a real number"):
        check_real(False, "x")


def test_positive_and_fraction():
    with pytest.raises(ValueError, match="lr"):
        check_positive(0, "lr")
    assert check_fraction(0.2, "validation") == 0.2
    with pytest.raises(ValueError, match="validation"):
        check_fraction(0.0, "validation")
    assert check_fraction(0.0, "validation", allow_zero=True) == 0.0
    with pytest.raises(ValueError, match="validation"):
        check_fraction(1.0, "validation", allow_zero=True)


def test_check_bool_and_choice():
    assert check_bool(np.bool_(True), "trace") is True
    with pytest.raises(TypeError, match="trace must be True or False"):
        check_bool(1, "trace")
    assert check_choice("exact", "solver", ("exact", "sinkhorn")) == "exact"
    assert check_choice(np.int64(2), "tasks", (2, 3)) == 2
    with pytest.raises(ValueError, match="solver must be one of"):
        check_choice("fast", "solver", ("exact", "sinkhorn"))
    with pytest.raises(TypeError, match="tasks must be one of"):
        check_choice("2", "tasks", (2, 3))


def test_check_int_sequence_names_the_entry():
    assert check_int_sequence((1, 2), "levels", 1) == [1, 2]
    with pytest.raises(ValueError, match=r"levels\[1\] must be at least 1"):
        check_int_sequence([1, 0], "levels", 1)
    with pytest.raises(TypeError, match="levels must be a list"):
        check_int_sequence("12", "levels", 1)
    with pytest.raises(ValueError, match="levels is empty"):
        check_int_sequence([], "levels", 1)
    with pytest.raises(ValueError, match="repeated"):
        check_int_sequence([2, 2], "levels", 1)


@pytest.mark.parametrize("value, units", [(8, (8,)), (np.int64(4), (4,)), ([8, 4], (8, 4)),
                                          ((), ())])
def test_as_units_turns_one_width_or_a_sequence_into_a_tuple(value, units):
    assert as_units(value) == units


@pytest.mark.parametrize("value", [None, 2.5, True])
def test_as_units_rejects_what_is_no_width_list(value):
    with pytest.raises(TypeError, match="head_units must be a sequence of positive integers"):
        as_units(value)
